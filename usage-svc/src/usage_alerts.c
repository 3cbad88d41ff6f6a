/*  usage_alerts.c — usage alerts: an organization's thresholds, and the
    relay that tells its admins and its webhooks.

    usage.alerts.get (GET /v1/usage/alerts, any role) answers
    {thresholds}: the organization's, or the default [80, 100]. usage.
    alerts.set (PUT, admin) {thresholds: [percent, ...]} replaces them: at
    most 5 distinct integers from 1 to 100 (an empty list: no alerts);
    anything else is 400 validation_failed naming the field. Stored sorted.

    Which thresholds are reached, and exactly once, is decided where the
    counters move (usage_store_stmt, usage_events.c): each threshold
    reached in a period is one row of alerts_sent, and two rows of
    alert_outbox, one per channel, all in the counter's transaction.

    The relay (one sb_relay per process, its own thread, database
    connection and bus client; sb_outbox_step: rows locked FOR UPDATE SKIP
    LOCKED, so the relays of several usage-svc processes share the outbox)
    hands each row to its receiver and acknowledges it on a 2xx answer:
    - channel mail: auth-svc's mail.admins {id (the alert's), organization_id,
      subject, text}, which queues one mail per admin, idempotent by id; a
      mail row acknowledged is never handed over again, whatever becomes of
      the webhook row;
    - channel webhook: tenant-svc's webhooks.enqueue {organization_id,
      event_id "usage-alert:<org>:<metric>:<period_start>:<threshold>",
      type "usage.threshold_reached", data {metric, threshold, used, limit,
      period_start}} → 202. The event id is stable: a call repeated after a
      lost answer is the same event to the receiver.
    Any other answer (none, 5xx, and 404 unknown_operation while tenant-svc
    does not have the operation yet) keeps the row and tries again later,
    1 s doubling to S_BACKOFF_MAX_S: a notice is never dropped. The usage
    and the limit are those of the moment the threshold was reached.
*/
#include "usage.h"
#include "sb/relay.h"

#define S_MAX_THRESHOLDS 5
#define S_CALL_MS        5000       //  what a call to auth-svc or tenant-svc may take
#define S_BACKOFF_MAX_S  300

static sb_relay_t *s_relay;

//  Packs {thresholds: [...]} from a PostgreSQL int[] literal ("{50,80}"),
//  or the default when text is NULL.
static void
s_pack_thresholds (msgpack_packer *pk, const char *text)
{
    int values [S_MAX_THRESHOLDS + 1], count = 0;
    if (!text) {
        values [count++] = 80;
        values [count++] = 100;
    }
    else
        for (const char *p = text; *p && count < S_MAX_THRESHOLDS; ) {
            if (*p >= '0' && *p <= '9') {
                char *end;
                values [count++] = (int) strtol (p, &end, 10);
                p = end;
            }
            else
                p++;
        }
    msgpack_pack_map (pk, 1);
    sb_mpk_pack_str (pk, "thresholds");
    msgpack_pack_array (pk, (size_t) count);
    for (int i = 0; i < count; i++)
        msgpack_pack_int (pk, values [i]);
}

int
usage_alerts_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = usage_org (ctx, args, &fields);
    if (!org)
        return sb_reply_fields (reply, &fields);
    if (usage_act_as (ctx, org))
        return usage_reply_db_error (ctx, reply);
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT thresholds::text FROM alert_settings "
                                   "WHERE organization_id = $1", 1, &org);
    if (!result)
        return usage_reply_db_error (ctx, reply);
    s_pack_thresholds (sb_reply_body (reply, 200),
                       PQntuples (result) ? PQgetvalue (result, 0, 0) : NULL);
    PQclear (result);
    return 0;
}

int
usage_alerts_set (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = usage_org (ctx, args, &fields);
    const msgpack_object *list = sb_mpk_get (args, "thresholds");
    bool seen [101] = { false };
    int count = 0;
    if (!list || list->type != MSGPACK_OBJECT_ARRAY
        || list->via.array.size > S_MAX_THRESHOLDS)
        sb_fields_add (&fields, "thresholds", "must be a list of at most %d percentages",
                       S_MAX_THRESHOLDS);
    else
        for (uint32_t i = 0; i < list->via.array.size; i++) {
            const msgpack_object *item = &list->via.array.ptr [i];
            if (item->type != MSGPACK_OBJECT_POSITIVE_INTEGER || item->via.u64 < 1
                || item->via.u64 > 100) {
                sb_fields_add (&fields, "thresholds",
                               "item %u must be an integer from 1 to 100 (percent)", i);
                break;
            }
            if (seen [item->via.u64]) {
                sb_fields_add (&fields, "thresholds", "item %u repeats %u", i,
                               (unsigned) item->via.u64);
                break;
            }
            seen [item->via.u64] = true;
            count++;
        }
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    //  Sorted, as a PostgreSQL array literal of integers only.
    char literal [S_MAX_THRESHOLDS * 4 + 3] = "{";
    size_t at = 1;
    for (int percent = 1, written = 0; percent <= 100 && written < count; percent++)
        if (seen [percent])
            at += (size_t) snprintf (literal + at, sizeof (literal) - at, "%s%d",
                                     written++ ? "," : "", percent);
    snprintf (literal + at, sizeof (literal) - at, "}");
    if (usage_act_as (ctx, org))
        return usage_reply_db_error (ctx, reply);
    const char *params [] = { org, literal };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "INSERT INTO alert_settings (organization_id, thresholds) "
                                   "VALUES ($1, $2::int[]) "
                                   "ON CONFLICT (organization_id) DO UPDATE "
                                   "SET thresholds = EXCLUDED.thresholds, updated_at = now () "
                                   "RETURNING thresholds::text", 2, params);
    if (!result)
        return usage_reply_db_error (ctx, reply);
    s_pack_thresholds (sb_reply_body (reply, 200), PQgetvalue (result, 0, 0));
    PQclear (result);
    return 0;
}

//  ---- the relay ------------------------------------------------------------------

//  The outbox's columns, in this order (the first two are the key).
enum { C_ALERT, C_CHANNEL, C_ORG, C_METRIC, C_PERIOD, C_THRESHOLD, C_USED, C_QUOTA, C_COUNT };

//  mail.admins for one alert.
static int
s_mail (sb_client_t *client, const char *const *row, char *error, size_t error_size)
{
    char subject [200], text [1024];
    snprintf (subject, sizeof (subject), "Switchboard: %s%% of your monthly %s used",
              row [C_THRESHOLD], row [C_METRIC]);
    snprintf (text, sizeof (text),
              "Your organization has used %s of the %s %s its plan includes in the\r\n"
              "period that began on %s: %s%% of its limit.\r\n"
              "\r\n"
              "Usage beyond the limit is refused (or billed as overage where your plan\r\n"
              "allows it). The billing page shows the plans with higher limits; the\r\n"
              "alert thresholds are set with PUT /v1/usage/alerts.\r\n",
              row [C_USED], row [C_QUOTA], row [C_METRIC], row [C_PERIOD], row [C_THRESHOLD]);
    return sb_client_mail_admins (client, row [C_ALERT], row [C_ORG], subject, text, S_CALL_MS,
                                  error, error_size);
}

//  webhooks.enqueue for one alert.
static int
s_webhook (sb_client_t *client, const char *const *row, char *error, size_t error_size)
{
    char event_id [256];
    snprintf (event_id, sizeof (event_id), "usage-alert:%s:%s:%s:%s", row [C_ORG],
              row [C_METRIC], row [C_PERIOD], row [C_THRESHOLD]);
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    sb_mpk_pack_kv_str (&pk, "organization_id", row [C_ORG]);
    sb_mpk_pack_kv_str (&pk, "event_id", event_id);
    sb_mpk_pack_kv_str (&pk, "type", "usage.threshold_reached");
    sb_mpk_pack_str (&pk, "data");
    msgpack_pack_map (&pk, 5);
    sb_mpk_pack_kv_str (&pk, "metric", row [C_METRIC]);
    sb_mpk_pack_kv_int (&pk, "threshold", strtoll (row [C_THRESHOLD], NULL, 10));
    sb_mpk_pack_kv_int (&pk, "used", strtoll (row [C_USED], NULL, 10));
    sb_mpk_pack_kv_int (&pk, "limit", strtoll (row [C_QUOTA], NULL, 10));
    sb_mpk_pack_kv_str (&pk, "period_start", row [C_PERIOD]);
    int status = sb_client_request (client, "tenant", "webhooks.enqueue", row [C_ORG], &args,
                                    S_CALL_MS, NULL, error, error_size);
    msgpack_sbuffer_destroy (&args);
    return status;
}

static int
s_deliver (sb_client_t *client, const char *const *row, bool *done, char *error,
           size_t error_size)
{
    *done = true;
    if (streq (row [C_CHANNEL], "mail"))
        return s_mail (client, row, error, error_size);
    return s_webhook (client, row, error, error_size);
}

static const sb_outbox_t s_outbox = {
    .name = "usage alerts", .table = "alert_outbox",
    .columns = "alert_id, channel, organization_id, metric, period_start, threshold, used, quota",
    .column_count = C_COUNT, .key_count = 2, .backoff_max_s = S_BACKOFF_MAX_S,
    .deliver = s_deliver
};

int
usage_alerts_start (const sb_config_t *config)
{
    s_relay = sb_outbox_relay_new (config, "usage", &s_outbox);
    return s_relay ? 0 : sb_error ("cannot start the usage alerts relay");
}

void
usage_alerts_wake (void)
{
    if (s_relay)
        sb_relay_wake (s_relay);
}

void
usage_alerts_stop (void)
{
    sb_relay_destroy (&s_relay);
}
