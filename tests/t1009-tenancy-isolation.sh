#!/usr/bin/env bash
# Tenancy: with organization A's admin credentials, B's user, invitation and
# API key are 404 not_found for PATCH/DELETE (never 403) and stay unchanged;
# A's lists never show B's objects. Hosts: with SWITCHBOARD_PUBLIC_URL
# http://switchboard.test:<port>, a request on <A's subdomain>.switchboard.test
# is served for A's credentials and refused (403) for B's; the bare base host
# serves both.
. "$(dirname "$0")/lib/auth.sh"
suite_init
export SWITCHBOARD_PUBLIC_URL=http://switchboard.test:$SWITCHBOARD_HTTP_PORT
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up

pw=$AUTH_PASSWORD
prefix="$SWITCHBOARD_PUBLIC_URL/accept-invitation?token="
base=switchboard.test:$SWITCHBOARD_HTTP_PORT

signup A amy@example.com "$pw" "Amy Alpha" "Alpha Org" alpha
t_status "signup A: 201" 201
signup B ben@example.com "$pw" "Ben Bravo" "Bravo Org" bravo
t_status "signup B: 201" 201

# B's objects: its admin user, a pending invitation (which fills B's second
# seat), an API key.
http_as "$B_AT" POST /v1/invitations "$(jobj email=bpending@example.com role=user)"
t_status "B invites bpending@: 201" 201
b_inv=$(json_get "$HTTP_BODY" .id)
t_like "  B's invitation has an id" "$b_inv" '^.+$'
b_tok=$(mail_token bpending@example.com "$prefix" 15)
t_like "  the mail uses the configured public URL" "$b_tok" '^.+$'
http_as "$B_AT" POST /v1/api-keys "$(jobj name="B key" role=admin)"
t_status "B creates an API key: 201" 201
b_key_id=$(json_get "$HTTP_BODY" .id)
b_key=$(json_get "$HTTP_BODY" .key)
http_as "$A_AT" POST /v1/api-keys "$(jobj name="A key")"
t_status "A creates an API key: 201" 201
a_key=$(json_get "$HTTP_BODY" .key)

# ---- A's admin against B's objects: 404, nothing changes ---------------------------------
http_as "$A_AT" PATCH "/v1/users/$B_UID" "$(jobj role=user name=Pwned)"
t_error "A patches B's user: 404 not_found" 404 not_found
http_as "$A_AT" DELETE "/v1/users/$B_UID"
t_error "A deletes B's user: 404 not_found" 404 not_found
http_as "$A_AT" DELETE "/v1/invitations/$b_inv"
t_error "A revokes B's invitation: 404 not_found" 404 not_found
http_as "$A_AT" DELETE "/v1/api-keys/$b_key_id"
t_error "A revokes B's API key: 404 not_found" 404 not_found
http_key "$a_key" DELETE "/v1/api-keys/$b_key_id"
t_status "A's (user) key on B's key: 403 or 404, never 204" '403|404'
http_as "$A_AT" GET "/v1/users/$B_UID"
t_status "A reads B's user: 404 (or 405 if there is no GET)" '404|405'

sleep 1   # let any wrongly applied change reach the gateways
login B2 ben@example.com "$pw"
t_status "B's admin still logs in" 200
t_is "  still admin" "$B2_ROLE" admin
http_as "$B_AT" GET /v1/users
t_status "B lists its users: 200" 200
t_like "  B's admin is there" "$HTTP_BODY" "\"id\": *\"$B_UID\""
b_user=$("$SUITE_PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps([u for u in d["data"] if u["id"]==sys.argv[2]][0]))' "$HTTP_BODY" "$B_UID" 2>/dev/null)
t_is "  with role admin" "$(json_get "$b_user" .role)" admin
t_is "  and its name" "$(json_get "$b_user" .name)" "Ben Bravo"
http_as "$B_AT" GET /v1/invitations
t_like "B's invitation is still pending" "$HTTP_BODY" "\"id\": *\"$b_inv\""
http_key "$b_key" GET /v1/me
t_status "B's key still works" 200
t_field "  for B's organization" .organization.id "$B_OID"

# ---- lists never cross ------------------------------------------------------------------------
http_as "$A_AT" GET /v1/users
t_status "A lists its users: 200" 200
t_is "  one user" "$(json_len "$HTTP_BODY" .data)" 1
t_lacks "  not B's user id" "$HTTP_BODY" "$B_UID"
t_lacks "  not B's email" "$HTTP_BODY" ben@example.com
http_as "$A_AT" GET /v1/invitations
t_lacks "A's invitations do not show B's" "$HTTP_BODY" "$b_inv"
t_lacks "  nor its email" "$HTTP_BODY" bpending@example.com
http_as "$A_AT" GET /v1/api-keys
t_lacks "A's API keys do not show B's" "$HTTP_BODY" "$b_key_id"
http_as "$A_AT" GET '/v1/audit-log?limit=100'
t_lacks "A's audit log does not show B's user" "$HTTP_BODY" "$B_UID"
http_as "$A_AT" GET /v1/organization
t_field "A's organization is A's" .id "$A_OID"

# ---- hosts --------------------------------------------------------------------------------------
http_as "$A_AT" GET /v1/me "" -H "Host: alpha.$base"
t_status "Host alpha.$base with A's token: 200" 200
t_field "  A's organization" .organization.id "$A_OID"
http_as "$B_AT" GET /v1/me "" -H "Host: alpha.$base"
t_error "Host alpha.$base with B's token: 403 forbidden" 403 forbidden
http_key "$b_key" GET /v1/me "" -H "Host: alpha.$base"
t_error "Host alpha.$base with B's API key: 403 forbidden" 403 forbidden
http_key "$a_key" GET /v1/me "" -H "Host: alpha.$base"
t_status "Host alpha.$base with A's API key: 200" 200
http_as "$B_AT" GET /v1/me "" -H "Host: bravo.$base"
t_status "Host bravo.$base with B's token: 200" 200
http_as "$A_AT" GET /v1/me "" -H "Host: ALPHA.$base"
t_status "the host compares case-insensitively" 200
http_as "$A_AT" GET /v1/me "" -H "Host: $base"
t_status "the base host with A's token: 200" 200
http_as "$B_AT" GET /v1/me "" -H "Host: $base"
t_status "the base host with B's token: 200" 200
http_as "$A_AT" GET /v1/me "" -H "Host: nosuch.$base"
t_error "an unknown subdomain with A's token: 403 forbidden" 403 forbidden
http_as "$B_AT" PATCH /v1/organization "$(jobj name="Bravo Renamed")" -H "Host: alpha.$base"
t_error "a write on A's host with B's token: 403 forbidden" 403 forbidden
http_as "$B_AT" GET /v1/organization
t_field "  and B's organization is unchanged" .name "Bravo Org"

t_done
