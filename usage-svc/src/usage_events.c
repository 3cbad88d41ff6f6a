/*  usage_events.c — storing usage events, and checking the counters.

    Events arrive two ways, and both end in usage_store's statement:

    -   usage.record, from internal producers (the tenant outbox relay, role
        service): each event names its organization; the reply is 200.
    -   usage.ingest, POST /v1/usage/events (role user): the organization is
        the caller's, never the body's; the reply is 202.

    Every event is checked first (a bad one answers 400 validation_failed
    naming it, "events[3].metric", and nothing is stored). Then the whole
    batch is one statement: its columns travel as arrays, are unnested
    server-side, and

        WITH ins AS (INSERT INTO events ... ON CONFLICT DO NOTHING RETURNING ...)
        INSERT INTO counters ... SELECT ..., sum (quantity) FROM ins GROUP BY ...
            ON CONFLICT DO UPDATE SET used = counters.used + EXCLUDED.used

    so an event id seen before (in an earlier request, or earlier in the
    same one) is dropped, and only the events actually inserted move the
    counters, in the same transaction: the counters cannot drift from the
    events. Rows are inserted sorted by (organization, event id) and the
    counters by key, so that concurrent batches that overlap take their
    locks in the same order and never deadlock. The reply is sent only
    after the transaction committed (the skeleton commits before replying),
    so an acknowledged event is never lost, and one that was not
    acknowledged can be sent again and still counts once.

    usage.verify (role service) recomputes every counter from the events
    and counts the disagreements: the tests' proof that the above holds.
*/
#include "usage.h"

//  Columns of a batch, in usage_store's parameter order.
enum {
    S_ORG, S_ID, S_METRIC, S_QUANTITY, S_AT, S_BUSINESS, S_PROPERTIES, S_RESERVATION, S_COLUMNS
};

static int64_t s_last_sweep;        //  monotonic ms of this worker's last global sweep

void
usage_batch_init (usage_batch_t *self)
{
    for (int c = 0; c < S_COLUMNS; c++) {
        msgpack_sbuffer_init (&self->columns [c]);
        msgpack_sbuffer_write (&self->columns [c], "{", 1);
    }
    self->count = 0;
}

void
usage_batch_release (usage_batch_t *self)
{
    for (int c = 0; c < S_COLUMNS; c++)
        msgpack_sbuffer_destroy (&self->columns [c]);
}

//  Appends one element to an array literal: quoted, with " and \ escaped
//  (inside quotes nothing else is special), or NULL.
static void
s_element (msgpack_sbuffer *column, const char *value, bool first)
{
    if (!first)
        msgpack_sbuffer_write (column, ",", 1);
    if (!value) {
        msgpack_sbuffer_write (column, "NULL", 4);
        return;
    }
    msgpack_sbuffer_write (column, "\"", 1);
    const char *run = value;
    for (const char *c = value; *c; c++)
        if (*c == '"' || *c == '\\') {
            msgpack_sbuffer_write (column, run, (size_t) (c - run));
            msgpack_sbuffer_write (column, "\\", 1);
            run = c;
        }
    msgpack_sbuffer_write (column, run, strlen (run));
    msgpack_sbuffer_write (column, "\"", 1);
}

void
usage_batch_add (usage_batch_t *self, const char *org, const char *id, const char *metric,
                 int64_t quantity, const char *occurred_at, const char *business,
                 const char *properties, const char *reservation)
{
    char number [24];
    snprintf (number, sizeof (number), "%lld", (long long) quantity);
    const char *values [S_COLUMNS] = { org,      id,         metric,     number,
                                       occurred_at, business, properties, reservation };
    for (int c = 0; c < S_COLUMNS; c++)
        s_element (&self->columns [c], values [c], self->count == 0);
    self->count++;
}

void
usage_store_stmt (sb_ctx_t *ctx, usage_batch_t *batch, sb_db_stmt_t *stmt)
{
    stmt->nparams = S_COLUMNS;
    for (int c = 0; c < S_COLUMNS; c++) {
        msgpack_sbuffer_write (&batch->columns [c], "}", 1);
        stmt->params [c] = sb_ctx_strndup (ctx, batch->columns [c].data, batch->columns [c].size);
    }
    stmt->sql =
        "WITH input AS ("
        "  SELECT * FROM unnest ($1::uuid[], $2::text[], $3::text[], $4::bigint[],"
        "                        $5::timestamptz[], $6::uuid[], $7::jsonb[], $8::uuid[])"
        "    WITH ORDINALITY AS i (organization_id, event_id, metric, quantity, occurred_at,"
        "                          business_id, properties, reservation_id, n)"
        "), ins AS ("
        "  INSERT INTO events (organization_id, event_id, metric, quantity, occurred_at,"
        "                      business_id, properties, reservation_id)"
        "  SELECT organization_id, event_id, metric, quantity, occurred_at, business_id,"
        "         properties, reservation_id"
        "    FROM input"
        "   WHERE NOT EXISTS (SELECT FROM purged_organizations AS p"
        "                      WHERE p.organization_id = input.organization_id)"
        "   ORDER BY organization_id, event_id, n"
        "  ON CONFLICT DO NOTHING"
        "  RETURNING organization_id, metric, quantity, occurred_at"
        "), sums AS ("
        "  SELECT organization_id, metric,"
        "         date_trunc ('month', occurred_at AT TIME ZONE 'UTC')::date AS period_start,"
        "         sum (quantity)::bigint AS used"
        "    FROM ins GROUP BY 1, 2, 3"
        "), bump AS ("
        "  INSERT INTO counters AS c (organization_id, metric, period_start, used)"
        "  SELECT organization_id, metric, period_start, used FROM sums ORDER BY 1, 2, 3"
        "  ON CONFLICT (organization_id, metric, period_start)"
        "    DO UPDATE SET used = c.used + EXCLUDED.used"
        "  RETURNING organization_id, metric, period_start"
        ")"
        "SELECT (SELECT count(*) FROM ins), b.organization_id, b.metric, b.period_start::text"
        "  FROM (SELECT 1) AS one LEFT JOIN bump AS b ON true";
}

int64_t
usage_store_done (const PGresult *result)
{
    int rows = PQntuples (result);
    for (int r = 0; r < rows; r++)
        if (!PQgetisnull (result, r, 1))
            usage_cache_forget (PQgetvalue (result, r, 1), PQgetvalue (result, r, 2),
                                PQgetvalue (result, r, 3));
    return rows > 0 ? strtoll (PQgetvalue (result, 0, 0), NULL, 10) : 0;
}

int
usage_store (sb_ctx_t *ctx, usage_batch_t *batch, int64_t *accepted)
{
    *accepted = 0;
    if (batch->count == 0)
        return 0;
    sb_db_stmt_t stmt = { NULL };
    usage_store_stmt (ctx, batch, &stmt);
    PGresult *result = sb_db_exec (sb_ctx_db (ctx), stmt.sql, stmt.nparams, stmt.params);
    if (!result)
        return -1;
    *accepted = usage_store_done (result);
    PQclear (result);
    return 0;
}

//  True when a msgpack value holds no string (value or key) with a NUL,
//  which jsonb refuses.
static bool
s_nul_free (const msgpack_object *obj)
{
    switch (obj->type) {
    case MSGPACK_OBJECT_STR:
        return memchr (obj->via.str.ptr, 0, obj->via.str.size) == NULL;
    case MSGPACK_OBJECT_BIN:
        return memchr (obj->via.bin.ptr, 0, obj->via.bin.size) == NULL;
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < obj->via.array.size; i++)
            if (!s_nul_free (&obj->via.array.ptr [i]))
                return false;
        return true;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < obj->via.map.size; i++)
            if (!s_nul_free (&obj->via.map.ptr [i].key) || !s_nul_free (&obj->via.map.ptr [i].val))
                return false;
        return true;
    default:
        return true;
    }
}

//  Reads event `index` of a batch into batch, or adds field errors named
//  "events[index].field" to fields. org is the request's organization, or
//  NULL when each event names its own (usage.record).
static void
s_event_read (sb_ctx_t *ctx, const msgpack_object *event, uint32_t index, const char *org,
              usage_batch_t *batch, sb_fields_t *fields)
{
    sb_fields_t mine = { 0 };
    if (event->type != MSGPACK_OBJECT_MAP)
        sb_fields_add (&mine, "", "must be an object");
    else {
        if (!org) {
            org = sb_arg_string (ctx, event, "org", true, 36, 36, &mine);
            if (org && !sb_is_uuid (org)) {
                sb_fields_add (&mine, "org", "must be a UUID");
                org = NULL;
            }
        }
        const char *id = sb_arg_string (ctx, event, "id", true, 1, 128, &mine);
        const char *metric = sb_arg_string (ctx, event, "metric", true, 1, 63, &mine);
        if (metric && !usage_metric_valid (metric))
            sb_fields_add (&mine, "metric", "must match ^[a-z][a-z0-9_]{0,62}$");
        int64_t quantity = 0;
        usage_arg_count (event, "quantity", true, 0, USAGE_MAX_QUANTITY, &quantity, &mine);
        const char *at = sb_arg_timestamp (ctx, event, "occurred_at", true, NULL, &mine);
        const char *business = sb_arg_string (ctx, event, "business_id", false, 1, 64, &mine);
        if (business && !sb_is_uuid (business))
            sb_fields_add (&mine, "business_id", "must be a UUID");
        const char *properties = NULL;
        const msgpack_object *given = sb_mpk_get (event, "properties");
        if (given && given->type != MSGPACK_OBJECT_NIL) {
            if (given->type != MSGPACK_OBJECT_MAP)
                sb_fields_add (&mine, "properties", "must be an object");
            else
            if (!s_nul_free (given))
                sb_fields_add (&mine, "properties", "must not contain NUL characters");
            else {
                msgpack_sbuffer json;
                msgpack_sbuffer_init (&json);
                sb_json_write (&json, given);
                if (json.size > USAGE_MAX_PROPERTIES)
                    sb_fields_add (&mine, "properties", "must be at most %d bytes as JSON",
                                   USAGE_MAX_PROPERTIES);
                else
                    properties = sb_ctx_strndup (ctx, json.data, json.size);
                msgpack_sbuffer_destroy (&json);
            }
        }
        if (mine.count == 0 && fields->count == 0)
            usage_batch_add (batch, org, id, metric, quantity, at, business, properties, NULL);
    }
    for (size_t i = 0; i < mine.count; i++) {
        char name [64];
        snprintf (name, sizeof (name), "events[%u]%s%s", index, *mine.items [i].field ? "." : "",
                  mine.items [i].field);
        sb_fields_add (fields, sb_ctx_strndup (ctx, name, strlen (name)), "%s",
                       mine.items [i].message);
    }
}

//  Checks the events of args into batch; answers 400 when they are not
//  right (then returns false). org as for s_event_read.
static bool
s_events_read (sb_ctx_t *ctx, const msgpack_object *args, const char *org, uint32_t min_events,
               usage_batch_t *batch, sb_reply_t *reply)
{
    const msgpack_object *events = sb_mpk_get (args, "events");
    sb_fields_t fields = { 0 };
    if (!events || events->type != MSGPACK_OBJECT_ARRAY || events->via.array.size < min_events
        || events->via.array.size > USAGE_MAX_EVENTS)
        sb_fields_add (&fields, "events", "must be a list of %u to %d events", min_events,
                       USAGE_MAX_EVENTS);
    else
        for (uint32_t i = 0; i < events->via.array.size && fields.count < SB_FIELDS_MAX; i++)
            s_event_read (ctx, &events->via.array.ptr [i], i, org, batch, &fields);
    if (fields.count)
        sb_reply_fields (reply, &fields);
    return fields.count == 0;
}

//  Answers status with {accepted, duplicates} for the events of args.
static void
s_reply_stored (const msgpack_object *args, int64_t accepted, int status, sb_reply_t *reply)
{
    const msgpack_object *events = sb_mpk_get (args, "events");
    msgpack_packer *pk = sb_reply_body (reply, status);
    msgpack_pack_map (pk, 2);
    sb_mpk_pack_kv_int (pk, "accepted", accepted);
    sb_mpk_pack_kv_int (pk, "duplicates", (int64_t) events->via.array.size - accepted);
}

//  Checks and stores the events of args; answers status with {accepted,
//  duplicates}. org as for s_event_read.
static int
s_ingest (sb_ctx_t *ctx, const msgpack_object *args, const char *org, int status,
          uint32_t min_events, sb_reply_t *reply)
{
    usage_batch_t batch;
    usage_batch_init (&batch);
    int64_t accepted = 0;
    bool valid = s_events_read (ctx, args, org, min_events, &batch, reply);
    int rc = valid ? usage_store (ctx, &batch, &accepted) : 0;
    usage_batch_release (&batch);
    if (rc)
        return usage_reply_db_error (ctx, reply);
    if (valid)
        s_reply_stored (args, accepted, status, reply);
    return 0;
}

//  Deletes expired holds of every organization, at most once a minute per
//  worker and a thousand at a time; rows another transaction holds are
//  skipped (they are being committed or released), so this never waits.
static int
s_sweep (sb_ctx_t *ctx)
{
    if (s_last_sweep && sb_mono_ms () - s_last_sweep < 60000)
        return 0;
    s_last_sweep = sb_mono_ms ();
    return sb_db_run (sb_ctx_db (ctx),
                      "DELETE FROM reservations WHERE (organization_id, id) IN ("
                      "  SELECT organization_id, id FROM reservations WHERE expires_at <= now ()"
                      "   LIMIT 1000 FOR UPDATE SKIP LOCKED)",
                      0, NULL);
}

int
usage_record (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    //  A batch of a relay may span organizations.
    if (usage_all_orgs (ctx) || s_sweep (ctx))
        return usage_reply_db_error (ctx, reply);
    return s_ingest (ctx, args, NULL, 200, 0, reply);
}

//  POST /v1/usage/events, in two halves so that the skeleton commits the
//  batches of several requests together (SB_OP_GROUP).
int
usage_ingest (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply, sb_db_stmt_t *stmt)
{
    sb_fields_t fields = { 0 };
    const char *org = usage_org (ctx, args, &fields);
    if (!org)
        return sb_reply_fields (reply, &fields);
    usage_batch_t batch;
    usage_batch_init (&batch);
    if (s_events_read (ctx, args, org, 1, &batch, reply))
        usage_store_stmt (ctx, &batch, stmt);
    usage_batch_release (&batch);
    //  The caller's organization, or the one a service acts for
    stmt->org = org;
    return 0;
}

int
usage_ingest_finish (sb_ctx_t *ctx, const msgpack_object *args, PGresult *result,
                     sb_reply_t *reply)
{
    if (!result)
        return usage_reply_db_error (ctx, reply);
    s_reply_stored (args, usage_store_done (result), 202, reply);
    return 0;
}

int
usage_verify (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = sb_arg_string (ctx, args, "org", false, 36, 36, &fields);
    if (org && !sb_is_uuid (org))
        sb_fields_add (&fields, "org", "must be a UUID");
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    if (usage_all_orgs (ctx))
        return usage_reply_db_error (ctx, reply);
    //  One statement, one snapshot: events and counters move together in
    //  one transaction, so a concurrent batch is either wholly in both or
    //  in neither. Counters at 0 with no event (made by a reservation) agree.
    //  (A failure rewrites the reply: the body begun here is dropped.)
    const char *params [] = { org };
    int rc = sb_db_pack_query_row (
        sb_ctx_db (ctx), sb_reply_body (reply, 200),
        "WITH e AS ("
        "  SELECT organization_id, metric,"
        "         date_trunc ('month', occurred_at AT TIME ZONE 'UTC')::date AS period_start,"
        "         sum (quantity) AS used, count(*) AS events"
        "    FROM events WHERE $1::uuid IS NULL OR organization_id = $1::uuid"
        "   GROUP BY 1, 2, 3"
        "), c AS ("
        "  SELECT organization_id, metric, period_start, used FROM counters"
        "   WHERE $1::uuid IS NULL OR organization_id = $1::uuid"
        "), d AS ("
        "  SELECT organization_id, metric, period_start::text AS period_start,"
        "         coalesce (e.used, 0) AS events_sum, c.used AS counter"
        "    FROM e FULL JOIN c USING (organization_id, metric, period_start)"
        "   WHERE coalesce (e.used, 0) <> coalesce (c.used, 0)"
        ")"
        "SELECT (SELECT count(*) FROM d) AS mismatches,"
        "       (SELECT count(*) FROM c) AS counters,"
        "       (SELECT coalesce (sum (events), 0)::bigint FROM e) AS events,"
        "       (SELECT coalesce (json_agg (x), '[]') FROM (SELECT * FROM d LIMIT 10) AS x)"
        "         AS examples",
        1, params);
    return rc ? usage_reply_db_error (ctx, reply) : 0;
}
