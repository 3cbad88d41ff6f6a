#!/usr/bin/env bash
# switchboardctl migrations: status of every service's schema (applied,
# pending, unknown against what the running binary ships) and run, which
# applies the pending ones through the start's code path: as the schema's
# owner role, once even when two workers are asked at the same moment (the
# schema's advisory lock).
. "$(dirname "$0")/lib/suite.sh"
suite_init
suite_up
suite_start_service usage 2 || t_bail "a second usage worker did not start"

ctl () { "$SB_BIN/switchboardctl" "$@"; }

out=$(ctl migrations --help); rc=$?
t_is "migrations --help exits 0" "$rc" 0
t_like "--help names run" "$out" "run applies"
ctl migrations frobnicate 2>/dev/null; rc=$?
t_is "an unknown verb is bad usage (exit 2)" "$rc" 2
ctl migrations --service nosuch 2>/dev/null; rc=$?
t_is "an unknown service is bad usage (exit 2)" "$rc" 2

json=$(ctl --json migrations); rc=$?
t_is "status exits 0 when nothing is pending" "$rc" 0
t_is "four services answer" "$(json_len "$json" .services)" 4
shipped=$(ls "$SUITE_ROOT"/usage-svc/sql/*.sql "$SUITE_ROOT"/common/sql/*.sql | wc -l)
t_is "usage: shipped = its files and the skeleton's" "$(json_get "$json" '.services[3].service') $(json_get "$json" '.services[3].shipped')" "usage $shipped"
t_is "usage: all applied" "$(json_get "$json" '.services[3].applied') $(json_get "$json" '.services[3].pending')" "$shipped 0"
t_is "checksums are said not to be recorded" "$(json_get "$json" '.services[0].checksums')" not_recorded
t_is "the first migration of auth" "$(json_get "$json" '.services[0].migrations[0].name') $(json_get "$json" '.services[0].migrations[0].state')" "0001_init applied"

# A migration undone by hand: the skeleton's 9001 in usage's schema; and a
# version only a newer binary would know, in tenant's.
owner=$(suite_psql -c "SELECT tableowner FROM pg_tables WHERE schemaname = 'usage' AND tablename = 'idempotency_keys'")
suite_psql -c "DROP TABLE usage.idempotency_keys; DELETE FROM usage.schema_migrations WHERE version = 9001;
               INSERT INTO tenant.schema_migrations (version, name) VALUES (8999, '8999_from_the_future')"
json=$(ctl --json migrations); rc=$?
t_is "status exits 1 when a migration is pending" "$rc" 1
t_is "usage: one pending" "$(json_get "$json" '.services[3].pending')" 1
t_is "tenant: one unknown" "$(json_get "$json" '.services[1].unknown')" 1
table=$(ctl migrations --service usage)
t_like "table: the pending one" "$table" "9001 +pending +9001_idempotency_keys"
table=$(ctl migrations --service tenant)
t_like "table: the unknown one" "$table" "8999 +unknown +8999_from_the_future"

# Two runs at once, on the two usage workers (credit 32 each, so they may
# land on either): the lock lets one apply it, the other finds nothing.
ctl --json migrations run --service usage >"$SUITE_TMP/run1.json" & p1=$!
ctl --json migrations run --service usage >"$SUITE_TMP/run2.json" & p2=$!
wait $p1; rc1=$?; wait $p2; rc2=$?
t_is "both runs exit 0" "$rc1 $rc2" "0 0"
r1=$(json_get "$(cat "$SUITE_TMP/run1.json")" '.services[0].ran')
r2=$(json_get "$(cat "$SUITE_TMP/run2.json")" '.services[0].ran')
t_is "applied exactly once" "$((r1 + r2))" 1
t_is "the table is back" "$(suite_psql -c "SELECT count (*) FROM pg_tables WHERE schemaname = 'usage' AND tablename = 'idempotency_keys'")" 1
t_is "owned by the schema's owner, as at start" "$(suite_psql -c "SELECT tableowner FROM pg_tables WHERE schemaname = 'usage' AND tablename = 'idempotency_keys'")" "$owner"
json=$(ctl --json migrations --service usage); rc=$?
t_is "usage: nothing pending afterwards" "$rc $(json_get "$json" '.services[0].pending')" "0 0"
t_done
