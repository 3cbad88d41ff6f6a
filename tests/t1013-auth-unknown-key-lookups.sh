#!/usr/bin/env bash
# An unknown API key costs at most one auth-svc lookup, then none for a
# while: the gateway remembers a key auth-svc does not know (by the hash of
# the whole key, for 30 s). Counted from auth-svc's log, one line per
# apikeys.resolve it answered: five requests with one unknown key (as
# X-API-Key, then as Bearer) make one lookup; five with a wrong secret
# behind a real key's prefix make one; every one of them gets 401
# unauthenticated; and the real key with that prefix still works (what is
# remembered is the whole key, not its public prefix, which anyone who
# sees a key list knows). A revoked key, once refused, is refused without
# another lookup.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

log=$SUITE_TMP/log/auth-1.log
lookups () { grep -c '"msg":"apikeys.resolve -> ' "$log"; }
# refused N CURL-ARG...: GET /v1/me N times; prints how many got 401 unauthenticated.
refused () {
    local n=$1 i count=0
    shift
    for ((i = 0; i < n; i++)); do
        http GET /v1/me "" "$@"
        [[ $HTTP_STATUS == 401 && $(json_get "$HTTP_BODY" .error.code) == unauthenticated ]] \
            && count=$((count + 1))
    done
    echo "$count"
}

signup A unk@example.com "$AUTH_PASSWORD" "Una Known" "Unknown Org" unkorg
t_status "signup: 201" 201
http_as "$A_AT" POST /v1/api-keys "$(jobj name=real)"
t_status "a real key: 201" 201
real=$(json_get "$HTTP_BODY" .key)
real_id=$(json_get "$HTTP_BODY" .id)
prefix=$(json_get "$HTTP_BODY" .prefix)
http_key "$real" GET /v1/me
t_status "  it works" 200
t_ok "  its lookup is in auth-svc's log" test "$(lookups)" -ge 1

unknown=sbk_00000000_$(printf 'A%.0s' {1..43})
before=$(lookups)
got=$(( $(refused 5 -H "X-API-Key: $unknown") + $(refused 5 -H "Authorization: Bearer $unknown") ))
t_is "an unknown key, 10 times: 10 × 401 unauthenticated" "$got" 10
t_is "  one auth-svc lookup in all" "$(( $(lookups) - before ))" 1

wrong="${prefix}_$(printf 'B%.0s' {1..43})"
before=$(lookups)
t_is "a wrong secret behind the real prefix, 5 times: 5 × 401" "$(refused 5 -H "X-API-Key: $wrong")" 5
t_is "  one auth-svc lookup in all" "$(( $(lookups) - before ))" 1
http_key "$real" GET /v1/me
t_status "the real key with that prefix still works" 200

http_as "$A_AT" DELETE "/v1/api-keys/$real_id"
t_status "revoke the real key: 204" 204
t_within "  refused within 1 s" 1 401 GET /v1/me "" -H "X-API-Key: $real"
before=$(lookups)
t_is "  then 5 more × 401" "$(refused 5 -H "X-API-Key: $real")" 5
t_is "  with no more lookups" "$(( $(lookups) - before ))" 0

t_done
