#!/usr/bin/env bash
# Revoked sessions beyond the gateway's bound (SWITCHBOARD_REVOKED_SESSIONS_MAX,
# set to 4 here): the gateway's deny-list never forgets a revoked session
# before its access tokens have expired. Ten sessions are opened and used
# (so their tokens sit verified in the gateway's cache), then ended one by
# one with POST /v1/auth/logout: every one of the ten tokens gets 401, not
# only the last four. Beyond its bound the gateway asks auth-svc about a
# session instead of forgetting one (fail closed): a live session's token
# still gets 200, and ending that session afterwards still takes effect
# within a second.
. "$(dirname "$0")/lib/auth.sh"
suite_init
export SWITCHBOARD_REVOKED_SESSIONS_MAX=4
suite_up

pw=$AUTH_PASSWORD
signup A rev@example.com "$pw" "Rita Revoke" "Revoke Org" revorg
t_status "signup: 201" 201

n=10
tokens=()
for ((i = 0; i < n; i++)); do
    login S rev@example.com "$pw"
    tokens+=("$S_AT")
done
t_is "$n sessions opened" "$(printf '%s\n' "${tokens[@]}" | grep -c .)" "$n"
ok=0
for t in "${tokens[@]}"; do
    http_as "$t" GET /v1/me
    [[ $HTTP_STATUS == 200 ]] && ok=$((ok + 1))
done
t_is "every session's token works before logout" "$ok" "$n"

login L rev@example.com "$pw"
t_status "a session that stays open" 200
t_alive "  its token works" "$L_AT"

for t in "${tokens[@]}"; do
    http_as "$t" POST /v1/auth/logout
    [[ $HTTP_STATUS == 204 ]] || t_diag "logout: HTTP $HTTP_STATUS $HTTP_BODY"
done
for ((i = 0; i < n; i++)); do
    t_revoked "revoked session $((i + 1)) of $n: its token gets 401" "${tokens[i]}" 2
done
# Once more, after every revocation has arrived: none came back.
back=0
for t in "${tokens[@]}"; do
    http_as "$t" GET /v1/me
    [[ $HTTP_STATUS == 401 ]] || back=$((back + 1))
done
t_is "no revoked token works again" "$back" 0

t_alive "the open session still works beyond the bound" "$L_AT"
http_as "$L_AT" GET /v1/me
http_as "$L_AT" POST /v1/auth/logout
t_status "end the open session: 204" 204
t_revoked "  its token gets 401 within a second" "$L_AT" 1

t_done
