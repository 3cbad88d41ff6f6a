#!/usr/bin/env bash
# Failed credentials per client address (SWITCHBOARD_AUTH_FAILURES_PER_MINUTE
# =5): requests without any credential do not count; five refused
# credentials (bad tokens, an unknown API key) get 401; from then on that
# address gets 429 rate_limited with Retry-After before its credential is
# even looked at: a bad token, a valid token, and an unknown API key, which
# no longer costs auth-svc a lookup.
. "$(dirname "$0")/lib/auth.sh"
suite_init
export SWITCHBOARD_AUTH_FAILURES_PER_MINUTE=5
suite_up

signup A a@edge23.example "$AUTH_PASSWORD" Ada "Edge Twenty-Three" || t_bail "cannot sign up"

all=ok
for _ in $(seq 1 10); do
    http GET /v1/me
    [[ $HTTP_STATUS == 401 ]] || all="HTTP $HTTP_STATUS"
done
t_is "requests without a credential: 401, not counted" "$all" ok
http_as "$A_AT" GET /v1/me
t_status "a valid token after them: 200" 200

for i in 1 2 3 4; do
    http_as "bad.token.$i" GET /v1/me
    t_error "bad token $i: 401" 401 unauthenticated
done
http_key sbk_unknown_edge23_000000000000000000 GET /v1/businesses
t_error "an unknown API key: 401 (the fifth failure)" 401 unauthenticated

http_as bad.token.6 GET /v1/me
t_error "the sixth refused credential: 429" 429 rate_limited
t_like "  with Retry-After in seconds" "$(http_header Retry-After)" '^[1-9][0-9]*$'
http_as "$A_AT" GET /v1/me
t_error "a valid token from that address now: 429 too (not looked at)" 429 rate_limited

lookups () { grep -c 'apikeys.resolve ->' "$SUITE_TMP/log/auth-1.log"; }
before=$(lookups)
for _ in 1 2 3; do http_key sbk_unknown_edge23_111111111111111111 GET /v1/businesses; done
t_error "unknown API keys from that address: 429" 429 rate_limited
t_is "  and auth-svc was not asked" "$(lookups)" "$before"

http POST /v1/auth/login "$(jobj email=a@edge23.example password="$AUTH_PASSWORD")"
t_status "routes without authentication are not held back by it" 200
t_done
