/*  billing_outbox.c — billing-svc's subscription.updated webhook events,
    relayed to tenant-svc.

    billing_sub_write adds a row to webhook_outbox, in the statement that
    writes the subscription, whenever the saved version changes the plan,
    the status, current_period_end or cancel_at_period_end (see
    billing-svc/sql/0007_webhook_outbox.sql): through billing_sub_save (a
    checkout, a Stripe webhook, the operator's subscriptions.assign) and
    the dunning sweep alike. Nothing is promised that did not commit.

    This relay (one sb_relay per process: its own thread, database
    connection and bus client; sb_outbox_step takes rows FOR UPDATE SKIP
    LOCKED, so the relays of several billing-svc processes share the
    outbox) hands each row to tenant-svc's webhooks.enqueue
    {organization_id, event_id "subscription:<org>:<version>", type
    "subscription.updated", data {plan, status, current_period_end (RFC
    3339 or null), cancel_at_period_end}} and acknowledges it on a 2xx
    answer (202). The event id is stable per saved version, so a call
    repeated after a lost answer is the same event to the receiver. Any
    other answer (none, 5xx, and 404 unknown_operation while tenant-svc
    does not have the operation yet) keeps the row and tries it again
    later, 1 s doubling to S_BACKOFF_MAX_S: an event is never dropped. Not
    woken by requests (a request's one after-commit hook belongs to the
    dunning mail): it looks at the outbox every second.
*/
#include "billing_service.h"
#include "sb/relay.h"

#define S_CALL_MS       5000        //  what a webhooks.enqueue call may take
#define S_BACKOFF_MAX_S 300

static sb_relay_t *s_relay;

enum { C_ORG, C_VERSION, C_PLAN, C_STATUS, C_PERIOD_END, C_CANCEL, C_COUNT };

static int
s_deliver (sb_client_t *client, const char *const *row, bool *done, char *error,
           size_t error_size)
{
    *done = true;
    char event_id [128];
    snprintf (event_id, sizeof (event_id), "subscription:%s:%s", row [C_ORG], row [C_VERSION]);
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    sb_mpk_pack_kv_str (&pk, "organization_id", row [C_ORG]);
    sb_mpk_pack_kv_str (&pk, "event_id", event_id);
    sb_mpk_pack_kv_str (&pk, "type", "subscription.updated");
    sb_mpk_pack_str (&pk, "data");
    msgpack_pack_map (&pk, 4);
    sb_mpk_pack_kv_str (&pk, "plan", row [C_PLAN]);
    sb_mpk_pack_kv_str (&pk, "status", row [C_STATUS]);
    sb_mpk_pack_str (&pk, "current_period_end");
    if (*row [C_PERIOD_END])
        sb_mpk_pack_str (&pk, row [C_PERIOD_END]);
    else
        msgpack_pack_nil (&pk);
    sb_mpk_pack_str (&pk, "cancel_at_period_end");
    if (streq (row [C_CANCEL], "t"))
        msgpack_pack_true (&pk);
    else
        msgpack_pack_false (&pk);
    int status = sb_client_request (client, "tenant", "webhooks.enqueue", row [C_ORG], &args,
                                    S_CALL_MS, NULL, error, error_size);
    msgpack_sbuffer_destroy (&args);
    return status;
}

static const sb_outbox_t s_outbox = {
    .name = "subscription events", .table = "webhook_outbox",
    .columns = "organization_id, version, plan, status, "
               "coalesce (" SB_SQL_TS ("current_period_end") ", ''), cancel_at_period_end",
    .column_count = C_COUNT, .key_count = 2, .backoff_max_s = S_BACKOFF_MAX_S,
    .deliver = s_deliver
};

int
billing_outbox_start (const sb_config_t *config)
{
    s_relay = sb_outbox_relay_new (config, "billing", &s_outbox);
    return s_relay ? 0 : sb_error ("cannot start the subscription events relay");
}

void
billing_outbox_stop (void)
{
    sb_relay_destroy (&s_relay);
}
