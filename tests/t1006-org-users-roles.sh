#!/usr/bin/env bash
# The organization and its users: GET/PATCH /v1/organization (name,
# subdomain taken or invalid), the user list, role and name changes, the
# last-admin rule (demote and delete), a `user` refused (403) on every admin
# route but reading /v1/me, /v1/organization, /v1/users; role changes taking
# effect on new tokens; deleting a user (its tokens dead within 1 s, its login
# refused); the audit log; deleting the organization (202, its tokens and
# keys dead within 1 s, its users' logins refused, other organizations
# untouched). Members join through invitations (SMTP sink).
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up

pw=$AUTH_PASSWORD
time_re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|\+00:00)$'
invite_prefix="$SWITCHBOARD_PUBLIC_URL/accept-invitation?token="
nobody=00000000-0000-4000-8000-000000000000

signup A ada@example.com "$pw" "Ada Admin" "Team Org" teamorg
t_status "signup A: 201" 201
signup B bo@example.com "$pw" "Bo Other" "Other Team" otherteam
t_status "signup B (another organization): 201" 201

# invite PFX EMAIL ROLE NAME: A invites, the invitee accepts from the mail.
invite () {
    local pfx=$1 email=$2 role=$3 name=$4 tok
    http_as "$A_AT" POST /v1/invitations "$(jobj email="$email" role="$role")"
    t_status "A invites $email as $role: 201" 201
    tok=$(mail_token "$email" "$invite_prefix" 15)
    t_like "  the invitation mail arrives" "$tok" '^.+$'
    accept_invite "$pfx" "$tok" "$name" "$pw"
    t_status "  $email accepts: 201" 201
}

# ---- the organization -------------------------------------------------------------
http_as "$A_AT" GET /v1/organization
t_status "GET /v1/organization: 200" 200
t_field "id" .id "$A_OID"
t_field "name" .name "Team Org"
t_field "subdomain" .subdomain teamorg
t_like "created_at" "$(json_get "$HTTP_BODY" .created_at)" "$time_re"
t_like "referral_code" "$(json_get "$HTTP_BODY" .referral_code)" '^.+$'

http_as "$A_AT" PATCH /v1/organization "$(jobj name="Team Org Renamed")"
t_status "PATCH name: 200" 200
t_field "  returns the organization with the new name" .name "Team Org Renamed"
t_field "  and the same subdomain" .subdomain teamorg
http_as "$A_AT" PATCH /v1/organization "$(jobj subdomain=otherteam)"
t_error "PATCH to a taken subdomain: 409 subdomain_taken" 409 subdomain_taken
for bad in bad_sub -bad www UPPER; do
    http_as "$A_AT" PATCH /v1/organization "$(jobj subdomain="$bad")"
    t_error "PATCH to subdomain '$bad': 400 validation_failed" 400 validation_failed
    t_ok "  naming fields.subdomain" json_get "$HTTP_BODY" .error.fields.subdomain
done
http_as "$A_AT" PATCH /v1/organization "$(jobj subdomain=teamorg2 id="$B_OID")"
t_status "PATCH subdomain: 200" 200
t_field "  the new subdomain" .subdomain teamorg2
t_field "  the id is not taken from the body" .id "$A_OID"
http_as "$A_AT" GET /v1/organization
t_field "GET shows the new name" .name "Team Org Renamed"
t_field "GET shows the new subdomain" .subdomain teamorg2
http_as "$B_AT" GET /v1/organization
t_field "B's organization is untouched" .subdomain otherteam

# ---- a member with role user ------------------------------------------------------
invite U ulla@example.com user "Ulla User"
t_is "the new member is a user" "$U_ROLE" user
t_is "  in A's organization" "$U_OID" "$A_OID"

http_as "$U_AT" GET /v1/me
t_status "user: GET /v1/me: 200" 200
t_field "user: role user" .role user
http_as "$U_AT" GET /v1/organization
t_status "user: GET /v1/organization: 200" 200
http_as "$U_AT" GET /v1/users
t_status "user: GET /v1/users: 200" 200
forbidden () {
    http_as "$U_AT" "$@"
    local what=${2//$A_UID/<A>}
    t_error "user: $1 ${what//$U_UID/<U>}: 403 forbidden" 403 forbidden
}
forbidden PATCH /v1/organization "$(jobj name=Hijacked)"
forbidden DELETE /v1/organization
forbidden PATCH "/v1/users/$A_UID" "$(jobj role=user)"
forbidden PATCH "/v1/users/$U_UID" "$(jobj role=admin)"
forbidden DELETE "/v1/users/$A_UID"
forbidden POST /v1/invitations "$(jobj email=x@example.com role=admin)"
forbidden GET /v1/invitations
forbidden POST /v1/api-keys "$(jobj name=sneaky)"
forbidden GET /v1/api-keys
forbidden GET /v1/audit-log
http_as "$A_AT" GET /v1/organization
t_status "the organization survived the user's DELETE" 200
t_field "  and its name the user's PATCH" .name "Team Org Renamed"
login U2 ulla@example.com "$pw"
t_is "the user did not make itself admin" "$U2_ROLE" user

# ---- the user list ----------------------------------------------------------------
http_as "$A_AT" GET /v1/users
t_status "GET /v1/users: 200" 200
t_is "two users" "$(json_len "$HTTP_BODY" .data)" 2
t_field "next_cursor null" .next_cursor null
users=$HTTP_BODY
t_like "lists A" "$users" "\"id\": *\"$A_UID\""
t_like "lists U" "$users" "\"id\": *\"$U_UID\""
t_lacks "not B's user" "$users" "$B_UID"
t_unlike "no password hashes" "$users" 'password_hash|\$argon2|\$2[aby]\$'
for f in id email name role created_at; do
    t_ok "users carry $f" json_get "$users" ".data[0].$f"
done

# ---- roles and the last admin -------------------------------------------------------
http_as "$A_AT" PATCH "/v1/users/$A_UID" "$(jobj role=user)"
t_error "demoting the last admin: 409 last_admin" 409 last_admin
http_as "$A_AT" DELETE "/v1/users/$A_UID"
t_error "deleting the last admin: 409 last_admin" 409 last_admin
http_as "$A_AT" PATCH "/v1/users/$U_UID" "$(jobj role=owner)"
t_status "PATCH role 'owner': 400" 400
http_as "$A_AT" PATCH "/v1/users/$nobody" "$(jobj role=admin)"
t_error "PATCH an unknown user: 404 not_found" 404 not_found

http_as "$A_AT" PATCH "/v1/users/$U_UID" "$(jobj name="Ulla Renamed")"
t_status "PATCH name: 200" 200
t_field "  returns the user with the new name" .name "Ulla Renamed"
t_field "  role unchanged" .role user
http_as "$A_AT" PATCH "/v1/users/$U_UID" "$(jobj role=admin)"
t_status "promote U to admin: 200" 200
t_field "  returns role admin" .role admin
login U3 ulla@example.com "$pw"
t_is "a fresh login of U carries role admin" "$(json_get "$(jwt_tool claims "$U3_AT" 2>/dev/null)" .role)" admin
http_as "$U3_AT" GET /v1/me
t_field "  /v1/me says admin" .role admin
http_as "$U3_AT" GET /v1/api-keys
t_status "  and an admin route answers 200" 200

# With two admins, either can be demoted, but not the last one left.
http_as "$U3_AT" PATCH "/v1/users/$A_UID" "$(jobj role=user)"
t_status "U demotes A (two admins): 200" 200
http_as "$U3_AT" PATCH "/v1/users/$U_UID" "$(jobj role=user)"
t_error "U cannot demote itself, now the last admin: 409 last_admin" 409 last_admin
login A2 ada@example.com "$pw"
t_is "a fresh login of A carries role user" "$A2_ROLE" user
http_as "$A2_AT" GET /v1/audit-log
t_error "  and A's new token is refused an admin route" 403 forbidden
http_as "$U3_AT" PATCH "/v1/users/$A_UID" "$(jobj role=admin)"
t_status "U promotes A back: 200" 200
login A ada@example.com "$pw"
t_is "A's fresh login is admin again" "$A_ROLE" admin
http_as "$A_AT" PATCH "/v1/users/$U_UID" "$(jobj role=user)"
t_status "A demotes U: 200" 200
login U4 ulla@example.com "$pw"
http_as "$U4_AT" GET /v1/api-keys
t_error "U's fresh token (user) is refused an admin route" 403 forbidden

# ---- things for the audit log -----------------------------------------------------------
login X ada@example.com "wrong password"
t_error "a failed login (for the audit log)" 401 invalid_credentials
http_as "$A_AT" POST /v1/api-keys "$(jobj name=audit-me)"
t_status "an API key is created" 201
key_id=$(json_get "$HTTP_BODY" .id)
http_as "$A_AT" DELETE "/v1/api-keys/$key_id"
t_status "and revoked" 204
http_as "$A_AT" POST /v1/api-keys "$(jobj name=keeps-working role=admin)"
t_status "another API key is created (kept)" 201
kept_key=$(json_get "$HTTP_BODY" .key)

# ---- deleting a user -----------------------------------------------------------------------
t_alive "U's token works before the deletion" "$U4_AT"
http_as "$A_AT" DELETE "/v1/users/$U_UID"
t_status "DELETE U: 204" 204
t_revoked "the deleted user's token stops within 1 s" "$U4_AT" 1
t_revoked "  and its older one" "$U_AT" 1
login X ulla@example.com "$pw"
t_error "the deleted user's login: 401 invalid_credentials" 401 invalid_credentials
http_as "$A_AT" GET /v1/users
t_is "one user left" "$(json_len "$HTTP_BODY" .data)" 1
http_as "$A_AT" DELETE "/v1/users/$U_UID"
t_error "DELETE it again: 404 not_found" 404 not_found
http_as "$A_AT" DELETE "/v1/users/$B_UID"
t_error "DELETE another organization's user: 404 not_found" 404 not_found

# ---- the audit log ---------------------------------------------------------------------------
http_as "$A_AT" GET '/v1/audit-log?limit=100'
t_status "GET /v1/audit-log: 200" 200
audit=$HTTP_BODY
t_ok "it has next_cursor" json_get "$audit" .next_cursor
n=$(json_len "$audit" .data)
t_like "it has entries" "${n:-0}" '^[1-9][0-9]*$'
for f in id at actor_id action target ip details; do
    t_ok "entries carry $f" json_get "$audit" ".data[0].$f"
done
# Follow next_cursor (at most 5 pages) to collect every action.
actions=$(json_lines "$audit" .data | "$SUITE_PYTHON" -c 'import json,sys; print("\n".join(e.get("action","") for e in json.loads(sys.stdin.read() or "[]")))')
cursor=$(json_lines "$audit" .next_cursor)
for ((page = 0; page < 5 && ${#cursor}; page++)); do
    http_as "$A_AT" GET "/v1/audit-log?limit=100&cursor=$(printf '%s' "$cursor" | "$SUITE_PYTHON" -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.stdin.read(), safe=""))')"
    actions+=$'\n'$(json_lines "$HTTP_BODY" .data | "$SUITE_PYTHON" -c 'import json,sys; print("\n".join(e.get("action","") for e in json.loads(sys.stdin.read() or "[]")))')
    cursor=$(json_lines "$HTTP_BODY" .next_cursor)
done
for a in login.succeeded login.failed apikey.created apikey.revoked user.role_changed; do
    if grep -qxF "$a" <<<"$actions"; then t_pass "the audit log has $a"
    else t_fail "the audit log has $a" "  actions: $(sort -u <<<"$actions" | tr '\n' ' ')"
    fi
done
order=$(json_lines "$audit" .data | "$SUITE_PYTHON" -c '
import json, sys
from datetime import datetime
d = json.loads(sys.stdin.read() or "[]")
ts = [datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in d]
print("newest-first" if all(a >= b for a, b in zip(ts, ts[1:])) else "not ordered: %s" % [e["at"] for e in d[:10]])
' 2>&1)
t_is "entries are newest first" "$order" newest-first
t_unlike "the audit log holds no passwords" "$audit" "$pw|wrong password"
http_as "$B_AT" GET '/v1/audit-log?limit=100'
t_lacks "B's audit log has none of A's entries" "$HTTP_BODY" "$A_UID"

# ---- deleting the organization ----------------------------------------------------------------
invite V vera@example.com user "Vera Late"
t_alive "the freed seat took a new member, whose token works" "$V_AT"
http_key "$kept_key" GET /v1/me
t_status "A's kept API key works" 200
http_as "$A_AT" DELETE /v1/organization
t_status "DELETE /v1/organization: 202" 202
t_revoked "the admin's token stops within 1 s" "$A_AT" 1
t_revoked "the member's token stops within 1 s" "$V_AT" 1
t_within "the organization's API key stops within 1 s" 1 401 GET /v1/me "" -H "X-API-Key: $kept_key"
login X ada@example.com "$pw"
t_error "the admin's login: 401 invalid_credentials" 401 invalid_credentials
login X vera@example.com "$pw"
t_error "the member's login: 401 invalid_credentials" 401 invalid_credentials
http POST /v1/auth/refresh "$(jobj refresh_token="$A_RT")"
t_error "the admin's refresh token: 401 invalid_token" 401 invalid_token
t_alive "B's token still works" "$B_AT"
http_as "$B_AT" GET /v1/organization
t_field "B's organization is still there" .id "$B_OID"
login X bo@example.com "$pw"
t_status "B still logs in" 200

t_done
