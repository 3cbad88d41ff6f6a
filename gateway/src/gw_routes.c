/*  gw_routes.c — the gateway's route table.

    Every public path is listed once, with the service and operation that
    answer it, the role it needs and its deadline. Matching walks the table
    segment by segment; `{name}` captures one path segment. A path that
    exists with another method answers 405 with the methods it takes.

    A route may set the largest body it takes (max_body); by default a
    route without authentication takes GW_MAX_BODY_ANON, as what it is
    sent comes from anyone, and the others GW_MAX_BODY.
*/
#include "gw.h"

#define S_HASHING_MS 15000

const char *const gw_services [] = { "auth", "tenant", "billing", "usage", NULL };

static const gw_route_t s_routes [] = {
    { "GET", "/healthz", NULL, NULL, SB_ROLE_NONE, 0, gw_http_healthz },
    { "GET", "/readyz", NULL, NULL, SB_ROLE_NONE, 0, gw_http_readyz },
    //  Operators' probe of one service through the bus: which worker
    //  answered and its version. Only with SWITCHBOARD_OPERATOR_TOKEN.
    { "GET", "/v1/sys/ping/auth", "auth", "sys.ping", SB_ROLE_NONE, 0, NULL,
      0, GW_ROUTE_OPERATOR },
    { "GET", "/v1/sys/ping/tenant", "tenant", "sys.ping", SB_ROLE_NONE, 0, NULL,
      0, GW_ROUTE_OPERATOR },
    { "GET", "/v1/sys/ping/billing", "billing", "sys.ping", SB_ROLE_NONE, 0, NULL,
      0, GW_ROUTE_OPERATOR },
    { "GET", "/v1/sys/ping/usage", "usage", "sys.ping", SB_ROLE_NONE, 0, NULL,
      0, GW_ROUTE_OPERATOR },
    //  The same with a JSON body, which the service echoes back.
    { "POST", "/v1/sys/ping/auth", "auth", "sys.ping", SB_ROLE_NONE, 0, NULL,
      0, GW_ROUTE_OPERATOR },
    { "POST", "/v1/sys/ping/tenant", "tenant", "sys.ping", SB_ROLE_NONE, 0, NULL,
      0, GW_ROUTE_OPERATOR },
    { "POST", "/v1/sys/ping/billing", "billing", "sys.ping", SB_ROLE_NONE, 0, NULL,
      0, GW_ROUTE_OPERATOR },
    { "POST", "/v1/sys/ping/usage", "usage", "sys.ping", SB_ROLE_NONE, 0, NULL,
      0, GW_ROUTE_OPERATOR },

    //  Auth and identity. Routes that run argon2id (some 20 ms of a core
    //  each, one at a time per auth-svc worker) get S_HASHING_MS: under a
    //  burst of logins they queue behind each other, and a login answered
    //  after 6 s beats a 504 after 5.
    { "POST", "/v1/auth/signup", "auth", "auth.signup", SB_ROLE_NONE, S_HASHING_MS, NULL },
    { "POST", "/v1/auth/login", "auth", "auth.login", SB_ROLE_NONE, S_HASHING_MS, NULL },
    { "POST", "/v1/auth/refresh", "auth", "auth.refresh", SB_ROLE_NONE, 0, NULL },
    { "POST", "/v1/auth/logout", "auth", "auth.logout", SB_ROLE_USER, 0, NULL },
    { "POST", "/v1/auth/password/forgot", "auth", "auth.password_forgot", SB_ROLE_NONE, 0, NULL },
    { "POST", "/v1/auth/password/reset", "auth", "auth.password_reset", SB_ROLE_NONE, S_HASHING_MS, NULL },
    { "POST", "/v1/auth/password/change", "auth", "auth.password_change", SB_ROLE_USER, S_HASHING_MS, NULL },
    { "GET", "/v1/me", "auth", "auth.me", SB_ROLE_USER, 0, NULL },
    { "GET", "/.well-known/jwks.json", "auth", "auth.jwks", SB_ROLE_NONE, 0, NULL },

    //  Organization, team, API keys
    { "GET", "/v1/organization", "auth", "org.get", SB_ROLE_USER, 0, NULL },
    { "PATCH", "/v1/organization", "auth", "org.update", SB_ROLE_ADMIN, 0, NULL },
    { "DELETE", "/v1/organization", "auth", "org.delete", SB_ROLE_ADMIN, 0, NULL },
    { "GET", "/v1/users", "auth", "users.list", SB_ROLE_USER, 0, NULL },
    { "PATCH", "/v1/users/{id}", "auth", "users.update", SB_ROLE_ADMIN, 0, NULL },
    { "DELETE", "/v1/users/{id}", "auth", "users.delete", SB_ROLE_ADMIN, 0, NULL },
    { "POST", "/v1/invitations", "auth", "invitations.create", SB_ROLE_ADMIN, 0, NULL },
    { "GET", "/v1/invitations", "auth", "invitations.list", SB_ROLE_ADMIN, 0, NULL },
    { "POST", "/v1/invitations/accept", "auth", "invitations.accept", SB_ROLE_NONE, S_HASHING_MS, NULL },
    { "DELETE", "/v1/invitations/{id}", "auth", "invitations.delete", SB_ROLE_ADMIN, 0, NULL },
    { "POST", "/v1/api-keys", "auth", "apikeys.create", SB_ROLE_ADMIN, 0, NULL },
    { "GET", "/v1/api-keys", "auth", "apikeys.list", SB_ROLE_ADMIN, 0, NULL },
    { "DELETE", "/v1/api-keys/{id}", "auth", "apikeys.delete", SB_ROLE_ADMIN, 0, NULL },
    { "GET", "/v1/audit-log", "auth", "audit.list", SB_ROLE_ADMIN, 0, NULL },

    //  Tenant data
    { "GET", "/v1/businesses", "tenant", "businesses.list", SB_ROLE_USER, 0, NULL },
    { "POST", "/v1/businesses", "tenant", "businesses.create", SB_ROLE_USER, 0, NULL },
    { "GET", "/v1/businesses/{id}", "tenant", "businesses.get", SB_ROLE_USER, 0, NULL },
    { "PATCH", "/v1/businesses/{id}", "tenant", "businesses.update", SB_ROLE_USER, 0, NULL },
    { "DELETE", "/v1/businesses/{id}", "tenant", "businesses.delete", SB_ROLE_USER, 0, NULL },
    { "GET", "/v1/calls", "tenant", "calls.list", SB_ROLE_USER, 0, NULL },
    { "POST", "/v1/calls", "tenant", "calls.create", SB_ROLE_USER, 0, NULL },
    { "GET", "/v1/calls/{id}", "tenant", "calls.get", SB_ROLE_USER, 0, NULL },
    { "GET", "/v1/orders", "tenant", "orders.list", SB_ROLE_USER, 0, NULL },
    { "POST", "/v1/orders", "tenant", "orders.create", SB_ROLE_USER, 0, NULL },
    { "GET", "/v1/orders/{id}", "tenant", "orders.get", SB_ROLE_USER, 0, NULL },
    { "PATCH", "/v1/orders/{id}", "tenant", "orders.update", SB_ROLE_USER, 0, NULL },
    { "GET", "/v1/analytics/overview", "tenant", "analytics.overview", SB_ROLE_USER, 0, NULL },

    //  Usage
    { "POST", "/v1/usage/events", "usage", "usage.ingest", SB_ROLE_USER, 0, NULL },
    { "POST", "/v1/usage/reservations", "usage", "usage.reserve", SB_ROLE_USER, 0, NULL },
    { "POST", "/v1/usage/reservations/{id}/commit", "usage", "usage.commit", SB_ROLE_USER, 0,
      NULL },
    { "POST", "/v1/usage/reservations/{id}/release", "usage", "usage.release", SB_ROLE_USER, 0,
      NULL },
    { "GET", "/v1/usage/summary", "usage", "usage.summary", SB_ROLE_USER, 0, NULL },
    { "GET", "/v1/usage", "usage", "usage.series", SB_ROLE_USER, 0, NULL },
    { NULL }
};

//  Compares one template against a path; captures {params}. Returns true
//  on a match.
static bool
s_path_matches (const char *template, const char *path, gw_match_t *match)
{
    match->param_count = 0;
    const char *t = template, *p = path;
    while (*t && *p) {
        if (*t != '/' || *p != '/')
            return false;
        t++;
        p++;
        size_t tlen = strcspn (t, "/");
        size_t plen = strcspn (p, "/");
        if (tlen > 2 && t [0] == '{' && t [tlen - 1] == '}') {
            if (plen == 0 || plen > GW_PARAM_MAX || match->param_count == GW_MAX_PARAMS)
                return false;
            size_t i = match->param_count++;
            snprintf (match->params [i].name, sizeof (match->params [i].name), "%.*s",
                      (int) (tlen - 2), t + 1);
            memcpy (match->params [i].value, p, plen);
            match->params [i].value [plen] = 0;
        }
        else
        if (tlen != plen || memcmp (t, p, tlen) != 0)
            return false;
        t += tlen;
        p += plen;
    }
    return *t == 0 && *p == 0;
}

size_t
gw_route_max_body (const gw_route_t *route)
{
    if (route->max_body)
        return route->max_body;
    if (route->role == SB_ROLE_NONE && !(route->flags & GW_ROUTE_OPERATOR))
        return GW_MAX_BODY_ANON;
    return GW_MAX_BODY;
}

void
gw_routes_match (const char *method, const char *path, gw_match_t *match)
{
    memset (match, 0, sizeof (*match));
    match->status = 404;
    //  HEAD is GET without a body; libmicrohttpd drops the body for us.
    const char *wanted = streq (method, "HEAD") ? "GET" : method;
    gw_match_t candidate;
    for (const gw_route_t *route = s_routes; route->method; route++) {
        if (!s_path_matches (route->path, path, &candidate))
            continue;
        if (streq (route->method, wanted)) {
            *match = candidate;
            match->route = route;
            match->status = 0;
            return;
        }
        match->status = 405;
        size_t len = strlen (match->allow);
        if (!strstr (match->allow, route->method) && len + strlen (route->method) + 3 < sizeof (match->allow))
            snprintf (match->allow + len, sizeof (match->allow) - len, "%s%s", len ? ", " : "",
                      route->method);
    }
}

void
gw_routes_test (bool verbose)
{
    (void) verbose;
    gw_match_t m;
    gw_routes_match ("GET", "/healthz", &m);
    SB_CHECK (m.status == 0 && m.route && m.route->local == gw_http_healthz);
    gw_routes_match ("HEAD", "/healthz", &m);
    SB_CHECK (m.status == 0);
    gw_routes_match ("POST", "/healthz", &m);
    SB_CHECK (m.status == 405 && streq (m.allow, "GET") && !m.route);
    gw_routes_match ("GET", "/healthz/", &m);
    SB_CHECK (m.status == 404);
    gw_routes_match ("GET", "/nope", &m);
    SB_CHECK (m.status == 404);
    gw_routes_match ("GET", "", &m);
    SB_CHECK (m.status == 404);
    gw_routes_match ("GET", "/v1/sys/ping/tenant", &m);
    SB_CHECK (m.status == 0 && m.route && streq (m.route->service, "tenant")
              && streq (m.route->op, "sys.ping"));
    gw_routes_match ("DELETE", "/v1/sys/ping/usage", &m);
    SB_CHECK (m.status == 405 && streq (m.allow, "GET, POST"));

    //  The sys routes are the operator's, every one; a body from anyone
    //  is small, one with credentials may be larger.
    for (const gw_route_t *route = s_routes; route->method; route++) {
        bool sys = strncmp (route->path, "/v1/sys/", 8) == 0;
        SB_CHECK (sys == ((route->flags & GW_ROUTE_OPERATOR) != 0));
    }
    gw_routes_match ("POST", "/v1/sys/ping/auth", &m);
    SB_CHECK (m.route && gw_route_max_body (m.route) == GW_MAX_BODY);
    gw_routes_match ("POST", "/v1/auth/signup", &m);
    SB_CHECK (m.route && gw_route_max_body (m.route) == GW_MAX_BODY_ANON);
    gw_routes_match ("POST", "/v1/businesses", &m);
    SB_CHECK (m.route && gw_route_max_body (m.route) == GW_MAX_BODY);
    gw_route_t own = { "POST", "/v1/x", "x", "x.y", SB_ROLE_NONE, 0, NULL, 4096, 0 };
    SB_CHECK (gw_route_max_body (&own) == 4096);

    //  Parameter capture, on a template of our own.
    SB_CHECK (s_path_matches ("/v1/things/{id}/parts/{part}", "/v1/things/abc/parts/7", &m));
    SB_CHECK (m.param_count == 2 && streq (m.params [0].name, "id")
              && streq (m.params [0].value, "abc") && streq (m.params [1].name, "part")
              && streq (m.params [1].value, "7"));
    SB_CHECK (!s_path_matches ("/v1/things/{id}", "/v1/things/", &m));
    SB_CHECK (!s_path_matches ("/v1/things/{id}", "/v1/things", &m));
    SB_CHECK (!s_path_matches ("/v1/things/{id}", "/v1/things/a/b", &m));
    char longseg [300] = "/v1/things/";
    memset (longseg + 11, 'x', 200);
    longseg [211] = 0;
    SB_CHECK (!s_path_matches ("/v1/things/{id}", longseg, &m));

    //  Authenticated routes carry their role; a literal path wins over a
    //  template only by order, so accept must come before {id}.
    gw_routes_match ("POST", "/v1/invitations/accept", &m);
    SB_CHECK (m.status == 0 && m.route && streq (m.route->op, "invitations.accept")
              && m.route->role == SB_ROLE_NONE);
    gw_routes_match ("DELETE", "/v1/invitations/abc", &m);
    SB_CHECK (m.status == 0 && m.route && m.route->role == SB_ROLE_ADMIN && m.param_count == 1
              && streq (m.params [0].value, "abc"));
    gw_routes_match ("GET", "/v1/me", &m);
    SB_CHECK (m.status == 0 && m.route && m.route->role == SB_ROLE_USER);
    gw_routes_match ("PUT", "/v1/organization", &m);
    SB_CHECK (m.status == 405 && streq (m.allow, "GET, PATCH, DELETE"));
}
