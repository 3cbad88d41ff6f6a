#!/usr/bin/env bash
# The dashboard's Billing and Help pages (gateway/www/page-billing.js,
# page-help.js) in Debian's headless Chromium, driven by
# tests/lib/e2e/billing.mjs, against the fake Stripe API
# (tests/fakes/stripe_fake.py) and the SMTP sink, on the shipped catalogue
# synced into the fake (billing-svc stripe-sync --write: real prices).
#
# Part one (desktop 1280 and phone 390; the steps are listed in
# billing.mjs's header): the plans with Free current, the referral link
# copied, Upgrade → the fake's Checkout with a session for the
# organization, the signed webhooks Stripe would send (signed by
# tests/lib/stripe_sign.py) → back at the success URL (signed in where the
# build resumes the session from the gateway's cookie, else after logging
# in again) Billing shows Starter and the paid invoice, the spending cap saved, Manage billing → the fake's
# portal; Help's links, the API's field errors, a support request → the
# confirmation and both mails (support address and user); on the phone
# everything fits, /app/billing/success (reached in the app) shows Pro by
# itself once the test sends the webhooks, and a pro organization's
# request is priority.
# Part two: billing-svc restarted without SWITCHBOARD_STRIPE_SECRET_KEY:
# checkout and portal answer 503 billing_not_configured (asserted by API
# here) and the page says billing is not set up on this server; past due
# (the grace period) and over a limit explained (plans set by the
# operator's route).
# Screenshots in build/<mode>/test-output/t0056/ (or $SB_E2E_OUT).
. "$(dirname "$0")/lib/auth.sh"
. "$(dirname "$0")/lib/stripe.sh"
. "$(dirname "$0")/lib/chromium.sh"
suite_init
e2e_ready t0056
t_ok "make built the Billing page ($E2E_WWW)" test -f "$E2E_WWW/assets/page-billing.js"
t_ok "make built the Help page" test -f "$E2E_WWW/assets/page-help.js"

export E2E_WEBHOOK_SECRET=whsec_test_dashboard
export SWITCHBOARD_STRIPE_WEBHOOK_SECRET=$E2E_WEBHOOK_SECRET
export SWITCHBOARD_SUPPORT_EMAIL=helpdesk@support.example
stripe_fake_start || t_bail "the fake Stripe API did not start"
PLANS=$SUITE_TMP/plans.json
SWITCHBOARD_PLANS_FILE=$SUITE_ROOT/deploy/plans.json "$SB_BIN/billing-svc" stripe-sync --write "$PLANS" \
    >"$SUITE_TMP/sync.out" 2>&1 || t_bail "stripe-sync failed: $(cat "$SUITE_TMP/sync.out")"
export SWITCHBOARD_PLANS_FILE=$PLANS
price () {
    "$SUITE_PYTHON" -c '
import json, sys
print([p for p in json.load(open(sys.argv[1]))["plans"] if p["id"] == sys.argv[2]][0]["stripe_price_id"])' "$PLANS" "$1"
}
E2E_STARTER_PRICE=$(price starter)
E2E_PRO_PRICE=$(price pro)
[[ $E2E_STARTER_PRICE == price_* && $E2E_PRO_PRICE == price_* ]] \
    || t_bail "stripe-sync wrote no prices: $(cat "$SUITE_TMP/sync.out")"
export E2E_STARTER_PRICE E2E_PRO_PRICE
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up

http GET /app/billing/success
t_is "/app/billing/success answers the app's page" "$HTTP_STATUS" 200
http GET /app/help
t_is "/app/help answers the app's page" "$HTTP_STATUS" 200

e2e_run billing.mjs 21
for shot in desktop-billing-free desktop-checkout-stand-in desktop-billing-back-from-checkout \
            desktop-billing-starter desktop-help desktop-help-errors desktop-help-sent \
            phone-billing-free phone-billing-pro phone-help phone-help-sent; do
    t_ok "a screenshot of $shot" test -s "$E2E_OUT/$shot.png"
done

# ---- without a Stripe key ------------------------------------------------------------
unset SWITCHBOARD_STRIPE_SECRET_KEY
suite_stop billing-1
suite_start_service billing 1 || t_bail "billing-1 did not start again"
stripe_reset
signup N "nokey-api@example.com" "$AUTH_PASSWORD" "Nora" "No Key Cafe" || t_bail "signup failed: $HTTP_BODY"
billing_ready () {
    http_as "$N_AT" POST /v1/billing/checkout \
        "$(jobj plan=starter success_url=http://127.0.0.1/ok cancel_url=http://127.0.0.1/no)"
    [[ $HTTP_STATUS != 503 || $(json_get "$HTTP_BODY" .error.code) == billing_not_configured ]]
}
poll_until 30 billing_ready || true
t_error "no Stripe key: checkout 503" 503 billing_not_configured
http_as "$N_AT" POST /v1/billing/portal "$(jobj return_url=http://127.0.0.1/back)"
t_error "no Stripe key: portal 503" 503 billing_not_configured

OUT_MAIN=$E2E_OUT
E2E_OUT=$OUT_MAIN/not-configured
E2E_PART=unconfigured e2e_run billing.mjs 6
for shot in desktop-billing-not-configured desktop-billing-past-due desktop-billing-over-limit; do
    t_ok "a screenshot of $shot" test -s "$E2E_OUT/$shot.png"
done
t_note "screenshots: $OUT_MAIN"
t_done
