#!/usr/bin/env bash
# The bus secured with CURVE (common/include/sb/curve.h), through the real
# gateway and services: only keys in the gateway's allow-list get onto the
# bus, each only as far as its role allows, and plaintext is refused.
#
# - the broker speaks CURVE (its ZMTP greeting names the mechanism);
# - a client with an unlisted key, or speaking plaintext, gets nothing;
# - a worker with an unlisted key never registers, nor does a listed key
#   registering as another service: with the real tenant worker stopped,
#   those leave tenant's routes answering 503;
# - an internal key may not send role operator (403 from the broker), the
#   operator's key may; a client key reaches only its own organization,
#   as user or admin;
# - the broker's own mmi.workers answers internal keys, not client keys;
# - only internal keys may publish events;
# - configuration: plaintext off loopback, and missing keys, stop a
#   program at start with a message that says what to do.
. "$(dirname "$0")/lib/suite.sh"
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

dir=$SWITCHBOARD_DATA_DIR/curve
ctl=$SB_BIN/switchboardctl
gwlog=$SUITE_TMP/log/gateway-1.log

# How many workers the broker has for a service, from mmi.workers.
workers_of () {
    "$SB_BIN/sb-call" mmi.workers workers.list | "$SUITE_PYTHON" -c '
import json, sys
body = json.load (sys.stdin)["body"]
print (sum (len (s["workers"]) for s in body["services"] if s["name"] == sys.argv [1]))' "$1"
}

# Wait up to 10 s for a line matching $1 in the gateway's log.
gateway_logged () {
    local deadline=$((SECONDS + 10))
    until grep -q -E "$1" "$gwlog"; do
        (( SECONDS < deadline )) || return 1
        sleep 0.1
    done
}

# ---- the wire ---------------------------------------------------------------
port=${SWITCHBOARD_BROKER##*:}
mechanism=$("$SUITE_PYTHON" - "$port" <<'EOF'
import socket, sys
s = socket.create_connection (("127.0.0.1", int (sys.argv [1])), timeout=5)
# The start of a ZMTP 3 greeting (signature, major version 3): the server
# answers with its whole greeting, mechanism included, before it reads ours.
s.sendall (b"\xff" + b"\0" * 8 + b"\x7f" + b"\x03")
got = b""
while len (got) < 64:
    chunk = s.recv (64 - len (got))
    if not chunk:
        break
    got += chunk
print (got [12:32].rstrip (b"\0").decode ("ascii", "replace"))
EOF
)
t_is "the broker's greeting names the CURVE mechanism" "$mechanism" CURVE

# ---- clients ----------------------------------------------------------------
out=$("$SB_BIN/sb-call" tenant sys.ping)
t_is "the internal key reaches tenant" "$(json_get "$out" .status)" 200

"$ctl" keys new "$SUITE_TMP/stranger.key" --role internal >/dev/null
t_ok "a key made outside the allow-list" test -f "$SUITE_TMP/stranger.key_secret"
SWITCHBOARD_CURVE_CERT=$SUITE_TMP/stranger.key "$SB_BIN/sb-call" -t 1500 tenant sys.ping \
    >"$SUITE_TMP/stranger.out" 2>&1
t_is "a client with an unlisted key gets no answer" "$?" 1
t_ok "the gateway logs the refusal" gateway_logged "curve: refused .* on 'bus' .*not in the allow-list"

SWITCHBOARD_CURVE=off "$SB_BIN/sb-call" -t 1500 tenant sys.ping >/dev/null 2>&1
t_is "a plaintext client gets no answer" "$?" 1

out=$("$SB_BIN/sb-call" -r operator tenant sys.ping)
t_is "an internal key may not send role operator: 403" "$(json_get "$out" .status)" 403
t_is "... forbidden, from the broker" "$(json_get "$out" .error.code)" forbidden
out=$(SWITCHBOARD_CURVE_CERT=$dir/operator.key "$SB_BIN/sb-call" -r operator tenant sys.ping)
t_is "the operator's key may" "$(json_get "$out" .status)" 200

# A client key bound to one organization.
signup A curve@example.com "correct horse battery" "Curve" "Curve Co"
org=$A_OID
t_like "an organization to bind a client key to" "$org" '^[0-9a-f-]{36}$'
"$ctl" keys new "$SUITE_TMP/client.key" --role client --organization "$org" >/dev/null
"$ctl" keys allow "$SUITE_TMP/client.key" >/dev/null
t_ok "the client key is allowed" test -f "$dir/allow/client.key"
t_ok "... without its secret" test ! -e "$dir/allow/client.key_secret"
# zcertstore rereads the directory when its time or size changed.
sleep 1.1
client () { SWITCHBOARD_CURVE_CERT=$SUITE_TMP/client.key "$SB_BIN/sb-call" "$@"; }
out=$(client -r admin -o "$org" tenant businesses.list)
t_is "the client key reads its own organization as admin" "$(json_get "$out" .status)" 200
out=$(client -r admin -o 00000000-0000-4000-8000-000000000001 tenant businesses.list)
t_is "another organization: 403" "$(json_get "$out" .status)" 403
out=$(client -o "$org" tenant businesses.list)
t_is "role service: 403" "$(json_get "$out" .status)" 403
out=$(client mmi.workers workers.list)
t_is "mmi.workers refuses a client key" "$(json_get "$out" .status)" 403
out=$("$SB_BIN/sb-call" mmi.workers workers.list)
t_is "mmi.workers answers an internal key" "$(json_get "$out" .status)" 200
t_like "... with each worker's version" "$out" "\"version\":\"$("$SB_BIN/gateway" --version | cut -d' ' -f2)\""

# ---- events -----------------------------------------------------------------
"$SB_BIN/sb-events" sub -n 1 -t 8000 curve.test >"$SUITE_TMP/events.out" 2>&1 &
sub=$!
for _ in $(seq 1 50); do grep -q subscribed "$SUITE_TMP/events.out" && break; sleep 0.1; done
sleep 0.3
SWITCHBOARD_CURVE_CERT=$SUITE_TMP/client.key "$SB_BIN/sb-events" pub curve.test '{"from":"client"}'
"$SB_BIN/sb-events" pub curve.test '{"from":"internal"}'
wait "$sub"
t_is "the subscriber got an event" "$?" 0
t_like "the internal key's" "$(cat "$SUITE_TMP/events.out")" '"from":"internal"'
t_unlike "never the client key's" "$(cat "$SUITE_TMP/events.out")" '"from":"client"'
t_ok "the events proxy turned the client key away" \
    gateway_logged "curve: refused .* on 'events' .*may not use the events channel"

# ---- workers ----------------------------------------------------------------
t_is "one tenant worker to begin with" "$(workers_of tenant)" 1
t_ok "the tenant worker stops" suite_stop tenant-1
t_is "none left" "$(workers_of tenant)" 0

SWITCHBOARD_CURVE_CERT=$SUITE_TMP/stranger.key suite_start_service tenant 2
t_ok "a worker with an unlisted key is refused" \
    gateway_logged "curve: refused .* not in the allow-list"
SWITCHBOARD_CURVE_CERT=$dir/billing.key suite_start_service tenant 3
t_ok "a billing key registering as tenant is refused" \
    gateway_logged "broker: key 'billing' may not register as 'tenant'"
t_is "neither registered" "$(workers_of tenant)" 0
http_as "$A_AT" GET /v1/businesses
t_is "tenant's routes answer 503 meanwhile" "$HTTP_STATUS" 503
# A worker that cannot get on the bus must still stop at once (its sends
# never block waiting for a connection that will not come).
t_ok "the refused workers stop cleanly on SIGTERM" suite_stop tenant-2 5
t_ok "... both" suite_stop tenant-3 5

suite_start_service tenant 1
suite_wait_ready 30
http_as "$A_AT" GET /v1/businesses
t_is "with its own key, tenant serves again" "$HTTP_STATUS" 200

# ---- configuration ----------------------------------------------------------
out=$(SWITCHBOARD_CURVE=off SWITCHBOARD_BROKER=tcp://10.1.2.3:5555 "$SB_BIN/tenant-svc" 2>&1)
t_is "plaintext off loopback: the program stops (2)" "$?" 2
t_like "... saying why" "$out" "SWITCHBOARD_CURVE=off is for loopback only"
out=$(SWITCHBOARD_CURVE_CERT=$SUITE_TMP/missing.key "$SB_BIN/tenant-svc" 2>&1)
t_is "a missing key: the program stops (2)" "$?" 2
t_like "... naming the command that makes one" "$out" "switchboardctl keys"

t_done
