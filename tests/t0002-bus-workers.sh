#!/usr/bin/env bash
# Workers on the bus: LRU dispatch across two workers, a killed worker
# turning /readyz to 503 within the heartbeat window and its requests to a
# quick 503, a restarted worker bringing the service back, a clean stop.
. "$(dirname "$0")/lib/suite.sh"
suite_init
suite_start_all
suite_start_service tenant 2
suite_wait_ready 60 || t_bail "the suite did not become ready"
suite_wait_status /readyz 200 10
for i in $(seq 1 50); do
    http GET /readyz
    [[ $(json_get "$HTTP_BODY" .services.tenant) == 2 ]] && break
    sleep 0.1
done
t_is "two tenant workers registered" "$(json_get "$HTTP_BODY" .services.tenant)" 2

workers=()
for i in $(seq 1 20); do
    http_op GET /v1/sys/ping/tenant
    workers+=("$(json_get "$HTTP_BODY" .worker)")
done
distinct=$(printf '%s\n' "${workers[@]}" | sort -u | grep -c .)
t_is "20 requests were served by both tenant workers" "$distinct" 2
first=$(printf '%s\n' "${workers[@]}" | grep -c "^${workers[0]}\$")
t_is "and shared evenly (least recently used first)" "$first" 10

# A killed worker: the heartbeat window is 3 x 250 ms here.
suite_kill auth-1
t_ok "readyz turns 503 after auth is killed" suite_wait_status /readyz 503 5
http GET /readyz
t_is "readyz names the missing service" "$(json_get "$HTTP_BODY" .error.missing)" '["auth"]'
t_is "the other services still count" "$(json_get "$HTTP_BODY" .error.services.usage)" 1
http_op GET /v1/sys/ping/auth
t_is "a request to auth answers 503, not a timeout" "$HTTP_STATUS" 503
t_is "503 is service_unavailable" "$(json_get "$HTTP_BODY" .error.code)" service_unavailable
t_ok "503 says when to retry" http_header Retry-After

suite_start_service auth 2
t_ok "a restarted auth worker brings readyz back" suite_wait_ready 20
http_op GET /v1/sys/ping/auth
t_is "auth answers again" "$HTTP_STATUS" 200

# One of the two tenant workers killed: the other one carries on.
suite_kill tenant-1
ok=0
for i in $(seq 1 10); do
    http_op GET /v1/sys/ping/tenant
    [[ $HTTP_STATUS == 200 ]] && ok=$((ok + 1))
done
t_is "with one tenant worker killed, every request is served by the other" "$ok" 10

# A clean stop: SIGTERM exits 0 and the broker hears DISCONNECT at once.
t_ok "usage stops cleanly on SIGTERM" suite_stop usage-1
t_ok "readyz turns 503 once usage stopped" suite_wait_status /readyz 503 2
t_like "the worker said it was stopping" "$(cat "$SUITE_TMP/log/usage-1.log")" "stopping"

t_done
