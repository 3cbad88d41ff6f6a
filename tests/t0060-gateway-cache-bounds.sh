#!/usr/bin/env bash
# The gateway's caches are bounded and evict one entry at a time (sb/lru.h),
# and eviction only ever costs a lookup, never a wrong answer. With caps far
# below what is used — SWITCHBOARD_GATEWAY_KEY_CACHE=50 (API keys, and as
# many unknown keys), SWITCHBOARD_ENTITLEMENTS_CACHE=4 (organizations, in
# every process), SWITCHBOARD_GATEWAY_RATE_WINDOWS=16 (one window per
# shard, 16 in all) — 17 organizations with 8 API keys each (136 keys; 17
# organizations so that two share a shard whatever the hash: evictions are
# certain, not a matter of the hash seed):
#   - every request with every key succeeds, twice round (each key's entry
#     evicted in between: a round touches 136 keys through a cache of 50);
#   - /metrics shows each cache at or under its cap, at its capacity, with
#     evictions;
#   - a key revoked after its entry was evicted is refused (auth-svc asked
#     again answers 404); after heavy churn (its "unknown" entry evicted
#     too, which auth-svc's log shows as another lookup) it is still
#     refused; a key revoked while cached is refused at once, and stays
#     refused after churn; the other keys keep working.
. "$(dirname "$0")/lib/auth.sh"
suite_init
export SWITCHBOARD_GATEWAY_KEY_CACHE=50
export SWITCHBOARD_ENTITLEMENTS_CACHE=4
export SWITCHBOARD_GATEWAY_RATE_WINDOWS=16
suite_up

log=$SUITE_TMP/log/auth-1.log
lookups () { grep -c '"msg":"apikeys.resolve -> ' "$log"; }

ORGS=17 PER_ORG=8
declare -a KEYS IDS TOKENS
for ((o = 0; o < ORGS; o++)); do
    signup O "cache$o@example.com" "$AUTH_PASSWORD" "Cache $o" "Cache Org $o" "cacheorg$o" \
        || t_bail "signup $o failed"
    TOKENS[o]=$O_AT
    for ((k = 0; k < PER_ORG; k++)); do
        http_as "$O_AT" POST /v1/api-keys "$(jobj name="k$k")"
        [[ $HTTP_STATUS == 201 ]] || t_bail "key $o.$k: HTTP $HTTP_STATUS ${HTTP_BODY:0:200}"
        KEYS+=("$(json_get "$HTTP_BODY" .key)")
        IDS+=("$(json_get "$HTTP_BODY" .id)")
    done
done
N=${#KEYS[@]}
t_is "$N API keys made" "$N" $((ORGS * PER_ORG))

# round [SKIP-INDEX...]: GET /v1/businesses with every key but those; prints
# how many were answered 200.
round () {
    local i s ok=0 skip=" $* "
    for ((i = 0; i < N; i++)); do
        [[ $skip == *" $i "* ]] && continue
        http_key "${KEYS[i]}" GET "/v1/businesses?limit=1"
        [[ $HTTP_STATUS == 200 ]] && ok=$((ok + 1))
    done
    echo "$ok"
}

t_is "round 1: all $N keys answered 200" "$(round)" "$N"
before=$(lookups)
t_is "round 2: all $N again" "$(round)" "$N"
t_ok "  each key asked of auth-svc again (evicted between rounds): $(( $(lookups) - before )) lookups" \
    test $(( $(lookups) - before )) -ge $((N - 50))

# metric NAME CACHE: the value of NAME{cache="CACHE"} in the last scrape.
scrape () {
    http GET /metrics "" -H "Authorization: Bearer $SUITE_OPERATOR_TOKEN"
    [[ $HTTP_STATUS == 200 ]] || t_bail "/metrics: HTTP $HTTP_STATUS"
    METRICS=$HTTP_BODY
}
metric () {
    awk -v want="$1{cache=\"$2\"}" '$1 == want { print $2; found = 1 } END { if (!found) print "absent" }' \
        <<< "$METRICS"
}
scrape
t_is "/metrics: gateway_api_keys capacity 50" "$(metric switchboard_cache_capacity gateway_api_keys)" 50
entries=$(metric switchboard_cache_entries gateway_api_keys)
t_ok "  entries $entries <= 50" test "$entries" -le 50
t_ok "  entries $entries > 0" test "$entries" -gt 0
evictions=$(metric switchboard_cache_evictions_total gateway_api_keys)
t_ok "  evictions $evictions >= $((2 * N - 50))" test "$evictions" -ge $((2 * N - 50))
t_ok "  misses counted" test "$(metric switchboard_cache_misses_total gateway_api_keys)" -ge "$N"
t_is "/metrics: entitlements capacity 4" "$(metric switchboard_cache_capacity entitlements)" 4
entries=$(metric switchboard_cache_entries entitlements)
t_ok "  entries $entries <= 4" test "$entries" -le 4
t_ok "  evictions > 0" test "$(metric switchboard_cache_evictions_total entitlements)" -gt 0
t_is "/metrics: gateway_rate_organizations capacity 16" \
    "$(metric switchboard_cache_capacity gateway_rate_organizations)" 16
entries=$(metric switchboard_cache_entries gateway_rate_organizations)
t_ok "  entries $entries <= 16" test "$entries" -le 16
t_ok "  evictions > 0 (17 organizations, 16 windows)" \
    test "$(metric switchboard_cache_evictions_total gateway_rate_organizations)" -gt 0
t_is "/metrics: gateway_unknown_keys capacity 50" \
    "$(metric switchboard_cache_capacity gateway_unknown_keys)" 50

# Key 0 was last used a whole round ago: 119 keys since, through a cache of
# 50, so its entry is gone. Revoke it (its organization's token), then it
# must be refused: auth-svc, asked again, knows it revoked.
http_as "${TOKENS[0]}" DELETE "/v1/api-keys/${IDS[0]}"
t_status "revoke key 0 (evicted): 204" 204
t_within "  refused within 1 s" 1 401 "GET" "/v1/businesses?limit=1" "" -H "X-API-Key: ${KEYS[0]}"
# Key N-1 was used last: cached when revoked.
http_key "${KEYS[N - 1]}" GET "/v1/businesses?limit=1"
t_status "key $((N - 1)) (cached) works" 200
http_as "${TOKENS[ORGS - 1]}" DELETE "/v1/api-keys/${IDS[N - 1]}"
t_status "revoke key $((N - 1)) (cached): 204" 204
t_within "  refused within 1 s" 1 401 "GET" "/v1/businesses?limit=1" "" -H "X-API-Key: ${KEYS[N - 1]}"

# Heavy churn: two rounds of the other keys, and 60 keys nobody made, so
# that the two revoked keys' "unknown" entries (a cache of 50 too) are
# evicted.
t_is "churn: the $((N - 2)) other keys all answered 200" "$(round 0 $((N - 1)))" $((N - 2))
bogus=0
for ((i = 0; i < 60; i++)); do
    http_key "sbk_$(printf '%08x' $((0x7000000 + i)))_$(printf 'C%.0s' {1..42})$((i % 10))" \
        GET "/v1/businesses?limit=1"
    [[ $HTTP_STATUS == 401 ]] && bogus=$((bogus + 1))
done
t_is "churn: 60 unknown keys, 60 x 401" "$bogus" 60
t_is "churn again: the other keys all 200" "$(round 0 $((N - 1)))" $((N - 2))
before=$(lookups)
http_key "${KEYS[0]}" GET "/v1/businesses?limit=1"
t_error "key 0 after churn: still 401" 401 unauthenticated
http_key "${KEYS[N - 1]}" GET "/v1/businesses?limit=1"
t_error "key $((N - 1)) after churn: still 401" 401 unauthenticated
t_is "  both asked of auth-svc again (their entries were evicted)" "$(( $(lookups) - before ))" 2
http_key "${KEYS[0]}" GET "/v1/businesses?limit=1"
t_error "key 0 once more: 401" 401 unauthenticated
t_is "  now from memory (no lookup)" "$(( $(lookups) - before ))" 2

scrape
entries=$(metric switchboard_cache_entries gateway_api_keys)
t_ok "after the churn: gateway_api_keys entries $entries <= 50" test "$entries" -le 50
entries=$(metric switchboard_cache_entries gateway_unknown_keys)
t_ok "  gateway_unknown_keys entries $entries <= 50" test "$entries" -le 50
t_ok "  gateway_unknown_keys evictions > 0" \
    test "$(metric switchboard_cache_evictions_total gateway_unknown_keys)" -gt 0
t_ok "  the gateway still runs" suite_running gateway-1

t_done
