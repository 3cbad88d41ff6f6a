/*  auth_org.c — the organization: its settings, its deletion, and the
    lookup the gateway uses to match a request's subdomain.

    Deleting an organization ends every session and API key first (so the
    gateways stop accepting them at once), deletes its identity data here,
    and, in the same transaction, records that every other data-owning
    service owes the purge of its data (auth_deletions.c delivers that
    until each has acknowledged, also to a service that is down now). It
    still publishes org.deleted, for the gateways' caches only: no
    service's data deletion depends on that event.
*/
#include "auth.h"

//  Publishes a small {key: value} event.
static void
s_publish_pair (sb_ctx_t *ctx, const char *topic, const char *k1, const char *v1, const char *k2,
                const char *v2)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, k2 ? 2 : 1);
    sb_mpk_pack_kv_str (&pk, k1, v1);
    if (k2)
        sb_mpk_pack_kv_str (&pk, k2, v2);
    sb_ctx_publish (ctx, topic, buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
}

int
auth_org_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    return auth_pack_org (ctx, sb_reply_body (reply, 200), sb_ctx_head (ctx)->org);
}

int
auth_org_update (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    sb_fields_t fields = { 0 };
    const char *name = sb_arg_string (ctx, args, "name", false, 1, 200, &fields);
    const char *subdomain = sb_arg_string (ctx, args, "subdomain", false, 1, 63, &fields);
    if (subdomain && !auth_subdomain_valid (subdomain))
        sb_fields_add (&fields, "subdomain",
                       "must be lower-case letters, digits and inner hyphens, and not reserved");
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    const char *params [] = { head->org, name, subdomain };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "UPDATE organizations SET name = coalesce ($2, name), "
                                   "subdomain = coalesce ($3, subdomain) WHERE id = $1 "
                                   "RETURNING subdomain",
                                   3, params);
    if (!result) {
        if (streq (sb_db_sqlstate (sb_ctx_db (ctx)), "23505"))
            return sb_reply_error (reply, 409, AUTH_E_SUBDOMAIN_TAKEN, "this subdomain is taken");
        return -1;
    }
    if (PQntuples (result) == 1)
        s_publish_pair (ctx, "org.updated", "org", head->org, "subdomain",
                        PQgetvalue (result, 0, 0));
    PQclear (result);
    auth_audit (ctx, head->org, head->sub, "organization.updated", head->org, NULL);
    return auth_pack_org (ctx, sb_reply_body (reply, 200), head->org);
}

int
auth_org_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    const char *org = sb_ctx_head (ctx)->org;
    if (auth_sessions_revoke (ctx, "organization_id = $1", 1, &org, "organization deleted") < 0)
        return -1;
    PGresult *keys = sb_db_exec (sb_ctx_db (ctx),
                                 "UPDATE api_keys SET revoked_at = now () "
                                 "WHERE organization_id = $1 AND revoked_at IS NULL RETURNING id",
                                 1, &org);
    if (!keys)
        return -1;
    for (int r = 0; r < PQntuples (keys); r++)
        s_publish_pair (ctx, "apikey.revoked", "id", PQgetvalue (keys, r, 0), "org", org);
    PQclear (keys);
    if (sb_db_run (sb_ctx_db (ctx), "DELETE FROM audit_log WHERE organization_id = $1", 1, &org)
        || sb_db_run (sb_ctx_db (ctx), "DELETE FROM idempotency_keys WHERE organization_id = $1",
                      1, &org)
        || sb_db_run (sb_ctx_db (ctx), "DELETE FROM organizations WHERE id = $1", 1, &org))
        return -1;
    if (auth_deletions_request (ctx, org))
        return -1;
    s_publish_pair (ctx, "org.deleted", "org", org, NULL, NULL);
    msgpack_packer *pk = sb_reply_body (reply, 202);
    msgpack_pack_map (pk, 1);
    sb_mpk_pack_kv_str (pk, "status", "deleted");
    return 0;
}

int
auth_org_lookup (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = sb_arg_string (ctx, args, "org", true, 36, 36, &fields);
    if (!org || !sb_is_uuid (org))
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such organization");
    return sb_reply_one (reply, sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT id, subdomain FROM organizations WHERE id = $1", 1, &org),
                         200, "no such organization");
}
