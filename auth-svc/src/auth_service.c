/*  auth_service.c — auth-svc's operations, listed once, and its start and
    stop: the signing keys (auth_keys.c), the deletion relay, the hashing
    thread (auth_hasher.c) and the mail thread, and the `rotate-keys`
    command (its work is auth_keys.c's). This file only calls downward:
    nothing in auth-svc calls back into it.

    Operations that write run in a transaction (SB_OP_TX); reads do not
    need one and save its round trips. Public operations carry the role
    they need; the gateway's own
    operations (resolving API keys, recording their use, fetching revoked
    sessions and organization subdomains) need the `service` role, which
    only internal callers on the bus have.
*/
#include "auth.h"

static int
s_start (const sb_config_t *config, sb_db_t *db)
{
    (void) db;
    if (sodium_init () < 0)
        return sb_error ("libsodium cannot initialise");
    int keys = auth_keys_load (config);
    if (auth_deletions_start (config))
        return -1;
    return keys == 0 && auth_hasher_start () == 0 && auth_mail_start (config) == 0 ? 0 : -1;
}

static void
s_stop (void)
{
    auth_mail_stop ();
    auth_deletions_stop ();
    auth_hasher_stop ();
    auth_keys_unload ();
}

static int
s_command (int argc, char **argv, const sb_config_t *config)
{
    if (!streq (argv [0], "rotate-keys"))
        return -1;
    if (argc != 1) {
        fprintf (stderr, "auth-svc rotate-keys takes no arguments\n");
        return 2;
    }
    return auth_keys_rotate (config) ? 1 : 0;
}

static const sb_op_t s_ops [] = {
    { "auth.signup", auth_signup, SB_ROLE_NONE, SB_OP_TX },
    { "auth.login", auth_login, SB_ROLE_NONE, SB_OP_TX },
    { "auth.refresh", auth_refresh, SB_ROLE_NONE, SB_OP_TX },
    { "auth.logout", auth_logout, SB_ROLE_USER, SB_OP_TX },
    { "auth.me", auth_me, SB_ROLE_USER, 0 },
    { "auth.jwks", auth_jwks, SB_ROLE_NONE, 0 },
    { "auth.password_forgot", auth_password_forgot, SB_ROLE_NONE, SB_OP_TX },
    { "auth.password_reset", auth_password_reset, SB_ROLE_NONE, SB_OP_TX },
    { "auth.password_change", auth_password_change, SB_ROLE_USER, SB_OP_TX },
    { "sessions.revoked", auth_sessions_revoked, SB_ROLE_SERVICE, SB_OP_TX },
    { "org.get", auth_org_get, SB_ROLE_USER, 0 },
    { "org.update", auth_org_update, SB_ROLE_ADMIN, SB_OP_TX },
    { "org.delete", auth_org_delete, SB_ROLE_ADMIN, SB_OP_TX },
    { "org.lookup", auth_org_lookup, SB_ROLE_SERVICE, 0 },
    { "users.list", auth_users_list, SB_ROLE_USER, 0 },
    { "users.update", auth_users_update, SB_ROLE_ADMIN, SB_OP_TX },
    { "users.delete", auth_users_delete, SB_ROLE_ADMIN, SB_OP_TX },
    { "invitations.create", auth_invitations_create, SB_ROLE_ADMIN, SB_OP_TX | SB_OP_IDEMPOTENT },
    { "invitations.list", auth_invitations_list, SB_ROLE_ADMIN, 0 },
    { "invitations.delete", auth_invitations_delete, SB_ROLE_ADMIN, SB_OP_TX },
    { "invitations.accept", auth_invitations_accept, SB_ROLE_NONE, SB_OP_TX },
    { "apikeys.create", auth_apikeys_create, SB_ROLE_ADMIN, SB_OP_TX | SB_OP_IDEMPOTENT },
    { "apikeys.list", auth_apikeys_list, SB_ROLE_ADMIN, 0 },
    { "apikeys.delete", auth_apikeys_delete, SB_ROLE_ADMIN, SB_OP_TX },
    { "apikeys.resolve", auth_apikeys_resolve, SB_ROLE_SERVICE, SB_OP_TX },
    { "apikeys.touch", auth_apikeys_touch, SB_ROLE_SERVICE, SB_OP_TX },
    { "audit.list", auth_audit_list, SB_ROLE_ADMIN, 0 },
    { NULL, NULL, SB_ROLE_NONE, 0 }
};

const sb_service_t auth_service = {
    .name = "auth",
    .binary = "auth-svc",
    .summary = "Switchboard auth-svc: identity and access: organizations, users, sessions, "
               "API keys.",
    .ops = s_ops,
    .migrations = auth_migrations,
    .migration_count = &auth_migration_count,
    .plans = true,
    .start = s_start,
    .stop = s_stop,
    .command = s_command,
    .commands_help = "  rotate-keys   write a new signing key (the newest signs; older keys keep\n"
                     "                verifying until their tokens have expired)\n",
};
