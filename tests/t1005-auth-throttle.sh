#!/usr/bin/env bash
# Login throttling with SWITCHBOARD_LOGIN_MAX_FAILURES=3 (per account and
# client address: all from 127.0.0.1 here; t1018 tests other addresses),
# SWITCHBOARD_LOGIN_MAX_CLIENT_FAILURES=8 (per client address) and a 900 s
# lockout: the 4th attempt on an account after 3 failures is 429
# too_many_attempts with Retry-After even with the right password, other
# accounts are not affected; 8 failures spread over accounts from one
# address lock that address (the next login, for yet another account, is
# 429) but not other addresses. The second part talks from 127.0.0.2 (curl
# --interface) so that the two parts do not share a client address.
. "$(dirname "$0")/lib/auth.sh"
suite_init
export SWITCHBOARD_LOGIN_MAX_FAILURES=3
export SWITCHBOARD_LOGIN_MAX_CLIENT_FAILURES=8
export SWITCHBOARD_LOGIN_LOCKOUT_SECONDS=900
suite_up

pw=$AUTH_PASSWORD
for u in locked free p1 p2 p3 p4 p5; do
    signup "U_$u" "$u@example.com" "$pw" "User $u" "Org $u"
    t_status "signup $u: 201" 201
done

t_retry_after () {
    local ra
    ra=$(http_header Retry-After)
    t_like "$1" "$ra" '^[1-9][0-9]*$' || t_diag "  response headers:" "$HTTP_HEADERS"
    [[ $ra =~ ^[0-9]+$ ]] && (( ra > 900 )) && t_diag "  Retry-After $ra is more than the lockout (900)"
    return 0
}

# ---- per account ----------------------------------------------------------------
for i in 1 2 3; do
    login X locked@example.com "wrong password $i"
    t_error "account: failure $i of 3: 401 invalid_credentials" 401 invalid_credentials
done
login X locked@example.com "$pw"
t_error "account: the 4th attempt, with the right password: 429 too_many_attempts" 429 too_many_attempts
t_retry_after "account: 429 has Retry-After, a positive integer"
t_unlike "account: no token in the 429" "$HTTP_BODY" 'access_token'
login X LOCKED@example.com "$pw"
t_error "account: the email in other case is the same account: 429" 429 too_many_attempts
login X locked@example.com "wrong again"
t_error "account: a wrong password while locked: 429 too" 429 too_many_attempts
t_alive "account: the locked account's existing session still works" "$U_locked_AT"
login F free@example.com "$pw"
t_status "account: another account still logs in from the same address" 200

# ---- per client ------------------------------------------------------------------
# 8 failures, 2 per account (each under the account limit), from 127.0.0.2.
from2=(--interface 127.0.0.2)
http GET /healthz "" "${from2[@]}"
if [[ $HTTP_STATUS != 200 ]]; then
    t_fail "the gateway answers from 127.0.0.2" "$(_auth_last)"
fi
n=0
for u in p1 p2 p3 p4; do
    for i in 1 2; do
        n=$((n + 1))
        login X "$u@example.com" "wrong password $i" "${from2[@]}"
        t_error "client: failure $n of 8 ($u, its $i. one): 401 invalid_credentials" 401 invalid_credentials
    done
done
login X p5@example.com "$pw" "${from2[@]}"
t_error "client: the next login, another account, right password: 429 too_many_attempts" 429 too_many_attempts
t_retry_after "client: 429 has Retry-After, a positive integer"
login X p5@example.com "$pw"
t_status "client: the same login from another address (127.0.0.1): 200" 200
login X p1@example.com "$pw"
t_status "client: an account with 2 failures logs in from another address: 200" 200

t_done
