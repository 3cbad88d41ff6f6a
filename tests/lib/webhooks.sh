# tests/lib/webhooks.sh — helpers for the outbound webhook tests (t2050–t2056).
# shellcheck shell=bash
# Source it alone (it sources tenant.sh, auth.sh and suite.sh, once each):
#
#   . "$(dirname "$0")/lib/webhooks.sh"
#
# Receiver: wh_start                 tests/fakes/webhook_receiver.py as process
#                                    "webhook-receiver"; sets WH_PORT and
#                                    WH_BASE (http://127.0.0.1:PORT)
#           wh_secrets NAME SECRET...   what the receiver verifies NAME's
#                                    requests with
#           wh_log                   every record (JSON array)
#           wh_get NAME EXPR         a Python expression over r (NAME's
#                                    records, in order): wh_get a 'len(r)'
#           wh_wait NAME N [SECS]    until NAME has at least N records (20 s)
#           wh_open NAME             {"open", "max"} for NAME
# Plans:    wh_pro PFX               puts organization PFX on plan pro (which
#                                    has the feature webhooks) and waits until
#                                    tenant-svc applies it (POST /v1/webhooks
#                                    stops answering 403)
# Deliveries: wh_deliveries PFX ENDPOINT   GET .../deliveries as PFX's admin

[[ -n ${_WEBHOOKS_SH:-} ]] && return 0
_WEBHOOKS_SH=1
# shellcheck source=tests/lib/tenant.sh
. "$(dirname "${BASH_SOURCE[0]}")/tenant.sh"

WH_PORT=
WH_BASE=

wh_start () {
    local key=webhook-receiver log=$SUITE_TMP/log/webhook-receiver.log port='' deadline
    _suite_start "$key" "$SUITE_PYTHON" "$SUITE_ROOT/tests/fakes/webhook_receiver.py" 0 \
        || return 1
    deadline=$((SECONDS + 10))
    while :; do
        port=$(awk '/^[0-9]+$/ { print; exit }' "$log")
        [[ -n $port ]] && break
        if ! suite_running "$key" || (( SECONDS >= deadline )); then
            t_diag "wh_start: the receiver did not start:" "$(tail -n 20 "$log")"
            return 1
        fi
        sleep 0.05
    done
    WH_PORT=$port
    WH_BASE=http://127.0.0.1:$port
}

wh_secrets () {
    local name=$1 body
    shift
    body=$("$SUITE_PYTHON" -c 'import json, sys; print(json.dumps({"secrets": sys.argv[1:]}))' "$@")
    curl -sS -o /dev/null -X POST --data-binary "$body" "$WH_BASE/secrets/$name"
}

wh_log () {
    curl -sS "$WH_BASE/log"
}

wh_get () {
    wh_log | "$SUITE_PYTHON" -c '
import json, sys
r = [x for x in json.load(sys.stdin) if x["name"] == sys.argv[1]]
v = eval(sys.argv[2])
print(json.dumps(v) if not isinstance(v, str) else v)' "$1" "$2"
}

_wh_has () {
    [[ $(wh_get "$1" 'len(r)') -ge $2 ]]
}

wh_wait () {
    poll_until "${3:-20}" _wh_has "$1" "$2"
}

wh_open () {
    curl -sS "$WH_BASE/open/$1"
}

_wh_can_create () {
    http_as "$1" POST /v1/webhooks '{"url":"ftp://x","events":["ping"]}'
    [[ $HTTP_STATUS == 400 ]]
}

wh_pro () {
    local at oid
    at=${1}_AT oid=${1}_OID
    http_op PUT "/v1/sys/subscriptions/${!oid}" '{"plan":"pro"}'
    [[ $HTTP_STATUS == 200 ]] || { t_diag "wh_pro $1: $HTTP_STATUS $HTTP_BODY"; return 1; }
    poll_until 10 _wh_can_create "${!at}"
}

wh_deliveries () {
    local at=${1}_AT
    http_as "${!at}" GET "/v1/webhooks/$2/deliveries"
}
