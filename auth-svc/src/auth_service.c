/*  auth_service.c — auth-svc's operations, listed once, and its start and
    stop: the signing keys (auth_keys.c), the deletion and referral relays, the hashing
    thread (auth_hasher.c) and the mail thread, and the `rotate-keys`
    command (its work is auth_keys.c's). This file only calls downward:
    nothing in auth-svc calls back into it.

    Operations that write run in a transaction (SB_OP_TX); reads do not
    need one and save its round trips. Public operations carry the role
    they need; the gateway's own
    operations (resolving API keys, recording their use, fetching revoked
    sessions and organization subdomains) need the `service` role, which
    only internal callers on the bus have. The operator's operations
    (`sys.*`, switchboardctl's orgs and jwt commands, auth_operator.c) need
    role operator, which only operator keys on the bus have; they sit in a
    block of their own at the end of the table.
*/
#include "auth.h"

static int
s_start (const sb_config_t *config, sb_db_t *db)
{
    (void) db;
    if (sodium_init () < 0)
        return sb_error ("libsodium cannot initialise");
    int keys = auth_keys_load (config);
    if (auth_deletions_start (config) || auth_referrals_start (config))
        return -1;
    return keys == 0 && auth_hasher_start () == 0 && auth_mail_start (config) == 0 ? 0 : -1;
}

static void
s_stop (void)
{
    auth_mail_stop ();
    auth_referrals_stop ();
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
    { .name = "auth.signup", .role = SB_ROLE_NONE, .flags = SB_OP_TX, .handler = auth_signup },
    { .name = "auth.login", .role = SB_ROLE_NONE, .flags = SB_OP_TX, .handler = auth_login },
    { .name = "auth.refresh", .role = SB_ROLE_NONE, .flags = SB_OP_TX, .handler = auth_refresh },
    { .name = "auth.logout", .role = SB_ROLE_USER, .flags = SB_OP_TX, .handler = auth_logout },
    { .name = "auth.me", .role = SB_ROLE_USER, .handler = auth_me },
    { .name = "auth.jwks", .role = SB_ROLE_NONE, .handler = auth_jwks },
    { .name = "auth.password_forgot", .role = SB_ROLE_NONE, .flags = SB_OP_TX,
      .handler = auth_password_forgot },
    { .name = "auth.password_reset", .role = SB_ROLE_NONE, .flags = SB_OP_TX,
      .handler = auth_password_reset },
    { .name = "auth.password_change", .role = SB_ROLE_USER, .flags = SB_OP_TX,
      .handler = auth_password_change },
    { .name = "sessions.revoked", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = auth_sessions_revoked },
    { .name = "org.get", .role = SB_ROLE_USER, .flags = SB_OP_PEER, .handler = auth_org_get },
    { .name = "org.update", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX, .handler = auth_org_update },
    { .name = "org.delete", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX, .handler = auth_org_delete },
    { .name = "org.lookup", .role = SB_ROLE_SERVICE, .handler = auth_org_lookup },
    { .name = "org.counts", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX | SB_OP_PEER,
      .handler = auth_org_counts },
    { .name = "users.list", .role = SB_ROLE_USER, .handler = auth_users_list },
    { .name = "users.update", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = auth_users_update },
    { .name = "users.delete", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = auth_users_delete },
    { .name = "invitations.create", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX | SB_OP_IDEMPOTENT,
      .handler = auth_invitations_create },
    { .name = "invitations.list", .role = SB_ROLE_ADMIN, .handler = auth_invitations_list },
    { .name = "invitations.delete", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = auth_invitations_delete },
    { .name = "invitations.accept", .role = SB_ROLE_NONE, .flags = SB_OP_TX,
      .handler = auth_invitations_accept },
    { .name = "apikeys.create", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX | SB_OP_IDEMPOTENT,
      .handler = auth_apikeys_create },
    { .name = "apikeys.list", .role = SB_ROLE_ADMIN, .handler = auth_apikeys_list },
    { .name = "apikeys.delete", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = auth_apikeys_delete },
    { .name = "apikeys.resolve", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = auth_apikeys_resolve },
    { .name = "apikeys.touch", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = auth_apikeys_touch },
    { .name = "apikeys.revoked", .role = SB_ROLE_SERVICE, .handler = auth_apikeys_revoked },
    { .name = "audit.list", .role = SB_ROLE_ADMIN, .handler = auth_audit_list },
    { .name = "mail.admins", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = auth_mail_admins },
    { .name = "support.create", .role = SB_ROLE_USER, .flags = SB_OP_TX | SB_OP_IDEMPOTENT,
      .handler = auth_support_create },

    //  ---- operators (auth_operator.c): switchboardctl orgs / jwt ----------
    { .name = "sys.orgs.list", .role = SB_ROLE_OPERATOR, .handler = auth_sys_orgs_list },
    { .name = "sys.orgs.get", .role = SB_ROLE_OPERATOR, .handler = auth_sys_orgs_get },
    { .name = "sys.orgs.count", .role = SB_ROLE_OPERATOR, .handler = auth_sys_orgs_count },
    { .name = "sys.orgs.suspend", .role = SB_ROLE_OPERATOR, .flags = SB_OP_TX,
      .handler = auth_sys_orgs_suspend },
    { .name = "sys.orgs.resume", .role = SB_ROLE_OPERATOR, .flags = SB_OP_TX,
      .handler = auth_sys_orgs_resume },
    { .name = "sys.orgs.create_admin", .role = SB_ROLE_OPERATOR, .flags = SB_OP_TX,
      .handler = auth_sys_orgs_create_admin },
    { .name = "sys.keys.list", .role = SB_ROLE_OPERATOR, .handler = auth_sys_keys_list },
    { .name = "sys.keys.rotate", .role = SB_ROLE_OPERATOR, .handler = auth_sys_keys_rotate },
    { .name = "orgs.suspended", .role = SB_ROLE_SERVICE, .handler = auth_orgs_suspended },
    { .name = NULL }
};

//  The figures of /metrics (sys.stats): the backlog of each outbox (mails
//  not yet sent nor given up, organization deletions and referrals not yet
//  acknowledged) and the age of its oldest row.
static const char s_stats_sql [] =
    "WITH o (outbox, backlog, oldest) AS ("
    " SELECT 'mail_outbox', count (*), min (created_at) FROM mail_outbox"
    " WHERE sent_at IS NULL AND failed_at IS NULL"
    " UNION ALL"
    " SELECT 'org_deletions', count (*), min (requested_at) FROM org_deletions"
    " WHERE acknowledged_at IS NULL"
    " UNION ALL"
    " SELECT 'referral_outbox', count (*), min (created_at) FROM referral_outbox"
    " WHERE acknowledged_at IS NULL)"
    " SELECT 'outbox_backlog' AS name, backlog AS value, outbox FROM o"
    " UNION ALL"
    " SELECT 'outbox_oldest_seconds', COALESCE (extract (epoch FROM now () - oldest), 0), outbox"
    " FROM o";

//  ---- operators (switchboardctl outboxes): auth_outboxes.c ----
extern const sb_outbox_view_t auth_outboxes [];

const sb_service_t auth_service = {
    .name = "auth",
    .binary = "auth-svc",
    .summary = "Switchboard auth-svc: identity and access: organizations, users, sessions, "
               "API keys.",
    .ops = s_ops,
    .migrations = auth_migrations,
    .migration_count = &auth_migration_count,
    .entitlements = true,
    .start = s_start,
    .stop = s_stop,
    .command = s_command,
    .selftest = auth_apikeys_test,
    .commands_help = "  rotate-keys   write a new signing key (the newest signs; older keys keep\n"
                     "                verifying until their tokens have expired)\n",
    .stats_sql = s_stats_sql,
    .outboxes = auth_outboxes,          //  operators: auth_outboxes.c
};
