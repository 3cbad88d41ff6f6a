#!/usr/bin/env bash
# The referral program end to end through Stripe's own event: a referred
# organization's first paid invoice (invoice.paid with an amount, a signed
# webhook) credits both organizations' Stripe balances; a second paid
# invoice credits nothing more; a paid invoice of an organization that was
# never referred credits nothing; a zero-amount invoice (a trial's) does
# not count as paying.
#
# t3050 tests the referral rules (self-referral, unknown codes, Stripe
# down) through the internal referrals.paid; this one the path the product
# takes: webhook -> billing_referrals_paid -> the credits relay -> Stripe.
. "$(dirname "$0")/lib/auth.sh"
. "$(dirname "$0")/lib/stripe_events.sh"
suite_init
WEBHOOK_SECRET=whsec_test_referral
export SWITCHBOARD_STRIPE_WEBHOOK_SECRET=$WEBHOOK_SECRET
stripe_fake_start || t_bail "the fake Stripe API did not start"
export SWITCHBOARD_STRIPE_SECRET_KEY=$FAKE_STRIPE_KEY
suite_up
EV=$SUITE_TMP/events
mkdir -p "$EV"

signup A "owner@referrer.example" "$AUTH_PASSWORD" "Ann" "Referrer" || t_bail "signup A: $HTTP_BODY"
http_as "$A_AT" GET /v1/organization
code=$(json_get "$HTTP_BODY" .referral_code)
http POST /v1/auth/signup "$(jobj email=owner@referred.example password="$AUTH_PASSWORD" name=Bo organization_name=Referred referral_code="$code")"
t_status "B signs up with A's code" 201
session_take B
signup C "owner@plain.example" "$AUTH_PASSWORD" "Cy" "Plain" || t_bail "signup C: $HTTP_BODY"

pending () {
    http_as "$1" GET /v1/billing/credits
    [[ $(json_get "$HTTP_BODY" .pending_cents) == "$2" ]]
}
t_ok "both A and B hold a pending credit" eval 'poll_until 15 pending "$A_AT" 1000 && pending "$B_AT" 1000'

# Stripe customers made at the fake, stored as checkout would have.
declare -A cus=()
for p in A B C; do
    oid=${p}_OID
    cus[$p]=$(curl -s -X POST -H "Authorization: Bearer $FAKE_STRIPE_KEY" \
                   --data-urlencode "metadata[organization_id]=${!oid}" \
                   "$SWITCHBOARD_STRIPE_API_BASE/v1/customers" \
              | "$SUITE_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["id"])')
    suite_psql -c "INSERT INTO billing.subscriptions (organization_id, plan, status, stripe_customer_id, version)
                   VALUES ('${!oid}', 'free', 'active', '${cus[$p]}', 0)" >/dev/null
done

balance_count () {
    stripe_requests | "$SUITE_PYTHON" -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["method"] == "POST"
          and r["path"].endswith("/balance_transactions") and not r.get("replayed")
          and r.get("status") == 200))'
}
invoice () {    # invoice FILE EVENT_ID CUSTOMER AMOUNT
    local now
    now=$(date +%s)
    stripe_event "$1" "$2" invoice.paid "$now" \
        "{\"id\":\"in_$2\",\"object\":\"invoice\",\"customer\":\"$3\",\"amount_due\":$4,\"amount_paid\":$4,\"currency\":\"usd\",\"status\":\"paid\",\"created\":$now,\"number\":\"N-$2\"}"
}

invoice "$EV/zero.json" zero "${cus[B]}" 0
stripe_post "$EV/zero.json"
t_status "B's zero-amount invoice (a trial) is taken" 200
sleep 1
t_is "  and credits nothing" "$(balance_count)" 0

invoice "$EV/first.json" first "${cus[B]}" 2900
stripe_post "$EV/first.json"
t_status "B's first paid invoice: 200" 200
t_ok "  both credits reach Stripe as balance transactions" poll_until 15 eval '[[ $(balance_count) == 2 ]]'
t_ok "  A's credit is applied" poll_until 10 eval 'http_as "$A_AT" GET /v1/billing/credits; [[ $(json_get "$HTTP_BODY" .applied_cents) == 1000 ]]'
http_as "$B_AT" GET /v1/billing/credits
t_field "  B's too" .applied_cents 1000
t_is "  each a credit of 1000 cents to its own customer" "$(stripe_requests | "$SUITE_PYTHON" -c '
import json, sys
print(" ".join(sorted(r["path"].split("/")[3] + ":" + dict(r["form"])["amount"]
               for r in json.load(sys.stdin) if r["method"] == "POST"
               and r["path"].endswith("/balance_transactions") and not r.get("replayed")
               and r.get("status") == 200)))')" \
    "$(printf '%s\n' "${cus[A]}:-1000" "${cus[B]}:-1000" | sort | tr '\n' ' ' | sed 's/ $//')"

invoice "$EV/second.json" second "${cus[B]}" 2900
stripe_post "$EV/second.json"
t_status "B's second paid invoice: 200" 200
invoice "$EV/other.json" other "${cus[C]}" 2900
stripe_post "$EV/other.json"
t_status "C (never referred) pays: 200" 200
stripe_post "$EV/first.json"
t_field "the first invoice's event again: a duplicate" .duplicate true
sleep 2
t_is "no more credits for any of them" "$(balance_count)" 2
http_as "$C_AT" GET /v1/billing/credits
t_is "C has no credits" "$(json_len "$HTTP_BODY" .data)" 0
t_done
