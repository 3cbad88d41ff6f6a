/*  tenant_org.c — org.purge: a deleted organization's data goes.

    auth-svc's deletion relay calls org.purge (internal callers only) until
    it answers done; each call deletes a bounded batch of every table in
    turn (common/src/purge.c). Children go before the tables they
    reference: orders (which reference calls, ON DELETE SET NULL, so that
    deleting calls first would update them all), calls, businesses, then
    the legacy import's records (the id map references its runs without a
    cascade) and the organization's undelivered and delivered usage
    outbox rows (usage-svc purges the usage itself), and the Twilio
    integration's callback events and the integration itself.

    Not on org.deleted any more: that event stays for the gateways' caches,
    and a tenant-svc that was down when it was published never heard it.
    The relay calls again until acknowledged, so nothing here listens.
*/
#include "tenant.h"
#include "sb/purge.h"

static const char *const s_tables [] = {
    "orders", "calls", "businesses",
    "legacy_import_rejects", "legacy_id_map", "legacy_import_runs",
    "usage_outbox",
    "webhook_attempts", "webhook_deliveries", "webhook_events", "webhook_endpoints",
    "twilio_events", "twilio_integrations", "admin_mail_outbox",
    NULL
};

//  org.counts {organization_id} (internal): what billing-svc compares
//  with the entitlement for over_limits: {businesses, calls_this_month}
//  (calls counted as the calls quota counts them).
int
tenant_org_counts (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = sb_arg_uuid (ctx, args, "organization_id", true, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    if (sb_db_set_org (sb_ctx_db (ctx), org))
        return -1;
    return sb_reply_one (reply, sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT (SELECT count (*) FROM businesses "
                                   "        WHERE organization_id = $1) AS businesses, "
                                   "       (" TENANT_SQL_CALLS_THIS_MONTH ") AS calls_this_month",
                                   1, &org),
                         200, "no such organization");
}

int
tenant_org_purge (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    return sb_purge_reply (ctx, args, reply, s_tables, false);
}
