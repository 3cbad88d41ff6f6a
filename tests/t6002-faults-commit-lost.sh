#!/usr/bin/env bash
# Faults: the connection is lost while COMMIT is in flight. A change that
# did commit must not be answered as failed (a client would retry it and
# apply it twice), nor one that did not commit as applied.
#
# COMMIT is held on purpose: with synchronous replication to a standby that
# never comes, the server writes the commit locally and then waits; the
# backend is then terminated (pg_terminate_backend), so that the service
# sees its connection close before COMMIT's answer although the transaction
# committed. The service asks the server what became of the transaction
# once it is back (pg_xact_status) and answers 201; the row is there once.
# Then the same for a change terminated before COMMIT ran (waiting on a row
# lock): 503 with Retry-After, and the row is not there.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
suite_up
new_orgs A

# The request in the background, its answer in files: status, then body.
post_bg () {
    ( http_as "$A_AT" POST /v1/businesses "$1"
      printf '%s\n%s\n' "$HTTP_STATUS" "$HTTP_BODY" > "$SUITE_TMP/answer.$2"
      printf '%s\n' "$(http_header Retry-After)" > "$SUITE_TMP/retry.$2" ) &
}
# The pid of tenant-svc's backend waiting on $1 (a wait_event), if any.
waiting () {
    suite_psql -c "SELECT pid FROM pg_stat_activity
                    WHERE usename = 'sb_tenant' AND wait_event = '$1' LIMIT 1" | grep .
}
named () {
    suite_psql -c "SELECT count(*) FROM tenant.businesses WHERE name = '$1'"
}

# ---- COMMIT ran, its answer was lost ---------------------------------------------------------
suite_psql -c "ALTER SYSTEM SET synchronous_commit = on" \
           -c "ALTER SYSTEM SET synchronous_standby_names = 'nobody'" -c "SELECT pg_reload_conf ()" >/dev/null
post_bg "$(biz_body name="Committed Lost")" 1
bg=$!
t_ok "the service's COMMIT waits for the standby" poll_until 10 waiting SyncRep
suite_psql -c "SELECT pg_terminate_backend (pid) FROM pg_stat_activity
                WHERE usename = 'sb_tenant' AND wait_event = 'SyncRep'" >/dev/null
suite_psql -c "ALTER SYSTEM RESET synchronous_standby_names" \
           -c "ALTER SYSTEM RESET synchronous_commit" -c "SELECT pg_reload_conf ()" >/dev/null
wait "$bg"
{ read -r status; read -r body; } < "$SUITE_TMP/answer.1"
t_is "a change that committed is answered 201" "$status" 201
t_is "  with the business" "$(json_get "$body" .name)" "Committed Lost"
t_is "it is in the database once" "$(named "Committed Lost")" 1

# ---- terminated before COMMIT ran ------------------------------------------------------------
# A transaction of ours holds the table, so the service's INSERT waits.
lockfile=$SUITE_TMP/lock.sql
cat > "$lockfile" <<EOF
BEGIN;
LOCK TABLE tenant.businesses IN EXCLUSIVE MODE;
SELECT pg_sleep (20);
EOF
suite_psql -f "$lockfile" >/dev/null 2>&1 &
locker=$!
poll_until 10 eval "suite_psql -c \"SELECT 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                                     WHERE c.relname = 'businesses' AND l.mode = 'ExclusiveLock'
                                       AND l.granted\" | grep -q 1"
post_bg "$(biz_body name="Never Committed")" 2
bg=$!
t_ok "the service's INSERT waits for the lock" poll_until 10 waiting relation
suite_psql -c "SELECT pg_terminate_backend (pid) FROM pg_stat_activity
                WHERE usename = 'sb_tenant' AND wait_event = 'relation'" >/dev/null
wait "$bg"
suite_psql -c "SELECT pg_terminate_backend (pid) FROM pg_stat_activity
                WHERE query LIKE '%pg_sleep%' AND pid <> pg_backend_pid ()" >/dev/null
wait "$locker"
{ read -r status; read -r body; } < "$SUITE_TMP/answer.2"
t_is "a change that did not commit is answered 503" "$status" 503
t_is "  service_unavailable" "$(json_get "$body" .error.code)" service_unavailable
t_like "  with Retry-After" "$(cat "$SUITE_TMP/retry.2")" '^[1-9][0-9]*$'
t_is "it is not in the database" "$(named "Never Committed")" 0
http_as "$A_AT" POST /v1/businesses "$(biz_body name="After")"
t_is "the next change goes through" "$HTTP_STATUS" 201
t_done
