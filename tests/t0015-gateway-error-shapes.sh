#!/usr/bin/env bash
# Every error the gateway sends has the API's JSON shape
# ({"error":{"code","message","request_id"}}, Content-Type application/json,
# X-Request-Id), its HTTP library's refusals included where they can be
# intercepted: a 16 KiB Authorization header and 20 KiB of headers (431
# headers_too_large, answered by us before libmicrohttpd's own page), an
# unknown method (405 with Allow on a known path, 404 elsewhere), a
# Content-Length beyond the body limit (413), a malformed JSON body (400
# invalid_request), a body too large (413, announced or chunked), an
# unknown route (404) and a wrong method (405). Headers just under the limit
# still pass. The requests are written on a raw socket (python), so that
# nothing between us and the gateway tidies them up. What libmicrohttpd
# answers by itself before our code sees the request (a malformed request
# line or Content-Length, headers beyond its memory pool) is listed in
# docs/API.md; three such answers are checked here to be error statuses, and
# the gateway to serve on after them.
. "$(dirname "$0")/lib/suite.sh"
suite_init
suite_up

# raw REQUEST-SPEC: writes one request and prints "STATUS CONTENT-TYPE
# X-REQUEST-ID ALLOW BODY" of the answer, separated by \x1f (not a
# whitespace, so that empty fields survive read). REQUEST-SPEC is Python: a
# bytes expression for the whole request, with F(n) = n bytes of filler.
raw () {
    "$SUITE_PYTHON" - "$SWITCHBOARD_HTTP_PORT" "$1" <<'EOF'
import socket, sys
port, spec = int(sys.argv[1]), sys.argv[2]
F = lambda n: b"a" * n
request = eval(spec)
s = socket.create_connection(("127.0.0.1", port), timeout=20)
try:
    s.sendall(request)
except OSError:
    pass                        # the gateway may answer and close before reading it all
data = b""
while True:
    try:
        chunk = s.recv(65536)
    except (socket.timeout, ConnectionResetError):
        break
    if not chunk:
        break
    data += chunk
    head, sep, rest = data.partition(b"\r\n\r\n")
    if sep:
        headers = {}
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower()] = v.strip()
        n = headers.get(b"content-length")
        if n is not None and len(rest) >= int(n):
            break
head, _, body = data.partition(b"\r\n\r\n")
lines = head.split(b"\r\n")
status = lines[0].split(b" ")[1].decode() if lines and len(lines[0].split(b" ")) > 1 else "000"
headers = {}
for line in lines[1:]:
    k, _, v = line.partition(b":")
    headers[k.strip().lower()] = v.strip().decode("latin-1")
print("\x1f".join([status, headers.get(b"content-type", ""), headers.get(b"x-request-id", ""),
                 headers.get(b"allow", ""), body.decode("latin-1").replace("\x1f", " ").replace("\n", " ")]))
EOF
}

# shape DESC STATUS CODE REQUEST-SPEC: the answer is STATUS, JSON, with
# error.code CODE, a message, and error.request_id equal to X-Request-Id.
shape () {
    local desc=$1 want=$2 code=$3 out status type rid allow body
    out=$(raw "$4")
    IFS=$'\x1f' read -r status type rid allow body <<< "$out"
    t_is "$desc: $want" "$status" "$want"
    t_like "  Content-Type is JSON" "$type" '^application/json'
    t_is "  error.code $code" "$(json_get "$body" .error.code 2>/dev/null)" "$code"
    t_ok "  with a message" json_get "$body" .error.message
    t_is "  error.request_id is X-Request-Id" "$(json_get "$body" .error.request_id 2>/dev/null)" "${rid:-none}"
    LAST_ALLOW=$allow
}

h='b"Host: 127.0.0.1\r\n"'
shape "a 16 KiB Authorization header" 431 headers_too_large \
    "b'GET /v1/me HTTP/1.1\r\n' + $h + b'Authorization: Bearer ' + F(16384) + b'\r\n\r\n'"
shape "many headers adding up to 20 KiB" 431 headers_too_large \
    "b'GET /healthz HTTP/1.1\r\n' + $h + b''.join(b'X-H%d: ' % i + F(1000) + b'\r\n' for i in range(20)) + b'\r\n'"
out=$(raw "b'GET /healthz HTTP/1.1\r\n' + $h + b'X-Filler: ' + F(16000) + b'\r\n\r\n'")
t_is "headers just under the limit (16,000 bytes) pass" "${out%%$'\x1f'*}" 200

shape "an unknown method on a known path" 405 method_not_allowed \
    "b'BREW /healthz HTTP/1.1\r\n' + $h + b'\r\n'"
t_is "  Allow lists the path's methods" "$LAST_ALLOW" GET
shape "an unknown method on an unknown path" 404 not_found \
    "b'BREW /no/such/path HTTP/1.1\r\n' + $h + b'\r\n'"
shape "a Content-Length beyond the body limit" 413 payload_too_large \
    "b'POST /v1/auth/login HTTP/1.1\r\n' + $h + b'Content-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n{}'"
shape "a malformed JSON body" 400 invalid_request \
    "b'POST /v1/auth/login HTTP/1.1\r\n' + $h + b'Content-Type: application/json\r\nContent-Length: 9\r\n\r\n{\"email\":'"
shape "a body too large, announced" 413 payload_too_large \
    "b'POST /v1/auth/login HTTP/1.1\r\n' + $h + b'Content-Length: 1100000\r\n\r\n' + F(1100000)"
shape "a body too large, chunked" 413 payload_too_large \
    "b'POST /v1/auth/login HTTP/1.1\r\n' + $h + b'Transfer-Encoding: chunked\r\n\r\n' + b''.join(b'10000\r\n' + F(65536) + b'\r\n' for i in range(18)) + b'0\r\n\r\n'"
shape "an unknown route" 404 not_found \
    "b'GET /v1/no-such-thing HTTP/1.1\r\n' + $h + b'\r\n'"
shape "a wrong method" 405 method_not_allowed \
    "b'DELETE /v1/auth/login HTTP/1.1\r\n' + $h + b'\r\n'"
t_is "  Allow lists the path's methods" "$LAST_ALLOW" POST

# libmicrohttpd's own answers (documented in docs/API.md): an error status,
# the connection survives nothing worse, and the gateway keeps serving.
out=$(raw "b'GET /v1/me HTTP/1.1\r\n' + $h + b'X-Filler: ' + F(65536) + b'\r\n\r\n'")
t_is "a 64 KiB header, beyond the connection's memory: libmicrohttpd's 431" "${out%%$'\x1f'*}" 431
out=$(raw "b'POST /v1/auth/login HTTP/1.1\r\n' + $h + b'Content-Length: abc\r\n\r\n'")
t_like "a malformed Content-Length: libmicrohttpd's 400" "${out%%$'\x1f'*}" '^400$'
out=$(raw "b'GET /healthz HTTP/1.1 junk\r\n' + $h + b'\r\n'")
t_like "a malformed request line: an error status, not a 2xx" "${out%%$'\x1f'*}" '^(4[0-9][0-9]|000)$'
http GET /healthz
t_is "the gateway still serves" "$HTTP_STATUS" 200

t_done
