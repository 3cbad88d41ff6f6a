/*  gw_auth.c — authentication at the gateway.

    Every request that needs a credential comes through gw_auth_check, on
    an HTTP thread, which must never wait. It answers from memory:

    - access JWTs are verified locally with auth-svc's public keys; a
      verified token is cached (by its text) until it expires, so a repeated
      token costs a hash lookup, not an ECDSA verification;
    - API keys are resolved by auth-svc once and then cached (by the SHA-256
      of the key) until they expire or are revoked;
    - a request on <subdomain>.<base host> is matched against the
      organization's subdomain, cached likewise.

    When memory cannot answer (a key never seen, a kid not yet known, a
    subdomain not cached), gw_auth_check says which lookup it needs; the
    HTTP side runs it over the bus as a job, hands the reply to
    gw_auth_apply, and asks again. Revocations arrive as events
    (sessions.revoked, apikey.revoked, org.updated, org.deleted) on an actor
    of ours subscribed to the event proxy, which also re-reads the revoked
    sessions and the key set from auth-svc at start and every minute (so a
    gateway that was down or missed an event catches up), and reports used
    API keys to auth-svc in batches for their last_used_at.
*/
#include "gw.h"
#include "sb/jwt.h"
#include <pthread.h>
#include <sodium.h>

#define S_CACHE_MAX       20000     //  entries per cache before it is emptied
#define S_SYNC_MS         60000     //  re-read revoked sessions and keys
#define S_TOUCH_MS        2000      //  report used API keys
#define S_JWKS_MIN_MS     1000      //  at most one key-set fetch per second on kid misses
#define S_KEY_FRESH_S     60        //  a cached API key is resolved again after this

typedef struct {
    sb_jwt_claims_t claims;
} s_token_t;

typedef struct {
    char id [65];
    char org [65];
    char subdomain [64];
    sb_role_t role;
    int64_t expires_at;             //  unix seconds, 0 = never
    int64_t cached_at;              //  unix seconds
} s_key_t;

struct _gw_auth_t {
    char issuer [256];
    char base_host [256];           //  host of SWITCHBOARD_PUBLIC_URL, lower case
    int token_ttl;
    int revoked_max;
    pthread_rwlock_t keys_lock;
    sb_jwt_keys_t *keys;            //  NULL until first fetched
    int64_t keys_fetched;           //  sb_mono_ms of the last fetch request
    pthread_mutex_t lock;           //  guards everything below
    zhashx_t *tokens;               //  token text -> s_token_t
    zhashx_t *revoked;              //  sid -> expiry (unix seconds, as a pointer-sized int)
    zhashx_t *api_keys;             //  hex SHA-256 of the key -> s_key_t
    zhashx_t *subdomains;           //  org -> subdomain string
    zhashx_t *used;                 //  key id -> (unused) for the next touch batch
    zactor_t *actor;
    char *broker;
    char *events_sub [SB_CONFIG_MAX_ENDPOINTS];
    size_t events_sub_count;
};

//  ---------------------------------------------------------------------
//  Caches

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static zhashx_t *
s_cache_new (void)
{
    zhashx_t *cache = zhashx_new ();
    zhashx_set_destructor (cache, s_free_item);
    return cache;
}

//  Inserts (replacing) item under key; empties the cache when it is full,
//  which bounds memory at the cost of a burst of re-verification.
static void
s_cache_put (zhashx_t *cache, const char *key, void *item)
{
    if (zhashx_size (cache) >= S_CACHE_MAX)
        zhashx_purge (cache);
    zhashx_update (cache, key, item);
}

static void
s_revoke_sids (gw_auth_t *self, const msgpack_object *sids, int64_t until)
{
    if (!sids || sids->type != MSGPACK_OBJECT_ARRAY)
        return;
    pthread_mutex_lock (&self->lock);
    for (uint32_t i = 0; i < sids->via.array.size; i++) {
        char sid [65];
        if (sb_mpk_copy_str (&sids->via.array.ptr [i], sid, sizeof (sid)) == 0) {
            int64_t *expiry = (int64_t *) sb_malloc (sizeof (int64_t));
            *expiry = until;
            if (zhashx_size (self->revoked) >= (size_t) self->revoked_max)
                zhashx_purge (self->revoked);
            zhashx_update (self->revoked, sid, expiry);
        }
    }
    pthread_mutex_unlock (&self->lock);
}

static bool
s_is_revoked (gw_auth_t *self, const char *sid)
{
    //  Caller holds the lock.
    int64_t *expiry = (int64_t *) zhashx_lookup (self->revoked, sid);
    return expiry && *expiry > sb_now_ms () / 1000;
}

static void
s_forget_keys_where (gw_auth_t *self, const char *id, const char *org)
{
    pthread_mutex_lock (&self->lock);
    zlistx_t *doomed = zlistx_new ();
    s_key_t *key = (s_key_t *) zhashx_first (self->api_keys);
    while (key) {
        if ((id && streq (key->id, id)) || (org && streq (key->org, org)))
            zlistx_add_end (doomed, (void *) zhashx_cursor (self->api_keys));
        key = (s_key_t *) zhashx_next (self->api_keys);
    }
    const char *hash = (const char *) zlistx_first (doomed);
    while (hash) {
        zhashx_delete (self->api_keys, hash);
        hash = (const char *) zlistx_next (doomed);
    }
    zlistx_destroy (&doomed);
    if (org)
        zhashx_delete (self->subdomains, org);
    pthread_mutex_unlock (&self->lock);
}

static void
s_set_subdomain (gw_auth_t *self, const char *org, const char *subdomain)
{
    pthread_mutex_lock (&self->lock);
    s_cache_put (self->subdomains, org, sb_strdup (subdomain));
    pthread_mutex_unlock (&self->lock);
}

static int
s_install_jwks (gw_auth_t *self, const msgpack_object *body)
{
    msgpack_sbuffer json;
    msgpack_sbuffer_init (&json);
    sb_json_write (&json, body);
    char why [128];
    sb_jwt_keys_t *keys = sb_jwt_keys_from_jwks (json.data, json.size, why, sizeof (why));
    msgpack_sbuffer_destroy (&json);
    if (!keys)
        return sb_error ("auth: unusable key set from auth-svc: %s", why);
    pthread_rwlock_wrlock (&self->keys_lock);
    sb_jwt_keys_t *old = self->keys;
    self->keys = keys;
    pthread_rwlock_unlock (&self->keys_lock);
    sb_jwt_keys_destroy (&old);
    sb_debug ("auth: key set installed (%zu keys)", sb_jwt_keys_size (keys));
    return 0;
}

//  ---------------------------------------------------------------------
//  The actor: events, periodic sync, used-key reports

//  Calls auth-svc as the gateway (role service); 0 with reply, or -1.
static int
s_call (sb_client_t *client, const char *op, const char *args_json, sb_reply_msg_t *reply)
{
    sb_envelope_head_t head = { .role = SB_ROLE_SERVICE };
    sb_random_hex (head.id, 16);
    snprintf (head.op, sizeof (head.op), "%s", op);
    head.deadline = sb_now_ms () + 3000;
    char why [128];
    json_t *args = sb_json_parse (args_json, strlen (args_json), why, sizeof (why));
    msgpack_sbuffer packed, envelope;
    msgpack_sbuffer_init (&packed);
    msgpack_sbuffer_init (&envelope);
    sb_json_pack_into (&packed, args);
    json_decref (args);
    sb_envelope_encode_request (&envelope, &head, packed.data, packed.size);
    int rc = sb_client_call (client, "auth", envelope.data, envelope.size, 3000, reply);
    msgpack_sbuffer_destroy (&packed);
    msgpack_sbuffer_destroy (&envelope);
    if (rc == 0 && reply->status != 200) {
        sb_reply_msg_release (reply);
        return -1;
    }
    return rc;
}

static bool
s_sync (gw_auth_t *self, sb_client_t *client)
{
    sb_reply_msg_t reply;
    char args [64];
    snprintf (args, sizeof (args), "{\"since_seconds\":%d}", 2 * self->token_ttl);
    if (s_call (client, "sessions.revoked", args, &reply))
        return false;
    s_revoke_sids (self, sb_mpk_get (reply.body, "sids"), sb_now_ms () / 1000 + 2 * self->token_ttl);
    sb_reply_msg_release (&reply);
    if (s_call (client, "auth.jwks", "{}", &reply))
        return false;
    s_install_jwks (self, reply.body);
    sb_reply_msg_release (&reply);
    return true;
}

static void
s_touch (gw_auth_t *self, sb_client_t *client)
{
    pthread_mutex_lock (&self->lock);
    zlistx_t *ids = zhashx_keys (self->used);
    zhashx_purge (self->used);
    pthread_mutex_unlock (&self->lock);
    if (zlistx_size (ids)) {
        //  One call for every key used since the last report.
        size_t size = 16 + zlistx_size (ids) * 40;
        char *args = (char *) sb_malloc (size);
        size_t n = (size_t) snprintf (args, size, "{\"ids\":[");
        const char *id = (const char *) zlistx_first (ids);
        bool first = true;
        while (id) {
            n += (size_t) snprintf (args + n, size - n, "%s\"%s\"", first ? "" : ",", id);
            first = false;
            id = (const char *) zlistx_next (ids);
        }
        snprintf (args + n, size - n, "]}");
        sb_reply_msg_t reply;
        if (s_call (client, "apikeys.touch", args, &reply) == 0)
            sb_reply_msg_release (&reply);
        else
            sb_warn ("auth: could not report %zu used API keys", zlistx_size (ids));
        free (args);
    }
    zlistx_destroy (&ids);
}

static void
s_handle_event (gw_auth_t *self, zmsg_t *msg)
{
    char *topic = zmsg_popstr (msg);
    zframe_t *body = zmsg_pop (msg);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    char why [128];
    if (topic && body
        && sb_mpk_validate (zframe_data (body), zframe_size (body), SB_MPK_MAX_DEPTH, why,
                            sizeof (why)) == 0
        && msgpack_unpack_next (&unpacked, (const char *) zframe_data (body), zframe_size (body),
                                NULL) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *event = &unpacked.data;
        char id [65] = "", org [65] = "", subdomain [64] = "";
        sb_mpk_copy_str (sb_mpk_get (event, "id"), id, sizeof (id));
        sb_mpk_copy_str (sb_mpk_get (event, "org"), org, sizeof (org));
        if (streq (topic, "sessions.revoked"))
            s_revoke_sids (self, sb_mpk_get (event, "sids"),
                           sb_now_ms () / 1000 + 2 * self->token_ttl);
        else
        if (streq (topic, "apikey.revoked") && *id)
            s_forget_keys_where (self, id, NULL);
        else
        if (streq (topic, "org.deleted") && *org)
            s_forget_keys_where (self, NULL, org);
        else
        if (streq (topic, "org.updated") && *org
            && sb_mpk_copy_str (sb_mpk_get (event, "subdomain"), subdomain, sizeof (subdomain)) == 0) {
            s_set_subdomain (self, org, subdomain);
            //  Cached keys carry the subdomain too.
            s_forget_keys_where (self, NULL, org);
            s_set_subdomain (self, org, subdomain);
        }
        sb_debug ("auth: event %s", topic);
    }
    msgpack_unpacked_destroy (&unpacked);
    zframe_destroy (&body);
    zstr_free (&topic);
}

static void
s_actor (zsock_t *pipe, void *arg)
{
    gw_auth_t *self = (gw_auth_t *) arg;
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zsock_set_subscribe (sub, "sessions.revoked");
    zsock_set_subscribe (sub, "apikey.revoked");
    zsock_set_subscribe (sub, "org.");
    for (size_t i = 0; i < self->events_sub_count; i++)
        zsock_connect (sub, "%s", self->events_sub [i]);
    sb_client_t *client = sb_client_new (self->broker);
    zsock_signal (pipe, 0);

    zpoller_t *poller = zpoller_new (pipe, sub, NULL);
    zpoller_set_nonstop (poller, true);
    int64_t sync_at = sb_mono_ms () + 200, touch_at = sb_mono_ms () + S_TOUCH_MS;
    bool synced = false;
    while (true) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, 250);
        if (which == pipe)
            break;
        if (which == sub) {
            zmsg_t *msg = zmsg_recv (sub);
            if (msg)
                s_handle_event (self, msg);
            zmsg_destroy (&msg);
        }
        int64_t now = sb_mono_ms ();
        if (client && now >= sync_at) {
            //  Until the first success, retry soon: auth-svc may not be up yet.
            synced = s_sync (self, client);
            sync_at = now + (synced ? S_SYNC_MS : 1000);
        }
        if (client && now >= touch_at) {
            s_touch (self, client);
            touch_at = now + S_TOUCH_MS;
        }
    }
    if (client)
        s_touch (self, client);
    zpoller_destroy (&poller);
    sb_client_destroy (&client);
    zsock_destroy (&sub);
    sb_jwt_thread_stop ();
}

//  ---------------------------------------------------------------------
//  Checking a request

//  The credential of a request: Authorization: Bearer <x>, else X-API-Key.
static const char *
s_credential (const char *authorization, const char *api_key)
{
    if (authorization) {
        if (strncasecmp (authorization, "Bearer ", 7) != 0)
            return NULL;
        const char *value = authorization + 7;
        while (*value == ' ')
            value++;
        return *value ? value : NULL;
    }
    return api_key && *api_key ? api_key : NULL;
}

static void
s_deny (gw_denial_t *denial, int status, const char *code, const char *message)
{
    denial->status = status;
    denial->code = code;
    denial->message = message;
}

//  Prepares the lookup of one argument for the caller to run.
static void
s_need (gw_need_t *need, const char *op, const char *name, const char *value)
{
    snprintf (need->op, sizeof (need->op), "%s", op);
    msgpack_sbuffer_init (&need->args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &need->args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, name ? 1 : 0);
    if (name)
        sb_mpk_pack_kv_str (&pk, name, value);
}

static void
s_key_hash (const char *key, char hex [65])
{
    unsigned char digest [crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, (const unsigned char *) key, strlen (key));
    sodium_bin2hex (hex, 65, digest, sizeof (digest));
}

static gw_auth_result_t
s_check_jwt (gw_auth_t *self, const char *token, gw_ident_t *ident, gw_denial_t *denial,
             gw_need_t *need)
{
    int64_t now = sb_now_ms () / 1000;
    sb_jwt_claims_t claims;
    bool cached = false;
    pthread_mutex_lock (&self->lock);
    s_token_t *hit = (s_token_t *) zhashx_lookup (self->tokens, token);
    if (hit && hit->claims.exp + SB_JWT_LEEWAY > now) {
        claims = hit->claims;
        cached = true;
    }
    pthread_mutex_unlock (&self->lock);

    if (!cached) {
        char why [128] = "no key set yet";
        pthread_rwlock_rdlock (&self->keys_lock);
        int rc = self->keys ? sb_jwt_verify (self->keys, token, self->issuer, now, &claims, why,
                                             sizeof (why))
                            : SB_JWT_UNKNOWN_KID;
        pthread_rwlock_unlock (&self->keys_lock);
        if (rc == SB_JWT_UNKNOWN_KID) {
            //  Perhaps a key rotated in since we last fetched: fetch, at most
            //  once a second whatever the traffic of unknown kids.
            int64_t mono = sb_mono_ms ();
            pthread_mutex_lock (&self->lock);
            bool fetch = mono - self->keys_fetched >= S_JWKS_MIN_MS || !self->keys;
            if (fetch)
                self->keys_fetched = mono;
            pthread_mutex_unlock (&self->lock);
            if (fetch) {
                s_need (need, "auth.jwks", NULL, NULL);
                return GW_AUTH_NEED;
            }
        }
        if (rc != SB_JWT_OK) {
            sb_debug ("auth: token refused: %s", why);
            s_deny (denial, 401, SB_E_UNAUTHENTICATED, "the access token is not valid");
            return GW_AUTH_DENIED;
        }
        s_token_t *entry = (s_token_t *) sb_malloc (sizeof (s_token_t));
        entry->claims = claims;
        pthread_mutex_lock (&self->lock);
        s_cache_put (self->tokens, token, entry);
        pthread_mutex_unlock (&self->lock);
    }
    pthread_mutex_lock (&self->lock);
    bool revoked = s_is_revoked (self, claims.sid);
    const char *subdomain = (const char *) zhashx_lookup (self->subdomains, claims.org);
    if (subdomain)
        snprintf (ident->subdomain, sizeof (ident->subdomain), "%s", subdomain);
    pthread_mutex_unlock (&self->lock);
    if (revoked) {
        s_deny (denial, 401, SB_E_UNAUTHENTICATED, "this session has ended");
        return GW_AUTH_DENIED;
    }
    snprintf (ident->org, sizeof (ident->org), "%s", claims.org);
    snprintf (ident->sub, sizeof (ident->sub), "%s", claims.sub);
    snprintf (ident->sid, sizeof (ident->sid), "%s", claims.sid);
    ident->role = streq (claims.role, "admin") ? SB_ROLE_ADMIN : SB_ROLE_USER;
    return GW_AUTH_OK;
}

static gw_auth_result_t
s_check_key (gw_auth_t *self, const char *key, gw_ident_t *ident, gw_denial_t *denial,
             gw_need_t *need)
{
    if (strlen (key) > 128) {
        s_deny (denial, 401, SB_E_UNAUTHENTICATED, "the API key is not valid");
        return GW_AUTH_DENIED;
    }
    char hash [65];
    s_key_hash (key, hash);
    int64_t now = sb_now_ms () / 1000;
    bool found = false;
    pthread_mutex_lock (&self->lock);
    s_key_t *entry = (s_key_t *) zhashx_lookup (self->api_keys, hash);
    //  Expired keys go; so do entries older than a minute, which bounds how
    //  long a revocation whose event was lost can go unnoticed.
    if (entry && ((entry->expires_at && entry->expires_at <= now)
                  || entry->cached_at + S_KEY_FRESH_S <= now)) {
        zhashx_delete (self->api_keys, hash);
        entry = NULL;
    }
    if (entry) {
        found = true;
        snprintf (ident->org, sizeof (ident->org), "%s", entry->org);
        snprintf (ident->key, sizeof (ident->key), "%s", entry->id);
        snprintf (ident->subdomain, sizeof (ident->subdomain), "%s", entry->subdomain);
        ident->role = entry->role;
        zhashx_update (self->used, entry->id, NULL);
    }
    pthread_mutex_unlock (&self->lock);
    if (!found) {
        s_need (need, "apikeys.resolve", "key", key);
        snprintf (need->key_hash, sizeof (need->key_hash), "%s", hash);
        return GW_AUTH_NEED;
    }
    return GW_AUTH_OK;
}

//  The host without its port, lower case, into buf; "" when absent.
static void
s_host_name (const char *host, char *buf, size_t size)
{
    size_t n = 0;
    for (; host && *host && *host != ':' && n + 1 < size; host++)
        buf [n++] = (char) tolower ((unsigned char) *host);
    buf [n] = 0;
}

gw_auth_result_t
gw_auth_check (gw_auth_t *self, const char *authorization, const char *api_key, const char *host,
               sb_role_t required, gw_ident_t *ident, gw_denial_t *denial, gw_need_t *need)
{
    memset (ident, 0, sizeof (*ident));
    const char *credential = s_credential (authorization, api_key);
    if (!credential) {
        s_deny (denial, 401, SB_E_UNAUTHENTICATED, "this request needs a Bearer token or API key");
        return GW_AUTH_DENIED;
    }
    gw_auth_result_t result = strncmp (credential, "sbk_", 4) == 0
                                  ? s_check_key (self, credential, ident, denial, need)
                                  : s_check_jwt (self, credential, ident, denial, need);
    if (result != GW_AUTH_OK)
        return result;

    //  <subdomain>.<base host> must be the credential's organization.
    char name [256];
    s_host_name (host, name, sizeof (name));
    size_t name_len = strlen (name), base_len = strlen (self->base_host);
    if (base_len && name_len > base_len + 1 && name [name_len - base_len - 1] == '.'
        && streq (name + name_len - base_len, self->base_host)) {
        name [name_len - base_len - 1] = 0;
        if (!*ident->subdomain) {
            s_need (need, "org.lookup", "org", ident->org);
            return GW_AUTH_NEED;
        }
        if (!streq (name, ident->subdomain)) {
            s_deny (denial, 403, SB_E_FORBIDDEN,
                    "this credential belongs to another organization's address");
            return GW_AUTH_DENIED;
        }
    }
    if (ident->role < required) {
        s_deny (denial, 403, SB_E_FORBIDDEN, "your role may not do this");
        return GW_AUTH_DENIED;
    }
    return GW_AUTH_OK;
}

void
gw_auth_apply (gw_auth_t *self, const gw_need_t *need, const sb_reply_msg_t *reply)
{
    if (!reply || reply->status != 200 || !reply->body)
        return;
    if (streq (need->op, "auth.jwks"))
        s_install_jwks (self, reply->body);
    else
    if (streq (need->op, "org.lookup")) {
        char org [65], subdomain [64];
        if (sb_mpk_copy_str (sb_mpk_get (reply->body, "id"), org, sizeof (org)) == 0
            && sb_mpk_copy_str (sb_mpk_get (reply->body, "subdomain"), subdomain,
                                sizeof (subdomain)) == 0)
            s_set_subdomain (self, org, subdomain);
    }
    else
    if (streq (need->op, "apikeys.resolve")) {
        s_key_t *key = (s_key_t *) sb_calloc (1, sizeof (s_key_t));
        char role [16] = "";
        int64_t expires_at = 0;
        if (sb_mpk_copy_str (sb_mpk_get (reply->body, "id"), key->id, sizeof (key->id))
            || sb_mpk_copy_str (sb_mpk_get (reply->body, "org"), key->org, sizeof (key->org))
            || sb_mpk_copy_str (sb_mpk_get (reply->body, "role"), role, sizeof (role))
            || sb_role_parse (role, &key->role) || key->role == SB_ROLE_SERVICE) {
            free (key);
            return;
        }
        sb_mpk_copy_str (sb_mpk_get (reply->body, "subdomain"), key->subdomain,
                         sizeof (key->subdomain));
        if (sb_mpk_int (sb_mpk_get (reply->body, "expires_at"), &expires_at) == 0)
            key->expires_at = expires_at;
        key->cached_at = sb_now_ms () / 1000;
        pthread_mutex_lock (&self->lock);
        s_cache_put (self->api_keys, need->key_hash, key);
        pthread_mutex_unlock (&self->lock);
    }
}

void
gw_need_release (gw_need_t *need)
{
    msgpack_sbuffer_destroy (&need->args);
    memset (need, 0, sizeof (*need));
}

gw_auth_t *
gw_auth_new (const sb_config_t *config)
{
    if (sodium_init () < 0)
        return NULL;
    gw_auth_t *self = (gw_auth_t *) sb_calloc (1, sizeof (gw_auth_t));
    snprintf (self->issuer, sizeof (self->issuer), "%s", sb_config_issuer (config));
    //  The base host: what follows "://" in the public URL, up to a port or path.
    const char *start = strstr (config->public_url, "://");
    start = start ? start + 3 : config->public_url;
    size_t n = 0;
    for (; start [n] && start [n] != ':' && start [n] != '/' && n + 1 < sizeof (self->base_host); n++)
        self->base_host [n] = (char) tolower ((unsigned char) start [n]);
    self->base_host [n] = 0;
    self->token_ttl = config->access_token_ttl;
    self->revoked_max = config->revoked_sessions_max;
    pthread_rwlock_init (&self->keys_lock, NULL);
    pthread_mutex_init (&self->lock, NULL);
    self->tokens = s_cache_new ();
    self->revoked = s_cache_new ();
    self->api_keys = s_cache_new ();
    self->subdomains = s_cache_new ();
    self->used = zhashx_new ();
    self->broker = sb_strdup (config->brokers [0]);
    for (size_t i = 0; i < config->events_sub_count; i++)
        self->events_sub [self->events_sub_count++] = sb_strdup (config->events_subs [i]);
    self->actor = zactor_new (s_actor, self);
    return self;
}

void
gw_auth_destroy (gw_auth_t **self_p)
{
    gw_auth_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);
    zhashx_destroy (&self->tokens);
    zhashx_destroy (&self->revoked);
    zhashx_destroy (&self->api_keys);
    zhashx_destroy (&self->subdomains);
    zhashx_destroy (&self->used);
    sb_jwt_keys_destroy (&self->keys);
    pthread_rwlock_destroy (&self->keys_lock);
    pthread_mutex_destroy (&self->lock);
    free (self->broker);
    for (size_t i = 0; i < self->events_sub_count; i++)
        free (self->events_sub [i]);
    free (self);
    *self_p = NULL;
}
