/*  db.h — PostgreSQL access on libpq.

    One sb_db_t is one connection, used by one thread. Statements are always
    parameterized (PQexecParams / prepared statements): SQL text never
    contains a value. When the server restarts, the next statement outside a
    transaction (or the first of one, whose BEGIN travels with it) reconnects
    and retries once, within the request's time (sb_db_set_deadline); inside
    a transaction the failure is reported (the transaction is lost anyway)
    and the connection is re-established before the next one. Writes belong
    in transactions: a retried statement outside one may have run twice.

    Every connection sets search_path to its service's schema, so that
    statements name tables without a schema prefix.
*/
#ifndef SB_DB_H_INCLUDED
#define SB_DB_H_INCLUDED

#include <libpq-fe.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sb_db_t sb_db_t;

//  Creates a handle for url whose search_path will be schema (may be NULL
//  for the server default). Does not connect yet. Caller owns.
sb_db_t *sb_db_new (const char *url, const char *schema);
void sb_db_destroy (sb_db_t **self_p);

//  Connects (or reconnects), retrying for up to wait_ms milliseconds while
//  the server is not accepting connections. Returns 0 or -1 (logged; the
//  password in the URL is never logged).
int sb_db_connect (sb_db_t *self, int wait_ms);

//  Runs one parameterized statement. params are NUL-terminated text values
//  (NULL entries are SQL NULL). Returns the result (caller PQclear's) when
//  it succeeded, else NULL with the error logged and its SQLSTATE available
//  from sb_db_sqlstate.
PGresult *sb_db_exec (sb_db_t *self, const char *sql, int nparams, const char *const *params);

//  Like sb_db_exec for statements whose rows are not needed: 0 or -1.
int sb_db_run (sb_db_t *self, const char *sql, int nparams, const char *const *params);

//  SQLSTATE of the last failure ("" when the last statement succeeded,
//  "08006" style codes when the connection was lost; "08007" when it was
//  lost while COMMIT was in flight, so that the transaction may or may not
//  have committed).
const char *sb_db_sqlstate (sb_db_t *self);

//  True when the last failure says the database is unreachable for now,
//  not that the work is wrong: a lost or refused connection (class 08),
//  a server shutting down, crashed or starting up (57P01, 57P02, 57P03),
//  insufficient resources (class 53). Such a request is answered 503 with
//  Retry-After.
bool sb_db_unavailable (sb_db_t *self);

//  Bounds the waiting for the server that a statement may do when it finds
//  the connection gone: half the time left before deadline (unix ms; 0:
//  no request, up to 2 s). After a reconnect fails, statements fail at once
//  (class 08) for half a second, so a worker answers an outage quickly
//  instead of letting the requests queued behind it pass their deadlines.
//  A statement whose answer has not come 100 ms before the deadline is
//  given up (08006) and its connection dropped, so that a server that hangs
//  cannot hold the worker past its request's deadline.
void sb_db_set_deadline (sb_db_t *self, int64_t deadline);

//  Transactions. begin/commit return 0 or -1; rollback never fails from the
//  caller's point of view (a lost connection has rolled back already).
int sb_db_begin (sb_db_t *self);
int sb_db_commit (sb_db_t *self);
void sb_db_rollback (sb_db_t *self);
bool sb_db_in_transaction (sb_db_t *self);

//  Sets the organization for row-level security for the current
//  transaction (set_config('switchboard.org', org, true)). Returns 0 or -1.
int sb_db_set_org (sb_db_t *self, const char *org);

//  Lets the current transaction's statements touch every organization's
//  rows (switchboard.all_orgs = on, which the row-level security policies
//  of every schema honour): for internal operations that span
//  organizations (a relay's batch, a sweep, a webhook that finds its
//  organization by a Stripe id). Returns 0 or -1.
int sb_db_all_orgs (sb_db_t *self);

//  SQL that renders a timestamptz column as an RFC 3339 UTC string with
//  microseconds (PostgreSQL's precision, so nothing is lost), the API's timestamp format: SB_SQL_TS ("created_at").
#define SB_SQL_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

//  Packs row `row` of result as a msgpack map keyed by column name: NULL
//  as nil, boolean columns as booleans, int2/int4/int8 as integers, json
//  and jsonb as the values they hold, everything else as strings. A column named
//  with a leading '_' is skipped (for values a caller reads but does not
//  return).
void sb_db_pack_row (msgpack_packer *pk, const PGresult *result, int row);

//  Runs a query and packs its first row as such a map, or nil when it has
//  none. Returns 0, or -1 when the query failed (nothing packed).
int sb_db_pack_query_row (sb_db_t *self, msgpack_packer *pk, const char *sql, int nparams,
                          const char *const *params);

//  Packs every row of result as an array of such maps.
void sb_db_pack_rows (msgpack_packer *pk, const PGresult *result);

//  Reads without a transaction until sb_db_read_end: every statement runs
//  alone (an implicit transaction) with the organization (when not NULL)
//  set in the same round trip. Not inside a transaction.
void sb_db_read (sb_db_t *self, const char *org);
void sb_db_read_end (sb_db_t *self);

//  One statement of a batch: org (NULL: none) is set for row-level
//  security in the statement's own implicit transaction. all_orgs (org
//  then ignored): the statement sees every organization
//  (switchboard.all_orgs on), and only it: the setting is undone right
//  after it, in the same round trip. lengths and formats (NULL: all text)
//  as for PQexecParams: format 1 for a binary parameter (sb_db_array_t).
#define SB_DB_PARAMS_MAX 16
typedef struct {
    const char *org;
    const char *sql;
    int nparams;
    const char *params [SB_DB_PARAMS_MAX];
    bool all_orgs;
    const int *lengths;
    const int *formats;
} sb_db_stmt_t;

//  Runs count independent statements in one round trip, in one implicit
//  transaction (each with its own organization set before it); when one
//  fails, all run again each alone, so one failing spoils no other. Fills
//  results [i] (caller PQclear's) or NULL where statement i failed (logged;
//  SQLSTATE of the last failure in sb_db_sqlstate). Not inside a
//  transaction. Returns 0, or -1 when the database was unreachable (all
//  NULL). A lost connection is re-established and the whole batch run once
//  more: only for reads.
int sb_db_exec_many (sb_db_t *self, const sb_db_stmt_t *stmts, size_t count, PGresult **results);

//  Runs count statements as one transaction in one round trip (BEGIN, each
//  statement after its organization, COMMIT): one commit, one WAL flush, for
//  many requests' changes. All or nothing: returns 0 with every result
//  filled (caller PQclear's), or -1 with none (logged), the transaction
//  rolled back — or, when the connection was lost after COMMIT was sent
//  with no statement refused before it (SQLSTATE 08007), possibly
//  committed. Not inside a transaction.
int sb_db_exec_group (sb_db_t *self, const sb_db_stmt_t *stmts, size_t count,
                      PGresult **results);

//  Runs stmt (its sql and parameters, text or binary) as sb_db_exec runs a
//  statement; its org and all_orgs are not applied (the caller's
//  transaction or reading decides).
PGresult *sb_db_exec_stmt (sb_db_t *self, const sb_db_stmt_t *stmt);

//  A one-dimensional array parameter in PostgreSQL's binary format, for a
//  statement's parameter of format 1 (sb_db_stmt_t.formats): the server
//  reads it without parsing array text and its elements' text (the
//  elements' own binary forms: uuid 16 bytes, int8 big-endian, timestamptz
//  microseconds since 2000-01-01, jsonb a version byte 1 and the JSON
//  text, text its bytes). The element type given to init must be the one
//  the statement casts the parameter to ($1::uuid[]: SB_DB_OID_UUID), or
//  the server refuses it ("wrong element type"). Owns its buffer (release).
#define SB_DB_OID_BOOL 16
#define SB_DB_OID_INT8 20
#define SB_DB_OID_INT4 23
#define SB_DB_OID_TEXT 25
#define SB_DB_OID_TIMESTAMPTZ 1184
#define SB_DB_OID_UUID 2950
#define SB_DB_OID_JSONB 3802
typedef struct {
    char *data;                     //  head (written by finish) and elements
    size_t size, capacity;
    uint32_t type;                  //  the elements' type OID
    uint32_t count;
    bool nulls;
} sb_db_array_t;

void sb_db_array_init (sb_db_array_t *self, uint32_t type);
void sb_db_array_release (sb_db_array_t *self);
//  Appends an element of size bytes (NULL: an SQL NULL).
void sb_db_array_add (sb_db_array_t *self, const void *bytes, size_t size);
//  The same from a value: text (NUL-terminated; NULL is NULL), an int8, a
//  UUID's text (NULL is NULL; -1 and nothing added when it is not a UUID),
//  a timestamptz from microseconds since the Unix epoch, JSON text for a
//  jsonb (NULL is NULL).
void sb_db_array_add_text (sb_db_array_t *self, const char *text);
void sb_db_array_add_int8 (sb_db_array_t *self, int64_t value);
int sb_db_array_add_uuid (sb_db_array_t *self, const char *text);
void sb_db_array_add_timestamptz (sb_db_array_t *self, int64_t usec);
void sb_db_array_add_jsonb (sb_db_array_t *self, const char *json);
//  The parameter's bytes (borrowed from self, until the next add or the
//  release) and their count in *length. More elements may follow; finish
//  again then.
const char *sb_db_array_finish (sb_db_array_t *self, int *length);

//  Writes into out the concatenation of count finished arrays of one
//  element type (arrays [i] of lengths [i] bytes), as one array; out needs
//  the sum of the lengths plus 20 bytes. Returns the bytes written.
size_t sb_db_array_join (const char *const *arrays, const int *lengths, size_t count, char *out);

void sb_db_test (bool verbose);

//  The underlying connection, for the rare caller that needs libpq itself
//  (COPY, pipelining). Borrowed; may change after a reconnect.
PGconn *sb_db_conn (sb_db_t *self);

#endif
