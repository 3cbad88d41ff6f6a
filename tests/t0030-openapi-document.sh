#!/usr/bin/env bash
# GET /openapi.json: the OpenAPI 3.1 document, without credentials, as JSON,
# cacheable, byte for byte the build's docs/openapi.json (docs/openapi.yaml
# converted), with every operation of the API; HEAD answers its headers,
# another method 405. The checker of the suite's responses
# (tests/lib/openapi_check.py, run by t_done on every script) passes a
# response that fits and fails one whose status or body does not.
. "$(dirname "$0")/lib/suite.sh"
suite_init
suite_up

http GET /openapi.json
t_is "GET /openapi.json answers 200 without credentials" "$HTTP_STATUS" 200
t_like "as application/json" "$(http_header Content-Type)" '^application/json'
t_like "cacheable" "$(http_header Cache-Control)" 'public, max-age=[0-9]+'
t_like "with a request id" "$(http_header X-Request-Id)" '.'
doc=$HTTP_BODY
t_like "OpenAPI 3.1" "$(json_get "$doc" .openapi)" '^3\.1\.[0-9]+$'
t_is "titled" "$(json_get "$doc" .info.title)" "Switchboard API"
built=$SB_BIN/../docs/openapi.json
if [[ -f $built ]]; then
    t_is "the document is the build's docs/openapi.json" "$doc" "$(cat "$built")"
else
    t_skip_one "the document is the build's docs/openapi.json" "no $built next to SB_BIN"
fi

# Every operation of the API is there (the selftest openapi holds the
# whole route table to the document; this is the served copy).
ops=$(printf '%s' "$doc" | "$SUITE_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
for p, item in d["paths"].items():
    for m in item:
        if m in ("get", "put", "post", "delete", "patch"):
            print(m.upper(), p)')
missing=()
for op in "GET /healthz" "GET /readyz" "GET /openapi.json" "GET /v1/sys/ping/auth" \
          "POST /v1/sys/ping/usage" "PUT /v1/sys/subscriptions/{organization_id}" \
          "POST /v1/auth/signup" "POST /v1/auth/login" "GET /v1/me" "GET /.well-known/jwks.json" \
          "DELETE /v1/organization" "PATCH /v1/users/{id}" "POST /v1/invitations/accept" \
          "DELETE /v1/api-keys/{id}" "GET /v1/audit-log" "POST /v1/businesses" \
          "DELETE /v1/businesses/{id}" "GET /v1/calls" "PATCH /v1/orders/{id}" \
          "GET /v1/analytics/overview" "POST /v1/usage/events" \
          "POST /v1/usage/reservations/{id}/commit" "GET /v1/usage" "GET /v1/billing/plans" \
          "PUT /v1/billing/spending-cap" "POST /v1/billing/checkout" "POST /v1/billing/webhook"; do
    grep -qxF "$op" <<<"$ops" || missing+=("$op")
done
t_is "every operation of the API is documented" "${missing[*]}" ""
t_like "the security schemes: bearer, X-API-Key, operator" \
    "$(json_get "$doc" .components.securitySchemes.bearer.scheme) $(json_get "$doc" .components.securitySchemes.apiKeyHeader.name) $(json_get "$doc" .components.securitySchemes.operator.scheme)" \
    '^bearer X-API-Key bearer$'
t_is "the error envelope is a shared schema" \
    "$(json_get "$doc" .components.schemas.Error.properties.error.required)" '["code","message","request_id"]'

http HEAD /openapi.json
t_is "HEAD /openapi.json answers 200" "$HTTP_STATUS" 200
http POST /openapi.json '{}'
t_is "POST /openapi.json is 405" "$HTTP_STATUS" 405
t_is "naming GET" "$(http_header Allow)" GET

# The checker, on records of our own: one that fits, two that do not.
check () {
    printf '%s\n' "$@" > "$SUITE_TMP/fixture.jsonl"
    "$SUITE_PYTHON" "$SUITE_ROOT/tests/lib/openapi_check.py" "${built:-$SUITE_ROOT/docs/openapi.yaml}" \
        "$SUITE_TMP/fixture.jsonl"
}
b64 () { printf '%s' "$1" | base64 -w0; }
[[ -f $built ]] || built=$SUITE_ROOT/docs/openapi.yaml
good='{"method":"GET","path":"/healthz","status":200,"content_type":"application/json","body_b64":"'$(b64 '{"status":"ok"}')'"}'
t_ok "the checker passes a response that fits" check "$good"
out=$(check '{"method":"GET","path":"/healthz","status":201,"content_type":"application/json","body_b64":""}')
t_is "the checker fails a status the operation does not list" "$?" 1
t_like "naming it" "$out" 'status 201 is not documented'
out=$(check '{"method":"GET","path":"/v1/businesses/x?y=1","status":404,"content_type":"application/json","body_b64":"'$(b64 '{"error":{"code":"not_found"}}')'"}')
t_is "the checker fails a body that does not fit the schema" "$?" 1
t_like "naming the missing field" "$out" "'message' is a required property"
out=$(check '{"method":"PUT","path":"/healthz","status":200,"content_type":"application/json","body_b64":""}')
t_is "the checker fails a method the document does not have but 405" "$?" 1
out=$(check '{"method":"GET","path":"/nowhere","status":404,"content_type":"application/json","body_b64":""}')
t_like "and skips a path the document does not know" "$out" 'checked 0, skipped 1'

t_done
