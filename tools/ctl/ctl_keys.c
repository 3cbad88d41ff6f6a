/*  ctl_keys.c — `switchboardctl keys`: the bus's CURVE keys (sb/curve.h).

    keys new PATH --role ROLE [--organization ORG]
        a key pair: PATH (public, with the role) and PATH_secret.
    keys allow CERT [--allow DIR] [--role ROLE] [--organization ORG]
        lets the key of the public certificate CERT onto the bus, by
        copying it (never a secret) into the gateways' allow-list.
    keys revoke NAME [--allow DIR]
        removes NAME.key from the allow-list: no new connection with it.
    keys list [--allow DIR]
        the allow-list: name, role, organization, public key.
    keys init [--dir DIR]
        everything one machine needs (make run, the tests): the server's
        pair and one per program (gateway, auth, tenant, billing, usage,
        internal, operator), all allowed. Keeps pairs that exist.

    DIR defaults to SWITCHBOARD_CURVE_DIR (<SWITCHBOARD_DATA_DIR>/curve),
    the allow-list to SWITCHBOARD_CURVE_ALLOW (DIR/allow). These commands
    work on files only: no bus, no service needed.
*/
#include "ctl.h"

static const char *s_usage =
    "usage: switchboardctl keys new PATH --role ROLE [--organization ORG]\n"
    "       switchboardctl keys allow CERT [--allow DIR] [--role ROLE] [--organization ORG]\n"
    "       switchboardctl keys revoke NAME [--allow DIR]\n"
    "       switchboardctl keys list [--allow DIR]\n"
    "       switchboardctl keys init [--dir DIR]\n\n"
    "The bus's CURVE keys. ROLE is one of auth, tenant, billing, usage (a worker of\n"
    "that service), gateway, internal (an internal program), operator\n"
    "(switchboardctl), client (a program of one organization: --organization).\n"
    "PATH names the public certificate; the secret one is PATH_secret (mode 0600).\n"
    "DIR defaults to SWITCHBOARD_CURVE_DIR, the allow-list to SWITCHBOARD_CURVE_ALLOW.\n";

static const char *const s_with_value [] = { "--role", "--organization", "--allow", "--dir",
                                             NULL };

//  The programs `keys init` makes a pair for, with their roles.
static const struct {
    const char *name;
    const char *role;
} s_init [] = {
    { "gateway", "gateway" }, { "auth", "auth" },         { "tenant", "tenant" },
    { "billing", "billing" }, { "usage", "usage" },       { "internal", "internal" },
    { "operator", "operator" }, { NULL, NULL }
};

static int
s_new (ctl_t *ctl, int argc, char **argv)
{
    const char *path = ctl_word (argc, argv, 1, s_with_value);
    const char *role = ctl_option (argc, argv, "--role");
    if (!path || !role) {
        fputs (s_usage, stderr);
        return CTL_USAGE;
    }
    char why [256];
    if (sb_curve_keygen (path, role, ctl_option (argc, argv, "--organization"), why,
                         sizeof (why))) {
        fprintf (stderr, "switchboardctl: keys new: %s\n", why);
        return CTL_USAGE;
    }
    if (ctl->json) {
        json_t *out = json_pack ("{s:s, s:s+, s:s}", "public", path, "secret", path, "_secret",
                                 "role", role);
        ctl_print_json (out);
        json_decref (out);
    }
    else
        printf ("wrote %s and %s_secret (role %s)\n", path, path, role);
    return CTL_OK;
}

static int
s_allow (ctl_t *ctl, int argc, char **argv, const char *allow)
{
    const char *cert = ctl_word (argc, argv, 1, s_with_value);
    if (!cert) {
        fputs (s_usage, stderr);
        return CTL_USAGE;
    }
    char why [256];
    if (sb_curve_allow (cert, allow, ctl_option (argc, argv, "--role"),
                        ctl_option (argc, argv, "--organization"), why, sizeof (why))) {
        fprintf (stderr, "switchboardctl: keys allow: %s\n", why);
        return CTL_USAGE;
    }
    if (!ctl->json)
        printf ("allowed %s in %s\n", cert, allow);
    else {
        json_t *out = json_pack ("{s:s, s:s}", "allowed", cert, "allow", allow);
        ctl_print_json (out);
        json_decref (out);
    }
    return CTL_OK;
}

static int
s_revoke (ctl_t *ctl, int argc, char **argv, const char *allow)
{
    const char *name = ctl_word (argc, argv, 1, s_with_value);
    if (!name || !*name || strchr (name, '/') || *name == '.') {
        fputs (s_usage, stderr);
        return CTL_USAGE;
    }
    char *path = zsys_sprintf ("%s/%s%s", allow, name,
                               strlen (name) > 4 && streq (name + strlen (name) - 4, ".key")
                                   ? "" : ".key");
    int rc = unlink (path);
    if (rc)
        fprintf (stderr, "switchboardctl: keys revoke: %s: %s\n", path, strerror (errno));
    else
    if (ctl->json) {
        json_t *out = json_pack ("{s:s}", "revoked", path);
        ctl_print_json (out);
        json_decref (out);
    }
    else
        printf ("revoked %s\n", path);
    zstr_free (&path);
    return rc ? CTL_REFUSED : CTL_OK;
}

static int
s_list (ctl_t *ctl, const char *allow)
{
    zdir_t *dir = zdir_new (allow, "-");
    if (!dir) {
        fprintf (stderr, "switchboardctl: keys list: no directory %s\n", allow);
        return CTL_UNAVAILABLE;
    }
    json_t *rows = json_array ();
    zfile_t **files = zdir_flatten (dir);
    for (size_t i = 0; files [i]; i++) {
        const char *path = zfile_filename (files [i], NULL);
        size_t len = strlen (path);
        if (len < 5 || !streq (path + len - 4, ".key"))
            continue;
        zcert_t *cert = zcert_load (path);
        if (!cert)
            continue;
        const char *base = strrchr (path, '/');
        const char *role = zcert_meta (cert, "role");
        const char *org = zcert_meta (cert, "organization");
        json_array_append_new (rows, json_pack ("{s:s, s:s, s:s?, s:s}", "name",
                                                base ? base + 1 : path, "role",
                                                role ? role : "", "organization", org,
                                                "public_key", zcert_public_txt (cert)));
        zcert_destroy (&cert);
    }
    zdir_flatten_free (&files);
    zdir_destroy (&dir);
    if (ctl->json)
        ctl_print_json (rows);
    else {
        printf ("%-24s %-10s %-36s %s\n", "NAME", "ROLE", "ORGANIZATION", "PUBLIC KEY");
        size_t i;
        json_t *row;
        json_array_foreach (rows, i, row) {
            const char *org = json_string_value (json_object_get (row, "organization"));
            printf ("%-24s %-10s %-36s %s\n",
                    json_string_value (json_object_get (row, "name")),
                    json_string_value (json_object_get (row, "role")), org ? org : "-",
                    json_string_value (json_object_get (row, "public_key")));
        }
    }
    json_decref (rows);
    return CTL_OK;
}

static int
s_init_dir (ctl_t *ctl, const char *dir, const char *allow)
{
    if (zsys_dir_create ("%s", dir)) {
        fprintf (stderr, "switchboardctl: keys init: cannot create %s\n", dir);
        return CTL_UNAVAILABLE;
    }
    char why [256];
    int made = 0;
    for (int i = -1; i < 0 || s_init [i].name; i++) {
        const char *name = i < 0 ? "server" : s_init [i].name;
        char *path = zsys_sprintf ("%s/%s.key", dir, name);
        char *secret = zsys_sprintf ("%s_secret", path);
        int rc = 0;
        if (!zsys_file_exists (secret)) {
            rc = sb_curve_keygen (path, i < 0 ? "server" : s_init [i].role, NULL, why,
                                  sizeof (why));
            made += rc == 0;
        }
        if (rc == 0 && i >= 0)
            rc = sb_curve_allow (path, allow, NULL, NULL, why, sizeof (why));
        zstr_free (&path);
        zstr_free (&secret);
        if (rc) {
            fprintf (stderr, "switchboardctl: keys init: %s\n", why);
            return CTL_UNAVAILABLE;
        }
    }
    if (ctl->json) {
        json_t *out = json_pack ("{s:s, s:s, s:i}", "dir", dir, "allow", allow, "made", made);
        ctl_print_json (out);
        json_decref (out);
    }
    else
        printf ("%d new key pair(s) in %s, allow-list %s\n", made, dir, allow);
    return CTL_OK;
}

int
ctl_keys (ctl_t *ctl, int argc, char **argv)
{
    if (ctl_wants_help (argc, argv, s_usage))
        return CTL_OK;
    const char *verb = ctl_word (argc, argv, 0, s_with_value);
    const char *dir = ctl_option (argc, argv, "--dir");
    const char *allow = ctl_option (argc, argv, "--allow");
    char *allow_default = NULL;
    if (!dir)
        dir = ctl->config.curve_dir;
    if (!allow) {
        if (ctl_option (argc, argv, "--dir"))
            allow = allow_default = zsys_sprintf ("%s/allow", dir);
        else
            allow = ctl->config.curve_allow;
    }
    int status = CTL_USAGE;
    if (!verb)
        fputs (s_usage, stderr);
    else
    if (streq (verb, "new"))
        status = s_new (ctl, argc, argv);
    else
    if (streq (verb, "allow"))
        status = s_allow (ctl, argc, argv, allow);
    else
    if (streq (verb, "revoke"))
        status = s_revoke (ctl, argc, argv, allow);
    else
    if (streq (verb, "list"))
        status = s_list (ctl, allow);
    else
    if (streq (verb, "init"))
        status = s_init_dir (ctl, dir, allow);
    else {
        fprintf (stderr, "switchboardctl: keys: unknown verb '%s'\n", verb);
        fputs (s_usage, stderr);
    }
    zstr_free (&allow_default);
    return status;
}
