/*  usage_series.c — usage.series, GET /v1/usage: one metric's usage over
    time, for charts.

    ?metric&from&to&granularity=hour|day|month answers {metric,
    granularity, from, to, points: [{t, value}]}: one point per UTC bucket
    from the bucket holding `from` up to the last one starting before `to`,
    zeros included (generate_series), each the sum of the quantities of the
    events with occurred_at in that bucket and in [from, to). So the points
    add up to exactly the usage of [from, to).

    The sums come from the hourly sums (table hours, kept by the statement
    that stores events, migration 0008) for the whole UTC hours of the
    range, and from the raw events for the partial hours at its edges
    (from and to not on the hour): the cost grows with the range's hours
    and the edges' events, not with the organization's events. The edges
    are read through the BRIN index on occurred_at alone, the organization
    filtered after (a subquery with OFFSET 0): the statement is prepared,
    and its generic plan, not knowing how many events the organization
    has, otherwise ANDed the BRIN with the key's index over the
    organization — 130 ms at a million events (make bench-scale) for two
    partial hours that the BRIN alone reads in about 1 ms. Raw events
    older than the retention (SWITCHBOARD_USAGE_RETENTION_DAYS) are gone:
    a partial hour at an edge older than that counts nothing, whole hours
    always count (their sums are kept).

    Defaults: granularity day; to now; from 24 hours, 30 days or 12 months
    before `to`. A range holds at most 744 hour, 400 day or 120 month
    buckets (a month of hours, a year and a month of days, ten years of
    months); more is 400 with the field named. The bucket count is computed
    here, before PostgreSQL is asked anything. A bucket's sum is numeric
    and answered clamped to 2^63 - 1: a month of one metric is at most its
    counter's cap (usage.h), far below, but events stored before the caps
    existed may add up to more, and a cast must not fail the request.
*/
#include "usage.h"

#define S_HOUR_US (INT64_C (3600) * 1000000)
#define S_DAY_US  (INT64_C (86400) * 1000000)

//  floor (a / b) for b > 0.
static int64_t
s_floor_div (int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && a < 0);
}

//  The month index (year * 12 + month - 1) of t, and whether t is the
//  first instant of its month.
static int64_t
s_month (int64_t t, bool *at_start)
{
    int64_t days = s_floor_div (t, S_DAY_US);
    int64_t year;
    int month, day;
    sb_timestamp_civil_from_days (days, &year, &month, &day);
    *at_start = day == 1 && t == days * S_DAY_US;
    return year * 12 + month - 1;
}

//  Buckets of granularity in [from, to), counting the one holding from.
static int64_t
s_buckets (const char *granularity, int64_t from, int64_t to)
{
    if (streq (granularity, "month")) {
        bool from_start, to_start;
        int64_t first = s_month (from, &from_start), last = s_month (to, &to_start);
        return last - first + (to_start ? 0 : 1);
    }
    int64_t step = streq (granularity, "hour") ? S_HOUR_US : S_DAY_US;
    int64_t start = s_floor_div (from, step) * step;
    return s_floor_div (to - start + step - 1, step);
}

int
usage_series (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = usage_org (ctx, args, &fields);
    const char *metric = sb_arg_string (ctx, args, "metric", true, 1, 63, &fields);
    if (metric && !usage_metric_valid (metric))
        sb_fields_add (&fields, "metric", "must match ^[a-z][a-z0-9_]{0,62}$");
    const char *granularity = sb_arg_string (ctx, args, "granularity", false, 1, 8, &fields);
    if (!granularity && !sb_fields_has (&fields, "granularity"))
        granularity = "day";
    if (granularity && !streq (granularity, "hour") && !streq (granularity, "day")
        && !streq (granularity, "month")) {
        sb_fields_add (&fields, "granularity", "must be hour, day or month");
        granularity = NULL;
    }
    int64_t from = 0, to = sb_now_ms () * 1000;
    const char *from_text = sb_arg_timestamp (ctx, args, "from", false, &from, &fields);
    const char *to_text = sb_arg_timestamp (ctx, args, "to", false, &to, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);

    char from_buf [SB_TIMESTAMP_SIZE], to_buf [SB_TIMESTAMP_SIZE];
    if (!to_text) {
        sb_timestamp_format (to, to_buf);
        to_text = to_buf;
    }
    if (!from_text) {
        if (streq (granularity, "month")) {
            //  Twelve months back, same day and time (the day clamped to
            //  the earlier month's length).
            int64_t days = s_floor_div (to, S_DAY_US), year;
            int month, day;
            sb_timestamp_civil_from_days (days, &year, &month, &day);
            int last = sb_timestamp_month_days (year - 1, month);
            from = sb_timestamp_days_from_civil (year - 1, month, day < last ? day : last) * S_DAY_US
                   + (to - days * S_DAY_US);
        }
        else
            from = to - (streq (granularity, "hour") ? S_DAY_US : 30 * S_DAY_US);
        sb_timestamp_format (from, from_buf);
        from_text = from_buf;
        //  A `to` in the first year of the calendar leaves the default
        //  before it, which PostgreSQL would refuse.
        if (sb_timestamp_parse (from_text, NULL)) {
            sb_fields_add (&fields, "from", "is required when to is this early");
            return sb_reply_fields (reply, &fields);
        }
    }
    if (from >= to)
        sb_fields_add (&fields, "to", "must be after from");
    else {
        int64_t most = streq (granularity, "hour") ? 744 : streq (granularity, "day") ? 400 : 120;
        int64_t buckets = s_buckets (granularity, from, to);
        if (buckets > most)
            sb_fields_add (&fields, "to",
                           "the range holds %lld %s buckets; at most %lld are allowed",
                           (long long) buckets, granularity, (long long) most);
    }
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    if (usage_act_as (ctx, org))
        return usage_reply_db_error (ctx, reply);

    //  The whole hours [whole_from, whole_to) from the hourly sums; the
    //  partial hours at the edges, [from, edge_end) and [edge_start, to),
    //  from the raw events (through the BRIN index on occurred_at). With
    //  from and to in one hour or in adjacent ones there is no whole hour
    //  and the two edges cover [from, to) between them.
    int64_t whole_from = s_floor_div (from + S_HOUR_US - 1, S_HOUR_US) * S_HOUR_US;
    int64_t whole_to = s_floor_div (to, S_HOUR_US) * S_HOUR_US;
    int64_t edge_end = whole_from < to ? whole_from : to;
    int64_t edge_start = whole_to > whole_from ? whole_to : whole_from;
    char whole_from_text [SB_TIMESTAMP_SIZE], whole_to_text [SB_TIMESTAMP_SIZE];
    char edge_end_text [SB_TIMESTAMP_SIZE], edge_start_text [SB_TIMESTAMP_SIZE];
    sb_timestamp_format (whole_from, whole_from_text);
    sb_timestamp_format (whole_to, whole_to_text);
    sb_timestamp_format (edge_end, edge_end_text);
    sb_timestamp_format (edge_start, edge_start_text);
    const char *params [] = { org,           metric,          from_text,       to_text,
                              granularity,   whole_from_text, whole_to_text,   edge_end_text,
                              edge_start_text };
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        "WITH parts AS ("
        "  SELECT date_trunc ($5::text, h.hour) AS t, h.quantity AS value"
        "    FROM hours AS h"
        "   WHERE h.organization_id = $1::uuid AND h.metric = $2::text"
        "     AND h.hour >= $6::timestamptz AT TIME ZONE 'UTC'"
        "     AND h.hour < $7::timestamptz AT TIME ZONE 'UTC'"
        "  UNION ALL"
        "  SELECT date_trunc ($5::text, e.occurred_at AT TIME ZONE 'UTC'), e.quantity"
        "    FROM (SELECT organization_id, metric, occurred_at, quantity FROM events"
        "           WHERE (occurred_at >= $3::timestamptz AND occurred_at < $8::timestamptz)"
        "              OR (occurred_at >= $9::timestamptz AND occurred_at < $4::timestamptz)"
        "          OFFSET 0) AS e"
        "   WHERE e.organization_id = $1::uuid AND e.metric = $2::text"
        "), e AS ("
        "  SELECT t, sum (value) AS value FROM parts GROUP BY 1"
        ")"
        "SELECT to_char (s.t, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS t,"
        "       least (coalesce (e.value, 0), 9223372036854775807)::bigint AS value"
        "  FROM generate_series (date_trunc ($5::text, $3::timestamptz AT TIME ZONE 'UTC'),"
        "                        $4::timestamptz AT TIME ZONE 'UTC' - interval '1 microsecond',"
        "                        ('1 ' || $5::text)::interval) AS s (t)"
        "  LEFT JOIN e ON e.t = s.t"
        " ORDER BY s.t",
        9, params);
    if (!result)
        return usage_reply_db_error (ctx, reply);
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 5);
    sb_mpk_pack_kv_str (pk, "metric", metric);
    sb_mpk_pack_kv_str (pk, "granularity", granularity);
    sb_mpk_pack_kv_str (pk, "from", from_text);
    sb_mpk_pack_kv_str (pk, "to", to_text);
    sb_mpk_pack_str (pk, "points");
    sb_db_pack_rows (pk, result);
    PQclear (result);
    return 0;
}

void
usage_series_test (bool verbose)
{
    (void) verbose;
    int64_t from = 0, to = 0;
    //  10:30 to 13:15: the hours 10, 11, 12 and 13.
    SB_CHECK (!sb_timestamp_parse ("2026-03-01T10:30:00Z", &from)
              && !sb_timestamp_parse ("2026-03-01T13:15:00Z", &to));
    SB_CHECK (s_buckets ("hour", from, to) == 4);
    SB_CHECK (s_buckets ("day", from, to) == 1);
    SB_CHECK (s_buckets ("month", from, to) == 1);
    //  Exactly on boundaries: to is excluded.
    SB_CHECK (!sb_timestamp_parse ("2026-01-15T00:00:00Z", &from)
              && !sb_timestamp_parse ("2026-03-01T00:00:00Z", &to));
    SB_CHECK (s_buckets ("month", from, to) == 2);
    SB_CHECK (s_buckets ("month", from, to + 1) == 3);
    SB_CHECK (s_buckets ("day", from, to) == 45);
    SB_CHECK (s_buckets ("hour", from, to) == 45 * 24);
    //  An offset moves the instant, and so the UTC bucket.
    SB_CHECK (!sb_timestamp_parse ("2026-01-01T00:30:00+01:00", &from)
              && !sb_timestamp_parse ("2026-01-01T00:00:00Z", &to));
    SB_CHECK (s_buckets ("month", from, to) == 1);      //  December 2025
    SB_CHECK (s_buckets ("hour", from, to) == 1);
    //  Before 1970 and across it.
    SB_CHECK (!sb_timestamp_parse ("1969-12-31T23:59:59.5Z", &from)
              && !sb_timestamp_parse ("1970-01-01T01:00:00Z", &to));
    SB_CHECK (s_buckets ("hour", from, to) == 2);
    SB_CHECK (s_buckets ("day", from, to) == 2);
    SB_CHECK (s_buckets ("month", from, to) == 2);
    SB_CHECK (s_floor_div (-1, 10) == -1 && s_floor_div (-10, 10) == -1 && s_floor_div (9, 10) == 0);
    char text [SB_TIMESTAMP_SIZE];
    sb_timestamp_format (from, text);
    SB_CHECK (streq (text, "1969-12-31T23:59:59.500000Z"));
    SB_CHECK (!sb_timestamp_parse ("2024-02-29T12:00:00.000001Z", &to));
    sb_timestamp_format (to, text);
    SB_CHECK (streq (text, "2024-02-29T12:00:00.000001Z"));
}
