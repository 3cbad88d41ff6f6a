#!/usr/bin/env bash
# A gateway that starts after revocations refuses the revoked sessions'
# tokens: the one of a session ended by logout, and the one of a user who
# was removed (whose session used to vanish with the user, so that a
# restarted gateway's re-read of the revoked sessions missed it and let the
# token through until it expired). The gateway is restarted, its first
# read of the revoked sessions awaited (its log says so), then both tokens
# get 401 while the owner's still gets 200.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up

pw=$AUTH_PASSWORD
link="$SWITCHBOARD_PUBLIC_URL/accept-invitation?token="
signup O boss@example.com "$pw" "Bo Boss" "Restart Org" restartorg
t_status "signup the owner: 201" 201
http_as "$O_AT" POST /v1/invitations "$(jobj email=gone@example.com role=user)"
t_status "invite a user: 201" 201
accept_invite U "$(mail_token gone@example.com "$link" 15)" "Gus Gone" "$pw"
t_status "the user joins: 201" 201
login L boss@example.com "$pw"
t_status "the owner opens a second session" 200

http_as "$L_AT" POST /v1/auth/logout
t_status "that session ends: 204" 204
t_revoked "  its token gets 401" "$L_AT"
t_alive "the user's token works" "$U_AT"
http_as "$O_AT" DELETE "/v1/users/$U_UID"
t_status "the owner removes the user: 204" 204
t_revoked "  the user's token gets 401" "$U_AT"

log=$SUITE_TMP/log/gateway-1.log
lines=$(wc -l < "$log")
suite_stop gateway-1
suite_start_gateway
suite_wait_ready 60 || t_bail "the gateway did not come back"
synced () { tail -n +$((lines + 1)) "$log" | grep -q 'revoked sessions read from auth-svc'; }
t_ok "the restarted gateway has read the revoked sessions" poll_until 30 synced

http_as "$U_AT" GET /v1/me
t_error "after the restart the removed user's token gets 401" 401 unauthenticated
http_as "$L_AT" GET /v1/me
t_error "  and the ended session's token" 401 unauthenticated
t_alive "the owner's token works" "$O_AT"

t_done
