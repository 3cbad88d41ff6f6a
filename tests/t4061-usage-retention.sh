#!/usr/bin/env bash
# Retention of raw usage events (SWITCHBOARD_USAGE_RETENTION_DAYS=1): the
# sweep (usage.retain, one batch; the same statement a background thread
# runs every minute) deletes the events received before the horizon, a
# batch at a time, and keeps what they added up to: the counters do not
# move, the series over whole hours is the same before and after, and
# usage.verify still finds no mismatch (the deleted events' sums are in
# usage.retired). An event id sent again after its event was deleted is
# counted again: the deduplication window is the retention (documented).
# Without the setting usage.retain deletes nothing.
. "$(dirname "$0")/lib/usage.sh"
suite_init
export SWITCHBOARD_USAGE_RETENTION_DAYS=1
suite_up
new_orgs A B

batch () {   # PREFIX COUNT HOUR (RFC 3339, on the hour): COUNT events, quantity i+1, minutes apart
    local i
    printf '{"events": ['
    for ((i = 0; i < $2; i++)); do
        (( i )) && printf ', '
        printf '{"id": "%s%d", "metric": "sms", "quantity": %d, "occurred_at": "%s"}' \
            "$1" "$i" $((i + 1)) "${3%:00:00Z}:$(printf '%02d' $((i % 60))):00Z"
    done
    printf ']}'
}
http_as "$A_AT" POST /v1/usage/events "$(batch old- 20 2026-03-01T10:00:00Z)"
t_is "A: 20 events (sum 210) in the 10:00 hour: 202" "$HTTP_STATUS $(json_get "$HTTP_BODY" .accepted)" "202 20"
http_as "$A_AT" POST /v1/usage/events "$(batch new- 10 2026-03-01T11:00:00Z)"
t_is "  10 more (sum 55) in the 11:00 hour" "$HTTP_STATUS $(json_get "$HTTP_BODY" .accepted)" "202 10"
http_as "$B_AT" POST /v1/usage/events "$(batch old- 5 2026-03-01T10:00:00Z)"
t_is "B: 5 events (sum 15) in the 10:00 hour" "$HTTP_STATUS $(json_get "$HTTP_BODY" .accepted)" "202 5"

series () {   # TOKEN: the 10:00-12:00 series by hour, "value value"
    http_as "$1" GET "/v1/usage?metric=sms&from=2026-03-01T10:00:00Z&to=2026-03-01T12:00:00Z&granularity=hour"
    "$SUITE_PYTHON" -c 'import json, sys; print(*[p["value"] for p in json.loads(sys.argv[1])["points"]])' "$HTTP_BODY"
}
counter () {   # ORG
    suite_psql -c "SELECT used FROM usage.counters WHERE organization_id = '$1' AND metric = 'sms'"
}
raw () {   # ORG
    suite_psql -c "SELECT count(*) FROM usage.events WHERE organization_id = '$1' AND metric = 'sms'"
}
t_is "series before: 210 55" "$(series "$A_AT")" "210 55"
before_a=$(counter "$A_OID") before_b=$(counter "$B_OID")

out=$(usage_bus usage.retain)
t_is "usage.retain with nothing old enough: deletes 0" \
    "$(json_get "$out" .status) $(json_get "$out" .body.retention_days) $(json_get "$out" .body.deleted)" "200 1 0"
# Received two days ago: A's 10:00 batch and B's.
suite_psql -c "UPDATE usage.events SET received_at = now () - interval '2 days'
                WHERE metric = 'sms' AND event_id LIKE 'old-%'" >/dev/null
out=$(usage_bus usage.retain '{"limit": 15}')
t_is "usage.retain, 15 at a time: 15 deleted, more" \
    "$(json_get "$out" .body.deleted) $(json_get "$out" .body.more)" "15 true"
out=$(usage_bus usage.retain '{"limit": 15}')
t_is "  then the other 10, done" "$(json_get "$out" .body.deleted) $(json_get "$out" .body.more)" "10 false"
out=$(usage_bus usage.retain)
t_is "  then nothing" "$(json_get "$out" .body.deleted)" 0
t_is "raw events left: A's 10 recent ones, none of B" "$(raw "$A_OID") $(raw "$B_OID")" "10 0"
t_is "the counters did not move" "$(counter "$A_OID") $(counter "$B_OID")" "$before_a $before_b"
t_is "  A's series over whole hours is the same: 210 55" "$(series "$A_AT")" "210 55"
t_is "  B's too: 15 0" "$(series "$B_AT")" "15 0"
t_is "  the retired sums: A 210 of 20 events, B 15 of 5" \
    "$(suite_psql -F ' ' -c "SELECT quantity, events FROM usage.retired WHERE metric = 'sms'
                              ORDER BY organization_id = '$A_OID' DESC")" "210 20"$'\n'"15 5"
out=$(usage_bus usage.verify)
t_is "usage.verify: no mismatch, 25 retired events counted" \
    "$(json_get "$out" .body.mismatches) $(json_get "$out" .body.retired_events)" "0 25"

http_as "$A_AT" POST /v1/usage/events "$(batch new- 10 2026-03-01T11:00:00Z)"
t_is "A resends its recent batch: all duplicates" \
    "$(json_get "$HTTP_BODY" .accepted) $(json_get "$HTTP_BODY" .duplicates)" "0 10"
http_as "$A_AT" POST /v1/usage/events "$(batch old- 1 2026-03-01T10:00:00Z)"
t_is "  an id older than the retention is counted again (the window is the retention)" \
    "$(json_get "$HTTP_BODY" .accepted) $(json_get "$HTTP_BODY" .duplicates)" "1 0"
t_is "  series 211 55, verify still 0" "$(series "$A_AT") $(usage_mismatches)" "211 55 0"

# The organization's purge takes the sums too.
out=$("$SB_BIN/sb-call" -t 10000 usage org.purge "{\"organization_id\": \"$B_OID\", \"limit\": 1000}")
out=$("$SB_BIN/sb-call" -t 10000 usage org.purge "{\"organization_id\": \"$B_OID\", \"limit\": 1000}")
t_is "org.purge of B: done, its hours and retired sums gone" \
    "$(json_get "$out" .body.done) $(suite_psql -c "SELECT (SELECT count(*) FROM usage.hours WHERE organization_id = '$B_OID')
                                                      + (SELECT count(*) FROM usage.retired WHERE organization_id = '$B_OID')")" "true 0"

# ---- without the setting -----------------------------------------------------------------------
suite_stop usage-1
unset SWITCHBOARD_USAGE_RETENTION_DAYS
t_ok "usage-svc restarted without the setting" suite_start_service usage 1
# (its worker registered before it is asked: /readyz counts one per service)
suite_wait_ready 30 || t_bail "usage-svc did not register again within 30 s"
suite_psql -c "UPDATE usage.events SET received_at = now () - interval '400 days'" >/dev/null
out=$(usage_bus usage.retain)
t_is "  usage.retain: retention 0 (for ever), deletes nothing" \
    "$(json_get "$out" .body.retention_days) $(json_get "$out" .body.deleted) $(raw "$A_OID")" "0 0 11"
SWITCHBOARD_USAGE_RETENTION_DAYS=soon timeout 20 "$SB_BIN/usage-svc" > "$SUITE_TMP/bad.log" 2>&1
rc=$?
t_like "an invalid setting: usage-svc refuses to start (exit $rc)" "$rc" '^([1-9]|[1-9][0-9])$'
t_like "  saying why" "$(cat "$SUITE_TMP/bad.log")" 'SWITCHBOARD_USAGE_RETENTION_DAYS must be an integer from 0 to 36500'
t_done
