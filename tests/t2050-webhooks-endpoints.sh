#!/usr/bin/env bash
# Outbound webhooks, the endpoints (issue 14): the plan feature `webhooks`
# (403 feature_not_in_plan on a plan without it), create/list/get/update/
# delete, the secret shown once (whsec_ + base64 of 24 bytes), bad input,
# another organization's endpoint unseen; and the SSRF refusals with
# SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE off (the default): http, loopback,
# private, link-local (the metadata address), CGNAT, IPv6 loopback and
# v4-mapped, a name resolving to 127.0.0.1 (localhost) — at registration
# (400 naming url) and again at connection: an endpoint whose URL is
# changed behind the API's back to loopback gets a refused attempt and the
# receiver nothing.
. "$(dirname "$0")/lib/webhooks.sh"
suite_init
suite_up
wh_start || t_bail "the webhook receiver did not start"

orgs_with_business A B

# ---- the plan feature ------------------------------------------------------
http_as "$A_AT" POST /v1/webhooks '{"url":"https://1.1.1.1/hook","events":["call.created"]}'
t_error "free (no webhooks feature): 403" 403 feature_not_in_plan
wh_pro A || t_bail "A did not get plan pro"
wh_pro B || t_bail "B did not get plan pro"

# ---- create, shown once -----------------------------------------------------
http_as "$A_AT" POST /v1/webhooks \
    '{"url":"https://1.1.1.1/hook","events":["call.created","order.updated"],"description":"CRM"}'
t_status "POST /v1/webhooks on pro: 201" 201
ep=$(json_get "$HTTP_BODY" .id)
secret=$(json_get "$HTTP_BODY" .secret)
t_uuid "  an id" "$ep"
t_like "  a secret whsec_ + base64 of 24 bytes" "$secret" '^whsec_[A-Za-z0-9+/]{32}$'
t_is "  24 bytes indeed" "$(printf '%s' "${secret#whsec_}" | base64 -d | wc -c)" 24
t_is "  url, events, description, enabled" \
    "$(json_lines "$HTTP_BODY" .url .events .description .enabled | tr '\n' ' ')" \
    'https://1.1.1.1/hook ["call.created","order.updated"] CRM true '
t_utc "  created_at" "$(json_get "$HTTP_BODY" .created_at)"
http_as "$A_AT" POST /v1/webhooks '{"url":"https://1.1.1.1/other","events":["order.created"]}'
t_status "a second endpoint" 201
ep2=$(json_get "$HTTP_BODY" .id)
t_isnt "  with another secret" "$(json_get "$HTTP_BODY" .secret)" "$secret"

http_as "$A_AT" GET /v1/webhooks
t_status "GET /v1/webhooks" 200
t_is "  both, newest first" "$(data_ids "$HTTP_BODY" | tr '\n' ' ')" "$ep2 $ep "
t_lacks "  never the secret" "$HTTP_BODY" "whsec_"
http_as "$A_AT" GET "/v1/webhooks/$ep"
t_status "GET /v1/webhooks/{id}" 200
t_field "  its url" .url https://1.1.1.1/hook
t_lacks "  never the secret" "$HTTP_BODY" "whsec_"

# ---- update ------------------------------------------------------------------
http_as "$A_AT" PATCH "/v1/webhooks/$ep" '{"events":["order.created"],"enabled":false}'
t_status "PATCH events and enabled" 200
t_is "  applied" "$(json_lines "$HTTP_BODY" .events .enabled .description | tr '\n' ' ')" \
    '["order.created"] false CRM '
http_as "$A_AT" PATCH "/v1/webhooks/$ep" '{"description":null,"enabled":true}'
t_is "PATCH description null clears it; enabled again" \
    "$(json_get "$HTTP_BODY" .description) $(json_get "$HTTP_BODY" .enabled)" 'null true'
http_as "$A_AT" PATCH "/v1/webhooks/$ep" '{"url":"https://8.8.8.8/new"}'
t_field "PATCH url" .url https://8.8.8.8/new

# ---- bad input -----------------------------------------------------------------
http_as "$A_AT" POST /v1/webhooks '{}'
t_fields "nothing" url events
http_as "$A_AT" POST /v1/webhooks '{"url":"https://1.1.1.1/","events":["call.deleted"]}'
t_fields "an unknown event type" events
http_as "$A_AT" POST /v1/webhooks '{"url":"https://1.1.1.1/","events":[]}'
t_fields "no event type" events
http_as "$A_AT" POST /v1/webhooks '{"url":"https://1.1.1.1/","events":["ping","ping"]}'
t_fields "a type twice" events
http_as "$A_AT" POST /v1/webhooks '{"url":42,"events":"call.created"}'
t_fields "wrong types" url events
http_as "$A_AT" PATCH "/v1/webhooks/$ep" '{"enabled":"yes"}'
t_fields "PATCH enabled not a boolean" enabled

# ---- SSRF at registration ------------------------------------------------------
for url in "http://1.1.1.1/hook" "https://127.0.0.1/hook" "https://127.1.2.3:8443/x" \
           "https://10.0.0.5/hook" "https://172.16.3.4/hook" "https://192.168.1.10/hook" \
           "https://169.254.169.254/latest/meta-data" "https://100.64.0.1/" \
           "https://0.0.0.0/" "https://[::1]/hook" "https://[::ffff:127.0.0.1]/hook" \
           "https://[fd00::1]/hook" "https://[fe80::1]/hook" "https://localhost/hook" \
           "https://2130706433/hook" "https://user:pw@1.1.1.1/" "$WH_BASE/hook/a/200"; do
    http_as "$A_AT" POST /v1/webhooks "{\"url\":\"$url\",\"events\":[\"ping\"]}"
    t_fields "refused: $url" url
done
http_as "$A_AT" PATCH "/v1/webhooks/$ep" '{"url":"https://localhost/x"}'
t_fields "PATCH to localhost refused" url
http_as "$A_AT" GET "/v1/webhooks/$ep"
t_field "  the URL unchanged" .url https://8.8.8.8/new

# ---- SSRF at connection: the URL changed behind the API's back -------------------
suite_psql -c "UPDATE tenant.webhook_endpoints SET url = '$WH_BASE/hook/sneaky/200' WHERE id = '$ep2'" >/dev/null
http_as "$A_AT" POST "/v1/webhooks/$ep2/test"
t_status "POST /v1/webhooks/{id}/test: 202" 202
_refused () {
    wh_deliveries A "$ep2"
    [[ $(json_get "$HTTP_BODY" '.data[0].attempts[0].error' 2>/dev/null) == refused* ]]
}
poll_until 10 _refused
t_like "  the attempt is refused before connecting" \
    "$(json_get "$HTTP_BODY" '.data[0].attempts[0].error')" '^refused: the URL must be an https URL'
t_is "  with no status code" "$(json_get "$HTTP_BODY" '.data[0].attempts[0].status_code')" null
t_is "  and the delivery pending for a retry" "$(json_get "$HTTP_BODY" '.data[0].status')" pending
t_is "the receiver got nothing" "$(wh_get sneaky 'len(r)')" 0
# An https name that resolves to loopback, behind the API's back: its form
# passes, the address is refused as curl opens the socket.
port=${WH_BASE##*:}
suite_psql -c "UPDATE tenant.webhook_endpoints SET url = 'https://localhost:$port/hook/sneaky2/200'
               WHERE id = '$ep2'" >/dev/null
http_as "$A_AT" POST "/v1/webhooks/$ep2/test"
_refused_addr () {
    wh_deliveries A "$ep2"
    [[ $(json_get "$HTTP_BODY" '.data[0].attempts[0].error' 2>/dev/null) == *"not a public address"* ]]
}
t_ok "a name resolving to loopback is refused as the socket opens" poll_until 10 _refused_addr
t_like "  naming the address" "$(json_get "$HTTP_BODY" '.data[0].attempts[0].error')" \
    '^refused: (127\.0\.0\.1|::1) is not a public address$'
t_is "  the receiver got nothing" "$(wh_get sneaky2 'len(r)')" 0

# ---- isolation, delete -------------------------------------------------------------
http_as "$B_AT" GET "/v1/webhooks/$ep"
t_error "another organization's endpoint: 404" 404 not_found
http_as "$B_AT" DELETE "/v1/webhooks/$ep"
t_error "  nor can it delete it" 404 not_found
http_as "$B_AT" GET /v1/webhooks
t_is "  nor list it" "$(json_len "$HTTP_BODY" .data)" 0
http_as "$A_AT" DELETE "/v1/webhooks/$ep"
t_status "DELETE /v1/webhooks/{id}: 204" 204
http_as "$A_AT" GET "/v1/webhooks/$ep"
t_error "  gone" 404 not_found
http_as "$A_AT" DELETE "/v1/webhooks/$ep"
t_error "  a second delete: 404" 404 not_found
http_as "$A_AT" GET /v1/webhooks/not-a-uuid
t_error "a malformed id: 404" 404 not_found
http_as "$A_AT" POST "/v1/webhooks/$ep/rotate-secret"
t_error "rotating a deleted endpoint: 404" 404 not_found
t_done
