#!/usr/bin/env bash
# bench/analytics.sh — how long GET /v1/analytics/overview takes on a big
# organization. Not a test: it prints figures and judges nothing.
#
#   SB_BIN=build/release/bin bench/analytics.sh [RUNS]
#
# In a temporary suite of its own (tests/lib/suite.sh: PostgreSQL on a free
# port, the gateway and one worker per service) it signs up one
# organization, then seeds it with SQL as the superuser — 3 businesses,
# 100,000 calls over the last 365 days, 20,000 orders — plus a second
# organization with 400,000 calls of its own, so that the first is a fifth
# of the table, as one tenant among many would be a small part of it. After
# VACUUM ANALYZE (what autovacuum does in production) it times RUNS
# (default 11) requests over HTTP with curl for the whole year (all 100,000
# calls) and for the default range (the last 30 days), and prints each
# median. Then it restarts
# tenant-svc with auto_explain and prints the plan PostgreSQL chose for the
# overview statement, with its actual rows and time.
#
# SB_BIN defaults to build/release/bin (`make MODE=release`); a sanitizer
# build works too but measures the sanitizers. SB_KEEP=1 keeps the
# directory (logs, the cluster) for a look.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${1:-11}
export SB_BIN=${SB_BIN:-$ROOT/build/release/bin}
. "$ROOT/tests/lib/suite.sh"
. "$ROOT/tests/lib/auth.sh"
suite_init
export SWITCHBOARD_AUTH_RATE_PER_MINUTE=0
suite_start_all || t_bail "cannot start the suite"
suite_wait_ready 60 || t_bail "the suite did not become ready"

say () { printf '%s\n' "$*"; }

signup A bench-a@example.com "$AUTH_PASSWORD" "Bench A" "Bench A" || t_bail "cannot sign up"
signup N bench-n@example.com "$AUTH_PASSWORD" "Bench N" "Bench Noise" || t_bail "cannot sign up"

say "seeding: 100000 calls and 20000 orders for one organization, 400000 calls of another"
started=$SECONDS
suite_psql -v org="$A_OID" -v noise="$N_OID" <<'EOF' || t_bail "cannot seed"
SET search_path = tenant;
INSERT INTO businesses (organization_id, id, name, phone_number, timezone, created_at)
SELECT :'org', ('b0000000-0000-4000-8000-00000000000' || i)::uuid, 'Business ' || i,
       '+1310555010' || i, (ARRAY['America/Los_Angeles', 'America/New_York', 'Europe/Paris'])[i],
       now () - interval '2 years' + i * interval '1 day'
FROM generate_series (1, 3) i;
INSERT INTO businesses (organization_id, id, name, phone_number, timezone)
VALUES (:'noise', 'b0000000-0000-4000-8000-000000000009', 'Noise', '+13105550109', 'UTC');
-- Calls every 315 s or so over 365 days, busier by day than by night.
INSERT INTO calls (organization_id, id, business_id, caller_number, started_at,
                   duration_seconds, status)
SELECT :'org', gen_random_uuid (),
       ('b0000000-0000-4000-8000-00000000000' || 1 + i % 3)::uuid, '+14155550100',
       now () - i * interval '315 seconds' - (hashint4 (i) % 120) * interval '1 second',
       abs (hashint4 (i * 7)) % 1800,
       (ARRAY['completed', 'completed', 'completed', 'missed', 'voicemail', 'transferred'])
         [1 + abs (hashint4 (i * 13)) % 6]
FROM generate_series (1, 100000) i;
INSERT INTO calls (organization_id, id, business_id, caller_number, started_at,
                   duration_seconds, status)
SELECT :'noise', gen_random_uuid (), 'b0000000-0000-4000-8000-000000000009', '+14155550100',
       now () - i * interval '79 seconds', 60, 'completed'
FROM generate_series (1, 400000) i;
INSERT INTO orders (organization_id, id, business_id, customer_name, items, total_cents,
                    currency, status, created_at)
SELECT :'org', gen_random_uuid (),
       ('b0000000-0000-4000-8000-00000000000' || 1 + i % 3)::uuid, 'Customer ' || i, '[]',
       abs (hashint4 (i)) % 20000, (ARRAY['USD', 'USD', 'EUR', 'CAD'])[1 + i % 4],
       (ARRAY['pending', 'confirmed', 'fulfilled', 'cancelled'])[1 + abs (hashint4 (i * 3)) % 4],
       now () - i * interval '1575 seconds'
FROM generate_series (1, 20000) i;
EOF
# Twice, a second apart: right after the load a pass leaves the visibility
# map empty here (the suite's cluster commits asynchronously, and a page is
# all-visible only once its rows' commits are flushed), so an index-only scan
# would still read the heap. Autovacuum gets there in production.
suite_psql -c "VACUUM ANALYZE tenant.businesses, tenant.calls, tenant.orders" \
    || t_bail "cannot vacuum"
sleep 1
suite_psql -c "VACUUM tenant.calls, tenant.orders" || t_bail "cannot vacuum"
say "seeded in $((SECONDS - started)) s; pages all-visible: $(suite_psql -c "SELECT string_agg (
    relname || ' ' || relallvisible || '/' || relpages, ', ' ORDER BY relname) FROM pg_class
    WHERE oid IN ('tenant.calls'::regclass, 'tenant.orders'::regclass)")"

# median URL: RUNS timed requests (after one to warm up); prints the median
# in milliseconds.
median () {
    local url=$1 i code t times=()
    for ((i = 0; i <= RUNS; i++)); do
        read -r code t < <(curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' \
                                -H "Authorization: Bearer $A_AT" "$url")
        [[ $code == 200 ]] || t_bail "HTTP $code from $url"
        (( i )) && times+=("$t")
    done
    printf '%s\n' "${times[@]}" | sort -g | awk '{ a[NR] = $1 } END {
        m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        printf "%.1f ms (min %.1f, max %.1f, %d runs)\n", m * 1000, a[1] * 1000, a[NR] * 1000, NR }'
}

base=http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/v1/analytics/overview
year_from=$(date -u -d '-365 days -1 hour' +%Y-%m-%dT%H:%M:%SZ)
year_to=$(date -u -d '+1 minute' +%Y-%m-%dT%H:%M:%SZ)
year_url="$base?from=$year_from&to=$year_to"
curl -sS -H "Authorization: Bearer $A_AT" "$year_url" > "$SUITE_TMP/year.json"
say "a year: $("$SUITE_PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
print("%d calls, %d minutes, %d orders, %d days, zone %s" % (d["calls"]["total"],
      d["calls"]["minutes"], d["orders"]["total"], len(d["calls"]["by_day"]), d["timezone"]))
' "$SUITE_TMP/year.json")"
say "median, a year (100000 calls, 20000 orders): $(median "$year_url")"
say "median, the default 30 days:                  $(median "$base")"

# The plan: tenant-svc again, its sessions with auto_explain.
suite_stop tenant-1 || true
suite_psql -c "ALTER ROLE sb_tenant SET session_preload_libraries = 'auto_explain'" \
           -c "ALTER ROLE sb_tenant SET auto_explain.log_min_duration = '20ms'" \
           -c "ALTER ROLE sb_tenant SET auto_explain.log_analyze = on" \
           -c "ALTER ROLE sb_tenant SET auto_explain.log_buffers = on" \
    || t_bail "cannot set up auto_explain"
suite_start_service tenant || t_bail "cannot restart tenant-svc"
suite_wait_status /v1/sys/ping/tenant 200 30 -H "Authorization: Bearer $SUITE_OPERATOR_TOKEN" || t_bail "tenant-svc did not come back"
curl -sS -o /dev/null -H "Authorization: Bearer $A_AT" "$year_url"
sleep 0.5
pglog=$SUITE_TMP/pg/pg.log
[[ -f $SUITE_TMP/pg/pg-root ]] && pglog=$(<"$SUITE_TMP/pg/pg-root")/pg.log
say "the plan of the year's overview statement (auto_explain, actual times with instrumentation):"
awk '/duration: .* plan:/ { plan = ""; keep = 1 }
     keep && /^[0-9]{4}-[0-9]{2}-[0-9]{2} / && !/duration: .* plan:/ { keep = 0 }
     keep { plan = plan $0 "\n" }
     END { printf "%s", plan }' "$pglog" | grep -v -E '^\s*Query Text:' | sed 's/^/    /'

T_DONE=1
