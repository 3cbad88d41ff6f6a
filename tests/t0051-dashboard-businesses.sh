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

e2e_ready t0051
t_ok "make built the Businesses page ($E2E_WWW)" test -f "$E2E_WWW/assets/page-businesses.js"
suite_up

http GET /app/businesses/new
t_is "/app/businesses/new answers the app's page" "$HTTP_STATUS" 200

e2e_run businesses.mjs 15
for shot in desktop-businesses-empty desktop-business-new desktop-businesses-one \
            desktop-business-edit desktop-business-upgrade desktop-business-delete-confirm \
            desktop-businesses-deleted phone-businesses-empty phone-business-new \
            phone-businesses-one; do
    t_ok "a screenshot of $shot" test -s "$E2E_OUT/$shot.png"
done
t_note "screenshots: $E2E_OUT"
t_done
