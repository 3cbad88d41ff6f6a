/*  switchboardctl.c — the operator's tool: main, the command table and the
    helpers every command shares (ctl.h).

    Usage: switchboardctl [--json] [--timeout MS] COMMAND [ARGS...]
    `switchboardctl --help` lists the commands; `switchboardctl COMMAND
    --help` describes one. Configuration is the suite's (SWITCHBOARD_*):
    SWITCHBOARD_BROKER names the gateways, and the CURVE settings the
    operator's key.
*/
#include "ctl.h"

typedef struct {
    const char *name;
    ctl_fn *run;
    const char *summary;
} s_command_t;

static const s_command_t s_commands [] = {
    { "keys", ctl_keys, "CURVE keys of the bus: make one, allow one, set up one machine" },
    //  ---- organizations and JWT keys ----
    { "orgs", ctl_orgs, "organizations: list, search, show, suspend, resume, first admin" },
    { "jwt", ctl_jwt, "auth-svc's JWT signing keys: list, rotate" },
    //  ---- revenue, plan, migrations, workers, outboxes ----
    { "revenue", ctl_revenue, "MRR by plan and in total; new, churned, past due this month" },
    { "plan", ctl_plan, "an organization's plan by hand (comped accounts): set, show" },
    { "migrations", ctl_migrations, "schema migrations of every service: status, run" },
    { "workers", ctl_workers, "live workers per service, per gateway, with version and load" },
    { "outboxes", ctl_outboxes, "every service's outboxes: list, show, replay" },
    { NULL, NULL, NULL }
};

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: switchboardctl [--json] [--timeout MS] COMMAND [ARGS...]\n\n"
                  "The operator's tool: speaks to the services over the bus as role operator.\n\n"
                  "Commands:\n");
    for (const s_command_t *command = s_commands; command->name; command++)
        fprintf (out, "  %-12s %s\n", command->name, command->summary);
    fprintf (out, "\n`switchboardctl COMMAND --help` describes one.\n"
                  "Exit codes: 0 done, 1 refused by the service, 2 bad usage, 3 no answer or a\n"
                  "local failure. With --json, stdout holds one JSON document.\n");
}

int
main (int argc, char **argv)
{
    ctl_t ctl = { .timeout_ms = 5000 };
    int i = 1;
    for (; i < argc && argv [i][0] == '-'; i++) {
        if (streq (argv [i], "--help") || streq (argv [i], "-h")) {
            s_usage (stdout);
            return CTL_OK;
        }
        if (streq (argv [i], "--version")) {
            printf ("switchboardctl %s\n", SB_VERSION);
            return CTL_OK;
        }
        if (streq (argv [i], "--json"))
            ctl.json = true;
        else
        if (streq (argv [i], "--timeout") && i + 1 < argc) {
            char *end = NULL;
            long value = strtol (argv [++i], &end, 10);
            if (*end || value < 1 || value > 600000) {
                fprintf (stderr, "switchboardctl: --timeout takes 1 to 600000 (ms)\n");
                return CTL_USAGE;
            }
            ctl.timeout_ms = (int) value;
        }
        else {
            fprintf (stderr, "switchboardctl: unknown option '%s'\n", argv [i]);
            s_usage (stderr);
            return CTL_USAGE;
        }
    }
    if (i == argc) {
        s_usage (stderr);
        return CTL_USAGE;
    }
    const s_command_t *command = s_commands;
    while (command->name && !streq (command->name, argv [i]))
        command++;
    if (!command->name) {
        fprintf (stderr, "switchboardctl: unknown command '%s'\n", argv [i]);
        s_usage (stderr);
        return CTL_USAGE;
    }
    sb_log_init ("switchboardctl");
    sb_log_set_level ("warn");
    char why [512];
    if (sb_config_load (&ctl.config, "operator", NULL, why, sizeof (why))) {
        fprintf (stderr, "switchboardctl: %s\n", why);
        sb_config_release (&ctl.config);
        return CTL_USAGE;
    }
    int status = command->run (&ctl, argc - i, argv + i);
    sb_client_destroy (&ctl.client);
    sb_config_release (&ctl.config);
    return status;
}

int
ctl_call (ctl_t *ctl, const char *service, const char *op, const char *org, const json_t *args,
          json_t **body)
{
    if (body)
        *body = NULL;
    if (!ctl->client)
        ctl->client = sb_client_new (&ctl->config, NULL);
    if (!ctl->client) {
        fprintf (stderr, "switchboardctl: no usable SWITCHBOARD_BROKER endpoint\n");
        return 0;
    }
    sb_envelope_head_t head = { .role = SB_ROLE_OPERATOR };
    sb_random_hex (head.id, 16);
    snprintf (head.op, sizeof (head.op), "%s", op);
    if (org)
        snprintf (head.org, sizeof (head.org), "%s", org);
    head.deadline = sb_now_ms () + ctl->timeout_ms;
    msgpack_sbuffer packed, envelope;
    msgpack_sbuffer_init (&packed);
    msgpack_sbuffer_init (&envelope);
    json_t *empty = args ? NULL : json_object ();
    sb_json_pack_into (&packed, args ? args : empty);
    json_decref (empty);
    sb_envelope_encode_request (&envelope, &head, packed.data, packed.size);
    msgpack_sbuffer_destroy (&packed);

    sb_reply_msg_t reply;
    int status = 0;
    if (sb_client_call (ctl->client, service, envelope.data, envelope.size, ctl->timeout_ms,
                        &reply) == 0) {
        status = reply.status;
        msgpack_sbuffer text;
        msgpack_sbuffer_init (&text);
        sb_json_write (&text, reply.error ? reply.error : reply.body);
        char why [128];
        json_t *value = sb_json_parse (text.data, text.size, why, sizeof (why));
        msgpack_sbuffer_destroy (&text);
        if (reply.error) {
            json_t *code = json_object_get (value, "code");
            json_t *message = json_object_get (value, "message");
            fprintf (stderr, "switchboardctl: %s: %s\n",
                     json_is_string (code) ? json_string_value (code) : "error",
                     json_is_string (message) ? json_string_value (message) : "(no message)");
            json_decref (value);
        }
        else
        if (body)
            *body = value;
        else
            json_decref (value);
        sb_reply_msg_release (&reply);
    }
    else
        fprintf (stderr, "switchboardctl: no answer from '%s' within %d ms\n", service,
                 ctl->timeout_ms);
    msgpack_sbuffer_destroy (&envelope);
    return status;
}

int
ctl_exit_code (int status)
{
    if (status >= 200 && status < 300)
        return CTL_OK;
    if (status >= 400 && status < 500)
        return CTL_REFUSED;
    return CTL_UNAVAILABLE;
}

void
ctl_print_json (const json_t *value)
{
    char *text = json_dumps (value, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
    if (text)
        printf ("%s\n", text);
    free (text);
}

bool
ctl_wants_help (int argc, char **argv, const char *usage)
{
    for (int i = 1; i < argc; i++)
        if (streq (argv [i], "--help") || streq (argv [i], "-h")) {
            fputs (usage, stdout);
            return true;
        }
    return false;
}

const char *
ctl_option (int argc, char **argv, const char *name)
{
    size_t len = strlen (name);
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], name))
            return i + 1 < argc ? argv [i + 1] : NULL;
        if (strncmp (argv [i], name, len) == 0 && argv [i][len] == '=')
            return argv [i] + len + 1;
    }
    return NULL;
}

const char *
ctl_word (int argc, char **argv, int index, const char *const *with_value)
{
    int seen = 0;
    for (int i = 1; i < argc; i++) {
        if (argv [i][0] == '-' && argv [i][1]) {
            bool takes = false;
            for (const char *const *name = with_value; name && *name; name++)
                if (streq (argv [i], *name))
                    takes = true;
            if (takes)
                i++;
            continue;
        }
        if (seen++ == index)
            return argv [i];
    }
    return NULL;
}
