#!/usr/bin/env bash
# Slow and greedy clients. With SWITCHBOARD_HTTP_CONNS_PER_ADDRESS=4, one
# address holding 4 silent connections gets no fifth (closed without an
# answer) and gets one again once it closes one of its own. With
# SWITCHBOARD_HTTP_IDLE_SECONDS=2 a connection that sends nothing is closed
# (well before libmicrohttpd's old 60 s); with SWITCHBOARD_HTTP_BODY_SECONDS=2
# a body that trickles in (a byte every 0.2 s, which no idle timeout
# catches) has its connection closed; a normal request still works.
. "$(dirname "$0")/lib/suite.sh"
suite_init
export SWITCHBOARD_HTTP_CONNS_PER_ADDRESS=4
export SWITCHBOARD_HTTP_IDLE_SECONDS=600
export SWITCHBOARD_HTTP_BODY_SECONDS=2
suite_up

probe () { "$SUITE_PYTHON" "$SUITE_ROOT/tests/lib/edge_probe.py" "$@"; }
P=$SWITCHBOARD_HTTP_PORT

# ---- connections per address
coproc HOLD { probe hold "$P" 4; }
read -r -t 30 line <&"${HOLD[0]}"
t_is "4 connections held open" "$line" "held 4"
echo probe >&"${HOLD[1]}"; read -r -t 60 fifth <&"${HOLD[0]}"
t_is "a fifth from the same address is refused" "$fifth" refused
echo close >&"${HOLD[1]}"; read -r -t 30 _ <&"${HOLD[0]}"
again=refused
for _ in $(seq 1 100); do
    echo probe >&"${HOLD[1]}"; read -r -t 60 again <&"${HOLD[0]}"
    [[ $again == 200 ]] && break
    sleep 0.1
done
t_is "once one is closed, a new one is served" "$again" 200
echo quit >&"${HOLD[1]}"
wait "$HOLD_PID" 2>/dev/null
http GET /healthz
t_is "with them gone, requests are served" "$HTTP_STATUS" 200

# ---- timeouts
# (Idle 600 s here: only the body deadline can close it.)
t_is "a trickling body's connection is closed (body 2 s; bound 30 s)" \
     "$(probe trickle "$P" /v1/auth/login 30 60000)" closed
suite_stop gateway-1 || t_fail "the gateway stops cleanly"
SWITCHBOARD_HTTP_IDLE_SECONDS=2 suite_start_gateway
suite_wait_ready 60 || t_bail "the gateway did not come back"
t_is "a silent connection is closed (idle 2 s; bound 30 s)" "$(probe idle "$P" 30)" closed
http POST /v1/auth/login '{"email":"nobody@edge22.example","password":"wrong password"}'
t_is "a normal request is still answered" "$HTTP_STATUS" 401
t_done
