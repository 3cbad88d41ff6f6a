/*  tenant_analytics.h — the analytics overview of an organization's calls
    and orders (tenant_analytics.c).
*/
#ifndef TENANT_ANALYTICS_H_INCLUDED
#define TENANT_ANALYTICS_H_INCLUDED

#include "sb/sb.h"

//  analytics.overview (GET /v1/analytics/overview): from, to (RFC 3339;
//  default the last 30 days), business_id and timezone (IANA), all
//  optional. Answers 200 with totals, per-day and per-hour figures in the
//  time zone, 400 validation_failed for bad arguments, 404 for a business
//  that is not the organization's. Runs in the request's transaction
//  (SB_OP_TX). Returns 0, or -1 when the database failed.
int tenant_analytics_overview (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  analytics.verify {org, repair?} (role service and above): the rollup
//  (analytics_days) of one organization recomputed from its calls and
//  compared: 200 {mismatches, rows, calls, examples (up to 10
//  {organization_id, day, business_id, status, expected, actual}), pending
//  (deltas not folded yet, counted with the rows)}; with
//  repair true, the differing organizations' rows are rebuilt in the same
//  transaction and {repaired} says how many rows were rewritten. And
//  orders {mismatches, rows, orders, pending, examples ({organization_id,
//  day, business_id, status, currency, expected, actual}), repaired}: the
//  same for the orders' rollup (analytics_order_days, migration 0013).
int tenant_analytics_verify (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  The folder (a thread with its own connection): moves analytics_deltas
//  into analytics_days every second. start returns 0 or -1.
int tenant_analytics_start (const sb_config_t *config);
void tenant_analytics_stop (void);

#endif
