#!/usr/bin/env bash
# The dashboard's refresh token in an httpOnly cookie (gateway/src/
# gw_session.c): with `Switchboard-Session: cookie`, signup and login answer
# tokens without `refresh_token` and with `Set-Cookie: sb_refresh=...;
# Path=/v1/auth; HttpOnly; SameSite=Strict` (no Secure on an http public
# URL); a refresh with an empty body uses the cookie, answers a new access
# token that works and rotates the cookie; the old cookie is then refused
# (401, which clears the cookie) and, being a reused refresh token, revokes
# its family, so the new one fails too. Without the header the contract is
# unchanged: a body with refresh_token, no Set-Cookie, and a cookie alone
# is not used (400 naming refresh_token). A malformed cookie counts as
# none. Logout with the header ends the session and clears the cookie; the
# cookie is refused afterwards. The token in the cookie is the API's own:
# it refreshes through the JSON route too.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

S=(-H 'Switchboard-Session: cookie')
email=cookie-$$@example.com
pw='correct horse battery'

# set_cookie NAME: the last answer's Set-Cookie line for cookie NAME ("").
set_cookie () {
    grep -i "^set-cookie: $1=" <<<"$HTTP_HEADERS" | head -n 1 | sed 's/^[^:]*: //'
}
# cookie_of: the sb_refresh value the last answer set ("" when none).
cookie_of () {
    local v
    v=$(set_cookie sb_refresh)
    v=${v%%;*}
    echo "${v#sb_refresh=}"
}

http POST /v1/auth/signup "$(jobj email="$email" password="$pw" name=Ada organization_name="Cookie Co")" "${S[@]}"
t_status "signup with the header: 201" 201
t_ok "no refresh_token in the body" jq -e 'has("refresh_token") | not' <<<"$HTTP_BODY"
t_like "an access token in the body" "$(json_get "$HTTP_BODY" .access_token)" '^ey'
c1=$(cookie_of)
t_like "the refresh token is in the cookie" "$c1" '^[A-Za-z0-9_-]{20,}$'
line=$(set_cookie sb_refresh)
t_like "httpOnly, SameSite=Strict, on /v1/auth, with a life" "$line" \
    '; Path=/v1/auth; Max-Age=2592000; HttpOnly; SameSite=Strict$'
t_unlike "no Secure on an http public URL" "$line" 'Secure'
t_is "beside it the page's hint: no secret, on /, not httpOnly" "$(set_cookie sb_session)" \
    'sb_session=1; Path=/; Max-Age=2592000; SameSite=Strict'

http POST /v1/auth/refresh '' "${S[@]}" -H "Cookie: sb_refresh=$c1"
t_status "refresh with the cookie and no body: 200" 200
at2=$(json_get "$HTTP_BODY" .access_token)
t_ok "no refresh_token in the body" jq -e 'has("refresh_token") | not' <<<"$HTTP_BODY"
c2=$(cookie_of)
t_like "a new cookie" "$c2" '^[A-Za-z0-9_-]{20,}$'
t_isnt "the cookie rotated" "$c2" "$c1"
t_alive "the new access token works" "$at2"

http POST /v1/auth/refresh '' "${S[@]}" -H "Cookie: sb_refresh=$c1"
t_error "the old cookie again: 401" 401 invalid_token
t_like "… which clears the cookie" "$(set_cookie sb_refresh)" '^sb_refresh=; Path=/v1/auth; Max-Age=0;'
t_like "… and the hint" "$(set_cookie sb_session)" '^sb_session=; Path=/; Max-Age=0;'
http POST /v1/auth/refresh '' "${S[@]}" -H "Cookie: sb_refresh=$c2"
t_error "a reused token revoked its family: the newer cookie fails too" 401 invalid_token

# Without the header: the contract of docs/API.md.
login s "$email" "$pw"
t_status "login without the header: 200" 200
t_like "refresh_token in the body" "$s_RT" '^[A-Za-z0-9_-]{20,}$'
t_ok "no Set-Cookie" bash -c '! grep -qi "^set-cookie:" <<<"$1"' _ "$HTTP_HEADERS"
http POST /v1/auth/refresh '' -H "Cookie: sb_refresh=$s_RT"
t_error "a cookie without the header is not used" 400 validation_failed
t_like "… the answer names refresh_token" "$HTTP_BODY" 'refresh_token'
http POST /v1/auth/refresh '' "${S[@]}" -H 'Cookie: sb_refresh=not/a;token'
t_error "a malformed cookie counts as none" 400 validation_failed
t_like "… and the cookies are cleared" "$(set_cookie sb_session)" '^sb_session=; Path=/; Max-Age=0;'

# The cookie's token is the API's own: usable through the JSON route.
login c "$email" "$pw" "${S[@]}"
t_status "login with the header: 200" 200
t_is "no refresh token in its body" "$c_RT" ""
c3=$(cookie_of)
http POST /v1/auth/refresh "$(jobj refresh_token="$c3")"
t_status "the cookie's token refreshes through the JSON body" 200
c4=$(json_get "$HTTP_BODY" .refresh_token)
t_like "… answering it in the body (no header)" "$c4" '^[A-Za-z0-9_-]{20,}$'

# Logout with the header and the cookie.
login d "$email" "$pw" "${S[@]}"
c5=$(cookie_of)
http_as "$d_AT" POST /v1/auth/logout '' "${S[@]}" -H "Cookie: sb_refresh=$c5"
t_status "logout with the cookie: 204" 204
t_like "… clears the cookie" "$(set_cookie sb_refresh)" '^sb_refresh=; Path=/v1/auth; Max-Age=0;'
t_like "… and the hint" "$(set_cookie sb_session)" '^sb_session=; Path=/; Max-Age=0;'
http POST /v1/auth/refresh '' "${S[@]}" -H "Cookie: sb_refresh=$c5"
t_error "the logged-out cookie is refused" 401 invalid_token
t_revoked "the session's access token stops working" "$d_AT" 2
t_alive "another session of the user is untouched" "$s_AT"
t_done
