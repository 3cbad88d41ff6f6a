#!/usr/bin/env bash
# The customer dashboard (gateway/www, served by gateway/src/gw_static.c)
# in Debian's headless Chromium, driven by playwright-core
# (tests/lib/e2e/dashboard.mjs; no browser is downloaded): the pages' CSP
# and headers from the gateway, then sign-up through the form, Home with
# the plan "free" and the usage bars (amber at 4 calls of 5, red at 5,
# calls recorded through the API), at 1280 px and at 390 px, with no
# console error or CSP violation. Screenshots of each page go to
# build/<mode>/test-output/t0050/ (or $SB_E2E_OUT), kept after the run.
. "$(dirname "$0")/lib/suite.sh"
. "$(dirname "$0")/lib/chromium.sh"
suite_init
# free: 5 calls a month, so that 4 calls show the amber bar, 5 the red.
export SWITCHBOARD_PLANS_FILE=$SUITE_ROOT/tests/fixtures/plans-dashboard.json

e2e_ready t0050
t_ok "make built the dashboard next to the binaries ($E2E_WWW)" test -f "$E2E_WWW/index.html"
suite_up

# ---- what the gateway sends -------------------------------------------------
http GET /
t_is "GET / answers 200" "$HTTP_STATUS" 200
t_like "GET / is HTML" "$(http_header Content-Type)" '^text/html; charset=utf-8$'
csp=$(http_header Content-Security-Policy)
t_is "the app's strict CSP" "$csp" "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
t_is "nosniff" "$(http_header X-Content-Type-Options)" nosniff
t_is "no referrer" "$(http_header Referrer-Policy)" no-referrer
page=$HTTP_BODY
t_is "no inline <script> (each has a src)" \
     "$(grep -oi '<script[^>]*>' <<<"$page" | grep -vic ' src=')" 0
http GET /app/calls/2026/12/03
t_is "a deep link answers the app's page" "$HTTP_STATUS:$HTTP_BODY" "200:$page"
http GET /app/assets/app.js
t_like "/app/assets/app.js is JavaScript" "$HTTP_STATUS $(http_header Content-Type)" '^200 text/javascript'
http GET /app/assets/nope.js
t_is "an unknown asset: 404" "$HTTP_STATUS" 404

# ---- the browser ------------------------------------------------------------
e2e_run dashboard.mjs 24
for shot in desktop-landing desktop-home desktop-home-near-limit desktop-home-over-limit \
            phone-landing phone-signup-conflict phone-home \
            phone-deep-link; do
    t_ok "a screenshot of $shot" test -s "$E2E_OUT/$shot.png"
done
t_note "screenshots: $E2E_OUT"
t_done
