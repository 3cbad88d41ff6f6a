/*  billing_invoices.c — billing.invoices: GET /v1/billing/invoices, the
    organization's invoices as Stripe's invoice.* webhooks told of them
    (billing_webhooks.c writes them), newest first.

    A list like the others: {data, next_cursor}, limit 1 to 100 (default
    20), and an opaque cursor (base64url of "<created>|<id>", keyset
    pagination on (created, id) descending). A cursor this API did not give
    out answers 400 validation_failed.
*/
#include "billing_service.h"
#include <sodium.h>

#define S_CURSOR_MAX 160

//  Reads the cursor into *after_time and *after_id (arena strings); false
//  (a field error added) when it is not one of ours.
static bool
s_cursor (sb_ctx_t *ctx, const char *cursor, const char **after_time, const char **after_id,
          sb_fields_t *fields)
{
    unsigned char raw [S_CURSOR_MAX];
    size_t len = 0;
    if (sodium_base642bin (raw, sizeof (raw) - 1, cursor, strlen (cursor), NULL, &len, NULL,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0) {
        raw [len] = 0;
        char *bar = strchr ((char *) raw, '|');
        int64_t at;
        if (bar && bar - (char *) raw < 64) {
            *bar = 0;
            if (sb_timestamp_parse ((char *) raw, &at) == 0 && sb_is_uuid (bar + 1)) {
                char *normal = (char *) sb_ctx_alloc (ctx, SB_TIMESTAMP_SIZE);
                sb_timestamp_format (at, normal);
                *after_time = normal;
                *after_id = sb_ctx_strndup (ctx, bar + 1, 36);
                return true;
            }
        }
    }
    sb_fields_add (fields, "cursor", "is not a cursor this API gave out");
    return false;
}

int
billing_invoices_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    int64_t limit = 20;
    sb_arg_int (args, "limit", 1, 100, &limit, &fields);
    const char *cursor = sb_arg_string (ctx, args, "cursor", false, 1, 200, &fields);
    const char *after_time = NULL, *after_id = NULL;
    if (cursor)
        s_cursor (ctx, cursor, &after_time, &after_id, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    char fetch [24];
    snprintf (fetch, sizeof (fetch), "%lld", (long long) limit + 1);
    const char *params [] = { sb_ctx_head (ctx)->org, fetch, after_time, after_id };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT id, stripe_invoice_id, number, amount_due, amount_paid, "
                                   "  currency, status, "
                                   SB_SQL_TS ("period_start") " AS period_start, "
                                   SB_SQL_TS ("period_end") " AS period_end, "
                                   "  hosted_invoice_url, "
                                   SB_SQL_TS ("created") " AS created, "
                                   SB_SQL_TS ("updated_at") " AS updated_at "
                                   "FROM invoices WHERE organization_id = $1 "
                                   "  AND ($3::timestamptz IS NULL "
                                   "       OR (created, id) < ($3::timestamptz, $4::uuid)) "
                                   "ORDER BY created DESC, id DESC LIMIT $2::int",
                                   4, params);
    if (!result)
        return -1;
    int available = PQntuples (result);
    int rows = available > limit ? (int) limit : available;
    const char *next = NULL;
    if (rows < available) {
        char plain [128];
        snprintf (plain, sizeof (plain), "%s|%s",
                  PQgetvalue (result, rows - 1, PQfnumber (result, "created")),
                  PQgetvalue (result, rows - 1, PQfnumber (result, "id")));
        size_t size = sodium_base64_ENCODED_LEN (strlen (plain),
                                                 sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        char *encoded = (char *) sb_ctx_alloc (ctx, size);
        sodium_bin2base64 (encoded, size, (const unsigned char *) plain, strlen (plain),
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        next = encoded;
    }
    int rc = sb_reply_rows (reply, result, rows, next);
    PQclear (result);
    return rc;
}
