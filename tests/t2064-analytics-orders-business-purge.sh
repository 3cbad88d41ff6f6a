#!/usr/bin/env bash
# Analytics rollup of orders (migration 0013) when businesses and
# organizations go, and under concurrent writers:
# - 36 concurrent POST /v1/orders of one business (one UTC day, one
#   status, one currency: one rollup key) from six connections: all
#   counted, pending and folded;
# - a business deleted (SQL, in the session holding the fold lock) while
#   its order deltas are pending: its deltas go with it, no rollup row of
#   it is left, the overview and analytics.verify agree with the orders;
# - a business deleted through the API after its orders were folded: its
#   rollup rows go;
# - a call deleted: the orders that referenced it lose call_id (ON DELETE
#   SET NULL) and no order delta is appended;
# - org.purge (bounded, one row per call, as auth-svc's relay calls it)
#   leaves no rollup row and no order delta of the organization, and
#   another organization's figures are untouched (overview against
#   tests/lib/rollup_orders_oracle.py, verify).
. "$(dirname "$0")/lib/tenant.sh"
suite_init
suite_up

new_orgs A B
py=$SUITE_ROOT/tests/lib/rollup_orders_oracle.py
create_as "$A_AT" /v1/businesses "$(biz_body)" || t_bail "no business"
b1=$NEW_ID
create_as "$A_AT" /v1/businesses "$(biz_body timezone=Europe/Paris)" || t_bail "no business"
b2=$NEW_ID
create_as "$A_AT" /v1/businesses "$(biz_body timezone=Asia/Tokyo)" || t_bail "no business"
b3=$NEW_ID
create_as "$B_AT" /v1/businesses "$(biz_body)" || t_bail "no business"
bb=$NEW_ID

deltas () {   # deltas ORG [BUSINESS]
    suite_psql -c "SELECT count (*) FROM tenant.analytics_order_deltas
                   WHERE organization_id = '$1' ${2:+AND business_id = '$2'}"
}
rollup_rows () {   # rollup_rows ORG [BUSINESS]
    suite_psql -c "SELECT count (*) FROM tenant.analytics_order_days
                   WHERE organization_id = '$1' ${2:+AND business_id = '$2'}"
}
wait_folded () {
    for _ in $(seq 300); do [[ $(deltas "$1") == 0 ]] && break; sleep 0.1; done
}
rows=$SUITE_TMP/rows
check () {   # check NAME TOKEN ORG FROM TO BUSINESS|-
    local name=$1 tok=$2 org=$3 frm=$4 to=$5 biz=$6 q section got exp
    q="from=$(urlq "$frm")&to=$(urlq "$to")"
    [[ $biz != - ]] && q+="&business_id=$biz"
    http_as "$tok" GET "/v1/analytics/overview?$q"
    t_is "$name: 200" "$HTTP_STATUS" 200
    suite_psql -c "SELECT (extract (epoch FROM created_at) * 1000000)::bigint, business_id,
                          status, currency, total_cents
                   FROM tenant.orders WHERE organization_id = '$org'" > "$rows"
    while IFS=$'\t' read -r section got exp; do
        t_is "$name: $section" "$got" "$exp"
    done < <(/usr/bin/python3 "$py" check "$rows" "$frm" "$to" "$biz" "$HTTP_BODY")
}
verify () {
    "$SB_BIN/sb-call" -t 20000 tenant analytics.verify "{\"org\": \"$1\"$2}"
}
now_from=$(date -u -d '-1 day -3 hours' +%Y-%m-%dT%H:%M:%SZ)
now_to=$(date -u -d 'tomorrow' +%Y-%m-%dT01:00:00Z)

# ---- concurrent writers of one key -----------------------------------------
posters=()
for c in 1 2 3 4 5 6; do
    (
        for i in 1 2 3 4 5 6; do
            http_as "$A_AT" POST /v1/orders "$(order_body "$b1")"
            echo "$HTTP_STATUS" >> "$SUITE_TMP/posted.$c"
        done
    ) &
    posters+=($!)
done
wait "${posters[@]}"
t_is "36 concurrent POST /v1/orders of one business: all 201" \
    "$(cat "$SUITE_TMP"/posted.* | grep -c '^201$')" 36
check "concurrent" "$A_AT" "$A_OID" "$now_from" "$now_to" "$b1"
wait_folded "$A_OID"
t_is "concurrent orders folded into one row" "$(rollup_rows "$A_OID")" 1
t_is "... of 36 orders" \
    "$(suite_psql -c "SELECT orders FROM tenant.analytics_order_days
                      WHERE organization_id = '$A_OID'")" 36
check "concurrent, folded" "$A_AT" "$A_OID" "$now_from" "$now_to" "$b1"

# ---- seeds: A's three businesses, B's one ----------------------------------
/usr/bin/python3 "$py" seed "$A_OID" "$b1" "$b2" "$b3" 1200 | suite_psql > /dev/null \
    || t_bail "cannot seed A's orders"
/usr/bin/python3 "$py" seed "$B_OID" "$bb" 300 | suite_psql > /dev/null \
    || t_bail "cannot seed B's orders"
wait_folded "$A_OID"
wait_folded "$B_OID"
t_is "A folded" "$(deltas "$A_OID")" 0
b_before=$(rollup_rows "$B_OID")
t_ok "B has rollup rows" test "$b_before" -gt 100

# ---- a call deleted: its orders lose call_id, no delta ---------------------
create_as "$A_AT" /v1/calls "$(call_body "$b1")" || t_bail "no call"
call=$NEW_ID
for i in 1 2 3; do
    create_as "$A_AT" /v1/orders "$(order_body "$b1" call_id="$call")" || t_bail "no order"
done
wait_folded "$A_OID"
suite_psql -c "DELETE FROM tenant.calls WHERE organization_id = '$A_OID' AND id = '$call'" \
    > /dev/null || t_fail "cannot delete the call"
t_is "a call deleted: its orders lost call_id" \
    "$(suite_psql -c "SELECT count (*) FROM tenant.orders WHERE organization_id = '$A_OID'
                      AND call_id IS NULL AND business_id = '$b1'
                      AND created_at > now () - interval '1 hour'")" 39
t_is "... and no order delta was appended" "$(deltas "$A_OID")" 0

# ---- a business deleted with its deltas pending -----------------------------
fifo=$SUITE_TMP/hold.fifo
mkfifo "$fifo"
psql -X -A -t -q -v ON_ERROR_STOP=1 "$SUITE_PG_URL" < "$fifo" > "$SUITE_TMP/hold.out" 2>&1 &
hold_pid=$!
exec 7> "$fifo"
echo "SELECT pg_advisory_lock (tenant.analytics_fold_key ());" >&7
held () {
    suite_psql -c "SELECT count (*) FROM pg_locks WHERE locktype = 'advisory' AND granted
                   AND pid <> pg_backend_pid ()
                   AND (classid::bigint << 32) | objid::bigint
                       = tenant.analytics_fold_key () & x'ffffffffffffffff'::bigint"
}
for _ in $(seq 100); do [[ $(held) == 1 ]] && break; sleep 0.1; done
t_is "the fold lock is held by the test" "$(held)" 1
suite_psql -c "UPDATE tenant.orders SET status = 'cancelled'
               WHERE organization_id = '$A_OID' AND business_id IN ('$b2', '$b3')
                 AND status = 'pending'" > /dev/null
for i in 1 2; do
    create_as "$A_AT" /v1/orders "$(order_body "$b3" currency=EUR)" || t_bail "no order"
done
t_ok "b3 has pending deltas" test "$(deltas "$A_OID" "$b3")" -gt 10
t_ok "b3 has rollup rows" test "$(rollup_rows "$A_OID" "$b3")" -gt 10
echo "DELETE FROM tenant.businesses WHERE id = '$b3';" >&7
for _ in $(seq 100); do
    [[ $(suite_psql -c "SELECT count (*) FROM tenant.businesses WHERE id = '$b3'") == 0 ]] && break
    sleep 0.1
done
t_is "b3 deleted (SQL, the lock held)" \
    "$(suite_psql -c "SELECT count (*) FROM tenant.businesses WHERE id = '$b3'")" 0
t_is "... its pending deltas went with it" "$(deltas "$A_OID" "$b3")" 0
t_is "... and its rollup rows" "$(rollup_rows "$A_OID" "$b3")" 0
t_ok "the other businesses' deltas stay pending" test "$(deltas "$A_OID")" -gt 0
check "b3 deleted, pending" "$A_AT" "$A_OID" 2024-01-01T07:00:00Z 2024-12-30T22:00:00Z -
check "b3 deleted, pending, today" "$A_AT" "$A_OID" "$now_from" "$now_to" -
t_is "verify: no difference" "$(json_get "$(verify "$A_OID")" .body.orders.mismatches)" 0
echo "SELECT pg_advisory_unlock_all ();" >&7
exec 7>&-
wait "$hold_pid"
t_is "the holding session had no error" "$(grep -c ERROR "$SUITE_TMP/hold.out")" 0
wait_folded "$A_OID"
t_is "folded" "$(deltas "$A_OID")" 0
check "b3 deleted, folded" "$A_AT" "$A_OID" 2024-01-01T07:00:00Z 2024-12-30T22:00:00Z -

# ---- a business deleted through the API, folded ----------------------------
t_ok "b2 has rollup rows" test "$(rollup_rows "$A_OID" "$b2")" -gt 10
http_as "$A_AT" DELETE "/v1/businesses/$b2"
t_is "DELETE business b2: 204" "$HTTP_STATUS" 204
t_is "... its rollup rows went" "$(rollup_rows "$A_OID" "$b2")" 0
t_is "... and no delta of it is left" "$(deltas "$A_OID" "$b2")" 0
check "b2 deleted" "$A_AT" "$A_OID" 2024-02-01T00:00:00Z 2024-10-01T12:00:00Z -
t_is "verify: no difference" "$(json_get "$(verify "$A_OID")" .body.orders.mismatches)" 0

# ---- org.purge ------------------------------------------------------------
purge () {
    OUT=$("$SB_BIN/sb-call" tenant org.purge "$(jobj organization_id="$1" limit:="$2")")
}
purge "$A_OID" 50
calls=1
while [[ $(json_get "$OUT" .body.done) == false ]] && (( calls < 500 )); do
    purge "$A_OID" 50
    calls=$((calls + 1))
    [[ $(json_get "$OUT" .status) == 200 ]] || break
done
t_is "org.purge of A: done" "$(json_get "$OUT" .body.done)" true
t_is "... no order of A left" \
    "$(suite_psql -c "SELECT count (*) FROM tenant.orders WHERE organization_id = '$A_OID'")" 0
t_is "... no rollup row of A" "$(rollup_rows "$A_OID")" 0
t_is "... no order delta of A" "$(deltas "$A_OID")" 0
out=$(verify "$A_OID")
t_is "verify A after the purge: no difference" "$(json_get "$out" .body.orders.mismatches)" 0
t_is "... no row" "$(json_get "$out" .body.orders.rows)" 0
t_is "B's rollup rows untouched" "$(rollup_rows "$B_OID")" "$b_before"
check "B after A's purge" "$B_AT" "$B_OID" 2024-01-01T03:00:00Z 2024-12-31T03:00:00Z -
t_is "verify B: no difference" "$(json_get "$(verify "$B_OID")" .body.orders.mismatches)" 0
t_done
