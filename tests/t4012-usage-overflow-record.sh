#!/usr/bin/env bash
# usage.record (the internal op producers batch through: the tenant relay,
# the gateway) answers per event, never failing a whole batch for one
# organization's counters. A mixed batch of organizations A and B where A's
# tokens counter is near the cap (10^15) and A's bytes counter near 2^63
# (where the sum used to overflow bigint and fail the batch): 200; B's events
# are counted; A's events of those two counters are refused (refusals lists
# their indexes, organization, id and error usage_overflow) and not stored;
# A's event of another metric is counted; an id A had already recorded is a
# duplicate; per organization the answer counts accepted, duplicates and
# refused. An event that is itself invalid (quantity over 10^9) is refused
# alone (validation_failed naming the field) while the rest is stored; an
# event without a valid organization still fails the batch (400: no one to
# refuse it for). The counters still equal their events.
. "$(dirname "$0")/lib/usage.sh"
suite_init
suite_up
new_orgs A B

CAP=1000000000000000
at=$(ts_at -30)
ev () {   # ORG ID METRIC QUANTITY
    printf '{"org": "%s", "id": "%s", "metric": "%s", "quantity": %s, "occurred_at": "%s"}' \
        "$1" "$2" "$3" "$4" "$at"
}
record () {   # EVENT...: usage.record over the bus; prints the reply as JSON
    usage_bus usage.record "{\"events\": [$(IFS=,; echo "$*")]}"
}

out=$(record "$(ev "$A_OID" old1 sms 2)")
t_is "A records one sms event: 200" "$(json_get "$out" .status)" 200

t_ok "A's tokens counter is set to the cap - 10" usage_counter_set "$A_OID" tokens $((CAP - 10))
t_ok "A's bytes counter is set to 2^63 - 10" usage_counter_set "$A_OID" bytes 9223372036854775797

out=$(record "$(ev "$A_OID" t1 tokens 4)" "$(ev "$B_OID" b1 tokens 7)" "$(ev "$A_OID" t2 tokens 7)" \
             "$(ev "$A_OID" s1 sms 3)" "$(ev "$B_OID" b2 bytes 1000)" "$(ev "$A_OID" y1 bytes 1000)" \
             "$(ev "$A_OID" old1 sms 2)" "$(ev "$B_OID" b3 sms 5)")
t_is "a mixed batch with A's rows over the cap: 200" "$(json_get "$out" .status)" 200
t_is "  accepted 4 (B's 3, A's sms), duplicates 1, refused 3" \
    "$(json_get "$out" .body.accepted) $(json_get "$out" .body.duplicates) $(json_get "$out" .body.refused)" \
    "4 1 3"
t_is "  refusals: A's tokens (0, 2) and bytes (5) events, by index" \
    "$(json_get "$out" .body.refusals 2>&1 | "$SUITE_PYTHON" -c '
import json, sys
print(" ".join("%s:%s:%s" % (r["index"], r["id"], r["error"]) for r in json.load(sys.stdin)))')" \
    "0:t1:usage_overflow 2:t2:usage_overflow 5:y1:usage_overflow"
t_is "  each names A's organization" \
    "$(json_get "$out" .body.refusals 2>&1 | "$SUITE_PYTHON" -c '
import json, sys
print(sorted(set(r["org"] for r in json.load(sys.stdin))))')" "['$A_OID']"
t_is "  per organization: A accepted 1, duplicates 1, refused 3; B accepted 3" \
    "$(json_get "$out" ".body.orgs.$A_OID" 2>&1 | tr -d ' \n') $(json_get "$out" ".body.orgs.$B_OID" 2>&1 | tr -d ' \n')" \
    '{"accepted":1,"duplicates":1,"refused":3} {"accepted":3,"duplicates":0,"refused":0}'
t_is "  B's events are counted" \
    "$(usage_counter "$B_OID" tokens) $(usage_counter "$B_OID" bytes) $(usage_counter "$B_OID" sms)" "7 1000 5"
t_is "  A's sms event is counted, its tokens and bytes counters unchanged" \
    "$(usage_counter "$A_OID" sms) $(usage_counter "$A_OID" tokens) $(usage_counter "$A_OID" bytes)" \
    "5 $((CAP - 10)) 9223372036854775797"
t_is "  A's refused events are not stored" \
    "$(suite_psql -c "SELECT count(*) FROM usage.events WHERE organization_id = '$A_OID'
                       AND event_id IN ('t1', 't2', 'y1')")" 0

out=$(record "$(ev "$A_OID" t3 tokens 10)" "$(ev "$B_OID" b4 tokens 1)")
t_is "A's tokens exactly up to the cap: accepted with B's" \
    "$(json_get "$out" .status) $(json_get "$out" .body.accepted) $(json_get "$out" .body.refused)" "200 2 0"
t_is "  A's tokens counter is at the cap" "$(usage_counter "$A_OID" tokens)" "$CAP"

out=$(record "$(ev "$B_OID" b5 sms 1000000001)" "$(ev "$A_OID" s2 sms 1)" "$(ev "$B_OID" b6 sms 1)")
t_is "an event over 10^9 in a batch: 200, that event refused alone" \
    "$(json_get "$out" .status) $(json_get "$out" .body.accepted) $(json_get "$out" .body.refusals[0].index) $(json_get "$out" .body.refusals[0].error)" \
    "200 2 0 validation_failed"
t_like "  naming the field" "$(json_get "$out" .body.refusals[0].message)" 'quantity'
t_is "  the others are counted" "$(usage_counter "$A_OID" sms) $(usage_counter "$B_OID" sms)" "6 6"

out=$(record "$(ev "$B_OID" b7 sms 1)" '{"id": "x", "metric": "sms", "quantity": 1, "occurred_at": "'"$at"'"}')
t_is "an event without an organization: 400 events[1].org" \
    "$(json_get "$out" .status) $(json_get "$out" .error.fields 2>&1 | tr -d ' \n')" \
    '400 {"events[1].org":"isrequired"}'

t_is "usage.verify: the counters equal their events" "$(usage_mismatches)" 0
t_done
