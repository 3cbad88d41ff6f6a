#!/usr/bin/env bash
# Analytics rollup, write side (issue 16, migration 0012): a write of calls
# appends deltas (analytics_deltas) and a folder moves them into
# analytics_days. The overview counts the deltas not folded yet, so it is
# exact at any moment: checked against tests/lib/rollup_oracle.py (Python
# over the raw calls) while the folder is held off (this test holds its
# advisory lock, analytics_fold_key (), in a psql session of its own), then
# after it has run. Under the held lock: concurrent calls of one business,
# one local day and one status from several connections are all counted;
# a status change, a duration change and a delete (SQL) move the figures;
# a business's zone changes with deltas pending (the rebuild is calls
# minus pending deltas). Released: the folder folds everything, the
# rollup has the rows, analytics.verify finds no difference; a status
# change and a delete after folding move the rollup too. Who writes a
# delta (round 7): tenant-svc's insert statement (54 calls posted, 54
# deltas: the row trigger skipped them), the row trigger for calls inserted
# by SQL (counted); calls inserted with no delta (the triggers off, or an
# insert naming its own call in switchboard.call_delta) are the drift
# analytics.verify reports and repair fixes.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
suite_up

new_orgs A
py=$SUITE_ROOT/tests/lib/rollup_oracle.py
create_as "$A_AT" /v1/businesses "$(biz_body timezone=America/New_York)" || t_bail "no business"
ny=$NEW_ID
create_as "$A_AT" /v1/businesses "$(biz_body timezone=Asia/Kolkata)" || t_bail "no business"
kol=$NEW_ID

# The fold lock, held by a psql session fed through a FIFO.
fifo=$SUITE_TMP/hold.fifo
mkfifo "$fifo"
psql -X -A -t -q "$SUITE_PG_URL" < "$fifo" > "$SUITE_TMP/hold.out" 2>&1 &
hold_pid=$!
exec 7> "$fifo"
echo "SELECT pg_advisory_lock (tenant.analytics_fold_key ());" >&7
held () {
    suite_psql -c "SELECT count (*) FROM pg_locks WHERE locktype = 'advisory' AND granted
                   AND pid <> pg_backend_pid ()
                   AND (classid::bigint << 32) | objid::bigint
                       = tenant.analytics_fold_key () & x'ffffffffffffffff'::bigint"
}
for _ in $(seq 100); do [[ $(held) == 1 ]] && break; sleep 0.1; done
t_is "the fold lock is held by the test" "$(held)" 1
pending () {
    suite_psql -c "SELECT count (*) FROM tenant.analytics_deltas WHERE organization_id = '$A_OID'"
}
rolled () {
    suite_psql -c "SELECT coalesce (sum (calls), 0) FROM tenant.analytics_days
                   WHERE organization_id = '$A_OID'"
}

rows=$SUITE_TMP/rows
check () {
    local name=$1 frm=$2 to=$3 tz=$4 biz=$5 q section got exp
    q="from=$(urlq "$frm")&to=$(urlq "$to")"
    [[ $tz != default ]] && q+="&timezone=$(urlq "$tz")"
    [[ $biz != - ]] && q+="&business_id=$biz"
    http_as "$A_AT" GET "/v1/analytics/overview?$q"
    t_is "$name: 200" "$HTTP_STATUS" 200
    [[ $tz == default ]] && tz=$(json_get "$HTTP_BODY" .timezone)
    suite_psql -c "SELECT extract (epoch FROM started_at), business_id, duration_seconds, status
                   FROM tenant.calls WHERE organization_id = '$A_OID'" > "$rows"
    while IFS=$'\t' read -r section got exp; do
        t_is "$name: $section" "$got" "$exp"
    done < <(/usr/bin/python3 "$py" check "$rows" "$frm" "$to" "$tz" "$biz" "$HTTP_BODY")
}
verify () {
    "$SB_BIN/sb-call" -t 20000 tenant analytics.verify "{\"org\": \"$A_OID\"$1}"
}
all () {
    # Whole New York days from the rollup, the edges raw; Kolkata explicitly.
    check "$1 10 days" 2026-01-01T05:00:00Z 2026-01-11T05:00:00Z default -
    check "$1 partial edges" 2026-01-02T13:00:00Z 2026-01-09T02:30:00Z default -
    check "$1 Kolkata" 2026-01-01T00:00:00Z 2026-01-11T00:00:00Z Asia/Kolkata -
    check "$1 Kolkata business" 2026-01-01T00:00:00Z 2026-01-11T00:00:00Z default "$kol"
}

# Six connections at once, 8 calls each, all of one business, one local
# day, one status: the hot key of round 5's design.
posters=()
for c in 1 2 3 4 5 6; do
    (
        for i in 1 2 3 4 5 6 7 8; do
            http_as "$A_AT" POST /v1/calls \
                "$(call_body "$ny" started_at=2026-01-05T1$((i % 10)):0$c:00Z status=completed \
                   duration_seconds:=$((c * 10 + i)))"
            echo "$HTTP_STATUS" >> "$SUITE_TMP/posted.$c"
        done
    ) &
    posters+=($!)
done
wait "${posters[@]}"
t_is "48 concurrent POST /v1/calls: all 201" "$(cat "$SUITE_TMP"/posted.* | grep -c '^201$')" 48
for t in 2026-01-03T04:30:00Z 2026-01-03T18:29:59Z 2026-01-08T23:59:59Z; do
    for b in "$ny" "$kol"; do
        create_as "$A_AT" /v1/calls "$(call_body "$b" started_at="$t" status=missed duration_seconds:=61)" \
            || t_fail "POST /v1/calls $t"
    done
done
t_is "deltas pending: none folded" "$(pending)" 54
t_is "nothing in the rollup yet" "$(rolled)" 0
all "pending:"
out=$(verify "")
t_is "verify with deltas pending: no difference" "$(json_get "$out" .body.mismatches)" 0
t_is "verify: pending deltas" "$(json_get "$out" .body.pending)" 54

# A status change, a duration change and a delete, still pending.
suite_psql -c "UPDATE tenant.calls SET status = 'transferred' WHERE organization_id = '$A_OID'
               AND started_at = '2026-01-05T11:01:00Z'" > /dev/null
suite_psql -c "UPDATE tenant.calls SET duration_seconds = 3600 WHERE organization_id = '$A_OID'
               AND started_at = '2026-01-05T12:02:00Z'" > /dev/null
suite_psql -c "DELETE FROM tenant.calls WHERE organization_id = '$A_OID'
               AND started_at = '2026-01-03T18:29:59Z'" > /dev/null
t_is "deltas pending after the changes" "$(pending)" 60
all "changed, pending:"

# The Kolkata business moves to Paris in the session holding the lock
# (re-entrant): its rows are rebuilt as calls minus the pending deltas.
echo "UPDATE tenant.businesses SET timezone = 'Europe/Paris' WHERE id = '$kol';" >&7
for _ in $(seq 100); do
    [[ $(suite_psql -c "SELECT timezone FROM tenant.businesses WHERE id = '$kol'") == Europe/Paris ]] \
        && break
    sleep 0.1
done
t_is "zone changed, deltas still pending" "$(pending)" 60
check "zone changed, pending: Paris business" 2026-01-01T23:00:00Z 2026-01-10T23:00:00Z default "$kol"
all "zone changed, pending:"
t_is "verify after the zone change: no difference" "$(json_get "$(verify "")" .body.mismatches)" 0

# Released: the folder folds.
echo "SELECT pg_advisory_unlock_all ();" >&7
exec 7>&-
wait "$hold_pid"
for _ in $(seq 200); do [[ $(pending) == 0 ]] && break; sleep 0.1; done
t_is "folded: no delta pending" "$(pending)" 0
t_ok "folded: the rollup has the calls" test "$(rolled)" -gt 0
all "folded:"
out=$(verify "")
t_is "verify after the fold: no difference" "$(json_get "$out" .body.mismatches)" 0
t_is "verify after the fold: none pending" "$(json_get "$out" .body.pending)" 0

# After folding: a status change and a delete move the rollup.
before=$(rolled)
suite_psql -c "UPDATE tenant.calls SET status = 'voicemail' WHERE organization_id = '$A_OID'
               AND started_at = '2026-01-05T13:03:00Z'" > /dev/null
suite_psql -c "DELETE FROM tenant.calls WHERE organization_id = '$A_OID'
               AND started_at = '2026-01-05T14:04:00Z'" > /dev/null
for _ in $(seq 200); do [[ $(pending) == 0 ]] && break; sleep 0.1; done
t_is "changes folded" "$(pending)" 0
t_is "the rollup lost the deleted call" "$(rolled)" $((before - 1))
t_is "the rollup moved the status" \
    "$(suite_psql -c "SELECT sum (calls) FROM tenant.analytics_days WHERE organization_id = '$A_OID'
                      AND status = 'voicemail' AND timezone = 'America/New_York'")" 1
all "folded changes:"
t_is "verify at the end: no difference" "$(json_get "$(verify "")" .body.mismatches)" 0
# Who writes a call's delta (round 7): tenant-svc's insert in its own
# statement (the 54 calls posted above made 54 deltas, not 108: the row
# trigger skipped the call its statement named in switchboard.call_delta);
# the row trigger for any other insert. A call inserted by SQL is counted;
# so is one inserted in a transaction that names another call.
sql_call () {   # sql_call STARTED [SQL before the insert]
    suite_psql -c "BEGIN; $2
                   INSERT INTO tenant.calls (organization_id, id, business_id, caller_number,
                                             started_at, duration_seconds, status)
                   VALUES ('$A_OID', gen_random_uuid (), '$ny', '+15555550100', '$1', 125,
                           'completed');
                   COMMIT;" > /dev/null
}
before=$(suite_psql -c "SELECT count (*) FROM tenant.calls WHERE organization_id = '$A_OID'")
sql_call 2026-01-06T15:00:00Z
sql_call 2026-01-06T16:00:00Z \
    "SELECT set_config ('switchboard.call_delta', gen_random_uuid ()::text, true);"
t_is "two calls inserted by SQL" \
    "$(suite_psql -c "SELECT count (*) FROM tenant.calls WHERE organization_id = '$A_OID'")" \
    $((before + 2))
for _ in $(seq 200); do [[ $(pending) == 0 ]] && break; sleep 0.1; done
all "inserted by SQL:"
t_is "verify after the inserts by SQL: no difference" "$(json_get "$(verify "")" .body.mismatches)" 0

# Drift: a call whose insert claims its delta without writing it, and one
# inserted with the triggers off. verify sees both; repair fixes them.
suite_psql -c "BEGIN; SET LOCAL session_replication_role = replica;
               INSERT INTO tenant.calls (organization_id, id, business_id, caller_number,
                                         started_at, duration_seconds, status)
               VALUES ('$A_OID', '00000000-0000-4000-8000-0000000000bb', '$kol',
                       '+15555550100', '2026-01-07T16:00:00Z', 61, 'missed');
               COMMIT;" > /dev/null
suite_psql -c "INSERT INTO tenant.calls (organization_id, id, business_id, caller_number,
                                         started_at, duration_seconds, status)
               SELECT '$A_OID', '00000000-0000-4000-8000-0000000000aa', '$ny', '+15555550100',
                      '2026-01-07T17:00:00Z', 61, 'voicemail'
                WHERE set_config ('switchboard.call_delta',
                                  '00000000-0000-4000-8000-0000000000aa', true) IS NOT NULL" \
    > /dev/null
for _ in $(seq 200); do [[ $(pending) == 0 ]] && break; sleep 0.1; done
out=$(verify "")
# Three keys: the missed call in its business's zone (Paris) and the
# organization's (New York), the voicemail in New York.
t_is "verify sees the calls without delta" "$(json_get "$out" .body.mismatches)" 3
t_is "verify: the first key lacks one call" \
    "$(json_get "$out" .body.examples[0].expected.calls)/$(json_get "$out" .body.examples[0].actual.calls)" \
    "1/"
out=$(verify ', "repair": true')
t_ok "repair rebuilds the businesses concerned" test "$(json_get "$out" .body.repaired)" -gt 0
t_is "verify after repair: no difference" "$(json_get "$(verify "")" .body.mismatches)" 0
all "repaired:"
t_done
