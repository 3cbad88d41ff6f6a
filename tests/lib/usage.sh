# tests/lib/usage.sh — helpers for the usage tests (t40xx).
# shellcheck shell=bash
# Source it alone (it sources tenant.sh, auth.sh and suite.sh, once each):
#
#   . "$(dirname "$0")/lib/usage.sh"
#
# Plans:    usage_plans_file PATH CALLS   a plan catalogue at PATH: the shipped
#                                    one (deploy/plans.json) with the free
#                                    plan's calls_per_month set to CALLS and
#                                    no practical rate limit (100000/min), so
#                                    that a test can make hundreds of requests;
#                                    export SWITCHBOARD_PLANS_FILE=PATH
# Bus:      usage_bus OP [JSON]      call usage-svc over the bus as role service
#                                    (sb-call); prints {"status":..,"body"|"error":..}
#           usage_mismatches [ORG]   usage.verify's mismatches (counters that
#                                    differ from the sum of their events); "?"
#                                    if the call failed
# Events:   usage_events FILE ID_PREFIX COUNT [METRICS] [START]
#                                    write {"events":[...]} with COUNT events
#                                    ID_PREFIX0 .. ID_PREFIX<COUNT-1> to FILE;
#                                    each event's metric and quantity follow
#                                    from its id alone (usage_expect can
#                                    recompute them); METRICS comma-separated
#                                    (default sms,tokens), occurred_at START
#                                    (RFC 3339, default now) minus id seconds
#           usage_expect ID...       (ids on stdin, one a line, if none given)
#                                    "METRIC SUM" lines, by metric: what those
#                                    ids add up to, each id once
#           usage_post TOKEN FILE    POST /v1/usage/events with FILE as body
#                                    (curl, quiet); prints "STATUS BODY"
# SQL:      usage_sums ORG           "METRIC SUM" lines of usage.events (by metric)
#           usage_counter_sums ORG   "METRIC SUM" lines of usage.counters
#           usage_counter_set ORG METRIC TARGET
#                                    set ORG's METRIC counter of this month
#                                    (UTC) to TARGET (up to 2^63 - 1) by
#                                    storing one event "seed-<n>" of the
#                                    difference, added to its hour's sum in
#                                    usage.hours too (usage.verify still agrees);
#                                    run it with nothing else writing that
#                                    counter
#           usage_counter ORG METRIC this month's counter (0 when none)
#
# Nothing here changes the environment.

# shellcheck disable=SC2034

[[ -n ${_USAGE_SH:-} ]] && return 0
_USAGE_SH=1
# shellcheck source=tests/lib/tenant.sh
. "$(dirname "${BASH_SOURCE[0]}")/tenant.sh"

_USAGE_PY='
import hashlib, json, sys

def event_of(ident, metrics):
    h = int(hashlib.sha1(ident.encode()).hexdigest(), 16)
    return metrics[h % len(metrics)], (h >> 8) % 50

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "events":
    import calendar, datetime, re
    path, prefix, count = args[0], args[1], int(args[2])
    metrics = (args[3] if len(args) > 3 and args[3] else "sms,tokens").split(",")
    start = args[4] if len(args) > 4 and args[4] else None
    if start:
        base = datetime.datetime.strptime(start[:19], "%Y-%m-%dT%H:%M:%S")
    else:
        base = datetime.datetime.utcnow().replace(microsecond=0)
    out = []
    for i in range(count):
        ident = "%s%d" % (prefix, i)
        metric, qty = event_of(ident, metrics)
        at = base - datetime.timedelta(seconds=i % 3600)
        out.append({"id": ident, "metric": metric, "quantity": qty,
                    "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%SZ")})
    with open(path, "w") as f:
        json.dump({"events": out}, f)
elif cmd == "expect":
    metrics = args[0].split(",")
    ids = args[1:] or [l.strip() for l in sys.stdin if l.strip()]
    sums = {}
    for ident in set(ids):
        m, q = event_of(ident, metrics)
        sums[m] = sums.get(m, 0) + q
    for m in sorted(sums, key=lambda m: m.encode()):
        print("%s %d" % (m, sums[m]))
elif cmd == "plans":
    src, dst, calls = args[0], args[1], int(args[2])
    catalogue = json.load(open(src))
    for plan in catalogue["plans"]:
        if plan["id"] == "free":
            plan["limits"]["calls_per_month"] = calls
        plan["limits"]["api_requests_per_minute"] = 100000
    json.dump(catalogue, open(dst, "w"), indent=1)
else:
    sys.exit("usage.sh: unknown helper %r" % cmd)
'

_usage_py () {
    "$SUITE_PYTHON" -c "$_USAGE_PY" "$@"
}

usage_plans_file () {
    _usage_py plans "$SUITE_ROOT/deploy/plans.json" "$1" "$2"
}

usage_bus () {
    local args=${2:-}
    [[ -n $args ]] || args='{}'
    "$SB_BIN/sb-call" -t 10000 usage "$1" "$args"
}

usage_mismatches () {
    local out args='{}'
    [[ -n ${1:-} ]] && args="{\"org\": \"$1\"}"
    out=$(usage_bus usage.verify "$args" 2>&1)
    json_get "$out" .body.mismatches 2>/dev/null || { t_diag "usage.verify: $out"; echo "?"; }
}

usage_events () {
    _usage_py events "$@"
}

# Metrics are those usage_events used: pass the same list (default sms,tokens)
# through USAGE_METRICS.
usage_expect () {
    _usage_py expect "${USAGE_METRICS:-sms,tokens}" "$@"
}

usage_post () {
    local tok=$1 file=$2 out status
    out=$(curl -sS --max-time 20 -w '\n%{http_code}' -H "Authorization: Bearer $tok" \
               -H 'Content-Type: application/json' --data-binary "@$file" \
               "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/v1/usage/events" 2>/dev/null)
    status=${out##*$'\n'}
    printf '%s %s\n' "${status:-000}" "$(printf '%s' "${out%$'\n'*}" | tr -d '\n')"
}

# usage_stream TOKEN N &: a producer with a retry loop: posts
# $SUITE_TMP/k0.json .. k<N-1>.json in turn, each until it gets its 202
# (every 0.2 s, 300 tries at most), one line "K TRY STATUS BODY" per
# attempt in $SUITE_TMP/stream.log (emptied first by the caller).
usage_stream () {
    local tok=$1 n=$2 k try line status
    for k in $(seq 0 $((n - 1))); do
        for try in $(seq 1 300); do
            line=$(usage_post "$tok" "$SUITE_TMP/k$k.json")
            status=${line%% *}
            printf '%s %s %s\n' "$k" "$try" "$line" >> "$SUITE_TMP/stream.log"
            [[ $status == 202 ]] && break
            sleep 0.2
        done
    done
}

# usage_stream_acked N: true once N attempts of usage_stream got a 202.
usage_stream_acked () {
    (( $(awk '$3 == 202' "$SUITE_TMP/stream.log" | wc -l) >= $1 ))
}

# usage_stream_finish PID: waits (up to 240 s) for usage_stream to have a
# 202 for every batch: one assertion; on failure stops the stream.
usage_stream_finish () {
    local pid=$1
    if poll_until 240 eval "! kill -0 $pid 2>/dev/null"; then
        t_pass "the client got a 202 for every batch in the end"
    else
        t_fail "the client got a 202 for every batch in the end" "$(tail -n 5 "$SUITE_TMP/stream.log")"
        kill "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
}

usage_sums () {
    suite_psql -F ' ' -c "SELECT metric, sum(quantity) FROM usage.events
                           WHERE organization_id = '$1' AND metric <> 'api_requests'
                           GROUP BY metric ORDER BY metric COLLATE \"C\""
}

usage_counter_sums () {
    suite_psql -F ' ' -c "SELECT metric, sum(used) FROM usage.counters
                           WHERE organization_id = '$1' AND metric <> 'api_requests'
                           GROUP BY metric ORDER BY metric COLLATE \"C\""
}

usage_counter_set () {
    suite_psql -v ON_ERROR_STOP=1 -c "
        WITH cur AS (
          SELECT coalesce ((SELECT used FROM usage.counters WHERE organization_id = '$1'
                              AND metric = '$2' AND period_start = date_trunc ('month', now () AT TIME ZONE 'UTC')::date), 0) AS used)
        , seed AS (
          INSERT INTO usage.events (organization_id, event_id, metric, quantity, occurred_at)
          SELECT '$1', 'seed-' || gen_random_uuid (), '$2', $3 - used, now () FROM cur
          RETURNING organization_id, metric, quantity, occurred_at)
        INSERT INTO usage.hours AS h (organization_id, metric, hour, quantity)
        SELECT organization_id, metric, date_trunc ('hour', occurred_at AT TIME ZONE 'UTC'), quantity
          FROM seed
        ON CONFLICT (organization_id, metric, hour) DO UPDATE SET quantity = h.quantity + EXCLUDED.quantity;
        INSERT INTO usage.counters (organization_id, metric, period_start, used)
        VALUES ('$1', '$2', date_trunc ('month', now () AT TIME ZONE 'UTC')::date, $3)
        ON CONFLICT (organization_id, metric, period_start) DO UPDATE SET used = EXCLUDED.used" >/dev/null
}

usage_counter () {
    suite_psql -c "SELECT coalesce ((SELECT used FROM usage.counters WHERE organization_id = '$1'
                     AND metric = '$2' AND period_start = date_trunc ('month', now () AT TIME ZONE 'UTC')::date), 0)"
}
