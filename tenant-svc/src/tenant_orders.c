/*  tenant_orders.c — orders taken by the AI receptionist.

    The total is the server's: Σ quantity × unit price, computed here from
    checked integers (no floating point near money) and never taken from a
    body. An order's status moves forward only: pending → confirmed →
    fulfilled, and pending or confirmed → cancelled.
*/
#include "tenant.h"
#include "tenant_webhooks.h"

#define S_COLUMNS                                                                          \
    "id, business_id, call_id, customer_name, customer_phone, items, currency, total_cents, " \
    "status, " SB_SQL_TS ("created_at") " AS created_at, " SB_SQL_TS ("updated_at") " AS updated_at"

#define S_MAX_ITEMS 100

static bool
s_status_valid (const char *status)
{
    return streq (status, "pending") || streq (status, "confirmed") || streq (status, "fulfilled")
           || streq (status, "cancelled");
}

//  Checks the items and computes the total; returns the items as JSON text
//  (arena) in the API's shape, or NULL with a field error.
static const char *
s_items (sb_ctx_t *ctx, const msgpack_object *items, int64_t *total, sb_fields_t *fields)
{
    if (!items || items->type != MSGPACK_OBJECT_ARRAY || items->via.array.size < 1
        || items->via.array.size > S_MAX_ITEMS) {
        sb_fields_add (fields, "items", "must be a list of 1 to %d items", S_MAX_ITEMS);
        return NULL;
    }
    msgpack_sbuffer json;
    msgpack_sbuffer_init (&json);
    msgpack_sbuffer_write (&json, "[", 1);
    *total = 0;
    for (uint32_t i = 0; i < items->via.array.size; i++) {
        const msgpack_object *item = &items->via.array.ptr [i];
        sb_fields_t ignored = { 0 };
        const char *name = sb_arg_string (ctx, item, "name", true, 1, 200, &ignored);
        int64_t quantity = 0, price = -1;
        bool ok = item->type == MSGPACK_OBJECT_MAP && name
                  && sb_mpk_int (sb_mpk_get (item, "quantity"), &quantity) == 0 && quantity >= 1
                  && quantity <= 10000
                  && sb_mpk_int (sb_mpk_get (item, "unit_price_cents"), &price) == 0 && price >= 0
                  && price <= 100000000;
        if (!ok) {
            sb_fields_add (fields, "items",
                           "item %u needs a name (1-200 characters), an integer quantity from 1 "
                           "to 10000 and an integer unit_price_cents from 0 to 100000000",
                           i + 1);
            msgpack_sbuffer_destroy (&json);
            return NULL;
        }
        //  At most 100 × 10^4 × 10^8 = 10^14: no overflow in int64.
        *total += quantity * price;
        char numbers [96];
        if (i)
            msgpack_sbuffer_write (&json, ",", 1);
        msgpack_sbuffer_write (&json, "{\"name\":", 8);
        sb_json_write_string (&json, name, strlen (name));
        snprintf (numbers, sizeof (numbers), ",\"quantity\":%lld,\"unit_price_cents\":%lld}",
                  (long long) quantity, (long long) price);
        msgpack_sbuffer_write (&json, numbers, strlen (numbers));
    }
    msgpack_sbuffer_write (&json, "]", 1);
    char *text = sb_ctx_strndup (ctx, json.data, json.size);
    msgpack_sbuffer_destroy (&json);
    return text;
}

//  Adds field errors for a business or call that is not the
//  organization's. Returns 0, or -1 on a database failure.
static int
s_check_refs (sb_ctx_t *ctx, const char *business, const char *call, sb_fields_t *fields)
{
    const char *params [] = { sb_ctx_head (ctx)->org, business, call };
    PGresult *found = sb_db_exec (sb_ctx_db (ctx),
                                  "SELECT $2::uuid IS NULL OR EXISTS (SELECT 1 FROM businesses"
                                  "  WHERE organization_id = $1 AND id = $2::uuid),"
                                  " $3::uuid IS NULL OR EXISTS (SELECT 1 FROM calls"
                                  "  WHERE organization_id = $1 AND id = $3::uuid)",
                                  3, params);
    if (!found)
        return -1;
    if (PQgetvalue (found, 0, 0) [0] != 't')
        sb_fields_add (fields, "business_id", "is not a business of this organization");
    if (PQgetvalue (found, 0, 1) [0] != 't')
        sb_fields_add (fields, "call_id", "is not a call of this organization");
    PQclear (found);
    return 0;
}

int
tenant_orders_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *business = sb_arg_uuid (ctx, args, "business_id", true, &fields);
    const char *call = sb_arg_uuid (ctx, args, "call_id", false, &fields);
    const char *customer = sb_arg_string (ctx, args, "customer_name", true, 1, 200, &fields);
    const char *phone = sb_arg_string (ctx, args, "customer_phone", false, 1, 16, &fields);
    if (phone && !tenant_e164 (phone))
        sb_fields_add (&fields, "customer_phone", "must be an E.164 number such as +14155550100");
    const char *currency = sb_arg_string (ctx, args, "currency", true, 3, 3, &fields);
    if (currency && strspn (currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
        sb_fields_add (&fields, "currency", "must be an ISO 4217 code in upper case, like USD");
    int64_t total = 0;
    const char *items = s_items (ctx, sb_mpk_get (args, "items"), &total, &fields);
    if (fields.count) {
        //  Report unknown references with the other faults, not after them.
        if ((business || call) && s_check_refs (ctx, business, call, &fields))
            return -1;
        return sb_reply_fields (reply, &fields);
    }

    char id [37], total_text [24];
    sb_uuid_v4 (id);
    snprintf (total_text, sizeof (total_text), "%lld", (long long) total);
    const char *params [] = { sb_ctx_head (ctx)->org, id, business, call, customer, phone, items,
                              total_text, currency };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "INSERT INTO orders (organization_id, id, business_id, call_id, "
                                   "customer_name, customer_phone, items, total_cents, currency) "
                                   "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::bigint, $9) "
                                   "RETURNING " S_COLUMNS,
                                   9, params);
    if (!result) {
        //  A business or call that is not this organization's.
        if (streq (sb_db_sqlstate (sb_ctx_db (ctx)), "23503")) {
            //  Which one: ask, in a fresh transaction (this one is aborted).
            sb_db_rollback (sb_ctx_db (ctx));
            if (sb_db_begin (sb_ctx_db (ctx)) || sb_db_set_org (sb_ctx_db (ctx), sb_ctx_head (ctx)->org)
                || s_check_refs (ctx, business, call, &fields))
                return -1;
            if (fields.count == 0)
                sb_fields_add (&fields, "business_id", "is not a business of this organization");
            return sb_reply_fields (reply, &fields);
        }
        return -1;
    }
    if (tenant_webhooks_emit (ctx, "order.created", result)) {
        PQclear (result);
        return -1;
    }
    sb_db_pack_row (sb_reply_body (reply, 201), result, 0);
    PQclear (result);
    return 0;
}

int
tenant_orders_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such order");
    const char *params [] = { sb_ctx_head (ctx)->org, id };
    return sb_reply_one (reply, sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT " S_COLUMNS " FROM orders "
                                   "WHERE organization_id = $1 AND id = $2",
                                   2, params),
                         200, "no such order");
}

int
tenant_orders_list_query (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply,
                    sb_db_stmt_t *stmt)
{
    static const char *const statuses [] = { "pending", "confirmed", "fulfilled", "cancelled", NULL };
    static const tenant_list_t list = { .table = "orders", .columns = S_COLUMNS,
                                        .time_column = "created_at", .statuses = statuses };
    return tenant_list_query (ctx, args, reply, stmt, &list);
}

int
tenant_orders_update (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such order");
    sb_fields_t fields = { 0 };
    const char *status = sb_arg_string (ctx, args, "status", true, 1, 16, &fields);
    if (status && !s_status_valid (status))
        sb_fields_add (&fields, "status", "must be pending, confirmed, fulfilled or cancelled");
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    const char *params [] = { sb_ctx_head (ctx)->org, id, status };
    //  The row is locked while the transition is judged, so two concurrent
    //  updates cannot both move the same order.
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT status FROM orders WHERE organization_id = $1 AND id = $2 "
                                   "FOR UPDATE",
                                   2, params);
    if (!result)
        return -1;
    char current [16] = "";
    if (PQntuples (result) == 1)
        snprintf (current, sizeof (current), "%s", PQgetvalue (result, 0, 0));
    PQclear (result);
    if (!*current)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such order");
    bool allowed = (streq (current, "pending") && (streq (status, "confirmed") || streq (status, "cancelled")))
                   || (streq (current, "confirmed") && (streq (status, "fulfilled") || streq (status, "cancelled")));
    if (!allowed)
        return sb_reply_error (reply, 409, TENANT_E_INVALID_TRANSITION,
                               "an order cannot go from %s to %s", current, status);
    result = sb_db_exec (sb_ctx_db (ctx),
                         "UPDATE orders SET status = $3, updated_at = clock_timestamp () "
                         "WHERE organization_id = $1 AND id = $2 RETURNING " S_COLUMNS,
                         3, params);
    if (!result)
        return -1;
    if (tenant_webhooks_emit (ctx, "order.updated", result)) {
        PQclear (result);
        return -1;
    }
    sb_db_pack_row (sb_reply_body (reply, 200), result, 0);
    PQclear (result);
    return 0;
}
