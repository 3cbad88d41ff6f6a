/*  purge.h — deleting an organization's rows from a service's schema: the
    internal operation `org.purge` of every data-owning service.

    When an organization is deleted, auth-svc records one deletion per
    data-owning service (auth.org_deletions, in the transaction that
    deletes the organization) and its relay calls `<service> org.purge
    {organization_id}` (role service: internal callers only; the gateway
    never sends that role) until the service answers 2xx with done true.
    So the operation is idempotent (a purge of an organization with no rows
    left answers done) and bounded: each call deletes at most `limit` rows
    (default SB_PURGE_LIMIT) of each table in turn and, when a table had
    that many, answers done false without going on to the tables after it,
    so that one huge organization never holds a long transaction or locks
    more than a batch, and other organizations' deletions interleave with
    its batches.

    Usage: a service lists its organization tables, children before the
    tables they reference (a parent deleted first would cascade through all
    of its children in one statement), and its op table has

        { "org.purge", tenant_org_purge, SB_ROLE_SERVICE, SB_OP_TX },

    with tenant_org_purge calling sb_purge_reply (ctx, args, reply, tables).
*/
#ifndef SB_PURGE_H_INCLUDED
#define SB_PURGE_H_INCLUDED

#include "sb/service.h"

#define SB_PURGE_LIMIT      1000        //  rows per table per call
#define SB_PURGE_SKELETON_TABLES 1

//  The skeleton's tables with an organization_id column, which every
//  schema has (common/sql) and every purge deletes from after the
//  service's own: idempotency_keys.
extern const char *const sb_purge_skeleton_tables [SB_PURGE_SKELETON_TABLES];
#define SB_PURGE_LIMIT_MAX  10000

//  Reads {organization_id, limit?} (400 validation_failed when wrong), sets
//  the organization for row-level security in the request's transaction,
//  deletes up to limit of its rows from each of tables (a NULL-terminated
//  list of our own table names, in order, each with an organization_id
//  column), then from the skeleton's tables, and answers 200 {organization_id, deleted, done}: done is false
//  when a table may hold more (the caller calls again), and also when
//  again is true (a service that has just fenced off new writes for the
//  organization, whose writes begun before the fence may still commit, has
//  the next call look once more). Returns 0, or -1 when a statement failed
//  (the skeleton answers 500 and rolls back).
int sb_purge_reply (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply,
                    const char *const *tables, bool again);

#endif
