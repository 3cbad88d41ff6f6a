#!/usr/bin/env bash
# bench/compare.sh — `make bench-compare`: Switchboard side by side with the
# peers of the shared yardstick, in one run, and the ratios against the
# targets of the performance issue.
#
#   SB_BIN=build/release/bin SHARED_BENCH=../shared/bench bench/compare.sh
#
# It installs what the yardstick needs when missing (wrk, nginx-light,
# PostgreSQL 15 and pgbench, FastAPI and friends from Debian, Node.js when
# there is none; the yardstick installs Fastify's npm packages itself),
# starts Switchboard exactly as bench/bench.sh does (bench/lib.sh: its own
# cluster and ports), then runs ONE invocation of
#
#   $SHARED_BENCH/bench.sh all http://127.0.0.1:<gateway port>
#
# with TARGET_NAME=switchboard and RESULTS_DIR=bench/results/compare-<run id>:
# fastapi, fastify, nginx and pgbench one after the other on the yardstick's
# own cluster, then Switchboard (which the driver seeds through the public
# API: 1,000 organizations of 10 businesses, and checks against the
# contract). Switchboard's processes are sampled for memory all along.
# Then it prints and writes compare.md in that directory, and
# bench/results/compare-latest.md (committed): the driver's table, the
# ratios with PASS/MISS, and Switchboard's memory. The driver's contract
# smoke checks against Switchboard are in switchboard-smoke.txt; failures
# are repeated at the end.
#
# Environment: THREADS, CONNECTIONS, WARMUP, DURATION, WRK_TIMEOUT (passed to
# the driver), SCENARIOS (those the driver knows among healthz businesses
# usage login; default all four), BENCH_WORKERS, BENCH_PG_CONF, SWITCHBOARD_*
# (bench/lib.sh), BENCH_LATEST=1 (0: leave compare-latest.md alone).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export SB_BIN=${SB_BIN:-$ROOT/build/release/bin}
SHARED_BENCH=${SHARED_BENCH:-$ROOT/../shared/bench}
if [[ ! -f $SHARED_BENCH/bench.sh ]]; then
    echo "compare.sh: the peers' yardstick is not there: no $SHARED_BENCH/bench.sh" >&2
    echo "  (make bench-compare SHARED_BENCH=<folder with bench.sh>; make bench needs none)" >&2
    exit 2
fi
SHARED_BENCH=$(cd "$SHARED_BENCH" && pwd)
. "$ROOT/tests/lib/suite.sh"
. "$ROOT/bench/lib.sh"
PY=$SUITE_PYTHON
BENCH_LATEST=${BENCH_LATEST:-1}

# The driver's scenarios only; bench.sh's own names (apikey, calls) dropped.
want=()
for s in ${SCENARIOS:-healthz businesses usage login}; do
    case $s in healthz|businesses|usage|login) want+=("$s") ;; esac
done
(( ${#want[@]} )) || { echo "compare.sh: SCENARIOS has none of healthz businesses usage login" >&2; exit 2; }
export SCENARIOS="${want[*]}"
export THREADS=${THREADS:-2} CONNECTIONS=${CONNECTIONS:-64} WARMUP=${WARMUP:-3} DURATION=${DURATION:-10}

[[ -x $SB_BIN/gateway ]] || { echo "compare.sh: no $SB_BIN/gateway: make MODE=release" >&2; exit 2; }
pkgs=(wrk curl openssl nginx-light postgresql-15 postgresql-client-15 python3-fastapi python3-uvicorn
      python3-asyncpg python3-argon2 python3-uvloop python3-httptools python3-jwt)
# Node.js for the Fastify peer, unless one is installed some other way.
command -v node >/dev/null || pkgs+=(nodejs)
command -v npm >/dev/null || pkgs+=(npm)
bench_pkgs "${pkgs[@]}" || exit 1

RUN_ID=$(date +%Y%m%d-%H%M%S)
OUT=$ROOT/bench/results/compare-$RUN_ID
mkdir -p "$OUT" || exit 1

bench_suite_up
MEM=$OUT/switchboard-memory.tsv
: > "$MEM"
bench_env_info > "$OUT/switchboard-env.md"
bench_mem_sample idle "$MEM"
bench_mem_watch compare "$MEM"

# The driver seeds each peer by SQL and runs VACUUM ANALYZE before loading
# it; Switchboard it seeds through the API right before loading it, while
# autovacuum is still catching up with 1,000 signups and 10,000 businesses.
# Same treatment here: the driver's own seeding first (after the idle memory
# sample), then VACUUM ANALYZE; the driver's seeding then finds it all there.
bench_log "seeding Switchboard with the driver's seed-api (1,000 organizations), then VACUUM ANALYZE"
BENCH_PASSWORD=${BENCH_PASSWORD:-bench-password-123}
/usr/bin/python3 "$SHARED_BENCH/tools/bench_tool.py" seed-api --base "$BENCH_URL" --orgs 1000 \
    --businesses 10 --password "$BENCH_PASSWORD" > "$OUT/switchboard-preseed.json" 2>&1 \
    || t_bail "seeding Switchboard failed: $(tail -5 "$OUT/switchboard-preseed.json")"
suite_psql -c "VACUUM ANALYZE" || t_bail "VACUUM ANALYZE failed"

bench_log "running $SHARED_BENCH/bench.sh all $BENCH_URL (scenarios: $SCENARIOS; about 5 minutes, then Switchboard's seeding)"
# The driver's own processes (peers, its cluster) are its business: it
# stops them itself, on Ctrl-C too. Its output goes to the terminal and to
# driver.log through a tee that ignores Ctrl-C, so that the driver's cleanup
# never writes into a closed pipe.
RESULTS_DIR=$OUT TARGET_NAME=switchboard "$SHARED_BENCH/bench.sh" all "$BENCH_URL" 2>&1 \
    | ( trap '' INT; exec tee "$OUT/driver.log" )
driver_rc=${PIPESTATUS[0]}
bench_mem_stop
bench_alive
(( driver_rc == 0 )) || bench_log "WARNING: the driver exited with status $driver_rc (see $OUT/driver.log); the table has what it measured"
[[ -s $OUT/results.jsonl ]] || t_bail "the driver wrote no results ($OUT/driver.log)"

{
    echo "## make bench-compare — $RUN_ID"
    echo
    echo "One run of the shared yardstick (\`bench.sh all\` then Switchboard as target \`switchboard\`), all on the same machine."
    echo
    cat "$OUT/switchboard-env.md"
    [[ -f $OUT/env.txt ]] && sed 's/^/- driver: /' "$OUT/env.txt"
    echo
    "$PY" "$ROOT/bench/tools/report.py" compare "$OUT/results.jsonl" "$MEM" \
          --batch "${USAGE_BATCH:-100}" --target switchboard
} > "$OUT/compare.md"
bench_keep_logs "$OUT"
echo
cat "$OUT/compare.md"
# A partial run does not replace the last complete one.
(( driver_rc == 0 )) || BENCH_LATEST=0
[[ $BENCH_LATEST == 1 ]] && cp "$OUT/compare.md" "$ROOT/bench/results/compare-latest.md"

smoke=$OUT/switchboard-smoke.txt
if [[ ! -f $smoke ]]; then
    bench_log "WARNING: no contract smoke checks ran against Switchboard ($smoke missing)"
elif grep -q '^FAIL' "$smoke"; then
    bench_log "WARNING: contract smoke checks failed against Switchboard ($smoke):"
    grep '^FAIL' "$smoke" >&2
else
    bench_log "contract smoke checks against Switchboard: all passed"
fi
bench_log "results in $OUT$([[ $BENCH_LATEST == 1 ]] && echo " (and bench/results/compare-latest.md)")"
T_DONE=1
exit "$driver_rc"
