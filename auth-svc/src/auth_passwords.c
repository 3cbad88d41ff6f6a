/*  auth_passwords.c — a user's password: changing it (knowing the current
    one), asking for a reset link by mail, and resetting it with that link.

    A forgotten-password request answers the same, in the same time,
    whether or not the account exists: the mail is queued in the outbox
    (auth_mail.c), never sent inside the request. A reset or a change ends
    the user's other sessions.
*/
#include "auth.h"

int
auth_password_forgot (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *email = auth_arg_email (ctx, args, "email", &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    //  The answer never says whether the account exists, nor does its
    //  time: both kinds commit a write (this one), and the mail is queued,
    //  not sent. At most five mails per account per window keep the
    //  feature from mail-bombing.
    const char *ip = *sb_ctx_head (ctx)->ip ? sb_ctx_head (ctx)->ip : NULL;
    const char *request [] = { email, ip };
    if (sb_db_run (sb_ctx_db (ctx), "INSERT INTO forgot_requests (email_lower, ip) VALUES ($1, $2)",
                   2, request))
        return -1;
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        "SELECT u.organization_id, u.id, u.email, "
        "  (SELECT count (*) FROM password_resets r WHERE r.user_id = u.id"
        "   AND r.created_at > now () - interval '15 minutes') "
        "FROM users u WHERE lower (u.email) = $1",
        1, &email);
    if (!result)
        return -1;
    if (PQntuples (result) == 1 && atoi (PQgetvalue (result, 0, 3)) < 5) {
        const char *org = sb_ctx_strndup (ctx, PQgetvalue (result, 0, 0), 36);
        const char *user = sb_ctx_strndup (ctx, PQgetvalue (result, 0, 1), 36);
        char *token = auth_token_new (ctx, "");
        char minutes [8];
        snprintf (minutes, sizeof (minutes), "%d", AUTH_RESET_MINUTES);
        const char *params [] = { auth_token_hash (ctx, token), org, user, minutes };
        if (sb_db_run (sb_ctx_db (ctx),
                       "INSERT INTO password_resets (token_hash, organization_id, user_id, expires_at) "
                       "VALUES ($1::bytea, $2, $3, now () + make_interval (mins => $4::int))",
                       4, params)) {
            PQclear (result);
            return -1;
        }
        char text [1024];
        snprintf (text, sizeof (text),
                  "Someone asked to reset the password of your Switchboard account.\r\n\r\n"
                  "To choose a new password, open this link within %d minutes:\r\n\r\n"
                  "%s/reset-password?token=%s\r\n\r\n"
                  "If it was not you, ignore this message: your password stays as it is.\r\n",
                  AUTH_RESET_MINUTES, sb_ctx_config (ctx)->public_url, token);
        //  Queued, not sent: the answer must not wait for a mail server, or
        //  its time would tell that the account exists.
        if (auth_mail_queue (ctx, org, "password_reset", PQgetvalue (result, 0, 2),
                             "Reset your Switchboard password", text)) {
            PQclear (result);
            return -1;
        }
        auth_audit (ctx, org, NULL, "password.reset_requested", user, NULL);
    }
    PQclear (result);
    msgpack_packer *pk = sb_reply_body (reply, 202);
    msgpack_pack_map (pk, 1);
    sb_mpk_pack_kv_str (pk, "status", "accepted");
    return 0;
}

int
auth_password_reset (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *token = sb_arg_string (ctx, args, "token", true, 1, 8192, &fields);
    const char *password = auth_arg_password (ctx, args, "password", &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    const char *hash_param = auth_token_hash (ctx, token);
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "UPDATE password_resets SET used_at = now () "
                                   "WHERE token_hash = $1::bytea AND used_at IS NULL "
                                   "AND expires_at > now () RETURNING organization_id, user_id",
                                   1, &hash_param);
    if (!result)
        return -1;
    if (PQntuples (result) != 1) {
        PQclear (result);
        return sb_reply_error (reply, 400, AUTH_E_INVALID_TOKEN,
                               "this reset link is invalid, used or expired");
    }
    const char *org = sb_ctx_strndup (ctx, PQgetvalue (result, 0, 0), 36);
    const char *user = sb_ctx_strndup (ctx, PQgetvalue (result, 0, 1), 36);
    PQclear (result);
    char hash [crypto_pwhash_STRBYTES];
    if (auth_password_hash (password, hash))
        return -1;
    const char *update [] = { hash, org, user };
    const char *revoke [] = { org, user };
    if (sb_db_run (sb_ctx_db (ctx),
                   "UPDATE users SET password_hash = $1, updated_at = now () "
                   "WHERE organization_id = $2 AND id = $3", 3, update)
        || sb_db_run (sb_ctx_db (ctx),
                      "UPDATE password_resets SET used_at = now () "
                      "WHERE user_id = $2 AND organization_id = $1 AND used_at IS NULL",
                      2, revoke)
        || auth_sessions_revoke (ctx, "organization_id = $1 AND user_id = $2", 2, revoke,
                                 "password reset") < 0)
        return -1;
    auth_audit (ctx, org, user, "password.reset", user, NULL);
    msgpack_pack_nil (sb_reply_body (reply, 204));
    return 0;
}

int
auth_password_change (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    if (!*head->sub)
        return sb_reply_error (reply, 403, SB_E_FORBIDDEN, "an API key has no password");
    sb_fields_t fields = { 0 };
    const msgpack_object *current = sb_mpk_get (args, "current_password");
    if (!current || current->type != MSGPACK_OBJECT_STR || current->via.str.size == 0)
        sb_fields_add (&fields, "current_password", "is required");
    const char *password = auth_arg_password (ctx, args, "new_password", &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    const char *params [] = { head->org, head->sub };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT password_hash FROM users "
                                   "WHERE organization_id = $1 AND id = $2 FOR UPDATE",
                                   2, params);
    if (!result)
        return -1;
    char *given = sb_ctx_strndup (ctx, current->via.str.ptr, current->via.str.size);
    bool valid = PQntuples (result) == 1 && auth_password_verify (PQgetvalue (result, 0, 0), given);
    PQclear (result);
    if (!valid)
        return sb_reply_error (reply, 401, AUTH_E_INVALID_CREDENTIALS,
                               "the current password is wrong");
    char hash [crypto_pwhash_STRBYTES];
    if (auth_password_hash (password, hash))
        return -1;
    const char *update [] = { hash, head->org, head->sub };
    if (sb_db_run (sb_ctx_db (ctx),
                   "UPDATE users SET password_hash = $1, updated_at = now () "
                   "WHERE organization_id = $2 AND id = $3", 3, update))
        return -1;
    //  Every other session of the user ends; this one goes on.
    const char *revoke [] = { head->org, head->sub, *head->sid ? head->sid : NULL };
    if (auth_sessions_revoke (ctx,
                              "organization_id = $1 AND user_id = $2 "
                              "AND id IS DISTINCT FROM $3::uuid",
                              3, revoke, "password changed") < 0)
        return -1;
    auth_audit (ctx, head->org, head->sub, "password.changed", head->sub, NULL);
    msgpack_pack_nil (sb_reply_body (reply, 204));
    return 0;
}
