/*  billing_service.c — billing-svc's operations, listed once.

    The skeleton answers sys.ping for every service. billing-svc owns the
    plan catalogue (.plans): it alone decides which plan an organization is
    on, and answers the other services' entitlements.get.
*/
#include "billing_service.h"

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
    { .name = "org.purge", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = billing_org_purge },
    { .name = NULL }
};

static void
s_selftest (bool verbose)
{
    billing_subscriptions_test (verbose);
}

const sb_service_t billing_service = {
    .name = "billing",
    .binary = "billing-svc",
    .summary = "Switchboard billing-svc: plans, subscriptions, Stripe checkout and webhooks.",
    .ops = s_ops,
    .migrations = billing_migrations,
    .migration_count = &billing_migration_count,
    .plans = true,
    .selftest = s_selftest,
};
