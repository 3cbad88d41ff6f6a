/*  usage_org.c — org.purge: a deleted organization's usage goes.

    auth-svc's deletion relay calls org.purge (internal callers only) until
    it answers done; each call deletes a bounded batch of every table in
    turn (common/src/purge.c). Before that, the organization is listed in
    purged_organizations, so that usage_store drops its events from then
    on (see usage-svc/sql/0005_org_purge.sql). The call that lists it
    answers done false whatever it deleted: a usage.record that began
    before the listing committed could still commit rows the purge did not
    see, and the next call finds them.
*/
#include "usage.h"
#include "sb/purge.h"

static const char *const s_tables [] = { "reservations", "events", "counters", "hours", "retired",
                                         "alert_outbox", "alerts_sent", "alert_settings",
                                         NULL };

int
usage_org_purge (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = sb_arg_uuid (ctx, args, "organization_id", true, &fields);
    if (!org)
        return sb_reply_fields (reply, &fields);
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "INSERT INTO purged_organizations (organization_id) "
                                   "VALUES ($1) ON CONFLICT DO NOTHING",
                                   1, &org);
    if (!result)
        return -1;
    bool listed_now = streq (PQcmdTuples (result), "1");
    PQclear (result);
    return sb_purge_reply (ctx, args, reply, s_tables, listed_now);
}
