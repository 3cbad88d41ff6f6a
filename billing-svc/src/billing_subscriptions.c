/*  billing_subscriptions.c — each organization's subscription: reading,
    writing (with the entitlements version and the event), and the
    operations billing.subscription, billing.spending_cap and
    subscriptions.assign.

    One writer path. Every change of a subscription goes through
    billing_sub_write (billing_sub_save in a request, which also publishes;
    the dunning thread publishes on its own socket), which takes the next entitlements version (a row lock
    on versions held until commit: writers of entitlements serialize there,
    which is cheap because plan changes are rare), writes the row with it,
    and publishes subscription.changed after commit. The caches of the
    other processes rely on both (sb/entitlements.h): a write that skipped
    the version would be missed by their catch-up.
    The same statement adds the subscription.updated webhook event to
    webhook_outbox when plan, status, current_period_end or
    cancel_at_period_end changed (billing_outbox.c relays it), so an event
    exists exactly for the versions that changed what it tells.

    What a subscription entitles (billing_entitlement_of) is computed, not
    stored: canceled means free; past_due keeps the plan until the grace
    period after past_due_since ends, then means free even before the
    dunning sweep writes it down (the entitlement says until when it holds,
    so caches ask again then); a plan the catalogue no longer has means
    free (logged). On a plan with overage for calls, the calls an
    organization may make are unlimited without a spending cap, or the
    plan's calls plus what the cap pays for (cap / unit price, rounded
    down) with one.

    over_limits in billing.subscription: the limits whose use exceeds the
    entitlement now (businesses, seats, calls_per_month), asked of the
    services that own the counts (tenant-svc org.counts, auth-svc
    org.counts) over the bus; a service that does not answer in time is
    left out and the answer says so (over_limits_incomplete).
*/
#include "billing_service.h"

#define S_COLUMNS BILLING_SUB_COLUMNS
#define S_COUNTS_MS 1500            //  what a count of over_limits may wait

static void
s_copy (char *out, size_t size, const PGresult *result, int row, int column)
{
    snprintf (out, size, "%s", PQgetvalue (result, row, column));
}

void
billing_sub_default (billing_sub_t *sub)
{
    memset (sub, 0, sizeof (*sub));
    snprintf (sub->plan, sizeof (sub->plan), "free");
    snprintf (sub->status, sizeof (sub->status), "active");
}

void
billing_sub_from_row (const PGresult *result, int row, int at, billing_sub_t *sub)
{
    billing_sub_default (sub);
    sub->exists = true;
    s_copy (sub->plan, sizeof (sub->plan), result, row, at);
    s_copy (sub->status, sizeof (sub->status), result, row, at + 1);
    s_copy (sub->current_period_start, BILLING_TS, result, row, at + 2);
    s_copy (sub->current_period_end, BILLING_TS, result, row, at + 3);
    sub->cancel_at_period_end = PQgetvalue (result, row, at + 4) [0] == 't';
    s_copy (sub->trial_end, BILLING_TS, result, row, at + 5);
    s_copy (sub->stripe_customer_id, sizeof (sub->stripe_customer_id), result, row, at + 6);
    s_copy (sub->stripe_subscription_id, sizeof (sub->stripe_subscription_id), result, row, at + 7);
    s_copy (sub->stripe_status, sizeof (sub->stripe_status), result, row, at + 8);
    sub->stripe_state_at = strtoll (PQgetvalue (result, row, at + 9), NULL, 10);
    s_copy (sub->past_due_since, BILLING_TS, result, row, at + 10);
    sub->has_cap = !PQgetisnull (result, row, at + 11);
    sub->spending_cap_cents = sub->has_cap ? strtoll (PQgetvalue (result, row, at + 11), NULL, 10)
                                           : 0;
    sub->version = strtoll (PQgetvalue (result, row, at + 12), NULL, 10);
}

int
billing_sub_read (sb_db_t *db, const char *org, bool for_update, billing_sub_t *sub)
{
    billing_sub_default (sub);
    const char *params [] = { org };
    PGresult *result = sb_db_exec (db,
                                   for_update ? "SELECT " S_COLUMNS " FROM subscriptions "
                                                "WHERE organization_id = $1 FOR UPDATE"
                                              : "SELECT " S_COLUMNS " FROM subscriptions "
                                                "WHERE organization_id = $1",
                                   1, params);
    if (!result)
        return -1;
    if (PQntuples (result) == 1)
        billing_sub_from_row (result, 0, 0, sub);
    PQclear (result);
    return 0;
}

int
billing_sub_load (sb_ctx_t *ctx, const char *org, bool for_update, billing_sub_t *sub)
{
    return billing_sub_read (sb_ctx_db (ctx), org, for_update, sub);
}

static const char *
s_or_null (const char *value)
{
    return *value ? value : NULL;
}

int
billing_sub_write (sb_db_t *db, const char *org, billing_sub_t *sub)
{
    PGresult *result = sb_db_exec (db, "UPDATE versions SET version = version + 1 "
                                       "WHERE name = 'entitlements' RETURNING version", 0, NULL);
    if (!result)
        return -1;
    char version [24];
    snprintf (version, sizeof (version), "%s", PQntuples (result) ? PQgetvalue (result, 0, 0) : "");
    PQclear (result);
    if (!*version)
        return sb_error ("billing: the entitlements version is missing");
    char state_at [24], cap [24];
    snprintf (state_at, sizeof (state_at), "%lld", (long long) sub->stripe_state_at);
    snprintf (cap, sizeof (cap), "%lld", (long long) sub->spending_cap_cents);
    const char *params [] = {
        org, sub->plan, sub->status, s_or_null (sub->current_period_start),
        s_or_null (sub->current_period_end), sub->cancel_at_period_end ? "true" : "false",
        s_or_null (sub->trial_end), s_or_null (sub->stripe_customer_id),
        s_or_null (sub->stripe_subscription_id), s_or_null (sub->stripe_status), state_at,
        s_or_null (sub->past_due_since), sub->has_cap ? cap : NULL, version
    };
    //  One statement: the row before (the snapshot's), the write, and the
    //  subscription.updated event when what a webhook tells changed
    //  (webhook_outbox, billing_outbox.c).
    if (sb_db_run (db,
                   "WITH old AS ("
                   "  SELECT plan, status, current_period_end, cancel_at_period_end"
                   "    FROM subscriptions WHERE organization_id = $1"
                   "), up AS ("
                   "INSERT INTO subscriptions (organization_id, plan, status, current_period_start, "
                   "  current_period_end, cancel_at_period_end, trial_end, stripe_customer_id, "
                   "  stripe_subscription_id, stripe_status, stripe_state_at, past_due_since, "
                   "  spending_cap_cents, version) "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
                   "ON CONFLICT (organization_id) DO UPDATE SET plan = $2, status = $3, "
                   "  current_period_start = $4, current_period_end = $5, "
                   "  cancel_at_period_end = $6, trial_end = $7, stripe_customer_id = $8, "
                   "  stripe_subscription_id = $9, stripe_status = $10, stripe_state_at = $11, "
                   "  past_due_since = $12, spending_cap_cents = $13, version = $14, "
                   "  updated_at = now () "
                   "RETURNING organization_id, version, plan, status, current_period_end, "
                   "  cancel_at_period_end"
                   ")"
                   "INSERT INTO webhook_outbox (organization_id, version, plan, status, "
                   "  current_period_end, cancel_at_period_end) "
                   "SELECT * FROM up AS u"
                   " WHERE coalesce ((SELECT plan FROM old), 'free') IS DISTINCT FROM u.plan"
                   "    OR coalesce ((SELECT status FROM old), 'active') IS DISTINCT FROM u.status"
                   "    OR (SELECT current_period_end FROM old) IS DISTINCT FROM u.current_period_end"
                   "    OR coalesce ((SELECT cancel_at_period_end FROM old), false)"
                   "       IS DISTINCT FROM u.cancel_at_period_end",
                   14, params))
        return -1;
    sub->exists = true;
    sub->version = strtoll (version, NULL, 10);
    return 0;
}

void
billing_sub_event (const char *org, const billing_sub_t *sub, msgpack_sbuffer *buf)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    sb_mpk_pack_kv_str (&pk, "organization_id", org);
    sb_mpk_pack_kv_int (&pk, "version", sub->version);
    sb_mpk_pack_kv_str (&pk, "plan", sub->plan);
    sb_mpk_pack_kv_str (&pk, "status", sub->status);
}

int
billing_sub_save (sb_ctx_t *ctx, const char *org, billing_sub_t *sub)
{
    if (billing_sub_write (sb_ctx_db (ctx), org, sub))
        return -1;
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    billing_sub_event (org, sub, &buf);
    sb_ctx_publish (ctx, BILLING_SUB_TOPIC, buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
    return 0;
}

int64_t
billing_grace_ms (sb_ctx_t *ctx)
{
    return (int64_t) sb_ctx_config (ctx)->billing_grace_seconds * 1000;
}

void
billing_entitlement_of (const sb_plans_t *plans, const billing_sub_t *sub, int64_t now_ms,
                        int64_t grace_ms, sb_entitlement_t *ent)
{
    memset (ent, 0, sizeof (*ent));
    snprintf (ent->status, sizeof (ent->status), "%s", sub->status);
    ent->version = (uint64_t) sub->version;
    const sb_plan_t *plan = sb_plans_get (plans, sub->plan);
    if (!plan)
        sb_warn ("billing: plan '%s' is not in the catalogue: treated as free", sub->plan);
    if (streq (sub->status, "canceled"))
        plan = NULL;
    if (plan && streq (sub->status, "past_due")) {
        int64_t since = 0;
        if (*sub->past_due_since && sb_timestamp_parse (sub->past_due_since, &since) == 0) {
            int64_t until = since / 1000 + grace_ms;
            if (until <= now_ms)
                plan = NULL;
            else
                ent->expires_ms = until;
        }
    }
    if (!plan)
        plan = sb_plans_get (plans, "free");
    snprintf (ent->plan, sizeof (ent->plan), "%s", plan->id);
    ent->calls_included = plan->calls_per_month;
    ent->calls_per_month = plan->calls_per_month;
    if (plan->overage_calls.enabled) {
        if (!sub->has_cap)
            ent->calls_per_month = -1;
        else {
            int64_t extra = sub->spending_cap_cents / plan->overage_calls.unit_amount_cents;
            ent->calls_per_month = plan->calls_per_month > INT64_MAX - extra
                                 ? -1 : plan->calls_per_month + extra;
        }
    }
    ent->businesses = plan->businesses;
    ent->seats = plan->seats;
    ent->api_requests_per_minute = plan->api_requests_per_minute;
    ent->features = plan->features;
}

//  ---------------------------------------------------------------------
//  over_limits

//  Calls service op {organization_id} and reads the integer field name of
//  its answer into *value. 0, or -1 when it did not answer.
static int
s_count (sb_ctx_t *ctx, const char *service, const char *name, const char *org, int64_t *value)
{
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sb_mpk_pack_kv_str (&pk, "organization_id", org);
    sb_reply_msg_t reply;
    int rc = sb_ctx_call (ctx, service, "org.counts", &args, S_COUNTS_MS, &reply);
    msgpack_sbuffer_destroy (&args);
    if (rc)
        return -1;
    rc = reply.status == 200 && reply.body
         && sb_mpk_int (sb_mpk_get (reply.body, name), value) == 0 ? 0 : -1;
    sb_reply_msg_release (&reply);
    return rc;
}

int
billing_subscription_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    const char *org = sb_ctx_head (ctx)->org;
    billing_sub_t sub;
    if (billing_sub_load (ctx, org, false, &sub))
        return -1;
    sb_entitlement_t ent;
    billing_entitlement_of (sb_ctx_plans (ctx), &sub, sb_now_ms (), billing_grace_ms (ctx), &ent);

    int64_t businesses = 0, seats = 0, calls = 0;
    bool incomplete = false;
    const char *over [3];
    size_t over_count = 0;
    if (s_count (ctx, "tenant", "businesses", org, &businesses) == 0) {
        if (ent.businesses >= 0 && businesses > ent.businesses)
            over [over_count++] = "businesses";
    }
    else
        incomplete = true;
    if (s_count (ctx, "auth", "seats", org, &seats) == 0) {
        if (ent.seats >= 0 && seats > ent.seats)
            over [over_count++] = "seats";
    }
    else
        incomplete = true;
    if (s_count (ctx, "tenant", "calls_this_month", org, &calls) == 0) {
        if (ent.calls_per_month >= 0 && calls > ent.calls_per_month)
            over [over_count++] = "calls_per_month";
    }
    else
        incomplete = true;

    //  This month's overage: the calls beyond the plan's (tenant-svc's
    //  count, as over_limits), and what of it Stripe acknowledged
    //  (billing_meter.c; usage-svc's count, which may trail by seconds).
    const sb_plan_t *plan = sb_plans_get (sb_ctx_plans (ctx), ent.plan);
    int64_t overage = plan && plan->overage_calls.enabled && calls > ent.calls_included
                    ? calls - ent.calls_included : 0;
    const char *month [] = { org };
    PGresult *reported = sb_db_exec (sb_ctx_db (ctx),
                                     "SELECT coalesce (sum (quantity), 0) FROM meter_reports "
                                     " WHERE organization_id = $1 AND metric = 'calls' "
                                     "   AND reported_at IS NOT NULL AND period_start = "
                                     "       date_trunc ('month', now () AT TIME ZONE 'UTC')::date",
                                     1, month);
    if (!reported)
        return -1;
    int64_t reported_calls = strtoll (PQgetvalue (reported, 0, 0), NULL, 10);
    PQclear (reported);

    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 14);
    sb_mpk_pack_kv_str (pk, "plan", ent.plan);
    //  A lapsed past-due subscription is on free now: it says so.
    sb_mpk_pack_kv_str (pk, "status", streq (sub.status, "past_due") && !ent.expires_ms
                                      ? "canceled" : sub.status);
    sb_mpk_pack_kv_str (pk, "subscribed_plan", sub.plan);
    sb_mpk_pack_kv_str (pk, "current_period_start", s_or_null (sub.current_period_start));
    sb_mpk_pack_kv_str (pk, "current_period_end", s_or_null (sub.current_period_end));
    sb_mpk_pack_str (pk, "cancel_at_period_end");
    if (sub.cancel_at_period_end)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    sb_mpk_pack_kv_str (pk, "trial_end", s_or_null (sub.trial_end));
    sb_mpk_pack_str (pk, "grace_period_ends_at");
    if (ent.expires_ms) {
        char at [SB_TIMESTAMP_SIZE];
        sb_timestamp_format (ent.expires_ms * 1000, at);
        sb_mpk_pack_str (pk, at);
    }
    else
        msgpack_pack_nil (pk);
    sb_mpk_pack_str (pk, "over_limits");
    msgpack_pack_array (pk, over_count);
    for (size_t i = 0; i < over_count; i++)
        sb_mpk_pack_str (pk, over [i]);
    sb_mpk_pack_str (pk, "over_limits_incomplete");
    if (incomplete)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    sb_mpk_pack_str (pk, "spending_cap_cents");
    if (sub.has_cap)
        msgpack_pack_int64 (pk, sub.spending_cap_cents);
    else
        msgpack_pack_nil (pk);
    sb_mpk_pack_str (pk, "limits");
    msgpack_pack_map (pk, 5);
    sb_mpk_pack_kv_int (pk, "calls_per_month", ent.calls_per_month);
    sb_mpk_pack_kv_int (pk, "calls_included", ent.calls_included);
    sb_mpk_pack_kv_int (pk, "businesses", ent.businesses);
    sb_mpk_pack_kv_int (pk, "seats", ent.seats);
    sb_mpk_pack_kv_int (pk, "api_requests_per_minute", ent.api_requests_per_minute);
    sb_mpk_pack_str (pk, "usage");
    msgpack_pack_map (pk, 3);
    sb_mpk_pack_kv_int (pk, "businesses", businesses);
    sb_mpk_pack_kv_int (pk, "seats", seats);
    sb_mpk_pack_kv_int (pk, "calls_this_month", calls);
    sb_mpk_pack_str (pk, "overage");
    msgpack_pack_map (pk, 1);
    sb_mpk_pack_str (pk, "calls");
    msgpack_pack_map (pk, 3);
    sb_mpk_pack_kv_int (pk, "quantity", overage);
    sb_mpk_pack_kv_int (pk, "amount_cents",
                        overage && overage <= INT64_MAX / plan->overage_calls.unit_amount_cents
                        ? overage * plan->overage_calls.unit_amount_cents : overage ? -1 : 0);
    sb_mpk_pack_kv_int (pk, "reported", reported_calls);
    return 0;
}

//  PUT /v1/billing/spending-cap {spending_cap_cents: N|null}
int
billing_spending_cap_set (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const msgpack_object *value = sb_mpk_get (args, "spending_cap_cents");
    int64_t cap = 0;
    bool has_cap = false;
    if (!value)
        sb_fields_add (&fields, "spending_cap_cents", "is required (a number of cents, or null)");
    else
    if (value->type != MSGPACK_OBJECT_NIL) {
        if (sb_mpk_int (value, &cap) || value->type == MSGPACK_OBJECT_STR
            || cap < 0 || cap > 100000000000LL)
            sb_fields_add (&fields, "spending_cap_cents",
                           "must be null or an integer from 0 to 100000000000");
        has_cap = true;
    }
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    const char *org = sb_ctx_head (ctx)->org;
    billing_sub_t sub;
    if (billing_sub_load (ctx, org, true, &sub))
        return -1;
    sub.has_cap = has_cap;
    sub.spending_cap_cents = has_cap ? cap : 0;
    if (billing_sub_save (ctx, org, &sub))
        return -1;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 1);
    sb_mpk_pack_str (pk, "spending_cap_cents");
    if (has_cap)
        msgpack_pack_int64 (pk, cap);
    else
        msgpack_pack_nil (pk);
    return 0;
}

//  Operators: subscriptions.assign {organization_id, plan, status?}: a plan
//  given outside Stripe (a contract, a courtesy). It replaces the plan and
//  status and keeps the Stripe ids; a later Stripe event for the
//  organization's subscription applies over it as usual.
int
billing_subscriptions_assign (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = sb_arg_uuid (ctx, args, "organization_id", true, &fields);
    const char *plan = sb_arg_string (ctx, args, "plan", true, 1, 31, &fields);
    if (plan && !sb_plans_get (sb_ctx_plans (ctx), plan))
        sb_fields_add (&fields, "plan", "is not a plan of the catalogue");
    const char *status = sb_arg_string (ctx, args, "status", false, 1, 15, &fields);
    if (status && !streq (status, "active") && !streq (status, "trialing")
        && !streq (status, "past_due") && !streq (status, "canceled"))
        sb_fields_add (&fields, "status", "must be active, trialing, past_due or canceled");
    //  switchboardctl plan set --reason: kept in the log (who gave what, why)
    const char *reason = sb_arg_string (ctx, args, "reason", false, 1, 500, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    sb_info ("subscriptions.assign: %s set to %s (%s) by %s: %s", org, plan,
             status ? status : "active",
             sb_ctx_head (ctx)->role >= SB_ROLE_OPERATOR ? "an operator" : "a service",
             reason ? reason : "no reason given");
    if (sb_db_set_org (sb_ctx_db (ctx), org))
        return -1;
    billing_sub_t sub;
    if (billing_sub_load (ctx, org, true, &sub))
        return -1;
    snprintf (sub.plan, sizeof (sub.plan), "%s", plan);
    status = status ? status : "active";
    if (streq (status, "past_due") && !streq (sub.status, "past_due")) {
        char now [SB_TIMESTAMP_SIZE];
        sb_timestamp_format (sb_now_ms () * 1000, now);
        snprintf (sub.past_due_since, sizeof (sub.past_due_since), "%s", now);
    }
    if (!streq (status, "past_due"))
        *sub.past_due_since = 0;
    snprintf (sub.status, sizeof (sub.status), "%s", status);
    if (billing_sub_save (ctx, org, &sub))
        return -1;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 4);
    sb_mpk_pack_kv_str (pk, "organization_id", org);
    sb_mpk_pack_kv_str (pk, "plan", sub.plan);
    sb_mpk_pack_kv_str (pk, "status", sub.status);
    sb_mpk_pack_kv_int (pk, "version", sub.version);
    return 0;
}

void
billing_subscriptions_test (bool verbose)
{
    (void) verbose;
    char why [256];
    sb_plans_t *plans = sb_plans_load (NULL, why, sizeof (why));
    SB_CHECK (plans);
    if (!plans)
        return;
    int64_t day = 86400000, now = 1767225600000;     //  2026-01-01
    billing_sub_t sub = { .exists = true, .version = 7 };
    snprintf (sub.plan, sizeof (sub.plan), "pro");
    snprintf (sub.status, sizeof (sub.status), "active");
    sb_entitlement_t ent;
    billing_entitlement_of (plans, &sub, now, 7 * day, &ent);
    //  Pro has overage for calls: without a cap, unlimited calls.
    SB_CHECK (streq (ent.plan, "pro") && ent.version == 7 && ent.calls_per_month == -1
              && ent.calls_included == 10000 && ent.businesses == 20 && ent.seats == 25
              && ent.api_requests_per_minute == 1200 && (ent.features & SB_FEATURE_WEBHOOKS)
              && ent.expires_ms == 0);
    //  A cap of $10.00 at 4 cents buys 250 calls more.
    sub.has_cap = true;
    sub.spending_cap_cents = 1000;
    billing_entitlement_of (plans, &sub, now, 7 * day, &ent);
    SB_CHECK (ent.calls_per_month == 10250);
    sub.spending_cap_cents = 3;
    billing_entitlement_of (plans, &sub, now, 7 * day, &ent);
    SB_CHECK (ent.calls_per_month == 10000);
    //  Past due: the plan until the grace period ends, then free.
    snprintf (sub.status, sizeof (sub.status), "past_due");
    snprintf (sub.past_due_since, sizeof (sub.past_due_since), "2025-12-30T00:00:00Z");
    billing_entitlement_of (plans, &sub, now, 7 * day, &ent);
    SB_CHECK (streq (ent.plan, "pro") && ent.expires_ms == now - 2 * day + 7 * day);
    billing_entitlement_of (plans, &sub, now + 5 * day, 7 * day, &ent);
    SB_CHECK (streq (ent.plan, "free") && ent.expires_ms == 0 && ent.calls_per_month == 100
              && ent.features == 0);
    //  Canceled, an unknown plan, no row: free. Free never has overage.
    snprintf (sub.status, sizeof (sub.status), "canceled");
    billing_entitlement_of (plans, &sub, now, 7 * day, &ent);
    SB_CHECK (streq (ent.plan, "free") && streq (ent.status, "canceled"));
    snprintf (sub.status, sizeof (sub.status), "active");
    snprintf (sub.plan, sizeof (sub.plan), "platinum");
    billing_entitlement_of (plans, &sub, now, 7 * day, &ent);
    SB_CHECK (streq (ent.plan, "free") && ent.calls_per_month == 100);
    billing_sub_t none = { .exists = false, .has_cap = true, .spending_cap_cents = 100000 };
    snprintf (none.plan, sizeof (none.plan), "free");
    snprintf (none.status, sizeof (none.status), "active");
    billing_entitlement_of (plans, &none, now, 7 * day, &ent);
    SB_CHECK (streq (ent.plan, "free") && ent.calls_per_month == 100 && ent.version == 0);
    //  Enterprise: unlimited, whatever the cap.
    snprintf (sub.plan, sizeof (sub.plan), "enterprise");
    billing_entitlement_of (plans, &sub, now, 7 * day, &ent);
    SB_CHECK (ent.calls_per_month == -1 && ent.businesses == -1 && ent.seats == -1);
    sb_plans_destroy (&plans);
}
