/*  tenant_calls.c — the calls the AI receptionist answered.

    Storing a call is one statement: the call, and in the same transaction
    its usage — 1 `calls` and ⌈duration/60⌉ `call_minutes` — into the usage
    outbox; once the transaction commits, the process's relay is woken
    (tenant_relay.c delivers the outbox to usage-svc). Calls are immutable
    records: created and read, never edited. The same statement appends
    the call's row to analytics_deltas (a CTE; no lock, no unique index;
    the analytics folder aggregates it later), which is all the analytics
    rollup costs a call, and names the call in switchboard.call_delta
    (set_config, local to the transaction) before the row is made, so that
    the row trigger of migration 0012 — there for every other insert:
    the legacy import, SQL by hand — skips it. A call named there whose
    statement did not write its delta would be missing from the rollup:
    only this statement names a call.

    tenant_calls_store is the one way a call is stored after its checks
    (the plan's calls quota, then that statement): POST /v1/calls and the
    Twilio status callbacks (tenant_twilio.c) both go through it, so a
    call from Twilio counts exactly as one posted. A call carries its
    source ('api', or 'twilio' with the CallSid as external_id).
*/
#include "tenant.h"
#include "tenant_webhooks.h"

#define S_COLUMNS                                                                          \
    "id, business_id, caller_number, " SB_SQL_TS ("started_at") " AS started_at, "         \
    "duration_seconds, status, transcript, summary, " SB_SQL_TS ("created_at") " AS created_at, "  \
    "source, external_id"

static bool
s_status_valid (const char *status)
{
    return streq (status, "completed") || streq (status, "missed") || streq (status, "voicemail")
           || streq (status, "transferred");
}

//  A call as its arguments give it, checked.
static void
s_call_read (sb_ctx_t *ctx, const msgpack_object *args, tenant_call_t *call, sb_fields_t *fields)
{
    *call = (tenant_call_t) { .source = "api" };
    call->business = sb_arg_uuid (ctx, args, "business_id", true, fields);
    call->caller = sb_arg_string (ctx, args, "caller_number", true, 1, 16, fields);
    if (call->caller && !streq (call->caller, "anonymous") && !tenant_e164 (call->caller))
        sb_fields_add (fields, "caller_number", "must be an E.164 number or \"anonymous\"");
    call->started = sb_arg_timestamp (ctx, args, "started_at", true, NULL, fields);
    call->duration = -1;
    if (!sb_mpk_get (args, "duration_seconds"))
        sb_fields_add (fields, "duration_seconds", "is required");
    else
    if (sb_mpk_int (sb_mpk_get (args, "duration_seconds"), &call->duration)
        || call->duration < 0 || call->duration > 86400)
        sb_fields_add (fields, "duration_seconds", "must be an integer from 0 to 86400");
    call->status = sb_arg_string (ctx, args, "status", true, 1, 16, fields);
    if (call->status && !s_status_valid (call->status))
        sb_fields_add (fields, "status", "must be completed, missed, voicemail or transferred");
    call->transcript = sb_arg_text (ctx, args, "transcript", false, 0, 100000, fields);
    call->summary = sb_arg_text (ctx, args, "summary", false, 0, 5000, fields);
}

//  The statement's two forms (see s_call_insert): the call and its usage
//  rows; and the same with the call.created webhook event, when an
//  endpoint wants it.
#define S_INSERT_HEAD                                                                      \
    "WITH c AS ("                                                                          \
    "  INSERT INTO calls (organization_id, id, business_id, caller_number, started_at,"   \
    "    duration_seconds, status, transcript, summary, source, external_id)"              \
    "  SELECT $1::uuid, $2::uuid, $3::uuid, $4::text, $5::timestamptz, $6::int,"          \
    "    $7::text, $8::text, $9::text, $10::text, $11::text"                              \
    "  WHERE $5::timestamptz <= now () + interval '5 minutes'"                             \
    "    AND set_config ('switchboard.call_delta', $2::uuid::text, true) IS NOT NULL"       \
    "  RETURNING *),"                                                                      \
    " d AS ("                                                                              \
    "  INSERT INTO analytics_deltas (organization_id, business_id, started_at, status,"    \
    "    seconds, sign)"                                                                    \
    "  SELECT organization_id, business_id, started_at, status, duration_seconds, 1 FROM c)," \
    " u AS ("                                                                              \
    "  INSERT INTO usage_outbox (organization_id, event_id, metric, quantity,"             \
    "    occurred_at, business_id)"                                                         \
    "  SELECT c.organization_id, gen_random_uuid (), m.metric, m.quantity, c.started_at,"  \
    "    c.business_id FROM c, LATERAL (VALUES ('calls', 1::bigint),"                       \
    "    ('call_minutes', ceil (c.duration_seconds / 60.0)::bigint)) AS m (metric, quantity)" \
    "  WHERE m.quantity > 0 RETURNING 1)"

static const char s_insert_plain [] =
    S_INSERT_HEAD
    " SELECT " S_COLUMNS ", (SELECT count (*) FROM u) AS _events, 0 AS _webhooks FROM c";

static const char s_insert_webhooks [] =
    S_INSERT_HEAD ","
    TENANT_WEBHOOKS_EMIT_SQL ("c", "c.organization_id", "'call.created:' || c.id",
                              "'call.created'::text",
                              "(SELECT row_to_json (x) FROM (SELECT " S_COLUMNS " FROM c) AS x)")
    " SELECT " S_COLUMNS ", (SELECT count (*) FROM u) AS _events,"
    " (SELECT count (*) FROM wd) AS _webhooks FROM c";

//  The one statement that stores a call and its usage rows in the outbox,
//  unless started_at is in the future (then it stores nothing and returns
//  no row). started_at is a valid RFC 3339 time (checked), so its cast
//  cannot fail; a business of another organization fails the foreign key.
static void
s_call_insert (sb_ctx_t *ctx, const char *org, const tenant_call_t *call, sb_db_stmt_t *stmt)
{
    char *id = (char *) sb_ctx_alloc (ctx, 37);
    sb_uuid_v4 (id);
    char *seconds = (char *) sb_ctx_alloc (ctx, 24);
    snprintf (seconds, 24, "%lld", (long long) call->duration);
    //  The call.created event only for a plan with webhooks (most have
    //  none: their calls skip the two insert CTEs, which PostgreSQL opens
    //  and locks even when they insert nothing). A plan that cannot be
    //  read now keeps the event: better an event than none.
    sb_entitlement_t ent;
    bool webhooks = sb_ctx_entitlement (ctx, org, &ent, NULL) != 0
                    || (ent.features & SB_FEATURE_WEBHOOKS);
    *stmt = (sb_db_stmt_t) {
        .sql = webhooks ? s_insert_webhooks : s_insert_plain,
        .nparams = 11,
        .params = { org, id, call->business, call->caller, call->started, seconds, call->status,
                    call->transcript, call->summary, call->source ? call->source : "api",
                    call->external_id } };
}

static void
s_wake_both (void)
{
    tenant_relay_wake ();
    tenant_webhooks_wake ();
}

//  The answer from the insert's result (NULL when it failed).
int
tenant_calls_create_finish (sb_ctx_t *ctx, const msgpack_object *args, PGresult *result,
                            sb_reply_t *reply)
{
    (void) args;
    sb_fields_t fields = { 0 };
    if (!result) {
        //  The business is not one of this organization's (foreign key).
        if (!streq (sb_db_sqlstate (sb_ctx_db (ctx)), "23503"))
            return -1;
        sb_fields_add (&fields, "business_id", "is not a business of this organization");
        return sb_reply_fields (reply, &fields);
    }
    if (PQntuples (result) == 0) {
        sb_fields_add (&fields, "started_at", "must not be in the future");
        return sb_reply_fields (reply, &fields);
    }
    sb_db_pack_row (sb_reply_body (reply, 201), result, 0);
    tenant_calls_stored (ctx, result);
    return 0;
}

void
tenant_calls_stored (sb_ctx_t *ctx, PGresult *result)
{
    //  One function runs after the commit: the usage relay, and the
    //  webhook sender too when the call queued deliveries.
    sb_ctx_after_commit (ctx, atoll (PQgetvalue (result, 0, PQfnumber (result, "_webhooks"))) > 0
                                  ? s_wake_both : tenant_relay_wake);
}

//  Calls of several requests commit together (SB_OP_GROUP) when the plan
//  leaves calls unlimited and the arguments are right; otherwise this
//  declines and the handler below runs the request alone: a quota needs
//  its lock and count before the insert, and bad arguments are reported
//  together with an unknown business, which takes a lookup.
int
tenant_calls_create_query (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply,
                           sb_db_stmt_t *stmt)
{
    (void) reply;
    sb_entitlement_t ent;
    if (sb_ctx_entitlement (ctx, NULL, &ent, NULL) || ent.calls_per_month >= 0)
        return 0;
    tenant_call_t call;
    sb_fields_t fields = { 0 };
    s_call_read (ctx, args, &call, &fields);
    if (fields.count == 0)
        s_call_insert (ctx, sb_ctx_head (ctx)->org, &call, stmt);
    return 0;
}

int
tenant_calls_store (sb_ctx_t *ctx, const char *org, const tenant_call_t *call, bool quiet_quota,
                    sb_reply_t *reply, PGresult **result)
{
    *result = NULL;
    //  The month's calls, counted by when they were stored.
    sb_entitlement_t ent;
    if (sb_ctx_entitlement (ctx, org, &ent, reply))
        return 1;
    //  Beyond a plan with overage, only the spending cap stops calls.
    bool capped = ent.calls_included >= 0 && ent.calls_per_month != ent.calls_included;
    int quota = tenant_quota (ctx, org, quiet_quota ? NULL : reply, "calls this month",
                              ent.calls_per_month, TENANT_SQL_CALLS_THIS_MONTH,
                              capped ? "this month's overage has reached the spending cap "
                                       "(PUT /v1/billing/spending-cap raises or lifts it)"
                                     : NULL);
    if (quota)
        return quota < 0 ? -1 : quiet_quota ? 2 : 1;
    sb_db_stmt_t stmt;
    s_call_insert (ctx, org, call, &stmt);
    *result = sb_db_exec (sb_ctx_db (ctx), stmt.sql, stmt.nparams, stmt.params);
    return 0;
}

int
tenant_calls_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    tenant_call_t call;
    sb_fields_t fields = { 0 };
    s_call_read (ctx, args, &call, &fields);
    if (fields.count) {
        //  Report an unknown business with the other faults, not after them.
        if (call.business) {
            const char *check [] = { sb_ctx_head (ctx)->org, call.business };
            PGresult *found = sb_db_exec (sb_ctx_db (ctx),
                                          "SELECT 1 FROM businesses WHERE organization_id = $1 "
                                          "AND id = $2", 2, check);
            if (!found)
                return -1;
            if (PQntuples (found) == 0)
                sb_fields_add (&fields, "business_id", "is not a business of this organization");
            PQclear (found);
        }
        return sb_reply_fields (reply, &fields);
    }
    PGresult *result;
    int stored = tenant_calls_store (ctx, sb_ctx_head (ctx)->org, &call, false, reply, &result);
    if (stored)
        return stored < 0 ? -1 : 0;
    int rc = tenant_calls_create_finish (ctx, args, result, reply);
    PQclear (result);
    return rc;
}

int
tenant_calls_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such call");
    const char *params [] = { sb_ctx_head (ctx)->org, id };
    return sb_reply_one (reply, sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT " S_COLUMNS " FROM calls "
                                   "WHERE organization_id = $1 AND id = $2",
                                   2, params),
                         200, "no such call");
}

int
tenant_calls_list_query (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply,
                   sb_db_stmt_t *stmt)
{
    static const char *const statuses [] = { "completed", "missed", "voicemail", "transferred", NULL };
    static const tenant_list_t list = { .table = "calls", .columns = S_COLUMNS,
                                        .time_column = "started_at", .statuses = statuses };
    return tenant_list_query (ctx, args, reply, stmt, &list);
}
