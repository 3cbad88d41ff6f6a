/*  entitlements.c — the entitlement cache (contract in sb/entitlements.h).

    State, under one mutex:
    - entries: org -> sb_entitlement_t, remembered answers, an LRU table
      (sb/lru.h) of SWITCHBOARD_ENTITLEMENTS_CACHE entries that evicts the
      least recently used one when full: an organization evicted is asked
      of billing-svc again at its next request, like one never seen;
    - generation: the number of change notices heard (events and the
      catch-up's answers), and recent [generation % S_RECENT]: the
      organization of each of the last S_RECENT notices, so that an answer
      that was in flight can tell whether its organization changed since;
    - since: the version up to which every change has been heard (-1 until
      the first catch-up answered: then nothing is remembered).

    The actor (its own thread) owns the SUB socket and a bus client: it
    applies subscription.changed events as they come and asks billing-svc
    entitlements.changes {since} every S_POLL_MS (every S_FIRST_MS until
    the first answer, so that a process starting beside billing-svc soon
    remembers). An answer that is not
    complete (more changes than one answer lists) empties the cache, as
    does a version that went backwards (billing's database was replaced):
    both cost lookups only.
*/
#include "sb/sb.h"
#include "sb/entitlements.h"
#include "sb/lru.h"
#include "sb/mpk.h"
#include "sb/plans.h"
#include <pthread.h>

#define S_CACHE_MIN   1             //  entries at least (a zeroed config in a selftest)
#define S_RECENT      1024          //  notices remembered by organization
#define S_POLL_MS     1000          //  catch-up interval
#define S_FIRST_MS    200           //  until the first answer (nothing is remembered before)
#define S_CALL_MS     2000          //  catch-up call timeout

struct _sb_ents_t {
    pthread_mutex_t lock;
    sb_lru_t *entries;              //  org -> sb_entitlement_t
    uint64_t generation;
    char recent [S_RECENT][37];
    int64_t since;                  //  -1: not caught up yet
    int64_t (*now_ms) (void);       //  wall clock (tests inject one)
    const sb_config_t *config;      //  the service's: brokers, event endpoints, bus keys
    zactor_t *actor;
};

//  ---------------------------------------------------------------------
//  The wire form

static int
s_limit (const msgpack_object *limits, const char *key, int64_t *out)
{
    const msgpack_object *value = sb_mpk_get (limits, key);
    return value && sb_mpk_int (value, out) == 0 && *out >= -1 ? 0 : -1;
}

int
sb_entitlement_parse (const msgpack_object *obj, sb_entitlement_t *ent, char *org)
{
    memset (ent, 0, sizeof (*ent));
    if (!obj || obj->type != MSGPACK_OBJECT_MAP)
        return -1;
    char id [65];
    int64_t version = 0, expires = 0;
    const msgpack_object *limits = sb_mpk_get (obj, "limits");
    const msgpack_object *features = sb_mpk_get (obj, "features");
    const msgpack_object *expires_at = sb_mpk_get (obj, "expires_at_ms");
    if (sb_mpk_copy_str (sb_mpk_get (obj, "organization_id"), id, sizeof (id))
        || !sb_is_uuid (id)
        || sb_mpk_copy_str (sb_mpk_get (obj, "plan"), ent->plan, sizeof (ent->plan))
        || !*ent->plan
        || sb_mpk_copy_str (sb_mpk_get (obj, "status"), ent->status, sizeof (ent->status))
        || sb_mpk_int (sb_mpk_get (obj, "version"), &version) || version < 0
        || (expires_at && expires_at->type != MSGPACK_OBJECT_NIL
            && (sb_mpk_int (expires_at, &expires) || expires < 0))
        || !limits || limits->type != MSGPACK_OBJECT_MAP
        || s_limit (limits, "calls_per_month", &ent->calls_per_month)
        || s_limit (limits, "calls_included", &ent->calls_included)
        || s_limit (limits, "businesses", &ent->businesses)
        || s_limit (limits, "seats", &ent->seats)
        || s_limit (limits, "api_requests_per_minute", &ent->api_requests_per_minute)
        || !features || features->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    for (uint32_t i = 0; i < features->via.array.size; i++) {
        char name [32];
        //  A feature this build does not know grants nothing here.
        if (sb_mpk_copy_str (&features->via.array.ptr [i], name, sizeof (name)) == 0)
            ent->features |= sb_plans_feature (name);
    }
    ent->version = (uint64_t) version;
    ent->expires_ms = expires;
    if (org)
        snprintf (org, 65, "%s", id);
    return 0;
}

void
sb_entitlement_pack (msgpack_packer *pk, const char *org, const sb_entitlement_t *ent)
{
    msgpack_pack_map (pk, 7);
    sb_mpk_pack_kv_str (pk, "organization_id", org);
    sb_mpk_pack_kv_str (pk, "plan", ent->plan);
    sb_mpk_pack_kv_str (pk, "status", ent->status);
    sb_mpk_pack_kv_int (pk, "version", (int64_t) ent->version);
    sb_mpk_pack_str (pk, "expires_at_ms");
    if (ent->expires_ms)
        msgpack_pack_int64 (pk, ent->expires_ms);
    else
        msgpack_pack_nil (pk);
    sb_mpk_pack_str (pk, "limits");
    msgpack_pack_map (pk, 5);
    sb_mpk_pack_kv_int (pk, "calls_per_month", ent->calls_per_month);
    sb_mpk_pack_kv_int (pk, "calls_included", ent->calls_included);
    sb_mpk_pack_kv_int (pk, "businesses", ent->businesses);
    sb_mpk_pack_kv_int (pk, "seats", ent->seats);
    sb_mpk_pack_kv_int (pk, "api_requests_per_minute", ent->api_requests_per_minute);
    sb_mpk_pack_str (pk, "features");
    sb_plans_pack_features (pk, ent->features);
}

void
sb_ents_pack_args (msgpack_sbuffer *buf, const char *org)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sb_mpk_pack_str (&pk, "organization_ids");
    msgpack_pack_array (&pk, 1);
    sb_mpk_pack_str (&pk, org);
}

//  ---------------------------------------------------------------------
//  The table

//  A notice that org changed to version: drops an older entry and is
//  remembered for the answers in flight. Under the lock.
static void
s_notice (sb_ents_t *self, const char *org, uint64_t version)
{
    sb_entitlement_t *entry = (sb_entitlement_t *) sb_lru_peek (self->entries, org);
    if (entry && entry->version < version)
        sb_lru_remove (self->entries, org);
    self->generation++;
    snprintf (self->recent [self->generation % S_RECENT], 37, "%s", org);
}

//  Forgets everything and every answer in flight. Under the lock.
static void
s_forget_all (sb_ents_t *self)
{
    sb_lru_purge (self->entries);
    self->generation += S_RECENT + 1;
    memset (self->recent, 0, sizeof (self->recent));
}

//  True when no notice of org arrived after generation. Under the lock.
static bool
s_unchanged_since (sb_ents_t *self, const char *org, uint64_t generation)
{
    if (self->since < 0 || generation > self->generation
        || self->generation - generation >= S_RECENT)
        return false;
    for (uint64_t g = generation + 1; g <= self->generation; g++)
        if (streq (self->recent [g % S_RECENT], org))
            return false;
    return true;
}

bool
sb_ents_lookup (sb_ents_t *self, const char *org, sb_entitlement_t *ent, uint64_t *generation)
{
    bool found = false;
    pthread_mutex_lock (&self->lock);
    sb_entitlement_t *entry = (sb_entitlement_t *) sb_lru_get (self->entries, org);
    if (entry && entry->expires_ms && entry->expires_ms <= self->now_ms ()) {
        sb_lru_remove (self->entries, org);
        entry = NULL;
    }
    if (entry) {
        *ent = *entry;
        found = true;
    }
    if (generation)
        *generation = self->generation;
    pthread_mutex_unlock (&self->lock);
    return found;
}

int
sb_ents_store (sb_ents_t *self, const msgpack_object *body, const char *org,
               uint64_t generation, sb_entitlement_t *ent)
{
    const msgpack_object *data = body ? sb_mpk_get (body, "data") : NULL;
    if (!data || data->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    for (uint32_t i = 0; i < data->via.array.size; i++) {
        char id [65];
        sb_entitlement_t found;
        if (sb_entitlement_parse (&data->via.array.ptr [i], &found, id) || !streq (id, org))
            continue;
        *ent = found;
        pthread_mutex_lock (&self->lock);
        sb_entitlement_t *entry = (sb_entitlement_t *) sb_lru_peek (self->entries, org);
        if (s_unchanged_since (self, org, generation) && (!entry || entry->version < found.version)
            && (!found.expires_ms || found.expires_ms > self->now_ms ()))
            sb_lru_put (self->entries, org, &found);
        pthread_mutex_unlock (&self->lock);
        return 0;
    }
    return -1;
}

size_t
sb_ents_size (sb_ents_t *self)
{
    pthread_mutex_lock (&self->lock);
    size_t size = sb_lru_size (self->entries);
    pthread_mutex_unlock (&self->lock);
    return size;
}

//  ---------------------------------------------------------------------
//  Asking billing-svc

//  Calls billing op with the msgpack args (role service); 0 with a 200
//  reply, else -1.
static int
s_call (sb_client_t *client, const char *op, const msgpack_sbuffer *args, int timeout_ms,
        sb_reply_msg_t *reply)
{
    //  billing's peer worker (sb_service_t, "The peer worker"): never behind a
    //  handler of billing's that waits on the caller.
    int status = sb_client_request (client, "billing.peer", op, NULL, args, timeout_ms, reply,
                                    NULL, 0);
    if (status && (status != 200 || !reply->body)) {
        sb_debug ("entitlements: billing %s answered %d", op, status);
        sb_reply_msg_release (reply);
        return -1;
    }
    return status ? 0 : -1;
}

int
sb_ents_get (sb_ents_t *self, sb_client_t *client, const char *org, int timeout_ms,
             sb_entitlement_t *ent)
{
    uint64_t generation;
    if (sb_ents_lookup (self, org, ent, &generation))
        return 0;
    if (!client)
        return -1;
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    sb_ents_pack_args (&args, org);
    sb_reply_msg_t reply;
    int rc = s_call (client, "entitlements.get", &args, timeout_ms, &reply);
    msgpack_sbuffer_destroy (&args);
    if (rc)
        return -1;
    rc = sb_ents_store (self, reply.body, org, generation, ent);
    sb_reply_msg_release (&reply);
    return rc;
}

//  Applies an answer of entitlements.changes: {version, complete, changes:
//  [{organization_id, version}]}. 0, or -1 when it is not one.
static int
s_apply_changes (sb_ents_t *self, const msgpack_object *body)
{
    int64_t version;
    const msgpack_object *changes = sb_mpk_get (body, "changes");
    const msgpack_object *complete = sb_mpk_get (body, "complete");
    if (sb_mpk_int (sb_mpk_get (body, "version"), &version) || version < 0
        || !changes || changes->type != MSGPACK_OBJECT_ARRAY
        || !complete || complete->type != MSGPACK_OBJECT_BOOLEAN)
        return -1;
    pthread_mutex_lock (&self->lock);
    if (!complete->via.boolean || (self->since >= 0 && version < self->since)) {
        if (self->since >= 0)
            sb_info ("entitlements: %s, forgetting %zu entries",
                     complete->via.boolean ? "billing's version went backwards"
                                           : "too many changes at once",
                     sb_lru_size (self->entries));
        s_forget_all (self);
    }
    else
    for (uint32_t i = 0; i < changes->via.array.size; i++) {
        const msgpack_object *change = &changes->via.array.ptr [i];
        char org [37];
        int64_t changed;
        if (sb_mpk_copy_str (sb_mpk_get (change, "organization_id"), org, sizeof (org)) == 0
            && sb_mpk_int (sb_mpk_get (change, "version"), &changed) == 0 && changed >= 0)
            s_notice (self, org, (uint64_t) changed);
    }
    if (self->since < 0)
        sb_info ("entitlements: following billing's changes from version %lld",
                 (long long) version);
    self->since = version;
    pthread_mutex_unlock (&self->lock);
    return 0;
}

//  Asks for the changes since the last answer: true when billing answered.
static bool
s_catch_up (sb_ents_t *self, sb_client_t *client)
{
    pthread_mutex_lock (&self->lock);
    int64_t since = self->since;
    pthread_mutex_unlock (&self->lock);
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sb_mpk_pack_str (&pk, "since");
    if (since < 0)
        msgpack_pack_nil (&pk);
    else
        msgpack_pack_int64 (&pk, since);
    sb_reply_msg_t reply;
    bool answered = s_call (client, "entitlements.changes", &args, S_CALL_MS, &reply) == 0;
    if (answered) {
        if (s_apply_changes (self, reply.body))
            sb_warn ("entitlements: a malformed answer to entitlements.changes");
        sb_reply_msg_release (&reply);
    }
    msgpack_sbuffer_destroy (&args);
    return answered;
}

//  subscription.changed {organization_id, version}
static void
s_handle_event (sb_ents_t *self, zmsg_t *msg)
{
    zframe_t *topic = zmsg_first (msg);
    zframe_t *body = zmsg_next (msg);
    if (!topic || !body || !zframe_streq (topic, "subscription.changed"))
        return;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    char why [64];
    char org [37];
    int64_t version;
    if (sb_mpk_validate (zframe_data (body), zframe_size (body), 4, why, sizeof (why)) == 0
        && msgpack_unpack_next (&unpacked, (const char *) zframe_data (body), zframe_size (body),
                                NULL) == MSGPACK_UNPACK_SUCCESS
        && sb_mpk_copy_str (sb_mpk_get (&unpacked.data, "organization_id"), org, sizeof (org)) == 0
        && sb_mpk_int (sb_mpk_get (&unpacked.data, "version"), &version) == 0 && version >= 0) {
        pthread_mutex_lock (&self->lock);
        s_notice (self, org, (uint64_t) version);
        pthread_mutex_unlock (&self->lock);
    }
    msgpack_unpacked_destroy (&unpacked);
}

static void
s_actor (zsock_t *pipe, void *arg)
{
    sb_ents_t *self = (sb_ents_t *) arg;
    const char *const topics [] = { "subscription.changed", NULL };
    zsock_t *sub = sb_events_subscriber_new (self->config, topics);
    sb_client_t *client = sb_client_new (self->config, NULL);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, sub, NULL);
    zpoller_set_nonstop (poller, true);
    int64_t poll_at = sb_mono_ms ();
    bool answering = true;          //  logged when it changes, not every second
    while (true) {
        int64_t wait = poll_at - sb_mono_ms ();
        zsock_t *which = (zsock_t *) zpoller_wait (poller, wait > 0 ? (int) wait : 0);
        if (which == pipe)
            break;
        if (which == sub) {
            zmsg_t *msg = zmsg_recv (sub);
            if (msg)
                s_handle_event (self, msg);
            zmsg_destroy (&msg);
        }
        if (client && sb_mono_ms () >= poll_at) {
            bool answered = s_catch_up (self, client);
            if (answered != answering)
                sb_info ("entitlements: billing-svc %s", answered
                         ? "answers the catch-up again"
                         : "does not answer the catch-up: known organizations keep their "
                           "entitlement, unknown ones are refused");
            answering = answered;
            pthread_mutex_lock (&self->lock);
            bool following = self->since >= 0;
            pthread_mutex_unlock (&self->lock);
            poll_at = sb_mono_ms () + (following ? S_POLL_MS : S_FIRST_MS);
        }
    }
    zpoller_destroy (&poller);
    sb_client_destroy (&client);
    zsock_destroy (&sub);
}

static sb_ents_t *
s_new (int capacity)
{
    sb_ents_t *self = (sb_ents_t *) sb_calloc (1, sizeof (sb_ents_t));
    pthread_mutex_init (&self->lock, NULL);
    self->entries = sb_lru_new ("entitlements", capacity > S_CACHE_MIN ? (size_t) capacity
                                                                       : S_CACHE_MIN,
                                sizeof (sb_entitlement_t), 64);
    self->since = -1;
    self->now_ms = sb_now_ms;
    return self;
}

sb_ents_t *
sb_ents_new (const sb_config_t *config)
{
    sb_ents_t *self = s_new (config->entitlements_cache);
    self->config = config;
    self->actor = zactor_new (s_actor, self);
    return self;
}

void
sb_ents_destroy (sb_ents_t **self_p)
{
    sb_ents_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);
    sb_lru_destroy (&self->entries);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Selftest

static int64_t s_test_now = 1700000000000;

static int64_t
s_test_clock (void)
{
    return s_test_now;
}

//  billing's answer to entitlements.get for one organization.
static void
s_test_answer (msgpack_sbuffer *buf, const char *org, const char *plan, uint64_t version,
               int64_t expires_ms)
{
    sb_entitlement_t ent = { .version = version, .calls_per_month = 1000, .calls_included = 100,
                             .businesses = 3, .seats = 5, .api_requests_per_minute = 300,
                             .features = SB_FEATURE_ANALYTICS | SB_FEATURE_SSO,
                             .expires_ms = expires_ms };
    snprintf (ent.plan, sizeof (ent.plan), "%s", plan);
    snprintf (ent.status, sizeof (ent.status), "active");
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sb_mpk_pack_str (&pk, "data");
    msgpack_pack_array (&pk, 1);
    sb_entitlement_pack (&pk, org, &ent);
}

static int
s_test_store (sb_ents_t *self, const char *org, const char *plan, uint64_t version,
              int64_t expires_ms, uint64_t generation, sb_entitlement_t *ent)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_test_answer (&buf, org, plan, version, expires_ms);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    msgpack_unpack_next (&unpacked, buf.data, buf.size, NULL);
    int rc = sb_ents_store (self, &unpacked.data, org, generation, ent);
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buf);
    return rc;
}

static void
s_test_changes (sb_ents_t *self, int64_t version, bool complete, const char *org,
                int64_t org_version)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    sb_mpk_pack_kv_int (&pk, "version", version);
    sb_mpk_pack_str (&pk, "complete");
    if (complete)
        msgpack_pack_true (&pk);
    else
        msgpack_pack_false (&pk);
    sb_mpk_pack_str (&pk, "changes");
    msgpack_pack_array (&pk, org ? 1 : 0);
    if (org) {
        msgpack_pack_map (&pk, 2);
        sb_mpk_pack_kv_str (&pk, "organization_id", org);
        sb_mpk_pack_kv_int (&pk, "version", org_version);
    }
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    msgpack_unpack_next (&unpacked, buf.data, buf.size, NULL);
    SB_CHECK (s_apply_changes (self, &unpacked.data) == 0);
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buf);
}

void
sb_ents_test (bool verbose)
{
    (void) verbose;
    const char *a = "0b6a3c52-4d1e-4f0a-9a53-6f0e5b7c1d2e";
    const char *b = "7c1d2e0b-6a3c-424d-8e4f-0a9a536f0e5b";
    sb_ents_t *self = s_new (100);
    self->now_ms = s_test_clock;
    sb_entitlement_t ent;
    uint64_t generation;

    //  The wire form goes both ways, features by name.
    SB_CHECK (!sb_ents_lookup (self, a, &ent, &generation));
    SB_CHECK (s_test_store (self, a, "starter", 5, 0, generation, &ent) == 0);
    SB_CHECK (streq (ent.plan, "starter") && streq (ent.status, "active") && ent.version == 5
              && ent.calls_per_month == 1000 && ent.calls_included == 100 && ent.businesses == 3
              && ent.seats == 5 && ent.api_requests_per_minute == 300
              && ent.features == (SB_FEATURE_ANALYTICS | SB_FEATURE_SSO) && ent.expires_ms == 0);
    //  Not caught up yet: used, not remembered.
    SB_CHECK (!sb_ents_lookup (self, a, &ent, &generation) && sb_ents_size (self) == 0);

    s_test_changes (self, 10, true, NULL, 0);
    SB_CHECK (self->since == 10);
    SB_CHECK (!sb_ents_lookup (self, a, &ent, &generation));
    SB_CHECK (s_test_store (self, a, "starter", 5, 0, generation, &ent) == 0);
    SB_CHECK (sb_ents_lookup (self, a, &ent, NULL) && streq (ent.plan, "starter"));

    //  A notice of a newer version drops the entry; of an older one not.
    s_test_changes (self, 11, true, a, 4);
    SB_CHECK (sb_ents_lookup (self, a, &ent, NULL));
    s_test_changes (self, 12, true, a, 12);
    SB_CHECK (!sb_ents_lookup (self, a, &ent, &generation));

    //  An answer in flight while its organization changed is not kept;
    //  one while another organization changed is.
    uint64_t before = generation;
    s_test_changes (self, 13, true, a, 13);
    SB_CHECK (s_test_store (self, a, "starter", 12, 0, before, &ent) == 0
              && streq (ent.plan, "starter"));
    SB_CHECK (!sb_ents_lookup (self, a, &ent, &generation));
    before = generation;
    s_test_changes (self, 14, true, b, 14);
    SB_CHECK (s_test_store (self, a, "pro", 13, 0, before, &ent) == 0);
    SB_CHECK (sb_ents_lookup (self, a, &ent, NULL) && streq (ent.plan, "pro"));

    //  More notices in flight than are remembered: not kept.
    SB_CHECK (!sb_ents_lookup (self, b, &ent, &before));
    for (int i = 0; i < S_RECENT; i++)
        s_test_changes (self, 15 + i, true, "11111111-1111-4111-8111-111111111111", 15 + i);
    SB_CHECK (s_test_store (self, b, "pro", 14, 0, before, &ent) == 0);
    SB_CHECK (!sb_ents_lookup (self, b, &ent, NULL));

    //  An entitlement that holds until a moment is forgotten then.
    SB_CHECK (!sb_ents_lookup (self, b, &ent, &generation));
    SB_CHECK (s_test_store (self, b, "pro", 14, s_test_now + 5000, generation, &ent) == 0);
    SB_CHECK (sb_ents_lookup (self, b, &ent, NULL) && ent.expires_ms == s_test_now + 5000);
    s_test_now += 5000;
    SB_CHECK (!sb_ents_lookup (self, b, &ent, &generation));
    //  ... and one already past is not kept at all.
    SB_CHECK (s_test_store (self, b, "pro", 14, s_test_now - 1, generation, &ent) == 0);
    SB_CHECK (!sb_ents_lookup (self, b, &ent, NULL));

    //  An incomplete catch-up, or a version that went back, forgets all.
    SB_CHECK (sb_ents_lookup (self, a, &ent, &generation));
    s_test_changes (self, 5000, false, NULL, 0);
    SB_CHECK (!sb_ents_lookup (self, a, &ent, &generation) && sb_ents_size (self) == 0);
    SB_CHECK (s_test_store (self, a, "pro", 20, 0, generation, &ent) == 0);
    SB_CHECK (sb_ents_lookup (self, a, &ent, NULL));
    s_test_changes (self, 3, true, NULL, 0);
    SB_CHECK (!sb_ents_lookup (self, a, &ent, NULL) && self->since == 3);

    //  Malformed answers are refused, whole.
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sb_mpk_pack_str (&pk, "data");
    msgpack_pack_array (&pk, 1);
    msgpack_pack_map (&pk, 2);
    sb_mpk_pack_kv_str (&pk, "organization_id", a);
    sb_mpk_pack_kv_str (&pk, "plan", "pro");
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    msgpack_unpack_next (&unpacked, buf.data, buf.size, NULL);
    SB_CHECK (sb_ents_store (self, &unpacked.data, a, generation, &ent) == -1);
    SB_CHECK (sb_ents_store (self, NULL, a, generation, &ent) == -1);
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buf);
    sb_ents_destroy (&self);
    SB_CHECK (self == NULL);

    //  A full cache evicts the least recently used organization, one at a
    //  time: it is asked again (not remembered), the others stay.
    self = s_new (2);
    self->now_ms = s_test_clock;
    s_test_changes (self, 1, true, NULL, 0);
    const char *c = "11111111-1111-4111-8111-111111111111";
    SB_CHECK (!sb_ents_lookup (self, a, &ent, &generation));
    SB_CHECK (s_test_store (self, a, "pro", 1, 0, generation, &ent) == 0);
    SB_CHECK (s_test_store (self, b, "starter", 1, 0, generation, &ent) == 0);
    SB_CHECK (sb_ents_lookup (self, a, &ent, &generation));          //  a used: b is older
    SB_CHECK (s_test_store (self, c, "pro", 1, 0, generation, &ent) == 0);
    SB_CHECK (sb_ents_size (self) == 2);
    SB_CHECK (!sb_ents_lookup (self, b, &ent, NULL));
    SB_CHECK (sb_ents_lookup (self, a, &ent, NULL) && streq (ent.plan, "pro"));
    SB_CHECK (sb_ents_lookup (self, c, &ent, NULL));
    //  An evicted organization's change is still heard: the answer that
    //  was in flight across it is not remembered.
    SB_CHECK (!sb_ents_lookup (self, b, &ent, &generation));
    s_test_changes (self, 2, true, b, 2);
    SB_CHECK (s_test_store (self, b, "starter", 1, 0, generation, &ent) == 0);
    SB_CHECK (!sb_ents_lookup (self, b, &ent, NULL));
    sb_ents_destroy (&self);
}
