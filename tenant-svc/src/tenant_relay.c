/*  tenant_relay.c — delivers the usage outbox to usage-svc, and deletes an
    organization's data when it is deleted.

    The relay is an actor (its own thread) with its own database
    connection and bus client, so that the worker never waits for
    usage-svc. It sleeps until its worker tells it that a transaction wrote
    usage (tenant_relay_wake, after the commit) or for at most a second
    (rows another process committed and could not deliver: it stopped),
    then sends the undelivered rows in batches of up to
    500 with one usage.record call per batch. A batch's rows are locked
    (FOR UPDATE SKIP LOCKED, so several workers' relays share the outbox
    without sending a row twice at once) and marked delivered in the same
    transaction only once usage-svc has acknowledged them. usage-svc
    answers per event: the rows it refused (their organization's counter
    would pass its cap, see usage-svc) are marked refused instead, with
    the reason (refused_at, refusal), and never sent again, so one
    organization's refused rows never hold back the rows of others. When
    usage-svc is down or does not take the batch, nothing is marked, the
    attempt is counted, and the relay backs off (1 s doubling to 30 s).
    usage-svc deduplicates by event id, so a batch sent twice
    (acknowledged, then the commit lost) counts once.

    Not LISTEN/NOTIFY: PostgreSQL serializes the commits of transactions
    that NOTIFY (one lock on the notification queue, held through the WAL
    flush), which capped POST /v1/calls at some 700 a second.

    It also listens for org.deleted on the event bus and deletes that
    organization's businesses (their calls and orders cascade) and its
    legacy import records.
*/
#include "tenant.h"
#include "sb/jwt.h"
#include <poll.h>

#define S_BATCH         500
#define S_IDLE_MS       1000        //  look at the outbox at least this often
#define S_BACKOFF_MAX   30000

static zactor_t *s_relay;

typedef struct {
    const sb_config_t *config;
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

static void
s_delete_org (s_relay_t *self, zmsg_t *msg)
{
    zframe_t *topic = zmsg_pop (msg);
    zframe_t *body = zmsg_pop (msg);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    char why [64], org [37];
    if (body
        && sb_mpk_validate (zframe_data (body), zframe_size (body), SB_MPK_MAX_DEPTH, why,
                            sizeof (why)) == 0
        && msgpack_unpack_next (&unpacked, (const char *) zframe_data (body), zframe_size (body),
                                NULL) == MSGPACK_UNPACK_SUCCESS
        && sb_mpk_copy_str (sb_mpk_get (&unpacked.data, "org"), org, sizeof (org)) == 0
        && sb_is_uuid (org)) {
        const char *params [] = { org };
        //  Every worker hears the event; deleting twice deletes nothing more.
        if (sb_db_begin (self->db) == 0 && sb_db_set_org (self->db, org) == 0
            && sb_db_run (self->db, "DELETE FROM businesses WHERE organization_id = $1", 1,
                          params) == 0
            && sb_db_run (self->db, "DELETE FROM legacy_id_map WHERE organization_id = $1", 1,
                          params) == 0
            && sb_db_run (self->db, "DELETE FROM legacy_import_runs WHERE organization_id = $1",
                          1, params) == 0
            && sb_db_commit (self->db) == 0)
            sb_info ("relay: deleted the data of organization %s", org);
        else {
            sb_db_rollback (self->db);
            sb_error ("relay: could not delete the data of organization %s", org);
        }
    }
    msgpack_unpacked_destroy (&unpacked);
    zframe_destroy (&topic);
    zframe_destroy (&body);
}

static void
s_actor (zsock_t *pipe, void *arg)
{
    s_relay_t self = { .config = (const sb_config_t *) arg };
    self.db = sb_db_new (self.config->service_database_url, "tenant");
    self.client = sb_client_new (self.config->broker);
    const char *topics [] = { "org.deleted", NULL };
    zsock_t *sub = sb_events_subscriber_new (self.config, topics);
    zsock_signal (pipe, 0);
    sb_db_connect (self.db, 30000);

    int64_t next = 0;               //  when to look at the outbox (monotonic)
    int backoff = 0;
    while (true) {
        zmq_pollitem_t items [2] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (sub), 0, ZMQ_POLLIN, 0 },
        };
        int64_t wait = next - sb_mono_ms ();
        if (zmq_poll (items, 2, wait > 0 ? (long) wait : 0) == -1 && zmq_errno () != EINTR)
            break;
        bool terminated = false, woken = false;
        while (zsock_events (pipe) & ZMQ_POLLIN) {
            char *command = zstr_recv (pipe);
            if (!command || streq (command, "$TERM"))
                terminated = true;
            else
                woken = true;       //  WAKE: many coalesce into one look
            zstr_free (&command);
            if (terminated)
                break;
        }
        if (terminated)
            break;
        //  Woken by a commit: go now, unless backing off from a failure.
        if (woken && backoff == 0)
            next = 0;
        if (items [1].revents & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv (sub);
            if (msg)
                s_delete_org (&self, msg);
            zmsg_destroy (&msg);
        }
        if (sb_mono_ms () < next)
            continue;
        int delivered;
        while ((delivered = s_deliver_batch (&self)) == S_BATCH)
            ;
        if (delivered < 0) {
            backoff = backoff ? (backoff * 2 > S_BACKOFF_MAX ? S_BACKOFF_MAX : backoff * 2) : 1000;
            next = sb_mono_ms () + backoff;
        }
        else {
            backoff = 0;
            next = sb_mono_ms () + S_IDLE_MS;
        }
    }
    zsock_destroy (&sub);
    sb_client_destroy (&self.client);
    sb_db_destroy (&self.db);
    //  libpq's connection (SCRAM, the SSL attempt) left OpenSSL state on
    //  this thread; an actor's thread may outlive main's cleanup, so free it.
    sb_jwt_thread_stop ();
}

int
tenant_relay_start (const sb_config_t *config)
{
    s_relay = zactor_new (s_actor, (void *) config);
    return s_relay ? 0 : -1;
}

void
tenant_relay_wake (void)
{
    if (s_relay)
        zstr_send (s_relay, "WAKE");
}

void
tenant_relay_stop (void)
{
    zactor_destroy (&s_relay);
}
