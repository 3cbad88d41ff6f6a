/*  tenant_relay.c — delivers the usage outbox to usage-svc.

    The relay is an sb_relay (common/src/relay.c: its own thread,
    database connection and bus client, woken by tenant_relay_wake after
    a transaction that wrote usage has committed, looking at least once a
    second, backing off 1 s doubling to 30 s after a failure). Each step
    sends the undelivered rows in batches of up to 500 with one
    usage.record call per batch. A batch's rows are locked (FOR UPDATE
    SKIP LOCKED, so several workers' relays share the outbox without
    sending a row twice at once) and marked delivered in the same
    transaction only once usage-svc has acknowledged them. usage-svc
    answers per event: the rows it refused (their organization's counter
    would pass its cap, see usage-svc) are marked refused instead, with
    the reason (refused_at, refusal), and never sent again, so one
    organization's refused rows never hold back the rows of others. When
    usage-svc is down or does not take the batch, nothing is marked and
    the attempt is counted.
    usage-svc deduplicates by event id, so a batch sent twice
    (acknowledged, then the commit lost) counts once.

    An organization's deletion reaches tenant-svc as org.purge from
    auth-svc's deletion relay (tenant_org.c), not as the org.deleted
    event: an event is lost by a process that is down when it is sent.
*/
#include "tenant.h"
#include "sb/relay.h"

#define S_BATCH         500

static sb_relay_t *s_relay;

typedef struct {
    sb_db_t *db;
    sb_client_t *client;
} s_relay_t;

//  Sends one batch. Returns the number of rows delivered (0 when the
//  outbox is empty), or -1 when they could not be delivered.
static int
s_deliver_batch (s_relay_t *self)
{
    if (sb_db_begin (self->db))
        return -1;
    char limit [16];
    snprintf (limit, sizeof (limit), "%d", S_BATCH);
    const char *params [] = { limit };
    PGresult *rows = sb_db_exec (self->db,
                                 "SELECT id, organization_id, event_id, metric, quantity, "
                                 SB_SQL_TS ("occurred_at") ", business_id FROM usage_outbox "
                                 "WHERE delivered_at IS NULL AND refused_at IS NULL "
                                 "ORDER BY id LIMIT $1::int FOR UPDATE SKIP LOCKED",
                                 1, params);
    if (!rows) {
        sb_db_rollback (self->db);
        return -1;
    }
    int count = PQntuples (rows);
    if (count == 0) {
        PQclear (rows);
        sb_db_commit (self->db);
        return 0;
    }
    //  The request: {events: [{id, org, metric, quantity, occurred_at,
    //  business_id}]}, and the row ids as an array literal for the update.
    msgpack_sbuffer args, envelope;
    msgpack_sbuffer_init (&args);
    msgpack_sbuffer_init (&envelope);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sb_mpk_pack_str (&pk, "events");
    msgpack_pack_array (&pk, (size_t) count);
    char *ids = (char *) sb_malloc ((size_t) count * 21 + 3);
    size_t n = 0;
    ids [n++] = '{';
    for (int r = 0; r < count; r++) {
        msgpack_pack_map (&pk, 6);
        sb_mpk_pack_kv_str (&pk, "id", PQgetvalue (rows, r, 2));
        sb_mpk_pack_kv_str (&pk, "org", PQgetvalue (rows, r, 1));
        sb_mpk_pack_kv_str (&pk, "metric", PQgetvalue (rows, r, 3));
        sb_mpk_pack_kv_int (&pk, "quantity", strtoll (PQgetvalue (rows, r, 4), NULL, 10));
        sb_mpk_pack_kv_str (&pk, "occurred_at", PQgetvalue (rows, r, 5));
        sb_mpk_pack_kv_str (&pk, "business_id",
                            PQgetisnull (rows, r, 6) ? NULL : PQgetvalue (rows, r, 6));
        n += (size_t) sprintf (ids + n, "%s%s", r ? "," : "", PQgetvalue (rows, r, 0));
    }
    ids [n++] = '}';
    ids [n] = 0;
    PQclear (rows);

    sb_envelope_head_t head = { .role = SB_ROLE_SERVICE };
    sb_random_hex (head.id, 16);
    snprintf (head.op, sizeof (head.op), "usage.record");
    head.deadline = sb_now_ms () + 5000;
    sb_envelope_encode_request (&envelope, &head, args.data, args.size);
    sb_reply_msg_t reply;
    bool acknowledged = self->client
                        && sb_client_call (self->client, "usage", envelope.data, envelope.size,
                                           5000, &reply) == 0;
    //  The events usage-svc refused, as JSON: [{index, error, message}].
    msgpack_sbuffer refusals;
    msgpack_sbuffer_init (&refusals);
    if (acknowledged) {
        if (reply.status >= 300)
            sb_warn ("relay: usage-svc did not take %d events: %d", count, reply.status);
        acknowledged = reply.status < 300;
        const msgpack_object *refused = reply.body ? sb_mpk_get (reply.body, "refusals") : NULL;
        if (acknowledged && refused && refused->type == MSGPACK_OBJECT_ARRAY
            && refused->via.array.size > 0) {
            sb_warn ("relay: usage-svc refused %u of %d events (usage_outbox.refusal says why)",
                     refused->via.array.size, count);
            sb_json_write (&refusals, refused);
            msgpack_sbuffer_write (&refusals, "", 1);
        }
        sb_reply_msg_release (&reply);
    }
    msgpack_sbuffer_destroy (&args);
    msgpack_sbuffer_destroy (&envelope);

    //  Refused rows first (row i of the batch is refusal index i), then the
    //  others are delivered; unacknowledged, every row is tried again later.
    const char *update [] = { ids, refusals.data };
    int rc = refusals.size
                 ? sb_db_run (self->db,
                              "WITH r AS ("
                              "  SELECT ($1::bigint[]) [(x->>'index')::int + 1] AS id,"
                              "         (x->>'error') || ': ' || (x->>'message') AS reason"
                              "    FROM jsonb_array_elements ($2::jsonb) AS x)"
                              "UPDATE usage_outbox AS o"
                              "   SET refused_at = now (), refusal = r.reason,"
                              "       attempts = o.attempts + 1"
                              "  FROM r WHERE o.id = r.id",
                              2, update)
                 : 0;
    if (rc == 0)
        rc = sb_db_run (self->db,
                        acknowledged
                            ? "UPDATE usage_outbox SET delivered_at = now (), attempts = attempts + 1 "
                              "WHERE id = ANY ($1::bigint[]) AND refused_at IS NULL"
                            : "UPDATE usage_outbox SET attempts = attempts + 1 "
                              "WHERE id = ANY ($1::bigint[])",
                        1, update);
    msgpack_sbuffer_destroy (&refusals);
    free (ids);
    if (rc || sb_db_commit (self->db)) {
        sb_db_rollback (self->db);
        return -1;
    }
    return acknowledged ? count : -1;
}

//  The relay's step: every full batch says there may be more.
static int
s_step (sb_db_t *db, sb_client_t *client, void *arg)
{
    (void) arg;
    s_relay_t self = { db, client };
    int delivered = s_deliver_batch (&self);
    return delivered < 0 ? -1 : delivered == S_BATCH ? 1 : 0;
}

int
tenant_relay_start (const sb_config_t *config)
{
    sb_relay_spec_t spec = { .name = "relay", .schema = "tenant", .step = s_step };
    s_relay = sb_relay_new (config, &spec);
    return s_relay ? 0 : -1;
}

void
tenant_relay_wake (void)
{
    sb_relay_wake (s_relay);
}

void
tenant_relay_stop (void)
{
    sb_relay_destroy (&s_relay);
}
