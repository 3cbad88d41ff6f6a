/*  billing_referrals.c — the referral program: referrals recorded, their
    credits kept in a ledger, and those credits applied to Stripe customer
    balances once the referred organization has paid.

    Recording. auth-svc writes, in the transaction of a signup that gave a
    known referral code, an outbox row, and its relay calls
    `referrals.record {referral_id, referrer_organization_id,
    referred_organization_id, referrer_domain, referred_domain}` (internal
    role) until it answers 2xx. The referred organization is the primary
    key of referrals: a second referral of one organization cannot be
    written, and a repeated delivery answers what the first wrote, so the
    operation is idempotent. A self-referral is refused (status refused,
    reason self_referral, no credit): the same organization on both sides,
    or both owners' email domains equal — except the public mail domains
    of s_public_domains (two strangers on gmail.com are not one company).
    Otherwise each organization gets a pending credit of the catalogue's
    referral_credit_cents (none when the catalogue says 0), currency usd.

    Paying. billing_referrals_paid (the invoice.paid webhook calls it when
    an invoice with amount_paid > 0 is paid; `referrals.paid` lets an
    internal caller do the same) marks the organization's pending referral
    credited, in the caller's transaction — or refused, same_customer, with
    its credits canceled, when both organizations have the same Stripe
    customer (the unique index on subscriptions.stripe_customer_id makes
    that impossible today; the rule stays in case it is ever relaxed).

    Applying. No Stripe call is made in a request's transaction. The
    credits relay (an sb_relay thread with its own connection and Stripe
    client, started with the service when Stripe is configured) takes one
    pending credit whose referral is credited and whose organization has a
    Stripe customer, leases it (next_attempt_at a minute ahead, committed,
    so that another process's relay leaves it alone while the call is in
    flight), POSTs /v1/customers/{cus}/balance_transactions with amount
    -amount_cents and Idempotency-Key = the credit's id, and then writes
    applied with the balance transaction's id — or, on a failure, the
    error and a backoff (1 s doubling to 30 s for that credit; the relay
    itself pauses 1 s doubling to 10 s after a failure). A crash between Stripe's
    answer and that write repeats the call with the same key: Stripe
    answers the first transaction again, so a credit is given once (within
    the 24 hours Stripe keeps keys; a credit stuck longer than that would
    need an operator's look at last_error anyway). A credit of an
    organization that has no Stripe customer yet simply waits: the relay
    looks once a second (idle_ms) and applies it once a checkout has given
    the organization a customer.
*/
#include "billing_service.h"
#include "billing_stripe.h"
#include "sb/relay.h"

#define S_CURRENCY      "usd"
#define S_CALL_MS       10000       //  one balance transaction, retries included
#define S_LEASE_S       "60"        //  a credit in flight is left alone that long
#define S_BACKOFF_MAX_S "30"         //  one credit's retries: 1 s doubling to this
#define S_RELAY_BACKOFF_MAX_MS 10000 //  the relay's pause after a failure, at most
#define S_AUTH_MS       1500        //  what billing.credits waits for the referral code
#define S_DOMAIN_MAX    253

//  Mail domains shared by unrelated people: two owners there are no sign
//  of one company. Lower case.
static const char *const s_public_domains [] = {
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
    "yahoo.com", "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
    "protonmail.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "yandex.ru",
    "yandex.com", "zoho.com", "fastmail.com", "hey.com", "qq.com", "163.com", "126.com",
    NULL
};

bool
billing_referral_self (const char *referrer_domain, const char *referred_domain)
{
    if (strcasecmp (referrer_domain, referred_domain) != 0)
        return false;
    for (size_t i = 0; s_public_domains [i]; i++)
        if (strcasecmp (referrer_domain, s_public_domains [i]) == 0)
            return false;
    return true;
}

//  Reads a domain argument (1..253 characters, no control characters:
//  what auth-svc took from a mail address), returned with ASCII letters
//  lower-cased (arena), or NULL with a field error.
static const char *
s_arg_domain (sb_ctx_t *ctx, const msgpack_object *args, const char *name, sb_fields_t *fields)
{
    const char *value = sb_arg_string (ctx, args, name, true, 1, S_DOMAIN_MAX, fields);
    if (!value)
        return NULL;
    char *lower = sb_ctx_strndup (ctx, value, strlen (value));
    for (char *c = lower; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char) (*c - 'A' + 'a');
    return lower;
}

//  Answers {referral_id, referred_organization_id, status, reason,
//  duplicate} for the referral row of the referred organization.
static int
s_reply_referral (sb_ctx_t *ctx, sb_reply_t *reply, const char *referred, const char *id)
{
    const char *params [] = { referred, id };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT id AS referral_id, organization_id AS "
                                   "  referred_organization_id, referrer_organization_id, "
                                   "  status, reason, id <> $2 AS duplicate "
                                   "FROM referrals WHERE organization_id = $1",
                                   2, params);
    return sb_reply_one (reply, result, 200, "no such referral");
}

int
billing_referrals_record (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *id = sb_arg_uuid (ctx, args, "referral_id", true, &fields);
    const char *referrer = sb_arg_uuid (ctx, args, "referrer_organization_id", true, &fields);
    const char *referred = sb_arg_uuid (ctx, args, "referred_organization_id", true, &fields);
    const char *referrer_domain = s_arg_domain (ctx, args, "referrer_domain", &fields);
    const char *referred_domain = s_arg_domain (ctx, args, "referred_domain", &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);

    sb_db_t *db = sb_ctx_db (ctx);
    if (sb_db_all_orgs (db))
        return -1;
    bool self = strcasecmp (referrer, referred) == 0
             || billing_referral_self (referrer_domain, referred_domain);
    const char *params [] = {
        referred, id, referrer, self ? "refused" : "pending", self ? "self_referral" : NULL,
        referrer_domain, referred_domain
    };
    PGresult *result = sb_db_exec (db,
                                   "INSERT INTO referrals (organization_id, id, "
                                   "  referrer_organization_id, status, reason, referrer_domain, "
                                   "  referred_domain, decided_at) "
                                   "VALUES ($1, $2, $3, $4, $5, $6, $7, "
                                   "  CASE WHEN $4 = 'refused' THEN now () END) "
                                   "ON CONFLICT DO NOTHING RETURNING id",
                                   7, params);
    if (!result)
        return -1;
    bool inserted = PQntuples (result) == 1;
    PQclear (result);
    if (!inserted) {
        //  Delivered before (same id), or another referral of this
        //  organization (or another organization's referral with this id,
        //  which only a broken caller sends): what is recorded stands.
        sb_info ("referrals: referral %s of organization %s was recorded before", id, referred);
        return s_reply_referral (ctx, reply, referred, id);
    }
    int64_t amount = sb_plans_referral_credit_cents (sb_ctx_plans (ctx));
    if (!self && amount > 0) {
        char amount_text [24], referrer_credit [37], referred_credit [37];
        snprintf (amount_text, sizeof (amount_text), "%lld", (long long) amount);
        sb_uuid_v4 (referrer_credit);
        sb_uuid_v4 (referred_credit);
        const char *credit_params [] = {
            referrer_credit, referrer, referred_credit, referred, amount_text, S_CURRENCY, id
        };
        if (sb_db_run (db,
                       "INSERT INTO credits (id, organization_id, kind, amount_cents, currency, "
                       "  source_id, status) "
                       "VALUES ($1, $2, 'referral', $5, $6, $7, 'pending'), "
                       "       ($3, $4, 'referral', $5, $6, $7, 'pending')",
                       7, credit_params))
            return -1;
    }
    sb_info ("referrals: organization %s referred %s: %s", referrer, referred,
             self ? "refused (self-referral)" : "pending");
    return s_reply_referral (ctx, reply, referred, id);
}

//  The work of billing_referrals_paid; *status gets the referral's new
//  status ("" when nothing changed).
static int
s_paid (sb_ctx_t *ctx, const char *org, char *status, size_t size)
{
    *status = 0;
    sb_db_t *db = sb_ctx_db (ctx);
    if (sb_db_all_orgs (db))
        return -1;
    PGresult *result = sb_db_exec (db,
                                   "SELECT r.id, coalesce (a.stripe_customer_id, ''), "
                                   "  coalesce (b.stripe_customer_id, '') "
                                   "FROM referrals r "
                                   "LEFT JOIN subscriptions a "
                                   "  ON a.organization_id = r.referrer_organization_id "
                                   "LEFT JOIN subscriptions b ON b.organization_id = r.organization_id "
                                   "WHERE r.organization_id = $1 AND r.status = 'pending' "
                                   "FOR UPDATE OF r",
                                   1, &org);
    if (!result)
        return -1;
    if (PQntuples (result) == 0) {
        PQclear (result);
        return 0;
    }
    char id [40];
    snprintf (id, sizeof (id), "%s", PQgetvalue (result, 0, 0));
    const char *referrer_customer = PQgetvalue (result, 0, 1);
    bool same = *referrer_customer && streq (referrer_customer, PQgetvalue (result, 0, 2));
    PQclear (result);
    const char *params [] = { id };
    if (same) {
        if (sb_db_run (db,
                       "UPDATE referrals SET status = 'refused', reason = 'same_customer', "
                       "decided_at = now () WHERE id = $1", 1, params)
            || sb_db_run (db,
                          "UPDATE credits SET status = 'canceled' "
                          "WHERE kind = 'referral' AND source_id = $1 AND status = 'pending'",
                          1, params))
            return -1;
        snprintf (status, size, "refused");
        sb_info ("referrals: referral %s refused: both organizations are one Stripe customer", id);
        return 1;
    }
    if (sb_db_run (db, "UPDATE referrals SET status = 'credited', decided_at = now () "
                       "WHERE id = $1", 1, params))
        return -1;
    snprintf (status, size, "credited");
    sb_ctx_after_commit (ctx, billing_referrals_wake);
    return 1;
}

int
billing_referrals_paid (sb_ctx_t *ctx, const char *org)
{
    char status [16];
    return s_paid (ctx, org, status, sizeof (status));
}

int
billing_referrals_paid_op (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = sb_arg_uuid (ctx, args, "organization_id", true, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    char status [16];
    if (s_paid (ctx, org, status, sizeof (status)) < 0)
        return -1;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 2);
    sb_mpk_pack_kv_str (pk, "organization_id", org);
    sb_mpk_pack_str (pk, "referral");
    if (*status)
        sb_mpk_pack_str (pk, status);
    else
        msgpack_pack_nil (pk);
    return 0;
}

//  ---------------------------------------------------------------------
//  billing.credits

int
billing_credits_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    const char *org = sb_ctx_head (ctx)->org;
    //  The code lives in auth-svc; without its answer the ledger is still
    //  shown, with the code and link null. (A read without a transaction:
    //  nothing is held open while auth-svc answers.)
    char code [65] = "";
    sb_reply_msg_t answer;
    if (sb_ctx_call (ctx, "auth", "org.get", NULL, S_AUTH_MS, &answer) == 0) {
        if (answer.status == 200 && answer.body)
            sb_mpk_copy_str (sb_mpk_get (answer.body, "referral_code"), code, sizeof (code));
        sb_reply_msg_release (&answer);
    }
    if (!*code)
        sb_warn ("billing.credits: no referral code from auth-svc for organization %s", org);
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT id, kind, amount_cents, currency, status, "
                                   SB_SQL_TS ("created_at") " AS created_at, "
                                   SB_SQL_TS ("applied_at") " AS applied_at, "
                                   "sum (amount_cents) FILTER (WHERE status = 'pending') "
                                   "  OVER ()::bigint AS _pending, "
                                   "sum (amount_cents) FILTER (WHERE status = 'applied') "
                                   "  OVER ()::bigint AS _applied "
                                   "FROM credits WHERE organization_id = $1 "
                                   "ORDER BY created_at DESC, id",
                                   1, &org);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    int64_t pending = 0, applied = 0;
    if (rows > 0) {
        pending = PQgetisnull (result, 0, 7) ? 0 : strtoll (PQgetvalue (result, 0, 7), NULL, 10);
        applied = PQgetisnull (result, 0, 8) ? 0 : strtoll (PQgetvalue (result, 0, 8), NULL, 10);
    }
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 6);
    sb_mpk_pack_str (pk, "referral_code");
    if (*code)
        sb_mpk_pack_str (pk, code);
    else
        msgpack_pack_nil (pk);
    sb_mpk_pack_str (pk, "referral_link");
    const char *base = sb_ctx_config (ctx)->public_url;
    if (*code && base && *base) {
        char link [512];
        size_t n = strlen (base);
        snprintf (link, sizeof (link), "%.*s/signup?ref=%s",
                  (int) (n && base [n - 1] == '/' ? n - 1 : n), base, code);
        sb_mpk_pack_str (pk, link);
    }
    else
        msgpack_pack_nil (pk);
    sb_mpk_pack_kv_int (pk, "balance_cents", pending + applied);
    sb_mpk_pack_kv_int (pk, "pending_cents", pending);
    sb_mpk_pack_kv_int (pk, "applied_cents", applied);
    sb_mpk_pack_str (pk, "data");
    //  Columns starting with '_' are internal: sb_db_pack_row leaves them out.
    msgpack_pack_array (pk, (size_t) rows);
    for (int r = 0; r < rows; r++)
        sb_db_pack_row (pk, result, r);
    PQclear (result);
    return 0;
}

//  ---------------------------------------------------------------------
//  The credits relay

typedef struct {
    billing_stripe_t *stripe;
} s_relay_arg_t;

static sb_relay_t *s_relay;
static s_relay_arg_t s_arg;

//  A Stripe id is letters, digits and '_': safe in a path as it is.
static bool
s_stripe_id_valid (const char *id)
{
    if (!*id || strlen (id) > 100)
        return false;
    for (const char *c = id; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '_')
            return false;
    return true;
}

//  Writes the outcome of one credit's call. 0 or -1.
static int
s_settle (sb_db_t *db, const char *id, const char *transaction, const char *error)
{
    if (sb_db_begin (db) || sb_db_all_orgs (db)) {
        sb_db_rollback (db);
        return -1;
    }
    int rc;
    if (transaction) {
        const char *params [] = { id, transaction };
        rc = sb_db_run (db,
                        "UPDATE credits SET status = 'applied', stripe_balance_transaction_id = $2, "
                        "applied_at = now (), failures = 0, last_error = NULL "
                        "WHERE id = $1 AND status = 'pending'",
                        2, params);
    }
    else {
        const char *params [] = { id, error, S_BACKOFF_MAX_S };
        rc = sb_db_run (db,
                        "UPDATE credits SET failures = failures + 1, last_error = $2, "
                        "next_attempt_at = now () + least ($3::int, power (2, least (failures, 10))) "
                        "                          * interval '1 second' "
                        "WHERE id = $1 AND status = 'pending'",
                        3, params);
    }
    if (rc || sb_db_commit (db)) {
        sb_db_rollback (db);
        return -1;
    }
    return 0;
}

//  The relay's step: one due credit. 1 when one was applied (there may be
//  more), 0 when none is due, -1 when the database or Stripe failed.
static int
s_step (sb_db_t *db, sb_client_t *client, void *arg)
{
    (void) client;
    s_relay_arg_t *self = (s_relay_arg_t *) arg;
    if (sb_db_begin (db) || sb_db_all_orgs (db)) {
        sb_db_rollback (db);
        return -1;
    }
    PGresult *due = sb_db_exec (db,
                                "SELECT c.id, c.organization_id, c.amount_cents, c.currency, "
                                "  s.stripe_customer_id "
                                "FROM credits c "
                                "JOIN referrals r ON r.id = c.source_id AND r.status = 'credited' "
                                "JOIN subscriptions s ON s.organization_id = c.organization_id "
                                "WHERE c.status = 'pending' AND c.kind = 'referral' "
                                "  AND c.next_attempt_at <= now () "
                                "  AND s.stripe_customer_id IS NOT NULL "
                                "ORDER BY c.next_attempt_at LIMIT 1 FOR UPDATE OF c SKIP LOCKED",
                                0, NULL);
    if (!due) {
        sb_db_rollback (db);
        return -1;
    }
    if (PQntuples (due) == 0) {
        PQclear (due);
        return sb_db_commit (db) ? -1 : 0;
    }
    char id [40], org [40], amount [24], currency [8], customer [128];
    snprintf (id, sizeof (id), "%s", PQgetvalue (due, 0, 0));
    snprintf (org, sizeof (org), "%s", PQgetvalue (due, 0, 1));
    snprintf (amount, sizeof (amount), "%s", PQgetvalue (due, 0, 2));
    snprintf (currency, sizeof (currency), "%s", PQgetvalue (due, 0, 3));
    snprintf (customer, sizeof (customer), "%s", PQgetvalue (due, 0, 4));
    PQclear (due);
    //  The lease: committed before the call, so that no lock is held while
    //  Stripe answers and no other relay takes the credit meanwhile.
    const char *lease [] = { id, S_LEASE_S };
    if (sb_db_run (db,
                   "UPDATE credits SET attempts = attempts + 1, "
                   "next_attempt_at = now () + $2::int * interval '1 second' WHERE id = $1",
                   2, lease)
        || sb_db_commit (db)) {
        sb_db_rollback (db);
        return -1;
    }

    char error [256] = "";
    char transaction [128] = "";
    if (!s_stripe_id_valid (customer))
        snprintf (error, sizeof (error), "the Stripe customer id is malformed");
    else {
        char path [200];
        snprintf (path, sizeof (path), "/v1/customers/%s/balance_transactions", customer);
        billing_form_t form = { 0 };
        billing_form_addf (&form, "amount", "-%s", amount);
        billing_form_add (&form, "currency", currency);
        billing_form_add (&form, "description", "Switchboard referral credit");
        billing_form_add (&form, "metadata[credit_id]", id);
        billing_form_add (&form, "metadata[organization_id]", org);
        billing_stripe_result_t result;
        if (billing_stripe_post (self->stripe, path, &form, id, sb_mono_ms () + S_CALL_MS,
                                 &result) == 0) {
            const char *txn = json_string_value (json_object_get (result.body, "id"));
            if (txn && *txn)
                snprintf (transaction, sizeof (transaction), "%s", txn);
            else
                snprintf (error, sizeof (error), "Stripe answered %d without an id",
                          result.http_status);
        }
        else
            snprintf (error, sizeof (error), "%d %.63s %.63s: %.100s", result.http_status,
                      result.error_type, result.error_code, result.message);
        billing_stripe_result_release (&result);
        billing_form_release (&form);
    }
    //  Kept in a text column: printable ASCII only.
    for (char *c = error; *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            *c = '?';
    if (*transaction) {
        if (s_settle (db, id, transaction, NULL))
            return -1;
        sb_info ("referrals: credit %s of organization %s applied (%s)", id, org, transaction);
        return 1;
    }
    sb_warn ("referrals: credit %s of organization %s not applied: %s", id, org, error);
    s_settle (db, id, NULL, error);
    return -1;
}

int
billing_referrals_start (const sb_config_t *config)
{
    s_arg.stripe = billing_stripe_new (config->stripe_api_base, config->stripe_secret_key);
    if (!s_arg.stripe) {
        sb_info ("referrals: Stripe is not configured: referral credits stay pending");
        return 0;
    }
    sb_relay_spec_t spec = { .name = "credits", .schema = "billing", .step = s_step,
                             .arg = &s_arg, .backoff_max_ms = S_RELAY_BACKOFF_MAX_MS,
                             .without_bus = true };
    s_relay = sb_relay_new (config, &spec);
    if (!s_relay)
        billing_stripe_destroy (&s_arg.stripe);
    return s_relay ? 0 : -1;
}

void
billing_referrals_wake (void)
{
    if (s_relay)
        sb_relay_wake (s_relay);
}

void
billing_referrals_stop (void)
{
    sb_relay_destroy (&s_relay);
    billing_stripe_destroy (&s_arg.stripe);
}

//  ---------------------------------------------------------------------
//  Selftest

void
billing_referrals_test (bool verbose)
{
    (void) verbose;
    SB_CHECK (billing_referral_self ("acme.example", "acme.example"));
    SB_CHECK (billing_referral_self ("Acme.Example", "acme.example"));
    SB_CHECK (!billing_referral_self ("acme.example", "other.example"));
    SB_CHECK (!billing_referral_self ("gmail.com", "gmail.com"));
    SB_CHECK (!billing_referral_self ("GMAIL.COM", "gmail.com"));
    //  A subdomain is another domain: the rule stays simple and documented.
    SB_CHECK (!billing_referral_self ("eu.acme.example", "acme.example"));
    SB_CHECK (s_stripe_id_valid ("cus_Abc123"));
    SB_CHECK (!s_stripe_id_valid (""));
    SB_CHECK (!s_stripe_id_valid ("cus_1/../x"));
    SB_CHECK (!s_stripe_id_valid ("cus 1"));
}
