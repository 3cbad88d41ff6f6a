/*  usage_common.c — what usage-svc's handlers share: metric names and
    timestamps checked strictly enough that PostgreSQL never refuses what we
    pass on (an SQL error aborts the request's transaction), calendar
    arithmetic for the series' buckets, the organization a request acts
    for, database failures turned into answers, and the plan catalogue.
*/
#include "usage.h"

static sb_plans_t *s_plans;

bool
usage_metric_valid (const char *metric)
{
    if (!metric || metric [0] < 'a' || metric [0] > 'z')
        return false;
    size_t len = 1;
    for (const char *c = metric + 1; *c; c++, len++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
            return false;
    return len <= 63;
}

//  Reads width decimal digits; -1 when one is not a digit.
static int
s_digits (const char *s, int width)
{
    int n = 0;
    for (int i = 0; i < width; i++) {
        if (s [i] < '0' || s [i] > '9')
            return -1;
        n = n * 10 + (s [i] - '0');
    }
    return n;
}

int64_t
usage_days_from_civil (int64_t year, int month, int day)
{
    //  Years start in March, so that the leap day is the last of its year;
    //  400-year eras repeat exactly (146097 days).
    year -= month <= 2;
    int64_t era = (year >= 0 ? year : year - 399) / 400;
    int64_t year_of_era = year - era * 400;
    int64_t day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468;
}

void
usage_civil_from_days (int64_t days, int64_t *year, int *month, int *day)
{
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t day_of_era = days - era * 146097;
    int64_t year_of_era
        = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int64_t shifted_month = (5 * day_of_year + 2) / 153;
    *day = (int) (day_of_year - (153 * shifted_month + 2) / 5 + 1);
    *month = (int) (shifted_month < 10 ? shifted_month + 3 : shifted_month - 9);
    *year = year_of_era + era * 400 + (*month <= 2);
}

bool
usage_rfc3339 (const char *s, int64_t *usec)
{
    if (!s)
        return false;
    size_t len = strlen (s);
    if (len < 20 || len > 40)
        return false;
    int year = s_digits (s, 4), month = s_digits (s + 5, 2), day = s_digits (s + 8, 2);
    int hour = s_digits (s + 11, 2), minute = s_digits (s + 14, 2), second = s_digits (s + 17, 2);
    if (s [4] != '-' || s [7] != '-' || (s [10] != 'T' && s [10] != 't') || s [13] != ':'
        || s [16] != ':' || year < 1 || month < 1 || month > 12 || day < 1 || hour < 0
        || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59)
        return false;
    static const int month_days [] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > month_days [month - 1] + (month == 2 && leap))
        return false;
    const char *p = s + 19;
    int64_t fraction = 0;
    if (*p == '.') {
        size_t digits = strspn (p + 1, "0123456789");
        if (digits < 1 || digits > 9)
            return false;
        for (size_t i = 0; i < 6; i++)
            fraction = fraction * 10 + (i < digits ? p [1 + i] - '0' : 0);
        p += 1 + digits;
    }
    int offset = 0;                 //  seconds east of UTC
    if ((*p == 'Z' || *p == 'z') && p [1] == 0)
        offset = 0;
    else
    if ((*p == '+' || *p == '-') && strlen (p) == 6 && p [3] == ':') {
        int oh = s_digits (p + 1, 2), om = s_digits (p + 4, 2);
        if (oh < 0 || oh > 15 || om < 0 || om > 59)
            return false;
        offset = (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    }
    else
        return false;
    if (usec) {
        int64_t seconds = usage_days_from_civil (year, month, day) * 86400 + hour * 3600
                          + minute * 60 + second - offset;
        *usec = seconds * 1000000 + fraction;
    }
    return true;
}

const char *
usage_org (sb_ctx_t *ctx, const msgpack_object *args, sb_fields_t *fields)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    const char *org = head->org;
    if (head->role == SB_ROLE_SERVICE) {
        const char *given = sb_arg_string (ctx, args, "org", false, 36, 36, fields);
        if (given)
            org = given;
        else
        if (sb_fields_has (fields, "org"))
            return NULL;
    }
    if (!*org) {
        sb_fields_add (fields, "org", "is required");
        return NULL;
    }
    if (!sb_is_uuid (org)) {
        sb_fields_add (fields, "org", "must be a UUID");
        return NULL;
    }
    char *lower = sb_ctx_strndup (ctx, org, 36);
    for (char *c = lower; *c; c++)
        *c = (char) tolower ((unsigned char) *c);
    return lower;
}

int
usage_act_as (sb_ctx_t *ctx, const char *org)
{
    if (sb_ctx_head (ctx)->role != SB_ROLE_SERVICE)
        return 0;
    return sb_db_set_org (sb_ctx_db (ctx), org);
}

bool
usage_arg_count (const msgpack_object *args, const char *name, bool required, int64_t min,
                 int64_t max, int64_t *value, sb_fields_t *fields)
{
    const msgpack_object *obj = sb_mpk_get (args, name);
    if (!obj || obj->type == MSGPACK_OBJECT_NIL) {
        if (required)
            sb_fields_add (fields, name, "is required");
        return false;
    }
    int64_t n;
    if (sb_mpk_int (obj, &n) || n < min || n > max) {
        sb_fields_add (fields, name, "must be an integer from %lld to %lld", (long long) min,
                       (long long) max);
        return false;
    }
    *value = n;
    return true;
}

int
usage_reply_db_error (sb_ctx_t *ctx, sb_reply_t *reply)
{
    const char *state = sb_db_sqlstate (sb_ctx_db (ctx));
    if (strncmp (state, "22", 2) == 0 || strncmp (state, "23", 2) == 0)
        return sb_reply_error (reply, 400, SB_E_INVALID_REQUEST,
                               "a value was refused by the database");
    if (strncmp (state, "40", 2) == 0 || strncmp (state, "08", 2) == 0
        || strncmp (state, "55P03", 5) == 0 || strncmp (state, "57", 2) == 0)
        return sb_reply_error (reply, 503, SB_E_SERVICE_UNAVAILABLE,
                               "the database is busy or unavailable: try again");
    return -1;
}

int
usage_reply_overflow (sb_reply_t *reply, const char *what, const char *counter)
{
    char message [256];
    snprintf (message, sizeof (message),
              "%s would take the usage counter %s past %lld, the most one metric can count in "
              "a month", what, counter, (long long) USAGE_MAX_COUNTER);
    msgpack_packer *pk = sb_reply_error_extra (reply, 422, SB_E_USAGE_OVERFLOW, message, 1);
    sb_mpk_pack_kv_int (pk, "limit", USAGE_MAX_COUNTER);
    return 0;
}

int
usage_all_orgs (sb_ctx_t *ctx)
{
    return sb_db_run (sb_ctx_db (ctx), "SELECT set_config ('switchboard.all_orgs', 'on', true)", 0,
                      NULL);
}

int
usage_plans_start (const sb_config_t *config)
{
    char why [256];
    s_plans = sb_plans_load (config->plans_file, why, sizeof (why));
    if (!s_plans)
        return sb_error ("cannot load the plan catalogue%s%s: %s",
                         config->plans_file ? " " : "",
                         config->plans_file ? config->plans_file : "", why);
    return 0;
}

void
usage_plans_stop (void)
{
    sb_plans_destroy (&s_plans);
}

int64_t
usage_limit (const char *org, const char *metric)
{
    const sb_plan_t *plan = s_plans ? sb_plans_for_org (s_plans, org) : NULL;
    if (plan && streq (metric, "calls"))
        return plan->calls_per_month < 0 ? -1 : plan->calls_per_month;
    return -1;
}

const char *
usage_plan_id (const char *org)
{
    const sb_plan_t *plan = s_plans ? sb_plans_for_org (s_plans, org) : NULL;
    return plan ? plan->id : NULL;
}

void
usage_common_test (bool verbose)
{
    (void) verbose;
    SB_CHECK (usage_metric_valid ("calls"));
    SB_CHECK (usage_metric_valid ("call_minutes"));
    SB_CHECK (usage_metric_valid ("a"));
    SB_CHECK (usage_metric_valid ("x9_"));
    SB_CHECK (!usage_metric_valid (""));
    SB_CHECK (!usage_metric_valid (NULL));
    SB_CHECK (!usage_metric_valid ("9calls"));
    SB_CHECK (!usage_metric_valid ("_calls"));
    SB_CHECK (!usage_metric_valid ("Calls"));
    SB_CHECK (!usage_metric_valid ("calls-per-day"));
    SB_CHECK (!usage_metric_valid ("calls "));
    char name [80];
    memset (name, 'a', 63);
    name [63] = 0;
    SB_CHECK (usage_metric_valid (name));
    name [63] = 'a';
    name [64] = 0;
    SB_CHECK (!usage_metric_valid (name));

    int64_t t = 0;
    SB_CHECK (usage_rfc3339 ("1970-01-01T00:00:00Z", &t) && t == 0);
    SB_CHECK (usage_rfc3339 ("1970-01-01T00:00:01.5Z", &t) && t == 1500000);
    SB_CHECK (usage_rfc3339 ("1970-01-01T01:00:00+01:00", &t) && t == 0);
    SB_CHECK (usage_rfc3339 ("1969-12-31T23:00:00-01:00", &t) && t == 0);
    SB_CHECK (usage_rfc3339 ("2026-11-25T10:00:00.123456789Z", &t)
              && t == INT64_C (1795600800) * 1000000 + 123456);
    SB_CHECK (usage_rfc3339 ("2024-02-29T23:59:59+05:30", NULL));
    SB_CHECK (usage_rfc3339 ("0001-01-01T00:00:00Z", NULL));
    SB_CHECK (!usage_rfc3339 ("0000-01-01T00:00:00Z", NULL));
    SB_CHECK (!usage_rfc3339 ("2023-02-29T00:00:00Z", NULL));
    SB_CHECK (!usage_rfc3339 ("2026-13-01T00:00:00Z", NULL));
    SB_CHECK (!usage_rfc3339 ("2026-11-25 10:00:00Z", NULL));
    SB_CHECK (!usage_rfc3339 ("2026-11-25T24:00:00Z", NULL));
    SB_CHECK (!usage_rfc3339 ("2026-11-25T10:00:60Z", NULL));
    SB_CHECK (!usage_rfc3339 ("2026-11-25T10:00:00", NULL));
    SB_CHECK (!usage_rfc3339 ("2026-11-25T10:00:00+5:30", NULL));
    SB_CHECK (!usage_rfc3339 ("2026-11-25T10:00:00+16:00", NULL));
    SB_CHECK (!usage_rfc3339 ("2026-11-25T10:00:00.Z", NULL));
    SB_CHECK (!usage_rfc3339 ("2026-11-25T10:00:00.1234567890Z", NULL));
    SB_CHECK (!usage_rfc3339 ("2026-11-25T10:00:00Zjunk", NULL));
    SB_CHECK (!usage_rfc3339 ("tomorrow", NULL));
    SB_CHECK (!usage_rfc3339 (NULL, NULL));

    //  The calendar both ways, over leap years, centuries and before 1970.
    SB_CHECK (usage_days_from_civil (1970, 1, 1) == 0);
    SB_CHECK (usage_days_from_civil (2000, 3, 1) == 11017);
    SB_CHECK (usage_days_from_civil (1969, 12, 31) == -1);
    bool round_trip = true;
    for (int64_t d = -800000; d < 800000 && round_trip; d += 37) {
        int64_t year;
        int month, day;
        usage_civil_from_days (d, &year, &month, &day);
        round_trip = usage_days_from_civil (year, month, day) == d && month >= 1 && month <= 12
                     && day >= 1 && day <= 31;
    }
    SB_CHECK (round_trip);
}
