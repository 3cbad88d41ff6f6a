/*  selftest.c — runs every class's selftest and prints "N passed, M failed".

    Usage: sb-selftest [-v] [-t NAME]   (NAME: one class, e.g. envelope)
*/
#include "sb/sb.h"
#include "../../gateway/src/gw.h"

typedef struct {
    const char *name;
    void (*test) (bool verbose);
} s_test_t;

static const s_test_t s_tests [] = {
    { "util", sb_util_test },
    { "timestamp", sb_timestamp_test },
    { "log", sb_log_test },
    { "config", sb_config_test },
    { "mpk", sb_mpk_test },
    { "envelope", sb_envelope_test },
    { "broker", sb_broker_test },
    { "json", sb_json_test },
    { "jwt", sb_jwt_test },
    { "mail", sb_mail_test },
    { "plans", sb_plans_test },
    { "routes", gw_routes_test },
    { "ratelimit", gw_ratelimit_test },
    { "auth", gw_auth_test },
    { "addr", gw_addr_test },
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
