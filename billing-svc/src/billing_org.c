/*  billing_org.c — org.purge: a deleted organization's billing data goes.

    auth-svc records every organization's deletion for billing-svc too and
    calls org.purge (internal callers only) until it answers done, so that
    billing's data of a deleted organization goes: its invoices, its
    webhook events, its queued mail and its subscription. A table of billing's with an
    organization_id column joins s_tables (children before the tables they
    reference) in the migration's commit; t5001 fails on a data-owning
    schema's table that a purge leaves rows in.
*/
#include "billing_service.h"
#include "sb/purge.h"

static const char *const s_tables [] = { "credits", "referrals", "meter_reports", "invoices",
                                          "webhook_events", "mail_outbox", "webhook_outbox",
                                          "subscriptions", NULL };

int
billing_org_purge (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    return sb_purge_reply (ctx, args, reply, s_tables, false);
}
