/*  tenant.h — tenant-svc's private declarations.

    tenant-svc owns the tenants' own data — businesses, calls, orders — in
    schema `tenant`, isolated per organization twice: every statement
    filters on organization_id, and row-level security (set per
    transaction by the skeleton) hides other organizations' rows from a
    statement that forgot to. Storing a call also writes its usage into an
    outbox in the same transaction; a relay thread delivers the outbox to
    usage-svc. It also answers the analytics overview and imports legacy
    single-tenant databases (`tenant-svc import-legacy`).
*/
#ifndef TENANT_H_INCLUDED
#define TENANT_H_INCLUDED

#include "sb/sb.h"

extern const sb_service_t tenant_service;
extern const sb_migration_t tenant_migrations [];
extern const size_t tenant_migration_count;

#define TENANT_E_INVALID_TRANSITION "invalid_transition"

//  ---- shared helpers (tenant_common.c) -------------------------------------

//  True for an E.164 number: '+', a non-zero digit, then 6 to 14 digits.
bool tenant_e164 (const char *s);
//  Reads an optional UUID argument (field error when not a UUID).
const char *tenant_arg_uuid (sb_ctx_t *ctx, const msgpack_object *args, const char *name,
                             bool required, sb_fields_t *fields);

//  Pagination. A list reads limit (1–100, default 20) and cursor; the
//  cursor is opaque to clients: base64url of "<timestamp>|<uuid>" of the
//  last row of the previous page (keyset pagination, stable under inserts).
typedef struct {
    int64_t limit;
    const char *after_time;         //  NULL on the first page
    const char *after_id;
} tenant_page_t;

void tenant_arg_page (sb_ctx_t *ctx, const msgpack_object *args, tenant_page_t *page,
                      sb_fields_t *fields);
//  Answers a list from result, which holds up to limit + 1 rows ordered
//  newest first, with the sort key in a column named "_cursor_time" (text)
//  and "id": the extra row only says there is a next page.
int tenant_reply_page (sb_ctx_t *ctx, sb_reply_t *reply, const PGresult *result, int64_t limit);

//  Answers a filtered list: reads the page and the filters business_id,
//  status (one of the NULL-terminated statuses), from and to, then runs sql
//  with $1 organization, $2/$3 the cursor's time and id, $4 limit + 1,
//  $5 business_id, $6 status, $7 from, $8 to (NULL when not given).
//  The SELECT of such a list over table, newest first by time_column.
#define TENANT_LIST_SQL(columns, table, time_column)                                       \
    "SELECT " columns ", to_char (" time_column " AT TIME ZONE 'UTC', "                     \
    "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS _cursor_time FROM " table                     \
    " WHERE organization_id = $1 AND ($2::timestamptz IS NULL OR (" time_column             \
    ", id) < ($2::timestamptz, $3::uuid)) AND ($5::uuid IS NULL OR business_id = $5::uuid) " \
    "AND ($6::text IS NULL OR status = $6) AND ($7::timestamptz IS NULL OR " time_column     \
    " >= $7::timestamptz) AND ($8::timestamptz IS NULL OR " time_column                     \
    " < $8::timestamptz) ORDER BY " time_column " DESC, id DESC LIMIT $4::int"

//  As the query half of a list operation (sb_query_fn) whose finish is
//  tenant_page_finish.
int tenant_list_query (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply,
                       sb_db_stmt_t *stmt, const char *const *statuses, const char *sql);

//  The finish half of every list: the page of rows and its next cursor.
int tenant_page_finish (sb_ctx_t *ctx, const msgpack_object *args, PGresult *result,
                        sb_reply_t *reply);

//  Sets *known to whether name is one of the database server's time zone
//  names (exactly, case included), from a list read once per process.
//  Returns 0, or -1 when the list could not be read.
int tenant_timezone_known (sb_db_t *db, const char *name, bool *known);

//  ---- plans and quotas (tenant_common.c) -----------------------------------


//  Loads the plan catalogue (at start). 0 or -1 (logged, naming the field).
int tenant_plans_load (const sb_config_t *config);
void tenant_plans_unload (void);
//  The plan of the request's organization.
const sb_plan_t *tenant_plan (sb_ctx_t *ctx);

//  Enforces a quota exactly, even under concurrent requests: takes a
//  transaction-scoped advisory lock on (what, organization), then counts
//  with count_sql ($1 = organization). Returns 0 when one more fits, 1 when
//  the quota is reached (the reply is 402 plan_limit_reached with limit and
//  used), -1 on a database failure. A limit of -1 is unlimited (no query).
int tenant_quota (sb_ctx_t *ctx, sb_reply_t *reply, const char *what, int64_t limit,
                  const char *count_sql);

//  ---- handlers -----------------------------------------------------------

sb_query_fn tenant_businesses_list;
int tenant_businesses_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_businesses_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_businesses_update (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_businesses_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

sb_query_fn tenant_calls_list;
int tenant_calls_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_calls_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
sb_query_fn tenant_calls_create_query;
sb_finish_fn tenant_calls_create_finish;

sb_query_fn tenant_orders_list;
int tenant_orders_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_orders_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_orders_update (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  ---- the relay (tenant_relay.c) -------------------------------------------

//  Starts the thread that delivers the usage outbox to usage-svc. 0 or -1.
int tenant_relay_start (const sb_config_t *config);
void tenant_relay_stop (void);
//  Tells this process's relay that a committed transaction wrote usage
//  (from the worker's thread, which started the relay).
void tenant_relay_wake (void);

//  ---- an organization's deletion (tenant_org.c) ----------------------------

//  org.purge: deletes a batch of the organization's rows in every table.
int tenant_org_purge (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  ---- commands (tenant_import.c) -------------------------------------------

int tenant_import_command (int argc, char **argv, const sb_config_t *config);

void tenant_common_test (bool verbose);
void tenant_import_test (bool verbose);

#endif
