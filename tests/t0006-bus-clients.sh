#!/usr/bin/env bash
# Internal programs on the bus: an MDP client calls services directly, and
# events published by one process reach subscribers through the gateway's
# proxy.
. "$(dirname "$0")/lib/suite.sh"
suite_init
suite_up

out=$("$SB_BIN/sb-call" tenant sys.ping '{"x":[1,"two"]}')
t_is "sb-call reaches tenant over MDP" "$(json_get "$out" .status)" 200
t_is "the reply carries the service" "$(json_get "$out" .body.service)" tenant
t_is "and the arguments" "$(json_get "$out" .body.echo)" '{"x":[1,"two"]}'
out=$("$SB_BIN/sb-call" usage no.such_op)
t_is "an unknown operation: 404" "$(json_get "$out" .status)" 404
t_is "an unknown operation: unknown_operation" "$(json_get "$out" .error.code)" unknown_operation
out=$("$SB_BIN/sb-call" -t 2000 nosuchservice sys.ping)
t_is "an unknown service: 503 at once" "$(json_get "$out" .status)" 503

"$SB_BIN/sb-events" sub -n 1 -t 10000 apikey. > "$SUITE_TMP/events.out" 2>&1 &
sub=$!
for i in $(seq 1 50); do grep -q subscribed "$SUITE_TMP/events.out" && break; sleep 0.1; done
sleep 0.3
"$SB_BIN/sb-events" pub other.topic '{"ignored":true}'
"$SB_BIN/sb-events" pub apikey.revoked '{"id":"k1"}'
wait "$sub"
t_is "the subscriber got one event and exited 0" "$?" 0
t_like "it is the event it subscribed to" "$(cat "$SUITE_TMP/events.out")" '"topic":"apikey.revoked","body":\{"id":"k1"\}'
t_unlike "and not the other topic" "$(cat "$SUITE_TMP/events.out")" "other.topic"
t_done
