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

//  Calls the row's service's org.purge for its organization (row: the
//  organization, the service). Returns the reply's status (0 when none
//  came), *done whether it said the organization is gone, and a short
//  reason in error when it failed.
static int
s_purge (sb_client_t *client, const char *const *row, bool *done, char *error, size_t error_size)
{
    const char *org = row [0], *service = row [1];
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
            if (*done)
                sb_info ("deletions: %s acknowledged the deletion of organization %s", service,
                         org);
        }
        sb_reply_msg_release (&reply);
    }
    msgpack_sbuffer_destroy (&args);
    return status;
}

static const sb_outbox_t s_outbox = {
    .name = "deletions", .table = "org_deletions", .columns = "organization_id, service",
    .column_count = 2, .key_count = 2, .backoff_max_s = S_BACKOFF_MAX_S, .deliver = s_purge
};

int
auth_deletions_start (const sb_config_t *config)
{
    s_relay = sb_outbox_relay_new (config, "auth", &s_outbox);
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
