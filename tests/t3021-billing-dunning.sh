#!/usr/bin/env bash
# Dunning: a failed payment makes the subscription past_due and mails every
# admin; when the grace period (SWITCHBOARD_BILLING_GRACE_SECONDS, 3 s here)
# passes unpaid, billing-svc's dunning thread writes the organization down
# to free (canceled), the gateway applies it, and every admin gets a second
# mail. The mail goes through auth-svc's mail.admins, idempotent by id.
#
# Checked: invoice.payment_failed → past_due, one mail to each of the two
# admins (not to the plain user); the downgrade is written (status
# canceled, plan free, a new version) and enforced (RateLimit-Limit 60);
# one downgrade mail to each admin; billing's outbox rows delivered;
# mail.admins repeated with one id queues nothing more; mail.admins with
# bad arguments: 400.
. "$(dirname "$0")/lib/auth.sh"
. "$(dirname "$0")/lib/stripe_events.sh"
suite_init
plans=$SUITE_TMP/plans.json
cat > "$plans" <<'EOF2'
{"plans": [
  {"id": "free", "name": "Free", "price_cents": 0, "currency": "USD", "interval": "month",
   "stripe_price_id": null,
   "limits": {"calls_per_month": 100, "businesses": 1, "seats": 5, "api_requests_per_minute": 60},
   "features": []},
  {"id": "pro", "name": "Pro", "price_cents": 9900, "currency": "USD", "interval": "month",
   "stripe_price_id": "price_pro",
   "limits": {"calls_per_month": 10000, "businesses": 20, "seats": 25, "api_requests_per_minute": 1200},
   "features": ["analytics"]}
 ],
 "referral_credit_cents": 0}
EOF2
export SWITCHBOARD_PLANS_FILE=$plans
WEBHOOK_SECRET=whsec_dunning
export SWITCHBOARD_STRIPE_WEBHOOK_SECRET=$WEBHOOK_SECRET
export SWITCHBOARD_BILLING_GRACE_SECONDS=3
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up

signup A "owner@dun.example" "$AUTH_PASSWORD" "Olga" "Dunning A" || t_bail "signup failed: $HTTP_BODY"
prefix="$SWITCHBOARD_PUBLIC_URL/accept-invitation?token="
for who in second:admin user:user; do
    http_as "$A_AT" POST /v1/invitations "{\"email\":\"${who%%:*}@dun.example\",\"role\":\"${who##*:}\"}"
    tok=$(mail_token "${who%%:*}@dun.example" "$prefix" 15) || t_bail "no invitation mail"
    accept_invite X "$tok" "Person" "$AUTH_PASSWORD" || t_bail "accept failed: $HTTP_BODY"
done
EV=$SUITE_TMP/events
mkdir -p "$EV"
T0=$(date +%s)
rate_is () {
    http_as "$A_AT" GET /v1/me
    [[ $(http_header RateLimit-Limit) == "$1" ]]
}

stripe_event "$EV/created.json" evt_created customer.subscription.created "$T0" \
    "{\"id\":\"sub_D\",\"object\":\"subscription\",\"customer\":\"cus_D\",\"status\":\"active\",\"metadata\":{\"organization_id\":\"$A_OID\"},\"items\":{\"data\":[{\"price\":{\"id\":\"price_pro\"},\"current_period_start\":$T0,\"current_period_end\":$((T0 + 2592000))}]}}"
stripe_post "$EV/created.json"
t_is "subscription.created (organization from metadata): applied" \
    "$HTTP_STATUS $(json_get "$HTTP_BODY" .outcome)" "200 applied"
t_ok "  pro, enforced: RateLimit-Limit 1200" poll_until 5 rate_is 1200

stripe_event "$EV/failed.json" evt_failed invoice.payment_failed $((T0 + 1)) \
    "{\"id\":\"in_D\",\"object\":\"invoice\",\"customer\":\"cus_D\",\"amount_due\":9900,\"amount_paid\":0,\"currency\":\"usd\",\"status\":\"open\",\"created\":$T0}"
stripe_post "$EV/failed.json"
t_is "invoice.payment_failed: applied" "$HTTP_STATUS $(json_get "$HTTP_BODY" .outcome)" "200 applied"
version=$(suite_psql -c "SELECT version FROM billing.subscriptions WHERE organization_id = '$A_OID'")
for admin in owner second; do
    if mail=$(mail_wait "$admin@dun.example" 15); then
        t_like "  $admin (an admin) is mailed that the payment failed" "$(mail_header "$mail" Subject)" "payment failed"
    else
        t_fail "  $admin (an admin) is mailed that the payment failed"
    fi
done

written () {
    [[ $(suite_psql -c "SELECT plan || ' ' || status FROM billing.subscriptions
                         WHERE organization_id = '$A_OID'") == "free canceled" ]]
}
t_ok "after the grace period the dunning thread writes it down: free, canceled" poll_until 20 written
t_ok "  with a newer version" test "$(suite_psql -c "SELECT version FROM billing.subscriptions WHERE organization_id = '$A_OID'")" -gt "$version"
t_ok "  the gateway enforces it: RateLimit-Limit 60" poll_until 5 rate_is 60
http_as "$A_AT" GET /v1/billing/subscription
t_is "  GET /v1/billing/subscription: free, canceled" "$(json_lines "$HTTP_BODY" .plan .status | tr '\n' ' ')" "free canceled "
for admin in owner second; do
    if mail=$(mail_wait "$admin@dun.example" 15); then
        t_like "  $admin is mailed the downgrade" "$(mail_header "$mail" Subject)" "now free"
    else
        t_fail "  $admin is mailed the downgrade"
    fi
done
t_is "  billing's outbox: both rows delivered" \
    "$(suite_psql -c "SELECT count(*) FILTER (WHERE delivered_at IS NOT NULL) || '/' || count(*) FROM billing.mail_outbox")" "2/2"

# mail.admins itself: idempotent by id, arguments checked.
id=$(suite_psql -c "SELECT id FROM billing.mail_outbox ORDER BY created_at LIMIT 1")
args="{\"id\":\"$id\",\"organization_id\":\"$A_OID\",\"subject\":\"Again\",\"text\":\"The same id again.\"}"
out=$("$SB_BIN/sb-call" auth mail.admins "$args")
t_is "mail.admins again with an id already handled: 200, nothing queued" \
    "$(json_get "$out" .status) $(json_get "$out" .body.queued)" "200 0"
out=$("$SB_BIN/sb-call" auth mail.admins "{\"id\":\"nope\",\"organization_id\":\"$A_OID\",\"subject\":\"x\",\"text\":\"y\"}")
t_is "mail.admins with an id that is no UUID: 400" "$(json_get "$out" .status) $(json_get "$out" .error.code)" "400 validation_failed"
out=$("$SB_BIN/sb-call" -r user auth mail.admins "$args")
t_is "mail.admins as a user: refused" "$(json_get "$out" .status)" 403
sleep 1   # what the repeated call would have queued has had time to be sent
t_is "two billing mails to each admin, none to the plain user (the invitees' first is their invitation)" \
    "$(mail_count owner@dun.example) $(mail_count second@dun.example) $(mail_count user@dun.example)" "2 3 1"
t_done
