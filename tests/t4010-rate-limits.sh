#!/usr/bin/env bash
# Rate limits at the gateway, with a plan catalogue whose free plan allows 20
# API requests a minute. One organization's first 20 authenticated requests
# pass with RateLimit-Remaining 19..0 and RateLimit-Limit, -Reset, -Policy
# and RateLimit on each, whether made with its user's JWT or its API key; the
# 21st gets 429 rate_limited with Retry-After at most 60 s (not forwarded); another
# organization is unaffected. The headers are on errors too (404, 403) but
# not on a 401. The requests admitted reach usage-svc as api_requests within
# seconds, exactly: also those made while usage-svc was down (sent once it is
# back) and those made just before the gateway stops.
# SWITCHBOARD_AUTH_RATE_PER_MINUTE=5: the 6th signup/login/forgot/reset from
# one address in a minute gets 429 rate_limited; 0: none does.
# SWITCHBOARD_RATE_SHARE=2 halves each limit; a bad value stops the gateway
# with a message naming it. The limit comes from billing-svc (the
# organization's entitlement): the gateway never reads the plans file.
. "$(dirname "$0")/lib/auth.sh"
suite_init
plans=$SUITE_TMP/plans.json
"$SUITE_PYTHON" - "$SUITE_ROOT/deploy/plans.json" "$plans" <<'EOF'
import json, sys
catalogue = json.load(open(sys.argv[1]))
for plan in catalogue["plans"]:
    if plan["id"] == "free":
        plan["limits"]["api_requests_per_minute"] = 20
json.dump(catalogue, open(sys.argv[2], "w"), indent=1)
EOF
export SWITCHBOARD_PLANS_FILE=$plans
suite_up

pw=$AUTH_PASSWORD
declare -A made=()   # made[ORG]: authenticated requests admitted

# t_rate DESC REMAINING [LIMIT]: the five headers of the last response.
t_rate () {
    local desc=$1 want=$2 limit=${3:-20} got reset policy rl bad=()
    got=$(http_header RateLimit-Remaining)
    [[ $got == "$want" ]] || bad+=("RateLimit-Remaining '$got', not $want")
    [[ $(http_header RateLimit-Limit) == "$limit" ]] || bad+=("RateLimit-Limit '$(http_header RateLimit-Limit)'")
    reset=$(http_header RateLimit-Reset)
    [[ $reset =~ ^[0-9]+$ ]] && (( reset >= 1 && reset <= 120 )) || bad+=("RateLimit-Reset '$reset'")
    policy=$(http_header RateLimit-Policy)
    [[ $policy == "\"minute\";q=$limit;w=60" ]] || bad+=("RateLimit-Policy '$policy'")
    rl=$(http_header RateLimit)
    [[ $rl == "\"minute\";r=$want;t=$reset" ]] || bad+=("RateLimit '$rl'")
    if (( ${#bad[@]} == 0 )); then t_pass "$desc"
    else t_fail "$desc" "${bad[@]}" "$(_auth_last)"
    fi
}

t_no_rate () {
    if grep -qi '^ratelimit' <<<"$HTTP_HEADERS"; then
        t_fail "$1" "  headers: $HTTP_HEADERS"
    else
        t_pass "$1"
    fi
}

signup A ann@example.com "$pw" "Ann" "Org A" orga || t_bail "cannot sign up A"
signup B bob@example.com "$pw" "Bob" "Org B" orgb || t_bail "cannot sign up B"
t_no_rate "signup (no credential) carries no RateLimit headers"

# ---- one organization, a JWT and an API key ------------------------------------------
http_as "$A_AT" POST /v1/api-keys "$(jobj name="robot")"
t_status "A creates an API key (1st request)" 201
t_rate "  RateLimit headers, remaining 19" 19
a_key=$(json_get "$HTTP_BODY" .key)
made[$A_OID]=1

ok_all=1 rem_ok=1
for ((i = 2; i <= 20; i++)); do
    if (( i % 2 )); then http_as "$A_AT" GET /v1/me; else http_key "$a_key" GET /v1/me; fi
    [[ $HTTP_STATUS == 200 ]] || { ok_all=0; t_diag "request $i: $(_auth_last)"; }
    want=$((20 - i))
    if [[ $(http_header RateLimit-Remaining) != "$want" ]]; then
        rem_ok=0
        t_diag "request $i: RateLimit-Remaining '$(http_header RateLimit-Remaining)', not $want"
    fi
    made[$A_OID]=$((made[$A_OID] + 1))
done
t_is "requests 2..20 of A (JWT and API key alternating) pass" "$ok_all" 1
t_is "  RateLimit-Remaining counts down to 0" "$rem_ok" 1
t_rate "  the 20th: all headers, remaining 0" 0

http_as "$A_AT" GET /v1/me
t_error "the 21st (JWT): 429 rate_limited" 429 rate_limited
retry=$(http_header Retry-After)
t_like "  Retry-After is a positive number of seconds" "$retry" '^[1-9][0-9]*$'
t_ok "  Retry-After at most the window, 60 s (the selftest checks that waiting it out is enough)" test "${retry:-999}" -le 60
t_ok "  RateLimit-Reset at most 60 s too" test "$(http_header RateLimit-Reset)" -le 60
t_rate "  with the RateLimit headers, remaining 0" 0
t_like "  and a request id" "$(json_get "$HTTP_BODY" .error.request_id)" '.+'
http_key "$a_key" GET /v1/me
t_error "the 22nd, with the API key: 429 too" 429 rate_limited
http_as "$A_AT" POST /v1/api-keys "$(jobj name="not made")"
t_error "a write over the limit: 429" 429 rate_limited
rows=$(suite_psql -c "SELECT count(*) FROM auth.api_keys WHERE name = 'not made'" 2>&1)
t_is "  the refused write did not reach auth-svc" "$rows" 0

# ---- another organization; errors carry the headers, 401 does not -------------------
http_as "$B_AT" GET /v1/me
t_status "B is unaffected: 200" 200
t_rate "  its own count: remaining 19" 19
made[$B_OID]=1
http_as "$B_AT" GET /v1/businesses/00000000-0000-4000-8000-000000000000
t_status "B: an unknown business, 404" 404
t_rate "  404 carries the headers, remaining 18" 18
made[$B_OID]=$((made[$B_OID] + 1))
http_as "$B_AT" POST /v1/api-keys "$(jobj name="user robot" role=user)"
t_status "B creates a user-role key" 201
b_key=$(json_get "$HTTP_BODY" .key)
made[$B_OID]=$((made[$B_OID] + 1))
http_key "$b_key" GET /v1/api-keys
t_error "B's user key on an admin route: 403" 403 forbidden
t_rate "  403 carries the headers (and counts): remaining 16" 16
made[$B_OID]=$((made[$B_OID] + 1))
http_as "not-a-token" GET /v1/me
t_error "a bad token: 401" 401 unauthenticated
t_no_rate "  401 carries no RateLimit headers"
http GET /healthz
t_no_rate "/healthz carries no RateLimit headers"

# ---- usage ----------------------------------------------------------------------------
usage_sum () {
    suite_psql -c "SELECT coalesce(sum(quantity), 0) FROM usage.events
                    WHERE metric = 'api_requests' AND organization_id = '$1'" 2>&1
}
usage_is () {
    [[ $(usage_sum "$1") == "$2" ]]
}
t_ok "usage: A's ${made[$A_OID]} admitted requests reach usage-svc within 5 s" \
     poll_until 5 usage_is "$A_OID" "${made[$A_OID]}"
t_ok "usage: B's ${made[$B_OID]} within 5 s" poll_until 5 usage_is "$B_OID" "${made[$B_OID]}"
ids=$(suite_psql -c "SELECT count(*) FROM usage.events WHERE metric = 'api_requests'
                      AND event_id !~ '^gw-[0-9a-f]+:[0-9a-f-]{36}:[0-9]+$'" 2>&1)
t_is "  event ids are <gateway>:<org>:<second>" "$ids" 0
dup=$(suite_psql -c "SELECT count(*) FROM (SELECT organization_id, occurred_at FROM usage.events
                      WHERE metric = 'api_requests' GROUP BY 1, 2 HAVING count(*) > 1) d" 2>&1)
t_is "  one event per organization and second" "$dup" 0

# usage-svc down: the counts wait in the gateway and go, same ids, once it is back.
t_ok "usage-svc stops" suite_stop usage-1
for ((i = 0; i < 3; i++)); do
    http_as "$B_AT" GET /v1/me
    [[ $HTTP_STATUS == 200 ]] && made[$B_OID]=$((made[$B_OID] + 1))
done
sleep 2.5
t_is "  B's requests meanwhile are not in usage.events yet" "$(usage_sum "$B_OID")" 4
suite_start_service usage
t_ok "  once usage-svc is back, they arrive (${made[$B_OID]}) within 10 s" \
     poll_until 10 usage_is "$B_OID" "${made[$B_OID]}"

# Requests made just before the gateway stops are sent as it stops.
for ((i = 0; i < 5; i++)); do
    http_key "$b_key" GET /v1/me
    [[ $HTTP_STATUS == 200 ]] && made[$B_OID]=$((made[$B_OID] + 1))
done
t_ok "the gateway stops cleanly" suite_stop gateway-1
t_ok "  B's requests up to the stop reach usage-svc (${made[$B_OID]})" \
     poll_until 5 usage_is "$B_OID" "${made[$B_OID]}"

# ---- auth endpoints per client address ------------------------------------------------
SWITCHBOARD_AUTH_RATE_PER_MINUTE=5 suite_start_gateway 1
suite_wait_ready 30 || t_bail "the gateway did not come back"
codes=()
login X ann@example.com "$pw";                                 codes+=("$HTTP_STATUS")
signup C carol@example.com "$pw" "Carol" "Org C" orgc;         codes+=("$HTTP_STATUS")
http POST /v1/auth/password/forgot "$(jobj email=ann@example.com)"; codes+=("$HTTP_STATUS")
login X bob@example.com "$pw";                                 codes+=("$HTTP_STATUS")
http POST /v1/auth/password/reset "$(jobj token=nonsense password="$pw")"; codes+=("$HTTP_STATUS")
t_is "AUTH_RATE 5: login, signup, forgot, login, reset from one address pass" \
     "${codes[*]}" "200 201 202 200 400"
login X ann@example.com "$pw"
t_error "  the 6th (login): 429 rate_limited" 429 rate_limited
t_like "  with Retry-After" "$(http_header Retry-After)" '^[1-9][0-9]*$'
http POST /v1/auth/signup "$(jobj email=dan@example.com password="$pw" name=Dan organization_name="Org D")"
t_error "  signup: 429" 429 rate_limited
http POST /v1/auth/password/forgot "$(jobj email=ann@example.com)"
t_error "  forgot: 429" 429 rate_limited
http POST /v1/auth/password/reset "$(jobj token=nonsense password="$pw")"
t_error "  reset: 429" 429 rate_limited
http POST /v1/auth/refresh "$(jobj refresh_token=nonsense)"
t_status "  refresh is not limited by address" 401
http_as "$C_AT" GET /v1/me
t_status "  an authenticated request is not limited by address" 200
made[$C_OID]=1

suite_stop gateway-1
SWITCHBOARD_AUTH_RATE_PER_MINUTE=0 suite_start_gateway 1
suite_wait_ready 30 || t_bail "the gateway did not come back"
codes=()
for ((i = 0; i < 8; i++)); do
    login X ann@example.com "$pw"; codes+=("$HTTP_STATUS")
done
t_is "AUTH_RATE 0: 8 logins in a row pass" "${codes[*]}" "200 200 200 200 200 200 200 200"

# ---- several gateways, bad configuration ------------------------------------------------
suite_stop gateway-1
SWITCHBOARD_RATE_SHARE=2 suite_start_gateway 1
suite_wait_ready 30 || t_bail "the gateway did not come back"
http_as "$C_AT" GET /v1/me
t_status "RATE_SHARE=2: C's request passes" 200
t_rate "  this gateway's share: 10 a minute" 9 10
made[$C_OID]=$((made[$C_OID] + 1))
t_ok "usage: C's requests through two gateway runs (${made[$C_OID]})" \
     poll_until 5 usage_is "$C_OID" "${made[$C_OID]}"
suite_stop gateway-1

SWITCHBOARD_RATE_SHARE=zero suite_start_gateway bad-share
t_ok "a bad RATE_SHARE stops the gateway" poll_until 10 eval '! suite_running gateway-bad-share'
t_like "  naming the variable" "$(cat "$SUITE_TMP/log/gateway-bad-share.log")" 'SWITCHBOARD_RATE_SHARE'

t_done
