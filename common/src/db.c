/*  db.c — PostgreSQL access on libpq.

    An sb_db_t wraps one PGconn plus what we need to survive a database
    restart: the connection string, the schema for search_path, whether the
    caller has a transaction open, and the SQLSTATE of the last failure.

    Every statement goes through PQexecParams with text parameters, so SQL
    text never carries a value. When a statement fails because the
    connection died and no transaction was open, we reconnect and run it
    once more: the caller sees nothing but a slower statement. Inside a
    transaction a retry would silently run the rest of the work outside it,
    so the transaction is marked lost instead: every statement fails until
    the caller rolls back (or commits, which fails), and the first statement
    after that reconnects.

    Logging rules: the connection string is only ever logged as
    user@host:port/dbname, rebuilt from its parsed parts, so a password
    never reaches the log; statements are logged as their first 60
    characters (values travel as parameters, never in the SQL text); server
    messages for data exceptions (class 22), which quote the offending
    input, are cut before the quote. Server notices and warnings go to our
    log instead of libpq's default of printing them on stderr.
*/
#include <assert.h>
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
//  back before giving up on its retry.
#define S_RECONNECT_MS 2000

//  Statements are logged truncated to this many characters.
#define S_EXCERPT_CHARS 60

struct _sb_db_t {
    char *url;                      //  conninfo or postgres:// URL (secret)
    char *schema;                   //  search_path schema, or NULL
    PGconn *conn;                   //  NULL until the first connect
    bool in_tx;                     //  the caller's transaction is open
    bool tx_lost;                   //  ... and its connection died
    char sqlstate [6];              //  of the last failure, "" after success
    char message [256];             //  server's reason for the last failure
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
        message = PQerrorMessage (self->conn);
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
//  Closes the connection, if any; an open transaction dies with it.

static void
s_disconnect (sb_db_t *self)
{
    if (self->conn) {
        PQfinish (self->conn);
        self->conn = NULL;
    }
    self->in_tx = false;
    self->tx_lost = false;
}


//  --------------------------------------------------------------------------
//  Runs the statement once on the current connection. Returns the result
//  on success, else NULL with the failure recorded.

static PGresult *
s_exec_once (sb_db_t *self, const char *sql, int nparams, const char *const *params)
{
    PGresult *result = PQexecParams (self->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType status = PQresultStatus (result);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
        self->sqlstate [0] = 0;
        self->message [0] = 0;
        return result;
    }
    s_record_failure (self, result);
    PQclear (result);
    return NULL;
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
    //  connect_timeout comes before dbname so that a URL may override it;
    //  fallback_application_name yields to an application_name in the URL.
    char timeout [16];
    int timeout_secs = (wait_ms + 999) / 1000;
    snprintf (timeout, sizeof timeout, "%d",
              timeout_secs < 2 ? 2 : timeout_secs > 10 ? 10 : timeout_secs);
    const char *keywords [] = { "connect_timeout", "dbname", "fallback_application_name", NULL };
    const char *values [] = { timeout, self->url, self->schema ? self->schema : "switchboard",
                              NULL };

    int64_t deadline = sb_mono_ms () + wait_ms;
    int refusals = 0;
    bool waiting = false;
    while (true) {
        self->conn = PQconnectdbParams (keywords, values, 1);
        if (PQstatus (self->conn) == CONNECTION_OK)
            break;
        char why [256];
        s_first_line (PQerrorMessage (self->conn), why, sizeof why);
        PQfinish (self->conn);
        self->conn = NULL;

        //  Is the server down, or up and refusing us? PQPING_OK means it
        //  accepts connections, so our failure is ours (password, database
        //  name); ask twice in case it came up between attempt and ping.
        PGPing ping = PQpingParams (keywords, values, 1);
        if (ping == PQPING_OK)
            refusals++;
        int64_t now = sb_mono_ms ();
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
                                        params);
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
    assert (self);
    assert (sql);
    assert (nparams == 0 || params);
    char excerpt [S_EXCERPT_CHARS + 4];
    s_excerpt (sql, excerpt, sizeof excerpt);

    //  A transaction is open if the caller began one with sb_db_begin, or
    //  (less tidily) sent BEGIN through us: either way, no retry.
    bool in_tx = self->in_tx;
    if (self->conn) {
        PGTransactionStatusType status = PQtransactionStatus (self->conn);
        if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR)
            in_tx = true;
    }
    if (self->in_tx && (self->tx_lost || !s_connected (self))) {
        self->tx_lost = true;
        s_set_failure (self, "08006", "connection lost during the transaction");
        sb_error ("statement in a lost transaction not run: %s", excerpt);
        return NULL;
    }
    if (!s_connected (self) && sb_db_connect (self, S_RECONNECT_MS)) {
        strcpy (self->sqlstate, "08006");
        return NULL;
    }
    PGresult *result = s_exec_once (self, sql, nparams, params);
    if (result)
        return result;

    if (PQstatus (self->conn) == CONNECTION_BAD) {
        if (in_tx) {
            //  The server rolled the transaction back when the connection
            //  went; the caller must start again after rolling back
            if (self->in_tx)
                self->tx_lost = true;
            sb_error ("connection lost inside a transaction [%s]: %s: %s", self->sqlstate,
                      self->message, excerpt);
            return NULL;
        }
        sb_warn ("connection lost (%s), reconnecting to retry: %s", self->message, excerpt);
        if (sb_db_connect (self, S_RECONNECT_MS)) {
            strcpy (self->sqlstate, "08006");
            sb_error ("statement failed, database unreachable: %s", excerpt);
            return NULL;
        }
        result = s_exec_once (self, sql, nparams, params);
        if (result)
            return result;
    }
    sb_error ("statement failed [%s]: %s: %s", self->sqlstate, self->message, excerpt);
    return NULL;
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
//  Begin a transaction: 0 or -1. Nested transactions are refused.

int
sb_db_begin (sb_db_t *self)
{
    assert (self);
    if (self->in_tx)
        return sb_error ("cannot begin: a transaction is already open");
    //  BEGIN is safe to retry, so it may reconnect after an earlier loss
    if (sb_db_run (self, "BEGIN", 0, NULL))
        return -1;
    self->in_tx = true;
    self->tx_lost = false;
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
    PGresult *result = sb_db_exec (self, "COMMIT", 0, NULL);
    int rc = 0;
    if (!result) {
        if (!s_connected (self)) {
            s_set_failure (self, "08007", "connection lost during COMMIT");
            sb_error ("connection lost during COMMIT: outcome unknown");
        }
        rc = -1;
    }
    else if (strcmp (PQcmdStatus (result), "COMMIT") != 0) {
        s_set_failure (self, "40000", "transaction rolled back at commit");
        rc = sb_error ("cannot commit: the server rolled the transaction back");
    }
    PQclear (result);
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
//  NULL sets "", which matches no organization. Returns 0 or -1.

int
sb_db_set_org (sb_db_t *self, const char *org)
{
    assert (self);
    if (!self->in_tx)
        return sb_error ("cannot set the organization outside a transaction");
    const char *params [] = { org ? org : "" };
    return sb_db_run (self, "SELECT set_config('switchboard.org', $1, true)", 1, params);
}


//  --------------------------------------------------------------------------
//  The underlying connection (borrowed; NULL before the first connect; it
//  changes after a reconnect).

PGconn *
sb_db_conn (sb_db_t *self)
{
    assert (self);
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
