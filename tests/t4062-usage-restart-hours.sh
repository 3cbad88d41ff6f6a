#!/usr/bin/env bash
# usage-svc killed (SIGKILL) in the middle of a stream of batches whose
# events straddle hour edges, restarted, every batch resent until it gets
# its 202 (a producer's retry loop): each event is stored once, and the
# hourly sums (usage.hours, what GET /v1/usage reads) equal the raw
# events' per hour, as the counters equal them per month — recomputed here
# in SQL and by usage.verify. Nothing acknowledged is lost, nothing resent
# counts twice, in the events, the counters or the hours.
. "$(dirname "$0")/lib/usage.sh"
suite_init
suite_up
new_orgs K

nb=24
for k in $(seq 0 $((nb - 1))); do
    # Events from START back one second per id: across the hour edge
    usage_events "$SUITE_TMP/k$k.json" "k$k-" 500 "sms,tokens" "2026-03-0$((1 + k % 3))T1$((k % 4)):03:00Z"
done
: > "$SUITE_TMP/stream.log"
usage_stream "$K_AT" "$nb" &
stream_pid=$!
poll_until 60 usage_stream_acked 3 || t_fail "the stream got 3 answers 202 within 60 s"
t_ok "usage-svc killed (SIGKILL) mid-stream" suite_kill usage-1
acked=$(awk '$3 == 202 { print $1 }' "$SUITE_TMP/stream.log" | sort -u)
missing=0
for k in $acked; do
    n=$(suite_psql -c "SELECT count(*) FROM usage.events WHERE organization_id = '$K_OID'
                        AND event_id LIKE 'k$k-%'")
    [[ $n == 500 ]] || { missing=$((missing + 1)); t_diag "batch $k acknowledged but $n of 500 stored"; }
done
t_is "  every batch acknowledged before the kill ($(echo "$acked" | wc -w)) is wholly stored" "$missing" 0
sleep 1
t_ok "usage-svc started again" suite_start_service usage 1
usage_stream_finish "$stream_pid"
t_note "  ($(awk '$3 != 202' "$SUITE_TMP/stream.log" | wc -l) attempts failed while usage-svc was down and were resent)"
t_is "K holds each of the $((nb * 500)) events once" \
    "$(suite_psql -c "SELECT count(*), count(DISTINCT event_id) FROM usage.events
                       WHERE organization_id = '$K_OID' AND metric <> 'api_requests'")" \
    "$((nb * 500))|$((nb * 500))"
expect=$(for k in $(seq 0 $((nb - 1))); do seq 0 499 | sed "s/^/k$k-/"; done | usage_expect)
t_is "  the events' sums per metric are the test's" "$(usage_sums "$K_OID")" "$expect"
t_is "  so are the counters'" "$(usage_counter_sums "$K_OID")" "$expect"
hours_diff=$(suite_psql -F ' ' -c "
    WITH e AS (SELECT metric, date_trunc ('hour', occurred_at AT TIME ZONE 'UTC') AS hour, sum (quantity) AS q
                 FROM usage.events WHERE organization_id = '$K_OID' AND metric <> 'api_requests' GROUP BY 1, 2),
         h AS (SELECT metric, hour, quantity AS q FROM usage.hours
                WHERE organization_id = '$K_OID' AND metric <> 'api_requests')
    SELECT metric, hour, e.q, h.q FROM e FULL JOIN h USING (metric, hour)
     WHERE e.q IS DISTINCT FROM h.q")
t_is "  the hourly sums equal the raw events' per hour (recomputed in SQL)" "$hours_diff" ""
t_like "  over several hours" \
    "$(suite_psql -c "SELECT count(*) FROM usage.hours WHERE organization_id = '$K_OID' AND metric = 'sms'")" '^([89]|[1-9][0-9])$'
t_is "usage.verify (counters and hours): no mismatch" "$(usage_mismatches)" 0
t_done
