/*  service.h — the skeleton every service binary runs.

    A service is a table of operations (sb_op_t below):

        static const sb_op_t s_ops [] = {
            { .name = "businesses.get", .role = SB_ROLE_USER, .flags = SB_OP_READ,
              .handler = tenant_businesses_get },
            { .name = NULL }
        };

    and main.c is `return sb_service_main (argc, argv, &tenant_service);`.
    The skeleton does the command line (--help, --version), configuration,
    logging, the database connection and migrations, the worker, envelope
    decoding, deadline and role checks, transactions (with the organization
    set for row-level security), reply encoding and the graceful stop on
    SIGTERM/SIGINT (the request in hand is finished first). Every service
    also answers `sys.ping`, and `sys.stats` (role service: its stats_sql
    figures, for the gateway's /metrics), and for the operator's tool
    (role operator): `sys.migrations` {run?} (the schema's migrations:
    applied, shipped, pending; run applies the pending ones as the start
    does) and `sys.outboxes.list`, `.show` {name, state?, limit?} and
    `.replay` {name, ids?} over the outboxes the service declares
    (sb_outbox_view_t).

    A handler never sees a socket, a frame or a PGconn directly: it reads
    the request through ctx and writes the answer through reply.
*/
#ifndef SB_SERVICE_H_INCLUDED
#define SB_SERVICE_H_INCLUDED

#include <msgpack.h>
#include "sb/config.h"
#include "sb/db.h"
#include "sb/envelope.h"
#include "sb/migrate.h"
#include "sb/entitlements.h"
#include "sb/plans.h"

typedef struct _sb_ctx_t sb_ctx_t;
typedef struct _sb_reply_t sb_reply_t;

//  A handler returns 0 when it wrote a reply (success or error), -1 on an
//  unexpected failure (the skeleton answers 500 internal_error and rolls
//  back).
typedef int (sb_handler_fn) (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

#define SB_OP_TX 1                  //  run inside a transaction with the org set
#define SB_OP_READ 2                //  no transaction: each statement runs alone with
                                    //  the org set in its round trip (one-statement reads)
#define SB_OP_GROUP 4               //  with query/finish and SB_OP_TX: the changes of the
                                    //  requests a worker holds commit together in one
                                    //  transaction (a failure reruns each alone)
#define SB_OP_LANE 16               //  waits on an outside party: routed to the service's
                                    //  lane (sb_service_t.lane), see there
#define SB_OP_PEER 32               //  a leaf other services call while serving a
                                    //  request (org.counts, entitlements.get): also
                                    //  answered by the service's peer worker, see
                                    //  "The peer worker" below
#define SB_OP_IDEMPOTENT 8          //  with SB_OP_TX, for operations that create: a
                                    //  request with an Idempotency-Key (envelope "idem")
                                    //  runs once per organization and key; a repeat with
                                    //  the same arguments within 24 h gets the stored
                                    //  answer (see service.c, "Idempotency")

//  A read that is one statement may be written as two halves instead of a
//  handler, so that the skeleton can send the statements of many requests
//  to PostgreSQL in one round trip: query checks the arguments and either
//  answers (an error) or fills stmt (sql and params; org, when it leaves
//  it NULL, is the caller's), or, when the op also has a handler, may
//  decline (neither: the handler then runs the request alone);
//  finish turns the statement's result (borrowed; NULL when the statement
//  failed, SQLSTATE in sb_db_sqlstate) into the answer. Both return 0, or
//  -1 on an unexpected failure (500; 503 when the connection was lost).
typedef int (sb_query_fn) (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply,
                           sb_db_stmt_t *stmt);
typedef int (sb_finish_fn) (sb_ctx_t *ctx, const msgpack_object *args, PGresult *result,
                            sb_reply_t *reply);

//  A change with SB_OP_GROUP may also merge: the statements its query
//  half wrote for the requests of one round of a group (one request per
//  organization, at least two, all of this op) become one statement, so
//  that PostgreSQL parses, plans and starts one statement for all of them.
//  merge fills merged from stmts (memory from ctx, the first request's)
//  and returns 0, or -1 to decline (the round then runs as a group). The
//  merged statement runs alone in its transaction with every organization
//  visible (sb_db_stmt_t.all_orgs): the op keeps isolation itself, by
//  writing each request's rows under that request's organization (its
//  stmt->org) only. Each request's finish then reads the one merged result
//  (borrowed, shared) and tells its own part by its organization. When
//  the merged statement fails (not the connection), the round runs again
//  as a group of the requests' own statements, and then each alone: one
//  request's failure never fails another's.
typedef int (sb_merge_fn) (sb_ctx_t *ctx, const sb_db_stmt_t *stmts, size_t count,
                           sb_db_stmt_t *merged);

//  One operation of a service's table, written with designated
//  initializers (the table ends with { .name = NULL }):
//
//      { .name = "calls.get", .role = SB_ROLE_USER, .flags = SB_OP_READ,
//        .handler = tenant_calls_get },
//      { .name = "calls.list", .role = SB_ROLE_USER, .flags = SB_OP_READ,
//        .query = tenant_calls_list_query, .finish = tenant_page_finish },
//
//  Names: the handler of op `x.y` is <svc>_x_y, in <svc>_x.c; its halves
//  are <svc>_x_y_query and <svc>_x_y_finish, and a finish shared by several
//  operations is named for what it packs (tenant_page_finish).
typedef struct {
    const char *name;               //  "calls.get"
    sb_handler_fn *handler;         //  NULL: query and finish
    sb_role_t role;                 //  the least role it needs; SB_ROLE_NONE: none
    unsigned flags;                 //  SB_OP_*
    sb_query_fn *query;
    sb_finish_fn *finish;
    sb_merge_fn *merge;             //  NULL: a group round is one statement per request
} sb_op_t;

//  One outbox of a service, declared once in the service's table of
//  outboxes (sb_service_t.outboxes) for the operator's built-in operations
//  sys.outboxes.list, .show and .replay (service.c). Each statement runs
//  across all organizations (switchboard.all_orgs) in the service's schema:
//  - stats: no parameters, one row: pending (neither delivered nor given
//    up), oldest_seconds (age of the oldest pending row, 0 when none),
//    failed (pending rows that have failed at least once: still retried),
//    dead (rows given up: never retried unless replayed), total;
//  - rows: $1 a state (pending, failed, dead or NULL: any) and $2 a limit:
//    the newest rows, columns id (text: the key replay names the row by),
//    state, attempts, created_at, next_attempt_at, last_error, organization_id;
//  - replay: $1 a text[] of ids, or NULL for every failed or dead row:
//    makes them due now (dead rows pending again, with fresh attempts),
//    RETURNING id. A relay picks them up at its next wake (idle_ms).
typedef struct {
    const char *name;               //  "mail_outbox"
    const char *summary;            //  one line: what it holds, where it goes
    const char *stats;
    const char *rows;
    const char *replay;
} sb_outbox_view_t;

//  The three statements of the common outbox shape (sb_relay's step for
//  tables with acknowledged_at, next_attempt_at, attempts, failures and
//  last_error): rows are retried forever, so none is dead; failed = not
//  acknowledged and failed at least once; replay makes rows due now. key is
//  the SQL text of a row's id, org the column of its organization, created
//  that of its creation time:
//      { .name = "webhook_outbox", .summary = "...",
//        SB_OUTBOX_ACKED ("webhook_outbox", "organization_id || ':' || version",
//                         "organization_id", "created_at") },
#define SB_OUTBOX_ACKED(table, key, org, created)                                            \
    .stats = "SELECT count (*) FILTER (WHERE acknowledged_at IS NULL) AS pending,"            \
             " COALESCE (extract (epoch FROM now () - min (" created ")"                     \
             " FILTER (WHERE acknowledged_at IS NULL)), 0) AS oldest_seconds,"               \
             " count (*) FILTER (WHERE acknowledged_at IS NULL AND failures > 0) AS failed,"  \
             " 0 AS dead, count (*) AS total FROM " table,                                   \
    .rows = "SELECT * FROM (SELECT (" key ")::text AS id, CASE WHEN acknowledged_at IS NOT"   \
            " NULL THEN 'delivered' WHEN failures > 0 THEN 'failed' ELSE 'pending' END AS"   \
            " state, attempts, " SB_SQL_TS (created) " AS created_at, "                      \
            SB_SQL_TS ("next_attempt_at") " AS next_attempt_at, last_error, "                \
            org "::text AS organization_id FROM " table ") AS o"                             \
            " WHERE $1::text IS NULL OR state = $1 ORDER BY created_at DESC LIMIT $2::int",  \
    .replay = "UPDATE " table " SET next_attempt_at = now () WHERE acknowledged_at IS NULL"  \
              " AND CASE WHEN $1::text[] IS NULL THEN failures > 0"                          \
              " ELSE (" key ")::text = ANY ($1::text[]) END RETURNING (" key ")::text"

typedef struct {
    const char *name;               //  bus service and schema: "tenant"
    const char *binary;             //  "tenant-svc"
    const char *summary;            //  one line for --help
    const sb_op_t *ops;             //  terminated by { .name = NULL }
    const sb_migration_t *migrations;
    const size_t *migration_count;  //  a pointer: a const size_t is no constant expression
    //  Optional: called once after migrations, before serving; returns 0 or
    //  -1 to stop the process (logged by the hook).
    int (*start) (const sb_config_t *config, sb_db_t *db);
    //  Optional: called at exit for what start set up.
    void (*stop) (void);
    //  Optional: runs a subcommand (`auth-svc rotate-keys`): returns the
    //  exit status, or -1 when argv [0] is not one of its commands.
    int (*command) (int argc, char **argv, const sb_config_t *config);
    const char *commands_help;      //  lines for --help describing them
    //  Optional: the service's own selftests (`<binary> --selftest`).
    void (*selftest) (bool verbose);
    //  Requests a worker takes at once (0 or 1: one at a time). Those whose
    //  operations have query/finish halves share one database round trip.
    int credit;
    //  True: the skeleton loads the plan catalogue (SWITCHBOARD_PLANS_FILE,
    //  else the shipped default) once at start, before the start hook, and
    //  stops the process when it is not valid; sb_ctx_plans answers it.
    //  Only billing-svc, which owns the catalogue, sets it.
    bool plans;
    //  True: the skeleton keeps the organizations' entitlements as
    //  billing-svc answers them (sb/entitlements.h); sb_ctx_entitlement
    //  answers from them.
    bool entitlements;
    //  True: the skeleton opens the key that seals third-party secrets
    //  (sb/secrets.h) once at start, before the start hook, and stops the
    //  process when it cannot be had; sb_ctx_secrets and sb_service_secrets
    //  answer it.
    bool secrets;
    //  Optional: a lane ("stripe") for the operations that wait on an
    //  outside party. Each process then also runs a second worker, on its
    //  own thread with its own database connection, registered as bus
    //  service "<name>.<lane>" (one request at a time); the gateway routes
    //  the operations flagged SB_OP_LANE there, so that a slow outside
    //  party holds up only them, never the service's other operations.
    //  Either worker answers any operation of the table.
    const char *lane;
    //  The peer worker. A handler that calls another service over the bus
    //  (sb_ctx_call, sb_ctx_entitlement) holds its worker while it waits;
    //  if that service's worker were in turn waiting on this one (billing's
    //  subscription counting auth's users while auth's /v1/me asks billing
    //  for the plan), both would wait until a timeout: with one worker
    //  each, a deadlock. So calls between services go only to leaf
    //  operations (flagged SB_OP_PEER), and to a worker of their own: a
    //  service with any SB_OP_PEER operation runs a third worker, on its
    //  own thread with its own database connection, registered as bus
    //  service "<name>.peer", which answers only those operations, and
    //  sb_ctx_call (and the entitlements cache, for billing's
    //  entitlements.get) sends to "<service>.peer". A peer operation may
    //  not call the bus itself (sb_ctx_call refuses on the peer worker), so
    //  no chain of waits can come back to a worker that waits: the peer
    //  worker waits only on its database.

    //  Optional: called at the end of every worker thread (the lane's too),
    //  for state a handler keeps per thread.
    void (*worker_stop) (void);
    //  Optional: the service's own figures for the gateway's /metrics, as
    //  one SQL statement without parameters run across all organizations
    //  (switchboard.all_orgs): each row a gauge, its columns `name` (a
    //  Prometheus name without the switchboard_ prefix), `value` (a
    //  number) and any others as labels (column name = label name; NULL:
    //  left out). Answered by the built-in op sys.stats; keep it cheap
    //  (partial indexes), it runs at every scrape.
    const char *stats_sql;
    //  Optional: the service's outboxes (terminated by { .name = NULL }),
    //  answered by the operator's built-in sys.outboxes.* (sb_outbox_view_t).
    const sb_outbox_view_t *outboxes;
} sb_service_t;

//  The operation called name in service's table or the skeleton's own
//  (sys.ping, sys.stats), or NULL.
const sb_op_t *sb_service_op (const sb_service_t *service, const char *name);

//  Runs the service until SIGTERM/SIGINT. Returns the process exit code.
int sb_service_main (int argc, char **argv, const sb_service_t *service);

//  Request context accessors (borrowed, valid during the handler).
const sb_envelope_head_t *sb_ctx_head (sb_ctx_t *ctx);
const sb_config_t *sb_ctx_config (sb_ctx_t *ctx);
sb_db_t *sb_ctx_db (sb_ctx_t *ctx);

//  The plan catalogue the skeleton loaded for a service with .plans set
//  (borrowed, valid until the process stops).
const sb_plans_t *sb_ctx_plans (sb_ctx_t *ctx);

//  The sealing key of a service with .secrets set (borrowed, valid until
//  the process stops): for handlers, and for the service's own threads
//  (started by its start hook) through sb_service_secrets.
sb_secrets_t *sb_ctx_secrets (sb_ctx_t *ctx);
sb_secrets_t *sb_service_secrets (void);

//  The entitlement of org (NULL: the request's organization) for a service
//  with .entitlements set: from memory, else asked of billing-svc (the
//  worker waits for that answer, a few hundred microseconds, once per
//  organization and change). Returns 0 with *ent; 1 when billing-svc could
//  not answer, having answered the request 503 service_unavailable when
//  reply is not NULL (fail closed: never a guessed plan).
int sb_ctx_entitlement (sb_ctx_t *ctx, const char *org, sb_entitlement_t *ent,
                        sb_reply_t *reply);

//  Calls op on another service over the bus as this service (role
//  service, the request's id and organization), with the msgpack args
//  (NULL: none), waiting at most timeout_ms (never past the request's
//  deadline). Returns 0 with *reply (release with sb_reply_msg_release),
//  or -1 when no answer came. The worker waits: for the rare request that
//  needs another service's numbers, never on a hot path. op must be one of
//  that service's SB_OP_PEER operations: the call goes to its peer worker
//  ("<service>.peer"); on the peer worker itself it refuses (-1, logged).
int sb_ctx_call (sb_ctx_t *ctx, const char *service, const char *op,
                 const msgpack_sbuffer *args, int timeout_ms, sb_reply_msg_t *reply);

//  Request-scoped memory: freed when the request is answered.
void *sb_ctx_alloc (sb_ctx_t *ctx, size_t size);
char *sb_ctx_strndup (sb_ctx_t *ctx, const char *s, size_t len);

//  Calls fn once the request's transaction has committed (not if it rolls
//  back): to wake a thread of the process that has work because of it.
void sb_ctx_after_commit (sb_ctx_t *ctx, void (*fn) (void));

//  Queues an event (topic, msgpack body copied) to publish once the
//  request's transaction has committed; dropped if it rolls back.
void sb_ctx_publish (sb_ctx_t *ctx, const char *topic, const void *body, size_t size);

//  Field errors for 400 validation_failed: {"fields":{"email":"..."}}.
#define SB_FIELDS_MAX 16
typedef struct {
    size_t count;
    struct {
        const char *field;          //  a string literal or arena string
        char message [96];
    } items [SB_FIELDS_MAX];
} sb_fields_t;

void sb_fields_add (sb_fields_t *fields, const char *field, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
bool sb_fields_has (const sb_fields_t *fields, const char *field);

//  Answers 400 validation_failed with the fields collected. Returns 0.
int sb_reply_fields (sb_reply_t *reply, const sb_fields_t *fields);

//  Reads a string argument: returns an arena copy, or NULL when it is
//  absent or nil (then, if required, adds a field error). A value that is
//  not a string, holds control characters, or has fewer than min or more
//  than max characters (UTF-8 code points) adds a field error and returns
//  NULL.
const char *sb_arg_string (sb_ctx_t *ctx, const msgpack_object *args, const char *name,
                           bool required, size_t min, size_t max, sb_fields_t *fields);
//  Like sb_arg_string for multi-line text: tabs and line breaks allowed.
const char *sb_arg_text (sb_ctx_t *ctx, const msgpack_object *args, const char *name,
                         bool required, size_t min, size_t max, sb_fields_t *fields);

//  Reads a UUID argument (a string): returns it (arena), or NULL when it is
//  absent or nil (then, if required, a field error) or not a UUID (a field
//  error naming the argument).
const char *sb_arg_uuid (sb_ctx_t *ctx, const msgpack_object *args, const char *name,
                         bool required, sb_fields_t *fields);

//  Reads a boolean argument into *value when present; a non-boolean adds a
//  field error. Returns true when the argument was present and valid.
bool sb_arg_bool (const msgpack_object *args, const char *name, bool *value, sb_fields_t *fields);

//  Reads a timestamp argument, RFC 3339 only (sb_timestamp_parse): returns
//  it normalized to UTC with microseconds (an arena string, the value to
//  give SQL) and sets *usec (may be NULL) to its instant; NULL when absent
//  (then, if required, a field error) or when it is not one (a field error
//  naming the argument).
const char *sb_arg_timestamp (sb_ctx_t *ctx, const msgpack_object *args, const char *name,
                              bool required, int64_t *usec, sb_fields_t *fields);

//  Reads a calendar month argument "YYYY-MM" (1970-01 or later): returns
//  it (an arena string), or NULL when absent (then, if required, a field
//  error) or when it is not one (a field error naming the argument).
const char *sb_arg_month (sb_ctx_t *ctx, const msgpack_object *args, const char *name,
                          bool required, sb_fields_t *fields);

//  Commits the request's transaction even though the reply is an error
//  (a failed login must still record the failure that throttles the next).
void sb_ctx_commit_on_error (sb_ctx_t *ctx);

//  The path's {id}: a UUID string (arena), or NULL when absent or not a
//  UUID — which a handler answers 404, since no such object can exist.
const char *sb_arg_id (sb_ctx_t *ctx, const msgpack_object *args);

//  Answers the first row of result with status, or 404 not_found with the
//  message when it has none; frees result. Returns 0, or -1 when result is
//  NULL (the statement failed), for `return sb_reply_one (...)`.
int sb_reply_one (sb_reply_t *reply, PGresult *result, int status, const char *not_found);

//  Answers every row of result as a one-page list ({"data": [...],
//  "next_cursor": null}); frees result. Returns 0, or -1 when result is
//  NULL, for `return sb_reply_all (...)`.
int sb_reply_all (sb_reply_t *reply, PGresult *result);

//  Answers 200 {"data": [rows of result], "next_cursor": next_cursor|nil}.
int sb_reply_rows (sb_reply_t *reply, const PGresult *result, int rows, const char *next_cursor);

//  Reads an integer argument given as a number or as a decimal string (query
//  parameters are strings): *value keeps its default when absent; out of
//  [min, max] or not an integer adds a field error. Returns true when
//  present and valid.
bool sb_arg_int (const msgpack_object *args, const char *name, int64_t min, int64_t max,
                 int64_t *value, sb_fields_t *fields);

//  Starts a success reply with status and returns the packer for its body:
//  the handler packs exactly one object.
msgpack_packer *sb_reply_body (sb_reply_t *reply, int status);

//  Writes an error reply. Always returns 0 so handlers can
//  `return sb_reply_error (...)`.
int sb_reply_error (sb_reply_t *reply, int status, const char *code, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

//  Like sb_reply_error, with extra entries for the error object: returns a
//  packer positioned inside the error map after code and message, expecting
//  exactly extra_pairs key/value pairs.
msgpack_packer *sb_reply_error_extra (sb_reply_t *reply, int status, const char *code,
                                      const char *message, size_t extra_pairs);

#endif
