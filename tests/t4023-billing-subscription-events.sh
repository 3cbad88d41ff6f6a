#!/usr/bin/env bash
# billing-svc's subscription.updated webhook events: each saved version of a
# subscription that changes its plan, status, period end or cancellation
# leaves one row in billing.webhook_outbox, in the transaction of the
# change (here through the operator's PUT /v1/sys/subscriptions/{id}); a
# save that changes none of them leaves none. The relay hands the rows to
# tenant-svc's webhooks.enqueue; while tenant-svc is down it keeps them
# pending and retries them, also across a restart of billing-svc, and
# once tenant-svc is back every row is acknowledged and tenant-svc holds
# no event twice. And a usage alert case the small catalogue
# makes: on 3 calls a month the 3rd call reaches 80 % and 100 % at once:
# two mails; after an upgrade to 5 calls the 4th (80 % of 5) mails nothing:
# one alert per threshold and period.
. "$(dirname "$0")/lib/usage.sh"
suite_init
export SWITCHBOARD_PLANS_FILE=$SUITE_ROOT/tests/fixtures/plans-billing.json
suite_smtp_start || t_bail "no SMTP sink"
suite_up

pw=$AUTH_PASSWORD
owner="subs-$$@example.com"
signup A "$owner" "$pw" "Ada Owner" "Subscription Events" || t_bail "no organization"
q () { suite_psql -c "$1"; }
rows () { q "select count (*) from billing.webhook_outbox where organization_id = '$A_OID'"; }

# tenant-svc down: the events cannot be handed over yet.
suite_stop tenant-1 || t_bail "tenant-1 did not stop"
t_is "no event before any change" "$(rows)" 0
http_op PUT "/v1/sys/subscriptions/$A_OID" '{"plan":"starter"}'
t_status "the operator puts A on starter: 200" 200
t_is "one subscription.updated row" "$(rows)" 1
t_is "  of the saved version, with the plan and status" \
    "$(suite_psql -F ' ' -c "select o.version = s.version, o.plan, o.status, o.cancel_at_period_end from billing.webhook_outbox as o join billing.subscriptions as s using (organization_id) where o.organization_id = '$A_OID'")" \
    "t starter active f"
http_op PUT "/v1/sys/subscriptions/$A_OID" '{"plan":"starter"}'
t_status "the same plan again: 200" 200
t_is "  no new event (nothing it tells changed)" "$(rows)" 1
http_op PUT "/v1/sys/subscriptions/$A_OID" '{"plan":"starter","status":"past_due"}'
t_status "a status change (past_due): 200" 200
t_is "  a second event" "$(rows)" 2
t_is "  its version the subscription's" \
    "$(q "select max (o.version) = s.version from billing.webhook_outbox as o join billing.subscriptions as s using (organization_id) where o.organization_id = '$A_OID' group by s.version")" t
http_op PUT "/v1/sys/subscriptions/$A_OID" '{"plan":"free","status":"active"}'
t_status "back to free, active: 200" 200
t_is "  a third event" "$(rows)" 3

tried () {
    [[ $(q "select count (*) from billing.webhook_outbox where organization_id = '$A_OID' and attempts >= ${1:-1}") == 3 ]]
}
t_ok "the 3 events were tried while tenant-svc is down" poll_until 20 tried 1
t_is "  and stay pending" \
    "$(q "select count (*) from billing.webhook_outbox where organization_id = '$A_OID' and acknowledged_at is null")" 3
t_isnt "  the reason kept" \
    "$(q "select count (*) from billing.webhook_outbox where organization_id = '$A_OID' and last_error is not null")" 0
suite_stop billing-1 || t_bail "billing-1 did not stop"
before=$(q "select sum (attempts) from billing.webhook_outbox where organization_id = '$A_OID'")
# Due again now: the restarted relay retries them at once.
q "update billing.webhook_outbox set next_attempt_at = now () where organization_id = '$A_OID'" > /dev/null
suite_start_service billing 1 || t_bail "billing-1 did not start again"
# (Not suite_wait_ready: tenant-svc is down on purpose; billing answering is enough.)
billing_up () { [[ $(json_get "$("$SB_BIN/sb-call" -t 1000 billing sys.ping)" .status 2>/dev/null) == 200 ]]; }
poll_until 30 billing_up || t_bail "billing-svc does not answer after the restart"
more () { (( $(q "select sum (attempts) from billing.webhook_outbox where organization_id = '$A_OID'") >= before + 3 )); }
t_ok "  retried after a restart of billing-svc" poll_until 20 more
http_op GET /metrics
t_like "/metrics shows billing's webhook_outbox backlog" "$HTTP_BODY" \
    'switchboard_outbox_backlog\{[^}]*outbox="webhook_outbox"[^}]*\} [1-9]'
# tenant-svc back: every row handed over, none twice.
q "update billing.webhook_outbox set next_attempt_at = now () where organization_id = '$A_OID'" > /dev/null
suite_start_service tenant 1 || t_bail "tenant-1 did not start again"
suite_wait_ready 30 || t_bail "not ready with tenant-svc back"
acked () { [[ $(q "select count (*) from billing.webhook_outbox where organization_id = '$A_OID' and acknowledged_at is not null") == 3 ]]; }
t_ok "tenant-svc back: the 3 events acknowledged" poll_until 30 acked

# ---- usage alerts on 3 calls a month -------------------------------------------------------
create_as "$A_AT" /v1/businesses "$(biz_body)" || t_bail "no business"
biz=$NEW_ID
counter_is () { [[ $(usage_counter "$A_OID" calls) == "$1" ]]; }
for i in 1 2; do http_as "$A_AT" POST /v1/calls "$(call_body "$biz")"; done
t_ok "2 calls counted" poll_until 20 counter_is 2
sleep 1.5
t_is "  no alert at 67 %" "$(mail_count "$owner")" 0
http_as "$A_AT" POST /v1/calls "$(call_body "$biz")"
t_status "the 3rd call: 201" 201
f1=$(mail_wait "$owner" 20)
f2=$(mail_wait "$owner" 20)
t_is "it reaches 80 % and 100 % at once: two mails" \
    "$(for f in "$f1" "$f2"; do mail_header "$f" Subject | grep -o '[0-9]*%'; done | sort -n | tr '\n' ' ')" "80% 100% "
http_op PUT "/v1/sys/subscriptions/$A_OID" '{"plan":"starter"}'
t_status "upgrade to starter (5 calls): 200" 200
up () { http_as "$A_AT" POST /v1/calls "$(call_body "$biz")"; [[ $HTTP_STATUS == 201 ]]; }
t_ok "the 4th call passes on starter" poll_until 10 up
t_ok "  counted" poll_until 20 counter_is 4
sleep 2
t_is "  no new alert in the period (80 % was reached already)" "$(mail_count "$owner")" 2

t_done
