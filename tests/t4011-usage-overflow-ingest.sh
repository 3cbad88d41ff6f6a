#!/usr/bin/env bash
# Usage caps on POST /v1/usage/events: an event's quantity is at most 10^9
# (more: 400 naming events[i].quantity); a counter (organization, metric,
# month) holds at most 10^15. An organization whose counter is pushed up to
# the cap gets, for a request that would pass it, 422 usage_overflow naming
# the metric, and nothing of that request is stored (its other metrics'
# events neither); a request that reaches the cap exactly is accepted. A
# counter already past the cap (here near 2^63, where the sum used to
# overflow bigint) answers 422 too, never 400 or 5xx. Meanwhile another
# organization's events in the same period are accepted, also when both post
# at once (their requests share the workers' group commits), and a
# reservation that would pass the cap is 422 usage_overflow as well. The
# counters still equal their events (usage.verify).
. "$(dirname "$0")/lib/usage.sh"
suite_init
plans=$SUITE_TMP/plans.json
usage_plans_file "$plans" 1000 || t_bail "cannot write the plans file"
export SWITCHBOARD_PLANS_FILE=$plans
suite_up
new_orgs A B

CAP=1000000000000000          # 10^15 per counter and month (docs/API.md)
at=$(ts_at -30)
ev () {   # ID METRIC QUANTITY: one event as JSON
    printf '{"id": "%s", "metric": "%s", "quantity": %s, "occurred_at": "%s"}' "$1" "$2" "$3" "$at"
}
post_as () {   # TOKEN EVENT...: POST the events; sets HTTP_STATUS/HTTP_BODY
    local tok=$1
    shift
    http_as "$tok" POST /v1/usage/events "{\"events\": [$(IFS=,; echo "$*")]}"
}

# ---- the cap per event ----------------------------------------------------------------------
post_as "$A_AT" "$(ev q1 sms 1000000001)"
t_fields "an event of 10^9 + 1" "events[0].quantity"
post_as "$A_AT" "$(ev q2 sms 1000000000)"
t_status "an event of exactly 10^9: 202" 202

# ---- the cap per counter ------------------------------------------------------------------
t_ok "A's sms counter is set to the cap - 1500" usage_counter_set "$A_OID" sms $((CAP - 1500))
post_as "$A_AT" "$(ev a1 sms 1000)"
t_status "A adds 1000 (cap - 500): 202" 202
t_is "  counted" "$(usage_counter "$A_OID" sms)" $((CAP - 500))

post_as "$A_AT" "$(ev a2 tokens 5)" "$(ev a3 sms 300)" "$(ev a4 sms 301)"
t_error "A adds 601 more: 422 usage_overflow" 422 usage_overflow
t_like "  the message names the metric" "$(json_get "$HTTP_BODY" .error.message)" 'sms'
t_is "  nothing of that request is stored (its tokens event neither)" \
    "$(suite_psql -c "SELECT count(*) FROM usage.events WHERE organization_id = '$A_OID'
                       AND event_id IN ('a2', 'a3', 'a4')") $(usage_counter "$A_OID" sms) $(usage_counter "$A_OID" tokens)" \
    "0 $((CAP - 500)) 0"

post_as "$A_AT" "$(ev a5 sms 500)"
t_status "A adds exactly what is left: 202" 202
t_is "  the counter is at the cap" "$(usage_counter "$A_OID" sms)" "$CAP"
post_as "$A_AT" "$(ev a6 sms 1)"
t_error "one more unit: 422 usage_overflow" 422 usage_overflow
post_as "$A_AT" "$(ev a5 sms 500)"
t_status "  the accepted event sent again: 202, a duplicate (nothing to add)" 202
t_is "  accepted 0, duplicates 1" \
    "$(json_get "$HTTP_BODY" .accepted) $(json_get "$HTTP_BODY" .duplicates)" "0 1"
post_as "$A_AT" "$(ev a7 sms 0)"
t_status "  an event of 0 still fits: 202" 202

post_as "$B_AT" "$(ev b1 sms 1000000000)" "$(ev b2 sms 7)"
t_status "B's events in the same period: 202" 202
t_is "  counted" "$(usage_counter "$B_OID" sms)" 1000000007

http_as "$A_AT" POST /v1/usage/reservations '{"metric": "sms", "quantity": 1}'
t_error "A reserves 1 sms past the cap: 422 usage_overflow" 422 usage_overflow
http_as "$B_AT" POST /v1/usage/reservations '{"metric": "sms", "quantity": 1}'
t_status "  B reserves: 201" 201

# ---- a counter already past the cap, where bigint used to overflow -------------------------
t_ok "A's api2 counter is set to 2^63 - 10" usage_counter_set "$A_OID" api2 9223372036854775797
post_as "$A_AT" "$(ev o1 api2 1000)"
t_error "A adds 1000: 422 usage_overflow (not 400, not 5xx)" 422 usage_overflow
t_is "  the counter is unchanged" "$(usage_counter "$A_OID" api2)" 9223372036854775797

# ---- both at once: A refused, B accepted, every time ----------------------------------------
dir=$SUITE_TMP/both
mkdir -p "$dir"
for ((i = 0; i < 12; i++)); do
    printf '{"events": [%s]}' "$(ev "pa$i" sms 10)" >"$dir/a$i.json"
    printf '{"events": [%s, %s]}' "$(ev "pb$i" sms 10)" "$(ev "pc$i" tokens 3)" >"$dir/b$i.json"
done
posts=()
for ((i = 0; i < 12; i++)); do
    usage_post "$A_AT" "$dir/a$i.json" >"$dir/a$i.out" &
    posts+=($!)
    usage_post "$B_AT" "$dir/b$i.json" >"$dir/b$i.out" &
    posts+=($!)
done
wait "${posts[@]}"
a_codes=$(cat "$dir"/a*.out | cut -c1-3 | sort | uniq -c | tr -s ' ')
b_codes=$(cat "$dir"/b*.out | cut -c1-3 | sort | uniq -c | tr -s ' ')
t_is "24 requests at once: A's 12 all 422" "$a_codes" " 12 422"
t_like "  their code is usage_overflow" "$(cat "$dir"/a0.out)" '"code":"usage_overflow"'
t_is "  B's 12 all 202" "$b_codes" " 12 202"
t_is "  B's counters: sms + 120, tokens 36" \
    "$(usage_counter "$B_OID" sms) $(usage_counter "$B_OID" tokens)" "1000000127 36"
t_is "  A's sms counter still at the cap" "$(usage_counter "$A_OID" sms)" "$CAP"
t_is "usage.verify: the counters equal their events" "$(usage_mismatches)" 0

t_done
