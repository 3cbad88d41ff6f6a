/*  ctl_orgs.c — `switchboardctl orgs`: organizations as an operator sees
    them (auth-svc's sys.orgs.* operations, auth_operator.c).

    orgs list [--query Q] [--limit N] [--after CURSOR]
        newest first; Q matches part of a name, a subdomain or a member's
        e-mail. A full page ends with the command for the next one.
    orgs show ORG
        one organization: status and suspension, members with roles, API
        keys, invitations, sessions, the last audit entries.
    orgs suspend ORG --reason TEXT
        its requests get 403 organization_suspended at every gateway, its
        users cannot log in or refresh; nothing is deleted.
    orgs resume ORG
        lifts the suspension.
    orgs create-admin ORG --email EMAIL [--name NAME] [--password-stdin]
        the first admin of an organization that has none (409 when it has
        one). Without --password-stdin the person gets a mail with a link
        to choose a password (valid 7 days).

    ORG is an organization's id or its subdomain. With --json each command
    prints the service's answer as it came. Exit codes as in ctl.h: a
    refusal (404 no such organization, 409) is 1.
*/
#include "ctl.h"
#include <sodium.h>

static const char *s_usage =
    "usage: switchboardctl orgs list [--query Q] [--limit N] [--after CURSOR]\n"
    "       switchboardctl orgs show ORG\n"
    "       switchboardctl orgs suspend ORG --reason TEXT\n"
    "       switchboardctl orgs resume ORG\n"
    "       switchboardctl orgs create-admin ORG --email EMAIL [--name NAME] [--password-stdin]\n\n"
    "Organizations, as auth-svc keeps them. ORG is an id or a subdomain.\n"
    "  list          newest first; Q matches part of a name, subdomain or member e-mail;\n"
    "                N is 1 to 100 (20); a full page ends with the command for the next\n"
    "  show          members and roles, API keys, invitations, suspension, recent audit\n"
    "  suspend       every request of the organization gets 403 organization_suspended,\n"
    "                its users cannot log in; nothing is deleted\n"
    "  resume        lifts a suspension\n"
    "  create-admin  the first admin of an organization without one; NAME defaults to\n"
    "                the e-mail's local part; without --password-stdin (one line) the\n"
    "                person is mailed a link to choose a password\n";

static const char *const s_with_value [] = { "--query", "--limit", "--after", "--reason",
                                             "--email", "--name", NULL };

//  A JSON value as table text: strings as they are (borrowed), numbers and
//  booleans in one of 8 rotating buffers (enough for one printf), null "-".
static const char *
s_text (const json_t *value)
{
    static char ring [8][32];
    static size_t next;
    char *buf = ring [next++ % 8];
    size_t size = sizeof (ring [0]);
    if (json_is_string (value))
        return json_string_value (value);
    if (json_is_integer (value))
        snprintf (buf, size, "%lld", (long long) json_integer_value (value));
    else
    if (json_is_true (value) || json_is_false (value))
        snprintf (buf, size, "%s", json_is_true (value) ? "yes" : "no");
    else
        snprintf (buf, size, "-");
    return buf;
}

#define S_FIELD(obj, name) s_text (json_object_get ((obj), (name)))

static int
s_list (ctl_t *ctl, int argc, char **argv)
{
    json_t *args = json_object ();
    const char *query = ctl_option (argc, argv, "--query");
    const char *limit = ctl_option (argc, argv, "--limit");
    const char *after = ctl_option (argc, argv, "--after");
    if (query)
        json_object_set_new (args, "query", json_string (query));
    if (limit) {
        char *end = NULL;
        long value = strtol (limit, &end, 10);
        if (*end || value < 1 || value > 100) {
            json_decref (args);
            fprintf (stderr, "switchboardctl: orgs list: --limit takes 1 to 100\n");
            return CTL_USAGE;
        }
        json_object_set_new (args, "limit", json_integer (value));
    }
    if (after)
        json_object_set_new (args, "after", json_string (after));
    json_t *body = NULL;
    int status = ctl_call (ctl, "auth", "sys.orgs.list", NULL, args, &body);
    json_decref (args);
    if (!body)
        return ctl_exit_code (status);
    if (ctl->json)
        ctl_print_json (body);
    else {
        printf ("%-36s  %-20s  %-9s  %7s  %-27s  %s\n", "ID", "SUBDOMAIN", "STATUS", "MEMBERS",
                "CREATED", "NAME");
        size_t i;
        json_t *row;
        json_array_foreach (json_object_get (body, "data"), i, row)
            printf ("%-36s  %-20s  %-9s  %7s  %-27s  %s\n", S_FIELD (row, "id"),
                    S_FIELD (row, "subdomain"), S_FIELD (row, "status"), S_FIELD (row, "members"),
                    S_FIELD (row, "created_at"), S_FIELD (row, "name"));
        const json_t *next = json_object_get (body, "next_cursor");
        if (json_is_string (next))
            printf ("more: switchboardctl orgs list%s%s --after '%s'\n", query ? " --query " : "",
                    query ? query : "", json_string_value (next));
    }
    json_decref (body);
    return CTL_OK;
}

static int
s_show (ctl_t *ctl, const char *org)
{
    json_t *args = json_pack ("{s:s}", "org", org);
    json_t *body = NULL;
    int status = ctl_call (ctl, "auth", "sys.orgs.get", NULL, args, &body);
    json_decref (args);
    if (!body)
        return ctl_exit_code (status);
    if (ctl->json)
        ctl_print_json (body);
    else {
        const char *const fields [] = { "id", "name", "subdomain", "created_at", "status",
                                        "suspended_at", "suspension_reason", "api_keys",
                                        "pending_invitations", "open_sessions", "referral_code",
                                        NULL };
        for (const char *const *field = fields; *field; field++)
            printf ("%-20s %s\n", *field, S_FIELD (body, *field));
        printf ("\nmembers:\n  %-36s  %-6s  %-27s  %s\n", "ID", "ROLE", "CREATED", "EMAIL (NAME)");
        size_t i;
        json_t *row;
        json_array_foreach (json_object_get (body, "members"), i, row)
            printf ("  %-36s  %-6s  %-27s  %s (%s)\n", S_FIELD (row, "id"), S_FIELD (row, "role"),
                    S_FIELD (row, "created_at"), S_FIELD (row, "email"), S_FIELD (row, "name"));
        printf ("\nrecent audit:\n");
        json_array_foreach (json_object_get (body, "recent_audit"), i, row)
            printf ("  %-27s  %-28s  %s\n", S_FIELD (row, "at"), S_FIELD (row, "action"),
                    S_FIELD (row, "target"));
    }
    json_decref (body);
    return CTL_OK;
}

//  suspend / resume: op with args; prints "<verb> <org>: <status>".
static int
s_change (ctl_t *ctl, const char *op, json_t *args, const char *done)
{
    json_t *body = NULL;
    int status = ctl_call (ctl, "auth", op, NULL, args, &body);
    if (!body)
        return ctl_exit_code (status);
    if (ctl->json)
        ctl_print_json (body);
    else {
        printf ("organization %s (%s) %s: now %s\n", S_FIELD (body, "id"),
                S_FIELD (body, "subdomain"), done, S_FIELD (body, "status"));
    }
    json_decref (body);
    return CTL_OK;
}

static int
s_create_admin (ctl_t *ctl, int argc, char **argv, const char *org)
{
    const char *email = ctl_option (argc, argv, "--email");
    const char *name = ctl_option (argc, argv, "--name");
    if (!email || !strchr (email, '@')) {
        fprintf (stderr, "switchboardctl: orgs create-admin: --email EMAIL is required\n");
        return CTL_USAGE;
    }
    char local [101];
    if (!name) {
        size_t len = (size_t) (strchr (email, '@') - email);
        snprintf (local, sizeof (local), "%.*s", (int) (len < 100 ? len : 100), email);
        name = local;
    }
    json_t *args = json_pack ("{s:s, s:s, s:s}", "org", org, "email", email, "name", name);
    for (int i = 1; i < argc; i++)
        if (streq (argv [i], "--password-stdin")) {
            char line [1024];
            if (!fgets (line, sizeof (line), stdin)) {
                json_decref (args);
                fprintf (stderr, "switchboardctl: orgs create-admin: no password on stdin\n");
                return CTL_USAGE;
            }
            line [strcspn (line, "\r\n")] = 0;
            json_object_set_new (args, "password", json_string (line));
            sodium_memzero (line, sizeof (line));
        }
    json_t *body = NULL;
    int status = ctl_call (ctl, "auth", "sys.orgs.create_admin", NULL, args, &body);
    json_decref (args);
    if (!body)
        return ctl_exit_code (status);
    if (ctl->json)
        ctl_print_json (body);
    else {
        json_t *user = json_object_get (body, "user");
        printf ("admin %s <%s> created in organization %s", S_FIELD (user, "id"),
                S_FIELD (user, "email"), S_FIELD (body, "organization_id"));
        printf ("%s\n", json_is_true (json_object_get (body, "password_mail_queued"))
                            ? "; a mail with a link to choose a password is on its way"
                            : "");
    }
    json_decref (body);
    return CTL_OK;
}

int
ctl_orgs (ctl_t *ctl, int argc, char **argv)
{
    if (ctl_wants_help (argc, argv, s_usage))
        return CTL_OK;
    const char *verb = ctl_word (argc, argv, 0, s_with_value);
    const char *org = ctl_word (argc, argv, 1, s_with_value);
    if (!verb) {
        fputs (s_usage, stderr);
        return CTL_USAGE;
    }
    if (streq (verb, "list"))
        return s_list (ctl, argc, argv);
    bool known = streq (verb, "show") || streq (verb, "suspend") || streq (verb, "resume")
                 || streq (verb, "create-admin");
    if (!known) {
        fprintf (stderr, "switchboardctl: orgs: unknown verb '%s'\n", verb);
        fputs (s_usage, stderr);
        return CTL_USAGE;
    }
    if (!org) {
        fprintf (stderr, "switchboardctl: orgs %s: which organization (ORG)?\n", verb);
        fputs (s_usage, stderr);
        return CTL_USAGE;
    }
    if (streq (verb, "show"))
        return s_show (ctl, org);
    if (streq (verb, "create-admin"))
        return s_create_admin (ctl, argc, argv, org);
    if (streq (verb, "suspend")) {
        const char *reason = ctl_option (argc, argv, "--reason");
        if (!reason || !*reason) {
            fprintf (stderr, "switchboardctl: orgs suspend: --reason TEXT is required (it is "
                             "kept in the audit log)\n");
            return CTL_USAGE;
        }
        json_t *args = json_pack ("{s:s, s:s}", "org", org, "reason", reason);
        int rc = s_change (ctl, "sys.orgs.suspend", args, "suspended");
        json_decref (args);
        return rc;
    }
    json_t *args = json_pack ("{s:s}", "org", org);
    int rc = s_change (ctl, "sys.orgs.resume", args, "resumed");
    json_decref (args);
    return rc;
}
