/*  auth_deletions.c — an organization's deletion reaches every service that
    holds its data, exactly once in effect, also a service that is down.

    auth_deletions_request writes, in the transaction that deletes the
    organization, one row per data-owning service into org_deletions (see
    auth-svc/sql/0004_org_deletions.sql) and wakes this process's relay
    once that transaction has committed. The relay (an sb_relay: its own
    thread, database connection and bus client; it also looks once a
    second, so rows whose wake was lost with a stopped process, and rows
    whose retry time has come, are found) takes one due row at a time,
    locked FOR UPDATE SKIP LOCKED so that the relays of several auth
    workers share the table, and calls `<service> org.purge
    {organization_id}` with the internal role. Only a 2xx answer with done
    true acknowledges the row; done false (a huge organization is purged in
    batches) puts it at the back of the due rows, so other organizations'
    deletions interleave with its batches; anything else (no answer, 503
    when the service has no worker, an error) counts a failure and retries
    the row later, 1 s doubling to 30 s. A purge is idempotent on the
    service's side, so a call repeated after its acknowledgement was lost
    (the commit failed) deletes nothing more.

    The org.deleted event is still published, for the gateways' caches;
    no service's data depends on it.
*/
#include "auth.h"
#include "sb/relay.h"

#define S_CALL_MS       10000       //  one org.purge call
#define S_BACKOFF_MAX_S 30

//  The services that hold organizations' data, each answering org.purge.
static const char *const s_services [] = { "tenant", "usage", "billing", NULL };

static sb_relay_t *s_relay;

int
auth_deletions_request (sb_ctx_t *ctx, const char *org)
{
    char list [128] = "{";
    for (size_t i = 0; s_services [i]; i++) {
        strcat (list, i ? "," : "");
        strcat (list, s_services [i]);
    }
    strcat (list, "}");
    const char *params [] = { org, list };
    if (sb_db_run (sb_ctx_db (ctx),
                   "INSERT INTO org_deletions (organization_id, service) "
                   "SELECT $1, unnest ($2::text[]) ON CONFLICT DO NOTHING",
                   2, params))
        return -1;
    sb_ctx_after_commit (ctx, auth_deletions_wake);
    return 0;
}

//  Calls service's org.purge for org. Returns the reply's status (0 when
//  none came), *done whether it said the organization is gone, and a short
//  reason in error when it failed.
static int
s_purge (sb_client_t *client, const char *service, const char *org, bool *done, char *error,
         size_t error_size)
{
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sb_mpk_pack_kv_str (&pk, "organization_id", org);
    sb_reply_msg_t reply;
    *done = false;
    int status = sb_client_request (client, service, "org.purge", NULL, &args, S_CALL_MS, &reply,
                                    error, error_size);
    if (status) {
        if (status >= 200 && status < 300) {
            const msgpack_object *flag = reply.body ? sb_mpk_get (reply.body, "done") : NULL;
            *done = flag && flag->type == MSGPACK_OBJECT_BOOLEAN && flag->via.boolean;
        }
        sb_reply_msg_release (&reply);
    }
    msgpack_sbuffer_destroy (&args);
    return status;
}

//  The relay's step: one due deletion. Returns 1 when a row was handled
//  (there may be more), 0 when none is due, -1 on a database failure.
static int
s_step (sb_db_t *db, sb_client_t *client, void *arg)
{
    (void) arg;
    if (sb_db_begin (db))
        return -1;
    PGresult *due = sb_db_exec (db,
                                "SELECT organization_id, service FROM org_deletions "
                                "WHERE acknowledged_at IS NULL AND next_attempt_at <= now () "
                                "ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                                0, NULL);
    if (!due) {
        sb_db_rollback (db);
        return -1;
    }
    if (PQntuples (due) == 0) {
        PQclear (due);
        return sb_db_commit (db) ? -1 : 0;
    }
    char org [40], service [40];
    snprintf (org, sizeof (org), "%s", PQgetvalue (due, 0, 0));
    snprintf (service, sizeof (service), "%s", PQgetvalue (due, 0, 1));
    PQclear (due);

    bool done = false;
    char error [256] = "";
    int status = s_purge (client, service, org, &done, error, sizeof (error));
    int rc;
    if (status >= 200 && status < 300) {
        const char *params [] = { org, service, done ? "t" : "f" };
        rc = sb_db_run (db,
                        "UPDATE org_deletions SET attempts = attempts + 1, failures = 0, "
                        "last_error = NULL, next_attempt_at = now (), "
                        "acknowledged_at = CASE WHEN $3::boolean THEN now () END "
                        "WHERE organization_id = $1 AND service = $2",
                        3, params);
        if (done)
            sb_info ("deletions: %s acknowledged the deletion of organization %s", service, org);
    }
    else {
        sb_warn ("deletions: %s did not purge organization %s: %s", service, org, error);
        char backoff_max [16];
        snprintf (backoff_max, sizeof (backoff_max), "%d", S_BACKOFF_MAX_S);
        const char *params [] = { org, service, error, backoff_max };
        rc = sb_db_run (db,
                        "UPDATE org_deletions SET attempts = attempts + 1, "
                        "failures = failures + 1, last_error = $3, "
                        "next_attempt_at = now () + least ($4::int, power (2, least (failures, 10))) "
                        "                          * interval '1 second' "
                        "WHERE organization_id = $1 AND service = $2",
                        4, params);
    }
    if (rc || sb_db_commit (db)) {
        sb_db_rollback (db);
        return -1;
    }
    return 1;
}

int
auth_deletions_start (const sb_config_t *config)
{
    sb_relay_spec_t spec = { .name = "deletions", .schema = "auth", .step = s_step };
    s_relay = sb_relay_new (config, &spec);
    return s_relay ? 0 : -1;
}

void
auth_deletions_wake (void)
{
    sb_relay_wake (s_relay);
}

void
auth_deletions_stop (void)
{
    sb_relay_destroy (&s_relay);
}
