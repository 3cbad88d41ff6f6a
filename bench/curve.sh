#!/usr/bin/env bash
# bench/curve.sh — `make bench-curve`: what securing the bus with CURVE
# costs, on the paths that cross it most: the businesses list (JWT and API
# key), POST /v1/calls and usage ingestion (100 events a request).
#
#   SB_BIN=build/release/bin bench/curve.sh      (make bench-curve builds first)
#
# Runs bench/bench.sh ROUNDS times (2) for each setting, alternating
# plaintext (SWITCHBOARD_CURVE=off, loopback) and CURVE (on, the default),
# each run a fresh suite, and prints the median of the runs per scenario
# side by side: req/s (events/s for usage), p50 and p99, and the change.
# The table goes to bench/results/curve.md (committed) and the runs to
# bench/results/curve-<time>-{off,on}-<n>/. Like bench.sh it judges
# nothing. Environment: ROUNDS, CURVE_SCENARIOS ("businesses apikey calls
# usage"), and what bench.sh reads (DURATION, CONNECTIONS, ...).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export SB_BIN=${SB_BIN:-$ROOT/build/release/bin}
ROUNDS=${ROUNDS:-2}
SCEN=${CURVE_SCENARIOS:-businesses apikey calls usage}
STAMP=$(date +%Y%m%d-%H%M%S)
runs=()
for ((n = 1; n <= ROUNDS; n++)); do
    for mode in off on; do
        id=curve-$STAMP-$mode-$n
        echo "bench-curve: round $n, SWITCHBOARD_CURVE=$mode" >&2
        SWITCHBOARD_CURVE=$mode BENCH_RUN_ID=$id BENCH_LATEST=0 SCENARIOS=$SCEN \
            "$ROOT/bench/bench.sh" >/dev/null || { echo "bench-curve: run $id failed" >&2; exit 1; }
        runs+=("$mode:$ROOT/bench/results/$id/results.jsonl")
    done
done
{
    echo "## make bench-curve — $STAMP"
    echo
    echo "- commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown), $ROUNDS runs each, alternating; medians"
    echo "- $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    /usr/bin/python3 - "${runs[@]}" <<'PY'
import json, statistics, sys
runs = {"off": [], "on": []}
for arg in sys.argv [1:]:
    mode, path = arg.split (":", 1)
    with open (path) as f:
        runs [mode].append ([json.loads (line) for line in f if line.strip ()])
def median (mode, scenario, field):
    values = [r [field] for run in runs [mode] for r in run
              if r ["scenario"] == scenario and r.get (field) is not None]
    return statistics.median (values) if values else None
order, labels = [], {}
for run in runs ["off"] + runs ["on"]:
    for r in run:
        if r ["scenario"] not in labels:
            order.append (r ["scenario"])
            labels [r ["scenario"]] = r ["label"]
print ("| path | plaintext | CURVE | change | p50 plaintext / CURVE | p99 plaintext / CURVE | errors |")
print ("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
for s in order:
    field = "events_s" if median ("off", s, "events_s") else "req_s"
    unit = "events/s" if field == "events_s" else "req/s"
    off, on = median ("off", s, field), median ("on", s, field)
    change = f"{(on / off - 1) * 100:+.1f} %" if off and on else "-"
    errors = sum (r ["errors"] for m in runs for run in runs [m] for r in run if r ["scenario"] == s)
    fmt = lambda v: f"{v:,.0f} {unit}" if v is not None else "-"
    ms = lambda m, f: f"{median (m, s, f):.2f}" if median (m, s, f) is not None else "-"
    print (f"| {labels [s]} | {fmt (off)} | {fmt (on)} | {change} | {ms ('off', 'p50_ms')} / {ms ('on', 'p50_ms')} ms "
           f"| {ms ('off', 'p99_ms')} / {ms ('on', 'p99_ms')} ms | {errors} |")
PY
} > "$ROOT/bench/results/curve.md"
cat "$ROOT/bench/results/curve.md"
