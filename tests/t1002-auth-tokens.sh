#!/usr/bin/env bash
# Tokens: the JWKS document and an access token verified from it alone (ES256,
# kid, typ at+jwt, iss/sub/org/role/sid/iat/exp/jti), refresh rotation, reuse
# of a used refresh token revoking its whole family (and that session's
# access tokens within 1 s, other sessions untouched), logout of one session
# and of all, and password change.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

pw=$AUTH_PASSWORD
email=tess@example.com
jwks=$SUITE_TMP/jwks.json

signup S1 "$email" "$pw" "Tess Token" "Token Shop" tokens
t_status "signup: 201" 201

# ---- JWKS -----------------------------------------------------------------
http GET /.well-known/jwks.json
t_status "GET /.well-known/jwks.json without a credential: 200" 200
t_like "the JWKS is JSON" "$(http_header Content-Type)" '^application/(jwk-set\+)?json'
nkeys=$(json_len "$HTTP_BODY" .keys)
t_like "it has at least one key" "${nkeys:-0}" '^[1-9][0-9]*$'
for ((i = 0; i < ${nkeys:-0}; i++)); do
    t_field "key $i: kty EC" ".keys[$i].kty" EC
    t_field "key $i: crv P-256" ".keys[$i].crv" P-256
    t_field "key $i: alg ES256" ".keys[$i].alg" ES256
    t_field "key $i: use sig" ".keys[$i].use" sig
    t_like "key $i: x is base64url of 32 bytes" "$(json_get "$HTTP_BODY" ".keys[$i].x")" '^[A-Za-z0-9_-]{43}$'
    t_like "key $i: y is base64url of 32 bytes" "$(json_get "$HTTP_BODY" ".keys[$i].y")" '^[A-Za-z0-9_-]{43}$'
    t_like "key $i: has a kid" "$(json_get "$HTTP_BODY" ".keys[$i].kid")" '^.+$'
    t_unlike "key $i: no private part" "$(json_get "$HTTP_BODY" ".keys[$i]")" '"d":'
done
t_ok "the JWKS can be saved" fetch_jwks "$jwks"

# ---- the access token -----------------------------------------------------
header=$(jwt_tool header "$S1_AT")
t_is "header alg ES256" "$(json_get "$header" .alg)" ES256
t_is "header typ at+jwt" "$(json_get "$header" .typ)" at+jwt
kid=$(json_get "$header" .kid)
t_like "header has a kid" "$kid" '^.+$'
t_like "the kid is one of the JWKS" "$(cat "$jwks")" "\"kid\": *\"$kid\""
t_ok "the token verifies with PyJWT from the JWKS alone" \
    jwt_tool verify "$jwks" "$S1_AT" --iss "$SWITCHBOARD_PUBLIC_URL"
claims=$(jwt_tool verify "$jwks" "$S1_AT" 2>/dev/null || jwt_tool claims "$S1_AT")
t_is "iss is SWITCHBOARD_PUBLIC_URL" "$(json_get "$claims" .iss)" "$SWITCHBOARD_PUBLIC_URL"
t_is "sub is the user id" "$(json_get "$claims" .sub)" "$S1_UID"
t_is "org is the organization id" "$(json_get "$claims" .org)" "$S1_OID"
t_is "role is admin" "$(json_get "$claims" .role)" admin
sid1=$(json_get "$claims" .sid)
t_like "sid is set" "$sid1" '^.+$'
t_like "jti is set" "$(json_get "$claims" .jti)" '^.+$'
iat=$(json_get "$claims" .iat)
exp=$(json_get "$claims" .exp)
now=$(date +%s)
t_like "iat and exp are integers" "$iat $exp" '^[0-9]+ [0-9]+$'
if [[ $iat =~ ^[0-9]+$ && $exp =~ ^[0-9]+$ ]]; then
    t_ok "0 < exp - iat <= 900 (exp - iat = $((exp - iat)))" test $((exp - iat)) -gt 0 -a $((exp - iat)) -le 900
    t_ok "iat is about now (now - iat = $((now - iat)))" test $((now - iat)) -ge -5 -a $((now - iat)) -le 60
else
    t_fail "0 < exp - iat <= 900" "  iat '$iat', exp '$exp'"
    t_fail "iat is about now"
fi

login S2 "$email" "$pw"
t_status "a second login: 200" 200
claims2=$(jwt_tool claims "$S2_AT" 2>/dev/null)
t_isnt "another session: another sid" "$(json_get "$claims2" .sid)" "$sid1"
t_isnt "another jti" "$(json_get "$claims2" .jti)" "$(json_get "$claims" .jti)"
t_alive "the access token works on /v1/me" "$S1_AT"

# ---- refresh: rotation and reuse detection ---------------------------------
http POST /v1/auth/refresh "$(jobj refresh_token="$S1_RT")"
t_status "refresh: 200" 200
t_field "refresh: token_type Bearer" .token_type Bearer
t_field "refresh: expires_in 900" .expires_in 900
t_like "refresh: an access token (JWT)" "$(json_get "$HTTP_BODY" .access_token)" '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
R1_AT=$(json_get "$HTTP_BODY" .access_token)
R1_RT=$(json_get "$HTTP_BODY" .refresh_token)
t_isnt "refresh: a new refresh token" "$R1_RT" "$S1_RT"
t_isnt "refresh: a new access token" "$R1_AT" "$S1_AT"
t_is "refresh: the same session (sid)" "$(json_get "$(jwt_tool claims "$R1_AT" 2>/dev/null)" .sid)" "$sid1"
t_ok "the refreshed access token verifies" jwt_tool verify "$jwks" "$R1_AT" --iss "$SWITCHBOARD_PUBLIC_URL"
t_alive "the refreshed access token works" "$R1_AT"

http POST /v1/auth/refresh "$(jobj refresh_token="$R1_RT")"
t_status "refreshing again with the newest refresh token: 200" 200
R2_AT=$(json_get "$HTTP_BODY" .access_token)
R2_RT=$(json_get "$HTTP_BODY" .refresh_token)
t_alive "the twice refreshed access token works" "$R2_AT"

# Reuse: the first, already used, refresh token comes back.
http POST /v1/auth/refresh "$(jobj refresh_token="$S1_RT")"
t_error "a used refresh token: 401 invalid_token" 401 invalid_token
http POST /v1/auth/refresh "$(jobj refresh_token="$R2_RT")"
t_error "after the reuse, the newest refresh token of the family: 401 invalid_token" 401 invalid_token
http POST /v1/auth/refresh "$(jobj refresh_token="$R1_RT")"
t_error "and the middle one: 401 invalid_token" 401 invalid_token
t_revoked "the session's newest access token stops working within 1 s" "$R2_AT" 1
t_revoked "the session's first access token too" "$S1_AT" 1
t_revoked "and the one in between" "$R1_AT" 1
t_alive "another session of the user still works" "$S2_AT"
http POST /v1/auth/refresh "$(jobj refresh_token="$S2_RT")"
t_status "and can still refresh" 200
S2_AT=$(json_get "$HTTP_BODY" .access_token)
S2_RT=$(json_get "$HTTP_BODY" .refresh_token)

http POST /v1/auth/refresh "$(jobj refresh_token=garbage)"
t_error "refresh with garbage: 401 invalid_token" 401 invalid_token
http POST /v1/auth/refresh "$(jobj refresh_token="$S2_AT")"
t_error "refresh with an access token: 401 invalid_token" 401 invalid_token
http POST /v1/auth/refresh "$(jobj refresh_token="${S2_RT}x")"
t_error "refresh with an altered refresh token: 401 invalid_token" 401 invalid_token
http POST /v1/auth/refresh '{}'
t_status "refresh without refresh_token: 400" 400
http POST /v1/auth/refresh '{"refresh_token": 42}'
t_status "refresh with a number for refresh_token: 400" 400
t_alive "the refresh attempts above did not hurt the live session" "$S2_AT"

# ---- logout: one session ---------------------------------------------------
login S3 "$email" "$pw"
login S4 "$email" "$pw"
t_alive "session 3 works" "$S3_AT"
t_alive "session 4 works" "$S4_AT"
http POST /v1/auth/logout "$(jobj refresh_token="$S3_RT")"
t_error "logout without a bearer: 401 unauthenticated" 401 unauthenticated
http_as "$S3_AT" POST /v1/auth/logout "$(jobj refresh_token="$S3_RT")"
t_status "logout of session 3: 204" 204
t_is "204 has no body" "$HTTP_BODY" ""
t_revoked "session 3's access token stops working within 1 s" "$S3_AT" 1
http POST /v1/auth/refresh "$(jobj refresh_token="$S3_RT")"
t_error "session 3's refresh token: 401 invalid_token" 401 invalid_token
t_alive "session 4 still works" "$S4_AT"
t_alive "session 2 still works" "$S2_AT"

# Logout with no body: the session is the bearer's.
http_as "$S4_AT" POST /v1/auth/logout '{}'
t_status "logout of session 4 with {}: 204" 204
t_revoked "session 4's access token stops working within 1 s" "$S4_AT" 1
http POST /v1/auth/refresh "$(jobj refresh_token="$S4_RT")"
t_error "session 4's refresh token: 401 invalid_token" 401 invalid_token
t_alive "session 2 still works" "$S2_AT"

# ---- logout: all sessions --------------------------------------------------
login S5 "$email" "$pw"
login S6 "$email" "$pw"
t_alive "session 5 works" "$S5_AT"
t_alive "session 6 works" "$S6_AT"
http_as "$S5_AT" POST /v1/auth/logout '{"all": true}'
t_status "logout all: 204" 204
t_revoked "all: session 5 (the caller) stops within 1 s" "$S5_AT" 1
t_revoked "all: session 6 stops within 1 s" "$S6_AT" 1
t_revoked "all: session 2 stops within 1 s" "$S2_AT" 1
for s in S2 S5 S6; do
    rt_var=${s}_RT
    http POST /v1/auth/refresh "$(jobj refresh_token="${!rt_var}")"
    t_error "all: the refresh token of $s: 401 invalid_token" 401 invalid_token
done
login S7 "$email" "$pw"
t_status "a new login after logout all: 200" 200
t_alive "and its token works" "$S7_AT"

# ---- password change --------------------------------------------------------
new_pw='a brand new passphrase'
http POST /v1/auth/password/change "$(jobj current_password="$pw" new_password="$new_pw")"
t_error "password change without a bearer: 401 unauthenticated" 401 unauthenticated
http_as "$S7_AT" POST /v1/auth/password/change "$(jobj current_password="${pw}-wrong" new_password="$new_pw")"
t_error "password change with a wrong current password: 400/401 invalid_credentials" '400|401' invalid_credentials
http_as "$S7_AT" POST /v1/auth/password/change "$(jobj current_password="$pw" new_password=short)"
t_error "password change to a 5-character password: 400 validation_failed" 400 validation_failed
login X "$email" "$new_pw"
t_error "the refused changes changed nothing" 401 invalid_credentials
http_as "$S7_AT" POST /v1/auth/password/change "$(jobj current_password="$pw" new_password="$new_pw")"
t_status "password change: 204" 204
login X "$email" "$pw"
t_error "login with the old password: 401 invalid_credentials" 401 invalid_credentials
login S8 "$email" "$new_pw"
t_status "login with the new password: 200" 200
t_alive "and its token works" "$S8_AT"

t_done
