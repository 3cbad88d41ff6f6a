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

static int
s_start (const sb_config_t *config, sb_db_t *db)
{
    (void) db;
    return tenant_relay_start (config);
}

static void
s_stop (void)
{
    tenant_relay_stop ();
}

static void
s_selftest (bool verbose)
{
    tenant_common_test (verbose);
    tenant_import_test (verbose);
}

static int
s_command (int argc, char **argv, const sb_config_t *config)
{
    return tenant_import_command (argc, argv, config);
}

static const sb_op_t s_ops [] = {
    { "businesses.list", NULL, SB_ROLE_USER, SB_OP_READ, tenant_businesses_list, tenant_page_finish },
    { "businesses.get", tenant_businesses_get, SB_ROLE_USER, SB_OP_READ },
    { "businesses.create", tenant_businesses_create, SB_ROLE_USER, SB_OP_TX | SB_OP_IDEMPOTENT },
    { "businesses.update", tenant_businesses_update, SB_ROLE_USER, SB_OP_TX },
    { "businesses.delete", tenant_businesses_delete, SB_ROLE_USER, SB_OP_TX },
    { "calls.list", NULL, SB_ROLE_USER, SB_OP_READ, tenant_calls_list, tenant_page_finish },
    { "calls.get", tenant_calls_get, SB_ROLE_USER, SB_OP_READ },
    { "calls.create", tenant_calls_create, SB_ROLE_USER, SB_OP_TX | SB_OP_IDEMPOTENT | SB_OP_GROUP,
      tenant_calls_create_query, tenant_calls_create_finish },
    { "orders.list", NULL, SB_ROLE_USER, SB_OP_READ, tenant_orders_list, tenant_page_finish },
    { "orders.get", tenant_orders_get, SB_ROLE_USER, SB_OP_READ },
    { "orders.create", tenant_orders_create, SB_ROLE_USER, SB_OP_TX | SB_OP_IDEMPOTENT },
    { "orders.update", tenant_orders_update, SB_ROLE_USER, SB_OP_TX },
    { "analytics.overview", tenant_analytics_overview, SB_ROLE_USER, SB_OP_TX },
    { "org.purge", tenant_org_purge, SB_ROLE_SERVICE, SB_OP_TX },
    { NULL, NULL, SB_ROLE_NONE, 0 }
};

const sb_service_t tenant_service = {
    .name = "tenant",
    .binary = "tenant-svc",
    .summary = "Switchboard tenant-svc: the tenants' data: businesses, calls, orders, analytics.",
    .ops = s_ops,
    .migrations = tenant_migrations,
    .migration_count = &tenant_migration_count,
    .plans = true,
    .start = s_start,
    .stop = s_stop,
    .command = s_command,
    .commands_help = "  import-legacy --source URL --organization UUID [--currency ID=CODE]...\n"
                     "                [--dry-run] [--batch-size N] [--limit N]\n"
                     "                moves a legacy single-tenant database into an organization\n",
    .selftest = s_selftest,
    .credit = 64,
};
