#!/usr/bin/env bash
# Usage series from the hourly sums (usage.hours, kept by the statement
# that stores events) plus the raw events of the partial hours at a
# range's edges: for ranges with edges on and off the hour, in one hour,
# across adjacent hours, with an offset, per hour, day and month, every
# point equals a recomputation from the raw events in SQL (the oracle does
# not read usage.hours). Deduplication by (organization, client id): the
# same ids in two organizations count in each; ids that differ only by
# case or a trailing space are distinct; a resent batch counts nothing.
# usage.verify checks the hourly sums too: a tampered hour is a mismatch.
. "$(dirname "$0")/lib/usage.sh"
suite_init
suite_up
new_orgs A B

# ---- events around hour edges ----------------------------------------------------------------
ev () {   # ID QUANTITY AT
    printf '{"id": "%s", "metric": "sms", "quantity": %s, "occurred_at": "%s"}' "$1" "$2" "$3"
}
body="{\"events\": [$(
    i=0
    for spec in "2026-03-01T10:00:00Z 2" "2026-03-01T10:29:59.999999Z 3" "2026-03-01T10:30:00Z 5" \
                "2026-03-01T10:59:59.999999Z 7" "2026-03-01T11:00:00Z 11" "2026-03-01T11:15:00Z 13" \
                "2026-03-01T12:45:00Z 17" "2026-03-01T13:00:00Z 19" "2026-03-01T13:14:59.999999Z 23" \
                "2026-03-01T13:15:00Z 29" "2026-03-02T00:00:00Z 31" "2026-02-28T23:59:59.999999Z 37" \
                "2026-02-20T08:00:00.5Z 41" "2026-01-15T00:00:00Z 43" "2026-03-01T10:30:00+01:00 47"; do
        (( i )) && printf ', '
        ev "h$i" "${spec#* }" "${spec% *}"
        i=$((i + 1))
    done)]}"
http_as "$A_AT" POST /v1/usage/events "$body"
t_is "15 events around hour edges: 202, accepted 15" "$HTTP_STATUS $(json_get "$HTTP_BODY" .accepted)" "202 15"
t_is "  the statement kept their 9 hours' sums" \
    "$(suite_psql -c "SELECT count(*) FROM usage.hours WHERE organization_id = '$A_OID' AND metric = 'sms'")" 9

# The oracle: the raw events' sums per bucket in [from, to), non-zero ones,
# as "T VALUE" lines.
oracle () {   # FROM TO GRANULARITY
    suite_psql -F ' ' -c "
        SELECT to_char (date_trunc ('$3', occurred_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
               sum (quantity)
          FROM usage.events
         WHERE organization_id = '$A_OID' AND metric = 'sms'
           AND occurred_at >= '$1'::timestamptz AND occurred_at < '$2'::timestamptz
         GROUP BY 1 ORDER BY 1"
}
served () {   # FROM TO GRANULARITY: the API's non-zero points, same form
    local from=${1//+/%2B} to=${2//+/%2B}
    http_as "$A_AT" GET "/v1/usage?metric=sms&from=$from&to=$to&granularity=$3"
    [[ $HTTP_STATUS == 200 ]] || { echo "status $HTTP_STATUS: $HTTP_BODY"; return; }
    "$SUITE_PYTHON" -c '
import json, sys
for p in json.loads(sys.argv[1])["points"]:
    if p["value"]:
        print(p["t"], p["value"])' "$HTTP_BODY"
}
total () {   # FROM TO GRANULARITY: the sum of all points
    local from=${1//+/%2B} to=${2//+/%2B}
    http_as "$A_AT" GET "/v1/usage?metric=sms&from=$from&to=$to&granularity=$3"
    "$SUITE_PYTHON" -c 'import json, sys; print(sum(p["value"] for p in json.loads(sys.argv[1])["points"]))' "$HTTP_BODY"
}
check () {   # NAME FROM TO GRANULARITY
    local want
    want=$(oracle "$2" "$3" "$4")
    t_is "series $1 = the raw events' sums" "$(served "$2" "$3" "$4")" "$want"
}
check "10:30 to 13:15 by hour (partial hours at both edges)" 2026-03-01T10:30:00Z 2026-03-01T13:15:00Z hour
check "  the same by day" 2026-03-01T10:30:00Z 2026-03-01T13:15:00Z day
check "10:29:59.999999 to 10:30:00.000001 (one hour, no whole hour)" \
    2026-03-01T10:29:59.999999Z 2026-03-01T10:30:00.000001Z hour
check "10:30 to 11:15 (adjacent partial hours)" 2026-03-01T10:30:00Z 2026-03-01T11:15:00Z hour
check "10:00 to 13:00 (on the hour: whole hours only)" 2026-03-01T10:00:00Z 2026-03-01T13:00:00Z hour
check "10:00:00.000001 to 12:59:59.999999" 2026-03-01T10:00:00.000001Z 2026-03-01T12:59:59.999999Z hour
check "from an offset (11:30+01:00) to 13:14:59.999999" "2026-03-01T11:30:00+01:00" 2026-03-01T13:14:59.999999Z hour
check "February 20 to March 3 by day" 2026-02-20T00:00:00Z 2026-03-03T00:00:00Z day
check "February 20 08:00:00.6 to March 2 by day" 2026-02-20T08:00:00.6Z 2026-03-02T00:00:00.000001Z day
check "January 15 to March 1 11:00:00.5 by month" 2026-01-15T00:00:00Z 2026-03-01T11:00:00.5Z month
check "January 14 23:59:59.999999 to March 2 by month" 2026-01-14T23:59:59.999999Z 2026-03-02T00:00:00Z month
t_is "  the March 1 hours 10..13 add up to the events in [10:30, 13:15)" \
    "$(total 2026-03-01T10:30:00Z 2026-03-01T13:15:00Z hour)" $((5 + 7 + 11 + 13 + 17 + 19 + 23))

# ---- deduplication by organization and client id -------------------------------------------------
ids_body () {   # ID...
    local first=1 id
    printf '{"events": ['
    for id in "$@"; do
        (( first )) || printf ', '
        first=0
        ev "$id" 1 "2026-03-01T12:00:00Z"
    done
    printf ']}'
}
dups=$(ids_body "x" "X" "x " " x" "xy" "x" "événement" "evenement")
http_as "$A_AT" POST /v1/usage/events "$dups"
t_is "ids differing by case, a space or an accent are distinct: accepted 7, duplicates 1" \
    "$HTTP_STATUS $(json_get "$HTTP_BODY" .accepted) $(json_get "$HTTP_BODY" .duplicates)" "202 7 1"
http_as "$B_AT" POST /v1/usage/events "$dups"
t_is "  the same ids in B are B's own: accepted 7" "$HTTP_STATUS $(json_get "$HTTP_BODY" .accepted)" "202 7"
http_as "$A_AT" POST /v1/usage/events "$dups"
t_is "  sent again to A: accepted 0, duplicates 8" \
    "$HTTP_STATUS $(json_get "$HTTP_BODY" .accepted) $(json_get "$HTTP_BODY" .duplicates)" "202 0 8"
http_as "$A_AT" POST /v1/usage/events "$(ids_body "h3" "h3 " "H3")"
t_is "  an id of the first batch is a duplicate, its look-alikes are not" \
    "$(json_get "$HTTP_BODY" .accepted) $(json_get "$HTTP_BODY" .duplicates)" "2 1"
t_is "  the 12:00 hour of A holds 17 + 9" \
    "$(suite_psql -c "SELECT quantity FROM usage.hours WHERE organization_id = '$A_OID' AND metric = 'sms'
                       AND hour = '2026-03-01 12:00'")" 26
check "12:00 to 13:00 after the dedup batches" 2026-03-01T12:00:00Z 2026-03-01T13:00:00Z hour

# ---- usage.verify holds the hourly sums to the events -------------------------------------------
out=$(usage_bus usage.verify "{\"org\": \"$A_OID\"}")
t_is "usage.verify: no mismatch" "$(json_get "$out" .body.mismatches) $(json_get "$out" .body.hour_mismatches)" "0 0"
t_like "  it compared A's hours" "$(json_get "$out" .body.hours)" '^[1-9][0-9]*$'
suite_psql -c "UPDATE usage.hours SET quantity = quantity + 1 WHERE organization_id = '$A_OID'
                 AND metric = 'sms' AND hour = '2026-03-01 11:00'" >/dev/null
out=$(usage_bus usage.verify "{\"org\": \"$A_OID\"}")
t_is "  an hour changed behind its back: 1 mismatch, named" \
    "$(json_get "$out" .body.mismatches) $(json_get "$out" .body.hour_mismatches) $(json_get "$out" '.body.hour_examples[0].hour')" \
    "1 1 2026-03-01T11:00:00"
suite_psql -c "UPDATE usage.hours SET quantity = quantity - 1 WHERE organization_id = '$A_OID'
                 AND metric = 'sms' AND hour = '2026-03-01 11:00'" >/dev/null
t_is "  put back: no mismatch over every organization" "$(usage_mismatches)" 0
t_is "events has one B-tree (its primary key) and two BRIN indexes" \
    "$(suite_psql -c "SELECT string_agg (am.amname, ' ' ORDER BY am.amname) FROM pg_index i
                       JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
                      WHERE i.indrelid = 'usage.events'::regclass AND i.indpred IS NULL")" "brin brin btree"
t_done
