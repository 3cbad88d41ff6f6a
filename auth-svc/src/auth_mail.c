/*  auth_mail.c — auth-svc's mail outbox: queued in a request's transaction,
    sent by a thread of the process.

    A request never talks to a mail server: auth_mail_queue writes the
    message into mail_outbox in the request's transaction, so a mail exists
    exactly when what it announces (a reset token, an invitation) has
    committed, and the answer takes the same time whether or not a mail was
    queued (a forgotten password for an unknown email answers like one for
    a real account). The one SMTP client stays sb_mail_send (mail.c).

    The mail thread is an sb_relay without a bus client (common/src/relay.c:
    its own thread and database connection). It looks at the outbox when a
    request's commit wakes it (auth_mail_wake, through sb_ctx_after_commit)
    and at least every second otherwise (a row another
    process committed, or one whose next attempt has come). It claims one due
    row at a time (FOR UPDATE SKIP LOCKED in the claiming statement, so that
    the threads of several auth-svc processes share the outbox without
    waiting on each other, and a lease of a minute, so that no other thread
    takes the row while it is being sent and a process that dies hands it
    back); it sends it and marks it sent, or counts the failed attempt and
    sets the next one (1 s, doubling, at most 5 minutes), or, after
    SWITCHBOARD_MAIL_MAX_ATTEMPTS attempts, marks it failed and logs an
    error. A sent or failed row loses its text (the single-use link); the
    row stays as the record, a sent one for 30 days (the thread deletes
    older ones at start and hourly), a failed one until an operator deletes
    it. A mail sent whose mark is then lost is sent again when the lease
    ends: at least once, never silently dropped.

    Other services' mail to an organization's admins comes through
    mail.admins (billing-svc's dunning mail): one row per admin, kind
    billing, with the caller's id in source_id, unique with the recipient,
    so that a caller repeating a call it got no answer to queues nothing
    twice (while the rows are kept: 30 days once sent).

    Not LISTEN/NOTIFY, for the reason tenant_relay.c gives: NOTIFY
    serializes every commit of the database on one lock.
*/
#include "auth.h"
#include "sb/relay.h"

#define S_IDLE_MS       1000        //  look at the outbox at least this often
#define S_BACKOFF_MIN   1           //  seconds after the first failed attempt
#define S_BACKOFF_MAX   300
#define S_DB_BACKOFF_MAX 30000      //  ms, when the database itself fails
#define S_LEASE_SECONDS 60          //  a claimed row's; sb_mail_send takes 15 s at most
#define S_KEEP_DAYS     30          //  sent rows are deleted after this
#define S_PRUNE_MS      (3600 * 1000)

static sb_relay_t *s_mailer;
static int64_t s_prune_at;          //  the mail thread's: when to delete old rows

int
auth_mail_queue (sb_ctx_t *ctx, const char *org, const char *kind, const char *to,
                 const char *subject, const char *text)
{
    char why [256];
    if (sb_mail_check (sb_ctx_config (ctx), to, subject, text, why, sizeof (why)))
        return sb_error ("cannot queue the %s mail: %s", kind, why);
    const char *params [] = { org, kind, to, subject, text };
    if (sb_db_run (sb_ctx_db (ctx),
                   "INSERT INTO mail_outbox (organization_id, kind, recipient, subject, body) "
                   "VALUES ($1, $2, $3, $4, $5)",
                   5, params))
        return -1;
    sb_ctx_after_commit (ctx, auth_mail_wake);
    return 0;
}

int
auth_mail_admins (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *id = sb_arg_uuid (ctx, args, "id", true, &fields);
    const char *org = sb_arg_uuid (ctx, args, "organization_id", true, &fields);
    const char *subject = sb_arg_string (ctx, args, "subject", true, 1, 200, &fields);
    const char *text = sb_arg_text (ctx, args, "text", true, 1, 10000, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    sb_db_t *db = sb_ctx_db (ctx);
    PGresult *admins = sb_db_exec (db, "SELECT email FROM users "
                                       "WHERE organization_id = $1 AND role = 'admin' "
                                       "ORDER BY created_at, id", 1, &org);
    if (!admins)
        return -1;
    int queued = 0;
    for (int r = 0; r < PQntuples (admins); r++) {
        const char *to = PQgetvalue (admins, r, 0);
        char why [256];
        if (sb_mail_check (sb_ctx_config (ctx), to, subject, text, why, sizeof (why))) {
            PQclear (admins);
            return sb_reply_error (reply, 400, SB_E_VALIDATION_FAILED,
                                   "the mail cannot be sent: %s", why);
        }
        //  One row per id and recipient: a repeated call adds none.
        const char *params [] = { org, to, subject, text, id };
        PGresult *result = sb_db_exec (db,
                                       "INSERT INTO mail_outbox (organization_id, kind, "
                                       "  recipient, subject, body, source_id) "
                                       "VALUES ($1, 'billing', $2, $3, $4, $5) "
                                       "ON CONFLICT (source_id, recipient) DO NOTHING",
                                       5, params);
        if (!result) {
            PQclear (admins);
            return -1;
        }
        queued += atoi (PQcmdTuples (result));
        PQclear (result);
    }
    PQclear (admins);
    if (queued)
        sb_ctx_after_commit (ctx, auth_mail_wake);
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 2);
    sb_mpk_pack_kv_str (pk, "id", id);
    sb_mpk_pack_kv_int (pk, "queued", queued);
    return 0;
}

//  Seconds to wait after the attempts-th failed attempt.
static int
s_backoff (int attempts)
{
    int shift = attempts - 1 < 16 ? attempts - 1 : 16;
    int seconds = S_BACKOFF_MIN << (shift > 0 ? shift : 0);
    return seconds < S_BACKOFF_MAX ? seconds : S_BACKOFF_MAX;
}

//  Sends one due mail. Returns 1 when one was handled (sent, or its attempt
//  counted), 0 when none is due, -1 when the database failed.
static int
s_send_one (const sb_config_t *config, sb_db_t *db)
{
    //  The claim is one statement, so the row is locked only while it is
    //  taken, not through the SMTP exchange (deleting an organization must
    //  not wait for a mail server); the lease keeps the other threads off
    //  it meanwhile, and hands it back if this process dies.
    char lease [16];
    snprintf (lease, sizeof (lease), "%d", S_LEASE_SECONDS);
    const char *claim [] = { lease };
    PGresult *row = sb_db_exec (db,
                                "UPDATE mail_outbox SET next_attempt_at = now () "
                                "  + make_interval (secs => $1::int) "
                                "WHERE id = (SELECT id FROM mail_outbox "
                                "  WHERE sent_at IS NULL AND failed_at IS NULL "
                                "  AND next_attempt_at <= now () ORDER BY next_attempt_at, id "
                                "  LIMIT 1 FOR UPDATE SKIP LOCKED) "
                                "RETURNING id, kind, recipient, subject, body, attempts",
                                1, claim);
    if (!row)
        return -1;
    if (PQntuples (row) == 0) {
        PQclear (row);
        return 0;
    }
    char why [512] = "";
    int rc = sb_mail_send (config, PQgetvalue (row, 0, 2), PQgetvalue (row, 0, 3),
                           PQgetvalue (row, 0, 4), why, sizeof (why));
    int attempts = atoi (PQgetvalue (row, 0, 5)) + 1;
    char id [24], kind [32], count [16], wait [16];
    snprintf (id, sizeof (id), "%s", PQgetvalue (row, 0, 0));
    snprintf (kind, sizeof (kind), "%s", PQgetvalue (row, 0, 1));
    PQclear (row);
    snprintf (count, sizeof (count), "%d", attempts);
    snprintf (wait, sizeof (wait), "%d", s_backoff (attempts));
    const char *params [] = { id, count, why, wait };
    bool give_up = rc != 0 && attempts >= config->mail_max_attempts;
    int updated;
    if (rc == 0)
        updated = sb_db_run (db,
                             "UPDATE mail_outbox SET sent_at = now (), attempts = $2::int, "
                             "body = NULL, last_error = NULL WHERE id = $1::bigint",
                             2, params);
    else
    if (give_up)
        updated = sb_db_run (db,
                             "UPDATE mail_outbox SET failed_at = now (), attempts = $2::int, "
                             "body = NULL, last_error = $3 WHERE id = $1::bigint",
                             3, params);
    else
        updated = sb_db_run (db,
                             "UPDATE mail_outbox SET attempts = $2::int, last_error = $3, "
                             "next_attempt_at = now () + make_interval (secs => $4::int) "
                             "WHERE id = $1::bigint",
                             4, params);
    if (updated) {
        sb_error ("mail %s (%s): cannot record attempt %d (%s); it is tried again when its "
                  "lease of %d s ends", id, kind, attempts, rc == 0 ? "sent" : why,
                  S_LEASE_SECONDS);
        return -1;
    }
    if (rc == 0)
        sb_info ("mail %s (%s) sent at attempt %d", id, kind, attempts);
    else
    if (give_up)
        sb_error ("mail %s (%s) failed after %d attempts and is given up (failed_at set in "
                  "auth.mail_outbox): %s", id, kind, attempts, why);
    else
        sb_warn ("mail %s (%s): attempt %d of %d failed, next in %s s: %s", id, kind, attempts,
                 config->mail_max_attempts, wait, why);
    return 1;
}

//  Deletes the rows sent more than S_KEEP_DAYS ago (their recipients are
//  personal data with no further use; failed rows stay for the operator),
//  and the forgotten-password requests older than a day (auth_users.c
//  writes them only so that every such request commits a write).
static void
s_prune (sb_db_t *db)
{
    char days [16];
    snprintf (days, sizeof (days), "%d", S_KEEP_DAYS);
    const char *params [] = { days };
    PGresult *result = sb_db_exec (db,
                                   "DELETE FROM mail_outbox WHERE sent_at < now () "
                                   "- make_interval (days => $1::int)",
                                   1, params);
    if (result && atoi (PQcmdTuples (result)) > 0)
        sb_info ("mail: deleted %s rows sent more than %d days ago", PQcmdTuples (result),
                 S_KEEP_DAYS);
    PQclear (result);
    sb_db_run (db, "DELETE FROM forgot_requests WHERE at < now () - interval '1 day'", 0, NULL);
}

//  The relay's step (common/src/relay.c, without a bus): old rows deleted
//  when an hour has passed, then one mail. 1 when it handled one (more
//  may be due), 0 when none is due, -1 when the database failed.
static int
s_step (sb_db_t *db, sb_client_t *client, void *arg)
{
    (void) client;
    const sb_config_t *config = (const sb_config_t *) arg;
    if (sb_mono_ms () >= s_prune_at) {
        s_prune (db);
        s_prune_at = sb_mono_ms () + S_PRUNE_MS;
    }
    return s_send_one (config, db);
}

int
auth_mail_start (const sb_config_t *config)
{
    char why [256];
    if (sb_mail_check_address (config->smtp_from, why, sizeof (why)))
        return sb_error ("SWITCHBOARD_SMTP_FROM is not a usable sender address: %s", why);
    if (sb_mail_check_address (config->support_email, why, sizeof (why)))
        return sb_error ("SWITCHBOARD_SUPPORT_EMAIL is not a usable address: %s", why);
    if (config->smtp_url) {
        sb_mail_tls_t policy = sb_mail_tls_policy (config->smtp_url, config->smtp_allow_plaintext);
        if (policy == SB_MAIL_TLS_INVALID)
            return sb_error ("SWITCHBOARD_SMTP_URL is not an smtp:// or smtps:// URL with a host");
        sb_info ("mail: through SWITCHBOARD_SMTP_URL, %s", sb_mail_tls_describe (policy));
    }
    else
        sb_info ("mail: SWITCHBOARD_SMTP_URL is unset, mail is written under %s/mail",
                 config->data_dir);
    sb_relay_spec_t spec = { .name = "mail", .schema = "auth", .step = s_step,
                             .arg = (void *) config, .idle_ms = S_IDLE_MS,
                             .backoff_max_ms = S_DB_BACKOFF_MAX, .without_bus = true };
    s_mailer = sb_relay_new (config, &spec);
    return s_mailer ? 0 : sb_error ("cannot start the mail thread");
}

void
auth_mail_wake (void)
{
    sb_relay_wake (s_mailer);
}

void
auth_mail_stop (void)
{
    sb_relay_destroy (&s_mailer);
}
