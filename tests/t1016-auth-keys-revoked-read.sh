#!/usr/bin/env bash
# A resolved API key is kept past the minute while the gateway reads the
# revoked keys every minute (apikeys.revoked), and a revocation whose event
# never came is still applied by that read. Two keys are used (auth-svc
# resolves each once), then used again after more than a minute: served
# from memory, no new lookup in auth-svc's log (before this change every
# key was looked up again after a minute). Then key B is revoked in SQL,
# behind auth-svc's back, so that no apikey.revoked event is published: the
# gateway refuses it within the next read (at most a minute and a bit),
# although its entry would otherwise have lived ten minutes; key A keeps
# working without a lookup. apikeys.revoked itself: its answer's shape,
# the revoked key listed with its organization, and bad arguments refused.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

log=$SUITE_TMP/log/auth-1.log
lookups () { grep -c '"msg":"apikeys.resolve -> ' "$log"; }
reads () { grep -c '"msg":"apikeys.revoked -> ' "$log"; }

signup O "reads@example.com" "$AUTH_PASSWORD" "Ree Ader" "Reads Org" readsorg \
    || t_bail "signup failed"
declare -a KEYS IDS
for k in a b; do
    http_as "$O_AT" POST /v1/api-keys "$(jobj name="key $k")"
    [[ $HTTP_STATUS == 201 ]] || t_bail "key $k: HTTP $HTTP_STATUS ${HTTP_BODY:0:200}"
    KEYS+=("$(json_get "$HTTP_BODY" .key)")
    IDS+=("$(json_get "$HTTP_BODY" .id)")
done

before=$(lookups)
for i in 0 1; do
    http_key "${KEYS[i]}" GET "/v1/businesses?limit=1"
    t_status "key ${i}: 200" 200
done
t_is "each key looked up once" "$(( $(lookups) - before ))" 2
first_use=$(date +%s)
t_ok "the gateway reads the revoked keys (auth-svc's log)" \
    poll_until 70 eval '(( $(reads) >= 1 ))'

# More than a minute after the lookups, with a read in between.
reads_then=$(reads)
while (( $(date +%s) - first_use < 66 )); do sleep 1; done
t_ok "  and again within the minute" poll_until 70 eval "(( \$(reads) > $reads_then ))"
before=$(lookups)
for i in 0 1; do
    http_key "${KEYS[i]}" GET "/v1/businesses?limit=1"
    t_status "key ${i} after $(( $(date +%s) - first_use )) s: 200" 200
done
t_is "  served from memory: no lookup after the minute" "$(( $(lookups) - before ))" 0

# Revoked behind auth-svc's back: no event reaches the gateway.
suite_psql -c "UPDATE auth.api_keys SET revoked_at = now () WHERE id = '${IDS[1]}'"
revoked_at=$(date +%s)
http_key "${KEYS[1]}" GET "/v1/businesses?limit=1"
t_status "key 1 revoked without an event: still served until the next read" 200
t_within "key 1 refused by the next read of the revoked keys" 75 401 \
    GET "/v1/businesses?limit=1" "" -H "X-API-Key: ${KEYS[1]}"
t_note "  ($(( $(date +%s) - revoked_at )) s after the revocation)"
before=$(lookups)
http_key "${KEYS[0]}" GET "/v1/businesses?limit=1"
t_status "key 0 still served" 200
t_is "  from memory" "$(( $(lookups) - before ))" 0

# The operation, asked directly as a service would.
out=$("$SB_BIN/sb-call" -t 10000 auth apikeys.revoked '{"since_seconds":600}' 2>&1)
t_like "apikeys.revoked lists the key" "$out" "\"${IDS[1]}\""
t_like "  with its organization" "$out" "\"$O_OID\""
t_like "  complete, with the database's clock" "$out" '"complete": ?true.*"now": ?[0-9]{10}|"now": ?[0-9]{10}.*"complete": ?true'
t_unlike "  not the live key" "$out" "\"${IDS[0]}\""
out=$("$SB_BIN/sb-call" -t 10000 auth apikeys.revoked '{"since_seconds":0}' 2>&1)
t_like "since_seconds 0: validation_failed" "$out" 'validation_failed'
out=$("$SB_BIN/sb-call" -t 10000 auth apikeys.revoked '{"since_seconds":"soon"}' 2>&1)
t_like "since_seconds not a number: validation_failed" "$out" 'validation_failed'


t_done
