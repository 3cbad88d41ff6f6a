#!/usr/bin/env bash
# Usage alerts, end to end, with TWO usage-svc workers: on a plan of 10 calls
# a month, calls recorded through POST /v1/calls (tenant's outbox relay →
# usage.record) mail each admin once when the 8th is counted (80 %) and once
# more at the 10th (100 %), never again in the period: not for usage past
# the limit, not after both workers restart. The webhook half of each
# alert is handed to tenant-svc's webhooks.enqueue (acknowledged once each,
# its event id the alert's), and the mail is neither lost nor sent twice.
# /metrics shows the outbox's backlogs.
. "$(dirname "$0")/lib/usage.sh"
suite_init
usage_plans_file "$SUITE_TMP/plans.json" 10
export SWITCHBOARD_PLANS_FILE=$SUITE_TMP/plans.json
suite_smtp_start || t_bail "no SMTP sink"
suite_up
suite_start_service usage 2 || t_bail "no second usage worker"
suite_wait_ready 30 || t_bail "not ready with two usage workers"

pw=$AUTH_PASSWORD
owner="owner-$$@example.com"
second="second-$$@example.com"
signup A "$owner" "$pw" "Ada Owner" "Alerts Mail" || t_bail "no organization"
create_as "$A_AT" /v1/businesses "$(biz_body)" || t_bail "no business"
biz=$NEW_ID
http_as "$A_AT" POST /v1/invitations "$(jobj email="$second" role=admin)"
tok=$(mail_token "$second" "$SWITCHBOARD_PUBLIC_URL/accept-invitation?token=" 15)
accept_invite S "$tok" "Sam Second" "$pw" || t_bail "the second admin did not join"
t_pass "the organization has two admins"

counter_is () { [[ $(usage_counter "$A_OID" calls) == "$1" ]]; }
# calls N: N more calls, each 201.
calls () {
    local i ok=0
    for ((i = 0; i < $1; i++)); do
        http_as "$A_AT" POST /v1/calls "$(call_body "$biz")"
        [[ $HTTP_STATUS == 201 ]] && ok=$((ok + 1))
    done
    [[ $ok == "$1" ]]
}
subject () { mail_header "$1" Subject; }

t_ok "7 calls: 201" calls 7
t_ok "  counted (usage counter 7)" poll_until 20 counter_is 7
sleep 1.5                                  # the relay looks at least once a second
t_is "no alert mail to the owner at 70 %" "$(mail_count "$owner")" 0
t_is "  nor to the second admin (one mail: the invitation)" "$(mail_count "$second")" 1

t_ok "the 8th call" calls 1
f=$(mail_wait "$owner" 20)
t_ok "at 80 %: a mail to the owner" test -n "$f"
t_like "  its subject names 80 % of the calls" "$(subject "$f")" '80% of your monthly calls'
t_like "  its text the use, the limit and the period" "$(mail_body "$f")" \
    "used 8 of the 10 calls .*period that began on $(date -u +%Y-%m-01)"
f=$(mail_wait "$second" 20)
t_like "  and one to the second admin" "$(subject "$f")" '80% of your monthly calls'

t_ok "the 9th call" calls 1
t_ok "  counted" poll_until 20 counter_is 9
t_ok "the 10th call" calls 1
f=$(mail_wait "$owner" 20)
t_like "at 100 %: one more mail to the owner" "$(subject "$f")" '100% of your monthly calls'
f=$(mail_wait "$second" 20)
t_like "  and to the second admin" "$(subject "$f")" '100% of your monthly calls'
http_as "$A_AT" POST /v1/calls "$(call_body "$biz")"
t_error "the 11th call: 402" 402 plan_limit_reached

# Usage past the limit (events the API accepts whatever the plan says).
usage_ev () {
    http_as "$A_AT" POST /v1/usage/events \
        "{\"events\": [{\"id\": \"$1\", \"metric\": \"calls\", \"quantity\": 1, \"occurred_at\": \"$(ts_at 0)\"}]}"
    [[ $HTTP_STATUS == 202 ]]
}
t_ok "two more calls recorded through the usage API" usage_ev past-1
t_ok "  and another" usage_ev past-2
t_ok "  counted (12)" poll_until 20 counter_is 12

# Both workers restart; more usage; still nothing more.
suite_stop usage-1 || t_bail "usage-1 did not stop"
suite_stop usage-2 || t_bail "usage-2 did not stop"
suite_start_service usage 1 || t_bail "usage-1 did not start again"
suite_start_service usage 2 || t_bail "usage-2 did not start again"
suite_wait_ready 30 || t_bail "not ready after the restart"
t_ok "after a restart of both workers, one more event" usage_ev past-3
t_ok "  counted (13)" poll_until 20 counter_is 13
sleep 2
t_is "the owner got exactly 2 alert mails" "$(mail_count "$owner")" 2
t_is "the second admin exactly 2 (and the invitation)" "$(mail_count "$second")" 3
q () { suite_psql -c "$1"; }
t_is "2 alerts recorded for the period (80, 100)" \
    "$(q "select string_agg (threshold::text, ',' order by threshold) from usage.alerts_sent where organization_id = '$A_OID' and metric = 'calls'")" "80,100"
t_is "  with the use and the limit when reached" \
    "$(q "select string_agg (used || '/' || quota, ',' order by threshold) from usage.alerts_sent where organization_id = '$A_OID'")" "8/10,10/10"
t_is "both mail rows acknowledged, each once" \
    "$(q "select count (*) || ':' || sum (attempts) from usage.alert_outbox where organization_id = '$A_OID' and channel = 'mail' and acknowledged_at is not null")" "2:2"

# The webhook rows: handed to tenant-svc's webhooks.enqueue, once each.
acked () {
    [[ $(q "select count (*) from usage.alert_outbox where organization_id = '$A_OID' and channel = 'webhook' and acknowledged_at is not null") == 2 ]]
}
t_ok "the 2 webhook rows acknowledged by tenant-svc" poll_until 20 acked
t_is "the usage counters still equal their events" "$(usage_mismatches "$A_OID")" 0

# /metrics: the backlog of the alert outbox.
http_op GET /metrics
t_like "/metrics shows the alert outbox's webhook backlog (empty)" "$HTTP_BODY" \
    'switchboard_outbox_backlog\{[^}]*outbox="alert_outbox_webhook"[^}]*\} 0'
t_like "  and its mail backlog (empty)" "$HTTP_BODY" \
    'switchboard_outbox_backlog\{[^}]*outbox="alert_outbox_mail"[^}]*\} 0'

t_done
