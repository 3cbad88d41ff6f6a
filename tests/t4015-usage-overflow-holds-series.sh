#!/usr/bin/env bash
# The usage caps on the other arithmetic paths. Reservations: a hold of 10
# taken while the counter is 20 below the cap (10^15) is granted; once
# recorded usage brings the counter to 5 below, committing 10 is 422
# usage_overflow and the hold is kept (it can still be released), while
# committing 5, exactly up to the cap, is 200 and counted. Series: events
# stored before the caps existed whose hour adds up past 2^63 - 1 (the sum
# used to fail its bigint cast: 400) answer 200 with that bucket clamped to
# 2^63 - 1, the other buckets exact.
. "$(dirname "$0")/lib/usage.sh"
suite_init
suite_up
new_orgs A

CAP=1000000000000000
at=$(ts_at -30)

# ---- a hold committed past the cap --------------------------------------------------------
t_ok "A's sms counter is set to the cap - 20" usage_counter_set "$A_OID" sms $((CAP - 20))
http_as "$A_AT" POST /v1/usage/reservations '{"metric": "sms", "quantity": 10}'
t_status "A holds 10 sms: 201" 201
hold=$(json_get "$HTTP_BODY" .id)
http_as "$A_AT" POST /v1/usage/events \
    "{\"events\": [{\"id\": \"u1\", \"metric\": \"sms\", \"quantity\": 15, \"occurred_at\": \"$at\"}]}"
t_status "A records 15 sms (cap - 5): 202" 202
http_as "$A_AT" POST "/v1/usage/reservations/$hold/commit" '{"quantity": 10}'
t_error "committing 10 past the cap: 422 usage_overflow" 422 usage_overflow
t_is "  nothing counted" "$(usage_counter "$A_OID" sms)" $((CAP - 5))
http_as "$A_AT" POST "/v1/usage/reservations/$hold/commit" '{"quantity": 5}'
t_status "committing 5, up to the cap: 200 (the hold was kept)" 200
t_is "  counted: the counter is at the cap" "$(usage_counter "$A_OID" sms)" "$CAP"
http_as "$A_AT" POST "/v1/usage/reservations" '{"metric": "sms", "quantity": 1}'
t_error "another hold past the cap: 422 usage_overflow" 422 usage_overflow
http_as "$A_AT" POST "/v1/usage/reservations" '{"metric": "tokens", "quantity": 1}'
t_status "  a hold of another metric: 201" 201
hold2=$(json_get "$HTTP_BODY" .id)
http_as "$A_AT" POST "/v1/usage/reservations/$hold2/release" ''
t_status "  released: 204" 204

# ---- a series over old events past 2^63 -----------------------------------------------------
hour=$(date -u -d '-3 hours' +%Y-%m-%dT%H:00:00Z)
suite_psql -v ON_ERROR_STOP=1 -c "
    INSERT INTO usage.events (organization_id, event_id, metric, quantity, occurred_at)
    VALUES ('$A_OID', 'old-1', 'legacy', 5000000000000000000, '$hour'::timestamptz + interval '1 minute'),
           ('$A_OID', 'old-2', 'legacy', 5000000000000000000, '$hour'::timestamptz + interval '2 minutes'),
           ('$A_OID', 'old-3', 'legacy', 7, '$hour'::timestamptz + interval '61 minutes');
    -- their hourly sums, as migration 0008 computed them for events stored before it
    INSERT INTO usage.hours (organization_id, metric, hour, quantity)
    SELECT organization_id, metric, date_trunc ('hour', occurred_at AT TIME ZONE 'UTC'), sum (quantity)
      FROM usage.events WHERE organization_id = '$A_OID' AND metric = 'legacy' GROUP BY 1, 2, 3" >/dev/null \
    || t_fail "old events stored"
from=$(date -u -d '-4 hours' +%Y-%m-%dT%H:00:00Z)
to=$(date -u -d '+1 hour' +%Y-%m-%dT%H:00:00Z)
http_as "$A_AT" GET "/v1/usage?metric=legacy&granularity=hour&from=$from&to=$to"
t_status "the hourly series over them: 200" 200
t_is "  that hour clamped to 2^63 - 1, the next one exact" \
    "$(json_get "$HTTP_BODY" .points[1].value) $(json_get "$HTTP_BODY" .points[2].value) $(json_get "$HTTP_BODY" .points[0].value)" \
    "9223372036854775807 7 0"
t_done
