/*  selftest.c — runs every class's selftest and prints "N passed, M failed".

    Usage: sb-selftest [-v] [-t NAME]   (NAME: one class, e.g. envelope)
*/
#include "sb/sb.h"
#include "sb/secrets.h"
#include "sb/lru.h"
#include "../../gateway/src/gw.h"

typedef struct {
    const char *name;
    void (*test) (bool verbose);
} s_test_t;

//  The services' tables, linked in (every service object but its main).
extern const sb_service_t auth_service, tenant_service, billing_service, usage_service;

//  Every route of the gateway that goes to a service names an operation of
//  that service, and needs the role the operation needs: the gateway's
//  table and the services' cannot drift apart (a route that asked for less
//  than its operation would be refused late; one that asked for more would
//  hide an operation; an internal operation, role service, is never a
//  route).
static void
s_routes_ops_test (bool verbose)
{
    const sb_service_t *services [] = { &auth_service, &tenant_service, &billing_service,
                                        &usage_service };
    size_t routed = 0, bad = 0;
    for (size_t i = 0; gw_routes_at (i); i++) {
        const gw_route_t *route = gw_routes_at (i);
        if (!route->service)
            continue;
        //  "billing.stripe": the lane "stripe" of service "billing".
        const sb_service_t *service = NULL;
        const char *lane = NULL;
        for (size_t s = 0; s < sizeof (services) / sizeof (services [0]); s++) {
            size_t len = strlen (services [s]->name);
            if (streq (services [s]->name, route->service))
                service = services [s];
            else
            if (strncmp (services [s]->name, route->service, len) == 0
                && route->service [len] == '.' && services [s]->lane
                && streq (services [s]->lane, route->service + len + 1)) {
                service = services [s];
                lane = services [s]->lane;
            }
        }
        const sb_op_t *op = service ? sb_service_op (service, route->op) : NULL;
        bool lane_op = op && (op->flags & SB_OP_LANE);
        if (!op || op->role != route->role || lane_op != (lane != NULL)) {
            bad++;
            fprintf (stderr, "routes_ops: %s %s -> %s %s: %s\n", route->method, route->path,
                     route->service, route->op,
                     !service ? "no such service" : !op ? "no such operation"
                     : op->role != route->role ? "the route's role is not the operation's"
                     : lane ? "the operation is not flagged for the lane"
                            : "the operation belongs to the service's lane");
        }
        else
        if (verbose)
            printf ("  %s %s -> %s %s (%s)\n", route->method, route->path, route->service,
                    route->op, route->role ? sb_role_name (route->role) : "none");
        routed++;
    }
    SB_CHECK (routed > 40);
    SB_CHECK (bad == 0);
}

static const s_test_t s_tests [] = {
    { "util", sb_util_test },
    { "timestamp", sb_timestamp_test },
    { "log", sb_log_test },
    { "config", sb_config_test },
    { "mpk", sb_mpk_test },
    { "envelope", sb_envelope_test },
    { "broker", sb_broker_test },
    { "curve", sb_curve_test },
    { "json", sb_json_test },
    { "jwt", sb_jwt_test },
    { "secrets", sb_secrets_test },
    { "mail", sb_mail_test },
    { "plans", sb_plans_test },
    { "entitlements", sb_ents_test },
    { "lru", sb_lru_test },
    { "db", sb_db_test },
    { "routes", gw_routes_test },
    { "ratelimit", gw_ratelimit_test },
    { "auth", gw_auth_test },
    { "addr", gw_addr_test },
    { "static", gw_static_test },
    { "session", gw_session_test },
    { "metrics", gw_metrics_test },
    { "routes_ops", s_routes_ops_test },
    { "openapi", gw_openapi_test },
    { NULL, NULL }
};

int
main (int argc, char **argv)
{
    bool verbose = false;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "-v"))
            verbose = true;
        else
        if (streq (argv [i], "-t") && i + 1 < argc)
            only = argv [++i];
        else {
            fprintf (stderr, "usage: sb-selftest [-v] [-t NAME]\n");
            return 2;
        }
    }
    sb_log_init ("selftest");
    bool found = false;
    for (const s_test_t *t = s_tests; t->name; t++) {
        if (only && !streq (only, t->name))
            continue;
        found = true;
        int passed = sb_test_passed, failed = sb_test_failed;
        sb_log_set_level ("off");       //  the errors tests provoke on purpose are noise
        t->test (verbose);
        printf ("%s %s: %d checks\n", sb_test_failed == failed ? "ok" : "FAIL", t->name,
                sb_test_passed - passed + sb_test_failed - failed);
    }
    if (!found) {
        fprintf (stderr, "no test named '%s'\n", only);
        return 2;
    }
    printf ("%d passed, %d failed\n", sb_test_passed, sb_test_failed);
    return sb_test_failed ? 1 : 0;
}
