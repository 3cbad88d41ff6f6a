#!/usr/bin/env bash
# bench/scale.sh — `make bench-scale`: how the cost of each read path grows
# with the data, and what many organizations cost the gateway. Not a test:
# it prints figures and judges nothing.
#
#   SB_BIN=build/release/bin bench/scale.sh      (make bench-scale builds first)
#
# In a suite of its own (tests/lib/suite.sh and bench/lib.sh: PostgreSQL with
# the peers' settings and durable commits, the gateway, the workers of
# BENCH_WORKERS) it signs up one organization through the API
# (bench/tools/seed.py, SCALE_BUSINESSES businesses) and grows it, size after
# size of SCALE_SIZES, without reloading: each step adds the calls from the
# previous size to the next in SQL as the superuser (INSERT … SELECT over
# generate_series, one transaction), and with them:
#   - SCALE_OTHERS other organizations (10, made in SQL, 3 businesses each)
#     getting SCALE_OTHER_PERCENT % (10) of the size each, in the same
#     tables, so that the organization's rows are interleaved with theirs;
#   - one order per 5 calls (the overview reads orders too);
#   - one usage event (metric calls, quantity 1, occurred_at = the call's
#     started_at) per call in usage-svc's events, inserted in time order
#     as ingestion appends them, with the hourly sums (what GET /v1/usage's
#     series reads, with the raw events of a range's partial edge hours)
#     and the counters (what GET /v1/usage/summary reads) raised by
#     exactly those events, per organization and hour or month.
#     call_minutes events are not seeded (the series measured is calls';
#     half the disk).
# Calls: uniform over the 365 days back from now (a hash of the row number),
# over the businesses in turn; statuses as in bench/lists.sh — completed
# 90 %, missed 10 %, voicemail 1 in 2,000, transferred none; durations 5 s
# to 15 min. Then VACUUM ANALYZE (what autovacuum would have done).
#
# For each size and each path (one organization's credential, an access
# token fetched again for each size):
#   HTTP    wrk with ONE connection (latency = the system's time for one
#           request, nothing queued): 1 s warm-up, SCALE_DURATION s (3)
#           measured, p50 and p99 (bench/lua/lists.lua)
#   server  the time spent in PostgreSQL per request, p50 and p99 over
#           SCALE_SAMPLES (100) sequential requests made afterwards with
#           log_min_duration_statement = 0: the "duration:" lines (parse,
#           bind, execute) of the request's transaction summed
#           (bench/tools/scale.py says how). Logging is on only then, never
#           during the wrk runs. A slow path gets fewer samples: as many as
#           fit in SCALE_SAMPLE_SECONDS (20), at least one; and when wrk
#           finished fewer than 5 requests in its run, the table shows this
#           sequential client's HTTP times instead, with their statuses
#           (a path slower than the gateway's deadline, 5 s, is 504).
# Paths: the calls list's first page; the page 500 deep (its cursor found by
# walking 499 pages); each filter alone (business_id; status missed (10 %);
# status voicemail (rare); from (the 100 days back to now); to (older than
# 100 days)); from + to (one day); business + that day; a call by id; the
# analytics overview for 30 days and for 365 days (from/to given); the usage
# summary; the calls series by day over 365 days.
#
# Then many organizations (SCALE_ORGS, 100,000; 0 skips it): organizations,
# one API key each (the format and hash auth-svc uses: sbk_<8 hex>_<43
# base64url>, SHA-256 of the whole key) and an active enterprise
# subscription (6,000 requests a minute: so each has a rate-limit window at
# the gateway), all in SQL; then GET /v1/businesses?limit=20 with X-API-Key
# rotating over all of them (bench/lua/businesses.lua, SCALE_ORGS_THREADS=2
# threads, 64 connections), twice for SCALE_ORGS_DURATION s (SCALE_ORGS /
# 1,000, at least 30: the first run should reach every key): "first
# use" (every key unknown to the gateway) and "again"; the gateway's RSS
# before, after and at its peak (sampled every second).
#
# Writes bench/results/scale-<time>/ (table.md, results.jsonl, orgs.jsonl,
# the wrk outputs, memory.tsv, env.md, logs) and bench/results/scale.md (the
# last table, committed).
#
# Disk: before each step it estimates what the step needs (from the bytes a
# call took in the previous step, 1,500 at first, plus max_wal_size) and
# stops growing, with a message, when the file system of the cluster has
# less free; the figures of the sizes done are written all the same.
# 10,000,000 calls with the 10 × 10 % others take some 20–30 GB.
#
# Environment (defaults): SCALE_SIZES="10000 100000 1000000 10000000"
# SCALE_ORGS=100000 SCALE_BUSINESSES=5 SCALE_OTHERS=10 SCALE_OTHER_PERCENT=10
# SCALE_DURATION=3 SCALE_SAMPLES=100 SCALE_SAMPLE_SECONDS=20
# SCALE_ORGS_DURATION (see above) SCALE_ORGS_THREADS=2 WRK_TIMEOUT=10s,
# BENCH_WORKERS, BENCH_PG_CONF, SWITCHBOARD_* (bench/lib.sh), SB_KEEP=1,
# BENCH_LATEST=1 (0: leave bench/results/scale.md alone). SCALE_SIZES=""
# measures only the many organizations, SCALE_ORGS=0 only the sizes.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export SB_BIN=${SB_BIN:-$ROOT/build/release/bin}
. "$ROOT/tests/lib/suite.sh"
. "$ROOT/bench/lib.sh"

SCALE_SIZES=${SCALE_SIZES-10000 100000 1000000 10000000}   # (set but empty: no sizes)
SCALE_ORGS=${SCALE_ORGS:-100000}
SCALE_BUSINESSES=${SCALE_BUSINESSES:-5}
SCALE_OTHERS=${SCALE_OTHERS:-10}
SCALE_OTHER_PERCENT=${SCALE_OTHER_PERCENT:-10}
SCALE_DURATION=${SCALE_DURATION:-3}
SCALE_SAMPLES=${SCALE_SAMPLES:-100}
SCALE_SAMPLE_SECONDS=${SCALE_SAMPLE_SECONDS:-20}
SCALE_ORGS_DURATION=${SCALE_ORGS_DURATION:-}
SCALE_ORGS_THREADS=${SCALE_ORGS_THREADS:-2}
WRK_TIMEOUT=${WRK_TIMEOUT:-10s}
BENCH_PASSWORD=${BENCH_PASSWORD:-bench-password-123}
LUA=$ROOT/bench/lua
PY=$SUITE_PYTHON
REPORT=$ROOT/bench/tools/report.py
TOOL=$ROOT/bench/tools/scale.py

die () { echo "bench/scale.sh: $*" >&2; exit 2; }
prev=0
for n in $SCALE_SIZES; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "SCALE_SIZES: '$n' is not a positive integer"
    (( n > prev )) || die "SCALE_SIZES must grow: $n after $prev"
    prev=$n
done
for v in SCALE_ORGS SCALE_OTHERS SCALE_OTHER_PERCENT; do
    [[ ${!v} =~ ^(0|[1-9][0-9]*)$ ]] || die "$v must be an integer ≥ 0"
done
# Long enough for the first run to reach every key at ~1,000 req/s.
if [[ -z $SCALE_ORGS_DURATION ]]; then
    SCALE_ORGS_DURATION=$(( SCALE_ORGS / 1000 > 30 ? SCALE_ORGS / 1000 : 30 ))
fi
for v in SCALE_BUSINESSES SCALE_DURATION SCALE_SAMPLES SCALE_SAMPLE_SECONDS SCALE_ORGS_DURATION SCALE_ORGS_THREADS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done
(( SCALE_ORGS <= 9999999 )) || die "SCALE_ORGS: at most 9,999,999"
[[ -x $SB_BIN/gateway ]] || die "no $SB_BIN/gateway: make MODE=release"
command -v wrk >/dev/null || bench_pkgs wrk || exit 1

RUN_ID=scale-${BENCH_RUN_ID:-$(date +%Y%m%d-%H%M%S)}
OUT=$ROOT/bench/results/$RUN_ID
mkdir -p "$OUT/wrk" || exit 1
RESULTS=$OUT/results.jsonl ORGS_RESULTS=$OUT/orgs.jsonl MEM=$OUT/memory.tsv
: > "$RESULTS"; : > "$ORGS_RESULTS"; : > "$MEM"

# The virtual transaction id in every log line: what groups a request's
# statements (bench/tools/scale.py).
BENCH_PG_CONF+=$'\n'"log_line_prefix = '%m [%p] %q%u@%d %v '"
bench_suite_up
PGROOT=$SUITE_TMP/pg
[[ -f $PGROOT/pg-root ]] && PGROOT=$(<"$PGROOT/pg-root")
PGLOG=$PGROOT/pg.log
THREADS=1 CONNECTIONS=1 WARMUP=1 DURATION=$SCALE_DURATION bench_env_info > "$OUT/env.md"
bench_mem_sample idle "$MEM"

# ---- the organization ----------------------------------------------------
CREDS=$SUITE_TMP/scale.tsv
"$PY" "$ROOT/bench/tools/seed.py" --base "$BENCH_URL" --out "$SUITE_TMP/seed.tsv" --orgs 1 \
      --businesses "$SCALE_BUSINESSES" --password "$BENCH_PASSWORD" --prefix bench-scale \
      > "$OUT/seed.json" || t_bail "seeding failed: $(cat "$OUT/seed.json")"
EMAIL=$(cut -f 1 "$SUITE_TMP/seed.tsv")
BIZ=$(cut -f 4 "$SUITE_TMP/seed.tsv")
FIRST_BIZ=${BIZ%%,*}
ORG=$(suite_psql -c "SELECT organization_id FROM tenant.businesses WHERE id = '$FIRST_BIZ'")
[[ -n $ORG ]] || t_bail "no organization for business $FIRST_BIZ"
bench_log "organization $ORG ($EMAIL), $SCALE_BUSINESSES businesses; $SCALE_OTHERS others of $SCALE_OTHER_PERCENT % each"

# The other organizations: made in tenant-svc's tables only (their calls
# are what matters), ids 5ca1e000-…-<k>.
suite_psql -v others="$SCALE_OTHERS" <<'SQL' || t_bail "cannot make the other organizations"
INSERT INTO tenant.businesses (organization_id, id, name, phone_number, timezone)
SELECT ('5ca1e000-0000-4000-8000-' || lpad (k::text, 12, '0'))::uuid,
       ('5ca1eb00-0000-4000-8000-' || lpad ((k * 10 + j)::text, 12, '0'))::uuid,
       'Other ' || k || '.' || j, '+1310555' || lpad ((k * 10 + j)::text, 4, '0'), 'UTC'
  FROM generate_series (1, :others) k, generate_series (1, 3) j
    ON CONFLICT DO NOTHING;
SQL

# grow FROM TO: the rows of calls FROM+1..TO (and the others' share), in one
# transaction (one now (): the events' times are the calls' times).
grow () {
    suite_psql -v org="$ORG" -v lo="$1" -v hi="$2" -v others="$SCALE_OTHERS" \
               -v pct="$SCALE_OTHER_PERCENT" <<'SQL'
BEGIN;
CREATE TEMP TABLE scale_src ON COMMIT DROP AS
SELECT s.k, s.org, s.lo, s.hi,
       (SELECT array_agg (id ORDER BY id) FROM tenant.businesses b
         WHERE b.organization_id = s.org) AS ids
  FROM (SELECT 0 AS k, :'org'::uuid AS org, :lo::bigint AS lo, :hi::bigint AS hi
        UNION ALL
        SELECT k, ('5ca1e000-0000-4000-8000-' || lpad (k::text, 12, '0'))::uuid,
               :lo::bigint * :pct / 100, :hi::bigint * :pct / 100
          FROM generate_series (1, :others) k) s;
-- Row g of organization k: when (a hash of g and k over 365 days back),
-- which business, status and duration. The same expressions below.
CREATE TEMP VIEW scale_rows AS
SELECT s.k, s.org, g, s.ids [1 + g % array_length (s.ids, 1)] AS business_id,
       now () - ((hashint8 (g * 64 + s.k)::bigint + 2147483648) % 31536000)
                * interval '1 second' AS at,
       5 + ((hashint8 (g * 64 + s.k + 32)::bigint + 2147483648) % 896)::int AS seconds,
       CASE WHEN g % 2000 = 0 THEN 'voicemail' WHEN g % 10 = 0 THEN 'missed'
            ELSE 'completed' END AS status
  FROM scale_src s, generate_series (s.lo + 1, s.hi) g;
-- The calls, and with tenant migration 0012 (the analytics rollup) their
-- deltas in the same statement, the triggers off for it: its row trigger
-- would append the same deltas one call at a time (twice the load's time
-- at 100,000 calls).
SELECT to_regclass ('tenant.analytics_deltas') IS NOT NULL AS scale_deltas \gset
\if :scale_deltas
SET LOCAL session_replication_role = replica;
WITH c AS (
    INSERT INTO tenant.calls (organization_id, id, business_id, caller_number, started_at,
                              duration_seconds, status, created_at)
    SELECT org, gen_random_uuid (), business_id, '+1415555' || lpad ((g % 10000)::text, 4, '0'),
           at, seconds, status, at
      FROM scale_rows
    RETURNING organization_id, business_id, started_at, status, duration_seconds)
INSERT INTO tenant.analytics_deltas (organization_id, business_id, started_at, status, seconds,
                                     sign)
SELECT organization_id, business_id, started_at, status, duration_seconds, 1 FROM c;
SET LOCAL session_replication_role = origin;
\else
INSERT INTO tenant.calls (organization_id, id, business_id, caller_number, started_at,
                          duration_seconds, status, created_at)
SELECT org, gen_random_uuid (), business_id, '+1415555' || lpad ((g % 10000)::text, 4, '0'),
       at, seconds, status, at
  FROM scale_rows;
\endif
-- The events in the order of their time, as ingestion appends them (the
-- series reads a range's edges through a BRIN index on occurred_at, which
-- only narrows a scan where the heap is in time order), with the counters
-- and the hourly sums (usage.hours) raised by exactly them, as
-- usage_store_stmt does.
WITH e AS (
    INSERT INTO usage.events (organization_id, event_id, metric, quantity, occurred_at,
                              business_id, received_at)
    SELECT org, gen_random_uuid ()::text, 'calls', 1, at, business_id, at FROM scale_rows
     ORDER BY at
    RETURNING organization_id, occurred_at),
c AS (
    INSERT INTO usage.counters (organization_id, metric, period_start, used)
    SELECT organization_id, 'calls', date_trunc ('month', occurred_at AT TIME ZONE 'UTC')::date,
           count (*)
      FROM e GROUP BY 1, 3
        ON CONFLICT (organization_id, metric, period_start)
        DO UPDATE SET used = usage.counters.used + excluded.used)
INSERT INTO usage.hours (organization_id, metric, hour, quantity)
SELECT organization_id, 'calls', date_trunc ('hour', occurred_at AT TIME ZONE 'UTC'), count (*)
  FROM e GROUP BY 1, 3
    ON CONFLICT (organization_id, metric, hour)
    DO UPDATE SET quantity = usage.hours.quantity + excluded.quantity;
-- One order per 5 calls, over the year too.
INSERT INTO tenant.orders (organization_id, id, business_id, customer_name, items, total_cents,
                           currency, status, created_at, updated_at)
SELECT s.org, gen_random_uuid (), s.ids [1 + g % array_length (s.ids, 1)], 'Customer ' || g, '[]',
       (hashint8 (g * 64 + s.k + 16)::bigint + 2147483648) % 20000,
       (ARRAY['USD', 'USD', 'EUR', 'CAD']) [1 + g % 4],
       (ARRAY['pending', 'confirmed', 'fulfilled', 'cancelled']) [1 + g % 7 % 4],
       t.at, t.at
  FROM scale_src s, generate_series (s.lo / 5 + 1, s.hi / 5) g,
       LATERAL (SELECT now () - ((hashint8 (g * 64 + s.k + 48)::bigint + 2147483648) % 31536000)
                               * interval '1 second' AS at) t;
COMMIT;
SQL
}

# Free bytes where the cluster lives.
free_bytes () {
    df -B1 --output=avail "$PGROOT" | tail -n 1 | tr -d ' '
}
db_bytes () {
    suite_psql -c "SELECT pg_database_size (current_database ())"
}

# The paths of one size into $SUITE_TMP/paths.tsv (name, role, path) and
# their labels into LABEL.
declare -A LABEL
paths_for () {
    local size=$1 token=$2 deep by_id day_from day_to from100 year_from now_to m_from d_from d_to
    deep=$("$PY" "$TOOL" walk "$BENCH_URL" "$token" 499) || t_bail "cannot walk to page 500"
    by_id=$(suite_psql -c "SELECT id FROM tenant.calls WHERE organization_id = '$ORG'
              AND started_at <= now () - interval '180 days' ORDER BY started_at DESC LIMIT 1")
    day_from=$(date -u -d '-100 days' +%Y-%m-%dT%H:%M:%SZ)
    day_to=$(date -u -d '-99 days' +%Y-%m-%dT%H:%M:%SZ)
    from100=$day_from
    year_from=$(date -u -d '-365 days' +%Y-%m-%dT%H:%M:%SZ)
    m_from=$(date -u -d '-30 days' +%Y-%m-%dT%H:%M:%SZ)
    now_to=$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:%SZ)
    d_from=$(date -u -d '-365 days' +%Y-%m-%d)T00:00:00Z
    d_to=$(date -u -d '+1 day' +%Y-%m-%d)T00:00:00Z
    local c="/v1/calls?limit=20"
    LABEL=(
        [first]="calls: first page"
        [deep]="calls: page 500 (cursor)"
        [business]="calls: business_id"
        [missed]="calls: status=missed (10 %)"
        [rare]="calls: status=voicemail (1 in 2,000)"
        [from]="calls: from (last 100 days)"
        [to]="calls: to (older than 100 days)"
        [window]="calls: from + to (one day)"
        [biz-window]="calls: business + one day"
        [by-id]="GET /v1/calls/{id}"
        [overview-30d]="analytics overview, 30 days"
        [overview-year]="analytics overview, 365 days"
        [usage-summary]="GET /v1/usage/summary"
        [usage-series]="GET /v1/usage, calls by day, 365 days"
    )
    {
        printf 'first\tsb_tenant\t%s\n' "$c"
        if [[ -n $deep ]]; then printf 'deep\tsb_tenant\t%s&cursor=%s\n' "$c" "$deep"; fi
        printf 'business\tsb_tenant\t%s&business_id=%s\n' "$c" "$FIRST_BIZ"
        printf 'missed\tsb_tenant\t%s&status=missed\n' "$c"
        printf 'rare\tsb_tenant\t%s&status=voicemail\n' "$c"
        printf 'from\tsb_tenant\t%s&from=%s\n' "$c" "$from100"
        printf 'to\tsb_tenant\t%s&to=%s\n' "$c" "$day_from"
        printf 'window\tsb_tenant\t%s&from=%s&to=%s\n' "$c" "$day_from" "$day_to"
        printf 'biz-window\tsb_tenant\t%s&business_id=%s&from=%s&to=%s\n' "$c" "$FIRST_BIZ" "$day_from" "$day_to"
        printf 'by-id\tsb_tenant\t/v1/calls/%s\n' "$by_id"
        printf 'overview-30d\tsb_tenant\t/v1/analytics/overview?from=%s&to=%s\n' "$m_from" "$now_to"
        printf 'overview-year\tsb_tenant\t/v1/analytics/overview?from=%s&to=%s\n' "$year_from" "$now_to"
        printf 'usage-summary\tsb_usage\t/v1/usage/summary\n'
        printf 'usage-series\tsb_usage\t/v1/usage?metric=calls&granularity=day&from=%s&to=%s\n' "$d_from" "$d_to"
    } > "$SUITE_TMP/paths.tsv"
    [[ -n $deep ]] || bench_log "size $size: fewer than 500 pages, no deep page"
}

# ---- the sizes ------------------------------------------------------------
prev=0 per_call=1500
wal=$(suite_psql -c "SELECT pg_size_bytes (current_setting ('max_wal_size'))")
for size in $SCALE_SIZES; do
    add=$(( (size - prev) * (100 + SCALE_OTHERS * SCALE_OTHER_PERCENT) / 100 ))
    need=$(( add * per_call * 12 / 10 + wal ))
    have=$(free_bytes)
    if (( need > have )); then
        bench_log "size $size: needs some $((need >> 30)) GiB on the cluster's file system ($PGROOT), $((have >> 30)) GiB free: stopping here"
        echo "- size $size not measured: it needed some $((need >> 30)) GiB of disk, $((have >> 30)) GiB were free" >> "$OUT/env.md"
        break
    fi
    before=$(db_bytes)
    bench_log "size $size: adding calls $((prev + 1))..$size and the others' share ($add calls in all)"
    started=$SECONDS
    grow "$prev" "$size" > "$OUT/grow-$size.log" 2>&1 || t_bail "cannot grow to $size: $(tail -n 5 "$OUT/grow-$size.log")"
    load_s=$((SECONDS - started))
    # The rollups' folder (tenant-svc) moves the load's deltas into the
    # rollups: measured once it has, as a live system is measured (at most
    # 5 s behind). The delta tables the build has: the calls', the orders'.
    started=$SECONDS
    pending_sql=$(suite_psql -c "SELECT string_agg ('(SELECT count (*) FROM ' || t || ')', ' + ')
                                   FROM unnest (ARRAY ['tenant.analytics_deltas',
                                                       'tenant.analytics_order_deltas']) t
                                  WHERE to_regclass (t) IS NOT NULL")
    left=0
    while [[ -n $pending_sql ]] && (( SECONDS - started < 3600 )); do
        left=$(suite_psql -c "SELECT $pending_sql")
        [[ $left == 0 ]] && break
        sleep 1
    done
    bench_log "size $size: the folder took $((SECONDS - started)) s after the load (${left:-?} deltas left)"
    started=$SECONDS
    #  The whole database: every table a load writes (the hourly sums and any
    #  rollup among them), so no plan is made on a table never analyzed.
    suite_psql -c "VACUUM ANALYZE" || t_bail "VACUUM ANALYZE failed"
    vacuum_s=$((SECONDS - started))
    after=$(db_bytes)
    (( add > 0 && after > before )) && per_call=$(( (after - before) / add ))
    bench_log "size $size: loaded in $load_s s, VACUUM ANALYZE $vacuum_s s; database $((after >> 20)) MiB ($per_call bytes a call with its order share, event and indexes)"
    printf '{"kind": "load", "size": %d, "other_calls": %d, "orders": %d, "events": %d, "load_s": %d, "vacuum_s": %d, "db_size": "%s", "bytes_per_call": %d}\n' \
        "$size" "$(( size * SCALE_OTHERS * SCALE_OTHER_PERCENT / 100 ))" "$((size / 5))" "$size" \
        "$load_s" "$vacuum_s" "$((after >> 20)) MiB" "$per_call" >> "$RESULTS"
    prev=$size
    bench_alive

    token=$("$PY" "$TOOL" login "$BENCH_URL" "$EMAIL" "$BENCH_PASSWORD") || t_bail "cannot log in"
    printf '%s\t%s\t-\t%s\n' "$EMAIL" "$token" "$BIZ" > "$CREDS"
    paths_for "$size" "$token"

    # HTTP: wrk, one connection, logging off.
    while IFS=$'\t' read -r name _ path; do
        w=$OUT/wrk/$size-$name
        wrk -t1 -c1 -d1s --timeout "$WRK_TIMEOUT" -s "$LUA/lists.lua" "$BENCH_URL" \
            -- "$CREDS" "$path" > "$w.warmup.txt" 2>&1 || t_bail "wrk failed: $(tail -n 5 "$w.warmup.txt")"
        wrk -t1 -c1 -d"${SCALE_DURATION}s" --timeout "$WRK_TIMEOUT" --latency -s "$LUA/lists.lua" \
            "$BENCH_URL" -- "$CREDS" "$path" > "$w.txt" 2>&1 || t_bail "wrk failed: $(tail -n 5 "$w.txt")"
        bench_alive
        "$PY" "$REPORT" wrk --scenario "$name" --label "${LABEL[$name]}" < "$w.txt" \
            | sed "s/^{/{\"kind\": \"http\", \"size\": $size, /" >> "$RESULTS"
        bench_log "$size $name: $("$PY" "$REPORT" brief < <(tail -n 1 "$RESULTS"))"
    done < "$SUITE_TMP/paths.tsv"

    # Server time: sequential requests with every statement's duration logged.
    suite_psql -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf ()" >/dev/null \
        || t_bail "cannot turn statement logging on"
    sleep 1
    "$PY" "$TOOL" sample "$BENCH_URL" "$token" "$PGLOG" "$SCALE_SAMPLES" "$size" "$SUITE_TMP/paths.tsv" \
          "$SCALE_SAMPLE_SECONDS" \
        >> "$RESULTS" 2> "$OUT/sample-$size.err"
    rc=$?
    suite_psql -c "ALTER SYSTEM RESET log_min_duration_statement" -c "SELECT pg_reload_conf ()" >/dev/null
    (( rc == 0 )) || t_bail "server times failed: $(cat "$OUT/sample-$size.err")"
    bench_alive
    echo
    "$PY" "$TOOL" table <(grep -E "\"size\": $size," "$RESULTS")
done

# ---- many organizations ---------------------------------------------------
gw_rss () {
    awk '/^VmRSS:/ { print $2 }' "/proc/$(<"$SUITE_TMP/pids/gateway-1")/status"
}
if (( SCALE_ORGS > 0 )); then
    bench_log "many organizations: $SCALE_ORGS with an API key and an enterprise subscription (SQL)"
    started=$SECONDS
    suite_psql -v n="$SCALE_ORGS" <<'SQL' || t_bail "cannot seed the organizations"
BEGIN;
CREATE TEMP TABLE scale_orgs ON COMMIT DROP AS
SELECT i, ('5ca1e0a0-0000-4000-8000-' || lpad (i::text, 12, '0'))::uuid AS org,
       'sbk_' || lpad (to_hex (i), 8, '0') AS prefix,
       'sbk_' || lpad (to_hex (i), 8, '0') || '_'
         || rtrim (translate (encode (sha256 (convert_to ('scale-key-' || i, 'UTF8')), 'base64'),
                              '+/', '-_'), '=') AS key
  FROM generate_series (1, :n) i;
INSERT INTO auth.organizations (id, name, subdomain, referral_code)
SELECT org, 'Scale org ' || i, 'scale-org-' || i, 'SCALE' || i FROM scale_orgs;
INSERT INTO auth.api_keys (organization_id, id, name, prefix, secret_hash, role)
SELECT org, gen_random_uuid (), 'scale', prefix, sha256 (convert_to (key, 'UTF8')), 'user'
  FROM scale_orgs;
WITH v AS (UPDATE billing.versions SET version = version + 1 WHERE name = 'entitlements'
           RETURNING version)
INSERT INTO billing.subscriptions (organization_id, plan, status, current_period_start,
                                   current_period_end, version)
SELECT org, 'enterprise', 'active', date_trunc ('month', now ()),
       date_trunc ('month', now ()) + interval '1 month', v.version
  FROM scale_orgs, v;
CREATE TABLE public.scale_keys AS SELECT i, key FROM scale_orgs;
COMMIT;
SQL
    KEYS=$SUITE_TMP/keys.tsv
    suite_psql -F $'\t' -c "SELECT 'scale-org-' || i || '@bench.example', '-', key, '' FROM public.scale_keys ORDER BY i" \
        > "$KEYS" || t_bail "cannot list the keys"
    suite_psql -c "DROP TABLE public.scale_keys" -c "VACUUM ANALYZE auth.organizations, auth.api_keys, billing.subscriptions" \
        || t_bail "cannot vacuum"
    bench_log "many organizations: seeded in $((SECONDS - started)) s; $(wc -l < "$KEYS") keys"
    # A key of those must work (or the format is wrong): one request first.
    probe=$(curl -sS -o /dev/null -w '%{http_code}' -H "X-API-Key: $(head -n 1 "$KEYS" | cut -f 3)" \
                 "$BENCH_URL/v1/businesses?limit=20")
    [[ $probe == 200 ]] || t_bail "an API key made in SQL was refused: HTTP $probe"
    for run in first-use again; do
        rss_before=$(gw_rss)
        bench_mem_watch "orgs-$run" "$MEM"
        wrk -t"$SCALE_ORGS_THREADS" -c64 -d"${SCALE_ORGS_DURATION}s" --timeout "$WRK_TIMEOUT" --latency \
            -s "$LUA/businesses.lua" "$BENCH_URL" -- "$KEYS" key > "$OUT/wrk/orgs-$run.txt" 2>&1
        rc=$?
        bench_mem_stop
        bench_alive
        (( rc == 0 )) || t_bail "wrk failed: $(tail -n 5 "$OUT/wrk/orgs-$run.txt")"
        rss_after=$(gw_rss)
        peak=$(awk -F'\t' -v ph="orgs-$run" '$1 == ph && $2 ~ /^gateway/ && $4 > m { m = $4 } END { print m + 0 }' "$MEM")
        "$PY" "$REPORT" wrk --scenario "orgs-$run" --label "X-API-Key over $SCALE_ORGS organizations" \
              < "$OUT/wrk/orgs-$run.txt" \
            | sed "s/^{/{\"run\": \"$run\", \"orgs\": $SCALE_ORGS, \"rss_before_kb\": $rss_before, \"rss_after_kb\": $rss_after, \"rss_peak_kb\": $peak, /" \
            >> "$ORGS_RESULTS"
        bench_log "orgs $run: $("$PY" "$REPORT" brief < <(tail -n 1 "$ORGS_RESULTS")); gateway RSS $rss_before -> $rss_after kB (peak $peak)"
    done
fi

{
    echo "## make bench-scale — ${RUN_ID#scale-}"
    echo
    cat "$OUT/env.md"
    echo "- sizes: $SCALE_SIZES calls in one organization ($SCALE_BUSINESSES businesses), $SCALE_OTHERS other organizations with $SCALE_OTHER_PERCENT % of the size each in the same tables; HTTP: wrk, 1 connection, ${SCALE_DURATION} s; server: time in PostgreSQL per request (statement log), $SCALE_SAMPLES sequential requests (fewer past $SCALE_SAMPLE_SECONDS s)"
    (( SCALE_ORGS > 0 )) && echo "- many organizations: wrk $SCALE_ORGS_THREADS threads, 64 connections, $SCALE_ORGS_DURATION s a run, X-API-Key of the next organization each request"
    echo
    "$PY" "$TOOL" table "$RESULTS" "$ORGS_RESULTS"
} > "$OUT/table.md"
bench_keep_logs "$OUT"
echo
cat "$OUT/table.md"
if [[ ${BENCH_LATEST:-1} == 1 ]]; then
    cp "$OUT/table.md" "$ROOT/bench/results/scale.md"
    bench_log "results in $OUT (table also in bench/results/scale.md)"
else
    bench_log "results in $OUT (BENCH_LATEST=0: bench/results/scale.md left as it was)"
fi
T_DONE=1
