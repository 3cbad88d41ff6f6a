/*  tenant_analytics.c — the analytics overview: an organization's calls and
    orders over a time range, in a time zone.

    The work is PostgreSQL's, in two statements. The first settles the
    arguments: the range (defaults: to = now, from = to − 30 × 24 hours;
    echoed to the microsecond, so the range echoed is the range counted),
    whether it is ordered and at most 366 days long, and the time zones to fall
    back on — the business's, else the organization's oldest business's,
    else UTC. The second reads each table once — calls in [from, to) by
    started_at, orders by created_at, each a range of one organization in
    an index — and aggregates with GROUPING SETS (calls per local day and
    per local hour and status; orders per status and per currency), then
    shapes the JSON the client receives: every local day of the range with
    zeros, the four statuses of each kind, revenue per currency from orders
    not cancelled, and the five busiest local hours.

    An explicit timezone must be a name PostgreSQL lists in
    pg_timezone_names (tenant_timezone_known).
*/
#include "tenant.h"
#include "tenant_analytics.h"

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

//  Calls are grouped once, by GROUPING SETS: per local day (GROUPING = 3,
//  the bits of the columns not grouped by: hour and status) with minutes and
//  seconds, and per local hour and status (GROUPING = 4); totals, statuses
//  and hours are sums of those few rows. (Two hash tables per call instead
//  of four for totals, days, hours and statuses: some 15% less time.) The
//  innermost subquery is kept from being flattened (OFFSET 0) so that a
//  call's local time is computed once, not once per key, and so that the
//  planner hashes the groups (it cannot estimate their number from
//  started_at's and would sort every call). Orders: GROUPING (status,
//  currency) is 3 for the totals, 1 per status, 2 per currency. Minutes
//  are ⌈seconds/60⌉ per call, as usage counts them.
#define S_OVERVIEW_SQL                                                                      \
    "WITH call_sets AS ("                                                                   \
    "  SELECT GROUPING (day, hour, status) AS g, day, hour, status, count (*) AS calls,"    \
    "    sum ((seconds + 59) / 60) AS minutes, sum (seconds) AS seconds"                    \
    "  FROM (SELECT local::date AS day, date_part ('hour', local)::int AS hour,"            \
    "          status, seconds"                                                             \
    "        FROM (SELECT started_at AT TIME ZONE $5::text AS local, status,"               \
    "                duration_seconds AS seconds"                                           \
    "              FROM calls WHERE organization_id = $1"                                   \
    "                AND started_at >= $2::timestamptz AND started_at < $3::timestamptz"    \
    "                AND ($4::uuid IS NULL OR business_id = $4::uuid)"                      \
    "              OFFSET 0) l) c"                                                          \
    "  GROUP BY GROUPING SETS ((day), (hour, status))),"                                    \
    " order_sets AS ("                                                                      \
    "  SELECT GROUPING (status, currency) AS g, status, currency, count (*) AS orders,"     \
    "    count (*) FILTER (WHERE status <> 'cancelled') AS kept,"                           \
    "    coalesce (sum (total_cents) FILTER (WHERE status <> 'cancelled'), 0) AS cents"     \
    "  FROM orders WHERE organization_id = $1"                                              \
    "    AND created_at >= $2::timestamptz AND created_at < $3::timestamptz"                \
    "    AND ($4::uuid IS NULL OR business_id = $4::uuid)"                                  \
    "  GROUP BY GROUPING SETS ((), (status), (currency))),"                                 \
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
    "        WHERE c.g = 4 AND c.status = s.status) ORDER BY s.n)"                          \
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
    "   FROM (SELECT hour, sum (calls)::bigint AS n FROM call_sets WHERE g = 4"             \
    "     GROUP BY hour ORDER BY n DESC, hour LIMIT 5) h) AS busiest_hours"                 \
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
    const char *timezone = sb_arg_string (ctx, args, "timezone", false, 1, 64, &fields);
    if (timezone) {
        bool known;
        if (tenant_timezone_known (sb_ctx_db (ctx), timezone, &known))
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
    if (!timezone) {
        int column = business ? 4 : 5;
        timezone = PQgetisnull (result, 0, column)
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

    const char *params [] = { org, from_ts, to_ts, business, timezone };
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
