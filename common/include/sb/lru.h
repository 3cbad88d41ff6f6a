/*  lru.h — a bounded cache that evicts one entry at a time, the least
    recently used.

    Every cache of the gateway and of the entitlements (API keys, access
    tokens, subdomains, unknown keys, entitlements, rate-limit windows) is
    one of these: a table of at most `capacity` entries, each a string key
    of at most key_max bytes and a value of value_size bytes kept inline in
    the entry (one allocation per entry, freed when it leaves), so memory is
    bounded by capacity x (value_size + key length + ~64 bytes) plus the
    bucket array (8 bytes per entry, grown by doubling up to the next power
    of two of capacity). Inserting into a full cache evicts the entry used
    least recently: one entry, not the whole table, so a cache a little too
    small for its working set loses a little, not everything at once.

    Why LRU, not CLOCK or a segmented LRU: every caller already takes an
    exclusive mutex around each lookup (the table is not the only thing it
    guards), so moving an entry to the front on a hit costs a few pointer
    writes under a lock already held; CLOCK's gain, a hit that only sets a
    bit (for lock-free or shared-lock readers), buys nothing here. LRU's
    exact recency order also serves the rate limiter: its idle windows are
    all at the old end, found without a scan. Its weak spot is a loop over
    more keys than the capacity (every policy of this family then hits
    nothing): that is a matter of capacity, which is why the caps are
    settings sized for the organizations a deployment has.

    Operations are O(1) on average: a seeded SipHash (libsodium's
    crypto_shorthash, a random key per table, so that clients choosing
    keys cannot pile them into one bucket), chained buckets, and a doubly
    linked recency list. sb_lru_remove_if and sb_lru_each walk every entry
    (O(size)): for rare events (a revocation) and periodic work.

    Eviction is only ever a loss of memory, never of truth, for the callers
    as they use it: each says in its header why forgetting an entry only
    makes it ask again (or, for the rate limiter, what an evicted window
    costs). A cache of denials whose forgetting would serve what must be
    refused must not be one of these (the gateway's revoked sessions and
    suspended organizations are not).

    Thread safety: a table is not locked; its owner holds its own lock
    around every call (sb_lru_get moves the entry, so even lookups write).
    The counters (size, hits, misses, evictions) are relaxed atomics, and
    sb_lru_report may read them from any thread at any time; a named table
    is listed for it from sb_lru_new to sb_lru_destroy.
*/
#ifndef SB_LRU_H_INCLUDED
#define SB_LRU_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _sb_lru_t sb_lru_t;

//  Called with an entry about to be evicted to make room (not on remove,
//  purge or destroy); the value may be read, the table not touched.
typedef void (sb_lru_evict_fn) (const char *key, void *value, void *arg);

//  A new empty table of at most capacity entries (>= 1) of value_size
//  bytes each (> 0), keys of at most key_max bytes. name (borrowed, static:
//  "gateway_api_keys") lists it for sb_lru_report; NULL keeps it unlisted.
sb_lru_t *sb_lru_new (const char *name, size_t capacity, size_t value_size, size_t key_max);
//  Frees the table and every entry (no eviction callback). NULL-safe.
void sb_lru_destroy (sb_lru_t **self_p);

//  Sets the function called with each entry evicted for room.
void sb_lru_set_evict (sb_lru_t *self, sb_lru_evict_fn *fn, void *arg);

//  The value stored under key, made the most recently used, counted as a
//  hit; NULL (a miss) when absent. The pointer is the table's, valid until
//  the next call that adds or removes entries.
void *sb_lru_get (sb_lru_t *self, const char *key);
//  The same, without moving the entry or counting.
void *sb_lru_peek (sb_lru_t *self, const char *key);
//  Stores value_size bytes from value (NULL: zeros) under key, replacing
//  what was there, as the most recently used; evicts the least recently
//  used entry first when the table is full. Returns the stored value (the
//  table's, as for sb_lru_get), or NULL when key is longer than key_max
//  (nothing is stored).
void *sb_lru_put (sb_lru_t *self, const char *key, const void *value);
//  Removes key: true when it was there.
bool sb_lru_remove (sb_lru_t *self, const char *key);
//  Removes every entry for which match returns true; how many.
size_t sb_lru_remove_if (sb_lru_t *self, bool (*match) (const char *key, void *value, void *arg),
                         void *arg);
//  Removes every entry.
void sb_lru_purge (sb_lru_t *self);

//  The least recently used entry's value (and *key, borrowed), or NULL
//  when empty; moves nothing.
void *sb_lru_oldest (sb_lru_t *self, const char **key);
//  Calls fn with every entry, most recently used first; fn may change the
//  value but must not add or remove entries.
void sb_lru_each (sb_lru_t *self, void (*fn) (const char *key, void *value, void *arg),
                  void *arg);

size_t sb_lru_size (sb_lru_t *self);
size_t sb_lru_capacity (sb_lru_t *self);

typedef struct {
    const char *name;
    size_t size;                    //  entries now
    size_t capacity;
    uint64_t hits, misses;          //  sb_lru_get's, since the start
    uint64_t evictions;             //  entries evicted for room, since the start
} sb_lru_stats_t;

//  This table's counters (any thread).
void sb_lru_stats (sb_lru_t *self, sb_lru_stats_t *stats);
//  Calls fn once per name with the counters of every listed table of that
//  name summed (a sharded table is one figure), in the order of their
//  first creation. Any thread; fn must not create or destroy tables.
void sb_lru_report (void (*fn) (const sb_lru_stats_t *stats, void *arg), void *arg);

void sb_lru_test (bool verbose);

#endif
