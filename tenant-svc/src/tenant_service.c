/*  tenant_service.c — tenant-svc's operations, listed once; its start (the
    outbox relay) and its commands (import-legacy).

    Every operation runs with the organization set for row-level security:
    the policies hide other organizations' rows only where it is set.
    Changes run in a transaction (SB_OP_TX); one-statement reads
    (SB_OP_READ) have the organization set in the statement's own round
    trip, without BEGIN and COMMIT.
*/
#include "tenant.h"
#include "tenant_analytics.h"
#include "tenant_webhooks.h"

static int
s_start (const sb_config_t *config, sb_db_t *db)
{
    (void) db;
    return tenant_relay_start (config) || tenant_notices_start (config)
           || tenant_webhooks_start (config) || tenant_analytics_start (config) ? -1 : 0;
}

static void
s_stop (void)
{
    tenant_analytics_stop ();
    tenant_webhooks_stop ();
    tenant_notices_stop ();
    tenant_relay_stop ();
}

static void
s_selftest (bool verbose)
{
    tenant_common_test (verbose);
    tenant_import_test (verbose);
    tenant_hours_test (verbose);
    tenant_webhooks_sign_test (verbose);
    tenant_ssrf_test (verbose);
    tenant_twilio_test (verbose);
}

static int
s_command (int argc, char **argv, const sb_config_t *config)
{
    return tenant_import_command (argc, argv, config);
}

static const sb_op_t s_ops [] = {
    { .name = "businesses.list", .role = SB_ROLE_USER, .flags = SB_OP_READ,
      .query = tenant_businesses_list_query, .finish = tenant_page_finish },
    { .name = "businesses.get", .role = SB_ROLE_USER, .flags = SB_OP_READ,
      .handler = tenant_businesses_get },
    { .name = "businesses.create", .role = SB_ROLE_USER, .flags = SB_OP_TX | SB_OP_IDEMPOTENT,
      .handler = tenant_businesses_create },
    { .name = "businesses.update", .role = SB_ROLE_USER, .flags = SB_OP_TX,
      .handler = tenant_businesses_update },
    { .name = "businesses.delete", .role = SB_ROLE_USER, .flags = SB_OP_TX,
      .handler = tenant_businesses_delete },
    { .name = "calls.list", .role = SB_ROLE_USER, .flags = SB_OP_READ,
      .query = tenant_calls_list_query, .finish = tenant_page_finish },
    { .name = "calls.get", .role = SB_ROLE_USER, .flags = SB_OP_READ, .handler = tenant_calls_get },
    { .name = "calls.create", .role = SB_ROLE_USER,
      .flags = SB_OP_TX | SB_OP_IDEMPOTENT | SB_OP_GROUP, .handler = tenant_calls_create,
      .query = tenant_calls_create_query, .finish = tenant_calls_create_finish },
    { .name = "orders.list", .role = SB_ROLE_USER, .flags = SB_OP_READ,
      .query = tenant_orders_list_query, .finish = tenant_page_finish },
    { .name = "orders.get", .role = SB_ROLE_USER, .flags = SB_OP_READ,
      .handler = tenant_orders_get },
    { .name = "orders.create", .role = SB_ROLE_USER, .flags = SB_OP_TX | SB_OP_IDEMPOTENT,
      .handler = tenant_orders_create },
    { .name = "orders.update", .role = SB_ROLE_USER, .flags = SB_OP_TX,
      .handler = tenant_orders_update },
    { .name = "analytics.overview", .role = SB_ROLE_USER, .flags = SB_OP_TX,
      .handler = tenant_analytics_overview },
    { .name = "org.purge", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = tenant_org_purge },
    { .name = "org.counts", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX | SB_OP_PEER,
      .handler = tenant_org_counts },
    //  ---- Webhooks (issue 14, tenant_webhooks.c) ----
    { .name = "webhooks.create", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = tenant_webhooks_create },
    { .name = "webhooks.list", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = tenant_webhooks_list },
    { .name = "webhooks.get", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = tenant_webhooks_get },
    { .name = "webhooks.update", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = tenant_webhooks_update },
    { .name = "webhooks.delete", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = tenant_webhooks_delete },
    { .name = "webhooks.rotate_secret", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = tenant_webhooks_rotate_secret },
    { .name = "webhooks.test", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = tenant_webhooks_test },
    { .name = "webhooks.deliveries", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = tenant_webhooks_deliveries },
    { .name = "webhooks.enqueue", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = tenant_webhooks_enqueue },
    //  ---- end of Webhooks ----

    //  Integrations: Twilio (tenant_twilio.c). The callback has no
    //  credential but its signature, checked by the handler.
    { .name = "twilio.put", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = tenant_twilio_put },
    { .name = "twilio.get", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = tenant_twilio_get },
    { .name = "twilio.delete", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = tenant_twilio_delete },
    { .name = "twilio.events", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = tenant_twilio_events },
    { .name = "twilio.callback", .role = SB_ROLE_NONE, .flags = SB_OP_TX,
      .handler = tenant_twilio_callback },
    //  ---- Analytics rollup (issue 16, tenant_analytics.c) ----
    { .name = "analytics.verify", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = tenant_analytics_verify },
    { .name = NULL }
};

//  The figures of /metrics (sys.stats): the usage outbox's backlog (rows
//  neither delivered nor refused) and the age of its oldest row.
static const char s_stats_sql [] =
    "WITH o (outbox, backlog, oldest) AS ("
    " SELECT 'usage_outbox', count (*), min (created_at) FROM usage_outbox"
    " WHERE delivered_at IS NULL AND refused_at IS NULL)"
    " SELECT 'outbox_backlog' AS name, backlog AS value, outbox FROM o"
    " UNION ALL"
    " SELECT 'outbox_oldest_seconds', COALESCE (extract (epoch FROM now () - oldest), 0), outbox"
    " FROM o";

//  ---- operators (switchboardctl outboxes): tenant_outboxes.c ----
extern const sb_outbox_view_t tenant_outboxes [];

const sb_service_t tenant_service = {
    .name = "tenant",
    .binary = "tenant-svc",
    .summary = "Switchboard tenant-svc: the tenants' data: businesses, calls, orders, analytics.",
    .ops = s_ops,
    .migrations = tenant_migrations,
    .migration_count = &tenant_migration_count,
    .entitlements = true,
    .secrets = true,                //  the Twilio token, the webhook secrets
    .start = s_start,
    .stop = s_stop,
    .command = s_command,
    .commands_help = "  import-legacy --source URL --organization UUID [--currency ID=CODE]...\n"
                     "                [--dry-run] [--batch-size N] [--limit N]\n"
                     "                moves a legacy single-tenant database into an organization\n",
    .selftest = s_selftest,
    .credit = 64,
    .stats_sql = s_stats_sql,
    .outboxes = tenant_outboxes,          //  operators: tenant_outboxes.c
};
