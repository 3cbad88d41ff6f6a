#!/usr/bin/env bash
# Reservations (holds on quota) on a free plan of 100 calls a month, with
# two usage-svc workers: 100 holds of 1 pass and the 101st gets 402
# plan_limit_reached with limit 100 and used 100 (holds count as used);
# 120 concurrent holds of 1, half over HTTP and half over the bus, exactly
# 100 pass. A commit turns a hold into usage of the actual quantity, smaller
# or larger than held (past the limit too), once (a repeated commit answers
# the same, duplicate: true); release drops a hold; an expired hold
# (expires_in_seconds=1) gives its capacity back and cannot be committed;
# another organization's reservation is 404. usage.check (role service)
# answers {allowed, used, reserved, limit, remaining}, partly from memory,
# never more than a second old. Bad input: 400 with the field, never 5xx.
. "$(dirname "$0")/lib/usage.sh"
suite_init
usage_plans_file "$SUITE_TMP/plans.json" 100
export SWITCHBOARD_PLANS_FILE=$SUITE_TMP/plans.json
suite_start_all
suite_start_service usage 2 || t_bail "cannot start a second usage worker"
suite_wait_ready 60 || t_bail "the suite did not become ready"
new_orgs A B C D E

statuses=$SUITE_TMP/statuses    # every status seen, for the no-5xx check
reserve () {   # TOKEN JSON
    http_as "$1" POST /v1/usage/reservations "$2"
    echo "$HTTP_STATUS" >> "$statuses"
}
commit () {    # TOKEN ID JSON
    http_as "$1" POST "/v1/usage/reservations/$2/commit" "$3"
    echo "$HTTP_STATUS" >> "$statuses"
}
release () {   # TOKEN ID
    http_as "$1" POST "/v1/usage/reservations/$2/release"
    echo "$HTTP_STATUS" >> "$statuses"
}
summary_calls () {   # TOKEN -> "used reserved limit remaining"
    http_as "$1" GET /v1/usage/summary
    json_get "$HTTP_BODY" .metrics.calls | "$SUITE_PYTHON" -c '
import json, sys
c = json.load(sys.stdin)
print(c["used"], c["reserved"], c["limit"], c["remaining"])'
}

# ---- the boundary, one at a time ----------------------------------------------------------------
ok=0
for i in $(seq 1 100); do
    reserve "$A_AT" '{"metric": "calls", "quantity": 1}'
    [[ $HTTP_STATUS == 201 ]] && ok=$((ok + 1))
done
t_is "100 holds of 1 call: all 201" "$ok" 100
t_uuid "  a hold has an id" "$(json_get "$HTTP_BODY" .id)"
t_is "  its metric and quantity" "$(json_get "$HTTP_BODY" .metric) $(json_get "$HTTP_BODY" .quantity)" "calls 1"
t_is "  it expires in 300 s by default" \
    "$(ts_cmp "$(json_get "$HTTP_BODY" .expires_at)" "$(ts_at 290)") $(ts_cmp "$(json_get "$HTTP_BODY" .expires_at)" "$(ts_at 310)")" "1 -1"
reserve "$A_AT" '{"metric": "calls", "quantity": 1}'
t_error "the 101st: 402 plan_limit_reached" 402 plan_limit_reached
t_is "  with limit 100 and used 100 (holds count as used)" \
    "$(json_get "$HTTP_BODY" .error.limit) $(json_get "$HTTP_BODY" .error.used)" "100 100"
t_is "summary: used 0, reserved 100, limit 100, remaining 0" "$(summary_calls "$A_AT")" "0 100 100 0"
reserve "$A_AT" '{"metric": "widgets", "quantity": 1000000}'
t_status "a metric without a quota: any hold passes" 201

# ---- the boundary under concurrency: 120 at once over HTTP and the bus, two workers -------------
: > "$SUITE_TMP/race"
pids=()
for i in $(seq 1 60); do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 -H "Authorization: Bearer $B_AT" \
         -H 'Content-Type: application/json' -d '{"metric": "calls", "quantity": 1}' \
         "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/v1/usage/reservations" >> "$SUITE_TMP/race" &
    pids+=($!)
    { "$SB_BIN/sb-call" -t 30000 usage usage.reserve "{\"org\": \"$B_OID\", \"metric\": \"calls\", \"quantity\": 1}" \
          | grep -o '^{"status":[0-9]*' | cut -d: -f2 >> "$SUITE_TMP/race"; } &
    pids+=($!)
done
wait "${pids[@]}"
t_is "120 concurrent holds of 1: exactly 100 get 201" "$(grep -c '^201$' "$SUITE_TMP/race")" 100
t_is "  and 20 get 402" "$(grep -c '^402$' "$SUITE_TMP/race")" 20
t_is "  (120 answers)" "$(wc -l < "$SUITE_TMP/race")" 120
t_is "  PostgreSQL holds 100 active holds of B, 100 calls" \
    "$(suite_psql -c "SELECT count(*), sum(quantity) FROM usage.reservations
                       WHERE organization_id = '$B_OID' AND expires_at > now()")" "100|100"
t_is "  both workers served some (log lines)" \
    "$(grep -l 'usage.reserve -> 201' "$SUITE_TMP"/log/usage-*.log | wc -l)" 2

# ---- commit, release ------------------------------------------------------------------------------
reserve "$C_AT" "{\"org\": \"$A_OID\", \"metric\": \"widgets\", \"quantity\": 1}"
t_is "a user's hold is its own organization's, whatever the body says" \
    "$(suite_psql -c "SELECT organization_id FROM usage.reservations WHERE id = '$(json_get "$HTTP_BODY" .id)'")" "$C_OID"
reserve "$C_AT" '{"metric": "calls", "quantity": 10}'
r1=$(json_get "$HTTP_BODY" .id)
commit "$C_AT" "$r1" '{"quantity": 4}'
t_status "a hold of 10 committed as 4: 200" 200
t_is "  {quantity 4, held 10, event_id = the reservation id, duplicate false}" \
    "$(json_get "$HTTP_BODY" .quantity) $(json_get "$HTTP_BODY" .held) $(json_get "$HTTP_BODY" .event_id) $(json_get "$HTTP_BODY" .duplicate)" \
    "4 10 $r1 false"
t_is "  summary: used 4, reserved 0, remaining 96" "$(summary_calls "$C_AT")" "4 0 100 96"
t_is "  the event: calls 4, at the time of the hold" \
    "$(suite_psql -F ' ' -c "SELECT e.metric, e.quantity, e.reservation_id = '$r1', e.occurred_at <= now()
                              FROM usage.events e WHERE organization_id = '$C_OID' AND event_id = '$r1'")" "calls 4 t t"
commit "$C_AT" "$r1" '{"quantity": 4}'
t_is "the same commit again: 200, the same event, duplicate true" \
    "$HTTP_STATUS $(json_get "$HTTP_BODY" .quantity) $(json_get "$HTTP_BODY" .event_id) $(json_get "$HTTP_BODY" .duplicate)" \
    "200 4 $r1 true"
t_is "  nothing counted twice" "$(summary_calls "$C_AT")" "4 0 100 96"
release "$C_AT" "$r1"
t_error "release of a committed hold: 404" 404 not_found
reserve "$C_AT" '{"metric": "calls", "quantity": 96}'
t_status "a hold of the 96 left: 201" 201
r2=$(json_get "$HTTP_BODY" .id)
reserve "$C_AT" '{"metric": "calls", "quantity": 1}'
t_is "  then 1 more: 402 with used 100" "$HTTP_STATUS $(json_get "$HTTP_BODY" .error.used)" "402 100"
release "$C_AT" "$r2"
t_status "release: 204" 204
t_is "  the capacity is back" "$(summary_calls "$C_AT")" "4 0 100 96"
release "$C_AT" "$r2"
t_error "  released again: 404" 404 not_found
commit "$C_AT" "$r2" '{"quantity": 1}'
t_error "  committed after release: 404" 404 not_found
reserve "$C_AT" '{"metric": "calls", "quantity": 50, "expires_in_seconds": 600}'
r3=$(json_get "$HTTP_BODY" .id)
reserve "$C_AT" '{"metric": "calls", "quantity": 5}'
r4=$(json_get "$HTTP_BODY" .id)
commit "$C_AT" "$r4" '{"quantity": 60, "event_id": "call-xyz"}'
t_is "a hold of 5 committed as 60 (more than held, past the quota): 200" \
    "$HTTP_STATUS $(json_get "$HTTP_BODY" .quantity) $(json_get "$HTTP_BODY" .held) $(json_get "$HTTP_BODY" .event_id)" \
    "200 60 5 call-xyz"
t_is "  summary: used 64, reserved 50, remaining 0" "$(summary_calls "$C_AT")" "64 50 100 0"
reserve "$C_AT" '{"metric": "calls", "quantity": 1}'
t_is "  a hold of 1 more: 402, limit 100, used 114" \
    "$HTTP_STATUS $(json_get "$HTTP_BODY" .error.limit) $(json_get "$HTTP_BODY" .error.used)" "402 100 114"
release "$C_AT" "$r3"
reserve "$C_AT" '{"metric": "calls", "quantity": 10}'
r5=$(json_get "$HTTP_BODY" .id)
commit "$C_AT" "$r5" '{"quantity": 10, "event_id": "call-xyz"}'
t_is "a commit under an event id already counted: 200 duplicate true" \
    "$HTTP_STATUS $(json_get "$HTTP_BODY" .duplicate)" "200 true"
t_is "  the hold is gone, nothing added" "$(summary_calls "$C_AT")" "64 0 100 36"
commit "$A_AT" "$r3" '{"quantity": 1}'
t_error "another organization's reservation: commit 404" 404 not_found
reserve "$C_AT" '{"metric": "calls", "quantity": 1}'
r6=$(json_get "$HTTP_BODY" .id)
release "$A_AT" "$r6"
t_error "  release 404" 404 not_found
commit "$A_AT" "$r6" '{"quantity": 1}'
t_error "  commit 404" 404 not_found
release "$C_AT" "$r6"
t_status "  and it is still there for its owner" 204
commit "$C_AT" nope '{"quantity": 1}'
t_error "a reservation id that is not a UUID: 404" 404 not_found
release "$C_AT" 00000000-0000-4000-8000-000000000000
t_error "an unknown reservation: 404" 404 not_found

# ---- expiry -----------------------------------------------------------------------------------------
reserve "$D_AT" '{"metric": "calls", "quantity": 100, "expires_in_seconds": 1}'
t_status "a hold of all 100 for 1 s: 201" 201
rx=$(json_get "$HTTP_BODY" .id)
t_is "  it expires within 1 s" "$(ts_cmp "$(json_get "$HTTP_BODY" .expires_at)" "$(ts_at 1.2)")" -1
reserve "$D_AT" '{"metric": "calls", "quantity": 1}'
t_status "  meanwhile 1 more: 402" 402
sleep 1.5
reserve "$D_AT" '{"metric": "calls", "quantity": 1}'
t_status "once it expired the capacity is back: 201" 201
t_is "  summary: reserved 1" "$(summary_calls "$D_AT")" "0 1 100 99"
commit "$D_AT" "$rx" '{"quantity": 100}'
t_error "  the expired hold cannot be committed: 404" 404 not_found
t_is "  and counted nothing" "$(summary_calls "$D_AT")" "0 1 100 99"

# ---- bad input ----------------------------------------------------------------------------------------
reserve "$D_AT" '{"metric": "Calls", "quantity": 1}'
t_fields "reserve, a bad metric" metric
reserve "$D_AT" '{"quantity": 1}'
t_fields "reserve, no metric" metric
for q in 0 -1 '"1"' 1.5 1000000000001; do
    reserve "$D_AT" "{\"metric\": \"calls\", \"quantity\": $q}"
    t_fields "reserve, quantity $q" quantity
done
reserve "$D_AT" '{"metric": "calls"}'
t_fields "reserve, no quantity" quantity
for s in 0 86401 '"x"' -5; do
    reserve "$D_AT" "{\"metric\": \"calls\", \"quantity\": 1, \"expires_in_seconds\": $s}"
    t_fields "reserve, expires_in_seconds $s" expires_in_seconds
done
reserve "$D_AT" '{"metric": "calls", "quantity": 1, "expires_in_seconds": 86400}'
t_status "reserve, expires_in_seconds 86400: 201" 201
ry=$(json_get "$HTTP_BODY" .id)
commit "$D_AT" "$ry" '{}'
t_fields "commit, no quantity" quantity
commit "$D_AT" "$ry" '{"quantity": -1}'
t_fields "commit, quantity -1" quantity
commit "$D_AT" "$ry" '{"quantity": 1, "event_id": ""}'
t_fields "commit, an empty event_id" event_id
commit "$D_AT" "$ry" "{\"quantity\": 1, \"event_id\": \"$(printf 'e%.0s' $(seq 1 129))\"}"
t_fields "commit, an event_id of 129 characters" event_id
commit "$D_AT" "$ry" '{"quantity": 1}'
t_status "  the hold is untouched by those: commit 200" 200
http_as "$D_AT" GET /v1/usage/reservations
t_status "GET /v1/usage/reservations: 405" 405
http POST /v1/usage/reservations '{"metric": "calls", "quantity": 1}'
t_error "no credentials: 401" 401 unauthenticated

# ---- the bus: usage.check, and holds for the call engine -----------------------------------------
check () {   # ORG METRIC QUANTITY -> the reply
    usage_bus usage.check "{\"org\": \"$1\", \"metric\": \"$2\", \"quantity\": $3}"
}
http_as "$E_AT" POST /v1/usage/events "{\"events\": [{\"id\": \"x1\", \"metric\": \"calls\", \"quantity\": 30, \"occurred_at\": \"$(ts_at -1)\"}]}"
t_status "E records 30 calls" 202
out=$(check "$E_OID" calls 70)
t_is "check 70 more: allowed, used 30, reserved 0, limit 100, remaining 70" \
    "$(json_get "$out" .body.allowed) $(json_get "$out" .body.used) $(json_get "$out" .body.reserved) $(json_get "$out" .body.limit) $(json_get "$out" .body.remaining)" \
    "true 30 0 100 70"
out=$(check "$E_OID" calls 71)
t_is "check 71 more: not allowed" "$(json_get "$out" .body.allowed) $(json_get "$out" .body.remaining)" "false 70"
ages=()
for i in 1 2 3 4 5 6; do
    out=$(check "$E_OID" calls 1)
    ages+=("$(json_get "$out" .body.age_ms)")
done
t_note "  (ages of six checks in a row: ${ages[*]} ms)"
old=0; cached=0
for a in "${ages[@]}"; do
    (( a >= 1000 )) && old=$((old + 1))
    (( a > 0 )) && cached=$((cached + 1))
done
t_is "  answers from memory are less than a second old" "$old" 0
t_like "  some were answered from memory" "$cached" '^[1-6]$'
out=$(usage_bus usage.reserve "{\"org\": \"$E_OID\", \"metric\": \"calls\", \"quantity\": 60}")
t_is "a hold of 60 over the bus (org in the arguments): 201" "$(json_get "$out" .status)" 201
re=$(json_get "$out" .body.id)
# A second after a change, no worker answers from what it knew before.
all_see () {   # QUANTITY USED RESERVED ALLOWED: four checks in a row all say so
    local i o got=
    sleep 1.05
    for i in 1 2 3 4; do
        o=$(check "$E_OID" calls "$1")
        got+="$(json_get "$o" .body.used) $(json_get "$o" .body.reserved) $(json_get "$o" .body.allowed);"
    done
    [[ $got == "$2 $3 $4;$2 $3 $4;$2 $3 $4;$2 $3 $4;" ]] || { echo "checks said: $got"; return 1; }
}
t_ok "  a second later every check shows it: used 30, reserved 60, 10 allowed" all_see 10 30 60 true
out=$(check "$E_OID" calls 11)
t_is "  check 11 more: not allowed" "$(json_get "$out" .body.allowed)" false
out=$(usage_bus usage.commit "{\"org\": \"$E_OID\", \"id\": \"$re\", \"quantity\": 45}")
t_is "commit over the bus: 200, 45" "$(json_get "$out" .status) $(json_get "$out" .body.quantity)" "200 45"
out=$(usage_bus usage.commit "{\"org\": \"$B_OID\", \"id\": \"$re\", \"quantity\": 45}")
t_is "  as another organization: 404" "$(json_get "$out" .status)" 404
out=$(usage_bus usage.release "{\"org\": \"$E_OID\", \"id\": \"$re\"}")
t_is "  release after commit: 404" "$(json_get "$out" .status)" 404
t_ok "  a second later every check shows used 75, reserved 0; 25 more allowed" all_see 25 75 0 true
t_ok "  and 26 more not" all_see 26 75 0 false
out=$(check "$E_OID" minutes_of_fun 1000000)
t_is "check a metric without a quota: allowed, limit -1, remaining -1" \
    "$(json_get "$out" .body.allowed) $(json_get "$out" .body.limit) $(json_get "$out" .body.remaining)" "true -1 -1"
out=$(usage_bus usage.check '{"metric": "calls", "quantity": 1}')
t_is "check without org: 400 org" "$(json_get "$out" .status) $(json_get "$out" .error.fields | tr -d '{}' | cut -d: -f1)" '400 "org"'
out=$(check "$E_OID" 'Bad!' 1)
t_is "check a bad metric: 400" "$(json_get "$out" .status)" 400
out=$(usage_bus usage.check "{\"org\": \"$E_OID\", \"metric\": \"calls\", \"quantity\": -3}")
t_is "check a negative quantity: 400" "$(json_get "$out" .status)" 400
out=$(usage_bus usage.reserve '{"metric": "calls", "quantity": 1}')
t_is "reserve over the bus without org: 400 org" "$(json_get "$out" .status)" 400
out=$("$SB_BIN/sb-call" -r user -o "$E_OID" usage usage.check '{"metric": "calls"}')
t_is "usage.check as a user: 403" "$(json_get "$out" .status)" 403

t_is "usage.verify: the counters agree with the events" "$(usage_mismatches)" 0
t_unlike "no 5xx answer anywhere" "$(sort -u "$statuses" "$SUITE_TMP/race" | tr '\n' ' ')" '5[0-9][0-9]'
t_done
