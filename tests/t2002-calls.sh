#!/usr/bin/env bash
# Calls: create (201 with every field; started_at kept as an instant and
# answered in UTC), validation (E.164 or "anonymous" callers, RFC 3339
# started_at at most 5 minutes ahead, integer durations 0–86400, the four
# statuses, transcript and summary lengths, a business_id of the caller's own
# organization — unknown, malformed or another organization's: 400
# validation_failed with fields.business_id), read (404 for unknown and
# malformed ids), no PATCH or DELETE (405), and the list: newest first by
# started_at (ties by id), filters business_id, status, from (inclusive), to
# (exclusive), combined, across pages, and bad filter values refused.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
# (Plan limits: suite.sh's generous tests/fixtures/plans-test.json applies.)
suite_up

orgs_with_business A B
b1=$A_BIZ
bb=$B_BIZ

# ---- create -------------------------------------------------------------------------------
started=$(ts_at -7200)
body=$(jobj business_id="$b1" caller_number=+447700900123 started_at="$started" duration_seconds:=185 \
            status=completed transcript="Caller: two pizzas please.
Agent: sure — anything else?" summary="Ordered two pizzas.")
http_as "$A_AT" POST /v1/calls "$body"
t_status "create a call with every field: 201" 201
c1=$(json_get "$HTTP_BODY" .id)
c1_json=$HTTP_BODY
t_uuid "  id is a UUID" "$c1"
t_field "  business_id" .business_id "$b1"
t_field "  caller_number" .caller_number +447700900123
t_instant "  started_at is the instant sent" "$(json_get "$HTTP_BODY" .started_at)" "$started"
t_utc "  and an RFC 3339 UTC timestamp" "$(json_get "$HTTP_BODY" .started_at)"
t_field "  duration_seconds" .duration_seconds 185
t_field "  status" .status completed
t_field "  transcript, newline and all" .transcript "Caller: two pizzas please.
Agent: sure — anything else?"
t_field "  summary" .summary "Ordered two pizzas."
t_utc "  created_at" "$(json_get "$HTTP_BODY" .created_at)"
http_as "$A_AT" GET "/v1/calls/$c1"
t_status "GET it: 200" 200
t_same_json "  the same object as the create answer" "$HTTP_BODY" "$c1_json"

http_as "$A_AT" POST /v1/calls "$(call_body "$b1" caller_number=anonymous transcript- summary-)"
t_status "caller_number \"anonymous\", no transcript or summary: 201" 201
t_field "  caller_number" .caller_number anonymous
t_field "  transcript null" .transcript null
t_field "  summary null" .summary null

http_as "$A_AT" POST /v1/calls "$(call_body "$b1" started_at=2024-06-01T14:30:00+02:00)"
t_status "started_at with an offset: 201" 201
t_instant "  the same instant" "$(json_get "$HTTP_BODY" .started_at)" 2024-06-01T12:30:00Z
t_utc "  answered in UTC" "$(json_get "$HTTP_BODY" .started_at)"
http_as "$A_AT" POST /v1/calls "$(call_body "$b1" started_at=2024-06-01T12:30:00.123456Z)"
t_status "started_at with microseconds: 201" 201
t_instant "  kept to the microsecond" "$(json_get "$HTTP_BODY" .started_at)" 2024-06-01T12:30:00.123456Z

for s in completed missed voicemail transferred; do
    http_as "$A_AT" POST /v1/calls "$(call_body "$b1" status=$s)"
    t_status "status $s: 201" 201
    t_field "  kept" .status $s
done
for d in 0 86400; do
    http_as "$A_AT" POST /v1/calls "$(call_body "$b1" duration_seconds:=$d)"
    t_status "duration_seconds $d: 201" 201
    t_field "  kept" .duration_seconds $d
done
http_as "$A_AT" POST /v1/calls "$(call_body "$b1" started_at="$(ts_at 240)")"
t_status "started_at 4 minutes ahead: 201" 201
http_as "$A_AT" POST /v1/calls "$(call_body "$b1" transcript="$(printf 't%.0s' {1..100000})" summary="$(printf 's%.0s' {1..5000})")"
t_status "a 100000-character transcript and a 5000-character summary: 201" 201
t_is "  the transcript whole" "$(json_len "$HTTP_BODY" .transcript)" 100000
http_as "$A_AT" POST /v1/calls "$(call_body "$b1" id=11111111-2222-4333-8444-555555555555 created_at=2001-01-01T00:00:00Z organization_id="$B_OID")"
t_status "server-owned fields in the body: 201" 201
t_isnt "  id not taken from the body" "$(json_get "$HTTP_BODY" .id)" 11111111-2222-4333-8444-555555555555
t_unlike "  created_at not taken from the body" "$(json_get "$HTTP_BODY" .created_at)" '^2001-'
t_is "  stored for A, not for the organization_id sent" \
    "$(suite_psql -c "SELECT organization_id FROM tenant.calls WHERE id = '$(json_get "$HTTP_BODY" .id)'")" "$A_OID"

http_as "$A_AT" GET '/v1/calls?limit=100'
n_ok=$(json_len "$HTTP_BODY" .data)
t_is "A has the 13 calls created so far" "$n_ok" 13

# ---- validation ------------------------------------------------------------------------------
for f in business_id caller_number started_at duration_seconds status; do
    http_as "$A_AT" POST /v1/calls "$(call_body "$b1" "$f-")"
    t_fields "without $f" "$f"
    http_as "$A_AT" POST /v1/calls "$(call_body "$b1" "$f:=null")"
    t_fields "$f null" "$f"
    http_as "$A_AT" POST /v1/calls "$(call_body "$b1" "$f:=[]")"
    t_fields "$f []" "$f"
done
for v in 00000000-0000-4000-8000-000000000000 not-a-uuid '' "$bb"; do
    http_as "$A_AT" POST /v1/calls "$(call_body "$b1" business_id="$v")"
    t_fields "business_id '$v'$([[ $v == "$bb" ]] && echo " (B's business)")" business_id
done
for v in 14155550123 +04155550123 +123456 +1234567890123456 '+1 415 555 0123' Anonymous anon '' \
         unknown +1415555012x; do
    http_as "$A_AT" POST /v1/calls "$(call_body "$b1" caller_number="$v")"
    t_fields "caller_number '$v'" caller_number
done
for v in yesterday 2024-06-01 2024-06-01T12:30:00 2024-13-01T00:00:00Z 2024-02-30T00:00:00Z \
         2024-06-01T25:00:00Z '2024-06-01 12:30:00' 1717245000 "$(ts_at 420)"; do
    http_as "$A_AT" POST /v1/calls "$(call_body "$b1" started_at="$v")"
    t_fields "started_at '$v'" started_at
done
http_as "$A_AT" POST /v1/calls "$(call_body "$b1" started_at:=1717245000)"
t_fields "started_at as a number" started_at
for v in -1 86401 1.5 '"60"' true; do
    http_as "$A_AT" POST /v1/calls "$(call_body "$b1" duration_seconds:="$v")"
    t_fields "duration_seconds $v" duration_seconds
done
for v in '"done"' '""' '"Completed"' '"COMPLETED"' 3; do
    http_as "$A_AT" POST /v1/calls "$(call_body "$b1" status:="$v")"
    t_fields "status $v" status
done
http_as "$A_AT" POST /v1/calls "$(call_body "$b1" transcript="$(printf 't%.0s' {1..100001})")"
t_fields "a 100001-character transcript" transcript
http_as "$A_AT" POST /v1/calls "$(call_body "$b1" summary="$(printf 's%.0s' {1..5001})")"
t_fields "a 5001-character summary" summary
http_as "$A_AT" POST /v1/calls "$(call_body "$b1" transcript:=42 summary:='{}')"
t_fields "transcript and summary not strings" transcript summary
http_as "$A_AT" POST /v1/calls '{}'
t_fields "an empty object" business_id caller_number started_at duration_seconds status
http_as "$A_AT" POST /v1/calls "$(jobj business_id=nope caller_number=12 started_at=soon duration_seconds:=-5 status=lost)"
t_fields "five bad fields at once" business_id caller_number started_at duration_seconds status
http_as "$A_AT" POST /v1/calls '{"business_id":'
t_error "malformed JSON: 400 invalid_request" 400 invalid_request

http_as "$A_AT" GET '/v1/calls?limit=100'
t_is "the refused calls stored nothing (still 13)" "$(json_len "$HTTP_BODY" .data)" 13
http_as "$B_AT" GET '/v1/calls?limit=100'
t_is "and none landed with B" "$(json_len "$HTTP_BODY" .data)" 0
t_is "the tables agree (13 for A, none for B)" \
    "$(suite_psql -c "SELECT count(*) FILTER (WHERE organization_id = '$A_OID') || ' ' || count(*) FILTER (WHERE organization_id = '$B_OID') FROM tenant.calls")" "13 0"

# ---- read, methods ------------------------------------------------------------------------
for id in 00000000-0000-4000-8000-000000000000 nope "$c1-x" "${c1:0:35}"; do
    http_as "$A_AT" GET "/v1/calls/$(urlq "$id")"
    t_error "GET /v1/calls/$id: 404 not_found" 404 not_found
done
http_as "$A_AT" PATCH "/v1/calls/$c1" "$(jobj status=missed)"
t_error "PATCH a call: 405" 405 method_not_allowed
t_like "  Allow names GET" "$(http_header Allow)" GET
http_as "$A_AT" DELETE "/v1/calls/$c1"
t_error "DELETE a call: 405" 405 method_not_allowed
http_as "$A_AT" GET "/v1/calls/$c1"
t_same_json "  the call is unchanged" "$HTTP_BODY" "$c1_json"
http GET "/v1/calls/$c1"
t_error "GET without a token: 401" 401 unauthenticated

# ---- list order and filters (a fresh organization, calls at known times) ----------------
new_orgs L
create_as "$L_AT" /v1/businesses "$(biz_body)" || t_bail "L cannot create a business"
l1=$NEW_ID
create_as "$L_AT" /v1/businesses "$(biz_body)" || t_bail "L cannot create a second business"
l2=$NEW_ID
# name business status started_at (created in an order unlike started_at's)
spec=(
    "k3 $l2 completed 2024-03-01T14:00:00Z"
    "k1 $l1 completed 2024-03-01T12:00:00Z"
    "k5 $l1 transferred 2024-03-01T16:00:00Z"
    "k2 $l1 missed 2024-03-01T13:00:00Z"
    "k6 $l1 completed 2024-03-01T16:00:00Z"
    "k4 $l2 voicemail 2024-03-01T15:00:00Z"
    "k7 $l2 missed 2024-03-01T15:00:00.000001Z"
)
declare -A cid=()
for row in "${spec[@]}"; do
    read -r name biz status at <<<"$row"
    create_as "$L_AT" /v1/calls "$(call_body "$biz" status="$status" started_at="$at")"
    cid[$name]=$NEW_ID
done
t_is "L's seven calls are created" "${#cid[@]} $(suite_psql -c "SELECT count(*) FROM tenant.calls WHERE organization_id = '$L_OID'")" "7 7"

# expect NAME... : the ids of the named calls, newest first (started_at, then
# id, descending), one a line.
expect () {
    local n
    for n in "$@"; do
        for row in "${spec[@]}"; do
            read -r name biz status at <<<"$row"
            [[ $name == "$n" ]] && printf '%s %s\n' "$at" "${cid[$n]}"
        done
    done | sort_newest
}


# t_list DESC QUERY NAME...: GET /v1/calls?QUERY (all on one page) gives
# exactly the named calls, newest first.
t_list () {
    local desc=$1 q=$2 got want
    shift 2
    http_as "$L_AT" GET "/v1/calls?$q"
    if [[ $HTTP_STATUS != 200 ]]; then
        t_fail "$desc" "$(_auth_last)"
        return 1
    fi
    got=$(data_ids "$HTTP_BODY")
    want=$(expect "$@")
    if [[ $got == "$want" ]]; then
        t_pass "$desc"
    else
        t_fail "$desc" "    got:" "$got" "    expected ($*):" "$want" "$(_auth_last)"
    fi
}

t_list "all, newest first by started_at, ties by id" "" k1 k2 k3 k4 k5 k6 k7
t_field "  next_cursor null" .next_cursor null
t_ok "  in (started_at, id) non-increasing order" list_order_ok "$HTTP_BODY" started_at
t_list "business_id=l1" "business_id=$l1" k1 k2 k5 k6
t_list "business_id=l2" "business_id=$l2" k3 k4 k7
t_list "status=completed" "status=completed" k1 k3 k6
t_list "status=missed" "status=missed" k2 k7
t_list "status=voicemail" "status=voicemail" k4
t_list "from=13:00 (inclusive)" "from=2024-03-01T13:00:00Z" k2 k3 k4 k5 k6 k7
t_list "to=15:00 (exclusive)" "to=2024-03-01T15:00:00Z" k1 k2 k3
t_list "from=13:00 to=15:00" "from=2024-03-01T13:00:00Z&to=2024-03-01T15:00:00Z" k2 k3
t_list "from=15:00 to=15:00.000001 (one microsecond)" \
    "from=2024-03-01T15:00:00Z&to=2024-03-01T15:00:00.000001Z" k4
t_list "from with an offset (+01:00, encoded)" "from=$(urlq 2024-03-01T16:00:00+01:00)" k4 k5 k6 k7
t_list "from after everything: empty" "from=2024-03-02T00:00:00Z"
t_field "  next_cursor null" .next_cursor null
t_list "from=to: empty" "from=2024-03-01T13:00:00Z&to=2024-03-01T13:00:00Z"
t_list "business_id=l1, status=completed, from=12:30" \
    "business_id=$l1&status=completed&from=2024-03-01T12:30:00Z" k6
t_list "business_id=l2, to=15:00:00.000001" "business_id=$l2&to=2024-03-01T15:00:00.000001Z" k3 k4
t_list "status=completed, limit=2: the newest two" "status=completed&limit=2" k3 k6
nc=$(json_get "$HTTP_BODY" .next_cursor)
t_ok "  with a next_cursor (a string, not null)" test -n "$nc" -a "$nc" != null

got=$(walk_ids "$L_AT" "/v1/calls?business_id=$l1&limit=1")
t_is "walk business_id=l1 one call a page: the filter holds across pages" "$got" "$(expect k1 k2 k5 k6)"
got=$(walk_ids "$L_AT" "/v1/calls?from=2024-03-01T13:00:00Z&to=2024-03-01T16:00:00Z&limit=2")
t_is "walk from/to two a page" "$got" "$(expect k2 k3 k4 k7)"
got=$(walk_ids "$L_AT" "/v1/calls?limit=3")
t_is "walk everything three a page (ties at 16:00 kept apart)" "$got" "$(expect k1 k2 k3 k4 k5 k6 k7)"

for q in business_id=nope status=done status=COMPLETED from=yesterday to=2024-13-01T00:00:00Z \
         from=2024-03-01 "to=$(urlq '2024-03-01 12:00:00')"; do
    http_as "$L_AT" GET "/v1/calls?$q"
    t_fields "filter $q" "${q%%=*}"
done
http_as "$L_AT" GET "/v1/calls?status=done&from=x&business_id=y"
t_fields "three bad filters at once" status from business_id
http_as "$L_AT" GET "/v1/calls?business_id=$b1"
t_status "L filtering on A's business: 200 or 400, nothing of A's" '200|400'
t_is "  no data" "$(data_ids "$HTTP_BODY")" ""

t_done
