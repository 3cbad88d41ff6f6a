#!/usr/bin/env bash
# The peer workers (sb_service_t, "The peer worker"): calls between
# services go to "<service>.peer", a worker of its own that answers only
# the leaf operations flagged SB_OP_PEER, so that a handler waiting on
# another service can never wait on a worker that waits on it.
#
# - billing.peer, auth.peer and tenant.peer are registered; billing.peer
#   answers entitlements.get, auth.peer org.counts, tenant.peer org.counts;
#   a peer refuses anything else (404 unknown_operation) — even sys.ping;
# - with auth's main worker stuck (a statement of GET /v1/api-keys blocked
#   on a lock this test holds on auth.api_keys), auth.peer still answers
#   org.counts, and GET /v1/billing/subscription (billing counting auth's
#   seats on auth.peer) answers 200 with its over_limits complete (before
#   the peer workers it waited 1.5 s for auth's stuck worker and said
#   over_limits_incomplete);
# - the held request completes once the lock goes.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

signup a peer-$$@example.com 'correct horse battery' Ada "Peer Co" >/dev/null
t_status "signup" 201
org=$a_OID

call () { "$SB_BIN/sb-call" -t 3000 -r service -o "$org" "$@"; }

out=$(call billing.peer entitlements.get "{\"organization_ids\":[\"$org\"]}")
t_is "billing.peer answers entitlements.get" "$(json_get "$out" .status)" 200
out=$(call auth.peer org.counts "{\"organization_id\":\"$org\"}")
t_is "auth.peer answers org.counts" "$(json_get "$out" .status)" 200
t_is "… counting the one seat" "$(json_get "$out" .body.seats)" 1
out=$(call tenant.peer org.counts "{\"organization_id\":\"$org\"}")
t_is "tenant.peer answers org.counts" "$(json_get "$out" .status)" 200
out=$(call billing.peer billing.plans)
t_is "a peer answers nothing else: 404" "$(json_get "$out" .status)" 404
t_is "… unknown_operation" "$(json_get "$out" .error.code)" unknown_operation
out=$(call auth.peer sys.ping)
t_is "… not even sys.ping" "$(json_get "$out" .status)" 404
out=$(call auth org.counts "{\"organization_id\":\"$org\"}")
t_is "the main worker answers peer operations too" "$(json_get "$out" .status)" 200

# Hold auth's main worker: a transaction of this test locks auth.api_keys;
# GET /v1/api-keys then waits on it inside auth's worker.
fifo=$SUITE_TMP/lock.fifo
mkfifo "$fifo"
suite_psql < "$fifo" > "$SUITE_TMP/lock.out" 2>&1 &
locker=$!
exec 7>"$fifo"
echo "BEGIN; LOCK TABLE auth.api_keys IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&7
poll_until 10 grep -q locked "$SUITE_TMP/lock.out"
t_ok "the lock is held" grep -q locked "$SUITE_TMP/lock.out"
( http_as "$a_AT" GET /v1/api-keys; echo "$HTTP_STATUS" > "$SUITE_TMP/held.status" ) &
held=$!
waiting=0
for _ in $(seq 1 100); do
    waiting=$(suite_psql -c "SELECT count (*) FROM pg_stat_activity
                             WHERE wait_event_type = 'Lock' AND query ILIKE '%api_keys%'")
    (( waiting >= 1 )) && break
    sleep 0.1
done
t_ok "auth's main worker waits on the lock" test "$waiting" -ge 1

out=$(call auth.peer org.counts "{\"organization_id\":\"$org\"}")
t_is "auth's main worker stuck: auth.peer still answers org.counts" "$(json_get "$out" .status)" 200
http_as "$a_AT" GET /v1/billing/subscription
t_status "GET /v1/billing/subscription answers" 200
t_field "… its over_limits complete (auth's seats were counted)" .over_limits_incomplete false
t_is "… and the held request is still waiting" "$(cat "$SUITE_TMP/held.status" 2>/dev/null)" ""

echo "COMMIT;" >&7
exec 7>&-
wait "$locker"
wait "$held"
t_is "the lock gone, the held request completes" "$(cat "$SUITE_TMP/held.status")" 200
t_done
