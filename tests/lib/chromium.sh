# tests/lib/chromium.sh — Debian's headless Chromium, for tests and tools
# (sourced; uses $SUITE_TMP from tests/lib/suite.sh when set).
#
#   chromium_bin             prints the browser's path (SB_CHROMIUM, else
#                            /usr/bin/chromium); status 1 when it is not
#                            installed (deploy/local/deps.sh test installs it)
#   chromium_headless ARG... runs it headless on ARG... (e.g. --dump-dom URL,
#                            --screenshot=FILE URL): a profile of its own
#                            (under $SUITE_TMP, else a temporary directory),
#                            no sandbox (CI runs as root), no GPU, no first-
#                            run or crash machinery, at most 90 s; its own
#                            chatter goes to $SUITE_TMP/log/chromium.log (or
#                            /dev/null). Status: the browser's.
#
# Nothing is downloaded: a page decides what it loads, and /docs loads only
# from the gateway (its CSP forbids anything else).

[[ -n ${_CHROMIUM_SH:-} ]] && return 0
_CHROMIUM_SH=1

chromium_bin () {
    local bin=${SB_CHROMIUM:-/usr/bin/chromium}
    [[ -x $bin ]] || return 1
    printf '%s\n' "$bin"
}

chromium_headless () {
    local bin profile log=/dev/null rc
    bin=$(chromium_bin) || { echo "chromium_headless: no chromium (deploy/local/deps.sh test)" >&2; return 127; }
    if [[ -n ${SUITE_TMP:-} ]]; then
        profile=$(mktemp -d "$SUITE_TMP/chromium.XXXXXX")
        mkdir -p "$SUITE_TMP/log" && log=$SUITE_TMP/log/chromium.log
    else
        profile=$(mktemp -d "${TMPDIR:-/tmp}/sb-chromium.XXXXXX")
    fi
    timeout 90 "$bin" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --disable-breakpad --disable-crash-reporter --disable-extensions \
        --disable-background-networking --disable-sync --disable-component-update \
        --user-data-dir="$profile" "$@" 2>>"$log"
    rc=$?
    rm -rf "$profile"
    return $rc
}
