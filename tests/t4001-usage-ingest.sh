#!/usr/bin/env bash
# Usage ingestion, POST /v1/usage/events (usage.ingest) and the bus
# (usage.record): 202 {accepted, duplicates}; an event id counts once per
# organization, ever, also twice in one request; the organization is the
# caller's, never the body's; properties are stored as jsonb; any bad event
# is 400 validation_failed naming it (events[3].metric), stores nothing, and
# no bad input is ever a 5xx. Row-level security hides other organizations'
# rows from the service's role. Four clients posting overlapping batches at
# once to three workers: every id stored and counted once (the accepted
# counts add up to the distinct ids), the counters equal the sums the test
# computes and usage.verify's recomputation. usage-svc killed (SIGKILL) in the middle of
# a stream of batches and restarted: every batch that had its 202 is wholly
# in the database, the others are resent until they get one, and in the end
# every event is there exactly once.
. "$(dirname "$0")/lib/usage.sh"
suite_init
suite_up
orgs_with_business A
new_orgs B
biz=$A_BIZ

# (The gateway records every authenticated request as api_requests usage:
# those are not the test's.)
count_events () {   # ORG [SQL condition on event_id]
    suite_psql -c "SELECT count(*) FROM usage.events WHERE organization_id = '$1'
                      AND metric <> 'api_requests' ${2:+AND $2}"
}

# ---- the basics ---------------------------------------------------------------------------------
at=$(ts_at -60)
body=$(cat <<EOF
{"org": "$B_OID", "events": [
  {"id": "e1", "metric": "sms", "quantity": 2, "occurred_at": "$at", "org": "$B_OID"},
  {"id": "e2", "metric": "tokens", "quantity": 1500, "occurred_at": "$at", "business_id": "$biz",
   "properties": {"model": "small", "n": [1, 2.5, null, true], "q": "say \"hi\"\\\\"}},
  {"id": "e1", "metric": "sms", "quantity": 7, "occurred_at": "$at"},
  {"id": "événement 3 ✓", "metric": "sms", "quantity": 0, "occurred_at": "2026-01-31T23:59:59.999999+00:00"}
]}
EOF
)
http_as "$A_AT" POST /v1/usage/events "$body"
t_status "A posts 4 events, one id twice: 202" 202
t_is "  accepted 3, duplicates 1" "$(json_get "$HTTP_BODY" .accepted) $(json_get "$HTTP_BODY" .duplicates)" "3 1"
t_is "  stored in A (the token's organization), not the body's" \
    "$(count_events "$A_OID") $(count_events "$B_OID")" "3 0"
t_is "  the id sent twice in one request counts once, the first one" \
    "$(suite_psql -c "SELECT quantity FROM usage.events WHERE organization_id = '$A_OID' AND event_id = 'e1'")" 2
t_same_json "  properties are stored as jsonb" \
    "$(suite_psql -c "SELECT properties FROM usage.events WHERE organization_id = '$A_OID' AND event_id = 'e2'")" \
    "$(json_get "$body" .events[1].properties)"
t_is "  with the business" \
    "$(suite_psql -c "SELECT business_id FROM usage.events WHERE organization_id = '$A_OID' AND event_id = 'e2'")" "$biz"
t_is "  a UTF-8 id and a fraction kept" \
    "$(suite_psql -c "SELECT to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM usage.events
                       WHERE organization_id = '$A_OID' AND event_id = 'événement 3 ✓'")" "2026-01-31 23:59:59.999999"
http_as "$A_AT" POST /v1/usage/events "$body"
t_is "the same request again: 202 accepted 0, duplicates 4" \
    "$HTTP_STATUS $(json_get "$HTTP_BODY" .accepted) $(json_get "$HTTP_BODY" .duplicates)" "202 0 4"
t_is "  nothing more stored" "$(count_events "$A_OID")" 3
http_as "$B_AT" POST /v1/usage/events "$body"
t_is "B sends the same ids: they are B's own, accepted 3" \
    "$HTTP_STATUS $(json_get "$HTTP_BODY" .accepted)" "202 3"
t_is "  counters: A sms 2, tokens 1500 this month and sms 0 in January" \
    "$(suite_psql -F ' ' -c "SELECT metric, period_start, used FROM usage.counters WHERE organization_id = '$A_OID'
                              AND metric <> 'api_requests' ORDER BY period_start, metric")" \
    "sms 2026-01-01 0"$'\n'"sms $(date -u +%Y-%m)-01 2"$'\n'"tokens $(date -u +%Y-%m)-01 1500"
t_is "usage.verify: the counters agree with the events" "$(usage_mismatches)" 0

# ---- bad input: 400 naming the event and field, nothing stored, never 5xx -------------------------
n_a=$(count_events "$A_OID")
ev () {   # an event with changes (jedit syntax)
    jedit "{\"id\": \"v$RANDOM$RANDOM\", \"metric\": \"sms\", \"quantity\": 1, \"occurred_at\": \"$at\"}" "$@"
}
bad () {  # DESC BODY FIELD...
    local desc=$1 b=$2
    shift 2
    http_as "$A_AT" POST /v1/usage/events "$b"
    t_fields "$desc" "$@"
}
long=$(printf 'x%.0s' $(seq 1 129))
long_metric=a$(printf 'b%.0s' $(seq 1 63))
bad "no events" '{}' events
bad "events not a list" '{"events": {"id": "x"}}' events
bad "an empty list" '{"events": []}' events
"$SUITE_PYTHON" -c 'import json; print(json.dumps({"events": [{"id": "m%d" % i, "metric": "sms", "quantity": 1, "occurred_at": "2026-01-01T00:00:00Z"} for i in range(1001)]}))' > "$SUITE_TMP/1001.json"
bad "1001 events" "$(cat "$SUITE_TMP/1001.json")" events
bad "an event that is not an object" "{\"events\": [$(ev), 5]}" 'events[1]'
bad "an empty id" "{\"events\": [$(ev id=)]}" 'events[0].id'
bad "an id of 129 characters" "{\"events\": [$(ev id="$long")]}" 'events[0].id'
bad "an id that is a number" "{\"events\": [$(ev id:=5)]}" 'events[0].id'
bad "an id with a control character" "{\"events\": [$(ev id:='"a\u0007b"')]}" 'events[0].id'
bad "no id" "{\"events\": [$(ev id-)]}" 'events[0].id'
for m in Calls 9lives a-b "a b" _x "$long_metric" ""; do
    bad "metric '${m:0:20}'" "{\"events\": [$(ev metric="$m")]}" 'events[0].metric'
done
bad "no metric" "{\"events\": [$(ev metric-)]}" 'events[0].metric'
for q in -1 1.5 '"3"' 1000000000001 true null; do
    bad "quantity $q" "{\"events\": [$(ev quantity:="$q")]}" 'events[0].quantity'
done
for t in 2026-02-30T00:00:00Z "2026-01-01 00:00:00Z" 2026-01-01T00:00:00 yesterday 2026-01-01T00:00:00+24:00 0000-01-01T00:00:00Z ""; do
    bad "occurred_at '$t'" "{\"events\": [$(ev occurred_at="$t")]}" 'events[0].occurred_at'
done
bad "no occurred_at" "{\"events\": [$(ev occurred_at-)]}" 'events[0].occurred_at'
bad "business_id not a UUID" "{\"events\": [$(ev business_id=nope)]}" 'events[0].business_id'
for p in '[1]' '"x"' 5; do
    bad "properties $p" "{\"events\": [$(ev properties:="$p")]}" 'events[0].properties'
done
big=$("$SUITE_PYTHON" -c 'import json; print(json.dumps({"x": "y" * 9000}))')
bad "properties over 8 KiB" "{\"events\": [$(ev properties:="$big")]}" 'events[0].properties'
bad "one bad event among good ones" "{\"events\": [$(ev), $(ev), $(ev metric=BAD), $(ev)]}" 'events[2].metric'
bad "several" "{\"events\": [$(ev quantity:=-5), $(ev), $(ev occurred_at=x metric=Y)]}" \
    'events[0].quantity' 'events[2].occurred_at' 'events[2].metric'
t_is "  none of them stored anything" "$(count_events "$A_OID")" "$n_a"
http_as "$A_AT" POST /v1/usage/events '{"events": [{"id": "x", "metric": "sms", "quantity": 1, "occurred_at": "2026-01-01T00:00:00Z", "properties": {"a": "nul\u0000"}}]}'
t_like "a NUL in properties: 400, not 5xx" "$HTTP_STATUS" '^400$'
http_as "$A_AT" POST /v1/usage/events '{"events": [' 
t_error "broken JSON: 400 invalid_request" 400 invalid_request
http POST /v1/usage/events "{\"events\": [$(ev)]}"
t_error "no credentials: 401" 401 unauthenticated
http_as "$A_AT" GET /v1/usage/events
t_status "GET /v1/usage/events: 405" 405
t_is "  still nothing stored" "$(count_events "$A_OID")" "$n_a"

# The bus: usage.record names each event's organization.
out=$(usage_bus usage.record "{\"events\": [{\"id\": \"r1\", \"metric\": \"sms\", \"quantity\": 1, \"occurred_at\": \"$at\"}]}")
t_is "usage.record without the event's org: 400 events[0].org" \
    "$(json_get "$out" .status) $(json_get "$out" .error.code) $(json_get "$out" .error.fields | tr -d '{}' | cut -d: -f1)" \
    '400 validation_failed "events[0].org"'
out=$(usage_bus usage.record "{\"events\": [{\"id\": \"r1\", \"org\": \"not-a-uuid\", \"metric\": \"sms\", \"quantity\": 1, \"occurred_at\": \"$at\"}]}")
t_is "usage.record with a bad org: 400" "$(json_get "$out" .status)" 400
out=$(usage_bus usage.record "{\"events\": [{\"id\": \"r1\", \"org\": \"$A_OID\", \"metric\": \"sms\", \"quantity\": 4, \"occurred_at\": \"$at\"},
                                             {\"id\": \"r1\", \"org\": \"$B_OID\", \"metric\": \"sms\", \"quantity\": 5, \"occurred_at\": \"$at\"}]}")
t_is "usage.record, one id in two organizations: 200 accepted 2" \
    "$(json_get "$out" .status) $(json_get "$out" .body.accepted) $(json_get "$out" .body.duplicates)" "200 2 0"
out=$(usage_bus usage.ingest "{\"events\": [$(ev)]}")
t_is "usage.ingest from a service without org: 400 org" \
    "$(json_get "$out" .status) $(json_get "$out" .error.fields | tr -d '{}' | cut -d: -f1)" '400 "org"'
out=$(usage_bus usage.ingest "{\"org\": \"$B_OID\", \"events\": [$(ev id=svc1)]}")
t_is "usage.ingest from a service for B: 202 accepted 1" \
    "$(json_get "$out" .status) $(json_get "$out" .body.accepted) $(count_events "$B_OID" "event_id = 'svc1'")" "202 1 1"
out=$("$SB_BIN/sb-call" -r user -o "$A_OID" usage usage.record "{\"events\": []}")
t_is "usage.record as a user: 403" "$(json_get "$out" .status)" 403
out=$("$SB_BIN/sb-call" -r user -o "$A_OID" usage usage.verify)
t_is "usage.verify as a user: 403" "$(json_get "$out" .status)" 403
t_is "usage.verify: still no mismatch" "$(usage_mismatches)" 0

# ---- row-level security --------------------------------------------------------------------------
rls () {   # ORG|"" : what the service's role sees of A's and B's events with that organization set
    suite_psql -c "SET ROLE sb_usage; SELECT set_config('switchboard.org', '$1', false);
                   SELECT count(*) FILTER (WHERE organization_id = '$A_OID') || ' '
                          || count(*) FILTER (WHERE organization_id = '$B_OID') FROM usage.events
                    WHERE metric <> 'api_requests'" | tail -n 1
}
t_is "row-level security: with no organization set the service's role sees no event" "$(rls "")" "0 0"
t_is "  with A set, only A's" "$(rls "$A_OID")" "$(count_events "$A_OID") 0"
t_is "  counters and reservations too" \
    "$(suite_psql -c "SET ROLE sb_usage; SELECT (SELECT count(*) FROM usage.counters) + (SELECT count(*) FROM usage.reservations)" | tail -n 1)" 0

# ---- four clients, overlapping batches, at once, three workers ----------------------------------------
suite_start_service usage 3 || t_bail "cannot start a second usage worker"
suite_start_service usage 4 || t_bail "cannot start a third usage worker"
sleep 1
new_org C || t_bail "cannot sign up C"
# Batch k holds ids c<50k> .. c<50k+99>: each overlaps the next by half.
usage_events "$SUITE_TMP/all.json" c 1250
"$SUITE_PYTHON" - "$SUITE_TMP" <<'EOF'
import json, sys
d = sys.argv[1]
events = json.load(open(d + "/all.json"))["events"]
for k in range(24):
    json.dump({"events": events[50 * k: 50 * k + 100]}, open("%s/c%d.json" % (d, k), "w"))
EOF
client () {   # N ORDER...
    local n=$1 k
    shift
    for k in "$@"; do
        printf '%s %s %s\n' "$n" "$k" "$(usage_post "$C_AT" "$SUITE_TMP/c$k.json")"
    done > "$SUITE_TMP/client$n.log"
}
seq_up=$(seq 0 23)
seq_down=$(seq 23 -1 0)
shuf1=$("$SUITE_PYTHON" -c 'import random; r = list(range(24)); random.Random(1).shuffle(r); print(*r)')
shuf2=$("$SUITE_PYTHON" -c 'import random; r = list(range(24)); random.Random(2).shuffle(r); print(*r)')
started=$SECONDS
# shellcheck disable=SC2086
pids=()
client 0 $seq_up & pids+=($!)
client 1 $seq_down & pids+=($!)
client 2 $shuf1 & pids+=($!)
client 3 $shuf2 & pids+=($!)
wait "${pids[@]}"
t_note "  (96 batches of 100 from 4 clients in $((SECONDS - started)) s)"
cat "$SUITE_TMP"/client?.log > "$SUITE_TMP/clients.log"
t_is "96 batches posted, every one answered 202" \
    "$(awk '$3 == 202' "$SUITE_TMP/clients.log" | wc -l)" 96
accepted=$("$SUITE_PYTHON" - "$SUITE_TMP/clients.log" <<'EOF'
import json, sys
total = 0
for line in open(sys.argv[1]):
    n, k, status, body = line.split(" ", 3)
    if status == "202":
        b = json.loads(body)
        assert b["accepted"] + b["duplicates"] == 100, line
        total += b["accepted"]
print(total)
EOF
)
t_is "  the accepted counts add up to the 1250 distinct ids: each counted once" "$accepted" 1250
t_is "  C holds 1250 events" "$(count_events "$C_OID")" 1250
expect=$(seq 0 1249 | sed 's/^/c/' | usage_expect)
t_is "  the events' sums per metric are the test's" "$(usage_sums "$C_OID")" "$expect"
t_is "  so are the counters'" "$(usage_counter_sums "$C_OID")" "$expect"
t_is "  usage.verify: no mismatch" "$(usage_mismatches "$C_OID")" 0
t_is "  the three workers all took part" \
    "$(grep -l 'usage.ingest -> 202' "$SUITE_TMP"/log/usage-{1,3,4}.log | wc -l)" 3
t_ok "  the extra workers stop cleanly" eval 'suite_stop usage-3 && suite_stop usage-4'

# ---- usage-svc killed in the middle of a stream of batches --------------------------------------------
new_org K || t_bail "cannot sign up K"
nb=60
for k in $(seq 0 $((nb - 1))); do
    usage_events "$SUITE_TMP/k$k.json" "k$k-" 1000
done
# The client: each batch until it gets its 202 (a producer with a retry loop).
: > "$SUITE_TMP/stream.log"
usage_stream "$K_AT" "$nb" &
stream_pid=$!
poll_until 60 usage_stream_acked 4 || t_fail "the stream got 4 answers 202 within 60 s"
# Aim at a batch being written: kill as soon as PostgreSQL runs the insert
# (a loop in the server looks every 2 ms for up to 10 s).
caught=$(suite_psql -c "
    CREATE FUNCTION pg_temp.wait_insert () RETURNS text LANGUAGE plpgsql AS \$\$
    BEGIN
        FOR i IN 1 .. 5000 LOOP
            PERFORM pg_stat_clear_snapshot ();
            PERFORM 1 FROM pg_stat_activity WHERE usename = 'sb_usage' AND state = 'active'
                                              AND query LIKE 'WITH input%';
            IF FOUND THEN RETURN 'yes'; END IF;
            PERFORM pg_sleep (0.002);
        END LOOP;
        RETURN 'no';
    END \$\$;
    SELECT pg_temp.wait_insert ();" 2>&1)
t_ok "usage-svc killed (SIGKILL) mid-stream" suite_kill usage-1
t_note "  (killed while PostgreSQL ran a batch's insert: $caught)"
cp "$SUITE_TMP/stream.log" "$SUITE_TMP/before-kill.log"
partial=$(suite_psql -F ' ' -c "SELECT split_part(event_id, '-', 1), count(*) FROM usage.events
                                  WHERE organization_id = '$K_OID' AND metric <> 'api_requests'
                                  GROUP BY 1 HAVING count(*) <> 1000")
t_is "  no batch is partly stored: each is all or nothing" "$partial" ""
missing=0
for k in $(awk '$3 == 202 { print $1 }' "$SUITE_TMP/before-kill.log"); do
    n=$(count_events "$K_OID" "event_id LIKE 'k$k-%'")
    [[ $n == 1000 ]] || { missing=$((missing + 1)); t_diag "batch $k acknowledged but $n of 1000 stored"; }
done
t_is "  every batch acknowledged before the kill ($(awk '$3 == 202' "$SUITE_TMP/before-kill.log" | wc -l)) is wholly stored" "$missing" 0
sleep 1
t_ok "usage-svc started again" suite_start_service usage 2
usage_stream_finish "$stream_pid"
failures=$(awk '$3 != 202' "$SUITE_TMP/stream.log" | wc -l)
t_like "  some attempts failed while usage-svc was down, and were resent ($failures)" "$failures" '^[1-9][0-9]*$'
t_is "  every batch ends with a 202" "$(awk '$3 == 202 { print $1 }' "$SUITE_TMP/stream.log" | sort -u | wc -l)" "$nb"
resent_dups=$(awk '$3 == 202 && $2 > 1' "$SUITE_TMP/stream.log" | grep -c '"duplicates":1000')
t_note "  ($failures failed attempts, statuses $(awk '$3 != 202 { print $3 }' "$SUITE_TMP/stream.log" | sort -u | tr '\n' ' ');" \
       "   $resent_dups resent batches had been stored already: their answer was lost)"
t_is "  K holds each of the $((nb * 1000)) events once" \
    "$(suite_psql -c "SELECT count(*), count(DISTINCT event_id) FROM usage.events
                       WHERE organization_id = '$K_OID' AND metric <> 'api_requests'")" \
    "$((nb * 1000))|$((nb * 1000))"
expect=$(for k in $(seq 0 $((nb - 1))); do seq 0 999 | sed "s/^/k$k-/"; done | usage_expect)
t_is "  the events' sums per metric are the test's" "$(usage_sums "$K_OID")" "$expect"
t_is "  so are the counters'" "$(usage_counter_sums "$K_OID")" "$expect"
t_is "usage.verify over every organization: no mismatch" "$(usage_mismatches)" 0
t_unlike "no 5xx but while usage-svc was down (503/504)" \
    "$(awk '{ print $3 }' "$SUITE_TMP/stream.log" "$SUITE_TMP/clients.log" | sort -u | tr '\n' ' ')" '50[0-2]'

t_done
