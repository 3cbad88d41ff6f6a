/*  usage_reservations.c — holds on quota for work whose size is known only
    at its end (a call that may last an hour).

    usage.reserve takes `quantity` out of the current period before the
    work starts: 201 with the hold, or 402 plan_limit_reached when used +
    active holds + quantity would pass the plan's limit. It is exact under
    any concurrency: a transaction-scoped advisory lock per (organization,
    metric, period) serializes the reservers of one counter, and the check
    and the insert are one statement whose snapshot is taken after the
    lock, so it sees every hold committed before (the lock is released
    only once a holder's commit is visible). Recording usage does not take
    the lock: usage is a fact, and events and counters change together in
    one transaction, so a reserver sees either both or neither.

    A hold that would take the counter past its cap (USAGE_MAX_COUNTER,
    usage.h) is 422 usage_overflow, whatever the plan.

    usage.commit turns a hold into a usage event of the actual quantity,
    which may be smaller or larger than the hold (the work is done; the
    event counts even past the plan's limit, though not past the
    counter's cap: 422 usage_overflow, the hold kept), with event id `event_id` or, by
    default, the reservation's id, and occurred_at the time of the hold (so
    usage lands in the period the hold was taken from). A commit repeated
    after its answer was lost finds its event again and answers the same.
    usage.release drops a hold. A hold that expired counts for nothing and
    can no longer be committed (404, as a released one): the caller records
    the usage with usage.record under the same event id instead. Rows of
    expired holds are deleted lazily, by later reservations of the same
    counter and by usage.record's periodic sweep, skipping rows in use.

    Lock order, everywhere in usage-svc: reservation rows, then event keys
    (sorted), then counter rows (sorted); reserve takes only its advisory
    lock and inserts a fresh row. So no two requests ever wait on each
    other in a circle.
*/
#include "usage.h"

int
usage_reserve (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = usage_org (ctx, args, &fields);
    const char *metric = sb_arg_string (ctx, args, "metric", true, 1, 63, &fields);
    if (metric && !usage_metric_valid (metric))
        sb_fields_add (&fields, "metric", "must match ^[a-z][a-z0-9_]{0,62}$");
    int64_t quantity = 0, expires_in = 300;
    usage_arg_count (args, "quantity", true, 1, USAGE_MAX_QUANTITY, &quantity, &fields);
    usage_arg_count (args, "expires_in_seconds", false, 1, 86400, &expires_in, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    //  The limit before the lock: no bus round trip while it is held.
    int64_t limit;
    if (usage_limit (ctx, org, metric, &limit, reply))
        return 0;
    if (usage_act_as (ctx, org))
        return usage_reply_db_error (ctx, reply);

    sb_db_t *db = sb_ctx_db (ctx);
    const char *lock [] = { org, metric };
    if (sb_db_run (db,
                   "SELECT pg_advisory_xact_lock (" USAGE_LOCK_CLASS ","
                   "    hashtext ($1::text || '|' || $2::text || '|'"
                   "              || (" USAGE_SQL_PERIOD ")::text))",
                   2, lock))
        return usage_reply_db_error (ctx, reply);

    char id [37], number [24], seconds [24], limit_text [24], cap_text [24];
    sb_uuid_v4 (id);
    snprintf (number, sizeof (number), "%lld", (long long) quantity);
    snprintf (seconds, sizeof (seconds), "%lld", (long long) expires_in);
    snprintf (limit_text, sizeof (limit_text), "%lld", (long long) limit);
    snprintf (cap_text, sizeof (cap_text), "%lld", (long long) USAGE_MAX_COUNTER);
    const char *params [] = { org, metric, id, number, seconds, limit_text, cap_text };
    PGresult *result = sb_db_exec (
        db,
        "WITH p AS (SELECT " USAGE_SQL_PERIOD " AS day"
        "), swept AS ("
        "  DELETE FROM reservations WHERE (organization_id, id) IN ("
        "    SELECT organization_id, id FROM reservations"
        "     WHERE organization_id = $1::uuid AND metric = $2::text AND expires_at <= now ()"
        "     LIMIT 100 FOR UPDATE SKIP LOCKED)"
        "), u AS ("
        "  SELECT coalesce ((SELECT used FROM counters, p WHERE organization_id = $1"
        "                      AND metric = $2 AND period_start = p.day), 0) AS used,"
        "         least (coalesce ((SELECT sum (quantity) FROM reservations, p"
        "                            WHERE organization_id = $1 AND metric = $2"
        "                              AND period_start = p.day AND expires_at > now ()), 0),"
        "                9223372036854775807)::bigint AS reserved"
        "), ins AS ("
        "  INSERT INTO reservations (organization_id, id, metric, period_start, quantity,"
        "                            expires_at)"
        "  SELECT $1::uuid, $3::uuid, $2::text, p.day, $4::bigint,"
        "         now () + $5::int * interval '1 second'"
        "    FROM p, u"
        "   WHERE ($6::bigint < 0 OR u.used::numeric + u.reserved + $4::bigint <= $6::bigint)"
        "     AND u.used::numeric + u.reserved + $4::bigint <= $7::bigint"
        "  RETURNING expires_at"
        ")"
        "SELECT u.used, u.reserved, p.day::text,"
        "       (SELECT " SB_SQL_TS ("expires_at") " FROM ins)"
        "  FROM u, p",
        7, params);
    if (!result)
        return usage_reply_db_error (ctx, reply);
    int64_t used = strtoll (PQgetvalue (result, 0, 0), NULL, 10);
    int64_t reserved = strtoll (PQgetvalue (result, 0, 1), NULL, 10);
    char period [16];
    snprintf (period, sizeof (period), "%s", PQgetvalue (result, 0, 2));
    bool granted = !PQgetisnull (result, 0, 3);
    char *expires_at = sb_ctx_strndup (ctx, PQgetvalue (result, 0, 3),
                                       (size_t) PQgetlength (result, 0, 3));
    PQclear (result);

    int64_t taken = usage_add (usage_add (used, reserved), quantity);
    if (!granted && (limit < 0 || taken <= limit)) {
        //  Within the plan, past the counter's cap: the hold could never
        //  be committed.
        return usage_reply_overflow (reply, "this hold", metric);
    }
    if (!granted) {
        //  Holds count as used: `used` is what the limit is measured against.
        char message [160];
        snprintf (message, sizeof (message),
                  "the plan allows %lld %s per period; %lld are used or held", (long long) limit,
                  metric, (long long) usage_add (used, reserved));
        msgpack_packer *pk = sb_reply_error_extra (reply, 402, SB_E_PLAN_LIMIT_REACHED,
                                                   message, 5);
        sb_mpk_pack_kv_int (pk, "limit", limit);
        sb_mpk_pack_kv_int (pk, "used", usage_add (used, reserved));
        sb_mpk_pack_kv_int (pk, "reserved", reserved);
        sb_mpk_pack_kv_int (pk, "requested", quantity);
        sb_mpk_pack_kv_str (pk, "metric", metric);
        return 0;
    }
    usage_cache_forget (org, metric, period);
    msgpack_packer *pk = sb_reply_body (reply, 201);
    msgpack_pack_map (pk, 5);
    sb_mpk_pack_kv_str (pk, "id", id);
    sb_mpk_pack_kv_str (pk, "metric", metric);
    sb_mpk_pack_kv_int (pk, "quantity", quantity);
    sb_mpk_pack_kv_str (pk, "expires_at", expires_at);
    sb_mpk_pack_kv_str (pk, "period_start", period);
    return 0;
}

//  The answer of a commit: the usage event it made (or found).
static int
s_reply_committed (sb_reply_t *reply, const char *id, const char *metric, int64_t quantity,
                   int64_t held, const char *event_id, bool duplicate)
{
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, held >= 0 ? 6 : 5);
    sb_mpk_pack_kv_str (pk, "id", id);
    sb_mpk_pack_kv_str (pk, "metric", metric);
    sb_mpk_pack_kv_int (pk, "quantity", quantity);
    if (held >= 0)
        sb_mpk_pack_kv_int (pk, "held", held);
    sb_mpk_pack_kv_str (pk, "event_id", event_id);
    //  true when the event id had been counted before (a repeated commit,
    //  or an id the caller had already recorded): nothing was added.
    sb_mpk_pack_str (pk, "duplicate");
    if (duplicate)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    return 0;
}

int
usage_commit (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = usage_org (ctx, args, &fields);
    int64_t quantity = 0;
    usage_arg_count (args, "quantity", true, 0, USAGE_MAX_QUANTITY, &quantity, &fields);
    const char *event_id = sb_arg_string (ctx, args, "event_id", false, 1, 128, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    //  The path's {id} over HTTP, `id` on the bus; not a UUID: no such hold.
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such reservation");
    if (usage_act_as (ctx, org))
        return usage_reply_db_error (ctx, reply);

    sb_db_t *db = sb_ctx_db (ctx);
    const char *params [] = { org, id };
    PGresult *hold = sb_db_exec (db,
                                 "DELETE FROM reservations WHERE organization_id = $1 AND id = $2 "
                                 "RETURNING metric, quantity, " SB_SQL_TS ("created_at") ", "
                                 "period_start::text, expires_at > now ()",
                                 2, params);
    if (!hold)
        return usage_reply_db_error (ctx, reply);
    if (PQntuples (hold) == 0) {
        PQclear (hold);
        //  Committed before? Then this is a retry: answer as the first time.
        PGresult *done = sb_db_exec (db,
                                     "SELECT event_id, metric, quantity FROM events "
                                     "WHERE organization_id = $1 AND reservation_id = $2 LIMIT 1",
                                     2, params);
        if (!done)
            return usage_reply_db_error (ctx, reply);
        int rc = PQntuples (done) == 0
                     ? sb_reply_error (reply, 404, SB_E_NOT_FOUND,
                                       "no such reservation (released, expired or unknown)")
                     : s_reply_committed (reply, id, PQgetvalue (done, 0, 1),
                                          strtoll (PQgetvalue (done, 0, 2), NULL, 10), -1,
                                          PQgetvalue (done, 0, 0), true);
        PQclear (done);
        return rc;
    }
    if (PQgetvalue (hold, 0, 4) [0] != 't') {
        //  (The answer rolls the delete back; a sweep takes the row later.)
        PQclear (hold);
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND,
                               "the reservation expired: record the usage instead");
    }
    const char *metric = sb_ctx_strndup (ctx, PQgetvalue (hold, 0, 0),
                                         (size_t) PQgetlength (hold, 0, 0));
    int64_t held = strtoll (PQgetvalue (hold, 0, 1), NULL, 10);
    const char *period = sb_ctx_strndup (ctx, PQgetvalue (hold, 0, 3),
                                         (size_t) PQgetlength (hold, 0, 3));
    usage_batch_t batch;
    usage_batch_init (&batch);
    if (!event_id)
        event_id = id;
    usage_batch_add (&batch, 0, org, event_id, metric, quantity, PQgetvalue (hold, 0, 2), NULL,
                     NULL, id);
    PQclear (hold);
    usage_outcome_t outcome;
    int rc = usage_store (ctx, &batch, true, &outcome);
    usage_batch_release (&batch);
    if (rc)
        return usage_reply_db_error (ctx, reply);
    if (outcome.refused_count) {
        //  (The answer rolls the delete back: the hold stays until it expires.)
        return usage_reply_overflow (reply, "this commit", metric);
    }
    usage_cache_forget (org, metric, period);
    return s_reply_committed (reply, id, metric, quantity, held, event_id,
                              outcome.accepted == 0);
}

int
usage_release (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = usage_org (ctx, args, &fields);
    if (!org)
        return sb_reply_fields (reply, &fields);
    //  The path's {id} over HTTP, `id` on the bus; not a UUID: no such hold.
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such reservation");
    if (usage_act_as (ctx, org))
        return usage_reply_db_error (ctx, reply);
    const char *params [] = { org, id };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "DELETE FROM reservations "
                                   "WHERE organization_id = $1 AND id = $2 "
                                   "RETURNING metric, period_start::text",
                                   2, params);
    if (!result)
        return usage_reply_db_error (ctx, reply);
    bool found = PQntuples (result) > 0;
    if (found)
        usage_cache_forget (org, PQgetvalue (result, 0, 0), PQgetvalue (result, 0, 1));
    PQclear (result);
    if (!found)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such reservation");
    msgpack_pack_nil (sb_reply_body (reply, 204));
    return 0;
}
