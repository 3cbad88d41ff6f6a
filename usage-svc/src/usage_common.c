/*  usage_common.c — what usage-svc's handlers share: metric names checked
    strictly enough that PostgreSQL never refuses what we pass on (an SQL
    error aborts the request's transaction; timestamps are read as strictly
    by sb_arg_timestamp in common), the organization a request acts for,
    database failures turned into answers, and the plan catalogue.
*/
#include "usage.h"


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

const char *
usage_org (sb_ctx_t *ctx, const msgpack_object *args, sb_fields_t *fields)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    const char *org = head->org;
    if (head->role >= SB_ROLE_SERVICE) {
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
    if (sb_ctx_head (ctx)->role < SB_ROLE_SERVICE)
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

int64_t
usage_limit_of (const sb_entitlement_t *ent, const char *metric)
{
    return streq (metric, "calls") && ent->calls_per_month >= 0 ? ent->calls_per_month : -1;
}

bool
usage_has_quota (const char *metric)
{
    return streq (metric, "calls");
}

int
usage_limit (sb_ctx_t *ctx, const char *org, const char *metric, int64_t *limit,
             sb_reply_t *reply)
{
    *limit = -1;
    if (!usage_has_quota (metric))
        return 0;
    sb_entitlement_t ent;
    if (sb_ctx_entitlement (ctx, org, &ent, reply))
        return 1;
    *limit = usage_limit_of (&ent, metric);
    return 0;
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
}
