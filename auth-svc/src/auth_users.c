/*  auth_users.c — the users of an organization: who is asking (auth.me),
    the list, a change of role or name, and removal.

    Demoting or removing a user ends their sessions (access tokens carry
    the role); demoting or removing an admin also revokes the admin API
    keys they made and the admin invitations they sent. The last admin can
    be neither demoted nor removed.
*/
#include "auth.h"

int
auth_me (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    sb_entitlement_t ent;
    if (sb_ctx_entitlement (ctx, NULL, &ent, reply))
        return 0;
    //  One round trip: the organization, and the user when a person (not
    //  an API key) is asking.
    const char *params [] = { head->org, *head->sub ? head->sub : NULL };
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        "SELECT o.id, o.name, o.subdomain, " SB_SQL_TS ("o.created_at") " AS created_at, "
        "  o.referral_code, u.id AS _uid, u.email AS _email, u.name AS _name, u.role AS _role, "
        "  " SB_SQL_TS ("u.created_at") " AS _ucreated "
        "FROM organizations o LEFT JOIN users u ON u.organization_id = o.id AND u.id = $2 "
        "WHERE o.id = $1",
        2, params);
    if (!result)
        return -1;
    if (PQntuples (result) != 1) {
        PQclear (result);
        return sb_reply_error (reply, 401, SB_E_UNAUTHENTICATED, "this organization is gone");
    }
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 4);
    sb_mpk_pack_str (pk, "user");
    if (PQgetisnull (result, 0, 5))
        msgpack_pack_nil (pk);      //  an API key acts for the organization, not a person
    else {
        msgpack_pack_map (pk, 5);
        const char *names [] = { "id", "email", "name", "role", "created_at" };
        for (int i = 0; i < 5; i++)
            sb_mpk_pack_kv_str (pk, names [i], PQgetvalue (result, 0, 5 + i));
    }
    sb_mpk_pack_str (pk, "organization");
    sb_db_pack_row (pk, result, 0);
    sb_mpk_pack_kv_str (pk, "role", sb_role_name (head->role));
    sb_mpk_pack_kv_str (pk, "plan", ent.plan);
    PQclear (result);
    return 0;
}

int
auth_users_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    const char *org = sb_ctx_head (ctx)->org;
    return sb_reply_all (reply, sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT id, email, name, role, " SB_SQL_TS ("created_at")
                                   " AS created_at FROM users WHERE organization_id = $1 "
                                   "ORDER BY users.created_at, users.id",
                                   1, &org));
}

//  Locks the organization's admins and the target user. Returns the
//  target's role (arena) or NULL when it is not in the organization;
//  *admins gets the number of admins.
static const char *
s_lock_user (sb_ctx_t *ctx, const char *user, int *admins, int *rc)
{
    const char *org = sb_ctx_head (ctx)->org;
    const char *params [] = { org, user };
    *rc = 0;
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT id, role FROM users WHERE organization_id = $1 "
                                   "AND (role = 'admin' OR id = $2) ORDER BY id FOR UPDATE",
                                   2, params);
    if (!result) {
        *rc = -1;
        return NULL;
    }
    const char *role = NULL;
    *admins = 0;
    for (int r = 0; r < PQntuples (result); r++) {
        if (streq (PQgetvalue (result, r, 1), "admin"))
            (*admins)++;
        if (streq (PQgetvalue (result, r, 0), user))
            role = sb_ctx_strndup (ctx, PQgetvalue (result, r, 1), strlen (PQgetvalue (result, r, 1)));
    }
    PQclear (result);
    return role;
}

//  An admin's power outlives their role in the admin API keys they made
//  and the admin invitations they sent: on demotion or removal those keys
//  are revoked (gateways told) and those invitations revoked. 0 or -1.
static int
s_end_admin_power (sb_ctx_t *ctx, const char *user, const char *reason)
{
    const char *org = sb_ctx_head (ctx)->org;
    char details [128];
    snprintf (details, sizeof (details), "{\"reason\":\"%s\",\"creator\":\"%s\"}", reason, user);
    return auth_apikeys_revoke_created_by (ctx, org, user, details) < 0
           || auth_invitations_revoke_by (ctx, org, user, details) < 0 ? -1 : 0;
}

int
auth_users_update (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    sb_fields_t fields = { 0 };
    const char *user = sb_arg_id (ctx, args);
    if (!user)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such user");
    const char *role = sb_arg_string (ctx, args, "role", false, 1, 16, &fields);
    const char *name = sb_arg_string (ctx, args, "name", false, 1, 100, &fields);
    if (role && !streq (role, "admin") && !streq (role, "user"))
        sb_fields_add (&fields, "role", "must be admin or user");
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    int admins, rc;
    const char *current = s_lock_user (ctx, user, &admins, &rc);
    if (rc)
        return -1;
    if (!current)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such user");
    if (role && streq (current, "admin") && streq (role, "user") && admins <= 1)
        return sb_reply_error (reply, 409, AUTH_E_LAST_ADMIN,
                               "the organization's last admin cannot be demoted");
    const char *params [] = { head->org, user, role, name };
    if (sb_db_run (sb_ctx_db (ctx),
                   "UPDATE users SET role = coalesce ($3, role), name = coalesce ($4, name), "
                   "updated_at = now () WHERE organization_id = $1 AND id = $2",
                   4, params))
        return -1;
    if (role && !streq (role, current)) {
        //  Access tokens carry the role: the user's sessions end, so that
        //  the new role holds from the next login, not in 15 minutes.
        const char *revoke [] = { head->org, user };
        if (auth_sessions_revoke (ctx, "organization_id = $1 AND user_id = $2", 2, revoke,
                                  "role changed") < 0)
            return -1;
        if (streq (role, "user") && s_end_admin_power (ctx, user, "user demoted"))
            return -1;
        char details [64];
        snprintf (details, sizeof (details), "{\"from\":\"%s\",\"to\":\"%s\"}", current, role);
        auth_audit (ctx, head->org, head->sub, "user.role_changed", user, details);
    }
    return auth_pack_user (ctx, sb_reply_body (reply, 200), head->org, user);
}

int
auth_users_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    const char *user = sb_arg_id (ctx, args);
    if (!user)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such user");
    int admins, rc;
    const char *current = s_lock_user (ctx, user, &admins, &rc);
    if (rc)
        return -1;
    if (!current)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such user");
    if (streq (current, "admin") && admins <= 1)
        return sb_reply_error (reply, 409, AUTH_E_LAST_ADMIN,
                               "the organization's last admin cannot be removed");
    const char *params [] = { head->org, user };
    if (auth_sessions_revoke (ctx, "organization_id = $1 AND user_id = $2", 2, params,
                              "user deleted") < 0
        || s_end_admin_power (ctx, user, "user deleted")
        || sb_db_run (sb_ctx_db (ctx), "DELETE FROM users WHERE organization_id = $1 AND id = $2",
                      2, params))
        return -1;
    auth_audit (ctx, head->org, head->sub, "user.deleted", user, NULL);
    msgpack_pack_nil (sb_reply_body (reply, 204));
    return 0;
}
