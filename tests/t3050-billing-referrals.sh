#!/usr/bin/env bash
# The referral program, end to end: auth-svc's signup with a referral code,
# its outbox relayed to billing-svc's referrals.record, the credit ledger
# (GET /v1/billing/credits), and the credits applied as Stripe customer
# balance transactions (the fake Stripe API) by billing's credits relay
# once the referred organization has paid (referrals.paid, called here over
# the bus as the invoice.paid webhook will call billing_referrals_paid).
# The catalogue's referral_credit_cents is 700.
#
# Checked: A's code and link in its ledger, empty at first; B signs up with
# A's code in lower case (accepted, and said so in the answer) and both
# get one pending credit of 700 usd; B pays while only B has a Stripe
# customer: B's credit is applied (one balance transaction of -700 usd on
# B's customer, Idempotency-Key = the credit's id, the transaction's id
# stored), A's waits and is applied once A has a customer; paying again
# applies nothing more; C signs up with A's code from A's own mail domain:
# refused as a self-referral, no credit; two strangers on gmail.com are not
# a self-referral; a referred organization refers in turn; a referred
# organization's deletion purges its referral and credit; an unknown code: the signup succeeds, says
# unknown_code, records nothing; a referral of an organization already
# referred (another referral id) changes nothing, a repeated delivery is
# idempotent; bad input and roles of the internal operations; billing-svc
# down at signup: the referral waits in auth's outbox and arrives once
# billing is back; Stripe down when applying: the credit stays pending with
# the error noted, and is applied once, exactly, when Stripe is back.
. "$(dirname "$0")/lib/auth.sh"
. "$(dirname "$0")/lib/stripe.sh"
suite_init
plans=$SUITE_TMP/plans.json
"$SUITE_PYTHON" - "$SWITCHBOARD_PLANS_FILE" "$plans" <<'PY' || t_bail "cannot write the catalogue"
import json, sys
doc = json.load(open(sys.argv[1]))
doc["referral_credit_cents"] = 700
json.dump(doc, open(sys.argv[2], "w"))
PY
export SWITCHBOARD_PLANS_FILE=$plans
stripe_fake_start || t_bail "the fake Stripe API did not start"
suite_up

# signup_ref PFX EMAIL CODE: a signup with a referral code.
signup_ref () {
    http POST /v1/auth/signup "$(jobj email="$2" password="$AUTH_PASSWORD" name="User $1" \
                                     organization_name="Org $1" referral_code="$3")"
    if [[ $HTTP_STATUS == 201 ]]; then session_take "$1"; return 0; fi
    _session_clear "$1"
    t_diag "signup $2: HTTP $HTTP_STATUS ${HTTP_BODY:0:300}"
    return 1
}
# credits PFX: GET /v1/billing/credits as PFX's admin into HTTP_BODY.
credits () {
    local tok=${1}_AT
    http_as "${!tok}" GET /v1/billing/credits
}
# credit_count PFX STATUS: how many of PFX's credits have STATUS.
credit_count () {
    credits "$1"
    printf '%s' "$HTTP_BODY" | "$SUITE_PYTHON" -c '
import json, sys
print(sum(1 for c in json.load(sys.stdin).get("data", []) if c["status"] == sys.argv[1]))' "$2"
}
has_credits () { [[ $(credit_count "$1" "$2") == "$3" ]]; }
# customer PFX: a customer in the fake, set as PFX's in billing (the
# operator route creates the subscription row, psql gives it the id, as a
# checkout would).
customer () {
    local oid=${1}_OID cus
    cus=$(curl -sS --max-time 10 -H "Authorization: Bearer $FAKE_STRIPE_KEY" -d "name=$1" \
               "$STRIPE_FAKE_URL/v1/customers" \
          | "$SUITE_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["id"])') || return 1
    http_op PUT "/v1/sys/subscriptions/${!oid}" '{"plan":"starter"}'
    [[ $HTTP_STATUS == 200 ]] || { t_diag "assign: $HTTP_STATUS $HTTP_BODY"; return 1; }
    suite_psql -c "UPDATE billing.subscriptions SET stripe_customer_id = '$cus'
                   WHERE organization_id = '${!oid}'" >/dev/null || return 1
    printf -v "${1}_CUS" '%s' "$cus"
}
# paid PFX: referrals.paid for PFX over the bus; OUT.
paid () {
    local oid=${1}_OID
    OUT=$("$SB_BIN/sb-call" billing referrals.paid "$(jobj organization_id="${!oid}")")
}
# txns [CUSTOMER]: the fake's balance transactions (of CUSTOMER) as
# "amount currency customer" lines.
txns () {
    stripe_objects | "$SUITE_PYTHON" -c '
import json, sys
for t in json.load(sys.stdin)["balance_transactions"]:
    if len(sys.argv) < 2 or t["customer"] == sys.argv[1]:
        print(t["amount"], t["currency"], t["customer"])' "$@"
}
# txn_posts KEY: how many POSTs of a balance transaction carried
# Idempotency-Key KEY, and how many of them Stripe answered 200 first-hand.
txn_posts () {
    stripe_requests | "$SUITE_PYTHON" -c '
import json, sys
posts = [r for r in json.load(sys.stdin) if r["method"] == "POST"
         and r["path"].endswith("/balance_transactions")
         and r["headers"].get("idempotency-key") == sys.argv[1]]
print(len(posts), sum(1 for r in posts if r["status"] == 200 and not r["replayed"]))' "$1"
}
credit_id () {      # credit_id PFX N: the id of PFX's Nth credit, newest first
    credits "$1"
    json_get "$HTTP_BODY" ".data[$2].id"
}
referral_of () {    # referral_of PFX: "status reason" of PFX's referral in billing
    local oid=${1}_OID
    suite_psql -F ' ' -c "SELECT status, coalesce (reason, '-') FROM billing.referrals
                          WHERE organization_id = '${!oid}'"
}
referral_is () { [[ $(referral_of "$1") == "$2" ]]; }

# ---- A's code and link, an empty ledger -------------------------------------
signup A "ann@acme.example" "$AUTH_PASSWORD" "Ann" "Acme" || t_bail "signup A failed"
http_as "$A_AT" GET /v1/organization
A_CODE=$(json_get "$HTTP_BODY" .referral_code)
t_like "A has a referral code" "$A_CODE" '^[0-9A-F]{10}$'
credits A
t_status "GET /v1/billing/credits" 200
t_field "  with A's code" .referral_code "$A_CODE"
t_field "  and link" .referral_link "$SWITCHBOARD_PUBLIC_URL/signup?ref=$A_CODE"
t_is "  no credit yet" "$(json_lines "$HTTP_BODY" .balance_cents .pending_cents .applied_cents .data | tr '\n' ' ')" "0 0 0 [] "
http GET /v1/billing/credits
t_status "  needs a credential" 401

# ---- B referred by A -----------------------------------------------------
lower_code=$(printf '%s' "$A_CODE" | tr 'A-F' 'a-f')
signup_ref B "bob@beta.example" "$lower_code" || t_bail "signup B failed"
t_is "B's signup with the code in lower case: accepted" \
    "$(json_lines "$HTTP_BODY" .referral.accepted .referral.reason .referral.code | tr '\n' ' ')" "true  $lower_code "
t_ok "  tokens as for any signup" test -n "$B_AT"
t_ok "B gets a pending credit" poll_until 10 has_credits B pending 1
t_ok "A gets a pending credit" poll_until 10 has_credits A pending 1
credits A
t_is "A's credit: referral, 700 usd, pending, not applied" \
    "$(json_lines "$HTTP_BODY" .data[0].kind .data[0].amount_cents .data[0].currency .data[0].status .data[0].applied_at | tr '\n' ' ')" \
    "referral 700 usd pending  "
t_is "  A's balance counts it as pending" "$(json_lines "$HTTP_BODY" .balance_cents .pending_cents .applied_cents | tr '\n' ' ')" "700 700 0 "
t_like "  with an id and a time" "$(json_lines "$HTTP_BODY" .data[0].id .data[0].created_at | tr '\n' ' ')" '^[0-9a-f-]{36} [0-9T:.-]+Z $'
A_CREDIT1=$(credit_id A 0)
B_CREDIT=$(credit_id B 0)
t_is "billing's referral of B: pending" "$(referral_of B)" "pending -"
acked () { [[ $(suite_psql -c "SELECT acknowledged_at IS NOT NULL FROM auth.referral_outbox WHERE referred_organization_id = '$B_OID'") == t ]]; }
t_ok "auth's outbox row is acknowledged" poll_until 5 acked
t_is "no Stripe call before a payment" "$(txns | wc -l)" 0

# ---- B pays: B's credit applied, A's waits for a customer -----------------
customer B || t_bail "cannot give B a customer"
paid B
t_is "referrals.paid for B: 200" "$(json_get "$OUT" .status)" 200
t_is "  the referral is credited" "$(json_get "$OUT" .body.referral)" credited
t_ok "B's credit is applied" poll_until 15 has_credits B applied 1
t_is "  one balance transaction of -700 usd on B's customer" "$(txns "$B_CUS")" "-700 usd $B_CUS"
t_is "  sent once, with Idempotency-Key = the credit's id" "$(txn_posts "$B_CREDIT")" "1 1"
t_is "  the transaction's id is stored" \
    "$(suite_psql -c "SELECT stripe_balance_transaction_id FROM billing.credits WHERE id = '$B_CREDIT'")" \
    "$(stripe_objects | "$SUITE_PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["balance_transactions"][0]["id"])')"
credits B
t_is "  B's ledger: applied, with applied_at" \
    "$(json_lines "$HTTP_BODY" .balance_cents .pending_cents .applied_cents | tr '\n' ' ')$(json_get "$HTTP_BODY" .data[0].applied_at | grep -c Z)" "700 0 700 1"
t_is "A's credit stays pending: A has no Stripe customer" "$(credit_count A pending)" 1
customer A || t_bail "cannot give A a customer"
t_ok "A's credit is applied once A has a customer" poll_until 15 has_credits A applied 1
t_is "  one transaction of -700 usd on A's customer" "$(txns "$A_CUS")" "-700 usd $A_CUS"
t_is "  keyed by A's credit id" "$(txn_posts "$A_CREDIT1")" "1 1"

paid B
t_is "referrals.paid for B again: nothing to do" "$(json_get "$OUT" .body.referral)" null
paid A
t_is "referrals.paid for A (never referred): nothing" "$(json_get "$OUT" .body.referral)" null
sleep 2
t_is "still two balance transactions in all" "$(txns | wc -l)" 2

# ---- self-referral, public domains, unknown codes ---------------------------
signup_ref C "carl@ACME.example" "$A_CODE" || t_bail "signup C failed"
t_field "C's signup (A's own domain): the code is accepted" .referral.accepted true
t_ok "billing refuses it as a self-referral" poll_until 10 referral_is C "refused self_referral"
t_is "  C has no credit" "$(credit_count C pending)$(credit_count C applied)" 00
t_is "  A got no second credit" "$(credits A; json_len "$HTTP_BODY" .data)" 1

signup E "eve@gmail.com" "$AUTH_PASSWORD" "Eve" "Eve Co" || t_bail "signup E failed"
http_as "$E_AT" GET /v1/organization
signup_ref D "dan@gmail.com" "$(json_get "$HTTP_BODY" .referral_code)" || t_bail "signup D failed"
t_ok "two owners on gmail.com are no self-referral: D gets a credit" poll_until 10 has_credits D pending 1
t_ok "  and E one" poll_until 10 has_credits E pending 1

signup_ref F "fay@foxtrot.example" "NOSUCH0000" || t_bail "signup F failed"
t_is "an unknown code: the signup succeeds and says so" \
    "$(json_lines "$HTTP_BODY" .referral.accepted .referral.reason | tr '\n' ' ')" "false unknown_code "
t_is "  nothing in auth's outbox" \
    "$(suite_psql -c "SELECT count(*) FROM auth.referral_outbox WHERE referred_organization_id = '$F_OID'")" 0
signup G0 "gil@golf.example" "$AUTH_PASSWORD" "Gil" "Golf"
t_lacks "a signup without a code has no referral field" "$HTTP_BODY" '"referral"'
http POST /v1/auth/signup "$(jobj email=x@x.example password="$AUTH_PASSWORD" name=X organization_name=X referral_code="")"
t_error "an empty code: 400" 400 validation_failed

signup_ref I "ivy@india.example" "$(http_as "$B_AT" GET /v1/organization; json_get "$HTTP_BODY" .referral_code)" \
    || t_bail "signup I failed"
t_ok "B, itself referred, refers I: B gets a second credit" poll_until 10 has_credits B pending 1
t_ok "  and I one" poll_until 10 has_credits I pending 1

# ---- a referred organization deleted: its referral and credits go --------
http_as "$D_AT" DELETE /v1/organization
t_status "D deletes itself" 202
gone () { [[ $(suite_psql -c "SELECT (SELECT count(*) FROM billing.referrals WHERE organization_id = '$D_OID')
                                   + (SELECT count(*) FROM billing.credits WHERE organization_id = '$D_OID')
                                   + (SELECT count(*) FROM auth.referral_outbox WHERE referred_organization_id = '$D_OID')") == 0 ]]; }
t_ok "  D's referral and credit are purged from billing, its outbox row from auth" poll_until 30 gone
t_is "  E keeps its credit" "$(credit_count E pending)" 1

# ---- one referral per referred organization, idempotent recording --------
rec () {   # rec ID REFERRER REFERRED DOMAIN1 DOMAIN2 [sb-call options]: OUT
    local id=$1 a=$2 b=$3 d1=$4 d2=$5
    shift 5
    OUT=$("$SB_BIN/sb-call" "$@" billing referrals.record \
          "$(jobj referral_id="$id" referrer_organization_id="$a" referred_organization_id="$b" \
                  referrer_domain="$d1" referred_domain="$d2")")
}
b_ref=$(suite_psql -c "SELECT id FROM billing.referrals WHERE organization_id = '$B_OID'")
rec "$b_ref" "$A_OID" "$B_OID" acme.example beta.example
t_is "the same delivery again: 200, what was recorded" "$(json_lines "$OUT" .status .body.status .body.duplicate | tr '\n' ' ')" "200 credited false "
rec "$(cat /proc/sys/kernel/random/uuid)" "$E_OID" "$B_OID" gmail.com beta.example
t_is "another referral of B: 200, B's first referral stands" \
    "$(json_lines "$OUT" .status .body.status .body.duplicate .body.referrer_organization_id | tr '\n' ' ')" "200 credited true $A_OID "
t_is "  no credit more anywhere" "$(suite_psql -c "SELECT count(*) FROM billing.credits")" 5
rec "$(cat /proc/sys/kernel/random/uuid)" "$A_OID" "$B_OID" acme.example beta.example -r admin
t_is "referrals.record as admin: 403" "$(json_get "$OUT" .status)" 403
rec "not-a-uuid" "$A_OID" "$F_OID" acme.example foxtrot.example
t_is "a malformed referral id: 400" "$(json_lines "$OUT" .status .error.code | tr '\n' ' ')" "400 validation_failed "
OUT=$("$SB_BIN/sb-call" billing referrals.record '{"referral_id": 5}')
t_is "wrong types: 400" "$(json_get "$OUT" .status)" 400
OUT=$("$SB_BIN/sb-call" billing referrals.paid '{"organization_id": "x"}')
t_is "referrals.paid with a malformed id: 400" "$(json_get "$OUT" .status)" 400
OUT=$("$SB_BIN/sb-call" -r admin -o "$A_OID" billing referrals.paid "$(jobj organization_id="$B_OID")")
t_is "referrals.paid as admin: 403" "$(json_get "$OUT" .status)" 403
http_as "$A_AT" POST /v1/referrals.paid "$(jobj organization_id="$B_OID")"
t_like "no HTTP route reaches the internal operations" "$HTTP_STATUS" '^(404|405)$'

# ---- billing-svc down at signup: the outbox waits -----------------------
suite_stop billing-1
signup_ref H "hal@hotel.example" "$A_CODE" || t_bail "signup H failed"
t_field "with billing-svc down the signup still works" .referral.accepted true
failed () { [[ $(suite_psql -c "SELECT failures > 0 FROM auth.referral_outbox WHERE referred_organization_id = '$H_OID'") == t ]]; }
t_ok "  auth's outbox notes the failed delivery" poll_until 30 failed
suite_start_service billing
suite_wait_ready 30
t_ok "billing back: the referral arrives and H gets its credit" poll_until 40 has_credits H pending 1
t_is "  A's second credit, pending" "$(credit_count A pending)" 1

# ---- Stripe down when applying: pending, then applied exactly once ---------
customer H || t_bail "cannot give H a customer"
A_CREDIT2=$(credit_id A 0)
H_CREDIT=$(credit_id H 0)
stripe_config '{"down": true}' >/dev/null
paid H
t_is "H pays while Stripe is down: credited" "$(json_get "$OUT" .body.referral)" credited
noted () { [[ $(suite_psql -c "SELECT count(*) FROM billing.credits WHERE id IN ('$A_CREDIT2', '$H_CREDIT') AND last_error IS NOT NULL AND status = 'pending'") == 2 ]]; }
t_ok "  both credits stay pending with the error noted" poll_until 60 noted
stripe_config '{"down": false}' >/dev/null
t_ok "Stripe back: H's credit is applied" poll_until 60 has_credits H applied 1
t_ok "  and A's second one" poll_until 60 has_credits A applied 2
t_is "  one transaction on H's customer" "$(txns "$H_CUS")" "-700 usd $H_CUS"
t_is "  two on A's, one per credit" "$(txns "$A_CUS" | wc -l)" 2
t_like "  H's created once under its credit's key" "$(txn_posts "$H_CREDIT")" ' 1$'
t_like "  A's second likewise" "$(txn_posts "$A_CREDIT2")" ' 1$'
credits A
t_is "A's ledger: 1400 applied" "$(json_lines "$HTTP_BODY" .balance_cents .pending_cents .applied_cents | tr '\n' ' ')" "1400 0 1400 "
t_done
