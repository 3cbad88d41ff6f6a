/*  gw_routes.c — the gateway's route table.

    Every public path is listed once, with the service and operation that
    answer it, the role it needs and its deadline. Matching walks the table
    segment by segment; `{name}` captures one path segment, except the
    last one of a GW_ROUTE_REST route, which captures the rest of the path
    (one or more segments; the dashboard's deep links). A path that
    exists with another method answers 405 with the methods it takes.

    A route may set the largest body it takes (max_body); by default a
    route without authentication takes GW_MAX_BODY_ANON, as what it is
    sent comes from anyone, and the others GW_MAX_BODY.
*/
#include "gw.h"

#define S_HASHING_MS 15000
#define S_STRIPE_MS 15000           //  routes that call Stripe (billing-svc bounds it at 10 s)

const char *const gw_services [] = { "auth", "tenant", "billing", "billing.stripe", "usage",
                                     NULL };

static const gw_route_t s_routes [] = {
    { .method = "GET", .path = "/healthz", .local = gw_http_healthz },
    { .method = "GET", .path = "/readyz", .local = gw_http_readyz },
    //  The API reference: the OpenAPI document (docs/openapi.yaml).
    { .method = "GET", .path = "/openapi.json", .local = gw_http_openapi },
    //  The API reference and the guides, from the files make docs builds
    //  (gw_static.c).
    { .method = "GET", .path = "/docs", .local = gw_static_reference },
    { .method = "GET", .path = "/docs/assets/{name}", .local = gw_static_asset },
    { .method = "GET", .path = "/docs/guides", .local = gw_static_guides },
    { .method = "GET", .path = "/docs/guides/", .local = gw_static_guides },
    { .method = "GET", .path = "/docs/guides/{name}", .local = gw_static_guide },
    //  The dashboard, a single-page app (gw_static.c): every page of it
    //  answers the same index.html, which routes in the browser.
    { .method = "GET", .path = "/", .local = gw_static_app },
    { .method = "GET", .path = "/app", .local = gw_static_app },
    { .method = "GET", .path = "/app/", .local = gw_static_app },
    { .method = "GET", .path = "/app/assets/{name}", .local = gw_static_app_asset },
    { .method = "GET", .path = "/app/{path}", .local = gw_static_app, .flags = GW_ROUTE_REST },
    //  The pages the mailed links open (auth-svc: SWITCHBOARD_PUBLIC_URL
    //  followed by these, with ?token=...).
    { .method = "GET", .path = "/reset-password", .local = gw_static_app },
    //  The referral link billing-svc hands out (GET /v1/billing/credits):
    //  the sign-up form with ?ref=<code>.
    { .method = "GET", .path = "/signup", .local = gw_static_app },
    { .method = "GET", .path = "/accept-invitation", .local = gw_static_app },
    //  Prometheus metrics: open, or only to the operator token when one
    //  is configured (gw_metrics.c).
    { .method = "GET", .path = "/metrics", .local = gw_metrics_scrape },
    //  Operators' probe of one service through the bus: which worker
    //  answered and its version. Only with SWITCHBOARD_OPERATOR_TOKEN.
    { .method = "GET", .path = "/v1/sys/ping/auth", .service = "auth", .op = "sys.ping",
      .role = SB_ROLE_NONE, .flags = GW_ROUTE_OPERATOR },
    { .method = "GET", .path = "/v1/sys/ping/tenant", .service = "tenant", .op = "sys.ping",
      .role = SB_ROLE_NONE, .flags = GW_ROUTE_OPERATOR },
    { .method = "GET", .path = "/v1/sys/ping/billing", .service = "billing", .op = "sys.ping",
      .role = SB_ROLE_NONE, .flags = GW_ROUTE_OPERATOR },
    { .method = "GET", .path = "/v1/sys/ping/usage", .service = "usage", .op = "sys.ping",
      .role = SB_ROLE_NONE, .flags = GW_ROUTE_OPERATOR },
    //  The same with a JSON body, which the service echoes back.
    { .method = "POST", .path = "/v1/sys/ping/auth", .service = "auth", .op = "sys.ping",
      .role = SB_ROLE_NONE, .flags = GW_ROUTE_OPERATOR },
    { .method = "POST", .path = "/v1/sys/ping/tenant", .service = "tenant", .op = "sys.ping",
      .role = SB_ROLE_NONE, .flags = GW_ROUTE_OPERATOR },
    { .method = "POST", .path = "/v1/sys/ping/billing", .service = "billing", .op = "sys.ping",
      .role = SB_ROLE_NONE, .flags = GW_ROUTE_OPERATOR },
    { .method = "POST", .path = "/v1/sys/ping/usage", .service = "usage", .op = "sys.ping",
      .role = SB_ROLE_NONE, .flags = GW_ROUTE_OPERATOR },

    //  Auth and identity. Routes that run argon2id (some 20 ms of a core
    //  each, one at a time per auth-svc worker) get S_HASHING_MS: under a
    //  burst of logins they queue behind each other, and a login answered
    //  after 6 s beats a 504 after 5.
    //  GW_ROUTE_SESSION: the dashboard's refresh token may travel in an
    //  httpOnly cookie instead of the JSON (gw_session.c).
    { .method = "POST", .path = "/v1/auth/signup", .service = "auth", .op = "auth.signup",
      .role = SB_ROLE_NONE, .deadline_ms = S_HASHING_MS, .flags = GW_ROUTE_SESSION },
    { .method = "POST", .path = "/v1/auth/login", .service = "auth", .op = "auth.login",
      .role = SB_ROLE_NONE, .deadline_ms = S_HASHING_MS, .flags = GW_ROUTE_SESSION },
    { .method = "POST", .path = "/v1/auth/refresh", .service = "auth", .op = "auth.refresh",
      .role = SB_ROLE_NONE, .flags = GW_ROUTE_SESSION },
    { .method = "POST", .path = "/v1/auth/logout", .service = "auth", .op = "auth.logout",
      .role = SB_ROLE_USER, .flags = GW_ROUTE_SESSION },
    { .method = "POST", .path = "/v1/auth/password/forgot", .service = "auth",
      .op = "auth.password_forgot", .role = SB_ROLE_NONE },
    { .method = "POST", .path = "/v1/auth/password/reset", .service = "auth",
      .op = "auth.password_reset", .role = SB_ROLE_NONE, .deadline_ms = S_HASHING_MS },
    { .method = "POST", .path = "/v1/auth/password/change", .service = "auth",
      .op = "auth.password_change", .role = SB_ROLE_USER, .deadline_ms = S_HASHING_MS },
    { .method = "GET", .path = "/v1/me", .service = "auth", .op = "auth.me", .role = SB_ROLE_USER },
    { .method = "GET", .path = "/.well-known/jwks.json", .service = "auth", .op = "auth.jwks",
      .role = SB_ROLE_NONE },

    //  Organization, team, API keys
    { .method = "GET", .path = "/v1/organization", .service = "auth", .op = "org.get",
      .role = SB_ROLE_USER },
    { .method = "PATCH", .path = "/v1/organization", .service = "auth", .op = "org.update",
      .role = SB_ROLE_ADMIN },
    { .method = "DELETE", .path = "/v1/organization", .service = "auth", .op = "org.delete",
      .role = SB_ROLE_ADMIN },
    { .method = "GET", .path = "/v1/users", .service = "auth", .op = "users.list",
      .role = SB_ROLE_USER },
    { .method = "PATCH", .path = "/v1/users/{id}", .service = "auth", .op = "users.update",
      .role = SB_ROLE_ADMIN },
    { .method = "DELETE", .path = "/v1/users/{id}", .service = "auth", .op = "users.delete",
      .role = SB_ROLE_ADMIN },
    { .method = "POST", .path = "/v1/invitations", .service = "auth", .op = "invitations.create",
      .role = SB_ROLE_ADMIN },
    { .method = "GET", .path = "/v1/invitations", .service = "auth", .op = "invitations.list",
      .role = SB_ROLE_ADMIN },
    { .method = "POST", .path = "/v1/invitations/accept", .service = "auth",
      .op = "invitations.accept", .role = SB_ROLE_NONE, .deadline_ms = S_HASHING_MS,
      .flags = GW_ROUTE_SESSION },
    { .method = "DELETE", .path = "/v1/invitations/{id}", .service = "auth",
      .op = "invitations.delete", .role = SB_ROLE_ADMIN },
    { .method = "POST", .path = "/v1/api-keys", .service = "auth", .op = "apikeys.create",
      .role = SB_ROLE_ADMIN },
    { .method = "GET", .path = "/v1/api-keys", .service = "auth", .op = "apikeys.list",
      .role = SB_ROLE_ADMIN },
    { .method = "DELETE", .path = "/v1/api-keys/{id}", .service = "auth", .op = "apikeys.delete",
      .role = SB_ROLE_ADMIN },
    { .method = "GET", .path = "/v1/audit-log", .service = "auth", .op = "audit.list",
      .role = SB_ROLE_ADMIN },
    { .method = "POST", .path = "/v1/support/requests", .service = "auth",
      .op = "support.create", .role = SB_ROLE_USER },

    //  Tenant data
    { .method = "GET", .path = "/v1/businesses", .service = "tenant", .op = "businesses.list",
      .role = SB_ROLE_USER },
    { .method = "POST", .path = "/v1/businesses", .service = "tenant", .op = "businesses.create",
      .role = SB_ROLE_USER },
    { .method = "GET", .path = "/v1/businesses/{id}", .service = "tenant", .op = "businesses.get",
      .role = SB_ROLE_USER },
    { .method = "PATCH", .path = "/v1/businesses/{id}", .service = "tenant",
      .op = "businesses.update", .role = SB_ROLE_USER },
    { .method = "DELETE", .path = "/v1/businesses/{id}", .service = "tenant",
      .op = "businesses.delete", .role = SB_ROLE_USER },
    { .method = "GET", .path = "/v1/calls", .service = "tenant", .op = "calls.list",
      .role = SB_ROLE_USER },
    { .method = "POST", .path = "/v1/calls", .service = "tenant", .op = "calls.create",
      .role = SB_ROLE_USER },
    { .method = "GET", .path = "/v1/calls/{id}", .service = "tenant", .op = "calls.get",
      .role = SB_ROLE_USER },
    { .method = "GET", .path = "/v1/orders", .service = "tenant", .op = "orders.list",
      .role = SB_ROLE_USER },
    { .method = "POST", .path = "/v1/orders", .service = "tenant", .op = "orders.create",
      .role = SB_ROLE_USER },
    { .method = "GET", .path = "/v1/orders/{id}", .service = "tenant", .op = "orders.get",
      .role = SB_ROLE_USER },
    { .method = "PATCH", .path = "/v1/orders/{id}", .service = "tenant", .op = "orders.update",
      .role = SB_ROLE_USER },
    { .method = "GET", .path = "/v1/analytics/overview", .service = "tenant",
      .op = "analytics.overview", .role = SB_ROLE_USER },
    //  ---- Webhooks (issue 14): tenant-svc's outbound webhook endpoints ----
    { .method = "POST", .path = "/v1/webhooks", .service = "tenant", .op = "webhooks.create",
      .role = SB_ROLE_ADMIN },
    { .method = "GET", .path = "/v1/webhooks", .service = "tenant", .op = "webhooks.list",
      .role = SB_ROLE_ADMIN },
    { .method = "GET", .path = "/v1/webhooks/{id}", .service = "tenant", .op = "webhooks.get",
      .role = SB_ROLE_ADMIN },
    { .method = "PATCH", .path = "/v1/webhooks/{id}", .service = "tenant",
      .op = "webhooks.update", .role = SB_ROLE_ADMIN },
    { .method = "DELETE", .path = "/v1/webhooks/{id}", .service = "tenant",
      .op = "webhooks.delete", .role = SB_ROLE_ADMIN },
    { .method = "POST", .path = "/v1/webhooks/{id}/rotate-secret", .service = "tenant",
      .op = "webhooks.rotate_secret", .role = SB_ROLE_ADMIN },
    { .method = "POST", .path = "/v1/webhooks/{id}/test", .service = "tenant",
      .op = "webhooks.test", .role = SB_ROLE_ADMIN },
    { .method = "GET", .path = "/v1/webhooks/{id}/deliveries", .service = "tenant",
      .op = "webhooks.deliveries", .role = SB_ROLE_ADMIN },
    //  ---- end of Webhooks ----

    //  Integrations: Twilio (tenant-svc, tenant_twilio.c). The status
    //  callback has no credential but X-Twilio-Signature, which tenant-svc
    //  checks over the URL and the exact form Twilio signed (hence raw).
    { .method = "PUT", .path = "/v1/integrations/twilio", .service = "tenant",
      .op = "twilio.put", .role = SB_ROLE_ADMIN },
    { .method = "GET", .path = "/v1/integrations/twilio", .service = "tenant",
      .op = "twilio.get", .role = SB_ROLE_ADMIN },
    { .method = "DELETE", .path = "/v1/integrations/twilio", .service = "tenant",
      .op = "twilio.delete", .role = SB_ROLE_ADMIN },
    { .method = "GET", .path = "/v1/integrations/twilio/events", .service = "tenant",
      .op = "twilio.events", .role = SB_ROLE_ADMIN },
    { .method = "POST", .path = "/v1/integrations/twilio/callback/{token}", .service = "tenant",
      .op = "twilio.callback", .role = SB_ROLE_NONE, .max_body = 64 * 1024,
      .flags = GW_ROUTE_RAW, .signature = "X-Twilio-Signature" },

    //  Usage
    { .method = "POST", .path = "/v1/usage/events", .service = "usage", .op = "usage.ingest",
      .role = SB_ROLE_USER },
    { .method = "POST", .path = "/v1/usage/reservations", .service = "usage", .op = "usage.reserve",
      .role = SB_ROLE_USER },
    { .method = "POST", .path = "/v1/usage/reservations/{id}/commit", .service = "usage",
      .op = "usage.commit", .role = SB_ROLE_USER },
    { .method = "POST", .path = "/v1/usage/reservations/{id}/release", .service = "usage",
      .op = "usage.release", .role = SB_ROLE_USER },
    { .method = "GET", .path = "/v1/usage/summary", .service = "usage", .op = "usage.summary",
      .role = SB_ROLE_USER },
    { .method = "GET", .path = "/v1/usage", .service = "usage", .op = "usage.series",
      .role = SB_ROLE_USER },

    //  Usage alerts
    { .method = "GET", .path = "/v1/usage/alerts", .service = "usage", .op = "usage.alerts.get",
      .role = SB_ROLE_USER },
    { .method = "PUT", .path = "/v1/usage/alerts", .service = "usage", .op = "usage.alerts.set",
      .role = SB_ROLE_ADMIN },

    //  Billing
    { .method = "GET", .path = "/v1/billing/plans", .service = "billing", .op = "billing.plans" },
    { .method = "GET", .path = "/v1/billing/subscription", .service = "billing",
      .op = "billing.subscription", .role = SB_ROLE_USER },
    { .method = "PUT", .path = "/v1/billing/spending-cap", .service = "billing",
      .op = "billing.spending_cap", .role = SB_ROLE_ADMIN },
    { .method = "GET", .path = "/v1/billing/credits", .service = "billing",
      .op = "billing.credits", .role = SB_ROLE_ADMIN },
    //  Stripe calls, on billing's lane (billing-svc's second worker thread):
    //  a slow Stripe holds up only them. billing-svc gives Stripe at most
    //  10 s of this.
    { .method = "POST", .path = "/v1/billing/checkout", .service = "billing.stripe",
      .op = "billing.checkout", .role = SB_ROLE_ADMIN, .deadline_ms = S_STRIPE_MS },
    { .method = "POST", .path = "/v1/billing/portal", .service = "billing.stripe",
      .op = "billing.portal", .role = SB_ROLE_ADMIN, .deadline_ms = S_STRIPE_MS },
    { .method = "GET", .path = "/v1/billing/invoices", .service = "billing",
      .op = "billing.invoices", .role = SB_ROLE_ADMIN },
    //  Stripe's events: no credential but the signature, which billing-svc
    //  checks over the exact bytes Stripe signed (hence raw).
    { .method = "POST", .path = "/v1/billing/webhook", .service = "billing",
      .op = "webhooks.receive", .role = SB_ROLE_NONE, .deadline_ms = 10000,
      .max_body = 512 * 1024, .flags = GW_ROUTE_RAW, .signature = "Stripe-Signature" },
    //  Operators: a plan given outside Stripe.
    { .method = "PUT", .path = "/v1/sys/subscriptions/{organization_id}", .service = "billing",
      .op = "subscriptions.assign", .role = SB_ROLE_SERVICE, .flags = GW_ROUTE_OPERATOR },
    { .method = NULL }
};

//  Compares one template against a path; captures {params}. Returns true
//  on a match.
static bool
s_path_matches (const char *template, const char *path, bool rest, gw_match_t *match)
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
            if (rest && t [tlen] == 0)
                plen = strlen (p);
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

const gw_route_t *
gw_routes_at (size_t index)
{
    size_t count = sizeof (s_routes) / sizeof (s_routes [0]) - 1;
    return index < count ? &s_routes [index] : NULL;
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
        if (!s_path_matches (route->path, path, (route->flags & GW_ROUTE_REST) != 0, &candidate))
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
    //  Stripe's webhook: raw, anonymous, 512 KiB.
    gw_routes_match ("POST", "/v1/billing/webhook", &m);
    SB_CHECK (m.route && (m.route->flags & GW_ROUTE_RAW) && m.route->role == SB_ROLE_NONE
              && gw_route_max_body (m.route) == 512 * 1024);

    //  Parameter capture, on a template of our own.
    SB_CHECK (s_path_matches ("/v1/things/{id}/parts/{part}", "/v1/things/abc/parts/7", false, &m));
    SB_CHECK (m.param_count == 2 && streq (m.params [0].name, "id")
              && streq (m.params [0].value, "abc") && streq (m.params [1].name, "part")
              && streq (m.params [1].value, "7"));
    SB_CHECK (!s_path_matches ("/v1/things/{id}", "/v1/things/", false, &m));
    SB_CHECK (!s_path_matches ("/v1/things/{id}", "/v1/things", false, &m));
    SB_CHECK (!s_path_matches ("/v1/things/{id}", "/v1/things/a/b", false, &m));
    char longseg [300] = "/v1/things/";
    memset (longseg + 11, 'x', 200);
    longseg [211] = 0;
    SB_CHECK (!s_path_matches ("/v1/things/{id}", longseg, false, &m));

    //  A rest parameter: one or more segments, slashes and all; empty or
    //  too long misses.
    SB_CHECK (s_path_matches ("/app/{path}", "/app/a/b/c", true, &m));
    SB_CHECK (m.param_count == 1 && streq (m.params [0].value, "a/b/c"));
    SB_CHECK (s_path_matches ("/app/{path}", "/app/home", true, &m)
              && streq (m.params [0].value, "home"));
    SB_CHECK (!s_path_matches ("/app/{path}", "/app/", true, &m));
    SB_CHECK (!s_path_matches ("/app/{path}", "/app", true, &m));
    SB_CHECK (!s_path_matches ("/app/{path}", "/apps/x", true, &m));
    SB_CHECK (s_path_matches ("/app/{path}", "/app/a//", true, &m)
              && streq (m.params [0].value, "a//"));
    char longrest [300] = "/app/";
    memset (longrest + 5, 'x', 200);
    longrest [205] = 0;
    SB_CHECK (!s_path_matches ("/app/{path}", longrest, true, &m));
    SB_CHECK (!s_path_matches ("/x/{id}/y", "/x/a/b/y", true, &m));
    //  The dashboard's routes: assets first, then any deep link.
    gw_routes_match ("GET", "/", &m);
    SB_CHECK (m.status == 0 && m.route && m.route->local == gw_static_app);
    gw_routes_match ("GET", "/app/assets/app.js", &m);
    SB_CHECK (m.status == 0 && m.route && m.route->local == gw_static_app_asset
              && streq (m.params [0].value, "app.js"));
    gw_routes_match ("GET", "/app/businesses/12/edit", &m);
    SB_CHECK (m.status == 0 && m.route && m.route->local == gw_static_app
              && streq (m.params [0].value, "businesses/12/edit"));
    gw_routes_match ("POST", "/app/x", &m);
    SB_CHECK (m.status == 405 && streq (m.allow, "GET"));

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

    //  What a request's arguments become (gw_http.c): the body's object,
    //  then the query, then the path; a name that is not UTF-8 is a 400,
    //  not a parameter quietly dropped.
    char why [256];
    json_t *args = gw_http_body_args ("{\"a\":1,\"id\":2}", 14, why, sizeof (why));
    SB_CHECK (args && gw_http_arg_set (args, "b", NULL) && gw_http_arg_set (args, "id", "x")
              && json_object_size (args) == 3
              && streq (json_string_value (json_object_get (args, "id")), "x")
              && streq (json_string_value (json_object_get (args, "b")), ""));
    SB_CHECK (!gw_http_arg_set (args, "\xff", "v") && !gw_http_arg_set (args, "c", "\xc3")
              && !gw_http_arg_set (args, "", "v") && json_object_size (args) == 3);
    json_decref (args);
    SB_CHECK (!gw_http_body_args ("[1]", 3, why, sizeof (why)));
    SB_CHECK ((args = gw_http_body_args (NULL, 0, why, sizeof (why))) && json_object_size (args) == 0);
    json_decref (args);
    char deep [256] = "";
    for (int i = 0; i < 17; i++)
        strcat (deep, "{\"a\":");
    strcat (deep, "1");
    for (int i = 0; i < 17; i++)
        strcat (deep, "}");
    SB_CHECK (!gw_http_body_args (deep, strlen (deep), why, sizeof (why)) && strstr (why, "16"));
    char idem [SB_IDEM_MAX + 1] = "";
    SB_CHECK (gw_http_idempotency_key ("POST", "k-1", idem) && streq (idem, "k-1"));
    SB_CHECK (!gw_http_idempotency_key ("POST", "", idem) && !gw_http_idempotency_key ("POST", "a\tb", idem));
    idem [0] = 0;
    SB_CHECK (gw_http_idempotency_key ("GET", "k-2", idem) && !*idem);
}
