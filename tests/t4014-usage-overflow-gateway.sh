#!/usr/bin/env bash
# The gateway's api_requests counts with one organization over a usage cap.
# A's api_requests counter is pushed past the cap (to 2^63 - 1, where
# adding to it used to overflow bigint: usage-svc refused the gateway's whole
# mixed batch and the gateway dropped every organization's counts). While
# usage-svc is down, A and B make requests; once it is back the waiting
# counts go in one batch: B's all arrive, A's are refused and the gateway
# logs that refusal naming A's organization and the reason (never silently
# dropped); A's counter is unchanged. Requests made afterwards, with
# usage-svc up, are counted for B the same way.
. "$(dirname "$0")/lib/usage.sh"
suite_init
plans=$SUITE_TMP/plans.json
usage_plans_file "$plans" 1000 || t_bail "cannot write the plans file"
export SWITCHBOARD_PLANS_FILE=$plans
suite_up
new_orgs A B
# (Signing up is not an authenticated request: neither has counted any yet.)

TOP=9223372036854775807
t_ok "usage-svc stops" suite_stop usage-1
t_ok "A's api_requests counter is set to 2^63 - 1" usage_counter_set "$A_OID" api_requests "$TOP"

made_b=0 made_a=0
for ((i = 0; i < 6; i++)); do
    http_as "$A_AT" GET /v1/me
    [[ $HTTP_STATUS == 200 ]] && made_a=$((made_a + 1))
    http_as "$B_AT" GET /v1/me
    [[ $HTTP_STATUS == 200 ]] && made_b=$((made_b + 1))
done
t_is "A and B make 6 requests each meanwhile" "$made_a $made_b" "6 6"
counter_is () { [[ $(usage_counter "$1" api_requests) == "$2" ]]; }
suite_start_service usage
t_ok "  once usage-svc is back, B's $made_b arrive within 10 s" poll_until 10 counter_is "$B_OID" "$made_b"
log=$SUITE_TMP/log/gateway-1.log
logged () { grep -q "refused.*$A_OID.*usage_overflow" "$log"; }
t_ok "  the gateway logs A's counts as refused (usage_overflow)" poll_until 5 logged
t_is "  A's counter is unchanged" "$(usage_counter "$A_OID" api_requests)" "$TOP"

for ((i = 0; i < 4; i++)); do
    http_as "$A_AT" GET /v1/me
    http_as "$B_AT" GET /v1/me
    [[ $HTTP_STATUS == 200 ]] && made_b=$((made_b + 1))
done
t_ok "requests made with usage-svc up: B's ($made_b in all) arrive within 10 s" \
    poll_until 10 counter_is "$B_OID" "$made_b"
t_is "  A's counter is unchanged" "$(usage_counter "$A_OID" api_requests)" "$TOP"
t_is "usage.verify: the counters equal their events" "$(usage_mismatches)" 0
t_done
