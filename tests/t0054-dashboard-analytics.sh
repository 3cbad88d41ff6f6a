#!/usr/bin/env bash
# Home's charts and recent calls (gateway/www/page-home.js, chart.js) and
# the Analytics page (gateway/www/page-analytics.js) in Debian's headless
# Chromium, driven by tests/lib/e2e/analytics.mjs, on a catalogue where
# free lacks the `analytics` feature and starter has it
# (tests/fixtures/plans-analytics.json): Home's empty charts, then the
# per-day counts and the recent calls of calls and orders recorded through
# the API; Analytics on free as an upgrade prompt; after the operator
# moves the organization to starter, the figures of what was recorded, the
# date range (7, 90 days, a custom day, a year; dates in the wrong order)
# and the business filter; at 390 px each page fits. Screenshots go to build/<mode>/test-output/t0054/
# (or $SB_E2E_OUT).
. "$(dirname "$0")/lib/suite.sh"
. "$(dirname "$0")/lib/chromium.sh"
suite_init
export SWITCHBOARD_PLANS_FILE=$SUITE_ROOT/tests/fixtures/plans-analytics.json

e2e_ready t0054
t_ok "make built the charts ($E2E_WWW)" test -f "$E2E_WWW/assets/chart.js"
t_ok "make built the Analytics page" test -f "$E2E_WWW/assets/page-analytics.js"
suite_up

http GET /app/analytics
t_is "/app/analytics answers the app's page" "$HTTP_STATUS" 200

e2e_run analytics.mjs 18
for shot in desktop-home-empty desktop-home-charts desktop-analytics-upgrade desktop-analytics \
            desktop-analytics-90-days desktop-analytics-custom desktop-analytics-year \
            desktop-analytics-range-error desktop-analytics-business \
            phone-home-empty phone-home-charts phone-analytics-upgrade phone-analytics; do
    t_ok "a screenshot of $shot" test -s "$E2E_OUT/$shot.png"
done
t_note "screenshots: $E2E_OUT"
t_done
