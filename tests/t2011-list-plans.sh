#!/usr/bin/env bash
# List plans: a page of a list reads about a page of rows, whatever the
# filters. PostgreSQL runs here with auto_explain (every statement's plan,
# with actual row counts, into its log), so the plans checked are those of
# the exact statements tenant-svc sends, with the request's own parameters:
# nothing of the SQL is repeated here. Organization A holds 300,000 calls,
# 100,000 orders and 2,000 businesses, organization B 50,000 calls (seeded
# in SQL, then ANALYZE); call statuses are common (completed), rare
# (voicemail: 150) and absent (transferred), order statuses likewise
# (pending, fulfilled, cancelled). Every combination of the filters
# business_id, status (each of the three), from, to (a one-day window) and a
# cursor 60 days deep is asked of GET /v1/calls and GET /v1/orders (limit
# 20), and the first and a deep page of GET /v1/businesses, six times over
# (so that generic plans of the prepared statements are seen); each answer must
# be 200, and its plan must hold no sequential scan, no sort of more than
# 1,000 rows, and no node that reads more than 5,000 rows (rows returned
# plus rows removed by a filter): a sort of the organization's rows (ORDER
# BY bound to a formatted output column) or a filter without an index
# fails here.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
export SB_PG_EXTRA_CONF="session_preload_libraries = 'auto_explain'
auto_explain.log_min_duration = 0
auto_explain.log_analyze = on
auto_explain.log_timing = off
auto_explain.log_format = json"
suite_up

PG_ROOT=$SUITE_TMP/pg
[[ -f $PG_ROOT/pg-root ]] && PG_ROOT=$(cat "$PG_ROOT/pg-root")
PG_LOG=$PG_ROOT/pg.log
[[ -r $PG_LOG ]] || t_bail "cannot read the PostgreSQL log $PG_LOG"

new_orgs A B

# Calls and orders every 100 s and 300 s back from now (some 347 days),
# businesses every hour; three businesses share A's calls and orders.
t_ok "seeding 300,000 + 50,000 calls, 100,000 orders, 2,000 businesses" \
    suite_psql -v a="$A_OID" -v b="$B_OID" <<'SQL'
SET search_path = tenant;
INSERT INTO businesses (organization_id, id, name, phone_number, timezone, created_at)
SELECT o, gen_random_uuid (), 'Seeded ' || g, '+3314' || lpad (g::text, 7, '0'), 'Europe/Paris',
       now () - g * interval '1 hour'
  FROM (VALUES (:'a'::uuid, 2000), (:'b'::uuid, 3)) AS v (o, n), generate_series (1, v.n) g;
CREATE TEMP TABLE three AS
SELECT o, array_agg (id ORDER BY created_at DESC) AS ids
  FROM (SELECT organization_id AS o, id, created_at,
               row_number () OVER (PARTITION BY organization_id ORDER BY created_at DESC) AS r
          FROM businesses WHERE organization_id IN (:'a', :'b')) x
 WHERE r <= 3 GROUP BY o;
INSERT INTO calls (organization_id, id, business_id, caller_number, started_at,
                   duration_seconds, status, created_at)
SELECT t.o, gen_random_uuid (), t.ids [1 + g % 3], '+14155550123',
       now () - g * interval '100 seconds', 60,
       CASE WHEN g % 2000 = 0 THEN 'voicemail' WHEN g % 10 = 0 THEN 'missed'
            ELSE 'completed' END,
       now () - g * interval '100 seconds'
  FROM three t, generate_series (1, CASE WHEN t.o = :'a' THEN 300000 ELSE 50000 END) g;
INSERT INTO orders (organization_id, id, business_id, customer_name, items, total_cents,
                    currency, status, created_at, updated_at)
SELECT t.o, gen_random_uuid (), t.ids [1 + g % 3], 'Seeded customer',
       '[{"name": "Pizza", "quantity": 1, "unit_price_cents": 1250}]', 1250, 'USD',
       CASE WHEN g % 1000 = 0 THEN 'fulfilled' WHEN g % 10 = 0 THEN 'confirmed'
            ELSE 'pending' END,
       now () - g * interval '300 seconds', now () - g * interval '300 seconds'
  FROM three t, generate_series (1, 100000) g WHERE t.o = :'a';
ANALYZE businesses;
ANALYZE calls;
ANALYZE orders;
SQL
BIZ=$(suite_psql -c "SELECT id FROM tenant.businesses WHERE organization_id = '$A_OID'
                     ORDER BY created_at DESC LIMIT 1")
[[ $BIZ =~ $TENANT_UUID_RE ]] || t_bail "no seeded business: $BIZ"

FROM=$(urlq "$(ts_at -8640000)")     # a one-day window 100 days back
TO=$(urlq "$(ts_at -8553600)")
# Cursors deep in the lists: calls and orders 60 days back (the next page of
# "everything before then"), businesses 1,000 rows down.
deep_cursor () {
    http_as "$A_AT" GET "$1"
    local c
    c=$(json_get "$HTTP_BODY" .next_cursor 2>/dev/null)
    [[ $HTTP_STATUS == 200 && -n $c && $c != null ]] || t_bail "no deep cursor from $1: $HTTP_STATUS ${HTTP_BODY:0:200}"
    urlq "$c"
}
CALLS_CURSOR=$(deep_cursor "/v1/calls?limit=1&to=$(urlq "$(ts_at -5184000)")")
ORDERS_CURSOR=$(deep_cursor "/v1/orders?limit=1&to=$(urlq "$(ts_at -5184000)")")
BIZ_CURSOR=$(deep_cursor "/v1/businesses?limit=100")
for ((i = 0; i < 9; i++)); do
    BIZ_CURSOR=$(deep_cursor "/v1/businesses?limit=100&cursor=$BIZ_CURSOR")
done

# Every request whose plan is checked, in order, one a line.
REQS=$SUITE_TMP/requests
: >"$REQS"
LOG_START=$(stat -c %s "$PG_LOG")
ask () {
    http_as "$A_AT" GET "$1"
    [[ $HTTP_STATUS == 200 ]] || t_fail "GET $1: 200" "got $HTTP_STATUS ${HTTP_BODY:0:300}"
    echo "$1" >>"$REQS"
}

# Every subset of the filters; status takes each of the list's three.
combinations () {
    local list=$1 cursor=$2 mask s q
    shift 2
    for ((mask = 0; mask < 16; mask++)); do
        q="/v1/$list?limit=20"
        (( mask & 1 )) && q+="&business_id=$BIZ"
        (( mask & 2 )) && q+="&from=$FROM"
        (( mask & 4 )) && q+="&to=$TO"
        (( mask & 8 )) && q+="&cursor=$cursor"
        ask "$q"
        for s in "$@"; do ask "$q&status=$s"; done
    done
}
# Six rounds: after five runs of a prepared statement PostgreSQL may switch
# to its generic plan (parameters unknown), the one a busy service runs.
for ((round = 0; round < 6; round++)); do
    combinations calls "$CALLS_CURSOR" completed voicemail transferred
    combinations orders "$ORDERS_CURSOR" pending fulfilled cancelled
    ask "/v1/businesses?limit=20"
    ask "/v1/businesses?limit=20&cursor=$BIZ_CURSOR"
done
t_pass "$(wc -l <"$REQS") list requests answered"

# The plans of the list statements (they alone name _cursor_time), in the
# order of the requests: polled, since a plan may reach the log a moment
# after its answer.
PLANS_PY='
import json, sys
log, start, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(log, "rb") as f:
    f.seek(start)
    text = f.read().decode("utf-8", "replace")
dec, plans, at = json.JSONDecoder(), [], 0
while True:
    at = text.find("plan:\n", at)
    if at < 0:
        break
    at += len("plan:\n")
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    try:
        doc, end = dec.raw_decode(text, at)
    except ValueError:
        continue
    if "_cursor_time" in doc.get("Query Text", ""):
        plans.append(doc)
if len(plans) < want:
    sys.exit(2)
for p in plans[:want]:
    print(json.dumps(p))
'
PLANS=$SUITE_TMP/plans
want=$(wc -l <"$REQS")
for ((i = 0; i < 60; i++)); do
    "$SUITE_PYTHON" -c "$PLANS_PY" "$PG_LOG" "$LOG_START" "$want" >"$PLANS" && break
    sleep 0.5
done
t_is "one logged plan per request" "$(wc -l <"$PLANS")" "$want"

CHECK_PY='
import json, sys
reqs = open(sys.argv[1]).read().splitlines()
plans = [json.loads(l) for l in open(sys.argv[2])]
SCANS = ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Bitmap Index Scan")
def faults(node):
    kind = node.get("Node Type", "")
    loops = node.get("Actual Loops", 1) or 1
    rows = node.get("Actual Rows", 0) * loops
    read = rows + node.get("Rows Removed by Filter", 0) + node.get("Rows Removed by Index Recheck", 0)
    rel = node.get("Relation Name") or node.get("Index Name") or ""
    if kind == "Seq Scan":
        yield "a sequential scan of %s" % rel
    if kind in SCANS and read > 5000:
        yield "%s on %s reads %d rows" % (kind, rel, read)
    if kind in ("Sort", "Incremental Sort"):
        inner = sum(c.get("Actual Rows", 0) * (c.get("Actual Loops", 1) or 1)
                    for c in node.get("Plans", []))
        if inner > 1000:
            yield "%s of %d rows (key %s)" % (kind, inner, ", ".join(node.get("Sort Key", [])))
    for child in node.get("Plans", []):
        yield from faults(child)
bad = 0
if len(plans) != len(reqs):
    print("%d plans for %d requests" % (len(plans), len(reqs)))
    sys.exit(1)
for req, plan in zip(reqs, plans):
    found = list(faults(plan["Plan"]))
    if found:
        bad += 1
        print("GET %s: %s" % (req, "; ".join(found)))
print("%d of %d plans at fault" % (bad, len(reqs)))
sys.exit(1 if bad else 0)
'
out=$("$SUITE_PYTHON" -c "$CHECK_PY" "$REQS" "$PLANS")
rc=$?
if (( rc == 0 )); then
    t_pass "every list plan reads about a page: no seq scan, no big sort ($(tail -n 1 <<<"$out"))"
else
    t_fail "every list plan reads about a page: no seq scan, no big sort" "$out"
fi

# The answers are still right: A's one-day window holds what SQL counts.
n=$(suite_psql -c "SELECT count (*) FROM tenant.calls WHERE organization_id = '$A_OID'
                   AND business_id = '$BIZ' AND started_at >= '$(ts_at -8640000)'
                   AND started_at < '$(ts_at -8553600)'")
got=$(walk_ids "$A_AT" "/v1/calls?limit=100&business_id=$BIZ&from=$FROM&to=$TO" | wc -l)
t_is "the business's one-day window walks to its $n calls" "$got" "$n"
http_as "$B_AT" GET "/v1/calls?limit=100&status=voicemail"
t_is "B sees its own rare calls only (25)" "$(json_len "$HTTP_BODY" .data)" 25
t_done
