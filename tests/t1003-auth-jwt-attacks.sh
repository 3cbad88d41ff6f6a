#!/usr/bin/env bash
# Forged and damaged access tokens on GET /v1/me, each 401 unauthenticated:
# alg none, HS256 keyed with the JWKS text or the public key's PEM (algorithm
# confusion), a payload changed under a real signature, a fresh key with an
# unknown kid, expired and not-yet-valid tokens signed with the real key,
# extra segments, 5000 characters. A correctly formed token signed with the
# real key is the positive control. Then key rotation: `auth-svc rotate-keys`,
# old tokens keep working, new ones carry the new kid and work.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

pw=$AUTH_PASSWORD
jwks=$SUITE_TMP/jwks.json
keys=$SWITCHBOARD_DATA_DIR/keys

signup A mallory-target@example.com "$pw" "Ann Admin" "Attack Surface" surface
t_status "signup A: 201" 201
signup B other-org@example.com "$pw" "Ben Other" "Other Org" otherorg
t_status "signup B: 201" 201
t_ok "the JWKS is served" fetch_jwks "$jwks"
kid=$(json_get "$(jwt_tool header "$A_AT" 2>/dev/null)" .kid)
t_like "A's token names a kid" "$kid" '^.+$'
real_key=$keys/$kid.pem
t_ok "the real signing key is $keys/<kid>.pem" test -s "$real_key"
t_like "  and is a PKCS#8 PEM" "$(head -n 1 "$real_key" 2>/dev/null)" '^-----BEGIN PRIVATE KEY-----$'
t_alive "A's real token works" "$A_AT"

# Each case: DESC TOKEN → 401 unauthenticated on /v1/me.
rejected () {
    local desc=$1 tok=$2
    if [[ -z $tok ]]; then
        t_fail "$desc: 401" "    the forged token is empty (jwt_tool failed?)"
        return 1
    fi
    http_as "$tok" GET /v1/me
    t_error "$desc: 401 unauthenticated" 401 unauthenticated
}

# ---- positive control: the real key, well formed ---------------------------
good=$(jwt_tool forge es256 --key "$real_key" --kid "$kid" --from "$A_AT" --iat 0 --exp 600 --new-jti)
http_as "$good" GET /v1/me
t_status "control: a well-formed token signed with the real key is accepted" 200
t_field "control: it is A's user" .user.id "$A_UID"

# ---- unsigned and wrongly signed -------------------------------------------
rejected "alg none" "$(jwt_tool forge none --from "$A_AT" --kid "$kid" --new-jti)"
rejected "alg None" "$(jwt_tool forge none --from "$A_AT" --kid "$kid" --header-set '{"alg":"None"}')"
rejected "alg NONE, no kid" "$(jwt_tool forge none --from "$A_AT" --header-set '{"alg":"NONE"}')"
none=$(jwt_tool forge none --from "$A_AT" --kid "$kid")
rejected "alg none without the trailing dot" "${none%.}"
rejected "alg none with the real signature appended" "${none}${A_AT##*.}"

rejected "HS256 keyed with the JWKS text" \
    "$(jwt_tool forge hs256 --secret-file "$jwks" --from "$A_AT" --kid "$kid")"
rejected "HS256 keyed with the JWKS text (no final newline)" \
    "$(jwt_tool forge hs256 --secret "$(cat "$jwks")" --from "$A_AT" --kid "$kid")"
jwk_one=$("$SUITE_PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps([k for k in d["keys"] if k.get("kid")==sys.argv[2]][0]))' "$jwks" "$kid" 2>/dev/null)
rejected "HS256 keyed with the JWK's JSON" \
    "$(jwt_tool forge hs256 --secret "$jwk_one" --from "$A_AT" --kid "$kid")"
pem=$SUITE_TMP/public.pem
t_ok "a PEM is built from the JWKS" eval 'jwt_tool pem "$jwks" --kid "$kid" > "$pem"'
rejected "HS256 keyed with the public key's PEM" \
    "$(jwt_tool forge hs256 --secret-file "$pem" --from "$A_AT" --kid "$kid")"
rejected "HS256 keyed with the PEM (no final newline)" \
    "$(jwt_tool forge hs256 --secret "$(cat "$pem")" --from "$A_AT" --kid "$kid")"
rejected "HS256 keyed with the PEM, no kid" \
    "$(jwt_tool forge hs256 --secret-file "$pem" --from "$A_AT")"
rejected "HS256 with an empty key" \
    "$(jwt_tool forge hs256 --secret "" --from "$A_AT" --kid "$kid")"

# ---- a real signature over changed claims -----------------------------------
rejected "payload changed: org is another organization" \
    "$(jwt_tool tamper "$A_AT" --set "{\"org\":\"$B_OID\"}")"
rejected "payload changed: sub is another user" \
    "$(jwt_tool tamper "$A_AT" --set "{\"sub\":\"$B_UID\",\"org\":\"$B_OID\"}")"
rejected "payload changed: role admin -> user" \
    "$(jwt_tool tamper "$A_AT" --set '{"role":"user"}')"
rejected "payload changed: exp a day later" \
    "$(jwt_tool tamper "$A_AT" --set "{\"exp\":$(($(date +%s) + 86400))}")"
sig=${A_AT##*.}
rejected "the signature cut short" "${A_AT%.*}.${sig:0:20}"
rejected "no signature" "${A_AT%.*}."
rejected "the signature of another token" "${A_AT%.*}.${B_AT##*.}"

# ---- other keys -------------------------------------------------------------
rejected "a fresh P-256 key with an unknown kid" \
    "$(jwt_tool forge es256-random --from "$A_AT" --new-jti)"
rejected "a fresh P-256 key claiming the real kid" \
    "$(jwt_tool forge es256-random --from "$A_AT" --kid "$kid" --new-jti)"
rejected "the real key with an unknown kid" \
    "$(jwt_tool forge es256 --key "$real_key" --kid "no-such-kid-$RANDOM" --from "$A_AT" --iat 0 --exp 600)"
rejected "a kid that walks out of the key directory" \
    "$(jwt_tool forge es256 --key "$real_key" --kid "../keys/$kid" --from "$A_AT" --iat 0 --exp 600)"

# ---- the real key, bad times -------------------------------------------------
rejected "expired (real key, exp 1100 s ago)" \
    "$(jwt_tool forge es256 --key "$real_key" --kid "$kid" --from "$A_AT" --iat -2000 --exp -1100 --new-jti)"
rejected "not yet valid (real key, iat and nbf in 10 min)" \
    "$(jwt_tool forge es256 --key "$real_key" --kid "$kid" --from "$A_AT" --iat 600 --nbf 600 --exp 1500 --new-jti)"
rejected "not yet valid (real key, nbf in 10 min)" \
    "$(jwt_tool forge es256 --key "$real_key" --kid "$kid" --from "$A_AT" --iat 0 --nbf 600 --exp 900 --new-jti)"
rejected "issued in the future (real key, iat in 10 min)" \
    "$(jwt_tool forge es256 --key "$real_key" --kid "$kid" --from "$A_AT" --iat 600 --exp 1500 --new-jti)"
rejected "no exp (real key)" \
    "$(jwt_tool forge es256 --key "$real_key" --kid "$kid" --from "$A_AT" --set '{"exp":null}' --iat 0 --new-jti)"

# ---- malformed ----------------------------------------------------------------
rejected "an extra 4th segment" "$A_AT.${A_AT##*.}"
rejected "an extra empty 4th segment" "$A_AT."
rejected "two segments" "${A_AT%.*}"
rejected "base64 padding in the segments" "${A_AT%%.*}==.${A_AT#*.}"
long=$(head -c 6000 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
garbage5000="${long:0:1000}.${long:1000:3000}.${long:4000:998}"
t_is "the garbage token has 5000 characters" "${#garbage5000}" 5000
rejected "5000 characters of base64url in three segments" "$garbage5000"
pad=$(printf 'x%.0s' {1..3700})
big=$(jwt_tool tamper "$A_AT" --set "{\"pad\":\"$pad\"}")
t_ok "the padded real token has 5000+ characters (${#big})" test "${#big}" -ge 5000
rejected "a real token padded to 5000+ characters" "$big"
rejected "5000 dots" "$(printf '.%.0s' {1..5000})"

http GET /healthz
t_status "the gateway is still healthy" 200
t_alive "A's real token still works" "$A_AT"

# ---- key rotation --------------------------------------------------------------
old_kid=$kid
out=$( (timeout 60 "$SB_BIN/auth-svc" rotate-keys) 2>&1 )
rc=$?
t_is "auth-svc rotate-keys exits 0" "$rc" 0 || t_diag "$out"
new_files=
for f in "$keys"/*.pem; do
    [[ -e $f && ${f##*/} != "$old_kid.pem" ]] && new_files+="${f##*/} "
done
t_like "a new key file appears in $keys" "$new_files" '\.pem'
t_alive "a token issued before the rotation still works" "$A_AT"
t_alive "a token of another organization issued before still works" "$B_AT"

new_login () {
    login N mallory-target@example.com "$pw" || return 1
    new_kid=$(json_get "$(jwt_tool header "$N_AT")" .kid)
    [[ -n $new_kid && $new_kid != "$old_kid" ]]
}
new_kid=
t_ok "a login after the rotation gets a token with another kid" poll_until 5 new_login
t_note "  old kid $old_kid, new kid ${new_kid:-?}"
t_ok "the new key file is named after the new kid" test -s "$keys/$new_kid.pem"
t_alive "the new token works at the gateway (it learns the new key)" "$N_AT"
t_field "  as A" .user.id "$A_UID"
t_ok "the JWKS is served after the rotation" fetch_jwks "$jwks"
t_like "the JWKS publishes the new kid" "$(cat "$jwks")" "\"kid\": *\"$new_kid\""
t_like "and still the old one" "$(cat "$jwks")" "\"kid\": *\"$old_kid\""
t_ok "the new token verifies from the JWKS alone" \
    jwt_tool verify "$jwks" "$N_AT" --iss "$SWITCHBOARD_PUBLIC_URL"
t_ok "the old token still verifies from the JWKS alone" \
    jwt_tool verify "$jwks" "$A_AT" --iss "$SWITCHBOARD_PUBLIC_URL"
rejected "after the rotation: a fresh key with an unknown kid" \
    "$(jwt_tool forge es256-random --from "$N_AT" --new-jti)"
rejected "after the rotation: the old key under the new kid" \
    "$(jwt_tool forge es256 --key "$real_key" --kid "$new_kid" --from "$N_AT" --iat 0 --exp 600)"

t_done
