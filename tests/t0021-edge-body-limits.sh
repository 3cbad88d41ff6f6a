#!/usr/bin/env bash
# Body limits by route: a route without authentication takes at most 64 KiB
# (what it is sent comes from anyone). A 100 KB body to /v1/auth/signup gets
# 413 payload_too_large as a JSON error, announced (Content-Length, refused
# before the body is asked for) or chunked (refused once it is in); a body
# just under 64 KiB is read and judged on its content (400 for a signup that
# is not valid). An authenticated route still takes bodies up to 1 MiB.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

probe () { "$SUITE_PYTHON" "$SUITE_ROOT/tests/lib/edge_probe.py" "$@"; }

# {"email":"aaaa…"} of a given total size.
body_of () {
    local size=$1 file=$2
    { printf '{"email":"'; head -c $((size - 12)) /dev/zero | tr '\0' 'a'; printf '"}'; } > "$file"
}
body_of 100000 "$SUITE_TMP/100k.json"
body_of 65000 "$SUITE_TMP/65k.json"

http POST /v1/auth/signup "" --data-binary "@$SUITE_TMP/100k.json" -H 'Content-Type: application/json'
t_error "100 KB to signup: 413" 413 payload_too_large
t_like "  the message names the limit" "$(json_get "$HTTP_BODY" .error.message)" '64 KiB'
t_is "  the error carries the request id" "$(json_get "$HTTP_BODY" .error.request_id)" "$(http_header X-Request-Id)"

mapfile -t r < <(probe early "$SWITCHBOARD_HTTP_PORT" POST /v1/auth/login 100000)
t_is "100 KB announced to login: 413 before the body" "${r[0]}" 413

http POST /v1/auth/signup "" --data-binary "@$SUITE_TMP/100k.json" -H 'Transfer-Encoding: chunked' \
     -H 'Content-Type: application/json'
t_error "100 KB chunked to signup: 413" 413 payload_too_large

http POST /v1/auth/signup "" --data-binary "@$SUITE_TMP/65k.json" -H 'Content-Type: application/json'
t_error "just under 64 KiB to signup: read, and refused for its content" 400 validation_failed

signup A a@edge21.example "$AUTH_PASSWORD" Ada "Edge Twenty-One" || t_bail "cannot sign up"
big=$SUITE_TMP/big.json
{ printf '{"name":"x","phone_number":"+33140000021","timezone":"Europe/Paris","greeting":"'
  head -c 900000 /dev/zero | tr '\0' 'g'; printf '"}'; } > "$big"
http_as "$A_AT" POST /v1/businesses "" --data-binary "@$big" -H 'Content-Type: application/json'
t_status "900 KB to an authenticated route is read (and judged by the service)" '201|400'
t_isnt "  not 413" "$HTTP_STATUS" 413
t_done
