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
#   e2e_ready TEST           for the dashboard's end-to-end tests: sets
#                            E2E_ROOT (the checkout), E2E_WWW (the built
#                            app) and E2E_OUT (screenshots: $SB_E2E_OUT,
#                            else build/<mode>/test-output/TEST); skips the
#                            whole test, saying why, when Chromium or
#                            node_modules/playwright-core is missing
#   e2e_run SCRIPT STEPS     runs tests/lib/e2e/SCRIPT against the suite's
#                            gateway (empties E2E_OUT first; SB_MAIL_DIR is
#                            the SMTP sink's folder when the test started
#                            one) and turns its
#                            "pass/fail<TAB>what[<TAB>why]" lines into one
#                            TAP assertion each, then asserts the browser
#                            could be driven and ran STEPS steps
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

e2e_ready () {
    E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    E2E_WWW=$(cd "$SB_BIN/.." && pwd)/share/www
    E2E_OUT=${SB_E2E_OUT:-$(cd "$SB_BIN/.." && pwd)/test-output/$1}
    if ! chromium_bin >/dev/null; then
        t_skip "no /usr/bin/chromium (deploy/local/deps.sh test installs it)"
        exit 0
    fi
    if [[ ! -f $E2E_ROOT/node_modules/playwright-core/package.json ]]; then
        t_skip "no node_modules/playwright-core (make docs runs npm ci)"
        exit 0
    fi
}

e2e_run () {
    local script=$1 want=$2 log=$SUITE_TMP/log/e2e.log results rc steps=0 verdict what why
    rm -rf "$E2E_OUT"
    mkdir -p "$E2E_OUT"
    results=$(cd "$E2E_ROOT" && SB_MAIL_DIR=${SUITE_MAIL_DIR:-} timeout 300 node "tests/lib/e2e/$script" \
              "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT" "$E2E_OUT" 2>"$log")
    rc=$?
    t_is "the browser could be driven (see $log)" "$rc" 0 || t_diag "$(tail -n 20 "$log")"
    while IFS=$'\t' read -r verdict what why; do
        [[ -n $verdict ]] || continue
        steps=$((steps + 1))
        if [[ $verdict == pass ]]; then t_pass "$what"; else t_fail "$what" "  $why"; fi
    done <<<"$results"
    t_ok "the browser ran every step ($want)" test "$steps" -eq "$want"
}
