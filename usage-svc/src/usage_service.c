/*  usage_service.c — usage-svc's operations, listed once.

    The skeleton answers sys.ping for every service; the operations of
    usage-svc's resources join this table as they are built.
*/
#include "usage_service.h"

static const sb_op_t s_ops [] = {
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
