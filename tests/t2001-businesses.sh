#!/usr/bin/env bash
# Businesses: create (201 with every field; server-owned and unknown fields
# in the body ignored), validation (400 validation_failed naming each bad
# field, several at once; name and greeting lengths in characters, E.164
# phone numbers, IANA time zones known to PostgreSQL, opening hours), read
# (404 not_found for unknown and malformed ids), PATCH of any subset (null
# clears greeting and hours; updated_at moves on, created_at does not), DELETE
# (204, then 404, and the business's calls and orders are gone with it),
# wrong methods (405) and no token (401).
. "$(dirname "$0")/lib/tenant.sh"
suite_init
# (Plan limits: suite.sh's generous tests/fixtures/plans-test.json applies.)
suite_up

new_orgs A

# ---- create -------------------------------------------------------------------------------
http_as "$A_AT" POST /v1/businesses "$(jobj name="Chez Ada" phone_number=+33140000001 timezone=Europe/Paris)"
t_status "create with the required fields only: 201" 201
b1=$(json_get "$HTTP_BODY" .id)
b1_json=$HTTP_BODY
t_uuid "  id is a UUID" "$b1"
t_field "  name" .name "Chez Ada"
t_field "  phone_number" .phone_number +33140000001
t_field "  timezone" .timezone Europe/Paris
t_field "  greeting is null" .greeting null
t_field "  hours is null" .hours null
t_utc "  created_at is an RFC 3339 UTC timestamp" "$(json_get "$HTTP_BODY" .created_at)"
t_utc "  updated_at too" "$(json_get "$HTTP_BODY" .updated_at)"

hours='{"mon":[{"open":"09:00","close":"12:00"},{"open":"13:30","close":"18:00"}],"tue":[{"open":"00:00","close":"23:59"}],"wed":[{"open":"09:00","close":"10:00"},{"open":"11:00","close":"12:00"},{"open":"13:00","close":"14:00"},{"open":"15:00","close":"16:00"}],"sat":[],"sun":[{"open":"10:00","close":"10:01"}]}'
body=$(jobj name="Ada's Pizza — Café" phone_number=+14155550100 timezone=America/Argentina/Buenos_Aires \
            greeting="Hello, thanks for calling Ada's. ¿En qué puedo ayudarle?" hours:="$hours")
http_as "$A_AT" POST /v1/businesses "$body"
t_status "create with greeting and hours: 201" 201
b2=$(json_get "$HTTP_BODY" .id)
b2_json=$HTTP_BODY
t_field "  the name, Unicode intact" .name "Ada's Pizza — Café"
t_field "  a three-part zone name" .timezone America/Argentina/Buenos_Aires
t_field "  the greeting" .greeting "Hello, thanks for calling Ada's. ¿En qué puedo ayudarle?"
t_same_json "  the hours as sent" "$(json_get "$HTTP_BODY" .hours)" "$hours"
t_isnt "  a new id" "$b2" "$b1"

http_as "$A_AT" GET "/v1/businesses/$b1"
t_status "GET the first: 200" 200
t_same_json "  the same object as the create answer" "$HTTP_BODY" "$b1_json"
http_as "$A_AT" GET "/v1/businesses/$b2"
t_same_json "GET the second: the same object as the create answer" "$HTTP_BODY" "$b2_json"

# Server-owned and unknown fields are ignored.
fake_id=11111111-2222-4333-8444-555555555555
body=$(biz_body id="$fake_id" organization_id=22222222-3333-4444-8555-666666666666 \
                created_at=2001-01-01T00:00:00Z updated_at=2001-01-01T00:00:00Z colour=purple)
http_as "$A_AT" POST /v1/businesses "$body"
t_status "create with id, organization_id, timestamps and an unknown field: 201" 201
b3=$(json_get "$HTTP_BODY" .id)
t_isnt "  the id is not the one sent" "$b3" "$fake_id"
t_unlike "  created_at is not the one sent" "$(json_get "$HTTP_BODY" .created_at)" '^2001-'
t_unlike "  updated_at is not the one sent" "$(json_get "$HTTP_BODY" .updated_at)" '^2001-'
if org=$(json_get "$HTTP_BODY" .organization_id 2>/dev/null); then
    t_is "  organization_id (shown) is the caller's" "$org" "$A_OID"
fi
http_as "$A_AT" GET "/v1/businesses/$fake_id"
t_error "  nothing was stored under the id sent" 404 not_found
http_as "$A_AT" GET "/v1/businesses/$b3"
t_status "  it belongs to A" 200

# Boundaries that pass.
http_as "$A_AT" POST /v1/businesses "$(biz_body name="$(printf 'n%.0s' {1..200})")"
t_status "a 200-character name: 201" 201
http_as "$A_AT" POST /v1/businesses "$(biz_body name="$(printf 'é%.0s' {1..200})")"
t_status "a name of 200 two-byte characters: 201 (characters, not bytes)" 201
http_as "$A_AT" POST /v1/businesses "$(biz_body greeting="$(printf 'g%.0s' {1..2000})")"
t_status "a 2000-character greeting: 201" 201
http_as "$A_AT" POST /v1/businesses "$(biz_body phone_number=+1234567)"
t_status "a phone number of 7 digits: 201" 201
http_as "$A_AT" POST /v1/businesses "$(biz_body phone_number=+123456789012345)"
t_status "a phone number of 15 digits: 201" 201
http_as "$A_AT" POST /v1/businesses "$(biz_body timezone=UTC)"
t_status "timezone UTC: 201" 201
http_as "$A_AT" POST /v1/businesses "$(biz_body greeting:=null hours:=null)"
t_status "greeting and hours null: 201" 201
t_field "  greeting null" .greeting null

# ---- validation ------------------------------------------------------------------------------
for f in name phone_number timezone; do
    http_as "$A_AT" POST /v1/businesses "$(biz_body "$f-")"
    t_fields "without $f" "$f"
    for v in 123 true null '[]' '{}'; do
        http_as "$A_AT" POST /v1/businesses "$(biz_body "$f:=$v")"
        t_fields "$f: $v" "$f"
    done
done
http_as "$A_AT" POST /v1/businesses "$(biz_body name=)"
t_fields "an empty name" name
http_as "$A_AT" POST /v1/businesses "$(biz_body name="$(printf 'n%.0s' {1..201})")"
t_fields "a 201-character name" name
http_as "$A_AT" POST /v1/businesses "$(biz_body name="$(printf 'é%.0s' {1..201})")"
t_fields "a name of 201 two-byte characters" name
for v in 33140000001 +0140000001 +123456 +1234567890123456 '+1 415 555 0100' +1415555010a \
         +1-415-555-0100 '' ++14155550100 ' +14155550100'; do
    http_as "$A_AT" POST /v1/businesses "$(biz_body phone_number="$v")"
    t_fields "phone_number '$v'" phone_number
done
for v in Mars/Olympus '' Europe/Pariss 'Europe/Paris; DROP TABLE x' '../../etc/passwd'; do
    http_as "$A_AT" POST /v1/businesses "$(biz_body timezone="$v")"
    t_fields "timezone '$v'" timezone
done
http_as "$A_AT" POST /v1/businesses "$(biz_body greeting="$(printf 'g%.0s' {1..2001})")"
t_fields "a 2001-character greeting" greeting
for v in 42 true '[]'; do
    http_as "$A_AT" POST /v1/businesses "$(biz_body greeting:="$v")"
    t_fields "greeting: $v" greeting
done

bad_hours=(
    '"9-5"'
    '[]'
    '42'
    '{"monday":[{"open":"09:00","close":"17:00"}]}'
    '{"Mon":[{"open":"09:00","close":"17:00"}]}'
    '{"mon":{"open":"09:00","close":"17:00"}}'
    '{"mon":[{"open":"09:00","close":"10:00"},{"open":"10:00","close":"11:00"},{"open":"11:00","close":"12:00"},{"open":"12:00","close":"13:00"},{"open":"14:00","close":"15:00"}]}'
    '{"mon":[{"open":"09:00","close":"12:00"},{"open":"11:00","close":"13:00"}]}'
    '{"mon":[{"open":"10:00","close":"10:00"}]}'
    '{"mon":[{"open":"09:00","close":"24:00"}]}'
    '{"mon":[{"open":"9:00","close":"17:00"}]}'
    '{"mon":[{"open":"09:00","close":"12:60"}]}'
    '{"mon":[{"open":"09:00"}]}'
    '{"mon":[{"close":"17:00"}]}'
    '{"mon":[{"open":900,"close":1700}]}'
    '{"mon":["09:00-17:00"]}'
    '{"mon":[{"open":"09:00","close":"17:00"}],"xyz":[]}'
    '{"mon":[{"open":"0900","close":"1700"}]}'
)
for v in "${bad_hours[@]}"; do
    http_as "$A_AT" POST /v1/businesses "$(biz_body hours:="$v")"
    t_fields "hours $v" hours
done

http_as "$A_AT" POST /v1/businesses '{}'
t_fields "an empty object" name phone_number timezone
body=$(jobj name="" phone_number=555 timezone=Mars/Olympus greeting="$(printf 'g%.0s' {1..2001})" \
            hours:='{"monday":[]}')
http_as "$A_AT" POST /v1/businesses "$body"
t_fields "five bad fields at once" name phone_number timezone greeting hours
http_as "$A_AT" POST /v1/businesses '{"name": "x",'
t_error "malformed JSON: 400 invalid_request" 400 invalid_request
http_as "$A_AT" POST /v1/businesses '["name"]'
t_status "a JSON array: 400" 400
t_like "  invalid_request or validation_failed" "$(json_get "$HTTP_BODY" .error.code)" '^(invalid_request|validation_failed)$'

http_as "$A_AT" GET '/v1/businesses?limit=100'
t_status "A lists its businesses" 200
n_list=$(json_len "$HTTP_BODY" .data)
n_db=$(suite_psql -c "SELECT count(*) FROM tenant.businesses WHERE organization_id = '$A_OID'")
t_is "  the refused bodies stored nothing (list and table agree)" "$n_list" "$n_db"
t_is "  ten businesses so far" "$n_db" 10

# ---- read --------------------------------------------------------------------------------------
for id in 00000000-0000-4000-8000-000000000000 nope 123 "$b1-x" "${b1//-/}x" "${b1:0:35}"; do
    http_as "$A_AT" GET "/v1/businesses/$(urlq "$id")"
    t_error "GET /v1/businesses/$id: 404 not_found" 404 not_found
done

# ---- PATCH -------------------------------------------------------------------------------------
old_created=$(json_get "$b2_json" .created_at)
old_updated=$(json_get "$b2_json" .updated_at)
sleep 1.1   # updated_at must move on even if the server keeps whole seconds
http_as "$A_AT" PATCH "/v1/businesses/$b2" "$(jobj name="Ada's Trattoria")"
t_status "PATCH the name alone: 200" 200
t_field "  new name" .name "Ada's Trattoria"
t_field "  phone_number kept" .phone_number +14155550100
t_field "  timezone kept" .timezone America/Argentina/Buenos_Aires
t_field "  greeting kept" .greeting "Hello, thanks for calling Ada's. ¿En qué puedo ayudarle?"
t_same_json "  hours kept" "$(json_get "$HTTP_BODY" .hours)" "$hours"
t_field "  created_at kept" .created_at "$old_created"
new_updated=$(json_get "$HTTP_BODY" .updated_at)
t_is "  updated_at later than before ($old_updated -> $new_updated)" "$(ts_cmp "$new_updated" "$old_updated")" 1
patched=$HTTP_BODY
http_as "$A_AT" GET "/v1/businesses/$b2"
t_same_json "  GET shows the patched object" "$HTTP_BODY" "$patched"

hours2='{"fri":[{"open":"18:00","close":"23:00"}]}'
http_as "$A_AT" PATCH "/v1/businesses/$b2" "$(jobj phone_number=+14155550199 timezone=Asia/Tokyo greeting=Moshi hours:="$hours2")"
t_status "PATCH four fields: 200" 200
t_field "  phone_number" .phone_number +14155550199
t_field "  timezone" .timezone Asia/Tokyo
t_field "  greeting" .greeting Moshi
t_same_json "  hours replaced, not merged" "$(json_get "$HTTP_BODY" .hours)" "$hours2"
t_field "  name kept" .name "Ada's Trattoria"

http_as "$A_AT" PATCH "/v1/businesses/$b2" '{"greeting": null, "hours": null}'
t_status "PATCH greeting and hours to null: 200" 200
t_field "  greeting cleared" .greeting null
t_field "  hours cleared" .hours null
http_as "$A_AT" GET "/v1/businesses/$b2"
t_field "  GET agrees: greeting null" .greeting null
t_field "  GET agrees: hours null" .hours null
before=$HTTP_BODY

http_as "$A_AT" PATCH "/v1/businesses/$b2" '{}'
t_status "PATCH {} (the empty subset): 200" 200
t_field "  name kept" .name "Ada's Trattoria"

http_as "$A_AT" PATCH "/v1/businesses/$b2" "$(jobj id="$fake_id" organization_id=22222222-3333-4444-8555-666666666666 created_at=2001-01-01T00:00:00Z name=Renamed)"
t_status "PATCH with server-owned fields: 200" 200
t_field "  the id is unchanged" .id "$b2"
t_field "  created_at is unchanged" .created_at "$old_created"
t_field "  the name did change" .name Renamed
http_as "$A_AT" GET "/v1/businesses/$fake_id"
t_error "  no object appeared under the id sent" 404 not_found
http_as "$A_AT" GET "/v1/businesses/$b2"
before=$HTTP_BODY

http_as "$A_AT" PATCH "/v1/businesses/$b2" "$(jobj timezone=Mars/Olympus)"
t_fields "PATCH timezone Mars/Olympus" timezone
http_as "$A_AT" PATCH "/v1/businesses/$b2" '{"name": null}'
t_fields "PATCH name null" name
http_as "$A_AT" PATCH "/v1/businesses/$b2" '{"phone_number": null}'
t_fields "PATCH phone_number null" phone_number
http_as "$A_AT" PATCH "/v1/businesses/$b2" "$(jobj name="" phone_number=12 hours:='{"mon":[{"open":"18:00","close":"18:00"}]}')"
t_fields "PATCH three bad fields at once" name phone_number hours
http_as "$A_AT" PATCH "/v1/businesses/$b2" '{"name": '
t_error "PATCH with malformed JSON: 400 invalid_request" 400 invalid_request
http_as "$A_AT" GET "/v1/businesses/$b2"
t_same_json "  refused PATCHes changed nothing" "$HTTP_BODY" "$before"

http_as "$A_AT" PATCH /v1/businesses/00000000-0000-4000-8000-000000000000 "$(jobj name=X)"
t_error "PATCH an unknown id: 404 not_found" 404 not_found
http_as "$A_AT" PATCH /v1/businesses/nope "$(jobj name=X)"
t_error "PATCH a malformed id: 404 not_found" 404 not_found

# ---- DELETE takes the calls and orders along ---------------------------------------------
create_as "$A_AT" /v1/businesses "$(biz_body)"
t_status "a business to delete: 201" 201
bd=$NEW_ID
create_as "$A_AT" /v1/calls "$(call_body "$bd")"
t_status "  with a call: 201" 201
cd1=$NEW_ID
create_as "$A_AT" /v1/orders "$(order_body "$bd" call_id="$cd1")"
t_status "  and an order of that call: 201" 201
od1=$NEW_ID
create_as "$A_AT" /v1/orders "$(order_body "$bd")"
od2=$NEW_ID
create_as "$A_AT" /v1/calls "$(call_body "$b1")"
t_status "a call of another business: 201" 201
ck=$NEW_ID
create_as "$A_AT" /v1/orders "$(order_body "$b1" call_id="$ck")"
ok=$NEW_ID

http_as "$A_AT" DELETE "/v1/businesses/$bd"
t_status "DELETE: 204" 204
t_is "  with no body" "$HTTP_BODY" ""
http_as "$A_AT" GET "/v1/businesses/$bd"
t_error "  then GET: 404 not_found" 404 not_found
http_as "$A_AT" GET "/v1/calls/$cd1"
t_error "  its call is gone: 404 not_found" 404 not_found
http_as "$A_AT" GET "/v1/orders/$od1"
t_error "  its order is gone: 404 not_found" 404 not_found
http_as "$A_AT" GET "/v1/orders/$od2"
t_error "  its other order too" 404 not_found
http_as "$A_AT" DELETE "/v1/businesses/$bd"
t_error "  DELETE again: 404 not_found" 404 not_found
http_as "$A_AT" PATCH "/v1/businesses/$bd" "$(jobj name=Zombie)"
t_error "  PATCH after DELETE: 404 not_found" 404 not_found
http_as "$A_AT" GET '/v1/businesses?limit=100'
t_lacks "  not in the list" "$HTTP_BODY" "$bd"
http_as "$A_AT" GET '/v1/calls?limit=100'
t_lacks "  its call not in the calls list" "$HTTP_BODY" "$cd1"
http_as "$A_AT" GET '/v1/orders?limit=100'
t_lacks "  its orders not in the orders list" "$HTTP_BODY" "$od1"
t_is "  no row of it is left in the tables" \
    "$(suite_psql -c "SELECT (SELECT count(*) FROM tenant.calls WHERE business_id = '$bd')
                           + (SELECT count(*) FROM tenant.orders WHERE business_id = '$bd')")" 0
http_as "$A_AT" GET "/v1/calls/$ck"
t_status "  the other business's call is still there" 200
http_as "$A_AT" GET "/v1/orders/$ok"
t_status "  and its order" 200
t_field "  still linked to its call" .call_id "$ck"
http_as "$A_AT" DELETE /v1/businesses/nope
t_error "DELETE a malformed id: 404 not_found" 404 not_found

# ---- methods and authentication ----------------------------------------------------------------
http_as "$A_AT" PUT "/v1/businesses/$b1" "$(biz_body)"
t_error "PUT /v1/businesses/{id}: 405" 405 method_not_allowed
allow=$(http_header Allow)
t_like "  Allow names GET" "$allow" GET
t_like "  Allow names PATCH" "$allow" PATCH
t_like "  Allow names DELETE" "$allow" DELETE
http_as "$A_AT" DELETE /v1/businesses
t_error "DELETE /v1/businesses: 405" 405 method_not_allowed
http GET /v1/businesses
t_error "GET /v1/businesses without a token: 401" 401 unauthenticated
http POST /v1/businesses "$(biz_body)"
t_error "POST /v1/businesses without a token: 401" 401 unauthenticated
http GET "/v1/businesses/$b1" "" -H "Authorization: Bearer not.a.token"
t_error "GET one with a bad token: 401" 401 unauthenticated

t_done
