#!/usr/bin/env bash
# Deadlines: a worker that does not answer makes the gateway answer 504 at
# the deadline, and the worker drops the stale request when it wakes up.
. "$(dirname "$0")/lib/suite.sh"
suite_init
suite_pg_start
SWITCHBOARD_REQUEST_TIMEOUT_MS=1500 suite_start_gateway
for s in auth tenant billing usage; do suite_start_service "$s"; done
suite_wait_ready 60 || t_bail "the suite did not become ready"

kill -STOP "$(suite_pid billing-1)"
http_op GET /v1/sys/ping/billing
t_is "a frozen worker: the gateway answers 504 at the deadline" "$HTTP_STATUS" 504
t_is "504 is a timeout error" "$(json_get "$HTTP_BODY" .error.code)" timeout
kill -CONT "$(suite_pid billing-1)"

for i in $(seq 1 50); do
    grep -q "deadline passed" "$SUITE_TMP/log/billing-1.log" && break
    sleep 0.1
done
t_like "the worker dropped the stale request" "$(cat "$SUITE_TMP/log/billing-1.log")" "deadline passed"
t_ok "readyz is 200 again" suite_wait_ready 10
http_op GET /v1/sys/ping/billing
t_is "the worker serves the next request" "$HTTP_STATUS" 200
t_done
