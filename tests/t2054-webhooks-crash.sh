#!/usr/bin/env bash
# Outbound webhooks, durability (issue 14): tenant-svc killed (SIGKILL)
# while a delivery is in flight — the receiver holding the request — loses
# nothing: after a restart the delivery is sent again once its lease ends
# (20 s), with the same webhook-id, and succeeds.
. "$(dirname "$0")/lib/webhooks.sh"
suite_init
export SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE=1 SWITCHBOARD_WEBHOOK_RETRY_SCALE=1000
suite_up
wh_start || t_bail "the webhook receiver did not start"
orgs_with_business A
wh_pro A || t_bail "A did not get plan pro"

http_as "$A_AT" POST /v1/webhooks "{\"url\":\"$WH_BASE/hook/crash/hang,200\",\"events\":[\"order.created\"]}"
t_status "an endpoint whose first request hangs" 201
ep=$(json_get "$HTTP_BODY" .id)
wh_secrets crash "$(json_get "$HTTP_BODY" .secret)"
create_as "$A_AT" /v1/orders "$(order_body "$A_BIZ")" || t_fail "an order"
order=$NEW_ID
_hanging () { [[ $(json_get "$(wh_open crash)" .open) -ge 1 ]]; }
poll_until 10 _hanging || t_fail "the delivery is in flight"
suite_kill tenant-1
t_ok "tenant-svc killed mid-delivery" true
suite_start_service tenant || t_bail "tenant-svc did not restart"
suite_wait_ready 30 || t_bail "not ready after the restart"
wh_wait crash 2 45 || t_fail "delivered again after the restart" "$(wh_log)"
t_is "the second request: the same webhook-id, answered 200" \
    "$(wh_get crash '(r[0]["id"] == r[1]["id"], r[1]["answer"], r[1]["valid"])')" '[true, "200", true]'
t_is "  the order's event" "$(wh_get crash 'r[1]["body"]["data"]["id"]')" "$order"
_done () {
    wh_deliveries A "$ep"
    [[ $(json_get "$HTTP_BODY" '.data[0].status' 2>/dev/null) == succeeded ]]
}
poll_until 10 _done
t_is "  the delivery succeeded, one attempt recorded (the killed one never answered)" \
    "$(json_get "$HTTP_BODY" '.data[0].status') $(json_len "$HTTP_BODY" '.data[0].attempts')" "succeeded 1"
t_done
