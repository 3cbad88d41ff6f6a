/*  usage_service.c — usage-svc's operations, listed once; its start (the
    plan catalogue) and selftest.

    Public (through the gateway, role user, the organization the caller's):
        usage.ingest    POST /v1/usage/events
        usage.reserve   POST /v1/usage/reservations
        usage.commit    POST /v1/usage/reservations/{id}/commit
        usage.release   POST /v1/usage/reservations/{id}/release
        usage.summary   GET  /v1/usage/summary
        usage.series    GET  /v1/usage
        usage.alerts.get  GET /v1/usage/alerts (usage_alerts.c)
        usage.alerts.set  PUT /v1/usage/alerts (admin)
    Internal (role service, `org` in the arguments where one is meant):
        usage.record    batches from producers (the tenant outbox relay)
        usage.check     may this organization use N more? (cached)
        usage.verify    counters recomputed from the events: {mismatches}
        usage.counts    a month's counter of one metric for many organizations
        org.purge       a deleted organization's rows, a batch a call (usage_org.c)
        usage.retain    one batch of the retention sweep now (usage_retention.c)
    and the public ones too, for the call engine (reserve, commit, release).

    Every operation but usage.check runs in a transaction (SB_OP_TX);
    usage.check answers from memory when it can and opens one only to
    refresh its cache.
*/
#include "usage.h"

//  The thread of the usage alerts' outbox (usage_alerts.c).
static int
s_start (const sb_config_t *config, sb_db_t *db)
{
    (void) db;
    //  The retention setting first: a bad one stops the start before any
    //  thread runs
    if (usage_retention_start (config))
        return -1;
    if (usage_alerts_start (config)) {
        usage_retention_stop ();
        return -1;
    }
    return 0;
}

static void
s_stop (void)
{
    usage_retention_stop ();
    usage_alerts_stop ();
    usage_cache_destroy ();
}

static void
s_selftest (bool verbose)
{
    usage_common_test (verbose);
    usage_series_test (verbose);
    usage_retention_test (verbose);
}

static const sb_op_t s_ops [] = {
    { .name = "usage.record", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX, .handler = usage_record },
    { .name = "usage.ingest", .role = SB_ROLE_USER, .flags = SB_OP_TX | SB_OP_GROUP,
      .query = usage_ingest_query, .finish = usage_ingest_finish, .merge = usage_ingest_merge },
    { .name = "usage.verify", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX, .handler = usage_verify },
    { .name = "usage.check", .role = SB_ROLE_SERVICE, .handler = usage_check },
    { .name = "usage.summary", .role = SB_ROLE_USER, .flags = SB_OP_TX, .handler = usage_summary },
    { .name = "usage.counts", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX, .handler = usage_counts },
    { .name = "usage.series", .role = SB_ROLE_USER, .flags = SB_OP_TX, .handler = usage_series },
    { .name = "usage.reserve", .role = SB_ROLE_USER, .flags = SB_OP_TX | SB_OP_IDEMPOTENT,
      .handler = usage_reserve },
    { .name = "usage.commit", .role = SB_ROLE_USER, .flags = SB_OP_TX, .handler = usage_commit },
    { .name = "usage.release", .role = SB_ROLE_USER, .flags = SB_OP_TX, .handler = usage_release },
    { .name = "usage.retain", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX,
      .handler = usage_retain },
    { .name = "org.purge", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX, .handler = usage_org_purge },
    //  Usage alerts (issue 14)
    { .name = "usage.alerts.get", .role = SB_ROLE_USER, .flags = SB_OP_TX,
      .handler = usage_alerts_get },
    { .name = "usage.alerts.set", .role = SB_ROLE_ADMIN, .flags = SB_OP_TX,
      .handler = usage_alerts_set },
    { .name = NULL }
};

//  The figures of /metrics (sys.stats): the alert outbox's backlog (rows
//  not yet acknowledged) per channel, and the age of its oldest row.
static const char s_stats_sql [] =
    "WITH o (outbox, backlog, oldest) AS ("
    " SELECT 'alert_outbox_' || c.channel, count (a.alert_id), min (a.created_at)"
    " FROM (VALUES ('mail'), ('webhook')) AS c (channel)"
    " LEFT JOIN alert_outbox AS a ON a.channel = c.channel AND a.acknowledged_at IS NULL"
    " GROUP BY c.channel)"
    " SELECT 'outbox_backlog' AS name, backlog AS value, outbox FROM o"
    " UNION ALL"
    " SELECT 'outbox_oldest_seconds', COALESCE (extract (epoch FROM now () - oldest), 0), outbox"
    " FROM o";

//  ---- operators (switchboardctl outboxes): usage_outboxes.c ----
extern const sb_outbox_view_t usage_outboxes [];

const sb_service_t usage_service = {
    .name = "usage",
    .binary = "usage-svc",
    .summary = "Switchboard usage-svc: usage events, counters, quotas and reservations.",
    .ops = s_ops,
    .migrations = usage_migrations,
    .migration_count = &usage_migration_count,
    .entitlements = true,
    .start = s_start,
    .stop = s_stop,
    .selftest = s_selftest,
    .credit = 32,
    .stats_sql = s_stats_sql,
    .outboxes = usage_outboxes,          //  operators: usage_outboxes.c
};
