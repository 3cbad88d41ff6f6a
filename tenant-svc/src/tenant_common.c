/*  tenant_common.c — what tenant-svc's handlers share: phone number checks,
    UUID arguments, and keyset pagination with opaque cursors. Timestamps
    are read strictly by sb_arg_timestamp (common), so that PostgreSQL never
    refuses what we pass on (an SQL error would abort the request's
    transaction).
*/
#include "tenant.h"
#include <sodium.h>

bool
tenant_e164 (const char *s)
{
    if (!s || s [0] != '+' || s [1] < '1' || s [1] > '9')
        return false;
    size_t digits = strspn (s + 1, "0123456789");
    return s [1 + digits] == 0 && digits >= 7 && digits <= 15;
}

void
tenant_arg_page (sb_ctx_t *ctx, const msgpack_object *args, tenant_page_t *page,
                 sb_fields_t *fields)
{
    page->limit = 20;
    page->after_time = NULL;
    page->after_id = NULL;
    sb_arg_int (args, "limit", 1, 100, &page->limit, fields);
    const char *cursor = sb_arg_string (ctx, args, "cursor", false, 1, 200, fields);
    if (!cursor)
        return;
    //  The cursor is ours: base64url of "<RFC 3339 time>|<uuid>".
    unsigned char raw [160];
    size_t len = 0;
    if (sodium_base642bin (raw, sizeof (raw) - 1, cursor, strlen (cursor), NULL, &len, NULL,
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0) {
        raw [len] = 0;
        char *bar = strchr ((char *) raw, '|');
        if (bar && bar - (char *) raw < 64) {
            *bar = 0;
            int64_t after;
            if (sb_timestamp_parse ((char *) raw, &after) == 0 && sb_is_uuid (bar + 1)) {
                char *normal = (char *) sb_ctx_alloc (ctx, SB_TIMESTAMP_SIZE);
                sb_timestamp_format (after, normal);
                page->after_time = normal;
                page->after_id = sb_ctx_strndup (ctx, bar + 1, 36);
                return;
            }
        }
    }
    sb_fields_add (fields, "cursor", "is not a cursor this API gave out");
}

//  The packed size of row r of result as sb_db_pack_row writes it.
static size_t
s_row_bytes (const PGresult *result, int row, msgpack_sbuffer *scratch)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, scratch, msgpack_sbuffer_write);
    scratch->size = 0;
    sb_db_pack_row (&pk, result, row);
    return scratch->size;
}

int
tenant_reply_page (sb_ctx_t *ctx, sb_reply_t *reply, const PGresult *result, int64_t limit)
{
    int available = PQntuples (result);
    int rows = available > limit ? (int) limit : available;
    //  Rows while the page fits its byte budget; the first row always (a
    //  row is at most some 420 KB: transcript and summary are bounded).
    msgpack_sbuffer scratch;
    msgpack_sbuffer_init (&scratch);
    size_t bytes = 64;              //  the map, its keys and a cursor
    for (int r = 0; r < rows; r++) {
        bytes += s_row_bytes (result, r, &scratch);
        if (r > 0 && bytes > TENANT_PAGE_BYTES) {
            rows = r;
            break;
        }
    }
    msgpack_sbuffer_destroy (&scratch);
    const char *next = NULL;
    if (rows < available) {
        int time_col = PQfnumber (result, "_cursor_time");
        int id_col = PQfnumber (result, "id");
        char plain [128];
        snprintf (plain, sizeof (plain), "%s|%s", PQgetvalue (result, rows - 1, time_col),
                  PQgetvalue (result, rows - 1, id_col));
        size_t size = sodium_base64_ENCODED_LEN (strlen (plain),
                                                 sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        char *encoded = (char *) sb_ctx_alloc (ctx, size);
        sodium_bin2base64 (encoded, size, (const unsigned char *) plain, strlen (plain),
                           sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        next = encoded;
    }
    return sb_reply_rows (reply, result, rows, next);
}

int
tenant_page_finish (sb_ctx_t *ctx, const msgpack_object *args, PGresult *result,
                    sb_reply_t *reply)
{
    if (!result)
        return -1;
    sb_fields_t fields = { 0 };
    tenant_page_t page;
    tenant_arg_page (ctx, args, &page, &fields);
    return tenant_reply_page (ctx, reply, result, page.limit);
}

//  Reads the status filter: one of statuses, or a field error.
static const char *
s_arg_status (sb_ctx_t *ctx, const msgpack_object *args, const char *const *statuses,
              sb_fields_t *fields)
{
    const char *status = sb_arg_string (ctx, args, "status", false, 1, 16, fields);
    for (size_t i = 0; status && statuses [i]; i++)
        if (streq (status, statuses [i]))
            return status;
    if (status) {
        char allowed [128] = "";
        for (size_t i = 0; statuses [i]; i++)
            snprintf (allowed + strlen (allowed), sizeof (allowed) - strlen (allowed), "%s%s",
                      i ? ", " : "", statuses [i]);
        sb_fields_add (fields, "status", "must be one of %s", allowed);
    }
    return NULL;
}

//  The statement a list builds: the text, its parameters in stmt.
typedef struct {
    char sql [2048];
    sb_db_stmt_t *stmt;
} s_sql_t;

static void
s_append (s_sql_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_append (s_sql_t *self, const char *format, ...)
{
    size_t used = strlen (self->sql);
    va_list args;
    va_start (args, format);
    vsnprintf (self->sql + used, sizeof (self->sql) - used, format, args);
    va_end (args);
}

//  Adds " AND lhs op $n::type" with value as parameter n, when given.
static void
s_where (s_sql_t *self, const char *lhs, const char *op, const char *value, const char *type)
{
    if (!value)
        return;
    self->stmt->params [self->stmt->nparams++] = value;
    s_append (self, " AND %s %s $%d::%s", lhs, op, self->stmt->nparams, type);
}

int
tenant_list_query (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply,
                   sb_db_stmt_t *stmt, const tenant_list_t *list)
{
    sb_fields_t fields = { 0 };
    tenant_page_t page;
    tenant_arg_page (ctx, args, &page, &fields);
    const char *business = NULL, *status = NULL, *from = NULL, *to = NULL;
    if (list->statuses) {
        business = sb_arg_uuid (ctx, args, "business_id", false, &fields);
        status = s_arg_status (ctx, args, list->statuses, &fields);
        from = sb_arg_timestamp (ctx, args, "from", false, NULL, &fields);
        to = sb_arg_timestamp (ctx, args, "to", false, NULL, &fields);
    }
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    char *limit = (char *) sb_ctx_alloc (ctx, 24);
    snprintf (limit, 24, "%lld", (long long) page.limit + 1);
    *stmt = (sb_db_stmt_t) { .nparams = 2, .params = { sb_ctx_head (ctx)->org, limit } };
    s_sql_t sql = { .sql = "", .stmt = stmt };
    char column [96];
    snprintf (column, sizeof (column), "%s.%s", list->table, list->time_column);
    //  $1 the organization, $2 the limit, then only the conditions given.
    s_append (&sql, "SELECT %s, " SB_SQL_TS ("%s") " AS _cursor_time FROM %s "
              "WHERE %s.organization_id = $1", list->columns, column, list->table, list->table);
    s_where (&sql, "business_id", "=", business, "uuid");
    s_where (&sql, "status", "=", status, "text");
    s_where (&sql, column, ">=", from, "timestamptz");
    s_where (&sql, column, "<", to, "timestamptz");
    if (page.after_time) {
        stmt->params [stmt->nparams++] = page.after_time;
        stmt->params [stmt->nparams++] = page.after_id;
        s_append (&sql, " AND (%s, %s.id) < ($%d::timestamptz, $%d::uuid)", column, list->table,
                  stmt->nparams - 1, stmt->nparams);
    }
    s_append (&sql, " ORDER BY %s DESC, %s.id DESC LIMIT $2::int", column, list->table);
    stmt->sql = sb_ctx_strndup (ctx, sql.sql, strlen (sql.sql));
    return 0;
}

//  ---------------------------------------------------------------------------
//  Time zone names. Listing pg_timezone_names reads every zone file (some
//  30 ms; asking for one name costs the same), so the names are read once
//  per process and looked up in memory after. Handlers run on the worker's
//  one thread, so the list needs no lock; it lives until the process exits
//  (a tzdata upgrade on the database server is seen after a restart).

static char **s_zones;
static size_t s_zone_count;

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

int
tenant_timezone_known (sb_db_t *db, const char *name, bool *known)
{
    if (!s_zones) {
        PGresult *result = sb_db_exec (db, "SELECT name FROM pg_timezone_names", 0,
                                       NULL);
        if (!result)
            return -1;
        size_t count = (size_t) PQntuples (result);
        char **zones = (char **) sb_calloc (count + 1, sizeof (char *));
        for (size_t i = 0; i < count; i++)
            zones [i] = sb_strdup (PQgetvalue (result, (int) i, 0));
        PQclear (result);
        qsort (zones, count, sizeof (char *), s_compare_names);
        s_zones = zones;
        s_zone_count = count;
    }
    *known = bsearch (&name, s_zones, s_zone_count, sizeof (char *), s_compare_names) != NULL;
    return 0;
}

int
tenant_quota (sb_ctx_t *ctx, const char *org, sb_reply_t *reply, const char *what,
              int64_t limit, const char *count_sql, const char *beyond)
{
    if (limit < 0)
        return 0;
    if (!org)
        org = sb_ctx_head (ctx)->org;
    //  The lock serializes this organization's creations of this kind until
    //  the transaction ends, so the count below cannot go stale before the
    //  insert: the 100th passes, the 101st waits, then sees 100 and stops.
    //  (Read Committed: the count's snapshot is taken after the lock.)
    const char *lock [] = { what, org };
    if (sb_db_run (sb_ctx_db (ctx), "SELECT pg_advisory_xact_lock (hashtext ($1), hashtext ($2))",
                   2, lock))
        return -1;
    PGresult *result = sb_db_exec (sb_ctx_db (ctx), count_sql, 1, &org);
    if (!result)
        return -1;
    int64_t used = strtoll (PQgetvalue (result, 0, 0), NULL, 10);
    PQclear (result);
    if (used < limit)
        return 0;
    if (!reply)
        return 1;
    char message [160];
    if (beyond)
        snprintf (message, sizeof (message), "%s", beyond);
    else
        snprintf (message, sizeof (message), "%s: the plan allows %lld", what, (long long) limit);
    msgpack_packer *pk = sb_reply_error_extra (reply, 402, SB_E_PLAN_LIMIT_REACHED, message, 2);
    sb_mpk_pack_kv_int (pk, "limit", limit);
    sb_mpk_pack_kv_int (pk, "used", used);
    return 1;
}

void
tenant_common_test (bool verbose)
{
    (void) verbose;
    SB_CHECK (tenant_e164 ("+14155550101"));
    SB_CHECK (tenant_e164 ("+3314455667"));
    SB_CHECK (!tenant_e164 ("14155550101"));
    SB_CHECK (!tenant_e164 ("+04155550101"));
    SB_CHECK (!tenant_e164 ("+141555"));     //  six digits: too short
    SB_CHECK (!tenant_e164 ("+1234567890123456"));
    SB_CHECK (!tenant_e164 ("+1 415 555 0101"));
    SB_CHECK (!tenant_e164 (NULL));
}
