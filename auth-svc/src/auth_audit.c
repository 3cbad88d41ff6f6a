/*  auth_audit.c — the audit log: the writer every handler calls in its
    request's transaction (auth_audit), and audit.list, an organization's
    entries newest first for its admins.
*/
#include "auth.h"

void
auth_audit (sb_ctx_t *ctx, const char *org, const char *actor, const char *action,
            const char *target, const char *details_json)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    const char *params [] = { org, actor && *actor ? actor : NULL, action, target,
                              *head->ip ? head->ip : NULL, details_json };
    sb_db_run (sb_ctx_db (ctx),
               "INSERT INTO audit_log (organization_id, actor_id, action, target, ip, details) "
               "VALUES ($1, $2, $3, $4, $5, coalesce ($6::jsonb, '{}'))",
               6, params);
}

int
auth_audit_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    int64_t limit = 20, cursor = 0;
    sb_arg_int (args, "limit", 1, 100, &limit, &fields);
    sb_arg_int (args, "cursor", 1, INT64_MAX, &cursor, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    char limit_text [24], cursor_text [24];
    snprintf (limit_text, sizeof (limit_text), "%lld", (long long) limit + 1);
    snprintf (cursor_text, sizeof (cursor_text), "%lld", (long long) cursor);
    const char *params [] = { sb_ctx_head (ctx)->org, cursor ? cursor_text : NULL, limit_text };
    //  Newest first by id (ids grow with time); one row more than asked
    //  says whether there is a next page.
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT id, " SB_SQL_TS ("at") " AS at, actor_id, action, target, "
                                   "ip, details FROM audit_log WHERE organization_id = $1 "
                                   "AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
                                   3, params);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    bool more = rows > limit;
    if (more)
        rows = (int) limit;
    sb_reply_rows (reply, result, rows, more ? PQgetvalue (result, rows - 1, 0) : NULL);
    PQclear (result);
    return 0;
}
