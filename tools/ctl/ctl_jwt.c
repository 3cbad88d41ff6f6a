/*  ctl_jwt.c — `switchboardctl jwt`: auth-svc's JWT signing keys, over the
    bus (sys.keys.list, sys.keys.rotate; the same rotation as `auth-svc
    rotate-keys`, auth_keys.c).

    jwt list
        the kid that signs and every kid still verifying.
    jwt rotate
        a new signing key: tokens are signed with it from the next one on;
        tokens signed with the older keys keep verifying until they expire
        (the gateways fetch the new key set on its first unknown kid).

    The keys live in the auth workers' keys directory (SWITCHBOARD_KEYS_DIR):
    the worker that answers rotates its directory, which every auth worker
    must share. `jwt list` after `jwt rotate` may be answered by another.
*/
#include "ctl.h"

static const char *s_usage =
    "usage: switchboardctl jwt list\n"
    "       switchboardctl jwt rotate\n\n"
    "auth-svc's JWT signing keys.\n"
    "  list    the signing kid and every kid that still verifies\n"
    "  rotate  a new signing key; older keys verify the tokens they signed until\n"
    "          those expire (every auth worker must share SWITCHBOARD_KEYS_DIR)\n";

int
ctl_jwt (ctl_t *ctl, int argc, char **argv)
{
    if (ctl_wants_help (argc, argv, s_usage))
        return CTL_OK;
    const char *verb = ctl_word (argc, argv, 0, NULL);
    if (!verb || (!streq (verb, "list") && !streq (verb, "rotate"))) {
        if (verb)
            fprintf (stderr, "switchboardctl: jwt: unknown verb '%s'\n", verb);
        fputs (s_usage, stderr);
        return CTL_USAGE;
    }
    bool rotate = streq (verb, "rotate");
    json_t *body = NULL;
    int status = ctl_call (ctl, "auth", rotate ? "sys.keys.rotate" : "sys.keys.list", NULL, NULL,
                           &body);
    if (!body)
        return ctl_exit_code (status);
    if (ctl->json)
        ctl_print_json (body);
    else {
        const char *signer = json_string_value (json_object_get (body, "signer"));
        if (rotate)
            printf ("rotated: new tokens are signed with %s\n", signer ? signer : "?");
        printf ("%-44s %s\n", "KID", "USE");
        size_t i;
        json_t *kid;
        json_array_foreach (json_object_get (body, "kids"), i, kid)
            if (json_is_string (kid))
                printf ("%-44s %s\n", json_string_value (kid),
                        signer && streq (signer, json_string_value (kid)) ? "signs" : "verifies");
    }
    json_decref (body);
    return CTL_OK;
}
