/*  auth_invitations.c — inviting people into an organization.

    An invitation is an email, a role and a single-use token mailed as a
    link (queued in the mail outbox with the invitation, auth_mail.c). Pending invitations hold seats: users plus pending invitations
    may not exceed the plan's seats (the free plan's until billing
    decides). The organization's row is locked while counting, so two
    admins inviting at once cannot both take the last seat.

    An invitation records who sent it (invited_by: the user, or for one
    sent with an API key that key's creator). When an admin is demoted or
    removed, the admin invitations they sent that are still pending are
    revoked (auth_invitations_revoke_by): they cannot be accepted.
*/
#include "auth.h"

#define S_PENDING AUTH_SQL_INVITATION_PENDING

int
auth_invitations_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    sb_fields_t fields = { 0 };
    const char *email = auth_arg_email (ctx, args, "email", &fields);
    const char *role = sb_arg_string (ctx, args, "role", false, 1, 16, &fields);
    if (role && !streq (role, "admin") && !streq (role, "user"))
        sb_fields_add (&fields, "role", "must be admin or user");
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    if (!role)
        role = "user";

    const char *params [] = { head->org, email };
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        "SELECT o.name,"
        "  " AUTH_SQL_SEATS_USED ","
        "  EXISTS (SELECT 1 FROM users WHERE lower (email) = $2),"
        "  EXISTS (SELECT 1 FROM invitations WHERE organization_id = o.id"
        "          AND lower (email) = $2 AND " S_PENDING ")"
        " FROM organizations o WHERE o.id = $1 FOR UPDATE",
        2, params);
    if (!result)
        return -1;
    if (PQntuples (result) != 1) {
        PQclear (result);
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such organization");
    }
    char *org_name = sb_ctx_strndup (ctx, PQgetvalue (result, 0, 0), strlen (PQgetvalue (result, 0, 0)));
    int used = atoi (PQgetvalue (result, 0, 1));
    bool user_exists = PQgetvalue (result, 0, 2) [0] == 't';
    bool pending = PQgetvalue (result, 0, 3) [0] == 't';
    PQclear (result);
    if (user_exists)
        return sb_reply_error (reply, 409, AUTH_E_EMAIL_TAKEN, "an account with this email exists");
    if (pending)
        return sb_reply_error (reply, 409, SB_E_CONFLICT,
                               "this email already has a pending invitation");
    sb_entitlement_t ent;
    if (sb_ctx_entitlement (ctx, NULL, &ent, reply))
        return 0;
    int64_t limit = ent.seats;
    if (limit >= 0 && used >= limit) {
        msgpack_packer *pk = sb_reply_error_extra (reply, 402, SB_E_PLAN_LIMIT_REACHED,
                                                   "the plan's seats are all taken", 2);
        sb_mpk_pack_kv_int (pk, "limit", limit);
        sb_mpk_pack_kv_int (pk, "used", used);
        return 0;
    }

    char id [37], days [8];
    sb_uuid_v4 (id);
    snprintf (days, sizeof (days), "%d", AUTH_INVITATION_DAYS);
    char *token = auth_token_new (ctx, "");
    const char *insert [] = { head->org, id, email, role, auth_token_hash (ctx, token),
                              *head->sub ? head->sub : NULL, days, *head->key ? head->key : NULL };
    result = sb_db_exec (sb_ctx_db (ctx),
                         "INSERT INTO invitations (organization_id, id, email, role, token_hash, "
                         "invited_by, expires_at) VALUES ($1, $2, $3, $4, $5::bytea, "
                         "coalesce ($6::uuid, (SELECT created_by FROM api_keys "
                         "  WHERE organization_id = $1 AND id = $8::uuid)), "
                         "now () + make_interval (days => $7::int)) "
                         "RETURNING id, email, role, " SB_SQL_TS ("created_at") " AS created_at, "
                         SB_SQL_TS ("expires_at") " AS expires_at",
                         8, insert);
    if (!result)
        return -1;
    char text [1024];
    snprintf (text, sizeof (text),
              "You are invited to join %s on Switchboard as %s.\r\n\r\n"
              "To accept, open this link within %d days:\r\n\r\n"
              "%s/accept-invitation?token=%s\r\n",
              org_name, role, AUTH_INVITATION_DAYS, sb_ctx_config (ctx)->public_url, token);
    //  Queued with the invitation; sent once it has committed.
    if (auth_mail_queue (ctx, head->org, "invitation", email, "You are invited to Switchboard",
                         text)) {
        PQclear (result);
        return -1;
    }
    auth_audit (ctx, head->org, head->sub, "invitation.created", email, NULL);
    sb_db_pack_row (sb_reply_body (reply, 201), result, 0);
    PQclear (result);
    return 0;
}

int
auth_invitations_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    const char *org = sb_ctx_head (ctx)->org;
    return sb_reply_all (reply, sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT id, email, role, " SB_SQL_TS ("created_at")
                                   " AS created_at, " SB_SQL_TS ("expires_at") " AS expires_at "
                                   "FROM invitations WHERE organization_id = $1 AND " S_PENDING
                                   " ORDER BY invitations.created_at DESC, invitations.id",
                                   1, &org));
}

int
auth_invitations_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such invitation");
    const char *params [] = { head->org, id };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "UPDATE invitations SET revoked_at = now () "
                                   "WHERE organization_id = $1 AND id = $2 AND " S_PENDING
                                   " RETURNING email",
                                   2, params);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    PQclear (result);
    if (rows != 1)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such invitation");
    auth_audit (ctx, head->org, head->sub, "invitation.revoked", id, NULL);
    msgpack_pack_nil (sb_reply_body (reply, 204));
    return 0;
}

int
auth_invitations_revoke_by (sb_ctx_t *ctx, const char *org, const char *user,
                            const char *details_json)
{
    const char *params [] = { org, user };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "UPDATE invitations SET revoked_at = now () "
                                   "WHERE organization_id = $1 AND invited_by = $2 "
                                   "AND role = 'admin' AND " S_PENDING " RETURNING id",
                                   2, params);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    for (int r = 0; r < rows; r++)
        auth_audit (ctx, org, sb_ctx_head (ctx)->sub, "invitation.revoked",
                    PQgetvalue (result, r, 0), details_json);
    PQclear (result);
    return rows;
}

int
auth_invitations_accept (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *token = sb_arg_string (ctx, args, "token", true, 1, 8192, &fields);
    const char *name = sb_arg_string (ctx, args, "name", true, 1, 100, &fields);
    const char *password = auth_arg_password (ctx, args, "password", &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    const char *hash = auth_token_hash (ctx, token);
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "UPDATE invitations SET accepted_at = now () "
                                   "WHERE token_hash = $1::bytea AND " S_PENDING
                                   " RETURNING organization_id, id, lower (email), role",
                                   1, &hash);
    if (!result)
        return -1;
    if (PQntuples (result) != 1) {
        PQclear (result);
        return sb_reply_error (reply, 400, AUTH_E_INVALID_TOKEN,
                               "this invitation is invalid, used, revoked or expired");
    }
    char org [37], invitation [37], role [16];
    snprintf (org, sizeof (org), "%s", PQgetvalue (result, 0, 0));
    snprintf (invitation, sizeof (invitation), "%s", PQgetvalue (result, 0, 1));
    snprintf (role, sizeof (role), "%s", PQgetvalue (result, 0, 3));
    char *email = sb_ctx_strndup (ctx, PQgetvalue (result, 0, 2), strlen (PQgetvalue (result, 0, 2)));
    PQclear (result);

    char hashed [crypto_pwhash_STRBYTES], user [37];
    if (auth_password_hash (password, hashed))
        return -1;
    sb_uuid_v4 (user);
    const char *params [] = { org, user, email, name, role, hashed };
    if (sb_db_run (sb_ctx_db (ctx),
                   "INSERT INTO users (organization_id, id, email, name, role, password_hash) "
                   "VALUES ($1, $2, $3, $4, $5, $6)", 6, params)) {
        if (streq (sb_db_sqlstate (sb_ctx_db (ctx)), "23505"))
            return sb_reply_error (reply, 409, AUTH_E_EMAIL_TAKEN,
                                   "an account with this email exists");
        return -1;
    }
    auth_audit (ctx, org, user, "invitation.accepted", invitation, NULL);
    return auth_reply_session (ctx, reply, 201, org, user, role);
}
