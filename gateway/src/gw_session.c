/*  gw_session.c — the dashboard's refresh token in a cookie that script
    cannot read.

    The public API answers tokens in JSON: an API client keeps its refresh
    token where it likes. A browser page cannot keep one anywhere safe:
    memory dies with a reload (and with the trip to Stripe Checkout and
    back), and web storage is readable by any script that ever runs in the
    page. So a request on a session route (GW_ROUTE_SESSION: signup, login,
    refresh, logout, accepting an invitation) that says

        Switchboard-Session: cookie

    has its refresh token travel in a cookie instead:

    - an answer of 2xx whose body has "refresh_token" loses that member,
      and the token goes into `Set-Cookie: sb_refresh=<token>; Path=/v1/auth;
      Max-Age=<SWITCHBOARD_REFRESH_TOKEN_DAYS in seconds>; HttpOnly;
      SameSite=Strict` (plus `Secure` when SWITCHBOARD_PUBLIC_URL is
      https): the page never sees it;
    - a request whose body has no "refresh_token" (refresh, logout) gets the
      cookie's, when the cookie is there and well formed;
    - logout, and a refresh answered 400 or 401, clear the cookie
      (Max-Age=0);
    - beside it goes `sb_session=1; Path=/` (same life, SameSite=Strict,
      not httpOnly, no secret in it), set and cleared with it: the page
      reads it to know whether a refresh is worth trying at load, instead
      of asking the API (and logging a refused request) on every visit.

    Why it is safe from other sites: the cookie is SameSite=Strict (no
    cross-site request carries it), and it is honoured only with the
    custom header above, which a cross-site form cannot send and a
    cross-site fetch cannot send without a CORS preflight the gateway
    never grants. Without the header nothing changes: API clients see the
    contract of docs/API.md as it is. The token in the cookie is the same
    rotating refresh token (auth-svc): presenting a used one revokes its
    family.

    Invariants: a cookie value is used only when it is 1 to
    GW_SESSION_TOKEN_MAX characters of the base64url alphabet plus '_'
    and '-' (what auth-svc mints); anything else is ignored as if absent.
*/
#include "gw.h"

#include <microhttpd.h>
#include <string.h>
#include <strings.h>

#define S_HEADER "Switchboard-Session"
#define S_COOKIE "sb_refresh"

bool
gw_session_wanted (struct MHD_Connection *connection, const gw_route_t *route)
{
    if (!route || !(route->flags & GW_ROUTE_SESSION))
        return false;
    const char *value = MHD_lookup_connection_value (connection, MHD_HEADER_KIND, S_HEADER);
    return value && strcasecmp (value, "cookie") == 0;
}

//  True when text is a token auth-svc could have minted: its prefix and
//  base64url, nothing that could break a header or a JSON string.
static bool
s_token_ok (const char *text)
{
    size_t size = text ? strlen (text) : 0;
    if (size == 0 || size > GW_SESSION_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < size; i++) {
        char c = text [i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_'))
            return false;
    }
    return true;
}

const char *
gw_session_cookie (struct MHD_Connection *connection)
{
    const char *value = MHD_lookup_connection_value (connection, MHD_COOKIE_KIND, S_COOKIE);
    return s_token_ok (value) ? value : NULL;
}

bool
gw_session_set_cookie (char *out, size_t size, const char *token, int max_age, bool secure)
{
    if (token && !s_token_ok (token))
        return false;
    int n = snprintf (out, size, "%s=%s; Path=/v1/auth; Max-Age=%d; HttpOnly; SameSite=Strict%s",
                      S_COOKIE, token ? token : "", token ? max_age : 0,
                      secure ? "; Secure" : "");
    return n > 0 && (size_t) n < size;
}

bool
gw_session_set_hint (char *out, size_t size, bool set, int max_age, bool secure)
{
    int n = snprintf (out, size, "sb_session=%s; Path=/; Max-Age=%d; SameSite=Strict%s",
                      set ? "1" : "", set ? max_age : 0, secure ? "; Secure" : "");
    return n > 0 && (size_t) n < size;
}

void
gw_session_test (bool verbose)
{
    (void) verbose;
    printf (" * gw_session: ");
    char header [GW_SESSION_HEADER_MAX];
    SB_CHECK (gw_session_set_cookie (header, sizeof (header), "rt_AbC-9_z", 2592000, false));
    SB_CHECK (streq (header, "sb_refresh=rt_AbC-9_z; Path=/v1/auth; Max-Age=2592000; HttpOnly; "
                             "SameSite=Strict"));
    SB_CHECK (gw_session_set_cookie (header, sizeof (header), "rt_x", 60, true));
    SB_CHECK (streq (header, "sb_refresh=rt_x; Path=/v1/auth; Max-Age=60; HttpOnly; "
                             "SameSite=Strict; Secure"));
    //  Clearing: no value, Max-Age=0.
    SB_CHECK (gw_session_set_cookie (header, sizeof (header), NULL, 60, true));
    SB_CHECK (streq (header, "sb_refresh=; Path=/v1/auth; Max-Age=0; HttpOnly; SameSite=Strict; "
                             "Secure"));
    //  What could split a header or smuggle an attribute is refused.
    SB_CHECK (!gw_session_set_cookie (header, sizeof (header), "a;b", 60, false));
    SB_CHECK (!gw_session_set_cookie (header, sizeof (header), "a\r\nSet-Cookie: x=1", 60, false));
    SB_CHECK (!gw_session_set_cookie (header, sizeof (header), "", 60, false));
    SB_CHECK (!gw_session_set_cookie (header, sizeof (header), "a b", 60, false));
    char longest [GW_SESSION_TOKEN_MAX + 2];
    memset (longest, 'a', sizeof (longest) - 1);
    longest [GW_SESSION_TOKEN_MAX] = 0;
    SB_CHECK (gw_session_set_cookie (header, sizeof (header), longest, 60, true));
    longest [GW_SESSION_TOKEN_MAX] = 'a';
    longest [GW_SESSION_TOKEN_MAX + 1] = 0;
    SB_CHECK (!gw_session_set_cookie (header, sizeof (header), longest, 60, true));
    //  The hint beside it: no secret, readable by the page, on every path.
    SB_CHECK (gw_session_set_hint (header, sizeof (header), true, 60, false));
    SB_CHECK (streq (header, "sb_session=1; Path=/; Max-Age=60; SameSite=Strict"));
    SB_CHECK (gw_session_set_hint (header, sizeof (header), false, 60, true));
    SB_CHECK (streq (header, "sb_session=; Path=/; Max-Age=0; SameSite=Strict; Secure"));
    //  Too small a buffer is a failure, not a cut header.
    //  (A large array said to be small, through a volatile, so that the
    //  compiler does not warn of the very truncation this checks.)
    char tiny [GW_SESSION_HEADER_MAX];
    volatile size_t tiny_size = 16;
    SB_CHECK (!gw_session_set_cookie (tiny, tiny_size, "rt_x", 60, false));
    SB_CHECK (!gw_session_set_hint (tiny, tiny_size, true, 60, false));
    printf ("OK\n");
}
