#!/usr/bin/env bash
# Orders: create (201, status pending, total_cents computed by the server as
# the sum of quantity x unit_price_cents — a total in the body is ignored —
# in 64 bits), call_id of the same organization only, validation of every
# field and of the items (400 validation_failed naming each bad field), read,
# the status machine (pending->confirmed|cancelled, confirmed->fulfilled|
# cancelled; every other change, same->same included: 409
# invalid_transition, nothing changed; an unknown status: 400), no DELETE
# (405), and the list: newest first by created_at, filters business_id,
# status, from (inclusive), to (exclusive), bad filter values refused.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
# (Plan limits: suite.sh's generous tests/fixtures/plans-test.json applies.)
suite_up

orgs_with_business A B
b1=$A_BIZ
bb=$B_BIZ
create_as "$A_AT" /v1/businesses "$(biz_body)" || t_bail "A cannot create a second business"
b2=$NEW_ID
create_as "$A_AT" /v1/calls "$(call_body "$b1")" || t_bail "A cannot create a call"
c1=$NEW_ID
create_as "$B_AT" /v1/calls "$(call_body "$bb")" || t_bail "B cannot create a call"
cb=$NEW_ID

# ---- create -------------------------------------------------------------------------------
items='[{"name":"Margherita","quantity":2,"unit_price_cents":1250},{"name":"Tiramisù","quantity":3,"unit_price_cents":675},{"name":"Water","quantity":1,"unit_price_cents":0}]'
body=$(jobj business_id="$b1" call_id="$c1" customer_name="Grace Hopper" customer_phone=+12025550143 \
            items:="$items" currency=EUR total_cents:=1 status=fulfilled)
http_as "$A_AT" POST /v1/orders "$body"
t_status "create an order with every field: 201" 201
o1=$(json_get "$HTTP_BODY" .id)
o1_json=$HTTP_BODY
t_uuid "  id is a UUID" "$o1"
t_field "  business_id" .business_id "$b1"
t_field "  call_id" .call_id "$c1"
t_field "  customer_name" .customer_name "Grace Hopper"
t_field "  customer_phone" .customer_phone +12025550143
t_same_json "  items as sent" "$(json_get "$HTTP_BODY" .items)" "$items"
t_field "  currency" .currency EUR
t_field "  total_cents = 2x1250 + 3x675 + 1x0 = 4525 (the 1 sent is ignored)" .total_cents 4525
t_field "  status pending (whatever the body says)" .status pending
t_utc "  created_at" "$(json_get "$HTTP_BODY" .created_at)"
t_utc "  updated_at" "$(json_get "$HTTP_BODY" .updated_at)"
http_as "$A_AT" GET "/v1/orders/$o1"
t_status "GET it: 200" 200
t_same_json "  the same object as the create answer" "$HTTP_BODY" "$o1_json"

http_as "$A_AT" POST /v1/orders "$(order_body "$b2")"
t_status "without call_id and customer_phone: 201" 201
t_field "  call_id null" .call_id null
t_field "  customer_phone null" .customer_phone null
t_field "  total_cents 2699" .total_cents 2699
http_as "$A_AT" POST /v1/orders "$(order_body "$b2" call_id:=null customer_phone:=null)"
t_status "call_id and customer_phone null: 201" 201

big='[{"name":"Yacht","quantity":10000,"unit_price_cents":100000000},{"name":"Another yacht","quantity":10000,"unit_price_cents":100000000},{"name":"Free","quantity":10000,"unit_price_cents":0}]'
http_as "$A_AT" POST /v1/orders "$(order_body "$b1" items:="$big")"
t_status "quantities 10000 at 100000000 cents: 201" 201
t_field "  total_cents 2000000000000 (no 32-bit overflow)" .total_cents 2000000000000
hundred=$("$SUITE_PYTHON" -c 'import json; print(json.dumps([{"name": "Item %d" % i, "quantity": i, "unit_price_cents": 3 * i} for i in range(1, 101)]))')
http_as "$A_AT" POST /v1/orders "$(order_body "$b1" items:="$hundred")"
t_status "100 items: 201" 201
t_is "  all kept" "$(json_len "$HTTP_BODY" .items)" 100
t_field "  total_cents = sum of 3 i^2 = 1015050" .total_cents 1015050
http_as "$A_AT" POST /v1/orders "$(order_body "$b1" customer_name="$(printf 'é%.0s' {1..200})" \
        items:="[{\"name\":\"$(printf 'x%.0s' {1..200})\",\"quantity\":1,\"unit_price_cents\":1}]")"
t_status "a 200-character customer_name and item name: 201" 201
http_as "$A_AT" POST /v1/orders "$(order_body "$b1" id=11111111-2222-4333-8444-555555555555 organization_id="$B_OID" created_at=2001-01-01T00:00:00Z colour=red)"
t_status "server-owned and unknown fields in the body: 201" 201
t_isnt "  id not taken from the body" "$(json_get "$HTTP_BODY" .id)" 11111111-2222-4333-8444-555555555555
t_unlike "  created_at not taken from the body" "$(json_get "$HTTP_BODY" .created_at)" '^2001-'
http_as "$A_AT" GET '/v1/orders?limit=100'
t_is "A has the 7 orders created so far" "$(json_len "$HTTP_BODY" .data)" 7

# ---- validation ------------------------------------------------------------------------------
for f in business_id customer_name items currency; do
    http_as "$A_AT" POST /v1/orders "$(order_body "$b1" "$f-")"
    t_fields "without $f" "$f"
    http_as "$A_AT" POST /v1/orders "$(order_body "$b1" "$f:=null")"
    t_fields "$f null" "$f"
    http_as "$A_AT" POST /v1/orders "$(order_body "$b1" "$f:=true")"
    t_fields "$f true" "$f"
done
for v in 00000000-0000-4000-8000-000000000000 not-a-uuid '' "$bb"; do
    http_as "$A_AT" POST /v1/orders "$(order_body "$b1" business_id="$v")"
    t_fields "business_id '$v'$([[ $v == "$bb" ]] && echo " (B's business)")" business_id
done
for v in 00000000-0000-4000-8000-000000000000 not-a-uuid '' "$cb"; do
    http_as "$A_AT" POST /v1/orders "$(order_body "$b1" call_id="$v")"
    t_fields "call_id '$v'$([[ $v == "$cb" ]] && echo " (B's call)")" call_id
done
http_as "$A_AT" POST /v1/orders "$(order_body "$b1" call_id:=7)"
t_fields "call_id 7" call_id
http_as "$A_AT" POST /v1/orders "$(order_body "$b1" customer_name=)"
t_fields "an empty customer_name" customer_name
http_as "$A_AT" POST /v1/orders "$(order_body "$b1" customer_name="$(printf 'n%.0s' {1..201})")"
t_fields "a 201-character customer_name" customer_name
for v in 12025550143 +02025550143 +123456 +1234567890123456 '+1 202 555 0143' anonymous ''; do
    http_as "$A_AT" POST /v1/orders "$(order_body "$b1" customer_phone="$v")"
    t_fields "customer_phone '$v'" customer_phone
done
for v in usd US USDD 'U$D' '' 840 EURO; do
    http_as "$A_AT" POST /v1/orders "$(order_body "$b1" currency="$v")"
    t_fields "currency '$v'" currency
done
http_as "$A_AT" POST /v1/orders "$(order_body "$b1" currency:=840)"
t_fields "currency 840 (a number)" currency
too_many=$("$SUITE_PYTHON" -c 'import json; print(json.dumps([{"name": "I", "quantity": 1, "unit_price_cents": 1}] * 101))')
bad_items=(
    '[]'
    "$too_many"
    '{"name":"Pizza","quantity":1,"unit_price_cents":100}'
    '["Pizza"]'
    '[{"quantity":1,"unit_price_cents":100}]'
    '[{"name":"","quantity":1,"unit_price_cents":100}]'
    "[{\"name\":\"$(printf 'x%.0s' {1..201})\",\"quantity\":1,\"unit_price_cents\":100}]"
    '[{"name":7,"quantity":1,"unit_price_cents":100}]'
    '[{"name":"Pizza","unit_price_cents":100}]'
    '[{"name":"Pizza","quantity":0,"unit_price_cents":100}]'
    '[{"name":"Pizza","quantity":-1,"unit_price_cents":100}]'
    '[{"name":"Pizza","quantity":10001,"unit_price_cents":100}]'
    '[{"name":"Pizza","quantity":1.5,"unit_price_cents":100}]'
    '[{"name":"Pizza","quantity":"2","unit_price_cents":100}]'
    '[{"name":"Pizza","quantity":1}]'
    '[{"name":"Pizza","quantity":1,"unit_price_cents":-1}]'
    '[{"name":"Pizza","quantity":1,"unit_price_cents":100000001}]'
    '[{"name":"Pizza","quantity":1,"unit_price_cents":9.99}]'
    '[{"name":"Pizza","quantity":1,"unit_price_cents":null}]'
    '[{"name":"Pizza","quantity":1,"unit_price_cents":100},{"name":"Bad","quantity":0,"unit_price_cents":100}]'
)
for v in "${bad_items[@]}"; do
    http_as "$A_AT" POST /v1/orders "$(order_body "$b1" items:="$v")"
    t_fields "items ${v:0:90}" items
done
http_as "$A_AT" POST /v1/orders '{}'
t_fields "an empty object" business_id customer_name items currency
# Several at once: malformed values of every field; references to another
# organization's objects are checked once the shapes are right (both named).
http_as "$A_AT" POST /v1/orders "$(jobj business_id=x call_id=y customer_name= customer_phone=1 items:='[]' currency=usd)"
t_fields "six malformed fields at once" business_id call_id customer_name customer_phone items currency
http_as "$A_AT" POST /v1/orders "$(order_body "$bb" call_id="$cb")"
t_fields "B's business and B's call at once" business_id call_id
http_as "$A_AT" POST /v1/orders '{"items": [}'
t_error "malformed JSON: 400 invalid_request" 400 invalid_request
http_as "$A_AT" GET '/v1/orders?limit=100'
t_is "the refused orders stored nothing (still 7)" "$(json_len "$HTTP_BODY" .data)" 7
t_is "the table agrees; B has none" \
    "$(suite_psql -c "SELECT count(*) FILTER (WHERE organization_id = '$A_OID') || ' ' || count(*) FILTER (WHERE organization_id = '$B_OID') FROM tenant.orders")" "7 0"

# ---- read, methods ------------------------------------------------------------------------
for id in 00000000-0000-4000-8000-000000000000 nope "$o1-x" "${o1:0:35}"; do
    http_as "$A_AT" GET "/v1/orders/$(urlq "$id")"
    t_error "GET /v1/orders/$id: 404 not_found" 404 not_found
done
http_as "$A_AT" DELETE "/v1/orders/$o1"
t_error "DELETE an order: 405" 405 method_not_allowed
t_like "  Allow names PATCH" "$(http_header Allow)" PATCH
http GET "/v1/orders/$o1"
t_error "GET without a token: 401" 401 unauthenticated

# ---- the status machine ------------------------------------------------------------------------
# order_in STATE: a new order of b1 brought to STATE by allowed steps; its id
# in NEW_ID (empty on failure).
declare -A path_to=([pending]="" [confirmed]="confirmed" [fulfilled]="confirmed fulfilled" [cancelled]="cancelled")
order_in () {
    local step id
    create_as "$A_AT" /v1/orders "$(order_body "$b1")" || return 1
    id=$NEW_ID
    for step in ${path_to[$1]}; do
        http_as "$A_AT" PATCH "/v1/orders/$id" "$(jobj status="$step")"
        if [[ $HTTP_STATUS != 200 ]]; then
            t_diag "order_in $1: PATCH to $step: HTTP $HTTP_STATUS ${HTTP_BODY:0:300}"
            NEW_ID=
            return 1
        fi
    done
    NEW_ID=$id
}
declare -A allowed=([pending:confirmed]=1 [pending:cancelled]=1 [confirmed:fulfilled]=1 [confirmed:cancelled]=1)
for from in pending confirmed fulfilled cancelled; do
    for to in pending confirmed fulfilled cancelled; do
        if ! order_in "$from"; then
            t_fail "$from -> $to: cannot bring an order to $from"
            continue
        fi
        id=$NEW_ID
        http_as "$A_AT" PATCH "/v1/orders/$id" "$(jobj status="$to")"
        if [[ -n ${allowed[$from:$to]:-} ]]; then
            t_status "$from -> $to: 200" 200
            t_field "  status $to" .status "$to"
            http_as "$A_AT" GET "/v1/orders/$id"
            t_field "  GET agrees" .status "$to"
        else
            t_error "$from -> $to: 409 invalid_transition" 409 invalid_transition
            http_as "$A_AT" GET "/v1/orders/$id"
            t_field "  still $from" .status "$from"
        fi
    done
done

create_as "$A_AT" /v1/orders "$(order_body "$b1")"
t_status "an order to patch: 201" 201
op=$NEW_ID
op_json=$NEW_JSON
for v in '"shipped"' '"PENDING"' '""' 3 null; do
    http_as "$A_AT" PATCH "/v1/orders/$op" "{\"status\": $v}"
    t_fields "PATCH status $v" status
done
http_as "$A_AT" PATCH "/v1/orders/$op" '{}'
t_fields "PATCH without status" status
http_as "$A_AT" PATCH "/v1/orders/$op" '{"status":'
t_error "PATCH with malformed JSON: 400 invalid_request" 400 invalid_request
http_as "$A_AT" GET "/v1/orders/$op"
t_same_json "  refused PATCHes changed nothing" "$HTTP_BODY" "$op_json"
sleep 1.1   # updated_at must move on even if the server keeps whole seconds
http_as "$A_AT" PATCH "/v1/orders/$op" "$(jobj status=confirmed total_cents:=5 customer_name=Mallory)"
t_status "PATCH confirmed with other fields: 200" 200
t_field "  total_cents unchanged" .total_cents 2699
t_field "  created_at unchanged" .created_at "$(json_get "$op_json" .created_at)"
t_is "  updated_at later" "$(ts_cmp "$(json_get "$HTTP_BODY" .updated_at)" "$(json_get "$op_json" .updated_at)")" 1
http_as "$A_AT" PATCH /v1/orders/00000000-0000-4000-8000-000000000000 "$(jobj status=confirmed)"
t_error "PATCH an unknown order: 404 not_found" 404 not_found
http_as "$A_AT" PATCH /v1/orders/nope "$(jobj status=confirmed)"
t_error "PATCH a malformed id: 404 not_found" 404 not_found

# ---- list order and filters (a fresh organization) ----------------------------------------
new_orgs L
create_as "$L_AT" /v1/businesses "$(biz_body)" || t_bail "L cannot create a business"
l1=$NEW_ID
create_as "$L_AT" /v1/businesses "$(biz_body)" || t_bail "L cannot create a second business"
l2=$NEW_ID
# Three groups, each well apart from the next; t1 and t2 are clock readings
# between them (the test and PostgreSQL share the machine's clock).
declare -A oid=() ocreated=()
mk () {   # mk NAME BUSINESS [STATUS]
    create_as "$L_AT" /v1/orders "$(order_body "$2")" || return 1
    oid[$1]=$NEW_ID
    ocreated[$1]=$(json_get "$NEW_JSON" .created_at)
    if [[ -n ${3:-} ]]; then
        http_as "$L_AT" PATCH "/v1/orders/$NEW_ID" "$(jobj status="$3")"
        [[ $HTTP_STATUS == 200 ]] || t_diag "mk $1: PATCH $3: HTTP $HTTP_STATUS"
    fi
}
mk p1 "$l1"; mk p2 "$l2" confirmed; mk p3 "$l1"
sleep 0.3; t1=$(ts_at 0); sleep 0.3
mk q1 "$l2"; mk q2 "$l1" cancelled
sleep 0.3; t2=$(ts_at 0); sleep 0.3
mk r1 "$l1" confirmed; mk r2 "$l2"
t_is "L's seven orders are created" "${#oid[@]}" 7

# t_list DESC QUERY NAME...: GET /v1/orders?QUERY gives exactly the named
# orders, newest first (the names are given newest first).
t_list () {
    local desc=$1 q=$2 got want='' n
    shift 2
    for n in "$@"; do want+="${oid[$n]}"$'\n'; done
    want=${want%$'\n'}
    http_as "$L_AT" GET "/v1/orders?$q"
    if [[ $HTTP_STATUS != 200 ]]; then
        t_fail "$desc" "$(_auth_last)"
        return 1
    fi
    got=$(data_ids "$HTTP_BODY")
    if [[ $got == "$want" ]]; then
        t_pass "$desc"
    else
        t_fail "$desc" "    got:" "$got" "    expected ($*):" "$want"
    fi
}
t_list "all, newest first" "" r2 r1 q2 q1 p3 p2 p1
t_field "  next_cursor null" .next_cursor null
t_ok "  in (created_at, id) non-increasing order" list_order_ok "$HTTP_BODY" created_at
t_list "business_id=l1" "business_id=$l1" r1 q2 p3 p1
t_list "business_id=l2" "business_id=$l2" r2 q1 p2
t_list "status=pending" "status=pending" r2 q1 p3 p1
t_list "status=confirmed" "status=confirmed" r1 p2
t_list "status=cancelled" "status=cancelled" q2
t_list "status=fulfilled: none" "status=fulfilled"
t_list "from=t1" "from=$(urlq "$t1")" r2 r1 q2 q1
t_list "to=t2" "to=$(urlq "$t2")" q2 q1 p3 p2 p1
t_list "from=t1 to=t2" "from=$(urlq "$t1")&to=$(urlq "$t2")" q2 q1
t_list "from=q1's created_at (inclusive)" "from=$(urlq "${ocreated[q1]}")" r2 r1 q2 q1
t_list "to=q1's created_at (exclusive)" "to=$(urlq "${ocreated[q1]}")" p3 p2 p1
t_list "from=q1's created_at to=q2's created_at" \
    "from=$(urlq "${ocreated[q1]}")&to=$(urlq "${ocreated[q2]}")" q1
t_list "business_id=l1 status=pending to=t2" "business_id=$l1&status=pending&to=$(urlq "$t2")" p3 p1
t_list "status=pending limit=3" "status=pending&limit=3" r2 q1 p3
got=$(walk_ids "$L_AT" "/v1/orders?status=pending&limit=1")
t_is "walk status=pending one a page: the filter holds across pages" \
    "$got" "$(printf '%s\n' "${oid[r2]}" "${oid[q1]}" "${oid[p3]}" "${oid[p1]}")"
got=$(walk_ids "$L_AT" "/v1/orders?business_id=$l2&from=$(urlq "$t1")&limit=1")
t_is "walk business_id=l2 from=t1 one a page" "$got" "$(printf '%s\n' "${oid[r2]}" "${oid[q1]}")"

for q in business_id=nope status=shipped status=Pending from=yesterday to=2024-13-01T00:00:00Z from=2024-03-01; do
    http_as "$L_AT" GET "/v1/orders?$q"
    t_fields "filter $q" "${q%%=*}"
done
http_as "$L_AT" GET "/v1/orders?status=lost&to=x"
t_fields "two bad filters at once" status to
http_as "$L_AT" GET "/v1/orders?business_id=$b1"
t_status "L filtering on A's business: 200 or 400, nothing of A's" '200|400'
t_is "  no data" "$(data_ids "$HTTP_BODY")" ""

t_done
