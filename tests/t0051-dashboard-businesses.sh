#!/usr/bin/env bash
# The dashboard's Businesses page (gateway/www/page-businesses.js) in
# Debian's headless Chromium, driven by tests/lib/e2e/businesses.mjs, on
# the shipped catalogue (free: 1 business): the empty state, create with
# hours past midnight (read back through the API as entered), edit the
# greeting, a second business → the 402 as an upgrade prompt, delete
# through the confirmation dialog; at 390 px the page and the create form
# fit. Screenshots go to build/<mode>/test-output/t0051/ (or $SB_E2E_OUT).
. "$(dirname "$0")/lib/suite.sh"
. "$(dirname "$0")/lib/chromium.sh"
suite_init
# The shipped catalogue: free allows 1 business.
export SWITCHBOARD_PLANS_FILE=$SUITE_ROOT/deploy/plans.json

here=$(cd "$(dirname "$0")/.." && pwd)
www=$(cd "$SB_BIN/.." && pwd)/share/www
out=${SB_E2E_OUT:-$(cd "$SB_BIN/.." && pwd)/test-output/t0051}
if ! chromium_bin >/dev/null; then
    t_skip "no /usr/bin/chromium (deploy/local/deps.sh test installs it)"
    exit 0
fi
if [[ ! -f $here/node_modules/playwright-core/package.json ]]; then
    t_skip "no node_modules/playwright-core (make docs runs npm ci)"
    exit 0
fi
t_ok "make built the Businesses page ($www)" test -f "$www/assets/page-businesses.js"
suite_up

http GET /app/businesses/new
t_is "/app/businesses/new answers the app's page" "$HTTP_STATUS" 200

rm -rf "$out"
mkdir -p "$out"
log=$SUITE_TMP/log/e2e.log
results=$(cd "$here" && timeout 300 node tests/lib/e2e/businesses.mjs \
          "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT" "$out" 2>"$log")
rc=$?
t_is "the browser could be driven (see $log)" "$rc" 0 || t_diag "$(tail -n 20 "$log")"
steps=0
while IFS=$'\t' read -r verdict what why; do
    [[ -n $verdict ]] || continue
    steps=$((steps + 1))
    if [[ $verdict == pass ]]; then t_pass "$what"; else t_fail "$what" "  $why"; fi
done <<<"$results"
t_ok "the browser ran every step (13)" test "$steps" -eq 13
for shot in desktop-businesses-empty desktop-business-new desktop-businesses-one \
            desktop-business-edit desktop-business-upgrade desktop-business-delete-confirm \
            desktop-businesses-deleted phone-businesses-empty phone-business-new \
            phone-businesses-one; do
    t_ok "a screenshot of $shot" test -s "$out/$shot.png"
done
t_note "screenshots: $out"
t_done
