/*  auth_org.c — the organization: signing up (auth.signup creates an
    organization and its first admin, and starts their session; a referral
    code given with it is handed to auth_referrals.c, and the answer then
    says what became of it), its settings, its deletion, and the lookup
    the gateway uses to match a request's subdomain.

    Deleting an organization ends every session and API key first (so the
    gateways stop accepting them at once), deletes its identity data here,
    and, in the same transaction, records that every other data-owning
    service owes the purge of its data (auth_deletions.c delivers that
    until each has acknowledged, also to a service that is down now). It
    still publishes org.deleted, for the gateways' caches only: no
    service's data deletion depends on that event.
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
    const char *code = sb_arg_string (ctx, args, "referral_code", false, 1, 64, &fields);
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
    if (!code)
        return auth_reply_session (ctx, reply, 201, org, user, "admin");

    //  auth_reply_session's answer, with what became of the referral code.
    const char *why = NULL;
    int recorded = auth_referrals_record (ctx, org, email, code, &why);
    if (recorded < 0)
        return -1;
    msgpack_packer *pk = sb_reply_body (reply, 201);
    msgpack_pack_map (pk, 7);
    sb_mpk_pack_str (pk, "user");
    if (auth_pack_user (ctx, pk, org, user))
        return -1;
    sb_mpk_pack_str (pk, "organization");
    if (auth_pack_org (ctx, pk, org))
        return -1;
    sb_mpk_pack_str (pk, "referral");
    msgpack_pack_map (pk, 3);
    sb_mpk_pack_kv_str (pk, "code", code);
    sb_mpk_pack_str (pk, "accepted");
    if (recorded)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    sb_mpk_pack_str (pk, "reason");
    if (why)
        sb_mpk_pack_str (pk, why);
    else
        msgpack_pack_nil (pk);
    return auth_session_start (ctx, pk, org, user, "admin");
}

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
auth_org_counts (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = sb_arg_uuid (ctx, args, "organization_id", true, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    if (sb_db_set_org (sb_ctx_db (ctx), org))
        return -1;
    return sb_reply_one (reply, sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT " AUTH_SQL_SEATS_USED " AS seats "
                                   "FROM organizations o WHERE o.id = $1", 1, &org),
                         200, "no such organization");
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
