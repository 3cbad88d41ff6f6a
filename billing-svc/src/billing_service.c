/*  billing_service.c — billing-svc's operations, listed once.

    The skeleton answers sys.ping for every service; the operations of
    billing-svc's resources join this table as they are built.
*/
#include "billing_service.h"

static const sb_op_t s_ops [] = {
    { .name = "org.purge", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = billing_org_purge },
    { .name = NULL }
};

const sb_service_t billing_service = {
    .name = "billing",
    .binary = "billing-svc",
    .summary = "Switchboard billing-svc: plans, subscriptions, Stripe checkout and webhooks.",
    .ops = s_ops,
    .migrations = billing_migrations,
    .migration_count = &billing_migration_count,
};
