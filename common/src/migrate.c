/*  migrate.c — versioned per-service schema migrations.

    A service's migrations are compiled into its binary (tools/sb-embed-sql.c
    turns <name>-svc/sql/NNNN_description.sql into an sb_migration_t array
    sorted by version). sb_migrate brings the schema up to date:

    1.  take a session advisory lock named 'switchboard.migrate.<schema>', so
        that of N workers starting together one migrates and the others wait,
        then find nothing left to do;
    2.  create the schema if it is missing and the role may (normally
        deploy/sql/provision.sql has created it, owned by the service role);
        this is done under the lock because two concurrent CREATE SCHEMA IF
        NOT EXISTS can still collide on pg_namespace's unique index;
    3.  create <schema>.schema_migrations if missing and read the versions
        already applied;
    4.  apply each missing migration in its own transaction together with
        its row in schema_migrations, logging "applied migration <name>";
    5.  release the lock.

    The lock belongs to the database session. sb_db_exec reconnects silently
    outside transactions, and a new session does not hold the lock, so every
    migration's transaction first checks that it still runs in the session
    that took the lock, and stops if not.

    Identifiers cannot be parameters, so the schema name is spliced into DDL
    here and only here, always after PQescapeIdentifier has quoted it.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sb/migrate.h"
#include "sb/log.h"
#include "sb/util.h"

#define S_LOCK_SQL                                                                           \
    "SELECT pg_advisory_lock(hashtext('switchboard.migrate.' || $1)), pg_backend_pid()::text"
#define S_UNLOCK_SQL "SELECT pg_advisory_unlock(hashtext('switchboard.migrate.' || $1))"

static int s_migrate_all (sb_db_t *db, const char *schema, const sb_migration_t *migrations,
                          size_t count);


//  --------------------------------------------------------------------------
//  Returns a fresh string prefix + middle + suffix. Caller frees.

static char *
s_concat (const char *prefix, const char *middle, const char *suffix)
{
    size_t size = strlen (prefix) + strlen (middle) + strlen (suffix) + 1;
    char *text = sb_malloc (size);
    snprintf (text, size, "%s%s%s", prefix, middle, suffix);
    return text;
}


//  --------------------------------------------------------------------------
//  Runs prefix + quoted identifier + suffix (DDL, or a query naming our
//  table): only identifiers quoted by PQescapeIdentifier are spliced in.
//  Returns the result or NULL, like sb_db_exec.

static PGresult *
s_exec_with_ident (sb_db_t *db, const char *prefix, const char *ident, const char *suffix,
                   int nparams, const char *const *params)
{
    char *sql = s_concat (prefix, ident, suffix);
    PGresult *result = sb_db_exec (db, sql, nparams, params);
    free (sql);
    return result;
}


//  --------------------------------------------------------------------------
//  True when version is in the sorted array.

static bool
s_contains (const int *versions, size_t count, int version)
{
    size_t low = 0, high = count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (versions [middle] == version)
            return true;
        if (versions [middle] < version)
            low = middle + 1;
        else
            high = middle;
    }
    return false;
}


//  --------------------------------------------------------------------------
//  Applies one migration in its own transaction. backend_pid is the session
//  holding the lock. Returns 0 or -1 (logged, rolled back).

static int
s_apply (sb_db_t *db, const char *ident, const char *backend_pid, const sb_migration_t *migration)
{
    if (sb_db_begin (db))
        return sb_error ("migration %s not applied: cannot begin", migration->name);

    PGresult *result = sb_db_exec (db, "SELECT pg_backend_pid()::text", 0, NULL);
    bool same_session = result && strcmp (PQgetvalue (result, 0, 0), backend_pid) == 0;
    PQclear (result);
    if (!same_session) {
        sb_db_rollback (db);
        return sb_error ("migration %s not applied: the connection was reset and the "
                         "migration lock lost",
                         migration->name);
    }

    //  The migration text is our own file, embedded at build time: it holds
    //  no client value, and it may hold several statements, which only
    //  PQexec (the simple query protocol) accepts.
    PGconn *conn = sb_db_conn (db);
    result = PQexec (conn, migration->sql);
    ExecStatusType status = PQresultStatus (result);
    bool ok = status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK
           || status == PGRES_EMPTY_QUERY;
    if (!ok) {
        const char *sqlstate = PQresultErrorField (result, PG_DIAG_SQLSTATE);
        const char *message = PQresultErrorField (result, PG_DIAG_MESSAGE_PRIMARY);
        if (!message)
            message = PQerrorMessage (conn);
        char why [256];
        size_t len = strcspn (message, "\r\n");
        snprintf (why, sizeof why, "%.*s", (int) (len < sizeof why ? len : sizeof why - 1),
                  message);
        sb_error ("migration %s failed [%s]: %s", migration->name,
                  sqlstate ? sqlstate : "08006", why);
    }
    PQclear (result);
    if (ok && PQtransactionStatus (conn) != PQTRANS_INTRANS) {
        //  A COMMIT or ROLLBACK inside the file ended our transaction: its
        //  work may be committed without its version row. Say so loudly.
        sb_error ("migration %s ended its transaction itself (COMMIT or ROLLBACK in the "
                  "file?): the schema may be half-migrated",
                  migration->name);
        ok = false;
    }
    if (!ok) {
        sb_db_rollback (db);
        return -1;
    }

    char version [16];
    snprintf (version, sizeof version, "%d", migration->version);
    const char *params [] = { version, migration->name };
    result = s_exec_with_ident (db, "INSERT INTO ", ident,
                                ".schema_migrations (version, name) VALUES ($1, $2)", 2, params);
    if (!result) {
        sb_db_rollback (db);
        return sb_error ("migration %s not applied: cannot record it", migration->name);
    }
    PQclear (result);
    if (sb_db_commit (db))
        return sb_error ("migration %s not applied: commit failed", migration->name);
    sb_info ("applied migration %s", migration->name);
    return 0;
}


static int s_migrate_as_owner (sb_db_t *db, const char *schema, const char *ident,
                               const char *backend_pid, const sb_migration_t *migrations,
                               size_t count);

//  --------------------------------------------------------------------------
//  Steps 2 to 4 of the file header, with the lock held. Returns the number
//  of migrations applied or -1.

static int
s_migrate_locked (sb_db_t *db, const char *schema, const char *ident, const char *backend_pid,
                  const sb_migration_t *migrations, size_t count)
{
    const char *params [] = { schema };
    PGresult *result = sb_db_exec (db, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1, params);
    if (!result)
        return sb_error ("cannot check whether schema %s exists", schema);
    bool exists = PQntuples (result) > 0;
    PQclear (result);
    if (!exists) {
        sb_info ("schema %s does not exist, creating it", schema);
        //  DDL takes no parameters: ident was quoted by PQescapeIdentifier
        result = s_exec_with_ident (db, "CREATE SCHEMA IF NOT EXISTS ", ident, "", 0, NULL);
        if (!result)
            return sb_error ("schema %s does not exist and cannot be created", schema);
        PQclear (result);
    }

    //  When the schema belongs to an owner role the service's role is a
    //  member of (deploy/sql/provision.sql: sb_<svc>_owner), migrate as that
    //  owner, so that the tables belong to it and not to the role the
    //  service runs as: a role that owns no table cannot bypass row-level
    //  security nor alter what it stores. The role name comes from the
    //  catalogue and is quoted before it is spliced into SET ROLE.
    bool owner_role = false;
    result = sb_db_exec (db,
                         "SELECT quote_ident (r.rolname) FROM pg_namespace n "
                         "JOIN pg_roles r ON r.oid = n.nspowner WHERE n.nspname = $1 "
                         "AND r.rolname <> current_user AND pg_has_role (current_user, r.oid, 'MEMBER')",
                         1, params);
    if (!result)
        return sb_error ("cannot read the owner of schema %s", schema);
    if (PQntuples (result) == 1) {
        char sql [160];
        snprintf (sql, sizeof (sql), "SET ROLE %s", PQgetvalue (result, 0, 0));
        PGresult *set = sb_db_exec (db, sql, 0, NULL);
        if (!set) {
            PQclear (result);
            return sb_error ("cannot act as the owner of schema %s", schema);
        }
        PQclear (set);
        owner_role = true;
    }
    PQclear (result);
    int done = s_migrate_as_owner (db, schema, ident, backend_pid, migrations, count);
    if (owner_role)
        sb_db_run (db, "RESET ROLE", 0, NULL);
    return done;
}

static int
s_migrate_as_owner (sb_db_t *db, const char *schema, const char *ident, const char *backend_pid,
                    const sb_migration_t *migrations, size_t count)
{
    PGresult *result = s_exec_with_ident (db, "CREATE TABLE IF NOT EXISTS ", ident,
                                ".schema_migrations ("
                                "version integer PRIMARY KEY, "
                                "name text NOT NULL, "
                                "applied_at timestamptz NOT NULL DEFAULT now())",
                                0, NULL);
    if (!result)
        return sb_error ("cannot create %s.schema_migrations", schema);
    PQclear (result);

    result = s_exec_with_ident (db, "SELECT version FROM ", ident,
                                ".schema_migrations ORDER BY version", 0, NULL);
    if (!result)
        return sb_error ("cannot read %s.schema_migrations", schema);
    size_t applied_count = (size_t) PQntuples (result);
    int *applied = sb_malloc ((applied_count ? applied_count : 1) * sizeof (int));
    for (size_t row = 0; row < applied_count; row++)
        applied [row] = atoi (PQgetvalue (result, (int) row, 0));
    PQclear (result);

    //  Versions we do not know: a newer binary has migrated this database
    //  (a rolling upgrade, or a rollback of the code). Not fatal.
    int highest_known = count ? migrations [count - 1].version : 0;
    int newest_unknown = 0;
    for (size_t row = 0; row < applied_count; row++) {
        bool known = false;
        for (size_t index = 0; index < count && !known; index++)
            known = migrations [index].version == applied [row];
        if (known)
            continue;
        if (applied [row] > highest_known)
            newest_unknown = applied [row];
        else
            sb_warn ("schema %s has migration version %d, which this binary does not know",
                     schema, applied [row]);
    }
    if (newest_unknown)
        sb_warn ("database schema is newer than this binary (version %d)", newest_unknown);

    int done = 0;
    for (size_t index = 0; index < count; index++) {
        if (s_contains (applied, applied_count, migrations [index].version))
            continue;
        if (s_apply (db, ident, backend_pid, &migrations [index])) {
            done = -1;
            break;
        }
        done++;
    }
    free (applied);
    return done;
}


//  --------------------------------------------------------------------------
//  Brings schema up to date with migrations (sorted by version). Returns the
//  number applied, or -1 when one failed (its transaction rolled back, the
//  error logged, the lock released).

int
sb_migrate (sb_db_t *db, const char *schema, const sb_migration_t *migrations, size_t count)
{
    assert (db);
    assert (migrations || count == 0);
    if (!schema || !*schema)
        return sb_error ("cannot migrate: no schema given");
    if (sb_db_in_transaction (db))
        return sb_error ("cannot migrate inside a transaction");
    for (size_t index = 0; index < count; index++) {
        const sb_migration_t *migration = &migrations [index];
        if (migration->version <= 0 || migration->version >= SB_MIGRATE_SKELETON_FIRST
        || !migration->name || !migration->sql
        || (index > 0 && migration->version <= migrations [index - 1].version))
            return sb_error ("cannot migrate %s: migration table is not sorted by unique "
                             "version from 1 to %d (entry %zu)",
                             schema, SB_MIGRATE_SKELETON_FIRST - 1, index);
    }
    //  The skeleton's tables follow the service's own, in the same schema
    size_t total = count + sb_skeleton_migration_count;
    sb_migration_t *all = sb_malloc ((total ? total : 1) * sizeof (sb_migration_t));
    if (count)
        memcpy (all, migrations, count * sizeof (sb_migration_t));
    if (sb_skeleton_migration_count)
        memcpy (all + count, sb_skeleton_migrations,
                sb_skeleton_migration_count * sizeof (sb_migration_t));
    int done = s_migrate_all (db, schema, all, total);
    free (all);
    return done;
}

static int
s_migrate_all (sb_db_t *db, const char *schema, const sb_migration_t *migrations, size_t count)
{

    //  Waits for any other worker migrating the same schema
    const char *params [] = { schema };
    PGresult *result = sb_db_exec (db, S_LOCK_SQL, 1, params);
    if (!result)
        return sb_error ("cannot migrate %s: cannot take the migration lock", schema);
    char *backend_pid = sb_strdup (PQgetvalue (result, 0, 1));
    PQclear (result);

    int done = -1;
    PGconn *conn = sb_db_conn (db);
    char *ident = conn ? PQescapeIdentifier (conn, schema, strlen (schema)) : NULL;
    if (ident) {
        done = s_migrate_locked (db, schema, ident, backend_pid, migrations, count);
        PQfreemem (ident);
    }
    else
        sb_error ("cannot migrate %s: cannot quote the schema name", schema);

    //  If the session was replaced meanwhile, this unlocks nothing (the
    //  server dropped the lock with the old session) and the server warns
    result = sb_db_exec (db, S_UNLOCK_SQL, 1, params);
    PQclear (result);
    free (backend_pid);
    if (done > 0)
        sb_info ("schema %s is up to date (%d new)", schema, done);
    return done;
}
