#!/usr/bin/env bash
# switchboardctl workers: the live workers of every service as each
# gateway's broker sees them (bus service mmi.workers, answered by the
# broker itself), merged across the endpoints of SWITCHBOARD_BROKER: two
# gateways, every worker registered with both, so each worker shows once
# per gateway; a gateway that does not answer is reported and makes the
# exit 3 while the others are still shown.
# Needs the broker's mmi.workers (common/src/broker.c, on main since 77bd927):
# on a branch from before it, every row check fails (the broker does not answer).
. "$(dirname "$0")/lib/auth.sh"
suite_init
b1=$SWITCHBOARD_BROKER
suite_free_port b2port && suite_free_port h2 && suite_free_port pub2 && suite_free_port sub2 \
    || t_bail "cannot find free TCP ports"
b2=tcp://127.0.0.1:$b2port
suite_pg_start || t_bail "PostgreSQL did not start"
suite_start_gateway 1 || t_bail "gateway 1 did not start"
SWITCHBOARD_BROKER=$b2 SWITCHBOARD_HTTP_PORT=$h2 SWITCHBOARD_EVENTS_PUB=tcp://127.0.0.1:$pub2 \
    SWITCHBOARD_EVENTS_SUB=tcp://127.0.0.1:$sub2 suite_start_gateway 2 \
    || t_bail "gateway 2 did not start"
export SWITCHBOARD_BROKER=$b1,$b2
for s in auth tenant billing usage; do suite_start_service "$s" || t_bail "$s did not start"; done
suite_start_service tenant 2 || t_bail "a second tenant worker did not start"
suite_wait_ready 60 || t_bail "the suite did not become ready"
gw2_ready () { SWITCHBOARD_HTTP_PORT=$h2 suite_wait_status /readyz 200 30; }
t_ok "gateway 2 serves too (the workers registered with both)" gw2_ready

ctl () { "$SB_BIN/switchboardctl" "$@"; }
version=$(ctl --version | awk '{ print $2 }')

out=$(ctl workers --help); rc=$?
t_is "workers --help exits 0" "$rc" 0
t_like "--help names the columns" "$out" "in flight"
ctl workers extra 2>/dev/null; rc=$?
t_is "a stray word is bad usage (exit 2)" "$rc" 2

count_rows () {   # JSON SERVICE GATEWAY
    printf '%s' "$1" | "$SUITE_PYTHON" -c '
import json, sys
rows = json.load(sys.stdin)["workers"]
print(sum(1 for r in rows if r["service"] == sys.argv[1] and r["gateway"] == sys.argv[2]))' "$2" "$3"
}
both_see_two_tenants () {
    json=$(ctl --json workers) || return 1
    [[ $(count_rows "$json" tenant "$b1") == 2 && $(count_rows "$json" tenant "$b2") == 2 ]]
}
t_ok "both gateways list the two tenant workers" poll_until 20 both_see_two_tenants
for s in auth billing usage; do
    t_is "$s: one worker per gateway" "$(count_rows "$json" "$s" "$b1") $(count_rows "$json" "$s" "$b2")" "1 1"
done
t_is "nothing unreachable" "$(json_len "$json" .unreachable)" 0
check=$(printf '%s' "$json" | "$SUITE_PYTHON" -c '
import json, re, sys
rows = json.load(sys.stdin)["workers"]
bad = [r for r in rows if r["version"] != sys.argv[1] or not re.fullmatch(r"[0-9A-Fa-f]+", r["id"])
       or not isinstance(r["credit"], int) or not isinstance(r["inflight"], int)
       or not isinstance(r["since"], int) or r["since"] <= 0]
print("ok" if rows and not bad else "bad: %r" % bad[:2])' "$version")
t_is "every row: hex id, this version, credit, in flight, since" "$check" ok
# (a worker's id is its connection's identity at that broker: each gateway
# names the same worker differently, so the rows are compared by service)
ids=$(printf '%s' "$json" | "$SUITE_PYTHON" -c '
import json, sys
rows = json.load(sys.stdin)["workers"]
a = sorted(r["service"] for r in rows if r["gateway"] == sys.argv[1])
b = sorted(r["service"] for r in rows if r["gateway"] == sys.argv[2])
print("same" if a == b and len(set(r["id"] for r in rows if r["gateway"] == sys.argv[1])) == len(a) else "differ")' "$b1" "$b2")
t_is "the same services behind each gateway, each worker its own id" "$ids" same

table=$(ctl workers); rc=$?
t_is "table exits 0" "$rc" 0
t_like "table: the header" "$table" "SERVICE +WORKER +VERSION +CREDIT +INFLIGHT +SINCE +GATEWAY"
t_like "table: a tenant row on gateway 2" "$table" "tenant +[0-9A-Fa-f]+ +$version +[0-9]+ +[0-9]+ +[0-9-]+T[0-9:]+ +$b2"

# A gateway that does not answer: the others are still listed, exit 3.
suite_free_port dead || t_bail "cannot find a free TCP port"
json=$(SWITCHBOARD_BROKER=$b1,tcp://127.0.0.1:$dead ctl --json --timeout 1500 workers 2>/dev/null); rc=$?
t_is "an unreachable gateway makes exit 3" "$rc" 3
t_is "named as unreachable" "$(json_get "$json" '.unreachable[0]')" "tcp://127.0.0.1:$dead"
t_is "the other's workers still listed" "$(count_rows "$json" tenant "$b1")" 2
t_done
