#!/usr/bin/env bash
# deploy/local/run.sh — what `make run` runs: the whole suite on one machine.
#
# Starts (and provisions) the project-local PostgreSQL cluster in
# $SWITCHBOARD_DATA_DIR/pg, then the gateway and one worker of each service
# from $SB_BIN, waits until the gateway answers /readyz, prints the URL and
# stays in the foreground. The bus is CURVE-secured as in production: the
# first run makes one key pair per program under $SWITCHBOARD_DATA_DIR/curve
# (`switchboardctl keys init`, which keeps pairs that exist). Ctrl-C or SIGTERM stops the services (SIGTERM, then
# SIGKILL after 10 s) and the cluster.
#
# Environment (all optional except SB_BIN, which the Makefile sets):
#   SB_BIN                  directory with gateway, auth-svc, tenant-svc,
#                           billing-svc, usage-svc, switchboardctl
#   SWITCHBOARD_DATA_DIR    cluster, logs, mail; default var/ in the repository
#   SB_PG_PORT              port of the local cluster; default 5433, so that a
#                           system PostgreSQL on 5432 does not get in the way
#   SWITCHBOARD_HTTP_PORT   gateway port; default 8080
#   SWITCHBOARD_PUBLIC_URL  default http://localhost:<http port>
#   SWITCHBOARD_<SVC>_DATABASE_URL   used as given; the local cluster fills
#                           in only those that are unset, and is not started
#                           at all when all four are set
#   SWITCHBOARD_DATABASE_URL         an existing server: no local cluster;
#                           `pg.sh provision-url` creates one role and schema
#                           per service there (its user needs CREATEROLE) and
#                           the services use those; SB_PG_PROVISION=0 skips
#                           that and the services all use this URL as given
#
# Logs: $SWITCHBOARD_DATA_DIR/log/<binary>.log (the previous run's in .log.1).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PG=$ROOT/deploy/local/pg.sh
BINARIES=(gateway auth-svc tenant-svc billing-svc usage-svc)
STOP_GRACE_S=10
READY_TIMEOUT_S=60

die () { echo "run.sh: $*" >&2; exit 1; }

names=()        # binaries started, parallel to pids
pids=()
pg_started=0
pg_dir=

# Stop every started process (SIGTERM, then SIGKILL after the grace period),
# then the cluster if we started it. Runs once, from the EXIT trap.
cleanup () {
    local i alive deadline
    trap - EXIT INT TERM
    if (( ${#pids[@]} )); then
        echo "run.sh: stopping services" >&2
        kill -TERM "${pids[@]}" 2>/dev/null || true
        deadline=$((SECONDS + STOP_GRACE_S))
        while :; do
            alive=()
            for i in "${!pids[@]}"; do
                if kill -0 "${pids[$i]}" 2>/dev/null; then alive+=("${pids[$i]}"); fi
            done
            (( ${#alive[@]} )) || break
            if (( SECONDS >= deadline )); then
                echo "run.sh: still running after ${STOP_GRACE_S}s, killing: ${alive[*]}" >&2
                kill -KILL "${alive[@]}" 2>/dev/null || true
                break
            fi
            sleep 0.2
        done
        wait 2>/dev/null || true
    fi
    if (( pg_started )); then
        echo "run.sh: stopping PostgreSQL" >&2
        "$PG" stop "$pg_dir" || true
    fi
}

# Print the last lines of a log file, indented, for a failure report.
show_tail () {
    echo "---- last lines of $1" >&2
    tail -n "${2:-25}" "$1" 2>/dev/null | sed 's/^/    /' >&2 || true
}

# Export the KEY=VALUE lines of an env file written by pg.sh, except the keys
# already set in the environment (the operator's overrides win).
load_env_file () {
    local key value
    while IFS='=' read -r key value; do
        if [[ -n $key && -z ${!key:-} ]]; then export "$key=$value"; fi
    done < "$1"
}

# Make sure each service has a database URL: local cluster, or existing server.
setup_database () {
    local v need=0
    for v in SWITCHBOARD_{AUTH,TENANT,BILLING,USAGE}_DATABASE_URL; do
        [[ -n ${!v:-} ]] || need=1
    done
    (( need )) || return 0
    pg_dir=$SWITCHBOARD_DATA_DIR/pg
    if [[ -n ${SWITCHBOARD_DATABASE_URL:-} ]]; then
        [[ ${SB_PG_PROVISION:-1} == 1 ]] || return 0
        echo "run.sh: provisioning service roles on SWITCHBOARD_DATABASE_URL" >&2
        "$PG" provision-url "$pg_dir" >/dev/null
    else
        local port=${SB_PG_PORT:-5433}
        echo "run.sh: PostgreSQL in $pg_dir on 127.0.0.1:$port" >&2
        "$PG" start "$pg_dir" "$port"
        pg_started=1
        "$PG" provision "$pg_dir" "$port" >/dev/null
    fi
    load_env_file "$pg_dir/env"
}

# Start one binary in the background, its stdout and stderr in its log.
start_binary () {
    local name=$1 log=$SWITCHBOARD_DATA_DIR/log/$1.log
    if [[ -f $log ]]; then mv -f "$log" "$log.1"; fi
    "$SB_BIN/$name" </dev/null >"$log" 2>&1 &
    names+=("$name")
    pids+=("$!")
    echo "run.sh: started $name (pid $!), log $log" >&2
}

# The index of a started process that has exited, or nothing.
first_dead () {
    local i
    for i in "${!pids[@]}"; do
        kill -0 "${pids[$i]}" 2>/dev/null || { echo "$i"; return 0; }
    done
}

# Poll /readyz until 200; give up early if a process exits.
wait_ready () {
    local url=$1 deadline=$((SECONDS + READY_TIMEOUT_S)) i name
    until curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; do
        i=$(first_dead)
        if [[ -n $i ]]; then
            name=${names[$i]}
            show_tail "$SWITCHBOARD_DATA_DIR/log/$name.log"
            die "$name exited during start-up (log above)"
        fi
        if (( SECONDS >= deadline )); then
            for name in "${names[@]}"; do show_tail "$SWITCHBOARD_DATA_DIR/log/$name.log"; done
            die "$url did not answer 200 within ${READY_TIMEOUT_S}s (logs above)"
        fi
        sleep 0.25
    done
}

main () {
    local name
    [[ -n ${SB_BIN:-} ]] || die "SB_BIN is not set (the directory holding gateway, auth-svc, ...); use 'make run'"
    for name in "${BINARIES[@]}"; do
        [[ -x $SB_BIN/$name ]] || die "missing binary $SB_BIN/$name; build it with 'make MODE=release'"
    done
    command -v curl >/dev/null || die "curl is missing; run deploy/local/deps.sh"

    local data=${SWITCHBOARD_DATA_DIR:-var}
    [[ $data == /* ]] || data=$ROOT/$data
    export SWITCHBOARD_DATA_DIR=$data
    export SWITCHBOARD_HTTP_PORT=${SWITCHBOARD_HTTP_PORT:-8080}
    export SWITCHBOARD_PUBLIC_URL=${SWITCHBOARD_PUBLIC_URL:-http://localhost:$SWITCHBOARD_HTTP_PORT}
    mkdir -p "$data/log" "$data/mail"

    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    setup_database
    "$SB_BIN/switchboardctl" keys init >/dev/null || die "cannot make the bus's keys in $data/curve"
    for name in "${BINARIES[@]}"; do start_binary "$name"; done
    wait_ready "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/readyz"

    echo
    echo "Switchboard is running: $SWITCHBOARD_PUBLIC_URL"
    echo "  logs  $data/log/   mail  $data/mail/"
    if (( pg_started )); then
        echo "  psql  psql '$("$PG" url "$pg_dir" "${SB_PG_PORT:-5433}")'"
    fi
    echo "Press Ctrl-C to stop."

    # Stay in the foreground; report any process that exits on its own. The
    # INT/TERM traps interrupt `wait` and lead to cleanup.
    local -A reported=()
    local i alive
    while :; do
        wait -n 2>/dev/null || true
        alive=0
        for i in "${!pids[@]}"; do
            if kill -0 "${pids[$i]}" 2>/dev/null; then
                alive=1
            elif [[ -z ${reported[$i]:-} ]]; then
                reported[$i]=1
                echo "run.sh: ${names[$i]} exited; see $data/log/${names[$i]}.log" >&2
            fi
        done
        (( alive )) || die "every process has exited"
    done
}

main "$@"
