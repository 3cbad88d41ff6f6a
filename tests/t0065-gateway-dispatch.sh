#!/usr/bin/env bash
# The gateway's dispatch between HTTP connections and the bus, with one HTTP
# thread (libmicrohttpd's loop hosted on the broker's thread: a request goes
# to its worker and back with no hand-off between threads) and with two (the
# thread pool, handing jobs to the broker): many requests at once over many
# keep-alive connections each get their own reply; a service with no worker
# is answered 503 at once and the connection serves the next request; a
# request in flight when the gateway stops is answered 503 and the gateway
# exits cleanly.
. "$(dirname "$0")/lib/suite.sh"
suite_init
suite_pg_start

# burst CONNS PER: CONNS keep-alive connections in parallel, each sending PER
# POST /v1/sys/ping/tenant with its own number and request id; prints
# "<answered> <wrong>" where wrong counts answers that are not 200 with the
# request's own number echoed and its own X-Request-Id.
burst () {
    /usr/bin/python3 - "$SWITCHBOARD_HTTP_PORT" "$SUITE_OPERATOR_TOKEN" "$1" "$2" <<'EOF'
import http.client, json, sys, threading
port, token, conns, per = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lock = threading.Lock()
tally = {"answered": 0, "wrong": 0}
def run(c):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for i in range(per):
        n = c * 100000 + i
        rid = "t0065-%d-%d" % (c, i)
        ok = False
        try:
            conn.request("POST", "/v1/sys/ping/tenant", body=json.dumps({"n": n}),
                         headers={"Authorization": "Bearer " + token,
                                  "Content-Type": "application/json", "X-Request-Id": rid})
            r = conn.getresponse()
            body = json.loads(r.read())
            ok = (r.status == 200 and body.get("echo", {}).get("n") == n
                  and r.getheader("X-Request-Id") == rid)
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
EOF
}

for threads in 1 2; do
    SWITCHBOARD_HTTP_THREADS=$threads suite_start_gateway
    for s in auth tenant billing; do suite_start_service "$s"; done
    # Two tenant workers: replies come back from both, in any order.
    suite_start_service tenant 2
    # readyz wants every service: usage is started, checked, then stopped.
    suite_start_service usage
    suite_wait_ready 60 || t_bail "the suite did not become ready ($threads HTTP threads)"
    log=$SUITE_TMP/log/gateway-1.log
    if (( threads == 1 )); then
        t_like "1 thread: the HTTP loop runs on the broker's thread" "$(cat "$log")" \
               "with 1 threads \(the broker's\)"
    else
        t_like "2 threads: a pool of HTTP threads" "$(cat "$log")" "with 2 threads;"
    fi

    read -r answered wrong < <(burst 16 40)
    t_is "$threads thread(s): 640 requests over 16 connections all answered" "$answered" 640
    t_is "$threads thread(s): each answer is its own request's (status, echo, request id)" \
         "$wrong" 0

    # A service with no worker: 503 at once (on one thread, decided while
    # the request is being submitted), and the keep-alive connection goes on.
    suite_stop usage-1
    out=$(curl -s -H "Authorization: Bearer $SUITE_OPERATOR_TOKEN" -o /dev/null -o /dev/null \
               -w '%{http_code} %{num_connects};' \
               "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/v1/sys/ping/usage" \
               "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/v1/sys/ping/tenant")
    t_is "$threads thread(s): no usage worker: 503, then the same connection serves tenant" \
         "$out" "503 1;200 0;"
    http_op GET /v1/sys/ping/usage
    t_is "$threads thread(s): the 503 is service_unavailable" \
         "$(json_get "$HTTP_BODY" .error.code)" service_unavailable

    # In flight when the gateway stops: both tenant workers frozen, the
    # request waits; SIGTERM answers it 503 and the gateway exits 0.
    kill -STOP "$(suite_pid tenant-1)" "$(suite_pid tenant-2)"
    (http_op GET /v1/sys/ping/tenant; echo "$HTTP_STATUS" > "$SUITE_TMP/inflight.$threads") &
    client=$!
    sleep 0.5
    suite_stop gateway-1 20
    t_is "$threads thread(s): the gateway stops cleanly with a request in flight" "$?" 0
    wait "$client"
    t_is "$threads thread(s): the request in flight is answered 503" \
         "$(cat "$SUITE_TMP/inflight.$threads")" 503
    kill -CONT "$(suite_pid tenant-1)" "$(suite_pid tenant-2)"
    for p in auth-1 tenant-1 tenant-2 billing-1; do suite_stop "$p"; done
    mv "$log" "$SUITE_TMP/log/gateway-1.$threads.log"
done
t_done
