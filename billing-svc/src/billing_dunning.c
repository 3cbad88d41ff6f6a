/*  billing_dunning.c — billing-svc's background thread: the dunning sweep
    and the delivery of billing's mail to auth-svc.

    One sb_relay (common/src/relay.c: its own thread, database connection
    and bus client), woken after a request's commit that queued mail
    (billing_dunning_wake), looking at least once a second otherwise.

    The sweep (at most every S_SWEEP_MS): a past-due subscription whose
    past_due_since lies SWITCHBOARD_BILLING_GRACE_SECONDS or more in the
    past is set canceled on free, and its admins are mailed. Its
    entitlement lapsed at that instant already (billing_entitlement_of
    computes it); the sweep writes it down, through billing_sub_write, the
    one code path that takes an entitlements version, and publishes
    subscription.changed on the thread's own PUB socket once the
    transaction has committed (a lost event is caught up by the caches'
    version check). Rows are taken FOR UPDATE SKIP LOCKED, so the threads
    of several billing-svc processes share the work, and a webhook
    changing the same subscription waits for the sweep's commit (or the
    sweep skips it).

    The mail: billing has no mail of its own. billing_mail_queue writes a
    row in billing.mail_outbox in the transaction of the change it
    announces; the thread hands each due row to auth-svc's mail.admins
    {id, organization_id, subject, text}, which queues one mail per admin
    in auth's outbox, idempotent by id (a call repeated after a lost answer
    queues nothing twice). Acknowledged: delivered. Refused (4xx: a text
    auth's mail rules refuse): failed, logged, not retried. No answer or
    5xx: tried again, after 1 s doubling to 5 minutes.
*/
#include "billing_service.h"
#include "sb/relay.h"

#define S_IDLE_MS      1000
#define S_SWEEP_MS     2000         //  the sweep runs at most this often
#define S_SWEEP_BATCH  50
#define S_CALL_MS      5000         //  what a mail.admins call may take
#define S_BACKOFF_MAX  5000         //  ms, when the database or auth-svc fails

static sb_relay_t *s_relay;
static const sb_config_t *s_config;
//  The thread's own (created on its first step, destroyed after it ends).
static zsock_t *s_pub;
static int64_t s_sweep_at;

static int
s_mail_insert (sb_db_t *db, const char *org, const char *kind, const char *subject,
               const char *text)
{
    char id [37];
    sb_uuid_v4 (id);
    const char *params [] = { id, org, kind, subject, text };
    return sb_db_run (db, "INSERT INTO mail_outbox (id, organization_id, kind, subject, body) "
                          "VALUES ($1, $2, $3, $4, $5)", 5, params);
}

int
billing_mail_queue (sb_ctx_t *ctx, const char *org, const char *kind, const char *subject,
                    const char *text)
{
    if (s_mail_insert (sb_ctx_db (ctx), org, kind, subject, text))
        return -1;
    sb_ctx_after_commit (ctx, billing_dunning_wake);
    return 0;
}

//  Downgrades the subscriptions whose grace has ended, a batch at a time.
//  Returns how many (S_SWEEP_BATCH: there may be more), -1 on failure.
static int
s_sweep (sb_db_t *db)
{
    if (sb_db_begin (db))
        return -1;
    char grace [24], batch [16];
    snprintf (grace, sizeof (grace), "%d", s_config->billing_grace_seconds);
    snprintf (batch, sizeof (batch), "%d", S_SWEEP_BATCH);
    const char *params [] = { grace, batch };
    PGresult *due = NULL;
    if (sb_db_all_orgs (db)
        || !(due = sb_db_exec (db, "SELECT organization_id FROM subscriptions "
                                   "WHERE status = 'past_due' AND past_due_since "
                                   "  + make_interval (secs => $1::int) <= now () "
                                   "ORDER BY past_due_since LIMIT $2::int "
                                   "FOR UPDATE SKIP LOCKED", 2, params))) {
        sb_db_rollback (db);
        return -1;
    }
    int count = PQntuples (due);
    msgpack_sbuffer *events = (msgpack_sbuffer *) sb_malloc (sizeof (msgpack_sbuffer)
                                                             * (size_t) (count ? count : 1));
    int rc = 0, written = 0;
    for (int r = 0; r < count && rc == 0; r++) {
        const char *org = PQgetvalue (due, r, 0);
        billing_sub_t sub;
        rc = billing_sub_read (db, org, true, &sub);
        if (rc)
            break;
        char was [32];
        snprintf (was, sizeof (was), "%s", sub.plan);
        snprintf (sub.plan, sizeof (sub.plan), "free");
        snprintf (sub.status, sizeof (sub.status), "canceled");
        *sub.past_due_since = 0;
        rc = billing_sub_write (db, org, &sub);
        char text [1024];
        snprintf (text, sizeof (text),
                  "The payment for your Switchboard %s plan is still missing after the grace\r\n"
                  "period, so your organization is now on the free plan. Its data is kept;\r\n"
                  "subscribe again from the billing page to get the plan's limits back.\r\n",
                  was);
        if (rc == 0)
            rc = s_mail_insert (db, org, "downgraded", "Your Switchboard plan is now free",
                                text);
        if (rc == 0) {
            msgpack_sbuffer_init (&events [written]);
            billing_sub_event (org, &sub, &events [written++]);
            sb_info ("dunning: %s: the grace period ended unpaid; %s → free", org, was);
        }
    }
    PQclear (due);
    if (rc == 0)
        rc = sb_db_commit (db);
    else
        sb_db_rollback (db);
    for (int i = 0; i < written; i++) {
        if (rc == 0 && s_pub)
            sb_events_publish (s_pub, BILLING_SUB_TOPIC, events [i].data, events [i].size);
        msgpack_sbuffer_destroy (&events [i]);
    }
    free (events);
    return rc ? -1 : count;
}

//  Hands one due mail to auth-svc. 1 when one was handled, 0 when none is
//  due, -1 when the database or auth-svc failed.
static int
s_deliver_one (sb_db_t *db, sb_client_t *client)
{
    if (sb_db_begin (db))
        return -1;
    PGresult *row = NULL;
    if (sb_db_all_orgs (db)
        || !(row = sb_db_exec (db, "SELECT id, organization_id, subject, body, attempts "
                                   "FROM mail_outbox WHERE delivered_at IS NULL "
                                   "  AND failed_at IS NULL AND next_attempt_at <= now () "
                                   "ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                                   0, NULL))) {
        sb_db_rollback (db);
        return -1;
    }
    if (PQntuples (row) == 0) {
        PQclear (row);
        sb_db_commit (db);
        return 0;
    }
    int status = sb_client_mail_admins (client, PQgetvalue (row, 0, 0), PQgetvalue (row, 0, 1),
                                        PQgetvalue (row, 0, 2), PQgetvalue (row, 0, 3), S_CALL_MS,
                                        NULL, 0);

    char attempts [16], code [16];
    snprintf (attempts, sizeof (attempts), "%d", atoi (PQgetvalue (row, 0, 4)) + 1);
    snprintf (code, sizeof (code), "%d", status);
    const char *params [] = { PQgetvalue (row, 0, 0), attempts, code };
    int rc;
    if (status >= 200 && status < 300)
        rc = sb_db_run (db, "UPDATE mail_outbox SET delivered_at = now (), attempts = $2::int "
                            "WHERE id = $1", 2, params);
    else
    if (status >= 400 && status < 500) {
        sb_error ("dunning: auth-svc refused mail %s (%d); not sent", params [0], status);
        rc = sb_db_run (db, "UPDATE mail_outbox SET failed_at = now (), attempts = $2::int, "
                            "  last_error = 'refused: ' || $3 WHERE id = $1", 3, params);
    }
    else
        rc = sb_db_run (db, "UPDATE mail_outbox SET attempts = $2::int, "
                            "  last_error = CASE WHEN $3 = '0' THEN 'no answer' "
                            "                    ELSE 'status ' || $3 END, "
                            "  next_attempt_at = now () + make_interval (secs => "
                            "    least (300, power (2, least ($2::int - 1, 9)))) "
                            "WHERE id = $1", 3, params);
    PQclear (row);
    if (rc || sb_db_commit (db)) {
        sb_db_rollback (db);
        return -1;
    }
    return status >= 200 && status < 500 ? 1 : -1;
}

static int
s_step (sb_db_t *db, sb_client_t *client, void *arg)
{
    (void) arg;
    if (!s_pub)
        s_pub = sb_events_publisher_new (s_config);
    int swept = 0;
    if (sb_mono_ms () >= s_sweep_at) {
        swept = s_sweep (db);
        if (swept < S_SWEEP_BATCH)
            s_sweep_at = sb_mono_ms () + S_SWEEP_MS;
    }
    int mailed = s_deliver_one (db, client);
    if (swept < 0 || mailed < 0)
        return -1;
    return swept == S_SWEEP_BATCH || mailed > 0 ? 1 : 0;
}

int
billing_dunning_start (const sb_config_t *config)
{
    s_config = config;
    sb_relay_spec_t spec = { .name = "dunning", .schema = "billing", .step = s_step,
                             .idle_ms = S_IDLE_MS, .backoff_max_ms = S_BACKOFF_MAX };
    s_relay = sb_relay_new (config, &spec);
    return s_relay ? 0 : sb_error ("cannot start the dunning thread");
}

void
billing_dunning_wake (void)
{
    if (s_relay)
        sb_relay_wake (s_relay);
}

void
billing_dunning_stop (void)
{
    sb_relay_destroy (&s_relay);
    zsock_destroy (&s_pub);
}
