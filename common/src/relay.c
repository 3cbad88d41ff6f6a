/*  relay.c — the outbox relay's thread (see relay.h for the contract).
*/
#include "sb/sb.h"
#include <assert.h>
#include "sb/relay.h"

struct _sb_relay_t {
    zactor_t *actor;
    const sb_config_t *config;
    sb_relay_spec_t spec;
};

static void
s_actor (zsock_t *pipe, void *arg)
{
    sb_relay_t *relay = (sb_relay_t *) arg;
    const sb_relay_spec_t *spec = &relay->spec;
    sb_db_t *db = sb_db_new (relay->config->service_database_url, spec->schema);
    sb_client_t *client = spec->without_bus ? NULL : sb_client_new (relay->config, NULL);
    if (!client && !spec->without_bus)
        sb_error ("%s: no broker to deliver to", spec->name);
    zsock_signal (pipe, 0);
    sb_db_connect (db, 30000);

    int64_t next = 0;               //  when to run step (monotonic)
    int backoff = 0;
    while (true) {
        int64_t wait = next - sb_mono_ms ();
        zsock_set_rcvtimeo (pipe, wait > 0 ? (int) wait : 0);
        char *command = zstr_recv (pipe);     //  NULL: the time has come
        bool terminated = false, woken = false;
        while (command) {
            if (streq (command, "$TERM"))
                terminated = true;
            else
                woken = true;       //  WAKE: many coalesce into one look
            zstr_free (&command);
            if (terminated || !(zsock_events (pipe) & ZMQ_POLLIN))
                break;
            command = zstr_recv (pipe);
        }
        if (terminated)
            break;
        //  Woken by a commit: go now, unless backing off from a failure.
        if (woken && backoff == 0)
            next = 0;
        if (sb_mono_ms () < next)
            continue;
        int rc;
        while ((rc = client || spec->without_bus ? spec->step (db, client, spec->arg) : -1) > 0
               && !(zsock_events (pipe) & ZMQ_POLLIN))
            ;
        if (rc > 0) {
            backoff = 0;
            next = 0;               //  more to do, after the command waiting
        }
        else
        if (rc < 0) {
            backoff = backoff ? (backoff * 2 > spec->backoff_max_ms ? spec->backoff_max_ms
                                                                    : backoff * 2)
                              : 1000;
            next = sb_mono_ms () + backoff;
        }
        else {
            backoff = 0;
            next = sb_mono_ms () + spec->idle_ms;
        }
    }
    sb_client_destroy (&client);
    sb_db_destroy (&db);
    //  libpq's connection (SCRAM, the SSL attempt) left OpenSSL state on
    //  this thread; an actor's thread may outlive main's cleanup, so free it.
    sb_jwt_thread_stop ();
}

sb_relay_t *
sb_relay_new (const sb_config_t *config, const sb_relay_spec_t *spec)
{
    assert (config && spec && spec->step && spec->name);
    sb_relay_t *self = (sb_relay_t *) sb_calloc (1, sizeof (sb_relay_t));
    self->config = config;
    self->spec = *spec;
    if (self->spec.idle_ms <= 0)
        self->spec.idle_ms = 1000;
    if (self->spec.backoff_max_ms <= 0)
        self->spec.backoff_max_ms = 30000;
    self->actor = zactor_new (s_actor, self);
    if (!self->actor)
        sb_relay_destroy (&self);
    return self;
}

void
sb_relay_destroy (sb_relay_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sb_relay_t *self = *self_p;
    zactor_destroy (&self->actor);
    free (self);
    *self_p = NULL;
}

void
sb_relay_wake (sb_relay_t *self)
{
    if (self)
        zstr_send (self->actor, "WAKE");
}

//  ---------------------------------------------------------------------
//  The one-row-at-a-time outbox step (relay.h)

#define S_OUTBOX_COLUMNS 8

int
sb_outbox_step (sb_db_t *db, sb_client_t *client, const sb_outbox_t *outbox)
{
    assert (outbox->column_count > 0 && outbox->column_count <= S_OUTBOX_COLUMNS
            && outbox->key_count > 0 && outbox->key_count <= outbox->column_count);
    char sql [512];
    snprintf (sql, sizeof (sql),
              "SELECT %s FROM %s WHERE acknowledged_at IS NULL AND next_attempt_at <= now () "
              "ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED",
              outbox->columns, outbox->table);
    if (sb_db_begin (db))
        return -1;
    PGresult *due = sb_db_exec (db, sql, 0, NULL);
    if (!due) {
        sb_db_rollback (db);
        return -1;
    }
    if (PQntuples (due) == 0) {
        PQclear (due);
        return sb_db_commit (db) ? -1 : 0;
    }
    //  The row's values, and after them the parameters of the UPDATEs: the
    //  key's values come first there too ($1..$k).
    char *values [S_OUTBOX_COLUMNS];
    for (int c = 0; c < outbox->column_count; c++)
        values [c] = sb_strdup (PQgetvalue (due, 0, c));
    PQclear (due);
    //  "<key1> = $1 AND <key2> = $2": the key's column names, from columns.
    char where [256] = "";
    const char *p = outbox->columns, *name;
    size_t len, at = 0;
    for (int k = 0; k < outbox->key_count && (name = sb_list_next (&p, &len)); k++)
        at += (size_t) snprintf (where + at, sizeof (where) - at, "%s%.*s = $%d",
                                 k ? " AND " : "", (int) len, name, k + 1);

    bool done = true;
    char error [256] = "";
    int status = outbox->deliver (client, (const char *const *) values, &done, error,
                                  sizeof (error));
    const char *params [S_OUTBOX_COLUMNS + 2];
    for (int k = 0; k < outbox->key_count; k++)
        params [k] = values [k];
    int rc;
    if (status >= 200 && status < 300) {
        params [outbox->key_count] = done ? "t" : "f";
        snprintf (sql, sizeof (sql),
                  "UPDATE %s SET attempts = attempts + 1, failures = 0, last_error = NULL, "
                  "next_attempt_at = now (), "
                  "acknowledged_at = CASE WHEN $%d::boolean THEN now () END WHERE %s",
                  outbox->table, outbox->key_count + 1, where);
        rc = sb_db_run (db, sql, outbox->key_count + 1, params);
    }
    else {
        sb_warn ("%s: %s %s not delivered: %s", outbox->name, outbox->table, values [0], error);
        char backoff_max [16];
        snprintf (backoff_max, sizeof (backoff_max), "%d", outbox->backoff_max_s);
        params [outbox->key_count] = error;
        params [outbox->key_count + 1] = backoff_max;
        snprintf (sql, sizeof (sql),
                  "UPDATE %s SET attempts = attempts + 1, failures = failures + 1, "
                  "last_error = $%d, next_attempt_at = now () "
                  "  + least ($%d::int, power (2, least (failures, 10))) * interval '1 second' "
                  "WHERE %s",
                  outbox->table, outbox->key_count + 1, outbox->key_count + 2, where);
        rc = sb_db_run (db, sql, outbox->key_count + 2, params);
    }
    for (int c = 0; c < outbox->column_count; c++)
        free (values [c]);
    if (rc || sb_db_commit (db)) {
        sb_db_rollback (db);
        return -1;
    }
    return 1;
}

static int
s_outbox_relay_step (sb_db_t *db, sb_client_t *client, void *arg)
{
    return sb_outbox_step (db, client, (const sb_outbox_t *) arg);
}

sb_relay_t *
sb_outbox_relay_new (const sb_config_t *config, const char *schema, const sb_outbox_t *outbox)
{
    sb_relay_spec_t spec = { .name = outbox->name, .schema = schema,
                             .step = s_outbox_relay_step, .arg = (void *) outbox };
    return sb_relay_new (config, &spec);
}
