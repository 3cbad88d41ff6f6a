/*  tenant_twilio.c — calls straight from Twilio: the integration of an
    organization (PUT/GET/DELETE /v1/integrations/twilio), its status
    callbacks, and what came of them (GET /v1/integrations/twilio/events).

    Connecting stores the account SID and the auth token, the token sealed
    (sb/secrets.h, under the key the process opened at start); it is never
    returned nor logged. The status-callback URL is SWITCHBOARD_PUBLIC_URL
    + /v1/integrations/twilio/callback/<callback token>, a random token kept
    across reconnections (the URL pasted into Twilio stays right) and gone
    with DELETE (then that URL answers 404).

    A callback comes raw from the gateway ({raw, signature, path, query,
    token}) with no credential but its X-Twilio-Signature. It is trusted in
    this order: the token names a connected organization (else 404); the
    body parses as a form (below; else 403); the signature verifies as
    Twilio specifies (else 403 invalid_signature). Nothing is stored before
    all three hold. The signature: base64 of HMAC-SHA1, keyed with the auth
    token, of the URL Twilio called — rebuilt from SWITCHBOARD_PUBLIC_URL,
    the path, and the query re-encoded when there is one — followed by the
    POST parameters sorted by name in byte order, each name then value. The
    URL is tried as it is and with its default port added or removed
    (Twilio signs either, :443 for https, :80 for http); every candidate is
    computed and compared in constant time (sodium_memcmp), whatever
    matched.

    The form parser (application/x-www-form-urlencoded) trusts nothing: at
    most S_PARAMS_MAX parameters, every '%' followed by two hex digits, '+'
    a space, no NUL after decoding, a name never empty; anything else is
    refused whole (the callback then answers 403: Twilio sends no such
    body).

    What a verified callback says is read by tenant_twilio_event_read
    (tenant.h has its rules), pure like the parser and the signature, so
    that the fuzz harness judges it too: CallSid and CallStatus required,
    the other fields kept only when well formed, the Timestamp in Twilio's
    exact RFC 2822 spelling or else the time of arrival.

    What a verified callback does, one at a time per CallSid (a
    transaction-scoped advisory lock on the organization and the CallSid,
    so that retries and races see each other): a non-terminal status is
    recorded 'ignored'; a terminal one (completed, busy, no-answer, failed,
    canceled) when the CallSid already made a call is 'duplicate' (a
    terminal state never moves back, whatever its SequenceNumber); else the
    business whose phone_number equals To (the oldest if several) gets a
    call through tenant_calls_store, exactly as POST /v1/calls stores one
    (quota, usage): 'created', or 'refused' when the plan's calls quota is
    reached (the callback still answers 200: Twilio has nothing to retry);
    no such business: 'unmatched'. Every verified callback is one row of
    twilio_events (kept 30 days), and answers 200 {received, outcome}.
    Since only terminal events make calls and a call is never changed, the
    highest SequenceNumber wins trivially: an earlier one arriving late
    (ringing after completed) is recorded and changes nothing.
*/
#include "tenant.h"
#include "sb/secrets.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#define S_PARAMS_MAX TENANT_TWILIO_PARAMS_MAX
#define S_CALLBACK_PATH "/v1/integrations/twilio/callback/"
#define S_URL_MAX 2048

//  ---- the form parser --------------------------------------------------------

static int
s_hex (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

//  Decodes [s, s + len) into out (at least len + 1 bytes); returns the
//  decoded length, or -1 for a bad escape or a NUL.
static long
s_decode (const char *s, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s [i];
        if (c == '+')
            c = ' ';
        else
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = s_hex (s [i + 1]), lo = s_hex (s [i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char) (hi * 16 + lo);
            i += 2;
        }
        if (c == 0)
            return -1;
        out [n++] = c;
    }
    out [n] = 0;
    return (long) n;
}

//  The form parser (contract in tenant.h; the rules in this file's header).
long
tenant_twilio_form_parse (const char *body, size_t len, char *buf, tenant_form_param_t *params,
                          size_t max)
{
    size_t count = 0;
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *amp = memchr (p, '&', (size_t) (end - p));
        const char *stop = amp ? amp : end;
        if (stop > p) {
            if (count == max)
                return -1;
            const char *eq = memchr (p, '=', (size_t) (stop - p));
            const char *name_end = eq ? eq : stop;
            if (name_end == p)
                return -1;
            long n = s_decode (p, (size_t) (name_end - p), buf);
            if (n <= 0)
                return -1;
            params [count].name = buf;
            params [count].name_len = (size_t) n;
            buf += n + 1;
            const char *v = eq ? eq + 1 : stop;
            long m = s_decode (v, (size_t) (stop - v), buf);
            if (m < 0)
                return -1;
            params [count].value = buf;
            params [count].value_len = (size_t) m;
            buf += m + 1;
            count++;
        }
        p = amp ? amp + 1 : end;
    }
    return (long) count;
}

static const char *
s_param (const tenant_form_param_t *params, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (streq (params [i].name, name))
            return params [i].value;
    return NULL;
}

//  ---- the signature ----------------------------------------------------------

static int
s_param_cmp (const void *a, const void *b)
{
    const tenant_form_param_t *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp (x->name, y->name, n);
    if (c || x->name_len != y->name_len)
        return c ? c : x->name_len < y->name_len ? -1 : 1;
    n = x->value_len < y->value_len ? x->value_len : y->value_len;
    c = memcmp (x->value, y->value, n);
    if (c || x->value_len == y->value_len)
        return c;
    return x->value_len < y->value_len ? -1 : 1;
}

int
tenant_twilio_sign (const char *token, const char *url, tenant_form_param_t *params,
                    size_t count, char *out)
{
    qsort (params, count, sizeof (params [0]), s_param_cmp);
    size_t size = strlen (url);
    for (size_t i = 0; i < count; i++)
        size += params [i].name_len + params [i].value_len;
    unsigned char *data = sb_malloc (size + 1);
    size_t at = strlen (url);
    memcpy (data, url, at);
    for (size_t i = 0; i < count; i++) {
        memcpy (data + at, params [i].name, params [i].name_len);
        at += params [i].name_len;
        memcpy (data + at, params [i].value, params [i].value_len);
        at += params [i].value_len;
    }
    unsigned char mac [EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    bool ok = HMAC (EVP_sha1 (), token, (int) strlen (token), data, size, mac, &mac_len) != NULL;
    free (data);
    if (!ok || mac_len != 20)
        return -1;
    sodium_bin2base64 (out, TENANT_TWILIO_SIG_MAX, mac, mac_len, sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

//  The other spelling of url's port: ":443"/":80" removed when it is there,
//  added after the host when no port is. Returns false when url is neither
//  http nor https (no other spelling).
static bool
s_url_other_port (const char *url, char *out, size_t size)
{
    const char *port = strncmp (url, "https://", 8) == 0 ? "443"
                     : strncmp (url, "http://", 7) == 0 ? "80" : NULL;
    if (!port)
        return false;
    const char *host = strstr (url, "://") + 3;
    const char *host_end = host + strcspn (host, "/?#");
    const char *bracket = memchr (host, ']', (size_t) (host_end - host));
    const char *colon = NULL;
    for (const char *c = bracket ? bracket : host; c < host_end; c++)
        if (*c == ':')
            colon = c;
    int n;
    if (colon) {
        if ((size_t) (host_end - colon - 1) != strlen (port)
            || memcmp (colon + 1, port, strlen (port)) != 0)
            return false;       //  another port: one spelling only
        n = snprintf (out, size, "%.*s%s", (int) (colon - url), url, host_end);
    }
    else
        n = snprintf (out, size, "%.*s:%s%s", (int) (host_end - url), url, port, host_end);
    return n > 0 && (size_t) n < size;
}

//  True when header is the signature of (url, params) under token, or of
//  url's other port spelling (contract in tenant.h). Every candidate is
//  computed and compared.
bool
tenant_twilio_verify (const char *token, const char *url, tenant_form_param_t *params,
                      size_t count, const char *header)
{
    if (!header)
        return false;
    char other [S_URL_MAX + 8];
    const char *urls [2] = { url, s_url_other_port (url, other, sizeof (other)) ? other : NULL };
    bool match = false;
    size_t header_len = strlen (header);
    for (size_t i = 0; i < 2 && urls [i]; i++) {
        char sig [TENANT_TWILIO_SIG_MAX];
        if (tenant_twilio_sign (token, urls [i], params, count, sig))
            continue;
        if (header_len == strlen (sig) && sodium_memcmp (sig, header, header_len) == 0)
            match = true;
    }
    return match;
}

//  Appends s percent-encoded (RFC 3986 unreserved kept) to out at *at.
static bool
s_url_encode (char *out, size_t size, size_t *at, const char *s)
{
    static const char hex [] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        bool keep = isalnum (c) || c == '-' || c == '.' || c == '_' || c == '~';
        if (*at + (keep ? 1 : 3) >= size)
            return false;
        if (keep)
            out [(*at)++] = (char) c;
        else {
            out [(*at)++] = '%';
            out [(*at)++] = hex [c >> 4];
            out [(*at)++] = hex [c & 15];
        }
    }
    out [*at] = 0;
    return true;
}

//  The URL Twilio called (contract in tenant.h).
bool
tenant_twilio_url_build (const char *base, const char *path, const char *const *query,
                         size_t pairs, char *out, size_t size)
{
    size_t base_len = strlen (base);
    while (base_len && base [base_len - 1] == '/')
        base_len--;
    int n = snprintf (out, size, "%.*s%s", (int) base_len, base, path);
    if (n < 0 || (size_t) n >= size)
        return false;
    size_t at = (size_t) n;
    for (size_t i = 0; i < pairs; i++) {
        if (at + 2 >= size)
            return false;
        out [at++] = i ? '&' : '?';
        out [at] = 0;
        if (!s_url_encode (out, size, &at, query [2 * i]))
            return false;
        if (at + 2 >= size)
            return false;
        out [at++] = '=';
        out [at] = 0;
        if (!s_url_encode (out, size, &at, query [2 * i + 1]))
            return false;
    }
    return true;
}

//  ---- the admin's routes -------------------------------------------------------

//  The status-callback URL's prefix (the public URL without a trailing
//  '/', then the callback path): the token follows.
static const char *
s_callback_prefix (sb_ctx_t *ctx)
{
    const char *base = sb_ctx_config (ctx)->public_url ? sb_ctx_config (ctx)->public_url : "";
    size_t base_len = strlen (base);
    while (base_len && base [base_len - 1] == '/')
        base_len--;
    size_t size = base_len + sizeof (S_CALLBACK_PATH);
    char *prefix = sb_ctx_alloc (ctx, size);
    snprintf (prefix, size, "%.*s%s", (int) base_len, base, S_CALLBACK_PATH);
    return prefix;
}

#define S_INTEGRATION_COLUMNS                                                                \
    "account_sid, $2::text || callback_token AS status_callback_url, "                      \
    SB_SQL_TS ("connected_at") " AS connected_at, "                                          \
    SB_SQL_TS ("last_event_at") " AS last_event_at"

int
tenant_twilio_put (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *sid = sb_arg_string (ctx, args, "account_sid", true, 34, 34, &fields);
    bool sid_ok = sid && sid [0] == 'A' && sid [1] == 'C';
    for (size_t i = 2; sid_ok && i < 34; i++)
        sid_ok = isxdigit ((unsigned char) sid [i]);
    if (sid && !sid_ok)
        sb_fields_add (&fields, "account_sid", "must be AC followed by 32 hex digits");
    const char *token = sb_arg_string (ctx, args, "auth_token", true, 16, 128, &fields);
    for (const char *c = token; c && *c; c++)
        if (!isgraph ((unsigned char) *c)) {
            sb_fields_add (&fields, "auth_token", "must be printable ASCII without spaces");
            break;
        }
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    char *sealed = sb_secrets_seal (sb_ctx_secrets (ctx), token, strlen (token));
    if (!sealed)
        return -1;
    char callback [33];
    sb_random_hex (callback, 16);
    const char *params [] = { sb_ctx_head (ctx)->org, s_callback_prefix (ctx), sid, sealed,
                              callback };
    //  A reconnection keeps the callback token: the URL in Twilio stays.
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
        "INSERT INTO twilio_integrations AS t (organization_id, account_sid, auth_token_sealed,"
        "  callback_token) VALUES ($1, $3, $4, $5)"
        " ON CONFLICT (organization_id) DO UPDATE SET account_sid = $3, auth_token_sealed = $4,"
        "  connected_at = clock_timestamp ()"
        " RETURNING account_sid, $2::text || callback_token AS status_callback_url, "
        SB_SQL_TS ("connected_at") " AS connected_at",
        5, params);
    free (sealed);
    sb_info ("tenant: twilio connected (account %s)", sid);
    return sb_reply_one (reply, result, 200, "twilio is not connected");
}

int
tenant_twilio_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    const char *params [] = { sb_ctx_head (ctx)->org, s_callback_prefix (ctx) };
    return sb_reply_one (reply, sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT " S_INTEGRATION_COLUMNS " FROM twilio_integrations "
                                   "WHERE organization_id = $1",
                                   2, params),
                         200, "twilio is not connected");
}

int
tenant_twilio_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    const char *org = sb_ctx_head (ctx)->org;
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "DELETE FROM twilio_integrations WHERE organization_id = $1 "
                                   "RETURNING 1", 1, &org);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    PQclear (result);
    if (rows == 0)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "twilio is not connected");
    msgpack_pack_nil (sb_reply_body (reply, 204));
    return 0;
}

int
tenant_twilio_events (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    int64_t limit = 50;
    sb_arg_int (args, "limit", 1, 100, &limit, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    char limit_text [24];
    snprintf (limit_text, sizeof (limit_text), "%lld", (long long) limit);
    const char *params [] = { sb_ctx_head (ctx)->org, limit_text };
    return sb_reply_all (reply, sb_db_exec (sb_ctx_db (ctx),
        "SELECT call_sid, call_status, from_number AS \"from\", to_number AS \"to\","
        " sequence_number, " SB_SQL_TS ("received_at") " AS received_at, outcome, call_id"
        " FROM twilio_events WHERE organization_id = $1"
        " ORDER BY received_at DESC, id DESC LIMIT $2::int",
        2, params));
}

//  ---- the callback ---------------------------------------------------------------

static bool
s_terminal (const char *status)
{
    return streq (status, "completed") || streq (status, "busy") || streq (status, "no-answer")
           || streq (status, "failed") || streq (status, "canceled");
}

//  A short printable ASCII value (a CallSid, a status), else NULL.
static const char *
s_token_like (const char *value, size_t max)
{
    if (!value || !*value || strlen (value) > max)
        return NULL;
    for (const char *c = value; *c; c++)
        if (!isgraph ((unsigned char) *c))
            return NULL;
    return value;
}

//  A non-negative decimal of at most 18 digits, else -1.
static int64_t
s_digits (const char *value)
{
    if (!value || !*value || strlen (value) > 18)
        return -1;
    int64_t n = 0;
    for (const char *c = value; *c; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        n = n * 10 + (*c - '0');
    }
    return n;
}

int
tenant_twilio_event_read (const tenant_form_param_t *params, size_t count, int64_t now_us,
                          tenant_twilio_event_t *event)
{
    *event = (tenant_twilio_event_t) {
        .sid = s_token_like (s_param (params, count, "CallSid"), 64),
        .status = s_token_like (s_param (params, count, "CallStatus"), 32),
        .from = s_token_like (s_param (params, count, "From"), 64),
        .to = s_token_like (s_param (params, count, "To"), 64),
    };
    if (!event->sid || !event->status)
        return -1;
    const char *sequence = s_param (params, count, "SequenceNumber");
    event->sequence = s_digits (sequence) >= 0 ? sequence : NULL;
    int64_t duration = s_digits (s_param (params, count, "CallDuration"));
    event->duration = duration >= 0 && duration <= 86400 ? duration : 0;
    int64_t ended;
    if (sb_timestamp_parse_rfc2822 (s_param (params, count, "Timestamp"), &ended)
        || ended > now_us)
        ended = now_us;
    event->ended_us = ended;
    event->terminal = s_terminal (event->status);
    return 0;
}

//  The event's row: what the callback said, and what came of it.
typedef struct {
    tenant_twilio_event_t said;
    const char *outcome, *call_id;
} s_event_t;

//  Handles a verified event of org; fills event->outcome and ->call_id.
//  Returns 0, 1 when reply was answered (503: the plan cannot be read), -1.
static int
s_event_apply (sb_ctx_t *ctx, const char *org, s_event_t *event, sb_reply_t *reply)
{
    sb_db_t *db = sb_ctx_db (ctx);
    const tenant_twilio_event_t *said = &event->said;
    const char *lock [] = { org, said->sid };
    if (sb_db_run (db, "SELECT pg_advisory_xact_lock (hashtext ('twilio:' || $1),"
                       " hashtext ($2))", 2, lock))
        return -1;
    const char *find [] = { org, said->sid };
    PGresult *found = sb_db_exec (db, "SELECT id FROM calls WHERE organization_id = $1"
                                      " AND source = 'twilio' AND external_id = $2", 2, find);
    if (!found)
        return -1;
    if (PQntuples (found))
        event->call_id = sb_ctx_strndup (ctx, PQgetvalue (found, 0, 0),
                                         (size_t) PQgetlength (found, 0, 0));
    PQclear (found);
    if (!said->terminal) {
        event->outcome = "ignored";
        return 0;
    }
    if (event->call_id) {
        event->outcome = "duplicate";
        return 0;
    }
    PGresult *business = NULL;
    if (said->to) {
        const char *match [] = { org, said->to };
        business = sb_db_exec (db, "SELECT id FROM businesses WHERE organization_id = $1"
                                   " AND phone_number = $2 ORDER BY created_at, id LIMIT 1",
                               2, match);
        if (!business)
            return -1;
    }
    if (!business || PQntuples (business) == 0) {
        PQclear (business);
        event->outcome = "unmatched";
        return 0;
    }
    tenant_call_t call = {
        .business = sb_ctx_strndup (ctx, PQgetvalue (business, 0, 0),
                                    (size_t) PQgetlength (business, 0, 0)),
        .status = streq (said->status, "completed") ? "completed" : "missed",
        .caller = said->from && tenant_e164 (said->from) ? said->from : "anonymous",
        .source = "twilio",
        .external_id = said->sid,
        .duration = said->duration,
    };
    PQclear (business);
    char *started = sb_ctx_alloc (ctx, SB_TIMESTAMP_SIZE);
    sb_timestamp_format (said->ended_us - said->duration * 1000000, started);
    call.started = started;
    PGresult *result;
    int stored = tenant_calls_store (ctx, org, &call, true, reply, &result);
    if (stored == 1 || stored < 0)
        return stored;
    if (stored == 2) {
        sb_info ("tenant: twilio call %s refused: the calls quota is reached", said->sid);
        event->outcome = "refused";
        //  The admins are told once a month (tenant_notices.c).
        char key [40], month [8];
        snprintf (month, sizeof (month), "%.7s", started);
        snprintf (key, sizeof (key), "twilio-refused:%s", month);
        char text [1024];
        snprintf (text, sizeof (text),
                  "A call to your number %s (Twilio call %s) was not recorded: your plan's\r\n"
                  "calls for this month are used up. Further calls this month are not\r\n"
                  "recorded either; this is the only mail about them until next month.\r\n"
                  "\r\n"
                  "The Billing page shows the plans with more calls. Every callback Twilio\r\n"
                  "sent is listed with its outcome at GET /v1/integrations/twilio/events.\r\n",
                  said->to, said->sid);
        if (tenant_notice_queue (sb_ctx_db (ctx), org, key,
                                 "Switchboard: calls from Twilio are not being recorded", text))
            return -1;
        sb_ctx_after_commit (ctx, tenant_notices_wake);
        return 0;
    }
    if (!result)
        return -1;
    if (PQntuples (result) == 0) {
        PQclear (result);
        event->outcome = "ignored";
        return 0;
    }
    int id = PQfnumber (result, "id");
    event->call_id = sb_ctx_strndup (ctx, PQgetvalue (result, 0, id),
                                     (size_t) PQgetlength (result, 0, id));
    tenant_calls_stored (ctx, result);
    PQclear (result);
    event->outcome = "created";
    return 0;
}

static int
s_refuse (sb_ctx_t *ctx, sb_reply_t *reply, const char *why)
{
    sb_warn ("tenant: a twilio callback refused (request %s): %s", sb_ctx_head (ctx)->id, why);
    return sb_reply_error (reply, 403, SB_E_INVALID_SIGNATURE,
                           "the X-Twilio-Signature header does not verify this request");
}

static const char *
s_str_arg (sb_ctx_t *ctx, const msgpack_object *args, const char *name)
{
    const msgpack_object *o = sb_mpk_get (args, name);
    if (!o || o->type != MSGPACK_OBJECT_STR)
        return NULL;
    return sb_ctx_strndup (ctx, o->via.str.ptr, o->via.str.size);
}

int
tenant_twilio_callback (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_db_t *db = sb_ctx_db (ctx);
    //  Which organization: the token in the path.
    const char *token = s_str_arg (ctx, args, "token");
    bool token_ok = token && strlen (token) == 32;
    for (const char *c = token; token_ok && *c; c++)
        token_ok = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f');
    if (!token_ok)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such callback");
    if (sb_db_all_orgs (db))
        return -1;
    PGresult *found = sb_db_exec (db, "SELECT organization_id, auth_token_sealed"
                                      " FROM twilio_integrations WHERE callback_token = $1",
                                  1, &token);
    if (!found)
        return -1;
    if (PQntuples (found) == 0) {
        PQclear (found);
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such callback");
    }
    const char *org = sb_ctx_strndup (ctx, PQgetvalue (found, 0, 0),
                                      (size_t) PQgetlength (found, 0, 0));
    char *auth = sb_secrets_open (sb_ctx_secrets (ctx), PQgetvalue (found, 0, 1), NULL);
    PQclear (found);
    if (!auth) {
        sb_error ("tenant: the twilio auth token of %s does not open under this key", org);
        return -1;
    }

    //  The body as a form, then the signature over the URL and it.
    const msgpack_object *raw = sb_mpk_get (args, "raw");
    const char *body = "";
    size_t len = 0;
    if (raw && raw->type == MSGPACK_OBJECT_BIN) {
        body = raw->via.bin.ptr;
        len = raw->via.bin.size;
    }
    char *buf = sb_ctx_alloc (ctx, len + 2 * S_PARAMS_MAX + 1);
    tenant_form_param_t params [S_PARAMS_MAX];
    long count = tenant_twilio_form_parse (body, len, buf, params, S_PARAMS_MAX);
    const char *path = s_str_arg (ctx, args, "path");
    const msgpack_object *query = sb_mpk_get (args, "query");
    size_t pairs = query && query->type == MSGPACK_OBJECT_ARRAY ? query->via.array.size : 0;
    const char **pair = sb_ctx_alloc (ctx, (2 * pairs + 1) * sizeof (char *));
    bool query_ok = pairs <= S_PARAMS_MAX;
    for (size_t i = 0; query_ok && i < pairs; i++) {
        const msgpack_object *kv = &query->via.array.ptr [i];
        query_ok = kv->type == MSGPACK_OBJECT_ARRAY && kv->via.array.size == 2
                   && kv->via.array.ptr [0].type == MSGPACK_OBJECT_STR
                   && kv->via.array.ptr [1].type == MSGPACK_OBJECT_STR;
        if (query_ok) {
            const msgpack_object *k = &kv->via.array.ptr [0], *v = &kv->via.array.ptr [1];
            pair [2 * i] = sb_ctx_strndup (ctx, k->via.str.ptr, k->via.str.size);
            pair [2 * i + 1] = sb_ctx_strndup (ctx, v->via.str.ptr, v->via.str.size);
        }
    }
    char url [S_URL_MAX];
    const char *base = sb_ctx_config (ctx)->public_url ? sb_ctx_config (ctx)->public_url : "";
    const char *header = s_str_arg (ctx, args, "signature");
    const char *why = NULL;
    if (!header)
        why = "no X-Twilio-Signature header";
    else
    if (count < 0)
        why = "the body is not a well-formed form";
    else
    if (!path || !query_ok || !tenant_twilio_url_build (base, path, pair, pairs, url, sizeof (url)))
        why = "the URL cannot be rebuilt";
    else
    if (!tenant_twilio_verify (auth, url, params, (size_t) count, header))
        why = "the signature does not match";
    sodium_memzero (auth, strlen (auth));
    free (auth);
    if (why)
        return s_refuse (ctx, reply, why);

    //  Signed by Twilio: now for this organization alone.
    s_event_t event = { 0 };
    if (tenant_twilio_event_read (params, (size_t) count, sb_now_ms () * 1000, &event.said))
        return sb_reply_error (reply, 400, SB_E_INVALID_REQUEST,
                               "not a call status callback: CallSid and CallStatus are required");
    if (sb_db_set_org (db, org))
        return -1;
    int rc = s_event_apply (ctx, org, &event, reply);
    if (rc)
        return rc < 0 ? -1 : 0;
    char id [37];
    sb_uuid_v4 (id);
    const tenant_twilio_event_t *said = &event.said;
    const char *row [] = { org, id, said->sid, said->status, said->from, said->to,
                           said->sequence, event.outcome, event.call_id };
    if (sb_db_run (db, "INSERT INTO twilio_events (organization_id, id, call_sid, call_status,"
                       " from_number, to_number, sequence_number, outcome, call_id)"
                       " VALUES ($1, $2, $3, $4, $5, $6, $7::bigint, $8, $9)", 9, row)
        || sb_db_run (db, "UPDATE twilio_integrations SET last_event_at = clock_timestamp ()"
                          " WHERE organization_id = $1", 1, &org)
        || sb_db_run (db, "DELETE FROM twilio_events WHERE organization_id = $1"
                          " AND received_at < now () - interval '30 days'", 1, &org))
        return -1;
    sb_info ("tenant: twilio %s %s: %s", said->sid, said->status, event.outcome);
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 2);
    sb_mpk_pack_str (pk, "received");
    msgpack_pack_true (pk);
    sb_mpk_pack_kv_str (pk, "outcome", event.outcome);
    return 0;
}

//  ---- selftests -------------------------------------------------------------------

static void
s_test_signature (void)
{
    //  Twilio's documented vector (its SDKs' test suites use it too).
    const char *names [] = { "CallSid", "Caller", "Digits", "From", "To" };
    const char *values [] = { "CA1234567890ABCDE", "+14158675309", "1234", "+14158675309",
                              "+18005551212" };
    tenant_form_param_t params [5];
    //  Given out of order: the signature sorts them.
    for (size_t i = 0; i < 5; i++)
        params [4 - i] = (tenant_form_param_t) { names [i], values [i], strlen (names [i]),
                                                 strlen (values [i]) };
    const char *url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const char *url_443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
    char sig [TENANT_TWILIO_SIG_MAX];
    SB_CHECK (tenant_twilio_sign ("12345", url, params, 5, sig) == 0);
    SB_CHECK (streq (sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    SB_CHECK (tenant_twilio_sign ("12345", url_443, params, 5, sig) == 0);
    SB_CHECK (streq (sig, "kvajT1Ptam85bY51eRf/AJRuM3w="));
    //  Either spelling of the port validates against either URL.
    SB_CHECK (tenant_twilio_verify ("12345", url, params, 5, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    SB_CHECK (tenant_twilio_verify ("12345", url, params, 5, "kvajT1Ptam85bY51eRf/AJRuM3w="));
    SB_CHECK (tenant_twilio_verify ("12345", url_443, params, 5, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    SB_CHECK (tenant_twilio_verify ("12345", url_443, params, 5, "kvajT1Ptam85bY51eRf/AJRuM3w="));
    //  What must not verify: another token, URL, value; a missing, cut or
    //  padded header.
    SB_CHECK (!tenant_twilio_verify ("12346", url, params, 5, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    SB_CHECK (!tenant_twilio_verify ("12345", "https://mycompany.com/myapp.php?foo=1&bar=3",
                                     params, 5, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    SB_CHECK (!tenant_twilio_verify ("12345", "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
                                     params, 5, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
    SB_CHECK (!tenant_twilio_verify ("12345", url, params, 5, NULL));
    SB_CHECK (!tenant_twilio_verify ("12345", url, params, 5, ""));
    SB_CHECK (!tenant_twilio_verify ("12345", url, params, 5, "RSOYDt4T1cUTdK1PDd93/VVr8B8"));
    SB_CHECK (!tenant_twilio_verify ("12345", url, params, 5, "RSOYDt4T1cUTdK1PDd93/VVr8B8=="));
    //  (Sorted by now: the first is CallSid.)
    params [0].value = "CA1234567890ABCDF";
    SB_CHECK (!tenant_twilio_verify ("12345", url, params, 5, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));

    //  The port's other spelling.
    char other [128];
    SB_CHECK (s_url_other_port ("https://a.example/x?y=1", other, sizeof (other))
              && streq (other, "https://a.example:443/x?y=1"));
    SB_CHECK (s_url_other_port ("https://a.example:443/x", other, sizeof (other))
              && streq (other, "https://a.example/x"));
    SB_CHECK (s_url_other_port ("http://a.example", other, sizeof (other))
              && streq (other, "http://a.example:80"));
    SB_CHECK (s_url_other_port ("http://[::1]:80/p", other, sizeof (other))
              && streq (other, "http://[::1]/p"));
    SB_CHECK (!s_url_other_port ("http://127.0.0.1:8080/p", other, sizeof (other)));
    SB_CHECK (!s_url_other_port ("ftp://a.example/p", other, sizeof (other)));
    SB_CHECK (!s_url_other_port ("https://a.example/x", other, 10));

    //  The URL rebuilt: base without its trailing '/', the query re-encoded.
    char url_out [256];
    const char *query [] = { "foo", "1", "bar", "2" };
    SB_CHECK (tenant_twilio_url_build ("https://mycompany.com/", "/myapp.php", query, 2, url_out,
                           sizeof (url_out))
              && streq (url_out, url));
    const char *odd [] = { "a b", "x&y=z/é" };
    SB_CHECK (tenant_twilio_url_build ("http://h", "/p", odd, 1, url_out, sizeof (url_out))
              && streq (url_out, "http://h/p?a%20b=x%26y%3Dz%2F%C3%A9"));
    SB_CHECK (tenant_twilio_url_build ("http://h", "/p", NULL, 0, url_out, sizeof (url_out))
              && streq (url_out, "http://h/p"));
    SB_CHECK (!tenant_twilio_url_build ("http://h", "/p", query, 2, url_out, 12));
}

static void
s_test_form (void)
{
    tenant_form_param_t params [4];
    char buf [256];
    const char *good = "CallSid=CA1&From=%2B14155550123&Caller=a+b&Empty=&Flag";
    //  Four at most: the fifth refuses the whole body.
    SB_CHECK (tenant_twilio_form_parse (good, strlen (good), buf, params, 4) == -1);
    tenant_form_param_t more [8];
    long n = tenant_twilio_form_parse (good, strlen (good), buf, more, 8);
    SB_CHECK (n == 5);
    SB_CHECK (streq (more [0].name, "CallSid") && streq (more [0].value, "CA1"));
    SB_CHECK (streq (more [1].value, "+14155550123") && more [1].value_len == 12);
    SB_CHECK (streq (more [2].value, "a b"));
    SB_CHECK (streq (more [3].name, "Empty") && more [3].value_len == 0);
    SB_CHECK (streq (more [4].name, "Flag") && streq (more [4].value, ""));
    SB_CHECK (streq (s_param (more, 5, "Caller"), "a b") && !s_param (more, 5, "caller"));
    //  Empty pieces are skipped; an empty body is no parameter.
    SB_CHECK (tenant_twilio_form_parse ("&&a=1&", 6, buf, params, 4) == 1
              && streq (params [0].value, "1"));
    SB_CHECK (tenant_twilio_form_parse ("", 0, buf, params, 4) == 0);
    //  Malformed: cut or non-hex escapes, a NUL, an empty name.
    const char *bad [] = { "a=%", "a=%4", "a=%G0", "a=%0g", "%zz=1", "a=%00", "=1", "a=1&=2",
                           "a%=1", NULL };
    for (size_t i = 0; bad [i]; i++)
        SB_CHECK (tenant_twilio_form_parse (bad [i], strlen (bad [i]), buf, params, 4) == -1);
    //  A raw NUL byte in the body, and bytes that are not text, stay bytes
    //  (the signature covers them) but a NUL is refused.
    SB_CHECK (tenant_twilio_form_parse ("a=1\0b", 5, buf, params, 4) == -1);
    SB_CHECK (tenant_twilio_form_parse ("a=\xff\xfe", 4, buf, params, 4) == 1
              && params [0].value_len == 2);
    //  An escape cut by the end of the body, not of the string.
    SB_CHECK (tenant_twilio_form_parse ("a=%41", 4, buf, params, 4) == -1);
    SB_CHECK (tenant_twilio_form_parse ("a=%41", 5, buf, params, 4) == 1
              && streq (params [0].value, "A"));

    //  The digits.
    SB_CHECK (s_digits ("0") == 0 && s_digits ("86400") == 86400);
    SB_CHECK (s_digits ("-1") == -1 && s_digits ("") == -1 && s_digits ("1e3") == -1);
    SB_CHECK (s_digits ("1234567890123456789") == -1);
}

//  What a verified callback says: the strings it keeps, the fallbacks.
static void
s_test_event (void)
{
    char buf [1024];
    tenant_form_param_t params [16];
    tenant_twilio_event_t said;
    int64_t now = INT64_C (1796292600) * 1000000;          //  10:10 on that Thursday
    const char *form = "CallSid=CA42&CallStatus=completed&From=%2B14155550100&To=%2B14155550123"
                       "&SequenceNumber=3&CallDuration=125"
                       "&Timestamp=Thu%2C+03+Dec+2026+10%3A00%3A00+%2B0000";
    long n = tenant_twilio_form_parse (form, strlen (form), buf, params, 16);
    SB_CHECK (n == 7 && tenant_twilio_event_read (params, (size_t) n, now, &said) == 0);
    SB_CHECK (streq (said.sid, "CA42") && streq (said.status, "completed") && said.terminal);
    SB_CHECK (streq (said.from, "+14155550100") && streq (said.to, "+14155550123"));
    SB_CHECK (streq (said.sequence, "3") && said.duration == 125);
    SB_CHECK (said.ended_us == INT64_C (1796292000) * 1000000);
    //  A Timestamp in the future, a duration past a day, a sequence that is
    //  not digits, a From with a space: the fallbacks.
    form = "CallSid=CA42&CallStatus=ringing&From=a+b&SequenceNumber=x&CallDuration=86401"
           "&Timestamp=Thu%2C+03+Dec+2026+10%3A20%3A00+%2B0000";
    n = tenant_twilio_form_parse (form, strlen (form), buf, params, 16);
    SB_CHECK (n == 6 && tenant_twilio_event_read (params, (size_t) n, now, &said) == 0);
    SB_CHECK (!said.terminal && !said.from && !said.to && !said.sequence);
    SB_CHECK (said.duration == 0 && said.ended_us == now);
    //  CallSid and CallStatus are required, printable and short.
    const char *bad [] = { "CallStatus=completed", "CallSid=CA1", "CallSid=&CallStatus=busy",
                           "CallSid=C+A&CallStatus=busy", "CallSid=CA1&CallStatus=%01", NULL };
    for (size_t i = 0; bad [i]; i++) {
        n = tenant_twilio_form_parse (bad [i], strlen (bad [i]), buf, params, 16);
        SB_CHECK (n >= 0 && tenant_twilio_event_read (params, (size_t) n, now, &said) == -1);
    }
}

void
tenant_twilio_test (bool verbose)
{
    (void) verbose;
    s_test_signature ();
    s_test_form ();
    s_test_event ();
}
