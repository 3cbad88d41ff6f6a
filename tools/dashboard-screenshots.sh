#!/usr/bin/env bash
# tools/dashboard-screenshots.sh [OUT_DIR] — the README's pictures of the
# dashboard (Home and Businesses, desktop and phone): starts the suite
# (tests/lib/suite.sh's suite_up, in a temporary directory, with the
# binaries of SB_BIN and the dashboard built next to them) with the
# shipped catalogue, then runs tools/dashboard-screenshots.mjs, which
# fills an organization through the public API and has Debian's headless
# Chromium (playwright-core) take the pictures (default OUT_DIR: docs/img).
#
#   make dashboard-screenshots   builds what is needed, then runs this
#
# Exits 1, saying why, when a step fails.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/docs/img}
[[ $out == /* ]] || out=$PWD/$out
: "${SB_BIN:?set SB_BIN to the directory of the binaries (make dashboard-screenshots does)}"

# shellcheck source=../tests/lib/suite.sh
. "$here/tests/lib/suite.sh"
. "$here/tests/lib/chromium.sh"

die () { echo "dashboard-screenshots: $*" >&2; exit 1; }

chromium_bin >/dev/null || die "no /usr/bin/chromium: run deploy/local/deps.sh test"
[[ -f $here/node_modules/playwright-core/package.json ]] || die "no node_modules: run npm ci"
suite_init
export SWITCHBOARD_PLANS_FILE=$here/deploy/plans.json
suite_up
suite_wait_status / 200 30 || die "/ does not answer 200 (make built the dashboard?)"
mkdir -p "$out"
node "$here/tools/dashboard-screenshots.mjs" "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT" "$out" \
     "$SUITE_OPERATOR_TOKEN" || die "the browser run failed (SB_KEEP=1 keeps the suite's logs)"
T_DONE=1    # not a test: no TAP plan at exit
