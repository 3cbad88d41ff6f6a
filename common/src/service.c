/*  service.c — the skeleton every service binary runs.

    sb_service_main turns a table of operations into a process: it parses
    the command line, loads the configuration, connects to PostgreSQL and
    migrates the service's schema, registers with every broker, and then
    serves requests until SIGTERM or SIGINT: one at a time, or as many as
    the service's credit lets the broker hand over at once, when reads that
    are one statement each share a database round trip. For each request
    it decodes and validates the envelope, drops work whose deadline has
    passed, checks the caller's role against the operation's, opens a
    transaction with the organization set for row-level security when the
    operation asks for one, calls the handler and sends the encoded reply.
    A failure the handler did not answer becomes 503 when the database is
    unreachable (with retry_after, as every 503), 503 outcome_unknown when
    a COMMIT's fate cannot be known, and 500 only for our own bugs
    (s_reply_failure).

    A service with a lane (sb_service_t.lane: billing's "stripe") runs a
    second worker on its own thread, with its own database connection,
    event publisher and bus client (the per-thread state below is
    __thread), registered as "<name>.<lane>": the operations that wait on
    an outside party are routed there, so that while Stripe is slow the
    service's own worker goes on answering everything else. The start and
    stop hooks run once, on the main thread; worker_stop on each worker's.

    A service with SB_OP_PEER operations also runs its peer worker
    ("<name>.peer", sb_service_t: "The peer worker"), likewise on a thread
    of its own: it answers only those operations (anything else: 404
    unknown_operation), and a handler running there cannot call the bus.

    Changes marked SB_OP_GROUP (query/finish halves) of the requests a
    worker holds commit together: in rounds of one request per
    organization, each round one transaction and one round trip
    (sb_db_exec_group); when the op merges (sb_op_t.merge), a round is one
    statement across the organizations (all_orgs for that statement only),
    each request's finish reading its part of the one result. A merged
    statement that fails reruns as a group, a group that fails reruns each
    request alone: one request's failure never fails another's.

    A reply is written once, straight into its final buffer: the envelope
    head first, then the handler packs the body (or the error) as the last
    value of the map, so nothing is copied afterwards.
*/
#include "sb/sb.h"
#include <assert.h>
#include <pthread.h>
#include <sodium.h>
#include <unistd.h>

#define S_ENTS_CALL_MS 2000         //  an entitlement lookup waits at most this

//  One block of request-scoped memory; blocks are chained and freed when
//  the request is answered.
typedef struct _s_block_t {
    struct _s_block_t *next;
    max_align_t data [];
} s_block_t;

//  An event waiting for its transaction to commit.
typedef struct _s_event_t {
    struct _s_event_t *next;
    char *topic;
    size_t size;
    char body [];
} s_event_t;

struct _sb_ctx_t {
    const sb_service_t *service;
    const sb_config_t *config;
    sb_db_t *db;
    const sb_request_t *request;
    s_block_t *blocks;
    s_event_t *events;              //  in reverse order of publication
    bool commit_on_error;
    void (*after_commit) (void);
};

//  Each worker thread (the main one, and a lane's) has its own sockets.
static __thread zsock_t *s_publisher;   //  the worker's PUB socket for events
static __thread sb_client_t *s_client;  //  its bus client (entitlements, sb_ctx_call)
static __thread bool s_peer;            //  this thread is the peer worker
static sb_plans_t *s_plans;         //  the plan catalogue, for a service with .plans
static sb_ents_t *s_ents;           //  entitlements remembered, for a service with .entitlements
static sb_secrets_t *s_secrets;     //  the sealing key, for a service with .secrets

struct _sb_reply_t {
    msgpack_sbuffer buf;
    msgpack_packer pk;
    const char *id;
    bool written;
    int status;
    size_t body_at;                 //  where the body's (or error's) bytes start in buf
};

static char s_worker_id [17];

const sb_envelope_head_t *
sb_ctx_head (sb_ctx_t *ctx)
{
    return &ctx->request->head;
}

const sb_config_t *
sb_ctx_config (sb_ctx_t *ctx)
{
    return ctx->config;
}

sb_db_t *
sb_ctx_db (sb_ctx_t *ctx)
{
    return ctx->db;
}

const sb_plans_t *
sb_ctx_plans (sb_ctx_t *ctx)
{
    (void) ctx;
    assert (s_plans);               //  a service that uses plans says so (.plans)
    return s_plans;
}

sb_secrets_t *
sb_ctx_secrets (sb_ctx_t *ctx)
{
    (void) ctx;
    return sb_service_secrets ();
}

sb_secrets_t *
sb_service_secrets (void)
{
    assert (s_secrets);             //  a service that seals secrets says so (.secrets)
    return s_secrets;
}

int
sb_ctx_entitlement (sb_ctx_t *ctx, const char *org, sb_entitlement_t *ent, sb_reply_t *reply)
{
    assert (s_ents);                //  a service that uses them says so (.entitlements)
    if (!org)
        org = ctx->request->head.org;
    //  On the peer worker only what is remembered: a lookup would call the bus.
    if (sb_ents_get (s_ents, s_peer ? NULL : s_client, org, S_ENTS_CALL_MS, ent) == 0)
        return 0;
    if (reply) {
        msgpack_packer *pk = sb_reply_error_extra (
            reply, 503, SB_E_SERVICE_UNAVAILABLE,
            "the organization's plan cannot be read now (billing is unavailable), retry shortly",
            1);
        sb_mpk_pack_kv_int (pk, "retry_after", 1);
    }
    return 1;
}

int
sb_ctx_call (sb_ctx_t *ctx, const char *service, const char *op, const msgpack_sbuffer *args,
             int timeout_ms, sb_reply_msg_t *reply)
{
    if (!s_client)
        return -1;
    if (s_peer) {
        sb_error ("%s called %s %s on the bus: a peer operation may not (it could wait "
                  "on a worker that waits on it)", ctx->request->head.op, service, op);
        return -1;
    }
    const sb_envelope_head_t *head = &ctx->request->head;
    int64_t left = head->deadline - sb_now_ms ();
    if (left < timeout_ms)
        timeout_ms = left > 0 ? (int) left : 0;
    if (timeout_ms <= 0)
        return -1;
    sb_envelope_head_t call = { .role = SB_ROLE_SERVICE };
    //  The request's id (for the logs) and a suffix of its own: the client
    //  tells replies apart by id, and a late answer to an earlier call of
    //  this request must not pass for this one's.
    char suffix [9];
    sb_random_hex (suffix, 4);
    snprintf (call.id, sizeof (call.id), "%.48s:%s", head->id, suffix);
    snprintf (call.op, sizeof (call.op), "%s", op);
    snprintf (call.org, sizeof (call.org), "%s", head->org);
    call.deadline = sb_now_ms () + timeout_ms;
    msgpack_sbuffer envelope;
    msgpack_sbuffer_init (&envelope);
    sb_envelope_encode_request (&envelope, &call, args ? args->data : NULL, args ? args->size : 0);
    char peer [SB_SERVICE_NAME_MAX + 1];
    snprintf (peer, sizeof (peer), "%s.peer", service);
    int rc = sb_client_call (s_client, peer, envelope.data, envelope.size, timeout_ms, reply);
    msgpack_sbuffer_destroy (&envelope);
    return rc;
}

void *
sb_ctx_alloc (sb_ctx_t *ctx, size_t size)
{
    s_block_t *block = (s_block_t *) sb_malloc (sizeof (s_block_t) + size);
    block->next = ctx->blocks;
    ctx->blocks = block;
    return block->data;
}

char *
sb_ctx_strndup (sb_ctx_t *ctx, const char *s, size_t len)
{
    char *copy = (char *) sb_ctx_alloc (ctx, len + 1);
    memcpy (copy, s, len);
    copy [len] = 0;
    return copy;
}

void
sb_ctx_commit_on_error (sb_ctx_t *ctx)
{
    ctx->commit_on_error = true;
}

void
sb_ctx_after_commit (sb_ctx_t *ctx, void (*fn) (void))
{
    ctx->after_commit = fn;
}

void
sb_ctx_publish (sb_ctx_t *ctx, const char *topic, const void *body, size_t size)
{
    s_event_t *event = (s_event_t *) sb_malloc (sizeof (s_event_t) + size);
    event->topic = sb_strdup (topic);
    event->size = size;
    if (size)
        memcpy (event->body, body, size);
    event->next = ctx->events;
    ctx->events = event;
}

//  Publishes (when send is true) then frees the queued events, oldest first.
static void
s_ctx_flush_events (sb_ctx_t *ctx, bool send)
{
    if (send && ctx->after_commit)
        ctx->after_commit ();
    ctx->after_commit = NULL;
    s_event_t *reversed = NULL;
    while (ctx->events) {
        s_event_t *event = ctx->events;
        ctx->events = event->next;
        event->next = reversed;
        reversed = event;
    }
    while (reversed) {
        s_event_t *event = reversed;
        reversed = event->next;
        if (send && s_publisher)
            sb_events_publish (s_publisher, event->topic, event->body, event->size);
        free (event->topic);
        free (event);
    }
}

static void
s_ctx_release (sb_ctx_t *ctx)
{
    s_ctx_flush_events (ctx, false);
    while (ctx->blocks) {
        s_block_t *block = ctx->blocks;
        ctx->blocks = block->next;
        free (block);
    }
}

void
sb_fields_add (sb_fields_t *fields, const char *field, const char *format, ...)
{
    if (fields->count == SB_FIELDS_MAX || sb_fields_has (fields, field))
        return;
    fields->items [fields->count].field = field;
    va_list args;
    va_start (args, format);
    vsnprintf (fields->items [fields->count].message,
               sizeof (fields->items [fields->count].message), format, args);
    va_end (args);
    fields->count++;
}

bool
sb_fields_has (const sb_fields_t *fields, const char *field)
{
    for (size_t i = 0; i < fields->count; i++)
        if (streq (fields->items [i].field, field))
            return true;
    return false;
}

int
sb_reply_fields (sb_reply_t *reply, const sb_fields_t *fields)
{
    msgpack_packer *pk = sb_reply_error_extra (reply, 400, SB_E_VALIDATION_FAILED,
                                               "some fields are invalid", 1);
    sb_mpk_pack_str (pk, "fields");
    msgpack_pack_map (pk, fields->count);
    for (size_t i = 0; i < fields->count; i++)
        sb_mpk_pack_kv_str (pk, fields->items [i].field, fields->items [i].message);
    return 0;
}

static const char *
s_arg_string (sb_ctx_t *ctx, const msgpack_object *args, const char *name, bool required,
              size_t min, size_t max, sb_fields_t *fields, bool multiline)
{
    const msgpack_object *obj = sb_mpk_get (args, name);
    if (!obj || obj->type == MSGPACK_OBJECT_NIL) {
        if (required)
            sb_fields_add (fields, name, "is required");
        return NULL;
    }
    if (obj->type != MSGPACK_OBJECT_STR) {
        sb_fields_add (fields, name, "must be a string");
        return NULL;
    }
    long chars = sb_utf8_chars (obj->via.str.ptr, obj->via.str.size, multiline);
    if (chars < 0) {
        sb_fields_add (fields, name, "must not contain control characters");
        return NULL;
    }
    if ((size_t) chars < min || (size_t) chars > max) {
        if (min == max)
            sb_fields_add (fields, name, "must be %zu characters long", min);
        else
            sb_fields_add (fields, name, "must be %zu to %zu characters long", min, max);
        return NULL;
    }
    return sb_ctx_strndup (ctx, obj->via.str.ptr, obj->via.str.size);
}

const char *
sb_arg_string (sb_ctx_t *ctx, const msgpack_object *args, const char *name, bool required,
               size_t min, size_t max, sb_fields_t *fields)
{
    return s_arg_string (ctx, args, name, required, min, max, fields, false);
}

const char *
sb_arg_uuid (sb_ctx_t *ctx, const msgpack_object *args, const char *name, bool required,
             sb_fields_t *fields)
{
    const char *value = sb_arg_string (ctx, args, name, required, 1, 64, fields);
    if (value && !sb_is_uuid (value)) {
        sb_fields_add (fields, name, "must be a UUID");
        return NULL;
    }
    return value;
}

const char *
sb_arg_text (sb_ctx_t *ctx, const msgpack_object *args, const char *name, bool required,
             size_t min, size_t max, sb_fields_t *fields)
{
    return s_arg_string (ctx, args, name, required, min, max, fields, true);
}

bool
sb_arg_bool (const msgpack_object *args, const char *name, bool *value, sb_fields_t *fields)
{
    const msgpack_object *obj = sb_mpk_get (args, name);
    if (!obj || obj->type == MSGPACK_OBJECT_NIL)
        return false;
    if (obj->type != MSGPACK_OBJECT_BOOLEAN) {
        sb_fields_add (fields, name, "must be true or false");
        return false;
    }
    *value = obj->via.boolean;
    return true;
}

const char *
sb_arg_timestamp (sb_ctx_t *ctx, const msgpack_object *args, const char *name, bool required,
                  int64_t *usec, sb_fields_t *fields)
{
    const char *value = sb_arg_string (ctx, args, name, required, 1, 64, fields);
    int64_t instant;
    if (!value)
        return NULL;
    if (sb_timestamp_parse (value, &instant)) {
        sb_fields_add (fields, name, "must be an RFC 3339 timestamp, e.g. 2026-12-02T10:00:00Z");
        return NULL;
    }
    if (usec)
        *usec = instant;
    char *normal = (char *) sb_ctx_alloc (ctx, SB_TIMESTAMP_SIZE);
    sb_timestamp_format (instant, normal);
    return normal;
}

const char *
sb_arg_month (sb_ctx_t *ctx, const msgpack_object *args, const char *name, bool required,
              sb_fields_t *fields)
{
    const char *month = sb_arg_string (ctx, args, name, required, 7, 7, fields);
    if (!month)
        return NULL;
    bool ok = month [4] == '-';
    for (int at = 0; ok && at < 7; at++)
        ok = at == 4 || (month [at] >= '0' && month [at] <= '9');
    int number = ok ? atoi (month + 5) : 0;
    if (!ok || number < 1 || number > 12 || atoi (month) < 1970) {
        sb_fields_add (fields, name, "must be a month as YYYY-MM");
        return NULL;
    }
    return month;
}

const char *
sb_arg_id (sb_ctx_t *ctx, const msgpack_object *args)
{
    char id [37];
    if (sb_mpk_copy_str (sb_mpk_get (args, "id"), id, sizeof (id)) || !sb_is_uuid (id))
        return NULL;
    for (char *c = id; *c; c++)
        *c = (char) tolower ((unsigned char) *c);
    return sb_ctx_strndup (ctx, id, 36);
}

int
sb_reply_one (sb_reply_t *reply, PGresult *result, int status, const char *not_found)
{
    if (!result)
        return -1;
    if (PQntuples (result) > 0)
        sb_db_pack_row (sb_reply_body (reply, status), result, 0);
    else
        sb_reply_error (reply, 404, SB_E_NOT_FOUND, "%s", not_found);
    PQclear (result);
    return 0;
}

int
sb_reply_all (sb_reply_t *reply, PGresult *result)
{
    if (!result)
        return -1;
    sb_reply_rows (reply, result, PQntuples (result), NULL);
    PQclear (result);
    return 0;
}

int
sb_reply_rows (sb_reply_t *reply, const PGresult *result, int rows, const char *next_cursor)
{
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 2);
    sb_mpk_pack_str (pk, "data");
    msgpack_pack_array (pk, (size_t) rows);
    for (int r = 0; r < rows; r++)
        sb_db_pack_row (pk, result, r);
    sb_mpk_pack_str (pk, "next_cursor");
    sb_mpk_pack_str (pk, next_cursor);
    return 0;
}

bool
sb_arg_int (const msgpack_object *args, const char *name, int64_t min, int64_t max,
            int64_t *value, sb_fields_t *fields)
{
    const msgpack_object *obj = sb_mpk_get (args, name);
    if (!obj || obj->type == MSGPACK_OBJECT_NIL)
        return false;
    int64_t n = 0;
    bool ok = sb_mpk_int (obj, &n) == 0;
    if (!ok && obj->type == MSGPACK_OBJECT_STR && obj->via.str.size > 0 && obj->via.str.size < 20) {
        char text [24];
        memcpy (text, obj->via.str.ptr, obj->via.str.size);
        text [obj->via.str.size] = 0;
        char *end;
        errno = 0;
        n = strtoll (text, &end, 10);
        ok = errno == 0 && *end == 0 && (isdigit ((unsigned char) text [0]) || text [0] == '-');
    }
    if (!ok || n < min || n > max) {
        sb_fields_add (fields, name, "must be an integer from %lld to %lld", (long long) min,
                       (long long) max);
        return false;
    }
    *value = n;
    return true;
}

//  Starts the reply map: v, id, status, replayed when true, then the key
//  of the last value.
static msgpack_packer *
s_reply_start (sb_reply_t *reply, int status, const char *last_key, bool replayed)
{
    msgpack_sbuffer_clear (&reply->buf);
    msgpack_packer *pk = &reply->pk;
    msgpack_pack_map (pk, replayed ? 5 : 4);
    sb_mpk_pack_kv_int (pk, "v", SB_ENVELOPE_VERSION);
    sb_mpk_pack_kv_str (pk, "id", reply->id);
    sb_mpk_pack_kv_int (pk, "status", status);
    if (replayed) {
        sb_mpk_pack_str (pk, "replayed");
        msgpack_pack_true (pk);
    }
    sb_mpk_pack_str (pk, last_key);
    reply->written = true;
    reply->status = status;
    reply->body_at = reply->buf.size;
    return pk;
}

msgpack_packer *
sb_reply_body (sb_reply_t *reply, int status)
{
    return s_reply_start (reply, status, "body", false);
}

//  Seconds a client is told to wait after a 503 (the gateway turns the
//  error's retry_after into Retry-After): every 503 says when to come back.
#define S_RETRY_AFTER_S 1

msgpack_packer *
sb_reply_error_extra (sb_reply_t *reply, int status, const char *code, const char *message,
                      size_t extra_pairs)
{
    msgpack_packer *pk = s_reply_start (reply, status, "error", false);
    msgpack_pack_map (pk, 2 + extra_pairs + (status == 503));
    sb_mpk_pack_kv_str (pk, "code", code);
    sb_mpk_pack_kv_str (pk, "message", message);
    if (status == 503)
        sb_mpk_pack_kv_int (pk, "retry_after", S_RETRY_AFTER_S);
    return pk;
}

//  Answers a request whose work failed unexpectedly (a handler's -1, a
//  statement of a batch or group that failed, a commit refused). A database
//  that is unreachable for now answers 503, as does a commit that failed
//  (committing); a COMMIT whose answer was lost with its connection
//  (SQLSTATE 08007) may have applied the change, so it is not reported as
//  failed but as outcome_unknown (503 too: a retry with the same
//  Idempotency-Key, or the same usage event ids, is safe; a blind retry
//  may apply it twice). Anything else is our bug: 500.
static void
s_reply_failure (sb_reply_t *reply, sb_db_t *db, bool committing)
{
    if (streq (sb_db_sqlstate (db), "08007"))
        sb_reply_error (reply, 503, SB_E_OUTCOME_UNKNOWN,
                        "the database connection was lost while the change was being "
                        "committed: it may or may not have been applied");
    else
    if (committing)
        sb_reply_error (reply, 503, SB_E_SERVICE_UNAVAILABLE, "the change could not be committed");
    else
    if (sb_db_unavailable (db))
        sb_reply_error (reply, 503, SB_E_SERVICE_UNAVAILABLE,
                        "the database is unavailable, try again shortly");
    else
        sb_reply_error (reply, 500, SB_E_INTERNAL, "the service failed to handle the request");
}

int
sb_reply_error (sb_reply_t *reply, int status, const char *code, const char *format, ...)
{
    char message [512];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof (message), format, args);
    va_end (args);
    sb_reply_error_extra (reply, status, code, message, 0);
    return 0;
}

//  The built-in operation every service answers: who is serving, whether
//  its database answers, and the arguments as the service decoded them (so
//  that a round trip through gateway, broker and worker can be checked end
//  to end). Internal callers (role service) may ask it to hold the worker
//  for sleep_ms, to exercise deadlines and graceful stops; the gateway
//  never sends that role.
static int
s_sys_ping (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    int64_t sleep_ms = 0;
    if (ctx->request->head.role >= SB_ROLE_SERVICE
        && sb_mpk_int (sb_mpk_get (args, "sleep_ms"), &sleep_ms) == 0 && sleep_ms > 0)
        zclock_sleep ((int) (sleep_ms < 10000 ? sleep_ms : 10000));
    PGresult *result = sb_db_exec (ctx->db, "SELECT 1", 0, NULL);
    bool database = result != NULL;
    PQclear (result);

    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 5);
    sb_mpk_pack_kv_str (pk, "service", ctx->service->name);
    sb_mpk_pack_kv_str (pk, "worker", s_worker_id);
    sb_mpk_pack_kv_str (pk, "version", SB_VERSION);
    sb_mpk_pack_str (pk, "database");
    if (database)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    sb_mpk_pack_str (pk, "echo");
    msgpack_pack_object (pk, *args);
    return 0;
}

//  The other built-in operation: the service's own figures for the
//  gateway's /metrics (role service: the gateway asks it at scrape time).
//  They are global, read from the database, so any worker can answer:
//  the rows of the service's stats_sql (sb_service_t), run across every
//  organization, each {name, value, labels: {column: text}} from its
//  columns name, value and the others (a NULL one is left out). A service
//  without stats_sql answers no gauges. Answers
//  {service, gauges: [...]}; 500 when the statement fails.
static int
s_sys_stats (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    const char *sql = ctx->service->stats_sql;
    PGresult *result = NULL;
    if (sql) {
        if (sb_db_all_orgs (ctx->db))
            return -1;
        result = sb_db_exec (ctx->db, sql, 0, NULL);
        if (!result)
            return -1;
    }
    int rows = result ? PQntuples (result) : 0;
    int columns = result ? PQnfields (result) : 0;
    int name_column = result ? PQfnumber (result, "name") : -1;
    int value_column = result ? PQfnumber (result, "value") : -1;
    if (result && (name_column < 0 || value_column < 0)) {
        PQclear (result);
        return sb_error ("sys.stats: the statement has no name or no value column");
    }
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 2);
    sb_mpk_pack_kv_str (pk, "service", ctx->service->name);
    sb_mpk_pack_str (pk, "gauges");
    msgpack_pack_array (pk, (size_t) rows);
    for (int row = 0; row < rows; row++) {
        msgpack_pack_map (pk, 3);
        sb_mpk_pack_kv_str (pk, "name", PQgetvalue (result, row, name_column));
        sb_mpk_pack_str (pk, "value");
        const char *value = PQgetvalue (result, row, value_column);
        if (PQgetisnull (result, row, value_column))
            msgpack_pack_int64 (pk, 0);
        else
            msgpack_pack_double (pk, strtod (value, NULL));
        uint32_t labels = 0;
        for (int column = 0; column < columns; column++)
            if (column != name_column && column != value_column
                && !PQgetisnull (result, row, column))
                labels++;
        sb_mpk_pack_str (pk, "labels");
        msgpack_pack_map (pk, labels);
        for (int column = 0; column < columns; column++)
            if (column != name_column && column != value_column
                && !PQgetisnull (result, row, column))
                sb_mpk_pack_kv_str (pk, PQfname (result, column),
                                    PQgetvalue (result, row, column));
    }
    PQclear (result);
    return 0;
}

//  ---------------------------------------------------------------------
//  The operator's built-in operations (role operator, switchboardctl)
//
//  sys.migrations {run?}: the schema's migrations as this binary ships
//  them (its own, then the skeleton's) against <schema>.schema_migrations:
//  each {version, name, state: applied|pending|unknown, applied_at}, where
//  unknown is a version applied by another (newer) binary. With run true it
//  first applies the pending ones through sb_migrate, the code path of the
//  start: under the schema's advisory lock, so that several workers asked
//  at once (or starting meanwhile) migrate exactly once. migrate.c records
//  no checksums, so a file edited after it was applied cannot be told:
//  the answer says checksums "not_recorded". Answers {service, schema,
//  ran (run: how many applied; -1 when one failed), shipped, applied,
//  pending, unknown, checksums, migrations: [...]}; a failed run answers
//  500 migration_failed (the reason is in the service's log).

static const char *
s_migration_name (const sb_service_t *service, int version)
{
    for (size_t index = 0; index < *service->migration_count; index++)
        if (service->migrations [index].version == version)
            return service->migrations [index].name;
    for (size_t index = 0; index < sb_skeleton_migration_count; index++)
        if (sb_skeleton_migrations [index].version == version)
            return sb_skeleton_migrations [index].name;
    return NULL;
}

static int
s_sys_migrations (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const sb_service_t *service = ctx->service;
    bool run = false;
    sb_fields_t fields = { 0 };
    sb_arg_bool (args, "run", &run, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    int ran = 0;
    if (run) {
        ran = sb_migrate (ctx->db, service->name, service->migrations,
                          *service->migration_count);
        if (ran < 0)
            return sb_reply_error (reply, 500, "migration_failed",
                                   "a migration of '%s' failed: see the service's log",
                                   service->name);
    }
    //  Shipped versions, as one parameter: the applied ones join them in SQL
    size_t shipped = *service->migration_count + sb_skeleton_migration_count;
    char *versions = sb_malloc (shipped * 12 + 3);
    size_t at = 0;
    versions [at++] = '{';
    for (size_t index = 0; index < shipped; index++) {
        int version = index < *service->migration_count
                    ? service->migrations [index].version
                    : sb_skeleton_migrations [index - *service->migration_count].version;
        at += (size_t) snprintf (versions + at, 13, "%s%d", index ? "," : "", version);
    }
    versions [at++] = '}';
    versions [at] = 0;
    const char *params [] = { versions };
    PGresult *result = sb_db_exec (ctx->db,
        "SELECT v.version, m.name AS applied_name, " SB_SQL_TS ("m.applied_at") " AS applied_at,"
        " CASE WHEN m.version IS NULL THEN 'pending'"
        "  WHEN s.version IS NULL THEN 'unknown' ELSE 'applied' END AS state"
        " FROM (SELECT version FROM schema_migrations"
        "       UNION SELECT unnest ($1::int[])) AS v"
        " LEFT JOIN schema_migrations AS m ON m.version = v.version"
        " LEFT JOIN unnest ($1::int[]) AS s (version) ON s.version = v.version"
        " ORDER BY v.version", 1, params);
    free (versions);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    int64_t applied = 0, pending = 0, unknown = 0;
    for (int row = 0; row < rows; row++) {
        const char *state = PQgetvalue (result, row, 3);
        if (streq (state, "applied"))
            applied++;
        else
        if (streq (state, "pending"))
            pending++;
        else
            unknown++;
    }
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 10);
    sb_mpk_pack_kv_str (pk, "service", service->name);
    sb_mpk_pack_kv_str (pk, "schema", service->name);
    sb_mpk_pack_kv_str (pk, "worker", s_worker_id);
    sb_mpk_pack_kv_int (pk, "ran", ran);
    sb_mpk_pack_kv_int (pk, "shipped", (int64_t) shipped);
    sb_mpk_pack_kv_int (pk, "applied", applied);
    sb_mpk_pack_kv_int (pk, "pending", pending);
    sb_mpk_pack_kv_int (pk, "unknown", unknown);
    sb_mpk_pack_kv_str (pk, "checksums", "not_recorded");
    sb_mpk_pack_str (pk, "migrations");
    msgpack_pack_array (pk, (size_t) rows);
    for (int row = 0; row < rows; row++) {
        int version = atoi (PQgetvalue (result, row, 0));
        const char *name = s_migration_name (service, version);
        if (!name && !PQgetisnull (result, row, 1))
            name = PQgetvalue (result, row, 1);
        msgpack_pack_map (pk, 4);
        sb_mpk_pack_kv_int (pk, "version", version);
        sb_mpk_pack_kv_str (pk, "name", name);
        sb_mpk_pack_kv_str (pk, "state", PQgetvalue (result, row, 3));
        sb_mpk_pack_str (pk, "applied_at");
        if (PQgetisnull (result, row, 2))
            msgpack_pack_nil (pk);
        else
            sb_mpk_pack_str (pk, PQgetvalue (result, row, 2));
    }
    PQclear (result);
    return 0;
}

//  sys.outboxes.list, .show {name, state?, limit?}, .replay {name, ids?}:
//  the service's outboxes as it declares them (sb_outbox_view_t), read and
//  changed across all organizations. An outbox's figures are
//  {name, summary, pending, oldest_seconds, failed, dead, total}.

//  Packs outbox's figures (its stats statement's row) as a map. 0 or -1.
static int
s_outbox_pack (sb_ctx_t *ctx, msgpack_packer *pk, const sb_outbox_view_t *outbox)
{
    PGresult *result = sb_db_exec (ctx->db, outbox->stats, 0, NULL);
    if (!result)
        return -1;
    if (PQntuples (result) != 1) {
        PQclear (result);
        return sb_error ("outbox %s: its stats statement answered no row", outbox->name);
    }
    static const char *const counts [] = { "pending", "failed", "dead", "total" };
    msgpack_pack_map (pk, 7);
    sb_mpk_pack_kv_str (pk, "name", outbox->name);
    sb_mpk_pack_kv_str (pk, "summary", outbox->summary);
    for (size_t index = 0; index < sizeof (counts) / sizeof (counts [0]); index++) {
        int column = PQfnumber (result, counts [index]);
        sb_mpk_pack_kv_int (pk, counts [index],
                            column < 0 ? 0 : strtoll (PQgetvalue (result, 0, column), NULL, 10));
    }
    int column = PQfnumber (result, "oldest_seconds");
    sb_mpk_pack_str (pk, "oldest_seconds");
    msgpack_pack_double (pk, column < 0 ? 0 : strtod (PQgetvalue (result, 0, column), NULL));
    PQclear (result);
    return 0;
}

//  The outbox args name, else NULL with the reply written.
static const sb_outbox_view_t *
s_outbox_arg (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *name = sb_arg_string (ctx, args, "name", true, 1, 64, &fields);
    if (fields.count) {
        sb_reply_fields (reply, &fields);
        return NULL;
    }
    for (const sb_outbox_view_t *outbox = ctx->service->outboxes; outbox && outbox->name; outbox++)
        if (streq (outbox->name, name))
            return outbox;
    sb_reply_error (reply, 404, SB_E_NOT_FOUND, "'%s' has no outbox '%s'", ctx->service->name,
                    name);
    return NULL;
}

static int
s_sys_outboxes_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    if (sb_db_all_orgs (ctx->db))
        return -1;
    size_t count = 0;
    for (const sb_outbox_view_t *outbox = ctx->service->outboxes; outbox && outbox->name; outbox++)
        count++;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 2);
    sb_mpk_pack_kv_str (pk, "service", ctx->service->name);
    sb_mpk_pack_str (pk, "outboxes");
    msgpack_pack_array (pk, count);
    for (size_t index = 0; index < count; index++)
        if (s_outbox_pack (ctx, pk, &ctx->service->outboxes [index]))
            return -1;
    return 0;
}

static int
s_sys_outboxes_show (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const sb_outbox_view_t *outbox = s_outbox_arg (ctx, args, reply);
    if (!outbox)
        return 0;
    sb_fields_t fields = { 0 };
    const char *state = sb_arg_string (ctx, args, "state", false, 1, 16, &fields);
    if (state && !streq (state, "pending") && !streq (state, "failed") && !streq (state, "dead")
        && !streq (state, "delivered"))
        sb_fields_add (&fields, "state", "must be pending, failed, dead or delivered");
    int64_t limit = 20;
    sb_arg_int (args, "limit", 1, 500, &limit, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    if (sb_db_all_orgs (ctx->db))
        return -1;
    char limit_text [24];
    snprintf (limit_text, sizeof (limit_text), "%lld", (long long) limit);
    const char *params [] = { state, limit_text };
    PGresult *rows = sb_db_exec (ctx->db, outbox->rows, 2, params);
    if (!rows)
        return -1;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 3);
    sb_mpk_pack_kv_str (pk, "service", ctx->service->name);
    sb_mpk_pack_str (pk, "outbox");
    if (s_outbox_pack (ctx, pk, outbox)) {
        PQclear (rows);
        return -1;
    }
    sb_mpk_pack_str (pk, "rows");
    sb_db_pack_rows (pk, rows);
    PQclear (rows);
    return 0;
}

static int
s_sys_outboxes_replay (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const sb_outbox_view_t *outbox = s_outbox_arg (ctx, args, reply);
    if (!outbox)
        return 0;
    //  ids: a PostgreSQL array literal of keys made of [A-Za-z0-9:_-] only,
    //  so that no quoting is needed
    const msgpack_object *ids = sb_mpk_get (args, "ids");
    char *array = NULL;
    if (ids && ids->type != MSGPACK_OBJECT_NIL) {
        sb_fields_t fields = { 0 };
        if (ids->type != MSGPACK_OBJECT_ARRAY || ids->via.array.size == 0
            || ids->via.array.size > 500)
            sb_fields_add (&fields, "ids", "must be a list of 1 to 500 ids");
        for (uint32_t index = 0; !fields.count && index < ids->via.array.size; index++) {
            const msgpack_object *id = &ids->via.array.ptr [index];
            bool ok = id->type == MSGPACK_OBJECT_STR && id->via.str.size > 0
                   && id->via.str.size <= 128;
            for (uint32_t at = 0; ok && at < id->via.str.size; at++) {
                char c = id->via.str.ptr [at];
                ok = isalnum ((unsigned char) c) || c == ':' || c == '_' || c == '-';
            }
            if (!ok)
                sb_fields_add (&fields, "ids", "item %u is not an id of this outbox", index);
        }
        if (fields.count)
            return sb_reply_fields (reply, &fields);
        size_t size = 3;
        for (uint32_t index = 0; index < ids->via.array.size; index++)
            size += ids->via.array.ptr [index].via.str.size + 1;
        array = sb_ctx_alloc (ctx, size);
        size_t at = 0;
        array [at++] = '{';
        for (uint32_t index = 0; index < ids->via.array.size; index++) {
            if (index)
                array [at++] = ',';
            memcpy (array + at, ids->via.array.ptr [index].via.str.ptr,
                    ids->via.array.ptr [index].via.str.size);
            at += ids->via.array.ptr [index].via.str.size;
        }
        array [at++] = '}';
        array [at] = 0;
    }
    if (sb_db_all_orgs (ctx->db))
        return -1;
    const char *params [] = { array };
    PGresult *result = sb_db_exec (ctx->db, outbox->replay, 1, params);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 4);
    sb_mpk_pack_kv_str (pk, "service", ctx->service->name);
    sb_mpk_pack_kv_str (pk, "name", outbox->name);
    sb_mpk_pack_kv_int (pk, "replayed", rows);
    sb_mpk_pack_str (pk, "ids");
    msgpack_pack_array (pk, (size_t) rows);
    for (int row = 0; row < rows; row++)
        sb_mpk_pack_str (pk, PQgetvalue (result, row, 0));
    PQclear (result);
    return 0;
}

static const sb_op_t s_builtin_ops [] = {
    { .name = "sys.ping", .role = SB_ROLE_NONE, .handler = s_sys_ping },
    { .name = "sys.stats", .role = SB_ROLE_SERVICE, .flags = SB_OP_TX, .handler = s_sys_stats },
    //  The operator's (switchboardctl migrations, outboxes)
    { .name = "sys.migrations", .role = SB_ROLE_OPERATOR, .handler = s_sys_migrations },
    { .name = "sys.outboxes.list", .role = SB_ROLE_OPERATOR, .flags = SB_OP_TX,
      .handler = s_sys_outboxes_list },
    { .name = "sys.outboxes.show", .role = SB_ROLE_OPERATOR, .flags = SB_OP_TX,
      .handler = s_sys_outboxes_show },
    { .name = "sys.outboxes.replay", .role = SB_ROLE_OPERATOR, .flags = SB_OP_TX,
      .handler = s_sys_outboxes_replay },
    { .name = NULL }
};

const sb_op_t *
sb_service_op (const sb_service_t *service, const char *name)
{
    for (const sb_op_t *op = s_builtin_ops; op->name; op++)
        if (streq (op->name, name))
            return op;
    for (const sb_op_t *op = service->ops; op && op->name; op++)
        if (streq (op->name, name))
            return op;
    return NULL;
}

//  The operation the caller asks for when the caller may run it, else NULL
//  with the refusal answered.
static const sb_op_t *
s_op_for (sb_ctx_t *ctx, sb_reply_t *reply)
{
    const sb_envelope_head_t *head = &ctx->request->head;
    const sb_op_t *op = sb_service_op (ctx->service, head->op);
    if (!op || (s_peer && !(op->flags & SB_OP_PEER))) {
        sb_reply_error (reply, 404, SB_E_UNKNOWN_OPERATION, "unknown operation '%s'", head->op);
        return NULL;
    }
    if (op->role != SB_ROLE_NONE && head->role < op->role) {
        if (head->role == SB_ROLE_NONE)
            sb_reply_error (reply, 401, SB_E_UNAUTHENTICATED, "authentication is required");
        else
            sb_reply_error (reply, 403, SB_E_FORBIDDEN, "your role may not do this");
        return NULL;
    }
    return op;
}

//  An operation written as query and finish, run on its own (stmt is its
//  query's, or NULL to run the query first).
static int
s_query_alone (sb_ctx_t *ctx, const sb_op_t *op, sb_reply_t *reply, const sb_db_stmt_t *given)
{
    sb_db_stmt_t stmt = { NULL };
    if (given)
        stmt = *given;
    else {
        if (op->query (ctx, ctx->request->args, reply, &stmt))
            return -1;
        if (reply->written)
            return 0;
        if (!stmt.sql)
            return sb_error ("'%s' declined its query and has no handler", op->name);
    }
    if (stmt.org && sb_db_in_transaction (ctx->db) && sb_db_set_org (ctx->db, stmt.org))
        return -1;
    PGresult *result = sb_db_exec_stmt (ctx->db, &stmt);
    int rc = op->finish (ctx, ctx->request->args, result, reply);
    PQclear (result);
    return rc;
}

//  ---------------------------------------------------------------------
//  Idempotency
//
//  An operation flagged SB_OP_IDEMPOTENT, asked with an Idempotency-Key
//  (head.idem) on behalf of an organization, runs at most once per
//  organization and key within 24 hours. The record lives in the
//  service's own schema (table idempotency_keys, a migration the skeleton
//  adds to every service: common/sql/) and is read and written inside the
//  request's own transaction:
//
//  1.  pg_try_advisory_xact_lock on the key's hash. When another
//      transaction holds it, the same key is running right now: 409
//      idempotency_key_in_use at once. Never wait: a worker blocked on
//      another worker's transaction would stall every request it holds.
//      (A collision of two keys' 64-bit lock numbers costs a spurious 409.)
//  2.  Then, so that a transaction that committed the key just before we
//      got the lock is seen, the stored answer younger than 24 hours: with
//      the same fingerprint (a hash of the operation and its arguments as
//      decoded) it is sent again, marked replayed, and nothing runs; with
//      another fingerprint: 422 idempotency_key_reused.
//  3.  Otherwise the handler runs, and a success (2xx) is stored with the
//      key in the same transaction as the change it answers: both commit or
//      neither. Errors are not stored: the key stays free for a retry (a
//      402 may succeed after an upgrade, a 503 once the database is back).
//
//  The table holds no key and no readable answer: rows are found by a hash
//  of (organization, key), and the answer (which may carry a secret shown
//  once, like a new API key) is sealed with XSalsa20-Poly1305 under a key
//  derived from (organization, key) with another hash context. Expired
//  rows of the organization are deleted a few at a time when it stores a
//  new one, so the table stays as large as 24 hours of keys.

#define S_IDEM_LOCK_SQL "SELECT pg_try_advisory_xact_lock (('x' || left ($1, 16))::bit(64)::bigint)"
#define S_IDEM_FIND_SQL                                                                      \
    "SELECT fingerprint, status, encode (body, 'hex') FROM idempotency_keys "                \
    "WHERE organization_id = $1 AND key_hash = $2 "                                          \
    "AND created_at > now () - interval '24 hours'"
#define S_IDEM_STORE_SQL                                                                     \
    "WITH expired AS (DELETE FROM idempotency_keys WHERE organization_id = $1 AND key_hash " \
    "IN (SELECT key_hash FROM idempotency_keys WHERE organization_id = $1 AND key_hash <> $2 " \
    "AND created_at <= now () - interval '24 hours' LIMIT 8)) "                              \
    "INSERT INTO idempotency_keys (organization_id, key_hash, fingerprint, status, body) "   \
    "VALUES ($1, $2, $3, $4, decode ($5, 'hex')) ON CONFLICT (organization_id, key_hash) "   \
    "DO UPDATE SET fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, "           \
    "body = EXCLUDED.body, created_at = now ()"

//  What a request with an Idempotency-Key is known by.
typedef struct {
    char key_hash [65];             //  hex: finds the row and names the lock
    unsigned char seal [crypto_secretbox_KEYBYTES];     //  seals the answer
    char fingerprint [65];          //  hex: the operation and its arguments
} s_idem_t;

//  True when the request is to be run under its Idempotency-Key.
static bool
s_idem_applies (const sb_ctx_t *ctx, const sb_op_t *op)
{
    const sb_envelope_head_t *head = &ctx->request->head;
    return (op->flags & SB_OP_IDEMPOTENT) && (op->flags & SB_OP_TX) && *head->idem
           && *head->org;
}

//  BLAKE2b-256 of context, NUL, a, NUL, b (b may be NULL).
static void
s_idem_hash (unsigned char out [32], const char *context, const void *a, size_t a_size,
             const void *b, size_t b_size)
{
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, 32);
    crypto_generichash_update (&state, (const unsigned char *) context, strlen (context) + 1);
    crypto_generichash_update (&state, (const unsigned char *) a, a_size);
    crypto_generichash_update (&state, (const unsigned char *) "", 1);
    if (b)
        crypto_generichash_update (&state, (const unsigned char *) b, b_size);
    crypto_generichash_final (&state, out, 32);
}

static void
s_idem_init (s_idem_t *self, const sb_ctx_t *ctx)
{
    const sb_request_t *request = ctx->request;
    const char *org = request->head.org, *key = request->head.idem;
    unsigned char hash [32];
    s_idem_hash (hash, "switchboard idempotency key", org, strlen (org), key, strlen (key));
    sodium_bin2hex (self->key_hash, sizeof (self->key_hash), hash, sizeof (hash));
    s_idem_hash (self->seal, "switchboard idempotency seal", org, strlen (org), key,
                 strlen (key));
    //  The arguments packed again: the same arguments pack to the same bytes
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_object (&pk, *request->args);
    s_idem_hash (hash, request->head.op, buf.data, buf.size, NULL, 0);
    sodium_bin2hex (self->fingerprint, sizeof (self->fingerprint), hash, sizeof (hash));
    msgpack_sbuffer_destroy (&buf);
}

//  Writes the stored answer (hex of nonce and sealed msgpack body) into
//  reply as a replayed reply with status. Returns 0, or -1 when it does
//  not open (not ours, or damaged).
static int
s_idem_replay (const s_idem_t *self, sb_reply_t *reply, int status, const char *hex,
               size_t hex_len)
{
    size_t size = 0;
    unsigned char *sealed = (unsigned char *) sb_malloc (hex_len / 2 + 1);
    int rc = -1;
    if (sodium_hex2bin (sealed, hex_len / 2 + 1, hex, hex_len, NULL, &size, NULL) == 0
        && size > crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        size_t body_size = size - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
        unsigned char *body = (unsigned char *) sb_malloc (body_size);
        if (crypto_secretbox_open_easy (body, sealed + crypto_secretbox_NONCEBYTES,
                                        size - crypto_secretbox_NONCEBYTES, sealed,
                                        self->seal) == 0) {
            s_reply_start (reply, status, "body", true);
            msgpack_sbuffer_write (&reply->buf, (const char *) body, body_size);
            rc = 0;
        }
        sodium_memzero (body, body_size);
        free (body);
    }
    free (sealed);
    return rc;
}

//  Steps 1 and 2, inside the request's transaction: 0 when the handler is
//  to run, 1 when reply holds the answer (replayed, 409 or 422), -1 when
//  the database failed.
static int
s_idem_begin (sb_ctx_t *ctx, sb_reply_t *reply, const s_idem_t *self)
{
    const char *lock_params [] = { self->key_hash };
    PGresult *result = sb_db_exec (ctx->db, S_IDEM_LOCK_SQL, 1, lock_params);
    if (!result)
        return -1;
    bool locked = PQntuples (result) == 1 && streq (PQgetvalue (result, 0, 0), "t");
    PQclear (result);
    if (!locked) {
        sb_reply_error (reply, 409, SB_E_IDEMPOTENCY_IN_USE,
                        "a request with this Idempotency-Key is still running");
        return 1;
    }
    const char *find_params [] = { ctx->request->head.org, self->key_hash };
    result = sb_db_exec (ctx->db, S_IDEM_FIND_SQL, 2, find_params);
    if (!result)
        return -1;
    int rc = 0;
    if (PQntuples (result) == 1) {
        rc = 1;
        if (!streq (PQgetvalue (result, 0, 0), self->fingerprint))
            sb_reply_error (reply, 422, SB_E_IDEMPOTENCY_REUSED,
                            "this Idempotency-Key was used with another request");
        else
        if (s_idem_replay (self, reply, atoi (PQgetvalue (result, 0, 1)), PQgetvalue (result, 0, 2),
                           (size_t) PQgetlength (result, 0, 2)))
            rc = sb_error ("the stored answer for an Idempotency-Key does not open");
    }
    PQclear (result);
    return rc;
}

//  Step 3: stores a successful answer with the key, in the transaction
//  about to commit. Returns 0 or -1.
static int
s_idem_store (sb_ctx_t *ctx, const sb_reply_t *reply, const s_idem_t *self)
{
    size_t body_size = reply->buf.size - reply->body_at;
    size_t size = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + body_size;
    unsigned char *sealed = (unsigned char *) sb_malloc (size);
    randombytes_buf (sealed, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy (sealed + crypto_secretbox_NONCEBYTES,
                           (const unsigned char *) reply->buf.data + reply->body_at, body_size,
                           sealed, self->seal);
    char *hex = (char *) sb_malloc (size * 2 + 1);
    sodium_bin2hex (hex, size * 2 + 1, sealed, size);
    char status [8];
    snprintf (status, sizeof (status), "%d", reply->status);
    const char *params [] = { ctx->request->head.org, self->key_hash, self->fingerprint, status,
                              hex };
    int rc = sb_db_run (ctx->db, S_IDEM_STORE_SQL, 5, params);
    free (hex);
    free (sealed);
    return rc;
}

//  Runs op for a decoded request and leaves the answer in reply (stmt:
//  its query's statement when the query ran already, else NULL).
static void
s_run (sb_ctx_t *ctx, const sb_op_t *op, sb_reply_t *reply, const sb_db_stmt_t *stmt)
{
    const sb_envelope_head_t *head = &ctx->request->head;
    bool tx = (op->flags & SB_OP_TX) != 0;
    if (tx) {
        if (sb_db_begin (ctx->db)
            || (*head->org && sb_db_set_org (ctx->db, head->org))) {
            sb_db_rollback (ctx->db);
            sb_reply_error (reply, 503, SB_E_SERVICE_UNAVAILABLE, "the database is unavailable");
            return;
        }
    }
    bool idem = tx && s_idem_applies (ctx, op);
    s_idem_t idem_key;
    if (idem) {
        s_idem_init (&idem_key, ctx);
        int answered = s_idem_begin (ctx, reply, &idem_key);
        if (answered) {
            //  A replay, a refusal or a failure: nothing ran, nothing to keep
            sb_db_rollback (ctx->db);
            if (answered < 0)
                s_reply_failure (reply, ctx->db, false);
            s_ctx_flush_events (ctx, false);
            return;
        }
    }
    bool read = !tx && (op->flags & SB_OP_READ) != 0;
    if (read)
        sb_db_read (ctx->db, *head->org ? head->org : NULL);
    int rc = stmt || !op->handler ? s_query_alone (ctx, op, reply, stmt)
                                  : op->handler (ctx, ctx->request->args, reply);
    if (read)
        sb_db_read_end (ctx->db);
    if (rc != 0 || !reply->written) {
        if (rc == 0)
            sb_error ("handler for '%s' wrote no reply", head->op);
        s_reply_failure (reply, ctx->db, false);
    }
    bool committed = true;
    if (tx) {
        if (reply->status < 400 || (ctx->commit_on_error && reply->status < 500)) {
            if ((idem && reply->status < 300 && s_idem_store (ctx, reply, &idem_key))
                || sb_db_commit (ctx->db)) {
                sb_db_rollback (ctx->db);
                committed = false;
                s_reply_failure (reply, ctx->db, true);
            }
        }
        else {
            committed = false;
            sb_db_rollback (ctx->db);
        }
    }
    //  Events describe what happened: only once it has.
    s_ctx_flush_events (ctx, committed);
}

//  One request of a batch, from its frame to its reply.
typedef struct {
    sb_request_t request;
    sb_reply_t reply;
    sb_ctx_t ctx;
    bool decoded;                   //  request holds memory
    const sb_op_t *op;              //  its statement is in the batch
    bool group;                     //  ... of changes to commit together
    sb_db_stmt_t stmt;
    int64_t started;
} s_slot_t;

//  Decodes a request frame; true when it is to be run (otherwise the
//  answer is written: malformed, or past its deadline).
static bool
s_slot_open (s_slot_t *slot, const sb_service_t *service, const sb_config_t *config,
             sb_db_t *db, zframe_t *body)
{
    sb_reply_t *reply = &slot->reply;
    msgpack_sbuffer_init (&reply->buf);
    msgpack_packer_init (&reply->pk, &reply->buf, msgpack_sbuffer_write);
    char why [128];
    if (sb_request_decode (&slot->request, zframe_data (body), zframe_size (body), why,
                           sizeof (why))) {
        sb_warn ("refused a malformed request: %s", why);
        reply->id = "-";
        sb_reply_error (reply, 400, SB_E_INVALID_REQUEST, "malformed request: %s", why);
        return false;
    }
    slot->decoded = true;
    sb_log_set_request (slot->request.head.id, slot->request.head.org);
    reply->id = slot->request.head.id;
    slot->ctx = (sb_ctx_t) { service, config, db, &slot->request, NULL, NULL, false, NULL };
    slot->started = sb_mono_ms ();
    if (sb_now_ms () > slot->request.head.deadline) {
        //  The caller has already been answered 504: doing the work now
        //  would only waste it, or worse, do it behind the caller's back.
        sb_warn ("dropped '%s': its deadline passed before it was handled",
                 slot->request.head.op);
        sb_reply_error (reply, 504, SB_E_TIMEOUT, "the deadline passed");
        return false;
    }
    return true;
}

//  The reply frame; frees what the request held.
static zframe_t *
s_slot_close (s_slot_t *slot)
{
    if (slot->decoded) {
        sb_log_set_request (slot->request.head.id, slot->request.head.org);
        sb_debug ("%s -> %d in %lld ms", slot->request.head.op, slot->reply.status,
                  (long long) (sb_mono_ms () - slot->started));
        s_ctx_release (&slot->ctx);
        sb_request_release (&slot->request);
    }
    zframe_t *frame = zframe_new (slot->reply.buf.data, slot->reply.buf.size);
    msgpack_sbuffer_destroy (&slot->reply.buf);
    sb_log_set_request_id (NULL);
    return frame;
}

//  Finishes a request of a batch from its statement's result (NULL: the
//  statement failed), which it frees unless shared (a merged statement's).
static void
s_slot_finish (s_slot_t *slot, sb_db_t *db, PGresult *result, bool shared)
{
    sb_log_set_request (slot->request.head.id, slot->request.head.org);
    if (slot->op->finish (&slot->ctx, slot->request.args, result, &slot->reply)
        || !slot->reply.written)
        s_reply_failure (&slot->reply, db, false);
    if (!shared)
        PQclear (result);
}

//  Runs a round of a group as one statement when its op merges (see
//  sb_merge_fn): 1 when the round is answered (committed, or lost with the
//  connection), 0 when it is to run as a group (declined, or the merged
//  statement failed).
static int
s_run_merged (s_slot_t **group, const sb_db_stmt_t *stmts, size_t count, sb_db_t *db)
{
    const sb_op_t *op = group [0]->op;
    for (size_t i = 1; i < count; i++)
        if (group [i]->op != op)
            return 0;
    sb_db_stmt_t merged = { NULL };
    if (!op->merge || op->merge (&group [0]->ctx, stmts, count, &merged))
        return 0;
    merged.all_orgs = true;
    sb_log_set_request_id (NULL);
    PGresult *result = NULL;
    int rc = sb_db_exec_group (db, &merged, 1, &result);
    sb_log_set_request_id (NULL);
    sb_debug ("%zu changes in one transaction: %s, as one statement", count,
              rc ? "failed" : "committed");
    if (rc && !sb_db_unavailable (db))
        return 0;
    for (size_t i = 0; i < count; i++) {
        if (rc) {
            sb_log_set_request (group [i]->request.head.id, group [i]->request.head.org);
            s_reply_failure (&group [i]->reply, db, true);
        }
        else
            s_slot_finish (group [i], db, result, true);
        s_ctx_flush_events (&group [i]->ctx, rc == 0);
    }
    PQclear (result);
    return 1;
}

//  Orders the changes of a group by organization, so that concurrent
//  groups take their locks in one order.
static int
s_by_org (const void *a, const void *b)
{
    const s_slot_t *x = *(const s_slot_t *const *) a, *y = *(const s_slot_t *const *) b;
    int order = strcmp (x->stmt.org ? x->stmt.org : "", y->stmt.org ? y->stmt.org : "");
    return order ? order : (x < y ? -1 : x > y);
}

//  Commits the changes of several requests in one transaction, as one
//  statement when their op merges them; when that fails for another
//  reason than the connection, each runs alone. The
//  group is in order of organization, with one request per organization:
//  each statement takes its locks in key order, so concurrent groups (and
//  single statements) lock in one global order and cannot deadlock; two
//  requests of one organization could interleave their keys (a client
//  resending events while the first send is in flight).
static void
s_run_group (s_slot_t **group, size_t count, sb_db_t *db)
{
    sb_db_stmt_t *stmts = (sb_db_stmt_t *) sb_calloc (count, sizeof (sb_db_stmt_t));
    PGresult **results = (PGresult **) sb_calloc (count, sizeof (PGresult *));
    for (size_t i = 0; i < count; i++)
        stmts [i] = group [i]->stmt;
    bool alone = count == 1;
    if (!alone && s_run_merged (group, stmts, count, db)) {
        free (stmts);
        free (results);
        return;
    }
    if (!alone) {
        int rc = sb_db_exec_group (db, stmts, count, results);
        sb_log_set_request_id (NULL);
        sb_debug ("%zu changes in one transaction: %s", count, rc ? "failed" : "committed");
        //  Lost with the connection: nobody's change is known to be in,
        //  and a rerun alone could apply one twice (08007)
        alone = rc && !sb_db_unavailable (db);
        for (size_t i = 0; i < count && !alone; i++) {
            if (rc) {
                sb_log_set_request (group [i]->request.head.id, group [i]->request.head.org);
                s_reply_failure (&group [i]->reply, db, true);
            }
            else
                s_slot_finish (group [i], db, results [i], false);
            s_ctx_flush_events (&group [i]->ctx, rc == 0);
        }
    }
    for (size_t i = 0; i < count && alone; i++) {
        sb_log_set_request (group [i]->request.head.id, group [i]->request.head.org);
        s_run (&group [i]->ctx, group [i]->op, &group [i]->reply, &group [i]->stmt);
    }
    free (stmts);
    free (results);
}

//  Handles the request frames a worker took at once and fills their reply
//  frames. Reads written as query/finish (when there are several) go to
//  the database together, one round trip for all; changes written so and
//  marked SB_OP_GROUP commit together; the rest run one by one.
static void
s_handle (const sb_service_t *service, const sb_config_t *config, sb_db_t *db,
          zframe_t **bodies, zframe_t **replies, size_t count)
{
    s_slot_t *slots = (s_slot_t *) sb_calloc (count, sizeof (s_slot_t));
    size_t batched = 0, grouped = 0;
    //  Waiting for the database to come back must leave the requests
    //  time to be answered: the earliest deadline of those in hand bounds it
    int64_t deadline = 0;
    for (size_t i = 0; i < count; i++) {
        s_slot_t *slot = &slots [i];
        if (!s_slot_open (slot, service, config, db, bodies [i]))
            continue;
        if (!deadline || slot->request.head.deadline < deadline)
            deadline = slot->request.head.deadline;
        sb_db_set_deadline (db, deadline);
        const sb_op_t *op = s_op_for (&slot->ctx, &slot->reply);
        if (!op)
            continue;
        if (!op->query || count == 1 || s_idem_applies (&slot->ctx, op)) {
            //  (With an Idempotency-Key, a change runs in a transaction of
            //  its own, which also holds the key's lock and record.)
            s_run (&slot->ctx, op, &slot->reply, NULL);
            continue;
        }
        if (op->query (&slot->ctx, slot->request.args, &slot->reply, &slot->stmt))
            s_reply_failure (&slot->reply, db, false);
        else
        if (!slot->reply.written && !slot->stmt.sql)
            s_run (&slot->ctx, op, &slot->reply, NULL);     //  declined: alone
        else
        if (!slot->reply.written) {
            const char *org = slot->request.head.org;
            if (!slot->stmt.org)
                slot->stmt.org = *org ? org : NULL;
            slot->op = op;
            slot->group = (op->flags & SB_OP_GROUP) != 0;
            if (slot->group)
                grouped++;
            else
                batched++;
        }
    }
    if (batched) {
        sb_db_stmt_t *stmts = (sb_db_stmt_t *) sb_calloc (batched, sizeof (sb_db_stmt_t));
        PGresult **results = (PGresult **) sb_calloc (batched, sizeof (PGresult *));
        size_t n = 0;
        for (size_t i = 0; i < count; i++)
            if (slots [i].op && !slots [i].group)
                stmts [n++] = slots [i].stmt;
        sb_db_exec_many (db, stmts, n, results);
        sb_log_set_request_id (NULL);
        sb_debug ("%zu reads in one database round trip", n);
        n = 0;
        for (size_t i = 0; i < count; i++)
            if (slots [i].op && !slots [i].group)
                s_slot_finish (&slots [i], db, results [n++], false);
        free (stmts);
        free (results);
    }
    if (grouped) {
        //  In rounds: each takes the first request left of each organization
        s_slot_t **left = (s_slot_t **) sb_calloc (grouped, sizeof (s_slot_t *));
        s_slot_t **group = (s_slot_t **) sb_calloc (grouped, sizeof (s_slot_t *));
        size_t remaining = 0;
        for (size_t i = 0; i < count; i++)
            if (slots [i].group)
                left [remaining++] = &slots [i];
        qsort (left, remaining, sizeof (s_slot_t *), s_by_org);
        while (remaining) {
            size_t n = 0, kept = 0;
            for (size_t i = 0; i < remaining; i++) {
                const char *org = left [i]->stmt.org ? left [i]->stmt.org : "";
                const char *last = n && group [n - 1]->stmt.org ? group [n - 1]->stmt.org : "";
                if (n && streq (org, last))
                    left [kept++] = left [i];
                else
                    group [n++] = left [i];
            }
            s_run_group (group, n, db);
            remaining = kept;
        }
        free (left);
        free (group);
    }
    sb_db_set_deadline (db, 0);
    for (size_t i = 0; i < count; i++)
        replies [i] = s_slot_close (&slots [i]);
    free (slots);
}

static void
s_usage (const sb_service_t *service, FILE *out)
{
    fprintf (out, "Usage: %s [--help] [--version]%s\n\n%s\n\n", service->binary,
             service->command ? " [COMMAND ...]" : "", service->summary);
    if (service->commands_help)
        fprintf (out, "Commands:\n%s\n", service->commands_help);
    fprintf (out, "Connects to PostgreSQL, migrates the '%s' schema, registers with every\n"
                  "broker in SWITCHBOARD_BROKER as service '%s' and serves until SIGTERM.\n\n",
             service->name, service->name);
    sb_config_print_help (out);
}

//  Serves bus service name (the service's own, or its lane's) with db
//  until SIGTERM/SIGINT, on the calling thread, with this thread's own
//  event publisher and bus client.
static void
s_serve (const sb_service_t *service, const sb_config_t *config, sb_db_t *db, const char *name,
         int credit)
{
    s_publisher = sb_events_publisher_new (config);
    s_client = sb_client_new (config, NULL);
    sb_worker_t *worker = sb_worker_new (config, name, credit);
    sb_info ("worker %s of '%s' started (version %s)", s_worker_id, name, SB_VERSION);
    sb_worker_ticket_t tickets [SB_WORKER_CREDIT_MAX];
    zframe_t *bodies [SB_WORKER_CREDIT_MAX];
    zframe_t *replies [SB_WORKER_CREDIT_MAX];
    while (true) {
        size_t count = sb_worker_recv_many (worker, tickets, bodies, (size_t) credit);
        if (!count)
            break;
        s_handle (service, config, db, bodies, replies, count);
        for (size_t i = 0; i < count; i++) {
            zframe_destroy (&bodies [i]);
            sb_worker_reply (worker, &tickets [i], &replies [i]);
        }
    }
    sb_info ("worker %s of '%s' stopping", s_worker_id, name);
    sb_worker_destroy (&worker);
    sb_client_destroy (&s_client);
    zsock_destroy (&s_publisher);
    if (service->worker_stop)
        service->worker_stop ();
}

//  A lane's worker (sb_service_t.lane, or the peer worker): its own thread
//  and database connection, one request at a time.
typedef struct {
    const sb_service_t *service;
    const sb_config_t *config;
    const char *suffix;             //  the lane's name, or "peer"
    bool peer;
    pthread_t thread;
    bool started;
} s_lane_t;

static void *
s_lane_main (void *arg)
{
    s_lane_t *lane = (s_lane_t *) arg;
    s_peer = lane->peer;
    char name [64];
    snprintf (name, sizeof (name), "%s.%s", lane->service->name, lane->suffix);
    sb_db_t *db = sb_db_new (lane->config->service_database_url, lane->service->name);
    if (sb_db_connect (db, 30000) == 0)
        s_serve (lane->service, lane->config, db, name, 1);
    else
        sb_error ("worker of '%s': no database, the lane does not serve", name);
    sb_db_destroy (&db);
    return NULL;
}

int
sb_service_main (int argc, char **argv, const sb_service_t *service)
{
    int first_command = 0;
    for (int i = 1; i < argc && !first_command; i++) {
        if (streq (argv [i], "--help") || streq (argv [i], "-h")) {
            s_usage (service, stdout);
            return 0;
        }
        if (streq (argv [i], "--version")) {
            printf ("%s %s\n", service->binary, SB_VERSION);
            return 0;
        }
        if (streq (argv [i], "--selftest")) {
            sb_log_init (service->binary);
            sb_log_set_level ("error");
            if (service->selftest)
                service->selftest (i + 1 < argc && streq (argv [i + 1], "-v"));
            printf ("%s: %d passed, %d failed\n", service->binary, sb_test_passed, sb_test_failed);
            return sb_test_failed ? 1 : 0;
        }
        if (argv [i][0] != '-' && service->command) {
            first_command = i;
            break;
        }
        fprintf (stderr, "%s: unknown argument '%s' (try --help)\n", service->binary, argv [i]);
        return 2;
    }
    sb_log_init (service->binary);
    sb_config_t config;
    char why [256];
    if (sb_config_load (&config, service->name, NULL, why, sizeof (why))) {
        sb_error ("bad configuration: %s", why);
        sb_config_release (&config);
        return 2;
    }
    sb_log_set_level (config.log_level);
    if (first_command) {
        int status = service->command (argc - first_command, argv + first_command, &config);
        if (status == -1) {
            fprintf (stderr, "%s: unknown command '%s' (try --help)\n", service->binary,
                     argv [first_command]);
            status = 2;
        }
        sb_config_release (&config);
        return status;
    }
    if (!config.service_database_url) {
        char upper [16];
        snprintf (upper, sizeof (upper), "%s", service->name);
        for (char *c = upper; *c; c++)
            *c = (char) toupper ((unsigned char) *c);
        sb_error ("no database: set SWITCHBOARD_%s_DATABASE_URL or SWITCHBOARD_DATABASE_URL",
                  upper);
        sb_config_release (&config);
        return 2;
    }
    if (sb_curve_check (&config, false)) {
        sb_config_release (&config);
        return 2;
    }
    sb_random_hex (s_worker_id, 8);
    if (service->plans) {
        s_plans = sb_plans_load (config.plans_file, why, sizeof (why));
        if (!s_plans) {
            sb_error ("bad plan catalogue%s%s: %s", config.plans_file ? " " : "",
                      config.plans_file ? config.plans_file : "", why);
            sb_config_release (&config);
            return 2;
        }
    }

    if (service->secrets) {
        s_secrets = sb_secrets_new (&config, why, sizeof (why));
        if (!s_secrets) {
            sb_error ("the key sealing stored secrets cannot be had: %s", why);
            sb_plans_destroy (&s_plans);
            sb_config_release (&config);
            return 2;
        }
    }
    if (service->entitlements)
        s_ents = sb_ents_new (&config);

    int status = 1;
    sb_db_t *db = sb_db_new (config.service_database_url, service->name);
    if (sb_db_connect (db, 30000) == 0
        && sb_migrate (db, service->name, service->migrations, *service->migration_count) >= 0
        && (!service->start || service->start (&config, db) == 0)) {
        int credit = config.worker_credit ? config.worker_credit
                                          : service->credit > 1 ? service->credit : 1;
        if (credit > SB_WORKER_CREDIT_MAX)
            credit = SB_WORKER_CREDIT_MAX;
        bool has_peer = false;
        for (const sb_op_t *op = service->ops; op && op->name; op++)
            has_peer |= (op->flags & SB_OP_PEER) != 0;
        s_lane_t lanes [2] = {
            { .service = service, .config = &config, .suffix = service->lane },
            { .service = service, .config = &config, .suffix = has_peer ? "peer" : NULL,
              .peer = true }
        };
        for (size_t i = 0; i < 2; i++) {
            if (!lanes [i].suffix)
                continue;
            lanes [i].started = pthread_create (&lanes [i].thread, NULL, s_lane_main,
                                                &lanes [i]) == 0;
            if (!lanes [i].started)
                sb_error ("the '%s' worker cannot start: %s", lanes [i].suffix,
                          lanes [i].peer ? "other services cannot reach this one"
                                         : "its operations wait for the main worker");
        }
        s_serve (service, &config, db, service->name, credit);
        for (size_t i = 0; i < 2; i++)
            if (lanes [i].started)
                pthread_join (lanes [i].thread, NULL);
        if (service->stop)
            service->stop ();
        status = 0;
    }
    sb_db_destroy (&db);
    sb_ents_destroy (&s_ents);
    sb_plans_destroy (&s_plans);
    sb_secrets_destroy (&s_secrets);
    sb_config_release (&config);
    return status;
}
