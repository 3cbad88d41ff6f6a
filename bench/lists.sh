# bench/lists.sh — the `lists` scenario of bench/bench.sh (sourced there):
# pages of the calls of one big organization. Not a test: it prints figures.
#
# It signs up one more organization (bench/tools/seed.py: 3 businesses),
# gives it LISTS_CALLS calls (1,000,000) in SQL as the superuser — one every
# 30 s back from now over some 347 days, spread over its businesses;
# statuses completed (90 %), missed (10 %), voicemail (1 in 2,000: rare),
# transferred (none) — then VACUUM ANALYZE, and runs wrk with ONE
# connection (so that latency is the time the system takes for one request,
# nothing queued) for LISTS_DURATION seconds (5, after 1 of warm-up) on
# each of:
#
#   lists-first     GET /v1/calls?limit=20
#   lists-deep      the page 500 deep (its cursor found by walking 499 pages)
#   lists-window    ?business_id=…&from=…&to=…: one business, one day
#   lists-rare      ?status=voicemail (500 of the 1,000,000)
#   lists-absent    ?status=transferred (none)
#
# Each goes into the table like the other scenarios (p50 and p99 are the
# time per request; the goal is ≤ 5 ms each). Environment: LISTS_CALLS,
# LISTS_DURATION.

LISTS_CALLS=${LISTS_CALLS:-1000000}
LISTS_DURATION=${LISTS_DURATION:-5}

# bench_lists OUT: seeds, measures, appends to OUT/results.jsonl.
bench_lists () {
    local out=$1 creds=$SUITE_TMP/lists.tsv biz org started
    bench_log "lists: one organization with $LISTS_CALLS calls (seeded in SQL)"
    "$PY" "$ROOT/bench/tools/seed.py" --base "$BENCH_URL" --out "$creds" --orgs 1 \
          --businesses 3 --password "$BENCH_PASSWORD" --prefix bench-lists > "$out/lists-seed.json" \
        || t_bail "lists: seeding failed: $(cat "$out/lists-seed.json")"
    biz=$(cut -f 4 "$creds" | head -n 1)
    org=$(suite_psql -c "SELECT organization_id FROM tenant.businesses WHERE id = '${biz%%,*}'")
    [[ -n $org ]] || t_bail "lists: no organization for business ${biz%%,*}"
    started=$SECONDS
    suite_psql -v org="$org" -v n="$LISTS_CALLS" <<'SQL' || t_bail "lists: cannot seed calls"
SET search_path = tenant;
INSERT INTO calls (organization_id, id, business_id, caller_number, started_at,
                   duration_seconds, status, created_at)
SELECT :'org', gen_random_uuid (), b.ids [1 + g % 3], '+14155550123',
       now () - g * interval '30 seconds', 60,
       CASE WHEN g % 2000 = 0 THEN 'voicemail' WHEN g % 10 = 0 THEN 'missed'
            ELSE 'completed' END,
       now () - g * interval '30 seconds'
  FROM (SELECT array_agg (id ORDER BY id) AS ids FROM businesses
         WHERE organization_id = :'org') b,
       generate_series (1, :n) g;
SQL
    suite_psql -c "VACUUM ANALYZE tenant.calls" || t_bail "lists: cannot vacuum"
    bench_log "lists: seeded in $((SECONDS - started)) s"

    local first=${biz%%,*} from to deep
    from=$(date -u -d '-100 days' +%Y-%m-%dT%H:%M:%SZ)
    to=$(date -u -d '-99 days' +%Y-%m-%dT%H:%M:%SZ)
    # The cursor of page 500: walk 499 pages of 20 as a client would.
    deep=$("$PY" - "$BENCH_URL" "$(cut -f 2 "$creds" | head -n 1)" <<'PY'
import json, sys, urllib.parse, urllib.request
base, token = sys.argv[1], sys.argv[2]
cursor = None
for _ in range(499):
    url = base + "/v1/calls?limit=20" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    cursor = json.load(urllib.request.urlopen(req))["next_cursor"]
print(urllib.parse.quote(cursor))
PY
) || t_bail "lists: cannot walk to page 500"

    local -A path=(
        [lists-first]="/v1/calls?limit=20"
        [lists-deep]="/v1/calls?limit=20&cursor=$deep"
        [lists-window]="/v1/calls?limit=20&business_id=$first&from=$from&to=$to"
        [lists-rare]="/v1/calls?limit=20&status=voicemail"
        [lists-absent]="/v1/calls?limit=20&status=transferred"
    )
    local -A label=(
        [lists-first]="GET /v1/calls, 1M calls: first page"
        [lists-deep]="GET /v1/calls, 1M calls: page 500 (cursor)"
        [lists-window]="GET /v1/calls, 1M calls: business + one day"
        [lists-rare]="GET /v1/calls, 1M calls: rare status"
        [lists-absent]="GET /v1/calls, 1M calls: absent status"
    )
    local s
    for s in lists-first lists-deep lists-window lists-rare lists-absent; do
        wrk -t1 -c1 -d1s --timeout "$WRK_TIMEOUT" -s "$LUA/lists.lua" "$BENCH_URL" \
            -- "$creds" "${path[$s]}" > "$out/wrk/$s.warmup.txt" 2>&1 \
            || t_bail "wrk failed: $(tail -n 5 "$out/wrk/$s.warmup.txt")"
        wrk -t1 -c1 -d"${LISTS_DURATION}s" --timeout "$WRK_TIMEOUT" --latency \
            -s "$LUA/lists.lua" "$BENCH_URL" -- "$creds" "${path[$s]}" > "$out/wrk/$s.txt" 2>&1 \
            || t_bail "wrk failed: $(tail -n 5 "$out/wrk/$s.txt")"
        bench_alive
        "$PY" "$REPORT" wrk --scenario "$s" --label "${label[$s]}" \
              < "$out/wrk/$s.txt" >> "$out/results.jsonl"
        bench_log "$s: $("$PY" "$REPORT" brief < <(tail -n 1 "$out/results.jsonl"))"
    done
}
