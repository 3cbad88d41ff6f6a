/*  auth_sessions.c — sessions: logging in, refreshing, logging out, the
    revoked sessions the gateways ask for, and the helpers every handler
    that starts or ends sessions uses (auth_session_start,
    auth_reply_session, auth_access_token, auth_sessions_revoke).

    A session is one login. Its refresh tokens form a family: each refresh
    marks the token used and issues the next one. A used token presented
    again means the family leaked (the thief or the owner has a newer one),
    so the whole session is revoked — its refresh tokens and, through the
    sessions.revoked event, its access tokens at every gateway.

    Login is built to give nothing away: an unknown email and a wrong
    password get the same answer after the same argon2id work, and
    throttling counts failures per account and client address (so that the
    owner, from their own address, is not locked out by someone else's
    failures), per account from all addresses (a higher ceiling) and per
    client address over a sliding window, refusing with 429 and the seconds
    to wait before any password is checked.
*/
#include "auth.h"

char *
auth_access_token (sb_ctx_t *ctx, const char *org, const char *user, const char *role,
                   const char *sid)
{
    const sb_config_t *config = sb_ctx_config (ctx);
    sb_jwt_claims_t claims = { .iat = sb_now_ms () / 1000 };
    claims.exp = claims.iat + config->access_token_ttl;
    snprintf (claims.iss, sizeof (claims.iss), "%s", sb_config_issuer (config));
    snprintf (claims.sub, sizeof (claims.sub), "%s", user);
    snprintf (claims.org, sizeof (claims.org), "%s", org);
    snprintf (claims.role, sizeof (claims.role), "%s", role);
    snprintf (claims.sid, sizeof (claims.sid), "%s", sid);
    sb_uuid_v4 (claims.jti);
    char *token = sb_jwt_sign (auth_keys (), &claims);
    if (!token)
        return NULL;
    char *copy = sb_ctx_strndup (ctx, token, strlen (token));
    free (token);
    return copy;
}

//  Issues the token pair of session sid: stores a new refresh token (its
//  hash), signs an access token, and packs the four entries access_token,
//  refresh_token, token_type, expires_in into pk. 0, or -1 when a
//  statement or the signature failed.
static int
s_issue_tokens (sb_ctx_t *ctx, msgpack_packer *pk, const char *org, const char *user,
                const char *role, const char *sid)
{
    char days [16];
    snprintf (days, sizeof (days), "%d", sb_ctx_config (ctx)->refresh_token_days);
    char *refresh = auth_token_new (ctx, "sbr_");
    const char *token [] = { auth_token_hash (ctx, refresh), org, sid, days };
    if (sb_db_run (sb_ctx_db (ctx),
                   "INSERT INTO refresh_tokens (token_hash, organization_id, session_id, "
                   "expires_at) VALUES ($1::bytea, $2, $3, now () + make_interval (days => $4::int))",
                   4, token))
        return -1;
    char *access = auth_access_token (ctx, org, user, role, sid);
    if (!access)
        return -1;
    sb_mpk_pack_kv_str (pk, "access_token", access);
    sb_mpk_pack_kv_str (pk, "refresh_token", refresh);
    sb_mpk_pack_kv_str (pk, "token_type", "Bearer");
    sb_mpk_pack_kv_int (pk, "expires_in", sb_ctx_config (ctx)->access_token_ttl);
    return 0;
}

int
auth_session_start (sb_ctx_t *ctx, msgpack_packer *pk, const char *org, const char *user,
                    const char *role)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    char sid [37];
    sb_uuid_v4 (sid);
    const char *session [] = { org, sid, user, *head->ip ? head->ip : NULL };
    if (sb_db_run (sb_ctx_db (ctx),
                   "INSERT INTO sessions (organization_id, id, user_id, ip) VALUES ($1, $2, $3, $4)",
                   4, session))
        return -1;
    return s_issue_tokens (ctx, pk, org, user, role, sid);
}

//  Packs {user, organization} then the token pairs into a new 6-entry map
//  of a reply with status.
int
auth_reply_session (sb_ctx_t *ctx, sb_reply_t *reply, int status, const char *org, const char *user,
                 const char *role)
{
    msgpack_packer *pk = sb_reply_body (reply, status);
    msgpack_pack_map (pk, 6);
    sb_mpk_pack_str (pk, "user");
    if (auth_pack_user (ctx, pk, org, user))
        return -1;
    sb_mpk_pack_str (pk, "organization");
    if (auth_pack_org (ctx, pk, org))
        return -1;
    return auth_session_start (ctx, pk, org, user, role);
}

int
auth_sessions_revoke (sb_ctx_t *ctx, const char *where, int nparams, const char *const *params,
                      const char *reason)
{
    //  The reason is the last parameter, after the caller's.
    const char *all [16];
    assert (nparams < 15);
    memcpy (all, params, sizeof (char *) * (size_t) nparams);
    all [nparams] = reason;
    char sql [512];
    snprintf (sql, sizeof (sql),
              "UPDATE sessions SET revoked_at = now (), revoke_reason = $%d "
              "WHERE revoked_at IS NULL AND (%s) RETURNING id",
              nparams + 1, where);
    PGresult *result = sb_db_exec (sb_ctx_db (ctx), sql, nparams + 1, all);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    if (rows > 0) {
        //  Gateways drop these sessions' access tokens as soon as they hear.
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 1);
        sb_mpk_pack_str (&pk, "sids");
        msgpack_pack_array (&pk, (size_t) rows);
        for (int r = 0; r < rows; r++)
            sb_mpk_pack_str (&pk, PQgetvalue (result, r, 0));
        sb_ctx_publish (ctx, "sessions.revoked", buf.data, buf.size);
        msgpack_sbuffer_destroy (&buf);
    }
    PQclear (result);
    return rows;
}

//  Seconds to wait when a login is throttled, 0 when it may go ahead.
//  Three counts of failures over the window, each with its limit: of the
//  account from this client address (since that address's last success
//  on it), so that whoever fails from elsewhere cannot lock the owner out;
//  of the account from every address, a ceiling well above the first that
//  bounds the guesses a spread-out attacker gets (an owner's success does
//  not reset it); and of this address over every account (never reset: an
//  attacker could log into an account of their own). The wait is until the
//  oldest counted failure leaves the window.
static int
s_throttled (sb_ctx_t *ctx, const char *email, const char *ip, int *retry_after)
{
    const sb_config_t *config = sb_ctx_config (ctx);
    char window [16], pair_max [16], client_max [16], account_max [16];
    snprintf (window, sizeof (window), "%d", config->login_lockout_seconds);
    snprintf (pair_max, sizeof (pair_max), "%d", config->login_max_failures);
    snprintf (client_max, sizeof (client_max), "%d", config->login_max_client_failures);
    snprintf (account_max, sizeof (account_max), "%d", config->login_max_account_failures);
    const char *params [] = { email, ip, window, pair_max, client_max, account_max };
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        "WITH pair AS ("
        "  SELECT count (*) AS n, min (at) AS oldest FROM login_attempts"
        "  WHERE email_lower = $1 AND ip = $2 AND NOT succeeded"
        "    AND at > now () - make_interval (secs => $3::int)"
        "    AND at > coalesce ((SELECT max (at) FROM login_attempts"
        "                        WHERE email_lower = $1 AND ip = $2 AND succeeded),"
        "                       '-infinity')),"
        " account AS ("
        "  SELECT count (*) AS n, min (at) AS oldest FROM login_attempts"
        "  WHERE email_lower = $1 AND NOT succeeded"
        "    AND at > now () - make_interval (secs => $3::int)),"
        " client AS ("
        "  SELECT count (*) AS n, min (at) AS oldest FROM login_attempts"
        "  WHERE ip = $2 AND NOT succeeded AND at > now () - make_interval (secs => $3::int))"
        " SELECT CASE"
        "   WHEN pair.n >= $4::int THEN ceil (extract (epoch FROM"
        "        pair.oldest + make_interval (secs => $3::int) - now ()))"
        "   WHEN account.n >= $6::int THEN ceil (extract (epoch FROM"
        "        account.oldest + make_interval (secs => $3::int) - now ()))"
        "   WHEN client.n >= $5::int THEN ceil (extract (epoch FROM"
        "        client.oldest + make_interval (secs => $3::int) - now ()))"
        "   ELSE 0 END::int"
        " FROM pair, account, client",
        6, params);
    if (!result)
        return -1;
    *retry_after = atoi (PQgetvalue (result, 0, 0));
    if (*retry_after < 0)
        *retry_after = 0;
    PQclear (result);
    return 0;
}

int
auth_login (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *email = auth_arg_email (ctx, args, "email", &fields);
    const msgpack_object *given = sb_mpk_get (args, "password");
    if (!given || given->type != MSGPACK_OBJECT_STR || given->via.str.size == 0
        || given->via.str.size > 4 * AUTH_PASSWORD_MAX
        || memchr (given->via.str.ptr, 0, given->via.str.size))
        sb_fields_add (&fields, "password", "is required");
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    char *password = sb_ctx_strndup (ctx, given->via.str.ptr, given->via.str.size);
    const char *ip = *sb_ctx_head (ctx)->ip ? sb_ctx_head (ctx)->ip : "-";

    int retry_after = 0;
    if (s_throttled (ctx, email, ip, &retry_after))
        return -1;
    if (retry_after > 0) {
        msgpack_packer *pk = sb_reply_error_extra (reply, 429, AUTH_E_TOO_MANY_ATTEMPTS,
                                                   "too many failed logins: try again later", 1);
        sb_mpk_pack_kv_int (pk, "retry_after", retry_after);
        return 0;
    }

    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT organization_id, id, role, password_hash FROM users "
                                   "WHERE lower (email) = $1",
                                   1, &email);
    if (!result)
        return -1;
    bool found = PQntuples (result) == 1;
    bool valid = auth_password_verify (found ? PQgetvalue (result, 0, 3) : NULL, password);
    char org [37] = "", user [37] = "", role [16] = "";
    if (found) {
        snprintf (org, sizeof (org), "%s", PQgetvalue (result, 0, 0));
        snprintf (user, sizeof (user), "%s", PQgetvalue (result, 0, 1));
        snprintf (role, sizeof (role), "%s", PQgetvalue (result, 0, 2));
        //  Parameters changed since this hash was made: make it anew.
        if (valid && crypto_pwhash_str_needs_rehash (PQgetvalue (result, 0, 3), 2, 19456 * 1024)) {
            char hash [crypto_pwhash_STRBYTES];
            const char *params [] = { hash, org, user };
            if (auth_password_hash (password, hash) == 0)
                sb_db_run (sb_ctx_db (ctx),
                           "UPDATE users SET password_hash = $1 WHERE organization_id = $2 AND id = $3",
                           3, params);
        }
    }
    PQclear (result);

    const char *attempt [] = { email, ip, valid ? "true" : "false" };
    if (sb_db_run (sb_ctx_db (ctx),
                   "INSERT INTO login_attempts (email_lower, ip, succeeded) VALUES ($1, $2, $3)",
                   3, attempt))
        return -1;
    if (!valid) {
        if (found)
            auth_audit (ctx, org, NULL, "login.failed", email, NULL);
        //  The failure must be remembered although the answer is an error.
        sb_ctx_commit_on_error (ctx);
        return sb_reply_error (reply, 401, AUTH_E_INVALID_CREDENTIALS,
                               "the email or the password is wrong");
    }
    //  The right password of a suspended organization's user: said so
    //  (the password was proven, nothing is given away), no session.
    int error = 0;
    if (auth_org_suspended (ctx, org, &error))
        return sb_reply_error (reply, 403, SB_E_ORGANIZATION_SUSPENDED,
                               SB_ORGANIZATION_SUSPENDED_MESSAGE);
    if (error)
        return -1;
    auth_audit (ctx, org, user, "login.succeeded", email, NULL);
    return auth_reply_session (ctx, reply, 200, org, user, role);
}

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
    int error = 0;
    if (auth_org_suspended (ctx, org, &error))
        return sb_reply_error (reply, 403, SB_E_ORGANIZATION_SUSPENDED,
                               SB_ORGANIZATION_SUSPENDED_MESSAGE);
    if (error)
        return -1;

    const char *mark [] = { hash };
    if (sb_db_run (sb_ctx_db (ctx),
                   "UPDATE refresh_tokens SET used_at = now () WHERE token_hash = $1::bytea", 1, mark))
        return -1;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 4);
    return s_issue_tokens (ctx, pk, org, user, role, sid);
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
