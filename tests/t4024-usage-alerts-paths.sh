#!/usr/bin/env bash
# Usage alerts come from every path that moves a counter, and only for
# limited metrics: a reservation committed (usage.commit) that takes the
# calls counter to 8 of 10 mails the 80 % alert; the metrics no plan limits
# (call_minutes, a client-defined one) never alert, however large; a hold
# alone (not yet usage) does not alert.
. "$(dirname "$0")/lib/usage.sh"
suite_init
usage_plans_file "$SUITE_TMP/plans.json" 10
export SWITCHBOARD_PLANS_FILE=$SUITE_TMP/plans.json
suite_smtp_start || t_bail "no SMTP sink"
suite_up

pw=$AUTH_PASSWORD
owner="paths-$$@example.com"
signup A "$owner" "$pw" "Ada Owner" "Alerts Paths" || t_bail "no organization"
q () { suite_psql -c "$1"; }

http_as "$A_AT" POST /v1/usage/reservations '{"metric": "calls", "quantity": 9}'
t_status "a hold of 9 calls: 201" 201
hold=$(json_get "$HTTP_BODY" .id)
sleep 1.5
t_is "  the hold alone alerts nothing" "$(q "select count (*) from usage.alerts_sent where organization_id = '$A_OID'")" 0
http_as "$A_AT" POST "/v1/usage/reservations/$hold/commit" '{"quantity": 8}'
t_status "committed as 8 calls: 200" 200
f=$(mail_wait "$owner" 20)
t_like "the commit reaches 80 %: a mail" "$(mail_header "$f" Subject)" '80% of your monthly calls'
t_is "  recorded with the use and the limit" \
    "$(q "select threshold || ':' || used || '/' || quota from usage.alerts_sent where organization_id = '$A_OID'")" "80:8/10"

http_as "$A_AT" POST /v1/usage/events \
    "{\"events\": [{\"id\": \"m-1\", \"metric\": \"call_minutes\", \"quantity\": 100000, \"occurred_at\": \"$(ts_at 0)\"}, {\"id\": \"s-1\", \"metric\": \"sms\", \"quantity\": 5000, \"occurred_at\": \"$(ts_at 0)\"}]}"
t_status "100,000 call minutes and 5,000 sms: 202" 202
sleep 1.5
t_is "  no alert for metrics without a limit" \
    "$(q "select count (*) from usage.alerts_sent where organization_id = '$A_OID' and metric <> 'calls'")" 0
t_is "  the owner has the one mail only" "$(mail_count "$owner")" 1

# Usage of an earlier month counts in that month, which is not alerted on.
http_as "$A_AT" POST /v1/usage/events \
    "{\"events\": [{\"id\": \"old-1\", \"metric\": \"calls\", \"quantity\": 50, \"occurred_at\": \"$(date -u -d "$(date -u +%Y-%m-01) -20 days" +%Y-%m-%dT12:00:00Z)\"}]}"
t_status "50 calls last month: 202" 202
sleep 1.5
t_is "  no alert for a past period" \
    "$(q "select count (*) from usage.alerts_sent where organization_id = '$A_OID'")" 1

t_done
