/*  auth_common.c — what auth-svc's handlers share: random tokens and their
    hashes, argon2id passwords, email and password fields, the audit log,
    sessions (start, access tokens, revocation) and the public views of a
    user and an organization.
*/
#include "auth.h"
#include <errno.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

//  OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane (REFERENCE.md §8).
#define S_ARGON2_OPSLIMIT 2
#define S_ARGON2_MEMLIMIT (19456 * 1024)

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

//  --------------------------------------------------------------------------
//  argon2id runs on a thread of its own at a lower scheduling priority
//  (nice S_HASHER_NICE), so that on a loaded machine logins and signups
//  take the CPU the data path leaves over instead of starving it. One
//  thread per process bounds the hashing: a worker handles one request at
//  a time, and the operator bounds the processes. Without the thread
//  (commands, selftests) hashing runs inline.

#define S_HASHER_NICE 10

static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;            //  a job is posted, or stop
    pthread_cond_t done;            //  the job is finished
    bool running;
    bool stopping;
    bool posted;                    //  job below is waiting or running
    bool verify;                    //  verify (else hash)
    const char *password;
    const char *hash;               //  verify: the stored hash
    char *out;                      //  hash: crypto_pwhash_STRBYTES
    int result;
} s_hasher = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
               .done = PTHREAD_COND_INITIALIZER };

static int
s_hash_now (bool verify, const char *password, const char *hash, char *out)
{
    if (verify)
        return crypto_pwhash_str_verify (hash, password, strlen (password));
    return crypto_pwhash_str (out, password, strlen (password), S_ARGON2_OPSLIMIT,
                              S_ARGON2_MEMLIMIT);
}

static void *
s_hasher_main (void *arg)
{
    (void) arg;
    if (setpriority (PRIO_PROCESS, (id_t) gettid (), S_HASHER_NICE))
        sb_warn ("password hashing runs at normal priority: %s", strerror (errno));
    pthread_mutex_lock (&s_hasher.lock);
    while (true) {
        while (!s_hasher.posted && !s_hasher.stopping)
            pthread_cond_wait (&s_hasher.wake, &s_hasher.lock);
        if (s_hasher.stopping)
            break;
        bool verify = s_hasher.verify;
        const char *password = s_hasher.password, *hash = s_hasher.hash;
        char *out = s_hasher.out;
        pthread_mutex_unlock (&s_hasher.lock);
        int result = s_hash_now (verify, password, hash, out);
        pthread_mutex_lock (&s_hasher.lock);
        s_hasher.result = result;
        s_hasher.posted = false;
        pthread_cond_signal (&s_hasher.done);
    }
    pthread_mutex_unlock (&s_hasher.lock);
    return NULL;
}

int
auth_hasher_start (void)
{
    s_hasher.stopping = false;
    if (pthread_create (&s_hasher.thread, NULL, s_hasher_main, NULL))
        return sb_error ("cannot start the password hashing thread");
    s_hasher.running = true;
    return 0;
}

void
auth_hasher_stop (void)
{
    if (!s_hasher.running)
        return;
    pthread_mutex_lock (&s_hasher.lock);
    s_hasher.stopping = true;
    pthread_cond_signal (&s_hasher.wake);
    pthread_mutex_unlock (&s_hasher.lock);
    pthread_join (s_hasher.thread, NULL);
    s_hasher.running = false;
}

//  Hashes or verifies on the hashing thread, waiting for it.
static int
s_hash (bool verify, const char *password, const char *hash, char *out)
{
    if (!s_hasher.running)
        return s_hash_now (verify, password, hash, out);
    pthread_mutex_lock (&s_hasher.lock);
    s_hasher.verify = verify;
    s_hasher.password = password;
    s_hasher.hash = hash;
    s_hasher.out = out;
    s_hasher.posted = true;
    pthread_cond_signal (&s_hasher.wake);
    while (s_hasher.posted)
        pthread_cond_wait (&s_hasher.done, &s_hasher.lock);
    int result = s_hasher.result;
    pthread_mutex_unlock (&s_hasher.lock);
    return result;
}

int
auth_password_hash (const char *password, char hash [crypto_pwhash_STRBYTES])
{
    if (s_hash (false, password, NULL, hash))
        return sb_error ("argon2id ran out of memory");
    return 0;
}

bool
auth_password_verify (const char *hash, const char *password)
{
    //  For an unknown account, pay for a verification anyway, so that the
    //  answer takes as long as for a wrong password.
    static char dummy [crypto_pwhash_STRBYTES];
    if (!hash) {
        if (!*dummy) {
            char random [33];
            sb_random_hex (random, 16);
            auth_password_hash (random, dummy);
        }
        int same = s_hash (true, password, dummy, NULL);
        (void) same;
        return false;
    }
    return s_hash (true, password, hash, NULL) == 0;
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
