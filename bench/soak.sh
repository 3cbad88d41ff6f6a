#!/usr/bin/env bash
# bench/soak.sh — `make soak`: the suite under a steady mixed load for
# SOAK_MINUTES (60) while a fault injector breaks its parts on a schedule,
# then a reconciliation of everything the clients were told. Not a test
# (nothing here runs in `make test`); it prints a report and exits 1 when
# something that must be zero is not.
#
#   SB_BIN=build/release/bin bench/soak.sh       (make soak builds first)
#
# The suite (tests/lib/suite.sh, bench/lib.sh: PostgreSQL with durable
# commits, one gateway, SOAK_WORKERS workers per service), the fake Stripe
# server (tests/fakes/stripe_fake.py), the webhook receiver
# (tests/fakes/webhook_receiver.py, verifying every signature), the SMTP
# sink. Plans: bench/soak/plans-soak.json (pro has webhooks; limits far
# above the load), its Stripe prices made at the fake by billing-svc
# stripe-sync. Webhook endpoints may point at loopback
# (SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE=1: the receiver is local).
#
# The load (bench/soak/load.py run): SOAK_ORGS organizations made through
# the API (setup), then SOAK_THREADS client threads at SOAK_RATE requests a
# second in all: lists, calls and orders with Idempotency-Keys, usage
# events in batches of 10, reservations committed or released, logins,
# sign-ups, Stripe subscription events signed with the webhook secret (one
# in five older than the last, which billing must ignore), billing-portal
# sessions (which call Stripe). Every attempt and its answer is a line of
# load.jsonl; writes are retried with the same key while the answer is
# none, 429, 503 or 504, as a careful client does.
#
# The faults, one every SOAK_FAULT_EVERY seconds (120) from the second
# minute, in turn (faults.jsonl: kind, target, start, end, in the load's
# clock):
#   kill9-<service>  kill -9 one worker of the service, chosen at random,
#                    started again 2 s later (what systemd's Restart= does)
#   pg-restart       PostgreSQL stopped (fast) and started again
#   usage-stopped    every usage-svc worker stopped for 60 s
#   stripe-slow      the fake Stripe answers after 3 s, for 60 s
#   stripe-down      the fake Stripe closes every connection, for 60 s
#   proxy-dropped    the event proxy gone: the gateway that hosts it (and the
#                    broker) killed -9 and started again at once
# After the last minute the load stops, the faults too; the outboxes get
# SOAK_DRAIN seconds (60) to drain (webhook deliveries, usage relays), then
# the databases and the receiver are read (calls, orders, usage events of
# the soak, subscriptions, every delivery) and usage.verify and
# analytics.verify run for every organization; load.py reconcile judges:
# every acknowledged write present exactly once, no duplicate, no other
# organization's row in any list, every acknowledged call and order
# delivered to its webhook, billing holding the newest subscription state
# acknowledged, the counters equal to their recomputation, no answer
# outside 2xx/4xx/503/504 (and 502 stripe_unavailable from the portal while
# Stripe is down). Memory: the RSS of every process each minute; for each
# process that lived past minute 5 of its life, its growth from then on.
#
# Writes bench/results/soak-<time>/ (report.md, result.json, load.jsonl,
# faults.jsonl, memory.tsv, dumps/, logs) and bench/results/soak.md (the
# last report, committed).
#
# Environment (defaults): SOAK_MINUTES=60 SOAK_ORGS=6 SOAK_THREADS=8
# SOAK_RATE=150 SOAK_FAULT_EVERY=120 SOAK_FAULT_START=90 SOAK_DRAIN=60
# SOAK_WORKERS="auth=2 tenant=2 usage=2 billing=2" SB_KEEP=1 (keep the
# suite's directory), BENCH_LATEST=1 (0: leave bench/results/soak.md).
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export SB_BIN=${SB_BIN:-$ROOT/build/release/bin}
. "$ROOT/tests/lib/webhooks.sh"
. "$ROOT/tests/lib/stripe.sh"
. "$ROOT/bench/lib.sh"

SOAK_MINUTES=${SOAK_MINUTES:-60}
SOAK_ORGS=${SOAK_ORGS:-6}
SOAK_THREADS=${SOAK_THREADS:-8}
SOAK_RATE=${SOAK_RATE:-150}
SOAK_FAULT_EVERY=${SOAK_FAULT_EVERY:-120}
SOAK_FAULT_START=${SOAK_FAULT_START:-90}
SOAK_DRAIN=${SOAK_DRAIN:-60}
export BENCH_WORKERS=${SOAK_WORKERS:-auth=2 tenant=2 usage=2 billing=2}
for v in SOAK_MINUTES SOAK_ORGS SOAK_THREADS SOAK_RATE SOAK_FAULT_EVERY SOAK_FAULT_START SOAK_DRAIN; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench/soak.sh: $v must be a positive integer" >&2; exit 2; }
done
[[ -x $SB_BIN/gateway ]] || { echo "bench/soak.sh: no $SB_BIN/gateway: make MODE=release" >&2; exit 2; }

RUN_ID=soak-${BENCH_RUN_ID:-$(date +%Y%m%d-%H%M%S)}
RUN=$(date +%H%M%S)
OUT=$ROOT/bench/results/$RUN_ID
DUMPS=$OUT/dumps
mkdir -p "$DUMPS" || exit 1
LOG=$OUT/load.jsonl FAULTS=$OUT/faults.jsonl MEM=$OUT/memory.tsv
: > "$LOG"; : > "$FAULTS"; printf 'minute\tprocess\tpid\trss_kib\n' > "$MEM"
PY=$SUITE_PYTHON
LOAD=$ROOT/bench/soak/load.py
STRIPE_SECRET=whsec_soak_$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

# The fakes, and the catalogue with the prices the fake Stripe made for it
# (billing-svc stripe-sync, as an operator does once).
soak_fakes () {
    export SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE=1
    export SWITCHBOARD_STRIPE_WEBHOOK_SECRET=$STRIPE_SECRET
    export SWITCHBOARD_LOG_LEVEL=info
    stripe_fake_start && suite_smtp_start && wh_start || return 1
    SWITCHBOARD_PLANS_FILE=$ROOT/bench/soak/plans-soak.json "$SB_BIN/billing-svc" stripe-sync \
        --write "$SUITE_TMP/plans.json" > "$SUITE_TMP/stripe-sync.out" 2>&1 \
        || { cat "$SUITE_TMP/stripe-sync.out" >&2; return 1; }
    export SWITCHBOARD_PLANS_FILE=$SUITE_TMP/plans.json
    PRO_PRICE=$("$PY" -c 'import json, sys
print([p for p in json.load(open(sys.argv[1]))["plans"] if p["id"] == "pro"][0]["stripe_price_id"])' \
        "$SUITE_TMP/plans.json")
}
BENCH_BEFORE_START=soak_fakes
bench_suite_up
bench_log "soak $RUN_ID: $SOAK_MINUTES min, $SOAK_ORGS organizations, $SOAK_THREADS threads at $SOAK_RATE req/s, a fault every $SOAK_FAULT_EVERY s"
BENCH_LOAD_DESC="bench/soak/load.py, $SOAK_THREADS threads at $SOAK_RATE requests/s for $SOAK_MINUTES min, $SOAK_ORGS organizations; a fault every $SOAK_FAULT_EVERY s from $SOAK_FAULT_START s" \
BENCH_CATALOGUE_DESC="bench/soak/plans-soak.json (prices made at the fake Stripe by stripe-sync)" \
    bench_env_info > "$OUT/env.md"

"$PY" "$LOAD" setup "$BENCH_URL" "$OUT/orgs.json" --orgs "$SOAK_ORGS" --run "$RUN" \
      --receiver "$WH_BASE" --operator-token "$SUITE_OPERATOR_TOKEN" \
      --stripe-secret "$STRIPE_SECRET" --stripe-fake "$STRIPE_FAKE_URL" || t_bail "the soak's organizations could not be made"

T0=$(date +%s.%N)
now () { awk -v t0="$T0" -v t="$(date +%s.%N)" 'BEGIN { printf "%.3f", t - t0 }'; }
STOP=$SUITE_TMP/soak.stop
rm -f "$STOP"
"$PY" "$LOAD" run "$BENCH_URL" "$OUT/orgs.json" "$LOG" "$STOP" --threads "$SOAK_THREADS" \
      --rate "$SOAK_RATE" --run "$RUN" --stripe-secret "$STRIPE_SECRET" --price "$PRO_PRICE" --t0 "$T0" \
      2> "$OUT/load.err" &
LOADER=$!

# ---- the faults -------------------------------------------------------------------------------
fault_log () {   # KIND TARGET START END
    printf '{"kind":"%s","target":"%s","start":%s,"end":%s}\n' "$1" "$2" "$3" "$4" >> "$FAULTS"
    bench_log "fault $1 $2 ($3 → $4 s)"
}

workers_of () {
    ls "$SUITE_TMP/pids" 2>/dev/null | grep "^$1-[0-9]*$"
}

kill9 () {   # SERVICE
    local key start
    key=$(workers_of "$1" | shuf -n 1)
    [[ -n $key ]] || return 0
    start=$(now)
    { suite_kill "$key"; } 2>/dev/null     # (not bash's "Killed" line)
    sleep 2
    suite_start_service "$1" "${key##*-}" || bench_log "cannot start $key again"
    fault_log "kill9-$1" "$key" "$start" "$(now)"
}

pg_restart () {
    local start
    start=$(now)
    suite_pg_stop
    suite_pg_start || bench_log "PostgreSQL did not start again"
    fault_log pg-restart postgresql "$start" "$(now)"
}

usage_stopped () {
    local key start keys
    start=$(now)
    keys=$(workers_of usage)
    for key in $keys; do suite_stop "$key" 10; done
    sleep 60
    for key in $keys; do suite_start_service usage "${key##*-}" || bench_log "cannot start $key"; done
    fault_log usage-stopped "$(echo $keys)" "$start" "$(now)"
}

stripe_fault () {   # KIND CONFIG
    local start
    start=$(now)
    stripe_config "$2" >/dev/null
    sleep 60
    stripe_config '{"delay_ms": 0, "down": false}' >/dev/null
    fault_log "$1" stripe "$start" "$(now)"
}

proxy_dropped () {
    local start
    start=$(now)
    { suite_kill gateway-1; } 2>/dev/null
    suite_start_gateway 1 || bench_log "the gateway did not start again"
    suite_wait_status /healthz 200 30 >/dev/null
    fault_log proxy-dropped gateway-1 "$start" "$(now)"
}

FAULT_KINDS=(kill9:auth kill9:tenant pg_restart kill9:billing usage_stopped kill9:usage
             stripe_fault:stripe-slow proxy_dropped stripe_fault:stripe-down)
inject () {   # N: the Nth fault of the rotation
    case ${FAULT_KINDS[$(($1 % ${#FAULT_KINDS[@]}))]} in
        kill9:*)                 kill9 "${FAULT_KINDS[$(($1 % ${#FAULT_KINDS[@]}))]#kill9:}" ;;
        pg_restart)              pg_restart ;;
        usage_stopped)           usage_stopped ;;
        stripe_fault:stripe-slow) stripe_fault stripe-slow '{"delay_ms": 3000}' ;;
        stripe_fault:stripe-down) stripe_fault stripe-down '{"down": true}' ;;
        proxy_dropped)           proxy_dropped ;;
    esac
}

mem_sample () {   # MINUTE
    local f key pid
    for f in "$SUITE_TMP"/pids/*; do
        key=${f##*/}
        case $key in gateway-*|auth-*|tenant-*|usage-*|billing-*) ;; *) continue ;; esac
        pid=$(<"$f")
        awk -v m="$1" -v key="$key" -v pid="$pid" '/^Rss:/ { printf "%s\t%s\t%s\t%s\n", m, key, pid, $2 }' \
            "/proc/$pid/smaps_rollup" 2>/dev/null
    done >> "$MEM"
}

END_AT=$((SOAK_MINUTES * 60))
next_fault=$SOAK_FAULT_START next_mem=0 n=0
while :; do
    t=$(now); t=${t%.*}
    (( t >= END_AT )) && break
    kill -0 "$LOADER" 2>/dev/null || { bench_log "the load generator ended early: $(tail -5 "$OUT/load.err")"; break; }
    if (( t >= next_mem )); then mem_sample $((t / 60)); next_mem=$((next_mem + 60)); fi
    if (( t >= next_fault && t + 60 < END_AT )); then
        inject "$n"; n=$((n + 1)); next_fault=$((next_fault + SOAK_FAULT_EVERY))
    fi
    sleep 1
done
touch "$STOP"
wait "$LOADER"
mem_sample $(( $(now | cut -d. -f1) / 60 ))
bench_log "load stopped after $(wc -l < "$LOG") requests; $n faults; draining the outboxes for $SOAK_DRAIN s"
sleep "$SOAK_DRAIN"

# ---- what the databases and the receiver hold -------------------------------------------------
suite_psql -A -F $'\t' -t -c "SELECT organization_id, id, summary FROM tenant.calls
                                WHERE summary LIKE '$RUN-c-%'" > "$DUMPS/calls.tsv"
suite_psql -A -F $'\t' -t -c "SELECT organization_id, id, customer_name FROM tenant.orders
                                WHERE customer_name LIKE '$RUN-o-%'" > "$DUMPS/orders.tsv"
suite_psql -A -F $'\t' -t -c "SELECT organization_id, event_id FROM usage.events
                                WHERE event_id LIKE '$RUN-u-%'" > "$DUMPS/events.tsv"
suite_psql -A -F $'\t' -t -c "SELECT organization_id, status, cancel_at_period_end, stripe_state_at
                                FROM billing.subscriptions" > "$DUMPS/subs.tsv"
wh_log > "$DUMPS/receiver.json"
: > "$DUMPS/verify.txt"
for org in $("$PY" -c 'import json,sys; print(" ".join(o["org"] for o in json.load(open(sys.argv[1]))["orgs"]))' "$OUT/orgs.json"); do
    u=$("$SB_BIN/sb-call" -t 60000 usage usage.verify "{\"org\": \"$org\"}")
    a=$("$SB_BIN/sb-call" -t 60000 tenant analytics.verify "{\"org\": \"$org\"}")
    um=$(json_get "$u" .body.mismatches) uh=$(json_get "$u" .body.hour_mismatches)
    am=$(json_get "$a" .body.mismatches)
    if [[ $um == 0 && $uh == 0 && $am == 0 ]]; then
        echo "ok $org usage.verify mismatches=0 hour_mismatches=0 analytics.verify mismatches=0"
    else
        echo "DIFF $org usage.verify mismatches=$um hour_mismatches=$uh analytics.verify mismatches=$am"
    fi >> "$DUMPS/verify.txt"
done

"$PY" "$LOAD" reconcile "$OUT/orgs.json" "$LOG" "$FAULTS" "$DUMPS" "$OUT/result.json"
verdict=$?
"$PY" "$ROOT/bench/soak/report.py" "$OUT" > "$OUT/report.md"
cat "$OUT/report.md"
if [[ ${BENCH_LATEST:-1} == 1 ]]; then cp "$OUT/report.md" "$ROOT/bench/results/soak.md"; fi
bench_keep_logs "$OUT"
bench_log "written: ${OUT#"$ROOT"/}/report.md"
exit $verdict
