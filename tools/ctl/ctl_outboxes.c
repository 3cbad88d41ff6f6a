/*  ctl_outboxes.c — `switchboardctl outboxes [list|show NAME|replay NAME
    [--ids ID,...|--failed]] [--service S]`: the outboxes of every service
    as each declares them once (sb_outbox_view_t in its <svc>_outboxes.c),
    through the skeleton's sys.outboxes.list, .show and .replay
    (common/src/service.c). NAME is "service/outbox" (auth/mail_outbox) or
    an outbox name with --service. States: pending (not yet tried), failed
    (failed at least once, still retried), dead (given up), delivered.
    replay makes failed and dead rows (--failed) or the rows named (--ids)
    due now, per the outbox's own semantics (its file's header says which
    rows can be sent again).
*/
#include "ctl.h"

static const char s_usage [] =
    "usage: switchboardctl [--json] outboxes [list] [--service S]\n"
    "       switchboardctl [--json] outboxes show SERVICE/NAME [--state S] [--limit N]\n"
    "       switchboardctl [--json] outboxes replay SERVICE/NAME (--ids ID,... | --failed)\n\n"
    "list: every outbox of every service (auth, tenant, billing, usage): backlog\n"
    "(pending, including failed), the age of its oldest pending row, rows failed\n"
    "at least once and still retried, dead rows (given up), total.\n"
    "show: one outbox's figures and its newest rows (--state pending, failed,\n"
    "dead or delivered; --limit 1-500, 20).\n"
    "replay: makes the failed and dead rows (--failed), or the rows named by id\n"
    "(--ids, as show prints them), due again now.\n";

static const char *const s_services [] = { "auth", "tenant", "billing", "usage", NULL };

static const char *
s_str (const json_t *object, const char *key)
{
    const char *value = json_string_value (json_object_get (object, key));
    return value ? value : "";
}

static void
s_figures_row (const char *service, const json_t *outbox)
{
    printf ("%-8s %-20s %8lld %8.0f %8lld %6lld %8lld\n", service, s_str (outbox, "name"),
            (long long) json_integer_value (json_object_get (outbox, "pending")),
            json_number_value (json_object_get (outbox, "oldest_seconds")),
            (long long) json_integer_value (json_object_get (outbox, "failed")),
            (long long) json_integer_value (json_object_get (outbox, "dead")),
            (long long) json_integer_value (json_object_get (outbox, "total")));
}

static const char s_figures_head [] = "%-8s %-20s %8s %8s %8s %6s %8s\n";

//  Splits "service/outbox" into service (copied into buf) and outbox.
static bool
s_split (const char *word, char *buf, size_t size, const char **outbox)
{
    const char *slash = strchr (word, '/');
    if (!slash || slash == word || !slash [1] || (size_t) (slash - word) >= size)
        return false;
    memcpy (buf, word, (size_t) (slash - word));
    buf [slash - word] = 0;
    *outbox = slash + 1;
    for (const char *const *name = s_services; *name; name++)
        if (streq (*name, buf))
            return true;
    return false;
}

int
ctl_outboxes (ctl_t *ctl, int argc, char **argv)
{
    if (ctl_wants_help (argc, argv, s_usage))
        return CTL_OK;
    static const char *const with_value [] = { "--service", "--state", "--limit", "--ids", NULL };
    const char *verb = ctl_word (argc, argv, 0, with_value);
    const char *target = ctl_word (argc, argv, 1, with_value);
    const char *only = ctl_option (argc, argv, "--service");
    verb = verb ? verb : "list";
    char service [16];
    const char *outbox = NULL;
    if (target && only && !strchr (target, '/')) {
        snprintf (service, sizeof (service), "%s", only);
        outbox = target;
    }
    else
    if (target && !s_split (target, service, sizeof (service), &outbox))
        target = NULL, verb = "?";
    bool list = streq (verb, "list") && !target;
    bool show = streq (verb, "show") && outbox;
    bool replay = streq (verb, "replay") && outbox;
    const char *ids = ctl_option (argc, argv, "--ids");
    bool failed = false;
    for (int i = 1; i < argc; i++)
        failed = failed || streq (argv [i], "--failed");
    if ((!list && !show && !replay) || ctl_word (argc, argv, 2, with_value)
        || (replay && !ids == !failed)) {
        fputs (s_usage, stderr);
        return CTL_USAGE;
    }
    if (list) {
        json_t *all = json_array ();
        int code = CTL_OK;
        if (!ctl->json)
            printf (s_figures_head, "SERVICE", "OUTBOX", "PENDING", "OLDEST_S", "FAILED", "DEAD",
                    "TOTAL");
        for (const char *const *name = s_services; *name; name++) {
            if (only && !streq (only, *name))
                continue;
            json_t *body = NULL;
            int status = ctl_call (ctl, *name, "sys.outboxes.list", NULL, NULL, &body);
            if (!body) {
                code = ctl_exit_code (status);
                continue;
            }
            size_t index;
            json_t *item;
            json_array_foreach (json_object_get (body, "outboxes"), index, item) {
                if (!ctl->json)
                    s_figures_row (*name, item);
                json_object_set_new (item, "service", json_string (*name));
                json_array_append (all, item);
            }
            json_decref (body);
        }
        if (ctl->json) {
            json_t *document = json_pack ("{s:o}", "outboxes", all);
            ctl_print_json (document);
            json_decref (document);
        }
        else
            json_decref (all);
        return code;
    }
    json_t *args = json_pack ("{s:s}", "name", outbox);
    json_t *body = NULL;
    int status;
    if (show) {
        const char *state = ctl_option (argc, argv, "--state");
        const char *limit = ctl_option (argc, argv, "--limit");
        if (state)
            json_object_set_new (args, "state", json_string (state));
        if (limit)
            json_object_set_new (args, "limit", json_string (limit));
        status = ctl_call (ctl, service, "sys.outboxes.show", NULL, args, &body);
    }
    else {
        if (ids) {
            json_t *list_ids = json_array ();
            char *copy = sb_strdup (ids), *save = NULL;
            for (char *id = strtok_r (copy, ",", &save); id; id = strtok_r (NULL, ",", &save))
                json_array_append_new (list_ids, json_string (id));
            free (copy);
            json_object_set_new (args, "ids", list_ids);
        }
        status = ctl_call (ctl, service, "sys.outboxes.replay", NULL, args, &body);
    }
    json_decref (args);
    if (!body)
        return ctl_exit_code (status);
    if (ctl->json)
        ctl_print_json (body);
    else
    if (show) {
        printf (s_figures_head, "SERVICE", "OUTBOX", "PENDING", "OLDEST_S", "FAILED", "DEAD",
                "TOTAL");
        s_figures_row (service, json_object_get (body, "outbox"));
        printf ("\n%-38s %-9s %8s %-27s %s\n", "ID", "STATE", "ATTEMPTS", "CREATED", "LAST ERROR");
        size_t index;
        json_t *row;
        json_array_foreach (json_object_get (body, "rows"), index, row)
            printf ("%-38s %-9s %8lld %-27s %s\n", s_str (row, "id"), s_str (row, "state"),
                    (long long) json_integer_value (json_object_get (row, "attempts")),
                    s_str (row, "created_at"), s_str (row, "last_error"));
    }
    else
        printf ("%s/%s: %lld replayed\n", service, outbox,
                (long long) json_integer_value (json_object_get (body, "replayed")));
    json_decref (body);
    return CTL_OK;
}
