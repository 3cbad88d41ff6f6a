#!/usr/bin/env bash
# Signup and login: the 201/200 shapes (user, organization, tokens), the
# admin role of the founder, email uniqueness across letter case, subdomains
# (given, taken, invalid, reserved, derived from the organization name),
# login with any case of the email, one answer for wrong password and unknown
# email, and GET /v1/me with and without a credential. argon2id runs on a
# thread of auth-svc's own at nice 10, below the threads that serve.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

pw=$AUTH_PASSWORD
uuid_re='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
time_re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|\+00:00)$'
sub_re='^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'

# ---- signup -----------------------------------------------------------------
signup A alice@example.com "$pw" "Alice Admin" "Acme Pizza" acme
t_status "signup answers 201" 201
signup_body=$HTTP_BODY
t_like "user.id is a UUID" "$A_UID" "$uuid_re"
t_field "user.email" .user.email alice@example.com
t_field "user.name" .user.name "Alice Admin"
t_field "the founder is admin" .user.role admin
t_like "user.created_at is RFC 3339 UTC" "$(json_get "$signup_body" .user.created_at)" "$time_re"
t_like "organization.id is a UUID" "$A_OID" "$uuid_re"
t_field "organization.name" .organization.name "Acme Pizza"
t_field "organization.subdomain is the one asked for" .organization.subdomain acme
t_like "organization.created_at is RFC 3339 UTC" "$(json_get "$signup_body" .organization.created_at)" "$time_re"
t_like "organization.referral_code is set" "$(json_get "$signup_body" .organization.referral_code)" '^.+$'
t_field "token_type is Bearer" .token_type Bearer
t_field "expires_in is 900" .expires_in 900
t_like "an access token (JWT)" "$A_AT" '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
t_like "a refresh token" "$A_RT" '^.{16,}$'
t_isnt "the refresh token is not the access token" "$A_RT" "$A_AT"
t_unlike "no password hash in the answer" "$signup_body" 'password_hash|\$argon2|\$2[aby]\$'

# Emails compare case-insensitively; subdomains are unique.
http POST /v1/auth/signup "$(jobj email=ALICE@Example.COM password="$pw" name=Other organization_name=Other)"
t_error "the same email in other case: 409 email_taken" 409 email_taken
http POST /v1/auth/signup "$(jobj email=bob@example.com password="$pw" name=Bob organization_name="Bob Co" subdomain=acme)"
t_error "a taken subdomain: 409 subdomain_taken" 409 subdomain_taken
login X bob@example.com "$pw"
t_error "the refused signup created no user" 401 invalid_credentials

# Subdomain rules.
long63=$(printf 'a%.0s' {1..63})
for bad in -acme acme- ac_me ac.me "ac me" Acme "${long63}b" www api app admin mail; do
    http POST /v1/auth/signup "$(jobj email="s-$RANDOM$RANDOM@example.com" password="$pw" name=S organization_name=S subdomain="$bad")"
    t_error "subdomain '$bad': 400 validation_failed" 400 validation_failed
    t_ok "subdomain '$bad': fields.subdomain is named" json_get "$HTTP_BODY" .error.fields.subdomain
done
n=0
for good in z 0day a-b "$long63"; do
    n=$((n + 1))
    signup G "good$n@example.com" "$pw" G "Good $n" "$good"
    t_status "subdomain '${good:0:20}' ($((${#good})) chars) is accepted" 201
    t_is "and kept as given" "$G_SUB" "$good"
done

# Derived subdomains: from the name, lowercased, valid, unique.
signup D1 derived1@example.com "$pw" D "Joe's Diner & Grill!"
t_status "signup without a subdomain: 201" 201
t_like "a subdomain is derived from the name" "$D1_SUB" "$sub_re"
t_like "it comes from the organization name" "$D1_SUB" 'joe'
signup D2 derived2@example.com "$pw" D "Joe's Diner & Grill!"
t_status "a second organization of the same name: 201" 201
t_like "gets a valid subdomain too" "$D2_SUB" "$sub_re"
t_isnt "a different one (suffixed)" "$D2_SUB" "$D1_SUB"
signup D3 derived3@example.com "$pw" D "ACME"
t_status "an organization named like a taken subdomain: 201" 201
t_like "gets a valid subdomain" "$D3_SUB" "$sub_re"
t_isnt "not the taken one" "$D3_SUB" acme
signup D4 derived4@example.com "$pw" D "!!!"
t_status "a name with no letters or digits still signs up" 201
t_like "with a valid derived subdomain" "$D4_SUB" "$sub_re"
signup D5 derived5@example.com "$pw" D "$(printf 'Very Long Name %.0s' {1..10})"
t_like "a 150-character name derives a valid (short enough) subdomain" "$D5_SUB" "$sub_re"
signup D6 derived6@example.com "$pw" D "www"
t_like "a name that is a reserved word derives a valid subdomain" "$D6_SUB" "$sub_re"
t_isnt "but not the reserved word itself" "$D6_SUB" www

# ---- login ----------------------------------------------------------------
login L alice@example.com "$pw"
t_status "login answers 200" 200
t_field "login: user.id" .user.id "$A_UID"
t_field "login: user.role" .user.role admin
t_field "login: organization.id" .organization.id "$A_OID"
t_field "login: organization.subdomain" .organization.subdomain acme
t_field "login: token_type" .token_type Bearer
t_field "login: expires_in" .expires_in 900
t_like "login: an access token" "$L_AT" '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$'
t_like "login: a refresh token" "$L_RT" '^.{16,}$'
t_isnt "login: a new access token" "$L_AT" "$A_AT"
t_isnt "login: a new refresh token" "$L_RT" "$A_RT"

login L2 Alice@EXAMPLE.com "$pw"
t_status "login with the email in other case: 200" 200
t_is "the same user" "$L2_UID" "$A_UID"

login X alice@example.com "${pw}x"
t_error "wrong password: 401 invalid_credentials" 401 invalid_credentials
msg_wrong=$(json_get "$HTTP_BODY" .error.message)
login X nobody@example.com "$pw"
t_error "unknown email: 401 invalid_credentials" 401 invalid_credentials
msg_unknown=$(json_get "$HTTP_BODY" .error.message)
t_is "the same message for both" "$msg_unknown" "$msg_wrong"
t_unlike "no token in a refusal" "$HTTP_BODY" 'access_token|refresh_token'
login X alice@example.com ""
t_status "an empty password: 400 or 401, never 5xx" '400|401'

# ---- /v1/me ---------------------------------------------------------------
http_as "$A_AT" GET /v1/me
t_status "GET /v1/me with the signup token: 200" 200
t_field "me: user.id" .user.id "$A_UID"
t_field "me: user.email" .user.email alice@example.com
t_field "me: organization.id" .organization.id "$A_OID"
t_field "me: organization.subdomain" .organization.subdomain acme
t_field "me: role" .role admin
t_field "me: plan is free" .plan free
http_as "$L2_AT" GET /v1/me
t_field "me with the login token: the same user" .user.id "$A_UID"
http_as "$G_AT" GET /v1/me
t_field "me with another organization's token: its own organization" .organization.id "$G_OID"

http GET /v1/me
t_error "me without a credential: 401 unauthenticated" 401 unauthenticated
t_like "with WWW-Authenticate: Bearer" "$(http_header WWW-Authenticate)" '^Bearer'
for garbage in "Bearer" "Bearer " "Bearer garbage" "Bearer a.b.c" "Basic YWxpY2U6cGFzcw==" \
               "bearer$A_AT" "Bearer $A_RT" "Token $A_AT"; do
    http GET /v1/me "" -H "Authorization: $garbage"
    t_error "me with Authorization '${garbage:0:24}…': 401 unauthenticated" 401 unauthenticated
    t_like "  and WWW-Authenticate: Bearer" "$(http_header WWW-Authenticate)" '^Bearer'
done
http GET /v1/me "" -H "X-API-Key: sbk_nonsense"
t_error "me with a made-up X-API-Key: 401 unauthenticated" 401 unauthenticated

# The password hashing thread yields the CPU: one thread at nice 10, the
# others (the worker's) at the process's own 0.
nices=$(ps -L -o nice= -p "$(suite_pid auth-1)" | tr -d ' ' | sort | uniq -c | tr -s ' ' | tr '\n' ';')
t_like "auth-svc: one thread at nice 10 (argon2id), the rest at 0 [$nices]" "$nices" '^ ?1 10; ?[0-9]+ 0;$|^ ?[0-9]+ 0; ?1 10;$'

t_done
