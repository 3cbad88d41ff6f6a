/*  usage_events.c — recording usage events.

    usage.record takes a batch of events from an internal producer (the
    tenant outbox relay, role service) — each event names its organization
    — and stores them with one statement: the batch's columns travel as
    arrays and are unnested server-side, ON CONFLICT DO NOTHING drops event
    ids seen before. The reply counts accepted and duplicate events; it is
    sent only after the transaction has committed (the skeleton commits
    before replying), so an acknowledged event is never lost.
*/
#include "usage.h"

#define S_MAX_EVENTS 1000

//  Appends s to an array literal being built in buf ({"a","b"}), quoted
//  and escaped for PostgreSQL's array syntax; NULL as NULL.
static void
s_array_add (msgpack_sbuffer *buf, const char *s, bool first)
{
    if (!first)
        msgpack_sbuffer_write (buf, ",", 1);
    if (!s) {
        msgpack_sbuffer_write (buf, "NULL", 4);
        return;
    }
    msgpack_sbuffer_write (buf, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            msgpack_sbuffer_write (buf, "\\", 1);
        msgpack_sbuffer_write (buf, s, 1);
    }
    msgpack_sbuffer_write (buf, "\"", 1);
}

static bool
s_metric_valid (const char *metric)
{
    size_t len = strlen (metric);
    if (len < 1 || len > 63 || !islower ((unsigned char) metric [0]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!islower ((unsigned char) metric [i]) && !isdigit ((unsigned char) metric [i])
            && metric [i] != '_')
            return false;
    return true;
}

int
usage_record (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const msgpack_object *events = sb_mpk_get (args, "events");
    if (!events || events->type != MSGPACK_OBJECT_ARRAY || events->via.array.size > S_MAX_EVENTS)
        return sb_reply_error (reply, 400, SB_E_INVALID_REQUEST,
                               "events must be a list of at most %d events", S_MAX_EVENTS);
    uint32_t count = events->via.array.size;
    //  Columns: org, event id, metric, quantity, occurred_at, business_id.
    msgpack_sbuffer columns [6];
    for (int c = 0; c < 6; c++) {
        msgpack_sbuffer_init (&columns [c]);
        msgpack_sbuffer_write (&columns [c], "{", 1);
    }
    int rc = 0;
    for (uint32_t i = 0; i < count && rc == 0; i++) {
        const msgpack_object *event = &events->via.array.ptr [i];
        sb_fields_t fields = { 0 };
        const char *org = sb_arg_string (ctx, event, "org", true, 36, 36, &fields);
        const char *id = sb_arg_string (ctx, event, "id", true, 1, 128, &fields);
        const char *metric = sb_arg_string (ctx, event, "metric", true, 1, 63, &fields);
        const char *at = sb_arg_string (ctx, event, "occurred_at", true, 20, 40, &fields);
        const char *business = sb_arg_string (ctx, event, "business_id", false, 36, 36, &fields);
        int64_t quantity = -1;
        sb_mpk_int (sb_mpk_get (event, "quantity"), &quantity);
        if (fields.count || !sb_is_uuid (org) || !s_metric_valid (metric) || quantity < 0
            || (business && !sb_is_uuid (business))) {
            rc = sb_reply_error (reply, 400, SB_E_INVALID_REQUEST, "event %u is not valid", i);
            rc = 1;
            break;
        }
        char number [24];
        snprintf (number, sizeof (number), "%lld", (long long) quantity);
        const char *values [] = { org, id, metric, number, at, business };
        for (int c = 0; c < 6; c++)
            s_array_add (&columns [c], values [c], i == 0);
    }
    PGresult *result = NULL;
    if (rc == 0) {
        char *params [6];
        for (int c = 0; c < 6; c++) {
            msgpack_sbuffer_write (&columns [c], "}", 2);     //  with the NUL
            params [c] = columns [c].data;
        }
        result = sb_db_exec (sb_ctx_db (ctx),
                             "INSERT INTO events (organization_id, event_id, metric, quantity, "
                             "occurred_at, business_id) "
                             "SELECT * FROM unnest ($1::uuid[], $2::text[], $3::text[], "
                             "$4::bigint[], $5::timestamptz[], $6::uuid[]) "
                             "ON CONFLICT DO NOTHING",
                             6, (const char *const *) params);
    }
    for (int c = 0; c < 6; c++)
        msgpack_sbuffer_destroy (&columns [c]);
    if (rc)
        return 0;                   //  the error reply is written
    if (!result)
        return strncmp (sb_db_sqlstate (sb_ctx_db (ctx)), "22", 2) == 0
                   ? sb_reply_error (reply, 400, SB_E_INVALID_REQUEST,
                                     "an event has a value PostgreSQL refuses")
                   : -1;
    int accepted = atoi (PQcmdTuples (result));
    PQclear (result);
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 2);
    sb_mpk_pack_kv_int (pk, "accepted", accepted);
    sb_mpk_pack_kv_int (pk, "duplicates", (int64_t) count - accepted);
    return 0;
}
