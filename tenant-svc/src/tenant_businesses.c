/*  tenant_businesses.c — the businesses of an organization: the places
    whose phones the AI receptionist answers.

    Every statement filters on organization_id = the caller's organization
    (and row-level security would hide other rows anyway). Fields are
    checked here so that PostgreSQL never has to refuse a value: phone
    numbers are E.164, time zones are names PostgreSQL knows, opening hours
    are {"mon": [{"open": "09:00", "close": "17:00"}], ...}, a close
    earlier than its open ending the next day.
*/
#include "tenant.h"

#define S_COLUMNS                                                                          \
    "id, name, phone_number, timezone, greeting, hours, " SB_SQL_TS ("created_at")         \
    " AS created_at, " SB_SQL_TS ("updated_at") " AS updated_at"

//  "HH:MM" → minutes, or -1.
static int
s_clock (const msgpack_object *obj)
{
    char text [8];
    if (sb_mpk_copy_str (obj, text, sizeof (text)) || strlen (text) != 5 || text [2] != ':'
        || !isdigit ((unsigned char) text [0]) || !isdigit ((unsigned char) text [1])
        || !isdigit ((unsigned char) text [3]) || !isdigit ((unsigned char) text [4]))
        return -1;
    int hour = (text [0] - '0') * 10 + text [1] - '0';
    int minute = (text [3] - '0') * 10 + text [4] - '0';
    return hour < 24 && minute < 60 ? hour * 60 + minute : -1;
}

//  One opening interval, in minutes of the week from Monday 00:00: it
//  starts at start and ends before end; end passes the day's end when the
//  interval closes the next day (Sunday's then passes the week's end).
typedef struct {
    int day, open, close;
    int start, end;
} s_interval_t;

#define S_DAY_MINUTES (24 * 60)
#define S_WEEK_MINUTES (7 * S_DAY_MINUTES)

static const char *const s_days [] = { "mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL };

//  True when a and b share a minute, the week being a circle.
static bool
s_overlap (const s_interval_t *a, const s_interval_t *b)
{
    for (int shift = -S_WEEK_MINUTES; shift <= S_WEEK_MINUTES; shift += S_WEEK_MINUTES)
        if (a->start < b->end + shift && b->start + shift < a->end)
            return true;
    return false;
}

//  "fri 18:00-02:00" for a field message.
static void
s_interval_name (const s_interval_t *self, char *text, size_t size)
{
    snprintf (text, size, "%s %02d:%02d-%02d:%02d", s_days [self->day], self->open / 60,
              self->open % 60, self->close / 60, self->close % 60);
}

//  Checks opening hours (tenant.h). An interval whose close is earlier
//  than its open ends the next day ("18:00"-"02:00"; "00:00" closes at
//  midnight); open == close is refused, and so are two intervals that
//  share a minute, a day's spill-over into the next day included
//  (Sunday's into Monday's). A day named twice (possible in msgpack from
//  the bus, not in JSON) is refused.
int
tenant_hours_check (const msgpack_object *hours, sb_fields_t *fields)
{
    if (hours->type != MSGPACK_OBJECT_MAP || hours->via.map.size > 7) {
        sb_fields_add (fields, "hours", "must be an object with keys mon..sun");
        return -1;
    }
    s_interval_t all [7 * 4];
    size_t count = 0;
    unsigned named = 0;             //  the days seen, a bit each
    for (uint32_t i = 0; i < hours->via.map.size; i++) {
        const msgpack_object *key = &hours->via.map.ptr [i].key;
        const msgpack_object *intervals = &hours->via.map.ptr [i].val;
        int day = -1;
        for (int d = 0; s_days [d] && day < 0; d++)
            if (sb_mpk_str_eq (key, s_days [d]))
                day = d;
        if (day < 0) {
            sb_fields_add (fields, "hours", "has a key that is not a day (mon..sun)");
            return -1;
        }
        //  JSON refuses a repeated key before this; msgpack does not, and
        //  the stored JSON would keep one of the two lists
        if (named & (1u << day)) {
            sb_fields_add (fields, "hours", "names %s twice", s_days [day]);
            return -1;
        }
        named |= 1u << day;
        if (intervals->type != MSGPACK_OBJECT_ARRAY || intervals->via.array.size > 4) {
            sb_fields_add (fields, "hours", "must give each day a list of at most 4 intervals");
            return -1;
        }
        for (uint32_t k = 0; k < intervals->via.array.size; k++) {
            const msgpack_object *interval = &intervals->via.array.ptr [k];
            int open = s_clock (sb_mpk_get (interval, "open"));
            int close = s_clock (sb_mpk_get (interval, "close"));
            if (interval->type != MSGPACK_OBJECT_MAP || interval->via.map.size != 2 || open < 0
                || close < 0 || open == close) {
                sb_fields_add (fields, "hours",
                               "intervals must be {\"open\":\"HH:MM\",\"close\":\"HH:MM\"}, "
                               "open and close different");
                return -1;
            }
            //  At most 7 keys of at most 4 intervals: count stays in all.
            s_interval_t *it = &all [count++];
            *it = (s_interval_t) { .day = day, .open = open, .close = close,
                                   .start = day * S_DAY_MINUTES + open,
                                   .end = day * S_DAY_MINUTES + close
                                          + (close < open ? S_DAY_MINUTES : 0) };
            for (size_t j = 0; j + 1 < count; j++) {
                if (s_overlap (&all [j], it)) {
                    char one [32], other [32];
                    s_interval_name (it, one, sizeof (one));
                    s_interval_name (&all [j], other, sizeof (other));
                    sb_fields_add (fields, "hours", "%s overlaps %s%s", one, other,
                                   all [j].close < all [j].open || it->close < it->open
                                       ? " (a close before its open ends the next day)" : "");
                    return -1;
                }
            }
        }
    }
    return 0;
}

//  Checks opening hours; returns their JSON text (arena) or NULL with a
//  field error.
static const char *
s_hours (sb_ctx_t *ctx, const msgpack_object *hours, sb_fields_t *fields)
{
    if (tenant_hours_check (hours, fields))
        return NULL;
    msgpack_sbuffer json;
    msgpack_sbuffer_init (&json);
    sb_json_write (&json, hours);
    char *text = sb_ctx_strndup (ctx, json.data, json.size);
    msgpack_sbuffer_destroy (&json);
    return text;
}

//  The fields a create or an update may carry; `clear_*` for nullable
//  fields given as null. Returns 0, or -1 on a database failure.
typedef struct {
    const char *name, *phone, *timezone, *greeting, *hours;
    bool greeting_given, hours_given;
} s_fields_t;

static int
s_read (sb_ctx_t *ctx, const msgpack_object *args, bool create, s_fields_t *out,
        sb_fields_t *fields)
{
    memset (out, 0, sizeof (*out));
    //  Clearing is for optional fields; these three a business always has.
    static const char *const required [] = { "name", "phone_number", "timezone", NULL };
    for (int i = 0; required [i]; i++) {
        const msgpack_object *given = sb_mpk_get (args, required [i]);
        if (given && given->type == MSGPACK_OBJECT_NIL)
            sb_fields_add (fields, required [i], "may not be null");
    }
    out->name = sb_arg_string (ctx, args, "name", create, 1, 200, fields);
    out->phone = sb_arg_string (ctx, args, "phone_number", create, 1, 16, fields);
    if (out->phone && !tenant_e164 (out->phone)) {
        sb_fields_add (fields, "phone_number", "must be an E.164 number such as +14155550100");
        out->phone = NULL;
    }
    out->timezone = sb_arg_string (ctx, args, "timezone", create, 1, 64, fields);
    if (out->timezone) {
        bool known;
        if (tenant_timezone_known (sb_ctx_db (ctx), out->timezone, &known))
            return -1;
        if (!known)
            sb_fields_add (fields, "timezone", "must be an IANA time zone such as Europe/Paris");
    }
    const msgpack_object *greeting = sb_mpk_get (args, "greeting");
    out->greeting_given = greeting != NULL;
    out->greeting = sb_arg_text (ctx, args, "greeting", false, 0, 2000, fields);
    const msgpack_object *hours = sb_mpk_get (args, "hours");
    out->hours_given = hours != NULL;
    if (hours && hours->type != MSGPACK_OBJECT_NIL)
        out->hours = s_hours (ctx, hours, fields);
    return 0;
}

int
tenant_businesses_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    s_fields_t in;
    if (s_read (ctx, args, true, &in, &fields))
        return -1;
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    sb_entitlement_t ent;
    if (sb_ctx_entitlement (ctx, NULL, &ent, reply))
        return 0;
    int quota = tenant_quota (ctx, NULL, reply, "businesses", ent.businesses,
                              "SELECT count (*) FROM businesses WHERE organization_id = $1", NULL);
    if (quota)
        return quota < 0 ? -1 : 0;
    char id [37];
    sb_uuid_v4 (id);
    const char *params [] = { sb_ctx_head (ctx)->org, id, in.name, in.phone, in.timezone,
                              in.greeting, in.hours };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "INSERT INTO businesses (organization_id, id, name, phone_number, "
                                   "timezone, greeting, hours) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) "
                                   "RETURNING " S_COLUMNS,
                                   7, params);
    if (!result)
        return -1;
    sb_db_pack_row (sb_reply_body (reply, 201), result, 0);
    PQclear (result);
    return 0;
}

int
tenant_businesses_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such business");
    const char *params [] = { sb_ctx_head (ctx)->org, id };
    return sb_reply_one (reply, sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT " S_COLUMNS " FROM businesses "
                                   "WHERE organization_id = $1 AND id = $2",
                                   2, params),
                         200, "no such business");
}

int
tenant_businesses_list_query (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply,
                        sb_db_stmt_t *stmt)
{
    static const tenant_list_t list = { .table = "businesses", .columns = S_COLUMNS,
                                        .time_column = "created_at" };
    return tenant_list_query (ctx, args, reply, stmt, &list);
}

int
tenant_businesses_update (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such business");
    sb_fields_t fields = { 0 };
    s_fields_t in;
    if (s_read (ctx, args, false, &in, &fields))
        return -1;
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    const char *params [] = { sb_ctx_head (ctx)->org, id, in.name, in.phone, in.timezone,
                              in.greeting_given ? "true" : "false", in.greeting,
                              in.hours_given ? "true" : "false", in.hours };
    return sb_reply_one (reply, sb_db_exec (
        sb_ctx_db (ctx),
        "UPDATE businesses SET name = coalesce ($3, name), "
        "phone_number = coalesce ($4, phone_number), timezone = coalesce ($5, timezone), "
        "greeting = CASE WHEN $6::boolean THEN $7 ELSE greeting END, "
        "hours = CASE WHEN $8::boolean THEN $9::jsonb ELSE hours END, "
        "updated_at = clock_timestamp () "
        "WHERE organization_id = $1 AND id = $2 RETURNING " S_COLUMNS,
        9, params),
                         200, "no such business");
}

int
tenant_businesses_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such business");
    //  Its calls and orders go with it (foreign keys cascade); usage already
    //  reported stays reported.
    const char *params [] = { sb_ctx_head (ctx)->org, id };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "DELETE FROM businesses WHERE organization_id = $1 AND id = $2",
                                   2, params);
    if (!result)
        return -1;
    bool deleted = atoi (PQcmdTuples (result)) == 1;
    PQclear (result);
    if (!deleted)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such business");
    msgpack_pack_nil (sb_reply_body (reply, 204));
    return 0;
}

//  --------------------------------------------------------------------------
//  Selftest of the opening-hours rules (tests/fuzz/opening_hours.c fuzzes
//  them against its own reading of API.md)

//  The verdict on hours given as JSON text, or as msgpack bytes when json
//  is NULL.
static int
s_hours_verdict (const char *json, const char *raw, size_t raw_size)
{
    msgpack_sbuffer packed;
    msgpack_sbuffer_init (&packed);
    if (json) {
        char why [160];
        json_t *value = sb_json_parse (json, strlen (json), why, sizeof (why));
        assert (value);
        sb_json_pack_into (&packed, value);
        json_decref (value);
    }
    else
        msgpack_sbuffer_write (&packed, raw, raw_size);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t offset = 0;
    int rc = -2;
    if (msgpack_unpack_next (&u, packed.data, packed.size, &offset) == MSGPACK_UNPACK_SUCCESS) {
        sb_fields_t fields = { 0 };
        rc = tenant_hours_check (&u.data, &fields);
    }
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&packed);
    return rc;
}

void
tenant_hours_test (bool verbose)
{
    (void) verbose;
    SB_CHECK (s_hours_verdict ("{\"mon\": [{\"open\": \"09:00\", \"close\": \"17:00\"}],"
                               " \"fri\": [{\"open\": \"18:00\", \"close\": \"02:00\"}]}", NULL, 0)
              == 0);
    SB_CHECK (s_hours_verdict ("{\"sun\": [{\"open\": \"22:00\", \"close\": \"01:00\"}],"
                               " \"mon\": [{\"open\": \"01:00\", \"close\": \"08:00\"}]}", NULL, 0)
              == 0);
    SB_CHECK (s_hours_verdict ("{\"sun\": [{\"open\": \"22:00\", \"close\": \"01:00\"}],"
                               " \"mon\": [{\"open\": \"00:59\", \"close\": \"08:00\"}]}", NULL, 0)
              == -1);
    SB_CHECK (s_hours_verdict ("{\"tue\": [{\"open\": \"09:00\", \"close\": \"09:00\"}]}", NULL, 0)
              == -1);
    //  {"mon": [09:00-10:00], "mon": [11:00-12:00]}: a day named twice
    //  (tests/fuzz/regressions/opening_hours/msgpack-duplicate-day)
    static const char twice [] = "\x82\xa3mon\x91\x82\xa4open\xa5" "09:00\xa5" "close\xa5" "10:00"
                                 "\xa3mon\x91\x82\xa4open\xa5" "11:00\xa5" "close\xa5" "12:00";
    SB_CHECK (s_hours_verdict (NULL, twice, sizeof (twice) - 1) == -1);
}
