/*  billing_plans.c — the catalogue (billing.plans, public) and the
    organizations' entitlements for the other services (entitlements.get,
    entitlements.changes; internal callers only).

    entitlements.get {organization_ids: [...]} answers, for each id (at
    most S_GET_MAX), what billing_entitlement_of computes from its row (or
    free for an organization without one) in one statement across
    organizations (it answers each id once per time it is listed).
    entitlements.changes {since} answers the organizations
    whose subscription took a version after since, and the version now:
    {version, complete, changes: [{organization_id, version}]}; since nil
    answers no changes (a cache that starts asks that, to learn from where
    on to follow). More than S_CHANGES_MAX changes: complete false with
    none listed, and the caller forgets everything it remembers.

    The version now is read in the same snapshot as the changes, and
    versions commit in order (billing_subscriptions.c), so nothing that
    commits later can carry a version at or below it.
*/
#include "billing_service.h"

#define S_GET_MAX       1000
#define S_CHANGES_MAX   1000

static void
s_pack_limit (msgpack_packer *pk, const char *key, int64_t value)
{
    sb_mpk_pack_kv_int (pk, key, value);
}

int
billing_plans_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    const sb_plans_t *plans = sb_ctx_plans (ctx);
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 3);
    sb_mpk_pack_str (pk, "data");
    msgpack_pack_array (pk, sb_plans_size (plans));
    for (size_t i = 0; i < sb_plans_size (plans); i++) {
        const sb_plan_t *plan = sb_plans_at (plans, i);
        msgpack_pack_map (pk, 8);
        sb_mpk_pack_kv_str (pk, "id", plan->id);
        sb_mpk_pack_kv_str (pk, "name", plan->name);
        sb_mpk_pack_kv_int (pk, "price_cents", plan->price_cents);
        sb_mpk_pack_kv_str (pk, "currency", plan->currency);
        sb_mpk_pack_kv_str (pk, "interval", plan->interval);
        sb_mpk_pack_str (pk, "limits");
        msgpack_pack_map (pk, 4);
        s_pack_limit (pk, "calls_per_month", plan->calls_per_month);
        s_pack_limit (pk, "businesses", plan->businesses);
        s_pack_limit (pk, "seats", plan->seats);
        s_pack_limit (pk, "api_requests_per_minute", plan->api_requests_per_minute);
        sb_mpk_pack_str (pk, "features");
        sb_plans_pack_features (pk, plan->features);
        sb_mpk_pack_str (pk, "overage");
        if (plan->overage_calls.enabled) {
            msgpack_pack_map (pk, 1);
            sb_mpk_pack_str (pk, "calls");
            msgpack_pack_map (pk, 1);
            sb_mpk_pack_kv_int (pk, "unit_amount_cents", plan->overage_calls.unit_amount_cents);
        }
        else
            msgpack_pack_nil (pk);
    }
    sb_mpk_pack_str (pk, "next_cursor");
    msgpack_pack_nil (pk);
    sb_mpk_pack_kv_int (pk, "referral_credit_cents", sb_plans_referral_credit_cents (plans));
    return 0;
}

int
billing_entitlements_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const msgpack_object *ids = sb_mpk_get (args, "organization_ids");
    if (!ids || ids->type != MSGPACK_OBJECT_ARRAY || ids->via.array.size == 0
        || ids->via.array.size > S_GET_MAX) {
        sb_fields_t fields = { 0 };
        sb_fields_add (&fields, "organization_ids", "must be a list of 1 to %d UUIDs", S_GET_MAX);
        return sb_reply_fields (reply, &fields);
    }
    //  One text array parameter: '{id,id,...}'.
    size_t count = ids->via.array.size;
    char *list = (char *) sb_ctx_alloc (ctx, count * 37 + 3);
    size_t n = 0;
    list [n++] = '{';
    for (size_t i = 0; i < count; i++) {
        char id [37];
        if (sb_mpk_copy_str (&ids->via.array.ptr [i], id, sizeof (id)) || !sb_is_uuid (id)) {
            sb_fields_t fields = { 0 };
            sb_fields_add (&fields, "organization_ids", "item %zu is not a UUID", i);
            return sb_reply_fields (reply, &fields);
        }
        n += (size_t) sprintf (list + n, "%s%s", i ? "," : "", id);
    }
    list [n++] = '}';
    list [n] = 0;
    if (sb_db_all_orgs (sb_ctx_db (ctx)))
        return -1;
    const char *params [] = { list };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT id::text, s.organization_id IS NOT NULL, "
                                   BILLING_SUB_COLUMNS
                                   "  FROM unnest ($1::uuid[]) AS id "
                                   "  LEFT JOIN subscriptions s ON s.organization_id = id",
                                   1, params);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    int64_t now = sb_now_ms (), grace = billing_grace_ms (ctx);
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 1);
    sb_mpk_pack_str (pk, "data");
    msgpack_pack_array (pk, (size_t) rows);
    for (int r = 0; r < rows; r++) {
        billing_sub_t sub;
        if (PQgetvalue (result, r, 1) [0] == 't')
            billing_sub_from_row (result, r, 2, &sub);
        else
            billing_sub_default (&sub);
        sb_entitlement_t ent;
        billing_entitlement_of (sb_ctx_plans (ctx), &sub, now, grace, &ent);
        sb_entitlement_pack (pk, PQgetvalue (result, r, 0), &ent);
    }
    PQclear (result);
    return 0;
}

int
billing_entitlements_changes (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const msgpack_object *since_arg = sb_mpk_get (args, "since");
    int64_t since = -1;
    if (since_arg && since_arg->type != MSGPACK_OBJECT_NIL
        && (sb_mpk_int (since_arg, &since) || since < 0)) {
        sb_fields_t fields = { 0 };
        sb_fields_add (&fields, "since", "must be null or a non-negative integer");
        return sb_reply_fields (reply, &fields);
    }
    if (sb_db_all_orgs (sb_ctx_db (ctx)))
        return -1;
    char since_text [24], limit [24];
    snprintf (since_text, sizeof (since_text), "%lld", (long long) (since < 0 ? INT64_MAX : since));
    snprintf (limit, sizeof (limit), "%d", S_CHANGES_MAX + 1);
    const char *params [] = { since_text, limit };
    //  The version now first, then the changes above since: one snapshot.
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT (SELECT version FROM versions WHERE name = 'entitlements'),"
                                   "       NULL::text, NULL::bigint "
                                   "UNION ALL (SELECT NULL, organization_id::text, version "
                                   "  FROM subscriptions WHERE version > $1::bigint "
                                   "  ORDER BY version LIMIT $2::int)",
                                   2, params);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    int changes = rows - 1;
    bool complete = changes <= S_CHANGES_MAX;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 3);
    sb_mpk_pack_kv_int (pk, "version", rows ? strtoll (PQgetvalue (result, 0, 0), NULL, 10) : 0);
    sb_mpk_pack_str (pk, "complete");
    if (complete)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    sb_mpk_pack_str (pk, "changes");
    msgpack_pack_array (pk, complete && changes > 0 ? (size_t) changes : 0);
    for (int r = 1; complete && r < rows; r++) {
        msgpack_pack_map (pk, 2);
        sb_mpk_pack_kv_str (pk, "organization_id", PQgetvalue (result, r, 1));
        sb_mpk_pack_kv_int (pk, "version", strtoll (PQgetvalue (result, r, 2), NULL, 10));
    }
    PQclear (result);
    return 0;
}
