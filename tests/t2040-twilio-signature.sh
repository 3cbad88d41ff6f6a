#!/usr/bin/env bash
# X-Twilio-Signature: Twilio's documented vectors, checked twice
# independently — by tenant-svc's selftest (the C signer and verifier, the
# :443 spelling validating against the URL without the port, the form
# parser on malformed input) and by the Python oracle
# (tests/lib/twilio_sign.py, standard library only) — then the two against
# each other on a running suite: forms with awkward characters (spaces,
# '+', '&', '=', '%', UTF-8, repeated names, empty values) and a callback
# URL with a query, signed by the oracle, are accepted; each with one value
# changed is refused.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
SIGN=("$SUITE_PYTHON" "$SUITE_ROOT/tests/lib/twilio_sign.py")

out=$("$SB_BIN/tenant-svc" --selftest 2>&1)
t_like "tenant-svc --selftest (Twilio vectors, form parser) passes" "$out" \
    $'(^|\n)tenant-svc: [0-9]+ passed, 0 failed'
t_is "the oracle computes Twilio's two documented vectors" "$("${SIGN[@]}" vectors)" ok
t_is "  RSOYDt4T1cUTdK1PDd93/VVr8B8= for the URL without a port" \
    "$("${SIGN[@]}" sign 12345 'https://mycompany.com/myapp.php?foo=1&bar=2' \
        CallSid=CA1234567890ABCDE Caller=+14158675309 Digits=1234 From=+14158675309 \
        To=+18005551212)" "RSOYDt4T1cUTdK1PDd93/VVr8B8="
t_is "  kvajT1Ptam85bY51eRf/AJRuM3w= with :443" \
    "$("${SIGN[@]}" sign 12345 'https://mycompany.com:443/myapp.php?foo=1&bar=2' \
        To=+18005551212 From=+14158675309 Digits=1234 Caller=+14158675309 \
        CallSid=CA1234567890ABCDE)" "kvajT1Ptam85bY51eRf/AJRuM3w="
t_is "  the form body decoded gives the same" \
    "$("${SIGN[@]}" form 12345 'https://mycompany.com/myapp.php?foo=1&bar=2' \
        'To=%2B18005551212&From=%2B14158675309&Digits=1234&Caller=%2B14158675309&CallSid=CA1234567890ABCDE')" \
    "RSOYDt4T1cUTdK1PDd93/VVr8B8="

suite_up
new_orgs A
TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
http_as "$A_AT" PUT /v1/integrations/twilio \
    "$(jobj account_sid="AC$(printf '%032d' 7)" auth_token="$TOKEN")"
t_status "connected" 200
URL=$(json_get "$HTTP_BODY" .status_callback_url)

post () {           # post URL BODY SIGNATURE
    http POST "$1" "" --data-binary "$2" -H 'Content-Type: application/x-www-form-urlencoded' \
        -H "X-Twilio-Signature: $3"
}
# Each case: a form body (already encoded), signed by the oracle over URL.
cases=(
    "CallSid=CAx1&CallStatus=ringing&To=%2B18005551212"
    "CallSid=CAx2&CallStatus=ringing&Note=a+b+c&Amp=x%26y%3Dz&Pct=100%25"
    "CallSid=CAx3&CallStatus=ringing&Caller=%C3%A9t%C3%A9+%E2%98%8E&Empty="
    "CallSid=CAx4&CallStatus=ringing&B=2&A=1&a=3&_=4&Z=0"
    "CallSid=CAx5&CallStatus=ringing&Dup=b&Dup=a&Dup="
    "CallStatus=ringing&CallSid=CAx6&Timestamp=Thu%2C+03+Dec+2026+10%3A00%3A00+%2B0000"
)
accepted=0 refused=0
for body in "${cases[@]}"; do
    sig=$("${SIGN[@]}" form "$TOKEN" "$URL" "$body")
    post "$URL" "$body" "$sig"
    [[ $HTTP_STATUS == 200 ]] && accepted=$((accepted + 1)) || t_diag "refused: $body"
    post "$URL" "${body/ringing/ringinG}" "$sig"
    [[ $HTTP_STATUS == 403 ]] && refused=$((refused + 1)) || t_diag "accepted altered: $body"
done
t_is "every oracle-signed form is accepted" "$accepted" "${#cases[@]}"
t_is "every one altered is refused" "$refused" "${#cases[@]}"

# The URL with a query: Twilio signs it as configured; the gateway hands
# over the query decoded and tenant-svc re-encodes it.
QURL="$URL?site=a%20b&n=1"
body="CallSid=CAq1&CallStatus=ringing"
post "$QURL" "$body" "$("${SIGN[@]}" form "$TOKEN" "$QURL" "$body")"
t_status "a callback URL with a query, signed over it: 200" 200
post "$QURL" "$body" "$("${SIGN[@]}" form "$TOKEN" "$URL" "$body")"
t_error "  signed without the query: 403" 403 invalid_signature
t_is "only the accepted ones are events" \
    "$(suite_psql -c "select count(*) from tenant.twilio_events where organization_id = '$A_OID'")" \
    "$(( ${#cases[@]} + 1 ))"
t_done
