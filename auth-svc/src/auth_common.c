/*  auth_common.c — what auth-svc's handlers share: random tokens and their
    hashes, email and password fields, the audit log, sessions (start,
    access tokens, revocation) and the public views of a user and an
    organization.
*/
#include "auth.h"

char *
auth_token_new (sb_ctx_t *ctx, const char *prefix)
{
    unsigned char raw [32];
    randombytes_buf (raw, sizeof (raw));
    size_t prefix_len = strlen (prefix);
    size_t size = prefix_len + sodium_base64_ENCODED_LEN (sizeof (raw),
                                                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *token = (char *) sb_ctx_alloc (ctx, size);
    memcpy (token, prefix, prefix_len);
    sodium_bin2base64 (token + prefix_len, size - prefix_len, raw, sizeof (raw),
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return token;
}

char *
auth_token_hash (sb_ctx_t *ctx, const char *token)
{
    unsigned char digest [crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, (const unsigned char *) token, strlen (token));
    char *text = (char *) sb_ctx_alloc (ctx, 3 + 2 * sizeof (digest));
    memcpy (text, "\\x", 2);
    sodium_bin2hex (text + 2, 1 + 2 * sizeof (digest), digest, sizeof (digest));
    return text;
}

const char *
auth_arg_email (sb_ctx_t *ctx, const msgpack_object *args, const char *name, sb_fields_t *fields)
{
    const char *email = sb_arg_string (ctx, args, name, true, 3, 254, fields);
    if (!email)
        return NULL;
    char why [128];
    const char *at = strchr (email, '@');
    if (sb_mail_check_address (email, why, sizeof (why)) || !at || at == email
        || !strchr (at, '.') || at [1] == '.' || email [strlen (email) - 1] == '.') {
        sb_fields_add (fields, name, "must be an email address");
        return NULL;
    }
    char *lower = (char *) email;       //  our arena copy
    for (char *c = lower; *c; c++)
        *c = (char) tolower ((unsigned char) *c);
    return lower;
}

const char *
auth_arg_password (sb_ctx_t *ctx, const msgpack_object *args, const char *name,
                   sb_fields_t *fields)
{
    const msgpack_object *obj = sb_mpk_get (args, name);
    if (!obj || obj->type == MSGPACK_OBJECT_NIL) {
        sb_fields_add (fields, name, "is required");
        return NULL;
    }
    //  Any characters may be in a password; only the length is ruled.
    if (obj->type != MSGPACK_OBJECT_STR || memchr (obj->via.str.ptr, 0, obj->via.str.size)) {
        sb_fields_add (fields, name, "must be a string");
        return NULL;
    }
    size_t chars = 0;
    for (uint32_t i = 0; i < obj->via.str.size; i++)
        if (((unsigned char) obj->via.str.ptr [i] >> 6) != 2)
            chars++;
    if (chars < AUTH_PASSWORD_MIN || chars > AUTH_PASSWORD_MAX) {
        sb_fields_add (fields, name, "must be %d to %d characters long", AUTH_PASSWORD_MIN,
                       AUTH_PASSWORD_MAX);
        return NULL;
    }
    return sb_ctx_strndup (ctx, obj->via.str.ptr, obj->via.str.size);
}

bool
auth_subdomain_valid (const char *subdomain)
{
    static const char *const reserved [] = {
        "www", "api", "app", "admin", "mail", "smtp", "ftp", "static", "assets", "cdn",
        "docs", "status", "help", "support", "billing", "auth", "login", "signup", "dashboard",
        "internal", "root", "switchboard", NULL
    };
    size_t len = strlen (subdomain);
    if (len < 1 || len > 63 || subdomain [0] == '-' || subdomain [len - 1] == '-')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(islower ((unsigned char) subdomain [i]) || isdigit ((unsigned char) subdomain [i])
              || subdomain [i] == '-'))
            return false;
    for (size_t i = 0; reserved [i]; i++)
        if (streq (subdomain, reserved [i]))
            return false;
    return true;
}

void
auth_audit (sb_ctx_t *ctx, const char *org, const char *actor, const char *action,
            const char *target, const char *details_json)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    const char *params [] = { org, actor && *actor ? actor : NULL, action, target,
                              *head->ip ? head->ip : NULL, details_json };
    sb_db_run (sb_ctx_db (ctx),
               "INSERT INTO audit_log (organization_id, actor_id, action, target, ip, details) "
               "VALUES ($1, $2, $3, $4, $5, coalesce ($6::jsonb, '{}'))",
               6, params);
}

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

int
auth_session_start (sb_ctx_t *ctx, msgpack_packer *pk, const char *org, const char *user,
                    const char *role)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    char sid [37], days [16];
    sb_uuid_v4 (sid);
    snprintf (days, sizeof (days), "%d", sb_ctx_config (ctx)->refresh_token_days);
    char *refresh = auth_token_new (ctx, "sbr_");
    const char *session [] = { org, sid, user, *head->ip ? head->ip : NULL };
    const char *token [] = { auth_token_hash (ctx, refresh), org, sid, days };
    if (sb_db_run (sb_ctx_db (ctx),
                   "INSERT INTO sessions (organization_id, id, user_id, ip) VALUES ($1, $2, $3, $4)",
                   4, session)
        || sb_db_run (sb_ctx_db (ctx),
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

int
auth_pack_user (sb_ctx_t *ctx, msgpack_packer *pk, const char *org, const char *user)
{
    const char *params [] = { org, user };
    return sb_db_pack_query_row (sb_ctx_db (ctx), pk,
                                 "SELECT id, email, name, role, " SB_SQL_TS ("created_at")
                                 " AS created_at FROM users WHERE organization_id = $1 AND id = $2",
                                 2, params);
}

int
auth_pack_org (sb_ctx_t *ctx, msgpack_packer *pk, const char *org)
{
    const char *params [] = { org };
    return sb_db_pack_query_row (sb_ctx_db (ctx), pk,
                                 "SELECT id, name, subdomain, " SB_SQL_TS ("created_at")
                                 " AS created_at, referral_code FROM organizations WHERE id = $1",
                                 1, params);
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
