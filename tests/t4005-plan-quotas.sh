#!/usr/bin/env bash
# Plan quotas where the action happens, on the shipped free plan (100 calls
# a month, 1 business, 2 seats, no analytics): the 100th call passes and
# the 101st gets 402 plan_limit_reached with limit and used, also when the
# last ones race; a second business gets 402; analytics gets 403
# feature_not_in_plan; the seat limit counts pending invitations.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
# The shipped catalogue, but no rate limit: this test makes more than the
# free plan's 60 requests a minute (rate limits have a test of their own).
"$SUITE_PYTHON" - "$SUITE_ROOT/deploy/plans.json" "$SUITE_TMP/plans.json" <<'PY'
import json, sys
plans = json.load(open(sys.argv[1]))
for plan in plans["plans"]:
    plan["limits"]["api_requests_per_minute"] = -1
json.dump(plans, open(sys.argv[2], "w"))
PY
export SWITCHBOARD_PLANS_FILE=$SUITE_TMP/plans.json
suite_up

orgs_with_business A
biz=$A_BIZ

http_as "$A_AT" POST /v1/businesses "$(biz_body)"
t_is "a second business on the free plan: 402" "$HTTP_STATUS" 402
t_is "  plan_limit_reached" "$(json_get "$HTTP_BODY" .error.code)" plan_limit_reached
t_is "  with the limit" "$(json_get "$HTTP_BODY" .error.limit)" 1
t_is "  and the use" "$(json_get "$HTTP_BODY" .error.used)" 1
http_as "$A_AT" GET /v1/businesses
t_is "  and it was not stored" "$(json_len "$HTTP_BODY" .data)" 1

ok=0
for i in $(seq 1 100); do
    http_as "$A_AT" POST /v1/calls "$(call_body "$biz")"
    [[ $HTTP_STATUS == 201 ]] && ok=$((ok + 1))
done
t_is "100 calls in the month pass" "$ok" 100
http_as "$A_AT" POST /v1/calls "$(call_body "$biz")"
t_is "the 101st: 402" "$HTTP_STATUS" 402
t_is "  plan_limit_reached" "$(json_get "$HTTP_BODY" .error.code)" plan_limit_reached
t_is "  limit 100" "$(json_get "$HTTP_BODY" .error.limit)" 100
t_is "  used 100" "$(json_get "$HTTP_BODY" .error.used)" 100
t_is "A holds exactly 100 calls" "$(suite_psql -c "select count(*) from tenant.calls where organization_id = '$A_OID'")" 100
t_is "and no usage for the refused one (200 outbox rows: calls + minutes)" \
    "$(suite_psql -c "select count(*) from tenant.usage_outbox where organization_id = '$A_OID'")" 200

# The boundary under concurrency: 95 stored, then 12 at once: exactly 5 pass.
new_org B || t_bail "no organization"
create_as "$B_AT" /v1/businesses "$(biz_body)" || t_bail "no business"
bbiz=$NEW_ID
body=$(call_body "$bbiz")
printf '%s' "$body" > "$SUITE_TMP/call.json"
for i in $(seq 1 95); do
    curl -s -o /dev/null -H "Authorization: Bearer $B_AT" -H 'Content-Type: application/json' \
        --data-binary "@$SUITE_TMP/call.json" "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/v1/calls"
done
racers=()
for i in $(seq 1 12); do
    curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $B_AT" \
        -H 'Content-Type: application/json' --data-binary "@$SUITE_TMP/call.json" \
        "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/v1/calls" >> "$SUITE_TMP/race.out" &
    racers+=($!)
done
wait "${racers[@]}"
t_is "of 12 racing calls at 95, exactly 5 pass" "$(grep -c '^201$' "$SUITE_TMP/race.out")" 5
t_is "  and 7 get 402" "$(grep -c '^402$' "$SUITE_TMP/race.out")" 7
t_is "B holds exactly 100 calls" "$(suite_psql -c "select count(*) from tenant.calls where organization_id = '$B_OID'")" 100

http_as "$A_AT" GET /v1/analytics/overview
t_is "analytics on the free plan: 403" "$HTTP_STATUS" 403
t_is "  feature_not_in_plan" "$(json_get "$HTTP_BODY" .error.code)" feature_not_in_plan

# Seats: 2 on the free plan; the admin and one pending invitation fill them.
http_as "$A_AT" POST /v1/invitations '{"email":"seat-1@example.com","role":"user"}'
t_is "one invitation fits" "$HTTP_STATUS" 201
http_as "$A_AT" POST /v1/invitations '{"email":"seat-2@example.com","role":"user"}'
t_is "a second: 402 plan_limit_reached" "$(json_get "$HTTP_BODY" .error.code)" plan_limit_reached
t_is "  limit 2" "$(json_get "$HTTP_BODY" .error.limit)" 2

http_as "$A_AT" GET /v1/me
t_is "/v1/me names the plan" "$(json_get "$HTTP_BODY" .plan)" free
t_done
