#!/usr/bin/env bash
# Switchboard on several hosts: network namespaces on one LAN (10.77.0.0/24,
# a bridge in a namespace of its own) stand for a database host, two gateway
# hosts, two worker hosts and a client. The bus is CURVE-secured with keys
# made per host as an operator would: one pair per program per host (`keys
# new` on that host), the public halves allowed on each gateway (`keys
# allow`), the bus's own pair shared by the two gateways. PostgreSQL listens
# on the database host's address; every worker host runs one worker of each
# service, connected to BOTH gateways (SWITCHBOARD_BROKER and the event lists
# name both); each gateway binds its own address and enforces half the rate
# limits (SWITCHBOARD_RATE_SHARE=2).
#
# Checked: the API answers through either gateway (sign up, log in, create a
# business and list it, the token of one gateway taken by the other); with
# one worker host's cable pulled the gateways drop its workers and the API
# keeps answering with the other host's; plugged back, its workers register
# again on both gateways; a program with SWITCHBOARD_CURVE=off and a 10.x bus
# refuses to start (configuration error, exit 2); a worker whose key is on
# gateway 1's allow-list only registers there, is refused by gateway 2, and
# goes on serving gateway 1 (and stops when told) all the same.
# Assertions are on outcomes, polled with deadlines (no timing asserted).
#
# The test's HTTP requests run in the client's namespace: `through gwN CMD`
# points the suite's http helpers (whose URLs say 127.0.0.1:<port>) at that
# gateway (curl --connect-to), so the answers are still checked against the
# OpenAPI document.
#
# Needs root and namespaces (veth, bridge); skips saying why otherwise.
# Everything made (namespaces, veths, processes, the cluster, files) goes at
# exit, on failure too (suite.sh's EXIT trap; the namespaces last, through
# suite_at_exit, once the processes are stopped).
. "$(dirname "$0")/lib/tenant.sh"
. "$(dirname "$0")/lib/netns.sh"

why=$(netns_usable) || t_skip "$why"

suite_init
netns_init || t_bail "cannot make the LAN's switch namespace"

declare -A ADDR=([db]=10.77.0.2 [gw1]=10.77.0.11 [gw2]=10.77.0.12
                 [wk1]=10.77.0.21 [wk2]=10.77.0.22 [cli]=10.77.0.100)
for h in db gw1 gw2 wk1 wk2 cli; do
    netns_host "$h" "${ADDR[$h]}" || t_bail "cannot make host $h"
done
SERVICES=(auth tenant billing usage)
PORT=$SWITCHBOARD_HTTP_PORT          # the gateways' HTTP port, in their namespaces
HOSTS=$SUITE_TMP/hosts               # each host's SWITCHBOARD_DATA_DIR
OPS=$SUITE_TMP/ops                   # the operator's desk: what is shipped to hosts
mkdir -p "$OPS"
ctl () { "$SB_BIN/switchboardctl" "$@" >>"$SUITE_TMP/log/keys.log" 2>&1; }
bus_list () { echo "tcp://${ADDR[gw1]}:$1,tcp://${ADDR[gw2]}:$1"; }

# ---- HTTP from the client host ----------------------------------------------
MH_VIA=
curl () {
    [[ -n $MH_VIA ]] || { echo "t7010: curl outside 'through'" >&2; return 2; }
    ip netns exec "${NETNS_NS[cli]}" curl --connect-to "127.0.0.1:$PORT:$MH_VIA:$PORT" "$@"
}
through () {
    local MH_VIA=${ADDR[$1]}
    shift
    "$@"
}

# The gateway's worker counts (/readyz), e.g. {"auth":2,...}; empty if none.
workers_on () {
    through "$1" http GET /readyz >/dev/null 2>&1 || return 1
    json_get "$HTTP_BODY" .services 2>/dev/null
}
# Every service (SVC given: that one) has N live workers on gateway GW.
workers_are () {
    local gw=$1 n=$2 svc=${3:-} counts
    counts=$(workers_on "$gw") || return 1
    "$SUITE_PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1]); n = int(sys.argv[2]); svc = sys.argv[3]
ok = d and (d.get(svc) == n if svc else all(v == n for v in d.values()))
sys.exit(0 if ok else 1)' "$counts" "$n" "$svc" 2>/dev/null
}
t_workers () {
    local desc=$1 gw=$2 n=$3 secs=$4 svc=${5:-}
    if poll_until "$secs" workers_are "$gw" "$n" "$svc"; then t_pass "$desc"
    else t_fail "$desc" "    /readyz of $gw after ${secs}s: $(workers_on "$gw")"
    fi
}

# ---- keys, as an operator makes them ----------------------------------------
# The bus's pair: made once, both halves to each gateway host, the public
# half to every other host.
ctl keys new "$OPS/server.key" --role server || t_bail "keys new server failed"
for h in gw1 gw2 wk1 wk2; do
    mkdir -p "$HOSTS/$h/curve"
    cp "$OPS/server.key" "$HOSTS/$h/curve/"
done
for h in gw1 gw2; do
    cp -p "$OPS/server.key_secret" "$HOSTS/$h/curve/"
    ctl keys new "$HOSTS/$h/curve/gateway.key" --role gateway || t_bail "keys new on $h failed"
    ctl keys allow "$HOSTS/$h/curve/gateway.key" --allow "$HOSTS/$h/curve/allow" \
        || t_bail "keys allow on $h failed"
done
# Each worker host makes its own pairs; their public halves are copied to
# the gateway hosts under the host's name and allowed there.
allow_on () {            # GW HOST NAME: allow HOST's NAME.key on gateway GW
    mkdir -p "$HOSTS/$1/incoming"
    cp "$HOSTS/$2/curve/$3.key" "$HOSTS/$1/incoming/$2-$3.key" \
        && ctl keys allow "$HOSTS/$1/incoming/$2-$3.key" --allow "$HOSTS/$1/curve/allow"
}
for h in wk1 wk2; do
    for s in "${SERVICES[@]}"; do
        ctl keys new "$HOSTS/$h/curve/$s.key" --role "$s" || t_bail "keys new $s on $h failed"
        if ! { allow_on gw1 "$h" "$s" && allow_on gw2 "$h" "$s"; }; then
            t_bail "keys allow $h-$s failed"
        fi
    done
done

# What every worker host shares besides: the JWT signing key (auth-svc on
# both hosts signs and serves the same keys) and the key sealing secrets.
SWITCHBOARD_KEYS_DIR=$OPS/jwt "$SB_BIN/auth-svc" rotate-keys >>"$SUITE_TMP/log/keys.log" 2>&1 \
    || t_bail "auth-svc rotate-keys failed"
for h in wk1 wk2; do cp -a "$OPS/jwt" "$HOSTS/$h/keys"; done
SWITCHBOARD_SECRETS_KEY=$(head -c 32 /dev/urandom | base64)
export SWITCHBOARD_SECRETS_KEY

# ---- PostgreSQL on the database host -------------------------------------------
# pg.sh listens on 127.0.0.1 (of its namespace here); the database host's
# address is added, and the LAN to pg_hba.conf (passwords, as on loopback).
# (SUITE_PG_STARTED and SUITE_PG_URL are suite.sh's: its cleanup and
# suite_psql read them.)
# shellcheck disable=SC2034
pg_up () {
    local dir=$SUITE_TMP/pg root key value
    SUITE_PG_STARTED=1
    SB_PG_EXTRA_CONF="listen_addresses = '127.0.0.1,${ADDR[db]}'" \
        netns_exec db "$SUITE_PGSH" start "$dir" "$SB_PG_PORT" >>"$SUITE_TMP/log/pg.sh.log" 2>&1 \
        || return 1
    root=$(cat "$dir/pg-root" 2>/dev/null || echo "$dir")
    printf 'host all all 10.77.0.0/24 scram-sha-256\n' >>"$root/pgdata/pg_hba.conf" || return 1
    _suite_pgsh provision "$dir" "$SB_PG_PORT" || return 1
    SUITE_PG_URL=$("$SUITE_PGSH" url "$dir" "$SB_PG_PORT")
    suite_psql -c 'select pg_reload_conf()' >/dev/null || return 1
    while IFS='=' read -r key value; do
        [[ -n $key ]] && export "$key=${value//@127.0.0.1:/@${ADDR[db]}:}"
    done < "$dir/env"
}
pg_up || t_bail "PostgreSQL did not start on the database host: $(tail -n 20 "$SUITE_TMP/log/pg.sh.log")"
t_like "the services' database URLs name the database host" \
       "$SWITCHBOARD_TENANT_DATABASE_URL" "@${ADDR[db]}:$SB_PG_PORT/"

# ---- the programs ---------------------------------------------------------------
start_gateway () {       # HOST
    local a=${ADDR[$1]}
    netns_start "gateway-$1" "$1" env SWITCHBOARD_DATA_DIR="$HOSTS/$1" \
        SWITCHBOARD_BROKER="tcp://$a:5555" SWITCHBOARD_EVENTS_PUB="tcp://$a:5556" \
        SWITCHBOARD_EVENTS_SUB="tcp://$a:5557" SWITCHBOARD_RATE_SHARE=2 "$SB_BIN/gateway"
}
start_worker () {        # SERVICE HOST [KEY [ENV...]]
    local svc=$1 h=$2 key=${3:-$1-$2}
    shift $(( $# < 3 ? $# : 3 ))
    netns_start "$key" "$h" env SWITCHBOARD_DATA_DIR="$HOSTS/$h" \
        SWITCHBOARD_BROKER="$(bus_list 5555)" SWITCHBOARD_EVENTS_PUB="$(bus_list 5556)" \
        SWITCHBOARD_EVENTS_SUB="$(bus_list 5557)" "$@" "$SB_BIN/$svc-svc"
}
for h in gw1 gw2; do start_gateway "$h" || t_bail "cannot start the gateway on $h"; done
for h in wk1 wk2; do
    for s in "${SERVICES[@]}"; do start_worker "$s" "$h" || t_bail "cannot start $s on $h"; done
done
t_is "gateway-gw1's pid is the gateway's own (ip netns exec execs)" \
     "$(readlink "/proc/$(suite_pid gateway-gw1)/exe")" "$(readlink -f "$SB_BIN/gateway")"

t_workers "gateway 1 has a worker of every service from each worker host" gw1 2 60
t_workers "gateway 2 has a worker of every service from each worker host" gw2 2 30
through gw1 http GET /readyz
t_status "gateway 1 is ready" 200
through gw2 http GET /readyz
t_status "gateway 2 is ready" 200

# ---- the API through either gateway -------------------------------------------
n=$$
through gw1 signup A "mh$n-a@example.com" "$AUTH_PASSWORD" "Ada" "Org A $n"
t_status "sign up through gateway 1" 201
through gw2 login A2 "mh$n-a@example.com" "$AUTH_PASSWORD"
t_status "log in through gateway 2" 200
t_is "  the same user" "$A2_UID" "$A_UID"
through gw2 create_as "$A_AT" /v1/businesses "$(biz_body)"
t_status "gateway 2 takes gateway 1's token: a business created" 201
BIZ1=$NEW_ID
through gw1 create_as "$A2_AT" /v1/businesses "$(biz_body)"
t_status "gateway 1 takes gateway 2's token: a business created" 201
BIZ2=$NEW_ID
listed_on () {           # GW TOKEN ID...: the business list through GW has every ID
    local gw=$1 tok=$2 ids id
    shift 2
    through "$gw" http_as "$tok" GET "/v1/businesses?limit=100"
    [[ $HTTP_STATUS == 200 ]] || return 1
    ids=$(data_ids "$HTTP_BODY")
    for id in "$@"; do grep -qx -- "$id" <<<"$ids" || return 1; done
}
t_ok "gateway 1 lists both businesses" listed_on gw1 "$A_AT" "$BIZ1" "$BIZ2"
t_ok "gateway 2 lists both businesses" listed_on gw2 "$A2_AT" "$BIZ1" "$BIZ2"
# Rate limits: each gateway enforces half the plan's (Starter: 300 a minute).
through gw1 http_op PUT "/v1/sys/subscriptions/$A_OID" '{"plan": "starter"}'
t_status "the operator puts organization A on Starter (through gateway 1)" 200
limit_is () {            # GW N: the RateLimit-Limit A's requests get through GW
    through "$1" http_as "$A_AT" GET /v1/me && [[ $(http_header RateLimit-Limit) == "$2" ]]
}
t_ok "gateway 1 enforces half of Starter's 300 a minute" poll_until 10 limit_is gw1 150
t_ok "gateway 2 enforces the other half" poll_until 10 limit_is gw2 150

# ---- plaintext on this LAN is refused -------------------------------------------
out=$(netns_exec wk1 env SWITCHBOARD_DATA_DIR="$HOSTS/wk1" SWITCHBOARD_CURVE=off \
          SWITCHBOARD_BROKER="$(bus_list 5555)" SWITCHBOARD_EVENTS_PUB="$(bus_list 5556)" \
          SWITCHBOARD_EVENTS_SUB="$(bus_list 5557)" timeout 30 "$SB_BIN/tenant-svc" 2>&1 </dev/null)
rc=$?
t_is "tenant-svc with SWITCHBOARD_CURVE=off and a 10.x broker exits 2" "$rc" 2
t_like "  saying plaintext is for loopback only" "$out" \
       "SWITCHBOARD_CURVE=off is for loopback only, and SWITCHBOARD_BROKER names 'tcp://10\.77\.0\.11:5555'"
t_ok "  and registers nowhere" workers_are gw1 2 tenant

# ---- a worker host's cable pulled ---------------------------------------------------
t_ok "pull worker host 1's cable" netns_link wk1 down
t_workers "gateway 1 drops worker host 1's workers" gw1 1 30
t_workers "gateway 2 drops worker host 1's workers" gw2 1 30
for s in "${SERVICES[@]}"; do
    t_ok "  $s-wk1 still runs (its host is cut off, not down)" suite_running "$s-wk1"
done
through gw1 login A3 "mh$n-a@example.com" "$AUTH_PASSWORD"
t_status "log in through gateway 1 with worker host 2 alone" 200
through gw2 create_as "$A3_AT" /v1/businesses "$(biz_body)"
t_status "create a business through gateway 2 with worker host 2 alone" 201
BIZ3=$NEW_ID
t_ok "gateway 1 lists the three businesses" listed_on gw1 "$A3_AT" "$BIZ1" "$BIZ2" "$BIZ3"
through gw2 signup B "mh$n-b@example.com" "$AUTH_PASSWORD" "Bea" "Org B $n"
t_status "sign up through gateway 2 with worker host 2 alone" 201
through gw1 http GET /readyz
t_status "gateway 1 still ready" 200

# ---- plugged back -----------------------------------------------------------------
t_ok "plug worker host 1's cable back" netns_link wk1 up
t_workers "worker host 1's workers register again on gateway 1" gw1 2 45
t_workers "worker host 1's workers register again on gateway 2" gw2 2 45
through gw2 login B2 "mh$n-b@example.com" "$AUTH_PASSWORD"
t_status "log in through gateway 2 with both worker hosts" 200
t_ok "gateway 2 lists the three businesses" listed_on gw2 "$A3_AT" "$BIZ1" "$BIZ2" "$BIZ3"

# ---- a key on one allow-list only ------------------------------------------------------
# A third tenant worker on host 2, with a key of its own allowed on gateway 1
# only: it registers there (so it runs and connects) and gateway 2 refuses
# it. Refused by one gateway, it must go on serving the other, and stop when
# told (a refused CURVE handshake leaves that link without a peer: a
# blocking send on it used to wedge the whole worker).
ctl keys new "$HOSTS/wk2/curve/tenant-extra.key" --role tenant || t_bail "keys new tenant-extra failed"
allow_on gw1 wk2 tenant-extra || t_bail "keys allow tenant-extra failed"
extra_key=$(sed -n 's/^ *public-key = "\(.*\)"$/\1/p' "$HOSTS/wk2/curve/tenant-extra.key")
gone () { grep -c "of 'tenant' is gone" "$SUITE_TMP/log/gateway-gw1.log"; }
gone_before=$(gone)
start_worker tenant wk2 tenant-extra SWITCHBOARD_CURVE_CERT="$HOSTS/wk2/curve/tenant-extra.key" \
    || t_bail "cannot start tenant-extra"
t_workers "the extra tenant worker registers on gateway 1 (its key is allowed there)" gw1 3 30 tenant
refused_on_gw2 () {
    grep -F "refused" "$SUITE_TMP/log/gateway-gw2.log" | grep -F "from ${ADDR[wk2]}" \
        | grep -qF -- "$extra_key"
}
t_ok "gateway 2 refuses its key (logged with the address)" poll_until 20 refused_on_gw2
t_ok "  and has still two tenant workers" workers_are gw2 2 tenant
through gw2 http GET /readyz
t_status "  and is ready" 200
t_ok "gateway 1 still has the extra worker" workers_are gw1 3 tenant
t_ok "the extra worker stops on SIGTERM" suite_stop tenant-extra
t_is "  gateway 1 never lost its heartbeats (no 'is gone' for tenant)" "$(gone)" "$gone_before"
t_workers "  gateway 1 is back to two tenant workers" gw1 2 10 tenant

t_done
