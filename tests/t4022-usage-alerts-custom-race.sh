#!/usr/bin/env bash
# Usage alerts on an organization's own thresholds, and under concurrency:
# with thresholds [50] and a plan of 10 calls, one mail when the 5th call
# is counted and none at 80 % or 100 %; with the default thresholds and two
# usage-svc workers, 20 usage events sent at once (taking the counter from
# 0 to 20) make exactly one alert per threshold (the alerts_sent key is the
# guard), one mail each, whichever worker counted what.
. "$(dirname "$0")/lib/usage.sh"
suite_init
usage_plans_file "$SUITE_TMP/plans.json" 10
export SWITCHBOARD_PLANS_FILE=$SUITE_TMP/plans.json
suite_smtp_start || t_bail "no SMTP sink"
suite_up
suite_start_service usage 2 || t_bail "no second usage worker"
suite_wait_ready 30 || t_bail "not ready with two usage workers"

pw=$AUTH_PASSWORD
q () { suite_psql -c "$1"; }

# ---- custom thresholds: [50] ---------------------------------------------------------
owner="fifty-$$@example.com"
signup A "$owner" "$pw" "Ada Owner" "Alerts Fifty" || t_bail "no organization"
create_as "$A_AT" /v1/businesses "$(biz_body)" || t_bail "no business"
biz=$NEW_ID
http_as "$A_AT" PUT /v1/usage/alerts '{"thresholds": [50]}'
t_status "thresholds [50]: 200" 200
counter_is () { [[ $(usage_counter "$A_OID" calls) == "$1" ]]; }
calls () {
    local i ok=0
    for ((i = 0; i < $1; i++)); do
        http_as "$A_AT" POST /v1/calls "$(call_body "$biz")"
        [[ $HTTP_STATUS == 201 ]] && ok=$((ok + 1))
    done
    [[ $ok == "$1" ]]
}
t_ok "4 calls" calls 4
t_ok "  counted" poll_until 20 counter_is 4
sleep 1.5
t_is "  no mail at 40 %" "$(mail_count "$owner")" 0
t_ok "the 5th call" calls 1
f=$(mail_wait "$owner" 20)
t_like "at 50 %: one mail" "$(mail_header "$f" Subject)" '50% of your monthly calls'
t_ok "5 more calls (to the limit)" calls 5
t_ok "  counted (10)" poll_until 20 counter_is 10
sleep 2
t_is "no other mail (80 and 100 are not A's thresholds)" "$(mail_count "$owner")" 1
t_is "one alert recorded, at 50 %, used 5 of 10" \
    "$(q "select string_agg (threshold || ':' || used || '/' || quota, ',') from usage.alerts_sent where organization_id = '$A_OID'")" "50:5/10"

# ---- a race: 20 events at once, two workers --------------------------------------------
racer="race-$$@example.com"
signup R "$racer" "$pw" "Rae Racer" "Alerts Race" || t_bail "no organization R"
pids=()
for i in $(seq 1 20); do
    printf '{"events": [{"id": "race-%d", "metric": "calls", "quantity": 1, "occurred_at": "%s"}]}' \
        "$i" "$(ts_at 0)" > "$SUITE_TMP/race-$i.json"
done
for i in $(seq 1 20); do
    usage_post "$R_AT" "$SUITE_TMP/race-$i.json" > "$SUITE_TMP/race-$i.out" &
    pids+=($!)
done
wait "${pids[@]}"
t_is "20 events sent at once: all 202" "$(cat "$SUITE_TMP"/race-*.out | grep -c '^202 ')" 20
t_is "  counted (20)" "$(usage_counter "$R_OID" calls)" 20
t_is "both workers served usage requests" \
    "$(for k in usage-1 usage-2; do grep -c 'usage.ingest\|usage.record' "$SUITE_TMP/log/$k.log" 2>/dev/null | awk '$1 > 0 { print "y" }'; done | wc -l | tr -d ' ')" 2
t_is "exactly one alert per threshold" \
    "$(q "select string_agg (threshold::text, ',' order by threshold) from usage.alerts_sent where organization_id = '$R_OID'")" "80,100"
t_is "  and 4 outbox rows (mail and webhook each)" \
    "$(q "select count (*) from usage.alert_outbox where organization_id = '$R_OID'")" 4
f1=$(mail_wait "$racer" 20)
f2=$(mail_wait "$racer" 20)
t_is "two mails to R's admin" "$(printf '%s\n%s\n' "$(mail_header "$f1" Subject)" "$(mail_header "$f2" Subject)" | grep -o '[0-9]*%' | sort -n | tr '\n' ' ')" "80% 100% "
sleep 2
t_is "  and no third" "$(mail_count "$racer")" 2
t_is "the counters still equal their events" "$(usage_mismatches "$R_OID")" 0

t_done
