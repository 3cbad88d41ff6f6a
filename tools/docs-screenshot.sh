#!/usr/bin/env bash
# tools/docs-screenshot.sh [OUT.png] — the README's picture of /docs: starts
# the suite (tests/lib/suite.sh's suite_up, in a temporary directory, with
# the binaries of SB_BIN and the docs built next to them), waits for /docs
# and /openapi.json, and has Debian's headless Chromium take a 1280x900
# screenshot of /docs (default OUT: docs/img/docs.png).
#
#   make docs-screenshot       builds what is needed, then runs this
#
# Chromium loads only what the page loads, from the gateway (its CSP allows
# no other origin); nothing is downloaded. deploy/local/deps.sh test
# installs chromium. Exits 1, saying why, when a step fails.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/docs/img/docs.png}
[[ $out == /* ]] || out=$PWD/$out
: "${SB_BIN:?set SB_BIN to the directory of the binaries (make docs-screenshot does)}"

# shellcheck source=../tests/lib/suite.sh
. "$here/tests/lib/suite.sh"
. "$here/tests/lib/chromium.sh"

die () { echo "docs-screenshot: $*" >&2; exit 1; }

chromium_bin >/dev/null || die "no /usr/bin/chromium: run deploy/local/deps.sh test"
suite_init
suite_up
suite_wait_status /docs 200 30 || die "/docs does not answer 200 (make docs built it?)"
suite_wait_status /openapi.json 200 10 || die "/openapi.json does not answer 200"
mkdir -p "$(dirname "$out")"
rm -f "$out"
# The virtual time budget lets Redoc fetch and lay out the document
# before the picture is taken, however slow the machine.
chromium_headless --hide-scrollbars --window-size=1280,900 --virtual-time-budget=20000 \
    --screenshot="$out" "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/docs" \
    || die "chromium failed (see its log with SB_KEEP=1)"
[[ -s $out ]] || die "chromium wrote no $out"
echo "docs-screenshot: $out"
T_DONE=1    # not a test: no TAP plan at exit
