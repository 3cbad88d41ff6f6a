#!/usr/bin/env bash
# Outbound webhooks, failures (issue 14): a 500 is retried on the schedule
# (shortened here by SWITCHBOARD_WEBHOOK_RETRY_SCALE) with the same
# webhook-id and a fresh signature, until a 2xx; Retry-After is honoured
# (the schedule's next delay here is 0.5 ms, the answer asks for 2 s); 410
# disables the endpoint (the delivery failed, later events not queued for
# it; enabled again by an admin, it is sent to again); an endpoint that never succeeds
# fails after the schedule's eight attempts; one failing for 5 days is
# disabled. Each disabling mails the organization's admins.
. "$(dirname "$0")/lib/webhooks.sh"
suite_init
export SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE=1 SWITCHBOARD_WEBHOOK_RETRY_SCALE=10000
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up
wh_start || t_bail "the webhook receiver did not start"
orgs_with_business A
wh_pro A || t_bail "A did not get plan pro"

endpoint () {           # endpoint NAME SCRIPT EVENTS: sets EP
    http_as "$A_AT" POST /v1/webhooks "{\"url\":\"$WH_BASE/hook/$1/$2\",\"events\":$3}"
    [[ $HTTP_STATUS == 201 ]] || t_fail "endpoint $1" "$HTTP_BODY"
    EP=$(json_get "$HTTP_BODY" .id)
    wh_secrets "$1" "$(json_get "$HTTP_BODY" .secret)"
}

# ---- 500, then 200 -------------------------------------------------------------
endpoint flaky 500,500,200 '["call.created"]'
ep_flaky=$EP
create_as "$A_AT" /v1/calls "$(call_body "$A_BIZ")" || t_fail "a call"
wh_wait flaky 3 || t_fail "three attempts reached the receiver" "$(wh_log)"
t_is "answers 500, 500, 200" "$(wh_get flaky '",".join(x["answer"] for x in r)')" "500,500,200"
t_is "  the same webhook-id every time" "$(wh_get flaky 'len(set(x["id"] for x in r))')" 1
t_is "  each attempt verified" "$(wh_get flaky 'all(x["valid"] for x in r)')" true
_flaky_done () {
    wh_deliveries A "$ep_flaky"
    [[ $(json_get "$HTTP_BODY" '.data[0].status' 2>/dev/null) == succeeded ]]
}
poll_until 10 _flaky_done
t_is "the delivery: succeeded after attempts 500, 500, 200" \
    "$(json_lines "$HTTP_BODY" '.data[0].status' '.data[0].attempts[0].status_code' '.data[0].attempts[1].status_code' '.data[0].attempts[2].status_code' | tr '\n' ' ')" \
    "succeeded 500 500 200 "
t_is "  its id is the webhook-id" "$(json_get "$HTTP_BODY" '.data[0].id')" "$(wh_get flaky 'r[0]["id"]')"
t_is "  the failures say what was answered" "$(json_get "$HTTP_BODY" '.data[0].attempts[0].error')" "answered 500"

# ---- Retry-After -------------------------------------------------------------------
endpoint later ra2,200 '["order.created"]'
create_as "$A_AT" /v1/orders "$(order_body "$A_BIZ")" || t_fail "an order"
wh_wait later 2 || t_fail "the retry came" "$(wh_log)"
t_is "503 with Retry-After: 2, then 200" "$(wh_get later '",".join(x["answer"] for x in r)')" "ra2,200"
t_is "  the retry waited the 2 s asked (not the schedule's 0.5 ms)" \
    "$(wh_get later 'r[1]["at"] - r[0]["at"] >= 2.0')" true

# ---- 410 disables --------------------------------------------------------------------
endpoint gone 410 '["order.updated"]'
ep_gone=$EP
order=$NEW_ID
http_as "$A_AT" PATCH "/v1/orders/$order" '{"status":"confirmed"}'
wh_wait gone 1 || t_fail "the endpoint was called"
_disabled () {
    http_as "$A_AT" GET "/v1/webhooks/$ep_gone"
    [[ $(json_get "$HTTP_BODY" .enabled 2>/dev/null) == false ]]
}
poll_until 10 _disabled
t_is "410: the endpoint is disabled, saying why" \
    "$(json_lines "$HTTP_BODY" .enabled .disabled_reason | tr '\n' '|')" "false|the endpoint answered 410 Gone|"
http_as "$A_AT" GET /v1/me
AMAIL=$(json_get "$HTTP_BODY" .user.email)
mail=$(mail_wait_subject "$AMAIL" 'a webhook endpoint was disabled' 15)
t_ok "  A's admins are told by mail" test -n "$mail"
t_like "  … naming why" "$(mail_body "$mail" 2>/dev/null)" "because the endpoint answered 410 Gone"
wh_deliveries A "$ep_gone"
t_is "  the delivery failed after one attempt" \
    "$(json_lines "$HTTP_BODY" '.data[0].status' '.data[0].attempts[0].status_code' | tr '\n' ' ')" "failed 410 "
http_as "$A_AT" PATCH "/v1/orders/$order" '{"status":"fulfilled"}'
# A ping to an endpoint that is called (flaky) shows the thread has gone past.
http_as "$A_AT" POST "/v1/webhooks/$ep_flaky/test"
wh_wait flaky 4 || t_fail "the ping to flaky"
sleep 0.5
t_is "  later events are not sent to it" "$(wh_get gone 'len(r)')" 1
http_as "$A_AT" PATCH "/v1/webhooks/$ep_gone" '{"enabled":true}'
t_is "enabled again by an admin" "$(json_lines "$HTTP_BODY" .enabled .disabled_reason | tr '\n' '|')" "true||"
http_as "$A_AT" POST "/v1/webhooks/$ep_gone/test"
wh_wait gone 2 || t_fail "sent to again once enabled" "$(wh_log)"
t_is "  sent to again: a ping" "$(wh_get gone 'r[1]["body"]["type"]')" ping

# ---- never succeeds: eight attempts, then failed ----------------------------------------
endpoint dead 500 '["call.created"]'
ep_dead=$EP
http_as "$A_AT" POST "/v1/webhooks/$ep_dead/test"
_dead_failed () {
    wh_deliveries A "$ep_dead"
    [[ $(json_get "$HTTP_BODY" '.data[0].status' 2>/dev/null) == failed ]]
}
poll_until 30 _dead_failed
t_is "a delivery answered 500 every time fails after 8 attempts" \
    "$(json_get "$HTTP_BODY" '.data[0].status') $(json_len "$HTTP_BODY" '.data[0].attempts')" "failed 8"
t_is "  the receiver saw 8 requests, one webhook-id" \
    "$(wh_get dead 'str(len(r)) + " " + str(len(set(x["id"] for x in r)))')" "8 1"
http_as "$A_AT" GET "/v1/webhooks/$ep_dead"
t_utc "  the endpoint is failing since" "$(json_get "$HTTP_BODY" .failing_since)"

# ---- failing for 5 days: disabled, the admins told --------------------------------------
suite_psql -c "UPDATE tenant.webhook_endpoints SET failing_since = now () - interval '6 days'
               WHERE id = '$ep_dead'" > /dev/null
http_as "$A_AT" POST "/v1/webhooks/$ep_dead/test"
_dead_disabled () {
    http_as "$A_AT" GET "/v1/webhooks/$ep_dead"
    [[ $(json_get "$HTTP_BODY" .enabled 2>/dev/null) == false ]]
}
poll_until 20 _dead_disabled
t_is "an endpoint failing for 5 days is disabled, saying why" \
    "$(json_lines "$HTTP_BODY" .enabled .disabled_reason | tr '\n' '|')" \
    "false|deliveries failed for 5 days|"
# (The 410 endpoint was disabled once more by the ping after its
# re-enabling: that mail came too. Each disabling is told.)
found=
for _ in 1 2 3; do
    mail=$(mail_wait_subject "$AMAIL" 'a webhook endpoint was disabled' 15) || break
    [[ $(mail_body "$mail") == *"because deliveries failed for 5 days"* ]] && { found=$mail; break; }
done
t_ok "  A's admins are told by mail" test -n "$found"
t_done
