/*  entitlements.h — what an organization may do now, as billing-svc says,
    remembered by every process that enforces it.

    Only billing-svc decides an organization's plan (its subscription,
    dunning, spending cap). Every other process that enforces a limit (the
    gateway's rate limit, tenant-svc's business and call quotas, usage-svc's
    quotas, auth-svc's seats) asks billing-svc for an organization's
    entitlement (op entitlements.get, role service) the first time it needs
    it and keeps the answer in an sb_ents_t.

    Keeping it true. Every change of an organization's entitlement takes
    the next number of one global version in billing's database (the
    transactions that change one serialize on that counter, so versions
    commit in order) and is announced two ways:
    - the event subscription.changed {organization_id, version}, which
      arrives within milliseconds; and
    - entitlements.changes {since}, which an actor of the cache asks every
      second: it answers the organizations changed since the version it
      was given, so a missed event costs at most a second.
    A notice of version V drops a remembered entry of an older version (the
    next request asks again). Before the first answer to entitlements.changes
    (so before the cache knows from which version on it has heard every
    change) nothing is remembered: each lookup asks billing-svc.

    A lookup that was in flight while a change of its organization arrived
    may carry the state before the change: every notice is numbered (the
    generation), a lookup carries the generation current when it started,
    and its answer is used for its own request but not remembered when a
    notice of the same organization arrived meanwhile, or when more notices
    arrived than the last S_RECENT remembered by name. An entitlement may
    also say until when it holds (a past-due subscription's grace period
    ends): it is forgotten then. The cache is a positive one, bounded by
    SWITCHBOARD_ENTITLEMENTS_CACHE organizations and evicting the least
    recently used one when full (sb/lru.h): forgetting costs a lookup,
    never a wrong answer.

    When billing-svc cannot be reached, what is remembered keeps being
    used (nothing can change an entitlement while billing-svc is down, but
    the end of a grace period, which billing-svc applies on its own, is
    also when such an entry is forgotten), and an organization not
    remembered cannot be served: its request is refused with 503
    (fail closed), never served on a guessed plan.

    Thread safety: every function may be called from any thread; one
    mutex guards the table (held for a hash lookup or update only).
*/
#ifndef SB_ENTITLEMENTS_H_INCLUDED
#define SB_ENTITLEMENTS_H_INCLUDED

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include "sb/client.h"
#include "sb/config.h"

//  The entitlement of one organization. Limits: -1 = unlimited.
typedef struct {
    char plan [32];                 //  the plan in force ("free" after a lapse)
    char status [16];               //  trialing, active, past_due, canceled
    uint64_t version;               //  billing's version of this state
    int64_t calls_per_month;        //  what quotas enforce: the plan's calls plus
                                    //  the overage the spending cap allows
    int64_t calls_included;         //  the plan's own calls (the rest is overage)
    int64_t businesses;
    int64_t seats;
    int64_t api_requests_per_minute;
    unsigned features;              //  SB_FEATURE_* (plans.h)
    int64_t expires_ms;             //  unix ms after which it must be asked again, 0: none
} sb_entitlement_t;

typedef struct _sb_ents_t sb_ents_t;

//  Starts the cache and its actor (events and the per-second catch-up)
//  for the brokers, event endpoints and bus keys of config (which must outlive it).
sb_ents_t *sb_ents_new (const sb_config_t *config);
void sb_ents_destroy (sb_ents_t **self_p);

//  From memory: true with *ent filled when org's entitlement is
//  remembered; false otherwise. *generation (may be NULL) receives the
//  generation to give sb_ents_store with the answer of a lookup.
bool sb_ents_lookup (sb_ents_t *self, const char *org, sb_entitlement_t *ent,
                     uint64_t *generation);

//  Reads billing's answer to entitlements.get (its body) for org into
//  *ent and remembers it unless a notice of org arrived since generation.
//  Returns 0, or -1 when the answer does not hold org's entitlement.
int sb_ents_store (sb_ents_t *self, const msgpack_object *body, const char *org,
                   uint64_t generation, sb_entitlement_t *ent);

//  Memory, else a lookup over the bus with client (blocking, at most
//  timeout_ms). Returns 0 with *ent, or -1 when billing-svc did not answer.
int sb_ents_get (sb_ents_t *self, sb_client_t *client, const char *org, int timeout_ms,
                 sb_entitlement_t *ent);

//  Packs the arguments of entitlements.get for one organization into buf.
void sb_ents_pack_args (msgpack_sbuffer *buf, const char *org);

//  Reads one entitlement object ({organization_id, plan, status, version,
//  expires_at_ms, limits: {...}, features: [...]}). 0 or -1. The
//  organization's id is copied into org (65 bytes) when org is not NULL.
int sb_entitlement_parse (const msgpack_object *obj, sb_entitlement_t *ent, char *org);

//  Packs ent as that object (billing-svc's side).
void sb_entitlement_pack (msgpack_packer *pk, const char *org, const sb_entitlement_t *ent);

//  Remembered entries (for tests and logs).
size_t sb_ents_size (sb_ents_t *self);

void sb_ents_test (bool verbose);

#endif
