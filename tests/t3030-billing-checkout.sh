#!/usr/bin/env bash
# Billing: Stripe Checkout and the billing portal against the fake Stripe
# API (POST /v1/billing/checkout, POST /v1/billing/portal).
#
# The catalogue is the shipped one with an overage on starter only (calls,
# 5 cents; none on pro), synced into the fake by `billing-svc stripe-sync --write` (so the
# prices exist there); enterprise's price is then taken out of the written
# file (a plan not synced yet).
#
# Checked: without SWITCHBOARD_STRIPE_SECRET_KEY both routes answer 503
# billing_not_configured and nothing reaches Stripe. Then with the key and
# TWO billing workers: bad input (free, unknown and unsynced plans, URLs
# not http(s), too long, missing) 400 naming the field; a user-role key
# 403; the portal before any checkout 409 no_billing_account. A first
# checkout creates the customer (exact form, Idempotency-Key
# switchboard-customer-<org>, Bearer key, Stripe-Version, form content
# type) and the session (exact form: subscription mode, the plan's price
# with quantity 1, the metered overage price without quantity, the
# customer, the organization in client_reference_id and both metadata,
# the URLs; a key of its own), answers the session's URL and id, stores
# the customer, and changes no plan. A second checkout (pro: no overage
# line) reuses the stored customer without asking Stripe. A client's
# Idempotency-Key: a retry gets the same session (Stripe replays it), the
# same key with another plan 422. The portal for the stored customer.
# Eight concurrent first checkouts of another organization: one customer
# at Stripe (other requests replays of the one key), every session for it,
# it stored. Stripe failing: two 500s then success (retried with the same
# key); an injected 402 (502 stripe_error with Stripe's message and
# request id, not retried); a Stripe that closes every connection (502
# stripe_unavailable, for the customer and the session call, nothing
# stored); a Stripe that answers after 20 s, with ONE billing-svc process:
# the checkout answers 502 stripe_unavailable by its bound while the same
# process applies a Stripe webhook and answers GET /v1/billing/plans and
# /v1/billing/subscription meanwhile (checkouts run on its "stripe" lane, a worker thread of their
# own registered as billing.stripe, so Stripe's slowness holds up nothing
# else). An
# organization with a live Stripe subscription: 409 (the portal changes
# plans).
. "$(dirname "$0")/lib/auth.sh"
. "$(dirname "$0")/lib/stripe_events.sh"
suite_init
WEBHOOK_SECRET=whsec_test_checkout
export SWITCHBOARD_STRIPE_WEBHOOK_SECRET=$WEBHOOK_SECRET
stripe_fake_start || t_bail "the fake Stripe API did not start"

CATALOGUE=$SUITE_TMP/plans-overage.json
PLANS=$SUITE_TMP/plans.json
"$SUITE_PYTHON" - "$SUITE_ROOT/deploy/plans.json" "$CATALOGUE" <<'PY' || t_bail "cannot write the catalogue"
import json, sys
doc = json.load(open(sys.argv[1]))
for plan in doc["plans"]:
    if plan["id"] == "starter":
        plan["overage"] = {"calls": {"unit_amount_cents": 5, "stripe_price_id": None,
                                     "meter_event_name": "switchboard_calls"}}
    else:
        plan.pop("overage", None)
json.dump(doc, open(sys.argv[2], "w"), indent=1)
PY
SWITCHBOARD_PLANS_FILE=$CATALOGUE "$SB_BIN/billing-svc" stripe-sync --write "$PLANS" \
    >"$SUITE_TMP/sync.out" 2>&1 || t_bail "stripe-sync failed: $(cat "$SUITE_TMP/sync.out")"
"$SUITE_PYTHON" - "$PLANS" <<'PY' || t_bail "cannot edit the catalogue"
import json, sys
doc = json.load(open(sys.argv[1]))
for plan in doc["plans"]:
    if plan["id"] == "enterprise":
        plan["stripe_price_id"] = None
json.dump(doc, open(sys.argv[1], "w"), indent=1)
PY
export SWITCHBOARD_PLANS_FILE=$PLANS
price () {
    "$SUITE_PYTHON" -c '
import json, sys
plan = [p for p in json.load(open(sys.argv[1]))["plans"] if p["id"] == sys.argv[2]][0]
print(plan["overage"]["calls"]["stripe_price_id"] if sys.argv[3] == "overage" else plan["stripe_price_id"])' \
        "$PLANS" "$1" "${2:-plan}"
}
P_STARTER=$(price starter)
P_OVERAGE=$(price starter overage)
P_PRO=$(price pro)
[[ $P_STARTER == price_* && $P_OVERAGE == price_* && $P_PRO == price_* ]] \
    || t_bail "stripe-sync wrote no prices: $(cat "$SUITE_TMP/sync.out")"

# snap: the fake's request log into a file for py; py EXPR prints EXPR
# evaluated with R (every request), C, S, P (the POSTs creating customers,
# checkout sessions, portal sessions), form (a request's form as a dict)
# and of (those of an organization, by metadata or customer).
snap () { stripe_requests >"$SUITE_TMP/requests.json"; }
py () {
    "$SUITE_PYTHON" -c '
import json, sys
R = json.load(open(sys.argv[1]))
def posts(path): return [r for r in R if r["method"] == "POST" and r["path"] == path]
C = posts("/v1/customers"); S = posts("/v1/checkout/sessions")
P = posts("/v1/billing_portal/sessions")
def form(r): return dict(r["form"])
def of(rs, org): return [r for r in rs if form(r).get("metadata[organization_id]") == org]
print(eval(sys.argv[2]))' "$SUITE_TMP/requests.json" "$1"
}
stored_customer () {
    suite_psql -c "SELECT coalesce (stripe_customer_id, '') FROM billing.subscriptions WHERE organization_id = '$1'"
}

OK_URL='https://app.example/billing/done?session_id={CHECKOUT_SESSION_ID}'
CANCEL_URL='https://app.example/billing'
checkout_body () { jobj plan="$1" success_url="$OK_URL" cancel_url="$CANCEL_URL"; }

# ---- not configured ---------------------------------------------------------------
unset SWITCHBOARD_STRIPE_SECRET_KEY
suite_up
signup A "a@checkout.example" "$AUTH_PASSWORD" "Ann" "Checkout A" || t_bail "signup failed: $HTTP_BODY"
http_as "$A_AT" POST /v1/billing/checkout "$(checkout_body starter)"
t_error "no Stripe key: checkout 503" 503 billing_not_configured
http_as "$A_AT" POST /v1/billing/portal "$(jobj return_url="$CANCEL_URL")"
t_error "no Stripe key: portal 503" 503 billing_not_configured
snap
t_is "  nothing reached Stripe" "$(py "len(C) + len(S) + len(P)")" 0

# ---- with the key, two billing workers ----------------------------------------------
export SWITCHBOARD_STRIPE_SECRET_KEY=$FAKE_STRIPE_KEY
suite_stop billing-1
suite_start_service billing 1 || t_bail "billing-1 did not start"
suite_start_service billing 2 || t_bail "billing-2 did not start"
two_workers () {
    http GET /readyz
    [[ $(json_get "$HTTP_BODY" .services.billing) == 2 ]]
}
poll_until 30 two_workers || t_bail "two billing workers did not register: $HTTP_BODY"

http_as "$A_AT" POST /v1/billing/checkout "$(checkout_body free)"
t_error "the free plan: 400" 400 validation_failed
t_like "  naming plan" "$(json_get "$HTTP_BODY" .error.fields.plan)" "not purchasable"
http_as "$A_AT" POST /v1/billing/checkout "$(checkout_body platinum)"
t_error "an unknown plan: 400" 400 validation_failed
t_like "  naming plan" "$(json_get "$HTTP_BODY" .error.fields.plan)" "not a plan"
http_as "$A_AT" POST /v1/billing/checkout "$(checkout_body enterprise)"
t_error "a plan without a Stripe price: 400" 400 validation_failed
t_like "  says to run stripe-sync" "$(json_get "$HTTP_BODY" .error.fields.plan)" "stripe-sync"
http_as "$A_AT" POST /v1/billing/checkout \
    "$(jobj plan=starter success_url=ftp://app.example/ok cancel_url="javascript:alert(1)")"
t_error "URLs not http(s): 400" 400 validation_failed
t_is "  both named" "$(json_lines "$HTTP_BODY" .error.fields.success_url .error.fields.cancel_url | grep -c 'http or https')" 2
long="https://app.example/$(printf 'a%.0s' $(seq 1 2030))"
http_as "$A_AT" POST /v1/billing/checkout "$(jobj plan=starter success_url="$long" cancel_url="$CANCEL_URL")"
t_error "a URL over 2048 characters: 400" 400 validation_failed
t_like "  naming success_url" "$(json_get "$HTTP_BODY" .error.fields.success_url)" "."
http_as "$A_AT" POST /v1/billing/checkout "$(jobj plan=starter success_url="https://a b.example/" cancel_url="$CANCEL_URL")"
t_error "a URL with a space: 400" 400 validation_failed
http_as "$A_AT" POST /v1/billing/checkout "$(jobj plan=starter success_url="$OK_URL")"
t_error "cancel_url missing: 400" 400 validation_failed
t_field "  is required" .error.fields.cancel_url "is required"
http_as "$A_AT" POST /v1/billing/portal '{}'
t_error "portal without return_url: 400" 400 validation_failed

http_as "$A_AT" POST /v1/api-keys "$(jobj name="robot")"
t_status "a user-role API key" 201
user_key=$(json_get "$HTTP_BODY" .key)
http_key "$user_key" POST /v1/billing/checkout "$(checkout_body starter)"
t_error "a user: checkout 403" 403 forbidden
http_key "$user_key" POST /v1/billing/portal "$(jobj return_url="$CANCEL_URL")"
t_error "a user: portal 403" 403 forbidden
http_as "$A_AT" POST /v1/billing/portal "$(jobj return_url="$CANCEL_URL")"
t_error "the portal before any checkout: 409" 409 no_billing_account
snap
t_is "  none of these reached Stripe" "$(py "len(C) + len(S) + len(P)")" 0

# ---- a first checkout ------------------------------------------------------------------
http_as "$A_AT" POST /v1/billing/checkout "$(checkout_body starter)"
t_status "checkout starter: 200" 200
session=$(json_get "$HTTP_BODY" .session_id)
t_like "  a session id" "$session" '^cs_test_'
t_field "  its URL" .checkout_url "https://checkout.stripe.test/c/pay/$session"
snap
customer=$(stripe_objects | "$SUITE_PYTHON" -c 'import json, sys; print(" ".join(c["id"] for c in json.load(sys.stdin)["customers"]))')
t_like "one customer at Stripe" "$customer" '^cus_[A-Za-z0-9]+$'
t_is "the customer's form: the organization only" "$(py "C[0]['form']")" \
    "[['metadata[organization_id]', '$A_OID']]"
t_is "  Idempotency-Key from the organization" "$(py "C[0]['headers'].get('idempotency-key')")" \
    "switchboard-customer-$A_OID"
t_is "  Bearer key, Stripe-Version, form-encoded" \
    "$(py "[C[0]['headers'].get(h) for h in ('authorization', 'stripe-version', 'content-type')]")" \
    "['Bearer $FAKE_STRIPE_KEY', '2025-03-31.basil', 'application/x-www-form-urlencoded']"
t_is "the session's form" "$(py "S[0]['form']")" \
    "[['mode', 'subscription'], ['line_items[0][price]', '$P_STARTER'], ['line_items[0][quantity]', '1'], ['line_items[1][price]', '$P_OVERAGE'], ['customer', '$customer'], ['client_reference_id', '$A_OID'], ['metadata[organization_id]', '$A_OID'], ['metadata[plan]', 'starter'], ['subscription_data[metadata][organization_id]', '$A_OID'], ['subscription_data[metadata][plan]', 'starter'], ['success_url', '$OK_URL'], ['cancel_url', '$CANCEL_URL']]"
t_like "  the URL percent-encoded in the raw body" "$(py "S[0]['body']")" \
    'success_url=https%3A%2F%2Fapp.example%2Fbilling%2Fdone%3Fsession_id%3D%7BCHECKOUT_SESSION_ID%7D&'
t_is "  Bearer key, Stripe-Version, form-encoded" \
    "$(py "[S[0]['headers'].get(h) for h in ('authorization', 'stripe-version', 'content-type')]")" \
    "['Bearer $FAKE_STRIPE_KEY', '2025-03-31.basil', 'application/x-www-form-urlencoded']"
t_like "  an Idempotency-Key of its own" "$(py "S[0]['headers'].get('idempotency-key')")" \
    '^switchboard-checkout-r-[0-9a-f]{32}$'
t_is "the customer is stored" "$(stored_customer "$A_OID")" "$customer"
http_as "$A_AT" GET /v1/billing/subscription
t_is "  and the plan has not changed (the webhooks change it)" \
    "$(json_lines "$HTTP_BODY" .plan .status | tr '\n' ' ')" "free active "

# ---- a second checkout reuses the customer -----------------------------------------------
http_as "$A_AT" POST /v1/billing/checkout "$(checkout_body pro)"
t_status "checkout pro: 200" 200
snap
t_is "  no new customer request" "$(py "len(C)")" 1
t_is "  the session for the stored customer, no overage line" \
    "$(py "[(f.get('customer'), f.get('line_items[0][price]'), 'line_items[1][price]' in f) for f in [form(S[-1])]]")" \
    "[('$customer', '$P_PRO', False)]"

# ---- the client's Idempotency-Key ------------------------------------------------------
http_as "$A_AT" POST /v1/billing/checkout "$(checkout_body starter)" -H 'Idempotency-Key: retry-me-1'
t_status "with an Idempotency-Key: 200" 200
first=$(json_get "$HTTP_BODY" .session_id)
http_as "$A_AT" POST /v1/billing/checkout "$(checkout_body starter)" -H 'Idempotency-Key: retry-me-1'
t_status "  the retry: 200" 200
t_field "  the same session" .session_id "$first"
snap
t_is "  Stripe replayed it under one derived key" \
    "$(py "[(r['replayed'], r['headers']['idempotency-key'] == S[-2]['headers']['idempotency-key'], r['headers']['idempotency-key'].startswith('switchboard-checkout-c-')) for r in S[-2:]]")" \
    "[(False, True, True), (True, True, True)]"
http_as "$A_AT" POST /v1/billing/checkout "$(checkout_body starter)" -H 'Idempotency-Key: retry-me-2'
t_status "  another key: 200" 200
t_isnt "  another session" "$(json_get "$HTTP_BODY" .session_id)" "$first"
http_as "$A_AT" POST /v1/billing/checkout "$(checkout_body pro)" -H 'Idempotency-Key: retry-me-1'
t_error "  the first key with another plan: 422" 422 idempotency_key_reused

# ---- the portal -----------------------------------------------------------------------------
http_as "$A_AT" POST /v1/billing/portal "$(jobj return_url="$CANCEL_URL")"
t_status "the portal: 200" 200
t_like "  its URL" "$(json_get "$HTTP_BODY" .url)" '^https://billing\.stripe\.test/p/session/'
snap
t_is "  the portal session's form" "$(py "P[-1]['form']")" \
    "[['customer', '$customer'], ['return_url', '$CANCEL_URL']]"
t_like "  with an Idempotency-Key" "$(py "P[-1]['headers'].get('idempotency-key')")" '^switchboard-portal-r-'

# ---- concurrent first checkouts: one customer -----------------------------------------------
signup B "b@checkout.example" "$AUTH_PASSWORD" "Bo" "Checkout B" || t_bail "signup failed: $HTTP_BODY"
# Each Stripe answer half a second late: both workers are inside the
# customer's creation at once (neither has stored it yet).
stripe_config '{"delay_ms": 500}' >/dev/null
pids=()
for i in 1 2 3 4 5 6 7 8; do
    ( http_as "$B_AT" POST /v1/billing/checkout "$(checkout_body starter)"
      printf '%s %s\n' "$HTTP_STATUS" "$(json_get "$HTTP_BODY" .session_id)" >"$SUITE_TMP/par.$i"
      [ "$HTTP_STATUS" = 200 ] || printf '%s\n' "$HTTP_BODY" >"$SUITE_TMP/par-body.$i" ) &
    pids+=($!)
done
wait "${pids[@]}"
stripe_config '{"delay_ms": 0}' >/dev/null
for f in "$SUITE_TMP"/par-body.*; do
    [ -e "$f" ] && t_diag "  a checkout's answer: $(cat "$f")"
done
t_is "8 concurrent checkouts: all 200" "$(cat "$SUITE_TMP"/par.* | cut -d' ' -f1 | sort | uniq -c | tr -s ' ')" " 8 200"
t_is "  8 sessions" "$(cat "$SUITE_TMP"/par.* | cut -d' ' -f2 | grep -c '^cs_test_')" 8
snap
b_customer=$(stripe_objects | "$SUITE_PYTHON" -c '
import json, sys
print(" ".join(c["id"] for c in json.load(sys.stdin)["customers"] if c["metadata"].get("organization_id") == sys.argv[1]))' "$B_OID")
t_like "  one customer at Stripe for B" "$b_customer" '^cus_[A-Za-z0-9]+$'
t_ok "  the race happened: both workers asked Stripe for B's customer" \
    test "$(py "len(of(C, '$B_OID'))")" -ge 2
t_is "  the customer requests: one created, the others replays of the one key" \
    "$(py "(len([r for r in of(C, '$B_OID') if r['status'] == 200 and not r['replayed']]), sorted(set(r['headers']['idempotency-key'] for r in of(C, '$B_OID'))))")" \
    "(1, ['switchboard-customer-$B_OID'])"
t_is "  every session of B for that customer" \
    "$(py "sorted(set((form(r).get('customer'), r['status']) for r in of(S, '$B_OID')))")" \
    "[('$b_customer', 200)]"
t_is "  8 sessions created at Stripe" "$(py "len([r for r in of(S, '$B_OID') if r['status'] == 200])")" 8
t_is "  the customer stored" "$(stored_customer "$B_OID")" "$b_customer"

# ---- Stripe failing ----------------------------------------------------------------------------
stripe_config '{"fail": {"path": "/v1/checkout/sessions", "status": 500, "count": 2}}' >/dev/null
http_as "$A_AT" POST /v1/billing/checkout "$(checkout_body starter)"
t_status "two 500s then success: 200" 200
snap
t_is "  three attempts with one key" \
    "$(py "([r['status'] for r in S[-3:]], len(set(r['headers']['idempotency-key'] for r in S[-3:])))")" \
    "([500, 500, 200], 1)"

stripe_config '{"fail": {"path": "/v1/checkout/sessions", "status": 402, "count": 1}}' >/dev/null
http_as "$A_AT" POST /v1/billing/checkout "$(checkout_body starter)"
t_error "Stripe answers 402: 502" 502 stripe_error
t_like "  with Stripe's message" "$(json_get "$HTTP_BODY" .error.message)" 'injected failure'
t_like "  and its request id" "$(json_get "$HTTP_BODY" .error.stripe_request_id)" '^req_'
t_field "  and its status" .error.stripe_status 402
snap
t_is "  not retried" "$(py "S[-1]['status']")" 402
stripe_config '{"fail": null}' >/dev/null

stripe_config '{"down": true}' >/dev/null
http_as "$A_AT" POST /v1/billing/checkout "$(checkout_body starter)"
t_error "Stripe closes every connection: 502" 502 stripe_unavailable
signup C "c@checkout.example" "$AUTH_PASSWORD" "Cy" "Checkout C" || t_bail "signup failed: $HTTP_BODY"
http_as "$C_AT" POST /v1/billing/checkout "$(checkout_body starter)"
t_error "  also when creating the customer: 502" 502 stripe_unavailable
t_is "  no customer stored" "$(stored_customer "$C_OID")" ""
stripe_config '{"down": false}' >/dev/null

# ---- Stripe slow: bounded, and the same process serves the rest ---------------------------------
suite_stop billing-2
one_worker () {
    http GET /readyz
    [[ $(json_get "$HTTP_BODY" .services.billing) == 1 ]]
}
poll_until 30 one_worker || t_bail "billing-2 did not leave: $HTTP_BODY"
stripe_config '{"delay_ms": 20000}' >/dev/null
started=$SECONDS
( http_as "$C_AT" POST /v1/billing/checkout "$(checkout_body starter)"
  printf '%s %s\n' "$HTTP_STATUS" "$(json_get "$HTTP_BODY" .error.code)" >"$SUITE_TMP/slow" ) &
slow=$!
sleep 1                     # for the checkout to reach a worker (no assertion on it)
served=0
for i in 1 2 3; do
    http_as "$A_AT" GET /v1/billing/plans
    [[ $HTTP_STATUS == 200 ]] && served=$((served + 1))
    http_as "$A_AT" GET /v1/billing/subscription
    [[ $HTTP_STATUS == 200 ]] && served=$((served + 1))
done
# Stripe's webhook meanwhile: A's subscription is on pro now.
now=$(date +%s)
stripe_event "$SUITE_TMP/slow-event.json" evt_while_slow customer.subscription.updated "$now" \
    "{\"id\":\"sub_slow\",\"object\":\"subscription\",\"customer\":\"$customer\",\"status\":\"active\",\"cancel_at_period_end\":false,\"metadata\":{\"organization_id\":\"$A_OID\"},\"items\":{\"object\":\"list\",\"data\":[{\"id\":\"si_slow\",\"price\":{\"id\":\"$P_PRO\"},\"current_period_start\":$now,\"current_period_end\":$((now + 2592000))}]}}"
stripe_post "$SUITE_TMP/slow-event.json"
t_is "  a webhook meanwhile is applied at once" "$HTTP_STATUS $(json_get "$HTTP_BODY" .outcome)" "200 applied"
http_as "$A_AT" GET /v1/billing/subscription
t_field "  A is on pro" .plan pro
t_ok "  while it hangs, the checkout is still waiting" kill -0 "$slow"
t_is "  billing-svc's own worker answered 6 billing requests meanwhile" "$served" 6
wait "$slow"
t_is "a slow Stripe: the checkout answers 502 stripe_unavailable" "$(cat "$SUITE_TMP/slow")" "502 stripe_unavailable"
t_note "  (answered after $((SECONDS - started)) s; the bound is 10 s of Stripe calls)"
stripe_config '{"delay_ms": 0}' >/dev/null
http_as "$C_AT" POST /v1/billing/checkout "$(checkout_body starter)"
t_status "Stripe back: C's checkout 200" 200
t_like "  C's customer stored now" "$(stored_customer "$C_OID")" '^cus_'

# ---- a live subscription: the portal changes plans ----------------------------------------------
suite_psql -c "UPDATE billing.subscriptions SET stripe_subscription_id = 'sub_test_live', plan = 'starter' WHERE organization_id = '$A_OID'"
http_as "$A_AT" POST /v1/billing/checkout "$(checkout_body pro)"
t_error "a live Stripe subscription: 409" 409 conflict
t_like "  pointing to the portal" "$(json_get "$HTTP_BODY" .error.message)" "portal"
t_lacks "no secret key in the answers" "$HTTP_BODY" "$FAKE_STRIPE_KEY"
t_ok "no secret key in billing's logs" eval '! grep -q "$FAKE_STRIPE_KEY" "$SUITE_TMP"/log/billing-*.log'

t_done
