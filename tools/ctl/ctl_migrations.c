/*  ctl_migrations.c — `switchboardctl migrations [status|run] [--service S]`:
    each service's schema migrations, applied against shipped, from the
    skeleton's sys.migrations (common/src/service.c), which any worker of
    the service answers with the versions its binary ships. run applies
    the pending ones through sb_migrate, the path of a worker's start: under
    the schema's advisory lock, so a run racing a starting worker migrates
    once. Exit: CTL_OK when every service asked answered (and, for status,
    nothing is pending); CTL_REFUSED when something is pending (status) —
    scripts can gate a deploy on it; CTL_UNAVAILABLE when a service did not
    answer or a migration failed.
*/
#include "ctl.h"

static const char s_usage [] =
    "usage: switchboardctl [--json] migrations [status|run] [--service S]\n\n"
    "status (the default) shows each service's schema migrations: applied,\n"
    "pending (shipped by the running binary, not yet applied) and unknown\n"
    "(applied by a newer binary); exit 1 when any is pending. run applies the\n"
    "pending ones (as a worker's start does, under the schema's lock).\n"
    "Services: auth, tenant, billing, usage (all unless --service).\n";

static const char *const s_services [] = { "auth", "tenant", "billing", "usage", NULL };

int
ctl_migrations (ctl_t *ctl, int argc, char **argv)
{
    if (ctl_wants_help (argc, argv, s_usage))
        return CTL_OK;
    static const char *const with_value [] = { "--service", NULL };
    const char *verb = ctl_word (argc, argv, 0, with_value);
    const char *only = ctl_option (argc, argv, "--service");
    bool known = !only;
    for (const char *const *name = s_services; only && *name; name++)
        known = known || streq (*name, only);
    if ((verb && !streq (verb, "status") && !streq (verb, "run"))
        || ctl_word (argc, argv, 1, with_value) || !known) {
        fputs (s_usage, stderr);
        return CTL_USAGE;
    }
    bool run = verb && streq (verb, "run");
    json_t *all = json_array ();
    int code = CTL_OK;
    bool pending = false;
    for (const char *const *name = s_services; *name; name++) {
        if (only && !streq (only, *name))
            continue;
        json_t *args = json_pack ("{s:b}", "run", run);
        json_t *body = NULL;
        int status = ctl_call (ctl, *name, "sys.migrations", NULL, args, &body);
        json_decref (args);
        if (!body) {
            code = ctl_exit_code (status);
            json_array_append_new (all, json_pack ("{s:s, s:i}", "service", *name, "status",
                                                   status));
            continue;
        }
        if (json_integer_value (json_object_get (body, "pending")) > 0)
            pending = true;
        if (!ctl->json) {
            printf ("%s: %lld applied, %lld pending, %lld unknown of %lld shipped%s "
                    "(checksums %s)\n", *name,
                    (long long) json_integer_value (json_object_get (body, "applied")),
                    (long long) json_integer_value (json_object_get (body, "pending")),
                    (long long) json_integer_value (json_object_get (body, "unknown")),
                    (long long) json_integer_value (json_object_get (body, "shipped")),
                    run ? "" : "",
                    json_string_value (json_object_get (body, "checksums")));
            if (run)
                printf ("  ran %lld\n", (long long) json_integer_value (json_object_get (body,
                                                                                        "ran")));
            size_t index;
            json_t *migration;
            json_array_foreach (json_object_get (body, "migrations"), index, migration) {
                const char *state = json_string_value (json_object_get (migration, "state"));
                const char *at = json_string_value (json_object_get (migration, "applied_at"));
                printf ("  %5lld  %-8s %-40s %s\n",
                        (long long) json_integer_value (json_object_get (migration, "version")),
                        state, json_string_value (json_object_get (migration, "name"))
                               ? json_string_value (json_object_get (migration, "name")) : "?",
                        at ? at : "");
            }
        }
        json_array_append_new (all, body);
    }
    if (ctl->json) {
        json_t *document = json_pack ("{s:o}", "services", all);
        ctl_print_json (document);
        json_decref (document);
    }
    else
        json_decref (all);
    if (code == CTL_OK && pending && !run)
        code = CTL_REFUSED;
    return code;
}
