#!/usr/bin/env bash
# Billing: the test tools held against each other and against billing-svc.
#
# Signatures: headers made by tests/lib/stripe_sign.py (Python's hmac,
# written from Stripe's documentation) are checked by billing-svc's
# verifier through its hidden `verify-signature` command, with the secrets
# of SWITCHBOARD_STRIPE_WEBHOOK_SECRET: bodies of every byte value (NUL,
# CR LF, invalid UTF-8), empty and 256 KiB are valid; a secret roll (two v1,
# either secret configured, or both) is valid; one flipped byte, a wrong
# secret, a timestamp 301 s old or 301 s ahead, and garbage headers are
# refused with their stable reasons; 299 s either way is valid.
#
# The fake Stripe API (tests/fakes/stripe_fake.py), through curl as any
# client would: 401 without the key; 404 in Stripe's error shape for an
# unknown path; Idempotency-Key replay (same status and body plus
# Idempotent-Replayed: true) and 400 idempotency_error for other
# parameters; a checkout session with its url and the echoed fields, no
# line items; the portal requiring a customer; meter events requiring their
# fields and refusing a repeated identifier (both kept); balance
# transactions moving the customer's balance; the price list by lookup key;
# the request log with headers and the form as pairs, and its copy in
# requests.jsonl.
#
# The client (billing_stripe.c) against the fake, through billing-svc's
# hidden `stripe-call` command: a POST without an Idempotency-Key is sent
# once whatever the failure; with one, it is repeated with the same key
# after 500s, a 409 idempotency_key_in_use and a 429, and after a 400 that
# Stripe-Should-Retry: true marks, but not after a 409 without that code, a
# 400, or a 500 marked Stripe-Should-Retry: false; a GET is repeated after
# a 503; a Stripe that closes the connection: network_error, repeated only
# with a key; a Stripe slower than the caller's deadline: timeout, one
# attempt (nothing fits after it); a replayed answer is flagged.
. "$(dirname "$0")/lib/stripe.sh"
suite_init
stripe_fake_start || t_bail "the fake Stripe API did not start"

verify () {
    SWITCHBOARD_STRIPE_WEBHOOK_SECRET=$1 "$SB_BIN/billing-svc" verify-signature "$2" "$3" \
        ${4:+"$4"} 2>>"$SUITE_TMP/verify.err"
}

# ---- signatures ---------------------------------------------------------
P=$SUITE_TMP/payloads
mkdir -p "$P"
"$SUITE_PYTHON" - "$P" <<'PY'
import json, os, random, sys
d = sys.argv[1]
rng = random.Random(3002)
open(os.path.join(d, "empty"), "wb").close()
open(os.path.join(d, "bytes"), "wb").write(bytes(range(256)) * 3)
open(os.path.join(d, "event"), "wb").write(json.dumps(
    {"id": "evt_1", "type": "invoice.paid", "data": {"object": {"name": "caf\u00e9 \u20ac"}}},
    ensure_ascii=False).encode() + b"\r\n")
open(os.path.join(d, "big"), "wb").write(bytes(rng.randrange(256) for _ in range(256 * 1024)))
PY
NOW=$(date +%s)
for f in empty bytes event big; do
    H=$(stripe_sign whsec_test_one "$P/$f" "$NOW")
    t_is "stripe_sign.py and billing-svc agree: $f body" "$(verify whsec_test_one "$H" "$P/$f" "$NOW")" valid
done
H=$(stripe_sign whsec_old,whsec_new "$P/event" "$NOW")
t_like "a roll's header has two v1" "$H" '^t=[0-9]+,v1=[0-9a-f]{64},v1=[0-9a-f]{64}$'
t_is "roll: the new secret alone" "$(verify whsec_new "$H" "$P/event" "$NOW")" valid
t_is "roll: the old secret alone" "$(verify whsec_old "$H" "$P/event" "$NOW")" valid
t_is "roll: several secrets configured" "$(verify "whsec_x, whsec_new" "$H" "$P/event" "$NOW")" valid
H=$(stripe_sign whsec_test_one "$P/event" "$NOW")
"$SUITE_PYTHON" -c '
import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[10] ^= 1
open(sys.argv[2], "wb").write(b)' "$P/event" "$P/tampered"
t_is "one flipped byte: refused" "$(verify whsec_test_one "$H" "$P/tampered" "$NOW")" no_matching_signature
t_is "a wrong secret: refused" "$(verify whsec_test_two "$H" "$P/event" "$NOW")" no_matching_signature
t_is "no secret configured: refused" "$(verify "" "$H" "$P/event" "$NOW")" no_matching_signature
t_is "301 s old: refused" "$(verify whsec_test_one "$(stripe_sign whsec_test_one "$P/event" $((NOW - 301)))" "$P/event" "$NOW")" \
    timestamp_outside_tolerance
t_is "301 s ahead: refused" "$(verify whsec_test_one "$(stripe_sign whsec_test_one "$P/event" $((NOW + 301)))" "$P/event" "$NOW")" \
    timestamp_outside_tolerance
t_is "299 s old: valid" "$(verify whsec_test_one "$(stripe_sign whsec_test_one "$P/event" $((NOW - 299)))" "$P/event" "$NOW")" valid
t_is "299 s ahead: valid" "$(verify whsec_test_one "$(stripe_sign whsec_test_one "$P/event" $((NOW + 299)))" "$P/event" "$NOW")" valid
t_is "the clock's now by default" "$(verify whsec_test_one "$(stripe_sign whsec_test_one "$P/event")" "$P/event")" valid
t_is "two t: malformed" "$(verify whsec_test_one "t=$NOW,$H" "$P/event" "$NOW")" malformed_header
t_is "no t: malformed" "$(verify whsec_test_one "${H#t=*,}" "$P/event" "$NOW")" malformed_header
t_is "v0 only: no signature" "$(verify whsec_test_one "t=$NOW,v0=${H##*v1=}" "$P/event" "$NOW")" no_signature
t_is "garbage: malformed" "$(verify whsec_test_one 'garbage,;=' "$P/event" "$NOW")" malformed_header
t_is "a huge header: malformed" \
    "$(verify whsec_test_one "$H$(printf ',v0=%060d' $(seq 1 200))" "$P/event" "$NOW")" malformed_header
t_is "the verifier wrote nothing to stderr" "$(cat "$SUITE_TMP/verify.err")" ""

# ---- the fake -----------------------------------------------------------
KEY=$FAKE_STRIPE_KEY
post () {   # post PATH [IDEMPOTENCY-KEY] [curl args...]
    local path=$1 idem=${2:-}
    shift 2 2>/dev/null || shift
    http POST "$STRIPE_FAKE_URL$path" "" -H "Authorization: Bearer $KEY" \
        ${idem:+-H "Idempotency-Key: $idem"} "$@"
}
get () { http GET "$STRIPE_FAKE_URL$1" "" -H "Authorization: Bearer $KEY"; }

http GET "$STRIPE_FAKE_URL/v1/customers/cus_x" ""
t_is "no key: 401" "$HTTP_STATUS" 401
t_is "no key: Stripe's error shape" "$(json_get "$HTTP_BODY" .error.type)" invalid_request_error
get /v1/nothing/here
t_is "unknown path: 404" "$HTTP_STATUS" 404
t_like "unknown path: Stripe's message" "$(json_get "$HTTP_BODY" .error.message)" '^Unrecognized request URL \(GET: /v1/nothing/here\)'
t_like "a Request-Id on every answer" "$(http_header Request-Id)" '^req_'

post /v1/customers k-cus-1 --data-urlencode 'email=a@example.com' --data-urlencode 'metadata[org_id]=org 1'
t_is "customer created" "$HTTP_STATUS" 200
CUS=$(json_get "$HTTP_BODY" .id)
FIRST=$HTTP_BODY
t_like "customer id" "$CUS" '^cus_[A-Za-z0-9]{14}$'
t_is "metadata folded from bracket keys" "$(json_get "$HTTP_BODY" .metadata.org_id)" "org 1"
post /v1/customers k-cus-1 --data-urlencode 'email=a@example.com' --data-urlencode 'metadata[org_id]=org 1'
t_is "replay: same status" "$HTTP_STATUS" 200
t_is "replay: same body" "$HTTP_BODY" "$FIRST"
t_is "replay: Idempotent-Replayed" "$(http_header Idempotent-Replayed)" true
post /v1/customers k-cus-1 --data-urlencode 'email=b@example.com'
t_is "same key, other parameters: 400" "$HTTP_STATUS" 400
t_is "same key, other parameters: idempotency_error" "$(json_get "$HTTP_BODY" .error.type)" idempotency_error
get "/v1/customers/$CUS"
t_is "customer read back" "$(json_get "$HTTP_BODY" .email)" a@example.com
get /v1/customers/cus_nope
t_is "unknown customer: 404 resource_missing" "$HTTP_STATUS $(json_get "$HTTP_BODY" .error.code)" "404 resource_missing"

post /v1/products k-p -d id=switchboard_pro -d name=Pro
post /v1/prices k-pr -d product=switchboard_pro -d currency=usd -d unit_amount=9900 \
    -d 'recurring[interval]=month' -d lookup_key=switchboard_pro_month
PRICE=$(json_get "$HTTP_BODY" .id)
t_like "price id" "$PRICE" '^price_'
get '/v1/prices?lookup_keys[]=switchboard_pro_month&active=true'
t_is "price list by lookup key" "$(json_get "$HTTP_BODY" .object) $(json_len "$HTTP_BODY" .data) $(json_get "$HTTP_BODY" .data[0].id)" \
    "list 1 $PRICE"
get '/v1/prices?lookup_keys[]=nothing&active=true'
t_is "price list: no match, empty list" "$(json_len "$HTTP_BODY" .data)" 0

post /v1/checkout/sessions k-cs -d mode=subscription -d "customer=$CUS" \
    --data-urlencode 'success_url=https://app.test/ok?session_id={CHECKOUT_SESSION_ID}' \
    -d cancel_url=https://app.test/no -d "line_items[0][price]=$PRICE" -d 'line_items[0][quantity]=1' \
    -d client_reference_id=org-1 -d 'metadata[org_id]=org-1' -d 'subscription_data[metadata][org_id]=org-1'
t_is "checkout session created" "$HTTP_STATUS" 200
CS=$(json_get "$HTTP_BODY" .id)
t_like "checkout session id" "$CS" '^cs_test_'
t_is "checkout url" "$(json_get "$HTTP_BODY" .url)" "https://checkout.stripe.test/c/pay/$CS"
t_is "echoed: mode, customer, client_reference_id, metadata" \
    "$(json_get "$HTTP_BODY" .mode) $(json_get "$HTTP_BODY" .customer) $(json_get "$HTTP_BODY" .client_reference_id) $(json_get "$HTTP_BODY" .metadata.org_id)" \
    "subscription $CUS org-1 org-1"
t_is "no line items in the answer" "$(json_get "$HTTP_BODY" .line_items || echo absent)" absent
post /v1/checkout/sessions k-cs2 -d mode=subscription -d success_url=https://app.test/ok
t_is "checkout without line items: parameter_missing" "$HTTP_STATUS $(json_get "$HTTP_BODY" .error.code)" "400 parameter_missing"

post /v1/billing_portal/sessions k-bp -d return_url=https://app.test/
t_is "portal without customer: 400 parameter_missing" "$HTTP_STATUS $(json_get "$HTTP_BODY" .error.param)" "400 customer"
post /v1/billing_portal/sessions k-bp2 -d "customer=$CUS" -d return_url=https://app.test/
t_like "portal session" "$(json_get "$HTTP_BODY" .id) $(json_get "$HTTP_BODY" .url)" '^bps_[A-Za-z0-9]+ https://'

post /v1/billing/meter_events "" -d event_name=switchboard_calls -d "payload[stripe_customer_id]=$CUS"
t_is "meter event without a value: 400" "$HTTP_STATUS $(json_get "$HTTP_BODY" .error.param)" "400 payload[value]"
post /v1/billing/meter_events "" -d event_name=switchboard_calls -d "payload[stripe_customer_id]=$CUS" \
    -d 'payload[value]=25' -d identifier=ov-1
t_is "meter event" "$HTTP_STATUS $(json_get "$HTTP_BODY" .object) $(json_get "$HTTP_BODY" .payload.value)" \
    "200 billing.meter_event 25"
post /v1/billing/meter_events "" -d event_name=switchboard_calls -d "payload[stripe_customer_id]=$CUS" \
    -d 'payload[value]=25' -d identifier=ov-1
t_is "a repeated identifier: 400 resource_already_exists" "$HTTP_STATUS $(json_get "$HTTP_BODY" .error.code)" \
    "400 resource_already_exists"
http GET "$STRIPE_FAKE_URL/__fake/objects" ""
t_is "both meter events kept, the second marked" \
    "$(json_get "$HTTP_BODY" .meter_events[0].duplicate) $(json_get "$HTTP_BODY" .meter_events[1].duplicate)" "false true"

post "/v1/customers/$CUS/balance_transactions" k-bt -d amount=-1000 -d currency=usd
t_like "balance transaction" "$(json_get "$HTTP_BODY" .id) $(json_get "$HTTP_BODY" .ending_balance)" '^cbtxn_[A-Za-z0-9]+ -1000$'
get "/v1/customers/$CUS"
t_is "the customer's balance moved" "$(json_get "$HTTP_BODY" .balance)" -1000

REQS=$(stripe_requests)
t_is "the log keeps the form as pairs, in order" \
    "$(json_get "$REQS" '[2].form')" '[["email","a@example.com"],["metadata[org_id]","org 1"]]'
t_is "the log keeps the headers of interest" \
    "$(json_get "$REQS" '[2].headers.idempotency-key') $(json_get "$REQS" '[2].replayed') $(json_get "$REQS" '[3].replayed')" "k-cus-1 false true"
t_is "requests.jsonl holds the same log" \
    "$(wc -l <"$SUITE_TMP/stripe-fake/requests.jsonl")" "$(json_len "$REQS" .)"

# ---- the client ---------------------------------------------------------
call () { "$SB_BIN/billing-svc" stripe-call "$@" 2>>"$SUITE_TMP/call.err"; }
# fail JSON: inject failures (the fail object) after a reset.
fail () { stripe_reset; stripe_config "{\"fail\": $1}" >/dev/null; }
summary () { printf '%s %s %s %s' "$(json_get "$1" .ok)" "$(json_get "$1" .http_status)" \
                 "$(json_get "$1" .attempts)" "$(json_get "$1" .error_type)"; }
keys () { stripe_requests | "$SUITE_PYTHON" -c '
import json, sys; print(" ".join("%s:%s" % (r["status"], r["headers"].get("idempotency-key", "-")) for r in json.load(sys.stdin)))'; }

fail '{"path": "/v1/customers", "status": 500, "count": 3}'
OUT=$(call POST /v1/customers email=a@example.com)
t_is "POST without a key after a 500: sent once" "$(summary "$OUT")" "false 500 1 api_error"
t_is "POST without a key: one request" "$(keys)" "500:-"
OUT=$(call POST /v1/customers --idempotency-key k1 email=a@example.com)
t_is "POST with a key after two 500s: the third attempt answers" "$(summary "$OUT") $(json_get "$OUT" .body.object)" \
    "true 200 3  customer"
t_is "the same key each time" "$(keys)" "500:- 500:k1 500:k1 200:k1"
t_like "the request id is read" "$(json_get "$OUT" .request_id)" '^req_'
OUT=$(call POST /v1/customers --idempotency-key k1 email=a@example.com)
t_is "a repeat of the key: the replayed answer, flagged" "$(summary "$OUT") $(json_get "$OUT" .replayed)" "true 200 1  true"

fail '{"path": "/v1/customers", "status": 409, "count": 1, "type": "idempotency_error", "code": "idempotency_key_in_use"}'
OUT=$(call POST /v1/customers --idempotency-key k2 email=a@example.com)
t_is "409 idempotency_key_in_use: repeated" "$(summary "$OUT")" "true 200 2 "
fail '{"path": "/v1/customers", "status": 409, "count": 1, "type": "invalid_request_error"}'
OUT=$(call POST /v1/customers --idempotency-key k3 email=a@example.com)
t_is "409 without that code: not repeated" "$(summary "$OUT")" "false 409 1 invalid_request_error"
fail '{"path": "/v1/customers", "status": 429, "count": 1, "type": "invalid_request_error", "code": "rate_limit"}'
OUT=$(call POST /v1/customers --idempotency-key k4 email=a@example.com)
t_is "429: repeated" "$(summary "$OUT")" "true 200 2 "
fail '{"path": "/v1/customers", "status": 400, "count": 1, "type": "invalid_request_error", "code": "parameter_invalid"}'
OUT=$(call POST /v1/customers --idempotency-key k5 email=a@example.com)
t_is "400: not repeated, Stripe's error read" "$(summary "$OUT") $(json_get "$OUT" .error_code)" \
    "false 400 1 invalid_request_error parameter_invalid"
fail '{"path": "/v1/customers", "status": 400, "count": 1, "should_retry": true}'
OUT=$(call POST /v1/customers --idempotency-key k6 email=a@example.com)
t_is "400 with Stripe-Should-Retry: true: repeated" "$(summary "$OUT")" "true 200 2 "
fail '{"path": "/v1/customers", "status": 500, "count": 1, "should_retry": false}'
OUT=$(call POST /v1/customers --idempotency-key k7 email=a@example.com)
t_is "500 with Stripe-Should-Retry: false: not repeated" "$(summary "$OUT")" "false 500 1 api_error"
fail '{"path": "/v1/prices", "status": 503, "count": 1}'
OUT=$(call GET /v1/prices 'lookup_keys[]=x' active=true)
t_is "GET after a 503: repeated" "$(summary "$OUT") $(json_get "$OUT" .body.object)" "true 200 2  list"

stripe_reset
stripe_config '{"down": true}' >/dev/null
OUT=$(call POST /v1/customers email=a@example.com)
t_is "no answer, POST without a key: network_error, once" "$(summary "$OUT")" "false 0 1 network_error"
OUT=$(call POST /v1/customers --idempotency-key k8 email=a@example.com)
t_is "no answer, POST with a key: repeated (4 attempts)" "$(summary "$OUT")" "false 0 4 network_error"
stripe_config '{"down": false, "delay_ms": 3000}' >/dev/null
OUT=$(call POST /v1/customers --idempotency-key k9 --timeout-ms 700 email=a@example.com)
t_is "slower than the deadline: timeout, one attempt" "$(summary "$OUT")" "false 0 1 timeout"
stripe_config '{"delay_ms": 0}' >/dev/null
t_is "the client wrote nothing to stderr" "$(grep -v '"level":"debug"' "$SUITE_TMP/call.err")" ""
t_unlike "the key appears in no log line" "$(cat "$SUITE_TMP/call.err")" "$FAKE_STRIPE_KEY"

t_done
