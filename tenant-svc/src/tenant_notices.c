/*  tenant_notices.c — mail tenant-svc owes an organization's admins,
    durably: a row of admin_mail_outbox (migration 0011) written in the
    transaction of what it tells, handed by a relay thread to auth-svc's
    mail.admins (which mails every admin of the organization and ignores a
    repeated id), each row acknowledged on its own (sb_outbox_step).

    "Once" is the row's dedupe_key (UNIQUE per organization): a Twilio call
    refused for the quota tells the admins once a month
    ("twilio-refused:<YYYY-MM>"); a webhook endpoint disabled tells them
    once per disabling (tenant_webhooks_send.c writes that row in its own
    statement, with the same columns).

    Failure modes: auth-svc down or refusing → the row stays, retried 1 s
    doubling to 5 min; a mail is never dropped and never handed over twice
    once acknowledged (auth-svc's id check covers an acknowledgement lost
    on the way back).
*/
#include "tenant.h"
#include "sb/relay.h"

#define S_CALL_MS 5000
#define S_BACKOFF_MAX_S 300

static sb_relay_t *s_relay;

int
tenant_notice_queue (sb_db_t *db, const char *org, const char *key, const char *subject,
                     const char *text)
{
    const char *params [] = { org, key, subject, text };
    return sb_db_run (db, "INSERT INTO admin_mail_outbox (organization_id, dedupe_key, subject, "
                          "body) VALUES ($1, $2, $3, $4) "
                          "ON CONFLICT (organization_id, dedupe_key) DO NOTHING", 4, params);
}

//  The outbox's columns, in this order (the first is the key).
enum { C_ID, C_ORG, C_SUBJECT, C_BODY, C_COUNT };

static int
s_deliver (sb_client_t *client, const char *const *row, bool *done, char *error,
           size_t error_size)
{
    *done = true;
    return sb_client_mail_admins (client, row [C_ID], row [C_ORG], row [C_SUBJECT], row [C_BODY],
                                  S_CALL_MS, error, error_size);
}

static const sb_outbox_t s_outbox = {
    .name = "admin mail", .table = "admin_mail_outbox",
    .columns = "id, organization_id, subject, body",
    .column_count = C_COUNT, .key_count = 1, .backoff_max_s = S_BACKOFF_MAX_S,
    .deliver = s_deliver
};

int
tenant_notices_start (const sb_config_t *config)
{
    s_relay = sb_outbox_relay_new (config, "tenant", &s_outbox);
    return s_relay ? 0 : -1;
}

void
tenant_notices_stop (void)
{
    sb_relay_destroy (&s_relay);
}

void
tenant_notices_wake (void)
{
    sb_relay_wake (s_relay);
}
