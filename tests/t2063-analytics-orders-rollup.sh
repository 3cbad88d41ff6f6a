#!/usr/bin/env bash
# Analytics rollup of orders (issue 16, migration 0013): a write of orders
# appends order deltas (analytics_order_deltas), the folder moves them
# into analytics_order_days (per organization, UTC day, business, status,
# currency), and the overview's order figures — total, by status, revenue
# per currency (not cancelled), conversion — are whole UTC days from the
# rollup plus the pending deltas, and raw orders at the edges. Checked
# against tests/lib/rollup_orders_oracle.py (Python over the raw orders),
# over ranges with edges off and on UTC midnight, shorter than a day,
# across one midnight, one business, and today:
# - while the folder is held off (this test holds the fold lock in a psql
#   session of its own): orders seeded by SQL (statuses and currencies
#   mixed, some at 00:00:00 and 23:59:59.999999), orders created through
#   the API and moved through its transitions (pending → confirmed →
#   fulfilled, pending → cancelled, confirmed → cancelled; a refused
#   transition changes nothing), SQL updates of status, currency, total
#   and created_at and deletes; an update of the items alone appends no
#   delta; analytics.verify finds no difference with deltas pending;
# - released: everything folds, the rollup has the rows, the figures stay;
#   after folding, transitions and deletes move the rollup;
# - a rollup row corrupted: verify names it, repair rebuilds it;
# - orders inserted with the triggers off (behind the rollup's back):
#   verify reports them, repair adds them, the overview is right again.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
suite_up

new_orgs A
py=$SUITE_ROOT/tests/lib/rollup_orders_oracle.py
create_as "$A_AT" /v1/businesses "$(biz_body timezone=America/New_York)" || t_bail "no business"
b1=$NEW_ID
create_as "$A_AT" /v1/businesses "$(biz_body timezone=Asia/Kolkata)" || t_bail "no business"
b2=$NEW_ID

# The fold lock, held by a psql session fed through a FIFO.
fifo=$SUITE_TMP/hold.fifo
mkfifo "$fifo"
psql -X -A -t -q "$SUITE_PG_URL" < "$fifo" > "$SUITE_TMP/hold.out" 2>&1 &
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
pending () {
    suite_psql -c "SELECT count (*) FROM tenant.analytics_order_deltas
                   WHERE organization_id = '$A_OID'"
}
rolled () {
    suite_psql -c "SELECT coalesce (sum (orders), 0) FROM tenant.analytics_order_days
                   WHERE organization_id = '$A_OID'"
}
wait_folded () {
    for _ in $(seq 300); do [[ $(pending) == 0 ]] && break; sleep 0.1; done
}

rows=$SUITE_TMP/rows
check () {
    local name=$1 frm=$2 to=$3 biz=$4 q section got exp
    q="from=$(urlq "$frm")&to=$(urlq "$to")"
    [[ $biz != - ]] && q+="&business_id=$biz"
    http_as "$A_AT" GET "/v1/analytics/overview?$q"
    t_is "$name: 200" "$HTTP_STATUS" 200
    suite_psql -c "SELECT (extract (epoch FROM created_at) * 1000000)::bigint, business_id,
                          status, currency, total_cents
                   FROM tenant.orders WHERE organization_id = '$A_OID'" > "$rows"
    while IFS=$'\t' read -r section got exp; do
        t_is "$name: $section" "$got" "$exp"
    done < <(/usr/bin/python3 "$py" check "$rows" "$frm" "$to" "$biz" "$HTTP_BODY")
}
verify () {
    "$SB_BIN/sb-call" -t 20000 tenant analytics.verify "{\"org\": \"$A_OID\"$1}"
}
today_from=$(date -u -d '-2 days -7 hours' +%Y-%m-%dT%H:%M:%S.123456Z)
today_to=$(date -u -d 'tomorrow' +%Y-%m-%dT05:30:00Z)
now_from=$(date -u -d '-3 days' +%Y-%m-%dT%H:%M:%SZ)
now_to=$(date -u -d '+5 minutes' +%Y-%m-%dT%H:%M:%SZ)
all () {
    check "$1 2024, edges off midnight" 2024-01-01T05:00:00Z 2024-12-31T05:00:00.5Z -
    check "$1 edges at midnight" 2024-03-01T00:00:00Z 2024-09-01T00:00:00Z -
    check "$1 under a day" 2024-05-10T03:00:00Z 2024-05-10T21:00:00Z -
    check "$1 across one midnight" 2024-05-10T12:00:00Z 2024-05-11T12:00:00Z -
    check "$1 one business" 2024-02-03T17:45:00Z 2024-11-20T08:00:00Z "$b2"
    check "$1 today a whole day" "$today_from" "$today_to" -
    check "$1 today an edge" "$now_from" "$now_to" "$b1"
}

/usr/bin/python3 "$py" seed "$A_OID" "$b1" "$b2" 3000 | suite_psql > /dev/null \
    || t_bail "cannot seed orders"
ids=()
for cur in USD USD EUR GBP; do
    for b in "$b1" "$b2"; do
        create_as "$A_AT" /v1/orders "$(order_body "$b" currency="$cur")" || t_bail "POST /v1/orders"
        ids+=("$NEW_ID")
    done
done
move () {   # move ID STATUS EXPECTED_HTTP_STATUS
    http_as "$A_AT" PATCH "/v1/orders/$1" "$(jobj status="$2")"
    t_is "order → $2: $3" "$HTTP_STATUS" "$3"
}
move "${ids[0]}" confirmed 200
move "${ids[0]}" fulfilled 200
move "${ids[1]}" cancelled 200
move "${ids[2]}" confirmed 200
move "${ids[2]}" cancelled 200
move "${ids[3]}" confirmed 200
move "${ids[0]}" pending 409
t_is "deltas pending: none folded (3,008 inserted, 6 moves)" "$(pending)" 3020
t_is "nothing in the rollup yet" "$(rolled)" 0
all "pending:"
out=$(verify "")
t_is "verify with deltas pending: no difference" "$(json_get "$out" .body.orders.mismatches)" 0
t_is "verify: pending order deltas" "$(json_get "$out" .body.orders.pending)" 3020
t_is "verify: every order" "$(json_get "$out" .body.orders.orders)" 3008
t_is "verify: the calls' part still answers" "$(json_get "$out" .body.mismatches)" 0

# SQL behind tenant-svc's back, still pending: status, currency, total,
# created_at (across midnight) and deletes; then the items alone.
sql () { suite_psql -c "$1" > /dev/null || t_fail "SQL: $1"; }
in_may="organization_id = '$A_OID' AND created_at >= '2024-05-01' AND created_at < '2024-05-16'"
sql "UPDATE tenant.orders SET status = 'cancelled' WHERE $in_may AND status = 'pending'"
sql "UPDATE tenant.orders SET currency = 'CHF' WHERE $in_may AND currency = 'CAD'"
sql "UPDATE tenant.orders SET total_cents = total_cents * 3 + 1 WHERE $in_may AND status = 'fulfilled'"
sql "UPDATE tenant.orders SET created_at = created_at + interval '13 hours' WHERE $in_may
     AND currency = 'EUR'"
sql "DELETE FROM tenant.orders WHERE organization_id = '$A_OID' AND created_at >= '2024-05-12'
     AND created_at < '2024-05-13T06:00:00Z'"
before=$(pending)
sql "UPDATE tenant.orders SET items = '[{\"name\": \"x\", \"quantity\": 1, \"unit_price_cents\": 0}]', updated_at = now ()
     WHERE organization_id = '$A_OID'"
t_is "an update of the items alone appends no delta" "$(pending)" "$before"
all "changed, pending:"
t_is "verify after the changes: no difference" \
    "$(json_get "$(verify "")" .body.orders.mismatches)" 0

# Released: the folder folds.
echo "SELECT pg_advisory_unlock_all ();" >&7
exec 7>&-
wait "$hold_pid"
wait_folded
t_is "folded: no order delta pending" "$(pending)" 0
t_is "folded: the rollup has every order" "$(rolled)" \
    "$(suite_psql -c "SELECT count (*) FROM tenant.orders WHERE organization_id = '$A_OID'")"
all "folded:"
out=$(verify "")
t_is "verify after the fold: no difference" "$(json_get "$out" .body.orders.mismatches)" 0
t_ok "verify after the fold: rows compared" test "$(json_get "$out" .body.orders.rows)" -gt 500

# After folding: transitions through the API and a delete move the rollup.
move "${ids[3]}" fulfilled 200
move "${ids[4]}" cancelled 200
move "${ids[5]}" confirmed 200
sql "DELETE FROM tenant.orders WHERE organization_id = '$A_OID' AND created_at >= '2024-08-01'
     AND created_at < '2024-08-03'"
wait_folded
t_is "changes folded" "$(pending)" 0
t_is "the rollup moved the statuses" \
    "$(suite_psql -c "SELECT sum (orders) FROM tenant.analytics_order_days
                      WHERE organization_id = '$A_OID' AND status = 'fulfilled'
                        AND day = (now () AT TIME ZONE 'UTC')::date")" 2
all "folded changes:"
http_as "$A_AT" GET "/v1/analytics/overview?from=2023-01-01T00:00:00Z&to=2023-12-01T00:00:00Z"
t_is "a range without orders: total 0" "$(json_get "$HTTP_BODY" .orders.total)" 0
t_is "... no revenue" "$(json_get "$HTTP_BODY" .orders.revenue)" "[]"

# Corruption: verify names the row; repair rebuilds it.
sql "UPDATE tenant.analytics_order_days SET orders = orders + 1, cents = cents - 7
     WHERE (organization_id, day, business_id, status, currency) =
           (SELECT organization_id, day, business_id, status, currency
              FROM tenant.analytics_order_days
             WHERE organization_id = '$A_OID' AND day > '2024-01-01' ORDER BY day LIMIT 1)"
out=$(verify "")
t_is "verify: the corrupted row" "$(json_get "$out" .body.orders.mismatches)" 1
t_like "verify: an example says which" "$out" '"expected"'
out=$(verify ', "repair": true')
t_ok "repair: rows rewritten" test "$(json_get "$out" .body.orders.repaired)" -gt 0
t_is "verify after repair" "$(json_get "$(verify "")" .body.orders.mismatches)" 0
check "after repair: 2024" 2024-01-01T05:00:00Z 2024-12-31T05:00:00Z -

# Behind the rollup's back: orders inserted with the triggers off.
{ echo "SET session_replication_role = replica;"
  /usr/bin/python3 "$py" seed "$A_OID" "$b2" 40; } | suite_psql > /dev/null \
    || t_fail "insert with the triggers off"
t_is "no delta for them" "$(pending)" 0
out=$(verify "")
t_ok "verify reports the orders the rollup missed" \
    test "$(json_get "$out" .body.orders.mismatches)" -gt 0
out=$(verify ', "repair": true')
t_ok "repair: rows rewritten" test "$(json_get "$out" .body.orders.repaired)" -gt 0
t_is "verify after repair: no difference" "$(json_get "$(verify "")" .body.orders.mismatches)" 0
all "after the repair:"
t_done
