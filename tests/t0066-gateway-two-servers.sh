#!/usr/bin/env bash
# The gateway with more than one HTTP thread: one libmicrohttpd server runs
# on the broker's thread (no hand-off to the bus), a second on threads of
# its own shares its port (SO_REUSEPORT, the kernel spreads the
# connections). Both listen; requests for a service and the gateway's own
# (/healthz) are answered right over many connections, whichever server
# took them; a service with no worker is answered 503 by either; a request
# in flight when the gateway stops is answered 503 and the gateway exits
# cleanly.
. "$(dirname "$0")/lib/suite.sh"
suite_init
suite_pg_start

# burst CONNS PER PATH: CONNS keep-alive connections in parallel, each
# sending PER requests (POST PATH with its own number and request id;
# /healthz: GET); prints "<answered> <wrong>" where wrong counts answers
# that are not 200 with the request's own X-Request-Id (and, for a ping,
# its own number echoed).
burst () {
    /usr/bin/python3 - "$SWITCHBOARD_HTTP_PORT" "$SUITE_OPERATOR_TOKEN" "$@" <<'PY'
import http.client, json, sys, threading
port, token, conns, per, path = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
lock = threading.Lock()
tally = {"answered": 0, "wrong": 0}
def run(c):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(per):
        n = c * 100000 + i
        rid = "t0066-%d-%d" % (c, i)
        ok = False
        try:
            if path == "/healthz":
                conn.request("GET", path, headers={"X-Request-Id": rid})
            else:
                conn.request("POST", path, body=json.dumps({"n": n}),
                             headers={"Authorization": "Bearer " + token,
                                      "Content-Type": "application/json", "X-Request-Id": rid})
            r = conn.getresponse()
            body = json.loads(r.read())
            ok = r.status == 200 and r.getheader("X-Request-Id") == rid
            if path == "/healthz":
                ok = ok and body.get("status") == "ok"
            else:
                ok = ok and body.get("echo", {}).get("n") == n
        except Exception:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        with lock:
            tally["answered"] += 1
            tally["wrong"] += 0 if ok else 1
    conn.close()
threads = [threading.Thread(target=run, args=(c,)) for c in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
print(tally["answered"], tally["wrong"])
PY
}

SWITCHBOARD_HTTP_THREADS=3 suite_start_gateway
for s in auth tenant billing usage; do suite_start_service "$s"; done
suite_start_service tenant 2
suite_wait_ready 60 || t_bail "the suite did not become ready"
log=$SUITE_TMP/log/gateway-1.log
t_like "3 threads: one server on the broker's thread, one of 2 threads of its own" \
       "$(cat "$log")" "with 3 threads \(the broker's and 2 of its own\)"

# Two listening sockets on the port, both the gateway's.
gw=$(suite_pid gateway-1)
listeners=$(ss -Hltnp "sport = :$SWITCHBOARD_HTTP_PORT" | grep -c "pid=$gw,")
t_is "two servers listen on the gateway's port" "$listeners" 2

# 48 connections: with the kernel spreading them, both servers get some
# (all on one server: a chance of 2^-47).
read -r answered wrong < <(burst 48 20 /v1/sys/ping/tenant)
t_is "960 requests for a service over 48 connections all answered" "$answered" 960
t_is "each answer is its own request's (status, echo, request id)" "$wrong" 0
read -r answered wrong < <(burst 48 20 /healthz)
t_is "960 GET /healthz over 48 connections all answered" "$answered" 960
t_is "each /healthz answer is 200 ok with its own request id" "$wrong" 0

# No usage worker: 503 on connections of both servers.
suite_stop usage-1
codes=$(for i in $(seq 1 16); do
            curl -s -o /dev/null -w '%{http_code}\n' \
                 -H "Authorization: Bearer $SUITE_OPERATOR_TOKEN" \
                 "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/v1/sys/ping/usage" &
        done | cat)
t_is "no usage worker: 16 connections, each answered 503" "$(sort -u <<< "$codes")" 503

# In flight on 8 connections when the gateway stops: both tenant workers
# frozen; SIGTERM answers them 503 and the gateway exits 0.
kill -STOP "$(suite_pid tenant-1)" "$(suite_pid tenant-2)"
clients=()
for i in $(seq 1 8); do
    curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $SUITE_OPERATOR_TOKEN" \
         "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/v1/sys/ping/tenant" > "$SUITE_TMP/inflight.$i" &
    clients+=($!)
done
sleep 0.5
suite_stop gateway-1 20
t_is "the gateway stops cleanly with requests in flight" "$?" 0
wait "${clients[@]}"
t_is "the 8 requests in flight are answered 503" "$(cat "$SUITE_TMP"/inflight.* | sort -u)" 503
kill -CONT "$(suite_pid tenant-1)" "$(suite_pid tenant-2)"
for p in auth-1 tenant-1 tenant-2 billing-1; do suite_stop "$p"; done
t_done
