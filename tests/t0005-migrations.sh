#!/usr/bin/env bash
# Migrations run once when three workers of a service start together, never
# again on restart; each service's role has rights on its own schema only.
. "$(dirname "$0")/lib/suite.sh"
suite_init
suite_pg_start
suite_start_gateway
suite_start_service tenant 1
suite_start_service tenant 2
suite_start_service tenant 3
for i in $(seq 1 100); do
    http GET /readyz
    [[ $(json_get "$HTTP_BODY" .error.services.tenant) == 3 ]] && break
    sleep 0.1
done
t_is "three tenant workers are up (readyz still 503: the others are missing)" "$(json_get "$HTTP_BODY" .error.services.tenant)" 3
applied=$(cat "$SUITE_TMP"/log/tenant-*.log | grep -c '"applied migration 0001_init"')
t_is "the first migration was applied by exactly one of the three" "$applied" 1
# Every migration once: as many "applied" lines in all three logs as there
# are migration files (the service's and the skeleton's, common/sql), each
# name once, and as many rows recorded.
files=$(ls "$(dirname "$0")/../tenant-svc/sql/"*.sql "$(dirname "$0")/../common/sql/"*.sql | wc -l)
lines=$(cat "$SUITE_TMP"/log/tenant-*.log | grep -o '"applied migration [^"]*"' | sort)
t_is "each of the $files migrations was applied once, by one worker" "$(printf '%s\n' "$lines" | grep -c .)/$(printf '%s\n' "$lines" | sort -u | grep -c .)" "$files/$files"
t_is "schema_migrations records each once" "$(suite_psql -c 'select count(*) from tenant.schema_migrations')" "$files"

suite_stop tenant-1
suite_start_service tenant 4
for i in $(seq 1 50); do
    grep -q 'started' "$SUITE_TMP/log/tenant-4.log" && break
    sleep 0.1
done
t_unlike "a restarted worker applies nothing" "$(cat "$SUITE_TMP/log/tenant-4.log")" "applied migration"

# Rights: sb_tenant works in schema tenant, not in auth or public; the
# tables belong to the owner role the migrations ran as, not to sb_tenant.
tenant_psql () { psql -XAtq -v ON_ERROR_STOP=1 "$SWITCHBOARD_TENANT_DATABASE_URL" -c "$1" 2>&1; }
t_ok "sb_tenant may write its schema's tables" tenant_psql "insert into tenant.service_info values ('probe', 'x')"
t_is "which belong to sb_tenant_owner" "$(suite_psql -c "select tableowner from pg_tables where schemaname = 'tenant' and tablename = 'service_info'")" sb_tenant_owner
out=$(tenant_psql 'create table tenant.t_probe (x int)')
t_like "sb_tenant itself may not create tables" "$out" "permission denied"
out=$(tenant_psql 'create table auth.t_probe (x int)')
t_like "sb_tenant may not create in schema auth" "$out" "permission denied"
out=$(tenant_psql 'select * from auth.service_info')
t_like "sb_tenant may not read schema auth" "$out" "permission denied"
out=$(tenant_psql 'create table public.t_probe (x int)')
t_like "sb_tenant may not create in schema public" "$out" "permission denied"
t_done
