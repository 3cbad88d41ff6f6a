#!/usr/bin/env bash
# Start order does not matter: a worker started before the gateway
# registers once the gateway comes up, and workers outlive a gateway
# restart (they re-register with the new broker).
. "$(dirname "$0")/lib/suite.sh"
suite_init
suite_pg_start
for s in auth tenant billing usage; do suite_start_service "$s"; done
sleep 1
t_ok "the workers wait for a gateway that is not there yet" suite_running usage-1
suite_start_gateway
t_ok "workers started first register once the gateway is up" suite_wait_ready 20
http_op GET /v1/sys/ping/usage
t_is "and serve requests" "$HTTP_STATUS" 200

suite_kill gateway-1
suite_start_gateway 2
t_ok "after a gateway restart the workers register again" suite_wait_ready 20
http_op GET /v1/sys/ping/billing
t_is "and serve requests through the new gateway" "$HTTP_STATUS" 200

suite_stop gateway-2
t_is "the gateway stops cleanly on SIGTERM" "$?" 0
t_ok "workers keep running without a gateway" suite_running tenant-1
t_done
