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

//  Checks a business's opening hours (tenant_businesses.c; API.md): an
//  object of at most 7 keys mon..sun, each a list of at most 4
//  {"open":"HH:MM","close":"HH:MM"}, open != close, a close before its
//  open ending the next day, no two intervals sharing a minute of the
//  week (Sunday's spill-over meets Monday). Returns 0, or -1 with a field
//  error "hours" added to fields. Pure: for tests/fuzz/opening_hours.c.
int tenant_hours_check (const msgpack_object *hours, sb_fields_t *fields);
void tenant_hours_test (bool verbose);

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
//  and "id": the extra row only says there is a next page. A page is
//  bounded by bytes as well: rows are added while the packed page stays
//  within TENANT_PAGE_BYTES (the first row always), and when rows are left
//  out next_cursor points after the last row given, so a client that
//  follows it sees every row once, never an envelope over the bus's limit.
#define TENANT_PAGE_BYTES (1024 * 1024)
int tenant_reply_page (sb_ctx_t *ctx, sb_reply_t *reply, const PGresult *result, int64_t limit);

//  A list over one table, newest first by time_column then id. columns are
//  the API's (formatted text under the real columns' names); statuses (NULL
//  terminated), when not NULL, allow the filters business_id, status,
//  from and to. The table has an index (organization_id, time_column DESC,
//  id DESC), and for each filter an index led by organization_id and the
//  filter's columns, then (time_column DESC, id DESC): see sql/0006.
typedef struct {
    const char *table;
    const char *columns;
    const char *time_column;
    const char *const *statuses;
} tenant_list_t;

//  The query half of a list operation (sb_query_fn) whose finish is
//  tenant_page_finish: reads the page and the filters and writes a
//  statement that names only the conditions given (one statement text per
//  combination: each prepared statement's plan, generic ones included,
//  reads the index that fits, never a sort of the organization's rows).
//  ORDER BY names table.column, never an output column of the same name.
int tenant_list_query (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply,
                       sb_db_stmt_t *stmt, const tenant_list_t *list);

//  The finish half of every list: the page of rows and its next cursor.
int tenant_page_finish (sb_ctx_t *ctx, const msgpack_object *args, PGresult *result,
                        sb_reply_t *reply);

//  Sets *known to whether name is one of the database server's time zone
//  names (exactly, case included), from a list read once per process.
//  Returns 0, or -1 when the list could not be read.
int tenant_timezone_known (sb_db_t *db, const char *name, bool *known);

//  ---- plans and quotas (tenant_common.c) -----------------------------------


//  Enforces a quota exactly, even under concurrent requests: takes a
//  transaction-scoped advisory lock on (what, organization), then counts
//  with count_sql ($1 = organization). org NULL: the request's. Returns 0
//  when one more fits, 1 when the quota is reached (the reply, unless NULL,
//  is 402 plan_limit_reached with limit and used, and the message beyond,
//  or "<what>: the plan allows N" when it is NULL), -1 on a database
//  failure. A limit of -1 is unlimited (no query).
int tenant_quota (sb_ctx_t *ctx, const char *org, sb_reply_t *reply, const char *what,
                  int64_t limit, const char *count_sql, const char *beyond);

//  ---- handlers -----------------------------------------------------------

sb_query_fn tenant_businesses_list_query;
int tenant_businesses_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_businesses_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_businesses_update (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_businesses_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

sb_query_fn tenant_calls_list_query;
int tenant_calls_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_calls_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
sb_query_fn tenant_calls_create_query;
sb_finish_fn tenant_calls_create_finish;

sb_query_fn tenant_orders_list_query;
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

//  ---- mail to an organization's admins (tenant_notices.c) -----------------

//  Queues a mail to org's admins in db's transaction, unless one with the
//  same key was queued before (0, or -1 when the statement failed); the
//  caller wakes the relay after the commit (tenant_notices_wake).
int tenant_notice_queue (sb_db_t *db, const char *org, const char *key, const char *subject,
                         const char *text);
int tenant_notices_start (const sb_config_t *config);
void tenant_notices_stop (void);
void tenant_notices_wake (void);

//  ---- an organization's deletion (tenant_org.c) ----------------------------

//  org.purge: deletes a batch of the organization's rows in every table.
int tenant_org_purge (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_org_counts (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  The calls organization $1 stored this month (UTC months until billing
//  defines periods): what the calls quota counts.
#define TENANT_SQL_CALLS_THIS_MONTH                                                          \
    "SELECT count (*) FROM calls WHERE organization_id = $1 "                                \
    "AND created_at >= date_trunc ('month', now () AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"

//  ---- commands (tenant_import.c) -------------------------------------------

int tenant_import_command (int argc, char **argv, const sb_config_t *config);

//  The import's pure normalizers (rules in tenant_import.c's header), here
//  for tests/fuzz/import_normalize.c. A phone number → E.164 in out
//  (nanp: the business is in a US or Canadian time zone, so 10 digits may
//  take +1); TENANT_PHONE_BAD sets *why to a static phrase.
typedef enum { TENANT_PHONE_OK, TENANT_PHONE_MISSING, TENANT_PHONE_BAD } tenant_phone_result_t;
tenant_phone_result_t tenant_import_phone (const char *raw, bool nanp, char out [17],
                                           const char **why);
//  Decimal dollars ("12.50") → cents; false for signs, exponents, a
//  fraction of a cent, more than 13 integer digits.
bool tenant_import_cents (const char *text, int64_t *cents);
//  Legacy opening hours (JSON text of day specs → "HH:MM-HH:MM, …") →
//  the API's hours JSON appended to out; false when not understood.
bool tenant_import_hours (const char *text, msgpack_sbuffer *out);
//  Legacy order items (a JSON array or "2x Pizza @ 12.50; …") → the API's
//  items JSON appended to out and their sum in cents; false with why.
bool tenant_import_items (const char *text, msgpack_sbuffer *out, int64_t *sum, char *why,
                          size_t why_size);
//  A legacy call's or order's status → the API's (a static string), or NULL.
const char *tenant_import_call_status (const char *raw);
const char *tenant_import_order_status (const char *raw);

void tenant_common_test (bool verbose);
void tenant_import_test (bool verbose);

//  ---- calls from Twilio (issue 14: tenant_calls.c, tenant_twilio.c) --------

//  A call to store, checked by its caller: business (of org), caller
//  (E.164 or "anonymous"), started (RFC 3339, not in the future), duration
//  (0–86400 s), status, transcript and summary (may be NULL), source
//  ("api" or "twilio"; NULL: "api") and external_id (the CallSid, or NULL).
typedef struct {
    const char *business, *caller, *started, *status, *transcript, *summary;
    int64_t duration;
    const char *source;
    const char *external_id;
} tenant_call_t;

//  Stores call for org as POST /v1/calls does, in the request's
//  transaction: the plan's calls quota (locked and counted), then the call
//  and its usage outbox rows in one statement. Returns 0 with *result (the
//  call's row in the API's columns, for the caller to PQclear; no row when
//  started is in the future; NULL when the statement failed: a business of
//  another organization is SQLSTATE 23503); 1 when reply was answered
//  (503: the plan cannot be read; 402 over the quota unless quiet_quota);
//  2 over the quota with quiet_quota (nothing answered); -1 on a database
//  failure. On a stored row the caller calls tenant_calls_stored.
int tenant_calls_store (sb_ctx_t *ctx, const char *org, const tenant_call_t *call,
                        bool quiet_quota, sb_reply_t *reply, PGresult **result);
//  After tenant_calls_store stored a call (result's row): wakes, after
//  the commit, the usage relay and, when the call queued webhook
//  deliveries, the webhook sender.
void tenant_calls_stored (sb_ctx_t *ctx, PGresult *result);

//  The Twilio integration (tenant_twilio.c): the handlers (the token
//  sealed with the skeleton's key, sb_ctx_secrets), and the selftests of
//  the signature and of the form parser.
int tenant_twilio_put (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_twilio_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_twilio_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_twilio_events (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_twilio_callback (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  The X-Twilio-Signature of a request: base64 of HMAC-SHA1, keyed with
//  token, of url followed by each (name, value) of params sorted by name
//  in byte order (names equal: by value), name then value appended.
//  out holds at least TENANT_TWILIO_SIG_MAX bytes. Returns 0 or -1.
typedef struct {
    const char *name, *value;
    size_t name_len, value_len;
} tenant_form_param_t;
#define TENANT_TWILIO_SIG_MAX 32
int tenant_twilio_sign (const char *token, const char *url, tenant_form_param_t *params,
                        size_t count, char *out);

//  The pure parts of a callback, public for the selftest and the fuzz
//  harness (tests/fuzz/twilio.c); the callback calls them in this order.
//
//  Parses an application/x-www-form-urlencoded body (len bytes, any bytes)
//  into params (at most max), names and values decoded ('+' a space, %XX a
//  byte) into buf, which holds at least len + 2 * max bytes; each decoded
//  name and value is NUL-terminated there and params point into buf.
//  Empty pieces between '&' are skipped; a piece without '=' is a name
//  with an empty value. Returns the count, or -1 for a body refused whole:
//  more than max parameters, a '%' not followed by two hex digits, a NUL
//  (raw or decoded), an empty name. Bytes that are not UTF-8 are kept.
#define TENANT_TWILIO_PARAMS_MAX 64
long tenant_twilio_form_parse (const char *body, size_t len, char *buf,
                               tenant_form_param_t *params, size_t max);
//  Writes into out (size bytes) the URL Twilio called: base (trailing '/'
//  removed) + path, then, when pairs > 0, '?' and the pairs of query
//  (names and values as the gateway decoded them: query [2 i], query [2 i
//  + 1]) percent-encoded (RFC 3986 unreserved kept, %XX upper-case),
//  joined by '&'. Returns false when it does not fit.
bool tenant_twilio_url_build (const char *base, const char *path, const char *const *query,
                              size_t pairs, char *out, size_t size);
//  True when header (NUL-terminated, may be NULL) is the signature of
//  (url, params) under token, or of url with its default port's other
//  spelling (":443"/":80" added after the host or removed); both computed
//  and compared in constant time. Sorts params.
bool tenant_twilio_verify (const char *token, const char *url, tenant_form_param_t *params,
                           size_t count, const char *header);
//  What a verified callback says, read by these rules: CallSid (1 to 64
//  bytes) and CallStatus (1 to 32) printable ASCII without spaces, both
//  required, else -1 (not a call status callback); From and To the same
//  up to 64, NULL when absent or not so; SequenceNumber NULL unless 1 to
//  18 digits; CallDuration 0 to 86400 seconds, else 0; ended_us the
//  Timestamp, RFC 2822 as Twilio writes it ("Thu, 03 Dec 2026 10:00:00
//  +0000": two-digit day, four-digit year, seconds, a numeric zone, the
//  day name the date's), else now_us, and never after now_us. Of a name
//  given twice the first in params counts (the callback passes them as
//  tenant_twilio_verify left them, sorted: the least value; Twilio sends
//  each once). Strings point into params. Returns 0 or -1.
typedef struct {
    const char *sid, *status, *from, *to, *sequence;
    int64_t duration;               //  seconds
    int64_t ended_us;               //  since the epoch
    bool terminal;                  //  completed, busy, no-answer, failed or canceled
} tenant_twilio_event_t;
int tenant_twilio_event_read (const tenant_form_param_t *params, size_t count, int64_t now_us,
                              tenant_twilio_event_t *event);
void tenant_twilio_test (bool verbose);

#endif
