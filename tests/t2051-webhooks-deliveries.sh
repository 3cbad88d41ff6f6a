#!/usr/bin/env bash
# Outbound webhooks, delivered (issue 14): call.created, order.created and
# order.updated reach the endpoints subscribed to them, and only those,
# each verified by the test's receiver (tests/fakes/webhook_receiver.py, a
# Standard Webhooks verifier written from the specification: HMAC-SHA256
# of id.timestamp.body under the decoded whsec_ secret); the body is
# {type, timestamp, data} with data the object as the API shows it; the
# deliveries list says what happened, newest first, with the webhook-id the
# receiver saw. An organization without endpoints queues nothing. POST
# .../test sends a ping; a rotated secret signs alongside the previous one
# (two entries, both verifiable); a redirect is not followed (a failed
# attempt; the target never reached). Moved to a plan without webhooks, the
# organization's calls and orders queue no more events.
# SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE=1: the receiver is http on loopback.
. "$(dirname "$0")/lib/webhooks.sh"
suite_init
export SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE=1 SWITCHBOARD_WEBHOOK_RETRY_SCALE=1000
suite_up
wh_start || t_bail "the webhook receiver did not start"

orgs_with_business A B
wh_pro A || t_bail "A did not get plan pro"

# ---- endpoints ---------------------------------------------------------------
http_as "$A_AT" POST /v1/webhooks \
    "{\"url\":\"$WH_BASE/hook/all/200\",\"events\":[\"call.created\",\"order.created\",\"order.updated\"]}"
t_status "an endpoint for the three types" 201
ep=$(json_get "$HTTP_BODY" .id)
wh_secrets all "$(json_get "$HTTP_BODY" .secret)"
http_as "$A_AT" POST /v1/webhooks "{\"url\":\"$WH_BASE/hook/upd/200\",\"events\":[\"order.updated\"]}"
t_status "an endpoint for order.updated only" 201
ep_upd=$(json_get "$HTTP_BODY" .id)
upd_secret=$(json_get "$HTTP_BODY" .secret)
wh_secrets upd "$upd_secret"

# ---- the events --------------------------------------------------------------
create_as "$A_AT" /v1/calls "$(call_body "$A_BIZ")" || t_fail "a call"
call=$NEW_ID
call_json=$NEW_JSON
create_as "$A_AT" /v1/orders "$(order_body "$A_BIZ")" || t_fail "an order"
order=$NEW_ID
http_as "$A_AT" PATCH "/v1/orders/$order" '{"status":"confirmed"}'
t_status "the order confirmed" 200
order_json=$HTTP_BODY
wh_wait all 3 || t_fail "the receiver got 3 events on 'all'" "$(wh_log)"
wh_wait upd 1 || t_fail "the receiver got 1 event on 'upd'" "$(wh_log)"
t_is "'all' got call.created, order.created, order.updated" \
    "$(wh_get all '" ".join(sorted(x["body"]["type"] for x in r))')" \
    "call.created order.created order.updated"
t_is "  each one verified independently (signature, fresh timestamp, shape)" \
    "$(wh_get all 'all(x["valid"] for x in r)')" true
t_is "  one signature entry each (one active secret)" \
    "$(wh_get all '[x["signatures"] for x in r]')" "[1, 1, 1]"
t_is "  distinct webhook-ids msg_..." \
    "$(wh_get all 'len(set(x["id"] for x in r)) == 3 and all(x["id"].startswith("msg_") for x in r)')" true
t_same_json "  call.created carries the call as the API showed it" \
    "$(wh_get all '[x["body"]["data"] for x in r if x["body"]["type"] == "call.created"][0]')" "$call_json"
t_same_json "  order.updated carries the order as confirmed" \
    "$(wh_get all '[x["body"]["data"] for x in r if x["body"]["type"] == "order.updated"][0]')" "$order_json"
t_utc "  the body's timestamp" "$(wh_get all 'r[0]["body"]["timestamp"]')"
t_is "'upd' got order.updated only, verified" \
    "$(wh_get upd '" ".join(x["body"]["type"] + ":" + str(x["valid"]) for x in r)')" "order.updated:True"
t_is "  the same order" "$(wh_get upd 'r[0]["body"]["data"]["id"]')" "$order"

wh_deliveries A "$ep"
t_status "GET /v1/webhooks/{id}/deliveries" 200
t_is "  three, succeeded, newest first" \
    "$(json_lines "$HTTP_BODY" '.data[0].type' '.data[0].status' '.data[1].type' '.data[2].type' '.data[2].status' | tr '\n' ' ')" \
    "order.updated succeeded order.created call.created succeeded "
t_is "  ids are the webhook-ids the receiver saw" \
    "$(json_lines "$HTTP_BODY" '.data[2].id' '.data[1].id' '.data[0].id' | tr '\n' ' ')" \
    "$(wh_get all '" ".join(x["id"] for x in sorted(r, key=lambda x: ["call.created", "order.created", "order.updated"].index(x["body"]["type"])))') "
t_is "  one attempt each: 200 with a duration" \
    "$(json_lines "$HTTP_BODY" '.data[0].attempts[0].status_code' '.data[0].attempts[0].error' | tr '\n' ' ')" "200  "
t_like "  duration_ms a number" "$(json_get "$HTTP_BODY" '.data[0].attempts[0].duration_ms')" '^[0-9]+$'
t_utc "  at" "$(json_get "$HTTP_BODY" '.data[0].attempts[0].at')"

# ---- an organization without endpoints: nothing queued -----------------------
create_as "$B_AT" /v1/calls "$(call_body "$B_BIZ")" || t_fail "B's call"
t_is "B (no endpoint) queued no event" \
    "$(suite_psql -c "SELECT count (*) FROM tenant.webhook_events WHERE organization_id = '$B_OID'")" 0
t_is "A's events: 3 kept (the order.updated once, for both endpoints)" \
    "$(suite_psql -c "SELECT count (*) FROM tenant.webhook_events WHERE organization_id = '$A_OID'")" 3

# ---- test: a ping ------------------------------------------------------------
http_as "$A_AT" POST "/v1/webhooks/$ep_upd/test"
t_status "POST .../test: 202" 202
wh_wait upd 2 || t_fail "the ping arrived"
t_is "  a ping, verified, naming the endpoint" \
    "$(wh_get upd 'r[1]["body"]["type"] + " " + str(r[1]["valid"]) + " " + r[1]["body"]["data"]["endpoint_id"]')" \
    "ping True $ep_upd"
t_is "  to that endpoint only" "$(wh_get all 'len(r)')" 3

# ---- rotation: both secrets sign ----------------------------------------------
http_as "$A_AT" POST "/v1/webhooks/$ep_upd/rotate-secret"
t_status "POST .../rotate-secret: 200" 200
new=$(json_get "$HTTP_BODY" .secret)
t_like "  a new secret" "$new" '^whsec_[A-Za-z0-9+/]{32}$'
t_isnt "  not the old one" "$new" "$upd_secret"
wh_secrets upd "$upd_secret" "$new"
http_as "$A_AT" PATCH "/v1/orders/$order" '{"status":"fulfilled"}'
wh_wait upd 3 || t_fail "the next order.updated arrived"
t_is "  two signature entries, each verified by one of the two secrets" \
    "$(wh_get upd 'str(r[2]["signatures"]) + " " + str(r[2]["verified"]) + " " + str(r[2]["valid"])')" "2 2 True"
wh_secrets upd "$new"
http_as "$A_AT" POST "/v1/webhooks/$ep_upd/test"
wh_wait upd 4 || t_fail "a ping after the rotation arrived"
t_is "  a receiver that knows only the new secret verifies it too" \
    "$(wh_get upd 'str(r[3]["verified"]) + " " + str(r[3]["valid"])')" "1 True"
http_as "$A_AT" GET "/v1/webhooks/$ep_upd"
t_lacks "  the endpoint never shows a secret" "$HTTP_BODY" "whsec_"

# ---- a redirect is not followed ------------------------------------------------
http_as "$A_AT" POST /v1/webhooks "{\"url\":\"$WH_BASE/hook/redir/302\",\"events\":[\"ping\"]}"
ep_redir=$(json_get "$HTTP_BODY" .id)
http_as "$A_AT" POST "/v1/webhooks/$ep_redir/test"
wh_wait redir 1 || t_fail "the redirecting endpoint was called"
_redirect_seen () {
    wh_deliveries A "$ep_redir"
    [[ $(json_get "$HTTP_BODY" '.data[0].attempts[0].status_code' 2>/dev/null) == 302 ]]
}
poll_until 10 _redirect_seen
t_is "a 3xx is a failed attempt" \
    "$(json_lines "$HTTP_BODY" '.data[0].attempts[0].status_code' '.data[0].attempts[0].error' | tr '\n' '|')" \
    "302|redirect (302) not followed|"
t_is "  the redirect's target never reached" "$(wh_get target 'len(r)')" 0

# ---- a plan without webhooks: no more events of calls and orders ------------------
http_op PUT "/v1/sys/subscriptions/$A_OID" '{"plan":"free"}'
t_status "the operator moves A to free (no webhooks)" 200
events_of_a () {
    suite_psql -c "SELECT count (*) FROM tenant.webhook_events WHERE organization_id = '$A_OID'"
}
before=$(events_of_a)
_on_free () {   # tenant-svc knows the plan once A cannot create an endpoint
    http_as "$A_AT" POST /v1/webhooks "{\"url\":\"$WH_BASE/hook/x/200\",\"events\":[\"ping\"]}"
    [[ $HTTP_STATUS == 403 ]]
}
t_ok "  tenant-svc applies the plan" poll_until 10 _on_free
create_as "$A_AT" /v1/calls "$(call_body "$A_BIZ")" || t_fail "a call on free"
create_as "$A_AT" /v1/orders "$(order_body "$A_BIZ")" || t_fail "an order on free"
t_is "  a call and an order on free queue no event" "$(events_of_a)" "$before"
t_done
