#!/usr/bin/env bash
# Twilio voice status callbacks, end to end through the gateway: an admin
# connects Twilio (the token never returned, stored sealed), then
# Twilio-shaped callbacks signed by the independent oracle
# (tests/lib/twilio_sign.py): a valid terminal one makes a call with source
# twilio (visible in GET /v1/calls, counted in the usage outbox); tampered,
# signed with another token, or unsigned: 403 invalid_signature, nothing
# stored; a replay: duplicate; out of order (ringing after completed; a
# lower SequenceNumber): no change; unknown To: 200 unmatched; over the
# plan's calls quota (a plan of 1 call a month): 200, refused, no call,
# the admins told by mail once (not again for the next refused call);
# DELETE: the old URL answers 404.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
# The test catalogue plus a plan "tiny" of 1 call a month.
"$SUITE_PYTHON" - "$SUITE_ROOT/tests/fixtures/plans-test.json" "$SUITE_TMP/plans.json" <<'PY'
import copy, json, sys
plans = json.load(open(sys.argv[1]))
tiny = copy.deepcopy(plans["plans"][0])
tiny["id"], tiny["name"] = "tiny", "Tiny (tests)"
tiny["limits"]["calls_per_month"] = 1
plans["plans"].append(tiny)
json.dump(plans, open(sys.argv[2], "w"))
PY
export SWITCHBOARD_PLANS_FILE=$SUITE_TMP/plans.json
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up

SIGN=("$SUITE_PYTHON" "$SUITE_ROOT/tests/lib/twilio_sign.py")
hex32 () { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }
# An RFC 2822 time SECS from now, and the RFC 3339 instant SECS2 before it.
rfc2822 () { "$SUITE_PYTHON" -c 'import sys,email.utils,datetime; print(email.utils.format_datetime(datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=int(sys.argv[1]))))' "$1"; }
minus () { "$SUITE_PYTHON" -c 'import sys,email.utils,datetime; print((email.utils.parsedate_to_datetime(sys.argv[1]) - datetime.timedelta(seconds=int(sys.argv[2]))).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$1" "$2"; }
# twilio_post URL TOKEN NAME=VALUE...: a callback signed with TOKEN.
twilio_post () {
    local url=$1 token=$2 body sig
    shift 2
    body=$("${SIGN[@]}" encode "$@")
    sig=$("${SIGN[@]}" form "$token" "$url" "$body")
    http POST "$url" "" --data-binary "$body" -H 'Content-Type: application/x-www-form-urlencoded' \
        -H "X-Twilio-Signature: $sig"
}
events () { suite_psql -c "select count(*) from tenant.twilio_events where organization_id = '$1'"; }
calls () { suite_psql -c "select count(*) from tenant.calls where organization_id = '$1'"; }

orgs_with_business A
http_as "$A_AT" GET "/v1/businesses/$A_BIZ"
PHONE=$(json_get "$HTTP_BODY" .phone_number)
SID=AC$(hex32)
TOKEN=$(hex32)

# ---- connecting -------------------------------------------------------------
http_as "$A_AT" GET /v1/integrations/twilio
t_error "not connected: 404" 404 not_found
http_as "$A_AT" PUT /v1/integrations/twilio "$(jobj account_sid=XX123 auth_token=short)"
t_fields "a malformed SID and a short token: 400" account_sid auth_token
http_as "$A_AT" PUT /v1/integrations/twilio "$(jobj account_sid="$SID" auth_token="$TOKEN")"
t_status "PUT /v1/integrations/twilio: 200" 200
t_field "  the account SID" .account_sid "$SID"
URL=$(json_get "$HTTP_BODY" .status_callback_url)
t_like "  the callback URL is under the public URL" "$URL" \
    "^$SWITCHBOARD_PUBLIC_URL/v1/integrations/twilio/callback/[0-9a-f]{32}\$"
t_utc "  connected_at" "$(json_get "$HTTP_BODY" .connected_at)"
t_lacks "  the token is not returned" "$HTTP_BODY" "$TOKEN"
http_as "$A_AT" GET /v1/integrations/twilio
t_status "GET: 200" 200
t_field "  the same URL" .status_callback_url "$URL"
t_field "  no event yet" .last_event_at null
t_lacks "  the token is not returned" "$HTTP_BODY" "$TOKEN"
t_is "stored sealed" "$(suite_psql -c "select auth_token_sealed like 'sb1:%' from tenant.twilio_integrations where organization_id = '$A_OID'")" t
t_is "  no plaintext anywhere in the row" \
    "$(suite_psql -c "select count(*) from tenant.twilio_integrations t where t::text like '%$TOKEN%'")" 0
t_ok "  nor in the logs" bash -c "! grep -rq '$TOKEN' '$SUITE_TMP/log'"

# ---- a valid callback -----------------------------------------------------------
CA1=CA$(hex32)
TS=$(rfc2822 -600)
twilio_post "$URL" "$TOKEN" CallSid="$CA1" AccountSid="$SID" CallStatus=completed \
    From=+14155550199 To="$PHONE" CallDuration=125 Timestamp="$TS" SequenceNumber=3 \
    Direction=inbound ApiVersion=2010-04-01
t_status "a signed completed callback: 200" 200
t_field "  created" .outcome created
http_as "$A_AT" GET /v1/calls
t_is "  one call in GET /v1/calls" "$(json_len "$HTTP_BODY" .data)" 1
t_is "  source twilio" "$(json_get "$HTTP_BODY" '.data[0].source')" twilio
t_is "  external_id the CallSid" "$(json_get "$HTTP_BODY" '.data[0].external_id')" "$CA1"
t_is "  status completed" "$(json_get "$HTTP_BODY" '.data[0].status')" completed
t_is "  duration 125" "$(json_get "$HTTP_BODY" '.data[0].duration_seconds')" 125
t_is "  the caller" "$(json_get "$HTTP_BODY" '.data[0].caller_number')" +14155550199
t_is "  its business" "$(json_get "$HTTP_BODY" '.data[0].business_id')" "$A_BIZ"
t_is "  started at Timestamp - duration" \
    "$(ts_cmp "$(json_get "$HTTP_BODY" '.data[0].started_at')" "$(minus "$TS" 125)")" 0
CALL1=$(json_get "$HTTP_BODY" '.data[0].id')
t_is "  usage like any call: 1 call + 3 minutes in the outbox" \
    "$(suite_psql -c "select string_agg(metric || '=' || quantity, ',' order by metric) from tenant.usage_outbox where organization_id = '$A_OID'")" \
    "call_minutes=3,calls=1"
http_as "$A_AT" GET /v1/calls "" -G --data-urlencode "status=completed"
t_is "  and in the filtered list" "$(json_len "$HTTP_BODY" .data)" 1

# ---- refused: nothing stored ------------------------------------------------------
ev0=$(events "$A_OID")
CA2=CA$(hex32)
good=$("${SIGN[@]}" encode CallSid="$CA2" CallStatus=completed From=+14155550199 To="$PHONE" CallDuration=60)
sig=$("${SIGN[@]}" form "$TOKEN" "$URL" "$good")
bad=${good/CallDuration=60/CallDuration=61}
http POST "$URL" "" --data-binary "$bad" -H 'Content-Type: application/x-www-form-urlencoded' \
    -H "X-Twilio-Signature: $sig"
t_error "a tampered body: 403 invalid_signature" 403 invalid_signature
http POST "$URL" "" --data-binary "$good&Extra=1" -H 'Content-Type: application/x-www-form-urlencoded' \
    -H "X-Twilio-Signature: $sig"
t_error "a parameter added: 403" 403 invalid_signature
http POST "$URL" "" --data-binary "$good" -H 'Content-Type: application/x-www-form-urlencoded'
t_error "no X-Twilio-Signature: 403" 403 invalid_signature
http POST "$URL" "" --data-binary "$good" -H 'Content-Type: application/x-www-form-urlencoded' \
    -H "X-Twilio-Signature: $("${SIGN[@]}" form "$(hex32)" "$URL" "$good")"
t_error "signed with another auth token: 403" 403 invalid_signature
http POST "$URL" "" --data-binary "$good" -H 'Content-Type: application/x-www-form-urlencoded' \
    -H "X-Twilio-Signature: $("${SIGN[@]}" form "$TOKEN" "$URL?x=1" "$good")"
t_error "signed for another URL: 403" 403 invalid_signature
http POST "$URL" "" --data-binary "a=%zz&$good" -H 'Content-Type: application/x-www-form-urlencoded' \
    -H "X-Twilio-Signature: $sig"
t_error "a malformed form: 403" 403 invalid_signature
twilio_post "${URL%/*}/$(hex32)" "$TOKEN" CallSid="$CA2" CallStatus=completed To="$PHONE"
t_error "another callback token: 404" 404 not_found
twilio_post "${URL%/*}/not-a-token" "$TOKEN" CallSid="$CA2" CallStatus=completed To="$PHONE"
t_error "a malformed callback token: 404" 404 not_found
t_is "  none of them stored an event" "$(events "$A_OID")" "$ev0"
t_is "  nor a call" "$(calls "$A_OID")" 1
# The genuine one still passes afterwards.
http POST "$URL" "" --data-binary "$good" -H 'Content-Type: application/x-www-form-urlencoded' \
    -H "X-Twilio-Signature: $sig"
t_field "the genuine body with its signature: created" .outcome created

# ---- idempotent and order-tolerant ------------------------------------------------------
twilio_post "$URL" "$TOKEN" CallSid="$CA1" AccountSid="$SID" CallStatus=completed \
    From=+14155550199 To="$PHONE" CallDuration=125 Timestamp="$TS" SequenceNumber=3 \
    Direction=inbound ApiVersion=2010-04-01
t_status "the first callback replayed: 200" 200
t_field "  duplicate" .outcome duplicate
twilio_post "$URL" "$TOKEN" CallSid="$CA1" CallStatus=ringing From=+14155550199 To="$PHONE" \
    SequenceNumber=1
t_field "ringing after completed: ignored" .outcome ignored
twilio_post "$URL" "$TOKEN" CallSid="$CA1" CallStatus=busy From=+14155550199 To="$PHONE" \
    SequenceNumber=2 CallDuration=0
t_field "a lower-sequence busy after completed: duplicate" .outcome duplicate
http_as "$A_AT" GET "/v1/calls/$CALL1"
t_field "  the call did not move back: completed" .status completed
t_field "  duration still 125" .duration_seconds 125
t_is "  still one call per CallSid" \
    "$(suite_psql -c "select count(*) from tenant.calls where external_id = '$CA1'")" 1
# Ringing first, then the terminal event: the call is made by the latter.
CA3=CA$(hex32)
twilio_post "$URL" "$TOKEN" CallSid="$CA3" CallStatus=ringing To="$PHONE" SequenceNumber=0
t_field "ringing of a new call: ignored" .outcome ignored
twilio_post "$URL" "$TOKEN" CallSid="$CA3" CallStatus=no-answer To="$PHONE" SequenceNumber=2 \
    From=Anonymous
t_field "then no-answer: created" .outcome created
http_as "$A_AT" GET /v1/calls "" -G --data-urlencode "status=missed"
t_is "  a missed call" "$(json_len "$HTTP_BODY" .data)" 1
t_is "  from anonymous" "$(json_get "$HTTP_BODY" '.data[0].caller_number')" anonymous
t_is "  0 seconds" "$(json_get "$HTTP_BODY" '.data[0].duration_seconds')" 0

# Eight deliveries of one event at once: one call, seven duplicates.
CA5=CA$(hex32)
race=$("${SIGN[@]}" encode CallSid="$CA5" CallStatus=completed To="$PHONE" CallDuration=5)
rsig=$("${SIGN[@]}" form "$TOKEN" "$URL" "$race")
racers=()
for i in $(seq 1 8); do
    curl -s -o "$SUITE_TMP/race.$i" -H 'Content-Type: application/x-www-form-urlencoded' \
        -H "X-Twilio-Signature: $rsig" --data-binary "$race" "$URL" &
    racers+=($!)
done
wait "${racers[@]}"
t_is "eight racing deliveries: one created, seven duplicates" \
    "$(cat "$SUITE_TMP"/race.* | "$SUITE_PYTHON" -c 'import json,sys; d=json.JSONDecoder(); s=sys.stdin.read(); out=[]
while s.strip():
    o,i=d.raw_decode(s.strip()); out.append(o["outcome"]); s=s.strip()[i:]
print(sorted(out).count("created"), sorted(out).count("duplicate"))')" "1 7"
t_is "  one call for that CallSid" \
    "$(suite_psql -c "select count(*) from tenant.calls where external_id = '$CA5'")" 1

# ---- unknown To --------------------------------------------------------------------
CA4=CA$(hex32)
twilio_post "$URL" "$TOKEN" CallSid="$CA4" CallStatus=completed To=+19995550000 CallDuration=30
t_status "unknown To number: 200" 200
t_field "  unmatched" .outcome unmatched
t_is "  no call" "$(suite_psql -c "select count(*) from tenant.calls where external_id = '$CA4'")" 0

# ---- the events ----------------------------------------------------------------------
http_as "$A_AT" GET /v1/integrations/twilio/events
t_status "GET events: 200" 200
t_is "  every verified callback, newest first" \
    "$(json_get "$HTTP_BODY" '.data' | "$SUITE_PYTHON" -c 'import json,sys; print(" ".join(e["outcome"] for e in json.load(sys.stdin)))')" \
    "unmatched $(printf 'duplicate %.0s' 1 2 3 4 5 6 7)created created ignored duplicate ignored duplicate created created"
t_is "  the unmatched one's To" "$(json_get "$HTTP_BODY" '.data[0].to')" +19995550000
t_is "  the created one names its call" "$(json_get "$HTTP_BODY" '.data[15].call_id')" "$CALL1"
t_is "  with its sequence number" "$(json_get "$HTTP_BODY" '.data[15].sequence_number')" 3
http_as "$A_AT" GET /v1/integrations/twilio/events "" -G --data-urlencode "limit=2"
t_is "  limit=2" "$(json_len "$HTTP_BODY" .data)" 2
http_as "$A_AT" GET /v1/integrations/twilio
t_utc "GET: last_event_at set" "$(json_get "$HTTP_BODY" .last_event_at)"

# ---- over the quota ---------------------------------------------------------------------
orgs_with_business Q
http_op PUT "/v1/sys/subscriptions/$Q_OID" '{"plan":"tiny"}'
t_status "the operator puts Q on a plan of 1 call a month" 200
http_as "$Q_AT" GET "/v1/businesses/$Q_BIZ"
QPHONE=$(json_get "$HTTP_BODY" .phone_number)
QTOKEN=$(hex32)
http_as "$Q_AT" PUT /v1/integrations/twilio "$(jobj account_sid="AC$(hex32)" auth_token="$QTOKEN")"
QURL=$(json_get "$HTTP_BODY" .status_callback_url)
t_isnt "  its own callback URL" "$QURL" "$URL"
quota_is_tiny () {
    http_as "$Q_AT" POST /v1/calls "$(call_body "$Q_BIZ")"
    [[ $HTTP_STATUS == 402 ]] || return 1
}
# The first call passes whichever plan tenant-svc holds yet; polling with
# POST /v1/calls may store more before the plan arrives, hence "unchanged".
twilio_post "$QURL" "$QTOKEN" CallSid="CA$(hex32)" CallStatus=completed To="$QPHONE" CallDuration=10
t_field "Q's first call from Twilio: created" .outcome created
t_ok "  the plan of 1 call is in force (POST /v1/calls: 402)" poll_until 5 quota_is_tiny
qcalls=$(calls "$Q_OID")
QCA=CA$(hex32)
twilio_post "$QURL" "$QTOKEN" CallSid="$QCA" CallStatus=completed To="$QPHONE" CallDuration=10
t_status "over the quota the callback still answers 200" 200
t_field "  refused" .outcome refused
t_is "  no call" "$(suite_psql -c "select count(*) from tenant.calls where external_id = '$QCA'")" 0
t_is "  Q's calls unchanged" "$(calls "$Q_OID")" "$qcalls"
http_as "$Q_AT" GET /v1/integrations/twilio/events
t_is "  listed as refused" "$(json_get "$HTTP_BODY" '.data[0].outcome')" refused
t_is "  Q's list holds only Q's two callbacks" \
    "$(json_len "$HTTP_BODY" .data)" 2
http_as "$Q_AT" GET /v1/me
QMAIL=$(json_get "$HTTP_BODY" .user.email)
mail=$(mail_wait_subject "$QMAIL" 'calls from Twilio are not being recorded' 15)
t_ok "  Q's admin is told by mail that Twilio calls are not recorded" test -n "$mail"
t_like "  … naming the call" "$(mail_body "$mail" 2>/dev/null)" "$QCA"
twilio_post "$QURL" "$QTOKEN" CallSid="CA$(hex32)" CallStatus=completed To="$QPHONE" CallDuration=10
t_field "another call over the quota: refused" .outcome refused
acked () {
    [[ $(suite_psql -c "select count (*) from tenant.admin_mail_outbox
                        where organization_id = '$Q_OID' and acknowledged_at is not null") == 1 ]]
}
t_ok "  the one notice was handed to auth-svc" poll_until 10 acked
t_is "  no second one this month" \
    "$(suite_psql -c "select count (*) from tenant.admin_mail_outbox where organization_id = '$Q_OID'")" 1
t_is "  one such mail to Q's admin in all" \
    "$(mail_count_subject "$QMAIL" 'calls from Twilio are not being recorded')" 1

# ---- reconnect, disconnect -------------------------------------------------------------------
TOKEN2=$(hex32)
http_as "$A_AT" PUT /v1/integrations/twilio "$(jobj account_sid="$SID" auth_token="$TOKEN2")"
t_field "reconnecting keeps the URL" .status_callback_url "$URL"
twilio_post "$URL" "$TOKEN" CallSid="CA$(hex32)" CallStatus=completed To="$PHONE"
t_error "  the old auth token no longer verifies" 403 invalid_signature
twilio_post "$URL" "$TOKEN2" CallSid="CA$(hex32)" CallStatus=ringing To="$PHONE"
t_field "  the new one does" .outcome ignored
http_as "$A_AT" DELETE /v1/integrations/twilio
t_status "DELETE: 204" 204
twilio_post "$URL" "$TOKEN2" CallSid="CA$(hex32)" CallStatus=completed To="$PHONE"
t_error "a callback to the old URL: 404" 404 not_found
http_as "$A_AT" GET /v1/integrations/twilio
t_error "GET after DELETE: 404" 404 not_found
http_as "$A_AT" DELETE /v1/integrations/twilio
t_error "DELETE again: 404" 404 not_found
t_is "the sealed token is gone" \
    "$(suite_psql -c "select count(*) from tenant.twilio_integrations where organization_id = '$A_OID'")" 0
t_ok "no auth token in any log" bash -c "! grep -rqE '$TOKEN|$TOKEN2|$QTOKEN' '$SUITE_TMP/log'"
t_done
