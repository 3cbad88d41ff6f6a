#!/usr/bin/env bash
# tenant-svc import-legacy moves the single-tenant product's database
# (tests/fixtures/legacy_single_tenant.sql) into an organization: the
# summary's counts are those derived below from the fixture and the rules in
# tenant-svc/src/tenant_import.c, the normalized values are right, the report
# names the rows left out and why; a second run duplicates nothing; an
# import stopped by --limit or killed resumes to the same end; a dry run
# keeps nothing; another legacy database is refused.
. "$(dirname "$0")/lib/suite.sh"
suite_init
suite_pg_start || t_bail "PostgreSQL did not start"
suite_start_service tenant          # migrates the schema
for i in $(seq 1 100); do
    [[ $(suite_psql -c "select to_regclass ('tenant.legacy_import_rejects') is not null") == t ]] && break
    sleep 0.1
done

# The fixture in a database of its own, read in UTC whatever the cluster's
# default: the import reads the legacy timestamps in the source's TimeZone.
suite_psql -c 'create database legacy' -c 'create database legacy2'
LEGACY_URL=${SUITE_PG_URL/\/switchboard\?//legacy?}
LEGACY2_URL=${SUITE_PG_URL/\/switchboard\?//legacy2?}
for url in "$LEGACY_URL" "$LEGACY2_URL"; do
    psql -XAtq -v ON_ERROR_STOP=1 -f "$SUITE_ROOT/tests/fixtures/legacy_single_tenant.sql" "$url" \
        >/dev/null || t_bail "cannot load the fixture"
done
suite_psql -c "alter database legacy set timezone to 'UTC'" -c "alter database legacy2 set timezone to 'UTC'"
# legacy2 is another legacy database: its first business was created at
# another time, so its fingerprint differs.
psql -XAtq "$LEGACY2_URL" -c "update businesses set created_at = '2024-01-01 00:00:00' where id = 1"

new_uuid () { cat /proc/sys/kernel/random/uuid; }

# Runs the import with the arguments given: stdout in $OUT, stderr in a log
# (scanned for sanitizer reports at exit), exit status in $RC.
N_IMPORT=0
run_import () {
    N_IMPORT=$((N_IMPORT + 1))
    OUT=$SUITE_TMP/import-$N_IMPORT.out
    env -u PGTZ "$SB_BIN/tenant-svc" import-legacy "$@" >"$OUT" 2>"$SUITE_TMP/log/import-$N_IMPORT.log"
    RC=$?
}
summary () { sed -n '/^summary:$/,$p' "$OUT"; }
count () { suite_psql -c "select count(*) from tenant.$1 where organization_id = '$2' ${3:-}"; }
# EXPR of the row of TABLE imported (into organization $ORG) from legacy row ID.
field () {
    suite_psql -c "select $3 from tenant.$1 t join tenant.legacy_id_map m
                     on m.organization_id = t.organization_id and m.new_id = t.id
                   where m.organization_id = '$ORG' and m.legacy_table = '$1' and m.legacy_id = $2"
}
report_has () { grep -qxF -- "$1" "$OUT"; }

# ---- the expected counts, from the fixture --------------------------------
# businesses (6): 4 "QuickFix Plumbing" is rejected: no timezone, and phone
#   555-0142 has no area code. The other five import (2's "(415) 555-0199"
#   becomes +14155550199: 10 digits, business in America/Los_Angeles).
# calls (2400): 207 belong to business 4; of the others, 23 have no usable
#   caller (14 NULL, 6 empty, 3 "555-0100"; the 13 "anonymous" import as
#   "anonymous"), then 456 a status with no equivalent (159 NULL, 130
#   in-progress, 167 failed; MISSED/Completed are spellings), then 46 no
#   duration (38 NULL, 8 of -1): 207 + 23 + 456 + 46 = 732 rejected, 1668
#   imported.
# orders (631): 111 belong to business 4; 303 to businesses 3, 5, 6 (Paris,
#   Tokyo, London: no currency is assumed); of businesses 1 and 2 (US, +1:
#   USD), 22 have no customer name, then 24 status "refunded", then 6 a
#   total one cent off the items' sum: 111 + 303 + 22 + 24 + 6 = 466
#   rejected, 165 imported. (The 4 orders whose items have no prices, "2x
#   Margherita, 1x Cappuccino", are all at businesses 3-6.)
CLEAN='summary:
  businesses: imported 5, skipped 0, rejected 1
  calls: imported 1668, skipped 0, rejected 732
  orders: imported 165, skipped 0, rejected 466'
AGAIN='summary:
  businesses: imported 0, skipped 5, rejected 1
  calls: imported 0, skipped 1668, rejected 732
  orders: imported 0, skipped 165, rejected 466'

# ---- first run --------------------------------------------------------------
ORG=$(new_uuid)
started=$(date +%s%N)
run_import --source "$LEGACY_URL" --organization "$ORG"
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
t_is "the import exits 0" "$RC" 0
t_is "its summary has the counts derived from the fixture" "$(summary)" "$CLEAN"
t_note "import of the fixture (6 businesses, 2400 calls, 631 orders): $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000))) s wall ($SB_BIN)"
t_is "5 businesses stored" "$(count businesses "$ORG")" 5
t_is "1668 calls stored" "$(count calls "$ORG")" 1668
t_is "165 orders stored" "$(count orders "$ORG")" 165
t_is "each mapped once (5 + 1668 + 165)" "$(count legacy_id_map "$ORG")" 1838
t_is "historical calls write no usage" "$(count usage_outbox "$ORG")" 0
t_is "the report has a REJECT line per rejected row" "$(grep -c '^REJECT ' "$OUT")" $((1 + 732 + 466))
t_is "and stores them" "$(count legacy_import_rejects "$ORG" "and kind = 'reject'")" 1199
# Warnings: business 2's hours; 116 orders whose call was not imported (45)
# or is another business's (71), one of them (179) with phone "anonymous".
t_is "warnings stored: 1 business, 116 orders" \
    "$(count legacy_import_rejects "$ORG" "and kind = 'warning'")" 117
t_is "the run is recorded as completed" \
    "$(suite_psql -c "select status || ' ' || (counts->'calls'->>'imported') from tenant.legacy_import_runs where organization_id = '$ORG'")" \
    "completed 1668"

t_ok "reject: a business without timezone and with a 7-digit phone" report_has \
    "REJECT businesses 4: timezone is missing; phone number '555-0142' has no country or area code"
t_ok "reject: a call of that business" report_has "REJECT calls 20: business 4 was not imported"
t_ok "reject: a call without status" report_has "REJECT calls 1: status is missing"
t_ok "reject: a call in progress" report_has \
    "REJECT calls 8: status 'in-progress' has no equivalent (completed, missed, voicemail, transferred)"
t_ok "reject: a call without duration" report_has "REJECT calls 12: duration is missing"
t_ok "reject: a call of -1 seconds" report_has "REJECT calls 782: duration -1 is not 0-86400 seconds"
t_ok "reject: a call without caller" report_has "REJECT calls 330: caller number is missing"
t_ok "reject: an order whose total disagrees with its items, both numbers given" report_has \
    "REJECT orders 28: total 315.51 disagrees with the items, which add up to 315.50"
t_ok "reject: a refunded order" report_has \
    "REJECT orders 38: status 'refunded' has no equivalent (pending, confirmed, fulfilled, cancelled)"
t_ok "reject: an order without customer name" report_has "REJECT orders 26: customer name is missing"
t_ok "reject: a London order has no currency" report_has \
    "REJECT orders 630: no currency: the legacy database records none and business 6 (Europe/London) is not in the United States; name it with --currency 6=<ISO 4217 code>"
t_like "reject: items without prices, with every reason of the row" \
    "$(grep '^REJECT orders 188: ' "$OUT")" "items '2x Margherita, 1x Cappuccino' give no unit price.*status 'refunded'"
t_ok "warn: hours that are not understood" report_has \
    "WARN businesses 2: opening hours 'Mon-Fri 8-5' are in no form the import understands; hours left empty"
t_ok "warn: a call of another business is not linked" report_has \
    "WARN orders 11: call 44 belongs to business 2, not 1; call_id left empty"
t_like "warn: an anonymous customer phone is left empty" "$(grep '^WARN orders 179: ' "$OUT")" \
    "customer phone 'anonymous' is not a phone number; left empty"
t_like "the stored report keeps the legacy row" \
    "$(suite_psql -c "select reason || ' / ' || (row->>'phone') from tenant.legacy_import_rejects where organization_id = '$ORG' and legacy_table = 'businesses' and kind = 'reject'")" \
    "^timezone is missing.* / 555-0142$"

# Normalization, spot checks.
t_is "phone '(415) 555-0199' -> E.164" "$(field businesses 2 phone_number)" "+14155550199"
t_is "phone '+33 1 44 55 66 77' -> E.164" "$(field businesses 3 phone_number)" "+33144556677"
t_is "phone '+81-3-5555-0123' -> E.164" "$(field businesses 5 phone_number)" "+81355550123"
t_is "hours {\"mon-fri\": \"11:00-22:00\", ...} -> per day" \
    "$(field businesses 1 "(hours->'mon') || (hours->'sat')")" \
    '[{"open": "11:00", "close": "22:00"}, {"open": "12:00", "close": "23:00"}]'
t_is "hours tue-sun: six days, no Monday" \
    "$(field businesses 5 "(select count(*) from jsonb_object_keys (hours)) || ' ' || (hours ? 'mon')")" "6 false"
t_is "unparsed hours stay empty" "$(field businesses 2 "coalesce (hours::text, 'NULL')")" NULL
t_is "created_at kept" "$(field businesses 3 "created_at = '2025-09-04 08:00:00+00'")" t
t_is "status 'MISSED' -> missed" "$(field calls 5 status)" missed
t_is "status 'Completed' -> completed" "$(field calls 36 status)" completed
t_is "caller '+1 (650) 555-0177' -> E.164" "$(field calls 1008 caller_number)" "+16505550177"
t_is "caller 'anonymous' stays anonymous" "$(field calls 403 caller_number)" anonymous
t_is "a call's start, read in the source's time zone (UTC)" \
    "$(field calls 2 "started_at = '2026-01-02 13:08:00+00' and duration_seconds = 618")" t
t_is "order total 34.49 -> 3449 cents USD" "$(field orders 4 "total_cents || ' ' || currency")" "3449 USD"
t_is "order items parsed" "$(field orders 4 "items::text")" \
    '[{"name": "Pepperoni", "quantity": 1, "unit_price_cents": 1499}, {"name": "Salmon nigiri", "quantity": 3, "unit_price_cents": 650}]'
t_is "order status 'Fulfilled' -> fulfilled" "$(field orders 4 "status")" fulfilled
t_is "an order is linked to its imported call" \
    "$(field orders 7 "call_id = (select new_id from tenant.legacy_id_map where organization_id = '$ORG' and legacy_table = 'calls' and legacy_id = 26)")" t
t_is "an order whose call is another business's is not" "$(field orders 11 "call_id is null")" t
out=$(psql -XAtq "$SWITCHBOARD_TENANT_DATABASE_URL" -c 'select count(*) from tenant.legacy_id_map' 2>&1)
t_is "the service role sees no mapping without an organization set (RLS)" "$out" 0

# ---- second run: nothing new ----------------------------------------------
run_import --source "$LEGACY_URL" --organization "$ORG"
t_is "a second run exits 0" "$RC" 0
t_is "and skips what the first imported" "$(summary)" "$AGAIN"
t_is "no duplicate businesses" "$(count businesses "$ORG")" 5
t_is "no duplicate calls" "$(count calls "$ORG")" 1668
t_is "no duplicate orders" "$(count orders "$ORG")" 165

# ---- the operator names a currency: the rejected orders are looked at again
# Business 6's orders whose only fault was the currency: 80.
run_import --source "$LEGACY_URL" --organization "$ORG" --currency 6=GBP
t_is "--currency 6=GBP imports business 6's orders" "$(summary | tail -n 1)" \
    "  orders: imported 80, skipped 165, rejected 386"
t_is "in GBP" "$(count orders "$ORG" "and currency = 'GBP'")" 80

# ---- another legacy database is not mixed in -------------------------------
run_import --source "$LEGACY2_URL" --organization "$ORG"
t_is "another source into the same organization exits 1" "$RC" 1
t_like "saying why" "$(cat "$SUITE_TMP/log/import-$N_IMPORT.log")" "refusing to mix them"
t_is "and imports nothing" "$(count legacy_id_map "$ORG")" $((1838 + 80))

# ---- stopped by --limit, then resumed --------------------------------------
ORG=$(new_uuid)
run_import --source "$LEGACY_URL" --organization "$ORG" --limit 700 --batch-size 100
t_is "--limit 700 exits 0" "$RC" 0
t_like "and says it stopped" "$(cat "$SUITE_TMP/log/import-$N_IMPORT.log")" "stopped after 700 rows"
handled=$(( $(count legacy_id_map "$ORG") + $(count legacy_import_rejects "$ORG" "and kind = 'reject'") ))
t_is "700 rows were imported or rejected" "$handled" 700
t_is "the run is recorded as partial" \
    "$(suite_psql -c "select status from tenant.legacy_import_runs where organization_id = '$ORG'")" partial
first=$(count legacy_id_map "$ORG")
run_import --source "$LEGACY_URL" --organization "$ORG"
t_is "the rerun exits 0" "$RC" 0
skipped=$(summary | awk '/skipped/ { sub (/,/, "", $5); n += $5 } END { print n }')
t_is "and skips exactly what the limited run imported" "$skipped" "$first"
t_is "ending where a clean run does" \
    "$(count businesses "$ORG") $(count calls "$ORG") $(count orders "$ORG")" "5 1668 165"

# ---- killed, then resumed ------------------------------------------------------
ORG=$(new_uuid)
env -u PGTZ "$SB_BIN/tenant-svc" import-legacy --source "$LEGACY_URL" --organization "$ORG" \
    --batch-size 1 >"$SUITE_TMP/killed.out" 2>"$SUITE_TMP/log/import-killed.log" &
pid=$!
for i in $(seq 1 600); do
    (( $(count legacy_id_map "$ORG") >= 20 )) && break
    sleep 0.05
done
kill -KILL "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
landed=$(count legacy_id_map "$ORG")
t_ok "the killed run had imported part of the rows ($landed)" test "$landed" -ge 20 -a "$landed" -lt 1838
run_import --source "$LEGACY_URL" --organization "$ORG"
t_is "the run after the kill exits 0" "$RC" 0
skipped=$(summary | awk '/skipped/ { sub (/,/, "", $5); n += $5 } END { print n }')
t_is "and skips what the killed run had committed" "$skipped" "$landed"
t_is "ending where a clean run does" \
    "$(count businesses "$ORG") $(count calls "$ORG") $(count orders "$ORG")" "5 1668 165"
t_is "with each row once" \
    "$(count legacy_id_map "$ORG" "and legacy_table = 'calls'") $(count legacy_id_map "$ORG")" "1668 1838"
t_is "the killed run is recorded as interrupted" \
    "$(suite_psql -c "select string_agg (status, ' ' order by id) from tenant.legacy_import_runs where organization_id = '$ORG'")" \
    "interrupted completed"

# ---- dry run ------------------------------------------------------------------
ORG=$(new_uuid)
run_import --source "$LEGACY_URL" --organization "$ORG" --dry-run
t_is "a dry run exits 0" "$RC" 0
t_is "with the same summary" "$(summary)" "$CLEAN"
t_is "and keeps nothing" \
    "$(count businesses "$ORG") $(count legacy_id_map "$ORG") $(count legacy_import_runs "$ORG")" "0 0 0"

# ---- bad usage ------------------------------------------------------------------
run_import --source "$LEGACY_URL" --organization not-a-uuid
t_is "an organization that is not a UUID: exit 2" "$RC" 2
run_import --source "$LEGACY_URL" --organization "$ORG" --force
t_is "an unknown option: exit 2" "$RC" 2
run_import --organization "$ORG"
t_is "no --source: exit 2" "$RC" 2
run_import --source "$LEGACY_URL" --organization "$ORG" --currency 6=pounds
t_is "a currency that is not an ISO code: exit 2" "$RC" 2
run_import --source "${SUITE_PG_URL/\/switchboard\?//nosuchdb?}" --organization "$ORG"
t_is "a source that cannot be reached: exit 1" "$RC" 1
t_done
