/*  billing_service.c — billing-svc's operations, listed once.

    The skeleton answers sys.ping for every service. billing-svc owns the
    plan catalogue (.plans): it alone decides which plan an organization is
    on, and answers the other services' entitlements.get.
*/
#include "billing_service.h"
#include "billing_stripe.h"

static const sb_op_t s_ops [] = {
    { .name = "billing.plans", .role = SB_ROLE_NONE, .handler = billing_plans_list },
    { .name = "billing.subscription", .role = SB_ROLE_USER, .flags = SB_OP_READ,
      .handler = billing_subscription_get },
    { .name = "billing.spending_cap", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = billing_spending_cap_set },
    { .name = "subscriptions.assign", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = billing_subscriptions_assign },
    //  Asked by every enforcing process, also while it serves a request:
    //  on the peer worker too (sb_service_t, "The peer worker").
    { .name = "entitlements.get", .role = SB_ROLE_SERVICE,
      .flags = SB_OP_TX | SB_OP_PEER, .handler = billing_entitlements_get },
    { .name = "entitlements.changes", .role = SB_ROLE_SERVICE,
      .flags = SB_OP_TX | SB_OP_PEER, .handler = billing_entitlements_changes },
    //  Stripe calls: no transaction held while they run (billing_checkout.c)
    //  and on the "stripe" lane (sb_service_t.lane), so that a slow Stripe
    //  holds up only them.
    { .name = "billing.checkout", .role = SB_ROLE_ADMIN, .flags = SB_OP_LANE,
      .handler = billing_checkout_create },
    { .name = "billing.portal", .role = SB_ROLE_ADMIN, .flags = SB_OP_LANE,
      .handler = billing_portal_create },
    { .name = "webhooks.receive", .role = SB_ROLE_NONE, .flags = SB_OP_TX,
      .handler = billing_webhooks_receive },
    { .name = "billing.invoices", .role = SB_ROLE_ADMIN, .flags = SB_OP_READ,
      .handler = billing_invoices_list },
    { .name = "org.purge", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = billing_org_purge },
    { .name = "referrals.record", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = billing_referrals_record },
    { .name = "referrals.paid", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = billing_referrals_paid_op },
    { .name = "billing.credits", .role = SB_ROLE_ADMIN, .flags = SB_OP_READ,
      .handler = billing_credits_get },
    //  ---- operators (switchboardctl revenue): billing_revenue.c ----
    { .name = "sys.revenue", .role = SB_ROLE_OPERATOR, .flags = SB_OP_TX,
      .handler = billing_sys_revenue },
    { .name = NULL }
};

//  The threads of every billing-svc process: the dunning sweep and mail
//  relay (billing_dunning.c), the credits relay (billing_referrals.c) and
//  the overage reporter (billing_meter.c), the subscription.updated relay
//  (billing_outbox.c).
static int
s_start (const sb_config_t *config, sb_db_t *db)
{
    (void) db;
    return billing_dunning_start (config) || billing_referrals_start (config)
           || billing_meter_start (config) || billing_outbox_start (config) ? -1 : 0;
}

static void
s_stop (void)
{
    billing_meter_stop ();
    billing_referrals_stop ();
    billing_dunning_stop ();
    billing_outbox_stop ();
}

//  `billing-svc COMMAND ...`: the operator's commands (they run before the
//  database is opened).
static int
s_command (int argc, char **argv, const sb_config_t *config)
{
    if (streq (argv [0], "stripe-sync"))
        return billing_sync_command (argc, argv, config);
    //  Debugging aids, not in --help (t3002 uses them).
    if (streq (argv [0], "verify-signature"))
        return billing_signature_command (argc, argv, config);
    if (streq (argv [0], "stripe-call"))
        return billing_stripe_command (argc, argv, config);
    return -1;
}

//  At the end of each worker thread (the service's and the lane's): what
//  the handlers keep per thread.
static void
s_worker_stop (void)
{
    billing_checkout_stop ();
}

static void
s_selftest (bool verbose)
{
    billing_subscriptions_test (verbose);
    billing_stripe_test (verbose);
    billing_signature_test (verbose);
    billing_sync_test (verbose);
    billing_referrals_test (verbose);
    billing_webhooks_test (verbose);
}

//  The figures of /metrics (sys.stats): the backlog of each outbox (admin
//  mails not yet handed to auth-svc, overage not yet reported to Stripe,
//  credits not yet applied, subscription.updated events not yet handed to
//  tenant-svc) and the age of its oldest row; and the Stripe
//  events received, by type and outcome.
static const char s_stats_sql [] =
    "WITH o (outbox, backlog, oldest) AS ("
    " SELECT 'mail_outbox', count (*), min (created_at) FROM mail_outbox"
    " WHERE delivered_at IS NULL AND failed_at IS NULL"
    " UNION ALL"
    " SELECT 'meter_reports', count (*), min (created_at) FROM meter_reports"
    " WHERE reported_at IS NULL"
    " UNION ALL"
    " SELECT 'credits', count (*), min (created_at) FROM credits WHERE status = 'pending'"
    " UNION ALL"
    " SELECT 'webhook_outbox', count (*), min (created_at) FROM webhook_outbox"
    " WHERE acknowledged_at IS NULL)"
    " SELECT 'outbox_backlog' AS name, backlog::numeric AS value, outbox,"
    " NULL::text AS type, NULL::text AS outcome FROM o"
    " UNION ALL"
    " SELECT 'outbox_oldest_seconds', COALESCE (extract (epoch FROM now () - oldest), 0), outbox,"
    " NULL, NULL FROM o"
    " UNION ALL"
    " SELECT 'webhook_events', count (*), NULL, type, outcome FROM webhook_events"
    " GROUP BY type, outcome";

//  ---- operators (switchboardctl outboxes): billing_outboxes.c ----
extern const sb_outbox_view_t billing_outboxes [];

const sb_service_t billing_service = {
    .name = "billing",
    .binary = "billing-svc",
    .summary = "Switchboard billing-svc: plans, subscriptions, Stripe checkout and webhooks.",
    .ops = s_ops,
    .migrations = billing_migrations,
    .migration_count = &billing_migration_count,
    .plans = true,
    .start = s_start,
    .stop = s_stop,
    .lane = "stripe",
    .worker_stop = s_worker_stop,
    .command = s_command,
    .commands_help = "  stripe-sync [--write FILE]\n"
                     "                create or find in the Stripe account (SWITCHBOARD_STRIPE_SECRET_KEY)\n"
                     "                the products, prices and meters of the plan catalogue; print\n"
                     "                their ids, and with --write a copy of the catalogue with them\n",
    .selftest = s_selftest,
    .stats_sql = s_stats_sql,
    .outboxes = billing_outboxes,          //  operators: billing_outboxes.c
};
