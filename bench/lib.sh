# bench/lib.sh — what bench/bench.sh and bench/compare.sh share (sourced
# after tests/lib/suite.sh).
# shellcheck shell=bash
#
#   bench_pkgs PKG...        install the Debian packages among PKG that are
#                            missing (apt-get as root, sudo apt-get otherwise)
#   bench_suite_up           start Switchboard for a benchmark in a suite of
#                            its own (tests/lib/suite.sh): PostgreSQL with the
#                            settings below and durable commits, the gateway,
#                            the workers of BENCH_WORKERS; sets BENCH_URL
#   bench_alive              bail out unless every process still runs
#   bench_mem_sample PHASE FILE   append one RSS/PSS sample of every process
#   bench_mem_watch PHASE FILE    the same every second, in the background,
#                            until bench_mem_stop
#   bench_env_info           machine, versions and settings (Markdown lines)
#   bench_keep_logs DIR      copy the logs into DIR/logs
#
# Environment:
#   BENCH_WORKERS   workers per service, default "auth=2 tenant=1 usage=2
#                   billing=1" (a service left out gets 1)
#   BENCH_TMPDIR    where the suite's temporary directory goes (default
#                   ${TMPDIR:-/tmp}/sb-bench-suites)
#   BENCH_PG_CONF   postgresql.conf lines for the benchmark's cluster
#                   (default: the peers' cluster of ../shared/bench/bench.sh)
#   BENCH_BEFORE_START  a function run after suite_init, before PostgreSQL
#                   and the processes start (bench/soak.sh starts its fakes)
#   SWITCHBOARD_*   passed on to the gateway and workers (for instance
#                   SWITCHBOARD_HTTP_THREADS), except the ports, addresses,
#                   directories and database URLs, which the suite picks
#
# Settings Switchboard runs with (before the above): plan catalogue
# bench/plans-bench.json (the free plan without limits), log level warn, no
# per-address limit on signup and login, access tokens valid 900 s (the
# maximum, so none expires during a run), default heartbeats.

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_WORKERS=${BENCH_WORKERS:-auth=2 tenant=1 usage=2 billing=1}
BENCH_PG_CONF=${BENCH_PG_CONF:-"max_connections = 300
shared_buffers = 2GB
effective_cache_size = 12GB
work_mem = 8MB
maintenance_work_mem = 512MB
max_wal_size = 8GB
checkpoint_timeout = 30min
wal_compression = on
random_page_cost = 1.1
jit = off
synchronous_commit = on"}
BENCH_URL=
_BENCH_PROCS=
_BENCH_SAMPLER=
_BENCH_LOADAVG=

bench_log () {
    printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

bench_pkgs () {
    local p name status missing=() sudo=()
    local -A have=()
    while IFS=$'\t' read -r name status; do
        [[ $status == installed ]] && have[$name]=1
    done < <(dpkg-query -W -f='${Package}\t${db:Status-Status}\n' "$@" 2>/dev/null)
    for p in "$@"; do [[ -n ${have[$p]:-} ]] || missing+=("$p"); done
    (( ${#missing[@]} )) || return 0
    if (( EUID != 0 )); then
        if ! command -v sudo >/dev/null; then
            bench_log "missing Debian packages: ${missing[*]}; install them as root with:"
            echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
            return 1
        fi
        sudo=(sudo)
    fi
    bench_log "installing ${missing[*]}"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q update >&2 \
        && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
               apt-get -q install -y --no-install-recommends "${missing[@]}" >&2
}

# Workers per service from BENCH_WORKERS into the array named $1.
_bench_workers () {
    local -n _n=$1
    local item name count
    _n=([auth]=1 [tenant]=1 [usage]=1 [billing]=1)
    for item in $BENCH_WORKERS; do
        name=${item%%=*} count=${item#*=}
        if [[ -z ${_n[$name]:-} || ! $count =~ ^[1-9][0-9]?$ ]]; then
            bench_log "BENCH_WORKERS: bad item '$item' (want auth|tenant|usage|billing=1..99)"
            return 1
        fi
        _n["$name"]=$count
    done
}

bench_suite_up () {
    local v s i
    local -A keep=() workers=()
    _bench_workers workers || exit 2
    _BENCH_LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
    for v in $(compgen -v SWITCHBOARD_); do keep[$v]=${!v}; done
    _bench_tmpdir
    suite_init
    export SB_PG_FAST=0 SB_PG_EXTRA_CONF=$BENCH_PG_CONF
    export SWITCHBOARD_PLANS_FILE=$BENCH_ROOT/bench/plans-bench.json
    export SWITCHBOARD_LOG_LEVEL=warn SWITCHBOARD_AUTH_RATE_PER_MINUTE=0
    export SWITCHBOARD_ACCESS_TOKEN_TTL=900
    unset SWITCHBOARD_HEARTBEAT_MS
    for v in "${!keep[@]}"; do
        case $v in
            SWITCHBOARD_HTTP_PORT|SWITCHBOARD_HTTP_BIND|SWITCHBOARD_PUBLIC_URL|SWITCHBOARD_BROKER) ;;
            SWITCHBOARD_EVENTS_*|SWITCHBOARD_DATA_DIR|SWITCHBOARD_KEYS_DIR|*DATABASE_URL) ;;
            *) export "$v=${keep[$v]}" ;;
        esac
    done
    # A caller's own set-up between suite_init and the first process (the
    # soak starts its fakes there, so the services read their addresses).
    if [[ -n ${BENCH_BEFORE_START:-} ]]; then "$BENCH_BEFORE_START" || t_bail "$BENCH_BEFORE_START failed"; fi
    bench_log "PostgreSQL (durable commits) in $SUITE_TMP/pg on port $SB_PG_PORT"
    suite_pg_start || t_bail "cannot start PostgreSQL"
    suite_start_gateway 1 || t_bail "cannot start the gateway"
    for s in auth tenant usage billing; do
        for ((i = 1; i <= workers[$s]; i++)); do
            suite_start_service "$s" "$i" || t_bail "cannot start $s-$i"
        done
    done
    suite_wait_ready 60 || t_bail "the suite did not become ready"
    # /readyz wants one worker a service; let the others finish starting.
    sleep "${BENCH_SETTLE:-3}"
    _BENCH_PROCS=$(
        for v in "$SUITE_TMP"/pids/*; do
            case ${v##*/} in
                gateway-*|auth-*|tenant-*|usage-*|billing-*) printf '%s %s\n' "${v##*/}" "$(<"$v")" ;;
            esac
        done)
    bench_alive
    BENCH_URL=http://127.0.0.1:$SWITCHBOARD_HTTP_PORT
    bench_log "Switchboard at $BENCH_URL: gateway-1 and $BENCH_WORKERS"
}

# Bail out unless the gateway and every worker still run. After a Ctrl-C
# they have stopped while wrk (or the driver), which handles SIGINT itself,
# ended normally, and bash does not run our INT trap then: this is how the
# scripts notice (and how they notice a crash).
bench_alive () {
    local key pid
    [[ -d $SUITE_TMP/pids && -d $SUITE_TMP/pg ]] \
        || t_bail "the suite's directory $SUITE_TMP (cluster, logs) has been removed by something else"
    while read -r key pid; do
        kill -0 "$pid" 2>/dev/null \
            || t_bail "$key is not running (interrupted, or it died): $(tail -n 5 "$SUITE_TMP/log/$key.log")"
    done < <(_bench_procs)
}

# "KEY PID" of the gateway and every worker, as started.
_bench_procs () {
    printf '%s\n' "$_BENCH_PROCS"
}

# The suite's directory goes under a TMPDIR of the benchmarks' own, out of
# the way of anything that cleans up the tests' ${TMPDIR:-/tmp}/sb-test.*;
# the tests' port locks stay shared (suite_free_port), through a link.
_bench_tmpdir () {
    local base=${TMPDIR:-/tmp} dir=${BENCH_TMPDIR:-${TMPDIR:-/tmp}/sb-bench-suites}
    mkdir -p "$dir" "$base/sb-test-ports" || return 1
    chmod 1777 "$base/sb-test-ports" 2>/dev/null
    [[ -e $dir/sb-test-ports ]] || ln -s "$base/sb-test-ports" "$dir/sb-test-ports"
    export TMPDIR=$dir
}

bench_mem_sample () {
    local phase=$1 file=$2 key pid
    while read -r key pid; do
        awk -v ph="$phase" -v key="$key" -v pid="$pid" '
            /^Rss:/ { rss = $2 } /^Pss:/ { pss = $2 }
            END { if (rss != "") printf "%s\t%s\t%s\t%s\t%s\n", ph, key, pid, rss, pss }' \
            "/proc/$pid/smaps_rollup" 2>/dev/null
    done < <(_bench_procs) >> "$file"
}

bench_mem_watch () {
    local phase=$1 file=$2 main=$$
    (
        while kill -0 "$main" 2>/dev/null; do
            bench_mem_sample "$phase" "$file"
            sleep 1
        done
    ) &
    _BENCH_SAMPLER=$!
    # The suite's cleanup stops what is listed there, even after a Ctrl-C.
    echo "$_BENCH_SAMPLER" > "$SUITE_TMP/pids/bench-sampler"
}

bench_mem_stop () {
    [[ -n $_BENCH_SAMPLER ]] || return 0
    kill "$_BENCH_SAMPLER" 2>/dev/null
    wait "$_BENCH_SAMPLER" 2>/dev/null
    rm -f "$SUITE_TMP/pids/bench-sampler"
    _BENCH_SAMPLER=
}

bench_env_info () {
    local commit dirty=""
    commit=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    if ! git -C "$BENCH_ROOT" diff --quiet HEAD -- '*.c' '*.h' '*.sql' 2>/dev/null; then
        dirty=" (with uncommitted changes to the C/SQL sources)"
    fi
    echo "- commit $commit$dirty, binaries ${SB_BIN#"$BENCH_ROOT"/}"
    echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(free -g | awk '/^Mem:/ { print $2 }') GiB, kernel $(uname -r); load average before the start ${_BENCH_LOADAVG:-?} (anything else running skews the figures)"
    echo "- load: ${BENCH_LOAD_DESC:-$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2), ${THREADS:-2} threads, ${CONNECTIONS:-64} connections, ${WARMUP:-3} s warm-up then ${DURATION:-10} s measured}, on the same CPUs as the server and the database"
    echo "- Switchboard: gateway-1 (HTTP threads ${SWITCHBOARD_HTTP_THREADS:-0 = half the cores, at least 2}), workers $BENCH_WORKERS; plan catalogue ${BENCH_CATALOGUE_DESC:-${SWITCHBOARD_PLANS_FILE#"$BENCH_ROOT"/}}"
    echo "- $("${SB_PG_BINDIR:-/usr/lib/postgresql/15/bin}/postgres" --version 2>/dev/null | sed 's/ (.*//'): $(suite_psql -c "
        SELECT string_agg(name || ' ' || current_setting(name), ', ' ORDER BY ord)
          FROM unnest('{fsync,synchronous_commit,full_page_writes,shared_buffers,max_connections,
                        effective_cache_size,work_mem,max_wal_size,checkpoint_timeout,
                        wal_compression,random_page_cost,jit}'::text[]) WITH ORDINALITY AS s(name, ord)")"
}

# Copy the processes' logs and PostgreSQL's into $1/logs (the suite's
# directory goes at exit).
bench_keep_logs () {
    mkdir -p "$1/logs" || return 1
    cp "$SUITE_TMP"/log/*.log "$1/logs/" 2>/dev/null
    cp "$SUITE_TMP/pg/pg.log" "$1/logs/postgresql.log" 2>/dev/null
    return 0
}
