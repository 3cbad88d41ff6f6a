#!/usr/bin/env bash
# deploy/local/pg.sh — a project-local PostgreSQL 15 cluster for `make run`
# and the integration tests, and the provisioning of the services' roles.
#
#   pg.sh start <dir> <port>      initdb <dir>/pgdata if needed, then start it
#   pg.sh provision <dir> <port>  roles sb_<svc> + schemas in database
#                                 "switchboard"; writes <dir>/env and prints it
#   pg.sh url <dir> <port>        superuser URL over the unix socket (for psql)
#   pg.sh stop <dir>              fast shutdown; fine if not running
#   pg.sh status <dir>            exit 0 if running
#   pg.sh destroy <dir>           stop, then remove the cluster and secrets
#   pg.sh provision-url <dir>     provision on the existing server named by
#                                 SWITCHBOARD_DATABASE_URL (see below)
#
# Layout under <dir>: pgdata/ (the cluster), run/ (the unix socket; mode 700),
# pg.log, secrets/sb_<svc>.password (mode 600, generated once and reused),
# env (the per-service SWITCHBOARD_<SVC>_DATABASE_URL lines, mode 600).
#
# The cluster listens on 127.0.0.1:<port> (scram-sha-256 passwords) and on
# the socket in run/ (trust, for the superuser "postgres"; the directory's
# mode keeps other local users out). Service roles connect over TCP with
# their passwords, so their URLs work unchanged for any client.
#
# Root: PostgreSQL refuses to run as root, so as root the cluster belongs to
# an unprivileged user: $SB_PG_USER if set, else "postgres" if it exists, else
# a system user "switchboard" created on first use. That user must be able to
# reach <dir>. When it cannot (say <dir> is under /root, mode 700), the
# cluster's files (pgdata/, run/, pg.log) are placed in
# /var/lib/switchboard/pg-<hash of dir> instead, and <dir>/pg-root records
# where; secrets/ and env stay in <dir>. `pg.sh url` and `destroy` follow it.
# As a normal user everything runs as that user, in <dir>.
#
# Environment: SB_PG_FAST=1 at start turns off fsync, synchronous_commit and
# full_page_writes (tests; data may be lost on a crash). SB_PG_EXTRA_CONF, if
# set at start, is appended to switchboard.conf as is (postgresql.conf lines,
# newline-separated; later settings win: the benchmark's shared_buffers and
# friends). SB_PG_BINDIR picks the PostgreSQL binaries (default
# /usr/lib/postgresql/15/bin).
#
# Existing server: with SWITCHBOARD_DATABASE_URL=postgresql://admin:pw@host:5432/db
# `pg.sh provision-url <dir>` runs the same provision.sql in database "db"
# (which must exist) as "admin", who needs CREATEROLE and the CREATE right on
# "db" (best: owns it; otherwise the database-level grants are skipped with a
# warning). Roles are cluster-wide: one server, one set of sb_* roles. The
# per-service URLs are that URL with its user:password replaced by
# sb_<svc>:<password>; only the URI form (not key=value) is supported.
set -euo pipefail

SERVICES=(auth tenant billing usage)
DB_NAME=switchboard
SUPERUSER=postgres
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROVISION_SQL=$HERE/../sql/provision.sql

die () { echo "pg.sh: $*" >&2; exit 1; }

usage () {
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
}

# Absolute path of $1 (which need not exist yet).
abspath () {
    case $1 in
        /*) printf '%s\n' "$1" ;;
        *)  printf '%s/%s\n' "$PWD" "$1" ;;
    esac
}

# Directory holding initdb, pg_ctl, postgres.
find_bindir () {
    local d
    for d in "${SB_PG_BINDIR:-}" /usr/lib/postgresql/15/bin \
             $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV); do
        [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]] && { echo "$d"; return 0; }
    done
    d=$(pg_config --bindir 2>/dev/null || true)
    [[ -n $d && -x $d/initdb ]] && { echo "$d"; return 0; }
    die "no PostgreSQL server binaries (initdb, pg_ctl) found; install postgresql-15 (deploy/local/deps.sh) or set SB_PG_BINDIR"
}

check_port () {
    if ! [[ $1 =~ ^[0-9]+$ ]] || (( $1 < 1 || $1 > 65535 )); then die "bad port '$1'"; fi
}

# Where the cluster's own files live for <dir>: <dir> itself, or the place
# recorded in <dir>/pg-root when it had to be moved (see the header).
cluster_root () {
    local dir=$1
    if [[ -f $dir/pg-root ]]; then cat "$dir/pg-root"; else echo "$dir"; fi
}

# The OS user that runs the cluster (root only). An existing pgdata decides;
# otherwise $SB_PG_USER, postgres, or a "switchboard" system user we create.
pick_os_user () {
    local root=$1 u
    if [[ -d $root/pgdata ]]; then
        stat -c %U "$root/pgdata"; return 0
    fi
    if [[ -n ${SB_PG_USER:-} ]]; then
        id -u "$SB_PG_USER" >/dev/null 2>&1 || die "SB_PG_USER=$SB_PG_USER: no such user"
        echo "$SB_PG_USER"; return 0
    fi
    for u in postgres switchboard; do
        id -u "$u" >/dev/null 2>&1 && { echo "$u"; return 0; }
    done
    # Parallel test scripts may race here; losing the race is fine.
    useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin switchboard 2>/dev/null \
        || id -u switchboard >/dev/null 2>&1 \
        || die "cannot create system user 'switchboard' (useradd failed)"
    echo switchboard
}

# Run a command as the cluster's OS user (directly when not root). From /, so
# that an unreadable current directory does not bother initdb or pg_ctl.
as_pg () {
    if (( EUID == 0 )); then
        (cd / && runuser -u "$PG_OS_USER" -- "$@")
    else
        "$@"
    fi
}

# Set PG_OS_USER for an existing cluster rooted at $1 (for stop/status).
load_os_user () {
    PG_OS_USER=$(id -un)
    if (( EUID == 0 )) && [[ -d $1/pgdata ]]; then
        PG_OS_USER=$(stat -c %U "$1/pgdata")
    fi
}

# The port a running cluster listens on (line 4 of postmaster.pid), or empty.
running_port () {
    sed -n 4p "$1/pgdata/postmaster.pid" 2>/dev/null || true
}

is_running () {
    local root=$1
    [[ -f $root/pgdata/PG_VERSION ]] || return 1
    as_pg "$BINDIR/pg_ctl" status -D "$root/pgdata" >/dev/null 2>&1
}

# Decide where the cluster of <dir> lives, as root: <dir> if the OS user can
# reach it, else a directory under /var/lib/switchboard. Prints the root.
choose_root_as_root () {
    local dir=$1 reloc
    if runuser -u "$PG_OS_USER" -- test -x "$dir" 2>/dev/null; then
        echo "$dir"; return 0
    fi
    reloc=/var/lib/switchboard/pg-$(printf '%s' "$dir" | sha256sum | cut -c1-16)
    echo "pg.sh: user $PG_OS_USER cannot reach $dir; keeping the cluster in $reloc" >&2
    install -d -m 755 /var/lib/switchboard
    install -d -m 700 -o "$PG_OS_USER" -g "$(id -gn "$PG_OS_USER")" "$reloc"
    printf '%s\n' "$reloc" > "$dir/pg-root"
    echo "$reloc"
}

# Write switchboard.conf, included from postgresql.conf; rewritten on every
# start so that the port, SB_PG_FAST and SB_PG_EXTRA_CONF follow the caller.
write_conf () {
    local root=$1 port=$2 conf
    conf="listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$root/run'
max_connections = 200
shared_buffers = 128MB
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_duration_statement = -1
"
    if [[ ${SB_PG_FAST:-0} == 1 ]]; then
        conf+="fsync = off
synchronous_commit = off
full_page_writes = off
"
    fi
    if [[ -n ${SB_PG_EXTRA_CONF:-} ]]; then
        conf+="# SB_PG_EXTRA_CONF"$'\n'"$SB_PG_EXTRA_CONF"$'\n'
    fi
    printf '%s' "$conf" | as_pg tee "$root/pgdata/switchboard.conf" >/dev/null
}

cmd_start () {
    local dir port root
    [[ $# -eq 2 ]] || die "usage: pg.sh start <dir> <port>"
    dir=$(abspath "$1"); port=$2
    check_port "$port"
    mkdir -p "$dir"
    root=$(cluster_root "$dir")

    if (( EUID == 0 )); then
        PG_OS_USER=$(pick_os_user "$root")
        [[ -d $root/pgdata ]] || root=$(choose_root_as_root "$dir")
    else
        PG_OS_USER=$(id -un)
        if [[ -d $root/pgdata && ! -O $root/pgdata ]]; then
            die "$root/pgdata belongs to $(stat -c %U "$root/pgdata"), not to you; run as that user or root"
        fi
    fi

    if is_running "$root"; then
        local p; p=$(running_port "$root")
        [[ $p == "$port" ]] || die "the cluster in $root is already running on port $p, not $port; stop it first"
        return 0
    fi

    # Directories and the log file belong to the OS user of the cluster.
    local owner=()
    if (( EUID == 0 )); then owner=(-o "$PG_OS_USER" -g "$(id -gn "$PG_OS_USER")"); fi
    install -d -m 700 "${owner[@]}" "$root/run"
    if [[ ! -f $root/pgdata/PG_VERSION ]]; then
        install -d -m 700 "${owner[@]}" "$root/pgdata"
        as_pg "$BINDIR/initdb" -D "$root/pgdata" -U "$SUPERUSER" \
            --auth-local=trust --auth-host=scram-sha-256 \
            --encoding=UTF8 --locale=C.UTF-8 --no-instructions \
            >"$root/initdb.log" 2>&1 \
            || { cat "$root/initdb.log" >&2; die "initdb failed in $root/pgdata (log above)"; }
        printf "\ninclude_if_exists = 'switchboard.conf'\n" \
            | as_pg tee -a "$root/pgdata/postgresql.conf" >/dev/null
    fi
    [[ -f $root/pg.log ]] || install -m 600 "${owner[@]}" /dev/null "$root/pg.log"
    write_conf "$root" "$port"

    if ! as_pg "$BINDIR/pg_ctl" start -D "$root/pgdata" -l "$root/pg.log" -w -t 60 >/dev/null; then
        tail -n 20 "$root/pg.log" >&2 || true
        die "cannot start PostgreSQL in $root/pgdata on port $port (tail of $root/pg.log above)"
    fi
}

# 32 characters from [A-Za-z0-9]: nothing to escape in a URL or a shell.
gen_password () {
    local s
    s=$(LC_ALL=C tr -dc 'A-Za-z0-9' < <(head -c 2048 /dev/urandom))
    printf '%s\n' "${s:0:32}"
}

# The password of service $2, generated into <dir>/secrets on first use.
service_password () {
    local dir=$1 svc=$2 f
    f=$dir/secrets/sb_$svc.password
    if [[ ! -s $f ]]; then
        (umask 077; mkdir -p "$dir/secrets"; gen_password > "$f.tmp" && mv "$f.tmp" "$f")
    fi
    cat "$f"
}

# Write <dir>/env from the URL prefix/suffix around the user info, and print it.
write_env () {
    local dir=$1 before=$2 after=$3 svc pw lines=""
    for svc in "${SERVICES[@]}"; do
        pw=$(service_password "$dir" "$svc")
        lines+="SWITCHBOARD_${svc^^}_DATABASE_URL=${before}sb_${svc}:${pw}@${after}"$'\n'
    done
    (umask 077; printf '%s' "$lines" > "$dir/env.tmp" && mv "$dir/env.tmp" "$dir/env")
    printf '%s' "$lines"
}

# Run provision.sql for every service; $@ = how psql connects.
run_provision () {
    local dir=$1 create_db=$2 svc; shift 2
    [[ -r $PROVISION_SQL ]] || die "missing $PROVISION_SQL"
    for svc in "${SERVICES[@]}"; do
        psql -X -q -v ON_ERROR_STOP=1 -v svc="$svc" -v create_db="$create_db" \
             -v db="$DB_NAME" -v pw="$(service_password "$dir" "$svc")" \
             -f "$PROVISION_SQL" "$@" >/dev/null \
            || die "provisioning of role sb_$svc failed"
    done
}

cmd_provision () {
    local dir port root
    [[ $# -eq 2 ]] || die "usage: pg.sh provision <dir> <port>"
    dir=$(abspath "$1"); port=$2
    check_port "$port"
    root=$(cluster_root "$dir")
    [[ -S $root/run/.s.PGSQL.$port ]] \
        || die "no PostgreSQL listening in $root/run on port $port; run 'pg.sh start $dir $port' first"
    run_provision "$dir" true -h "$root/run" -p "$port" -U "$SUPERUSER" -d postgres
    write_env "$dir" "postgresql://" "127.0.0.1:$port/$DB_NAME"
}

cmd_provision_url () {
    local dir url re
    [[ $# -eq 1 ]] || die "usage: SWITCHBOARD_DATABASE_URL=... pg.sh provision-url <dir>"
    dir=$(abspath "$1")
    url=${SWITCHBOARD_DATABASE_URL:-}
    [[ -n $url ]] || die "SWITCHBOARD_DATABASE_URL is not set"
    re='^(postgres(ql)?://)([^@/?]*@)?(.*)$'
    [[ $url =~ $re ]] || die "SWITCHBOARD_DATABASE_URL must be a postgresql:// URL"
    mkdir -p "$dir"
    run_provision "$dir" false "$url"
    write_env "$dir" "${BASH_REMATCH[1]}" "${BASH_REMATCH[4]}"
}

cmd_url () {
    local dir port
    [[ $# -eq 2 ]] || die "usage: pg.sh url <dir> <port>"
    dir=$(abspath "$1"); port=$2
    check_port "$port"
    printf 'postgresql://%s@/%s?host=%s/run&port=%s\n' \
        "$SUPERUSER" "$DB_NAME" "$(cluster_root "$dir")" "$port"
}

cmd_stop () {
    local dir root
    [[ $# -eq 1 ]] || die "usage: pg.sh stop <dir>"
    dir=$(abspath "$1")
    root=$(cluster_root "$dir")
    load_os_user "$root"
    is_running "$root" || return 0
    as_pg "$BINDIR/pg_ctl" stop -D "$root/pgdata" -m fast -w -t 60 >/dev/null \
        || die "cannot stop PostgreSQL in $root/pgdata (see $root/pg.log)"
}

cmd_status () {
    local dir root
    [[ $# -eq 1 ]] || die "usage: pg.sh status <dir>"
    dir=$(abspath "$1")
    root=$(cluster_root "$dir")
    load_os_user "$root"
    if is_running "$root"; then
        echo "running in $root/pgdata on port $(running_port "$root")"
    else
        echo "not running ($root/pgdata)"; return 3
    fi
}

cmd_destroy () {
    local dir root
    [[ $# -eq 1 ]] || die "usage: pg.sh destroy <dir>"
    dir=$(abspath "$1")
    cmd_stop "$dir"
    root=$(cluster_root "$dir")
    rm -rf "${root:?}/pgdata" "${root:?}/run" "$root/pg.log" "$root/initdb.log" \
           "${dir:?}/secrets" "$dir/env"
    if [[ $root != "$dir" ]]; then
        rmdir "$root" 2>/dev/null || true
        rm -f "$dir/pg-root"
    fi
}

main () {
    local cmd=${1:-}
    [[ -n $cmd ]] || { usage >&2; exit 2; }
    shift
    case $cmd in
        -h|--help|help) usage; return 0 ;;
        provision-url) cmd_provision_url "$@"; return ;;
        provision|url) ;;
        start|stop|status|destroy) BINDIR=$(find_bindir) ;;
        *) die "unknown command '$cmd' (try pg.sh --help)" ;;
    esac
    "cmd_$cmd" "$@"
}

main "$@"
