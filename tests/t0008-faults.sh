#!/usr/bin/env bash
# Faults: a worker finishes the request in hand when told to stop, and a
# service reconnects to PostgreSQL after the server restarts.
. "$(dirname "$0")/lib/suite.sh"
suite_init
suite_up

# Graceful stop: SIGTERM while a request is in hand.
"$SB_BIN/sb-call" -r service -t 10000 tenant sys.ping '{"sleep_ms":1500}' > "$SUITE_TMP/call.out" 2>&1 &
call=$!
sleep 0.5
kill -TERM "$(suite_pid tenant-1)"
wait "$call"
t_is "the call in hand got its reply" "$?" 0
t_is "with status 200" "$(json_get "$(cat "$SUITE_TMP/call.out")" .status)" 200
t_ok "the worker then exited 0" suite_wait_exit tenant-1 10
t_ok "and its service is gone from readyz" suite_wait_status /readyz 503 5

# Only internal callers may hold a worker: from HTTP, sleep_ms is ignored.
http_op POST /v1/sys/ping/usage '{"sleep_ms":100000}'
t_is "sleep_ms from HTTP is ignored" "$HTTP_STATUS" 200

# The database goes away and comes back.
http_op GET /v1/sys/ping/billing
t_is "billing's database answers" "$(json_get "$HTTP_BODY" .database)" true
suite_pg_stop
http_op GET /v1/sys/ping/billing
t_is "with PostgreSQL stopped the worker still answers" "$HTTP_STATUS" 200
t_is "and says its database is down" "$(json_get "$HTTP_BODY" .database)" false
suite_pg_start
# (A worker whose reconnect failed waits 500 ms before it tries again: poll.)
for _ in $(seq 1 50); do
    http_op GET /v1/sys/ping/billing
    [[ $(json_get "$HTTP_BODY" .database) == true ]] && break
    sleep 0.2
done
t_is "after PostgreSQL restarts the worker reconnects" "$(json_get "$HTTP_BODY" .database)" true
http_op GET /v1/sys/ping/auth
t_is "so do the other services" "$(json_get "$HTTP_BODY" .database)" true
t_done
