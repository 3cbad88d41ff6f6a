# tests/lib/auth.sh — helpers for the identity and access tests (t1xxx).
# shellcheck shell=bash
# Source it alone (it sources suite.sh, once):
#
#   . "$(dirname "$0")/lib/auth.sh"
#
# JSON:     jobj KEY=STRING KEY:=JSON ...   print a JSON object (httpie style:
#                                    = takes the value as a string, := as JSON)
#           json_lines JSON PATH...  each PATH's value on its own line (empty
#                                    line if absent; strings raw, else JSON)
# JWT:      jwt_tool ARG...          tests/lib/jwt_tool.py (see its header)
#           fetch_jwks FILE          GET /.well-known/jwks.json into FILE
#                                    byte for byte; status 1 unless 200
# Sessions: signup PFX EMAIL PASSWORD NAME ORG [SUBDOMAIN]   (0 if 201)
#           login PFX EMAIL PASSWORD [CURL-ARG...]           (0 if 200)
#           accept_invite PFX TOKEN NAME PASSWORD            (0 if 201)
#               make the call (HTTP_* set as by http) and, on success, set
#               PFX_AT (access token), PFX_RT (refresh token), PFX_UID (user
#               id), PFX_OID (organization id), PFX_SUB (its subdomain),
#               PFX_ROLE (user.role); all empty on failure
#           session_take PFX         the same from the last HTTP_BODY
# HTTP:     http_as TOKEN METHOD PATH [BODY] [CURL-ARG...]
#                                    http with "Authorization: Bearer TOKEN"
#           http_key KEY METHOD PATH [BODY] [CURL-ARG...]   with X-API-Key
# Checks:   t_status DESC WANT       HTTP_STATUS matches WANT (a regex such as
#                                    200 or '400|401'); the body on failure
#           t_error DESC WANT CODE   status matches WANT and .error.code is CODE
#           t_field DESC PATH EXPECTED   json_get HTTP_BODY PATH is EXPECTED
#           t_lacks DESC TEXT NEEDLE   NEEDLE (non-empty) is not a substring
#           t_within DESC SECS WANT METHOD PATH [BODY] [CURL-ARG...]
#                                    poll every 0.1 s until PATH answers WANT;
#                                    fail if it has not after SECS seconds
#           t_revoked DESC TOKEN [SECS]   TOKEN (non-empty) gets 401
#                                    unauthenticated on GET /v1/me within SECS (1)
#           t_alive DESC TOKEN       TOKEN (non-empty) gets 200 on GET /v1/me
#           poll_until SECS CMD...   run CMD every 0.1 s until it succeeds;
#                                    status 1 after SECS seconds
# Mail:     mail_token TO PREFIX [SECS]   wait for the next mail to TO
#                                    (mail_wait, default 15 s), find the link
#                                    starting with PREFIX (mail_link) and print
#                                    its token= query parameter, decoded
#
# Nothing here changes the environment (suite_init turns the per-address
# limit on signup, login and reset off; the tests of that limit set their own).

# Variables set here (PFX_AT and friends) are read by the test scripts.
# shellcheck disable=SC2034

[[ -n ${_AUTH_SH:-} ]] && return 0
_AUTH_SH=1
# shellcheck source=tests/lib/suite.sh
. "$(dirname "${BASH_SOURCE[0]}")/suite.sh"

AUTH_JWT_TOOL=$SUITE_ROOT/tests/lib/jwt_tool.py
AUTH_PASSWORD='correct horse battery staple'

jwt_tool () {
    "$SUITE_PYTHON" "$AUTH_JWT_TOOL" "$@"
}

jobj () {
    "$SUITE_PYTHON" - "$@" <<'EOF'
import json, sys
out = {}
for arg in sys.argv[1:]:
    k, sep, v = arg.partition("=")
    if not sep:
        sys.exit("jobj: %r is not KEY=VALUE" % arg)
    if k.endswith(":"):
        out[k[:-1]] = json.loads(v)
    else:
        out[k] = v
print(json.dumps(out))
EOF
}

json_lines () {
    local json=$1
    shift
    printf '%s' "$json" | "$SUITE_PYTHON" -c '
import json, re, sys
try:
    doc = json.loads(sys.stdin.read())
except ValueError:
    doc = None
for path in sys.argv[1:]:
    v, ok = doc, True
    for key, idx in re.findall(r"\.([^.\[\]]+)|\[(-?\d+)\]", path):
        try:
            v = v[int(idx)] if idx else v[key]
        except (KeyError, IndexError, TypeError, ValueError):
            ok = False
            break
    if not ok or v is None:
        print("")
    elif isinstance(v, str):
        print(v)
    else:
        print(json.dumps(v, separators=(",", ":"), sort_keys=True))
' "$@"
}

fetch_jwks () {
    local code
    code=$(curl -sS --max-time 15 -o "$1" -w '%{http_code}' \
                "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/.well-known/jwks.json")
    [[ $code == 200 ]] || { t_diag "fetch_jwks: HTTP $code"; return 1; }
}

session_take () {
    local pfx=$1 vals=()
    mapfile -t vals < <(json_lines "$HTTP_BODY" .access_token .refresh_token .user.id \
                            .organization.id .organization.subdomain .user.role)
    printf -v "${pfx}_AT" '%s' "${vals[0]:-}"
    printf -v "${pfx}_RT" '%s' "${vals[1]:-}"
    printf -v "${pfx}_UID" '%s' "${vals[2]:-}"
    printf -v "${pfx}_OID" '%s' "${vals[3]:-}"
    printf -v "${pfx}_SUB" '%s' "${vals[4]:-}"
    printf -v "${pfx}_ROLE" '%s' "${vals[5]:-}"
}

_session_clear () {
    local v
    for v in AT RT UID OID SUB ROLE; do printf -v "${1}_$v" '%s' ''; done
}

signup () {
    local pfx=$1 body
    if [[ -n ${6:-} ]]; then
        body=$(jobj email="$2" password="$3" name="$4" organization_name="$5" subdomain="$6")
    else
        body=$(jobj email="$2" password="$3" name="$4" organization_name="$5")
    fi
    http POST /v1/auth/signup "$body"
    if [[ $HTTP_STATUS == 201 ]]; then session_take "$pfx"; return 0; fi
    _session_clear "$pfx"
    t_diag "signup $2: HTTP $HTTP_STATUS ${HTTP_BODY:0:300}"
    return 1
}

login () {
    local pfx=$1 email=$2 password=$3
    shift 3
    http POST /v1/auth/login "$(jobj email="$email" password="$password")" "$@"
    if [[ $HTTP_STATUS == 200 ]]; then session_take "$pfx"; return 0; fi
    _session_clear "$pfx"
    return 1
}

accept_invite () {
    local pfx=$1
    http POST /v1/invitations/accept "$(jobj token="$2" name="$3" password="$4")"
    if [[ $HTTP_STATUS == 201 ]]; then session_take "$pfx"; return 0; fi
    _session_clear "$pfx"
    return 1
}

http_as () {
    local tok=$1 method=$2 path=$3 body=${4-}
    shift 3
    (( $# )) && shift
    http "$method" "$path" "$body" -H "Authorization: Bearer $tok" "$@"
}

http_key () {
    local key=$1 method=$2 path=$3 body=${4-}
    shift 3
    (( $# )) && shift
    http "$method" "$path" "$body" -H "X-API-Key: $key" "$@"
}

# The last response, shortened, for diagnostics.
_auth_last () {
    local body=${HTTP_BODY:0:600}
    [[ ${#HTTP_BODY} -gt 600 ]] && body+="…"
    printf '  last response: HTTP %s %s' "$HTTP_STATUS" "$body"
    [[ -n $HTTP_ERROR ]] && printf '\n  curl: %s' "$HTTP_ERROR"
    return 0
}

t_status () {
    if [[ $HTTP_STATUS =~ ^($2)$ ]]; then t_pass "$1"
    else t_fail "$1" "    expected HTTP $2" "$(_auth_last)"
    fi
}

t_error () {
    local code
    code=$(json_get "$HTTP_BODY" .error.code 2>/dev/null)
    if [[ $HTTP_STATUS =~ ^($2)$ && $code == "$3" ]]; then t_pass "$1"
    else t_fail "$1" "    expected HTTP $2 with error.code '$3'" "$(_auth_last)"
    fi
}

t_lacks () {
    if [[ -z $3 ]]; then
        t_fail "$1" "    nothing to look for (an earlier step failed)"
    elif [[ $2 != *"$3"* ]]; then
        t_pass "$1"
    else
        t_fail "$1" "    '${3:0:40}' is in '${2:0:400}'"
    fi
}

t_field () {
    local got
    if got=$(json_get "$HTTP_BODY" "$2" 2>/dev/null) && [[ $got == "$3" ]]; then
        t_pass "$1"
    else
        t_fail "$1" "    $2 is '${got:-<absent>}', expected '$3'" "$(_auth_last)"
    fi
}

_auth_usec () {
    local t=${EPOCHREALTIME/[.,]/}
    printf '%s' "$((10#$t))"
}

# Repeat CMD until it succeeds or SECS seconds have passed (one last try at
# the end). Status 0 or 1.
poll_until () {
    local secs=$1 start limit
    shift
    start=$(_auth_usec)
    limit=$(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000000 }')
    while :; do
        "$@" && return 0
        (( $(_auth_usec) - start < limit )) || return 1
        sleep 0.1
    done
}

_auth_status_is () {
    local want=$1
    shift
    http "$@"
    [[ $HTTP_STATUS =~ ^($want)$ ]]
}

t_within () {
    local desc=$1 secs=$2 want=$3 start took
    shift 3
    start=$(_auth_usec)
    if poll_until "$secs" _auth_status_is "$want" "$@"; then
        took=$(( ($(_auth_usec) - start) / 1000 ))
        t_pass "$desc"
        t_note "  (after ${took} ms)"
    else
        t_fail "$desc" "    $1 $2 did not answer $want within ${secs}s" "$(_auth_last)"
    fi
}

t_revoked () {
    local desc=$1 tok=$2 secs=${3:-1} code
    if [[ -z $tok ]]; then
        t_fail "$desc" "    no token to check (an earlier step failed)"
        return 1
    fi
    t_within "$desc" "$secs" 401 GET /v1/me "" -H "Authorization: Bearer $tok" || return 1
    code=$(json_get "$HTTP_BODY" .error.code 2>/dev/null)
    if [[ $code != unauthenticated ]]; then
        t_diag "  note: the 401 has error.code '$code', not unauthenticated"
    fi
}

t_alive () {
    local desc=$1 tok=$2
    if [[ -z $tok ]]; then
        t_fail "$desc" "    no token to check (an earlier step failed)"
        return 1
    fi
    http_as "$tok" GET /v1/me
    t_status "$desc" 200
}

mail_token () {
    local to=$1 prefix=$2 secs=${3:-15} file url
    if ! file=$(mail_wait "$to" "$secs") || [[ -z $file ]]; then
        t_diag "mail_token: no mail to $to within ${secs}s"
        return 1
    fi
    if ! url=$(mail_link "$file" "$prefix") || [[ -z $url ]]; then
        t_diag "mail_token: no link starting with $prefix in $file:" "$(head -c 3000 "$file" 2>/dev/null)"
        return 1
    fi
    "$SUITE_PYTHON" -c '
import sys, urllib.parse
q = urllib.parse.parse_qs(urllib.parse.urlsplit(sys.argv[1]).query)
t = q.get("token", [""])[0]
if not t:
    sys.exit("mail_token: no token= in %s" % sys.argv[1])
print(t)
' "$url"
}
