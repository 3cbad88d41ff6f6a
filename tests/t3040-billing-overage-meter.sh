#!/usr/bin/env bash
# Usage-based overage reported to Stripe meter events, exactly once:
# billing-svc's reporter (billing_meter.c, a round every
# SWITCHBOARD_BILLING_METER_INTERVAL_MS, 500 ms here) records the calls
# beyond the plan in billing.meter_reports before it sends them, and sends
# each row under its own identifier (also the Idempotency-Key) until the
# fake Stripe acknowledges it.
#
# A small catalogue (free: 3 calls; starter: 5 calls, overage 5 cents with
# meter event switchboard_calls). Organization A is on starter with a
# Stripe customer (the operator's route, then the customer id written with
# psql, as a checkout would have); N is on starter without a customer; F is
# on free with a customer and a usage counter forced far beyond free's
# calls.
#
# Checked: 8 calls → meter events summing 3, each identifier once, in
# Stripe's form (event name, customer, value, timestamp, Idempotency-Key =
# identifier); more calls → only the difference; the subscription shows the
# month's overage; a crash of billing-svc while a meter event is in flight
# (the fake slow) → the row was recorded before the call and is re-sent
# under the same identifier after the restart: one event counted; Stripe
# down → the row stays pending, then is sent once Stripe is back; a re-send
# after Stripe forgot the Idempotency-Key (its 24 h) is refused as a
# duplicate identifier and taken as delivered, nothing counted twice; N and
# F are never reported; the spending cap (on N): calls beyond plan +
# cap/unit get 402; usage.counts' bad input.
. "$(dirname "$0")/lib/auth.sh"
. "$(dirname "$0")/lib/stripe.sh"
suite_init
plans=$SUITE_TMP/plans.json
cat > "$plans" <<'EOF'
{"plans": [
  {"id": "free", "name": "Free", "price_cents": 0, "currency": "USD", "interval": "month",
   "stripe_price_id": null,
   "limits": {"calls_per_month": 3, "businesses": 1, "seats": 2, "api_requests_per_minute": 600},
   "features": []},
  {"id": "starter", "name": "Starter", "price_cents": 2900, "currency": "USD", "interval": "month",
   "stripe_price_id": "price_starter",
   "limits": {"calls_per_month": 5, "businesses": 3, "seats": 5, "api_requests_per_minute": 600},
   "features": [],
   "overage": {"calls": {"unit_amount_cents": 5, "stripe_price_id": "price_over", "meter_event_name": "switchboard_calls"}}}
 ],
 "referral_credit_cents": 0}
EOF
export SWITCHBOARD_PLANS_FILE=$plans
export SWITCHBOARD_BILLING_METER_INTERVAL_MS=500
stripe_fake_start || t_bail "the fake Stripe did not start"
suite_up

# The fake's meter events for customer $1 as "accepted sum duplicates
# distinct-identifiers-accepted", or one field of an event.
_METER_PY='
import json, sys
events = [e for e in json.load(sys.stdin)["meter_events"]
          if e["payload"].get("stripe_customer_id") == sys.argv[1]]
ok = [e for e in events if not e["duplicate"]]
print(len(ok), sum(int(e["payload"]["value"]) for e in ok),
      len(events) - len(ok), len(set(e["identifier"] for e in ok)))
'
meters () { stripe_objects | "$SUITE_PYTHON" -c "$_METER_PY" "$1"; }
# The sum of the accepted meter events of customer $1 is $2.
meter_sum_is () { [[ $(meters "$1" | cut -d' ' -f2) == "$2" ]]; }
pending () {
    suite_psql -c "SELECT count(*) FROM billing.meter_reports WHERE reported_at IS NULL"
}
no_pending () { [[ $(pending) == 0 ]]; }

signup A "a@meter.example" "$AUTH_PASSWORD" "Ann" "Meter A" || t_bail "signup A failed: $HTTP_BODY"
signup N "n@meter.example" "$AUTH_PASSWORD" "Ned" "Meter N" || t_bail "signup N failed: $HTTP_BODY"
signup F "f@meter.example" "$AUTH_PASSWORD" "Fay" "Meter F" || t_bail "signup F failed: $HTTP_BODY"
biz='{"name":"Shop","phone_number":"+14155550101","timezone":"America/New_York"}'
http_as "$A_AT" POST /v1/businesses "$biz"
business_A=$(json_get "$HTTP_BODY" .id)
http_as "$N_AT" POST /v1/businesses "$biz"
business_N=$(json_get "$HTTP_BODY" .id)
# call TOKEN BUSINESS: one call.
call () {
    http_as "$1" POST /v1/calls "{\"business_id\":\"$2\",\"caller_number\":\"+14155550199\",\"started_at\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"duration_seconds\":30,\"status\":\"completed\"}"
}
calls () {
    local token=$1 business=$2 n=$3 i ok=0
    for ((i = 0; i < n; i++)); do call "$token" "$business"; [[ $HTTP_STATUS == 201 ]] && ok=$((ok + 1)); done
    [[ $ok == "$n" ]]
}

http_op PUT "/v1/sys/subscriptions/$A_OID" '{"plan":"starter"}'
t_status "A on starter" 200
http_op PUT "/v1/sys/subscriptions/$N_OID" '{"plan":"starter"}'
t_status "N on starter (no customer)" 200
http_op PUT "/v1/sys/subscriptions/$F_OID" '{"plan":"free"}'
t_status "F on free, with a row" 200
suite_psql <<EOF
UPDATE billing.subscriptions SET stripe_customer_id = 'cus_meterA' WHERE organization_id = '$A_OID';
UPDATE billing.subscriptions SET stripe_customer_id = 'cus_meterF' WHERE organization_id = '$F_OID';
INSERT INTO usage.counters (organization_id, metric, period_start, used)
VALUES ('$F_OID', 'calls', date_trunc ('month', now () AT TIME ZONE 'UTC')::date, 50);
EOF
t_ok "A's customer and F's counter written" test $? = 0
calls_on_starter () { http_as "$A_AT" GET /v1/usage/summary; [[ $(json_get "$HTTP_BODY" .metrics.calls.limit) == -1 ]]; }
t_ok "A's calls are unlimited on starter (overage)" poll_until 10 calls_on_starter

# ---- 8 calls: 3 beyond the plan ------------------------------------------------
t_ok "A makes 8 calls, all accepted" calls "$A_AT" "$business_A" 8
t_ok "the fake receives meter events summing 3" poll_until 20 meter_sum_is cus_meterA 3
read -r n sum dup ids <<<"$(meters cus_meterA)"
t_is "  no duplicate, each identifier once" "$dup $((n - ids))" "0 0"
t_ok "  every row acknowledged" poll_until 5 no_pending
form=$(stripe_requests | "$SUITE_PYTHON" -c '
import json, sys
r = [x for x in json.load(sys.stdin) if x["path"] == "/v1/billing/meter_events"][0]
f = dict(r["form"])
print(f["event_name"], f["payload[stripe_customer_id]"], f["identifier"] == r["headers"].get("idempotency-key"),
      f["identifier"].startswith("sb-'"$A_OID"'-calls-"), f["timestamp"].isdigit(), r["method"])')
t_is "  Stripe's form: event name, customer, identifier = Idempotency-Key, timestamp" \
    "$form" "switchboard_calls cus_meterA True True True POST"
t_is "  the rows recorded sum to 3" \
    "$(suite_psql -c "SELECT sum(quantity) FROM billing.meter_reports WHERE organization_id = '$A_OID'")" 3

# ---- more calls: only the difference ---------------------------------------------
t_ok "2 calls more" calls "$A_AT" "$business_A" 2
t_ok "the fake's sum reaches 5" poll_until 20 meter_sum_is cus_meterA 5
sleep 1.5   # three more rounds: nothing more may come
read -r n sum dup ids <<<"$(meters cus_meterA)"
t_is "  still 5, each identifier once, no duplicate" "$sum $dup $((n - ids))" "5 0 0"
http_as "$A_AT" GET /v1/billing/subscription
t_is "the subscription shows the month's overage" \
    "$(json_lines "$HTTP_BODY" .overage.calls.quantity .overage.calls.amount_cents .overage.calls.reported | tr '\n' ' ')" "5 25 5 "

# ---- a crash while a meter event is in flight ------------------------------------
stripe_config '{"delay_ms": 5000}' >/dev/null
arrived () {
    stripe_arrivals | "$SUITE_PYTHON" -c '
import json, sys
print(sum(1 for a in json.load(sys.stdin) if a["path"] == "/v1/billing/meter_events"))'
}
before=$(arrived)
more_arrived () { (( $(arrived) > before )); }
t_ok "1 call more (the fake is slow now)" calls "$A_AT" "$business_A" 1
t_ok "its meter event is in flight" poll_until 20 more_arrived
suite_kill billing-1
row=$(suite_psql -F' ' -c "SELECT identifier, quantity, reported_at IS NULL FROM billing.meter_reports WHERE organization_id = '$A_OID' ORDER BY seq DESC LIMIT 1")
identifier=${row%% *}
t_is "billing-svc killed: the row was recorded before the call, pending" "${row#* }" "1 t"
stripe_config '{"delay_ms": 0}' >/dev/null
suite_start_service billing
t_ok "billing-svc restarted: the sum reaches 6" poll_until 30 meter_sum_is cus_meterA 6
t_ok "  and the row is acknowledged" poll_until 10 no_pending
sleep 5    # the killed request's delayed answer has been given by now
sent=$(stripe_requests | "$SUITE_PYTHON" -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if dict(r["form"]).get("identifier") == sys.argv[1]))' "$identifier")
t_ok "  the identifier was sent twice ($sent)" test "$sent" -ge 2
read -r n sum dup ids <<<"$(meters cus_meterA)"
t_is "  and counted once: sum 6, each identifier once" "$sum $((n - ids))" "6 0"

# ---- Stripe down ----------------------------------------------------------------
stripe_config '{"down": true}' >/dev/null
t_ok "Stripe down; 1 call more" calls "$A_AT" "$business_A" 1
failed_once () {
    [[ $(suite_psql -c "SELECT count(*) FROM billing.meter_reports WHERE reported_at IS NULL AND attempts > 0") == 1 ]]
}
t_ok "the row is recorded and stays pending after a failed attempt" poll_until 40 failed_once
t_ok "  nothing counted meanwhile" meter_sum_is cus_meterA 6
stripe_config '{"down": false}' >/dev/null
t_ok "Stripe back: the row is sent (sum 7)" poll_until 40 meter_sum_is cus_meterA 7
t_ok "  and acknowledged" poll_until 10 no_pending

# ---- a re-send after Stripe forgot the key: a duplicate identifier ----------------
stripe_forget_keys
suite_psql -c "UPDATE billing.meter_reports SET reported_at = NULL WHERE identifier = '$identifier'"
t_ok "an acknowledged row made pending again (its answer lost) is acknowledged again" poll_until 20 no_pending
read -r n sum dup ids <<<"$(meters cus_meterA)"
t_is "  Stripe refused it as a duplicate identifier: the sum stays 7" "$sum $dup $((n - ids))" "7 1 0"
t_is "  the rows recorded sum to 7, as the calls beyond 5 of 12" \
    "$(suite_psql -c "SELECT sum(quantity) FROM billing.meter_reports WHERE organization_id = '$A_OID'")" 7

# ---- never reported: no customer, or free ---------------------------------------
t_ok "N (starter, no customer) makes 7 calls" calls "$N_AT" "$business_N" 7
sleep 1.5
t_is "N and F have no meter_reports row" \
    "$(suite_psql -c "SELECT count(*) FROM billing.meter_reports WHERE organization_id IN ('$N_OID', '$F_OID')")" 0
t_is "  and the fake no event of F's customer" "$(meters cus_meterF | cut -d' ' -f1)" 0

# ---- the spending cap ------------------------------------------------------------
http_as "$N_AT" PUT /v1/billing/spending-cap '{"spending_cap_cents":15}'
t_status "N's admin sets a cap of 15 cents" 200
capped () { http_as "$N_AT" GET /v1/usage/summary; [[ $(json_get "$HTTP_BODY" .metrics.calls.limit) == 8 ]]; }
t_ok "  5 + 15/5 = 8 calls this month" poll_until 10 capped
call "$N_AT" "$business_N"
t_status "the 8th call" 201
call "$N_AT" "$business_N"
t_error "the 9th is beyond the cap: 402" 402 plan_limit_reached
t_field "  limit 8" .error.limit 8

# ---- usage.counts ------------------------------------------------------------------
counts () { "$SB_BIN/sb-call" usage usage.counts "$1" 2>&1; }
out=$(counts "{\"organization_ids\":[\"$A_OID\",\"$N_OID\",\"$F_OID\"],\"metric\":\"calls\"}")
t_like "usage.counts: one row per organization asked, in order" "$out" "\"organization_id\": *\"$A_OID\", *\"used\": *12.*\"$N_OID\", *\"used\": *8.*\"$F_OID\", *\"used\": *50"
out=$(counts "{\"organization_ids\":[\"$A_OID\"],\"metric\":\"calls\",\"period_start\":\"2001-02-01\"}")
t_like "  another month: 0" "$out" "\"used\": *0.*\"period_start\": *\"2001-02-01\""
out=$(counts '{"organization_ids":["nope"],"metric":"calls"}')
t_like "  not a UUID: 400" "$out" "validation_failed"
out=$(counts "{\"organization_ids\":[\"$A_OID\"],\"metric\":\"calls\",\"period_start\":\"2026-13-01\"}")
t_like "  not a month: 400" "$out" "validation_failed"
out=$(counts '{"metric":"calls"}')
t_like "  no organizations: 400" "$out" "validation_failed"
t_done
