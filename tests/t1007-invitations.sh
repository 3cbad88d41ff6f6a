#!/usr/bin/env bash
# Invitations through a real SMTP sink: create (201, never the token in the
# answer or the list), the mailed accept link, the pending list, revoke (its
# token then refused), accept (201 with tokens, the invited role, the inviting
# organization; single use), an existing user's email refused (409), the seat
# limit of the free plan (2 seats: users + pending invitations; 402 with limit
# and used), and bad input.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up

pw=$AUTH_PASSWORD
uuid_re='^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
time_re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|\+00:00)$'
prefix="$SWITCHBOARD_PUBLIC_URL/accept-invitation?token="

signup A ivy@example.com "$pw" "Ivy Inviter" "Invite Org" inviteorg
t_status "signup A: 201" 201
signup B bea@example.com "$pw" "Bea Bystander" "Bystander Org" bystander
t_status "signup B (another organization): 201" 201

# ---- refusals before any invitation -------------------------------------------------
http_as "$A_AT" POST /v1/invitations "$(jobj email=IVY@Example.com role=user)"
t_error "inviting the admin's own email (other case): 409 email_taken" 409 email_taken
http_as "$A_AT" POST /v1/invitations "$(jobj email=new@example.com role=owner)"
t_status "an unknown role: 400" 400
http_as "$A_AT" POST /v1/invitations "$(jobj email=not-an-email role=user)"
t_error "an email without @: 400 validation_failed" 400 validation_failed
http_as "$A_AT" POST /v1/invitations "$(jobj role=user)"
t_status "no email: 400" 400
http POST /v1/invitations "$(jobj email=new@example.com role=user)"
t_error "inviting without a credential: 401 unauthenticated" 401 unauthenticated
http_as "$A_AT" GET /v1/invitations
t_status "GET /v1/invitations: 200" 200
t_is "nothing pending after the refusals" "$(json_len "$HTTP_BODY" .data)" 0

# ---- create, list, revoke -------------------------------------------------------------
http_as "$A_AT" POST /v1/invitations "$(jobj email=first@example.com role=user)"
t_status "invite first@: 201" 201
created=$HTTP_BODY
inv1=$(json_get "$created" .id)
t_like "  id is a UUID" "$inv1" "$uuid_re"
t_field "  email" .email first@example.com
t_field "  role" .role user
t_like "  created_at" "$(json_get "$created" .created_at)" "$time_re"
t_like "  expires_at" "$(json_get "$created" .expires_at)" "$time_re"
t_ok "  no token field" eval '! json_get "$created" .token'
tok1=$(mail_token first@example.com "$prefix" 15)
t_like "the invitation mail carries an accept link" "$tok1" '^.+$'
t_lacks "  the answer does not contain the token" "$created" "$tok1"

http_as "$A_AT" GET /v1/invitations
t_status "GET /v1/invitations: 200" 200
t_is "  one pending" "$(json_len "$HTTP_BODY" .data)" 1
t_field "  it is first@" '.data[0].id' "$inv1"
t_field "  with its email" '.data[0].email' first@example.com
t_field "  next_cursor null" .next_cursor null
t_lacks "  the list does not contain the token" "$HTTP_BODY" "$tok1"
t_ok "  no token field in the list" eval '! json_get "$HTTP_BODY" ".data[0].token"'

# The seat limit: A plus one pending invitation fill the 2 free seats.
http_as "$A_AT" POST /v1/invitations "$(jobj email=second@example.com role=user)"
t_error "a second pending invitation: 402 plan_limit_reached" 402 plan_limit_reached
t_field "  error.limit 2" .error.limit 2
t_field "  error.used 2" .error.used 2
sleep 1
t_is "  and no mail to second@" "$(mail_count second@example.com)" 0

http_as "$B_AT" GET /v1/invitations
t_is "B does not see A's invitation" "$(json_len "$HTTP_BODY" .data)" 0

http_as "$A_AT" DELETE "/v1/invitations/$inv1"
t_status "revoke first@'s invitation: 204" 204
http_as "$A_AT" GET /v1/invitations
t_is "  nothing pending" "$(json_len "$HTTP_BODY" .data)" 0
accept_invite X "$tok1" "First Person" "$pw"
t_error "accepting the revoked invitation: 400 invalid_token" 400 invalid_token
http_as "$A_AT" DELETE "/v1/invitations/$inv1"
t_error "revoking it again: 404 not_found" 404 not_found

# ---- accept ------------------------------------------------------------------------------
http_as "$A_AT" POST /v1/invitations "$(jobj email=grace@example.com role=admin)"
t_status "the freed seat: invite Grace@ as admin: 201" 201
inv2=$(json_get "$HTTP_BODY" .id)
tok2=$(mail_token grace@example.com "$prefix" 15)
t_like "the invitation mail arrives" "$tok2" '^.+$'
accept_invite X garbage "Grace" "$pw"
t_error "accepting a garbage token: 400 invalid_token" 400 invalid_token
http POST /v1/invitations/accept "$(jobj token="$tok2" name=Grace password=short)"
t_error "accepting with a 5-character password: 400 validation_failed" 400 validation_failed
t_ok "  naming fields.password" json_get "$HTTP_BODY" .error.fields.password

accept_invite G "$tok2" "Grace Guest" "$pw"
t_status "accept: 201" 201
t_field "  user.name" .user.name "Grace Guest"
t_field "  user.role is the invited role" .user.role admin
t_field "  organization is the inviting one" .organization.id "$A_OID"
t_field "  token_type Bearer" .token_type Bearer
t_field "  expires_in 900" .expires_in 900
t_like "  a refresh token" "$G_RT" '^.{16,}$'
t_field "  user.email is the invited address" .user.email grace@example.com
http_as "$G_AT" GET /v1/me
t_status "the new user's token works" 200
t_field "  in A's organization" .organization.id "$A_OID"
t_field "  as admin" .role admin
accept_invite X "$tok2" "Grace Again" "$pw"
t_error "accepting the same token again: 400 invalid_token" 400 invalid_token
login G2 GRACE@example.com "$pw"
t_status "the new user logs in (email in other case)" 200
t_is "  the same user" "$G2_UID" "$G_UID"

http_as "$A_AT" GET /v1/invitations
t_is "the accepted invitation is no longer pending" "$(json_len "$HTTP_BODY" .data)" 0
http_as "$A_AT" DELETE "/v1/invitations/$inv2"
t_error "revoking an accepted invitation: 404 not_found" 404 not_found
http_as "$A_AT" GET /v1/users
t_is "A's organization has 2 users" "$(json_len "$HTTP_BODY" .data)" 2

http_as "$A_AT" POST /v1/invitations "$(jobj email=third@example.com role=user)"
t_error "two users fill the seats: 402 plan_limit_reached" 402 plan_limit_reached
t_field "  error.limit 2" .error.limit 2
t_field "  error.used 2" .error.used 2
http_as "$G_AT" GET /v1/invitations
t_status "the invited admin may use the admin routes" 200

# B's seats are B's own; emails are unique across organizations.
http_as "$B_AT" POST /v1/invitations "$(jobj email=grace@example.com role=user)"
t_error "B inviting A's new member: 409 email_taken" 409 email_taken
http_as "$B_AT" POST /v1/invitations "$(jobj email=bfriend@example.com role=user)"
t_status "B invites someone (B's own seat count): 201" 201

t_done
