/*  usage_service.c — usage-svc's operations, listed once.

    So far: usage.record, the batch ingestion the tenant outbox relay
    delivers to. Quotas, reservations and the public routes come with the
    usage issue.
*/
#include "usage.h"

static const sb_op_t s_ops [] = {
    { "usage.record", usage_record, SB_ROLE_SERVICE, SB_OP_TX },
    { NULL, NULL, SB_ROLE_NONE, 0 }
};

const sb_service_t usage_service = {
    .name = "usage",
    .binary = "usage-svc",
    .summary = "Switchboard usage-svc: usage events, counters, quotas and reservations.",
    .ops = s_ops,
    .migrations = usage_migrations,
    .migration_count = &usage_migration_count,
};
