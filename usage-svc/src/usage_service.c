/*  usage_service.c — usage-svc's operations, listed once; its start (the
    plan catalogue) and selftest.

    Public (through the gateway, role user, the organization the caller's):
        usage.ingest    POST /v1/usage/events
        usage.reserve   POST /v1/usage/reservations
        usage.commit    POST /v1/usage/reservations/{id}/commit
        usage.release   POST /v1/usage/reservations/{id}/release
        usage.summary   GET  /v1/usage/summary
        usage.series    GET  /v1/usage
    Internal (role service, `org` in the arguments where one is meant):
        usage.record    batches from producers (the tenant outbox relay)
        usage.check     may this organization use N more? (cached)
        usage.verify    counters recomputed from the events: {mismatches}
        usage.counts    a month's counter of one metric for many organizations
        org.purge       a deleted organization's rows, a batch a call (usage_org.c)
    and the public ones too, for the call engine (reserve, commit, release).

    Every operation but usage.check runs in a transaction (SB_OP_TX);
    usage.check answers from memory when it can and opens one only to
    refresh its cache.
*/
#include "usage.h"

static void
s_stop (void)
{
    usage_cache_destroy ();
}

static void
s_selftest (bool verbose)
{
    usage_common_test (verbose);
    usage_series_test (verbose);
}

static const sb_op_t s_ops [] = {
    { .name = "usage.record", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX, .handler = usage_record },
    { .name = "usage.ingest", .role = SB_ROLE_USER, .flags = SB_OP_TX | SB_OP_GROUP,
      .query = usage_ingest_query, .finish = usage_ingest_finish },
    { .name = "usage.verify", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX, .handler = usage_verify },
    { .name = "usage.check", .role = SB_ROLE_SERVICE, .handler = usage_check },
    { .name = "usage.summary", .role = SB_ROLE_USER, .flags = SB_OP_TX, .handler = usage_summary },
    { .name = "usage.counts", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX, .handler = usage_counts },
    { .name = "usage.series", .role = SB_ROLE_USER, .flags = SB_OP_TX, .handler = usage_series },
    { .name = "usage.reserve", .role = SB_ROLE_USER, .flags = SB_OP_TX | SB_OP_IDEMPOTENT,
      .handler = usage_reserve },
    { .name = "usage.commit", .role = SB_ROLE_USER, .flags = SB_OP_TX, .handler = usage_commit },
    { .name = "usage.release", .role = SB_ROLE_USER, .flags = SB_OP_TX, .handler = usage_release },
    { .name = "org.purge", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX, .handler = usage_org_purge },
    { .name = NULL }
};

const sb_service_t usage_service = {
    .name = "usage",
    .binary = "usage-svc",
    .summary = "Switchboard usage-svc: usage events, counters, quotas and reservations.",
    .ops = s_ops,
    .migrations = usage_migrations,
    .migration_count = &usage_migration_count,
    .entitlements = true,
    .stop = s_stop,
    .selftest = s_selftest,
    .credit = 32,
};
