#!/usr/bin/env bash
# The dashboard's API keys, Team and invitation pages (gateway/www/
# page-api-keys.js, page-team.js, page-invitation.js) in Debian's headless
# Chromium, driven by tests/lib/e2e/team.mjs, on a catalogue whose free
# plan has 2 seats (tests/fixtures/plans-dashboard.json) so that the third
# person meets the limit: an API key created (shown once, copied, working
# against the API, its last use listed) and revoked (then 401); a user
# invited, the mailed link (SMTP sink) opened in a fresh browser, the
# token taken off the address, accepted: Home as that user without the
# admin pages; roles changed, the last admin kept, 409s and the 402
# upgrade prompt explained, a member removed, an invitation revoked; at
# 390 px every page fits. Screenshots go to build/<mode>/test-output/t0055/
# (or $SB_E2E_OUT).
. "$(dirname "$0")/lib/suite.sh"
. "$(dirname "$0")/lib/chromium.sh"
suite_init
# free: 2 seats (the admin and one member).
export SWITCHBOARD_PLANS_FILE=$SUITE_ROOT/tests/fixtures/plans-dashboard.json

e2e_ready t0055
t_ok "make built the Team page ($E2E_WWW)" test -f "$E2E_WWW/assets/page-team.js"
t_ok "make built the API keys page" test -f "$E2E_WWW/assets/page-api-keys.js"
t_ok "make built the invitation page" test -f "$E2E_WWW/assets/page-invitation.js"
suite_smtp_start
suite_up

http GET /accept-invitation
t_is "/accept-invitation answers the app's page" "$HTTP_STATUS" 200
http GET /app/api-keys
t_is "/app/api-keys answers the app's page" "$HTTP_STATUS" 200

e2e_run team.mjs 39
for shot in desktop-api-keys-empty desktop-api-key-created desktop-api-key-revoke-confirm \
            desktop-api-key-revoked desktop-team desktop-team-invited desktop-invitation \
            desktop-member-home desktop-member-only-admins desktop-invitation-invalid \
            desktop-team-role-changed desktop-team-last-admin desktop-team-upgrade \
            desktop-team-remove-confirm desktop-team-revoke-confirm desktop-team-revoked \
            phone-api-keys-empty phone-api-key-created phone-api-key-revoked phone-team \
            phone-team-invited phone-invitation phone-member-home phone-team-upgrade; do
    t_ok "a screenshot of $shot" test -s "$E2E_OUT/$shot.png"
done
t_note "screenshots: $E2E_OUT"
t_done
