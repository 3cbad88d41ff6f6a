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
    sessions, the key set and the API keys revoked in the last
    S_KEYS_WINDOW_S from auth-svc at start and every 45 s (so a gateway
    that was down or missed an event catches up), and reports used API
    keys to auth-svc in batches for their last_used_at.

    How long a resolved API key is used from memory: a minute after its
    lookup (S_KEY_FRESH_S), the bound on how long a revocation whose event
    was lost goes unnoticed; longer (up to S_KEY_MAX_S) only while the
    reads of the revoked keys (every 45 s) have gone on without a gap
    since before the key was resolved, and the last one was sent within a
    minute — so a lost event is still made up for within a minute, by the
    read that lists the key (s_keys_revoked_install, s_key_fresh).
    The reads are compared by the database's clock only (auth-svc's
    `now` and each key's `resolved_at`), never with ours, so clock skew
    between hosts does not matter; S_KEYS_LAG_S allows for a revocation
    that commits up to a minute after its revoked_at. A read that failed,
    answered `complete: false` (over 10,000 revocations in the window) or
    came too late to chain on puts every key back on the minute. Without
    this, 100,000 organizations' keys in use meant 1,667 lookups a second
    at auth-svc, whatever the cache's size.

    Revocation fails closed:
    - the caches (tokens, keys, unknown keys, subdomains, and the answers
      kept while a list below is incomplete) are bounded LRU tables
      (sb/lru.h) that evict their least recently used entry when full,
      never the whole table; forgetting any of their entries only makes
      the gateway ask auth-svc again, never accept what it would refuse:
      a key's positive entry gone means apikeys.resolve, which answers 404
      for a revoked key; an unknown key's or a "revoked"/"suspended"
      answer's entry gone means the question is asked again (those answers
      are consulted only where the truth is otherwise asked, see below).
      Their caps are settings: SWITCHBOARD_GATEWAY_KEY_CACHE (API keys,
      and as many unknown keys), SWITCHBOARD_GATEWAY_TOKEN_CACHE (access
      tokens, and as many session answers), SWITCHBOARD_ENTITLEMENTS_CACHE
      (per organization: subdomains and suspension answers, like the
      entitlements). The revoked sessions are a deny-list, which
      never forgets: an entry leaves only once every access token of its
      session has expired (revocation time + token lifetime + leeway).
      When it is full of live entries a revocation is not stored but the
      list is marked incomplete until that entry would have expired; while
      it is incomplete (and before the first sync has filled it) a token
      whose session is not listed is checked with auth-svc
      (sessions.revoked {sid}), and the answer is kept for a short while;
    - a lookup's answer that says "valid" (a resolved key, a session not
      revoked) is not stored when a revocation of that key, organization
      or session arrived while the lookup was in flight: every revocation
      is numbered, a lookup carries the number current when it was made,
      and the last S_RECENT revocations are remembered by name (more than
      that in flight: the answer is dropped too);
    - suspended organizations (an operator's `switchboardctl orgs
      suspend`) are a set that never forgets: an org.suspended event adds
      one, org.resumed removes it, and the minute's sync reads the whole
      set from auth-svc (orgs.suspended) — keeping an organization whose
      suspension arrived while the sync was in flight, and not re-adding
      one resumed meanwhile (unless too many events came to tell: then
      it stays refused until the next sync). Until the first sync has
      answered, an organization not in the set is checked with auth-svc
      (orgs.suspended {org}) like a session, and the answer kept for
      S_CHECK_FRESH_S. Every credential of a suspended organization, access
      token or API key, is refused 403 organization_suspended;
    - an unknown API key (auth-svc answered 404) is remembered, by the
      hash of the whole key, for S_UNKNOWN_S seconds, so repeating it costs
      no lookup. This is a performance cache, safe to evict from: a
      key never exists before it is created (256 random bits), so no
      entry can hide a key created later, and forgetting one only costs a
      lookup (which auth-svc answers 404 again).

    Denials kept in an LRU table, and why evicting them is safe: the
    unknown keys (above); a session auth-svc said is revoked (checked),
    read only while the deny-list is incomplete or not yet synced, that is
    exactly when a session not found there is asked about: its entry gone,
    the next token of that session is asked about again; an organization
    auth-svc said is suspended (org_checked), read only before the first
    sync of the suspended set, likewise asked again. What must never be
    forgotten early (the deny-list, the suspended set) is not in an LRU.
*/
#include "gw.h"
#include "sb/jwt.h"
#include "sb/lru.h"
#include <pthread.h>
#include <sodium.h>

#define S_SYNC_MS         45000     //  re-read revoked sessions and keys (less than
                                    //  S_KEY_FRESH_S: a read is sent before the last expires)
#define S_TOUCH_MS        2000      //  report used API keys
#define S_JWKS_MIN_MS     1000      //  at most one key-set fetch per second on kid misses
#define S_KEY_FRESH_S     60        //  a cached API key is resolved again after this,
                                    //  unless the revoked keys were read since (below)
#define S_KEY_MAX_S       600       //  ... and then at most after this
#define S_KEYS_WINDOW_S   300       //  apikeys.revoked reads this far back
#define S_KEYS_LAG_S      60        //  a revocation commits at most this after its revoked_at
#define S_CHECK_FRESH_S   60        //  a session auth-svc said is live is asked again after this
#define S_UNKNOWN_S       30        //  an unknown API key is refused without a lookup this long
#define S_RECENT          256       //  revocations remembered by name for lookups in flight

typedef struct {
    sb_jwt_claims_t claims;
} s_token_t;

typedef struct {
    char id [37];                   //  uuids: a longer answer is not cached
    char org [37];
    char subdomain [64];
    sb_role_t role;
    int64_t expires_at;             //  unix seconds, 0 = never
    int64_t cached_at;              //  unix seconds
    int64_t resolved_at;            //  the database's unix seconds when resolved, 0 = unknown
} s_key_t;

//  The deny-list of revoked sessions: sid -> the unix second from which
//  no access token of the session can be valid any more. Bounded; never
//  forgets a live entry (see the header).
typedef struct {
    zhashx_t *entries;              //  sid -> int64_t expiry
    size_t max;
    int64_t next_expiry;            //  no entry expires before this: no sweep needed
    int64_t incomplete_until;       //  a revocation not stored is live until then
} s_denylist_t;

//  A session's state as auth-svc told it, while the deny-list is incomplete.
typedef struct {
    bool revoked;
    int64_t until;                  //  unix seconds: asked again after this
} s_check_t;

struct _gw_auth_t {
    char issuer [256];
    char base_host [256];           //  host of SWITCHBOARD_PUBLIC_URL, lower case
    int token_ttl;
    int64_t (*now) (void);          //  unix seconds (a selftest sets its own)
    bool synced;                    //  the deny-list has been filled from auth-svc once
    pthread_rwlock_t keys_lock;
    sb_jwt_keys_t *keys;            //  NULL until first fetched
    int64_t keys_fetched;           //  sb_mono_ms of the last fetch request
    pthread_mutex_t lock;           //  guards everything below
    sb_lru_t *tokens;               //  token text -> s_token_t
    s_denylist_t revoked;
    sb_lru_t *checked;              //  sid -> s_check_t (while revoked is incomplete)
    uint64_t generation;            //  revocations recorded so far
    char recent [S_RECENT][72];     //  the last ones: "sid:", "key:", "org:" + id
    sb_lru_t *api_keys;             //  hex SHA-256 of the key -> s_key_t
    sb_lru_t *unknown;              //  hex SHA-256 of the key -> int64_t until
    sb_lru_t *subdomains;           //  org -> char [64]
    zhashx_t *suspended;            //  org -> "" : suspended organizations (never purged)
    sb_lru_t *org_checked;          //  org -> s_check_t (before the first orgs sync)
    bool orgs_synced;               //  suspended has been read from auth-svc once
    zhashx_t *used;                 //  key id -> (unused) for the next touch batch
    //  The revoked keys read from auth-svc (apikeys.revoked): every key
    //  revoked at or after keys_chain_from (database seconds) has been
    //  forgotten, as of the read sent at keys_read_at (our seconds, 0 =
    //  none); keys_last_db is the database's clock at that read.
    int64_t keys_chain_from;
    int64_t keys_last_db;
    int64_t keys_read_at;
    zactor_t *actor;
    const sb_config_t *config;      //  the gateway's: its broker, the events, the bus keys
    char *broker;                   //  this gateway's own broker (the first endpoint)
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

//  Deletes from cache the keys listed in *doomed_p (borrowed from the
//  cache while iterating it), then destroys the list.
static void
s_delete_listed (zhashx_t *cache, zlistx_t **doomed_p)
{
    const char *key = (const char *) zlistx_first (*doomed_p);
    while (key) {
        zhashx_delete (cache, key);
        key = (const char *) zlistx_next (*doomed_p);
    }
    zlistx_destroy (doomed_p);
}

static int64_t
s_wall_seconds (void)
{
    return sb_now_ms () / 1000;
}

//  ---------------------------------------------------------------------
//  The deny-list (the caller holds the lock)

static void
s_denylist_init (s_denylist_t *self, size_t max)
{
    self->entries = s_cache_new ();
    self->max = max ? max : 1;
    self->next_expiry = INT64_MAX;
    self->incomplete_until = 0;
}

//  Drops the entries that have expired; sets next_expiry to the earliest
//  expiry left.
static void
s_denylist_sweep (s_denylist_t *self, int64_t now)
{
    zlistx_t *doomed = zlistx_new ();
    int64_t next = INT64_MAX;
    int64_t *expiry = (int64_t *) zhashx_first (self->entries);
    while (expiry) {
        if (*expiry <= now)
            zlistx_add_end (doomed, (void *) zhashx_cursor (self->entries));
        else
        if (*expiry < next)
            next = *expiry;
        expiry = (int64_t *) zhashx_next (self->entries);
    }
    s_delete_listed (self->entries, &doomed);
    self->next_expiry = next;
}

//  Lists sid as revoked until expiry (keeping the later expiry if it is
//  listed). Returns 0, or -1 when the list is full of live entries: then
//  it is incomplete until expiry.
static int
s_denylist_add (s_denylist_t *self, const char *sid, int64_t expiry, int64_t now)
{
    if (expiry <= now)
        return 0;
    int64_t *entry = (int64_t *) zhashx_lookup (self->entries, sid);
    if (entry) {
        if (*entry < expiry)
            *entry = expiry;
        return 0;
    }
    if (zhashx_size (self->entries) >= self->max && self->next_expiry <= now)
        s_denylist_sweep (self, now);
    if (zhashx_size (self->entries) >= self->max) {
        if (self->incomplete_until < expiry)
            self->incomplete_until = expiry;
        return -1;
    }
    entry = (int64_t *) sb_malloc (sizeof (int64_t));
    *entry = expiry;
    zhashx_insert (self->entries, sid, entry);
    if (expiry < self->next_expiry)
        self->next_expiry = expiry;
    return 0;
}

static bool
s_denylist_has (s_denylist_t *self, const char *sid, int64_t now)
{
    int64_t *expiry = (int64_t *) zhashx_lookup (self->entries, sid);
    return expiry && *expiry > now;
}

//  True when every revocation still live is listed.
static bool
s_denylist_complete (s_denylist_t *self, int64_t now)
{
    return self->incomplete_until <= now;
}

//  ---------------------------------------------------------------------
//  Revocations (the caller holds the lock)

//  Numbers one revocation and remembers it by kind ("sid", "key", "org")
//  and id for the lookups in flight.
static void
s_recent_add (gw_auth_t *self, const char *kind, const char *id)
{
    snprintf (self->recent [self->generation % S_RECENT], sizeof (self->recent [0]), "%s:%s",
              kind, id);
    self->generation++;
}

//  True when a revocation of kind:id (or, with kind2, of kind2:id2)
//  arrived after revocation number generation, or when too many did to tell.
static bool
s_recent_since (gw_auth_t *self, uint64_t generation, const char *kind, const char *id,
                const char *kind2, const char *id2)
{
    if (self->generation - generation > S_RECENT)
        return true;
    char name [72], name2 [72] = "";
    snprintf (name, sizeof (name), "%s:%s", kind, id);
    if (kind2)
        snprintf (name2, sizeof (name2), "%s:%s", kind2, id2);
    for (uint64_t g = generation; g < self->generation; g++) {
        const char *recent = self->recent [g % S_RECENT];
        if (streq (recent, name) || (*name2 && streq (recent, name2)))
            return true;
    }
    return false;
}

//  The first second at which no access token of a session revoked at
//  revoked_at is accepted any more (tokens live token_ttl; the clocks of
//  auth-svc and the gateway may differ by the leeway).
static int64_t
s_revoked_until (gw_auth_t *self, int64_t revoked_at)
{
    return revoked_at + self->token_ttl + 2 * SB_JWT_LEEWAY;
}

static void
s_revoke_sid (gw_auth_t *self, const char *sid, int64_t revoked_at)
{
    int64_t now = self->now ();
    if (s_denylist_add (&self->revoked, sid, s_revoked_until (self, revoked_at), now))
        sb_debug ("auth: revoked sessions full (%zu): asking auth-svc until %lld",
                  self->revoked.max, (long long) self->revoked.incomplete_until);
    sb_lru_remove (self->checked, sid);
    s_recent_add (self, "sid", sid);
}

//  Revokes the sessions of an event or a sync reply: {sids: [...],
//  revoked_at: [unix seconds, ...]?}; without revoked_at, now.
static void
s_revoke_sids (gw_auth_t *self, const msgpack_object *body)
{
    const msgpack_object *sids = sb_mpk_get (body, "sids");
    const msgpack_object *at = sb_mpk_get (body, "revoked_at");
    if (!sids || sids->type != MSGPACK_OBJECT_ARRAY)
        return;
    if (at && (at->type != MSGPACK_OBJECT_ARRAY || at->via.array.size != sids->via.array.size))
        at = NULL;
    pthread_mutex_lock (&self->lock);
    int64_t now = self->now ();
    for (uint32_t i = 0; i < sids->via.array.size; i++) {
        char sid [65];
        int64_t revoked_at = now;
        if (at && sb_mpk_int (&at->via.array.ptr [i], &revoked_at))
            revoked_at = now;
        if (sb_mpk_copy_str (&sids->via.array.ptr [i], sid, sizeof (sid)) == 0)
            s_revoke_sid (self, sid, revoked_at);
    }
    pthread_mutex_unlock (&self->lock);
}

typedef struct {
    const char *id;
    const char *org;
} s_key_match_t;

static bool
s_key_matches (const char *hash, void *item, void *arg)
{
    (void) hash;
    const s_key_t *key = (const s_key_t *) item;
    const s_key_match_t *match = (const s_key_match_t *) arg;
    return (match->id && streq (key->id, match->id)) || (match->org && streq (key->org, match->org));
}

//  Forgets the cached keys of id or of org (a walk over the cache: only
//  on a revocation event, rare next to lookups).
static void
s_forget_keys_where (gw_auth_t *self, const char *id, const char *org)
{
    pthread_mutex_lock (&self->lock);
    if (id)
        s_recent_add (self, "key", id);
    if (org)
        s_recent_add (self, "org", org);
    s_key_match_t match = { .id = id, .org = org };
    sb_lru_remove_if (self->api_keys, s_key_matches, &match);
    if (org)
        sb_lru_remove (self->subdomains, org);
    pthread_mutex_unlock (&self->lock);
}

static bool
s_key_listed (const char *hash, void *item, void *arg)
{
    (void) hash;
    return zhashx_lookup ((zhashx_t *) arg, ((const s_key_t *) item)->id) != NULL;
}

//  Applies apikeys.revoked's answer {now, complete, ids} to a read sent at
//  sent_at (our seconds): the listed keys are forgotten (and remembered as
//  revocations, for lookups in flight), and when the list is complete the
//  chain of reads is extended. The reads form a chain when each covers
//  back to S_KEYS_LAG_S before the previous one (a revocation whose
//  transaction began then may have committed only after that read); a
//  read that does not reach back so far starts a new chain. Every key
//  revoked at or after keys_chain_from is then forgotten: a key resolved
//  at resolved_at, no earlier than keys_chain_from + S_KEYS_LAG_S, can be
//  kept past S_KEY_FRESH_S (see s_key_fresh). -1 on a malformed answer.
static int
s_keys_revoked_install (gw_auth_t *self, const msgpack_object *body, int64_t sent_at)
{
    int64_t now_db = 0;
    const msgpack_object *ids = sb_mpk_get (body, "ids");
    const msgpack_object *complete = sb_mpk_get (body, "complete");
    if (sb_mpk_int (sb_mpk_get (body, "now"), &now_db) || now_db <= 0 || !ids
        || ids->type != MSGPACK_OBJECT_ARRAY || !complete
        || complete->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    zhashx_t *listed = zhashx_new ();
    for (uint32_t i = 0; i < ids->via.array.size; i++) {
        char id [65];
        if (sb_mpk_copy_str (&ids->via.array.ptr [i], id, sizeof (id)) == 0)
            zhashx_update (listed, id, (void *) 1);
    }
    pthread_mutex_lock (&self->lock);
    for (void *item = zhashx_first (listed); item; item = zhashx_next (listed))
        s_recent_add (self, "key", (const char *) zhashx_cursor (listed));
    if (zhashx_size (listed))
        sb_lru_remove_if (self->api_keys, s_key_listed, listed);
    if (!complete->via.boolean)
        self->keys_chain_from = INT64_MAX;      //  no proof: keys go back to the minute
    else {
        bool continues = self->keys_chain_from != INT64_MAX
                         && now_db - S_KEYS_WINDOW_S <= self->keys_last_db - S_KEYS_LAG_S;
        if (!continues)
            self->keys_chain_from = now_db - S_KEYS_WINDOW_S;
        self->keys_last_db = now_db;
        self->keys_read_at = sent_at;
    }
    pthread_mutex_unlock (&self->lock);
    zhashx_destroy (&listed);
    return 0;
}

//  Whether a cached key may be used without asking auth-svc again: within
//  S_KEY_FRESH_S of its lookup, as always (the bound on how long a
//  revocation whose event was lost goes unnoticed); or, up to S_KEY_MAX_S,
//  while the chain of revoked-key reads covers it and its last read was
//  sent within S_KEY_FRESH_S — which keeps that bound, since a revocation
//  is in the next read, sent every S_SYNC_MS. Reads failing, keys fall back to the
//  minute. Called with the lock held.
static bool
s_key_fresh (gw_auth_t *self, const s_key_t *key, int64_t now)
{
    if (key->expires_at && key->expires_at <= now)
        return false;
    if (key->cached_at + S_KEY_FRESH_S > now)
        return true;
    return key->resolved_at > 0 && self->keys_chain_from != INT64_MAX
           && key->resolved_at - S_KEYS_LAG_S >= self->keys_chain_from
           && self->keys_read_at + S_KEY_FRESH_S > now
           && key->cached_at + S_KEY_MAX_S > now;
}

static void
s_set_subdomain (gw_auth_t *self, const char *org, const char *subdomain)
{
    char value [64];
    snprintf (value, sizeof (value), "%s", subdomain);
    pthread_mutex_lock (&self->lock);
    sb_lru_put (self->subdomains, org, value);
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

//  An organization suspended (on = true) or resumed, from an event.
static void
s_suspend_org (gw_auth_t *self, const char *org, bool on)
{
    pthread_mutex_lock (&self->lock);
    if (on)
        zhashx_update (self->suspended, org, sb_strdup (""));
    else
        zhashx_delete (self->suspended, org);
    sb_lru_remove (self->org_checked, org);
    s_recent_add (self, on ? "org" : "res", org);
    pthread_mutex_unlock (&self->lock);
    sb_info ("auth: organization %s %s", org, on ? "suspended" : "resumed");
}

//  The whole set from a sync's reply {orgs: [...]}, asked when revocation
//  number generation was current: an organization suspended since stays,
//  one resumed since is not re-added.
static void
s_suspended_install (gw_auth_t *self, const msgpack_object *body, uint64_t generation)
{
    const msgpack_object *orgs = sb_mpk_get (body, "orgs");
    if (!orgs || orgs->type != MSGPACK_OBJECT_ARRAY)
        return;
    pthread_mutex_lock (&self->lock);
    bool overflow = self->generation - generation > S_RECENT;
    zhashx_t *listed = zhashx_new ();
    for (uint32_t i = 0; i < orgs->via.array.size; i++) {
        char org [65];
        if (sb_mpk_copy_str (&orgs->via.array.ptr [i], org, sizeof (org)))
            continue;
        zhashx_update (listed, org, (void *) "");
        if (overflow || !s_recent_since (self, generation, "res", org, NULL, NULL))
            zhashx_update (self->suspended, org, sb_strdup (""));
    }
    zlistx_t *doomed = zlistx_new ();
    for (void *item = zhashx_first (self->suspended); item; item = zhashx_next (self->suspended)) {
        const char *org = (const char *) zhashx_cursor (self->suspended);
        if (!zhashx_lookup (listed, org) && !s_recent_since (self, generation, "org", org, NULL, NULL))
            zlistx_add_end (doomed, (void *) org);
    }
    s_delete_listed (self->suspended, &doomed);
    zhashx_destroy (&listed);
    if (!self->orgs_synced)
        sb_info ("auth: suspended organizations read from auth-svc (%zu)",
                 zhashx_size (self->suspended));
    self->orgs_synced = true;
    sb_lru_purge (self->org_checked);
    pthread_mutex_unlock (&self->lock);
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
    s_revoke_sids (self, reply.body);
    sb_reply_msg_release (&reply);
    pthread_mutex_lock (&self->lock);
    if (!self->synced)
        sb_info ("auth: revoked sessions read from auth-svc (%zu listed)",
                 zhashx_size (self->revoked.entries));
    self->synced = true;
    pthread_mutex_unlock (&self->lock);
    if (s_call (client, "auth.jwks", "{}", &reply))
        return false;
    s_install_jwks (self, reply.body);
    sb_reply_msg_release (&reply);
    pthread_mutex_lock (&self->lock);
    uint64_t generation = self->generation;
    pthread_mutex_unlock (&self->lock);
    if (s_call (client, "orgs.suspended", "{}", &reply))
        return false;
    s_suspended_install (self, reply.body, generation);
    sb_reply_msg_release (&reply);
    int64_t sent_at = self->now ();
    snprintf (args, sizeof (args), "{\"since_seconds\":%d}", S_KEYS_WINDOW_S);
    //  Not part of the sync's success: without this read (an auth-svc of
    //  an older version, a timeout) keys are simply resolved every minute.
    if (s_call (client, "apikeys.revoked", args, &reply) == 0) {
        if (s_keys_revoked_install (self, reply.body, sent_at))
            sb_warn ("auth: apikeys.revoked answered something malformed");
        sb_reply_msg_release (&reply);
    }
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
            s_revoke_sids (self, event);
        else
        if (streq (topic, "apikey.revoked") && *id)
            s_forget_keys_where (self, id, NULL);
        else
        if (streq (topic, "org.deleted") && *org)
            s_forget_keys_where (self, NULL, org);
        else
        if ((streq (topic, "org.suspended") || streq (topic, "org.resumed")) && *org)
            s_suspend_org (self, org, streq (topic, "org.suspended"));
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
    const char *const topics [] = { "sessions.revoked", "apikey.revoked", "org.", NULL };
    zsock_t *sub = sb_events_subscriber_new (self->config, topics);
    sb_client_t *client = sb_client_new (self->config, self->broker);
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
const char *
gw_auth_credential (const char *authorization, const char *api_key)
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
    s_token_t *hit = (s_token_t *) sb_lru_get (self->tokens, token);
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
        s_token_t entry = { .claims = claims };
        pthread_mutex_lock (&self->lock);
        sb_lru_put (self->tokens, token, &entry);
        pthread_mutex_unlock (&self->lock);
    }
    pthread_mutex_lock (&self->lock);
    int64_t wall = self->now ();
    bool revoked = s_denylist_has (&self->revoked, claims.sid, wall), ask = false;
    if (!revoked && !(self->synced && s_denylist_complete (&self->revoked, wall))) {
        //  The deny-list cannot prove the session live: auth-svc can.
        s_check_t *check = (s_check_t *) sb_lru_get (self->checked, claims.sid);
        if (check && check->until > wall)
            revoked = check->revoked;
        else
            ask = true;
    }
    uint64_t generation = self->generation;
    const char *subdomain = (const char *) sb_lru_get (self->subdomains, claims.org);
    if (subdomain)
        snprintf (ident->subdomain, sizeof (ident->subdomain), "%s", subdomain);
    pthread_mutex_unlock (&self->lock);
    if (revoked) {
        s_deny (denial, 401, SB_E_UNAUTHENTICATED, "this session has ended");
        return GW_AUTH_DENIED;
    }
    if (ask) {
        s_need (need, "sessions.revoked", "sid", claims.sid);
        snprintf (need->sid, sizeof (need->sid), "%s", claims.sid);
        need->generation = generation;
        return GW_AUTH_NEED;
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
    bool found = false, unknown = false;
    pthread_mutex_lock (&self->lock);
    int64_t now = self->now ();
    uint64_t generation = self->generation;
    s_key_t *entry = (s_key_t *) sb_lru_get (self->api_keys, hash);
    //  Expired keys go; so do entries no longer fresh (s_key_fresh: a
    //  minute, or longer while the revoked keys are read every minute).
    if (entry && !s_key_fresh (self, entry, now)) {
        sb_lru_remove (self->api_keys, hash);
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
    else {
        int64_t *until = (int64_t *) sb_lru_get (self->unknown, hash);
        unknown = until && *until > now;
    }
    pthread_mutex_unlock (&self->lock);
    if (unknown) {
        s_deny (denial, 401, SB_E_UNAUTHENTICATED, "the API key is not valid");
        return GW_AUTH_DENIED;
    }
    if (!found) {
        s_need (need, "apikeys.resolve", "key", key);
        snprintf (need->key_hash, sizeof (need->key_hash), "%s", hash);
        need->generation = generation;
        return GW_AUTH_NEED;
    }
    return GW_AUTH_OK;
}

//  Refuses a suspended organization; before the first sync of the set,
//  asks auth-svc about an organization not known suspended.
static gw_auth_result_t
s_check_suspended (gw_auth_t *self, const char *org, gw_denial_t *denial, gw_need_t *need)
{
    pthread_mutex_lock (&self->lock);
    bool suspended = zhashx_lookup (self->suspended, org) != NULL, ask = false;
    if (!suspended && !self->orgs_synced) {
        s_check_t *check = (s_check_t *) sb_lru_get (self->org_checked, org);
        if (check && check->until > self->now ())
            suspended = check->revoked;
        else
            ask = true;
    }
    uint64_t generation = self->generation;
    pthread_mutex_unlock (&self->lock);
    if (suspended) {
        s_deny (denial, 403, SB_E_ORGANIZATION_SUSPENDED, SB_ORGANIZATION_SUSPENDED_MESSAGE);
        return GW_AUTH_DENIED;
    }
    if (ask) {
        s_need (need, "orgs.suspended", "org", org);
        snprintf (need->org, sizeof (need->org), "%s", org);
        need->generation = generation;
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
    const char *credential = gw_auth_credential (authorization, api_key);
    if (!credential) {
        s_deny (denial, 401, SB_E_UNAUTHENTICATED, "this request needs a Bearer token or API key");
        return GW_AUTH_DENIED;
    }
    gw_auth_result_t result = strncmp (credential, "sbk_", 4) == 0
                                  ? s_check_key (self, credential, ident, denial, need)
                                  : s_check_jwt (self, credential, ident, denial, need);
    if (result == GW_AUTH_OK)
        result = s_check_suspended (self, ident->org, denial, need);
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
    if (reply && reply->status == 404 && streq (need->op, "apikeys.resolve")) {
        //  No such key (or revoked, or expired): refused without a lookup
        //  for a while.
        pthread_mutex_lock (&self->lock);
        int64_t until = self->now () + S_UNKNOWN_S;
        sb_lru_put (self->unknown, need->key_hash, &until);
        pthread_mutex_unlock (&self->lock);
        return;
    }
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
        s_key_t key = { 0 };
        char role [16] = "";
        int64_t expires_at = 0;
        if (sb_mpk_copy_str (sb_mpk_get (reply->body, "id"), key.id, sizeof (key.id))
            || sb_mpk_copy_str (sb_mpk_get (reply->body, "org"), key.org, sizeof (key.org))
            || sb_mpk_copy_str (sb_mpk_get (reply->body, "role"), role, sizeof (role))
            || sb_role_parse (role, &key.role) || key.role >= SB_ROLE_SERVICE)
            return;
        sb_mpk_copy_str (sb_mpk_get (reply->body, "subdomain"), key.subdomain,
                         sizeof (key.subdomain));
        if (sb_mpk_int (sb_mpk_get (reply->body, "expires_at"), &expires_at) == 0)
            key.expires_at = expires_at;
        int64_t resolved_at = 0;
        if (sb_mpk_int (sb_mpk_get (reply->body, "resolved_at"), &resolved_at) == 0)
            key.resolved_at = resolved_at;
        pthread_mutex_lock (&self->lock);
        key.cached_at = self->now ();
        //  Revoked while the lookup was in flight: the answer is stale.
        if (!s_recent_since (self, need->generation, "key", key.id, "org", key.org))
            sb_lru_put (self->api_keys, need->key_hash, &key);
        pthread_mutex_unlock (&self->lock);
    }
    else
    if (streq (need->op, "orgs.suspended")) {
        //  {orgs: [need->org]} when that organization is suspended, else [].
        const msgpack_object *orgs = sb_mpk_get (reply->body, "orgs");
        if (!orgs || orgs->type != MSGPACK_OBJECT_ARRAY)
            return;
        bool suspended = false;
        for (uint32_t i = 0; i < orgs->via.array.size; i++) {
            char org [65];
            if (sb_mpk_copy_str (&orgs->via.array.ptr [i], org, sizeof (org)) == 0
                && streq (org, need->org))
                suspended = true;
        }
        pthread_mutex_lock (&self->lock);
        //  Said active but suspended since the question: stale.
        if (suspended || !s_recent_since (self, need->generation, "org", need->org, NULL, NULL)) {
            s_check_t check = { .revoked = suspended, .until = self->now () + S_CHECK_FRESH_S };
            sb_lru_put (self->org_checked, need->org, &check);
        }
        pthread_mutex_unlock (&self->lock);
    }
    else
    if (streq (need->op, "sessions.revoked")) {
        //  {sids: [need->sid]} when that session is not live, else [].
        const msgpack_object *sids = sb_mpk_get (reply->body, "sids");
        if (!sids || sids->type != MSGPACK_OBJECT_ARRAY)
            return;
        bool revoked = false;
        for (uint32_t i = 0; i < sids->via.array.size; i++) {
            char sid [65];
            if (sb_mpk_copy_str (&sids->via.array.ptr [i], sid, sizeof (sid)) == 0
                && streq (sid, need->sid))
                revoked = true;
        }
        pthread_mutex_lock (&self->lock);
        int64_t now = self->now ();
        //  A session said live but revoked since the question: stale.
        if (revoked || !s_recent_since (self, need->generation, "sid", need->sid, NULL, NULL)) {
            s_check_t check = { .revoked = revoked,
                                .until = revoked ? s_revoked_until (self, now)
                                                 : now + S_CHECK_FRESH_S };
            sb_lru_put (self->checked, need->sid, &check);
        }
        pthread_mutex_unlock (&self->lock);
    }
}

void
gw_need_release (gw_need_t *need)
{
    msgpack_sbuffer_destroy (&need->args);
    memset (need, 0, sizeof (*need));
}

//  The state without its actor.
static gw_auth_t *
s_new (const sb_config_t *config)
{
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
    self->now = s_wall_seconds;
    pthread_rwlock_init (&self->keys_lock, NULL);
    pthread_mutex_init (&self->lock, NULL);
    size_t tokens = (size_t) (config->gateway_token_cache > 0 ? config->gateway_token_cache : 1);
    size_t keys = (size_t) (config->gateway_key_cache > 0 ? config->gateway_key_cache : 1);
    size_t orgs = (size_t) (config->entitlements_cache > 0 ? config->entitlements_cache : 1);
    self->tokens = sb_lru_new ("gateway_tokens", tokens, sizeof (s_token_t), SB_JWT_MAX_TOKEN);
    s_denylist_init (&self->revoked, (size_t) config->revoked_sessions_max);
    self->checked = sb_lru_new ("gateway_sessions_checked", tokens, sizeof (s_check_t), 64);
    self->api_keys = sb_lru_new ("gateway_api_keys", keys, sizeof (s_key_t), 64);
    self->unknown = sb_lru_new ("gateway_unknown_keys", keys, sizeof (int64_t), 64);
    self->subdomains = sb_lru_new ("gateway_subdomains", orgs, 64, 64);
    self->suspended = s_cache_new ();
    self->org_checked = sb_lru_new ("gateway_orgs_checked", orgs, sizeof (s_check_t), 64);
    self->used = zhashx_new ();
    self->keys_chain_from = INT64_MAX;
    return self;
}

gw_auth_t *
gw_auth_new (const sb_config_t *config)
{
    if (sodium_init () < 0)
        return NULL;
    gw_auth_t *self = s_new (config);
    self->config = config;
    self->broker = sb_strdup (config->brokers [0]);
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
    sb_lru_destroy (&self->tokens);
    zhashx_destroy (&self->revoked.entries);
    sb_lru_destroy (&self->checked);
    sb_lru_destroy (&self->api_keys);
    sb_lru_destroy (&self->unknown);
    sb_lru_destroy (&self->subdomains);
    zhashx_destroy (&self->suspended);
    sb_lru_destroy (&self->org_checked);
    zhashx_destroy (&self->used);
    sb_jwt_keys_destroy (&self->keys);
    pthread_rwlock_destroy (&self->keys_lock);
    pthread_mutex_destroy (&self->lock);
    free (self->broker);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Selftest

static int64_t s_test_now;

static int64_t
s_test_clock (void)
{
    return s_test_now;
}

//  Hands gw_auth_apply the reply auth-svc would give: status and, for a
//  200, body_json as the body.
static void
s_test_reply (gw_auth_t *self, const gw_need_t *need, int status, const char *body_json)
{
    msgpack_sbuffer body, envelope;
    msgpack_sbuffer_init (&body);
    msgpack_sbuffer_init (&envelope);
    if (status == 200) {
        char why [128];
        json_t *json = sb_json_parse (body_json, strlen (body_json), why, sizeof (why));
        sb_json_pack_into (&body, json);
        json_decref (json);
        sb_envelope_encode_reply (&envelope, "t", status, body.data, body.size);
    }
    else
        sb_envelope_encode_error (&envelope, "t", status, SB_E_NOT_FOUND, "no such thing", NULL, 0);
    sb_reply_msg_t reply;
    char why [128];
    if (sb_reply_decode (&reply, envelope.data, envelope.size, why, sizeof (why)) == 0) {
        gw_auth_apply (self, need, &reply);
        sb_reply_msg_release (&reply);
    }
    msgpack_sbuffer_destroy (&body);
    msgpack_sbuffer_destroy (&envelope);
}

//  gw_auth_check for an API key or a Bearer token, as a user route.
static gw_auth_result_t
s_test_check (gw_auth_t *self, const char *bearer, const char *key, gw_ident_t *ident,
              gw_need_t *need)
{
    char authorization [SB_JWT_MAX_TOKEN + 16];
    if (bearer)
        snprintf (authorization, sizeof (authorization), "Bearer %s", bearer);
    gw_denial_t denial;
    memset (need, 0, sizeof (*need));
    gw_auth_result_t result = gw_auth_check (self, bearer ? authorization : NULL, key, NULL,
                                             SB_ROLE_USER, ident, &denial, need);
    if (result != GW_AUTH_NEED)
        msgpack_sbuffer_init (&need->args);     //  so that release is safe either way
    return result;
}

//  json as a msgpack object in unpacked (NULL when it does not parse);
//  buf holds its bytes. Both released by the caller.
static const msgpack_object *
s_test_unpack (const char *json, msgpack_sbuffer *buf, msgpack_unpacked *unpacked)
{
    char why [128];
    json_t *parsed = sb_json_parse (json, strlen (json), why, sizeof (why));
    msgpack_sbuffer_init (buf);
    msgpack_unpacked_init (unpacked);
    if (!parsed)
        return NULL;
    sb_json_pack_into (buf, parsed);
    json_decref (parsed);
    return msgpack_unpack_next (unpacked, buf->data, buf->size, NULL) == MSGPACK_UNPACK_SUCCESS
           ? &unpacked->data : NULL;
}

static void
s_test_revoke_event (gw_auth_t *self, const char *sid)
{
    char json [128];
    snprintf (json, sizeof (json), "{\"sids\":[\"%s\"]}", sid);
    msgpack_sbuffer buf;
    msgpack_unpacked unpacked;
    const msgpack_object *body = s_test_unpack (json, &buf, &unpacked);
    if (body)
        s_revoke_sids (self, body);
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buf);
}

//  A read of the revoked keys answered json, sent at sent_at.
static int
s_test_keys_read (gw_auth_t *self, const char *json, int64_t sent_at)
{
    msgpack_sbuffer buf;
    msgpack_unpacked unpacked;
    const msgpack_object *body = s_test_unpack (json, &buf, &unpacked);
    int rc = body ? s_keys_revoked_install (self, body, sent_at) : -1;
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buf);
    return rc;
}

//  Resolves key as key_id (resolved by the database at db seconds); true
//  when it was asked and then served from memory.
static bool
s_test_resolve (gw_auth_t *self, const char *key, const char *key_id, const char *org,
                int64_t db)
{
    gw_ident_t ident;
    gw_need_t need;
    char body [512];
    snprintf (body, sizeof (body),
              "{\"id\":\"%s\",\"org\":\"%s\",\"role\":\"user\",\"resolved_at\":%lld}",
              key_id, org, (long long) db);
    bool asked = s_test_check (self, NULL, key, &ident, &need) == GW_AUTH_NEED;
    s_test_reply (self, &need, 200, body);
    gw_need_release (&need);
    bool served = s_test_check (self, NULL, key, &ident, &need) == GW_AUTH_OK;
    gw_need_release (&need);
    return asked && served;
}

//  Whether key is served from memory now.
static bool
s_test_served (gw_auth_t *self, const char *key)
{
    gw_ident_t ident;
    gw_need_t need;
    bool served = s_test_check (self, NULL, key, &ident, &need) == GW_AUTH_OK;
    gw_need_release (&need);
    return served;
}

void
gw_auth_test (bool verbose)
{
    if (verbose)
        printf (" * gw_auth: ");

    //  The deny-list on its own: a bound of 3.
    s_denylist_t d;
    s_denylist_init (&d, 3);
    int64_t now = 1000;
    SB_CHECK (s_denylist_add (&d, "a", 1100, now) == 0);
    SB_CHECK (s_denylist_add (&d, "b", 1200, now) == 0);
    SB_CHECK (s_denylist_add (&d, "c", 1300, now) == 0);
    SB_CHECK (s_denylist_complete (&d, now));
    //  Full of live entries: a fourth is not stored and nothing is
    //  forgotten; the list says it is incomplete until the fourth expires.
    SB_CHECK (s_denylist_add (&d, "d", 1400, now) == -1);
    bool kept = true;
    for (int i = 0; i < 1000; i++) {
        char sid [16];
        snprintf (sid, sizeof (sid), "x%d", i);
        kept &= s_denylist_add (&d, sid, 1050 + i % 50, now) == -1;
    }
    SB_CHECK (kept);
    SB_CHECK (zhashx_size (d.entries) == 3);
    SB_CHECK (s_denylist_has (&d, "a", 1099) && s_denylist_has (&d, "b", 1099)
              && s_denylist_has (&d, "c", 1099));
    SB_CHECK (!s_denylist_has (&d, "d", now) && !s_denylist_has (&d, "x1", now));
    SB_CHECK (!s_denylist_complete (&d, 1399) && s_denylist_complete (&d, 1400));
    //  Listed again with a later expiry: the later one holds.
    SB_CHECK (s_denylist_add (&d, "b", 1250, now) == 0);
    SB_CHECK (s_denylist_add (&d, "b", 1150, now) == 0);
    SB_CHECK (s_denylist_has (&d, "b", 1249) && !s_denylist_has (&d, "b", 1250));
    //  Expired entries make room: a (1100) goes, e comes in, b and c stay.
    SB_CHECK (!s_denylist_has (&d, "a", 1100));
    SB_CHECK (s_denylist_add (&d, "e", 1500, 1100) == 0);
    SB_CHECK (zhashx_size (d.entries) == 3 && !zhashx_lookup (d.entries, "a"));
    SB_CHECK (s_denylist_has (&d, "b", 1100) && s_denylist_has (&d, "c", 1100)
              && s_denylist_has (&d, "e", 1100));
    //  An entry that has already expired is not stored at all.
    SB_CHECK (s_denylist_add (&d, "f", 1100, 1100) == 0 && !zhashx_lookup (d.entries, "f"));
    //  Much later everything has expired: one sweep empties the list.
    SB_CHECK (s_denylist_add (&d, "g", 9000, 5000) == 0);
    SB_CHECK (zhashx_size (d.entries) == 1 && s_denylist_has (&d, "g", 5000));
    SB_CHECK (s_denylist_complete (&d, 5000));
    zhashx_destroy (&d.entries);

    //  The whole object with its clock injected, no actor.
    sb_config_t config = { .access_token_ttl = 900, .revoked_sessions_max = 2,
                           .gateway_key_cache = 2, .gateway_token_cache = 100,
                           .entitlements_cache = 100, .public_url = (char *) "http://localhost" };
    gw_auth_t *self = s_new (&config);
    self->now = s_test_clock;
    s_test_now = sb_now_ms () / 1000;
    //  Suspensions are tested on their own below.
    self->orgs_synced = true;
    gw_ident_t ident;
    gw_need_t need;
    const char *key = "sbk_0123abcd_secret";
    const char *key_id = "5c3e1b0a-8d2f-4c6e-9a7b-1f0e2d3c4b5a";
    const char *org = "0b6a3c52-4d1e-4f0a-9a53-6f0e5b7c1d2e";
    char resolved [512];
    snprintf (resolved, sizeof (resolved),
              "{\"id\":\"%s\",\"org\":\"%s\",\"role\":\"user\",\"subdomain\":\"acme\"}",
              key_id, org);

    //  The race: resolve sent, the key revoked, then the resolve's reply
    //  (valid, as it was when auth-svc read it): not cached.
    SB_CHECK (s_test_check (self, NULL, key, &ident, &need) == GW_AUTH_NEED);
    SB_CHECK (streq (need.op, "apikeys.resolve"));
    s_forget_keys_where (self, key_id, NULL);
    s_test_reply (self, &need, 200, resolved);
    gw_need_release (&need);
    SB_CHECK (s_test_check (self, NULL, key, &ident, &need) == GW_AUTH_NEED);
    gw_need_release (&need);
    //  The same with the organization deleted (or its subdomain changed).
    SB_CHECK (s_test_check (self, NULL, key, &ident, &need) == GW_AUTH_NEED);
    s_forget_keys_where (self, NULL, org);
    s_test_reply (self, &need, 200, resolved);
    gw_need_release (&need);
    SB_CHECK (s_test_check (self, NULL, key, &ident, &need) == GW_AUTH_NEED);
    gw_need_release (&need);
    //  Another key's revocation does not spoil the answer; the key works.
    SB_CHECK (s_test_check (self, NULL, key, &ident, &need) == GW_AUTH_NEED);
    s_forget_keys_where (self, "77777777-7777-4777-8777-777777777777", NULL);
    s_test_reply (self, &need, 200, resolved);
    gw_need_release (&need);
    SB_CHECK (s_test_check (self, NULL, key, &ident, &need) == GW_AUTH_OK);
    SB_CHECK (streq (ident.key, key_id) && streq (ident.org, org));
    gw_need_release (&need);
    //  Revoked once cached: gone at once.
    s_forget_keys_where (self, key_id, NULL);
    SB_CHECK (s_test_check (self, NULL, key, &ident, &need) == GW_AUTH_NEED);
    //  More revocations in flight than are remembered: not cached either.
    for (int i = 0; i < S_RECENT + 1; i++)
        s_forget_keys_where (self, "77777777-7777-4777-8777-777777777777", NULL);
    s_test_reply (self, &need, 200, resolved);
    gw_need_release (&need);
    SB_CHECK (s_test_check (self, NULL, key, &ident, &need) == GW_AUTH_NEED);
    gw_need_release (&need);

    //  An unknown key: one lookup, then refused from memory until
    //  S_UNKNOWN_S has passed.
    const char *unknown = "sbk_ffffffff_nothing";
    SB_CHECK (s_test_check (self, NULL, unknown, &ident, &need) == GW_AUTH_NEED);
    s_test_reply (self, &need, 404, NULL);
    gw_need_release (&need);
    SB_CHECK (s_test_check (self, NULL, unknown, &ident, &need) == GW_AUTH_DENIED);
    gw_need_release (&need);
    s_test_now += S_UNKNOWN_S;
    SB_CHECK (s_test_check (self, NULL, unknown, &ident, &need) == GW_AUTH_NEED);
    gw_need_release (&need);

    //  Eviction (a key cache of 2): three keys resolved, the least recently
    //  used is asked again; revoked while evicted, auth-svc's 404 refuses
    //  it; its "unknown" entry evicted in turn, it is asked again and
    //  refused again — never served.
    const char *three [3] = { "sbk_00000001_one", "sbk_00000002_two", "sbk_00000003_three" };
    const char *three_ids [3] = { "00000000-0000-4000-8000-000000000001",
                                  "00000000-0000-4000-8000-000000000002",
                                  "00000000-0000-4000-8000-000000000003" };
    bool resolved_all = true;
    for (int i = 0; i < 3; i++) {
        char body [512];
        snprintf (body, sizeof (body),
                  "{\"id\":\"%s\",\"org\":\"%s\",\"role\":\"user\",\"subdomain\":\"acme\"}",
                  three_ids [i], org);
        resolved_all &= s_test_check (self, NULL, three [i], &ident, &need) == GW_AUTH_NEED;
        s_test_reply (self, &need, 200, body);
        gw_need_release (&need);
        resolved_all &= s_test_check (self, NULL, three [i], &ident, &need) == GW_AUTH_OK;
        gw_need_release (&need);
    }
    SB_CHECK (resolved_all && sb_lru_size (self->api_keys) == 2);
    SB_CHECK (s_test_check (self, NULL, three [2], &ident, &need) == GW_AUTH_OK);
    gw_need_release (&need);
    SB_CHECK (s_test_check (self, NULL, three [0], &ident, &need) == GW_AUTH_NEED);
    s_forget_keys_where (self, three_ids [0], NULL);
    s_test_reply (self, &need, 404, NULL);
    gw_need_release (&need);
    SB_CHECK (s_test_check (self, NULL, three [0], &ident, &need) == GW_AUTH_DENIED);
    gw_need_release (&need);
    const char *others [2] = { "sbk_0000000a_other", "sbk_0000000b_other" };
    for (int i = 0; i < 2; i++) {
        SB_CHECK (s_test_check (self, NULL, others [i], &ident, &need) == GW_AUTH_NEED);
        s_test_reply (self, &need, 404, NULL);
        gw_need_release (&need);
    }
    SB_CHECK (sb_lru_size (self->unknown) == 2);
    SB_CHECK (s_test_check (self, NULL, three [0], &ident, &need) == GW_AUTH_NEED);
    s_test_reply (self, &need, 404, NULL);
    gw_need_release (&need);
    SB_CHECK (s_test_check (self, NULL, three [0], &ident, &need) == GW_AUTH_DENIED);
    gw_need_release (&need);
    //  The keys still cached are untouched by all that.
    SB_CHECK (s_test_check (self, NULL, three [2], &ident, &need) == GW_AUTH_OK
              && streq (ident.key, three_ids [2]));
    gw_need_release (&need);

    //  Kept past the minute only while the revoked keys are read. The
    //  database's clock runs S_SKEW ahead of ours here: only its own
    //  readings are compared with each other.
    {
        const int64_t S_SKEW = 1000;
        const char *long_key = "sbk_0000000c_kept";
        const char *long_key_id = "00000000-0000-4000-8000-00000000000c";
        int64_t t0 = s_test_now;
        char read [256];
        //  No read yet: resolved again after the minute.
        SB_CHECK (s_test_resolve (self, long_key, long_key_id, org, t0 + S_SKEW));
        s_test_now = t0 + S_KEY_FRESH_S;
        SB_CHECK (!s_test_served (self, long_key));
        //  Resolved, then a complete read: long_key past the minute.
        SB_CHECK (s_test_resolve (self, long_key, long_key_id, org, s_test_now + S_SKEW));
        int64_t at = s_test_now;
        s_test_now += 10;
        snprintf (read, sizeof (read), "{\"now\":%lld,\"complete\":true,\"ids\":[],\"orgs\":[]}",
                  (long long) (s_test_now + S_SKEW));
        SB_CHECK (s_test_keys_read (self, read, s_test_now) == 0);
        s_test_now = at + S_KEY_FRESH_S + 5;
        SB_CHECK (s_test_served (self, long_key));
        //  No read for a minute: back to the minute's rule, asked again.
        s_test_now = at + 10 + S_KEY_FRESH_S;
        SB_CHECK (!s_test_served (self, long_key));
        //  Reads every minute keep it, up to S_KEY_MAX_S.
        SB_CHECK (s_test_resolve (self, long_key, long_key_id, org, s_test_now + S_SKEW));
        at = s_test_now;
        bool long_all = true;
        for (int64_t t = at + 30; t < at + S_KEY_MAX_S; t += 50) {
            s_test_now = t;
            snprintf (read, sizeof (read),
                      "{\"now\":%lld,\"complete\":true,\"ids\":[],\"orgs\":[]}",
                      (long long) (t + S_SKEW));
            long_all &= s_test_keys_read (self, read, t) == 0;
            long_all &= s_test_served (self, long_key);
        }
        SB_CHECK (long_all);
        s_test_now = at + S_KEY_MAX_S;
        SB_CHECK (!s_test_served (self, long_key));
        //  A read listing the key forgets it at once.
        SB_CHECK (s_test_resolve (self, long_key, long_key_id, org, s_test_now + S_SKEW));
        snprintf (read, sizeof (read),
                  "{\"now\":%lld,\"complete\":true,\"ids\":[\"%s\"],\"orgs\":[\"%s\"]}",
                  (long long) (s_test_now + S_SKEW), long_key_id, org);
        SB_CHECK (s_test_keys_read (self, read, s_test_now) == 0);
        SB_CHECK (!s_test_served (self, long_key));
        //  A gap between reads longer than the window allows breaks the
        //  chain: a key resolved before the new chain's start is not long_key.
        SB_CHECK (s_test_resolve (self, long_key, long_key_id, org, s_test_now + S_SKEW));
        at = s_test_now;
        s_test_now += S_KEYS_WINDOW_S;      //  (ours and the database's clocks alike)
        snprintf (read, sizeof (read), "{\"now\":%lld,\"complete\":true,\"ids\":[],\"orgs\":[]}",
                  (long long) (s_test_now + S_SKEW));
        SB_CHECK (s_test_keys_read (self, read, s_test_now) == 0);
        SB_CHECK (!s_test_served (self, long_key));
        //  An incomplete read proves nothing: only the minute.
        SB_CHECK (s_test_resolve (self, long_key, long_key_id, org, s_test_now + S_SKEW));
        at = s_test_now;
        snprintf (read, sizeof (read), "{\"now\":%lld,\"complete\":false,\"ids\":[],\"orgs\":[]}",
                  (long long) (s_test_now + S_SKEW));
        SB_CHECK (s_test_keys_read (self, read, s_test_now) == 0);
        s_test_now = at + S_KEY_FRESH_S;
        SB_CHECK (!s_test_served (self, long_key));
        //  A key resolved without the database's clock (an older auth-svc):
        //  the minute only, however the reads go.
        s_test_now += 1;
        at = s_test_now;
        SB_CHECK (s_test_check (self, NULL, long_key, &ident, &need) == GW_AUTH_NEED);
        s_test_reply (self, &need, 200, resolved);
        gw_need_release (&need);
        for (int64_t t = at + 10; t <= at + 50; t += 20) {
            s_test_now = t;
            snprintf (read, sizeof (read),
                      "{\"now\":%lld,\"complete\":true,\"ids\":[],\"orgs\":[]}",
                      (long long) (t + S_SKEW));
            SB_CHECK (s_test_keys_read (self, read, t) == 0);
        }
        SB_CHECK (s_test_served (self, long_key));
        s_test_now = at + S_KEY_FRESH_S;
        SB_CHECK (!s_test_served (self, long_key));
        //  Malformed answers are refused and change nothing.
        SB_CHECK (s_test_keys_read (self, "{\"now\":\"soon\",\"complete\":true,\"ids\":[]}",
                                    s_test_now) == -1);
        SB_CHECK (s_test_keys_read (self, "{\"now\":5,\"complete\":1,\"ids\":[]}",
                                    s_test_now) == -1);
        SB_CHECK (s_test_keys_read (self, "{\"now\":5,\"complete\":true,\"ids\":{}}",
                                    s_test_now) == -1);
    }

    //  Sessions: tokens signed with a key set of our own.
    char top [] = "/tmp/sb-gwauth-test-XXXXXX";
    SB_CHECK (mkdtemp (top) != NULL);
    char why [256];
    sb_jwt_keys_t *keys = sb_jwt_keys_load_dir (top, 1200, why, sizeof (why));
    SB_CHECK (keys);
    self->keys = keys;
    snprintf (self->issuer, sizeof (self->issuer), "test");
    char *tokens [5] = { NULL };
    const char *sids [5] = { "11111111-1111-4111-8111-111111111111",
                             "22222222-2222-4222-8222-222222222222",
                             "33333333-3333-4333-8333-333333333333",
                             "44444444-4444-4444-8444-444444444444",
                             "55555555-5555-4555-8555-555555555555" };
    int64_t wall = sb_now_ms () / 1000;
    for (int i = 0; i < 5 && keys; i++) {
        sb_jwt_claims_t claims = { .iat = wall, .exp = wall + 900 };
        snprintf (claims.iss, sizeof (claims.iss), "test");
        snprintf (claims.sub, sizeof (claims.sub), "u%d", i);
        snprintf (claims.org, sizeof (claims.org), "%s", org);
        snprintf (claims.role, sizeof (claims.role), "user");
        snprintf (claims.sid, sizeof (claims.sid), "%s", sids [i]);
        snprintf (claims.jti, sizeof (claims.jti), "j%d", i);
        tokens [i] = sb_jwt_sign (keys, &claims);
    }
    SB_CHECK (tokens [4] != NULL);
    if (tokens [4]) {
        s_test_now = wall;
        //  Before the first sync nothing proves a session live: ask.
        SB_CHECK (s_test_check (self, tokens [0], NULL, &ident, &need) == GW_AUTH_NEED);
        SB_CHECK (streq (need.op, "sessions.revoked") && streq (need.sid, sids [0]));
        s_test_reply (self, &need, 200, "{\"sids\":[]}");
        gw_need_release (&need);
        SB_CHECK (s_test_check (self, tokens [0], NULL, &ident, &need) == GW_AUTH_OK);
        gw_need_release (&need);
        //  Synced, the list complete: no lookup.
        self->synced = true;
        SB_CHECK (s_test_check (self, tokens [1], NULL, &ident, &need) == GW_AUTH_OK);
        gw_need_release (&need);
        //  Three revocations, a bound of two: all three refused; a live
        //  session is then asked about.
        s_test_revoke_event (self, sids [0]);
        s_test_revoke_event (self, sids [1]);
        s_test_revoke_event (self, sids [2]);
        SB_CHECK (zhashx_size (self->revoked.entries) == 2);
        SB_CHECK (s_test_check (self, tokens [0], NULL, &ident, &need) == GW_AUTH_DENIED);
        gw_need_release (&need);
        SB_CHECK (s_test_check (self, tokens [1], NULL, &ident, &need) == GW_AUTH_DENIED);
        gw_need_release (&need);
        SB_CHECK (s_test_check (self, tokens [2], NULL, &ident, &need) == GW_AUTH_NEED);
        s_test_reply (self, &need, 200, "{\"sids\":[\"33333333-3333-4333-8333-333333333333\"]}");
        gw_need_release (&need);
        SB_CHECK (s_test_check (self, tokens [2], NULL, &ident, &need) == GW_AUTH_DENIED);
        gw_need_release (&need);
        SB_CHECK (s_test_check (self, tokens [3], NULL, &ident, &need) == GW_AUTH_NEED);
        //  Revoked while auth-svc's "live" was in flight: not believed.
        s_test_revoke_event (self, sids [3]);
        s_test_reply (self, &need, 200, "{\"sids\":[]}");
        gw_need_release (&need);
        SB_CHECK (s_test_check (self, tokens [3], NULL, &ident, &need) == GW_AUTH_NEED);
        s_test_reply (self, &need, 200, "{\"sids\":[\"44444444-4444-4444-8444-444444444444\"]}");
        gw_need_release (&need);
        SB_CHECK (s_test_check (self, tokens [3], NULL, &ident, &need) == GW_AUTH_DENIED);
        gw_need_release (&need);
        //  A live session, once confirmed, is not asked about again...
        SB_CHECK (s_test_check (self, tokens [4], NULL, &ident, &need) == GW_AUTH_NEED);
        s_test_reply (self, &need, 200, "{\"sids\":[]}");
        gw_need_release (&need);
        SB_CHECK (s_test_check (self, tokens [4], NULL, &ident, &need) == GW_AUTH_OK);
        gw_need_release (&need);
        //  ...until it is revoked.
        s_test_revoke_event (self, sids [4]);
        SB_CHECK (s_test_check (self, tokens [4], NULL, &ident, &need) != GW_AUTH_OK);
        gw_need_release (&need);
        //  Once the tokens of the sessions not stored have expired, the
        //  list is complete again: no lookups.
        s_test_now = wall + 900 + 2 * SB_JWT_LEEWAY;
        SB_CHECK (s_denylist_complete (&self->revoked, s_test_now));
    }
    for (int i = 0; i < 5; i++)
        free (tokens [i]);
    self->keys = NULL;
    sb_jwt_keys_destroy (&keys);
    zdir_t *dir = zdir_new (top, NULL);
    if (dir)
        zdir_remove (dir, true);
    zdir_destroy (&dir);
    gw_auth_destroy (&self);

    //  Suspended organizations, on a fresh object.
    self = s_new (&config);
    self->now = s_test_clock;
    s_test_now = 5000;
    const char *other = "9d1f4e2a-7b3c-4a5d-8e6f-0a1b2c3d4e5f";
    char listed [128];
    snprintf (listed, sizeof (listed), "{\"orgs\":[\"%s\"]}", org);
    gw_denial_t denial;
    //  Before the first sync: each organization is asked about.
    memset (&need, 0, sizeof (need));
    SB_CHECK (s_check_suspended (self, org, &denial, &need) == GW_AUTH_NEED);
    SB_CHECK (streq (need.op, "orgs.suspended") && streq (need.org, org));
    s_test_reply (self, &need, 200, listed);
    gw_need_release (&need);
    SB_CHECK (s_check_suspended (self, org, &denial, &need) == GW_AUTH_DENIED);
    SB_CHECK (denial.status == 403 && streq (denial.code, SB_E_ORGANIZATION_SUSPENDED));
    //  Said active, but suspended while the answer was in flight: asked again.
    SB_CHECK (s_check_suspended (self, other, &denial, &need) == GW_AUTH_NEED);
    s_suspend_org (self, other, true);
    s_suspend_org (self, other, false);
    s_test_reply (self, &need, 200, "{\"orgs\":[]}");
    gw_need_release (&need);
    SB_CHECK (s_check_suspended (self, other, &denial, &need) == GW_AUTH_NEED);
    s_test_reply (self, &need, 200, "{\"orgs\":[]}");
    gw_need_release (&need);
    SB_CHECK (s_check_suspended (self, other, &denial, &need) == GW_AUTH_OK);
    //  The sync: the set read whole, then no more questions.
    uint64_t asked = self->generation;
    msgpack_unpacked unpacked;
    msgpack_sbuffer packed;
    msgpack_sbuffer_init (&packed);
    json_t *parsed = sb_json_parse (listed, strlen (listed), why, sizeof (why));
    sb_json_pack_into (&packed, parsed);
    json_decref (parsed);
    msgpack_unpacked_init (&unpacked);
    SB_CHECK (msgpack_unpack_next (&unpacked, packed.data, packed.size, NULL)
              == MSGPACK_UNPACK_SUCCESS);
    s_suspended_install (self, &unpacked.data, asked);
    SB_CHECK (self->orgs_synced && zhashx_size (self->suspended) == 1);
    SB_CHECK (s_check_suspended (self, org, &denial, &need) == GW_AUTH_DENIED);
    SB_CHECK (s_check_suspended (self, other, &denial, &need) == GW_AUTH_OK);
    //  Events: other suspended, org resumed, both at once.
    asked = self->generation;
    s_suspend_org (self, other, true);
    s_suspend_org (self, org, false);
    SB_CHECK (s_check_suspended (self, other, &denial, &need) == GW_AUTH_DENIED);
    SB_CHECK (s_check_suspended (self, org, &denial, &need) == GW_AUTH_OK);
    //  A sync read before those events (org listed, other not): other
    //  stays suspended, org is not suspended again.
    s_suspended_install (self, &unpacked.data, asked);
    SB_CHECK (s_check_suspended (self, other, &denial, &need) == GW_AUTH_DENIED);
    SB_CHECK (s_check_suspended (self, org, &denial, &need) == GW_AUTH_OK);
    //  A later sync is the truth: other resumed without our hearing.
    s_suspended_install (self, &unpacked.data, self->generation);
    SB_CHECK (s_check_suspended (self, other, &denial, &need) == GW_AUTH_OK);
    SB_CHECK (s_check_suspended (self, org, &denial, &need) == GW_AUTH_DENIED);
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&packed);
    gw_auth_destroy (&self);

    if (verbose)
        printf ("OK\n");
}
