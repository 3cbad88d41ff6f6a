/*  auth_referrals.c — a signup's referral code reaches billing-svc, exactly
    once in effect, also when billing-svc is down.

    Every organization has a referral code (organizations.referral_code,
    ten upper-case hex characters, made at signup). A signup that gives
    one (auth.signup's optional referral_code) calls auth_referrals_record
    in its transaction: the code is looked up case-insensitively; an
    unknown code does not fail the signup (a typo must not cost a
    customer) and nothing is recorded — the signup's answer says so,
    `referral: {code, accepted: false, reason: "unknown_code"}`. A known
    code writes one row into referral_outbox (see
    auth-svc/sql/0006_referral_outbox.sql): the referral's id, both
    organizations, and the mail domains of the referrer's first admin (the
    earliest admin still there; the earliest user when it has none) and of
    the new user. Whether the domains make it a self-referral is billing's
    rule (billing_referrals.c), decided there from those domains.

    The relay (an sb_relay: its own thread, connection and bus client; it
    also looks once a second) takes one due row at a time, locked FOR
    UPDATE SKIP LOCKED so that the relays of several auth workers share the
    table, and calls `billing referrals.record` with the internal role.
    A 2xx answer acknowledges the row; anything else (no answer, 503 when
    billing has no worker, an error) counts a failure and retries the row
    later, 1 s doubling to 30 s. billing's operation is idempotent (the
    referred organization is its key), so a call repeated after its
    acknowledgement was lost records nothing more. The row stays locked
    during the call, so an organization's deletion (which cascades to its
    rows) waits for a delivery in flight and is then purged from billing
    after it.
*/
#include "auth.h"
#include "sb/relay.h"

#define S_CALL_MS       10000       //  one referrals.record call
#define S_BACKOFF_MAX_S 30

static sb_relay_t *s_relay;

int
auth_referrals_record (sb_ctx_t *ctx, const char *org, const char *email, const char *code,
                       const char **reason)
{
    *reason = "unknown_code";
    const char *at = strrchr (email, '@');
    if (!at || !at [1])
        return 0;
    //  KEY SHARE: the referrer cannot be deleted under this transaction.
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT o.id, (SELECT lower (substring (u.email from '@([^@]*)$')) "
                                   "  FROM users u WHERE u.organization_id = o.id "
                                   "  ORDER BY u.role = 'admin' DESC, u.created_at, u.id LIMIT 1) "
                                   "FROM organizations o WHERE o.referral_code = upper ($1) "
                                   "FOR KEY SHARE OF o",
                                   1, &code);
    if (!result)
        return -1;
    bool found = PQntuples (result) == 1 && !PQgetisnull (result, 0, 1)
              && *PQgetvalue (result, 0, 1) && !streq (PQgetvalue (result, 0, 0), org);
    char referrer [40] = "", referrer_domain [256] = "";
    if (found) {
        snprintf (referrer, sizeof (referrer), "%s", PQgetvalue (result, 0, 0));
        snprintf (referrer_domain, sizeof (referrer_domain), "%s", PQgetvalue (result, 0, 1));
    }
    PQclear (result);
    if (!found)
        return 0;
    char id [37];
    sb_uuid_v4 (id);
    const char *params [] = { id, referrer, org, referrer_domain, at + 1 };
    if (sb_db_run (sb_ctx_db (ctx),
                   "INSERT INTO referral_outbox (id, referrer_organization_id, "
                   "  referred_organization_id, referrer_domain, referred_domain) "
                   "VALUES ($1, $2, $3, $4, lower ($5))",
                   5, params))
        return -1;
    sb_ctx_after_commit (ctx, auth_referrals_wake);
    *reason = NULL;
    return 1;
}

//  Calls billing's referrals.record for the row's values (its columns in
//  s_outbox's order). Returns the reply's status (0 when none came), with
//  a short reason in error when it failed.
static int
s_deliver (sb_client_t *client, const char *const *row, bool *done, char *error,
           size_t error_size)
{
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 5);
    sb_mpk_pack_kv_str (&pk, "referral_id", row [0]);
    sb_mpk_pack_kv_str (&pk, "referrer_organization_id", row [1]);
    sb_mpk_pack_kv_str (&pk, "referred_organization_id", row [2]);
    sb_mpk_pack_kv_str (&pk, "referrer_domain", row [3]);
    sb_mpk_pack_kv_str (&pk, "referred_domain", row [4]);
    int status = sb_client_request (client, "billing", "referrals.record", NULL, &args, S_CALL_MS,
                                    NULL, error, error_size);
    msgpack_sbuffer_destroy (&args);
    *done = true;
    if (status >= 200 && status < 300)
        sb_info ("referrals: billing recorded referral %s", row [0]);
    return status;
}

static const sb_outbox_t s_outbox = {
    .name = "referrals", .table = "referral_outbox",
    .columns = "id, referrer_organization_id, referred_organization_id, referrer_domain, "
               "referred_domain",
    .column_count = 5, .key_count = 1, .backoff_max_s = S_BACKOFF_MAX_S, .deliver = s_deliver
};

int
auth_referrals_start (const sb_config_t *config)
{
    s_relay = sb_outbox_relay_new (config, "auth", &s_outbox);
    return s_relay ? 0 : -1;
}

void
auth_referrals_wake (void)
{
    sb_relay_wake (s_relay);
}

void
auth_referrals_stop (void)
{
    sb_relay_destroy (&s_relay);
}
