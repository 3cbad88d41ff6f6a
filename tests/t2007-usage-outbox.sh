#!/usr/bin/env bash
# Usage outbox: storing a call writes, in its transaction, the usage events
# calls 1 and call_minutes ceil(duration/60) (none when the duration is 0)
# into tenant.usage_outbox, occurred_at = the call's started_at; a refused
# call writes none. The relay delivers them to usage-svc and marks them
# delivered: usage.events then holds exactly one row per outbox row (same
# organization, event id, metric, quantity, time). With usage-svc stopped,
# new rows stay undelivered while their attempts grow; once usage-svc is
# back, everything is delivered within 10 s, no event twice, and the totals
# per organization and metric are exactly what the calls sent add up to.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
# (Plan limits: suite.sh's generous tests/fixtures/plans-test.json applies.)
suite_up

orgs_with_business A B
a_biz=$A_BIZ
b_biz=$B_BIZ

declare -A want=()   # want[ORG metric]: the quantity expected in usage.events
want["$A_OID calls"]=0; want["$A_OID call_minutes"]=0
want["$B_OID calls"]=0; want["$B_OID call_minutes"]=0
n_call=0

# call PFX DURATION: store a call of PFX's business lasting DURATION seconds
# (started a distinct few minutes ago), check that its outbox rows are there
# as soon as the 201 is, and add its usage to want[].
call () {
    local pfx=$1 d=$2 tok_var=${1}_AT org_var=${1}_OID biz started minutes rows expect
    biz=$([[ $pfx == A ]] && echo "$a_biz" || echo "$b_biz")
    n_call=$((n_call + 1))
    started=$(ts_at "-$((120 + n_call * 7)).$((n_call % 10))")
    if ! create_as "${!tok_var}" /v1/calls "$(call_body "$biz" duration_seconds:="$d" started_at="$started")"; then
        t_fail "$pfx stores a call of ${d}s" "$(_auth_last)"
        return 1
    fi
    minutes=$(( (d + 59) / 60 ))
    want["${!org_var} calls"]=$(( ${want["${!org_var} calls"]} + 1 ))
    want["${!org_var} call_minutes"]=$(( ${want["${!org_var} call_minutes"]} + minutes ))
    expect="calls 1"
    (( minutes > 0 )) && expect="call_minutes $minutes"$'\n'"calls 1"
    rows=$(suite_psql -F ' ' -c "SELECT metric, quantity FROM tenant.usage_outbox
                                  WHERE organization_id = '${!org_var}' AND business_id = '$biz'
                                    AND occurred_at = '$started'::timestamptz
                                  ORDER BY metric COLLATE \"C\"" 2>&1)
    t_is "$pfx stores a call of ${d}s: outbox $(tr '\n' ',' <<<"$expect" | sed 's/,$//'), at once" "$rows" "$expect"
}

undelivered () {
    suite_psql -c "SELECT count(*) FROM tenant.usage_outbox WHERE delivered_at IS NULL $1"
}
all_delivered () {
    [[ $(undelivered) == 0 ]]
}

# The outbox and usage.events, row for row (the calls metrics only: other
# metrics may come from elsewhere).
outbox_rows () {
    suite_psql -F ' ' -c "SELECT organization_id, event_id::text, metric, quantity, occurred_at, business_id
                            FROM tenant.usage_outbox ORDER BY event_id::text COLLATE \"C\", metric COLLATE \"C\"" 2>&1
}
event_rows () {
    suite_psql -F ' ' -c "SELECT organization_id, event_id::text, metric, quantity, occurred_at, business_id
                            FROM usage.events WHERE metric IN ('calls', 'call_minutes')
                           ORDER BY event_id::text COLLATE \"C\", metric COLLATE \"C\"" 2>&1
}
# t_totals DESC: usage.events sums per organization and metric are want[].
t_totals () {
    local desc=$1 k org metric got bad=()
    for k in "${!want[@]}"; do
        read -r org metric <<<"$k"
        got=$(suite_psql -c "SELECT coalesce(sum(quantity), 0) FROM usage.events
                              WHERE organization_id = '$org' AND metric = '$metric'" 2>&1)
        [[ $got == "${want[$k]}" ]] || bad+=("${org:0:8}… $metric: $got, expected ${want[$k]}")
    done
    if (( ${#bad[@]} )); then t_fail "$desc" "${bad[@]}"
    else t_pass "$desc"
    fi
}
t_no_duplicates () {
    t_is "$1" "$(suite_psql -c "SELECT count(*) FROM (SELECT event_id FROM usage.events
                                                      GROUP BY event_id HAVING count(*) > 1) d" 2>&1)" 0
}

# ---- everything up ----------------------------------------------------------------------------
for d in 0 1 59 60 61 3600 125; do call A "$d"; done
for d in 30 0 86400; do call B "$d"; done
n_before=$(suite_psql -c "SELECT count(*) FROM tenant.usage_outbox")
t_is "the outbox has one calls row per call and one call_minutes row per call longer than 0 s" "$n_before" 18
http_as "$A_AT" POST /v1/calls "$(call_body "$a_biz" duration_seconds:=-1)"
t_fields "a refused call" duration_seconds
http_as "$A_AT" POST /v1/calls "$(call_body "$b_biz" duration_seconds:=60)"
t_fields "a call for another organization's business" business_id
t_is "  they wrote nothing to the outbox" "$(suite_psql -c "SELECT count(*) FROM tenant.usage_outbox")" "$n_before"

if poll_until 10 all_delivered; then
    t_pass "every outbox row is delivered within 10 s"
else
    t_fail "every outbox row is delivered within 10 s" "    undelivered: $(undelivered)" \
           "$(suite_psql -c "SELECT metric, quantity, attempts, delivered_at FROM tenant.usage_outbox ORDER BY id" 2>&1 | head -n 20)"
fi
ob=$(outbox_rows)
ev=$(event_rows)
if [[ $ob == "$ev" ]]; then
    t_pass "usage.events holds exactly the outbox rows (organization, event id, metric, quantity, time, business)"
else
    t_fail "usage.events holds exactly the outbox rows" "    diff outbox events:" "$(diff <(echo "$ob") <(echo "$ev") | head -n 30)"
fi
t_no_duplicates "no event id twice in usage.events"
t_totals "the totals per organization and metric are the durations' (A: 7 calls, 68 minutes; B: 3, 1441)"
t_is "  (A's expected totals, as computed)" "${want["$A_OID calls"]} ${want["$A_OID call_minutes"]}" "7 68"

# ---- usage-svc down ---------------------------------------------------------------------------
t_ok "usage-svc stops" suite_stop usage-1
last_id=$(suite_psql -c "SELECT coalesce(max(id), 0) FROM tenant.usage_outbox")
for d in 90 0 600; do call A "$d"; done
call B 3601
new_rows="AND id > $last_id"
t_is "the 4 calls stored with usage-svc down wrote 7 outbox rows" \
    "$(suite_psql -c "SELECT count(*) FROM tenant.usage_outbox WHERE true $new_rows")" 7

tried () {
    [[ $(suite_psql -c "SELECT count(*) FROM tenant.usage_outbox WHERE id > $last_id AND attempts = 0") == 0 ]]
}
attempts_sum () {
    suite_psql -c "SELECT coalesce(sum(attempts), 0) FROM tenant.usage_outbox WHERE id > $last_id"
}
if poll_until 15 tried; then
    t_pass "the relay tries every new row (attempts >= 1) within 15 s"
else
    t_fail "the relay tries every new row within 15 s" \
           "$(suite_psql -c "SELECT id, metric, attempts, delivered_at FROM tenant.usage_outbox WHERE id > $last_id" 2>&1)"
fi
first=$(attempts_sum)
grown () {
    (( $(attempts_sum) > first ))
}
if poll_until 15 grown; then
    t_pass "  and tries again: attempts grow ($first -> $(attempts_sum))"
else
    t_fail "  and tries again: attempts grow" "    sum of attempts still $first after 15 s"
fi
t_is "  none of them is marked delivered" "$(undelivered "$new_rows")" 7
t_is "  none reached usage.events" \
    "$(suite_psql -c "SELECT count(*) FROM usage.events WHERE event_id IN
                        (SELECT event_id::text FROM tenant.usage_outbox WHERE id > $last_id)" 2>&1)" 0
t_is "  the rows delivered before stay delivered" "$(undelivered "AND id <= $last_id")" 0
http_as "$A_AT" GET "/v1/calls?limit=100"
t_is "  the API kept working: A lists its 10 calls" "$(json_len "$HTTP_BODY" .data)" 10

# ---- usage-svc back -----------------------------------------------------------------------------
t_ok "usage-svc starts again" suite_start_service usage 2
if poll_until 10 all_delivered; then
    t_pass "within 10 s every outbox row is delivered"
else
    t_fail "within 10 s every outbox row is delivered" "    undelivered: $(undelivered)" \
           "$(suite_psql -c "SELECT id, metric, attempts, delivered_at FROM tenant.usage_outbox WHERE delivered_at IS NULL" 2>&1)"
fi
t_no_duplicates "no event id twice in usage.events"
ob=$(outbox_rows)
ev=$(event_rows)
if [[ $ob == "$ev" ]]; then
    t_pass "usage.events holds exactly the outbox rows, old and new"
else
    t_fail "usage.events holds exactly the outbox rows, old and new" "    diff outbox events:" \
           "$(diff <(echo "$ob") <(echo "$ev") | head -n 30)"
fi
t_is "  25 rows in all" "$(wc -l <<<"$ev")" 25
t_totals "the totals per organization and metric are the durations' (A: 10 calls, 80 minutes; B: 4, 1502)"
t_is "  (the expected totals, as computed)" \
    "${want["$A_OID calls"]} ${want["$A_OID call_minutes"]} ${want["$B_OID calls"]} ${want["$B_OID call_minutes"]}" "10 80 4 1502"
t_is "the outbox's deliveries are final: none undelivered" "$(undelivered)" 0

t_done
