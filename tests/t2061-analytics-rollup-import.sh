#!/usr/bin/env bash
# Analytics rollup and the legacy import (tenant-svc import-legacy, a bulk
# INSERT … SELECT of calls): the rollup rows the triggers made agree with
# the imported calls (analytics.verify), and the overview of the imported
# organization answers what the raw calls say (tests/lib/rollup_oracle.py)
# for the whole history, a month with partial edges and an explicit zone.
# A second import duplicates nothing and leaves the rollup exact.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
suite_up
py=$SUITE_ROOT/tests/lib/rollup_oracle.py

suite_psql -c 'create database legacy' > /dev/null
LEGACY_URL=${SUITE_PG_URL/\/switchboard\?//legacy?}
psql -XAtq -v ON_ERROR_STOP=1 -f "$SUITE_ROOT/tests/fixtures/legacy_single_tenant.sql" "$LEGACY_URL" \
    >/dev/null || t_bail "cannot load the fixture"
suite_psql -c "alter database legacy set timezone to 'UTC'" > /dev/null
new_orgs A
import () {
    env -u PGTZ "$SB_BIN/tenant-svc" import-legacy --source "$LEGACY_URL" --organization "$A_OID" \
        > "$SUITE_TMP/import.out" 2> "$SUITE_TMP/log/import-$1.log"
}
import 1
t_is "import: exit 0" "$?" 0
n=$(suite_psql -c "select count (*) from tenant.calls where organization_id = '$A_OID'")
t_ok "import: calls imported" test "$n" -gt 1000

verify () {
    "$SB_BIN/sb-call" -t 20000 tenant analytics.verify "{\"org\": \"$A_OID\"}"
}
out=$(verify)
t_is "verify after import: no difference" "$(json_get "$out" .body.mismatches)" 0
t_is "verify after import: every call" "$(json_get "$out" .body.calls)" "$n"

rows=$SUITE_TMP/rows
check () {
    local name=$1 frm=$2 to=$3 tz=$4 q section got exp
    q="from=$(urlq "$frm")&to=$(urlq "$to")"
    [[ $tz != default ]] && q+="&timezone=$(urlq "$tz")"
    http_as "$A_AT" GET "/v1/analytics/overview?$q"
    t_is "$name: 200" "$HTTP_STATUS" 200
    [[ $tz == default ]] && tz=$(json_get "$HTTP_BODY" .timezone)
    suite_psql -c "SELECT extract (epoch FROM started_at), business_id, duration_seconds, status
                   FROM tenant.calls WHERE organization_id = '$A_OID'" > "$rows"
    while IFS=$'\t' read -r section got exp; do
        t_is "$name: $section" "$got" "$exp"
    done < <(/usr/bin/python3 "$py" check "$rows" "$frm" "$to" "$tz" - "$HTTP_BODY")
}
first=$(suite_psql -c "select to_char (min (started_at) at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')
                       from tenant.calls where organization_id = '$A_OID'")
mid=$(suite_psql -c "select to_char ((min (started_at) + (max (started_at) - min (started_at)) / 2)
                       at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
                     from tenant.calls where organization_id = '$A_OID'")
end=$(suite_psql -c "select to_char ((min (started_at) + interval '365 days') at time zone 'UTC',
                       'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') from tenant.calls where organization_id = '$A_OID'")
mid30=$(suite_psql -c "select to_char (('$mid'::timestamptz + interval '30 days') at time zone 'UTC',
                         'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
check "imported: 365 days" "$first" "$end" default
check "imported: 30 days, partial edges" "$mid" "$mid30" default
check "imported: Kolkata" "$mid" "$mid30" Asia/Kolkata

import 2
t_is "second import: exit 0" "$?" 0
t_is "second import: no new call" \
    "$(suite_psql -c "select count (*) from tenant.calls where organization_id = '$A_OID'")" "$n"
t_is "verify after the second import" "$(json_get "$(verify)" .body.mismatches)" 0
t_done
