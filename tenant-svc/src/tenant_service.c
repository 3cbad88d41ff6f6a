/*  tenant_service.c — tenant-svc's operations, listed once.

    The skeleton answers sys.ping for every service; the operations of
    tenant-svc's resources join this table as they are built.
*/
#include "tenant_service.h"

static const sb_op_t s_ops [] = {
    { NULL, NULL, SB_ROLE_NONE, 0 }
};

const sb_service_t tenant_service = {
    .name = "tenant",
    .binary = "tenant-svc",
    .summary = "Switchboard tenant-svc: the tenants' data: businesses, calls, orders, analytics.",
    .ops = s_ops,
    .migrations = tenant_migrations,
    .migration_count = &tenant_migration_count,
};
