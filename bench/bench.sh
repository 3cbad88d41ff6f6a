#!/usr/bin/env bash
# bench/bench.sh — `make bench`: Switchboard's main paths under wrk. Not a
# test: it prints figures and judges nothing (bench/compare.sh judges).
#
#   SB_BIN=build/release/bin bench/bench.sh        (make bench builds first)
#
# In a suite of its own (tests/lib/suite.sh and bench/lib.sh: PostgreSQL on a
# free port with the peers' settings and durable commits, the gateway, and
# the workers of BENCH_WORKERS, default auth=2 tenant=1 usage=2 billing=1)
# it seeds through the public API only — BENCH_ORGS organizations (100),
# each signed up (its admin user), with an API key and BENCH_BUSINESSES
# businesses (10) — then, for each scenario, runs wrk for WARMUP seconds
# (not counted) and DURATION seconds (measured) with a Lua script of
# bench/lua/ that rotates over the organizations' credentials:
#
#   healthz     GET /healthz (the gateway alone)
#   businesses  GET /v1/businesses?limit=20, Authorization: Bearer <JWT>
#   apikey      the same with X-API-Key: <API key>
#   calls       POST /v1/calls (a call of one of the organization's businesses)
#   usage       POST /v1/usage/events, 100 events a request (10 repeat ids
#               of the same organization's previous batch)
#   login       POST /v1/auth/login (argon2id)
#   lists       pages of one organization with 1,000,000 calls: first, 500
#               deep, business + one day, rare and absent status, one
#               connection each (bench/lists.sh; last, as its seed is big)
#
# It prints a table (req/s, events/s, p50, p99, errors = statuses >= 400 +
# socket errors and timeouts) and the resident memory (RSS, PSS) of every
# process idle (after start) and under load (sampled every second), and
# writes, under bench/results/<run id>/: table.md, results.jsonl, the raw wrk
# output of each scenario, memory.tsv, seed.json, env.md and the processes'
# logs. bench/results/latest.md is the last table (committed; the run
# directories are not).
#
# Environment (defaults): SCENARIOS="healthz businesses apikey usage calls
# login lists" THREADS=2 CONNECTIONS=64 WARMUP=3 DURATION=10 WRK_TIMEOUT=10s
# BENCH_ORGS=100 BENCH_BUSINESSES=10 BENCH_WORKERS, BENCH_PG_CONF and
# SWITCHBOARD_* (see bench/lib.sh), BENCH_PROBE=6 (seconds of the run that
# tallies statuses after a scenario with errors), BENCH_LATEST=1 (0: do not replace
# bench/results/latest.md, e.g. for a subset of scenarios), SB_KEEP=1
# (keep the suite's directory), BENCH_RUN_ID (the results folder's name;
# default the date and time).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export SB_BIN=${SB_BIN:-$ROOT/build/release/bin}
. "$ROOT/tests/lib/suite.sh"
. "$ROOT/bench/lib.sh"
. "$ROOT/bench/lists.sh"

# usage before calls: every call leaves two outbox rows that the relay
# delivers to usage-svc afterwards, which would share usage-svc with the
# usage scenario if it came next.
SCENARIOS=${SCENARIOS:-healthz businesses apikey usage calls login lists}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
WARMUP=${WARMUP:-3}
DURATION=${DURATION:-10}
WRK_TIMEOUT=${WRK_TIMEOUT:-10s}
BENCH_ORGS=${BENCH_ORGS:-100}
BENCH_BUSINESSES=${BENCH_BUSINESSES:-10}
BENCH_PASSWORD=${BENCH_PASSWORD:-bench-password-123}
BENCH_USAGE_BATCH=${BENCH_USAGE_BATCH:-100}
BENCH_LATEST=${BENCH_LATEST:-1}
BENCH_PROBE=${BENCH_PROBE:-6}
export BENCH_USAGE_BATCH
LUA=$ROOT/bench/lua
PY=$SUITE_PYTHON
REPORT=$ROOT/bench/tools/report.py

declare -A LABEL=(
    [healthz]="GET /healthz"
    [businesses]="GET /v1/businesses?limit=20 (JWT)"
    [apikey]="GET /v1/businesses?limit=20 (API key)"
    [calls]="POST /v1/calls"
    [usage]="POST /v1/usage/events ($BENCH_USAGE_BATCH events)"
    [login]="POST /v1/auth/login"
    [lists]="GET /v1/calls, 1,000,000 calls in one organization"
)
for s in $SCENARIOS; do
    [[ -n ${LABEL[$s]:-} ]] || { echo "bench.sh: unknown scenario '$s' (know: ${!LABEL[*]})" >&2; exit 2; }
done
for v in THREADS CONNECTIONS WARMUP DURATION BENCH_ORGS BENCH_BUSINESSES; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || { echo "bench.sh: $v must be a positive integer" >&2; exit 2; }
done
[[ -x $SB_BIN/gateway ]] || { echo "bench.sh: no $SB_BIN/gateway: make MODE=release" >&2; exit 2; }
command -v wrk >/dev/null || bench_pkgs wrk || exit 1

RUN_ID=${BENCH_RUN_ID:-$(date +%Y%m%d-%H%M%S)}
OUT=$ROOT/bench/results/$RUN_ID
mkdir -p "$OUT/wrk" || exit 1

bench_suite_up
CREDS=$SUITE_TMP/orgs.tsv
MEM=$OUT/memory.tsv
: > "$MEM"
: > "$OUT/results.jsonl"
bench_env_info > "$OUT/env.md"
bench_mem_sample idle "$MEM"

bench_log "seeding: $BENCH_ORGS organizations (signup, API key, $BENCH_BUSINESSES businesses each) through the API"
"$PY" "$ROOT/bench/tools/seed.py" --base "$BENCH_URL" --out "$CREDS" --orgs "$BENCH_ORGS" \
      --businesses "$BENCH_BUSINESSES" --password "$BENCH_PASSWORD" > "$OUT/seed.json" \
    || t_bail "seeding failed: $(cat "$OUT/seed.json")"
bench_alive
bench_log "seeded: $(cat "$OUT/seed.json")"
# What autovacuum would have done by now in production.
suite_psql -c "VACUUM ANALYZE" || t_bail "VACUUM ANALYZE failed"

# wrk_run SCENARIO SECONDS OUTPUT [WRK-ARG...]: wrk with the scenario's script.
wrk_run () {
    local s=$1 secs=$2 out=$3 url=$BENCH_URL args=("$CREDS")
    shift 3
    local script=$LUA/$s.lua
    case $s in
        healthz)    url=$BENCH_URL/healthz args=() ;;
        businesses) args+=(jwt) ;;
        apikey)     script=$LUA/businesses.lua args+=(key) ;;
        login)      args+=("$BENCH_PASSWORD") ;;
    esac
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${secs}s" --timeout "$WRK_TIMEOUT" "$@" \
        -s "$script" "$url" ${args[@]+-- "${args[@]}"} > "$out" 2>&1
}

for s in $SCENARIOS; do
    if [[ $s == lists ]]; then
        bench_lists "$OUT"
        continue
    fi
    bench_log "$s: ${LABEL[$s]}: warm-up ${WARMUP} s, then ${DURATION} s measured"
    wrk_run "$s" "$WARMUP" "$OUT/wrk/$s.warmup.txt" || t_bail "wrk failed: $(tail -n 5 "$OUT/wrk/$s.warmup.txt")"
    bench_alive
    bench_mem_watch "$s" "$MEM"
    wrk_run "$s" "$DURATION" "$OUT/wrk/$s.txt" --latency
    rc=$?
    bench_mem_stop
    bench_alive
    (( rc == 0 )) || t_bail "wrk failed: $(tail -n 5 "$OUT/wrk/$s.txt")"
    extra=()
    [[ $s == usage ]] && extra+=(--batch "$BENCH_USAGE_BATCH")
    if grep -qE '^ *(Non-2xx|Socket errors)' "$OUT/wrk/$s.txt"; then
        # Which statuses? A short run that tallies them (too slow to measure
        # with), longer than the default request deadline (5 s) so that it
        # sees the 504s of a backlog.
        BENCH_STATUS=1 wrk_run "$s" "$BENCH_PROBE" "$OUT/wrk/$s.probe.txt"
        extra+=(--probe "$OUT/wrk/$s.probe.txt")
    fi
    "$PY" "$REPORT" wrk --scenario "$s" --label "${LABEL[$s]}" "${extra[@]}" \
          < "$OUT/wrk/$s.txt" >> "$OUT/results.jsonl"
    bench_log "$s: $("$PY" "$REPORT" brief < <(tail -n 1 "$OUT/results.jsonl"))"
done

{
    echo "## make bench — $RUN_ID"
    echo
    cat "$OUT/env.md"
    echo
    "$PY" "$REPORT" table "$OUT/results.jsonl" "$MEM"
} > "$OUT/table.md"
bench_keep_logs "$OUT"
echo
cat "$OUT/table.md"
if [[ $BENCH_LATEST == 1 ]]; then
    cp "$OUT/table.md" "$ROOT/bench/results/latest.md"
    bench_log "results in $OUT (table also in bench/results/latest.md)"
else
    bench_log "results in $OUT"
fi
T_DONE=1
