/*  auth_apikeys.c — API keys.

    A key reads `sbk_<8 lowercase hex>_<43 base64url characters>` (32
    random bytes; auth_apikey_compose and auth_apikey_parse are the one
    place that spells it): the first part is its
    public prefix (unique, shown in lists, used to find the key), the whole
    key's SHA-256 is what is stored; the key itself is shown once, at
    creation. Resolving a key (for the gateway, role service) finds it by
    prefix and compares hashes in constant time. The gateway reports the
    keys it has seen used in batches (apikeys.touch), so last_used_at costs
    one UPDATE per batch, not one per request.

    A key records the user on whose authority it was made (created_by): the
    user who made it, or, for a key made with another key, that key's
    creator. An admin's power lives on in the admin keys they made, so when
    an admin is demoted or removed, those keys are revoked
    (auth_apikeys_revoke_created_by) and the gateways told.
*/
#include "auth.h"

//  ---------------------------------------------------------------------
//  The key's text: composed here, parsed here, nowhere else.

static const char s_hex [] = "0123456789abcdef";

void
auth_apikey_compose (const unsigned char id [AUTH_APIKEY_ID_BYTES],
                     const unsigned char secret [AUTH_APIKEY_SECRET_BYTES],
                     char key [AUTH_APIKEY_LEN + 1])
{
    memcpy (key, "sbk_", 4);
    for (size_t i = 0; i < AUTH_APIKEY_ID_BYTES; i++) {
        key [4 + 2 * i] = s_hex [id [i] >> 4];
        key [5 + 2 * i] = s_hex [id [i] & 15];
    }
    key [AUTH_APIKEY_PREFIX_LEN] = '_';
    sodium_bin2base64 (key + AUTH_APIKEY_PREFIX_LEN + 1, AUTH_APIKEY_SECRET_LEN + 1, secret,
                       AUTH_APIKEY_SECRET_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

bool
auth_apikey_parse (const char *key, char prefix [AUTH_APIKEY_PREFIX_LEN + 1],
                   unsigned char secret [AUTH_APIKEY_SECRET_BYTES])
{
    if (!key || strnlen (key, AUTH_APIKEY_LEN + 1) != AUTH_APIKEY_LEN
        || memcmp (key, "sbk_", 4) != 0 || key [AUTH_APIKEY_PREFIX_LEN] != '_')
        return false;
    for (size_t i = 4; i < AUTH_APIKEY_PREFIX_LEN; i++)
        if (!strchr (s_hex, key [i]))
            return false;
    //  Canonical base64url of exactly 32 bytes: one spelling per secret.
    //  The alphabet is checked here: libsodium 1.0.18's decoder takes any
    //  byte from 0x80 up as '_' (found by tests/fuzz/apikey.c).
    for (size_t i = AUTH_APIKEY_PREFIX_LEN + 1; i < AUTH_APIKEY_LEN; i++) {
        char c = key [i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_'))
            return false;
    }
    unsigned char bytes [AUTH_APIKEY_SECRET_BYTES];
    size_t size = 0;
    if (sodium_base642bin (bytes, sizeof (bytes), key + AUTH_APIKEY_PREFIX_LEN + 1,
                           AUTH_APIKEY_SECRET_LEN, NULL, &size, NULL,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0
        || size != sizeof (bytes))
        return false;
    if (prefix) {
        memcpy (prefix, key, AUTH_APIKEY_PREFIX_LEN);
        prefix [AUTH_APIKEY_PREFIX_LEN] = 0;
    }
    if (secret)
        memcpy (secret, bytes, sizeof (bytes));
    sodium_memzero (bytes, sizeof (bytes));
    return true;
}

static void
s_publish_revoked (sb_ctx_t *ctx, const char *id, const char *org)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    sb_mpk_pack_kv_str (&pk, "id", id);
    sb_mpk_pack_kv_str (&pk, "org", org);
    sb_ctx_publish (ctx, "apikey.revoked", buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
}

//  Revokes the keys of an organization chosen by where (our own SQL over
//  api_keys; $1 is the organization, then the caller's parameters), tells
//  the gateways and audits each with details_json (NULL: {}). Returns the
//  number revoked, or -1.
static int
s_revoke_where (sb_ctx_t *ctx, const char *where, int nparams, const char *const *params,
                const char *details_json)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    char sql [512];
    snprintf (sql, sizeof (sql),
              "UPDATE api_keys SET revoked_at = now () WHERE organization_id = $1 "
              "AND revoked_at IS NULL AND (%s) RETURNING id",
              where);
    PGresult *result = sb_db_exec (sb_ctx_db (ctx), sql, nparams, params);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    for (int r = 0; r < rows; r++) {
        s_publish_revoked (ctx, PQgetvalue (result, r, 0), params [0]);
        auth_audit (ctx, params [0], head->sub, "apikey.revoked", PQgetvalue (result, r, 0),
                    details_json);
    }
    PQclear (result);
    return rows;
}

int
auth_apikeys_revoke_created_by (sb_ctx_t *ctx, const char *org, const char *user,
                                const char *details_json)
{
    const char *params [] = { org, user };
    return s_revoke_where (ctx, "role = 'admin' AND created_by = $2", 2, params, details_json);
}

int
auth_apikeys_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    sb_fields_t fields = { 0 };
    const char *name = sb_arg_string (ctx, args, "name", true, 1, 100, &fields);
    const char *role = sb_arg_string (ctx, args, "role", false, 1, 16, &fields);
    int64_t expires_usec = 0;
    const char *expires_at
        = sb_arg_timestamp (ctx, args, "expires_at", false, &expires_usec, &fields);
    if (role && !streq (role, "admin") && !streq (role, "user"))
        sb_fields_add (&fields, "role", "must be admin or user");
    if (expires_at && expires_usec <= (sb_now_ms () + 1000) * 1000)
        sb_fields_add (&fields, "expires_at", "must be in the future");
    if (fields.count)
        return sb_reply_fields (reply, &fields);

    char id [37], prefix [AUTH_APIKEY_PREFIX_LEN + 1], key [AUTH_APIKEY_LEN + 1];
    sb_uuid_v4 (id);
    unsigned char public_id [AUTH_APIKEY_ID_BYTES], secret [AUTH_APIKEY_SECRET_BYTES];
    randombytes_buf (public_id, sizeof (public_id));
    randombytes_buf (secret, sizeof (secret));
    auth_apikey_compose (public_id, secret, key);
    sodium_memzero (secret, sizeof (secret));
    memcpy (prefix, key, AUTH_APIKEY_PREFIX_LEN);
    prefix [AUTH_APIKEY_PREFIX_LEN] = 0;
    const char *params [] = { head->org, id, name, prefix, auth_token_hash (ctx, key),
                              role ? role : "user", *head->sub ? head->sub : NULL, expires_at,
                              *head->key ? head->key : NULL };
    //  Made with a key: on the authority of that key's creator.
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        "INSERT INTO api_keys (organization_id, id, name, prefix, secret_hash, role, created_by, "
        "expires_at) VALUES ($1, $2, $3, $4, $5::bytea, $6, coalesce ($7::uuid, "
        "  (SELECT created_by FROM api_keys WHERE organization_id = $1 AND id = $9::uuid)), "
        "$8::timestamptz) "
        "RETURNING id, name, prefix, role, " SB_SQL_TS ("created_at") " AS created_at, "
        SB_SQL_TS ("expires_at") " AS expires_at, created_by",
        9, params);
    if (!result)
        return -1;
    auth_audit (ctx, head->org, head->sub, "apikey.created", id, NULL);
    msgpack_packer *pk = sb_reply_body (reply, 201);
    msgpack_pack_map (pk, 8);
    for (int c = 0; c < PQnfields (result); c++) {
        sb_mpk_pack_str (pk, PQfname (result, c));
        if (PQgetisnull (result, 0, c))
            msgpack_pack_nil (pk);
        else
            sb_mpk_pack_str (pk, PQgetvalue (result, 0, c));
    }
    sb_mpk_pack_kv_str (pk, "key", key);
    sodium_memzero (key, sizeof (key));
    PQclear (result);
    return 0;
}

int
auth_apikeys_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    const char *org = sb_ctx_head (ctx)->org;
    //  created_by_email: null once that user is removed.
    return sb_reply_all (
        reply, sb_db_exec (sb_ctx_db (ctx),
                           "SELECT k.id, k.name, k.prefix, k.role, "
                           SB_SQL_TS ("k.created_at") " AS created_at, "
                           SB_SQL_TS ("k.last_used_at") " AS last_used_at, "
                           SB_SQL_TS ("k.expires_at") " AS expires_at, "
                           SB_SQL_TS ("k.revoked_at") " AS revoked_at, "
                           "k.created_by, u.email AS created_by_email "
                           "FROM api_keys k LEFT JOIN users u "
                           "ON u.organization_id = k.organization_id AND u.id = k.created_by "
                           "WHERE k.organization_id = $1 ORDER BY k.created_at DESC, k.id",
                           1, &org));
}

int
auth_apikeys_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such API key");
    const char *params [] = { head->org, id };
    int rows = s_revoke_where (ctx, "id = $2", 2, params, NULL);
    if (rows < 0)
        return -1;
    if (rows != 1)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such API key");
    msgpack_pack_nil (sb_reply_body (reply, 204));
    return 0;
}

int
auth_apikeys_resolve (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *key = sb_arg_string (ctx, args, "key", true, 1, 128, &fields);
    char prefix_text [AUTH_APIKEY_PREFIX_LEN + 1];
    if (!auth_apikey_parse (key, prefix_text, NULL))
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such API key");
    const char *prefix = prefix_text;
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        "SELECT k.id, k.organization_id AS org, k.role, o.subdomain, "
        "  extract (epoch FROM k.expires_at)::bigint AS expires_at, k.secret_hash AS _hash, "
        "  extract (epoch FROM now ())::bigint AS resolved_at "
        "FROM api_keys k JOIN organizations o ON o.id = k.organization_id "
        "WHERE k.prefix = $1 AND k.revoked_at IS NULL "
        "AND (k.expires_at IS NULL OR k.expires_at > now ())",
        1, &prefix);
    if (!result)
        return -1;
    //  The stored hash comes back as bytea text: compare it, in constant
    //  time, with the hash of what was presented.
    //  (The length first: a shorter value must not be read past its end.)
    bool valid = PQntuples (result) == 1
                 && (size_t) PQgetlength (result, 0, 5) == 2 + 2 * crypto_hash_sha256_BYTES
                 && sodium_memcmp (PQgetvalue (result, 0, 5), auth_token_hash (ctx, key),
                                   2 + 2 * crypto_hash_sha256_BYTES) == 0;
    if (valid)
        sb_db_pack_row (sb_reply_body (reply, 200), result, 0);
    else
        sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such API key");
    PQclear (result);
    return 0;
}

//  What a gateway keeping resolved keys must forget: the keys revoked in
//  the last since_seconds (1 to 3600), by the database's clock, with that
//  clock's reading: {now, complete, ids: [key id], orgs: [organization]}.
//  complete is false when more than S_REVOKED_MAX were revoked in the
//  window: the first ones are listed, and the gateway must not take the
//  list as a proof that no other key was revoked.
#define S_REVOKED_MAX 10000

int
auth_apikeys_revoked (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    int64_t since = 0;
    if (sb_mpk_int (sb_mpk_get (args, "since_seconds"), &since) || since < 1 || since > 3600)
        return sb_reply_error (reply, 400, SB_E_VALIDATION_FAILED,
                               "since_seconds must be an integer from 1 to 3600");
    char seconds [24], limit [24];
    snprintf (seconds, sizeof (seconds), "%lld", (long long) since);
    snprintf (limit, sizeof (limit), "%d", S_REVOKED_MAX + 1);
    const char *params [] = { seconds, limit };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT extract (epoch FROM now ())::bigint, k.id, "
                                   "       k.organization_id "
                                   "FROM (SELECT 1) one LEFT JOIN LATERAL ("
                                   "  SELECT id, organization_id FROM api_keys "
                                   "  WHERE revoked_at > now () - make_interval (secs => $1::int) "
                                   "  ORDER BY revoked_at LIMIT $2::int) k ON true",
                                   2, params);
    if (!result)
        return -1;
    int rows = PQgetisnull (result, 0, 1) ? 0 : PQntuples (result);
    bool complete = rows <= S_REVOKED_MAX;
    if (!complete)
        rows = S_REVOKED_MAX;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 4);
    sb_mpk_pack_kv_int (pk, "now", strtoll (PQgetvalue (result, 0, 0), NULL, 10));
    sb_mpk_pack_str (pk, "complete");
    if (complete)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    sb_mpk_pack_str (pk, "ids");
    msgpack_pack_array (pk, (size_t) rows);
    for (int r = 0; r < rows; r++)
        sb_mpk_pack_str (pk, PQgetvalue (result, r, 1));
    sb_mpk_pack_str (pk, "orgs");
    msgpack_pack_array (pk, (size_t) rows);
    for (int r = 0; r < rows; r++)
        sb_mpk_pack_str (pk, PQgetvalue (result, r, 2));
    PQclear (result);
    return 0;
}

int
auth_apikeys_touch (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const msgpack_object *ids = sb_mpk_get (args, "ids");
    if (!ids || ids->type != MSGPACK_OBJECT_ARRAY || ids->via.array.size > 10000)
        return sb_reply_error (reply, 400, SB_E_INVALID_REQUEST, "ids must be an array");
    //  One UPDATE for the whole batch, the ids as one array parameter.
    size_t count = ids->via.array.size;
    char *list = (char *) sb_ctx_alloc (ctx, 3 + count * 37);
    size_t n = 0;
    list [n++] = '{';
    for (size_t i = 0; i < count; i++) {
        char id [37];
        if (sb_mpk_copy_str (&ids->via.array.ptr [i], id, sizeof (id)) || !sb_is_uuid (id))
            return sb_reply_error (reply, 400, SB_E_INVALID_REQUEST, "ids must be UUIDs");
        if (i)
            list [n++] = ',';
        memcpy (list + n, id, 36);
        n += 36;
    }
    list [n++] = '}';
    list [n] = 0;
    const char *params [] = { list };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "UPDATE api_keys SET last_used_at = now () "
                                   "WHERE id = ANY ($1::uuid[])",
                                   1, params);
    if (!result)
        return -1;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 1);
    sb_mpk_pack_kv_int (pk, "updated", atoi (PQcmdTuples (result)));
    PQclear (result);
    return 0;
}

void
auth_apikeys_test (bool verbose)
{
    (void) verbose;
    unsigned char id [AUTH_APIKEY_ID_BYTES] = { 0x01, 0xab, 0x7f, 0xff };
    unsigned char secret [AUTH_APIKEY_SECRET_BYTES], back [AUTH_APIKEY_SECRET_BYTES];
    for (size_t i = 0; i < sizeof (secret); i++)
        secret [i] = (unsigned char) (i * 37 + 5);
    char key [AUTH_APIKEY_LEN + 1], prefix [AUTH_APIKEY_PREFIX_LEN + 1];
    auth_apikey_compose (id, secret, key);
    SB_CHECK (strlen (key) == AUTH_APIKEY_LEN && strncmp (key, "sbk_01ab7fff_", 13) == 0);
    SB_CHECK (auth_apikey_parse (key, prefix, back) && streq (prefix, "sbk_01ab7fff")
              && memcmp (back, secret, sizeof (secret)) == 0);
    SB_CHECK (auth_apikey_parse (key, NULL, NULL));
    //  Not keys: the gateway's selftest spellings, other lengths, upper-case
    //  hex, a secret with a character outside base64url, padding, or a
    //  non-canonical last character (the same bytes spelt twice).
    SB_CHECK (!auth_apikey_parse (NULL, prefix, NULL));
    SB_CHECK (!auth_apikey_parse ("", prefix, NULL));
    SB_CHECK (!auth_apikey_parse ("sbk_0123abcd_secret", prefix, NULL));
    char bad [AUTH_APIKEY_LEN + 2];
    snprintf (bad, sizeof (bad), "%s", key);
    bad [5] = 'A';
    SB_CHECK (!auth_apikey_parse (bad, prefix, NULL));
    snprintf (bad, sizeof (bad), "%s", key);
    bad [20] = '+';
    SB_CHECK (!auth_apikey_parse (bad, prefix, NULL));
    //  A byte from 0x80 up, which libsodium 1.0.18 would decode as '_'.
    snprintf (bad, sizeof (bad), "%s", key);
    bad [30] = (char) 0xff;
    SB_CHECK (!auth_apikey_parse (bad, prefix, NULL));
    snprintf (bad, sizeof (bad), "%s=", key);
    SB_CHECK (!auth_apikey_parse (bad, prefix, NULL));
    snprintf (bad, sizeof (bad), "%s", key);
    bad [AUTH_APIKEY_LEN - 1] = 0;
    SB_CHECK (!auth_apikey_parse (bad, prefix, NULL));
    snprintf (bad, sizeof (bad), "%s", key);
    bad [12] = '-';
    SB_CHECK (!auth_apikey_parse (bad, prefix, NULL));
    //  The last character carries 2 unused bits: only a zero pair is the key.
    snprintf (bad, sizeof (bad), "%s", key);
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t last = (size_t) (strchr (alphabet, bad [AUTH_APIKEY_LEN - 1]) - alphabet);
    SB_CHECK (last % 4 == 0);
    bad [AUTH_APIKEY_LEN - 1] = alphabet [last + 1];
    SB_CHECK (!auth_apikey_parse (bad, prefix, NULL));
}
