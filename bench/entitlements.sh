#!/usr/bin/env bash
# bench/entitlements.sh — how soon a change of plan is enforced: the time
# from a plan change committed in billing-svc to the gateway answering with
# the new plan's RateLimit-Limit. Two paths, ROUNDS times each:
#
#   event      the operator's PUT /v1/sys/subscriptions/{org}: billing-svc
#              commits and publishes subscription.changed; the gateway's
#              cache drops the entry and asks billing-svc again;
#   catch-up   the same change written straight into billing's tables with
#              no event (a lost event): only the gateway's per-second
#              entitlements.changes catch-up can notice it.
#
# Each round measures from just before the change until the first GET
# /v1/me (polled every 10 ms) that carries the new limit, so the figures
# include one polling interval of slack. Prints min / median / max in ms.
# Not part of `make test` (no timing is ever asserted there).
#
#   SB_BIN=build/release/bin bench/entitlements.sh [ROUNDS (10)]
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export SB_BIN=${SB_BIN:-$ROOT/build/release/bin}
. "$ROOT/tests/lib/auth.sh"
ROUNDS=${1:-10}
suite_init
export SWITCHBOARD_LOG_LEVEL=${SWITCHBOARD_LOG_LEVEL:-warn}
suite_up || exit 1
# The caches remember nothing before their first catch-up answer.
sleep 2
signup A "latency@bench.example" "$AUTH_PASSWORD" "Ann" "Latency" || { echo "signup failed"; exit 1; }
http_as "$A_AT" GET /v1/me
echo "free: RateLimit-Limit $(http_header RateLimit-Limit)"

now_ms () { date +%s%3N; }
# wait_limit N: polls GET /v1/me until RateLimit-Limit is N; prints the ms.
wait_limit () {
    local start=$1 want=$2
    for _ in $(seq 1 1000); do
        http_as "$A_AT" GET /v1/me
        [[ $(http_header RateLimit-Limit) == "$want" ]] && { echo $(( $(now_ms) - start )); return 0; }
        sleep 0.01
    done
    echo "timeout"
    return 1
}
report () {
    sort -n | "$SUITE_PYTHON" -c '
import sys
v = [int(x) for x in sys.stdin if x.strip().isdigit()]
print("%-9s n=%d min %d ms, median %d ms, max %d ms" % (sys.argv[1], len(v), v[0], v[len(v)//2], v[-1]) if v else "no data")' "$1"
}

plans=(starter pro)
limits=(300 1200)
for ((i = 0; i < ROUNDS; i++)); do
    k=$((i % 2))
    start=$(now_ms)
    http_op PUT "/v1/sys/subscriptions/$A_OID" "{\"plan\":\"${plans[$k]}\"}" >/dev/null
    wait_limit "$start" "${limits[$k]}"
done | report event

for ((i = 0; i < ROUNDS; i++)); do
    k=$(((i + ROUNDS) % 2))     # carries on alternating from the event rounds
    start=$(now_ms)
    suite_psql >/dev/null <<EOF
BEGIN;
UPDATE billing.versions SET version = version + 1 WHERE name = 'entitlements';
UPDATE billing.subscriptions SET plan = '${plans[$k]}',
       version = (SELECT version FROM billing.versions WHERE name = 'entitlements')
 WHERE organization_id = '$A_OID';
COMMIT;
EOF
    wait_limit "$start" "${limits[$k]}"
done | report catch-up
