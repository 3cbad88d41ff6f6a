#!/usr/bin/env bash
# The dashboard's account pages (gateway/www/page-account.js) and Settings
# (gateway/www/page-settings.js) in Debian's headless Chromium, driven by
# tests/lib/e2e/account.mjs, with the SMTP sink catching the mails: the
# landing page's four plans at the shipped catalogue's prices; forgot
# password → the mailed link → the token gone from the address bar → a
# new password (the old one refused, the new one logs in; the same link
# again refused in words); Settings: rename (top bar and API), a taken
# subdomain shown by its field, a wrong current password explained, a
# password change, log out everywhere (an API session ends too), delete
# the organization by typing its name (then the API refuses its token and
# its login); a member who is not an admin sees the organization
# read-only. At 390 px the landing page, the forgot flow, the reset page
# and Settings fit. Screenshots go to build/<mode>/test-output/t0052/ (or
# $SB_E2E_OUT).
. "$(dirname "$0")/lib/suite.sh"
. "$(dirname "$0")/lib/chromium.sh"
suite_init
# The shipped catalogue: the four plans the landing page shows.
export SWITCHBOARD_PLANS_FILE=$SUITE_ROOT/deploy/plans.json

e2e_ready t0052
t_ok "make built the account pages" test -f "$E2E_WWW/assets/page-account.js"
t_ok "make built Settings" test -f "$E2E_WWW/assets/page-settings.js"
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up

http GET "/reset-password?token=abc"
t_is "/reset-password answers the app's page" "$HTTP_STATUS" 200
t_is "  which sends no referrer (the token stays here)" \
     "$(http_header Referrer-Policy)" no-referrer
http GET /app/settings
t_is "/app/settings answers the app's page" "$HTTP_STATUS" 200

e2e_run account.mjs 28
for shot in desktop-landing desktop-forgot-sent desktop-reset desktop-reset-mismatch \
            desktop-reset-done desktop-reset-used desktop-settings desktop-settings-renamed \
            desktop-settings-subdomain-taken desktop-settings-password-wrong \
            desktop-settings-password-changed desktop-logged-out-everywhere desktop-settings-member \
            desktop-settings-delete desktop-deleted \
            phone-landing phone-forgot-sent phone-reset phone-reset-done phone-settings; do
    t_ok "a screenshot of $shot" test -s "$E2E_OUT/$shot.png"
done
t_note "screenshots: $E2E_OUT"
t_done
