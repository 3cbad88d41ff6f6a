#!/usr/bin/env bash
# tests/lib/guide_run.sh GUIDE OUTDIR — run a guide's shell examples in order.
#
# BASE (the gateway's URL, no trailing slash) must be set. The runnable
# blocks (tests/lib/guide_blocks.py says which: fenced ```sh without
# `no-run`) are extracted into OUTDIR and run one after the other in ONE
# bash session, as a reader pasting them into a terminal would, so that a
# variable set by one block (TOKEN=$(curl ...)) is there for the next. The
# session runs with `set -eu -o pipefail`: the first command that fails
# ends the session, and the blocks after it are not run (they depend on
# it). Each block's output (stdout and stderr) goes to OUTDIR/NNN.out, its
# exit status to OUTDIR/NNN.rc (absent: not reached), and the HTTP status
# of every curl call it made, one per line, to OUTDIR/NNN.status — `curl`
# is a shell function in the session that runs the real curl with a
# `--write-out` to stderr and files the status away (000: no answer), so
# the guides must not use -w/--write-out themselves.
#
# The session's environment is the caller's (SWITCHBOARD_OPERATOR_TOKEN
# for the operator-only examples) plus BASE; its working directory is a
# scratch directory, OUTDIR/work.
#
# Usable by hand against a running server, e.g. `make run` in another
# terminal:
#   BASE=http://localhost:8080 tests/lib/guide_run.sh docs/guides/getting-started.md /tmp/g
# Exit status: 0 when every block ran and exited 0 (the statuses are
# judged by the caller, tests/t0040-guides-examples.sh), 1 otherwise, 2 on
# bad usage or when the guide breaks the convention (guide_blocks.py's
# message on stderr).
set -u

if (( $# != 2 )) || [[ -z ${BASE:-} ]]; then
    echo "usage: BASE=http://host:port guide_run.sh GUIDE OUTDIR" >&2
    exit 2
fi
guide=$1 out=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=/usr/bin/python3
[[ -x $python ]] || python=python3

rm -rf "$out" && mkdir -p "$out/work" || exit 2
"$python" "$here/guide_blocks.py" "$guide" "$out" || exit 2

# The session's script: the curl wrapper, then each block sourced with its
# output in its own file. A block's status is written only when it ends
# normally; `set -e` ending the shell inside one is caught by the EXIT trap.
driver=$out/driver.sh
{
    cat <<'EOF'
set -eu -o pipefail
_gr_out=$1
_gr_block=
_gr_status=/dev/null
trap '_gr_rc=$?; if [[ -n $_gr_block && ! -e $_gr_out/$_gr_block.rc ]]; then echo "$_gr_rc" >"$_gr_out/$_gr_block.rc"; fi' EXIT
curl () {
    local _gr_err _gr_rc=0
    _gr_err=$(mktemp "$_gr_out/curl.XXXXXX")
    command curl "$@" --write-out '%{stderr}@@guide-http-status %{http_code}\n' 2>"$_gr_err" || _gr_rc=$?
    sed -n 's/.*@@guide-http-status \([0-9]*\)$/\1/p' "$_gr_err" >>"$_gr_status"
    sed 's/@@guide-http-status [0-9]*$//' "$_gr_err" | grep -v '^$' >&2 || true
    rm -f "$_gr_err"
    return "$_gr_rc"
}
EOF
    # The driver's own variables, expanded when it runs, not now.
    # shellcheck disable=SC2016
    while IFS=$'\t' read -r n _; do
        printf '_gr_block=%s; _gr_status=$_gr_out/%s.status; : >"$_gr_status"\n' "$n" "$n"
        printf '. "$_gr_out/%s.sh" >"$_gr_out/%s.out" 2>&1\n' "$n" "$n"
        printf 'echo 0 >"$_gr_out/%s.rc"\n' "$n"
    done <"$out/index.tsv"
} >"$driver"

abs_out=$(cd "$out" && pwd)
(cd "$out/work" && BASE=$BASE bash "$abs_out/driver.sh" "$abs_out" </dev/null) || exit 1
