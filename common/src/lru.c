/*  lru.c — a bounded cache with least-recently-used eviction (contract in
    sb/lru.h).

    An entry is one allocation: the node (recency links, bucket chain, hash,
    key length), then the value at a max_align_t boundary, then the key and
    its NUL. The recency list is circular around a sentinel (head.next is
    the most recent, head.prev the least), so linking and unlinking have no
    special cases. The bucket array starts small and doubles whenever the
    entries outnumber the buckets, up to the power of two at or above the
    capacity, so that an empty cache of a large capacity costs little and a
    full one has chains of about one.

    Tables with a name are kept in a list under a process-wide mutex, which
    only sb_lru_new, sb_lru_destroy and sb_lru_report take: the counters
    they read are atomics the owner writes under its own lock.
*/
#include "sb/sb.h"
#include "sb/lru.h"
#include <pthread.h>
#include <sodium.h>
#include <stdalign.h>
#include <stdatomic.h>

#define S_BUCKETS_MIN   64

typedef struct _s_node_t s_node_t;
struct _s_node_t {
    s_node_t *prev, *next;          //  recency: next is the less recent neighbour
    s_node_t *chain;                //  the next node of the same bucket
    uint64_t hash;
    size_t key_len;
};

//  Where the value starts after the node.
#define S_VALUE_OFFSET  ((sizeof (s_node_t) + alignof (max_align_t) - 1) \
                         / alignof (max_align_t) * alignof (max_align_t))

struct _sb_lru_t {
    s_node_t head;                  //  sentinel: head.next most recent, head.prev least
    s_node_t **buckets;
    size_t nbuckets;                //  a power of two
    size_t max_buckets;
    size_t capacity;
    size_t value_size;
    size_t key_max;
    unsigned char seed [crypto_shorthash_KEYBYTES];
    sb_lru_evict_fn *evict;
    void *evict_arg;
    const char *name;
    atomic_size_t size;
    atomic_uint_fast64_t hits, misses, evictions;
    sb_lru_t *listed_next;          //  in s_listed, under s_listed_lock
};

static pthread_mutex_t s_listed_lock = PTHREAD_MUTEX_INITIALIZER;
static sb_lru_t *s_listed;          //  named tables, oldest first

static inline void *
s_value (s_node_t *node)
{
    return (char *) node + S_VALUE_OFFSET;
}

static inline char *
s_key (const sb_lru_t *self, s_node_t *node)
{
    return (char *) node + S_VALUE_OFFSET + self->value_size;
}

static uint64_t
s_hash (const sb_lru_t *self, const char *key, size_t len)
{
    unsigned char out [crypto_shorthash_BYTES];
    crypto_shorthash (out, (const unsigned char *) key, len, self->seed);
    uint64_t hash;
    memcpy (&hash, out, sizeof (hash));
    return hash;
}

static void
s_unlink (s_node_t *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
}

//  Links node as the most recent.
static void
s_link_front (sb_lru_t *self, s_node_t *node)
{
    node->prev = &self->head;
    node->next = self->head.next;
    self->head.next->prev = node;
    self->head.next = node;
}

//  The link that points at key's node (*link NULL when absent).
static s_node_t **
s_find (sb_lru_t *self, const char *key, size_t len, uint64_t hash)
{
    s_node_t **link = &self->buckets [hash & (self->nbuckets - 1)];
    while (*link) {
        s_node_t *node = *link;
        if (node->hash == hash && node->key_len == len && memcmp (s_key (self, node), key, len) == 0)
            break;
        link = &node->chain;
    }
    return link;
}

static void
s_grow (sb_lru_t *self)
{
    size_t nbuckets = self->nbuckets * 2;
    s_node_t **buckets = (s_node_t **) sb_calloc (nbuckets, sizeof (s_node_t *));
    for (size_t b = 0; b < self->nbuckets; b++) {
        s_node_t *node = self->buckets [b];
        while (node) {
            s_node_t *next = node->chain;
            s_node_t **bucket = &buckets [node->hash & (nbuckets - 1)];
            node->chain = *bucket;
            *bucket = node;
            node = next;
        }
    }
    free (self->buckets);
    self->buckets = buckets;
    self->nbuckets = nbuckets;
}

//  Takes node out of its bucket and the recency list and frees it.
static void
s_drop (sb_lru_t *self, s_node_t *node)
{
    s_node_t **link = &self->buckets [node->hash & (self->nbuckets - 1)];
    while (*link != node)
        link = &(*link)->chain;
    *link = node->chain;
    s_unlink (node);
    free (node);
    atomic_fetch_sub_explicit (&self->size, 1, memory_order_relaxed);
}

sb_lru_t *
sb_lru_new (const char *name, size_t capacity, size_t value_size, size_t key_max)
{
    assert (capacity >= 1 && value_size >= 1);
    if (sodium_init () < 0)
        return NULL;
    sb_lru_t *self = (sb_lru_t *) sb_calloc (1, sizeof (sb_lru_t));
    self->head.next = self->head.prev = &self->head;
    self->capacity = capacity;
    self->value_size = value_size;
    self->key_max = key_max;
    self->max_buckets = S_BUCKETS_MIN;
    while (self->max_buckets < capacity)
        self->max_buckets *= 2;
    self->nbuckets = S_BUCKETS_MIN;
    self->buckets = (s_node_t **) sb_calloc (self->nbuckets, sizeof (s_node_t *));
    randombytes_buf (self->seed, sizeof (self->seed));
    atomic_init (&self->size, 0);
    atomic_init (&self->hits, 0);
    atomic_init (&self->misses, 0);
    atomic_init (&self->evictions, 0);
    self->name = name;
    if (name) {
        pthread_mutex_lock (&s_listed_lock);
        sb_lru_t **tail = &s_listed;
        while (*tail)
            tail = &(*tail)->listed_next;
        *tail = self;
        pthread_mutex_unlock (&s_listed_lock);
    }
    return self;
}

void
sb_lru_destroy (sb_lru_t **self_p)
{
    sb_lru_t *self = *self_p;
    if (!self)
        return;
    if (self->name) {
        pthread_mutex_lock (&s_listed_lock);
        sb_lru_t **link = &s_listed;
        while (*link && *link != self)
            link = &(*link)->listed_next;
        if (*link)
            *link = self->listed_next;
        pthread_mutex_unlock (&s_listed_lock);
    }
    sb_lru_purge (self);
    free (self->buckets);
    free (self);
    *self_p = NULL;
}

void
sb_lru_set_evict (sb_lru_t *self, sb_lru_evict_fn *fn, void *arg)
{
    self->evict = fn;
    self->evict_arg = arg;
}

void *
sb_lru_peek (sb_lru_t *self, const char *key)
{
    size_t len = strlen (key);
    s_node_t *node = *s_find (self, key, len, s_hash (self, key, len));
    return node ? s_value (node) : NULL;
}

void *
sb_lru_get (sb_lru_t *self, const char *key)
{
    size_t len = strlen (key);
    s_node_t *node = *s_find (self, key, len, s_hash (self, key, len));
    if (!node) {
        atomic_fetch_add_explicit (&self->misses, 1, memory_order_relaxed);
        return NULL;
    }
    atomic_fetch_add_explicit (&self->hits, 1, memory_order_relaxed);
    s_unlink (node);
    s_link_front (self, node);
    return s_value (node);
}

void *
sb_lru_put (sb_lru_t *self, const char *key, const void *value)
{
    size_t len = strlen (key);
    if (len > self->key_max)
        return NULL;
    uint64_t hash = s_hash (self, key, len);
    s_node_t *node = *s_find (self, key, len, hash);
    if (node) {
        s_unlink (node);
        s_link_front (self, node);
    }
    else {
        if (atomic_load_explicit (&self->size, memory_order_relaxed) >= self->capacity) {
            s_node_t *oldest = self->head.prev;
            if (self->evict)
                self->evict (s_key (self, oldest), s_value (oldest), self->evict_arg);
            s_drop (self, oldest);
            atomic_fetch_add_explicit (&self->evictions, 1, memory_order_relaxed);
        }
        size_t size = atomic_fetch_add_explicit (&self->size, 1, memory_order_relaxed) + 1;
        if (size > self->nbuckets && self->nbuckets < self->max_buckets)
            s_grow (self);
        node = (s_node_t *) sb_malloc (S_VALUE_OFFSET + self->value_size + len + 1);
        node->hash = hash;
        node->key_len = len;
        memcpy (s_key (self, node), key, len + 1);
        s_node_t **bucket = &self->buckets [hash & (self->nbuckets - 1)];
        node->chain = *bucket;
        *bucket = node;
        s_link_front (self, node);
    }
    if (value)
        memcpy (s_value (node), value, self->value_size);
    else
        memset (s_value (node), 0, self->value_size);
    return s_value (node);
}

bool
sb_lru_remove (sb_lru_t *self, const char *key)
{
    size_t len = strlen (key);
    s_node_t *node = *s_find (self, key, len, s_hash (self, key, len));
    if (!node)
        return false;
    s_drop (self, node);
    return true;
}

size_t
sb_lru_remove_if (sb_lru_t *self, bool (*match) (const char *key, void *value, void *arg),
                  void *arg)
{
    size_t removed = 0;
    s_node_t *node = self->head.next;
    while (node != &self->head) {
        s_node_t *next = node->next;
        if (match (s_key (self, node), s_value (node), arg)) {
            s_drop (self, node);
            removed++;
        }
        node = next;
    }
    return removed;
}

void
sb_lru_purge (sb_lru_t *self)
{
    s_node_t *node = self->head.next;
    while (node != &self->head) {
        s_node_t *next = node->next;
        free (node);
        node = next;
    }
    self->head.next = self->head.prev = &self->head;
    memset (self->buckets, 0, self->nbuckets * sizeof (s_node_t *));
    atomic_store_explicit (&self->size, 0, memory_order_relaxed);
}

void *
sb_lru_oldest (sb_lru_t *self, const char **key)
{
    s_node_t *node = self->head.prev;
    if (node == &self->head)
        return NULL;
    if (key)
        *key = s_key (self, node);
    return s_value (node);
}

void
sb_lru_each (sb_lru_t *self, void (*fn) (const char *key, void *value, void *arg), void *arg)
{
    for (s_node_t *node = self->head.next; node != &self->head; node = node->next)
        fn (s_key (self, node), s_value (node), arg);
}

size_t
sb_lru_size (sb_lru_t *self)
{
    return atomic_load_explicit (&self->size, memory_order_relaxed);
}

size_t
sb_lru_capacity (sb_lru_t *self)
{
    return self->capacity;
}

void
sb_lru_stats (sb_lru_t *self, sb_lru_stats_t *stats)
{
    stats->name = self->name;
    stats->size = atomic_load_explicit (&self->size, memory_order_relaxed);
    stats->capacity = self->capacity;
    stats->hits = atomic_load_explicit (&self->hits, memory_order_relaxed);
    stats->misses = atomic_load_explicit (&self->misses, memory_order_relaxed);
    stats->evictions = atomic_load_explicit (&self->evictions, memory_order_relaxed);
}

void
sb_lru_report (void (*fn) (const sb_lru_stats_t *stats, void *arg), void *arg)
{
    pthread_mutex_lock (&s_listed_lock);
    for (sb_lru_t *table = s_listed; table; table = table->listed_next) {
        bool seen = false;
        for (sb_lru_t *before = s_listed; before != table && !seen; before = before->listed_next)
            seen = streq (before->name, table->name);
        if (seen)
            continue;
        sb_lru_stats_t sum;
        sb_lru_stats (table, &sum);
        for (sb_lru_t *other = table->listed_next; other; other = other->listed_next)
            if (streq (other->name, table->name)) {
                sb_lru_stats_t more;
                sb_lru_stats (other, &more);
                sum.size += more.size;
                sum.capacity += more.capacity;
                sum.hits += more.hits;
                sum.misses += more.misses;
                sum.evictions += more.evictions;
            }
        fn (&sum, arg);
    }
    pthread_mutex_unlock (&s_listed_lock);
}

//  ---------------------------------------------------------------------
//  Selftest

//  The oracle: an array in recency order (index 0 the least recent),
//  linear everything, obviously right.
#define S_ORACLE_MAX 64

typedef struct {
    char keys [S_ORACLE_MAX][16];
    int values [S_ORACLE_MAX];
    size_t size, capacity;
    uint64_t evictions;
} s_oracle_t;

static int
s_oracle_find (s_oracle_t *o, const char *key)
{
    for (size_t i = 0; i < o->size; i++)
        if (streq (o->keys [i], key))
            return (int) i;
    return -1;
}

static void
s_oracle_take (s_oracle_t *o, size_t i)
{
    memmove (&o->keys [i], &o->keys [i + 1], (o->size - i - 1) * sizeof (o->keys [0]));
    memmove (&o->values [i], &o->values [i + 1], (o->size - i - 1) * sizeof (o->values [0]));
    o->size--;
}

static void
s_oracle_append (s_oracle_t *o, const char *key, int value)
{
    snprintf (o->keys [o->size], sizeof (o->keys [0]), "%s", key);
    o->values [o->size++] = value;
}

static int *
s_oracle_get (s_oracle_t *o, const char *key, bool refresh)
{
    int i = s_oracle_find (o, key);
    if (i < 0)
        return NULL;
    if (refresh) {
        int value = o->values [i];
        s_oracle_take (o, (size_t) i);
        s_oracle_append (o, key, value);
        i = (int) o->size - 1;
    }
    return &o->values [i];
}

static void
s_oracle_put (s_oracle_t *o, const char *key, int value)
{
    int i = s_oracle_find (o, key);
    if (i >= 0)
        s_oracle_take (o, (size_t) i);
    else
    if (o->size == o->capacity) {
        s_oracle_take (o, 0);
        o->evictions++;
    }
    s_oracle_append (o, key, value);
}

//  The table and the oracle hold the same entries in the same order.
static bool
s_same (sb_lru_t *lru, s_oracle_t *o)
{
    if (sb_lru_size (lru) != o->size)
        return false;
    size_t i = o->size;
    for (s_node_t *node = lru->head.next; node != &lru->head; node = node->next) {
        if (i == 0)
            return false;
        i--;
        if (!streq (s_key (lru, node), o->keys [i]) || *(int *) s_value (node) != o->values [i])
            return false;
    }
    return i == 0;
}

static void
s_test_evicted (const char *key, void *value, void *arg)
{
    char *last = (char *) arg;
    snprintf (last, 16, "%s=%d", key, *(int *) value);
}

static bool
s_test_odd (const char *key, void *value, void *arg)
{
    (void) key;
    (void) arg;
    return *(int *) value % 2 != 0;
}

static void
s_test_sum (const char *key, void *value, void *arg)
{
    (void) key;
    *(long *) arg += *(int *) value;
}

static void
s_test_report (const sb_lru_stats_t *stats, void *arg)
{
    sb_lru_stats_t *out = (sb_lru_stats_t *) arg;
    if (stats->name && streq (stats->name, "lru_selftest"))
        *out = *stats;
}

void
sb_lru_test (bool verbose)
{
    (void) verbose;
    //  Eviction order: the least recently used goes, a hit refreshes.
    sb_lru_t *lru = sb_lru_new (NULL, 3, sizeof (int), 15);
    char evicted [16] = "";
    sb_lru_set_evict (lru, s_test_evicted, evicted);
    int one = 1, two = 2, three = 3, four = 4, five = 5;
    SB_CHECK (sb_lru_get (lru, "a") == NULL);
    SB_CHECK (*(int *) sb_lru_put (lru, "a", &one) == 1);
    sb_lru_put (lru, "b", &two);
    sb_lru_put (lru, "c", &three);
    SB_CHECK (sb_lru_size (lru) == 3 && sb_lru_capacity (lru) == 3);
    SB_CHECK (*(int *) sb_lru_get (lru, "a") == 1);         //  a is now the most recent
    sb_lru_put (lru, "d", &four);                            //  so b goes
    SB_CHECK (streq (evicted, "b=2") && sb_lru_peek (lru, "b") == NULL);
    SB_CHECK (sb_lru_size (lru) == 3);
    const char *key = NULL;
    SB_CHECK (*(int *) sb_lru_oldest (lru, &key) == 3 && streq (key, "c"));
    //  peek does not refresh: c stays the oldest and goes next.
    SB_CHECK (*(int *) sb_lru_peek (lru, "c") == 3);
    sb_lru_put (lru, "e", &five);
    SB_CHECK (streq (evicted, "c=3"));
    //  Replacing a value refreshes it and evicts nothing.
    sb_lru_put (lru, "a", &five);
    SB_CHECK (*(int *) sb_lru_peek (lru, "a") == 5 && sb_lru_size (lru) == 3);
    SB_CHECK (*(int *) sb_lru_oldest (lru, &key) == 4 && streq (key, "d"));
    //  Remove, then room without eviction.
    SB_CHECK (sb_lru_remove (lru, "d") && !sb_lru_remove (lru, "d"));
    evicted [0] = 0;
    sb_lru_put (lru, "f", NULL);
    SB_CHECK (*evicted == 0 && *(int *) sb_lru_peek (lru, "f") == 0 && sb_lru_size (lru) == 3);
    //  A key longer than key_max is not stored.
    SB_CHECK (sb_lru_put (lru, "0123456789abcdef", &one) == NULL && sb_lru_size (lru) == 3);
    //  remove_if, each.
    SB_CHECK (sb_lru_remove_if (lru, s_test_odd, NULL) == 2);      //  a=5, e=5
    SB_CHECK (sb_lru_size (lru) == 1 && sb_lru_peek (lru, "f"));
    long sum = 0;
    sb_lru_put (lru, "g", &four);
    sb_lru_each (lru, s_test_sum, &sum);
    SB_CHECK (sum == 4);
    sb_lru_stats_t stats;
    sb_lru_stats (lru, &stats);
    SB_CHECK (stats.hits == 1 && stats.misses == 1 && stats.evictions == 2);
    sb_lru_purge (lru);
    SB_CHECK (sb_lru_size (lru) == 0 && sb_lru_oldest (lru, NULL) == NULL
              && sb_lru_get (lru, "g") == NULL);
    sb_lru_destroy (&lru);
    SB_CHECK (lru == NULL);
    sb_lru_destroy (&lru);

    //  The bound holds over many more keys than the capacity, and the
    //  buckets grow to it and no further; a loop over fewer keys than the
    //  capacity then only hits.
    lru = sb_lru_new ("lru_selftest", 1000, sizeof (int), 15);
    for (int i = 0; i < 20000; i++) {
        char name [16];
        snprintf (name, sizeof (name), "k%d", i);
        sb_lru_put (lru, name, &i);
        if (sb_lru_size (lru) > 1000)
            break;
    }
    SB_CHECK (sb_lru_size (lru) == 1000 && lru->nbuckets == 1024);
    SB_CHECK (sb_lru_peek (lru, "k18999") == NULL && sb_lru_peek (lru, "k19000"));
    bool hit = true;
    for (int round = 0; round < 3; round++)
        for (int i = 19500; i < 20000; i++) {
            char name [16];
            snprintf (name, sizeof (name), "k%d", i);
            int *value = (int *) sb_lru_get (lru, name);
            hit &= value && *value == i;
        }
    SB_CHECK (hit);
    sb_lru_stats_t listed = { 0 };
    sb_lru_t *shard = sb_lru_new ("lru_selftest", 10, sizeof (int), 15);
    sb_lru_put (shard, "x", &one);
    sb_lru_report (s_test_report, &listed);
    SB_CHECK (listed.size == 1001 && listed.capacity == 1010 && listed.evictions == 19000
              && listed.hits == 1500 && listed.misses == 0);
    sb_lru_destroy (&shard);
    sb_lru_destroy (&lru);
    memset (&listed, 0, sizeof (listed));
    sb_lru_report (s_test_report, &listed);
    SB_CHECK (listed.name == NULL);

    //  Random operations against the oracle, on a small table so that
    //  eviction is frequent: the same entries, order and values after each.
    for (size_t capacity = 1; capacity <= 17; capacity += 8) {
        lru = sb_lru_new (NULL, capacity, sizeof (int), 15);
        s_oracle_t oracle = { .capacity = capacity };
        bool same = true, agree = true;
        uint32_t seed = 12345u + (uint32_t) capacity;
        for (int step = 0; step < 20000 && same && agree; step++) {
            seed = seed * 1103515245u + 12345u;
            uint32_t r = seed >> 8;
            char name [16];
            snprintf (name, sizeof (name), "k%u", r % (3 * (uint32_t) capacity + 2));
            int value = (int) (r % 1000);
            switch ((r >> 12) % 5) {
                case 0:
                case 1:
                    sb_lru_put (lru, name, &value);
                    s_oracle_put (&oracle, name, value);
                    break;
                case 2: {
                    int *got = (int *) sb_lru_get (lru, name);
                    int *want = s_oracle_get (&oracle, name, true);
                    agree &= (!got && !want) || (got && want && *got == *want);
                    break;
                }
                case 3: {
                    int *got = (int *) sb_lru_peek (lru, name);
                    int *want = s_oracle_get (&oracle, name, false);
                    agree &= (!got && !want) || (got && want && *got == *want);
                    break;
                }
                default: {
                    int i = s_oracle_find (&oracle, name);
                    if (i >= 0)
                        s_oracle_take (&oracle, (size_t) i);
                    agree &= sb_lru_remove (lru, name) == (i >= 0);
                }
            }
            same = s_same (lru, &oracle);
        }
        sb_lru_stats (lru, &stats);
        SB_CHECK (same && agree && stats.evictions == oracle.evictions);
        sb_lru_destroy (&lru);
    }
}
