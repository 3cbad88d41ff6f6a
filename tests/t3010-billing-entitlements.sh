#!/usr/bin/env bash
# Entitlements: billing-svc alone decides an organization's plan, and every
# process that enforces a limit applies a change of plan soon after it is
# made — the gateway's rate limit, tenant-svc's business and call quotas,
# auth-svc's seats, usage-svc's summary — through the subscription.changed
# event and, when that event is lost, through the per-second catch-up on
# billing's version number.
#
# A small catalogue (tests/fixtures/plans-billing.json; free: 3 calls, 1
# business, 2 seats, 60 requests/min;
# starter: 5 calls with overage at 5 cents, 3 businesses, 5 seats, 300/min)
# keeps the counts short. Plans change here through the operator's route
# (PUT /v1/sys/subscriptions/{org}, a plan given outside Stripe), which
# writes the subscription the same way a Stripe webhook does.
#
# Checked: the public catalogue; a new organization on free (headers,
# quotas, /v1/me, /v1/billing/subscription); an upgrade applied by every
# enforcer (RateLimit-Limit 300, a 2nd and 3rd business, seats up to 5,
# calls beyond 5 accepted as overage); the spending cap (5 + cap/5 calls,
# then 402 again; null lifts it); a downgrade that keeps what exists,
# refuses new creations with 402 and lists over_limits; a change written
# without its event, applied by the catch-up; billing-svc stopped: known
# organizations keep working, an organization never seen gets 503 (never a
# guessed plan), and recovers when billing-svc is back; bad input to the
# new routes.
. "$(dirname "$0")/lib/auth.sh"
suite_init
export SWITCHBOARD_PLANS_FILE=$SUITE_ROOT/tests/fixtures/plans-billing.json
suite_up

# ---- the catalogue, public -------------------------------------------------
http GET /v1/billing/plans
t_status "GET /v1/billing/plans needs no credential" 200
t_is "three plans, in catalogue order" "$(json_lines "$HTTP_BODY" '.data[0].id' '.data[1].id' '.data[2].id' | tr '\n' ' ')" "free starter pro "
t_is "prices and limits as the file says" \
    "$(json_lines "$HTTP_BODY" '.data[1].price_cents' '.data[1].currency' '.data[1].limits.calls_per_month' '.data[1].limits.businesses' '.data[1].features[0]' '.data[1].overage.calls.unit_amount_cents' | tr '\n' ' ')" \
    "2900 USD 5 3 analytics 5 "
t_is "free has no overage" "$(json_get "$HTTP_BODY" '.data[0].overage')" "null"
t_is "referral credit" "$(json_get "$HTTP_BODY" .referral_credit_cents)" 700
t_lacks "no Stripe price ids leak" "$HTTP_BODY" "price_starter"

# ---- a new organization: free ---------------------------------------------
signup A "a@ent.example" "$AUTH_PASSWORD" "Ann" "Ent A" || t_bail "signup failed: $HTTP_BODY"
http_as "$A_AT" GET /v1/me
t_field "/v1/me says free" .plan free
t_is "RateLimit-Limit is free's 60" "$(http_header RateLimit-Limit)" 60
http_as "$A_AT" GET /v1/billing/subscription
t_status "GET /v1/billing/subscription" 200
t_is "free, active, nothing over" "$(json_lines "$HTTP_BODY" .plan .status .over_limits | tr '\n' ' ')" 'free active [] '
t_field "  no spending cap" .spending_cap_cents null
t_field "  with the limits in force" .limits.businesses 1

biz='{"name":"Shop","phone_number":"+14155550101","timezone":"America/New_York"}'
http_as "$A_AT" POST /v1/businesses "$biz"
t_status "a first business" 201
business=$(json_get "$HTTP_BODY" .id)
http_as "$A_AT" POST /v1/businesses "$biz"
t_error "a second one on free: 402" 402 plan_limit_reached
t_is "  with limit and used" "$(json_lines "$HTTP_BODY" .error.limit .error.used | tr '\n' ' ')" "1 1 "
call () {
    http_as "$A_AT" POST /v1/calls "{\"business_id\":\"$business\",\"caller_number\":\"+14155550199\",\"started_at\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"duration_seconds\":30,\"status\":\"completed\"}"
}
for i in 1 2 3; do call; done
t_status "three calls on free" 201
call
t_error "the fourth: 402" 402 plan_limit_reached
http_as "$A_AT" POST /v1/invitations '{"email":"b@ent.example","role":"user"}'
t_status "a second seat (an invitation)" 201
http_as "$A_AT" POST /v1/invitations '{"email":"c@ent.example","role":"user"}'
t_error "a third seat on free: 402" 402 plan_limit_reached

# ---- upgrade ---------------------------------------------------------------
http_op PUT "/v1/sys/subscriptions/$A_OID" '{"plan":"starter"}'
t_status "the operator puts A on starter" 200
t_field "  a new version" .plan starter
rate_is () {
    http_as "$A_AT" GET /v1/me
    [[ $(http_header RateLimit-Limit) == "$1" ]]
}
t_ok "the gateway's limit follows: RateLimit-Limit 300" poll_until 5 rate_is 300
http_as "$A_AT" GET /v1/me
t_field "/v1/me says starter" .plan starter
http_as "$A_AT" POST /v1/businesses "$biz"
t_status "tenant-svc: a second business" 201
http_as "$A_AT" POST /v1/businesses "$biz"
t_status "  a third" 201
http_as "$A_AT" POST /v1/businesses "$biz"
t_error "  a fourth: 402" 402 plan_limit_reached
for e in c d e; do http_as "$A_AT" POST /v1/invitations "{\"email\":\"$e@ent.example\",\"role\":\"user\"}"; done
t_status "auth-svc: seats up to five" 201
http_as "$A_AT" POST /v1/invitations '{"email":"f@ent.example","role":"user"}'
t_error "  a sixth: 402" 402 plan_limit_reached
for i in 4 5 6 7 8; do call; done
t_status "calls beyond starter's five are overage, accepted" 201
http_as "$A_AT" GET /v1/usage/summary
t_field "usage-svc's summary says starter" .plan starter
t_field "  calls unlimited while no cap is set" .metrics.calls.limit -1

# ---- the spending cap --------------------------------------------------------
http_as "$A_AT" PUT /v1/billing/spending-cap '{"spending_cap_cents":25}'
t_status "an admin sets a spending cap of 25 cents" 200
t_field "  answered" .spending_cap_cents 25
# 5 included + 25/5 = 10 calls this month; 8 made.
capped () { call; [[ $HTTP_STATUS == 201 ]]; }
t_ok "the 9th call passes (the cap applies within seconds)" poll_until 5 eval 'http_as "$A_AT" GET /v1/usage/summary; [[ $(json_get "$HTTP_BODY" .metrics.calls.limit) == 10 ]]'
call; call
t_status "the 9th and 10th calls" 201
call
t_error "the 11th is beyond the cap: 402" 402 plan_limit_reached
t_field "  the limit is plan + cap" .error.limit 10
t_like "  saying the spending cap is reached" "$(json_get "$HTTP_BODY" .error.message)" "spending cap"

http_as "$A_AT" GET /v1/billing/subscription
t_field "the subscription shows the cap" .spending_cap_cents 25
http_as "$A_AT" PUT /v1/billing/spending-cap '{"spending_cap_cents":-1}'
t_error "a negative cap: 400" 400 validation_failed
http_as "$A_AT" PUT /v1/billing/spending-cap '{"spending_cap_cents":"lots"}'
t_error "a string: 400" 400 validation_failed
http_as "$A_AT" PUT /v1/billing/spending-cap '{}'
t_error "missing: 400" 400 validation_failed
http_as "$A_AT" PUT /v1/billing/spending-cap '{"spending_cap_cents":null}'
t_status "null lifts the cap" 200
t_ok "  and calls flow again" poll_until 5 capped

# ---- downgrade ---------------------------------------------------------------
http_op PUT "/v1/sys/subscriptions/$A_OID" '{"plan":"free"}'
t_status "back to free" 200
t_ok "RateLimit-Limit 60 again" poll_until 5 rate_is 60
http_as "$A_AT" GET /v1/businesses
t_is "the three businesses stay" "$(json_len "$HTTP_BODY" .data)" 3
http_as "$A_AT" POST /v1/businesses "$biz"
t_error "a new one: 402" 402 plan_limit_reached
http_as "$A_AT" POST /v1/invitations '{"email":"g@ent.example","role":"user"}'
t_error "a new seat: 402" 402 plan_limit_reached
call
t_error "a new call: 402" 402 plan_limit_reached
http_as "$A_AT" GET /v1/billing/subscription
t_is "over_limits names all three" "$(json_get "$HTTP_BODY" .over_limits)" '["businesses","seats","calls_per_month"]'
t_field "  and says it is complete" .over_limits_incomplete false
t_field "  with what is used" .usage.businesses 3

# ---- a change whose event is lost -------------------------------------------
# Written as billing_sub_save writes it (the next version), with no event:
# only the catch-up can tell the gateway.
suite_psql <<EOF
BEGIN;
UPDATE billing.versions SET version = version + 1 WHERE name = 'entitlements';
UPDATE billing.subscriptions SET plan = 'pro',
       version = (SELECT version FROM billing.versions WHERE name = 'entitlements')
 WHERE organization_id = '$A_OID';
COMMIT;
EOF
t_ok "a change without its event reaches the gateway (RateLimit-Limit 1200)" poll_until 5 rate_is 1200
# tenant-svc catches up on its own (its own once-a-second poll, not the
# gateway's): a 402 meanwhile creates nothing.
fourth () { http_as "$A_AT" POST /v1/businesses "$biz"; [[ $HTTP_STATUS == 201 ]]; }
t_ok "  and tenant-svc (a fourth business on pro)" poll_until 5 fourth

# ---- billing-svc down --------------------------------------------------------
signup B "b@other.example" "$AUTH_PASSWORD" "Bo" "Ent B" || t_bail "signup B failed"
suite_stop billing-1
http_as "$A_AT" GET /v1/businesses
t_status "billing down: a known organization is served" 200
t_is "  on its plan" "$(http_header RateLimit-Limit)" 1200
http_as "$B_AT" GET /v1/businesses
t_error "an organization never seen: 503, not a guessed plan" 503 service_unavailable
t_like "  with Retry-After" "$(http_header Retry-After)" '^[0-9]+$'
suite_start_service billing
t_within "billing back: it is served" 20 200 GET /v1/businesses "" -H "Authorization: Bearer $B_AT"
t_is "  on free" "$(http_header RateLimit-Limit)" 60

# ---- bad input ---------------------------------------------------------------
http_op PUT "/v1/sys/subscriptions/$A_OID" '{"plan":"gold"}'
t_error "an unknown plan: 400" 400 validation_failed
http_op PUT "/v1/sys/subscriptions/$A_OID" '{"plan":"pro","status":"sleeping"}'
t_error "an unknown status: 400" 400 validation_failed
http_op PUT "/v1/sys/subscriptions/not-a-uuid" '{"plan":"pro"}'
t_error "not an organization id: 400" 400 validation_failed
http PUT "/v1/sys/subscriptions/$A_OID" '{"plan":"pro"}' -H "Authorization: Bearer $A_AT"
t_error "the route is the operator's only" 401 unauthenticated
http_as "$B_AT" PUT /v1/billing/spending-cap '{"spending_cap_cents":5}'
t_status "B's admin may set B's cap" 200
login A2 "a@ent.example" "$AUTH_PASSWORD"
http_as "$A_AT" GET /v1/billing/subscription
t_field "A's cap is untouched by B's" .spending_cap_cents null
t_done
