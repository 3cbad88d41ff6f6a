/*  tenant_analytics.c — the analytics overview: an organization's calls and
    orders over a time range, in a time zone; and analytics.verify.

    Two statements. The first settles the arguments: the range (defaults:
    to = now, from = to − 30 × 24 hours; echoed to the microsecond, so the
    range echoed is the range counted), whether it is ordered and at most
    366 days long, and the time zones to fall back on — the business's,
    else the organization's oldest business's, else UTC. The second counts
    and shapes the JSON the client receives: every local day of the range
    with zeros, the four statuses of each kind, revenue per currency from
    orders not cancelled, and the five busiest local hours.

    Calls come from the rollup where it is exact, from raw calls elsewhere
    (issue 16: a year ≤ 50 ms at 10 million calls). analytics_days
    (migration 0012) holds per organization, zone, local day, business and
    status the calls, minutes, seconds and calls per local hour. Writers
    do not touch it: a write of calls appends deltas (analytics_deltas,
    +1/−1 per call, the call's raw facts, in the writer's transaction:
    by tenant_calls.c's insert statement itself, by triggers for every
    other write; 0012's header), and the folder below moves them into
    analytics_days every 5 s (at once while a backlog lasts); so the
    overview reads the rollup rows PLUS the deltas not folded yet, in one
    snapshot (the fold deletes deltas and adds them to rows in one
    transaction): exact at any moment, whatever the folder's lag. Each
    call is counted in the zones the overview defaults to: its business's
    own zone (a business's overview) and its organization's zone, the
    oldest business's (the organization's overview, whatever the zones of
    the other businesses) — one or two rows per key. Why local days in
    those zones and not UTC hours: a UTC hour is not one local hour in a
    zone at :30 or :45 (Asia/Kolkata, Australia/Adelaide, Asia/Kathmandu),
    and a year of UTC hours is 24 times the rows; a local day is exact for
    the requests made by default at one row per day and status. So:
      - whole local days of the range, [lo_day, hi_day), of the businesses
        with rows in the request's zone (analytics_zones): the rollup,
        and the deltas of those businesses in [lo, hi), read like raw
        calls with their sign (index analytics_deltas_range);
      - the partial days at the two edges ([from, lo) and [hi, to)), of
        every business: raw calls, a range of the covering index
        calls_analytics (at most two days of calls);
      - a business without rows in the request's zone (an explicit
        timezone that is neither its zone nor its organization's): raw
        calls of the range, as before the rollup — exact, not faster.
    A local day is taken to be one interval of time [midnight, next
    midnight), midnight as PostgreSQL resolves it (AT TIME ZONE): true of
    every zone whose clocks never go back across midnight. A business's
    zone changing, or its organization's, rebuilds the rows concerned in
    the same transaction (triggers on businesses; the ordering against
    the folder is in 0012's header), so rows are never in a zone that is
    no longer theirs.

    Orders are rolled up too (migration 0013), per organization, UTC day,
    business, status and currency — orders and cents — with the calls'
    write side: an append-only delta log (analytics_order_deltas, by
    statement triggers on orders) folded by the same folder, in the same
    transaction. They are counted over the range only (no day, no zone),
    so order_sets reads the whole UTC days of [from, to) from
    analytics_order_days plus the pending order deltas there, and raw
    orders for the two partial UTC days at the edges (orders_recent).

    An explicit timezone must be a name PostgreSQL lists in
    pg_timezone_names (tenant_timezone_known).
*/
#include "tenant.h"
#include "tenant_analytics.h"
#include "sb/relay.h"

//  ---------------------------------------------------------------------------
//  The statements. Parameters of the overview: $1 organization, $2 from,
//  $3 to (timestamptz text), $4 business or NULL, $5 time zone. Every
//  statement names the organization itself; row-level security is the
//  second wall.

#define S_RESOLVE_SQL                                                                      \
    "WITH t AS (SELECT coalesce ($3::timestamptz, now ()) AS to_ts),"                      \
    " r AS (SELECT coalesce ($2::timestamptz, to_ts - interval '720 hours') AS from_ts,"   \
    "         to_ts FROM t)"                                                               \
    " SELECT from_ts::text, to_ts::text, from_ts < to_ts,"                                 \
    "   to_ts - from_ts <= interval '366 days',"                                           \
    "   (SELECT timezone FROM businesses WHERE organization_id = $1 AND id = $4::uuid),"   \
    "   (SELECT timezone FROM businesses WHERE organization_id = $1"                       \
    "     ORDER BY created_at, id LIMIT 1)"                                                \
    " FROM r"

//  The orders (migration 0013), a part of S_OVERVIEW_SQL: obounds are the
//  whole UTC days of the range, [lo_day, hi_day) — lo the first UTC
//  midnight at or after from, hi the UTC midnight that begins to's day;
//  with no whole day lo = hi = to. order_parts: per status and currency,
//  the orders and cents of the rollup rows of those days, of the pending
//  order deltas in [lo, hi) (with their sign) and of the raw orders in
//  [from, lo) and [hi, to); order_sets sums them as the raw aggregation
//  did (g = 3 the total, 1 per status, 2 per currency; kept and cents
//  from the orders not cancelled).
#define S_ORDER_SETS_SQL                                                                    \
    " obounds AS ("                                                                         \
    "  SELECT CASE WHEN lo_day < hi_day THEN lo_day::timestamp AT TIME ZONE 'UTC'"          \
    "           ELSE $3::timestamptz END AS lo,"                                            \
    "    CASE WHEN lo_day < hi_day THEN hi_day::timestamp AT TIME ZONE 'UTC'"               \
    "      ELSE $3::timestamptz END AS hi, lo_day, hi_day"                                  \
    "  FROM (SELECT CASE WHEN (f::timestamp AT TIME ZONE 'UTC') = $2::timestamptz"          \
    "                 THEN f ELSE f + 1 END AS lo_day,"                                     \
    "          ($3::timestamptz AT TIME ZONE 'UTC')::date AS hi_day"                        \
    "        FROM (SELECT ($2::timestamptz AT TIME ZONE 'UTC')::date AS f) f) d),"          \
    " order_parts AS ("                                                                     \
    "  SELECT status, currency, count (*) AS n, sum (total_cents) AS cents FROM orders"     \
    "  WHERE organization_id = $1 AND created_at >= $2::timestamptz"                        \
    "    AND created_at < (SELECT lo FROM obounds)"                                         \
    "    AND ($4::uuid IS NULL OR business_id = $4::uuid) GROUP BY status, currency"        \
    "  UNION ALL"                                                                           \
    "  SELECT status, currency, count (*), sum (total_cents) FROM orders"                   \
    "  WHERE organization_id = $1 AND created_at >= (SELECT hi FROM obounds)"               \
    "    AND created_at < $3::timestamptz"                                                  \
    "    AND ($4::uuid IS NULL OR business_id = $4::uuid) GROUP BY status, currency"        \
    "  UNION ALL"                                                                           \
    "  SELECT status, currency, sum (sign), sum (sign * total_cents)"                       \
    "  FROM analytics_order_deltas"                                                         \
    "  WHERE organization_id = $1 AND created_at >= (SELECT lo FROM obounds)"               \
    "    AND created_at < (SELECT hi FROM obounds)"                                         \
    "    AND ($4::uuid IS NULL OR business_id = $4::uuid) GROUP BY status, currency"        \
    "  UNION ALL"                                                                           \
    "  SELECT status, currency, sum (orders), sum (cents) FROM analytics_order_days"        \
    "  WHERE organization_id = $1 AND day >= (SELECT lo_day FROM obounds)"                  \
    "    AND day < (SELECT hi_day FROM obounds)"                                            \
    "    AND ($4::uuid IS NULL OR business_id = $4::uuid) GROUP BY status, currency),"      \
    " order_sets AS ("                                                                      \
    "  SELECT GROUPING (status, currency) AS g, status, currency,"                          \
    "    coalesce (sum (n), 0)::bigint AS orders,"                                          \
    "    coalesce (sum (n) FILTER (WHERE status <> 'cancelled'), 0)::bigint AS kept,"       \
    "    coalesce (sum (cents) FILTER (WHERE status <> 'cancelled'), 0) AS cents"           \
    "  FROM order_parts GROUP BY GROUPING SETS ((), (status), (currency))),"

//  The calls. The whole local days of the range, [lo_day, hi_day) — from
//  lo, the first local midnight at or after from, to hi, the local
//  midnight that begins to's day — are read from analytics_days for the
//  businesses with rows in the request's zone; the rest from calls: the
//  two partial days at the edges ([from, lo) and [hi, to), each a range
//  of the covering index calls_analytics) for every business, and
//  [lo, hi) for the businesses without (a scan started only when
//  there is one: the one-time filter on other_ids). With no whole day,
//  lo = hi = to. Each part is aggregated per local day (g = 3: calls,
//  minutes, seconds), per local hour (g = 5) and per status (g = 6), and
//  the union summed per key (a day can come from both parts when
//  businesses are in two zones). The raw innermost subquery is kept from
//  being flattened (OFFSET 0) so that a call's local time is computed
//  once, not once per key, and the groups are hashed. Minutes are
//  ⌈seconds/60⌉ per call, as usage counts them.
#define S_OVERVIEW_SQL                                                                      \
    "WITH bounds AS ("                                                                      \
    "  SELECT CASE WHEN lo_day < hi_day THEN lo_day::timestamp AT TIME ZONE $5::text"       \
    "           ELSE $3::timestamptz END AS lo,"                                            \
    "    CASE WHEN lo_day < hi_day THEN hi_day::timestamp AT TIME ZONE $5::text"            \
    "      ELSE $3::timestamptz END AS hi, lo_day, hi_day,"                                 \
    "    (SELECT array_agg (business_id) FROM analytics_zones WHERE organization_id = $1"   \
    "       AND timezone = $5::text AND ($4::uuid IS NULL OR business_id = $4::uuid))"      \
    "       AS zone_ids,"                                                                   \
    "    (SELECT array_agg (id) FROM businesses b WHERE organization_id = $1"               \
    "       AND ($4::uuid IS NULL OR id = $4::uuid) AND NOT EXISTS (SELECT FROM"            \
    "         analytics_zones z WHERE z.organization_id = $1 AND z.business_id = b.id"      \
    "         AND z.timezone = $5::text)) AS other_ids"                                     \
    "  FROM (SELECT CASE WHEN (f::timestamp AT TIME ZONE $5::text) = $2::timestamptz"      \
    "                 THEN f ELSE f + 1 END AS lo_day,"                                     \
    "          ($3::timestamptz AT TIME ZONE $5::text)::date AS hi_day"                     \
    "        FROM (SELECT ($2::timestamptz AT TIME ZONE $5::text)::date AS f) f) d),"       \
    " raw AS ("                                                                             \
    "  SELECT local::date AS day, date_part ('hour', local)::int AS hour, status, seconds,"  \
    "    n FROM (SELECT started_at AT TIME ZONE $5::text AS local, status,"                 \
    "          duration_seconds AS seconds, 1 AS n FROM calls"                              \
    "        WHERE organization_id = $1 AND started_at >= $2::timestamptz"                  \
    "          AND started_at < (SELECT lo FROM bounds)"                                    \
    "          AND ($4::uuid IS NULL OR business_id = $4::uuid)"                            \
    "        UNION ALL"                                                                     \
    "        SELECT started_at AT TIME ZONE $5::text, status, duration_seconds, 1 FROM calls" \
    "        WHERE organization_id = $1 AND started_at >= (SELECT hi FROM bounds)"          \
    "          AND started_at < $3::timestamptz"                                            \
    "          AND ($4::uuid IS NULL OR business_id = $4::uuid)"                            \
    "        UNION ALL"                                                                     \
    "        SELECT started_at AT TIME ZONE $5::text, status, duration_seconds, 1 FROM calls" \
    "        WHERE (SELECT other_ids IS NOT NULL FROM bounds)"                              \
    "          AND organization_id = $1 AND started_at >= (SELECT lo FROM bounds)"          \
    "          AND started_at < (SELECT hi FROM bounds)"                                    \
    "          AND business_id = ANY ((SELECT other_ids FROM bounds)::uuid[])"              \
    "        UNION ALL"                                                                     \
    "        SELECT started_at AT TIME ZONE $5::text, status, seconds, sign FROM"           \
    "          analytics_deltas"                                                            \
    "        WHERE (SELECT zone_ids IS NOT NULL FROM bounds)"                               \
    "          AND organization_id = $1 AND started_at >= (SELECT lo FROM bounds)"          \
    "          AND started_at < (SELECT hi FROM bounds)"                                    \
    "          AND business_id = ANY ((SELECT zone_ids FROM bounds)::uuid[])"               \
    "        OFFSET 0) l),"                                                                 \
    " rolled AS ("                                                                          \
    "  SELECT day, status, calls, minutes, seconds, hours FROM analytics_days"              \
    "  WHERE (SELECT zone_ids IS NOT NULL FROM bounds) AND organization_id = $1"            \
    "    AND timezone = $5::text"                                                           \
    "    AND day >= (SELECT lo_day FROM bounds) AND day < (SELECT hi_day FROM bounds)"      \
    "    AND business_id = ANY ((SELECT zone_ids FROM bounds)::uuid[])),"                         \
    " rolled_hours AS ("                                                                    \
    "  SELECT ARRAY ["                                                                      \
    "    sum (hours [1]),"  \
    "    sum (hours [2]),"  \
    "    sum (hours [3]),"  \
    "    sum (hours [4]),"  \
    "    sum (hours [5]),"  \
    "    sum (hours [6]),"  \
    "    sum (hours [7]),"  \
    "    sum (hours [8]),"  \
    "    sum (hours [9]),"  \
    "    sum (hours [10]),"  \
    "    sum (hours [11]),"  \
    "    sum (hours [12]),"  \
    "    sum (hours [13]),"  \
    "    sum (hours [14]),"  \
    "    sum (hours [15]),"  \
    "    sum (hours [16]),"  \
    "    sum (hours [17]),"  \
    "    sum (hours [18]),"  \
    "    sum (hours [19]),"  \
    "    sum (hours [20]),"  \
    "    sum (hours [21]),"  \
    "    sum (hours [22]),"  \
    "    sum (hours [23]),"  \
    "    sum (hours [24])"  \
    "    ] AS n FROM rolled),"                                                              \
    " call_sets AS ("                                                                       \
    "  SELECT g, day, hour, status, sum (calls)::bigint AS calls,"                          \
    "    sum (minutes)::bigint AS minutes, sum (seconds)::bigint AS seconds FROM ("          \
    "   SELECT GROUPING (day, hour, status) AS g, day, hour, status, sum (n) AS calls,"     \
    "     sum (n * ((seconds + 59) / 60)) AS minutes, sum (n * seconds) AS seconds"         \
    "   FROM raw GROUP BY GROUPING SETS ((day), (hour), (status))"                          \
    "   UNION ALL"                                                                          \
    "   SELECT 3, day, NULL, NULL, sum (calls), sum (minutes), sum (seconds)"               \
    "   FROM rolled GROUP BY day"                                                           \
    "   UNION ALL"                                                                          \
    "   SELECT 6, NULL, NULL, status, sum (calls), NULL, NULL FROM rolled GROUP BY status"  \
    "   UNION ALL"                                                                          \
    "   SELECT 5, NULL, (h.i - 1)::int, NULL, h.n, NULL, NULL"                              \
    "   FROM rolled_hours r, unnest (r.n) WITH ORDINALITY h (n, i) WHERE h.n > 0) u"        \
    "  GROUP BY g, day, hour, status),"                                                     \
    S_ORDER_SETS_SQL                                                                        \
    " totals AS ("                                                                          \
    "  SELECT coalesce (sum (c.calls), 0)::bigint AS calls,"                                \
    "    coalesce (sum (c.minutes), 0)::bigint AS minutes,"                                 \
    "    coalesce (sum (c.seconds), 0)::bigint AS seconds,"                                 \
    "    (SELECT orders FROM order_sets WHERE g = 3) AS orders"                             \
    "  FROM call_sets c WHERE c.g = 3),"                                                    \
    " days AS ("                                                                            \
    "  SELECT first + i AS day FROM"                                                        \
    "    (SELECT ($2::timestamptz AT TIME ZONE $5::text)::date AS first,"                   \
    "       (($3::timestamptz - interval '1 microsecond') AT TIME ZONE $5::text)::date"     \
    "         AS last) b,"                                                                  \
    "    generate_series (0, last - first) i)"                                              \
    " SELECT " SB_SQL_TS ("$2::timestamptz") " AS \"from\","                                \
    "  " SB_SQL_TS ("$3::timestamptz") " AS \"to\","                                        \
    "  $5::text AS timezone, $4::uuid AS business_id,"                                      \
    "  json_build_object ("                                                                 \
    "   'total', t.calls, 'minutes', t.minutes,"                                            \
    "   'average_duration_seconds',"                                                        \
    "     round (coalesce (t.seconds::numeric / nullif (t.calls, 0), 0), 1),"               \
    "   'by_status', (SELECT json_object_agg (s.status,"                                    \
    "       (SELECT coalesce (sum (calls), 0)::bigint FROM call_sets c"                     \
    "        WHERE c.g = 6 AND c.status = s.status) ORDER BY s.n)"                          \
    "     FROM unnest ('{completed,missed,voicemail,transferred}'::text[])"                 \
    "       WITH ORDINALITY s (status, n)),"                                                \
    "   'by_day', (SELECT json_agg (json_build_object ('date', to_char (d.day, 'YYYY-MM-DD')," \
    "       'calls', coalesce (c.calls, 0), 'minutes', coalesce (c.minutes, 0))"            \
    "       ORDER BY d.day)"                                                                \
    "     FROM days d LEFT JOIN call_sets c ON c.g = 3 AND c.day = d.day)) AS calls,"       \
    "  json_build_object ("                                                                 \
    "   'total', t.orders,"                                                                 \
    "   'by_status', (SELECT json_object_agg (s.status, coalesce (o.orders, 0) ORDER BY s.n)" \
    "     FROM unnest ('{pending,confirmed,fulfilled,cancelled}'::text[])"                  \
    "       WITH ORDINALITY s (status, n)"                                                  \
    "     LEFT JOIN order_sets o ON o.g = 1 AND o.status = s.status),"                      \
    "   'revenue', (SELECT coalesce (json_agg (json_build_object ('currency', currency,"    \
    "       'cents', cents) ORDER BY currency), '[]')"                                      \
    "     FROM order_sets WHERE g = 2 AND kept > 0)) AS orders,"                            \
    "  to_json (round (coalesce (t.orders::numeric / nullif (t.calls, 0), 0), 4))"          \
    "    AS conversion,"                                                                    \
    "  (SELECT coalesce (json_agg (json_build_object ('hour', hour, 'calls', n)"            \
    "     ORDER BY n DESC, hour), '[]')"                                                    \
    "   FROM (SELECT hour, sum (calls)::bigint AS n FROM call_sets WHERE g = 5"             \
    "     GROUP BY hour HAVING sum (calls) > 0 ORDER BY n DESC, hour LIMIT 5) h)"           \
    "    AS busiest_hours"                                                                  \
    " FROM totals t"

//  ---------------------------------------------------------------------------

int
tenant_analytics_overview (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_entitlement_t ent;
    if (sb_ctx_entitlement (ctx, NULL, &ent, reply))
        return 0;
    if (!(ent.features & SB_FEATURE_ANALYTICS))
        return sb_reply_error (reply, 403, SB_E_FEATURE_NOT_IN_PLAN,
                               "analytics is not in this organization's plan");
    const char *org = sb_ctx_head (ctx)->org;
    sb_fields_t fields = { 0 };
    const char *from = sb_arg_timestamp (ctx, args, "from", false, NULL, &fields);
    const char *to = sb_arg_timestamp (ctx, args, "to", false, NULL, &fields);
    const char *business = sb_arg_uuid (ctx, args, "business_id", false, &fields);
    const char *zone = sb_arg_string (ctx, args, "timezone", false, 1, 64, &fields);
    if (zone) {
        bool known;
        if (tenant_timezone_known (sb_ctx_db (ctx), zone, &known))
            return -1;
        if (!known)
            sb_fields_add (&fields, "timezone", "must be an IANA time zone name");
    }
    if (fields.count)
        return sb_reply_fields (reply, &fields);

    const char *resolve_params [] = { org, from, to, business };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx), S_RESOLVE_SQL, 4, resolve_params);
    if (!result) {
        //  A cast refused a time: not expected, since sb_arg_timestamp
        //  hands over normalized UTC times PostgreSQL takes, but if it
        //  happens it is the client's value, though which of the two is
        //  not known. The transaction it aborted is rolled back with the
        //  400.
        if (strncmp (sb_db_sqlstate (sb_ctx_db (ctx)), "22", 2) != 0)
            return -1;
        if (from)
            sb_fields_add (&fields, "from", "must be an RFC 3339 timestamp in range");
        if (to)
            sb_fields_add (&fields, "to", "must be an RFC 3339 timestamp in range");
        if (!fields.count)
            return -1;
        return sb_reply_fields (reply, &fields);
    }
    const char *from_ts = sb_ctx_strndup (ctx, PQgetvalue (result, 0, 0),
                                          (size_t) PQgetlength (result, 0, 0));
    const char *to_ts = sb_ctx_strndup (ctx, PQgetvalue (result, 0, 1),
                                        (size_t) PQgetlength (result, 0, 1));
    bool ordered = PQgetvalue (result, 0, 2) [0] == 't';
    bool within = PQgetvalue (result, 0, 3) [0] == 't';
    bool business_found = !PQgetisnull (result, 0, 4);
    if (!zone) {
        int column = business ? 4 : 5;
        zone = PQgetisnull (result, 0, column)
                       ? "UTC"
                       : sb_ctx_strndup (ctx, PQgetvalue (result, 0, column),
                                         (size_t) PQgetlength (result, 0, column));
    }
    PQclear (result);
    if (!ordered)
        sb_fields_add (&fields, "from", "must be before to");
    else
    if (!within)
        sb_fields_add (&fields, "from", "must be at most 366 days before to");
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    if (business && !business_found)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such business");

    const char *params [] = { org, from_ts, to_ts, business, zone };
    result = sb_db_exec (sb_ctx_db (ctx), S_OVERVIEW_SQL, 5, params);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    if (rows != 1) {
        PQclear (result);
        return sb_error ("analytics overview: %d rows instead of one", rows);
    }
    sb_db_pack_row (sb_reply_body (reply, 200), result, 0);
    PQclear (result);
    return 0;
}

//  ---------------------------------------------------------------------------
//  analytics.verify: the rollup plus the deltas not folded yet against the
//  calls, in one statement (one snapshot: a call and its delta are written
//  in one transaction, a fold moves deltas into rows in one). Both sides
//  come from the view analytics_days_by_source (migration 0012): source
//  'call' is expected, the rows plus source 'delta' is actual; keys that
//  add up to nothing are left out. With repair, the businesses with a
//  difference get their rows again (analytics_rebuild: calls − pending).

#define S_VERIFY_SQL                                                                        \
    "WITH s AS (SELECT * FROM analytics_days_by_source WHERE organization_id = $1::uuid),"  \
    " e AS (SELECT * FROM s WHERE source = 'call'),"                                        \
    " p AS (SELECT * FROM s WHERE source = 'delta'),"                                       \
    " r AS (SELECT * FROM analytics_days WHERE organization_id = $1::uuid),"                \
    " a AS (SELECT * FROM (SELECT organization_id, timezone, day, business_id, status,"     \
    "         coalesce (r.calls, 0) + coalesce (p.calls, 0) AS calls,"                      \
    "         coalesce (r.minutes, 0) + coalesce (p.minutes, 0) AS minutes,"                \
    "         coalesce (r.seconds, 0) + coalesce (p.seconds, 0) AS seconds,"                \
    "         analytics_hours_add (coalesce (r.hours, array_fill (0, ARRAY [24])),"         \
    "           coalesce (p.hours, array_fill (0, ARRAY [24])), 1) AS hours"                \
    "       FROM r FULL JOIN p USING (organization_id, timezone, day, business_id, status)"  \
    "       ) n WHERE (calls, minutes, seconds, hours)"                                     \
    "         IS DISTINCT FROM (0, 0, 0, array_fill (0, ARRAY [24]))),"                     \
    " d AS (SELECT organization_id, timezone, day::text AS day, business_id, status,"       \
    "         CASE WHEN e.calls IS NULL THEN NULL ELSE json_build_object ('calls', e.calls,"  \
    "           'minutes', e.minutes, 'seconds', e.seconds, 'hours', e.hours) END"          \
    "           AS expected,"                                                               \
    "         CASE WHEN a.calls IS NULL THEN NULL ELSE json_build_object ('calls', a.calls,"  \
    "           'minutes', a.minutes, 'seconds', a.seconds, 'hours', a.hours) END"          \
    "           AS actual"                                                                  \
    "       FROM e FULL JOIN a USING (organization_id, timezone, day, business_id, status)" \
    "       WHERE (e.calls, e.minutes, e.seconds, e.hours)"                                 \
    "             IS DISTINCT FROM (a.calls, a.minutes, a.seconds, a.hours)),"              \
    " x AS (SELECT sum (analytics_rebuild (organization_id, business_id))::bigint AS n"     \
    "       FROM (SELECT DISTINCT organization_id, business_id FROM d) b WHERE $2::boolean)" \
    " SELECT (SELECT count (*) FROM d) AS mismatches, (SELECT count (*) FROM r) AS rows,"   \
    "  (SELECT count (*) FROM analytics_deltas WHERE organization_id = $1::uuid)"           \
    "    AS pending,"                                                                       \
    "  (SELECT count (*) FROM calls WHERE organization_id = $1::uuid) AS calls,"            \
    "  (SELECT coalesce (json_agg (x), '[]') FROM (SELECT * FROM d"                         \
    "     ORDER BY organization_id, timezone, day, business_id, status LIMIT 10) x)"        \
    "    AS examples,"                                                                      \
    "  (SELECT n FROM x) AS repaired"

//  The orders' part (migration 0013), the column "orders" of the answer:
//  the same comparison — the view analytics_order_days_by_source, source
//  'order' expected, the rows plus source 'delta' actual — and with repair
//  the businesses with a difference rebuilt (analytics_order_rebuild).
//  Joined to S_VERIFY_SQL in one statement, so one snapshot.
#define S_VERIFY_ORDERS_SQL                                                                 \
    "WITH s AS (SELECT * FROM analytics_order_days_by_source"                               \
    "           WHERE organization_id = $1::uuid),"                                         \
    " e AS (SELECT * FROM s WHERE source = 'order'),"                                       \
    " p AS (SELECT * FROM s WHERE source = 'delta'),"                                       \
    " r AS (SELECT * FROM analytics_order_days WHERE organization_id = $1::uuid),"          \
    " a AS (SELECT * FROM (SELECT organization_id, day, business_id, status, currency,"     \
    "         coalesce (r.orders, 0) + coalesce (p.orders, 0) AS orders,"                   \
    "         coalesce (r.cents, 0) + coalesce (p.cents, 0) AS cents"                       \
    "       FROM r FULL JOIN p USING (organization_id, day, business_id, status, currency)" \
    "       ) n WHERE (orders, cents) <> (0, 0)),"                                          \
    " d AS (SELECT organization_id, day::text AS day, business_id, status, currency,"       \
    "         CASE WHEN e.orders IS NULL THEN NULL"                                         \
    "           ELSE json_build_object ('orders', e.orders, 'cents', e.cents) END"          \
    "           AS expected,"                                                               \
    "         CASE WHEN a.orders IS NULL THEN NULL"                                         \
    "           ELSE json_build_object ('orders', a.orders, 'cents', a.cents) END"          \
    "           AS actual"                                                                  \
    "       FROM e FULL JOIN a USING (organization_id, day, business_id, status, currency)" \
    "       WHERE (e.orders, e.cents) IS DISTINCT FROM (a.orders, a.cents)),"               \
    " x AS (SELECT sum (analytics_order_rebuild (organization_id, business_id))::bigint"    \
    "         AS n"                                                                         \
    "       FROM (SELECT DISTINCT organization_id, business_id FROM d) b WHERE $2::boolean)" \
    " SELECT json_build_object ('mismatches', (SELECT count (*) FROM d),"                   \
    "   'rows', (SELECT count (*) FROM r),"                                                 \
    "   'pending', (SELECT count (*) FROM analytics_order_deltas"                           \
    "     WHERE organization_id = $1::uuid),"                                               \
    "   'orders', (SELECT count (*) FROM orders WHERE organization_id = $1::uuid),"         \
    "   'examples', (SELECT coalesce (json_agg (x), '[]') FROM (SELECT * FROM d"            \
    "     ORDER BY organization_id, day, business_id, status, currency LIMIT 10) x),"       \
    "   'repaired', (SELECT n FROM x)) AS orders"

int
tenant_analytics_verify (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = sb_arg_uuid (ctx, args, "org", true, &fields);
    bool repair = false;
    sb_arg_bool (args, "repair", &repair, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    //  One organization: the policies of calls and businesses see one.
    if (sb_db_set_org (sb_ctx_db (ctx), org))
        return -1;
    const char *params [] = { org, repair ? "true" : "false" };
    return sb_db_pack_query_row (sb_ctx_db (ctx), sb_reply_body (reply, 200),
                                 "SELECT v.*, o.orders FROM (" S_VERIFY_SQL ") v, ("
                                 S_VERIFY_ORDERS_SQL ") o",
                                 2, params);
}

//  ---------------------------------------------------------------------------
//  The folder: an sb_relay without bus (its own thread and connection),
//  every S_FOLD_IDLE_MS, moves the deltas into analytics_days — up to
//  S_FOLD_BATCH in one transaction (analytics_fold, migration 0012), again
//  at once while batches come full: so it folds when a batch's worth has
//  piled up or 5 s have passed, whichever comes first. One fold at a time
//  across the workers: the others' try-lock fails and they sleep. A fold
//  that fails (the database) is rolled back, its deltas stay, and the relay
//  backs off and tries again; the overview counts the deltas meanwhile, so
//  it stays exact, only slower as they pile up. The orders' deltas go in
//  the same transaction, after the calls' (analytics_order_fold, migration
//  0013, up to S_FOLD_BATCH too): a batch full of either folds again.
//
//  Why 5 s and not 1: a fold costs per key it touches more than per delta,
//  and live deltas share their keys (today, a business, a status): the
//  same 100,000 live deltas of 1,000 businesses cost the backend 2.1 s of
//  CPU folded 2,000 at a time (one second of POST /v1/calls at 2,000 a
//  second) and 0.6–0.7 s folded 10,000 at a time (measured 2026-12-03,
//  twice each, alternated; 0012's header has the rest). The overview reads
//  at most 5 s more of pending deltas, through their index.
//  Per second of the backend's CPU the fold moves 150,000–180,000 live
//  deltas and 40,000 of a bulk load that makes a row of nearly every
//  delta (it was 9,000–14,000 for 1,000 businesses); a benchmark of
//  POST /v1/calls measures the same with or without it (0012's header).

#define S_FOLD_BATCH    20000
#define S_FOLD_IDLE_MS  5000

static sb_relay_t *s_folder;

static int
s_fold_step (sb_db_t *db, sb_client_t *client, void *arg)
{
    (void) client;
    (void) arg;
    if (sb_db_begin (db))
        return -1;
    char batch [16];
    snprintf (batch, sizeof (batch), "%d", S_FOLD_BATCH);
    const char *params [] = { batch };
    PGresult *result = sb_db_all_orgs (db) ? NULL
                       : sb_db_exec (db, "SELECT analytics_fold ($1::int)", 1, params);
    if (!result) {
        sb_db_rollback (db);
        return -1;
    }
    int folded = atoi (PQgetvalue (result, 0, 0));
    PQclear (result);
    //  The orders' deltas (migration 0013), in the same transaction under
    //  the lock the calls' fold took (skipped when it did not get it).
    int orders_folded = 0;
    if (folded >= 0) {
        result = sb_db_exec (db, "SELECT analytics_order_fold ($1::int)", 1, params);
        if (!result) {
            sb_db_rollback (db);
            return -1;
        }
        orders_folded = atoi (PQgetvalue (result, 0, 0));
        PQclear (result);
    }
    if (sb_db_commit (db)) {
        sb_db_rollback (db);
        return -1;
    }
    return folded == S_FOLD_BATCH || orders_folded == S_FOLD_BATCH ? 1 : 0;
}

int
tenant_analytics_start (const sb_config_t *config)
{
    sb_relay_spec_t spec = { .name = "analytics folder", .schema = "tenant",
                             .step = s_fold_step, .idle_ms = S_FOLD_IDLE_MS,
                             .without_bus = true };
    s_folder = sb_relay_new (config, &spec);
    return s_folder ? 0 : -1;
}

void
tenant_analytics_stop (void)
{
    sb_relay_destroy (&s_folder);
}
