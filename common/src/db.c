/*  db.c — PostgreSQL access on libpq.

    An sb_db_t wraps one PGconn plus what we need to survive a database
    restart: the connection string, the schema for search_path, whether the
    caller has a transaction open, and the SQLSTATE of the last failure.

    Every statement is a prepared statement with parameters (text, or
    binary where the caller says so: sb_db_array_t builds array parameters
    in PostgreSQL's binary form, which the server takes without parsing
    array text), so SQL text never carries a value and the server parses
    each text once per connection. A statement travels in one pipeline with what must come
    before it — the BEGIN that sb_db_begin deferred, the organization for
    row-level security — so that a transaction's first statement, or a
    read under sb_db_read, costs one round trip. When a statement fails because the
    connection died and no transaction was open, we reconnect and run it
    once more: the caller sees nothing but a slower statement (the first
    statement of a transaction too: its BEGIN travels with it, so nothing
    of the transaction had run). Inside a transaction a retry would silently
    run the rest of the work outside it, so the transaction is marked lost
    instead: every statement fails until the caller rolls back (or commits,
    which fails), and the first statement after that reconnects. Reconnects
    wait within the request's time and back off after a failure (see
    S_RECONNECT_MS, S_BACKOFF_MS), so an outage is answered quickly; no
    answer and no connection attempt outlives the request's deadline
    (s_get_result, s_connect_until), so a server that hangs cannot hold a
    worker.

    COMMIT goes in one pipeline after the transaction's id: when the
    connection is lost before COMMIT's answer, the server is asked once it
    is back whether that transaction committed (s_resolve_commit), so that
    a change that is in is not reported as failed, nor the reverse; only
    when that cannot be known in time is the outcome unknown (08007).

    Logging rules: the connection string is only ever logged as
    user@host:port/dbname, rebuilt from its parsed parts, so a password
    never reaches the log; statements are logged as their first 60
    characters (values travel as parameters, never in the SQL text); server
    messages for data exceptions (class 22), which quote the offending
    input, are cut before the quote. Server notices and warnings go to our
    log instead of libpq's default of printing them on stderr.
*/
#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sb/db.h"
#include "sb/log.h"
#include "sb/mpk.h"
#include "sb/json.h"
#include "sb/util.h"

//  How long a statement outside a transaction waits for the server to come
//  back before giving up on its retry: at most this, and at most half of
//  what is left of the request's time (sb_db_set_deadline), so that the
//  requests queued behind it still have time to be answered.
#define S_RECONNECT_MS 2000

//  After a reconnect failed, statements fail at once for this long instead
//  of each waiting for the server again: during an outage a worker answers
//  503 quickly rather than letting its queue pass its deadlines.
#define S_BACKOFF_MS 500

//  A request's statement is given up this long before the request's
//  deadline (and its connection dropped), so that its 503 reaches the
//  caller before the broker's 504: a server that stopped answering must not
//  hold the worker and the requests queued behind it.
#define S_CUT_MARGIN_MS 100

//  A connection attempt within a request gets at least this long.
#define S_CONNECT_MIN_MS 250

//  Statements are logged truncated to this many characters.
#define S_EXCERPT_CHARS 60

//  Prepared statements per connection: open addressing on a hash of the
//  SQL text. Statement texts are few and fixed (built from literals), so
//  the table does not fill in practice; when it does, statements beyond it
//  simply run unprepared.
#define S_STATEMENTS 512

typedef enum {
    S_FREE = 0,
    S_UNPREPARED,                   //  slot taken, Parse still to send
    S_PREPARED,                     //  Parse sent (and not known to have failed)
    S_BROKEN                        //  Parse failed: run it unnamed from now on
} s_state_t;

typedef struct {
    s_state_t state;
    uint64_t hash;
    char *sql;                      //  owned copy, compared on a hash match
} s_statement_t;

//  One step of a pipeline: a statement, or a Sync (sql NULL).
typedef struct {
    const char *sql;
    int nparams;
    const char *const *params;
    const int *lengths;             //  NULL: text parameters
    const int *formats;
    int parse;                      //  slot whose Parse precedes it, or -1
    PGresult *result;               //  its result once read (success or error)
    bool failed;                    //  error, aborted, or never answered
    bool keep;                      //  its answer stands even if the connection
                                    //  is lost later in the pipeline
} s_step_t;

//  The organization for row-level security travels with the statements
//  that need it, in the same pipeline: set_config (..., true) is local to
//  the transaction, explicit or implicit (up to the pipeline's Sync).
#define S_SET_ORG "SELECT set_config('switchboard.org', $1, true)"
//  A statement across organizations (sb_db_stmt_t.all_orgs), and back.
#define S_ALL_ORGS_ON "SELECT set_config('switchboard.all_orgs', 'on', true)"
#define S_ALL_ORGS_OFF "SELECT set_config('switchboard.all_orgs', '', true)"

static PGresult *s_exec (sb_db_t *self, const char *sql, int nparams, const char *const *params,
                         const int *lengths, const int *formats);

struct _sb_db_t {
    char *url;                      //  conninfo or postgres:// URL (secret)
    char *schema;                   //  search_path schema, or NULL
    PGconn *conn;                   //  NULL until the first connect
    bool in_tx;                     //  the caller's transaction is open
    bool tx_lost;                   //  ... and its connection died
    bool tx_deferred;               //  ... but BEGIN waits for the first statement
    bool reading;                   //  sb_db_read: no transaction, org per statement
    bool has_org;                   //  org below is to be set
    char org [64];                  //  for the deferred BEGIN or for reading
    char sqlstate [6];              //  of the last failure, "" after success
    int64_t deadline;               //  the request's, unix ms (0: none)
    int64_t down_until;             //  monotonic ms: reconnects fail at once until then
    bool cut;                       //  the last pipeline was given up at the deadline
    char message [256];             //  server's reason for the last failure
    s_statement_t statements [S_STATEMENTS];
    size_t statement_count;
};


//  --------------------------------------------------------------------------
//  Copies the first line of text into buf: libpq messages end in newlines
//  and often carry a second "This probably means..." line.

static void
s_first_line (const char *text, char *buf, size_t size)
{
    if (!text)
        text = "";
    size_t len = strcspn (text, "\r\n");
    if (len >= size)
        len = size - 1;
    memcpy (buf, text, len);
    buf [len] = 0;
}


//  --------------------------------------------------------------------------
//  Writes the start of sql into buf for logging, with runs of whitespace
//  folded to one space so multi-line statements stay on one line.

static void
s_excerpt (const char *sql, char *buf, size_t size)
{
    assert (size >= S_EXCERPT_CHARS + 4);
    (void) size;                    //  only checked by the assert
    size_t len = 0;
    bool space = false;
    const char *p;
    for (p = sql; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            space = len > 0;
            continue;
        }
        if (len + (space ? 2 : 1) > S_EXCERPT_CHARS)
            break;
        if (space)
            buf [len++] = ' ';
        space = false;
        buf [len++] = *p;
    }
    if (*p) {
        memcpy (buf + len, "...", 3);
        len += 3;
    }
    buf [len] = 0;
}


//  --------------------------------------------------------------------------
//  Describes the connection string as user@host:port/dbname for logs,
//  never including the password. Returns -1 when the string is neither a
//  bare database name nor a parsable conninfo or URL.

static int
s_describe (const char *url, char *buf, size_t size)
{
    if (!strchr (url, '=') && !strstr (url, "://")) {
        //  A bare database name (or "" for libpq's defaults)
        snprintf (buf, size, "/%s", url);
        return 0;
    }
    //  The parser's message may quote the string, password included, so it
    //  is dropped rather than logged
    char *why = NULL;
    PQconninfoOption *options = PQconninfoParse (url, &why);
    PQfreemem (why);
    if (!options) {
        snprintf (buf, size, "(unparsable connection string)");
        return -1;
    }
    const char *user = "", *host = "", *port = "", *dbname = "";
    for (PQconninfoOption *option = options; option->keyword; option++) {
        const char *value = option->val;
        if (!value || !*value)
            continue;
        if (strcmp (option->keyword, "user") == 0)
            user = value;
        else if (strcmp (option->keyword, "host") == 0)
            host = value;
        else if (strcmp (option->keyword, "hostaddr") == 0 && !*host)
            host = value;
        else if (strcmp (option->keyword, "port") == 0)
            port = value;
        else if (strcmp (option->keyword, "dbname") == 0)
            dbname = value;
    }
    snprintf (buf, size, "%s%s%s%s%s/%s", user, *user ? "@" : "", *host ? host : "(default host)",
              *port ? ":" : "", port, dbname);
    PQconninfoFree (options);
    return 0;
}


//  --------------------------------------------------------------------------
//  Receives the server's notices and warnings for our log; without it libpq
//  prints them raw on stderr, between our JSON lines.

static void
s_notice (void *arg, const PGresult *result)
{
    (void) arg;
    const char *severity = PQresultErrorField (result, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *message = PQresultErrorField (result, PG_DIAG_MESSAGE_PRIMARY);
    if (!message)
        message = "";
    if (severity && strcmp (severity, "WARNING") == 0)
        sb_warn ("database warning: %s", message);
    else
        sb_debug ("database notice: %s", message);
}


//  --------------------------------------------------------------------------
//  Sleeps for msecs milliseconds (EINTR just cuts it short).

static void
s_sleep_ms (int64_t msecs)
{
    if (msecs <= 0)
        return;
    struct timespec delay = { (time_t) (msecs / 1000), (long) (msecs % 1000) * 1000000L };
    nanosleep (&delay, NULL);
}


//  --------------------------------------------------------------------------
//  Sets the failure state: SQLSTATE and a one-line reason.

static void
s_set_failure (sb_db_t *self, const char *sqlstate, const char *message)
{
    snprintf (self->sqlstate, sizeof self->sqlstate, "%s", sqlstate);
    s_first_line (message, self->message, sizeof self->message);
}


//  --------------------------------------------------------------------------
//  Records why a statement failed: result may be NULL (libpq could not even
//  send it) or an error result. A dead connection is reported as 08006
//  whatever the server said last, so callers can test one code.

static void
s_record_failure (sb_db_t *self, const PGresult *result)
{
    const char *sqlstate = NULL;
    const char *message = NULL;
    if (result) {
        sqlstate = PQresultErrorField (result, PG_DIAG_SQLSTATE);
        message = PQresultErrorField (result, PG_DIAG_MESSAGE_PRIMARY);
        if (PQresultStatus (result) == PGRES_EMPTY_QUERY)
            message = "empty statement";
        else if (PQresultStatus (result) != PGRES_FATAL_ERROR
                 && PQresultStatus (result) != PGRES_NONFATAL_ERROR)
            message = "unexpected result (COPY is not supported here)";
    }
    if (!message || !*message)
        message = self->conn ? PQerrorMessage (self->conn)
                : self->cut  ? "no answer from the database before the request's deadline"
                             : "no connection";
    if (PQstatus (self->conn) == CONNECTION_BAD)
        sqlstate = "08006";
    else if (!sqlstate || strlen (sqlstate) != 5)
        sqlstate = "XX000";
    s_set_failure (self, sqlstate, message);

    //  Data exceptions quote the input value: keep only the text before it
    if (strncmp (self->sqlstate, "22", 2) == 0) {
        char *quote = strchr (self->message, '"');
        if (quote) {
            while (quote > self->message && (quote [-1] == ' ' || quote [-1] == ':'))
                quote--;
            *quote = 0;
        }
    }
}


//  --------------------------------------------------------------------------
//  True when we hold a connection that libpq still believes in.

static bool
s_connected (sb_db_t *self)
{
    return self->conn && PQstatus (self->conn) == CONNECTION_OK;
}


//  --------------------------------------------------------------------------
//  Closes the connection, if any, and forgets what was prepared on it. The
//  caller's transaction state stays for sb_db_exec to judge (s_disconnect
//  clears it too: an open transaction dies with its connection).

static void
s_forget (sb_db_t *self)
{
    if (self->conn) {
        PQfinish (self->conn);
        self->conn = NULL;
    }
    //  Prepared statements die with their connection
    for (size_t i = 0; i < S_STATEMENTS; i++) {
        free (self->statements [i].sql);
        self->statements [i] = (s_statement_t) { .state = S_FREE };
    }
    self->statement_count = 0;
}

static void
s_disconnect (sb_db_t *self)
{
    s_forget (self);
    self->in_tx = false;
    self->tx_lost = false;
    self->tx_deferred = false;
}


//  --------------------------------------------------------------------------
//  Reconnects for a statement, within the request's time (see
//  S_RECONNECT_MS and S_BACKOFF_MS). A transaction whose BEGIN still waits
//  for its first statement has done nothing yet: it survives, so that the
//  statement runs inside it, with its organization, on the new connection
//  (never alone in autocommit). Returns 0, or -1 with a class 08 SQLSTATE.

static int
s_reconnect (sb_db_t *self)
{
    if (sb_mono_ms () < self->down_until) {
        s_forget (self);
        s_set_failure (self, "08001", "the database was unreachable moments ago");
        return -1;
    }
    int64_t wait = S_RECONNECT_MS;
    if (self->deadline) {
        int64_t half = (self->deadline - sb_now_ms ()) / 2;
        if (half < wait)
            wait = half > 0 ? half : 0;
    }
    bool deferred = self->in_tx && self->tx_deferred;
    int rc = sb_db_connect (self, (int) wait);
    if (deferred)
        self->in_tx = self->tx_deferred = true;
    if (rc) {
        if (strncmp (self->sqlstate, "08", 2) != 0)
            s_set_failure (self, "08001", self->message);
        self->down_until = sb_mono_ms () + S_BACKOFF_MS;
    }
    return rc;
}


//  --------------------------------------------------------------------------
//  True for a failure that says the server is going away or is not there
//  yet: admin shutdown, crash shutdown, cannot connect now (57P01-57P03).

static bool
s_shutdown_state (const char *sqlstate)
{
    return strcmp (sqlstate, "57P01") == 0 || strcmp (sqlstate, "57P02") == 0
           || strcmp (sqlstate, "57P03") == 0;
}


//  --------------------------------------------------------------------------
//  The slot of sql's prepared statement (its name is "s<slot>"), taking a
//  free one the first time; -1 when it is not to be prepared (the table
//  is three quarters full, or its Parse failed before).

static uint64_t
s_hash (const char *sql)
{
    uint64_t hash = 14695981039346656037ULL;       //  FNV-1a
    for (const char *c = sql; *c; c++)
        hash = (hash ^ (unsigned char) *c) * 1099511628211ULL;
    return hash;
}

static int
s_statement (sb_db_t *self, const char *sql)
{
    uint64_t hash = s_hash (sql);
    size_t slot = (size_t) (hash % S_STATEMENTS);
    for (size_t probe = 0; probe < S_STATEMENTS; probe++) {
        s_statement_t *entry = &self->statements [slot];
        if (entry->state == S_FREE) {
            if (self->statement_count >= S_STATEMENTS * 3 / 4)
                return -1;
            entry->state = S_UNPREPARED;
            entry->hash = hash;
            entry->sql = sb_strdup (sql);
            self->statement_count++;
            return (int) slot;
        }
        if (entry->hash == hash && strcmp (entry->sql, sql) == 0)
            return entry->state == S_BROKEN ? -1 : (int) slot;
        slot = (slot + 1) % S_STATEMENTS;
    }
    return -1;
}


//  --------------------------------------------------------------------------
//  The next result of the pipeline, waiting no later than the request's
//  deadline allows (S_CUT_MARGIN_MS): NULL with self->cut set when the time
//  is up. Without a request, as long as it takes (PQgetResult).

static PGresult *
s_get_result (sb_db_t *self, PGconn *conn)
{
    while (self->deadline && PQisBusy (conn) && PQsocket (conn) >= 0) {
        int64_t left = self->deadline - S_CUT_MARGIN_MS - sb_now_ms ();
        if (left <= 0) {
            self->cut = true;
            return NULL;
        }
        struct pollfd ready = { .fd = PQsocket (conn), .events = POLLIN };
        int rc = poll (&ready, 1, left > INT_MAX ? INT_MAX : (int) left);
        if ((rc < 0 && errno != EINTR) || (rc > 0 && !PQconsumeInput (conn)))
            break;                  //  PQgetResult reports the broken connection
    }
    return PQgetResult (conn);
}


//  --------------------------------------------------------------------------
//  Sends the steps as one pipeline and reads every answer: one round trip
//  however many statements, each a prepared statement (Parse only the
//  first time on this connection). Each step's result (or its failure) is
//  left in the step; a failure makes the server skip what follows up to
//  the next Sync (PGRES_PIPELINE_ABORTED). Returns 0 when every answer was
//  read, -1 when the connection failed (steps not answered are failed).

static int
s_pipeline (sb_db_t *self, s_step_t *steps, size_t count)
{
    PGconn *conn = self->conn;
    self->cut = false;
    for (size_t i = 0; i < count; i++) {
        steps [i].result = NULL;
        steps [i].failed = true;
        steps [i].parse = -1;
    }
    if (!PQenterPipelineMode (conn))
        return -1;
    bool sent = true;
    for (size_t i = 0; i < count && sent; i++) {
        s_step_t *step = &steps [i];
        if (!step->sql) {
            sent = PQpipelineSync (conn) == 1;
            continue;
        }
        int slot = s_statement (self, step->sql);
        if (slot < 0) {
            sent = PQsendQueryParams (conn, step->sql, step->nparams, NULL, step->params,
                                      step->lengths, step->formats, 0) == 1;
            continue;
        }
        char name [16];
        snprintf (name, sizeof name, "s%d", slot);
        if (self->statements [slot].state == S_UNPREPARED) {
            sent = PQsendPrepare (conn, name, step->sql, 0, NULL) == 1;
            self->statements [slot].state = S_PREPARED;
            step->parse = slot;
        }
        sent = sent && PQsendQueryPrepared (conn, name, step->nparams, step->params,
                                            step->lengths, step->formats, 0) == 1;
    }
    //  A pipeline that does not end in a Sync is never answered
    if (sent && (count == 0 || steps [count - 1].sql))
        sent = PQpipelineSync (conn) == 1;

    //  Read the answers in order: a Parse's, then the statement's, each
    //  followed by NULL; PGRES_PIPELINE_SYNC for a Sync.
    bool alive = sent;
    for (size_t i = 0; i < count && alive; i++) {
        s_step_t *step = &steps [i];
        if (step->parse >= 0) {
            PGresult *parsed = s_get_result (self, conn);
            ExecStatusType status = PQresultStatus (parsed);
            if (!parsed)
                alive = false;
            else
            if (status == PGRES_PIPELINE_ABORTED)
                self->statements [step->parse].state = S_UNPREPARED;
            else
            if (status != PGRES_COMMAND_OK) {
                self->statements [step->parse].state = S_BROKEN;
                step->result = parsed;      //  the reason to report
                parsed = NULL;
            }
            PQclear (parsed);
            if (alive && s_get_result (self, conn))
                alive = false;              //  out of step with the server
        }
        if (!alive)
            break;
        PGresult *result = s_get_result (self, conn);
        if (!result) {
            alive = false;
            break;
        }
        ExecStatusType status = PQresultStatus (result);
        if (!step->sql) {
            PQclear (result);
            alive = status == PGRES_PIPELINE_SYNC;
            continue;
        }
        if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
            if (!step->result) {
                step->result = result;
                step->failed = false;
            }
            else
                PQclear (result);
        }
        else
        if (!step->result && status != PGRES_PIPELINE_ABORTED)
            step->result = result;          //  the error
        else
            PQclear (result);
        if (s_get_result (self, conn))
            alive = false;
    }
    if (alive && count && steps [count - 1].sql) {
        PGresult *sync = s_get_result (self, conn);
        alive = PQresultStatus (sync) == PGRES_PIPELINE_SYNC;
        PQclear (sync);
    }
    if (self->cut) {
        //  What the server does with the statement is its business now;
        //  the worker answers, and reconnects after the back-off
        sb_warn ("no answer from the database before the request's deadline, "
                 "dropping the connection");
        s_forget (self);
        self->down_until = sb_mono_ms () + S_BACKOFF_MS;
        alive = false;
    }
    else
    if (!PQexitPipelineMode (conn) && PQstatus (conn) != CONNECTION_BAD) {
        //  Answers we did not expect are still coming: the connection's
        //  state is unknown, so it goes
        sb_error ("database pipeline out of step, dropping the connection");
        s_forget (self);
        alive = false;
    }
    if (!alive)
        for (size_t i = 0; i < count; i++)
            if (!steps [i].failed && !steps [i].keep && PQstatus (self->conn) == CONNECTION_BAD) {
                PQclear (steps [i].result);
                steps [i].result = NULL;
                steps [i].failed = true;
            }
    return alive ? 0 : -1;
}


//  --------------------------------------------------------------------------
//  Runs the statement once on the current connection, in one round trip
//  with what must precede it: the deferred BEGIN of the caller's
//  transaction and the organization for row-level security. Outside an
//  explicit transaction the pipeline up to its Sync is one implicit
//  transaction, so the organization holds for the statement and ends with
//  it. Returns the statement's result on success, else NULL with the first
//  failure recorded.

static PGresult *
s_exec_once (sb_db_t *self, const char *sql, int nparams, const char *const *params,
             const int *lengths, const int *formats)
{
    bool begin = self->tx_deferred;
    const char *org = (begin || self->reading) && self->has_org ? self->org : NULL;
    s_step_t steps [3];
    size_t count = 0;
    if (begin)
        steps [count++] = (s_step_t) { .sql = "BEGIN" };
    if (org)
        steps [count++] = (s_step_t) { .sql = S_SET_ORG, .nparams = 1, .params = &org };
    steps [count++] = (s_step_t) { .sql = sql, .nparams = nparams, .params = params,
                                   .lengths = lengths, .formats = formats };
    s_pipeline (self, steps, count);

    PGresult *failure = NULL;
    for (size_t i = 0; i < count; i++)
        if (steps [i].failed && !failure)
            failure = steps [i].result;
        else
        if (i + 1 < count || steps [i].failed)
            PQclear (steps [i].result);
    if (!failure && !steps [count - 1].failed) {
        self->tx_deferred = false;
        self->sqlstate [0] = 0;
        self->message [0] = 0;
        return steps [count - 1].result;
    }
    //  BEGIN went through: the transaction is open (and failed). On a dead
    //  connection nothing happened that a retry could repeat: still deferred.
    if (begin && s_connected (self) && PQtransactionStatus (self->conn) != PQTRANS_IDLE)
        self->tx_deferred = false;
    s_record_failure (self, failure);
    PQclear (failure);
    return NULL;
}


//  --------------------------------------------------------------------------
//  A transaction ends with two steps in one pipeline: its id (NULL when it
//  wrote nothing), then COMMIT. When the connection is lost before COMMIT's
//  answer, s_resolve_commit tells what happened.

#define S_XACT_ID "SELECT pg_current_xact_id_if_assigned ()::text"

//  After a pipeline ending in S_XACT_ID and COMMIT (steps kept, see
//  s_step_t) lost its connection: did the transaction commit? The server
//  answers in order, so an error it sent (a SQLSTATE: a shutdown's FATAL,
//  say) in place of a step before COMMIT means it never ran COMMIT: rolled
//  back. A transaction that wrote nothing has nothing to lose. Otherwise
//  COMMIT may have run and only its answer was lost: the server, once it is
//  back (within the request's time), knows the transaction's status
//  (pg_xact_status). Returns 1 committed, 0 rolled back (08006), -1
//  unknown (08007); the connection is gone or new either way.

static int
s_resolve_commit (sb_db_t *self, const s_step_t *steps, size_t count)
{
    for (size_t i = 0; i + 1 < count; i++)
        if (steps [i].failed && steps [i].result
            && PQresultErrorField (steps [i].result, PG_DIAG_SQLSTATE)) {
            s_set_failure (self, "08006", "connection lost before COMMIT ran");
            return 0;
        }
    const s_step_t *xact = &steps [count - 2];
    if (!xact->failed && PQntuples (xact->result) == 1 && PQgetisnull (xact->result, 0, 0))
        return 1;
    char id [32] = "";
    if (!xact->failed && PQntuples (xact->result) == 1)
        snprintf (id, sizeof id, "%s", PQgetvalue (xact->result, 0, 0));
    const char *status = NULL;
    PGresult *result = NULL;
    if (*id && s_reconnect (self) == 0) {
        const char *params [] = { id };
        result = s_exec_once (self, "SELECT pg_xact_status ($1::xid8)", 1, params, NULL, NULL);
        if (result && PQntuples (result) == 1 && !PQgetisnull (result, 0, 0))
            status = PQgetvalue (result, 0, 0);
    }
    int outcome = -1;
    if (status && strcmp (status, "committed") == 0)
        outcome = 1;
    else
    if (status && strcmp (status, "aborted") == 0) {
        s_set_failure (self, "08006", "connection lost during COMMIT, which did not commit");
        outcome = 0;
    }
    else
        s_set_failure (self, "08007", "connection lost during COMMIT: outcome unknown");
    sb_warn ("connection lost during COMMIT of transaction %s: %s", *id ? id : "(id unknown)",
             outcome == 1 ? "it committed" : outcome == 0 ? "it rolled back"
                                                         : "outcome unknown");
    PQclear (result);
    return outcome;
}


//  --------------------------------------------------------------------------
//  Create a handle for url whose search_path will be schema (NULL for the
//  server default). Does not connect. Caller owns.

sb_db_t *
sb_db_new (const char *url, const char *schema)
{
    sb_db_t *self = sb_calloc (1, sizeof (sb_db_t));
    self->url = sb_strdup (url ? url : "");
    self->schema = schema ? sb_strdup (schema) : NULL;
    return self;
}


//  --------------------------------------------------------------------------
//  Destroy the handle, closing its connection. Accepts NULL; nulls *self_p.

void
sb_db_destroy (sb_db_t **self_p)
{
    assert (self_p);
    sb_db_t *self = *self_p;
    if (!self)
        return;
    s_disconnect (self);
    //  The URL may hold a password: do not leave it in freed memory
    explicit_bzero (self->url, strlen (self->url));
    free (self->url);
    free (self->schema);
    free (self);
    *self_p = NULL;
}


//  --------------------------------------------------------------------------
//  PQconnectdbParams that gives up at until (monotonic ms): the connection
//  (PQstatus tells; the caller PQfinish'es it), with *late set when the
//  time ran out first.

static PGconn *
s_connect_until (const char *const *keywords, const char *const *values, int64_t until,
                 bool *late)
{
    PGconn *conn = PQconnectStartParams (keywords, values, 1);
    PostgresPollingStatusType state = PGRES_POLLING_WRITING;
    while (PQstatus (conn) != CONNECTION_BAD && state != PGRES_POLLING_OK
           && state != PGRES_POLLING_FAILED) {
        int64_t left = until - sb_mono_ms ();
        struct pollfd ready = { .fd = PQsocket (conn),
                                .events = state == PGRES_POLLING_READING ? POLLIN : POLLOUT };
        int rc = left > 0 && ready.fd >= 0 ? poll (&ready, 1, (int) left) : 0;
        if (rc == 0) {
            *late = true;
            break;
        }
        if (rc > 0 || errno == EINTR)
            state = rc > 0 ? PQconnectPoll (conn) : state;
        else
            break;
    }
    return conn;
}


//  --------------------------------------------------------------------------
//  Connect, or reconnect (an open transaction is lost), retrying every 100
//  to 200 ms for up to wait_ms while the server is not up or is starting or
//  stopping. A server that answers but refuses us (authentication, unknown
//  database) fails at once. Then sets application_name (unless the URL does)
//  and search_path to the schema. Returns 0, or -1 with the error logged.

int
sb_db_connect (sb_db_t *self, int wait_ms)
{
    assert (self);
    char where [256];
    if (s_describe (self->url, where, sizeof where)) {
        s_set_failure (self, "08001", "invalid connection string");
        return sb_error ("cannot connect to database: %s", where);
    }
    s_disconnect (self);
    if (wait_ms < 0)
        wait_ms = 0;

    //  Each attempt may block up to connect_timeout on a host that does not
    //  answer; keep that in proportion to the wait (libpq's minimum is 2 s).
    //  connect_timeout and gssencmode come before dbname so that a URL may
    //  override them;
    //  fallback_application_name yields to an application_name in the URL.
    char timeout [16];
    int timeout_secs = (wait_ms + 999) / 1000;
    timeout_secs = timeout_secs < 2 ? 2 : timeout_secs > 10 ? 10 : timeout_secs;
    snprintf (timeout, sizeof timeout, "%d", timeout_secs);
    //  gssencmode=disable (a URL may say otherwise): libpq's default,
    //  prefer, initialises Kerberos on every connect to look for a ticket
    //  we never have, which costs time and ~1 MiB of resident memory.
    const char *keywords [] = { "connect_timeout", "gssencmode", "dbname",
                                "fallback_application_name", NULL };
    const char *values [] = { timeout, "disable", self->url,
                              self->schema ? self->schema : "switchboard", NULL };

    int64_t deadline = sb_mono_ms () + wait_ms;
    int refusals = 0;
    bool waiting = false;
    while (true) {
        //  An attempt ends by the deadline (a server that accepts TCP but
        //  never answers, say stopped, must not hold us), or by libpq's
        //  connect_timeout, whichever comes first
        int64_t now = sb_mono_ms ();
        int64_t until = now + timeout_secs * 1000LL;
        int64_t latest = deadline > now + S_CONNECT_MIN_MS ? deadline : now + S_CONNECT_MIN_MS;
        if (until > latest)
            until = latest;
        bool late = false;
        self->conn = s_connect_until (keywords, values, until, &late);
        if (PQstatus (self->conn) == CONNECTION_OK)
            break;
        char why [256];
        s_first_line (late ? "no answer from the server in time" : PQerrorMessage (self->conn), why,
                      sizeof why);
        PQfinish (self->conn);
        self->conn = NULL;

        //  Is the server down, or up and refusing us? PQPING_OK means it
        //  accepts connections, so our failure is ours (password, database
        //  name); ask twice in case it came up between attempt and ping.
        //  (A server that did not answer in time would not answer a ping.)
        PGPing ping = late ? PQPING_NO_RESPONSE : PQpingParams (keywords, values, 1);
        if (ping == PQPING_OK)
            refusals++;
        now = sb_mono_ms ();
        if (ping == PQPING_NO_ATTEMPT || refusals >= 2 || now >= deadline) {
            s_set_failure (self, "08001", why);
            return sb_error ("cannot connect to database %s: %s", where, why);
        }
        if (ping != PQPING_OK) {
            if (!waiting)
                sb_info ("database %s not ready (%s), retrying for up to %d ms", where, why,
                         wait_ms);
            waiting = true;
            int64_t pause = 100 + (now % 101);
            s_sleep_ms (pause < deadline - now ? pause : deadline - now);
        }
    }
    PQsetNoticeReceiver (self->conn, s_notice, self);

    if (self->schema) {
        //  search_path is a list of identifiers, so the schema goes in
        //  quoted; the quoted text itself travels as a parameter
        char *quoted = PQescapeIdentifier (self->conn, self->schema, strlen (self->schema));
        if (!quoted) {
            s_set_failure (self, "08001", PQerrorMessage (self->conn));
            s_disconnect (self);
            return sb_error ("cannot quote schema name for %s: %s", where, self->message);
        }
        const char *params [] = { quoted };
        PGresult *result = s_exec_once (self, "SELECT set_config('search_path', $1, false)", 1,
                                        params, NULL, NULL);
        PQfreemem (quoted);
        if (!result) {
            s_disconnect (self);
            return sb_error ("cannot set search_path on %s [%s]: %s", where, self->sqlstate,
                             self->message);
        }
        PQclear (result);
    }
    self->sqlstate [0] = 0;
    self->message [0] = 0;
    sb_debug ("connected to database %s%s%s", where, self->schema ? " schema " : "",
              self->schema ? self->schema : "");
    return 0;
}


//  --------------------------------------------------------------------------
//  Run one parameterized statement (text parameters, text results; NULL
//  entries are SQL NULL). Returns the result, which the caller PQclear's,
//  or NULL with the error logged and its SQLSTATE in sb_db_sqlstate. A lost
//  connection is re-established and the statement retried once, unless a
//  transaction was open (see the file header).

PGresult *
sb_db_exec (sb_db_t *self, const char *sql, int nparams, const char *const *params)
{
    return s_exec (self, sql, nparams, params, NULL, NULL);
}

PGresult *
sb_db_exec_stmt (sb_db_t *self, const sb_db_stmt_t *stmt)
{
    return s_exec (self, stmt->sql, stmt->nparams, stmt->params, stmt->lengths, stmt->formats);
}

static PGresult *
s_exec (sb_db_t *self, const char *sql, int nparams, const char *const *params,
        const int *lengths, const int *formats)
{
    assert (self);
    assert (sql);
    assert (nparams == 0 || params);
    char excerpt [S_EXCERPT_CHARS + 4];
    s_excerpt (sql, excerpt, sizeof excerpt);

    //  A transaction is open if the caller began one with sb_db_begin, or
    //  (less tidily) sent BEGIN through us: either way, no retry.
    //  A transaction whose BEGIN still waits for this statement has done
    //  nothing yet: like no transaction, it may reconnect and retry.
    bool in_tx = self->in_tx && !self->tx_deferred;
    if (self->conn) {
        PGTransactionStatusType status = PQtransactionStatus (self->conn);
        if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR)
            in_tx = true;
    }
    if (in_tx && self->in_tx && (self->tx_lost || !s_connected (self))) {
        self->tx_lost = true;
        s_set_failure (self, "08006", "connection lost during the transaction");
        sb_error ("statement in a lost transaction not run: %s", excerpt);
        return NULL;
    }
    if (!s_connected (self) && s_reconnect (self)) {
        sb_error ("statement failed, database unreachable [%s]: %s", self->sqlstate, excerpt);
        return NULL;
    }
    PGresult *result = s_exec_once (self, sql, nparams, params, lengths, formats);
    if (result)
        return result;

    //  A server shutting down may say so before libpq sees the connection
    //  close: the same as a lost connection
    if (s_shutdown_state (self->sqlstate) && PQstatus (self->conn) != CONNECTION_BAD) {
        s_forget (self);
        s_set_failure (self, "08006", self->message);
    }
    if (!s_connected (self)) {
        if (in_tx) {
            //  The server rolled the transaction back when the connection
            //  went; the caller must start again after rolling back
            if (self->in_tx && !self->tx_deferred)
                self->tx_lost = true;
            sb_error ("connection lost inside a transaction [%s]: %s: %s", self->sqlstate,
                      self->message, excerpt);
            return NULL;
        }
        sb_warn ("connection lost (%s), reconnecting to retry: %s", self->message, excerpt);
        if (s_reconnect (self)) {
            sb_error ("statement failed, database unreachable [%s]: %s", self->sqlstate, excerpt);
            return NULL;
        }
        result = s_exec_once (self, sql, nparams, params, lengths, formats);
        if (result)
            return result;
    }
    sb_error ("statement failed [%s]: %s: %s", self->sqlstate, self->message, excerpt);
    return NULL;
}


//  --------------------------------------------------------------------------
//  Appends stmt to steps [n], after its organization when it has one
//  (between all_orgs on and off, for one across organizations). Returns
//  the new count; *at is the statement's own step.

static size_t
s_steps_add (s_step_t *steps, size_t n, const sb_db_stmt_t *stmt, size_t *at)
{
    if (stmt->all_orgs)
        steps [n++] = (s_step_t) { .sql = S_ALL_ORGS_ON };
    else
    if (stmt->org)
        steps [n++] = (s_step_t) { .sql = S_SET_ORG, .nparams = 1, .params = &stmt->org };
    *at = n;
    steps [n++] = (s_step_t) { .sql = stmt->sql, .nparams = stmt->nparams,
                               .params = stmt->params, .lengths = stmt->lengths,
                               .formats = stmt->formats };
    if (stmt->all_orgs)
        steps [n++] = (s_step_t) { .sql = S_ALL_ORGS_OFF };
    return n;
}


//  --------------------------------------------------------------------------
//  Runs independent statements in one round trip (see db.h).

int
sb_db_exec_many (sb_db_t *self, const sb_db_stmt_t *stmts, size_t count, PGresult **results)
{
    assert (self);
    assert (!self->in_tx);
    //  Per statement: the organization, the statement, and (alone) a Sync.
    //  First all in one implicit transaction with one Sync: a transaction
    //  per statement costs PostgreSQL more than the statement. A failure
    //  there spoils the statements after it, so then all again, alone.
    s_step_t *steps = (s_step_t *) sb_calloc (count * 4 + 1, sizeof (s_step_t));
    size_t *index = (size_t *) sb_calloc (count + 1, sizeof (size_t));
    int rc = -1;
    bool alone = count == 1;
    for (int attempt = 0; attempt < 2 && rc; attempt++) {
        if (!s_connected (self) && s_reconnect (self))
            break;
        size_t n = 0;
        for (size_t i = 0; i < count; i++) {
            n = s_steps_add (steps, n, &stmts [i], &index [i]);
            if (alone)
                steps [n++] = (s_step_t) { .sql = NULL };
        }
        rc = s_pipeline (self, steps, n);
        if (rc && s_connected (self))
            rc = 0;                 //  statements failed, the connection did not
        bool failed = false;
        for (size_t i = 0; i < n; i++)
            failed |= steps [i].failed && steps [i].sql;
        if (rc == 0 && failed && !alone) {
            for (size_t i = 0; i < n; i++)
                PQclear (steps [i].result);
            alone = true;
            attempt--;
            rc = -1;
            continue;
        }
        for (size_t k = 0; k < count && rc == 0; k++) {
            s_step_t *step = &steps [index [k]];
            results [k] = step->failed ? NULL : step->result;
            if (!step->failed)
                step->result = NULL;
        }
        for (size_t i = 0; i < n; i++) {
            if (steps [i].failed && steps [i].sql && rc == 0) {
                s_record_failure (self, steps [i].result);
                char excerpt [S_EXCERPT_CHARS + 4];
                s_excerpt (steps [i].sql, excerpt, sizeof excerpt);
                sb_error ("statement failed [%s]: %s: %s", self->sqlstate, self->message,
                          excerpt);
            }
            PQclear (steps [i].result);
        }
        if (rc)
            sb_warn ("connection lost during a batch of %zu statements%s", count,
                     attempt ? "" : ", reconnecting to retry");
    }
    if (rc) {
        strcpy (self->sqlstate, "08006");
        for (size_t i = 0; i < count; i++)
            results [i] = NULL;
    }
    free (steps);
    free (index);
    return rc;
}


//  --------------------------------------------------------------------------
//  Runs statements as one transaction in one round trip (see db.h).

int
sb_db_exec_group (sb_db_t *self, const sb_db_stmt_t *stmts, size_t count, PGresult **results)
{
    assert (self);
    assert (!self->in_tx);
    for (size_t i = 0; i < count; i++)
        results [i] = NULL;
    if (!s_connected (self) && s_reconnect (self))
        return -1;
    //  BEGIN, per statement its organization and itself, the transaction's
    //  id and COMMIT; every answer kept, should the connection be lost
    //  before COMMIT's (s_resolve_commit)
    s_step_t *steps = (s_step_t *) sb_calloc (count * 3 + 3, sizeof (s_step_t));
    size_t *index = (size_t *) sb_calloc (count + 1, sizeof (size_t));
    size_t n = 0;
    steps [n++] = (s_step_t) { .sql = "BEGIN" };
    for (size_t i = 0; i < count; i++)
        n = s_steps_add (steps, n, &stmts [i], &index [i]);
    steps [n++] = (s_step_t) { .sql = S_XACT_ID };
    steps [n++] = (s_step_t) { .sql = "COMMIT" };
    for (size_t i = 0; i < n; i++)
        steps [i].keep = true;
    bool lost = s_pipeline (self, steps, n) && !s_connected (self);
    const s_step_t *failed = NULL;
    for (size_t i = 0; i < n && !failed; i++)
        if (steps [i].failed)
            failed = &steps [i];
    //  A failed statement turns COMMIT into a rollback: it answers
    //  ROLLBACK, not COMMIT
    if (!failed && strcmp (PQcmdStatus (steps [n - 1].result), "COMMIT") != 0)
        failed = &steps [n - 1];
    if (failed && lost && s_resolve_commit (self, steps, n) == 1)
        failed = NULL;              //  committed: every statement had answered
    if (failed) {
        if (!lost)
            s_record_failure (self, failed->result);
        char excerpt [S_EXCERPT_CHARS + 4];
        s_excerpt (failed->sql, excerpt, sizeof excerpt);
        sb_warn ("group of %zu changes not committed [%s]: %s: %s", count, self->sqlstate,
                 self->message, excerpt);
        if (s_connected (self) && PQtransactionStatus (self->conn) != PQTRANS_IDLE) {
            PGresult *result = PQexec (self->conn, "ROLLBACK");
            PQclear (result);
        }
    }
    for (size_t k = 0; k < count && !failed; k++) {
        results [k] = steps [index [k]].result;
        steps [index [k]].result = NULL;
    }
    for (size_t i = 0; i < n; i++)
        PQclear (steps [i].result);
    free (steps);
    free (index);
    if (!failed) {
        self->sqlstate [0] = 0;
        self->message [0] = 0;
    }
    return failed ? -1 : 0;
}


//  --------------------------------------------------------------------------
//  Like sb_db_exec for statements whose rows are not needed: 0 or -1.

int
sb_db_run (sb_db_t *self, const char *sql, int nparams, const char *const *params)
{
    PGresult *result = sb_db_exec (self, sql, nparams, params);
    if (!result)
        return -1;
    PQclear (result);
    return 0;
}


//  --------------------------------------------------------------------------
//  SQLSTATE of the last failure, "" after a success. Borrowed.

const char *
sb_db_sqlstate (sb_db_t *self)
{
    assert (self);
    return self->sqlstate;
}


//  --------------------------------------------------------------------------
//  True when the last failure means the database is unreachable for now
//  rather than that the work is wrong (see db.h).

bool
sb_db_unavailable (sb_db_t *self)
{
    assert (self);
    const char *state = self->sqlstate;
    if (!*state)
        return false;
    return strncmp (state, "08", 2) == 0 || strncmp (state, "53", 2) == 0
           || s_shutdown_state (state) || !s_connected (self);
}


//  --------------------------------------------------------------------------
//  The time after which reconnecting must not wait: the request's deadline
//  in unix milliseconds, 0 for none (see db.h).

void
sb_db_set_deadline (sb_db_t *self, int64_t deadline)
{
    assert (self);
    self->deadline = deadline;
}


//  --------------------------------------------------------------------------
//  Begin a transaction: 0 or -1. Nested transactions are refused. BEGIN is
//  not sent yet: it goes with the first statement, in the same round trip
//  (with the organization, when sb_db_set_org comes before that).

int
sb_db_begin (sb_db_t *self)
{
    assert (self);
    if (self->in_tx)
        return sb_error ("cannot begin: a transaction is already open");
    self->in_tx = true;
    self->tx_lost = false;
    self->tx_deferred = true;
    self->has_org = false;
    return 0;
}


//  --------------------------------------------------------------------------
//  Commit the open transaction: 0, or -1 when it did not commit (failed
//  earlier, lost with its connection, or refused at commit time). Either
//  way the transaction is over. A connection lost during COMMIT itself
//  leaves the outcome unknown: SQLSTATE 08007.

int
sb_db_commit (sb_db_t *self)
{
    assert (self);
    if (!self->in_tx)
        return sb_error ("cannot commit: no transaction is open");
    if (self->tx_deferred) {
        //  No statement ran: there is nothing to commit
        self->in_tx = self->tx_deferred = false;
        return 0;
    }
    if (self->tx_lost || !s_connected (self)) {
        s_disconnect (self);
        s_set_failure (self, "08006", "connection lost during the transaction");
        return sb_error ("cannot commit: the transaction was lost with its connection");
    }
    if (PQtransactionStatus (self->conn) == PQTRANS_INERROR) {
        //  COMMIT would "succeed" as a ROLLBACK: say so instead
        sb_db_rollback (self);
        s_set_failure (self, "25P02", "transaction had failed");
        return sb_error ("cannot commit: a statement in the transaction failed, rolled back");
    }
    s_step_t steps [2] = { { .sql = S_XACT_ID, .keep = true }, { .sql = "COMMIT", .keep = true } };
    int rc = 0;
    if (s_pipeline (self, steps, 2) && !s_connected (self)) {
        if (s_resolve_commit (self, steps, 2) != 1)
            rc = sb_error ("cannot commit [%s]: %s", self->sqlstate, self->message);
    }
    else
    if (steps [0].failed || steps [1].failed) {
        s_record_failure (self, steps [0].failed ? steps [0].result : steps [1].result);
        rc = sb_error ("cannot commit [%s]: %s", self->sqlstate, self->message);
    }
    else
    if (strcmp (PQcmdStatus (steps [1].result), "COMMIT") != 0) {
        s_set_failure (self, "40000", "transaction rolled back at commit");
        rc = sb_error ("cannot commit: the server rolled the transaction back");
    }
    PQclear (steps [0].result);
    PQclear (steps [1].result);
    if (rc && s_connected (self) && PQtransactionStatus (self->conn) != PQTRANS_IDLE) {
        PGresult *result = PQexec (self->conn, "ROLLBACK");
        PQclear (result);
    }
    if (rc == 0) {
        self->sqlstate [0] = 0;
        self->message [0] = 0;
    }
    self->in_tx = false;
    self->tx_lost = false;
    return rc;
}


//  --------------------------------------------------------------------------
//  Roll back the open transaction, if any. Never fails from the caller's
//  point of view and leaves sb_db_sqlstate as it was, so the caller can
//  still read why the transaction failed.

void
sb_db_rollback (sb_db_t *self)
{
    assert (self);
    if (!self->in_tx)
        return;
    if (self->tx_deferred) {
        self->in_tx = self->tx_deferred = false;
        return;
    }
    if (!self->tx_lost && s_connected (self)
    &&  PQtransactionStatus (self->conn) != PQTRANS_IDLE) {
        PGresult *result = PQexec (self->conn, "ROLLBACK");
        if (PQresultStatus (result) != PGRES_COMMAND_OK) {
            char why [256];
            s_first_line (PQerrorMessage (self->conn), why, sizeof why);
            sb_debug ("rollback failed (the transaction is gone either way): %s", why);
        }
        PQclear (result);
    }
    self->in_tx = false;
    self->tx_lost = false;
}


//  --------------------------------------------------------------------------
//  True between a successful begin and the commit or rollback.

bool
sb_db_in_transaction (sb_db_t *self)
{
    assert (self);
    return self->in_tx;
}


//  --------------------------------------------------------------------------
//  Set the organization for row-level security for the open transaction.
//  NULL sets "", which matches no organization. Returns 0 or -1. Right
//  after sb_db_begin it costs no round trip of its own.

int
sb_db_all_orgs (sb_db_t *self)
{
    return sb_db_run (self, "SELECT set_config ('switchboard.all_orgs', 'on', true)", 0, NULL);
}

int
sb_db_set_org (sb_db_t *self, const char *org)
{
    assert (self);
    if (!self->in_tx)
        return sb_error ("cannot set the organization outside a transaction");
    if (self->tx_deferred) {
        snprintf (self->org, sizeof self->org, "%s", org ? org : "");
        self->has_org = true;
        return 0;
    }
    const char *params [] = { org ? org : "" };
    return sb_db_run (self, S_SET_ORG, 1, params);
}


//  --------------------------------------------------------------------------
//  Read without a transaction until sb_db_read_end: each statement runs on
//  its own (an implicit transaction) with the organization set in the same
//  round trip, when org is not NULL. For operations that read with one
//  statement, where BEGIN and COMMIT would only add round trips.

void
sb_db_read (sb_db_t *self, const char *org)
{
    assert (self);
    assert (!self->in_tx);
    self->reading = true;
    self->has_org = org != NULL;
    snprintf (self->org, sizeof self->org, "%s", org ? org : "");
}

void
sb_db_read_end (sb_db_t *self)
{
    assert (self);
    self->reading = false;
    self->has_org = false;
}


//  --------------------------------------------------------------------------
//  The underlying connection (borrowed; NULL before the first connect; it
//  changes after a reconnect). A deferred BEGIN is sent first, so that
//  what the caller runs on it is inside the transaction.

PGconn *
sb_db_conn (sb_db_t *self)
{
    assert (self);
    if (self->in_tx && self->tx_deferred) {
        PGresult *result = sb_db_exec (self, "SELECT 1", 0, NULL);
        PQclear (result);
    }
    return self->conn;
}

//  --------------------------------------------------------------------------
//  Rows to msgpack

#define S_OID_BOOL  16
#define S_OID_INT8  20
#define S_OID_INT2  21
#define S_OID_INT4  23
#define S_OID_JSON  114
#define S_OID_JSONB 3802

void
sb_db_pack_row (msgpack_packer *pk, const PGresult *result, int row)
{
    int columns = PQnfields (result);
    size_t shown = 0;
    for (int c = 0; c < columns; c++)
        if (PQfname (result, c) [0] != '_')
            shown++;
    msgpack_pack_map (pk, shown);
    for (int c = 0; c < columns; c++) {
        const char *name = PQfname (result, c);
        if (name [0] == '_')
            continue;
        sb_mpk_pack_str (pk, name);
        if (PQgetisnull (result, row, c)) {
            msgpack_pack_nil (pk);
            continue;
        }
        const char *value = PQgetvalue (result, row, c);
        Oid type = PQftype (result, c);
        if (type == S_OID_BOOL) {
            if (value [0] == 't')
                msgpack_pack_true (pk);
            else
                msgpack_pack_false (pk);
        }
        else
        if (type == S_OID_INT2 || type == S_OID_INT4 || type == S_OID_INT8)
            msgpack_pack_int64 (pk, strtoll (value, NULL, 10));
        else
        if (type == S_OID_JSON || type == S_OID_JSONB) {
            //  The server made it: it parses; if it ever did not, say nil.
            json_t *json = json_loadb (value, (size_t) PQgetlength (result, row, c),
                                       JSON_DECODE_ANY, NULL);
            if (json)
                sb_json_pack (pk, json);
            else
                msgpack_pack_nil (pk);
            json_decref (json);
        }
        else
            sb_mpk_pack_strn (pk, value, (size_t) PQgetlength (result, row, c));
    }
}

int
sb_db_pack_query_row (sb_db_t *self, msgpack_packer *pk, const char *sql, int nparams,
                      const char *const *params)
{
    PGresult *result = sb_db_exec (self, sql, nparams, params);
    if (!result)
        return -1;
    if (PQntuples (result) > 0)
        sb_db_pack_row (pk, result, 0);
    else
        msgpack_pack_nil (pk);
    PQclear (result);
    return 0;
}

void
sb_db_pack_rows (msgpack_packer *pk, const PGresult *result)
{
    int rows = PQntuples (result);
    msgpack_pack_array (pk, (size_t) rows);
    for (int r = 0; r < rows; r++)
        sb_db_pack_row (pk, result, r);
}


//  --------------------------------------------------------------------------
//  Array parameters in PostgreSQL's binary format (see db.h): a 20-byte
//  head (ndim 1, has-null flag, element type, length, lower bound 1, each
//  a big-endian int32), written last in the room left for it, then each
//  element as a big-endian int32 length (-1: NULL) and its bytes.

#define S_ARRAY_HEAD 20

static void
s_array_put (sb_db_array_t *self, const void *bytes, size_t size)
{
    if (self->size + size > self->capacity) {
        size_t capacity = self->capacity ? self->capacity * 2 : 256;
        while (capacity < self->size + size)
            capacity *= 2;
        self->data = (char *) sb_realloc (self->data, capacity);
        self->capacity = capacity;
    }
    memcpy (self->data + self->size, bytes, size);
    self->size += size;
}

static void
s_array_put_int32 (sb_db_array_t *self, int32_t value)
{
    uint32_t net = htonl ((uint32_t) value);
    s_array_put (self, &net, 4);
}

void
sb_db_array_init (sb_db_array_t *self, uint32_t type)
{
    memset (self, 0, sizeof (*self));
    self->type = type;
    char head [S_ARRAY_HEAD] = { 0 };
    s_array_put (self, head, sizeof head);
}

void
sb_db_array_release (sb_db_array_t *self)
{
    free (self->data);
    memset (self, 0, sizeof (*self));
}

void
sb_db_array_add (sb_db_array_t *self, const void *bytes, size_t size)
{
    assert (size <= INT32_MAX);
    self->count++;
    if (!bytes) {
        self->nulls = true;
        s_array_put_int32 (self, -1);
        return;
    }
    s_array_put_int32 (self, (int32_t) size);
    s_array_put (self, bytes, size);
}

void
sb_db_array_add_text (sb_db_array_t *self, const char *text)
{
    sb_db_array_add (self, text, text ? strlen (text) : 0);
}

void
sb_db_array_add_int8 (sb_db_array_t *self, int64_t value)
{
    uint64_t bits = (uint64_t) value;
    unsigned char net [8];
    for (int i = 7; i >= 0; i--, bits >>= 8)
        net [i] = (unsigned char) (bits & 0xff);
    sb_db_array_add (self, net, 8);
}

int
sb_db_array_add_uuid (sb_db_array_t *self, const char *text)
{
    if (!text) {
        sb_db_array_add (self, NULL, 0);
        return 0;
    }
    if (!sb_is_uuid (text))
        return -1;
    unsigned char bytes [16];
    size_t n = 0;
    for (const char *c = text; *c && n < 32; c++) {
        if (*c == '-')
            continue;
        int digit = isdigit ((unsigned char) *c) ? *c - '0' : tolower ((unsigned char) *c) - 'a' + 10;
        if (n % 2 == 0)
            bytes [n / 2] = (unsigned char) (digit << 4);
        else
            bytes [n / 2] |= (unsigned char) digit;
        n++;
    }
    sb_db_array_add (self, bytes, sizeof bytes);
    return 0;
}

void
sb_db_array_add_timestamptz (sb_db_array_t *self, int64_t usec)
{
    //  PostgreSQL counts microseconds from 2000-01-01 UTC
    sb_db_array_add_int8 (self, usec - INT64_C (946684800000000));
}

void
sb_db_array_add_jsonb (sb_db_array_t *self, const char *json)
{
    if (!json) {
        sb_db_array_add (self, NULL, 0);
        return;
    }
    //  Version 1: the JSON text follows
    size_t size = strlen (json);
    self->count++;
    s_array_put_int32 (self, (int32_t) size + 1);
    s_array_put (self, "\1", 1);
    s_array_put (self, json, size);
}

const char *
sb_db_array_finish (sb_db_array_t *self, int *length)
{
    //  An empty array is written with no dimension: 12 bytes of head
    //  from byte 8, so that the same buffer serves
    char *head = self->data + (self->count ? 0 : 8);
    int32_t values [5] = { 1, self->nulls, (int32_t) self->type, (int32_t) self->count, 1 };
    if (!self->count)
        values [0] = 0;
    for (int i = 0; i < (self->count ? 5 : 3); i++) {
        uint32_t net = htonl ((uint32_t) values [i]);
        memcpy (head + 4 * i, &net, 4);
    }
    *length = (int) (self->size - (size_t) (head - self->data));
    return head;
}

static uint32_t
s_int32_at (const char *at)
{
    uint32_t net;
    memcpy (&net, at, 4);
    return ntohl (net);
}

size_t
sb_db_array_join (const char *const *arrays, const int *lengths, size_t count, char *out)
{
    uint32_t type = 0, nulls = 0, elements = 0;
    size_t size = S_ARRAY_HEAD;
    for (size_t i = 0; i < count; i++) {
        const char *array = arrays [i];
        assert (lengths [i] >= 12);
        if (type == 0 || s_int32_at (array) == 1)
            type = s_int32_at (array + 8);
        if (s_int32_at (array) == 0)
            continue;
        assert (s_int32_at (array) == 1 && lengths [i] >= S_ARRAY_HEAD);
        nulls |= s_int32_at (array + 4);
        elements += s_int32_at (array + 12);
        memcpy (out + size, array + S_ARRAY_HEAD, (size_t) lengths [i] - S_ARRAY_HEAD);
        size += (size_t) lengths [i] - S_ARRAY_HEAD;
    }
    uint32_t values [5] = { 1, nulls, type, elements, 1 };
    if (elements == 0) {
        //  No element anywhere: an empty array's 12 bytes
        values [0] = 0;
        for (int i = 0; i < 3; i++) {
            uint32_t net = htonl (values [i]);
            memcpy (out + 4 * i, &net, 4);
        }
        return 12;
    }
    for (int i = 0; i < 5; i++) {
        uint32_t net = htonl (values [i]);
        memcpy (out + 4 * i, &net, 4);
    }
    return size;
}


//  --------------------------------------------------------------------------
//  Selftest: the binary arrays, byte for byte (no server needed).

#include "sb/test.h"

void
sb_db_test (bool verbose)
{
    (void) verbose;
    sb_db_array_t ints;
    sb_db_array_init (&ints, SB_DB_OID_INT8);
    sb_db_array_add_int8 (&ints, 1);
    sb_db_array_add (&ints, NULL, 0);
    sb_db_array_add_int8 (&ints, -2);
    int length;
    const char *bytes = sb_db_array_finish (&ints, &length);
    static const unsigned char want [] = {
        0, 0, 0, 1,  0, 0, 0, 1,  0, 0, 0, 20,  0, 0, 0, 3,  0, 0, 0, 1,
        0, 0, 0, 8,  0, 0, 0, 0, 0, 0, 0, 1,
        0xff, 0xff, 0xff, 0xff,
        0, 0, 0, 8,  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe
    };
    SB_CHECK (length == (int) sizeof want && memcmp (bytes, want, sizeof want) == 0);

    //  UUIDs: 16 bytes, either case; anything else refused
    sb_db_array_t uuids;
    sb_db_array_init (&uuids, SB_DB_OID_UUID);
    SB_CHECK (sb_db_array_add_uuid (&uuids, "00112233-4455-6677-8899-AABBCCDDEEFF") == 0);
    SB_CHECK (sb_db_array_add_uuid (&uuids, "not-a-uuid") == -1);
    SB_CHECK (uuids.count == 1);
    bytes = sb_db_array_finish (&uuids, &length);
    SB_CHECK (length == 20 + 4 + 16);
    SB_CHECK ((unsigned char) bytes [24] == 0x00 && (unsigned char) bytes [25] == 0x11
              && (unsigned char) bytes [39] == 0xff);

    //  An empty array: no dimension, 12 bytes
    sb_db_array_t empty;
    sb_db_array_init (&empty, SB_DB_OID_INT8);
    const char *none = sb_db_array_finish (&empty, &length);
    SB_CHECK (length == 12 && none [3] == 0 && none [11] == 20);

    //  Joined: [1, NULL, -2] + [] + [1, NULL, -2] is one array of 6
    bytes = sb_db_array_finish (&ints, &length);
    int none_length;
    none = sb_db_array_finish (&empty, &none_length);
    const char *arrays [] = { none, bytes, none, bytes };
    int lengths [] = { none_length, length, none_length, length };
    char *out = (char *) sb_malloc ((size_t) (2 * length + 2 * none_length + 20));
    size_t joined = sb_db_array_join (arrays, lengths, 4, out);
    SB_CHECK (joined == (size_t) (20 + 2 * (length - 20)));
    SB_CHECK (memcmp (out, want, 12) == 0);            //  ndim 1, nulls, int8
    SB_CHECK (out [15] == 6 && out [19] == 1);
    SB_CHECK (memcmp (out + 20, want + 20, (size_t) length - 20) == 0
              && memcmp (out + length, want + 20, (size_t) length - 20) == 0);
    //  Only empty ones: empty
    SB_CHECK (sb_db_array_join (arrays, lengths, 1, out) == 12 && out [3] == 0);
    free (out);

    //  jsonb: version 1, then the text; text: its bytes
    sb_db_array_t docs;
    sb_db_array_init (&docs, SB_DB_OID_JSONB);
    sb_db_array_add_jsonb (&docs, "{}");
    sb_db_array_add_jsonb (&docs, NULL);
    bytes = sb_db_array_finish (&docs, &length);
    SB_CHECK (length == 20 + 4 + 3 + 4 && bytes [23] == 3 && bytes [24] == 1
              && memcmp (bytes + 25, "{}", 2) == 0 && bytes [4 + 3] == 1);
    sb_db_array_release (&docs);
    sb_db_array_release (&empty);
    sb_db_array_release (&uuids);
    sb_db_array_release (&ints);
}
