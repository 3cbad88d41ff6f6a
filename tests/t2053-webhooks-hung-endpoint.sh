#!/usr/bin/env bash
# Outbound webhooks, isolation (issue 14): an endpoint that never answers
# (the receiver holds each request 60 s; tenant-svc gives up at 15 s) holds
# at most a few of the delivery thread's requests (3 per endpoint) and
# never delays another organization's endpoint: B's events are delivered
# while A's requests are still hanging, with A's backlog still waiting.
. "$(dirname "$0")/lib/webhooks.sh"
suite_init
export SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE=1 SWITCHBOARD_WEBHOOK_RETRY_SCALE=1000
suite_up
wh_start || t_bail "the webhook receiver did not start"
orgs_with_business A B
wh_pro A || t_bail "A did not get plan pro"
wh_pro B || t_bail "B did not get plan pro"

http_as "$A_AT" POST /v1/webhooks "{\"url\":\"$WH_BASE/hook/hung/hang\",\"events\":[\"call.created\"]}"
t_status "A's endpoint (never answers)" 201
http_as "$B_AT" POST /v1/webhooks "{\"url\":\"$WH_BASE/hook/quick/200\",\"events\":[\"call.created\"]}"
t_status "B's endpoint" 201
wh_secrets quick "$(json_get "$HTTP_BODY" .secret)"

for i in 1 2 3 4 5 6; do
    create_as "$A_AT" /v1/calls "$(call_body "$A_BIZ")" || t_fail "A's call $i"
done
_hanging () { [[ $(json_get "$(wh_open hung)" .open) -ge 1 ]]; }
poll_until 10 _hanging || t_fail "A's endpoint is being called"
for i in 1 2 3; do
    create_as "$B_AT" /v1/calls "$(call_body "$B_BIZ")" || t_fail "B's call $i"
done
wh_wait quick 3 10 || t_fail "B's three events arrived" "$(wh_log)"
t_is "B's three events delivered and verified" "$(wh_get quick '[x["valid"] for x in r]')" "[true, true, true]"
open=$(wh_open hung)
t_is "  while A's requests are still hanging" "$(json_get "$open" .open)" 3
t_is "  A never had more than 3 requests in flight" "$(json_get "$open" .max)" 3
t_is "  and A's other events wait their turn (no attempt yet)" \
    "$(suite_psql -c "SELECT count (*) FROM tenant.webhook_deliveries WHERE organization_id = '$A_OID' AND attempts = 0 AND leased_until IS NULL")" 3
t_done
