#!/usr/bin/env bash
# Nobody can lock an owner out from elsewhere (issue 10, B.13). Failed
# logins are counted per (account, client address): with
# SWITCHBOARD_LOGIN_MAX_FAILURES=3, three wrong passwords from 127.0.0.2
# lock that address out of the account (429 too_many_attempts with
# Retry-After, even with the right password), while the owner at 127.0.0.1
# still logs in, and a third address is not locked either. The account-wide
# ceiling (SWITCHBOARD_LOGIN_MAX_ACCOUNT_FAILURES=7) still holds: failures
# spread over addresses, each under the per-address limit, lock the account
# for everyone once they reach 7 (the owner's own success does not reset
# them). Another account is untouched. The per-address limit across
# accounts (SWITCHBOARD_LOGIN_MAX_CLIENT_FAILURES) is t1005's.
. "$(dirname "$0")/lib/auth.sh"
suite_init
export SWITCHBOARD_LOGIN_MAX_FAILURES=3
export SWITCHBOARD_LOGIN_MAX_ACCOUNT_FAILURES=7
export SWITCHBOARD_LOGIN_MAX_CLIENT_FAILURES=100
export SWITCHBOARD_LOGIN_LOCKOUT_SECONDS=900
suite_up

pw=$AUTH_PASSWORD
signup O owner@example.com "$pw" "Olive Owner" "Owner Org"
t_status "signup of the owner: 201" 201
signup B bystander@example.com "$pw" "Ben Bystander" "Bystander Org"
t_status "signup of another account: 201" 201

for a in 127.0.0.2 127.0.0.3 127.0.0.4; do
    http GET /healthz "" --interface "$a"
    [[ $HTTP_STATUS == 200 ]] || t_bail "the gateway does not answer from $a: $HTTP_ERROR"
done

# ---- the attacker's address is locked, the owner's is not ----------------------------
for i in 1 2 3; do
    login X owner@example.com "wrong password $i" --interface 127.0.0.2
    t_error "from 127.0.0.2: failure $i of 3: 401" 401 invalid_credentials
done
login X owner@example.com "$pw" --interface 127.0.0.2
t_error "from 127.0.0.2: the right password now: 429 too_many_attempts" 429 too_many_attempts
ra=$(http_header Retry-After)
t_like "  with Retry-After, a positive integer" "$ra" '^[1-9][0-9]*$'
t_unlike "  and no token" "$HTTP_BODY" 'access_token'
login X OWNER@example.com "wrong again" --interface 127.0.0.2
t_error "from 127.0.0.2: the email in other case is the same account: 429" 429 too_many_attempts

login O1 owner@example.com "$pw"
t_status "the owner from 127.0.0.1 still logs in: 200" 200
t_alive "  and the token works" "$O1_AT"
login X owner@example.com "$pw" --interface 127.0.0.3
t_status "a third address (no failures of its own) logs in: 200" 200
login X owner@example.com "$pw" --interface 127.0.0.2
t_error "127.0.0.2 stays locked after the owner's successes: 429" 429 too_many_attempts

# ---- the account-wide ceiling ----------------------------------------------------------
# 3 failures so far (127.0.0.2); 2 from 127.0.0.3 and 2 from 127.0.0.4 make
# 7, none of those addresses at its own limit of 3.
for a in 127.0.0.3 127.0.0.4; do
    for i in 1 2; do
        login X owner@example.com "wrong password $a $i" --interface "$a"
        t_error "from $a: failure $i (under its own limit): 401" 401 invalid_credentials
    done
done
login X owner@example.com "$pw"
t_error "7 failures in all: the owner at 127.0.0.1 is locked out too: 429" 429 too_many_attempts
ra=$(http_header Retry-After)
t_like "  with Retry-After, a positive integer" "$ra" '^[1-9][0-9]*$'
login X owner@example.com "$pw" --interface 127.0.0.3
t_error "  and so is 127.0.0.3: 429" 429 too_many_attempts
login X bystander@example.com "$pw" --interface 127.0.0.2
t_status "another account logs in, even from 127.0.0.2: 200" 200
t_alive "the owner's session from before still works" "$O1_AT"

t_done
