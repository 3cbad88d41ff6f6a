/*  auth_users.c — signing up, logging in, passwords, and the users of an
    organization.

    Login is built to give nothing away: an unknown email and a wrong
    password get the same answer after the same argon2id work, and
    throttling counts failures per account and client address (so that the
    owner, from their own address, is not locked out by someone else's
    failures), per account from all addresses (a higher ceiling) and per
    client address over a sliding window, refusing with 429 and the seconds
    to wait before any password is checked.
*/
#include "auth.h"

//  A subdomain from an organization name: lower case, runs of anything but
//  letters and digits as one '-', at most 40 characters.
static void
s_slug (const char *name, char *slug, size_t size)
{
    size_t n = 0;
    bool dash = false;
    for (const char *c = name; *c && n + 2 < size && n < 40; c++) {
        if (isalnum ((unsigned char) *c) && !((unsigned char) *c & 0x80)) {
            if (dash && n > 0)
                slug [n++] = '-';
            slug [n++] = (char) tolower ((unsigned char) *c);
            dash = false;
        }
        else
            dash = true;
    }
    slug [n] = 0;
}

static bool
s_exists (sb_ctx_t *ctx, const char *sql, const char *value, bool *exists)
{
    PGresult *result = sb_db_exec (sb_ctx_db (ctx), sql, 1, &value);
    if (!result)
        return false;
    *exists = PQntuples (result) > 0;
    PQclear (result);
    return true;
}

#define S_EMAIL_EXISTS "SELECT 1 FROM users WHERE lower (email) = $1"
#define S_SUBDOMAIN_EXISTS "SELECT 1 FROM organizations WHERE subdomain = $1"

int
auth_signup (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *email = auth_arg_email (ctx, args, "email", &fields);
    const char *password = auth_arg_password (ctx, args, "password", &fields);
    const char *name = sb_arg_string (ctx, args, "name", true, 1, 100, &fields);
    const char *org_name = sb_arg_string (ctx, args, "organization_name", true, 1, 200, &fields);
    const char *subdomain = sb_arg_string (ctx, args, "subdomain", false, 1, 63, &fields);
    if (subdomain && !auth_subdomain_valid (subdomain))
        sb_fields_add (&fields, "subdomain",
                       "must be lower-case letters, digits and inner hyphens, and not reserved");
    sb_arg_string (ctx, args, "referral_code", false, 1, 64, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);

    bool taken;
    if (!s_exists (ctx, S_EMAIL_EXISTS, email, &taken))
        return -1;
    if (taken)
        return sb_reply_error (reply, 409, AUTH_E_EMAIL_TAKEN, "an account with this email exists");

    char chosen [64];
    if (subdomain) {
        if (!s_exists (ctx, S_SUBDOMAIN_EXISTS, subdomain, &taken))
            return -1;
        if (taken)
            return sb_reply_error (reply, 409, AUTH_E_SUBDOMAIN_TAKEN, "this subdomain is taken");
        snprintf (chosen, sizeof (chosen), "%s", subdomain);
    }
    else {
        //  Derived from the name; a random suffix when taken or unusable.
        char slug [48];
        s_slug (org_name, slug, sizeof (slug));
        snprintf (chosen, sizeof (chosen), "%s", *slug ? slug : "org");
        for (int attempt = 0; ; attempt++) {
            if (auth_subdomain_valid (chosen)) {
                if (!s_exists (ctx, S_SUBDOMAIN_EXISTS, chosen, &taken))
                    return -1;
                if (!taken)
                    break;
            }
            if (attempt == 8)
                return sb_reply_error (reply, 409, AUTH_E_SUBDOMAIN_TAKEN,
                                       "no free subdomain could be derived: choose one");
            char suffix [9];
            sb_random_hex (suffix, 3);
            snprintf (chosen, sizeof (chosen), "%s-%s", *slug ? slug : "org", suffix);
        }
    }

    char hash [crypto_pwhash_STRBYTES];
    if (auth_password_hash (password, hash))
        return -1;
    char org [37], user [37], referral [17];
    sb_uuid_v4 (org);
    sb_uuid_v4 (user);
    sb_random_hex (referral, 5);
    for (char *c = referral; *c; c++)
        *c = (char) toupper ((unsigned char) *c);
    const char *org_params [] = { org, org_name, chosen, referral };
    const char *user_params [] = { org, user, email, name, hash };
    if (sb_db_run (sb_ctx_db (ctx),
                   "INSERT INTO organizations (id, name, subdomain, referral_code) "
                   "VALUES ($1, $2, $3, $4)", 4, org_params)
        || sb_db_run (sb_ctx_db (ctx),
                      "INSERT INTO users (organization_id, id, email, name, role, password_hash) "
                      "VALUES ($1, $2, $3, $4, 'admin', $5)", 5, user_params)) {
        //  A concurrent signup took the email or the subdomain first.
        if (streq (sb_db_sqlstate (sb_ctx_db (ctx)), "23505"))
            return sb_reply_error (reply, 409, AUTH_E_EMAIL_TAKEN,
                                   "an account with this email or subdomain exists");
        return -1;
    }
    auth_audit (ctx, org, user, "user.signup", email, NULL);
    return auth_reply_session (ctx, reply, 201, org, user, "admin");
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
    auth_audit (ctx, org, user, "login.succeeded", email, NULL);
    return auth_reply_session (ctx, reply, 200, org, user, role);
}

int
auth_me (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
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
    sb_mpk_pack_kv_str (pk, "plan", sb_ctx_plan (ctx, NULL)->id);
    PQclear (result);
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
