/*  auth_service.c — auth-svc's operations, listed once.

    The skeleton answers sys.ping for every service; the operations of
    auth-svc's resources join this table as they are built.
*/
#include "auth_service.h"

static const sb_op_t s_ops [] = {
    { NULL, NULL, SB_ROLE_NONE, 0 }
};

const sb_service_t auth_service = {
    .name = "auth",
    .binary = "auth-svc",
    .summary = "Switchboard auth-svc: identity and access: organizations, users, sessions, API keys.",
    .ops = s_ops,
    .migrations = auth_migrations,
    .migration_count = &auth_migration_count,
};
