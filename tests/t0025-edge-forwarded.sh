#!/usr/bin/env bash
# The client behind a proxy. With SWITCHBOARD_TRUSTED_PROXIES=127.0.0.1 (the
# test's own address) the rightmost X-Forwarded-For entry that is not a
# trusted proxy is the client: two clients behind the proxy are limited
# apart (SWITCHBOARD_AUTH_FAILURES_PER_MINUTE=3), a trusted hop on the right
# is skipped, a malformed header falls back to the TCP peer, IPv6 clients of
# one /64 share a limit and another /64 does not, and the audit log records
# the forwarded address. With only 10.0.0.0/8 trusted, X-Forwarded-For from
# 127.0.0.1 is ignored: every "client" shares the peer's limit.
. "$(dirname "$0")/lib/auth.sh"
suite_init
export SWITCHBOARD_AUTH_FAILURES_PER_MINUTE=3
export SWITCHBOARD_TRUSTED_PROXIES="10.0.0.0/8, 127.0.0.1"
suite_up

signup A a@edge25.example "$AUTH_PASSWORD" Ada "Edge Twenty-Five" || t_bail "cannot sign up"

# Three refused tokens from the client named in $1, then the status of a
# fourth into $fourth.
exhaust () {
    local xff=$1 i
    for i in 1 2 3; do http_as "bad.$i" GET /v1/me "" -H "X-Forwarded-For: $xff"; done
    http_as bad.4 GET /v1/me "" -H "X-Forwarded-For: $xff"
    fourth=$HTTP_STATUS
}

exhaust 203.0.113.1
t_is "client 203.0.113.1 behind the proxy: limited after 3 failures" "$fourth" 429
http_as bad.x GET /v1/me "" -H "X-Forwarded-For: 203.0.113.2"
t_error "client 203.0.113.2 behind the same proxy: its own limit" 401 unauthenticated
http_as bad.x GET /v1/me "" -H "X-Forwarded-For: spoofed, 203.0.113.1, 10.1.2.3"
t_error "the same client through one more trusted hop: still limited" 429 rate_limited
http_as bad.x GET /v1/me "" -H "X-Forwarded-For: 203.0.113.1" -H "X-Forwarded-For: 198.51.100.9"
t_error "two headers read as one list, rightmost first: 198.51.100.9" 401 unauthenticated
http_as bad.x GET /v1/me "" -H "X-Forwarded-For: 203.0.113.1, not-an-address"
t_error "a malformed entry: the TCP peer, which is not limited yet" 401 unauthenticated
http_as "$A_AT" GET /v1/me
t_status "the proxy's own requests are not held back by its clients" 200

exhaust 2001:db8:1:2::1
t_is "IPv6 client: limited after 3 failures" "$fourth" 429
http_as bad.x GET /v1/me "" -H "X-Forwarded-For: 2001:db8:1:2:ffff::9"
t_error "another address of the same /64: the same limit" 429 rate_limited
http_as bad.x GET /v1/me "" -H "X-Forwarded-For: [2001:db8:1:3::1]:4711"
t_error "an address of another /64: its own limit" 401 unauthenticated

http_as "$A_AT" POST /v1/api-keys "$(jobj name=forwarded role=user)" -H "X-Forwarded-For: 198.51.100.23"
t_status "an API key created from behind the proxy" 201
http_as "$A_AT" GET /v1/audit-log
t_is "the audit log records the forwarded address" "$(json_get "$HTTP_BODY" '.data[0].ip')" 198.51.100.23

suite_stop gateway-1 || t_fail "the gateway stops cleanly"
SWITCHBOARD_TRUSTED_PROXIES=10.0.0.0/8 suite_start_gateway
suite_wait_ready 60 || t_bail "the gateway did not come back"
http_as "$A_AT" POST /v1/api-keys "$(jobj name=direct role=user)" -H "X-Forwarded-For: 198.51.100.24"
t_status "an API key created with X-Forwarded-For from an untrusted peer" 201
http_as "$A_AT" GET /v1/audit-log
t_is "  the audit log records the TCP peer" "$(json_get "$HTTP_BODY" '.data[0].ip')" 127.0.0.1
exhaust 192.0.2.1
t_is "untrusted peer: limited after 3 failures" "$fourth" 429
http_as bad.x GET /v1/me "" -H "X-Forwarded-For: 192.0.2.2"
t_error "  another X-Forwarded-For changes nothing (it is ignored)" 429 rate_limited
t_done
