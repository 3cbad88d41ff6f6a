#!/usr/bin/env bash
# API keys: create (201 with the secret once; prefix, sbk_, role user by
# default or admin), the list (never the secret), use as Bearer and as
# X-API-Key on /v1/me with the key's role, last_used_at set within 10 s of a
# use, a wrong secret behind a valid prefix refused, revocation effective
# within 1 s, expiry (a key expiring in 2 s works, then not), expires_at in
# the past refused, a `user` key refused on admin routes.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

pw=$AUTH_PASSWORD
uuid_re='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
time_re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|\+00:00)$'

signup A kay@example.com "$pw" "Kay Keys" "Key Org" keyorg
t_status "signup A: 201" 201

# ---- create --------------------------------------------------------------------------
http_as "$A_AT" POST /v1/api-keys "$(jobj name="CI pipeline")"
t_status "create a key: 201" 201
k1_body=$HTTP_BODY
k1_id=$(json_get "$k1_body" .id)
k1=$(json_get "$k1_body" .key)
k1_prefix=$(json_get "$k1_body" .prefix)
t_like "  id is a UUID" "$k1_id" "$uuid_re"
t_field "  name" .name "CI pipeline"
t_field "  role defaults to user" .role user
t_like "  created_at" "$(json_get "$k1_body" .created_at)" "$time_re"
t_field "  expires_at null" .expires_at null
t_like "  the key starts with sbk_" "$k1" '^sbk_.{16,}$'
t_like "  a prefix is given" "$k1_prefix" '^sbk_.+$'
t_ok "  the key starts with its prefix" test -n "$k1_prefix" -a "${k1:0:${#k1_prefix}}" == "$k1_prefix"
t_ok "  the prefix is not the whole key" test "${#k1_prefix}" -lt "${#k1}"

http_as "$A_AT" POST /v1/api-keys "$(jobj name="Admin robot" role=admin)"
t_status "create an admin key: 201" 201
t_field "  role admin" .role admin
k2_id=$(json_get "$HTTP_BODY" .id)
t_isnt "  another id" "$k2_id" "$k1_id"
k2=$(json_get "$HTTP_BODY" .key)
k2_prefix=$(json_get "$HTTP_BODY" .prefix)
t_isnt "  another key" "$k2" "$k1"

http_as "$A_AT" POST /v1/api-keys "$(jobj name=bad role=owner)"
t_status "an unknown role: 400" 400
http_as "$A_AT" POST /v1/api-keys '{}'
t_status "no name: 400" 400
http_as "$A_AT" POST /v1/api-keys "$(jobj name=old expires_at=2020-01-01T00:00:00Z)"
t_error "expires_at in the past: 400 validation_failed" 400 validation_failed
http_as "$A_AT" POST /v1/api-keys "$(jobj name=soon expires_at="next tuesday")"
t_status "expires_at that is not a time: 400" 400
http POST /v1/api-keys "$(jobj name=anon)"
t_error "create without a credential: 401 unauthenticated" 401 unauthenticated

# ---- list ------------------------------------------------------------------------------
http_as "$A_AT" GET /v1/api-keys
t_status "GET /v1/api-keys: 200" 200
list=$HTTP_BODY
t_is "  two keys" "$(json_len "$list" .data)" 2
t_field "  next_cursor null" .next_cursor null
t_unlike "  no \"key\" field anywhere" "$list" '"key"[[:space:]]*:'
t_lacks "  the first key's secret part is nowhere in the body" "$list" "${k1:${#k1_prefix}}"
t_lacks "  the second key's secret part is nowhere in the body" "$list" "${k2:${#k2_prefix}}"
item=$("$SUITE_PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps([k for k in d.get("data",[]) if k.get("id")==sys.argv[2]][0]))' "$list" "$k1_id" 2>/dev/null)
for f in id name prefix role created_at last_used_at expires_at revoked_at; do
    t_ok "  items carry $f" json_get "$item" ".$f"
done
t_is "  the first key's prefix" "$(json_get "$item" .prefix)" "$k1_prefix"
t_is "  never used yet" "$(json_get "$item" .last_used_at)" null
t_is "  not revoked" "$(json_get "$item" .revoked_at)" null

# ---- use ------------------------------------------------------------------------------
http_as "$k1" GET /v1/me
t_status "the key as Authorization: Bearer on /v1/me: 200" 200
t_field "  the organization" .organization.id "$A_OID"
t_field "  role user" .role user
http_key "$k1" GET /v1/me
t_status "the key as X-API-Key: 200" 200
t_field "  the organization" .organization.id "$A_OID"
t_field "  role user" .role user
http_key "$k1" GET /v1/api-keys
t_error "the user key on an admin route: 403 forbidden" 403 forbidden
http_key "$k1" POST /v1/api-keys "$(jobj name=escalate role=admin)"
t_error "the user key cannot make an admin key: 403 forbidden" 403 forbidden
http_key "$k2" GET /v1/me
t_field "the admin key: role admin" .role admin
http_key "$k2" GET /v1/api-keys
t_status "the admin key on an admin route: 200" 200

k1_used () {
    http_as "$A_AT" GET /v1/api-keys
    "$SUITE_PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); k=[k for k in d["data"] if k["id"]==sys.argv[2]][0]; sys.exit(0 if k.get("last_used_at") else 1)' \
        "$HTTP_BODY" "$k1_id" 2>/dev/null
}
t_ok "last_used_at is set within 10 s of a use" poll_until 10 k1_used
item=$("$SUITE_PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps([k for k in d.get("data",[]) if k.get("id")==sys.argv[2]][0]))' "$HTTP_BODY" "$k1_id" 2>/dev/null)
t_like "  an RFC 3339 time" "$(json_get "$item" .last_used_at)" "$time_re"

# ---- wrong secrets ----------------------------------------------------------------------
last=${k1: -1}
[[ $last == A ]] && other=B || other=A
http_key "${k1%?}$other" GET /v1/me
t_error "the prefix with a wrong last character: 401 unauthenticated" 401 unauthenticated
rest=${k1:${#k1_prefix}}
wrong=$k1_prefix$(printf '%s' "$rest" | tr 'A-Za-z0-9' 'N-ZA-Mn-za-m5-90-4')
http_as "$wrong" GET /v1/me
t_error "the prefix with another secret of the same length (Bearer): 401" 401 unauthenticated
http_key "$k1_prefix" GET /v1/me
t_error "the prefix alone: 401 unauthenticated" 401 unauthenticated
http_key "${k1}x" GET /v1/me
t_error "the key with a character added: 401 unauthenticated" 401 unauthenticated
http_key "sbk_" GET /v1/me
t_error "sbk_ alone: 401 unauthenticated" 401 unauthenticated
http_key "" GET /v1/me
t_error "an empty X-API-Key: 401 unauthenticated" 401 unauthenticated
http_key "$k1" GET /v1/me
t_status "the real key still works after the wrong ones" 200

# ---- revoke -----------------------------------------------------------------------------
http_as "$A_AT" DELETE "/v1/api-keys/$k1_id"
t_status "revoke the first key: 204" 204
t_within "  it stops working (X-API-Key) within 1 s" 1 401 GET /v1/me "" -H "X-API-Key: $k1"
t_within "  and as Bearer" 1 401 GET /v1/me "" -H "Authorization: Bearer $k1"
t_field "  401 unauthenticated" .error.code unauthenticated
http_key "$k2" GET /v1/me
t_status "the other key still works" 200
http_as "$A_AT" GET /v1/api-keys
item=$("$SUITE_PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); m=[k for k in d.get("data",[]) if k.get("id")==sys.argv[2]]; print(json.dumps(m[0]) if m else "gone")' "$HTTP_BODY" "$k1_id" 2>/dev/null)
if [[ $item == gone ]]; then
    t_pass "the revoked key is gone from the list"
else
    t_like "the revoked key is listed with revoked_at" "$(json_get "$item" .revoked_at)" "$time_re"
fi
http_as "$A_AT" DELETE "/v1/api-keys/00000000-0000-4000-8000-000000000000"
t_error "revoking an unknown key: 404 not_found" 404 not_found

# ---- expiry -------------------------------------------------------------------------------
exp_epoch=$(( $(date +%s) + 3 ))
exp_at=$(date -u -d "@$exp_epoch" +%Y-%m-%dT%H:%M:%SZ)
http_as "$A_AT" POST /v1/api-keys "$(jobj name=short-lived expires_at="$exp_at")"
t_status "a key expiring in 2-3 s: 201" 201
got_exp=$(json_get "$HTTP_BODY" .expires_at)
t_is "  expires_at as given ($got_exp)" "$(date -u -d "$got_exp" +%s 2>/dev/null)" "$exp_epoch"
k3=$(json_get "$HTTP_BODY" .key)
http_key "$k3" GET /v1/me
t_status "  works before it expires" 200
while (( $(date +%s) <= exp_epoch )); do sleep 0.2; done
sleep 1
http_key "$k3" GET /v1/me
t_error "  401 unauthenticated once expires_at has passed" 401 unauthenticated

http_key "$k2" GET /v1/me
t_status "the admin key still works at the end" 200

t_done
