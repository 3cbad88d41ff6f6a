/*  gw_ratelimit.c — rate limits and request counting at the gateway.

    Two limits are enforced here, both decided on the HTTP thread before a
    request is forwarded, both exact at this gateway (the count is taken
    under a lock as the request is admitted, so a burst cannot slip through
    while counters catch up):

    - per organization, over all its users and keys, at its plan's
      api_requests_per_minute (-1: unlimited), on every authenticated
      request;
    - per client address (the TCP peer), on signup, login and password
      forgot/reset, at SWITCHBOARD_AUTH_RATE_PER_MINUTE (0: off);
    - per client address, failed credentials, at
      SWITCHBOARD_AUTH_FAILURES_PER_MINUTE (0: off): the HTTP side asks
      before it looks a credential up and counts each one refused.

    A client address here is the limit key gw_addr_key gives (an IPv6
    client's /64), after X-Forwarded-For from a trusted proxy.

    The window is a sliding one approximated by two fixed 60 s windows: the
    count of the current window plus the previous window's count weighted
    by how much of it the sliding minute still covers, rounded up (none of
    it once its last request is a minute old: so Retry-After is never more
    than 60 s, and a client that waits it out is served). A window starts
    at the first request after a quiet spell (not at the top
    of the clock's minute), so organizations do not all reset together.
    Requests refused do not count. An organization or address idle for two
    windows has no state left worth keeping and is dropped, which bounds
    memory to what was active in the last two minutes; beyond that a hard
    cap, SWITCHBOARD_GATEWAY_RATE_WINDOWS per table (split over the
    shards), evicts the least recently seen window, one at a time (its
    usage count is handed to the actor first, so no request goes
    uncounted). Forgetting a window that is still live lets its
    organization or address start a fresh minute: the one way a limit can
    be exceeded here, and only when more of them were active within two
    minutes than the cap (the default holds 262,144 per table: size it
    above the organizations that use a gateway within two minutes).

    With N gateways behind a balancer, SWITCHBOARD_RATE_SHARE=N makes each
    enforce 1/N of every limit (rounded up): no coordination between
    gateways, exact when the balancer spreads an organization evenly.

    A limit comes from the bus (an entitlement), so it is not trusted to
    be small: one above the catalogue's largest (SB_PLAN_LIMIT_MAX, 10^12
    a minute, unlimited in practice) is enforced as that largest, which
    keeps the window's arithmetic (a count times 60,000 ms) inside int64.

    Each admitted authenticated request is also counted for usage: per
    organization and unix second. An actor sends, every second, the
    seconds that have ended to usage-svc in one usage.record call (metric
    api_requests, event id <instance>:<org>:<second>); what usage-svc does
    not acknowledge is kept and sent again with the same ids (usage-svc
    drops ids it has seen), for at most five minutes. usage-svc answers per
    event: the counts of an organization it refuses (its counter at the
    cap) are logged and dropped, the other organizations' are taken.

    The tables are sharded by a hash of the key, each shard a mutex and an
    LRU table (sb/lru.h): every admission or count refreshes its window's
    entry, so the least recently used entry is also the one idle longest,
    and idle windows are dropped from that end without a scan.
*/
#include "gw.h"
#include "sb/lru.h"
#include "sb/plans.h"
#include <pthread.h>
#include <unistd.h>

#define S_WINDOW_MS       60000     //  one fixed window
#define S_SHARDS          16
#define S_KEY_MAX         64        //  longer keys (none expected) are cut
#define S_BATCH_MAX       1000      //  events per usage.record (usage-svc's cap)
#define S_OUTBOX_MAX      200000    //  counts waiting for usage-svc, at most
#define S_KEEP_SECONDS    300       //  unacknowledged counts are dropped after this
#define S_CALL_MS         2000      //  usage.record timeout

//  Two fixed windows: start of the current one (monotonic ms), requests
//  admitted in it and in the one before, and when the last of each was
//  admitted (once that is a whole window ago, none of them is in the
//  sliding minute any more).
typedef struct {
    int64_t start;
    int64_t cur;
    int64_t prev;
    int64_t last;                   //  of cur (meaningless while cur is 0)
    int64_t prev_last;              //  of prev (meaningless while prev is 0)
} s_window_t;

//  The value of a key (organization id or client address) in a shard.
typedef struct {
    s_window_t window;
    int64_t last_ms;                //  last admitted or refused request
    int64_t usage_second;           //  unix second of usage_count
    int64_t usage_count;
} s_entry_t;

//  A count for usage-svc: org made count requests during second.
typedef struct {
    char org [37];
    int64_t second;
    int64_t count;
} s_usage_t;

typedef struct {
    s_usage_t *items;
    size_t size, max;
} s_usages_t;

typedef struct {
    pthread_mutex_t lock;
    sb_lru_t *entries;              //  key -> s_entry_t
    int64_t last_second;            //  usage seconds never go back within a shard
    s_usages_t ready;               //  ended seconds, for the actor to take
} s_shard_t;

typedef struct {
    s_shard_t shards [S_SHARDS];
    bool count_usage;
} s_table_t;

struct _gw_ratelimit_t {
    s_table_t orgs;
    s_table_t clients;
    s_table_t failures;             //  failed credentials per client address
    int auth_failures;              //  per client address per minute, 0 = off
    int share;                      //  SWITCHBOARD_RATE_SHARE
    int auth_rate;                  //  per client address per minute, 0 = off
    int64_t (*mono) (void);         //  clocks, replaced in the selftest
    int64_t (*wall) (void);
    char instance [40];             //  this gateway in usage event ids
    s_usages_t outbox;              //  the actor's: not yet acknowledged
    size_t dropped;                 //  counts dropped since the last warning
    sb_broker_t *broker;            //  NULL in the selftest: nothing is sent
    zactor_t *actor;
};

//  ---------------------------------------------------------------------
//  The window arithmetic (pure)

//  Moves the windows forward to now.
static void
s_window_roll (s_window_t *w, int64_t now)
{
    int64_t elapsed = now - w->start;
    if (elapsed < S_WINDOW_MS)
        return;
    if (elapsed < 2 * S_WINDOW_MS) {
        w->prev = w->cur;
        w->prev_last = w->last;
        w->start += S_WINDOW_MS;
    }
    else {
        //  Quiet for a whole window: nothing left to remember, and the
        //  next window starts now.
        w->prev = 0;
        w->start = now;
    }
    w->cur = 0;
}

//  Requests the sliding minute ending now holds (windows rolled to now):
//  the current window's plus the part of the previous one still covered,
//  rounded up so that the estimate never lets more through; none of the
//  previous one's once its last request is a whole window old (exact, and
//  what bounds every wait below by one window).
static int64_t
s_window_used (const s_window_t *w, int64_t now)
{
    if (w->prev == 0 || now - w->prev_last >= S_WINDOW_MS)
        return w->cur;
    int64_t left = S_WINDOW_MS - (now - w->start);
    return w->cur + (w->prev * left + S_WINDOW_MS - 1) / S_WINDOW_MS;
}

//  Milliseconds from now until one more request fits under limit (0: now),
//  assuming nothing else is admitted meanwhile: at most one window (60 s),
//  and a request sent that much later is admitted (the selftest checks
//  both), so a Retry-After of this rounded up is honest.
static int64_t
s_window_wait (const s_window_t *w, int64_t limit, int64_t now)
{
    if (limit <= 0)
        return S_WINDOW_MS;
    if (s_window_used (w, now) < limit)
        return 0;
    int64_t at;
    if (w->cur < limit) {
        //  Room in this window once the previous one's share has decayed
        //  enough: ceil (prev * (W - e) / W) <= room, i.e. e >= W - floor
        //  (room * W / prev), e being the time into this window; or once
        //  the previous window's last request is a window old.
        int64_t room = limit - w->cur - 1;
        at = w->start + S_WINDOW_MS - room * S_WINDOW_MS / w->prev;
        if (w->prev_last + S_WINDOW_MS < at)
            at = w->prev_last + S_WINDOW_MS;
    }
    else {
        //  Only in the next window, where this one's count becomes the
        //  previous and must decay to limit - 1; or once this window's last
        //  request is a window old, which is at most a window from now and
        //  often sooner (the decay assumes the requests spread over the
        //  window; a burst at its start is all gone a window later).
        at = w->start + 2 * S_WINDOW_MS - (limit - 1) * S_WINDOW_MS / w->cur;
        if (w->last + S_WINDOW_MS < at)
            at = w->last + S_WINDOW_MS;
    }
    return at > now ? at - now : 0;
}

static int64_t
s_ms_to_seconds (int64_t ms)
{
    int64_t seconds = (ms + 999) / 1000;
    return seconds > 0 ? seconds : 1;
}

//  Admits or refuses one request at now against limit (>= 0), filling rate.
static bool
s_window_admit (s_window_t *w, int64_t limit, int64_t now, gw_rate_t *rate)
{
    s_window_roll (w, now);
    int64_t used = s_window_used (w, now);
    rate->shown = true;
    rate->limit = limit;
    if (used + 1 > limit) {
        rate->remaining = 0;
        rate->retry_after = s_ms_to_seconds (s_window_wait (w, limit, now));
        rate->reset = rate->retry_after;
        return false;
    }
    w->cur++;
    w->last = now;
    rate->remaining = limit - used - 1;
    rate->retry_after = 0;
    //  Reset: when this window ends; with nothing left, when there is
    //  room again (which is later).
    rate->reset = rate->remaining > 0 ? s_ms_to_seconds (w->start + S_WINDOW_MS - now)
                                      : s_ms_to_seconds (s_window_wait (w, limit, now));
    return true;
}

//  ---------------------------------------------------------------------
//  Tables

static uint32_t
s_hash (const char *key)
{
    //  FNV-1a
    uint32_t hash = 2166136261u;
    for (; *key; key++)
        hash = (hash ^ (unsigned char) *key) * 16777619u;
    return hash;
}

static void
s_usages_push (s_usages_t *list, const char *org, int64_t second, int64_t count)
{
    if (list->size == list->max) {
        list->max = list->max ? list->max * 2 : 64;
        list->items = (s_usage_t *) sb_realloc (list->items, list->max * sizeof (s_usage_t));
    }
    s_usage_t *item = &list->items [list->size++];
    snprintf (item->org, sizeof (item->org), "%s", org);
    item->second = second;
    item->count = count;
}

static void
s_usages_release (s_usages_t *list)
{
    free (list->items);
    memset (list, 0, sizeof (*list));
}

static void s_entry_evicted (const char *key, void *value, void *arg);

//  A table of at most windows entries (split over the shards), listed as
//  name for /metrics.
static void
s_table_init (s_table_t *table, bool count_usage, const char *name, int windows)
{
    memset (table, 0, sizeof (*table));
    table->count_usage = count_usage;
    size_t per_shard = windows > S_SHARDS ? (size_t) windows / S_SHARDS : 1;
    for (size_t i = 0; i < S_SHARDS; i++) {
        s_shard_t *shard = &table->shards [i];
        pthread_mutex_init (&shard->lock, NULL);
        shard->entries = sb_lru_new (name, per_shard, sizeof (s_entry_t), S_KEY_MAX);
        sb_lru_set_evict (shard->entries, s_entry_evicted, shard);
    }
}

static size_t
s_table_size (s_table_t *table)
{
    size_t size = 0;
    for (size_t i = 0; i < S_SHARDS; i++) {
        pthread_mutex_lock (&table->shards [i].lock);
        size += sb_lru_size (table->shards [i].entries);
        pthread_mutex_unlock (&table->shards [i].lock);
    }
    return size;
}

static void
s_table_release (s_table_t *table)
{
    for (size_t i = 0; i < S_SHARDS; i++) {
        s_shard_t *shard = &table->shards [i];
        sb_lru_destroy (&shard->entries);
        s_usages_release (&shard->ready);
        pthread_mutex_destroy (&shard->lock);
    }
}

//  The unix second to count a request in: the wall clock, never earlier
//  than a second already used in this shard, so that an event id is never
//  reused after its count has been taken (caller holds the lock).
static int64_t
s_shard_second (s_shard_t *shard, int64_t wall_ms)
{
    int64_t second = wall_ms / 1000;
    if (second < shard->last_second)
        second = shard->last_second;
    shard->last_second = second;
    return second;
}

//  Hands an entry's count for an ended second to the actor (lock held).
static void
s_entry_release_usage (s_shard_t *shard, const char *key, s_entry_t *entry)
{
    if (entry->usage_count)
        s_usages_push (&shard->ready, key, entry->usage_second, entry->usage_count);
    entry->usage_count = 0;
}

//  An entry evicted for room: its count still goes to usage-svc.
static void
s_entry_evicted (const char *key, void *value, void *arg)
{
    s_entry_release_usage ((s_shard_t *) arg, key, (s_entry_t *) value);
}

//  Drops the entries idle for two windows (their state is all zero): the
//  least recently used end of the table, so it stops at the first live
//  one. Lock held.
static void
s_shard_drop_idle (s_shard_t *shard, int64_t now)
{
    const char *key;
    s_entry_t *entry;
    while ((entry = (s_entry_t *) sb_lru_oldest (shard->entries, &key))
           && now - entry->last_ms >= 2 * S_WINDOW_MS && !entry->usage_count)
        sb_lru_remove (shard->entries, key);
}

//  The entry for key, created when absent (evicting the least recently
//  seen when the shard is full), made the most recent (lock held).
static s_entry_t *
s_shard_entry (s_shard_t *shard, const char *key, int64_t now)
{
    char cut [S_KEY_MAX + 1];
    snprintf (cut, sizeof (cut), "%s", key);
    s_entry_t *entry = (s_entry_t *) sb_lru_get (shard->entries, cut);
    if (!entry) {
        entry = (s_entry_t *) sb_lru_put (shard->entries, cut, NULL);
        entry->window.start = now;
    }
    return entry;
}

//  The entry for key, or NULL; not refreshed (lock held).
static s_entry_t *
s_shard_find (s_shard_t *shard, const char *key)
{
    char cut [S_KEY_MAX + 1];
    snprintf (cut, sizeof (cut), "%s", key);
    return (s_entry_t *) sb_lru_peek (shard->entries, cut);
}

//  Seconds until key may have one more counted under limit (0: now),
//  counting nothing; a key never counted takes no memory here.
static int64_t
s_table_wait (s_table_t *table, const char *key, int64_t limit, int64_t now)
{
    uint32_t hash = s_hash (key);
    s_shard_t *shard = &table->shards [hash % S_SHARDS];
    pthread_mutex_lock (&shard->lock);
    s_entry_t *entry = s_shard_find (shard, key);
    int64_t wait = 0;
    if (entry) {
        s_window_roll (&entry->window, now);
        if (s_window_used (&entry->window, now) + 1 > limit)
            wait = s_ms_to_seconds (s_window_wait (&entry->window, limit, now));
    }
    pthread_mutex_unlock (&shard->lock);
    return wait;
}

//  Counts one for key, whatever the limit.
static void
s_table_count (s_table_t *table, const char *key, int64_t now)
{
    uint32_t hash = s_hash (key);
    s_shard_t *shard = &table->shards [hash % S_SHARDS];
    pthread_mutex_lock (&shard->lock);
    s_entry_t *entry = s_shard_entry (shard, key, now);
    entry->last_ms = now;
    s_window_roll (&entry->window, now);
    entry->window.cur++;
    entry->window.last = now;       //  the wait arithmetic reads it
    pthread_mutex_unlock (&shard->lock);
}

//  Counts one request of key against limit (-1: unlimited); counts it for
//  usage too when the table does and the request is admitted.
static bool
s_table_admit (s_table_t *table, const char *key, int64_t limit, int64_t now, int64_t wall_ms,
               gw_rate_t *rate)
{
    uint32_t hash = s_hash (key);
    s_shard_t *shard = &table->shards [hash % S_SHARDS];
    pthread_mutex_lock (&shard->lock);
    s_entry_t *entry = s_shard_entry (shard, key, now);
    entry->last_ms = now;
    bool admitted = true;
    if (limit >= 0)
        admitted = s_window_admit (&entry->window, limit, now, rate);
    if (admitted && table->count_usage) {
        int64_t second = s_shard_second (shard, wall_ms);
        if (entry->usage_second != second)
            s_entry_release_usage (shard, key, entry);
        entry->usage_second = second;
        entry->usage_count++;
    }
    pthread_mutex_unlock (&shard->lock);
    return admitted;
}

typedef struct {
    s_shard_t *shard;
    int64_t second;
    bool all;
} s_harvest_t;

static void
s_harvest_entry (const char *key, void *value, void *arg)
{
    s_harvest_t *harvest = (s_harvest_t *) arg;
    s_entry_t *entry = (s_entry_t *) value;
    if (entry->usage_count && (harvest->all || entry->usage_second < harvest->second))
        s_entry_release_usage (harvest->shard, key, entry);
}

//  Moves every count of an ended second (every count at all when `all`)
//  into out and drops idle entries.
static void
s_table_harvest (s_table_t *table, int64_t now, int64_t wall_ms, bool all, s_usages_t *out)
{
    for (size_t i = 0; i < S_SHARDS; i++) {
        s_shard_t *shard = &table->shards [i];
        pthread_mutex_lock (&shard->lock);
        int64_t second = s_shard_second (shard, wall_ms);
        if (table->count_usage) {
            s_harvest_t harvest = { .shard = shard, .second = second, .all = all };
            sb_lru_each (shard->entries, s_harvest_entry, &harvest);
        }
        if (all)
            //  Later requests count in a later second: the ids just taken
            //  must not come back with other counts.
            shard->last_second = second + 1;
        s_shard_drop_idle (shard, now);
        for (size_t k = 0; k < shard->ready.size; k++) {
            const s_usage_t *item = &shard->ready.items [k];
            s_usages_push (out, item->org, item->second, item->count);
        }
        shard->ready.size = 0;
        pthread_mutex_unlock (&shard->lock);
    }
}

//  ---------------------------------------------------------------------
//  Sending counts to usage-svc (the actor)

static void
s_rfc3339 (int64_t second, char out [32])
{
    time_t t = (time_t) second;
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

//  The arguments of usage.record for count items.
static void
s_encode_batch (gw_ratelimit_t *self, const s_usage_t *items, size_t count, msgpack_sbuffer *buf)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sb_mpk_pack_str (&pk, "events");
    msgpack_pack_array (&pk, count);
    for (size_t i = 0; i < count; i++) {
        char id [128], at [32];
        snprintf (id, sizeof (id), "%s:%s:%lld", self->instance, items [i].org,
                  (long long) items [i].second);
        s_rfc3339 (items [i].second, at);
        msgpack_pack_map (&pk, 5);
        sb_mpk_pack_kv_str (&pk, "id", id);
        sb_mpk_pack_kv_str (&pk, "org", items [i].org);
        sb_mpk_pack_kv_str (&pk, "metric", "api_requests");
        sb_mpk_pack_kv_int (&pk, "quantity", items [i].count);
        sb_mpk_pack_kv_str (&pk, "occurred_at", at);
    }
}

//  Appends what the tables hold for usage-svc to the outbox.
static void
s_collect (gw_ratelimit_t *self, bool all)
{
    s_usages_t taken = { 0 };
    s_table_harvest (&self->orgs, self->mono (), self->wall (), all, &taken);
    for (size_t i = 0; i < taken.size; i++) {
        if (self->outbox.size >= S_OUTBOX_MAX) {
            self->dropped += taken.size - i;
            break;
        }
        s_usages_push (&self->outbox, taken.items [i].org, taken.items [i].second,
                       taken.items [i].count);
    }
    s_usages_release (&taken);
}

//  A call through our own broker, as the HTTP threads make them (an
//  sb_client would stop at SIGTERM, when the last counts must still go).
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
} s_wait_t;

static void
s_call_done (sb_job_t *job)
{
    //  On the broker's thread: only wake the caller.
    s_wait_t *wait = (s_wait_t *) job->arg;
    pthread_mutex_lock (&wait->lock);
    wait->done = true;
    pthread_cond_signal (&wait->cond);
    pthread_mutex_unlock (&wait->lock);
}

//  Logs the counts usage-svc refused ({refusals: [{index, error,
//  message}]} of a 2xx answer to usage.record for items): an organization
//  whose counter is at its cap; they are dropped, never sent again, and
//  the other organizations' counts of the batch were taken.
static void
s_log_refusals (const msgpack_object *body, const s_usage_t *items, size_t count)
{
    const msgpack_object *refusals = body ? sb_mpk_get (body, "refusals") : NULL;
    if (!refusals || refusals->type != MSGPACK_OBJECT_ARRAY)
        return;
    for (uint32_t i = 0; i < refusals->via.array.size; i++) {
        const msgpack_object *refusal = &refusals->via.array.ptr [i];
        int64_t index = -1;
        char code [64] = "", message [256] = "";
        sb_mpk_int (sb_mpk_get (refusal, "index"), &index);
        sb_mpk_copy_str (sb_mpk_get (refusal, "error"), code, sizeof (code));
        sb_mpk_copy_str (sb_mpk_get (refusal, "message"), message, sizeof (message));
        if (index >= 0 && (size_t) index < count)
            sb_error ("usage: usage-svc refused %lld api_requests of organization %s at %lld "
                      "(%s: %s); dropped", (long long) items [index].count, items [index].org,
                      (long long) items [index].second, code, message);
    }
}

//  Calls usage.record with the events of items; returns the reply's
//  status, or 0 when there was none.
static int
s_record (gw_ratelimit_t *self, const s_usage_t *items, size_t count)
{
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    s_encode_batch (self, items, count, &args);
    sb_envelope_head_t head = { .role = SB_ROLE_SERVICE };
    sb_random_hex (head.id, 16);
    snprintf (head.op, sizeof (head.op), "usage.record");
    head.deadline = sb_now_ms () + S_CALL_MS;
    msgpack_sbuffer envelope;
    msgpack_sbuffer_init (&envelope);
    sb_envelope_encode_request (&envelope, &head, args.data, args.size);
    msgpack_sbuffer_destroy (&args);
    s_wait_t wait = { .done = false };
    pthread_mutex_init (&wait.lock, NULL);
    pthread_cond_init (&wait.cond, NULL);
    sb_job_t job = { .service = "usage" };
    job.request = zframe_new (envelope.data, envelope.size);
    msgpack_sbuffer_destroy (&envelope);
    job.deadline = sb_mono_ms () + S_CALL_MS;
    job.done = s_call_done;
    job.arg = &wait;
    sb_broker_submit (self->broker, &job);
    //  The broker always finishes a job: a reply, 504 at the deadline, or
    //  503 when it stops.
    pthread_mutex_lock (&wait.lock);
    while (!wait.done)
        pthread_cond_wait (&wait.cond, &wait.lock);
    pthread_mutex_unlock (&wait.lock);
    pthread_cond_destroy (&wait.cond);
    pthread_mutex_destroy (&wait.lock);
    zframe_destroy (&job.request);
    int status = 0;
    if (job.status == 0 && job.reply) {
        sb_reply_msg_t reply;
        char why [128];
        if (sb_reply_decode (&reply, zframe_data (job.reply), zframe_size (job.reply), why,
                             sizeof (why)) == 0) {
            status = reply.status;
            if (status >= 200 && status < 300)
                s_log_refusals (reply.body, items, count);
        }
        else
            sb_warn ("usage: malformed reply from usage-svc: %s", why);
        sb_reply_msg_release (&reply);
    }
    zframe_destroy (&job.reply);
    return status;
}

//  Sends the outbox in batches until one is not acknowledged; drops what
//  has waited longer than S_KEEP_SECONDS.
static void
s_send (gw_ratelimit_t *self)
{
    size_t sent = 0;
    while (self->broker && sent < self->outbox.size) {
        size_t count = self->outbox.size - sent;
        if (count > S_BATCH_MAX)
            count = S_BATCH_MAX;
        //  usage-svc answers per event: what it refused (logged there) is
        //  dropped with the batch, the rest was taken.
        int status = s_record (self, self->outbox.items + sent, count);
        if (status >= 400 && status < 500) {
            //  Refused as invalid: sending it again would not help.
            sb_error ("usage: usage-svc refused %zu api_requests counts (%d); dropped", count,
                      status);
        }
        else
        if (status < 200 || status >= 300) {
            sb_debug ("usage: usage-svc did not acknowledge %zu counts (%d); will retry", count,
                      status);
            break;
        }
        sent += count;
    }
    //  Keep what was not sent, less what is too old.
    int64_t oldest = self->wall () / 1000 - S_KEEP_SECONDS;
    size_t kept = 0;
    for (size_t i = sent; i < self->outbox.size; i++) {
        if (self->outbox.items [i].second < oldest)
            self->dropped++;
        else
            self->outbox.items [kept++] = self->outbox.items [i];
    }
    self->outbox.size = kept;
    if (self->dropped) {
        sb_warn ("usage: dropped %zu api_requests counts that usage-svc did not take",
                 self->dropped);
        self->dropped = 0;
    }
}

static void
s_actor (zsock_t *pipe, void *arg)
{
    gw_ratelimit_t *self = (gw_ratelimit_t *) arg;
    zpoller_t *poller = zpoller_new (pipe, NULL);
    zsock_signal (pipe, 0);
    while (true) {
        //  Shortly after each second ends, so that its counts go at once.
        int wait_ms = (int) (1000 - self->wall () % 1000) + 20;
        if (zpoller_wait (poller, wait_ms) == pipe) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            if (command && streq (command, "FLUSH")) {
                s_collect (self, true);
                s_send (self);
                zsock_signal (pipe, 0);
            }
            zstr_free (&command);
            if (term)
                break;
            continue;
        }
        if (zpoller_terminated (poller))
            break;
        s_collect (self, false);
        if (self->outbox.size)
            s_send (self);
    }
    s_collect (self, true);
    if (self->outbox.size) {
        s_send (self);
        if (self->outbox.size)
            sb_warn ("usage: stopping with %zu api_requests counts not delivered",
                     self->outbox.size);
    }
    zpoller_destroy (&poller);
}

//  ---------------------------------------------------------------------
//  Public

//  A limit divided among share gateways, rounded up; -1 stays unlimited,
//  and one past SB_PLAN_LIMIT_MAX is that (see the header).
static int64_t
s_share (int64_t limit, int share)
{
    if (limit > SB_PLAN_LIMIT_MAX)
        limit = SB_PLAN_LIMIT_MAX;
    if (limit <= 0 || share <= 1)
        return limit;
    return limit / share + (limit % share != 0);
}

static int64_t
s_sb_mono (void)
{
    return sb_mono_ms ();
}

static int64_t
s_sb_wall (void)
{
    return sb_now_ms ();
}

static gw_ratelimit_t *
s_new (const sb_config_t *config, int share)
{
    gw_ratelimit_t *self = (gw_ratelimit_t *) sb_calloc (1, sizeof (gw_ratelimit_t));
    s_table_init (&self->orgs, true, "gateway_rate_organizations", config->gateway_rate_windows);
    s_table_init (&self->clients, false, "gateway_rate_addresses", config->gateway_rate_windows);
    s_table_init (&self->failures, false, "gateway_rate_failures", config->gateway_rate_windows);
    self->auth_failures = config->auth_failures_per_minute;
    self->share = share;
    self->auth_rate = config->auth_rate_per_minute;
    self->mono = s_sb_mono;
    self->wall = s_sb_wall;
    char hex [33];
    sb_random_hex (hex, 8);
    snprintf (self->instance, sizeof (self->instance), "gw-%s", hex);
    return self;
}

gw_ratelimit_t *
gw_ratelimit_new (const sb_config_t *config, sb_broker_t *broker)
{
    int share = config->rate_share;
    gw_ratelimit_t *self = s_new (config, share);
    self->broker = broker;
    self->actor = zactor_new (s_actor, self);
    sb_info ("rate limits: per organization by plan%s, auth %d per minute per address; "
             "usage counted as %s", share > 1 ? " (shared among gateways)" : "",
             config->auth_rate_per_minute, self->instance);
    return self;
}

void
gw_ratelimit_destroy (gw_ratelimit_t **self_p)
{
    gw_ratelimit_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);
    s_table_release (&self->orgs);
    s_table_release (&self->clients);
    s_table_release (&self->failures);
    s_usages_release (&self->outbox);
    free (self);
    *self_p = NULL;
}

bool
gw_ratelimit_org (gw_ratelimit_t *self, const char *org, int64_t per_minute, gw_rate_t *rate)
{
    memset (rate, 0, sizeof (*rate));
    int64_t limit = s_share (per_minute, self->share);
    bool admitted = s_table_admit (&self->orgs, org, limit, self->mono (), self->wall (), rate);
    if (!admitted)
        gw_metrics_limited (GW_LIMIT_ORG);
    return admitted;
}

int64_t
gw_ratelimit_client (gw_ratelimit_t *self, const char *op, const char *client_ip)
{
    if (self->auth_rate <= 0 || !op
        || !(streq (op, "auth.signup") || streq (op, "auth.login")
             || streq (op, "auth.password_forgot") || streq (op, "auth.password_reset")))
        return 0;
    gw_rate_t rate;
    bool admitted = s_table_admit (&self->clients, client_ip, s_share (self->auth_rate, self->share),
                                   self->mono (), self->wall (), &rate);
    if (!admitted)
        gw_metrics_limited (GW_LIMIT_CLIENT);
    return admitted ? 0 : rate.retry_after;
}

int64_t
gw_ratelimit_failures_wait (gw_ratelimit_t *self, const char *client)
{
    if (self->auth_failures <= 0)
        return 0;
    int64_t wait = s_table_wait (&self->failures, client,
                                 s_share (self->auth_failures, self->share), self->mono ());
    if (wait)
        gw_metrics_limited (GW_LIMIT_FAILURES);
    return wait;
}

void
gw_ratelimit_failure (gw_ratelimit_t *self, const char *client)
{
    if (self->auth_failures > 0)
        s_table_count (&self->failures, client, self->mono ());
}

void
gw_ratelimit_flush (gw_ratelimit_t *self)
{
    if (self && self->actor) {
        zstr_send (self->actor, "FLUSH");
        zsock_wait (self->actor);
    }
}

//  ---------------------------------------------------------------------
//  Selftest

static int64_t s_test_mono;
static int64_t s_test_wall;

static int64_t
s_test_mono_clock (void)
{
    return s_test_mono;
}

static int64_t
s_test_wall_clock (void)
{
    return s_test_wall;
}

//  The usage count org's window holds, -1 when it has none (selftest).
static int64_t
s_find_count (gw_ratelimit_t *self, const char *org)
{
    s_shard_t *shard = &self->orgs.shards [s_hash (org) % S_SHARDS];
    pthread_mutex_lock (&shard->lock);
    s_entry_t *entry = s_shard_find (shard, org);
    int64_t count = entry ? entry->usage_count : -1;
    pthread_mutex_unlock (&shard->lock);
    return count;
}

void
gw_ratelimit_test (bool verbose)
{
    if (verbose)
        printf (" * gw_ratelimit: ");

    //  The window on its own: 20 a minute, spread over the window.
    s_window_t w = { .start = 1000 };
    gw_rate_t rate;
    int64_t now = 1000;
    bool all_in = true, countdown = true;
    for (int i = 0; i < 20; i++) {
        all_in &= s_window_admit (&w, 20, now, &rate);
        countdown &= rate.remaining == 19 - i && rate.limit == 20;
        now += 2900;
    }
    SB_CHECK (all_in && countdown);
    SB_CHECK (rate.reset >= 1);
    //  The 21st is refused and not counted; there is room again only once
    //  the next window has let 1/20 of this one decay (3 s into it).
    SB_CHECK (!s_window_admit (&w, 20, now, &rate));
    SB_CHECK (w.cur == 20 && rate.remaining == 0);
    SB_CHECK (rate.retry_after == (1000 + 60000 + 3000 - now + 999) / 1000);
    SB_CHECK (s_window_wait (&w, 20, now) == 1000 + 63000 - now);
    SB_CHECK (!s_window_admit (&w, 20, 1000 + 63000 - 1, &rate));
    SB_CHECK (rate.retry_after == 1);
    SB_CHECK (s_window_admit (&w, 20, 1000 + 63000, &rate));
    SB_CHECK (w.prev == 20 && w.cur == 1 && rate.remaining == 0);
    //  Halfway into that window half of the previous still counts.
    SB_CHECK (s_window_used (&w, 1000 + 90000) == 1 + 10);
    SB_CHECK (s_window_admit (&w, 20, 1000 + 90000, &rate) && rate.remaining == 20 - 12);
    SB_CHECK (rate.reset == 30);
    //  A quiet window: all forgotten, the next window starts at the request.
    SB_CHECK (s_window_admit (&w, 20, 1000 + 200000, &rate));
    SB_CHECK (w.start == 201000 && w.prev == 0 && w.cur == 1 && rate.remaining == 19);
    SB_CHECK (rate.reset == 60);

    //  Room appears as the previous window decays: prev 10, cur 9, limit 20.
    s_window_t d = { .start = 0, .cur = 9, .prev = 10, .last = 0, .prev_last = -1 };
    //  used at e: 9 + ceil (10 * (60000 - e) / 60000); room for one more
    //  when that is <= 19, i.e. from e = 0.
    SB_CHECK (s_window_wait (&d, 20, 0) == 0);
    d.cur = 10;                     //  used 20 until e >= 6000
    SB_CHECK (s_window_wait (&d, 20, 0) == 6000);
    SB_CHECK (s_window_wait (&d, 20, 5000) == 1000);
    SB_CHECK (s_window_used (&d, 5999) == 20 && s_window_used (&d, 6000) == 19);
    SB_CHECK (!s_window_admit (&d, 20, 5999, &rate) && rate.retry_after == 1);
    SB_CHECK (s_window_admit (&d, 20, 6000, &rate) && rate.remaining == 0);
    //  A limit of 0 lets nothing in; a limit of 1 waits until its one
    //  request is a window old, not two windows.
    s_window_t z = { .start = 0 };
    SB_CHECK (!s_window_admit (&z, 0, 10, &rate) && rate.retry_after == 60);
    SB_CHECK (s_window_admit (&z, 1, 10, &rate) && rate.remaining == 0);
    SB_CHECK (rate.reset == 60);
    SB_CHECK (!s_window_admit (&z, 1, 60000, &rate) && rate.retry_after == 1);
    SB_CHECK (!s_window_admit (&z, 1, 60009, &rate));
    SB_CHECK (s_window_admit (&z, 1, 60010, &rate));

    //  A burst at a window's start: the decay estimate alone would say
    //  61 s (it assumes the 60 spread over the window), but all of them
    //  are a window old 60 s after the last one.
    s_window_t b = { .start = 5000 };
    bool burst = true;
    for (int i = 0; i < 60; i++)
        burst &= s_window_admit (&b, 60, 5000, &rate);
    SB_CHECK (burst && !s_window_admit (&b, 60, 5500, &rate));
    SB_CHECK (rate.retry_after == 60 && rate.reset == 60);
    SB_CHECK (!s_window_admit (&b, 60, 5000 + 59999, &rate) && rate.retry_after == 1);
    SB_CHECK (s_window_admit (&b, 60, 5000 + 60000, &rate));

    //  Whatever the traffic, Retry-After and RateLimit-Reset are at most
    //  60 s, and a request sent Retry-After seconds after a refusal is
    //  admitted (nothing else admitted meanwhile: the window is copied).
    static const int64_t limits [] = { 1, 2, 3, 7, 20, 59, 60, 61, 1000 };
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    int64_t longest = 0;
    bool bounded = true, served = true;
    for (size_t l = 0; l < sizeof (limits) / sizeof (limits [0]); l++) {
        s_window_t r = { .start = 0 };
        int64_t at = 0;
        for (int i = 0; i < 20000; i++) {
            //  Bursts (same instant), short gaps, and now and then a long one.
            uint64_t pick = sb_test_rand (&seed) % 100;
            at += pick < 50 ? 0 : pick < 90 ? (int64_t) (sb_test_rand (&seed) % 2000)
                                            : (int64_t) (sb_test_rand (&seed) % 150000);
            bool admitted = s_window_admit (&r, limits [l], at, &rate);
            bounded &= rate.reset >= 1 && rate.reset <= 60;
            if (!admitted) {
                bounded &= rate.retry_after >= 1 && rate.retry_after <= 60;
                if (rate.retry_after > longest)
                    longest = rate.retry_after;
                s_window_t later = r;
                gw_rate_t again;
                served &= s_window_admit (&later, limits [l], at + rate.retry_after * 1000,
                                          &again);
            }
        }
    }
    SB_CHECK (bounded && served && longest == 60);

    //  Sharing among gateways.
    SB_CHECK (s_share (60, 1) == 60 && s_share (60, 4) == 15 && s_share (20, 3) == 7);
    SB_CHECK (s_share (-1, 4) == -1 && s_share (1, 4) == 1);
    //  A limit from the bus past the catalogue's largest: no overflow
    //  (UBSan), enforced as the largest; the window's wait for it too.
    SB_CHECK (s_share (INT64_MAX, 3) == SB_PLAN_LIMIT_MAX / 3 + 1
              && s_share (INT64_MAX, 1) == SB_PLAN_LIMIT_MAX
              && s_share (SB_PLAN_LIMIT_MAX + 1, 2) == SB_PLAN_LIMIT_MAX / 2);
    {
        s_window_t full = { .start = 1000, .cur = SB_PLAN_LIMIT_MAX, .last = 1000,
                            .prev = SB_PLAN_LIMIT_MAX, .prev_last = 900 };
        int64_t wait = s_window_wait (&full, s_share (INT64_MAX, 1), 1000);
        SB_CHECK (wait > 0 && wait <= S_WINDOW_MS);
    }

    //  The whole object with its clocks injected, no actor.
    int64_t limit = 60;
    sb_config_t config = { .auth_rate_per_minute = 3, .gateway_rate_windows = 262144 };
    gw_ratelimit_t *self = s_new (&config, 1);
    self->mono = s_test_mono_clock;
    self->wall = s_test_wall_clock;
    s_test_mono = 500000;
    s_test_wall = 1700000000000;
    const char *org_a = "0b6a3c52-4d1e-4f0a-9a53-6f0e5b7c1d2e";
    const char *org_b = "7c1d2e0b-6a3c-424d-8e4f-0a9a536f0e5b";
    bool a_in = true;
    for (int64_t i = 0; i < limit; i++) {
        a_in &= gw_ratelimit_org (self, org_a, limit, &rate) && rate.remaining == limit - 1 - i;
        s_test_wall += 10;
    }
    SB_CHECK (limit > 0 && a_in);
    SB_CHECK (!gw_ratelimit_org (self, org_a, limit, &rate) && rate.retry_after > 0 && rate.shown);
    SB_CHECK (gw_ratelimit_org (self, org_b, limit, &rate) && rate.remaining == limit - 1);

    //  The case on its own gateway: the free plan's 60 a minute
    //  taken in one burst, then a refusal with Retry-After at most the
    //  window; the client that waits it out (the injected clock) is served.
    {
        int64_t saved_mono = s_test_mono;
        gw_ratelimit_t *waiter = s_new (&config, 1);
        waiter->mono = s_test_mono_clock;
        waiter->wall = s_test_wall_clock;
        const char *org_c = "2e0b6a3c-1d4e-4f0a-9a53-6f0e5b7c1d2e";
        bool c_in = true;
        for (int64_t i = 0; i < limit; i++)
            c_in &= gw_ratelimit_org (waiter, org_c, limit, &rate);
        s_test_mono += 700;
        SB_CHECK (c_in && !gw_ratelimit_org (waiter, org_c, limit, &rate));
        SB_CHECK (rate.retry_after >= 1 && rate.retry_after <= 60 && rate.reset <= 60);
        s_test_mono += rate.retry_after * 1000;
        SB_CHECK (gw_ratelimit_org (waiter, org_c, limit, &rate));
        gw_ratelimit_destroy (&waiter);
        s_test_mono = saved_mono;
    }

    //  Usage: the counts of ended seconds, refusals not counted.
    s_test_wall += 1000;
    s_collect (self, false);
    int64_t total_a = 0, total_b = 0;
    for (size_t i = 0; i < self->outbox.size; i++) {
        if (streq (self->outbox.items [i].org, org_a))
            total_a += self->outbox.items [i].count;
        else
        if (streq (self->outbox.items [i].org, org_b))
            total_b += self->outbox.items [i].count;
    }
    SB_CHECK (total_a == limit && total_b == 1);
    //  One per organization and second, ids unique.
    bool unique = true;
    for (size_t i = 0; i < self->outbox.size; i++)
        for (size_t j = i + 1; j < self->outbox.size; j++)
            if (streq (self->outbox.items [i].org, self->outbox.items [j].org)
                && self->outbox.items [i].second == self->outbox.items [j].second)
                unique = false;
    SB_CHECK (unique);
    //  The current second waits for its end, unless everything is taken;
    //  after that, a request lands in a later second even if the clock
    //  goes back.
    self->outbox.size = 0;
    gw_ratelimit_org (self, org_b, limit, &rate);
    s_collect (self, false);
    SB_CHECK (self->outbox.size == 0);
    s_collect (self, true);
    SB_CHECK (self->outbox.size == 1 && self->outbox.items [0].count == 1);
    int64_t taken_second = self->outbox.size ? self->outbox.items [0].second : 0;
    s_test_wall -= 5000;
    gw_ratelimit_org (self, org_b, limit, &rate);
    s_collect (self, true);
    SB_CHECK (self->outbox.size == 2 && self->outbox.items [1].second > taken_second);

    //  The batch encodes as usage.record wants it.
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_encode_batch (self, self->outbox.items, self->outbox.size, &buf);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    SB_CHECK (msgpack_unpack_next (&unpacked, buf.data, buf.size, NULL) == MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *events = sb_mpk_get (&unpacked.data, "events");
    SB_CHECK (events && events->type == MSGPACK_OBJECT_ARRAY && events->via.array.size == 2);
    if (events && events->type == MSGPACK_OBJECT_ARRAY && events->via.array.size == 2) {
        const msgpack_object *event = &events->via.array.ptr [0];
        char id [128], expected [128], at [40], metric [32];
        int64_t quantity = 0;
        snprintf (expected, sizeof (expected), "%s:%s:%lld", self->instance, org_b,
                  (long long) taken_second);
        SB_CHECK (sb_mpk_copy_str (sb_mpk_get (event, "id"), id, sizeof (id)) == 0
                  && streq (id, expected));
        SB_CHECK (sb_mpk_copy_str (sb_mpk_get (event, "metric"), metric, sizeof (metric)) == 0
                  && streq (metric, "api_requests"));
        SB_CHECK (sb_mpk_int (sb_mpk_get (event, "quantity"), &quantity) == 0 && quantity == 1);
        SB_CHECK (sb_mpk_copy_str (sb_mpk_get (event, "occurred_at"), at, sizeof (at)) == 0
                  && strlen (at) == 20 && at [10] == 'T' && at [19] == 'Z');
    }
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&buf);

    //  Counts usage-svc never takes go after five minutes (no client: no
    //  sending at all).
    s_send (self);
    SB_CHECK (self->outbox.size == 2);
    s_test_wall += (S_KEEP_SECONDS + 10) * 1000;
    s_send (self);
    SB_CHECK (self->outbox.size == 0);

    //  Idle organizations leave the table after two windows.
    s_test_mono += 2 * S_WINDOW_MS;
    s_collect (self, false);
    SB_CHECK (s_table_size (&self->orgs) == 0);

    //  Client addresses on the auth routes only, 3 a minute here.
    SB_CHECK (gw_ratelimit_client (self, "auth.me", "192.0.2.1") == 0);
    bool auth_in = true;
    for (int i = 0; i < 3; i++)
        auth_in &= gw_ratelimit_client (self, i % 2 ? "auth.login" : "auth.signup",
                                        "192.0.2.1") == 0;
    SB_CHECK (auth_in);
    SB_CHECK (gw_ratelimit_client (self, "auth.password_forgot", "192.0.2.1") > 0);
    SB_CHECK (gw_ratelimit_client (self, "auth.password_reset", "192.0.2.1") > 0);
    SB_CHECK (gw_ratelimit_client (self, "auth.refresh", "192.0.2.1") == 0);
    SB_CHECK (gw_ratelimit_client (self, "auth.login", "192.0.2.2") == 0);
    self->auth_rate = 0;
    SB_CHECK (gw_ratelimit_client (self, "auth.login", "192.0.2.1") == 0);

    //  Failed credentials, 4 a minute here: looking does not count, the
    //  fifth waits until the window lets one go, other addresses are apart.
    self->auth_failures = 4;
    const char *bad_client = "2001:db8:1:2::/64";
    bool not_yet = true;
    for (int i = 0; i < 4; i++) {
        not_yet &= gw_ratelimit_failures_wait (self, bad_client) == 0;
        gw_ratelimit_failure (self, bad_client);
    }
    SB_CHECK (not_yet);
    int64_t failures_wait = gw_ratelimit_failures_wait (self, bad_client);
    SB_CHECK (failures_wait > 0 && failures_wait <= 120);
    SB_CHECK (gw_ratelimit_failures_wait (self, bad_client) == failures_wait);
    SB_CHECK (gw_ratelimit_failures_wait (self, "192.0.2.77") == 0);
    s_test_mono += failures_wait * 1000;
    SB_CHECK (gw_ratelimit_failures_wait (self, bad_client) == 0);
    self->auth_failures = 0;
    gw_ratelimit_failure (self, "192.0.2.78");
    SB_CHECK (gw_ratelimit_failures_wait (self, "192.0.2.78") == 0);

    //  Unlimited: admitted, no headers, still counted for usage.
    bool unlimited = true;
    for (int i = 0; i < 1000; i++)
        unlimited &= gw_ratelimit_org (self, org_a, -1, &rate) && !rate.shown;
    SB_CHECK (unlimited);
    self->outbox.size = 0;
    s_collect (self, true);
    SB_CHECK (self->outbox.size == 1 && self->outbox.items [0].count == 1000);
    gw_ratelimit_destroy (&self);
    SB_CHECK (self == NULL);

    //  A table at its cap (16 windows: one per shard) evicts the least
    //  recently seen window, one at a time, and hands its usage count on
    //  first: nothing admitted goes uncounted.
    config.gateway_rate_windows = 16;
    self = s_new (&config, 1);
    self->mono = s_test_mono_clock;
    self->wall = s_test_wall_clock;
    for (int i = 0; i < 5; i++)
        gw_ratelimit_org (self, org_a, limit, &rate);
    for (int i = 0; i < 200; i++) {
        char org [37];
        snprintf (org, sizeof (org), "00000000-0000-4000-8000-%012d", i);
        gw_ratelimit_org (self, org, limit, &rate);
        s_test_mono += 1;
    }
    SB_CHECK (s_table_size (&self->orgs) <= 16);
    SB_CHECK (s_find_count (self, org_a) == -1);             //  evicted: its shard filled
    s_collect (self, true);
    int64_t counted = 0, counted_a = 0;
    for (size_t i = 0; i < self->outbox.size; i++) {
        counted += self->outbox.items [i].count;
        if (streq (self->outbox.items [i].org, org_a))
            counted_a += self->outbox.items [i].count;
    }
    SB_CHECK (counted == 205 && counted_a == 5);
    gw_ratelimit_destroy (&self);
    if (verbose)
        printf ("OK\n");
}
