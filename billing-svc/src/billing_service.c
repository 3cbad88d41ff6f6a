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
    { .name = "entitlements.get", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = billing_entitlements_get },
    { .name = "entitlements.changes", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = billing_entitlements_changes },
    { .name = "webhooks.receive", .role = SB_ROLE_NONE, .flags = SB_OP_TX,
      .handler = billing_webhooks_receive },
    { .name = "billing.invoices", .role = SB_ROLE_ADMIN, .flags = SB_OP_READ,
      .handler = billing_invoices_list },
    { .name = "org.purge", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = billing_org_purge },
    { .name = NULL }
};

//  `billing-svc COMMAND ...`: the operator's commands (they run before the
//  database is opened).
static int
s_command (int argc, char **argv, const sb_config_t *config)
{
    if (streq (argv [0], "stripe-sync"))
        return billing_sync_command (argc, argv, config);
    return -1;
}

//  The dunning thread runs in every billing-svc process.
static int
s_start (const sb_config_t *config, sb_db_t *db)
{
    (void) db;
    return billing_dunning_start (config);
}

static void
s_stop (void)
{
    billing_dunning_stop ();
}

static void
s_selftest (bool verbose)
{
    billing_subscriptions_test (verbose);
    billing_stripe_test (verbose);
    billing_signature_test (verbose);
    billing_sync_test (verbose);
    billing_webhooks_test (verbose);
}

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
    .command = s_command,
    .commands_help = "  stripe-sync [--write FILE]\n"
                     "                create or find in the Stripe account (SWITCHBOARD_STRIPE_SECRET_KEY)\n"
                     "                the products, prices and meters of the plan catalogue; print\n"
                     "                their ids, and with --write a copy of the catalogue with them\n",
    .selftest = s_selftest,
};
