/*  usage_quota.c — quota answers: usage.check from an in-process cache,
    and usage.summary for the dashboard and API clients.

    usage.check (role service) {org, metric, quantity} answers whether
    quantity more would stay within the organization's plan limit for the
    current period: {allowed, used, reserved, limit, remaining}. It is on
    the path of every call the call engine starts, so it is answered from
    memory when possible: each worker keeps (org, metric, period) → used +
    reserved, and reads PostgreSQL again when its entry is older than 1 s,
    or when this worker itself changed that counter (usage_store, a hold
    taken, committed or released forget the entry).

    The margin. A worker learns of other workers' changes at most 1 s late,
    so a cached answer can miss whatever the other W - 1 workers recorded
    or reserved for that counter in the last second; and a check holds
    nothing, so K callers checking at the same moment are all told yes for
    the same last unit. Capped work that relies on check alone can thus
    overrun the limit by (usage the other workers record within 1 s) + (the
    quantities of checks in flight at once). Nothing else: the counters
    themselves are exact. Work that must never pass the limit takes a
    reservation (usage_reservations.c), which is checked under a lock in
    PostgreSQL and is exact under any concurrency; check is the cheap
    advisory question, reserve the binding one.

    The cache is bounded: an LRU table of S_CACHE_MAX entries (sb/lru.h)
    that evicts the least recently used one when full, not the whole table
    (an entry evicted is read from PostgreSQL again, like one a second
    old). Workers are single
    threaded (the skeleton serves one request at a time), so it needs no
    lock.
*/
#include "usage.h"
#include "sb/lru.h"

#define S_CACHE_TTL_MS 1000
#define S_CACHE_MAX    50000

typedef struct {
    int64_t used;
    int64_t reserved;
    int64_t fetched;                //  monotonic ms
} s_entry_t;

static sb_lru_t *s_cache;            //  "org|metric|period" -> s_entry_t

static void
s_key (char *key, size_t size, const char *org, const char *metric, const char *period)
{
    snprintf (key, size, "%s|%s|%s", org, metric, period);
}

void
usage_cache_forget (const char *org, const char *metric, const char *period)
{
    if (!s_cache)
        return;
    char key [160];
    s_key (key, sizeof (key), org, metric, period);
    sb_lru_remove (s_cache, key);
}

void
usage_cache_destroy (void)
{
    sb_lru_destroy (&s_cache);
}

//  The current period's first day, "YYYY-MM-01" (UTC), from our clock.
static void
s_period_now (char period [16])
{
    int64_t year;
    int month, day;
    sb_timestamp_civil_from_days (sb_now_ms () / 86400000, &year, &month, &day);
    snprintf (period, 16, "%04d-%02d-01", (int) year, month);
}

//  Reads the counter and the active holds into entry. Runs its own
//  transaction (the organization must be set for row-level security).
static int
s_fetch (sb_ctx_t *ctx, const char *org, const char *metric, const char *period,
         s_entry_t *entry)
{
    sb_db_t *db = sb_ctx_db (ctx);
    if (sb_db_begin (db) || sb_db_set_org (db, org)) {
        sb_db_rollback (db);
        return -1;
    }
    const char *params [] = { org, metric, period };
    PGresult *result = sb_db_exec (
        db,
        "SELECT coalesce ((SELECT used FROM counters WHERE organization_id = $1"
        "                    AND metric = $2 AND period_start = $3::date), 0),"
        "       least (coalesce ((SELECT sum (quantity) FROM reservations"
        "                          WHERE organization_id = $1 AND metric = $2"
        "                            AND period_start = $3::date AND expires_at > now ()), 0),"
        "              9223372036854775807)::bigint",
        3, params);
    if (!result || PQntuples (result) != 1) {
        PQclear (result);
        sb_db_rollback (db);
        return -1;
    }
    entry->used = strtoll (PQgetvalue (result, 0, 0), NULL, 10);
    entry->reserved = strtoll (PQgetvalue (result, 0, 1), NULL, 10);
    entry->fetched = sb_mono_ms ();
    PQclear (result);
    return sb_db_commit (db);
}

int
usage_check (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = usage_org (ctx, args, &fields);
    const char *metric = sb_arg_string (ctx, args, "metric", true, 1, 63, &fields);
    if (metric && !usage_metric_valid (metric))
        sb_fields_add (&fields, "metric", "must match ^[a-z][a-z0-9_]{0,62}$");
    int64_t quantity = 1;
    usage_arg_count (args, "quantity", false, 0, USAGE_MAX_QUANTITY, &quantity, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);

    char period [16], key [160];
    s_period_now (period);
    s_key (key, sizeof (key), org, metric, period);
    if (!s_cache)
        s_cache = sb_lru_new (NULL, S_CACHE_MAX, sizeof (s_entry_t), sizeof (key) - 1);
    s_entry_t *entry = (s_entry_t *) sb_lru_get (s_cache, key);
    int64_t now = sb_mono_ms ();
    bool cached = entry && now - entry->fetched < S_CACHE_TTL_MS;
    if (!cached) {
        s_entry_t fresh;
        if (s_fetch (ctx, org, metric, period, &fresh))
            return sb_reply_error (reply, 503, SB_E_SERVICE_UNAVAILABLE,
                                   "the database is unavailable");
        entry = (s_entry_t *) sb_lru_put (s_cache, key, &fresh);
    }
    //  A copy: the table's pointer lasts only until its next change.
    s_entry_t got = *entry;
    entry = &got;
    int64_t limit;
    if (usage_limit (ctx, org, metric, &limit, reply))
        return 0;
    int64_t taken = usage_add (entry->used, entry->reserved);
    bool allowed = limit < 0 || (quantity <= limit && taken <= limit - quantity);
    int64_t remaining = limit < 0 ? -1 : taken >= limit ? 0 : limit - taken;

    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 8);
    sb_mpk_pack_str (pk, "allowed");
    if (allowed)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    sb_mpk_pack_kv_int (pk, "used", entry->used);
    sb_mpk_pack_kv_int (pk, "reserved", entry->reserved);
    sb_mpk_pack_kv_int (pk, "limit", limit);
    sb_mpk_pack_kv_int (pk, "remaining", remaining);
    sb_mpk_pack_kv_str (pk, "metric", metric);
    sb_mpk_pack_kv_str (pk, "period_start", period);
    //  How old the numbers are: 0 when just read from PostgreSQL.
    sb_mpk_pack_kv_int (pk, "age_ms", cached ? now - entry->fetched : 0);
    return 0;
}

int
usage_summary (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = usage_org (ctx, args, &fields);
    if (!org)
        return sb_reply_fields (reply, &fields);
    sb_entitlement_t ent;
    if (sb_ctx_entitlement (ctx, org, &ent, reply))
        return 0;
    if (usage_act_as (ctx, org))
        return usage_reply_db_error (ctx, reply);
    //  The three metrics every organization has, then every other metric
    //  with a counter or an active hold in the period, by name.
    const char *params [] = { org };
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        "WITH p AS ("
        "  SELECT date_trunc ('month', now (), 'UTC') AS first,"
        "         date_trunc ('month', now (), 'UTC') + interval '1 month' AS after,"
        "         " USAGE_SQL_PERIOD " AS day"
        "), m AS ("
        "  SELECT unnest (ARRAY['calls', 'call_minutes', 'api_requests']) AS metric"
        "  UNION SELECT metric FROM counters, p"
        "   WHERE organization_id = $1 AND period_start = p.day"
        "  UNION SELECT metric FROM reservations, p"
        "   WHERE organization_id = $1 AND period_start = p.day AND expires_at > now ()"
        ")"
        "SELECT " SB_SQL_TS ("p.first") ", " SB_SQL_TS ("p.after") ", m.metric,"
        "       coalesce ((SELECT used FROM counters AS c WHERE c.organization_id = $1"
        "                    AND c.metric = m.metric AND c.period_start = p.day), 0),"
        "       least (coalesce ((SELECT sum (quantity) FROM reservations AS r"
        "                          WHERE r.organization_id = $1 AND r.metric = m.metric"
        "                            AND r.period_start = p.day AND r.expires_at > now ()), 0),"
        "              9223372036854775807)::bigint"
        "  FROM m, p"
        " ORDER BY m.metric NOT IN ('calls', 'call_minutes', 'api_requests'),"
        "          array_position (ARRAY['calls', 'call_minutes', 'api_requests'], m.metric),"
        "          m.metric COLLATE \"C\"",
        1, params);
    if (!result)
        return usage_reply_db_error (ctx, reply);
    int rows = PQntuples (result);
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 4);
    sb_mpk_pack_kv_str (pk, "period_start", rows ? PQgetvalue (result, 0, 0) : NULL);
    sb_mpk_pack_kv_str (pk, "period_end", rows ? PQgetvalue (result, 0, 1) : NULL);
    sb_mpk_pack_kv_str (pk, "plan", ent.plan);
    sb_mpk_pack_str (pk, "metrics");
    msgpack_pack_map (pk, (size_t) rows);
    for (int r = 0; r < rows; r++) {
        const char *metric = PQgetvalue (result, r, 2);
        int64_t used = strtoll (PQgetvalue (result, r, 3), NULL, 10);
        int64_t reserved = strtoll (PQgetvalue (result, r, 4), NULL, 10);
        int64_t limit = usage_limit_of (&ent, metric);
        int64_t taken = usage_add (used, reserved);
        sb_mpk_pack_str (pk, metric);
        msgpack_pack_map (pk, 4);
        sb_mpk_pack_kv_int (pk, "used", used);
        sb_mpk_pack_kv_int (pk, "reserved", reserved);
        sb_mpk_pack_kv_int (pk, "limit", limit);
        sb_mpk_pack_kv_int (pk, "remaining", limit < 0 ? -1 : taken >= limit ? 0 : limit - taken);
    }
    PQclear (result);
    return 0;
}

//  usage.counts: one statement over every organization asked (row-level
//  security opened for the transaction: the caller is internal and asks
//  for many organizations at once), in the order asked.
int
usage_counts (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *metric = sb_arg_string (ctx, args, "metric", true, 1, 63, &fields);
    if (metric && !usage_metric_valid (metric))
        sb_fields_add (&fields, "metric", "must match ^[a-z][a-z0-9_]{0,62}$");
    const char *period = sb_arg_string (ctx, args, "period_start", false, 10, 10, &fields);
    if (period) {
        bool valid = strlen (period) == 10 && streq (period + 7, "-01") && period [4] == '-';
        for (int i = 0; valid && i < 7; i++)
            valid = i == 4 || isdigit ((unsigned char) period [i]);
        int month = valid ? atoi (period + 5) : 0;
        if (month < 1 || month > 12 || atoi (period) < 1970)
            sb_fields_add (&fields, "period_start", "must be the first day of a month, YYYY-MM-01");
    }
    const msgpack_object *ids = sb_mpk_get (args, "organization_ids");
    size_t count = 0;
    if (!ids || ids->type != MSGPACK_OBJECT_ARRAY)
        sb_fields_add (&fields, "organization_ids", "is required (an array of UUIDs)");
    else
    if (ids->via.array.size > USAGE_MAX_COUNT_ORGS)
        sb_fields_add (&fields, "organization_ids", "has more than %d items", USAGE_MAX_COUNT_ORGS);
    else
        count = ids->via.array.size;
    //  The ids as a PostgreSQL array literal: each checked to be a UUID,
    //  so nothing in it needs quoting.
    char *list = (char *) sb_ctx_alloc (ctx, count * 37 + 3);
    char *at = list;
    *at++ = '{';
    for (size_t i = 0; i < count && !sb_fields_has (&fields, "organization_ids"); i++) {
        char id [40];
        const msgpack_object *item = &ids->via.array.ptr [i];
        if (item->type != MSGPACK_OBJECT_STR || sb_mpk_copy_str (item, id, sizeof (id))
            || !sb_is_uuid (id)) {
            sb_fields_add (&fields, "organization_ids", "item %zu is not a UUID", i);
            break;
        }
        at += sprintf (at, "%s%s", i ? "," : "", id);
    }
    *at++ = '}';
    *at = 0;
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    sb_db_t *db = sb_ctx_db (ctx);
    if (sb_db_all_orgs (db))
        return usage_reply_db_error (ctx, reply);
    const char *params [] = { list, metric, period };
    PGresult *result = sb_db_exec (
        db,
        "WITH p AS (SELECT coalesce ($3::date, " USAGE_SQL_PERIOD ") AS day)"
        "SELECT o.id::text, coalesce (c.used, 0), to_char (p.day, 'YYYY-MM-DD')"
        "  FROM p CROSS JOIN unnest ($1::uuid[]) WITH ORDINALITY AS o (id, n)"
        "  LEFT JOIN counters AS c ON c.organization_id = o.id AND c.metric = $2"
        "                         AND c.period_start = p.day"
        " ORDER BY o.n",
        3, params);
    if (!result)
        return usage_reply_db_error (ctx, reply);
    int rows = PQntuples (result);
    char day [16];
    if (rows)
        snprintf (day, sizeof (day), "%s", PQgetvalue (result, 0, 2));
    else
    if (period)
        snprintf (day, sizeof (day), "%s", period);
    else
        s_period_now (day);
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 2);
    sb_mpk_pack_str (pk, "data");
    msgpack_pack_array (pk, (size_t) rows);
    for (int r = 0; r < rows; r++) {
        msgpack_pack_map (pk, 2);
        sb_mpk_pack_kv_str (pk, "organization_id", PQgetvalue (result, r, 0));
        sb_mpk_pack_kv_int (pk, "used", strtoll (PQgetvalue (result, r, 1), NULL, 10));
    }
    sb_mpk_pack_kv_str (pk, "period_start", day);
    PQclear (result);
    return 0;
}
