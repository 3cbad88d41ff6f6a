/*  usage_events.c — storing usage events, and checking the counters.

    Events arrive two ways, and both end in usage_store's statement:

    -   usage.record, from internal producers (the tenant outbox relay and
        the gateway, role service): each event names its organization, and
        a batch mixes organizations. The reply is 200 with the outcome per
        event: {accepted, duplicates, refused, orgs: {org: {accepted,
        duplicates, refused}}, refusals: [{index, org, id, error,
        message}]}. An event that is not right (its organization aside) or
        whose counter would pass the cap is refused, with its reason
        (validation_failed, usage_overflow), and the rest is stored all the
        same: one organization's refusal never fails another's rows. Only
        a batch that is not a list, or an event without a valid
        organization (no one to refuse it for), is 400 as a whole.
    -   usage.ingest, POST /v1/usage/events (role user): the organization is
        the caller's, never the body's; the reply is 202. All or nothing: a
        bad event answers 400 validation_failed naming it
        ("events[3].metric"), and a request that would take one of the
        organization's counters past the cap 422 usage_overflow; then
        nothing of it is stored.

    The caps (usage.h): an event is at most 10^9, a counter (organization,
    metric, month) at most 10^15, so no sum ever comes near bigint's limit.
    The checked batch is one statement: its columns travel as arrays (in
    PostgreSQL's binary form, sb_db_array_t: the server parses no array
    text, UUID or timestamp), are
    unnested server-side, the counters the batch would take past the cap
    are found (see usage_store_stmt) and their events left out, and

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

    The usage.ingest requests of one round of a group commit (one per
    organization, service.c) are stored by one such statement
    (usage_ingest_merge joins their arrays): PostgreSQL parses, plans and
    starts it once for the round, not once per request. It runs with every
    organization visible (row-level security lets it write the round's
    organizations); isolation is kept by construction: each event's
    organization is its request's (usage_org: the caller's, never the
    body's), the statement joins and groups on the organization, and each
    request of a round is of another organization, so "whole" refuses one
    request's events and no other's. Each request's finish takes its
    organization's rows of the one result (accepted, counters moved, the
    counter over the cap). Bad data never reaches the statement (400 from
    the checks above); should the merged statement fail all the same, the
    round runs again as a group of one statement per request, then each
    alone, so one request's failure fails no other (t4063).

    usage.verify (role service) recomputes every counter (per month) and
    every hourly sum (table hours, what usage.series reads) from the events
    and from the sums of the events the retention sweep deleted (table
    retired, usage_retention.c), and counts the disagreements: the tests'
    proof that the above holds. Its answer: {mismatches (counters and
    hours), counters, hours, hour_mismatches, events (stored), retired_events,
    examples, hour_examples}.

    The hourly sums are kept by the same statement (INSERT INTO hours ...
    GROUP BY from the inserted rows: a few rows a batch), so the events
    table has one B-tree, its primary key (migration 0007). Events are
    deduplicated for as long as they are kept: for ever by default, for
    SWITCHBOARD_USAGE_RETENTION_DAYS when set (usage_retention.c).

    Usage alerts are queued by the same statement, the one place where
    counters move (usage.record, usage.ingest and usage.commit all store
    through it): for each counter it moved in the current period whose
    metric the organization's plan limits (the limits travel as parameters,
    asked of the entitlement cache before), every threshold of the
    organization (alert_settings, default 80 and 100 percent) the new
    value reaches and that is not yet in alerts_sent is inserted there ON
    CONFLICT DO NOTHING, and each row actually inserted adds its two rows
    to alert_outbox (usage_alerts.c relays them). "Reaches", not "crosses
    in this batch": a threshold missed once (billing-svc could not say the
    limit) is caught by the next counted event, and one lowered by an admin
    below the current use fires at the next event. Same transaction as the
    counter, so exactly once across workers and restarts.
*/
#include "usage.h"

//  Columns of a batch, in usage_store's parameter order.
enum {
    S_ORG, S_ID, S_METRIC, S_QUANTITY, S_AT, S_BUSINESS, S_PROPERTIES, S_RESERVATION, S_COLUMNS
};

static int64_t s_last_sweep;        //  monotonic ms of this worker's last global sweep
//  Monotonic ms until which this worker asks no entitlement for the alert
//  check (billing-svc did not answer one): storing usage never waits on
//  billing-svc more than once per S_ENTS_QUIET_MS.
#define S_ENTS_QUIET_MS 10000
static int64_t s_ents_quiet_until;

//  The element type of each column, as the statement casts it.
static const uint32_t s_types [S_COLUMNS] = {
    SB_DB_OID_UUID, SB_DB_OID_TEXT, SB_DB_OID_TEXT, SB_DB_OID_INT8, SB_DB_OID_TIMESTAMPTZ,
    SB_DB_OID_UUID, SB_DB_OID_JSONB, SB_DB_OID_UUID
};

void
usage_batch_init (usage_batch_t *self)
{
    for (int c = 0; c < S_COLUMNS; c++)
        sb_db_array_init (&self->columns [c], s_types [c]);
    msgpack_sbuffer_init (&self->quotas);
    self->count = 0;
}

void
usage_batch_release (usage_batch_t *self)
{
    for (int c = 0; c < S_COLUMNS; c++)
        sb_db_array_release (&self->columns [c]);
    msgpack_sbuffer_destroy (&self->quotas);
}

//  Appends a UUID checked before (NULL: NULL).
static void
s_uuid (sb_db_array_t *column, const char *uuid)
{
    int rc = sb_db_array_add_uuid (column, uuid);
    assert (rc == 0);
    if (rc)
        sb_db_array_add (column, NULL, 0);
}

void
usage_batch_add (usage_batch_t *self, uint32_t position, const char *org, const char *id,
                 const char *metric, int64_t quantity, const char *occurred_at,
                 const char *business, const char *properties, const char *reservation)
{
    assert (self->count < USAGE_MAX_EVENTS);
    self->position [self->count] = position;
    int64_t usec = 0;
    int parsed = sb_timestamp_parse (occurred_at, &usec);
    assert (parsed == 0);
    (void) parsed;
    s_uuid (&self->columns [S_ORG], org);
    sb_db_array_add_text (&self->columns [S_ID], id);
    sb_db_array_add_text (&self->columns [S_METRIC], metric);
    sb_db_array_add_int8 (&self->columns [S_QUANTITY], quantity);
    sb_db_array_add_timestamptz (&self->columns [S_AT], usec);
    s_uuid (&self->columns [S_BUSINESS], business);
    sb_db_array_add_jsonb (&self->columns [S_PROPERTIES], properties);
    s_uuid (&self->columns [S_RESERVATION], reservation);
    self->count++;
    if (usage_has_quota (metric)) {
        msgpack_sbuffer_write (&self->quotas, org, strlen (org));
        msgpack_sbuffer_write (&self->quotas, " ", 1);
        msgpack_sbuffer_write (&self->quotas, metric, strlen (metric) + 1);
    }
}

//  Puts array as parameter p of stmt, copied into the request's memory.
static void
s_param_array (sb_ctx_t *ctx, sb_db_stmt_t *stmt, int p, sb_db_array_t *array)
{
    int length;
    const char *bytes = sb_db_array_finish (array, &length);
    char *copy = (char *) sb_ctx_alloc (ctx, (size_t) length);
    memcpy (copy, bytes, (size_t) length);
    stmt->params [p] = copy;
    ((int *) stmt->lengths) [p] = length;
    ((int *) stmt->formats) [p] = 1;
}

//  The limits of the batch's (organization, metric) pairs with a quota, as
//  three array literals ($11 organizations, $12 metrics, $13 limits), each
//  pair once; pairs without a limit, or whose entitlement billing-svc
//  cannot give now, are left out (no alert check for them this time). A
//  lookup billing-svc does not answer (up to 2 s) makes this worker skip
//  the check for S_ENTS_QUIET_MS: usage is stored all the same, and the
//  alerts it would have raised wait for the organizations' next events.
static void
s_limits (sb_ctx_t *ctx, usage_batch_t *batch, sb_db_stmt_t *stmt)
{
    static const uint32_t types [3] = { SB_DB_OID_UUID, SB_DB_OID_TEXT, SB_DB_OID_INT8 };
    sb_db_array_t lists [3];
    for (int i = 0; i < 3; i++)
        sb_db_array_init (&lists [i], types [i]);
    zhashx_t *seen = zhashx_new ();
    const char *at = batch->quotas.data;
    const char *end = at ? at + batch->quotas.size : NULL;
    while (at && at < end) {
        const char *pair = at;
        at += strlen (pair) + 1;
        if (zhashx_lookup (seen, pair))
            continue;
        zhashx_insert (seen, pair, (void *) 1);
        const char *space = strchr (pair, ' ');
        char org [64];
        snprintf (org, sizeof (org), "%.*s", (int) (space - pair), pair);
        sb_entitlement_t ent;
        if (sb_mono_ms () < s_ents_quiet_until)
            break;
        if (sb_ctx_entitlement (ctx, org, &ent, NULL)) {
            sb_warn ("usage alerts: billing-svc cannot say %s's limits now; alert checks "
                     "wait for later events", org);
            s_ents_quiet_until = sb_mono_ms () + S_ENTS_QUIET_MS;
            break;
        }
        int64_t limit = usage_limit_of (&ent, space + 1);
        if (limit <= 0)
            continue;
        s_uuid (&lists [0], org);
        sb_db_array_add_text (&lists [1], space + 1);
        sb_db_array_add_int8 (&lists [2], limit);
    }
    zhashx_destroy (&seen);
    for (int i = 0; i < 3; i++) {
        s_param_array (ctx, stmt, S_COLUMNS + 2 + i, &lists [i]);
        sb_db_array_release (&lists [i]);
    }
}

void
usage_store_stmt (sb_ctx_t *ctx, usage_batch_t *batch, bool whole, sb_db_stmt_t *stmt)
{
    stmt->nparams = S_COLUMNS + 5;
    //  Arrays in binary (format 1), the flag and the cap in text (0)
    stmt->lengths = (int *) sb_ctx_alloc (ctx, sizeof (int) * (size_t) stmt->nparams);
    stmt->formats = (int *) sb_ctx_alloc (ctx, sizeof (int) * (size_t) stmt->nparams);
    memset ((int *) stmt->lengths, 0, sizeof (int) * (size_t) stmt->nparams);
    memset ((int *) stmt->formats, 0, sizeof (int) * (size_t) stmt->nparams);
    for (int c = 0; c < S_COLUMNS; c++)
        s_param_array (ctx, stmt, c, &batch->columns [c]);
    char *cap = (char *) sb_ctx_alloc (ctx, 24);
    snprintf (cap, 24, "%lld", (long long) USAGE_MAX_COUNTER);
    stmt->params [S_COLUMNS] = whole ? "true" : "false";
    stmt->params [S_COLUMNS + 1] = cap;
    s_limits (ctx, batch, stmt);
    //  The cap, without a round trip and at little cost on the common
    //  path: `rough` finds the counters the batch could take past the cap
    //  counting every event as new (one index probe per counter of the
    //  batch); when none is near the cap, that is all (suspect's one-time
    //  filter skips the rest). Otherwise only the events of those counters
    //  are looked up (suspect: new ones, each id once), summed exactly
    //  (over), and refused with their counter, or with their whole
    //  organization (whole). Sums are numeric: nothing overflows, also on
    //  a counter already past the cap. Measured on 100-event batches: some
    //  0.2 ms more than the statement without the cap (about 1.5 ms).
    stmt->sql =
        "WITH input AS ("
        "  SELECT i.*, date_trunc ('month', i.occurred_at AT TIME ZONE 'UTC')::date AS period_start"
        "    FROM unnest ($1::uuid[], $2::text[], $3::text[], $4::bigint[],"
        "                 $5::timestamptz[], $6::uuid[], $7::jsonb[], $8::uuid[])"
        "    WITH ORDINALITY AS i (organization_id, event_id, metric, quantity, occurred_at,"
        "                          business_id, properties, reservation_id, n)"
        "), rough AS ("
        "  SELECT organization_id, metric, period_start FROM input AS i GROUP BY 1, 2, 3"
        "  HAVING sum (quantity) + coalesce ((SELECT used FROM counters AS c"
        "           WHERE c.organization_id = i.organization_id AND c.metric = i.metric"
        "             AND c.period_start = i.period_start), 0) > $10::bigint"
        "), suspect AS ("
        "  SELECT DISTINCT ON (i.organization_id, i.event_id)"
        "         i.organization_id, i.event_id, i.metric, i.period_start, i.quantity"
        "    FROM input AS i"
        "   WHERE EXISTS (SELECT 1 FROM rough)"
        "     AND EXISTS (SELECT 1 FROM rough AS r WHERE r.organization_id = i.organization_id"
        "                    AND ($9::bool OR (r.metric = i.metric"
        "                                      AND r.period_start = i.period_start)))"
        "     AND NOT EXISTS (SELECT 1 FROM events AS e WHERE e.organization_id = i.organization_id"
        "                        AND e.event_id = i.event_id)"
        "   ORDER BY i.organization_id, i.event_id, i.n"
        "), over AS ("
        "  SELECT organization_id, metric, period_start FROM suspect AS s GROUP BY 1, 2, 3"
        "  HAVING sum (quantity) + coalesce ((SELECT used FROM counters AS c"
        "           WHERE c.organization_id = s.organization_id AND c.metric = s.metric"
        "             AND c.period_start = s.period_start), 0) > $10::bigint"
        "), refused AS ("
        "  SELECT s.organization_id, s.event_id FROM suspect AS s"
        "   WHERE EXISTS (SELECT 1 FROM over AS o WHERE o.organization_id = s.organization_id"
        "                    AND ($9::bool OR (o.metric = s.metric"
        "                                      AND o.period_start = s.period_start)))"
        "), ins AS ("
        "  INSERT INTO events (organization_id, event_id, metric, quantity, occurred_at,"
        "                      business_id, properties, reservation_id)"
        "  SELECT organization_id, event_id, metric, quantity, occurred_at, business_id,"
        "         properties, reservation_id"
        "    FROM input AS i"
        "   WHERE NOT EXISTS (SELECT 1 FROM refused AS r"
        "                      WHERE r.organization_id = i.organization_id"
        "                        AND r.event_id = i.event_id)"
        "     AND NOT EXISTS (SELECT FROM purged_organizations AS p"
        "                      WHERE p.organization_id = i.organization_id)"
        "   ORDER BY organization_id, event_id, n"
        "  ON CONFLICT DO NOTHING"
        "  RETURNING organization_id, metric, quantity, occurred_at"
        "), sums AS ("
        "  SELECT organization_id, metric,"
        "         date_trunc ('month', occurred_at AT TIME ZONE 'UTC')::date AS period_start,"
        "         sum (quantity)::bigint AS used, count (*) AS events"
        "    FROM ins GROUP BY 1, 2, 3"
        "), bump AS ("
        "  INSERT INTO counters AS c (organization_id, metric, period_start, used)"
        "  SELECT organization_id, metric, period_start, used FROM sums ORDER BY 1, 2, 3"
        "  ON CONFLICT (organization_id, metric, period_start)"
        "    DO UPDATE SET used = c.used + EXCLUDED.used"
        "  RETURNING organization_id, metric, period_start, used"
        "), hourly AS ("
        "  INSERT INTO hours AS h (organization_id, metric, hour, quantity)"
        "  SELECT organization_id, metric, date_trunc ('hour', occurred_at AT TIME ZONE 'UTC'),"
        "         sum (quantity)"
        "    FROM ins GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        "  ON CONFLICT (organization_id, metric, hour)"
        "    DO UPDATE SET quantity = h.quantity + EXCLUDED.quantity"
        "), quota AS ("
        "  SELECT * FROM unnest ($11::uuid[], $12::text[], $13::bigint[])"
        "    AS q (organization_id, metric, quota)"
        "), reached AS ("
        "  SELECT b.organization_id, b.metric, b.period_start, t.threshold, b.used, q.quota"
        "    FROM bump AS b JOIN quota AS q ON q.organization_id = b.organization_id"
        "                                  AND q.metric = b.metric"
        "   CROSS JOIN LATERAL unnest (coalesce ("
        "           (SELECT a.thresholds FROM alert_settings AS a"
        "             WHERE a.organization_id = b.organization_id), '{80,100}'::int[]))"
        "     AS t (threshold)"
        "   WHERE b.period_start = " USAGE_SQL_PERIOD
        "     AND b.used::numeric * 100 >= q.quota::numeric * t.threshold"
        "     AND NOT EXISTS (SELECT FROM alerts_sent AS s"
        "                      WHERE s.organization_id = b.organization_id"
        "                        AND s.metric = b.metric AND s.period_start = b.period_start"
        "                        AND s.threshold = t.threshold)"
        "), sent AS ("
        "  INSERT INTO alerts_sent (organization_id, metric, period_start, threshold, used, quota)"
        "  SELECT * FROM reached ORDER BY 1, 2, 3, 4"
        "  ON CONFLICT DO NOTHING"
        "  RETURNING id, organization_id, metric, period_start, threshold, used, quota"
        "), notices AS ("
        "  INSERT INTO alert_outbox (alert_id, channel, organization_id, metric, period_start,"
        "                            threshold, used, quota)"
        "  SELECT s.id, c.channel, s.organization_id, s.metric, s.period_start, s.threshold,"
        "         s.used, s.quota"
        "    FROM sent AS s CROSS JOIN (VALUES ('mail'), ('webhook')) AS c (channel)"
        "  RETURNING 1"
        ")"
        "SELECT (SELECT count (*) FROM ins),"
        "       (SELECT array_agg (i.n ORDER BY i.n) FROM input AS i JOIN refused AS r"
        "           ON r.organization_id = i.organization_id AND r.event_id = i.event_id)::text,"
        "       (SELECT string_agg (organization_id || ' ' || counter, E'\\n' ORDER BY counter)"
        "          FROM (SELECT organization_id,"
        "                       min (metric || ' ' || to_char (period_start, 'YYYY-MM')) AS counter"
        "                  FROM over GROUP BY 1) AS o),"
        "       b.organization_id, b.metric, b.period_start::text, s.events,"
        "       (SELECT count (*) FROM notices)"
        "  FROM (SELECT 1) AS one"
        "  LEFT JOIN (bump AS b JOIN sums AS s ON s.organization_id = b.organization_id"
        "             AND s.metric = b.metric AND s.period_start = b.period_start) ON true";
}

//  The counter named for org in over's lines ("<org> <metric> <YYYY-MM>",
//  the least first), or for any organization when org is NULL; or NULL.
static const char *
s_over_of (sb_ctx_t *ctx, const char *over, const char *org)
{
    for (const char *line = over; *line; ) {
        const char *end = strchr (line, '\n');
        size_t size = end ? (size_t) (end - line) : strlen (line);
        const char *space = memchr (line, ' ', size);
        if (space && (!org || ((size_t) (space - line) == strlen (org)
                               && memcmp (line, org, strlen (org)) == 0)))
            return sb_ctx_strndup (ctx, space + 1, size - (size_t) (space + 1 - line));
        line += size + (end != NULL);
    }
    return NULL;
}

void
usage_store_done (sb_ctx_t *ctx, const PGresult *result, const char *org,
                  usage_outcome_t *outcome)
{
    memset (outcome, 0, sizeof (*outcome));
    int rows = PQntuples (result);
    if (rows == 0)
        return;
    if (!org)
        outcome->accepted = strtoll (PQgetvalue (result, 0, 0), NULL, 10);
    outcome->alerts = strtoll (PQgetvalue (result, 0, 7), NULL, 10);
    if (outcome->alerts)
        sb_ctx_after_commit (ctx, usage_alerts_wake);
    if (!org && !PQgetisnull (result, 0, 1)) {
        //  "{3,7,9}": ordinals from 1, in order; at most the batch's count.
        const char *p = PQgetvalue (result, 0, 1);
        outcome->refused = (uint32_t *) sb_ctx_alloc (ctx, sizeof (uint32_t) * USAGE_MAX_EVENTS);
        while (*p && outcome->refused_count < USAGE_MAX_EVENTS) {
            if (*p < '0' || *p > '9') {
                p++;
                continue;
            }
            char *end;
            long n = strtol (p, &end, 10);
            if (n >= 1 && n <= USAGE_MAX_EVENTS)
                outcome->refused [outcome->refused_count++] = (uint32_t) (n - 1);
            p = end;
        }
    }
    if (!PQgetisnull (result, 0, 2))
        outcome->over = s_over_of (ctx, PQgetvalue (result, 0, 2), org);
    outcome->counted = sb_ctx_alloc (ctx, sizeof (*outcome->counted) * (size_t) rows);
    for (int r = 0; r < rows; r++)
        if (!PQgetisnull (result, r, 3) && (!org || streq (PQgetvalue (result, r, 3), org))) {
            if (org)
                outcome->accepted += strtoll (PQgetvalue (result, r, 6), NULL, 10);
            usage_cache_forget (PQgetvalue (result, r, 3), PQgetvalue (result, r, 4),
                                PQgetvalue (result, r, 5));
            outcome->counted [outcome->counted_count].org
                = sb_ctx_strndup (ctx, PQgetvalue (result, r, 3),
                                  (size_t) PQgetlength (result, r, 3));
            outcome->counted [outcome->counted_count++].events
                = strtoll (PQgetvalue (result, r, 6), NULL, 10);
        }
}

int
usage_store (sb_ctx_t *ctx, usage_batch_t *batch, bool whole, usage_outcome_t *outcome)
{
    memset (outcome, 0, sizeof (*outcome));
    if (batch->count == 0)
        return 0;
    sb_db_stmt_t stmt = { NULL };
    usage_store_stmt (ctx, batch, whole, &stmt);
    PGresult *result = sb_db_exec_stmt (sb_ctx_db (ctx), &stmt);
    if (!result)
        return -1;
    usage_store_done (ctx, result, NULL, outcome);
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

//  Why usage.record did not store one of its events: code and message,
//  or NULL (stored or a duplicate); and the event's organization.
typedef struct {
    const char *org;
    const char *code;
    const char *message;
} s_verdict_t;

//  Reads event `index` of a batch into batch, or adds field errors named
//  "events[index].field" to fields. org is the request's organization, or
//  NULL when each event names its own (usage.record); then a verdict is
//  given: the event's organization, and when the event is not right but
//  its organization is, it is refused (verdict's code and message) instead
//  of failing the batch (only an event without a valid organization adds
//  a field error: there is no one to refuse it for).
static void
s_event_read (sb_ctx_t *ctx, const msgpack_object *event, uint32_t index, const char *org,
              usage_batch_t *batch, sb_fields_t *fields, s_verdict_t *verdict)
{
    sb_fields_t mine = { 0 };
    bool org_ok = org != NULL;
    if (event->type != MSGPACK_OBJECT_MAP)
        sb_fields_add (&mine, "", "must be an object");
    else {
        if (!org) {
            org = sb_arg_string (ctx, event, "org", true, 36, 36, &mine);
            if (org && !sb_is_uuid (org)) {
                sb_fields_add (&mine, "org", "must be a UUID");
                org = NULL;
            }
            if (org) {
                //  As PostgreSQL writes it, for the answer's keys.
                for (char *c = (char *) org; *c; c++)
                    *c = (char) tolower ((unsigned char) *c);
                org_ok = true;
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
            usage_batch_add (batch, index, org, id, metric, quantity, at, business, properties,
                             NULL);
    }
    for (size_t i = 0; i < mine.count; i++) {
        char name [64];
        snprintf (name, sizeof (name), "events[%u]%s%s", index, *mine.items [i].field ? "." : "",
                  mine.items [i].field);
        if (verdict && org_ok) {
            //  The first problem is reason enough.
            char message [200];
            snprintf (message, sizeof (message), "%s %s", name, mine.items [i].message);
            verdict->code = SB_E_VALIDATION_FAILED;
            verdict->message = sb_ctx_strndup (ctx, message, strlen (message));
            break;
        }
        sb_fields_add (fields, sb_ctx_strndup (ctx, name, strlen (name)), "%s",
                       mine.items [i].message);
    }
    if (verdict)
        verdict->org = org_ok ? org : NULL;
}

//  Checks the events of args into batch; answers 400 when they are not
//  right (then returns false). org and verdicts (one per event, or NULL)
//  as for s_event_read.
static bool
s_events_read (sb_ctx_t *ctx, const msgpack_object *args, const char *org, uint32_t min_events,
               usage_batch_t *batch, s_verdict_t *verdicts, sb_reply_t *reply)
{
    const msgpack_object *events = sb_mpk_get (args, "events");
    sb_fields_t fields = { 0 };
    if (!events || events->type != MSGPACK_OBJECT_ARRAY || events->via.array.size < min_events
        || events->via.array.size > USAGE_MAX_EVENTS)
        sb_fields_add (&fields, "events", "must be a list of %u to %d events", min_events,
                       USAGE_MAX_EVENTS);
    else
        for (uint32_t i = 0; i < events->via.array.size && fields.count < SB_FIELDS_MAX; i++)
            s_event_read (ctx, &events->via.array.ptr [i], i, org, batch, &fields,
                          verdicts ? &verdicts [i] : NULL);
    if (fields.count)
        sb_reply_fields (reply, &fields);
    return fields.count == 0;
}

//  The number of events of args (checked to be a list).
static uint32_t
s_event_count (const msgpack_object *args)
{
    return sb_mpk_get (args, "events")->via.array.size;
}

//  Per organization of a usage.record batch: its events and their fate.
typedef struct {
    int64_t events, accepted, refused;
} s_tally_t;

static void
s_tally_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

static s_tally_t *
s_tally (zhashx_t *tallies, const char *org)
{
    s_tally_t *tally = (s_tally_t *) zhashx_lookup (tallies, org);
    if (!tally) {
        tally = (s_tally_t *) sb_calloc (1, sizeof (s_tally_t));
        zhashx_insert (tallies, org, tally);
    }
    return tally;
}

//  usage.record's answer: {accepted, duplicates, refused, orgs: {org:
//  {accepted, duplicates, refused}}, refusals: [{index, org, id, error,
//  message}]}.
static int
s_reply_recorded (const msgpack_object *args, const s_verdict_t *verdicts,
                  const usage_outcome_t *outcome, sb_reply_t *reply)
{
    const msgpack_object *events = sb_mpk_get (args, "events");
    uint32_t count = events->via.array.size;
    zhashx_t *tallies = zhashx_new ();
    zhashx_set_destructor (tallies, s_tally_destroy);
    int64_t refused = 0;
    for (uint32_t i = 0; i < count; i++) {
        s_tally_t *tally = s_tally (tallies, verdicts [i].org);
        tally->events++;
        if (verdicts [i].code) {
            tally->refused++;
            refused++;
        }
    }
    for (size_t k = 0; k < outcome->counted_count; k++)
        s_tally (tallies, outcome->counted [k].org)->accepted += outcome->counted [k].events;

    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 5);
    sb_mpk_pack_kv_int (pk, "accepted", outcome->accepted);
    sb_mpk_pack_kv_int (pk, "duplicates", (int64_t) count - outcome->accepted - refused);
    sb_mpk_pack_kv_int (pk, "refused", refused);
    sb_mpk_pack_str (pk, "orgs");
    msgpack_pack_map (pk, zhashx_size (tallies));
    for (s_tally_t *tally = (s_tally_t *) zhashx_first (tallies); tally;
         tally = (s_tally_t *) zhashx_next (tallies)) {
        sb_mpk_pack_str (pk, (const char *) zhashx_cursor (tallies));
        msgpack_pack_map (pk, 3);
        sb_mpk_pack_kv_int (pk, "accepted", tally->accepted);
        sb_mpk_pack_kv_int (pk, "duplicates", tally->events - tally->accepted - tally->refused);
        sb_mpk_pack_kv_int (pk, "refused", tally->refused);
    }
    zhashx_destroy (&tallies);
    sb_mpk_pack_str (pk, "refusals");
    msgpack_pack_array (pk, (size_t) refused);
    for (uint32_t i = 0; i < count; i++)
        if (verdicts [i].code) {
            char id [4 * 128 + 1] = "";
            sb_mpk_copy_str (sb_mpk_get (&events->via.array.ptr [i], "id"), id, sizeof (id));
            msgpack_pack_map (pk, 5);
            sb_mpk_pack_kv_int (pk, "index", i);
            sb_mpk_pack_kv_str (pk, "org", verdicts [i].org);
            sb_mpk_pack_kv_str (pk, "id", id);
            sb_mpk_pack_kv_str (pk, "error", verdicts [i].code);
            sb_mpk_pack_kv_str (pk, "message", verdicts [i].message);
        }
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

//  usage.record: a batch of producers' events, of any organizations, one
//  statement. Its outcome is per event: an event that is not right (its
//  organization aside) or whose counter would pass the cap is refused,
//  with its reason, and the others are stored all the same: one
//  organization's refusal never fails another's rows.
int
usage_record (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    //  A batch of a relay may span organizations.
    if (sb_db_all_orgs (sb_ctx_db (ctx)) || s_sweep (ctx))
        return usage_reply_db_error (ctx, reply);
    s_verdict_t *verdicts
        = (s_verdict_t *) sb_ctx_alloc (ctx, sizeof (s_verdict_t) * USAGE_MAX_EVENTS);
    memset (verdicts, 0, sizeof (s_verdict_t) * USAGE_MAX_EVENTS);
    usage_batch_t batch;
    usage_batch_init (&batch);
    usage_outcome_t outcome;
    bool valid = s_events_read (ctx, args, NULL, 0, &batch, verdicts, reply);
    int rc = valid ? usage_store (ctx, &batch, false, &outcome) : 0;
    for (size_t k = 0; rc == 0 && valid && k < outcome.refused_count; k++) {
        s_verdict_t *verdict = &verdicts [batch.position [outcome.refused [k]]];
        char message [200];
        snprintf (message, sizeof (message),
                  "the event's usage counter (its metric and month) would pass %lld",
                  (long long) USAGE_MAX_COUNTER);
        verdict->code = SB_E_USAGE_OVERFLOW;
        verdict->message = sb_ctx_strndup (ctx, message, strlen (message));
    }
    usage_batch_release (&batch);
    if (rc)
        return usage_reply_db_error (ctx, reply);
    return valid ? s_reply_recorded (args, verdicts, &outcome, reply) : 0;
}

//  POST /v1/usage/events, in two halves so that the skeleton commits the
//  batches of several requests together (SB_OP_GROUP). All or nothing:
//  when one counter would pass the cap, none of the request's events is
//  stored (422), and the other requests of the group are not affected.
int
usage_ingest_query (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply, sb_db_stmt_t *stmt)
{
    sb_fields_t fields = { 0 };
    const char *org = usage_org (ctx, args, &fields);
    if (!org)
        return sb_reply_fields (reply, &fields);
    usage_batch_t batch;
    usage_batch_init (&batch);
    if (s_events_read (ctx, args, org, 1, &batch, NULL, reply))
        usage_store_stmt (ctx, &batch, true, stmt);
    usage_batch_release (&batch);
    //  The caller's organization, or the one a service acts for
    stmt->org = org;
    return 0;
}

//  One statement for the requests of a group's round (sb_merge_fn): their
//  arrays of events and of limits joined, the flags and the cap as they
//  are (the same for all). Each event's organization is its request's own
//  (usage_org, never the body's: the arrays' first column), and each
//  request of a round is of another organization, so the statement keeps
//  every row under its request's organization, and "whole" refuses one
//  request's events, no other's. Each finish takes its organization's
//  part of the answer (usage_store_done). The arrays are binary
//  (sb_db_array_join).
int
usage_ingest_merge (sb_ctx_t *ctx, const sb_db_stmt_t *stmts, size_t count,
                    sb_db_stmt_t *merged)
{
    static const int joined [] = { 0, 1, 2, 3, 4, 5, 6, 7, S_COLUMNS + 2, S_COLUMNS + 3,
                                   S_COLUMNS + 4 };
    *merged = stmts [0];
    merged->org = NULL;
    int nparams = stmts [0].nparams;
    int *lengths = (int *) sb_ctx_alloc (ctx, sizeof (int) * (size_t) nparams);
    memcpy (lengths, stmts [0].lengths, sizeof (int) * (size_t) nparams);
    merged->lengths = lengths;
    const char **arrays = (const char **) sb_ctx_alloc (ctx, sizeof (char *) * count);
    int *sizes = (int *) sb_ctx_alloc (ctx, sizeof (int) * count);
    for (size_t j = 0; j < sizeof (joined) / sizeof (joined [0]); j++) {
        int p = joined [j];
        size_t size = 20;
        for (size_t i = 0; i < count; i++) {
            arrays [i] = stmts [i].params [p];
            sizes [i] = stmts [i].lengths [p];
            size += (size_t) sizes [i];
        }
        char *array = (char *) sb_ctx_alloc (ctx, size);
        lengths [p] = (int) sb_db_array_join (arrays, sizes, count, array);
        merged->params [p] = array;
    }
    return 0;
}

int
usage_ingest_finish (sb_ctx_t *ctx, const msgpack_object *args, PGresult *result,
                     sb_reply_t *reply)
{
    if (!result)
        return usage_reply_db_error (ctx, reply);
    sb_fields_t fields = { 0 };
    const char *org = usage_org (ctx, args, &fields);
    usage_outcome_t outcome;
    usage_store_done (ctx, result, org, &outcome);
    if (outcome.over)
        return usage_reply_overflow (reply, "these events (none was stored)",
                                     outcome.over ? outcome.over : "of this organization");
    msgpack_packer *pk = sb_reply_body (reply, 202);
    msgpack_pack_map (pk, 2);
    sb_mpk_pack_kv_int (pk, "accepted", outcome.accepted);
    sb_mpk_pack_kv_int (pk, "duplicates", (int64_t) s_event_count (args) - outcome.accepted);
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
    if (sb_db_all_orgs (sb_ctx_db (ctx)))
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
        "         date_trunc ('hour', occurred_at AT TIME ZONE 'UTC') AS hour,"
        "         sum (quantity) AS used, count (*) AS events"
        "    FROM events WHERE $1::uuid IS NULL OR organization_id = $1::uuid"
        "   GROUP BY 1, 2, 3"
        "), er AS ("
        "  SELECT organization_id, metric, hour, sum (used) AS used"
        "    FROM (SELECT organization_id, metric, hour, used FROM e"
        "          UNION ALL"
        "          SELECT organization_id, metric, hour, quantity FROM retired"
        "           WHERE $1::uuid IS NULL OR organization_id = $1::uuid) AS x"
        "   GROUP BY 1, 2, 3"
        "), m AS ("
        "  SELECT organization_id, metric, date_trunc ('month', hour)::date AS period_start,"
        "         sum (used) AS used"
        "    FROM er GROUP BY 1, 2, 3"
        "), c AS ("
        "  SELECT organization_id, metric, period_start, used FROM counters"
        "   WHERE $1::uuid IS NULL OR organization_id = $1::uuid"
        "), d AS ("
        "  SELECT organization_id, metric, period_start::text AS period_start,"
        "         coalesce (m.used, 0) AS events_sum, c.used AS counter"
        "    FROM m FULL JOIN c USING (organization_id, metric, period_start)"
        "   WHERE coalesce (m.used, 0) <> coalesce (c.used, 0)"
        "), h AS ("
        "  SELECT organization_id, metric, hour, quantity FROM hours"
        "   WHERE $1::uuid IS NULL OR organization_id = $1::uuid"
        "), hd AS ("
        "  SELECT organization_id, metric, hour,"
        "         coalesce (er.used, 0) AS events_sum, h.quantity AS hour_sum"
        "    FROM er FULL JOIN h USING (organization_id, metric, hour)"
        "   WHERE coalesce (er.used, 0) <> coalesce (h.quantity, 0)"
        ")"
        "SELECT (SELECT count(*) FROM d) + (SELECT count(*) FROM hd) AS mismatches,"
        "       (SELECT count(*) FROM c) AS counters,"
        "       (SELECT count(*) FROM h) AS hours,"
        "       (SELECT count(*) FROM hd) AS hour_mismatches,"
        "       (SELECT coalesce (sum (events), 0)::bigint FROM e) AS events,"
        "       (SELECT coalesce (sum (events), 0)::bigint FROM retired"
        "         WHERE $1::uuid IS NULL OR organization_id = $1::uuid) AS retired_events,"
        "       (SELECT coalesce (json_agg (x), '[]') FROM (SELECT * FROM d LIMIT 10) AS x)"
        "         AS examples,"
        "       (SELECT coalesce (json_agg (x), '[]') FROM (SELECT * FROM hd LIMIT 10) AS x)"
        "         AS hour_examples",
        1, params);
    return rc ? usage_reply_db_error (ctx, reply) : 0;
}
