/*  usage_retention.c — raw usage events kept for a while, their sums for
    ever.

    SWITCHBOARD_USAGE_RETENTION_DAYS (an integer from 1 to 36500; unset,
    empty or 0: events are kept for ever, the default) bounds how long a
    raw event stays in usage.events after it was received (received_at).
    What is deduced from the events stays: the counters per month, the
    hourly sums of usage.series (table hours), and, for usage.verify, the
    sums per hour of what was deleted (table retired), added by the
    deleting statement itself so that events + retired always equal hours
    and counters.

    The price: an event is deduplicated only while it is kept. A client
    resending an event id older than the retention (by its received_at)
    has it counted again. The window is the retention, documented in
    docs/API.md ("Usage").

    Deleting is a background thread of each usage-svc process (a relay
    without bus, sb_relay_t: its own connection), every S_IDLE_MS a
    statement that deletes at most S_BATCH events received before the
    horizon (chosen by ctid through the BRIN index on received_at, which
    migration 0007 made), and again at once while batches come back full.
    Several processes may sweep at once: a row another statement deleted
    first is not returned to the second, so nothing is retired twice.
    usage.retain (role service) runs one batch now, for operators and the
    tests: {deleted, more}.

    An invalid setting makes the service refuse to start (usage_retention_start).
*/
#include "usage.h"
#include "sb/relay.h"

#define S_BATCH   10000             //  events per statement
#define S_IDLE_MS 60000             //  between sweeps when nothing is due

static int s_days;                  //  0: keep for ever
static sb_relay_t *s_relay;

//  Deletes up to limit events received more than s_days ago and adds
//  their sums to retired, in one statement of the transaction in hand
//  (all organizations). Returns the number deleted, or -1.
static int64_t
s_retire (sb_db_t *db, int64_t limit)
{
    char days [16], batch [24];
    snprintf (days, sizeof (days), "%d", s_days);
    snprintf (batch, sizeof (batch), "%lld", (long long) limit);
    const char *params [] = { days, batch };
    PGresult *result = sb_db_exec (
        db,
        "WITH gone AS ("
        "  DELETE FROM events WHERE ctid = ANY (ARRAY ("
        "    SELECT ctid FROM events"
        "     WHERE received_at < now () - make_interval (days => $1::int)"
        "     LIMIT $2::int))"
        "  RETURNING organization_id, metric, occurred_at, quantity"
        "), sums AS ("
        "  INSERT INTO retired AS r (organization_id, metric, hour, quantity, events)"
        "  SELECT organization_id, metric, date_trunc ('hour', occurred_at AT TIME ZONE 'UTC'),"
        "         sum (quantity), count (*)"
        "    FROM gone GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        "  ON CONFLICT (organization_id, metric, hour)"
        "    DO UPDATE SET quantity = r.quantity + EXCLUDED.quantity,"
        "                  events = r.events + EXCLUDED.events"
        ")"
        "SELECT count (*) FROM gone",
        2, params);
    if (!result)
        return -1;
    int64_t deleted = strtoll (PQgetvalue (result, 0, 0), NULL, 10);
    PQclear (result);
    return deleted;
}

//  The relay's step: one batch in a transaction of its own.
static int
s_step (sb_db_t *db, sb_client_t *client, void *arg)
{
    (void) client;
    (void) arg;
    if (s_days == 0)
        return 0;
    if (sb_db_begin (db) || sb_db_all_orgs (db))
        return -1;
    int64_t deleted = s_retire (db, S_BATCH);
    if (deleted < 0) {
        sb_db_rollback (db);
        return -1;
    }
    if (sb_db_commit (db))
        return -1;
    if (deleted)
        sb_info ("usage retention: %lld events older than %d days deleted (their sums kept)",
                 (long long) deleted, s_days);
    return deleted == S_BATCH ? 1 : 0;
}

int
usage_retention_start (const sb_config_t *config)
{
    s_days = config->usage_retention_days;     //  checked by sb_config_load (0..36500)
    if (s_days == 0)
        return 0;
    sb_info ("usage retention: raw events kept %d days (counters and hourly sums for ever)",
             s_days);
    sb_relay_spec_t spec = { .name = "usage retention", .schema = "usage", .step = s_step,
                             .idle_ms = S_IDLE_MS, .without_bus = true };
    s_relay = sb_relay_new (config, &spec);
    return s_relay ? 0 : sb_error ("cannot start the usage retention thread");
}

void
usage_retention_stop (void)
{
    sb_relay_destroy (&s_relay);
}

int
usage_retain (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    int64_t limit = S_BATCH;
    usage_arg_count (args, "limit", false, 1, 100000, &limit, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    int64_t deleted = 0;
    if (s_days) {
        if (sb_db_all_orgs (sb_ctx_db (ctx)))
            return usage_reply_db_error (ctx, reply);
        deleted = s_retire (sb_ctx_db (ctx), limit);
        if (deleted < 0)
            return usage_reply_db_error (ctx, reply);
    }
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 3);
    sb_mpk_pack_kv_int (pk, "retention_days", s_days);
    sb_mpk_pack_kv_int (pk, "deleted", deleted);
    sb_mpk_pack_str (pk, "more");
    if (deleted == limit)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    return 0;
}

void
usage_retention_test (bool verbose)
{
    (void) verbose;
    //  The setting's bounds are the config table's (sb_config_load).
    char why [200] = "";
    sb_config_t config = { 0 };
    const char *bad [] = { "SWITCHBOARD_USAGE_RETENTION_DAYS=36501", NULL };
    SB_CHECK (sb_config_load (&config, "usage", (char *const *) bad, why, sizeof (why)) == -1);
    SB_CHECK (strstr (why, "SWITCHBOARD_USAGE_RETENTION_DAYS must be an integer from 0 to 36500"));
    sb_config_release (&config);
    const char *good [] = { "SWITCHBOARD_USAGE_RETENTION_DAYS=30", NULL };
    SB_CHECK (sb_config_load (&config, "usage", (char *const *) good, why, sizeof (why)) == 0
              && config.usage_retention_days == 30);
    sb_config_release (&config);
    const char *none [] = { NULL };
    SB_CHECK (sb_config_load (&config, "usage", (char *const *) none, why, sizeof (why)) == 0
              && config.usage_retention_days == 0);
    sb_config_release (&config);
}
