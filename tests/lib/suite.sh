# tests/lib/suite.sh — the harness of the integration tests (sourced).
#
# A test script tests/tNNNN-area-detail.sh looks like:
#
#   #!/usr/bin/env bash
#   . "$(dirname "$0")/lib/suite.sh"
#   suite_init                      # temp dir, free ports, cleanup trap
#   suite_up                        # PostgreSQL, gateway, one worker each;
#                                   # bails unless /readyz says 200 in 60 s
#   http GET /healthz
#   t_is "healthz answers 200" "$HTTP_STATUS" 200
#   t_is "says ok" "$(json_get "$HTTP_BODY" .status)" ok
#   t_done
#
# It prints TAP for prove (run in parallel with `prove -j2`: every script has
# its own directory, ports, cluster and processes; nothing is shared). Do not
# `set -e` in test scripts (a failed check must not stop the script) and do
# not replace the EXIT trap. SB_BIN (the directory with the binaries) must be
# set; the Makefile does. SB_KEEP=1 keeps the temp directory for inspection.
# With SB_FAILLOG=FILE every failed assertion is also appended to FILE with
# its diagnostics (`make integration` prints that file after prove's summary,
# where a CI log's tail shows it).
#
# auth.sh, tenant.sh and usage.sh each source the library below them (each
# file once): a script sources only the most specific one it uses.
#
# TAP:      t_ok DESC CMD [ARG...]   pass if CMD exits 0 (its output is shown
#                                    on failure); CMD runs in this shell
#           t_is DESC GOT EXPECTED   t_isnt DESC GOT UNEXPECTED
#           t_like DESC GOT REGEX    t_unlike DESC GOT REGEX   (bash =~)
#           t_pass DESC   t_fail DESC [DIAG...]   t_skip_one DESC REASON
#           t_diag MSG... (stderr)   t_note MSG... (stdout)
#           t_skip REASON            skip the whole file (before any test)
#           t_bail REASON            abort the whole prove run ("Bail out!")
#           t_done                   print the plan; status 1 if any failed
#
# Suite:    suite_init               see the variables below
#           suite_free_port VAR      pick another free port into VAR
#           suite_pg_start           cluster in $SUITE_TMP/pg + service roles;
#                                    exports SWITCHBOARD_<SVC>_DATABASE_URL and
#                                    SUITE_PG_URL (superuser, unix socket)
#           suite_pg_stop            stop the cluster (suite_pg_start restarts)
#           suite_psql [ARG...]      psql -XAtq as superuser on database switchboard
#           suite_start_gateway [TAG]        -> process "gateway-TAG" (TAG 1)
#           suite_start_service NAME [TAG]   NAME auth|tenant|billing|usage
#                                    -> process "NAME-TAG"; log in
#                                    $SUITE_TMP/log/NAME-TAG.log; the pid is in
#                                    $SUITE_PID, SUITE_PIDS[NAME-TAG] and
#                                    $SUITE_TMP/pids/NAME-TAG. Environment
#                                    for one process: VAR=x suite_start_...
#           suite_start_all          suite_pg_start if needed, gateway-1 and
#                                    auth-1 tenant-1 billing-1 usage-1
#           suite_up [SECS]          suite_start_all, then suite_wait_ready SECS
#                                    (60); bails naming the step that failed
#                                    (the usual opening of a script: set the
#                                    environment first, start more after)
#           suite_stop KEY [SECS]    SIGTERM, wait (SIGKILL after SECS, 10);
#                                    returns the process's exit status
#           suite_wait_exit KEY [SECS]  wait for KEY, already told to stop,
#                                    to exit (its status); sends nothing
#           suite_kill KEY           SIGKILL and reap
#           suite_signal_workers NAME SIG   kill -SIG every worker of service NAME
#           suite_pid KEY            print the pid;  suite_running KEY: alive?
#           suite_wait_ready [SECS]  /readyz answers 200 (default 30 s)
#           suite_wait_status PATH CODE SECS [CURL-ARG...]
#                                    poll until PATH answers CODE
#           suite_at_exit CMD        run CMD (a command, no arguments) at exit,
#                                    once the processes are stopped and the
#                                    cluster is gone, before the temp dir goes
#                                    (tests/lib/netns.sh removes its namespaces)
#
# HTTP:     http METHOD PATH [BODY] [CURL-ARG...]
#               PATH is relative to the gateway (or a full http:// URL); a
#               non-empty BODY is sent as application/json ("" for none, to
#               pass curl arguments without a body). Sets HTTP_STATUS (000 if
#               no response), HTTP_BODY, HTTP_HEADERS (text, no CRs) and
#               HTTP_ERROR (curl's message); returns curl's exit status.
#           http_op METHOD PATH [BODY] [CURL-ARG...]   http with the operator's
#                                    token (the /v1/sys routes); suite_init
#                                    sets SWITCHBOARD_OPERATOR_TOKEN and
#                                    SUITE_OPERATOR_TOKEN
#           http_header NAME         value of a response header of the last call
#           json_get JSON PATH       PATH like .error.code, .items[0].id, .
#                                    strings raw, other values as JSON;
#                                    status 1 if absent
#           json_len JSON PATH       length of the array/object/string at PATH
#
# Mail:     suite_smtp_start         SMTP sink (tests/fakes/smtp_sink.py) as
#                                    process "smtp-sink"; exports
#                                    SWITCHBOARD_SMTP_URL and SUITE_MAIL_DIR.
#                                    Call it before starting the services
#                                    (they read the URL at start); after a
#                                    suite_stop smtp-sink it restarts on the
#                                    same port and keeps the mail received
#           mail_wait TO [SECS]      wait (10 s) for a message to TO (any case)
#                                    not returned by an earlier mail_wait;
#                                    prints its path; status 1 on timeout
#           mail_count TO            messages to TO received so far
#           mail_wait_subject TO REGEX [SECS]  mail_wait for a Subject like REGEX
#           mail_count_subject TO REGEX        how many came with such a Subject
#           mail_header PATH NAME    a header, RFC 2047 words decoded
#           mail_body PATH           the text, transfer encoding undone, LF
#           mail_link PATH PREFIX    the first URL in the text starting with
#                                    PREFIX; status 1 if none
#
# suite_init exports: SWITCHBOARD_HTTP_PORT, SWITCHBOARD_BROKER,
# SWITCHBOARD_EVENTS_PUB, SWITCHBOARD_EVENTS_SUB (tcp://127.0.0.1:<free port>),
# SWITCHBOARD_DATA_DIR ($SUITE_TMP/data, with mail/), SWITCHBOARD_PUBLIC_URL
# (http://127.0.0.1:<http port>), SWITCHBOARD_HEARTBEAT_MS=250,
# SWITCHBOARD_LOG_LEVEL=debug, SB_PG_FAST=1, SB_PG_PORT, SUITE_TMP; every
# other SWITCHBOARD_* variable inherited from the caller is unset first.
# The bus keys are made under $SWITCHBOARD_DATA_DIR/curve (switchboardctl keys
# init): every test runs with CURVE on.
# It relaxes what would cut off tests about something else: generous plan
# limits (SWITCHBOARD_PLANS_FILE), no per-address limit on refused
# credentials (SWITCHBOARD_AUTH_FAILURES_PER_MINUTE=0) nor on signup, login
# and reset (SWITCHBOARD_AUTH_RATE_PER_MINUTE=0); a test of one of these
# limits exports its own value after suite_init (or sets it for one process).
#
# At exit the trap stops every process started (SIGTERM, SIGKILL after
# 10 s), destroys the cluster, and removes $SUITE_TMP (unless SB_KEEP=1). If a
# test failed or the script failed, the last 30 lines of each log go to
# stderr as "# " lines. A sanitizer report (ASan, LSan, UBSan) in any log
# fails the script (SB_IGNORE_SANITIZER=1 to only report it).

# Variables set here are read by the test scripts.
# shellcheck disable=SC2034

# Loaded once (auth.sh, tenant.sh and usage.sh source it too): a second
# source would reset the TAP counts.
[[ -n ${_SUITE_SH:-} ]] && return 0
_SUITE_SH=1

SUITE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SUITE_PGSH=$SUITE_ROOT/deploy/local/pg.sh
SUITE_TMP=
SUITE_PID=
SUITE_PG_STARTED=0
SUITE_PG_URL=
SUITE_MAIL_DIR=
_SUITE_SMTP_PORT=
declare -gA SUITE_PIDS=()
_SUITE_AT_EXIT=()
_SUITE_PORT_FDS=()
declare -gA _SUITE_PORTS_TAKEN=()

T_N=0
T_FAILED=0
T_DONE=0

if [[ -x /usr/bin/python3 ]]; then
    SUITE_PYTHON=/usr/bin/python3
else
    SUITE_PYTHON=$(command -v python3 || echo python3)
fi

# ---- TAP ------------------------------------------------------------------

# Diagnostics: each line of each argument as a "# " line on stderr.
t_diag () {
    local line
    printf '%s\n' "$@" | while IFS= read -r line; do printf '# %s\n' "$line"; done >&2
}

# Notes: the same on stdout (shown by prove -v only).
t_note () {
    local line
    printf '%s\n' "$@" | while IFS= read -r line; do printf '# %s\n' "$line"; done
}

# "file line N" of the test script's call into this library.
_t_where () {
    local i
    for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
        if [[ ${BASH_SOURCE[i]} != "${BASH_SOURCE[0]}" ]]; then
            printf '%s line %s\n' "${BASH_SOURCE[i]}" "${BASH_LINENO[i-1]}"
            return 0
        fi
    done
    echo "?"
}

t_pass () {
    T_N=$((T_N + 1))
    printf 'ok %d - %s\n' "$T_N" "$1"
    return 0
}

# Fail test DESC; further arguments are diagnostics.
t_fail () {
    T_N=$((T_N + 1))
    T_FAILED=$((T_FAILED + 1))
    printf 'not ok %d - %s\n' "$T_N" "$1"
    t_diag "  Failed test '$1'" "  at $(_t_where)"
    if [[ -n ${SB_FAILLOG:-} ]]; then
        { printf '%s: not ok %d - %s\n' "${0##*/}" "$T_N" "$1"
          (( $# < 2 )) || printf '    %s\n' "${@:2}"; } >>"$SB_FAILLOG"
    fi
    shift
    (( $# == 0 )) || t_diag "$@"
    return 1
}

# Pass if the command succeeds. It runs in this shell (so `t_ok ... http ...`
# keeps HTTP_STATUS); its output is kept and shown only on failure.
t_ok () {
    local desc=$1 out rc
    shift
    out=$(mktemp "${SUITE_TMP:-${TMPDIR:-/tmp}}/t_ok.XXXXXX") || { t_fail "$desc" "mktemp failed"; return 1; }
    "$@" >"$out" 2>&1
    rc=$?
    if (( rc == 0 )); then
        t_pass "$desc"
    else
        if [[ -s $out ]]; then
            t_fail "$desc" "  command: $*" "  exit status: $rc" "$(tail -n 20 "$out")"
        else
            t_fail "$desc" "  command: $*" "  exit status: $rc"
        fi
    fi
    rm -f "$out"
    return $(( rc != 0 ))
}

t_is () {
    if [[ $2 == "$3" ]]; then t_pass "$1"
    else t_fail "$1" "         got: '$2'" "    expected: '$3'"
    fi
}

t_isnt () {
    if [[ $2 != "$3" ]]; then t_pass "$1"
    else t_fail "$1" "         got: '$2'" "    expected: anything else"
    fi
}

t_like () {
    if [[ $2 =~ $3 ]]; then t_pass "$1"
    else t_fail "$1" "                  '$2'" "    doesn't match '$3'"
    fi
}

t_unlike () {
    if ! [[ $2 =~ $3 ]]; then t_pass "$1"
    else t_fail "$1" "                  '$2'" "    matches '$3'"
    fi
}

# Record one test as skipped.
t_skip_one () {
    T_N=$((T_N + 1))
    printf 'ok %d - %s # SKIP %s\n' "$T_N" "$1" "${2:-}"
}

# Skip the whole file; only valid before the first test.
t_skip () {
    printf '1..0 # SKIP %s\n' "$1"
    T_DONE=1
    exit 0
}

# Stop the whole test run: something every test depends on is broken.
t_bail () {
    printf 'Bail out! %s\n' "$1"
    T_FAILED=$((T_FAILED + 1))
    exit 255
}

# The plan, at the end; status 1 if any test failed.
t_done () {
    _suite_check_responses
    printf '1..%d\n' "$T_N"
    T_DONE=1
    if (( T_FAILED )); then
        t_diag "Looks like you failed $T_FAILED test(s) of $T_N."
        return 1
    fi
    return 0
}

# ---- the suite --------------------------------------------------------------

# Close the port lock descriptors, in a subshell about to exec something that
# should not hold them.
_suite_close_fds () {
    local fd
    for fd in "${_SUITE_PORT_FDS[@]}"; do exec {fd}<&-; done
}

# Is the TCP port free on every address? (bind test; nothing listens after)
_suite_port_bindable () {
    "$SUITE_PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.bind(("0.0.0.0", int(sys.argv[1])))
except OSError:
    sys.exit(1)
' "$1" 2>/dev/null
}

# Pick a free TCP port into variable $1. Ports come from 20000-31999, below
# Linux's ephemeral range, so outgoing connections do not take them. Parallel
# scripts could pick the same port before either binds it, so each script
# holds a flock on ${TMPDIR:-/tmp}/sb-test-ports/<port>.lock for its life;
# the lock dies with the script, even on SIGKILL.
suite_free_port () {
    # Locals are prefixed: printf -v must reach the caller's variable $1.
    local _fp_var=$1 _fp_dir=${TMPDIR:-/tmp}/sb-test-ports _fp_port _fp_lock _fp_fd _fp_try
    if [[ ! -d $_fp_dir ]]; then
        mkdir -p "$_fp_dir" 2>/dev/null && chmod 1777 "$_fp_dir" 2>/dev/null
    fi
    for ((_fp_try = 0; _fp_try < 500; _fp_try++)); do
        _fp_port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        [[ -z ${_SUITE_PORTS_TAKEN[$_fp_port]:-} ]] || continue
        _fp_lock=$_fp_dir/$_fp_port.lock
        [[ -e $_fp_lock ]] || : >>"$_fp_lock" 2>/dev/null
        # (braces: a plain `exec ... 2>/dev/null` would silence stderr for good)
        { exec {_fp_fd}<"$_fp_lock"; } 2>/dev/null || continue
        if flock -n "$_fp_fd" && _suite_port_bindable "$_fp_port"; then
            _SUITE_PORT_FDS+=("$_fp_fd")
            _SUITE_PORTS_TAKEN[$_fp_port]=1
            printf -v "$_fp_var" '%s' "$_fp_port"
            return 0
        fi
        exec {_fp_fd}<&-
    done
    t_diag "suite_free_port: no free TCP port found"
    return 1
}

# Set up the test: temp dir, ports, environment, cleanup trap.
suite_init () {
    [[ -n ${SB_BIN:-} ]] || t_bail "SB_BIN is not set (the directory with gateway and *-svc); run through 'make integration'"
    [[ -d $SB_BIN ]] || t_bail "SB_BIN=$SB_BIN is not a directory"
    SB_BIN=$(cd "$SB_BIN" && pwd)
    export SB_BIN
    command -v curl >/dev/null || t_bail "curl is missing (deploy/local/deps.sh test)"
    command -v flock >/dev/null || t_bail "flock is missing (util-linux)"
    "$SUITE_PYTHON" -c '' 2>/dev/null || t_bail "python3 is missing (deploy/local/deps.sh test)"

    # Hermetic: nothing from the developer's environment leaks in.
    local v
    for v in $(compgen -v SWITCHBOARD_); do unset "$v"; done

    SUITE_TMP=$(mktemp -d "${TMPDIR:-/tmp}/sb-test.XXXXXX") || t_bail "cannot create a temp dir"
    # 755: PostgreSQL runs as another user when we are root and must get in.
    chmod 755 "$SUITE_TMP"
    mkdir -p "$SUITE_TMP/log" "$SUITE_TMP/pids" "$SUITE_TMP/data/mail"
    export SUITE_TMP
    trap _suite_cleanup EXIT
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM

    local http broker pub sub
    if ! { suite_free_port http && suite_free_port broker && suite_free_port pub \
           && suite_free_port sub && suite_free_port SB_PG_PORT; }; then
        t_bail "cannot find free TCP ports"
    fi
    export SB_PG_PORT SB_PG_FAST=1
    export SWITCHBOARD_HTTP_PORT=$http
    export SWITCHBOARD_BROKER=tcp://127.0.0.1:$broker
    export SWITCHBOARD_EVENTS_PUB=tcp://127.0.0.1:$pub
    export SWITCHBOARD_EVENTS_SUB=tcp://127.0.0.1:$sub
    export SWITCHBOARD_DATA_DIR=$SUITE_TMP/data
    export SWITCHBOARD_PUBLIC_URL=http://127.0.0.1:$http
    export SWITCHBOARD_HEARTBEAT_MS=250
    export SWITCHBOARD_LOG_LEVEL=debug
    # Generous plan limits (no rate limit, many calls and businesses, the
    # default 2 seats), so that tests about something else are not cut off
    # by the free plan; tests of the limits point this at their own file.
    export SWITCHBOARD_PLANS_FILE=$SUITE_ROOT/tests/fixtures/plans-test.json
    # Refused credentials are not limited per address (tests of bad tokens
    # send many from 127.0.0.1); the tests of that limit set their own.
    export SWITCHBOARD_AUTH_FAILURES_PER_MINUTE=0
    # Nor signup, login and reset per address (a test signs up many
    # organizations from 127.0.0.1); the tests of that limit set their own.
    export SWITCHBOARD_AUTH_RATE_PER_MINUTE=0
    # The operator's token for /v1/sys/* (http_op sends it).
    SUITE_OPERATOR_TOKEN=op-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
    export SWITCHBOARD_OPERATOR_TOKEN=$SUITE_OPERATOR_TOKEN
    # The bus is CURVE-secured in every test, as in production: one key
    # pair per program under $SWITCHBOARD_DATA_DIR/curve, all allowed.
    "$SB_BIN/switchboardctl" keys init >"$SUITE_TMP/log/keys.log" 2>&1 \
        || t_bail "switchboardctl keys init failed: $(cat "$SUITE_TMP/log/keys.log")"
}

# Run pg.sh without our lock descriptors; its messages go to log/pg.sh.log.
# (Not the output of provision: the URLs, with passwords, are read from
# pg/env instead.)
_suite_pgsh () {
    local log=$SUITE_TMP/log/pg.sh.log out=$SUITE_TMP/log/pg.sh.log
    [[ $1 == provision ]] && out=/dev/null
    ( _suite_close_fds; exec "$SUITE_PGSH" "$@" ) >>"$out" 2>>"$log"
}

# Start (or restart) the cluster and provision the service roles.
suite_pg_start () {
    local dir=$SUITE_TMP/pg key value
    SUITE_PG_STARTED=1
    if ! _suite_pgsh start "$dir" "$SB_PG_PORT" || ! _suite_pgsh provision "$dir" "$SB_PG_PORT"; then
        t_diag "suite_pg_start: pg.sh failed:" "$(tail -n 20 "$SUITE_TMP/log/pg.sh.log")"
        return 1
    fi
    while IFS='=' read -r key value; do
        [[ -n $key ]] && export "$key=$value"
    done < "$dir/env"
    SUITE_PG_URL=$("$SUITE_PGSH" url "$dir" "$SB_PG_PORT")
    export SUITE_PG_URL
    return 0
}

suite_pg_stop () {
    _suite_pgsh stop "$SUITE_TMP/pg"
}

suite_psql () {
    psql -X -A -t -q -v ON_ERROR_STOP=1 "$SUITE_PG_URL" "$@"
}

# Start binary $2 as process $1 (KEY = name-tag) in the background.
_suite_start () {
    local key=$1 bin=$2 log=$SUITE_TMP/log/$1.log
    shift 2
    [[ -n $SUITE_TMP ]] || { t_diag "suite_start: call suite_init first"; return 1; }
    [[ -x $bin ]] || { t_diag "suite_start: missing binary $bin"; return 1; }
    if suite_running "$key"; then
        t_diag "suite_start: $key is already running (pid $(suite_pid "$key"))"
        return 1
    fi
    printf '==== %s: starting %s\n' "$(date '+%F %T')" "$bin" >>"$log"
    ( _suite_close_fds; exec "$bin" "$@" ) </dev/null >>"$log" 2>&1 &
    SUITE_PID=$!
    SUITE_PIDS[$key]=$SUITE_PID
    echo "$SUITE_PID" > "$SUITE_TMP/pids/$key"
    return 0
}

suite_start_gateway () {
    _suite_start "gateway-${1:-1}" "$SB_BIN/gateway"
}

suite_start_service () {
    case ${1:-} in
        auth|tenant|billing|usage) ;;
        *) t_diag "suite_start_service: unknown service '${1:-}'"; return 2 ;;
    esac
    _suite_start "$1-${2:-1}" "$SB_BIN/$1-svc"
}

# PostgreSQL if not yet started, the gateway and one worker of each service.
suite_start_all () {
    local s
    if (( ! SUITE_PG_STARTED )); then suite_pg_start || return 1; fi
    suite_start_gateway 1 || return 1
    for s in auth tenant billing usage; do suite_start_service "$s" || return 1; done
}

# Everything started and ready, or bail out (the script cannot test anything).
suite_up () {
    suite_start_all || t_bail "the suite did not start"
    suite_wait_ready "${1:-60}" || t_bail "the suite did not become ready in ${1:-60} s"
}

suite_pid () {
    cat "$SUITE_TMP/pids/$1" 2>/dev/null
}

suite_running () {
    local pid
    pid=$(suite_pid "$1") && kill -0 "$pid" 2>/dev/null
}

# Wait up to $2 seconds for pid $1 to be gone.
_suite_wait_gone () {
    local pid=$1 deadline=$((SECONDS + $2))
    while kill -0 "$pid" 2>/dev/null; do
        (( SECONDS < deadline )) || return 1
        sleep 0.05
    done
    return 0
}

# Forget process $1 and return its exit status (if it was our child).
_suite_reap () {
    local key=$1 pid=$2 rc=0
    wait "$pid" 2>/dev/null
    rc=$?
    (( rc == 127 )) && rc=0    # not our child (started in a subshell)
    rm -f "$SUITE_TMP/pids/$key"
    unset 'SUITE_PIDS[$key]'
    return $rc
}

# SIGTERM, wait up to $2 s (10), then SIGKILL. Returns the exit status, so a
# clean shutdown is testable: t_ok "auth stops cleanly" suite_stop auth-1
suite_stop () {
    local key=$1 grace=${2:-10} pid
    pid=$(suite_pid "$key") || { t_diag "suite_stop: no process '$key'"; return 1; }
    kill -TERM "$pid" 2>/dev/null
    if ! _suite_wait_gone "$pid" "$grace"; then
        t_diag "suite_stop: $key (pid $pid) ignored SIGTERM for ${grace}s; killing it"
        kill -KILL "$pid" 2>/dev/null
        _suite_wait_gone "$pid" 5
    fi
    _suite_reap "$key" "$pid"
}

# Wait up to $2 s (10) for process $1, already told to stop, to exit by
# itself, and return its exit status (1 if it did not exit). Unlike
# suite_stop it sends nothing: a second SIGTERM while a process shuts down
# may find the default disposition back (czmq resets its handler at exit)
# and kill it (143), which says nothing of how it stops.
suite_wait_exit () {
    local key=$1 grace=${2:-10} pid
    pid=$(suite_pid "$key") || { t_diag "suite_wait_exit: no process '$key'"; return 1; }
    _suite_wait_gone "$pid" "$grace" || { t_diag "suite_wait_exit: $key still runs after ${grace}s"; return 1; }
    _suite_reap "$key" "$pid"
}

suite_kill () {
    local key=$1 pid
    pid=$(suite_pid "$key") || { t_diag "suite_kill: no process '$key'"; return 1; }
    kill -KILL "$pid" 2>/dev/null
    _suite_wait_gone "$pid" 5
    _suite_reap "$key" "$pid"
    return 0
}

# Send SIG (STOP, CONT, ...) to every running worker of service NAME, e.g.
# to let requests pile up for a worker that then finds them all at once.
suite_signal_workers () {
    local name=$1 sig=$2 key
    for key in $(ls "$SUITE_TMP/pids" 2>/dev/null | grep "^$name-"); do
        suite_running "$key" && kill -"$sig" "$(suite_pid "$key")"
    done
    return 0
}

# Poll a gateway path until it answers the status code wanted.
suite_wait_status () {
    local path=$1 want=$2 secs=${3:-30} got=000 deadline
    shift $(( $# < 3 ? $# : 3 ))
    deadline=$((SECONDS + secs))
    while :; do
        got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" \
                   "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT$path" 2>/dev/null)
        [[ $got == "$want" ]] && return 0
        if (( SECONDS >= deadline )); then
            t_diag "suite_wait_status: $path answered $got, not $want, for ${secs}s"
            return 1
        fi
        sleep 0.1
    done
}

suite_at_exit () {
    _SUITE_AT_EXIT+=("$1")
}

suite_wait_ready () {
    suite_wait_status /readyz 200 "${1:-30}"
}

# ---- HTTP and JSON ----------------------------------------------------------

http_op () {
    local method=$1 target=$2 body=${3-}
    shift 2
    (( $# )) && shift
    http "$method" "$target" "$body" -H "Authorization: Bearer $SUITE_OPERATOR_TOKEN" "$@"
}

http () {
    local method=$1 target=$2 body=${3-} url dir rc
    shift 2
    (( $# )) && shift
    case $target in
        http://*|https://*) url=$target ;;
        *) url=http://127.0.0.1:$SWITCHBOARD_HTTP_PORT$target ;;
    esac
    # Files of our own, so that parallel calls (background jobs) do not mix.
    dir=$(mktemp -d "${SUITE_TMP:-${TMPDIR:-/tmp}}/http.XXXXXX") || return 1
    local args=(-sS --max-time 15 -o "$dir/body" -D "$dir/headers" -w '%{http_code}')
    if [[ $method == HEAD ]]; then args+=(-I); else args+=(-X "$method"); fi
    if [[ -n $body ]]; then
        printf '%s' "$body" > "$dir/request"
        args+=(-H 'Content-Type: application/json' --data-binary "@$dir/request")
    fi
    HTTP_STATUS=$(curl "${args[@]}" "$@" "$url" 2>"$dir/error")
    rc=$?
    HTTP_STATUS=${HTTP_STATUS:-000}
    HTTP_BODY=$(cat "$dir/body" 2>/dev/null)
    HTTP_HEADERS=$(tr -d '\r' < "$dir/headers" 2>/dev/null)
    HTTP_ERROR=$(cat "$dir/error" 2>/dev/null)
    [[ $url == "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/"* ]] \
        && _suite_record_response "$method" "${url#"http://127.0.0.1:$SWITCHBOARD_HTTP_PORT"}" "$dir"
    rm -rf "$dir"
    return $rc
}

# The gateway's answer to one `http` call, as a JSON line of
# $SUITE_TMP/responses.jsonl (method, path as requested, status, content
# type, body in base64), for t_done's check against the OpenAPI document
# (tests/lib/openapi_check.py). One printf: parallel calls append whole lines.
_suite_record_response () {
    [[ -n ${SUITE_TMP:-} && -d $SUITE_TMP ]] || return 0
    local method=$1 path=$2 dir=$3 ctype='' body=''
    ctype=$(grep -i '^content-type:' "$dir/headers" 2>/dev/null | tail -n 1 | tr -d '\r')
    ctype=${ctype#*:}
    ctype=${ctype# }
    [[ -s $dir/body ]] && body=$(base64 -w0 < "$dir/body")
    path=${path//\\/\\\\}
    path=${path//\"/\\\"}
    ctype=${ctype//\\/\\\\}
    ctype=${ctype//\"/\\\"}
    printf '{"method":"%s","path":"%s","status":%d,"content_type":"%s","body_b64":"%s"}\n' \
        "$method" "$path" "$((10#${HTTP_STATUS:-0}))" "$ctype" "$body" >> "$SUITE_TMP/responses.jsonl"
}

# One assertion: every recorded response of the gateway matches the OpenAPI
# document (its status is documented for the operation, a JSON body fits
# that status's schema). Nothing recorded: no assertion.
_suite_check_responses () {
    local log=$SUITE_TMP/responses.jsonl doc out rc
    [[ -s $log ]] || return 0
    doc=$SB_BIN/../docs/openapi.json
    [[ -f $doc ]] || doc=$SUITE_ROOT/docs/openapi.yaml
    out=$("$SUITE_PYTHON" "$SUITE_ROOT/tests/lib/openapi_check.py" "$doc" "$log" 2>&1)
    rc=$?
    local n=${out%%,*}
    n=${n#checked }
    if (( rc == 0 )); then
        t_pass "responses match the OpenAPI document ($n checked)"
    else
        t_fail "responses match the OpenAPI document ($n checked)" "$out"
    fi
}

# The value of response header $1 in the last http call (the last one if
# repeated; names compare case-insensitively).
http_header () {
    local name=${1,,} line key value='' found=1
    while IFS= read -r line; do
        key=${line%%:*}
        if [[ $key != "$line" && ${key,,} == "$name" ]]; then
            value=${line#*:}
            value=${value#"${value%%[![:space:]]*}"}
            found=0
        fi
    done <<<"$HTTP_HEADERS"
    (( found == 0 )) || return 1
    printf '%s\n' "$value"
}

_SUITE_JSON_PY='
import json, re, sys
mode, path = sys.argv[1], sys.argv[2]
text = sys.stdin.read()
try:
    v = json.loads(text)
except ValueError:
    sys.stderr.write("json_get: not JSON: %r\n" % text[:200])
    sys.exit(2)
if path not in ("", "."):
    if not re.fullmatch(r"(\.[^.\[\]]+|\[-?\d+\])+", path):
        sys.stderr.write("json_get: bad path %r\n" % path)
        sys.exit(2)
    for key, idx in re.findall(r"\.([^.\[\]]+)|\[(-?\d+)\]", path):
        try:
            if idx:
                v = v[int(idx)]
            elif isinstance(v, list) and re.fullmatch(r"-?\d+", key):
                v = v[int(key)]
            elif isinstance(v, dict):
                v = v[key]
            else:
                sys.exit(1)
        except (KeyError, IndexError, TypeError):
            sys.exit(1)
if mode == "len":
    if not isinstance(v, (list, dict, str)):
        sys.exit(1)
    print(len(v))
elif isinstance(v, str):
    print(v)
else:
    print(json.dumps(v, separators=(",", ":"), sort_keys=True))
'

json_get () {
    printf '%s' "$1" | "$SUITE_PYTHON" -c "$_SUITE_JSON_PY" get "${2-.}"
}

json_len () {
    printf '%s' "$1" | "$SUITE_PYTHON" -c "$_SUITE_JSON_PY" len "${2-.}"
}

# ---- mail -------------------------------------------------------------------

# Start the SMTP sink and point every process started later at it. Its port
# is a suite port (see suite_free_port), kept for restarts, so that services
# started before a suite_stop smtp-sink find it again on the same URL.
suite_smtp_start () {
    local key=smtp-sink log=$SUITE_TMP/log/smtp-sink.log port='' deadline
    [[ -n $SUITE_TMP ]] || { t_diag "suite_smtp_start: call suite_init first"; return 1; }
    if [[ -z $_SUITE_SMTP_PORT ]]; then
        suite_free_port _SUITE_SMTP_PORT || return 1
    fi
    SUITE_MAIL_DIR=$SUITE_TMP/mail-sink
    mkdir -p "$SUITE_MAIL_DIR" || return 1
    _suite_start "$key" "$SUITE_PYTHON" "$SUITE_ROOT/tests/fakes/smtp_sink.py" \
                 "$_SUITE_SMTP_PORT" "$SUITE_MAIL_DIR" || return 1
    # The sink prints its port once it listens: the first number after the
    # latest "starting" line of its log.
    deadline=$((SECONDS + 10))
    while :; do
        port=$(awk '/^==== / { p = "" } /^[0-9]+$/ && p == "" { p = $0 } END { print p }' "$log")
        [[ -n $port ]] && break
        if ! suite_running "$key" || (( SECONDS >= deadline )); then
            t_diag "suite_smtp_start: the sink did not start:" "$(tail -n 20 "$log")"
            return 1
        fi
        sleep 0.05
    done
    export SWITCHBOARD_SMTP_URL=smtp://127.0.0.1:$port
    export SUITE_MAIL_DIR
    return 0
}

# The sink's messages to $1 (lower-case), oldest first, one path a line.
# Files are numbered 1, 2, 3 ...; the recipients are the X-Sink-Rcpt lines
# on top.
_suite_mail_files () {
    local to=$1 n f line
    for ((n = 1; ; n++)); do
        f=$SUITE_MAIL_DIR/$n.eml
        [[ -f $f ]] || break
        while IFS= read -r line; do
            line=${line%$'\r'}
            [[ $line == X-Sink-Rcpt:* ]] || break
            line=${line#X-Sink-Rcpt:}
            line=${line# }
            if [[ ${line,,} == "$to" ]]; then printf '%s\n' "$f"; break; fi
        done < "$f"
    done
}

# mail_wait TO [SECS]: usually path=$(mail_wait ...), a subshell, so the
# paths already returned are remembered in a file, not a variable.
mail_wait () {
    local to=${1,,} secs=${2:-10} seen=$SUITE_TMP/mail-seen deadline f
    [[ -n $SUITE_MAIL_DIR ]] || { t_diag "mail_wait: call suite_smtp_start first"; return 2; }
    deadline=$((SECONDS + secs))
    while :; do
        while IFS= read -r f; do
            if ! grep -Fxq -- "$f" "$seen" 2>/dev/null; then
                printf '%s\n' "$f" >> "$seen"
                printf '%s\n' "$f"
                return 0
            fi
        done < <(_suite_mail_files "$to")
        if (( SECONDS >= deadline )); then
            t_diag "mail_wait: no new mail to $1 within ${secs}s"
            return 1
        fi
        sleep 0.1
    done
}

mail_count () {
    [[ -n $SUITE_MAIL_DIR ]] || { echo 0; return 0; }
    _suite_mail_files "${1,,}" | wc -l
}

# mail_wait_subject TO REGEX [SECS]: like mail_wait, for the next mail to TO
# whose Subject matches REGEX (extended); mails that do not match stay for
# other waits. mail_count_subject TO REGEX: how many such mails came.
mail_wait_subject () {
    local to=${1,,} re=$2 secs=${3:-10} seen=$SUITE_TMP/mail-seen deadline f
    [[ -n $SUITE_MAIL_DIR ]] || { t_diag "mail_wait_subject: call suite_smtp_start first"; return 2; }
    deadline=$((SECONDS + secs))
    while :; do
        while IFS= read -r f; do
            if ! grep -Fxq -- "$f" "$seen" 2>/dev/null \
               && [[ $(mail_header "$f" Subject) =~ $re ]]; then
                printf '%s\n' "$f" >> "$seen"
                printf '%s\n' "$f"
                return 0
            fi
        done < <(_suite_mail_files "$to")
        if (( SECONDS >= deadline )); then
            t_diag "mail_wait_subject: no new mail to $1 with a subject like '$re' within ${secs}s"
            return 1
        fi
        sleep 0.1
    done
}

mail_count_subject () {
    local f n=0
    [[ -n $SUITE_MAIL_DIR ]] || { echo 0; return 0; }
    while IFS= read -r f; do
        [[ $(mail_header "$f" Subject) =~ $2 ]] && n=$((n + 1))
    done < <(_suite_mail_files "${1,,}")
    echo "$n"
}

_SUITE_MAIL_PY='
import email, email.policy, re, sys
mode, path = sys.argv[1], sys.argv[2]
with open(path, "rb") as f:
    msg = email.message_from_binary_file(f, policy=email.policy.default)
if mode == "header":
    value = msg.get(sys.argv[3])
    if value is None:
        sys.exit(1)
    print(str(value))
    sys.exit(0)
body = msg.get_content().replace("\r\n", "\n")
if mode == "body":
    sys.stdout.write(body)
    sys.exit(0)
prefix = sys.argv[3]
i = body.find(prefix)
if i < 0:
    sys.exit(1)
url = re.match(r"[^\s<>\"\x27]*", body[i:]).group(0)
print(url.rstrip(".,;:!?)]"))
'

mail_header () {
    "$SUITE_PYTHON" -c "$_SUITE_MAIL_PY" header "$1" "$2"
}

mail_body () {
    "$SUITE_PYTHON" -c "$_SUITE_MAIL_PY" body "$1"
}

mail_link () {
    "$SUITE_PYTHON" -c "$_SUITE_MAIL_PY" link "$1" "$2"
}

# ---- the end ----------------------------------------------------------------

# Print the last lines of every log as "# " lines on stderr.
_suite_dump_logs () {
    local f
    for f in "$SUITE_TMP"/log/*.log "$SUITE_TMP"/pg/pg.log; do
        [[ -s $f ]] || continue
        t_diag "---- ${f#"$SUITE_TMP"/} (last 30 lines)" "$(tail -n 30 "$f")"
    done
}

# EXIT trap: stop processes, check for sanitizer reports, dump logs if
# anything failed, destroy the cluster, remove the temp dir.
_suite_cleanup () {
    local rc=$? f key pid alive deadline
    set +e
    trap - EXIT HUP INT TERM
    [[ -n $SUITE_TMP && -d $SUITE_TMP ]] || exit $rc

    # SIGTERM to all at once, SIGKILL to what is left after 10 s.
    local pids=()
    for f in "$SUITE_TMP"/pids/*; do
        [[ -f $f ]] || continue
        pid=$(<"$f")
        kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    done
    deadline=$((SECONDS + 10))
    while (( ${#pids[@]} )); do
        alive=()
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
        pids=("${alive[@]}")
        (( ${#pids[@]} )) || break
        if (( SECONDS >= deadline )); then
            t_diag "cleanup: killing processes that ignored SIGTERM: ${pids[*]}"
            kill -KILL "${pids[@]}" 2>/dev/null
            break
        fi
        sleep 0.1
    done
    wait 2>/dev/null

    # Sanitizers write their reports to stderr, that is, to the logs.
    local reports
    reports=$(grep -l -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' \
                   "$SUITE_TMP"/log/*.log 2>/dev/null)
    if [[ -n $reports ]]; then
        reports=${reports//"$SUITE_TMP/"/}
        t_diag "sanitizer report(s) in: ${reports//$'\n'/ }"
        [[ ${SB_IGNORE_SANITIZER:-0} == 1 ]] || { (( rc )) || rc=1; }
    fi

    if (( ! T_DONE && ! rc )); then
        t_diag "the script ended without t_done (no plan printed)"
    fi
    if (( T_FAILED || rc || ! T_DONE )); then _suite_dump_logs; fi

    if (( SUITE_PG_STARTED )); then
        if [[ ${SB_KEEP:-0} == 1 ]]; then _suite_pgsh stop "$SUITE_TMP/pg"
        else _suite_pgsh destroy "$SUITE_TMP/pg"
        fi
    fi

    for f in "${_SUITE_AT_EXIT[@]}"; do "$f"; done

    if [[ ${SB_KEEP:-0} == 1 ]]; then
        t_diag "SB_KEEP=1: kept $SUITE_TMP"
    else
        rm -rf "$SUITE_TMP"
    fi
    exit $rc
}
