#!/usr/bin/env bash
# The gateway's HTTP contract: health, request ids, JSON errors for unknown
# paths, wrong methods, oversized and malformed bodies, and a JSON body's
# exact round trip through gateway, bus, worker and back.
. "$(dirname "$0")/lib/suite.sh"
suite_init
suite_up

http GET /healthz
t_is "healthz answers 200" "$HTTP_STATUS" 200
t_is "healthz says ok" "$(json_get "$HTTP_BODY" .status)" ok
t_like "healthz is JSON" "$(http_header Content-Type)" '^application/json'
t_like "a request id is generated" "$(http_header X-Request-Id)" '^[0-9a-f]{32}$'

http GET /healthz "" -H 'X-Request-Id: client-id.42:x'
t_is "a sane client request id is kept" "$(http_header X-Request-Id)" "client-id.42:x"
http GET /healthz "" -H 'X-Request-Id: has spaces and "quotes"'
t_like "an insane client request id is replaced" "$(http_header X-Request-Id)" '^[0-9a-f]{32}$'
http GET /healthz "" -H "X-Request-Id: $(printf 'x%.0s' {1..65})"
t_like "a 65-character request id is replaced" "$(http_header X-Request-Id)" '^[0-9a-f]{32}$'

http HEAD /healthz
t_is "HEAD works where GET does" "$HTTP_STATUS" 200

http GET /readyz
t_is "readyz answers 200 with every worker up" "$HTTP_STATUS" 200
t_is "readyz counts the tenant worker" "$(json_get "$HTTP_BODY" .services.tenant)" 1

http GET /no/such/path
t_is "unknown path: 404" "$HTTP_STATUS" 404
t_is "unknown path: not_found" "$(json_get "$HTTP_BODY" .error.code)" not_found
t_is "errors carry the request id" "$(json_get "$HTTP_BODY" .error.request_id)" "$(http_header X-Request-Id)"
t_ok "errors have a message" json_get "$HTTP_BODY" .error.message

http DELETE /healthz
t_is "wrong method: 405" "$HTTP_STATUS" 405
t_is "wrong method: method_not_allowed" "$(json_get "$HTTP_BODY" .error.code)" method_not_allowed
t_is "405 lists the allowed methods" "$(http_header Allow)" GET
http PUT /v1/sys/ping/tenant '{}'
t_is "405 on a service path lists both methods" "$(http_header Allow)" "GET, POST"

big=$SUITE_TMP/big.json
head -c 1100000 /dev/zero | tr '\0' 'a' | sed 's/^/{"a":"/; s/$/"}/' > "$big"
http_op POST /v1/sys/ping/tenant "" --data-binary "@$big" -H 'Content-Type: application/json'
t_is "a body over 1 MiB: 413" "$HTTP_STATUS" 413
t_is "413 is a JSON error" "$(json_get "$HTTP_BODY" .error.code)" payload_too_large
http_op POST /v1/sys/ping/tenant "" --data-binary "@$big" -H 'Transfer-Encoding: chunked'
t_is "a chunked body over 1 MiB: 413" "$HTTP_STATUS" 413
small=$SUITE_TMP/small.json
head -c 1000000 /dev/zero | tr '\0' 'b' | sed 's/^/{"a":"/; s/$/"}/' > "$small"
http_op POST /v1/sys/ping/tenant "" --data-binary "@$small" -H 'Content-Type: application/json'
t_is "a body just under 1 MiB passes" "$HTTP_STATUS" 200
t_is "and arrives whole" "$(json_len "$HTTP_BODY" .echo.a)" 1000000

for body in '{"a":' '{"a":1}x' '{"a":1,"a":2}' 'nul' '{"a":"\ud800"}' '{"a":"\u0000"}'; do
    http_op POST /v1/sys/ping/tenant "$body"
    t_is "malformed JSON $body: 400" "$HTTP_STATUS" 400
    t_is "malformed JSON $body: invalid_request" "$(json_get "$HTTP_BODY" .error.code)" invalid_request
done
printf '{"a":"\xff\xfe"}' > "$SUITE_TMP/bad-utf8.json"
http_op POST /v1/sys/ping/tenant "" --data-binary "@$SUITE_TMP/bad-utf8.json"
t_is "invalid UTF-8 in the body: 400" "$HTTP_STATUS" 400
http_op POST /v1/sys/ping/tenant '[1,2]'
t_is "a body that is not an object: 400" "$HTTP_STATUS" 400
deep=$(printf '[%.0s' {1..17})$(printf ']%.0s' {1..17})
http_op POST /v1/sys/ping/tenant "{\"a\":$deep}"
t_is "a body nested too deep: 400" "$HTTP_STATUS" 400
http_op GET '/v1/sys/ping/tenant?q=%ff'
t_is "a query parameter that is not UTF-8: 400" "$HTTP_STATUS" 400

# The round trip: what the client sends is what the worker decodes.
body='{"s":"héllo \"wörld\" \\ \n\t\u0001 😀","i":-9223372036854775808,"j":9223372036854775807,"f":2.5,"t":true,"n":null,"a":[1,[2,{"k":"v"}],{}],"o":{"p":{"q":[]}}}'
http_op POST /v1/sys/ping/tenant "$body"
t_is "echo: 200" "$HTTP_STATUS" 200
t_is "echo: served by tenant" "$(json_get "$HTTP_BODY" .service)" tenant
want=$(json_get "$body" .)
got=$(json_get "$HTTP_BODY" .echo)
t_is "echo: the body comes back exactly" "$got" "$want"
http_op GET '/v1/sys/ping/usage?limit=20&status=completed&empty='
t_is "query parameters reach the service" "$(json_get "$HTTP_BODY" .echo)" '{"empty":"","limit":"20","status":"completed"}'

# Garbage never gets a 5xx.
fives=0
for i in $(seq 1 40); do
    head -c $((RANDOM % 300 + 1)) /dev/urandom > "$SUITE_TMP/junk"
    http_op POST /v1/sys/ping/billing "" --data-binary "@$SUITE_TMP/junk"
    [[ $HTTP_STATUS == 5* || $HTTP_STATUS == 000 ]] && fives=$((fives + 1))
done
t_is "40 random bodies: no 5xx" "$fives" 0
t_ok "the gateway is still alive" suite_running gateway-1

t_done
