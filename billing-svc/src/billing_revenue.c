/*  billing_revenue.c — sys.revenue (role operator: switchboardctl revenue),
    the month's recurring revenue and the organizations behind it, from the
    subscriptions billing-svc owns and the plan catalogue's prices.

    Args {month?: "YYYY-MM"} (default: this month, UTC). One statement,
    aggregated in PostgreSQL across all organizations (switchboard.all_orgs).
    Definitions:
    - a plan's monthly price is its catalogue price_cents (a yearly plan's
      divided by 12); free and unknown plans are worth 0;
    - paying: a priced plan, status active or past_due, billed by Stripe
      (a stripe_subscription_id). mrr_cents sums the paying ones;
      at_risk_cents is the past_due part of it (still owed, not yet lost);
    - comped: a priced plan, not canceled, without a Stripe subscription
      (given by hand: switchboardctl plan set): counted, worth no MRR;
    - trialing: counted apart, no MRR until the trial converts;
    - canceled: no MRR, whatever the plan;
    - the month's movements come from webhook_outbox, the record of every
      saved change of plan or status (billing_sub_write writes one row per
      changed version; acknowledged rows stay): new = a change this month
      from a state worth no MRR (free, canceled, or no row before) to a
      priced plan not canceled; churned = the reverse (canceled, or
      downgraded to free); entered_past_due = changes into past_due;
      new_subscriptions = subscription rows created this month;
    - organizations without a subscription row (never left free) are not
      billing-svc's to count: by_plan counts rows only, and switchboardctl
      adds auth-svc's count of organizations (sys.orgs.count) to free.
    Answers {month, currency, mrr_cents, at_risk_cents, paying, comped,
    trialing, past_due, organizations, by_plan: [{plan, price_cents,
    organizations, paying, comped, mrr_cents}], by_status: {status: n},
    new, churned, entered_past_due, new_subscriptions}.
*/
#include "billing_service.h"

#define S_REVENUE_SQL                                                                        \
    "WITH cat AS (SELECT * FROM jsonb_to_recordset ($1::jsonb)"                              \
    "  AS c (plan text, cents bigint, ord int)),"                                            \
    " m AS (SELECT t AS m0, t + interval '1 month' AS m1 FROM (SELECT"                       \
    "  (COALESCE ($2::text, to_char (now () AT TIME ZONE 'UTC', 'YYYY-MM')) || '-01')"        \
    "  ::timestamp AT TIME ZONE 'UTC' AS t) AS x),"                                           \
    " s AS (SELECT s.plan, s.status, s.created_at, COALESCE (c.cents, 0) AS cents,"            \
    "  s.stripe_subscription_id IS NOT NULL AS stripe FROM subscriptions AS s"                \
    "  LEFT JOIN cat AS c ON c.plan = s.plan),"                                               \
    " k AS (SELECT s.*, cents > 0 AND stripe AND status IN ('active', 'past_due') AS paying," \
    "  cents > 0 AND NOT stripe AND status <> 'canceled' AS comped FROM s),"                 \
    " h AS (SELECT w.created_at, w.status, COALESCE (c.cents, 0) > 0"                         \
    "  AND w.status <> 'canceled' AS worth,"                                                  \
    "  lag (COALESCE (c.cents, 0) > 0 AND w.status <> 'canceled', 1, false)"                 \
    "  OVER (PARTITION BY w.organization_id ORDER BY w.version) AS was_worth,"                \
    "  lag (w.status, 1, 'active') OVER (PARTITION BY w.organization_id"                     \
    "  ORDER BY w.version) AS was_status"                                                     \
    "  FROM webhook_outbox AS w LEFT JOIN cat AS c ON c.plan = w.plan),"                      \
    " hm AS (SELECT h.* FROM h, m WHERE h.created_at >= m.m0 AND h.created_at < m.m1),"      \
    " p AS (SELECT c.plan, c.cents, c.ord, count (k.plan) AS organizations,"                  \
    "  count (*) FILTER (WHERE k.paying) AS paying,"                                          \
    "  count (*) FILTER (WHERE k.comped) AS comped,"                                          \
    "  COALESCE (sum (k.cents) FILTER (WHERE k.paying), 0) AS mrr"                           \
    "  FROM cat AS c LEFT JOIN k ON k.plan = c.plan GROUP BY c.plan, c.cents, c.ord)"        \
    " SELECT (SELECT to_char (m0 AT TIME ZONE 'UTC', 'YYYY-MM') FROM m) AS month,"             \
    "  (SELECT COALESCE (sum (cents) FILTER (WHERE paying), 0) FROM k)::bigint AS mrr_cents,"   \
    "  (SELECT COALESCE (sum (cents) FILTER (WHERE paying AND status = 'past_due'), 0)"       \
    "   FROM k)::bigint AS at_risk_cents,"                                                    \
    "  (SELECT count (*) FILTER (WHERE paying) FROM k)::bigint AS paying,"                    \
    "  (SELECT count (*) FILTER (WHERE comped) FROM k)::bigint AS comped,"                    \
    "  (SELECT count (*) FILTER (WHERE status = 'trialing') FROM k)::bigint AS trialing,"     \
    "  (SELECT count (*) FILTER (WHERE status = 'past_due') FROM k)::bigint AS past_due,"     \
    "  (SELECT count (*) FROM k)::bigint AS organizations,"                                   \
    "  (SELECT jsonb_agg (jsonb_build_object ('plan', plan, 'price_cents', cents,"             \
    "   'organizations', organizations, 'paying', paying, 'comped', comped,"                  \
    "   'mrr_cents', mrr) ORDER BY ord) FROM p) AS by_plan,"                                  \
    "  (SELECT jsonb_object_agg (st, n) FROM (SELECT st, count (k.status) AS n FROM"          \
    "   unnest (ARRAY ['trialing', 'active', 'past_due', 'canceled']) AS st"                 \
    "   LEFT JOIN k ON k.status = st GROUP BY st) AS b) AS by_status,"                        \
    "  (SELECT count (*) FILTER (WHERE worth AND NOT was_worth) FROM hm)::bigint AS new,"     \
    "  (SELECT count (*) FILTER (WHERE was_worth AND NOT worth) FROM hm)::bigint AS churned," \
    "  (SELECT count (*) FILTER (WHERE status = 'past_due' AND was_status <> 'past_due')"     \
    "   FROM hm)::bigint AS entered_past_due,"                                                \
    "  (SELECT count (*) FROM k, m WHERE k.created_at >= m.m0 AND k.created_at < m.m1)"       \
    "  ::bigint AS new_subscriptions"

int
billing_sys_revenue (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *month = sb_arg_month (ctx, args, "month", false, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);

    //  The catalogue's monthly prices, as the statement's first parameter
    const sb_plans_t *plans = sb_ctx_plans (ctx);
    json_t *catalogue = json_array ();
    const char *currency = "usd";
    for (size_t index = 0; index < sb_plans_size (plans); index++) {
        const sb_plan_t *plan = sb_plans_at (plans, index);
        int64_t cents = streq (plan->interval, "year") ? plan->price_cents / 12
                                                       : plan->price_cents;
        if (plan->price_cents > 0)
            currency = plan->currency;
        json_array_append_new (catalogue, json_pack ("{s:s, s:I, s:i}", "plan", plan->id,
                                                     "cents", (json_int_t) cents,
                                                     "ord", (int) index));
    }
    char *text = json_dumps (catalogue, JSON_COMPACT);
    json_decref (catalogue);
    if (!text)
        return -1;
    if (sb_db_all_orgs (sb_ctx_db (ctx))) {
        free (text);
        return -1;
    }
    const char *params [] = { text, month };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx), S_REVENUE_SQL, 2, params);
    free (text);
    if (!result)
        return -1;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    //  The row as it is, and the currency
    msgpack_sbuffer row;
    msgpack_sbuffer_init (&row);
    msgpack_packer row_pk;
    msgpack_packer_init (&row_pk, &row, msgpack_sbuffer_write);
    sb_db_pack_row (&row_pk, result, 0);
    PQclear (result);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = -1;
    if (msgpack_unpack_next (&unpacked, row.data, row.size, NULL) == MSGPACK_UNPACK_SUCCESS
        && unpacked.data.type == MSGPACK_OBJECT_MAP) {
        const msgpack_object_map *map = &unpacked.data.via.map;
        msgpack_pack_map (pk, map->size + 1);
        sb_mpk_pack_kv_str (pk, "currency", currency);
        for (uint32_t index = 0; index < map->size; index++) {
            msgpack_pack_object (pk, map->ptr [index].key);
            msgpack_pack_object (pk, map->ptr [index].val);
        }
        rc = 0;
    }
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&row);
    return rc;
}
