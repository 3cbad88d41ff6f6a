/*  purge.c — org.purge: an organization's rows deleted in bounded batches
    (see purge.h for the contract).

    A batch is chosen by ctid (the rows' physical addresses), which every
    table has whatever its key, and deleted by a TID scan: one index range
    of the organization (organization_id leads every key) read, at most
    limit rows locked. A row changed concurrently between the choice and
    the delete is skipped and found by the next call.
*/
#include "sb/sb.h"
#include "sb/purge.h"

const char *const sb_purge_skeleton_tables [SB_PURGE_SKELETON_TABLES] = { "idempotency_keys" };

int
sb_purge_reply (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply,
                const char *const *tables, bool again)
{
    sb_fields_t fields = { 0 };
    const char *org = sb_arg_uuid (ctx, args, "organization_id", true, &fields);
    int64_t limit = SB_PURGE_LIMIT;
    sb_arg_int (args, "limit", 1, SB_PURGE_LIMIT_MAX, &limit, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    sb_db_t *db = sb_ctx_db (ctx);
    if (sb_db_set_org (db, org))
        return -1;
    char limit_text [24];
    snprintf (limit_text, sizeof (limit_text), "%" PRId64, limit);
    const char *params [] = { org, limit_text };
    int64_t deleted = 0;
    bool done = true;
    //  The service's tables, then the skeleton's that every schema has
    //  (common/sql), which reference nothing
    size_t own = 0;
    while (tables [own])
        own++;
    for (size_t t = 0; t < own + SB_PURGE_SKELETON_TABLES && done; t++) {
        const char *table = t < own ? tables [t] : sb_purge_skeleton_tables [t - own];
        char sql [256];
        snprintf (sql, sizeof (sql),
                  "DELETE FROM %s WHERE ctid = ANY (ARRAY ("
                  "SELECT ctid FROM %s WHERE organization_id = $1 LIMIT $2::int))",
                  table, table);
        PGresult *result = sb_db_exec (db, sql, 2, params);
        if (!result)
            return -1;
        int64_t rows = strtoll (PQcmdTuples (result), NULL, 10);
        PQclear (result);
        deleted += rows;
        //  As many as asked: there may be more, and the tables after this
        //  one may reference it (deleting them now could cascade without
        //  bound).
        if (rows >= limit)
            done = false;
    }
    if (again)
        done = false;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 3);
    sb_mpk_pack_kv_str (pk, "organization_id", org);
    sb_mpk_pack_kv_int (pk, "deleted", deleted);
    sb_mpk_pack_str (pk, "done");
    if (done)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    return 0;
}
