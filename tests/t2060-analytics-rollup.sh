#!/usr/bin/env bash
# Analytics rollup (issue 16, migration 0012): the overview reads
# analytics_days for whole local days in a business's own zone and raw
# calls for the rest, and must answer exactly what the raw calls say. The
# oracle is Python (zoneinfo) over the raw rows of calls read back with
# psql — never the rollup or the service's SQL. Data: one organization,
# businesses in America/New_York (DST; the oldest, so the default zone),
# Asia/Kolkata (+05:30) and Australia/Adelaide (+09:30/+10:30, DST in
# April and October), 4,000 seeded calls over 2024 (as the superuser, so
# the triggers run on a bulk INSERT) plus calls through POST /v1/calls.
# Ranges: a year on New York midnights, 30 days with partial edge days, a
# DST week, an explicit timezone of another business, a business's own
# zone; then a business's zone changes (PATCH), then the oldest business's
# (the organization's zone), and the answers stay exact;
# calls are deleted by SQL and a business is deleted. analytics.verify
# reports 0 differences, then 1 after a rollup row is corrupted by SQL,
# and repair restores it.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
suite_up

new_orgs A
py=$SUITE_ROOT/tests/lib/rollup_oracle.py

create_as "$A_AT" /v1/businesses "$(biz_body timezone=America/New_York)" || t_bail "no business"
ny=$NEW_ID
create_as "$A_AT" /v1/businesses "$(biz_body timezone=Asia/Kolkata)" || t_bail "no business"
kol=$NEW_ID
create_as "$A_AT" /v1/businesses "$(biz_body timezone=Australia/Adelaide)" || t_bail "no business"
adl=$NEW_ID
/usr/bin/python3 "$py" seed "$A_OID" "$ny" "$kol" "$adl" > "$SUITE_TMP/seed.sql"
suite_psql -f "$SUITE_TMP/seed.sql" > /dev/null || t_bail "cannot insert the seed"
# Calls through the API (both edges of a Kolkata day, a New York DST night).
for t in 2024-11-03T05:30:00Z 2024-11-03T06:30:00Z 2024-03-09T18:29:59Z 2024-03-09T18:30:00Z \
         2024-10-05T16:30:00Z; do
    for b in "$ny" "$kol" "$adl"; do
        create_as "$A_AT" /v1/calls "$(call_body "$b" started_at="$t" status=missed duration_seconds:=61)" \
            || t_fail "POST /v1/calls $t"
    done
done
# The folder folds every 5 s: wait until it has folded the seed, so that
# the first checks read rollup rows (the overview is exact either way).
pending () { suite_psql -c "SELECT count (*) FROM tenant.analytics_deltas"; }
for _ in $(seq 300); do [[ $(pending) == 0 ]] && break; sleep 0.1; done
t_is "the folder folded the seed" "$(pending)" 0

rows=$SUITE_TMP/rows
# check NAME FROM TO TZ BIZ|- : GET the overview and compare with the oracle
check () {
    local name=$1 frm=$2 to=$3 tz=$4 biz=$5 q section got exp
    q="from=$(urlq "$frm")&to=$(urlq "$to")"
    [[ $tz != default ]] && q+="&timezone=$(urlq "$tz")"
    [[ $biz != - ]] && q+="&business_id=$biz"
    http_as "$A_AT" GET "/v1/analytics/overview?$q"
    t_is "$name: 200" "$HTTP_STATUS" 200
    [[ $tz == default ]] && tz=$(json_get "$HTTP_BODY" .timezone)
    suite_psql -c "SELECT extract (epoch FROM started_at), business_id, duration_seconds, status
                   FROM tenant.calls WHERE organization_id = '$A_OID'" > "$rows"
    while IFS=$'\t' read -r section got exp; do
        t_is "$name: $section" "$got" "$exp"
    done < <(/usr/bin/python3 "$py" check "$rows" "$frm" "$to" "$tz" "$biz" "$HTTP_BODY")
}
verify () {
    "$SB_BIN/sb-call" -t 20000 tenant analytics.verify "{\"org\": \"$A_OID\"$1}"
}
all () {
    check "$1 year" 2024-01-01T05:00:00Z 2024-12-31T05:00:00Z default -
    check "$1 30 days, partial edges" 2024-10-20T13:17:05.250Z 2024-11-19T02:00:00Z default -
    check "$1 DST week" 2024-03-07T00:00:00Z 2024-03-14T00:00:00Z default -
    check "$1 Kolkata explicitly" 2024-02-01T00:00:00Z 2024-06-01T00:00:00Z Asia/Kolkata -
    check "$1 UTC explicitly" 2024-02-01T00:00:00Z 2024-06-01T00:00:00Z UTC -
    [[ -n $adl ]] && check "$1 Adelaide business, April DST" 2024-03-25T11:00:00Z 2024-04-20T00:00:00Z default "$adl"
    check "$1 Kolkata business" 2024-02-10T18:30:00Z 2024-03-10T18:30:00Z default "$kol"
    check "$1 within one day" 2024-06-01T10:00:00Z 2024-06-01T20:00:00Z default -
}
all ""
out=$(verify "")
t_is "verify: no difference" "$(json_get "$out" .body.mismatches)" 0
t_ok "verify: rows compared" test "$(json_get "$out" .body.rows)" -gt 1000
t_is "verify: every call counted" "$(json_get "$out" .body.calls)" 4015

# A business's zone changes: its rows are rebuilt in the new zone.
http_as "$A_AT" PATCH "/v1/businesses/$kol" '{"timezone": "America/New_York"}'
t_is "PATCH timezone: 200" "$HTTP_STATUS" 200
check "after zone change: year" 2024-01-01T05:00:00Z 2024-12-31T05:00:00Z default -
check "after zone change: moved business" 2024-02-10T05:00:00Z 2024-03-10T05:00:00Z default "$kol"
t_is "verify after zone change" "$(json_get "$(verify "")" .body.mismatches)" 0
# The oldest business's zone changes: the organization's zone with it.
http_as "$A_AT" PATCH "/v1/businesses/$ny" '{"timezone": "Europe/Paris"}'
t_is "PATCH the oldest business's timezone: 200" "$HTTP_STATUS" 200
check "organization's zone changed: year" 2024-01-01T00:00:00Z 2024-12-31T00:00:00Z default -
t_is "  the default zone is Paris" "$(json_get "$HTTP_BODY" .timezone)" Europe/Paris
check "organization's zone changed: a business in its zone" 2024-03-01T00:00:00Z 2024-04-01T00:00:00Z \
    America/New_York "$kol"
check "organization's zone changed: New York explicitly" 2024-03-01T00:00:00Z 2024-04-01T00:00:00Z \
    America/New_York -
t_is "verify after the organization's zone changed" "$(json_get "$(verify "")" .body.mismatches)" 0

# Deletes: calls by SQL (as org.purge does), a business (cascade).
suite_psql -c "DELETE FROM tenant.calls WHERE organization_id = '$A_OID'
               AND started_at >= '2024-05-01' AND started_at < '2024-05-20'" > /dev/null
http_as "$A_AT" DELETE "/v1/businesses/$adl"
t_is "DELETE business: 204" "$HTTP_STATUS" 204
adl=
all "after deletes:"
t_is "verify after deletes" "$(json_get "$(verify "")" .body.mismatches)" 0

# Corruption: verify names the row; repair rebuilds it.
suite_psql -c "UPDATE tenant.analytics_days SET calls = calls + 1
               WHERE (organization_id, timezone, day, business_id, status) =
                     (SELECT organization_id, timezone, day, business_id, status
                      FROM tenant.analytics_days
                      WHERE organization_id = '$A_OID' ORDER BY day LIMIT 1)" > /dev/null
out=$(verify "")
t_is "verify: the corrupted row" "$(json_get "$out" .body.mismatches)" 1
t_like "verify: an example says which" "$out" '"expected"'
out=$(verify ', "repair": true')
t_ok "repair: rows rewritten" test "$(json_get "$out" .body.repaired)" -gt 0
t_is "verify after repair" "$(json_get "$(verify "")" .body.mismatches)" 0
check "after repair: year" 2024-01-01T05:00:00Z 2024-12-31T05:00:00Z default -
out=$("$SB_BIN/sb-call" -t 20000 tenant analytics.verify '{"org": "nope"}' 2>&1)
t_like "verify: a bad org is a field error" "$out" 'validation_failed'
t_done
