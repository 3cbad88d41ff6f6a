#!/usr/bin/env bash
# Outbound webhooks from other services (issue 14): tenant-svc's op
# webhooks.enqueue {organization_id, event_id, type, data} (role service,
# for usage-svc's and billing-svc's outbox relays) answers 202 and queues
# the event for the organization's subscribed endpoints; the same event_id
# again answers 202 and adds nothing (a relay resends until acknowledged);
# bad arguments are 400 naming them; an admin's role is refused. End to
# end: billing-svc's own subscription.updated for a plan change reaches an
# endpoint subscribed to it, signed and verified independently.
. "$(dirname "$0")/lib/webhooks.sh"
suite_init
export SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE=1 SWITCHBOARD_WEBHOOK_RETRY_SCALE=1000
suite_up
wh_start || t_bail "the webhook receiver did not start"
orgs_with_business A B
wh_pro A || t_bail "A did not get plan pro"

http_as "$A_AT" POST /v1/webhooks \
    "{\"url\":\"$WH_BASE/hook/usage/200\",\"events\":[\"usage.threshold_reached\"]}"
t_status "an endpoint for the other services' events" 201
ep=$(json_get "$HTTP_BODY" .id)
wh_secrets usage "$(json_get "$HTTP_BODY" .secret)"

args="{\"organization_id\":\"$A_OID\",\"event_id\":\"alert-2026-12-calls-80\",\"type\":\"usage.threshold_reached\",\"data\":{\"metric\":\"calls\",\"threshold\":80,\"used\":800,\"limit\":1000,\"period_start\":\"2026-12-01T00:00:00Z\"}}"
out=$("$SB_BIN/sb-call" tenant webhooks.enqueue "$args")
t_is "webhooks.enqueue: 202" "$(json_get "$out" .status)" 202
t_is "  one delivery queued" "$(json_get "$out" .body.deliveries)" 1
out=$("$SB_BIN/sb-call" tenant webhooks.enqueue "$args")
t_is "the same event_id again: 202" "$(json_get "$out" .status)" 202
t_is "  nothing new" "$(json_get "$out" .body.deliveries)" 0
wh_wait usage 1 || t_fail "the event arrived" "$(wh_log)"
t_is "delivered, verified independently" \
    "$(wh_get usage '(r[0]["body"]["type"], r[0]["valid"], r[0]["body"]["data"]["threshold"])')" \
    '["usage.threshold_reached", true, 80]'
out=$("$SB_BIN/sb-call" tenant webhooks.enqueue "${args/alert-2026-12-calls-80/sub-evt-1}")
t_is "another event_id: queued" "$(json_get "$out" .body.deliveries)" 1
wh_wait usage 2 || t_fail "the second event arrived"
sleep 0.5
t_is "the receiver got each event once" "$(wh_get usage 'len(r)')" 2
t_is "  two events stored for A" \
    "$(suite_psql -c "SELECT count (*) FROM tenant.webhook_events WHERE organization_id = '$A_OID'")" 2

out=$("$SB_BIN/sb-call" tenant webhooks.enqueue "{\"organization_id\":\"$B_OID\",\"event_id\":\"x1\",\"type\":\"subscription.updated\",\"data\":{\"plan\":\"pro\"}}")
t_is "an organization without endpoints: 202, nothing queued" \
    "$(json_get "$out" .status) $(json_get "$out" .body.deliveries)" "202 0"
t_is "  and no event stored" \
    "$(suite_psql -c "SELECT count (*) FROM tenant.webhook_events WHERE organization_id = '$B_OID'")" 0

out=$("$SB_BIN/sb-call" tenant webhooks.enqueue '{"organization_id":"nope","type":"ping","data":[1]}')
t_is "bad arguments: 400" "$(json_get "$out" .status)" 400
t_is "  naming them" "$(json_get "$out" .error.fields | "$SUITE_PYTHON" -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin))))')" \
    "data event_id organization_id type"
out=$("$SB_BIN/sb-call" -r admin -o "$A_OID" tenant webhooks.enqueue "$args")
t_is "an admin's role is refused" "$(json_get "$out" .status)" 403

# billing-svc's own event, through its outbox and webhooks.enqueue.
http_as "$A_AT" POST /v1/webhooks \
    "{\"url\":\"$WH_BASE/hook/subs/200\",\"events\":[\"subscription.updated\"]}"
t_status "an endpoint for subscription.updated" 201
wh_secrets subs "$(json_get "$HTTP_BODY" .secret)"
http_op PUT "/v1/sys/subscriptions/$A_OID" '{"plan":"enterprise"}'
t_status "the operator moves A to enterprise" 200
wh_wait subs 1 || t_fail "billing's subscription.updated arrived" "$(wh_log)"
t_is "billing's subscription.updated delivered, verified independently" \
    "$(wh_get subs '(r[-1]["body"]["type"], r[-1]["valid"], r[-1]["body"]["data"]["plan"], r[-1]["body"]["data"]["status"])')" \
    '["subscription.updated", true, "enterprise", "active"]'
t_done
