/*  auth_keys.c — the ES256 keys that sign auth-svc's access tokens:
    loaded at start, refreshed when another process rotated them, handed
    out to whatever signs, and rotated by the `rotate-keys` command.

    Contract. The keys live in files under the data directory
    (sb_config_keys_dir), generated there on first start. auth_keys_load
    loads them once, at start, keeping older keys for verification as long
    as a token they signed may live (access token TTL and 300 s).
    auth_keys () returns the loaded set after a refresh (one stat of the
    directory), so that a key written by `auth-svc rotate-keys`, or by
    another worker, signs from the next token on. auth_keys_rotate_dir is
    the one rotation: the command (auth_keys_rotate, which never touches a
    running process's memory) and the operator's sys.keys.rotate over the
    bus (auth_operator.c, which then refreshes this worker's set) both call
    it. auth.jwks (auth_jwks) answers the public keys.

    Threads. Everything here runs on the service's main thread: load at
    start, auth_keys () from the handlers (the worker loop runs there),
    unload at stop. The mail and deletion threads never touch the set.

    Invariants. Between a successful auth_keys_load and auth_keys_unload
    auth_keys () never returns NULL. This file calls nothing else of
    auth-svc.

    Failure modes. Keys that cannot be loaded or generated: auth_keys_load
    logs why and returns -1, and the service does not start. A refresh that
    fails keeps the keys already loaded. A rotation that fails says why on
    stderr and returns -1.
*/
#include "auth.h"

static sb_jwt_keys_t *s_keys;

int
auth_keys_load (const sb_config_t *config)
{
    char why [256];
    char *dir = sb_config_keys_dir (config);
    s_keys = sb_jwt_keys_load_dir (dir, config->access_token_ttl + 300, why, sizeof (why));
    if (!s_keys)
        sb_error ("cannot load the signing keys in '%s': %s", dir, why);
    else
        sb_info ("signing with key %s (%zu keys in %s)", sb_jwt_keys_signer_kid (s_keys),
                 sb_jwt_keys_size (s_keys), dir);
    free (dir);
    return s_keys ? 0 : -1;
}

void
auth_keys_unload (void)
{
    sb_jwt_keys_destroy (&s_keys);
}

sb_jwt_keys_t *
auth_keys (void)
{
    //  Another worker may have rotated the keys: pick that up (a stat).
    sb_jwt_keys_refresh (s_keys);
    return s_keys;
}

int
auth_keys_rotate_dir (const sb_config_t *config, char *why, size_t why_size)
{
    char *dir = sb_config_keys_dir (config);
    int rc = sb_jwt_keys_rotate (dir, why, why_size);
    if (rc) {
        //  Say where: the directory is the operator's first question.
        char cause [256];
        snprintf (cause, sizeof (cause), "%s", why);
        snprintf (why, why_size, "in '%s': %s", dir, cause);
    }
    else
    if (s_keys)
        sb_jwt_keys_refresh (s_keys);
    free (dir);
    return rc ? -1 : 0;
}

int
auth_keys_rotate (const sb_config_t *config)
{
    char why [512];
    if (auth_keys_rotate_dir (config, why, sizeof (why))) {
        fprintf (stderr, "auth-svc: cannot rotate the keys %s\n", why);
        return -1;
    }
    char *dir = sb_config_keys_dir (config);
    printf ("a new signing key is in %s; running workers sign with it from now on\n", dir);
    free (dir);
    return 0;
}

int
auth_jwks (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) ctx;
    (void) args;
    char *text = sb_jwt_keys_jwks (auth_keys ());
    char why [128];
    json_t *jwks = text ? sb_json_parse (text, strlen (text), why, sizeof (why)) : NULL;
    free (text);
    if (!jwks)
        return -1;
    sb_json_pack (sb_reply_body (reply, 200), jwks);
    json_decref (jwks);
    return 0;
}
