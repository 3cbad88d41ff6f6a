#!/usr/bin/env bash
# Faults: PostgreSQL goes away while requests flow on four routes of three
# services, GET /v1/me (auth), GET and POST /v1/businesses (tenant) and POST
# /v1/usage/events (usage), sent by three client threads
# (tests/lib/faults_load.py) from start to end:
#   1. a restart (pg_ctl stop -m fast, then start: pg_ctl restart -m fast);
#   2. an outage longer than a request's deadline (5 s): every route answers
#      503 meanwhile, then serves again once the server is back;
#   3. a server that stops answering (SIGSTOP, as a hung host would): a
#      worker gives up a statement at its request's deadline and answers
#      503 meanwhile instead of waiting for ever (so it stays registered
#      with the broker), then serves again once the server answers (SIGCONT).
# Every response is 2xx, or 503 with a Retry-After and a JSON error body:
# never a 500, 502 or 504, never no answer (except while the server hangs:
# the requests queued behind a statement the server holds may get 504 at
# their deadline). Each business answered 201 and each usage event answered
# 2xx is in the database at the end (nothing acknowledged is lost).
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up
signup A "owner-a@example.com" "$AUTH_PASSWORD" "Owner A" "Org A" || t_bail "cannot sign up"

LOAD=$SUITE_ROOT/tests/lib/faults_load.py
log=$SUITE_TMP/load.jsonl
stop=$SUITE_TMP/load.stop
: > "$log"
load () { "$SUITE_PYTHON" "$LOAD" "$@"; }
load_count () { wc -l < "$log"; }
# Every route got an answer of class $2 (2xx, 503) after line $1 of the log.
load_seen () { load seen "$log" "$1" "$2"; }

load run "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT" "$A_AT" "$log" "$stop" 3 &
loader=$!
t_ok "every route serves before the faults" poll_until 60 load_seen 0 2xx

# ---- 1. a restart under load -----------------------------------------------------------------
mark=$(load_count)
suite_pg_stop
suite_pg_start || t_bail "PostgreSQL did not start again"
t_ok "every route serves again after the restart" poll_until 90 load_seen "$mark" 2xx
t_note "$(( $(load_count) - mark )) requests answered from the restart to the recovery"

# ---- 2. an outage longer than a request deadline ---------------------------------------------
mark=$(load_count)
down=$SECONDS
suite_pg_stop
t_ok "every route answers 503 while the database is down" poll_until 60 load_seen "$mark" 503
# Down for longer than the gateway's deadline (SWITCHBOARD_REQUEST_TIMEOUT_MS,
# 5 s): requests queued behind a worker waiting for the database must still
# be answered before theirs.
while (( SECONDS - down < 8 )); do sleep 0.2; done
mark=$(load_count)
suite_pg_start || t_bail "PostgreSQL did not start again"
t_ok "every route serves again after the outage" poll_until 90 load_seen "$mark" 2xx

# ---- 3. a server that hangs ------------------------------------------------------------------
root=$(cat "$SUITE_TMP/pg/pg-root" 2>/dev/null || echo "$SUITE_TMP/pg")
postmaster=$(head -n 1 "$root/pgdata/postmaster.pid")
pids="$postmaster $(pgrep -P "$postmaster" | tr '\n' ' ')"
hung=$(load_count)
# shellcheck disable=SC2086
kill -STOP $pids
t_ok "every route answers 503 while the server hangs" poll_until 60 load_seen "$hung" 503
# The 503s are the workers' own: none is stuck waiting for the server (the
# broker would drop it, its heartbeats missing, and answer 503 itself).
t_ok "  and every worker stays live meanwhile" suite_wait_status /readyz 200 10
# shellcheck disable=SC2086
kill -CONT $pids
mark=$(load_count)
t_ok "every route serves again once the server answers" poll_until 90 load_seen "$mark" 2xx
answering=$(load_count)

touch "$stop"
wait "$loader"

summary=$(load summary "$log" "$hung" "$answering" 504)
t_note "responses (status count): $(tr '\n' ' ' <<<"$summary")"
t_is "every response was 2xx or 503 with Retry-After and a JSON error" \
     "$(grep '^bad:' <<<"$summary")" "bad: 0"
[[ $(grep '^bad:' <<<"$summary") == "bad: 0" ]] || t_diag "$summary"

# ---- nothing acknowledged is lost ------------------------------------------------------------
# The ids of KIND's 2xx answers as a SQL array literal's text: {a,b,...}
acked () { printf '{%s}' "$(load ids "$log" "$1" | sort -u | paste -sd, -)"; }
n=$(load ids "$log" business | sort -u | grep -c .)
t_isnt "businesses were created" "$n" 0
t_is "every business answered 201 is in the database" \
     "$(suite_psql -c "SELECT count(*) FROM tenant.businesses WHERE id = ANY ('$(acked business)'::uuid[])")" "$n"
n=$(load ids "$log" event | sort -u | grep -c .)
t_isnt "usage events were recorded" "$n" 0
t_is "every usage event answered 2xx is in the database" \
     "$(suite_psql -c "SELECT count(*) FROM usage.events WHERE organization_id = '$A_OID'
                                                         AND event_id = ANY ('$(acked event)'::text[])")" "$n"
t_done
