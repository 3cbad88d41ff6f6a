#!/usr/bin/env bash
# Input validation of the identity endpoints: signup's missing and ill-typed
# fields (400 validation_failed with error.fields naming each), the password
# length bounds (10 and 256 pass, 9 and 257 fail), malformed JSON on every
# auth endpoint (400 invalid_request), server-owned fields in a body ignored,
# odd but legal input accepted, wrong methods (405), and never a 5xx.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

pw=$AUTH_PASSWORD
# A fresh, valid signup body (a new email each time) with overrides:
# good_signup KEY=STRING KEY:=JSON ... (KEY:='"DELETE"' drops the field)
good_signup () {
    "$SUITE_PYTHON" - "$pw" "$@" <<'EOF'
import json, sys, uuid
n, pw = uuid.uuid4().hex[:12], sys.argv[1]
body = {"email": "v-%s@example.com" % n, "password": pw, "name": "Val %s" % n,
        "organization_name": "Val Org %s" % n}
for arg in sys.argv[2:]:
    k, _, v = arg.partition("=")
    if k.endswith(":"):
        v = json.loads(v)
        k = k[:-1]
        if v == "DELETE":
            body.pop(k, None)
            continue
    body[k] = v
print(json.dumps(body))
EOF
}

# fields_named DESC NAME...: the last answer is 400 validation_failed and
# error.fields names every NAME.
fields_named () {
    local desc=$1 f missing=()
    shift
    t_error "$desc: 400 validation_failed" 400 validation_failed || return 1
    for f in "$@"; do
        json_get "$HTTP_BODY" ".error.fields.$f" >/dev/null 2>&1 || missing+=("$f")
    done
    if (( ${#missing[@]} )); then
        t_fail "$desc: error.fields names ${*}" "    missing: ${missing[*]}" "$(_auth_last)"
    else
        t_pass "$desc: error.fields names ${*}"
    fi
}

# ---- signup: missing and ill-typed fields ----------------------------------------------
http POST /v1/auth/signup "$(good_signup)"
t_status "the valid body signs up (control)" 201
for f in email password name organization_name; do
    http POST /v1/auth/signup "$(good_signup "$f:=\"DELETE\"")"
    fields_named "signup without $f" "$f"
    for v in 123 true null '[]' '{}'; do
        http POST /v1/auth/signup "$(good_signup "$f:=$v")"
        fields_named "signup with $f: $v" "$f"
    done
done
http POST /v1/auth/signup "$(good_signup email=no-at-sign)"
fields_named "signup with an email without @" email
http POST /v1/auth/signup "$(good_signup email=@example.com)"
fields_named "signup with an email with nothing before @" email
http POST /v1/auth/signup "$(good_signup email=someone@)"
fields_named "signup with an email with nothing after @" email
http POST /v1/auth/signup "$(good_signup email=)"
fields_named "signup with an empty email" email
http POST /v1/auth/signup "$(good_signup name=)"
fields_named "signup with an empty name" name
http POST /v1/auth/signup "$(good_signup organization_name=)"
fields_named "signup with an empty organization_name" organization_name
http POST /v1/auth/signup "$(good_signup 'subdomain:=5')"
fields_named "signup with a number for subdomain" subdomain
http POST /v1/auth/signup "$(good_signup 'email:=123' password=short name=)"
fields_named "signup with three bad fields" email password name
http POST /v1/auth/signup '{}'
fields_named "signup with {}" email password name organization_name

# ---- password length ----------------------------------------------------------------------
p9=abcdefghi
p10=abcdefghij
p256=$(printf 'p%.0s' {1..256})
p257=$(printf 'p%.0s' {1..257})
http POST /v1/auth/signup "$(good_signup password="$p9")"
fields_named "a 9-character password" password
http POST /v1/auth/signup "$(good_signup password="$p257")"
fields_named "a 257-character password" password
http POST /v1/auth/signup "$(good_signup email=ten@example.com password="$p10")"
t_status "a 10-character password: 201" 201
http POST /v1/auth/signup "$(good_signup email=long@example.com password="$p256")"
t_status "a 256-character password: 201" 201
login X ten@example.com "$p10"
t_status "  login with the 10-character password" 200
login X long@example.com "$p256"
t_status "  login with the 256-character password" 200
login X long@example.com "${p256:0:255}"
t_error "  but not with its first 255 characters" 401 invalid_credentials
http POST /v1/auth/signup "$(good_signup email=umlaut@example.com password='ääääääääää')"
t_status "a password of 10 non-ASCII characters: 201" 201
login X umlaut@example.com 'ääääääääää'
t_status "  and it logs in" 200

# ---- malformed JSON, everywhere ---------------------------------------------------------------
signup A val-admin@example.com "$pw" "Val Admin" "Validation Org" validation
t_status "an admin for the authenticated endpoints: 201" 201
for target in "POST /v1/auth/signup" "POST /v1/auth/login" "POST /v1/auth/refresh" \
              "POST /v1/auth/password/forgot" "POST /v1/auth/password/reset" \
              "POST /v1/invitations/accept"; do
    for body in '{"email":' 'not json' '{"email": "a@b.c",}'; do
        http ${target% *} "${target#* }" "$body"
        t_error "$target with '$body': 400 invalid_request" 400 invalid_request
    done
    http ${target% *} "${target#* }" '[]'
    t_status "$target with a JSON array: 400" 400
    http ${target% *} "${target#* }" "" -H 'Content-Type: application/json' --data-binary ''
    t_status "$target with an empty body: 400" 400
done
for target in "POST /v1/auth/logout" "POST /v1/auth/password/change" "POST /v1/invitations" \
              "POST /v1/api-keys" "PATCH /v1/organization" "PATCH /v1/users/$A_UID"; do
    http_as "$A_AT" ${target% *} "${target#* }" '{"name":'
    t_error "${target:0:40} (admin) with broken JSON: 400 invalid_request" 400 invalid_request
done
t_alive "the admin's session survived the broken logout" "$A_AT"

# ---- login, refresh, logout: types -------------------------------------------------------------
http POST /v1/auth/login '{"email": "val-admin@example.com"}'
t_status "login without password: 400" 400
http POST /v1/auth/login "{\"email\": 123, \"password\": \"$pw\"}"
t_status "login with a number for email: 400" 400
http POST /v1/auth/login '{"email": "val-admin@example.com", "password": ["x"]}'
t_status "login with an array for password: 400" 400
http_as "$A_AT" POST /v1/auth/logout '{"all": "yes"}'
t_status "logout with a string for all: 400" 400
http_as "$A_AT" PATCH "/v1/users/$A_UID" '{"role": 5}'
t_status "PATCH a user with a number for role: 400" 400
http_as "$A_AT" PATCH /v1/organization '{"name": ""}'
t_status "PATCH the organization with an empty name: 400" 400
http_as "$A_AT" POST /v1/api-keys '{"name": 123}'
t_status "an API key with a number for name: 400" 400
t_alive "the admin is still logged in" "$A_AT"

# ---- server-owned fields are ignored, odd legal input is fine -------------------------------------
fake=11111111-1111-4111-8111-111111111111
http POST /v1/auth/signup "$(good_signup email=owned@example.com id="$fake" role=superadmin \
    organization_id="$fake" plan=enterprise created_at=2000-01-01T00:00:00Z 'user:={"role":"x"}')"
t_status "signup with server-owned fields in the body: 201" 201
t_field "  user.role is still admin" .user.role admin
t_isnt "  user.id not from the body" "$(json_get "$HTTP_BODY" .user.id)" "$fake"
t_isnt "  organization.id not from the body" "$(json_get "$HTTP_BODY" .organization.id)" "$fake"
t_unlike "  created_at not from the body" "$(json_get "$HTTP_BODY" .user.created_at)" '^2000-'
session_take O
http_as "$O_AT" GET /v1/me
t_field "  the plan is still free" .plan free

http POST /v1/auth/signup "$(good_signup email=zoe@example.com name='Zoë 🍕 "Quotes" <b>' organization_name='Café Ünïcode 🍕')"
t_status "Unicode, quotes and angle brackets in names: 201" 201
t_field "  the name comes back exactly" .user.name 'Zoë 🍕 "Quotes" <b>'
t_field "  the organization name too" .organization.name 'Café Ünïcode 🍕'
t_like "  and a valid subdomain is derived" "$(json_get "$HTTP_BODY" .organization.subdomain)" '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'

long=$(printf 'n%.0s' {1..20000})
http POST /v1/auth/signup "$(good_signup name="$long")"
t_status "a 20000-character name: 201 or 400, not 5xx" '201|400'
http POST /v1/auth/signup "$(good_signup email="$(printf 'e%.0s' {1..300})@example.com")"
t_status "a 312-character email: 201 or 400, not 5xx" '201|400'
http POST /v1/auth/login "$(jobj email="$long@example.com" password="$long")"
t_status "login with 20000-character fields: 400 or 401, not 5xx" '400|401'
http POST /v1/auth/signup "$(good_signup email=' spaced@example.com ')"
t_status "an email with spaces around: 201 or 400, not 5xx" '201|400'

# ---- methods --------------------------------------------------------------------------------------
http GET /v1/auth/signup
t_error "GET /v1/auth/signup: 405 method_not_allowed" 405 method_not_allowed
t_like "  Allow names POST" "$(http_header Allow)" 'POST'
http DELETE /v1/auth/login
t_error "DELETE /v1/auth/login: 405" 405 method_not_allowed
http POST /.well-known/jwks.json '{}'
t_status "POST /.well-known/jwks.json: 405" 405

http GET /healthz
t_status "the gateway is healthy after all that" 200
t_ok "auth-1 is still running" suite_running auth-1
t_ok "gateway-1 is still running" suite_running gateway-1

t_done
