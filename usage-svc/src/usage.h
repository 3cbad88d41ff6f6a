/*  usage.h — usage-svc's private declarations.

    usage-svc owns schema `usage`: the usage events (each client or
    producer event id counted once, ever, per organization), the counters
    per organization, metric and period that always equal the events' sum,
    reservations (holds on quota for long-running work), and the quota
    answers other services ask for. Files:

        usage_service.c       the op table, start (plan catalogue), selftest
        usage_common.c        argument checks shared by the handlers
        usage_events.c        usage.record, usage.ingest, usage.verify
        usage_quota.c         the in-process counter cache, usage.check,
                              usage.summary
        usage_reservations.c  usage.reserve, usage.commit, usage.release
        usage_series.c        usage.series
        usage_org.c           org.purge (a deleted organization's rows)
        usage_alerts.c        usage alerts: thresholds (usage.alerts.get,
                              usage.alerts.set) and the relay of the
                              alert outbox (mail.admins, webhooks.enqueue)
        usage_retention.c     raw events deleted after
                              SWITCHBOARD_USAGE_RETENTION_DAYS, their sums
                              kept (usage.retain)
*/
#ifndef USAGE_H_INCLUDED
#define USAGE_H_INCLUDED

#include "sb/sb.h"
#include "sb/plans.h"

extern const sb_service_t usage_service;
extern const sb_migration_t usage_migrations [];
extern const size_t usage_migration_count;


#define USAGE_MAX_EVENTS     1000           //  events per request
#define USAGE_MAX_PROPERTIES 8192           //  bytes of an event's properties as JSON

//  The caps that keep every sum far from bigint's 2^63 - 1 (9.2 * 10^18),
//  so that no counter, sum or check can overflow, whatever a tenant sends:
//  an event or hold is at most 10^9 (more is 400 naming the field, or that
//  event's refusal, validation_failed, in usage.record's answer), and a
//  counter (organization, metric, month) at most 10^15: events that would
//  take it past that are refused (422 usage_overflow on the public API; a
//  refusal per event in usage.record's answer). The check reads the
//  counter in the statement's snapshot, so batches committing at the same
//  moment may together pass the cap by their own sizes (at most 10^12 a
//  batch): 9,000 times below the type's limit, no concurrency reaches it.
#define USAGE_MAX_QUANTITY   INT64_C (1000000000)          //  per event or hold: 10^9
#define USAGE_MAX_COUNTER    INT64_C (1000000000000000)    //  per counter and month: 10^15

//  Advisory lock class of reservations (two-key form, 'USAG'): serializes
//  the holds on one (organization, metric, period).
#define USAGE_LOCK_CLASS "1431519559"

//  The current billing period, in SQL: the calendar month in UTC.
#define USAGE_SQL_PERIOD "date_trunc ('month', now () AT TIME ZONE 'UTC')::date"

//  ---- shared helpers (usage_common.c) --------------------------------------

//  a + b for non-negative counts, saturated at INT64_MAX (a counter near
//  the top plus holds must not overflow).
static inline int64_t
usage_add (int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

//  True for a metric name: ^[a-z][a-z0-9_]{0,62}$.
bool usage_metric_valid (const char *metric);

//  The organization a request acts for: the caller's (envelope) for users
//  and API keys; for internal callers (role service) the `org` argument,
//  else the envelope's. A missing or malformed one adds a field error and
//  returns NULL. Returns an arena string.
const char *usage_org (sb_ctx_t *ctx, const msgpack_object *args, sb_fields_t *fields);

//  Sets org for row-level security in the request's transaction when the
//  caller is internal (role service): the skeleton set only the
//  envelope's. 0 or -1.
int usage_act_as (sb_ctx_t *ctx, const char *org);

//  Reads an integer argument that must be a msgpack integer (not a string)
//  in [min, max]; absent leaves *value alone (a field error if required).
bool usage_arg_count (const msgpack_object *args, const char *name, bool required, int64_t min,
                      int64_t max, int64_t *value, sb_fields_t *fields);

//  Answers a failed statement: values PostgreSQL refuses (class 22, 23) are
//  the client's (400), lost connections and lock conflicts are worth a
//  retry (503); anything else returns -1 for the skeleton's 500.
int usage_reply_db_error (sb_ctx_t *ctx, sb_reply_t *reply);

//  Answers 422 usage_overflow: "<what> would take the usage counter
//  <counter> past 10^15, ..." with error.limit the cap. Returns 0.
int usage_reply_overflow (sb_reply_t *reply, const char *what, const char *counter);


//  The limit of metric for one period in an entitlement (-1 = unlimited):
//  calls_per_month for "calls" (with the overage the spending cap allows);
//  no other metric has a quota in the catalogue (api_requests_per_minute
//  is a rate, enforced by the gateway, not a quota).
int64_t usage_limit_of (const sb_entitlement_t *ent, const char *metric);

//  True when some plan may limit metric per month (only "calls" today):
//  the metrics whose limit is worth asking billing-svc for.
bool usage_has_quota (const char *metric);

//  The same for org, asking for its entitlement only when metric has a
//  quota: 0 with *limit, or 1 when billing-svc could not say (reply
//  answered 503).
int usage_limit (sb_ctx_t *ctx, const char *org, const char *metric, int64_t *limit,
                 sb_reply_t *reply);

//  ---- storing events (usage_events.c) ----------------------------------------

//  A batch of checked events, as the columns of one INSERT: each column a
//  PostgreSQL array in binary form being built (sb_db_array_t). Owned by
//  the caller: _init, _add, then usage_store, then _release. position [k]
//  is the index in the request of the batch's k-th event (what _add was
//  given).
typedef struct {
    sb_db_array_t columns [8];
    msgpack_sbuffer quotas;         //  "org metric\0" of events whose metric has a quota
    size_t count;
    uint32_t position [USAGE_MAX_EVENTS];
} usage_batch_t;

//  What storing a batch did. refused lists the batch positions (0-based,
//  in order) of the events refused because their counter would pass
//  USAGE_MAX_COUNTER; over names one such counter ("metric YYYY-MM"), NULL
//  when none; counted holds, per counter moved, its organization and the
//  number of events added to it. Arena memory.
typedef struct {
    int64_t accepted;
    size_t refused_count;
    uint32_t *refused;
    const char *over;
    size_t counted_count;
    struct {
        const char *org;
        int64_t events;
    } *counted;
    int64_t alerts;                 //  usage alerts the statement queued
} usage_outcome_t;

void usage_batch_init (usage_batch_t *self);
void usage_batch_release (usage_batch_t *self);
//  Adds one event, the request's event number position (strings borrowed
//  for the call; business, properties and reservation may be NULL;
//  properties is JSON text). org, business and reservation are UUIDs and
//  occurred_at RFC 3339, checked before (asserted).
void usage_batch_add (usage_batch_t *self, uint32_t position, const char *org, const char *id,
                      const char *metric, int64_t quantity, const char *occurred_at,
                      const char *business, const char *properties, const char *reservation);

//  Stores the batch with one statement: the events whose (organization, id)
//  is new are inserted and added to their counters, the others are
//  dropped as duplicates, except those refused because their counter
//  would pass USAGE_MAX_COUNTER: the new events of that counter in the
//  batch (whole: every new event of that organization in the batch), which
//  are not stored. The statement itself never fails for a counter's sake,
//  so one organization's refusal spoils no other's rows (nor a group
//  commit). Fills *outcome. Returns 0, or -1 when the statement failed
//  (answer it with usage_reply_db_error). Forgets the cache entries of the
//  counters it changed. The events of a purged organization (usage_org.c)
//  are dropped too.
int usage_store (sb_ctx_t *ctx, usage_batch_t *batch, bool whole, usage_outcome_t *outcome);
//  The same in two halves: the statement (its parameters copied into the
//  request's memory; batch not empty), then from its result the outcome
//  (forgetting the cache entries of the counters it changed).
//  The same statement queues the usage alerts its counters reached (see
//  usage_alerts.c): the limits it needs are asked before (entitlements of
//  the batch's organizations with limited metrics, from memory mostly); an
//  organization whose entitlement billing-svc cannot give now is left out
//  of the alert check only (its next counted event checks again).
void usage_store_stmt (sb_ctx_t *ctx, usage_batch_t *batch, bool whole, sb_db_stmt_t *stmt);
//  org: only that organization's part of the outcome (a merged statement's,
//  usage_ingest_merge): its accepted and counted events, and its refusal
//  as over alone (refused_count 0); NULL: the whole batch's.
void usage_store_done (sb_ctx_t *ctx, const PGresult *result, const char *org,
                       usage_outcome_t *outcome);

//  ---- the counter cache (usage_quota.c) --------------------------------------

//  Forgets the cached (org, metric, period) counter: the next check reads
//  PostgreSQL. period is "YYYY-MM-DD".
void usage_cache_forget (const char *org, const char *metric, const char *period);
void usage_cache_destroy (void);

//  ---- handlers -----------------------------------------------------------------

int usage_record (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
sb_query_fn usage_ingest_query;
sb_finish_fn usage_ingest_finish;
sb_merge_fn usage_ingest_merge;
int usage_verify (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int usage_check (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int usage_summary (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
//  usage.counts (role service) {organization_ids: [uuid, ...] (at most
//  USAGE_MAX_COUNT_ORGS), metric, period_start?: "YYYY-MM-01" (default: the
//  current month)}: {data: [{organization_id, used}], period_start}, one row
//  per organization asked, 0 for one without a counter (billing's overage).
#define USAGE_MAX_COUNT_ORGS 1000
int usage_counts (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int usage_reserve (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int usage_commit (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int usage_release (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int usage_series (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int usage_org_purge (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  ---- usage alerts (usage_alerts.c) ---------------------------------------------

//  GET /v1/usage/alerts (any role): {thresholds}; PUT (admin) {thresholds}.
int usage_alerts_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int usage_alerts_set (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
//  The alert relay's thread: started with the service, woken after a
//  commit that queued alerts (from the worker's thread), stopped at exit.
int usage_alerts_start (const sb_config_t *config);
void usage_alerts_wake (void);
void usage_alerts_stop (void);

//  ---- retention of raw events (usage_retention.c) --------------------------------

//  Starts the sweeping thread when SWITCHBOARD_USAGE_RETENTION_DAYS
//  (config->usage_retention_days, 0..36500, checked by the config) is not 0.
int usage_retention_start (const sb_config_t *config);
void usage_retention_stop (void);
//  usage.retain (role service) {limit?}: one batch deleted now:
//  {retention_days, deleted, more}.
int usage_retain (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  ---- start, selftests ---------------------------------------------------------

void usage_common_test (bool verbose);
void usage_series_test (bool verbose);
void usage_retention_test (bool verbose);

#endif
