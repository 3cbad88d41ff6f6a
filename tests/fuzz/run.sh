#!/usr/bin/env bash
# tests/fuzz/run.sh MODE SECONDS JOBS [NAME[,NAME...]] — run the libFuzzer
# harnesses of build/fuzz/bin (make MODE=fuzz fuzzers builds them), all of
# them or those named.
#
#   smoke  what `make test` runs: each harness first over every committed
#          input (tests/fuzz/corpus/NAME and tests/fuzz/regressions/NAME,
#          each run once: a regression must stay fixed), then fuzzing for
#          SECONDS from that corpus, new inputs kept in a scratch folder so
#          the committed corpus never changes. Any crash, leak, sanitizer
#          report or failed property fails the run.
#   long   `make fuzz`: each harness for SECONDS (or until FUZZ_RUNS
#          executions when that is set and comes first), JOBS at a time,
#          from a working corpus build/fuzz/corpus/NAME (seeded from the
#          committed one, kept between runs so coverage accumulates). Prints
#          and writes tests/fuzz/results/latest.md: executions, executions
#          per second, coverage (edges), corpus size, peak RSS, crashes.
#
# A crash leaves its input as build/fuzz/artifacts/NAME/crash-<sha1> (or
# leak-, timeout-, oom-): reproduce with `build/fuzz/bin/fuzz-NAME FILE`;
# once fixed, the input goes to tests/fuzz/regressions/NAME/.
set -uo pipefail

mode=${1:?usage: run.sh smoke|long SECONDS JOBS [NAME]}
seconds=${2:-3}
jobs=${3:-1}
only=${4:-}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=$root/build/fuzz/bin
work=$root/build/fuzz
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

runs=${FUZZ_RUNS:-0}
[[ $runs =~ ^[0-9]+$ ]] || { echo "run.sh: FUZZ_RUNS must be a number" >&2; exit 2; }
names=()
for f in "$here"/*.c; do
    n=$(basename "$f" .c)
    [[ -z $only || ,$only, == *,$n,* ]] && names+=("$n")
done
[[ ${#names[@]} -gt 0 ]] || { echo "run.sh: no harness${only:+ named $only}" >&2; exit 2; }

# One harness: NAME → its log in $work/logs/NAME.log, 0 when clean.
run_one () {
    local n=$1 exe=$bin/fuzz-$1 log=$work/logs/$1.log
    local seeds=$here/corpus/$n regress=$here/regressions/$n
    mkdir -p "$work/artifacts/$n" "$work/logs" "$seeds"
    : >"$log"
    if [[ ! -x $exe ]]; then echo "no $exe: make MODE=fuzz fuzzers" >"$log"; return 1; fi
    local common=(-artifact_prefix="$work/artifacts/$n/" -print_final_stats=1 -timeout=10
                  -rss_limit_mb=2048 -max_len=65536)
    if [[ $mode == smoke ]]; then
        # Every committed input once (libFuzzer runs files given by name).
        local files=()
        while IFS= read -r -d '' f; do files+=("$f"); done \
            < <(find "$seeds" "$regress" -type f -print0 2>/dev/null)
        if [[ ${#files[@]} -gt 0 ]]; then
            "$exe" "${common[@]}" "${files[@]}" >>"$log" 2>&1 || return 1
        fi
        local scratch=$work/scratch/$n
        rm -rf "$scratch" && mkdir -p "$scratch"
        "$exe" "${common[@]}" -max_total_time="$seconds" "$scratch" "$seeds" >>"$log" 2>&1
    else
        local corpus=$work/corpus/$n
        mkdir -p "$corpus"
        cp -n "$seeds"/* "$corpus"/ 2>/dev/null
        [[ -d $regress ]] && cp -n "$regress"/* "$corpus"/ 2>/dev/null
        "$exe" "${common[@]}" -max_total_time="$seconds" ${runs:+$( ((runs)) && echo -runs="$runs")} \
               "$corpus" >>"$log" 2>&1
    fi
}

# The figures of one log: executions, exec/s, coverage, corpus, RSS.
stats () {
    local log=$1
    local execs rate cov corp rss
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$log" | tail -1 | cut -d' ' -f2)
    printf '%s\t%s\t%s\t%s\t%s' "${execs:-0}" "${rate:-0}" "${cov:-?}" "${corp:-?}" "${rss:-?}"
}

status=0
declare -A rc=()
pids=()
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for n in "${names[@]}"; do
    ( run_one "$n"; echo $? >"$work/logs/$n.rc" ) &
    pids+=($!)
    while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do wait -n; done
done
wait

table=$(printf '| harness | executions | exec/s | coverage (edges) | corpus | peak RSS MiB | crashes |\n')
table+=$'\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |'
for n in "${names[@]}"; do
    r=$(cat "$work/logs/$n.rc" 2>/dev/null || echo 1)
    crashes=$(ls "$work/artifacts/$n" 2>/dev/null | wc -l)
    IFS=$'\t' read -r execs rate cov corp rss < <(stats "$work/logs/$n.log")
    verdict=$([[ $r == 0 ]] && echo ok || echo FAILED)
    printf '%-22s %-6s %12s execs %8s/s  cov %6s  corpus %-10s rss %5s MiB\n' \
        "$n" "$verdict" "$execs" "$rate" "$cov" "$corp" "$rss"
    table+=$'\n'"| $n | $execs | $rate | $cov | $corp | $rss | $([[ $r == 0 ]] && echo 0 || echo "**$crashes (see build/fuzz/artifacts/$n)**") |"
    if [[ $r != 0 ]]; then
        status=1
        echo "---- $n failed: the end of $work/logs/$n.log ----"
        tail -40 "$work/logs/$n.log"
    fi
done

if [[ $mode == long ]]; then
    mkdir -p "$here/results"
    {
        echo "# make fuzz FUZZ_SECONDS=$seconds FUZZ_JOBS=$jobs${only:+ F=$only}$( ((runs)) && echo " FUZZ_RUNS=$runs")"
        echo
        echo "Started $started on $(nproc) cores, commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?');" \
             "clang $(clang --version | sed -n 's/.*clang version \([0-9.]*\).*/\1/p' | head -1), ASan + UBSan, leaks detected."
        echo
        echo "$table"
    } >"$here/results/latest${only:+-${only//,/-}}.md"
    echo "written: tests/fuzz/results/latest${only:+-${only//,/-}}.md"
fi
exit $status
