#!/usr/bin/env bash
# Stripe webhooks at POST /v1/billing/webhook: the signature over the raw
# body (made by tests/lib/stripe_sign.py, written from Stripe's
# documentation: the independent oracle), each event applied once, events
# out of order resolved by event.created, and what each event does.
#
# Checked: a valid signature accepted; a tampered body, a wrong secret, a
# stale or future timestamp, no header, a body that is no event: refused
# (400), nothing changed; two secrets configured (a roll) both accepted;
# the same event id again: 200 duplicate, applied once; the anonymous
# per-address limit of the auth routes does not apply to the webhook;
# checkout.session.completed links the customer; subscription events
# upgrade and downgrade, visible in GET /v1/billing/subscription and
# enforced by the gateway (RateLimit-Limit); an older event after a newer
# one changes nothing (stale); invoice.payment_failed → past_due and a mail
# to the admin; invoice.paid → active; invoices listed newest first with a
# cursor, an older invoice event does not undo a newer one; unknown event
# types and customers: 200 ignored; trial_will_end mails the admin;
# subscription.deleted → free; no secret configured → 503.
. "$(dirname "$0")/lib/auth.sh"
. "$(dirname "$0")/lib/stripe_events.sh"
suite_init
export SWITCHBOARD_PLANS_FILE=$SUITE_ROOT/tests/fixtures/plans-billing.json
WEBHOOK_SECRET=whsec_test_current
export SWITCHBOARD_STRIPE_WEBHOOK_SECRET="whsec_test_previous, $WEBHOOK_SECRET"
# The per-address limit of signup/login/reset, small: the webhook is not under it.
export SWITCHBOARD_AUTH_RATE_PER_MINUTE=3
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up

signup A "admin@wh.example" "$AUTH_PASSWORD" "Ann" "Hooks A" || t_bail "signup failed: $HTTP_BODY"
EV=$SUITE_TMP/events
mkdir -p "$EV"
T0=$(date +%s)

sub_db () {   # the subscription's columns of organization $1
    suite_psql -F ' ' -c "SELECT plan, status, coalesce (stripe_customer_id, '-'),
                                 coalesce (stripe_subscription_id, '-'), stripe_state_at
                            FROM billing.subscriptions WHERE organization_id = '$1'"
}
rate_is () {
    http_as "$A_AT" GET /v1/me
    [[ $(http_header RateLimit-Limit) == "$1" ]]
}
subscription () {   # subscription ID CREATED PRICE STATUS [EXTRA_JSON_MEMBERS]
    printf '{"id":"%s","object":"subscription","customer":"cus_A","status":"%s","cancel_at_period_end":false,"items":{"object":"list","data":[{"id":"si_1","price":{"id":"%s"},"current_period_start":%d,"current_period_end":%d}]}%s}' \
        "$1" "$4" "$3" "$2" $(($2 + 2592000)) "${5:-}"
}
invoice () {   # invoice ID STATUS CREATED AMOUNT_PAID [CUSTOMER]
    printf '{"id":"%s","object":"invoice","customer":"%s","number":"N-%s","amount_due":9900,"amount_paid":%d,"currency":"usd","status":"%s","created":%d,"period_start":%d,"period_end":%d,"hosted_invoice_url":"https://invoice.stripe.test/%s"}' \
        "$1" "${5:-cus_A}" "$1" "$4" "$2" "$3" "$3" $(($3 + 2592000)) "$1"
}

# ---- signatures ------------------------------------------------------------
stripe_event "$EV/checkout.json" evt_checkout checkout.session.completed "$T0" \
    "{\"id\":\"cs_1\",\"object\":\"checkout.session\",\"mode\":\"subscription\",\"client_reference_id\":\"$A_OID\",\"customer\":\"cus_A\",\"subscription\":\"sub_A\"}"
cp "$EV/checkout.json" "$EV/tampered.json"
sed -i 's/cus_A/cus_X/' "$EV/tampered.json"
stripe_post "$EV/checkout.json" "$WEBHOOK_SECRET" "" "$EV/tampered.json"
t_error "a tampered body: 400 invalid_signature" 400 invalid_signature
stripe_post "$EV/checkout.json" whsec_not_ours
t_error "a wrong secret: 400 invalid_signature" 400 invalid_signature
stripe_post "$EV/checkout.json" "$WEBHOOK_SECRET" $((T0 - 400))
t_error "a timestamp 400 s old: 400 invalid_signature" 400 invalid_signature
stripe_post "$EV/checkout.json" "$WEBHOOK_SECRET" $((T0 + 400))
t_error "a timestamp 400 s ahead: 400 invalid_signature" 400 invalid_signature
stripe_post "$EV/checkout.json" -
t_error "no Stripe-Signature: 400 invalid_signature" 400 invalid_signature
t_is "nothing changed: no subscription row, no ledger row" \
    "$(suite_psql -c "SELECT (SELECT count(*) FROM billing.subscriptions) + (SELECT count(*) FROM billing.webhook_events)")" 0
t_ok "the refusals are logged" grep -q "webhook refused.*timestamp_outside_tolerance" "$SUITE_TMP/log/billing-1.log"
printf 'not json' > "$EV/junk.json"
stripe_post "$EV/junk.json"
t_error "a signed body that is no event: 400 invalid_request" 400 invalid_request

# ---- checkout links the customer ------------------------------------------
stripe_post "$EV/checkout.json"
t_status "checkout.session.completed, signed: 200" 200
t_is "  applied" "$(json_lines "$HTTP_BODY" .received .duplicate .outcome | tr '\n' ' ')" "true false applied "
t_is "  the customer and subscription are the organization's, still free" \
    "$(sub_db "$A_OID")" "free active cus_A sub_A 0"
stripe_post "$EV/checkout.json"
t_is "the same event again: 200 duplicate" "$HTTP_STATUS $(json_get "$HTTP_BODY" .duplicate)" "200 true"

# ---- upgrade, order, duplicates -----------------------------------------------
subscription sub_A $((T0 + 20)) price_pro active > "$EV/pro.obj"
stripe_event "$EV/pro.json" evt_pro customer.subscription.updated $((T0 + 20)) "$(cat "$EV/pro.obj")"
stripe_post "$EV/pro.json" whsec_test_previous
t_is "subscription.updated to pro, signed with the previous secret: applied" \
    "$HTTP_STATUS $(json_get "$HTTP_BODY" .outcome)" "200 applied"
http_as "$A_AT" GET /v1/billing/subscription
t_is "GET /v1/billing/subscription: pro, active, with its period" \
    "$(json_lines "$HTTP_BODY" .plan .status .current_period_end .cancel_at_period_end | tr '\n' ' ')" \
    "pro active $(date -u -d @$((T0 + 20 + 2592000)) +%Y-%m-%dT%H:%M:%S.000000Z) false "
t_ok "the gateway enforces it: RateLimit-Limit 1200" poll_until 5 rate_is 1200

subscription sub_A $((T0 + 10)) price_starter active > "$EV/old.obj"
stripe_event "$EV/old.json" evt_old customer.subscription.updated $((T0 + 10)) "$(cat "$EV/old.obj")"
stripe_post "$EV/old.json"
t_is "an older subscription.updated (starter) after the newer one: 200 stale" \
    "$HTTP_STATUS $(json_get "$HTTP_BODY" .outcome)" "200 stale"
t_is "  still pro" "$(sub_db "$A_OID")" "pro active cus_A sub_A $((T0 + 20))"

# The same id with a newer time and another plan: the id decides, not the body.
stripe_event "$EV/old-again.json" evt_old customer.subscription.updated $((T0 + 30)) "$(subscription sub_A $((T0 + 30)) price_starter active)"
stripe_post "$EV/old-again.json"
t_is "an event id seen before, whatever it says: 200 duplicate" \
    "$HTTP_STATUS $(json_get "$HTTP_BODY" .duplicate)" "200 true"
t_is "  still pro" "$(sub_db "$A_OID" | cut -d' ' -f1)" pro
for i in 1 2 3 4 5; do stripe_post "$EV/pro.json"; echo "$HTTP_STATUS"; done > "$SUITE_TMP/repeats"
t_is "five more deliveries of one event, beyond the auth routes' per-address limit: 200 each" \
    "$(sort -u "$SUITE_TMP/repeats" | tr '\n' ' ')" "200 "
t_is "the ledger has each event once" \
    "$(suite_psql -F ' ' -c "SELECT id, outcome FROM billing.webhook_events ORDER BY id" | tr '\n' ',')" \
    "evt_checkout applied,evt_old stale,evt_pro applied,"

# ---- downgrade -----------------------------------------------------------------
stripe_event "$EV/starter.json" evt_starter customer.subscription.updated $((T0 + 40)) \
    "$(subscription sub_A $((T0 + 40)) price_starter active ',"cancel_at_period_end":true')"
stripe_post "$EV/starter.json"
t_is "subscription.updated to starter: applied" "$HTTP_STATUS $(json_get "$HTTP_BODY" .outcome)" "200 applied"
http_as "$A_AT" GET /v1/billing/subscription
t_is "  GET /v1/billing/subscription: starter, cancel_at_period_end" \
    "$(json_lines "$HTTP_BODY" .plan .cancel_at_period_end | tr '\n' ' ')" "starter true "
t_ok "  the gateway enforces it: RateLimit-Limit 300" poll_until 5 rate_is 300

# ---- payment failed, then paid ---------------------------------------------------
stripe_event "$EV/failed.json" evt_failed invoice.payment_failed $((T0 + 50)) "$(invoice in_1 open $((T0 + 45)) 0)"
stripe_post "$EV/failed.json"
t_is "invoice.payment_failed: applied" "$HTTP_STATUS $(json_get "$HTTP_BODY" .outcome)" "200 applied"
http_as "$A_AT" GET /v1/billing/subscription
t_is "  past_due, still starter, a grace end given" \
    "$(json_lines "$HTTP_BODY" .status .plan | tr '\n' ' ')$(json_get "$HTTP_BODY" .grace_period_ends_at | grep -c T)" \
    "past_due starter 1"
if mail=$(mail_wait admin@wh.example 15); then
    t_like "  the admin is mailed" "$(mail_header "$mail" Subject)" "payment failed"
    t_like "  with the invoice's link" "$(mail_body "$mail")" "https://invoice.stripe.test/in_1"
else
    t_fail "  the admin is mailed"
    t_fail "  with the invoice's link"
fi
stripe_event "$EV/paid.json" evt_paid invoice.paid $((T0 + 60)) "$(invoice in_1 paid $((T0 + 45)) 9900)"
stripe_post "$EV/paid.json"
t_is "invoice.paid: applied" "$HTTP_STATUS $(json_get "$HTTP_BODY" .outcome)" "200 applied"
http_as "$A_AT" GET /v1/billing/subscription
t_is "  active again, starter, no grace end" \
    "$(json_lines "$HTTP_BODY" .status .plan | tr '\n' ' ')$(json_get "$HTTP_BODY" .grace_period_ends_at)" "active starter null"
stripe_event "$EV/failed-late.json" evt_failed_late invoice.payment_failed $((T0 + 55)) "$(invoice in_1 open $((T0 + 45)) 0)"
stripe_post "$EV/failed-late.json"
t_is "an older invoice.payment_failed after invoice.paid: 200 stale" \
    "$HTTP_STATUS $(json_get "$HTTP_BODY" .outcome)" "200 stale"
http_as "$A_AT" GET /v1/billing/subscription
t_field "  the subscription stays active" .status active

# ---- invoices --------------------------------------------------------------------
stripe_event "$EV/paid2.json" evt_paid2 invoice.paid $((T0 + 70)) "$(invoice in_2 paid $((T0 + 65)) 9900)"
stripe_post "$EV/paid2.json"
http_as "$A_AT" GET /v1/billing/invoices
t_status "GET /v1/billing/invoices" 200
t_is "  newest first" "$(json_lines "$HTTP_BODY" '.data[0].stripe_invoice_id' '.data[1].stripe_invoice_id' | tr '\n' ' ')" "in_2 in_1 "
t_is "  in_1 as the newest event says: paid, amounts, currency, number, URL" \
    "$(json_lines "$HTTP_BODY" '.data[1].status' '.data[1].amount_paid' '.data[1].amount_due' '.data[1].currency' '.data[1].number' '.data[1].hosted_invoice_url' | tr '\n' ' ')" \
    "paid 9900 9900 USD N-in_1 https://invoice.stripe.test/in_1 "
t_like "  with its period" "$(json_get "$HTTP_BODY" '.data[1].period_start')" "^$(date -u -d @$((T0 + 45)) +%Y-%m-%dT%H:%M:%S)"
http_as "$A_AT" GET "/v1/billing/invoices?limit=1"
cursor=$(json_get "$HTTP_BODY" .next_cursor)
t_is "  limit=1: one, and a cursor" "$(json_len "$HTTP_BODY" .data) $(json_get "$HTTP_BODY" '.data[0].stripe_invoice_id')" "1 in_2"
http_as "$A_AT" GET "/v1/billing/invoices?limit=1&cursor=$cursor"
t_is "  the cursor gives the next, and the end" \
    "$(json_get "$HTTP_BODY" '.data[0].stripe_invoice_id') $(json_get "$HTTP_BODY" .next_cursor)" "in_1 null"
http_as "$A_AT" GET "/v1/billing/invoices?cursor=bm90IG91cnM"
t_error "  a cursor not ours: 400" 400 validation_failed
signup B "admin@wh-b.example" "$AUTH_PASSWORD" "Bea" "Hooks B" || t_bail "signup B failed"
http_as "$B_AT" GET /v1/billing/invoices
t_is "another organization sees none of them" "$(json_len "$HTTP_BODY" .data)" 0

# ---- ignored ---------------------------------------------------------------------
stripe_event "$EV/unknown-type.json" evt_unknown_type charge.refunded $((T0 + 80)) '{"id":"ch_1","object":"charge","customer":"cus_A"}'
stripe_post "$EV/unknown-type.json"
t_is "an event type billing does not act on: 200 ignored" "$HTTP_STATUS $(json_get "$HTTP_BODY" .outcome)" "200 ignored"
stripe_event "$EV/unknown-customer.json" evt_unknown_customer customer.subscription.updated $((T0 + 80)) \
    "$(subscription sub_Z $((T0 + 80)) price_pro active | sed 's/cus_A/cus_nobody/')"
stripe_post "$EV/unknown-customer.json"
t_is "an unknown customer: 200 ignored" "$HTTP_STATUS $(json_get "$HTTP_BODY" .outcome)" "200 ignored"
t_is "  A is still on starter; nobody else got a subscription" \
    "$(suite_psql -c "SELECT string_agg (plan, ',') FROM billing.subscriptions")" starter
t_ok "  logged" grep -q "evt_unknown_customer.*ignored: unknown customer" "$SUITE_TMP/log/billing-1.log"

# ---- trial ending, deletion --------------------------------------------------------
stripe_event "$EV/trial.json" evt_trial customer.subscription.trial_will_end $((T0 + 85)) \
    "$(subscription sub_A $((T0 + 85)) price_starter trialing ",\"trial_end\":$((T0 + 3 * 86400))")"
stripe_post "$EV/trial.json"
t_is "trial_will_end: applied" "$HTTP_STATUS $(json_get "$HTTP_BODY" .outcome)" "200 applied"
if mail=$(mail_wait admin@wh.example 15); then
    t_like "  the admin is mailed" "$(mail_header "$mail" Subject)" "trial ends"
else
    t_fail "  the admin is mailed"
fi
stripe_event "$EV/deleted.json" evt_deleted customer.subscription.deleted $((T0 + 90)) \
    "$(subscription sub_A $((T0 + 90)) price_starter canceled)"
stripe_post "$EV/deleted.json"
t_is "subscription.deleted: applied" "$HTTP_STATUS $(json_get "$HTTP_BODY" .outcome)" "200 applied"
http_as "$A_AT" GET /v1/billing/subscription
t_is "  free, canceled" "$(json_lines "$HTTP_BODY" .plan .status | tr '\n' ' ')" "free canceled "
t_ok "  the gateway enforces it: RateLimit-Limit 60" poll_until 5 rate_is 60
t_is "each mail went once: two to the admin" "$(mail_count admin@wh.example)" 2

# ---- one event delivered four times at once: applied once ------------------------
stripe_event "$EV/par.json" evt_par customer.subscription.updated $((T0 + 100)) \
    "$(subscription sub_A2 $((T0 + 100)) price_pro active)"
version=$(suite_psql -c "SELECT version FROM billing.subscriptions WHERE organization_id = '$A_OID'")
pids=()
for i in 1 2 3 4; do
    ( stripe_post "$EV/par.json"; echo "$HTTP_STATUS $(json_get "$HTTP_BODY" .duplicate)" > "$SUITE_TMP/par.$i" ) &
    pids+=($!)
done
wait "${pids[@]}"
t_is "four concurrent deliveries: 200 each, one applied, three duplicates" \
    "$(cat "$SUITE_TMP"/par.* | sort | uniq -c | awk '{ print $1 "x" $2 "/" $3 }' | tr '\n' ' ')" "1x200/false 3x200/true "
t_is "  the subscription took one version for it" \
    "$(suite_psql -c "SELECT version - $version || ' ' || plan FROM billing.subscriptions WHERE organization_id = '$A_OID'")" "1 pro"

# ---- not configured --------------------------------------------------------------
suite_stop billing-1
SWITCHBOARD_STRIPE_WEBHOOK_SECRET= suite_start_service billing 2
suite_wait_ready 30
stripe_event "$EV/late.json" evt_late customer.subscription.updated $((T0 + 95)) "$(cat "$EV/pro.obj")"
stripe_post "$EV/late.json"
t_error "no webhook secret configured: 503 billing_not_configured" 503 billing_not_configured
t_is "  nothing recorded" "$(suite_psql -c "SELECT count(*) FROM billing.webhook_events WHERE id = 'evt_late'")" 0
t_done
