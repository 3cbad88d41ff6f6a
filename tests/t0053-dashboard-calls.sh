#!/usr/bin/env bash
# The dashboard's Calls and Orders pages (gateway/www/page-calls.js,
# page-orders.js) in Debian's headless Chromium, driven by
# tests/lib/e2e/calls.mjs: two businesses in different time zones (Rome,
# Los Angeles) with calls and orders recorded through the API; each call's
# time in its business's zone; filters by business, status and dates
# (whole days in the business's zone, or UTC) kept in the URL's query
# (Back, a deep link); the detail with summary and transcript as text;
# "Load more" past 20; a missing call; Orders: totals, the items, confirm
# and fulfil through the buttons, cancel through the dialog, no buttons on
# a final order, a 409 from a change behind the page's back explained. At
# 390 px the lists and details fit. Screenshots go to
# build/<mode>/test-output/t0053/ (or $SB_E2E_OUT).
. "$(dirname "$0")/lib/suite.sh"
. "$(dirname "$0")/lib/chromium.sh"
suite_init
# free with room for 2 businesses and some 50 calls (the shipped free plan
# has 1 business).
export SWITCHBOARD_PLANS_FILE=$SUITE_ROOT/tests/fixtures/plans-calls.json

e2e_ready t0053
t_ok "make built the Calls page ($E2E_WWW)" test -f "$E2E_WWW/assets/page-calls.js"
t_ok "make built the Orders page" test -f "$E2E_WWW/assets/page-orders.js"
suite_up

http GET "/app/calls?business_id=x&status=missed"
t_is "/app/calls with a query answers the app's page" "$HTTP_STATUS" 200

e2e_run calls.mjs 32
for shot in desktop-calls-empty desktop-calls-list desktop-calls-filtered desktop-calls-dates \
            desktop-calls-no-match desktop-call-detail desktop-call-missing \
            desktop-orders-list desktop-order-pending desktop-order-fulfilled \
            desktop-order-cancel-confirm desktop-order-conflict \
            phone-calls-empty phone-calls-list phone-orders-list phone-order-pending \
            phone-order-fulfilled phone-order-conflict phone-call-detail; do
    t_ok "a screenshot of $shot" test -s "$E2E_OUT/$shot.png"
done
t_note "screenshots: $E2E_OUT"
t_done
