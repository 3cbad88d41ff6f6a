#!/usr/bin/env bash
# bench/usage.sh — how many usage events a second usage-svc ingests. Not a
# test: it prints figures and judges nothing.
#
#   SB_BIN=build/release/bin bench/usage.sh [SECONDS]
#
# In a temporary suite of its own (tests/lib/suite.sh: PostgreSQL on a free
# port, the gateway and one worker per service; a plan catalogue without a
# practical rate limit) it signs up one organization and measures, for
# SECONDS (default 10) each:
#
#   http  POST /v1/usage/events with batches of 100 events, through the
#         gateway (JSON, authentication, rate limiting, the bus), with wrk
#         (2 threads, 16 connections) and a Lua script that makes every
#         event id new;
#   bus   usage.record with batches of 100 events straight over the bus, as
#         the tenant outbox relay sends them, with bin/sb-usage-bench (4
#         client threads);
#
# first with one usage-svc worker, then with two. Each event is a row in
# usage.events and a counter update in the same statement; the figures are
# events accepted (stored) per second. At the end usage.verify recomputes
# the counters from the events (it should say 0 mismatches).
#
# PostgreSQL commits durably (fsync on, synchronous_commit on);
# BENCH_PG_FAST=1 turns both off as the tests do, to see the ceiling.
# SB_BIN defaults to build/release/bin (`make MODE=release`); a sanitizer
# build works too but measures the sanitizers. SB_KEEP=1 keeps the
# directory (logs, the cluster) for a look.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-10}
export SB_BIN=${SB_BIN:-$ROOT/build/release/bin}
. "$ROOT/tests/lib/suite.sh"
. "$ROOT/tests/lib/auth.sh"
command -v wrk >/dev/null || t_bail "wrk is missing (apt-get install wrk)"
[[ -x $SB_BIN/sb-usage-bench ]] || t_bail "no $SB_BIN/sb-usage-bench: make MODE=release"
suite_init
export SWITCHBOARD_AUTH_RATE_PER_MINUTE=0
export SWITCHBOARD_LOG_LEVEL=warn
# Durable commits (fsync, synchronous_commit) as in production, unless
# SB_PG_FAST=1 is asked for (what the tests use).
export SB_PG_FAST=${BENCH_PG_FAST:-0}
"$SUITE_PYTHON" - "$ROOT/deploy/plans.json" "$SUITE_TMP/plans.json" <<'EOF'
import json, sys
catalogue = json.load(open(sys.argv[1]))
for plan in catalogue["plans"]:
    plan["limits"]["api_requests_per_minute"] = 100000000
json.dump(catalogue, open(sys.argv[2], "w"))
EOF
export SWITCHBOARD_PLANS_FILE=$SUITE_TMP/plans.json
suite_start_all || t_bail "cannot start the suite"
suite_wait_ready 60 || t_bail "the suite did not become ready"
signup A bench-usage@example.com "$AUTH_PASSWORD" "Bench" "Bench Usage" || t_bail "cannot sign up"

say () { printf '%s\n' "$*"; }

cat > "$SUITE_TMP/events.lua" <<'EOF'
-- Every request: 100 events whose ids no request used before.
local threads = 0
function setup (thread)
    threads = threads + 1
    thread:set ("tid", threads)
end
function init (args)
    run, token = args[1], args[2]
    at = os.date ("!%Y-%m-%dT%H:%M:%SZ")
    headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token }
    seq = 0
end
function request ()
    seq = seq + 1
    local parts = {}
    for i = 1, 100 do
        parts[i] = string.format ('{"id":"%s-%d-%d-%d","metric":"%s","quantity":%d,"occurred_at":"%s"}',
                                  run, tid, seq, i, i % 3 == 0 and "bench_calls" or "bench_tokens",
                                  i % 7, at)
    end
    return wrk.format ("POST", "/v1/usage/events", headers,
                       '{"events":[' .. table.concat (parts, ",") .. ']}')
end
function done (summary, latency, requests)
    io.write (string.format ("wrk: %d requests, %d not 2xx, %d socket errors; p50 %.1f ms, p99 %.1f ms\n",
                             summary.requests, summary.errors.status,
                             summary.errors.connect + summary.errors.read + summary.errors.write
                             + summary.errors.timeout,
                             latency:percentile (50) / 1000, latency:percentile (99) / 1000))
end
EOF

stored () {
    suite_psql -c "SELECT count(*) FROM usage.events WHERE organization_id = '$A_OID'
                     AND metric LIKE 'bench_%'"
}

# http WORKERS: wrk for SECS against POST /v1/usage/events.
bench_http () {
    local before after out
    before=$(stored)
    out=$(wrk -t2 -c16 -d"${SECS}s" --timeout 10s -s "$SUITE_TMP/events.lua" \
              "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT" -- "h$1$RANDOM" "$A_AT" 2>&1)
    after=$(stored)
    say "  $(grep -E '^wrk:' <<<"$out")"
    say "  http, $1 worker(s): $((after - before)) events stored in ${SECS} s = $(( (after - before) / SECS )) events/s"
}

bench_bus () {
    local before after out
    before=$(stored)
    out=$("$SB_BIN/sb-usage-bench" -c 4 -n 100 -d "$SECS" "$A_OID" 2>&1)
    after=$(stored)
    say "  $out"
    say "  bus, $1 worker(s): $((after - before)) events stored in ${SECS} s = $(( (after - before) / SECS )) events/s"
}

say "usage ingestion, batches of 100 events, $(nproc) CPU(s), $SB_BIN, durable commits: $([[ $SB_PG_FAST == 1 ]] && echo no || echo yes)"
bench_http 1
bench_bus 1
suite_start_service usage 2 || t_bail "cannot start a second usage worker"
sleep 1
bench_http 2
bench_bus 2
say "  in all: $(stored) events; usage.verify: $("$SB_BIN/sb-call" -t 60000 usage usage.verify "{\"org\": \"$A_OID\"}")"
T_DONE=1
