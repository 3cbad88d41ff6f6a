#!/usr/bin/env bash
# The tenant relay with one organization over a usage cap. A's call_minutes
# counter is pushed past the cap (to 2^63 - 1, where adding to it used to
# overflow bigint and fail the relay's whole mixed batch, which it then
# retried forever). A stores a call of 2 minutes, B a call of 1 minute: B's
# calls and call_minutes arrive in usage-svc, and so does A's calls (another
# counter); A's call_minutes outbox row is marked refused (refused_at set,
# refusal "usage_overflow: ...", never delivered) and the relay moves on:
# a later call of B is delivered too while the refused row is not sent
# again (its attempts stay 1). Nothing is left pending.
. "$(dirname "$0")/lib/usage.sh"
suite_init
suite_up
orgs_with_business A B
a_biz=$A_BIZ
b_biz=$B_BIZ

t_ok "A's call_minutes counter is set to 2^63 - 1" \
    usage_counter_set "$A_OID" call_minutes 9223372036854775807

create_as "$A_AT" /v1/calls "$(call_body "$a_biz" duration_seconds:=120 started_at="$(ts_at -300)")" \
    || t_fail "A stores a call" "$(_auth_last)"
create_as "$B_AT" /v1/calls "$(call_body "$b_biz" duration_seconds:=60 started_at="$(ts_at -200)")" \
    || t_fail "B stores a call" "$(_auth_last)"

counters_are () {   # ORG "CALLS MINUTES"
    [[ "$(usage_counter "$1" calls) $(usage_counter "$1" call_minutes)" == "$2" ]]
}
t_ok "B's calls 1 and call_minutes 1 arrive in usage-svc within 10 s" \
    poll_until 10 counters_are "$B_OID" "1 1"
t_ok "  and A's calls 1, its call_minutes counter unchanged" \
    poll_until 10 counters_are "$A_OID" "1 9223372036854775807"

refused_row () {
    suite_psql -F ' ' -c "SELECT metric, quantity, attempts, delivered_at IS NULL,
                                 split_part (refusal, ':', 1)
                            FROM tenant.usage_outbox
                           WHERE organization_id = '$A_OID' AND refused_at IS NOT NULL" 2>&1
}
refused_is () { [[ $(refused_row) == "$1" ]]; }
t_ok "A's call_minutes outbox row is marked refused (usage_overflow), not delivered" \
    poll_until 10 refused_is "call_minutes 2 1 t usage_overflow"
[[ $(refused_row) == "call_minutes 2 1 t usage_overflow" ]] || t_diag "refused row: $(refused_row)"

create_as "$B_AT" /v1/calls "$(call_body "$b_biz" duration_seconds:=30 started_at="$(ts_at -100)")" \
    || t_fail "B stores another call" "$(_auth_last)"
t_ok "B's next call arrives within 10 s (the relay moved on)" poll_until 10 counters_are "$B_OID" "2 2"
t_is "  the refused row was not sent again (attempts 1)" "$(refused_row)" "call_minutes 2 1 t usage_overflow"
t_is "nothing is left pending in the outbox" \
    "$(suite_psql -c "SELECT count(*) FROM tenant.usage_outbox
                       WHERE delivered_at IS NULL AND refused_at IS NULL" 2>&1)" 0
t_is "A's other rows were delivered" \
    "$(suite_psql -c "SELECT count(*) FROM tenant.usage_outbox
                       WHERE organization_id = '$A_OID' AND delivered_at IS NOT NULL" 2>&1)" 1
t_done
