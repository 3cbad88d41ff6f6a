#!/usr/bin/env bash
# Work before authentication: a request to an authenticated route is decided
# from its headers alone. Headers announcing a 900 KB body with
# "Expect: 100-continue" and no credential, a bad or tampered token, or an
# API key never seen (which needs auth-svc's lookup first) get their 401 as
# a JSON error without the gateway asking for the body, which is never sent.
# A valid token is told "100 Continue", and the whole request with its body
# still works (201). An unknown path or a wrong method is answered at once
# too; a malformed body without a credential gets 401, not 400.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

probe () { "$SUITE_PYTHON" "$SUITE_ROOT/tests/lib/edge_probe.py" "$@"; }
P=$SWITCHBOARD_HTTP_PORT

signup A a@edge20.example "$AUTH_PASSWORD" Ada "Edge Twenty" || t_bail "cannot sign up"

mapfile -t r < <(probe early "$P" POST /v1/businesses 900000)
t_is "no credential, 900 KB announced: 401 before the body" "${r[0]}" 401
t_is "  a JSON error" "$(json_get "${r[1]}" .error.code)" unauthenticated

mapfile -t r < <(probe early "$P" POST /v1/businesses 900000 "Authorization: Bearer not.a.token")
t_is "a bad token: 401 before the body" "${r[0]}" 401

mapfile -t r < <(probe early "$P" POST /v1/usage/events 900000 "X-API-Key: sbk_never_seen_0123456789abcdef")
t_is "an unknown API key (looked up in auth-svc): 401 before the body" "${r[0]}" 401
t_is "  a JSON error" "$(json_get "${r[1]}" .error.code)" unauthenticated

mapfile -t r < <(probe early "$P" PATCH /v1/organization 900000 "Authorization: Bearer $A_AT")
t_is "a valid token is asked for its body (100 Continue)" "${r[0]}" 100

mapfile -t r < <(probe early "$P" POST /v1/businesses 900000 "Authorization: Bearer $A_AT.x")
t_is "a tampered token: 401 before the body" "${r[0]}" 401

mapfile -t r < <(probe early "$P" POST /no/such/path 900000)
t_is "unknown path with a body announced: 404 at once" "${r[0]}" 404
mapfile -t r < <(probe early "$P" POST /healthz 900000)
t_is "wrong method with a body announced: 405 at once" "${r[0]}" 405

# The normal path still works: token, body, 201; and a body sent with the
# headers (no Expect) to a route refused is not parsed: 401, not 400.
http_as "$A_AT" POST /v1/businesses "$(jobj name="Edge" phone_number=+33140000020 timezone=Europe/Paris)"
t_status "a valid token with its body: 201" 201
http POST /v1/businesses '{"name":'
t_error "no token and a malformed body: 401 (the body is not looked at)" 401 unauthenticated
http_as "$A_AT" POST /v1/businesses '{"name":'
t_error "a token and a malformed body: 400" 400 invalid_request
t_done
