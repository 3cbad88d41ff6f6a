/*  auth_tokens.c — refresh tokens, logout, the JWKS document, and the
    revoked sessions the gateways ask for.

    A session is one login. Its refresh tokens form a family: each refresh
    marks the token used and issues the next one. A used token presented
    again means the family leaked (the thief or the owner has a newer one),
    so the whole session is revoked — its refresh tokens and, through the
    sessions.revoked event, its access tokens at every gateway.
*/
#include "auth.h"

int
auth_refresh (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *token = sb_arg_string (ctx, args, "refresh_token", true, 1, 8192, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    const char *hash = auth_token_hash (ctx, token);
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        "SELECT t.organization_id, t.session_id, s.user_id, u.role, t.used_at IS NOT NULL, "
        "  t.expires_at < now (), s.revoked_at IS NOT NULL "
        "FROM refresh_tokens t "
        "JOIN sessions s ON s.organization_id = t.organization_id AND s.id = t.session_id "
        "JOIN users u ON u.organization_id = s.organization_id AND u.id = s.user_id "
        "WHERE t.token_hash = $1::bytea FOR UPDATE OF t, s",
        1, &hash);
    if (!result)
        return -1;
    if (PQntuples (result) != 1) {
        PQclear (result);
        return sb_reply_error (reply, 401, AUTH_E_INVALID_TOKEN, "this refresh token is not valid");
    }
    char org [37], sid [37], user [37], role [16];
    snprintf (org, sizeof (org), "%s", PQgetvalue (result, 0, 0));
    snprintf (sid, sizeof (sid), "%s", PQgetvalue (result, 0, 1));
    snprintf (user, sizeof (user), "%s", PQgetvalue (result, 0, 2));
    snprintf (role, sizeof (role), "%s", PQgetvalue (result, 0, 3));
    bool used = PQgetvalue (result, 0, 4) [0] == 't';
    bool expired = PQgetvalue (result, 0, 5) [0] == 't';
    bool revoked = PQgetvalue (result, 0, 6) [0] == 't';
    PQclear (result);

    if (used && !revoked) {
        const char *params [] = { org, sid };
        if (auth_sessions_revoke (ctx, "organization_id = $1 AND id = $2", 2, params,
                                  "refresh token reused") < 0)
            return -1;
        auth_audit (ctx, org, user, "session.refresh_reused", sid, NULL);
        sb_ctx_commit_on_error (ctx);
    }
    if (used || expired || revoked)
        return sb_reply_error (reply, 401, AUTH_E_INVALID_TOKEN, "this refresh token is not valid");

    char *next = auth_token_new (ctx, "sbr_");
    char days [16];
    snprintf (days, sizeof (days), "%d", sb_ctx_config (ctx)->refresh_token_days);
    const char *mark [] = { hash };
    const char *insert [] = { auth_token_hash (ctx, next), org, sid, days };
    if (sb_db_run (sb_ctx_db (ctx),
                   "UPDATE refresh_tokens SET used_at = now () WHERE token_hash = $1::bytea", 1, mark)
        || sb_db_run (sb_ctx_db (ctx),
                      "INSERT INTO refresh_tokens (token_hash, organization_id, session_id, "
                      "expires_at) VALUES ($1::bytea, $2, $3, now () + make_interval (days => $4::int))",
                      4, insert))
        return -1;
    char *access = auth_access_token (ctx, org, user, role, sid);
    if (!access)
        return -1;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 4);
    sb_mpk_pack_kv_str (pk, "access_token", access);
    sb_mpk_pack_kv_str (pk, "refresh_token", next);
    sb_mpk_pack_kv_str (pk, "token_type", "Bearer");
    sb_mpk_pack_kv_int (pk, "expires_in", sb_ctx_config (ctx)->access_token_ttl);
    return 0;
}

int
auth_logout (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    if (!*head->sub)
        return sb_reply_error (reply, 403, SB_E_FORBIDDEN, "an API key has no session to end");
    sb_fields_t fields = { 0 };
    bool all = false;
    sb_arg_bool (args, "all", &all, &fields);
    const char *token = sb_arg_string (ctx, args, "refresh_token", false, 1, 8192, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    int rc;
    if (all) {
        const char *params [] = { head->org, head->sub };
        rc = auth_sessions_revoke (ctx, "organization_id = $1 AND user_id = $2", 2, params,
                                   "logout everywhere");
    }
    else
    if (token) {
        //  The session of that refresh token, if it is one of the caller's.
        const char *params [] = { head->org, head->sub, auth_token_hash (ctx, token) };
        rc = auth_sessions_revoke (ctx,
                                   "organization_id = $1 AND user_id = $2 AND id = "
                                   "(SELECT session_id FROM refresh_tokens WHERE token_hash = $3::bytea)",
                                   3, params, "logout");
    }
    else {
        const char *params [] = { head->org, head->sub, *head->sid ? head->sid : NULL };
        rc = auth_sessions_revoke (ctx, "organization_id = $1 AND user_id = $2 AND id = $3::uuid",
                                   3, params, "logout");
    }
    if (rc < 0)
        return -1;
    auth_audit (ctx, head->org, head->sub, all ? "session.logout_all" : "session.logout",
                head->sid, NULL);
    msgpack_pack_nil (sb_reply_body (reply, 204));
    return 0;
}

int
auth_jwks (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) ctx;
    (void) args;
    char *text = sb_jwt_keys_jwks (auth_keys ());
    char why [128];
    json_t *jwks = text ? sb_json_parse (text, strlen (text), why, sizeof (why)) : NULL;
    free (text);
    if (!jwks)
        return -1;
    sb_json_pack (sb_reply_body (reply, 200), jwks);
    json_decref (jwks);
    return 0;
}

int
auth_sessions_revoked (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    //  With sid: whether that one session is over ({sids: [sid]}) or live
    //  ({sids: []}), for a gateway whose revoked list is full. A session
    //  that does not exist (its user was deleted) is over.
    char sid [65];
    if (sb_mpk_copy_str (sb_mpk_get (args, "sid"), sid, sizeof (sid)) == 0) {
        bool live = false;
        if (sb_is_uuid (sid)) {
            const char *params [] = { sid };
            PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                           "SELECT 1 FROM sessions WHERE id = $1 "
                                           "AND revoked_at IS NULL AND user_id IS NOT NULL",
                                           1, params);
            if (!result)
                return -1;
            live = PQntuples (result) == 1;
            PQclear (result);
        }
        msgpack_packer *pk = sb_reply_body (reply, 200);
        msgpack_pack_map (pk, 1);
        sb_mpk_pack_str (pk, "sids");
        msgpack_pack_array (pk, live ? 0 : 1);
        if (!live)
            sb_mpk_pack_str (pk, sid);
        return 0;
    }
    //  What a gateway that just started (or missed events) must not let
    //  through: sessions revoked while their access tokens may still live,
    //  with when (unix seconds) each was revoked.
    int64_t since = 0;
    if (sb_mpk_int (sb_mpk_get (args, "since_seconds"), &since) || since < 1 || since > 86400)
        since = 2 * sb_ctx_config (ctx)->access_token_ttl;
    char seconds [24];
    snprintf (seconds, sizeof (seconds), "%lld", (long long) since);
    const char *params [] = { seconds };
    //  Housekeeping on the gateways' minute: a revoked session outlives
    //  its user (so that it is listed here) by a day.
    if (sb_db_run (sb_ctx_db (ctx),
                   "DELETE FROM sessions WHERE user_id IS NULL "
                   "AND revoked_at < now () - interval '1 day'",
                   0, NULL))
        return -1;
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT id, extract (epoch FROM revoked_at)::bigint "
                                   "FROM sessions "
                                   "WHERE revoked_at > now () - make_interval (secs => $1::int)",
                                   1, params);
    if (!result)
        return -1;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 2);
    sb_mpk_pack_str (pk, "sids");
    msgpack_pack_array (pk, (size_t) PQntuples (result));
    for (int r = 0; r < PQntuples (result); r++)
        sb_mpk_pack_str (pk, PQgetvalue (result, r, 0));
    sb_mpk_pack_str (pk, "revoked_at");
    msgpack_pack_array (pk, (size_t) PQntuples (result));
    for (int r = 0; r < PQntuples (result); r++)
        msgpack_pack_int64 (pk, strtoll (PQgetvalue (result, r, 1), NULL, 10));
    PQclear (result);
    return 0;
}
