#!/usr/bin/env bash
# The /v1/sys routes are the operator's. With SWITCHBOARD_OPERATOR_TOKEN set,
# GET and POST /v1/sys/ping/{svc} answer 401 (JSON, WWW-Authenticate) to no
# credential, a wrong token and a user's access token, and echo nothing;
# with "Authorization: Bearer <the token>" they answer 200 with the worker
# and, for POST, the echo. With the setting unset they answer 404 to
# everyone. A token shorter than 32 characters stops the gateway at start
# with a message naming the setting.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

signup A a@edge24.example "$AUTH_PASSWORD" Ada "Edge Twenty-Four" || t_bail "cannot sign up"

http GET /v1/sys/ping/tenant
t_error "no credential: 401" 401 unauthenticated
t_is "  WWW-Authenticate: Bearer" "$(http_header WWW-Authenticate)" Bearer
t_lacks "  no worker id shown" "$HTTP_BODY" worker
http POST /v1/sys/ping/auth '{"secret":"echo me"}'
t_error "POST without credential: 401" 401 unauthenticated
t_lacks "  nothing echoed" "$HTTP_BODY" "echo me"
http GET /v1/sys/ping/usage "" -H "Authorization: Bearer ${SUITE_OPERATOR_TOKEN}x"
t_error "a wrong operator token: 401" 401 unauthenticated
http GET /v1/sys/ping/usage "" -H "Authorization: Bearer ${SUITE_OPERATOR_TOKEN:0:20}"
t_error "a prefix of the operator token: 401" 401 unauthenticated
http_as "$A_AT" GET /v1/sys/ping/billing
t_error "an admin's access token: 401" 401 unauthenticated

http_op GET /v1/sys/ping/tenant
t_status "the operator's token: 200" 200
t_ok "  names the worker" json_get "$HTTP_BODY" .worker
http_op POST /v1/sys/ping/auth '{"secret":"echo me"}'
t_status "POST with the operator's token: 200" 200
t_is "  echoes the body" "$(json_get "$HTTP_BODY" .echo.secret)" "echo me"

suite_stop gateway-1 || t_fail "the gateway stops cleanly"
SWITCHBOARD_OPERATOR_TOKEN= suite_start_gateway
suite_wait_ready 60 || t_bail "the gateway did not come back"
http_op GET /v1/sys/ping/tenant
t_error "no operator token configured: 404, even with the old token" 404 not_found
http GET /v1/sys/ping/tenant
t_error "  and without" 404 not_found

suite_stop gateway-1 || t_fail "the gateway stops again"
out=$(SWITCHBOARD_OPERATOR_TOKEN=too-short timeout 30 "$SB_BIN/gateway" 2>&1)
t_isnt "a short operator token: the gateway does not start" "$?" 0
t_like "  and says why" "$out" 'SWITCHBOARD_OPERATOR_TOKEN'
t_done
