/*  gw_http.c — the gateway's HTTP side, on libmicrohttpd.

    libmicrohttpd runs one event loop (epoll) per HTTP thread
    (SWITCHBOARD_HTTP_THREADS; by default half the cores, at least two
    when there are two or more). No thread ever waits for the bus: a
    request for a service is turned into an envelope, handed to the broker
    as a job, and its connection is suspended; when the reply (or a
    503/504) comes back, the broker resumes the connection and
    libmicrohttpd calls our handler again, which turns the reply into JSON.

    The first HTTP thread is the broker's: one libmicrohttpd server runs
    without a thread of its own, its epoll descriptor polled by the
    broker's loop with the bus (sb_broker_host; MHD_run on every turn). A
    job from it is taken in by the broker inside sb_broker_submit, sent to
    its worker there and then, and its reply resumes the connection on the
    same thread, which answers it in the same turn: no hand-off between
    threads. The other HTTP threads (threads - 1) are a second server on
    the same port (both listen with SO_REUSEPORT: the kernel spreads the
    connections over the two listening sockets): its requests for a
    service are handed to the broker's thread and back (two wakeups of a
    sleeping thread per request), while what needs no service (/healthz,
    /openapi.json, a 401) is answered on its own thread. So the API mostly
    goes without hand-offs and the HTTP side as a whole keeps more than one
    thread's share of the CPU. A reply or failure may come before s_submit
    even returns (no worker: 503 at once), so the connection is always
    suspended first. Stopping: the broker lets go of the hosted loop
    (sb_broker_unhost) before the servers are stopped.

    Each request owns a gw_conn_t, created on the first call of the access
    handler and freed in the completed callback: the body, the match, the
    request id and the job all live there.

    Every answer carries X-Request-Id (the client's when it sent a sane
    one); every error has the API's envelope
    {"error":{"code","message","request_id"}}. Once a request is
    authenticated, gw_ratelimit decides whether it goes on (else 429), and
    every answer to it but a 401 carries the RateLimit headers.

    No work for anyone before we know who they are: everything that can be
    decided from the headers is decided on the first call of the access
    handler, before libmicrohttpd reads any of the body (or answers
    "100 Continue"): the route (404, 405), the body's announced size
    against the route's limit (413), the credential (401, 403; an API key
    never seen suspends the connection for auth-svc's answer right there),
    and the rate limits (429). A response queued then makes libmicrohttpd
    drop the body unread and close the connection. Only an admitted request
    has its body buffered, and that body must arrive within
    SWITCHBOARD_HTTP_BODY_SECONDS of its headers, else the connection is
    closed.

    The edge against abuse besides: connections per client address are
    capped (SWITCHBOARD_HTTP_CONNS_PER_ADDRESS: counted as they open and
    close, refused at accept; trusted proxies exempt), a connection silent
    for SWITCHBOARD_HTTP_IDLE_SECONDS is closed, refused credentials are
    limited per client address (gw_ratelimit), and the /v1/sys routes
    answer only to the operator's token (404 when none is configured). The
    client address is the TCP peer's, or X-Forwarded-For's from a trusted
    proxy (gw_addr.c).

    Every answer is counted (gw_metrics.c: route template, status,
    latency), as is every bus round trip; and logged at debug, one line
    per request ("GET /v1/businesses/{id} -> 200 in 1.234 ms") with the
    request id and the organization once known: at info the gateway logs
    nothing per request (thousands a second would drown the rest).

    A route flagged GW_ROUTE_RAW (Stripe's webhook) takes its body as
    bytes, not JSON: the service verifies a signature over exactly what
    was sent, which parsing and repacking would lose. Its args are
    {raw: <the body, msgpack bin>, signature: <the route's signature header
    (gw_route_t.signature), or nil>, path: <the path as requested>, query:
    [[name, value], ...] (decoded, in the order sent), and each path
    parameter by its name} — what a sender that signs the URL too (Twilio)
    needs to rebuild it. Such a route has no
    credential and is not under the per-address limit of the anonymous
    auth routes (gw_ratelimit_client counts only those).
*/
#include "gw.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <unistd.h>

#define S_OPERATOR_TOKEN_MIN 32     //  characters of SWITCHBOARD_OPERATOR_TOKEN, at least

struct _gw_t {
    struct MHD_Daemon *daemon;      //  its loop runs on the broker's thread
    struct MHD_Daemon *pool;        //  on threads of its own, the same port; or NULL
    sb_broker_t *broker;
    gw_auth_t *auth;
    gw_ratelimit_t *rates;
    sb_ents_t *ents;                //  the organizations' entitlements, as billing-svc says
    int default_deadline_ms;
    int64_t body_ms;                //  SWITCHBOARD_HTTP_BODY_SECONDS
    atomic_bool stopping;
    gw_proxies_t *proxies;
    bool has_operator;
    unsigned char operator_hash [crypto_hash_sha256_BYTES];
    int conns_cap;                  //  per client address, 0: none
    pthread_mutex_t conns_lock;
    zhashx_t *conns;                //  limit key -> open connections (as a pointer)
    gw_static_t *docs;              //  what /docs serves (gw_static.c)
    int cookie_max_age;             //  the refresh cookie's life (SWITCHBOARD_REFRESH_TOKEN_DAYS)
    bool cookie_secure;             //  SWITCHBOARD_PUBLIC_URL is https: the cookie is Secure
};

//  RECEIVING the body; in PRESTEP while a lookup for authentication is on
//  the bus; WAITING for the service's reply; DONE once answered.
typedef enum { S_RECEIVING, S_PRESTEP, S_WAITING, S_DONE } s_state_t;

struct _gw_conn_t {
    gw_t *gw;
    struct MHD_Connection *connection;
    const char *method;
    const char *path;               //  the path as requested (libmicrohttpd's, for the request)
    gw_match_t match;
    char request_id [SB_ID_MAX + 1];
    char *body;
    size_t body_size;
    bool too_large;
    s_state_t state;
    sb_job_t job;                   //  the lookup, then the request itself
    gw_ident_t ident;
    gw_need_t need;                 //  the lookup in flight, in PRESTEP
    int presteps;
    bool admitted;                  //  may send its body; forwarded once it is in
    int64_t started;                //  sb_mono_ms of the first call (headers in)
    char client_ip [GW_ADDR_TEXT];  //  the client's address, for the envelope
    char client_key [GW_ADDR_TEXT]; //  what per-address limits count it by
    gw_rate_t rate;                 //  the organization's limit, once counted
    bool ent_asked;                 //  the PRESTEP in flight asks billing for the entitlement
    bool ent_known;                 //  ent holds the organization's entitlement
    uint64_t ent_generation;        //  sb_ents_lookup's, for sb_ents_store
    sb_entitlement_t ent;
    bool replayed;                  //  the answer is the stored one of an Idempotency-Key
    int64_t started_us;             //  gw_metrics_now_us of the first call, for the metrics
    int64_t submitted_us;           //  when the job in flight was submitted
    const char *content_type;       //  NULL: application/json
    void *local;                    //  a local handler's state (gw_http_set_local)
    void (*local_release) (void *);
    bool session;                   //  the refresh token travels in the cookie (gw_session.c)
    char set_cookie [GW_SESSION_HEADER_MAX];    //  "": no Set-Cookie in the answer
    char set_hint [GW_SESSION_HEADER_MAX];      //  its companion (gw_session_set_hint)
};

//  ---------------------------------------------------------------------
//  Responses

//  The rate limit of an authenticated request: the older draft's three
//  headers and draft-11's two (a "minute" policy).
static void
s_add_rate_headers (struct MHD_Response *response, const gw_rate_t *rate)
{
    char value [96];
    snprintf (value, sizeof (value), "%lld", (long long) rate->limit);
    MHD_add_response_header (response, "RateLimit-Limit", value);
    snprintf (value, sizeof (value), "%lld", (long long) rate->remaining);
    MHD_add_response_header (response, "RateLimit-Remaining", value);
    snprintf (value, sizeof (value), "%lld", (long long) rate->reset);
    MHD_add_response_header (response, "RateLimit-Reset", value);
    snprintf (value, sizeof (value), "\"minute\";q=%lld;w=60", (long long) rate->limit);
    MHD_add_response_header (response, "RateLimit-Policy", value);
    snprintf (value, sizeof (value), "\"minute\";r=%lld;t=%lld", (long long) rate->remaining,
              (long long) rate->reset);
    MHD_add_response_header (response, "RateLimit", value);
}

//  Queues a response whose body is buf's content (taken: buf is left
//  empty) with the headers every answer carries, plus one optional extra.
static enum MHD_Result
s_respond (gw_conn_t *conn, int status, msgpack_sbuffer *buf, const char *header,
           const char *value)
{
    struct MHD_Response *response;
    if (buf && buf->size) {
        size_t size = buf->size;
        char *data = msgpack_sbuffer_release (buf);
        response = MHD_create_response_from_buffer (size, data, MHD_RESPMEM_MUST_FREE);
    }
    else
        response = MHD_create_response_from_buffer (0, (void *) "", MHD_RESPMEM_PERSISTENT);
    if (!response)
        return MHD_NO;
    if (status != 204)
        MHD_add_response_header (response, "Content-Type",
                                 conn->content_type ? conn->content_type : "application/json");
    MHD_add_response_header (response, "X-Request-Id", conn->request_id);
    MHD_add_response_header (response, "Cache-Control", "no-store");
    if (header)
        MHD_add_response_header (response, header, value);
    if (conn->rate.shown && status != 401)
        s_add_rate_headers (response, &conn->rate);
    if (conn->replayed)
        MHD_add_response_header (response, "Idempotent-Replayed", "true");
    if (*conn->set_cookie) {
        MHD_add_response_header (response, "Set-Cookie", conn->set_cookie);
        MHD_add_response_header (response, "Set-Cookie", conn->set_hint);
    }
    enum MHD_Result rc = MHD_queue_response (conn->connection, (unsigned int) status, response);
    MHD_destroy_response (response);
    conn->state = S_DONE;
    const gw_route_t *route = conn->match.route;
    int64_t micros = gw_metrics_now_us () - conn->started_us;
    gw_metrics_request (route, status, micros);
    if (*conn->ident.org)
        sb_log_set_org (conn->ident.org);
    sb_debug ("%s %s -> %d in %lld.%03lld ms", route ? route->method : conn->method,
              route ? route->path : "(unmatched)", status, (long long) (micros / 1000),
              (long long) (micros % 1000));
    return rc;
}

static void
s_write (msgpack_sbuffer *buf, const char *text)
{
    msgpack_sbuffer_write (buf, text, strlen (text));
}

//  Writes {"error":{"code":..,"message":..,"request_id":.. — without the
//  closing braces, so that callers may add fields.
static void
s_error_open (msgpack_sbuffer *buf, const char *code, const char *message, const char *request_id)
{
    s_write (buf, "{\"error\":{\"code\":");
    sb_json_write_string (buf, code, strlen (code));
    s_write (buf, ",\"message\":");
    sb_json_write_string (buf, message, strlen (message));
    s_write (buf, ",\"request_id\":");
    sb_json_write_string (buf, request_id, strlen (request_id));
}

static enum MHD_Result
s_respond_error (gw_conn_t *conn, int status, const char *code, const char *message,
                 const char *header, const char *value)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_error_open (&buf, code, message, conn->request_id);
    s_write (&buf, "}}");
    enum MHD_Result rc = s_respond (conn, status, &buf, header, value);
    msgpack_sbuffer_destroy (&buf);
    return rc;
}

//  For a session request (gw_session.c): when body is a map with a
//  well-formed "refresh_token", writes the map without it into buf and
//  the token into the connection's Set-Cookie; true then. False (buf
//  untouched) otherwise.
static bool
s_move_refresh (gw_conn_t *conn, msgpack_sbuffer *buf, const msgpack_object *body)
{
    const msgpack_object *token = body && body->type == MSGPACK_OBJECT_MAP
                                  ? sb_mpk_get (body, "refresh_token") : NULL;
    char text [GW_SESSION_TOKEN_MAX + 1];
    if (!token || sb_mpk_copy_str (token, text, sizeof (text))
        || !gw_session_set_cookie (conn->set_cookie, sizeof (conn->set_cookie), text,
                                   conn->gw->cookie_max_age, conn->gw->cookie_secure)
        || !gw_session_set_hint (conn->set_hint, sizeof (conn->set_hint), true,
                                 conn->gw->cookie_max_age, conn->gw->cookie_secure)) {
        *conn->set_cookie = 0;
        return false;
    }
    const msgpack_object_map *map = &body->via.map;
    bool first = true;
    s_write (buf, "{");
    for (uint32_t i = 0; i < map->size; i++) {
        if (sb_mpk_str_eq (&map->ptr [i].key, "refresh_token"))
            continue;
        if (!first)
            s_write (buf, ",");
        first = false;
        sb_json_write (buf, &map->ptr [i].key);
        s_write (buf, ":");
        sb_json_write (buf, &map->ptr [i].val);
    }
    s_write (buf, "}");
    return true;
}

//  Turns the broker's answer into the HTTP response.
static enum MHD_Result
s_respond_reply (gw_conn_t *conn)
{
    sb_job_t *job = &conn->job;
    if (job->status == 504)
        return s_respond_error (conn, 504, SB_E_TIMEOUT, "the service did not answer in time",
                                NULL, NULL);
    if (job->status != 0 || !job->reply)
        return s_respond_error (conn, 503, SB_E_SERVICE_UNAVAILABLE,
                                "the service is unavailable, try again shortly", "Retry-After",
                                "1");
    sb_reply_msg_t reply;
    char why [128];
    if (sb_reply_decode (&reply, zframe_data (job->reply), zframe_size (job->reply), why,
                         sizeof (why))) {
        sb_error ("malformed reply from '%s': %s", job->service, why);
        sb_reply_msg_release (&reply);
        return s_respond_error (conn, 502, SB_E_INTERNAL, "the service answered badly", NULL,
                                NULL);
    }
    //  The JSON text is about as long as the msgpack and a half: room for
    //  it at once, rather than growing by doubling and copying.
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    buf.alloc = zframe_size (job->reply) * 3 / 2 + 256;
    buf.data = (char *) sb_realloc (NULL, buf.alloc);
    if (reply.error) {
        const msgpack_object_map *map = &reply.error->via.map;
        char code [64] = SB_E_INTERNAL, message [512] = "";
        sb_mpk_copy_str (sb_mpk_get (reply.error, "code"), code, sizeof (code));
        sb_mpk_copy_str (sb_mpk_get (reply.error, "message"), message, sizeof (message));
        s_error_open (&buf, code, message, conn->request_id);
        for (uint32_t i = 0; i < map->size; i++) {
            const msgpack_object *key = &map->ptr [i].key;
            if (sb_mpk_str_eq (key, "code") || sb_mpk_str_eq (key, "message")
                || sb_mpk_str_eq (key, "request_id"))
                continue;
            s_write (&buf, ",");
            sb_json_write (&buf, key);
            s_write (&buf, ":");
            sb_json_write (&buf, &map->ptr [i].val);
        }
        s_write (&buf, "}}");
    }
    else
    if (conn->session && reply.status < 300 && s_move_refresh (conn, &buf, reply.body))
        ;                   //  written, the refresh token in the cookie
    else
    if (reply.status != 204)
        sb_json_write (&buf, reply.body);
    //  Logging out, or a refresh refused (no token, or a bad one): the
    //  cookie goes too.
    if (conn->session
        && ((streq (conn->match.route->op, "auth.logout") && reply.status < 300)
            || (streq (conn->match.route->op, "auth.refresh")
                && (reply.status == 400 || reply.status == 401)))) {
        gw_session_set_cookie (conn->set_cookie, sizeof (conn->set_cookie), NULL, 0,
                               conn->gw->cookie_secure);
        gw_session_set_hint (conn->set_hint, sizeof (conn->set_hint), false, 0,
                             conn->gw->cookie_secure);
    }
    //  A service says how long to wait in the error's retry_after; HTTP
    //  says it in Retry-After.
    char retry [24] = "";
    int64_t seconds;
    if (reply.error && sb_mpk_int (sb_mpk_get (reply.error, "retry_after"), &seconds) == 0
        && seconds > 0)
        snprintf (retry, sizeof (retry), "%lld", (long long) seconds);
    int status = reply.status;
    conn->replayed = reply.replayed;
    sb_reply_msg_release (&reply);
    enum MHD_Result rc = s_respond (conn, status, &buf, *retry ? "Retry-After" : NULL, retry);
    msgpack_sbuffer_destroy (&buf);
    return rc;
}

//  ---------------------------------------------------------------------
//  Local handlers

void
gw_http_healthz (gw_conn_t *conn)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_write (&buf, "{\"status\":\"ok\"}");
    s_respond (conn, 200, &buf, NULL, NULL);
    msgpack_sbuffer_destroy (&buf);
}

void
gw_http_readyz (gw_conn_t *conn)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    char missing [256] = "";
    char services [512] = "";
    size_t missing_count = 0;
    for (size_t i = 0; gw_services [i]; i++) {
        size_t workers = sb_broker_worker_count (conn->gw->broker, gw_services [i]);
        size_t len = strlen (services);
        snprintf (services + len, sizeof (services) - len, "%s\"%s\":%zu", i ? "," : "",
                  gw_services [i], workers);
        if (workers == 0) {
            len = strlen (missing);
            snprintf (missing + len, sizeof (missing) - len, "%s%s", missing_count++ ? ", " : "",
                      gw_services [i]);
        }
    }
    if (atomic_load (&conn->gw->stopping)) {
        s_error_open (&buf, SB_E_SERVICE_UNAVAILABLE, "the gateway is stopping", conn->request_id);
        s_write (&buf, "}}");
        s_respond (conn, 503, &buf, "Retry-After", "1");
    }
    else
    if (missing_count) {
        char message [320];
        snprintf (message, sizeof (message), "no live worker for: %s", missing);
        s_error_open (&buf, SB_E_SERVICE_UNAVAILABLE, message, conn->request_id);
        s_write (&buf, ",\"missing\":[");
        char *save = NULL;
        bool first = true;
        for (char *name = strtok_r (missing, ", ", &save); name; name = strtok_r (NULL, ", ", &save)) {
            s_write (&buf, first ? "" : ",");
            sb_json_write_string (&buf, name, strlen (name));
            first = false;
        }
        s_write (&buf, "],\"services\":{");
        s_write (&buf, services);
        s_write (&buf, "}}}");
        s_respond (conn, 503, &buf, "Retry-After", "1");
    }
    else {
        s_write (&buf, "{\"status\":\"ready\",\"services\":{");
        s_write (&buf, services);
        s_write (&buf, "}}");
        s_respond (conn, 200, &buf, NULL, NULL);
    }
    msgpack_sbuffer_destroy (&buf);
}

//  For the local handlers of other files (gw_static.c).

const gw_match_t *
gw_http_match (gw_conn_t *conn)
{
    return &conn->match;
}

const char *
gw_http_header (gw_conn_t *conn, const char *name)
{
    return MHD_lookup_connection_value (conn->connection, MHD_HEADER_KIND, name);
}

void
gw_http_send (gw_conn_t *conn, int status, struct MHD_Response *response)
{
    MHD_add_response_header (response, "X-Request-Id", conn->request_id);
    MHD_queue_response (conn->connection, (unsigned int) status, response);
    MHD_destroy_response (response);
    conn->state = S_DONE;
}

void
gw_http_error (gw_conn_t *conn, int status, const char *code, const char *message)
{
    s_respond_error (conn, status, code, message, NULL, NULL);
}

gw_static_t *
gw_http_docs (gw_conn_t *conn)
{
    return conn->gw->docs;
}

//  For local handlers that wait on the bus (gw.h).

sb_broker_t *
gw_http_broker (gw_conn_t *conn)
{
    return conn->gw->broker;
}

const char *
gw_http_request_id (gw_conn_t *conn)
{
    return conn->request_id;
}

void
gw_http_suspend (gw_conn_t *conn)
{
    MHD_suspend_connection (conn->connection);
}

void
gw_http_resume (gw_conn_t *conn)
{
    MHD_resume_connection (conn->connection);
}

void *
gw_http_local (gw_conn_t *conn)
{
    return conn->local;
}

void
gw_http_set_local (gw_conn_t *conn, void *state, void (*release) (void *))
{
    conn->local = state;
    conn->local_release = release;
}

void
gw_http_respond (gw_conn_t *conn, int status, const char *content_type, msgpack_sbuffer *buf)
{
    conn->content_type = content_type;
    s_respond (conn, status, buf, NULL, NULL);
}

static bool s_is_operator (gw_t *self, const char *authorization);
static enum MHD_Result s_respond_retry (gw_conn_t *conn, int64_t wait, const char *message);

bool
gw_http_operator_or_open (gw_conn_t *conn)
{
    gw_t *self = conn->gw;
    if (!self->has_operator)
        return true;
    int64_t wait = gw_ratelimit_failures_wait (self->rates, conn->client_key);
    if (wait) {
        s_respond_retry (conn, wait, "too many refused credentials from this address, "
                                     "try again later");
        return false;
    }
    const char *authorization = MHD_lookup_connection_value (conn->connection, MHD_HEADER_KIND,
                                                             "Authorization");
    if (s_is_operator (self, authorization))
        return true;
    gw_ratelimit_failure (self->rates, conn->client_key);
    s_respond_error (conn, 401, SB_E_UNAUTHENTICATED, "this route needs the operator token",
                     "WWW-Authenticate", "Bearer");
    return false;
}

//  GET /openapi.json: the embedded document as is, cacheable (it changes
//  only with the binary), without the per-request no-store of s_respond.
void
gw_http_openapi (gw_conn_t *conn)
{
    size_t size;
    const char *document = gw_openapi_document (&size);
    struct MHD_Response *response
        = MHD_create_response_from_buffer (size, (void *) document, MHD_RESPMEM_PERSISTENT);
    if (!response)
        return;
    MHD_add_response_header (response, "Content-Type", "application/json");
    MHD_add_response_header (response, "Cache-Control", "public, max-age=300");
    gw_http_send (conn, 200, response);
}

//  ---------------------------------------------------------------------
//  Requests for a service

static void
s_job_done (sb_job_t *job)
{
    //  On the broker's thread: only count it and wake the connection up.
    gw_conn_t *conn = (gw_conn_t *) job->arg;
    gw_metrics_bus (job->service, job->status, gw_metrics_now_us () - conn->submitted_us);
    MHD_resume_connection (conn->connection);
}

typedef struct {
    json_t *args;
    bool bad;
} s_query_t;

bool
gw_http_arg_set (json_t *args, const char *name, const char *value)
{
    json_t *string = json_string (value ? value : "");
    if (!string || !*name) {
        json_decref (string);
        return false;
    }
    //  json_object_set_new refuses a name that is not valid UTF-8 (and
    //  drops the value): that is a bad parameter, not one to forget.
    return json_object_set_new (args, name, string) == 0;
}

static enum MHD_Result
s_collect_query (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    s_query_t *query = (s_query_t *) cls;
    if (!gw_http_arg_set (query->args, key, value)) {
        query->bad = true;
        return MHD_NO;
    }
    return MHD_YES;
}

static enum MHD_Result s_forward (gw_conn_t *conn);

//  Counts an authenticated request against its organization's limit (its
//  entitlement known): false when it may go on; true when over the limit,
//  answered 429 (rc).
static bool
s_over_limit (gw_conn_t *conn, enum MHD_Result *rc)
{
    if (gw_ratelimit_org (conn->gw->rates, conn->ident.org, conn->ent.api_requests_per_minute,
                          &conn->rate))
        return false;
    char retry [24], message [128];
    snprintf (retry, sizeof (retry), "%lld", (long long) conn->rate.retry_after);
    snprintf (message, sizeof (message),
              "this organization has used its %lld requests per minute, retry in %s s",
              (long long) conn->rate.limit, retry);
    *rc = s_respond_error (conn, 429, SB_E_RATE_LIMITED, message, "Retry-After", retry);
    return true;
}

//  Sends op to service as a job and suspends the connection until the
//  broker answers; head gives the caller's identity (the id, ip and
//  deadline are filled here).
static void
s_submit (gw_conn_t *conn, s_state_t state, const char *service, const char *op,
          sb_envelope_head_t *head, const msgpack_sbuffer *args, int deadline_ms)
{
    snprintf (head->id, sizeof (head->id), "%s", conn->request_id);
    snprintf (head->op, sizeof (head->op), "%s", op);
    snprintf (head->ip, sizeof (head->ip), "%s", conn->client_ip);
    head->deadline = sb_now_ms () + deadline_ms;
    msgpack_sbuffer envelope;
    msgpack_sbuffer_init (&envelope);
    sb_envelope_encode_request (&envelope, head, args->data, args->size);

    sb_job_t *job = &conn->job;
    snprintf (job->service, sizeof (job->service), "%s", service);
    job->request = zframe_new (envelope.data, envelope.size);
    msgpack_sbuffer_destroy (&envelope);
    job->deadline = sb_mono_ms () + deadline_ms;
    job->done = s_job_done;
    job->arg = conn;
    job->status = 0;
    conn->state = state;
    //  Suspend before submitting: the broker may answer before
    //  sb_broker_submit even returns.
    MHD_suspend_connection (conn->connection);
    conn->submitted_us = gw_metrics_now_us ();
    sb_broker_submit (conn->gw->broker, job);
}

//  The request may go on: its body (if any) is read from now, and it is
//  forwarded once the body is in.
static enum MHD_Result
s_admit (gw_conn_t *conn)
{
    conn->admitted = true;
    conn->state = S_RECEIVING;
    return MHD_YES;
}

static enum MHD_Result
s_respond_retry (gw_conn_t *conn, int64_t wait, const char *message)
{
    char retry [24];
    snprintf (retry, sizeof (retry), "%lld", (long long) wait);
    return s_respond_error (conn, 429, SB_E_RATE_LIMITED, message, "Retry-After", retry);
}

//  True when authorization is "Bearer <the operator token>"; compared by
//  digest in constant time, so that neither the token nor its length leaks.
static bool
s_is_operator (gw_t *self, const char *authorization)
{
    if (!self->has_operator || !authorization || strncasecmp (authorization, "Bearer ", 7) != 0)
        return false;
    const char *token = authorization + 7;
    while (*token == ' ')
        token++;
    unsigned char digest [crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, (const unsigned char *) token, strlen (token));
    return sodium_memcmp (digest, self->operator_hash, sizeof (digest)) == 0;
}

//  Decides from the headers who the request acts for and whether it may go
//  on: admits it; or answers the refusal; or runs the lookup
//  authentication needs first (PRESTEP), after which this runs again. Runs
//  before any of the body is read.
static enum MHD_Result
s_authenticate (gw_conn_t *conn)
{
    const gw_route_t *route = conn->match.route;
    gw_t *self = conn->gw;
    struct MHD_Connection *c = conn->connection;
    enum MHD_Result rc;
    const char *authorization = MHD_lookup_connection_value (c, MHD_HEADER_KIND, "Authorization");
    const char *api_key = MHD_lookup_connection_value (c, MHD_HEADER_KIND, "X-API-Key");
    bool credential = (authorization && *authorization) || (api_key && *api_key);
    bool operator_route = (route->flags & GW_ROUTE_OPERATOR) != 0;
    if (operator_route && !self->has_operator)
        return s_respond_error (conn, 404, SB_E_NOT_FOUND, "no such path", NULL, NULL);
    //  An address that keeps sending credentials we refuse is not heard
    //  until its failures age: no lookup, no verification.
    if (conn->presteps == 0 && (credential || operator_route)) {
        int64_t wait = gw_ratelimit_failures_wait (self->rates, conn->client_key);
        if (wait)
            return s_respond_retry (conn, wait,
                                    "too many refused credentials from this address, "
                                    "try again later");
    }
    if (operator_route) {
        if (s_is_operator (self, authorization)) {
            //  The operator acts as the route says (internal operations
            //  take role service), for no organization.
            conn->ident.role = route->role;
            return s_admit (conn);
        }
        gw_ratelimit_failure (self->rates, conn->client_key);
        return s_respond_error (conn, 401, SB_E_UNAUTHENTICATED,
                                "this route needs the operator token", "WWW-Authenticate",
                                "Bearer");
    }
    if (route->role == SB_ROLE_NONE) {
        int64_t wait = gw_ratelimit_client (self->rates, route->op, conn->client_key);
        if (wait)
            return s_respond_retry (conn, wait,
                                    "too many requests from this address, try again later");
        return s_admit (conn);
    }
    gw_denial_t denial;
    const char *host = MHD_lookup_connection_value (c, MHD_HEADER_KIND, "Host");
    gw_auth_result_t result = gw_auth_check (self->auth, authorization, api_key, host, route->role,
                                             &conn->ident, &denial, &conn->need);
    if (result == GW_AUTH_NEED && conn->presteps++ >= 4) {
        //  A lookup that did not settle it (an unknown key, a kid that
        //  is not in the fresh key set): the credential is not valid.
        //  A valid token may need four: the key set, its session (while
        //  the revoked list is incomplete), whether its organization is
        //  suspended (before the first sync) and its subdomain.
        gw_need_release (&conn->need);
        result = GW_AUTH_DENIED;
        denial.status = 401;
        denial.code = SB_E_UNAUTHENTICATED;
        denial.message = "the credential is not valid";
    }
    //  A credential that is valid but may not do this (403) counts too,
    //  against the limit of the organization's entitlement: from memory, or
    //  asked of billing-svc first (a PRESTEP like authentication's).
    bool counts = (result == GW_AUTH_OK || (result == GW_AUTH_DENIED && denial.status == 403))
                  && *conn->ident.org;
    if (counts && !conn->ent_known) {
        conn->ent_known = sb_ents_lookup (self->ents, conn->ident.org, &conn->ent,
                                          &conn->ent_generation);
        if (!conn->ent_known) {
            if (conn->ent_asked)
                return s_respond_error (conn, 503, SB_E_SERVICE_UNAVAILABLE,
                                        "the organization's plan cannot be read now, "
                                        "try again shortly", "Retry-After", "1");
            msgpack_sbuffer args;
            msgpack_sbuffer_init (&args);
            sb_ents_pack_args (&args, conn->ident.org);
            sb_envelope_head_t head = { .role = SB_ROLE_SERVICE };
            conn->ent_asked = true;
            s_submit (conn, S_PRESTEP, "billing.peer", "entitlements.get", &head, &args, 2000);
            msgpack_sbuffer_destroy (&args);
            return MHD_YES;
        }
    }
    if (counts && s_over_limit (conn, &rc))
        return rc;
    if (result == GW_AUTH_DENIED) {
        if (denial.status == 401 && credential)
            gw_ratelimit_failure (self->rates, conn->client_key);
        return s_respond_error (conn, denial.status, denial.code, denial.message,
                                denial.status == 401 ? "WWW-Authenticate" : NULL, "Bearer");
    }
    if (result == GW_AUTH_NEED) {
        sb_envelope_head_t head = { .role = SB_ROLE_SERVICE };
        s_submit (conn, S_PRESTEP, "auth", conn->need.op, &head, &conn->need.args, 2000);
        return MHD_YES;
    }
    return s_admit (conn);
}

//  The lookup is back: store what it says, then decide again.
static enum MHD_Result
s_prestep_done (gw_conn_t *conn)
{
    sb_job_t *job = &conn->job;
    bool answered = job->status == 0 && job->reply;
    bool entitlement = conn->ent_asked && !conn->ent_known;
    if (answered) {
        sb_reply_msg_t reply;
        char why [128];
        if (sb_reply_decode (&reply, zframe_data (job->reply), zframe_size (job->reply), why,
                             sizeof (why)) == 0) {
            if (!entitlement)
                gw_auth_apply (conn->gw->auth, &conn->need, &reply);
            else
            if (reply.status == 200)
                //  Used for this request even when too late to be remembered.
                conn->ent_known = sb_ents_store (conn->gw->ents, reply.body, conn->ident.org,
                                                 conn->ent_generation, &conn->ent) == 0;
        }
        sb_reply_msg_release (&reply);
    }
    zframe_destroy (&job->reply);
    gw_need_release (&conn->need);
    conn->state = S_RECEIVING;
    if (!answered)
        return s_respond_error (conn, 503, SB_E_SERVICE_UNAVAILABLE,
                                entitlement ? "the organization's plan cannot be read now, "
                                              "try again shortly"
                                            : "authentication is unavailable, try again shortly",
                                "Retry-After", "1");
    return s_authenticate (conn);
}

static int s_depth (json_t *value, int depth);

json_t *
gw_http_body_args (const char *body, size_t size, char *why, size_t why_size)
{
    json_t *args = size ? sb_json_parse (body, size, why, why_size) : json_object ();
    if (!args)
        return NULL;
    if (!json_is_object (args)) {
        json_decref (args);
        snprintf (why, why_size, "%s", "the request body must be a JSON object");
        return NULL;
    }
    if (s_depth (args, 0) > GW_MAX_DEPTH) {
        json_decref (args);
        snprintf (why, why_size, "%s", "the request body nests deeper than 16 levels");
        return NULL;
    }
    return args;
}

//  How deep a JSON value nests (a scalar is 0). The envelope adds levels of
//  its own and the bus refuses frames nested deeper than SB_MPK_MAX_DEPTH,
//  so bodies are held to a depth no real request needs.
static int
s_depth (json_t *value, int depth)
{
    if (depth > GW_MAX_DEPTH)
        return depth;
    int deepest = depth;
    if (json_is_object (value)) {
        const char *key;
        json_t *item;
        json_object_foreach (value, key, item) {
            int d = s_depth (item, depth + 1);
            if (d > deepest)
                deepest = d;
        }
    }
    else
    if (json_is_array (value)) {
        size_t index;
        json_t *item;
        json_array_foreach (value, index, item) {
            int d = s_depth (item, depth + 1);
            if (d > deepest)
                deepest = d;
        }
    }
    return deepest;
}

//  The Idempotency-Key of a POST into idem: 1 to SB_IDEM_MAX printable
//  ASCII characters. Returns false when the header is there but is not
//  such a key; idem stays empty without one. Whether it matters is the
//  operation's business (service.h: SB_OP_IDEMPOTENT).
static bool
s_idempotency_key (gw_conn_t *conn, char idem [SB_IDEM_MAX + 1])
{
    return gw_http_idempotency_key (
        conn->method, MHD_lookup_connection_value (conn->connection, MHD_HEADER_KIND,
                                                   "Idempotency-Key"),
        idem);
}

bool
gw_http_idempotency_key (const char *method, const char *key, char idem [SB_IDEM_MAX + 1])
{
    if (!key || !streq (method, "POST"))
        return true;
    size_t len = strlen (key);
    if (len == 0 || len > SB_IDEM_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) key [i] < 0x20 || (unsigned char) key [i] > 0x7e)
            return false;
    memcpy (idem, key, len + 1);
    return true;
}

//  A raw route's request: {raw, signature, path, query, params}, no JSON
//  parsing (see the header above). The query's pairs are gathered first
//  (counted, then collected) so that gw_http_raw_args packs them.
typedef struct {
    const char **pairs;
    size_t count;
} s_raw_query_t;

static enum MHD_Result
s_count_query (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind, (void) key, (void) value;
    ((s_raw_query_t *) cls)->count++;
    return MHD_YES;
}

static enum MHD_Result
s_gather_query (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    s_raw_query_t *query = (s_raw_query_t *) cls;
    query->pairs [2 * query->count] = key;
    query->pairs [2 * query->count + 1] = value;
    query->count++;
    return MHD_YES;
}

void
gw_http_raw_args (msgpack_sbuffer *out, const gw_match_t *match, const char *body, size_t size,
                  const char *signature, const char *path, const char *const *query,
                  size_t count)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, out, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4 + (uint32_t) match->param_count);
    sb_mpk_pack_str (&pk, "raw");
    msgpack_pack_bin (&pk, size);
    msgpack_pack_bin_body (&pk, body ? body : "", size);
    sb_mpk_pack_str (&pk, "signature");
    if (signature)
        sb_mpk_pack_str (&pk, signature);
    else
        msgpack_pack_nil (&pk);
    sb_mpk_pack_str (&pk, "path");
    sb_mpk_pack_str (&pk, path);
    sb_mpk_pack_str (&pk, "query");
    msgpack_pack_array (&pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_array (&pk, 2);
        sb_mpk_pack_str (&pk, query [2 * i]);
        sb_mpk_pack_str (&pk, query [2 * i + 1] ? query [2 * i + 1] : "");
    }
    for (size_t i = 0; i < match->param_count; i++)
        sb_mpk_pack_kv_str (&pk, match->params [i].name, match->params [i].value);
}

static enum MHD_Result
s_forward_raw (gw_conn_t *conn, sb_envelope_head_t *head)
{
    const gw_route_t *route = conn->match.route;
    const char *signature = route->signature
                            ? MHD_lookup_connection_value (conn->connection, MHD_HEADER_KIND,
                                                           route->signature)
                            : NULL;
    s_raw_query_t query = { NULL, 0 };
    MHD_get_connection_values (conn->connection, MHD_GET_ARGUMENT_KIND, s_count_query, &query);
    query.pairs = (const char **) sb_calloc (2 * query.count + 1, sizeof (char *));
    query.count = 0;
    MHD_get_connection_values (conn->connection, MHD_GET_ARGUMENT_KIND, s_gather_query, &query);
    msgpack_sbuffer packed;
    msgpack_sbuffer_init (&packed);
    gw_http_raw_args (&packed, &conn->match, conn->body, conn->body_size, signature, conn->path,
                      query.pairs, query.count);
    free (query.pairs);
    int deadline_ms = route->deadline_ms ? route->deadline_ms : conn->gw->default_deadline_ms;
    s_submit (conn, S_WAITING, route->service, route->op, head, &packed, deadline_ms);
    msgpack_sbuffer_destroy (&packed);
    return MHD_YES;
}

static enum MHD_Result
s_forward (gw_conn_t *conn)
{
    const gw_route_t *route = conn->match.route;
    sb_envelope_head_t head = { .role = conn->ident.role };
    if (!s_idempotency_key (conn, head.idem)) {
        msgpack_sbuffer buf;
        msgpack_sbuffer_init (&buf);
        s_error_open (&buf, SB_E_VALIDATION_FAILED, "some fields are invalid", conn->request_id);
        s_write (&buf, ",\"fields\":{\"Idempotency-Key\":\"must be 1 to 255 printable ASCII "
                       "characters\"}}}");
        enum MHD_Result rc = s_respond (conn, 400, &buf, NULL, NULL);
        msgpack_sbuffer_destroy (&buf);
        return rc;
    }
    if (route->flags & GW_ROUTE_RAW)
        return s_forward_raw (conn, &head);
    char why [256];
    json_t *args = gw_http_body_args (conn->body, conn->body_size, why, sizeof (why));
    if (!args)
        return s_respond_error (conn, 400, SB_E_INVALID_REQUEST, why, NULL, NULL);

    //  Query parameters, then path parameters: what the URL says wins over
    //  the body.
    s_query_t query = { args, false };
    MHD_get_connection_values (conn->connection, MHD_GET_ARGUMENT_KIND, s_collect_query, &query);
    for (size_t i = 0; i < conn->match.param_count && !query.bad; i++)
        if (!gw_http_arg_set (args, conn->match.params [i].name, conn->match.params [i].value))
            query.bad = true;
    if (query.bad) {
        json_decref (args);
        return s_respond_error (conn, 400, SB_E_INVALID_REQUEST,
                                "the URL has a parameter that is not valid UTF-8", NULL, NULL);
    }
    //  The dashboard's refresh token comes from its cookie when the body
    //  has none (gw_session.c).
    conn->session = gw_session_wanted (conn->connection, route);
    if (conn->session && !json_object_get (args, "refresh_token")) {
        const char *cookie = gw_session_cookie (conn->connection);
        if (cookie)
            json_object_set_new (args, "refresh_token", json_string (cookie));
    }

    msgpack_sbuffer packed;
    msgpack_sbuffer_init (&packed);
    sb_json_pack_into (&packed, args);
    json_decref (args);
    snprintf (head.org, sizeof (head.org), "%s", conn->ident.org);
    snprintf (head.sub, sizeof (head.sub), "%s", conn->ident.sub);
    snprintf (head.key, sizeof (head.key), "%s", conn->ident.key);
    snprintf (head.sid, sizeof (head.sid), "%s", conn->ident.sid);
    int deadline_ms = route->deadline_ms ? route->deadline_ms : conn->gw->default_deadline_ms;
    s_submit (conn, S_WAITING, route->service, route->op, &head, &packed, deadline_ms);
    msgpack_sbuffer_destroy (&packed);
    return MHD_YES;
}

//  A sane client request id: kept as ours so that logs line up. Ours are
//  16 random bytes in hex, as sb_random_hex makes them, taken from a
//  per-thread pool that libsodium refills 32 ids at a time (one getrandom
//  call per request was a visible share of GET /healthz).
#define S_ID_BYTES 16
static _Thread_local unsigned char s_id_pool [32 * S_ID_BYTES];
static _Thread_local size_t s_id_used = sizeof (s_id_pool);

static void
s_request_id (gw_conn_t *conn)
{
    const char *theirs = MHD_lookup_connection_value (conn->connection, MHD_HEADER_KIND,
                                                      "X-Request-Id");
    if (theirs && sb_envelope_id_valid (theirs)) {
        snprintf (conn->request_id, sizeof (conn->request_id), "%s", theirs);
        return;
    }
    if (s_id_used == sizeof (s_id_pool)) {
        randombytes_buf (s_id_pool, sizeof (s_id_pool));
        s_id_used = 0;
    }
    sodium_bin2hex (conn->request_id, sizeof (conn->request_id), s_id_pool + s_id_used,
                    S_ID_BYTES);
    sodium_memzero (s_id_pool + s_id_used, S_ID_BYTES);
    s_id_used += S_ID_BYTES;
}

//  Every X-Forwarded-For header of a request, in order, joined by commas.
static enum MHD_Result
s_collect_xff (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    char **joined = (char **) cls;
    if (strcasecmp (key, "X-Forwarded-For") != 0 || !value)
        return MHD_YES;
    size_t have = *joined ? strlen (*joined) : 0, add = strlen (value);
    *joined = (char *) sb_realloc (*joined, have + add + 2);
    if (have)
        (*joined) [have++] = ',';
    memcpy (*joined + have, value, add + 1);
    return MHD_YES;
}

//  What a TCP connection knows of its peer from the start (s_notify), in
//  libmicrohttpd's socket context: the key its connections count under
//  ("" when not counted), and for a peer that is not a trusted proxy, the
//  client's address and limit key, the same for every request on it.
typedef struct {
    char counted [GW_ADDR_TEXT];
    bool direct;
    char ip [GW_ADDR_TEXT];
    char key [GW_ADDR_TEXT];
} s_peer_t;

//  The client's address and limit key: the TCP peer's, or what a trusted
//  proxy's X-Forwarded-For says.
static void
s_client (gw_conn_t *conn)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info (
        conn->connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    const s_peer_t *known = info ? (const s_peer_t *) info->socket_context : NULL;
    if (known && known->direct) {
        memcpy (conn->client_ip, known->ip, sizeof (conn->client_ip));
        memcpy (conn->client_key, known->key, sizeof (conn->client_key));
        return;
    }
    info = MHD_get_connection_info (conn->connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    gw_addr_t peer, client;
    if (!info || gw_addr_from_sockaddr (&peer, info->client_addr))
        return;
    client = peer;
    if (gw_proxies_count (conn->gw->proxies) && gw_proxies_trusts (conn->gw->proxies, &peer)) {
        char *xff = NULL;
        MHD_get_connection_values (conn->connection, MHD_HEADER_KIND, s_collect_xff, &xff);
        gw_proxies_client (conn->gw->proxies, &peer, xff, &client);
        free (xff);
    }
    gw_addr_format (&client, conn->client_ip, sizeof (conn->client_ip));
    gw_addr_key (&client, conn->client_key, sizeof (conn->client_key));
}

//  "the request body is larger than 64 KiB" for limit.
static void
s_too_large_message (size_t limit, char *buf, size_t size)
{
    if (limit >= 1024 * 1024 && limit % (1024 * 1024) == 0)
        snprintf (buf, size, "the request body is larger than %zu MiB", limit / (1024 * 1024));
    else
    if (limit >= 1024 && limit % 1024 == 0)
        snprintf (buf, size, "the request body is larger than %zu KiB", limit / 1024);
    else
        snprintf (buf, size, "the request body is larger than %zu bytes", limit);
}

static enum MHD_Result
s_respond_too_large (gw_conn_t *conn)
{
    char message [96];
    s_too_large_message (gw_route_max_body (conn->match.route), message, sizeof (message));
    return s_respond_error (conn, 413, SB_E_PAYLOAD_TOO_LARGE, message, "Connection", "close");
}

//  The first call, with the headers in and none of the body read: answers
//  whatever the headers decide, else admits the request (or suspends it
//  for a lookup).
static enum MHD_Result
s_begin (gw_conn_t *conn)
{
    if (conn->match.status == 404)
        return s_respond_error (conn, 404, SB_E_NOT_FOUND, "no such path", NULL, NULL);
    if (conn->match.status == 405)
        return s_respond_error (conn, 405, SB_E_METHOD_NOT_ALLOWED,
                                "this path does not take that method", "Allow", conn->match.allow);
    const gw_route_t *route = conn->match.route;
    if (!route->local && atomic_load (&conn->gw->stopping))
        return s_respond_error (conn, 503, SB_E_SERVICE_UNAVAILABLE, "the gateway is stopping",
                                "Retry-After", "1");
    const char *length = MHD_lookup_connection_value (conn->connection, MHD_HEADER_KIND,
                                                      "Content-Length");
    if (length && strtoull (length, NULL, 10) > gw_route_max_body (route)) {
        //  Answer before the body is read: libmicrohttpd takes a response
        //  only now or once the upload is complete.
        conn->too_large = true;
        return s_respond_too_large (conn);
    }
    if (route->local)
        return s_admit (conn);
    return s_authenticate (conn);
}

//  Adds the size of one header field as sent ("Name: value\r\n") to *cls.
static enum MHD_Result
s_header_size (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    *(size_t *) cls += strlen (key) + (value ? strlen (value) : 0) + 4;
    return MHD_YES;
}

static enum MHD_Result
s_access (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void) version;
    gw_t *self = (gw_t *) cls;
    gw_conn_t *conn = (gw_conn_t *) *con_cls;

    if (!conn) {
        conn = (gw_conn_t *) sb_calloc (1, sizeof (gw_conn_t));
        conn->gw = self;
        conn->connection = connection;
        conn->method = method;
        conn->path = url;
        conn->started = sb_mono_ms ();
        conn->started_us = gw_metrics_now_us ();
        *con_cls = conn;
        s_request_id (conn);
        s_client (conn);
        gw_routes_match (method, url, &conn->match);
        //  Headers beyond our limit but within libmicrohttpd's memory pool
        //  (below) get the API's JSON 431, not the library's HTML page.
        size_t header_size = 0;
        MHD_get_connection_values (connection, MHD_HEADER_KIND, s_header_size, &header_size);
        if (header_size > GW_MAX_HEADERS)
            return s_respond_error (conn, 431, SB_E_HEADERS_TOO_LARGE,
                                    "the request's header fields are larger than 16 KiB",
                                    "Connection", "close");
        sb_log_set_request (conn->request_id, conn->ident.org);
        enum MHD_Result rc = s_begin (conn);
        sb_log_set_request_id (NULL);
        return rc;
    }
    if (conn->state == S_WAITING) {
        sb_log_set_request (conn->request_id, conn->ident.org);
        enum MHD_Result rc = s_respond_reply (conn);
        sb_log_set_request_id (NULL);
        return rc;
    }
    if (conn->state == S_PRESTEP) {
        //  Resumed where it was suspended: on the first call, headers in,
        //  body unread.
        sb_log_set_request (conn->request_id, conn->ident.org);
        enum MHD_Result rc = s_prestep_done (conn);
        sb_log_set_request_id (NULL);
        return rc;
    }
    if (conn->state == S_DONE) {
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t size = *upload_data_size;
        *upload_data_size = 0;
        if (!conn->admitted)
            return MHD_NO;
        if (sb_mono_ms () - conn->started > self->body_ms) {
            //  A body trickling in holds a connection and its buffer:
            //  nobody gets longer than the setting, and there is no way
            //  to answer mid-body, so the connection goes.
            sb_log_set_request (conn->request_id, conn->ident.org);
            sb_info ("http: the body from %s took longer than %lld s; connection closed",
                     conn->client_ip, (long long) (self->body_ms / 1000));
            sb_log_set_request_id (NULL);
            return MHD_NO;
        }
        if (!conn->too_large && conn->body_size + size > gw_route_max_body (conn->match.route)) {
            //  A chunked body with no announced length: drop the rest as it
            //  comes and answer 413 once it is all in.
            conn->too_large = true;
            free (conn->body);
            conn->body = NULL;
            conn->body_size = 0;
        }
        if (conn->too_large)
            return MHD_YES;
        conn->body = (char *) sb_realloc (conn->body, conn->body_size + size);
        memcpy (conn->body + conn->body_size, upload_data, size);
        conn->body_size += size;
        return MHD_YES;
    }

    //  The whole request is in (admitted: anything else was answered on
    //  the first call).
    sb_log_set_request (conn->request_id, conn->ident.org);
    enum MHD_Result rc = MHD_YES;
    if (!conn->admitted)
        rc = MHD_NO;
    else
    if (conn->too_large)
        rc = s_respond_too_large (conn);
    else
    if (conn->match.route->local)
        conn->match.route->local (conn);
    else
    if (atomic_load (&self->stopping))
        rc = s_respond_error (conn, 503, SB_E_SERVICE_UNAVAILABLE, "the gateway is stopping",
                              "Retry-After", "1");
    else
        rc = s_forward (conn);
    sb_log_set_request_id (NULL);
    return rc;
}

//  ---------------------------------------------------------------------
//  Connections per client address

//  The key a TCP peer's connections count under; false when they are not
//  counted (a trusted proxy, an address of another family).
static bool
s_conn_key (gw_t *self, const struct sockaddr *sa, char key [GW_ADDR_TEXT])
{
    gw_addr_t peer;
    if (gw_addr_from_sockaddr (&peer, sa) || gw_proxies_trusts (self->proxies, &peer))
        return false;
    gw_addr_key (&peer, key, GW_ADDR_TEXT);
    return true;
}

//  Before a connection is set up: refused when its address has the cap
//  open. (Counted in s_notify, on the same thread right after; with
//  several HTTP threads accepting at the same instant an address may get
//  one more per thread.)
static enum MHD_Result
s_accept (void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void) addrlen;
    gw_t *self = (gw_t *) cls;
    char key [GW_ADDR_TEXT];
    if (self->conns_cap <= 0 || !s_conn_key (self, addr, key))
        return MHD_YES;
    pthread_mutex_lock (&self->conns_lock);
    uintptr_t open = (uintptr_t) zhashx_lookup (self->conns, key);
    pthread_mutex_unlock (&self->conns_lock);
    if (open >= (uintptr_t) self->conns_cap) {
        sb_debug ("http: %s has %zu connections open; one more refused", key, (size_t) open);
        return MHD_NO;
    }
    return MHD_YES;
}

static void
s_notify (void *cls, struct MHD_Connection *connection, void **socket_context,
          enum MHD_ConnectionNotificationCode code)
{
    gw_t *self = (gw_t *) cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info (
            connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        gw_addr_t peer;
        if (!info || gw_addr_from_sockaddr (&peer, info->client_addr))
            return;
        s_peer_t *known = (s_peer_t *) sb_calloc (1, sizeof (s_peer_t));
        if (!gw_proxies_trusts (self->proxies, &peer)) {
            known->direct = true;
            gw_addr_format (&peer, known->ip, sizeof (known->ip));
            gw_addr_key (&peer, known->key, sizeof (known->key));
        }
        if (self->conns_cap > 0 && known->direct) {
            memcpy (known->counted, known->key, sizeof (known->counted));
            pthread_mutex_lock (&self->conns_lock);
            uintptr_t open = (uintptr_t) zhashx_lookup (self->conns, known->counted);
            zhashx_update (self->conns, known->counted, (void *) (open + 1));
            pthread_mutex_unlock (&self->conns_lock);
        }
        *socket_context = known;
    }
    else
    if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        s_peer_t *known = (s_peer_t *) *socket_context;
        if (*known->counted) {
            pthread_mutex_lock (&self->conns_lock);
            uintptr_t open = (uintptr_t) zhashx_lookup (self->conns, known->counted);
            if (open > 1)
                zhashx_update (self->conns, known->counted, (void *) (open - 1));
            else
                zhashx_delete (self->conns, known->counted);
            pthread_mutex_unlock (&self->conns_lock);
        }
        free (known);
        *socket_context = NULL;
    }
}

static void
s_completed (void *cls, struct MHD_Connection *connection, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void) cls;
    (void) connection;
    (void) toe;
    gw_conn_t *conn = (gw_conn_t *) *con_cls;
    if (conn) {
        zframe_destroy (&conn->job.request);
        zframe_destroy (&conn->job.reply);
        gw_need_release (&conn->need);
        if (conn->local_release)
            conn->local_release (conn->local);
        free (conn->body);
        free (conn);
        *con_cls = NULL;
    }
}

static void __attribute__ ((format (printf, 2, 0)))
s_mhd_log (void *cls, const char *format, va_list args)
{
    (void) cls;
    char message [512];
    vsnprintf (message, sizeof (message), format, args);
    size_t len = strlen (message);
    while (len && message [len - 1] == '\n')
        message [--len] = 0;
    sb_warn ("http: %s", message);
}

//  The daemon's loop hosted by the broker (sb_broker_host), on the
//  broker's thread: a turn of libmicrohttpd's, and its next timeout.
static void
s_host_run (void *arg)
{
    MHD_run (((gw_t *) arg)->daemon);
}

static int
s_host_timeout (void *arg)
{
    MHD_UNSIGNED_LONG_LONG ms;
    if (MHD_get_timeout (((gw_t *) arg)->daemon, &ms) != MHD_YES)
        return -1;
    return ms > 60000 ? 60000 : (int) ms;
}

//  Frees what gw_http_new made before the daemon.
static void
s_release (gw_t *self)
{
    gw_auth_destroy (&self->auth);
    gw_ratelimit_destroy (&self->rates);
    sb_ents_destroy (&self->ents);
    gw_proxies_destroy (&self->proxies);
    zhashx_destroy (&self->conns);
    pthread_mutex_destroy (&self->conns_lock);
    gw_static_destroy (&self->docs);
    free (self);
}

//  Starts a libmicrohttpd server on addr: with threads 0, one whose loop
//  the caller runs (MHD_run; the broker's, sb_broker_host); else one of
//  that many threads of its own. NULL when it cannot listen.
static struct MHD_Daemon *
s_daemon_start (gw_t *self, const sb_config_t *config, struct sockaddr_in *addr,
                unsigned int threads)
{
    //  A pool of one is no pool (libmicrohttpd warns about a size below 2):
    //  then the slot carries the connection timeout, set again below.
    //  libmicrohttpd 0.9.75's only timeout is for silence (it restarts
    //  with every byte): a body that trickles is cut by our body deadline
    //  (s_access), headers that trickle are bounded by the connection's
    //  memory pool (below) and the cap of connections per address.
    unsigned int idle = (unsigned int) config->http_idle_seconds;
    return MHD_start_daemon (
        (threads ? MHD_USE_EPOLL_INTERNAL_THREAD : MHD_USE_EPOLL) | MHD_ALLOW_SUSPEND_RESUME
        | MHD_USE_ERROR_LOG,
        (uint16_t) config->http_port, s_accept, self, s_access, self,
        MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL,
        threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_CONNECTION_TIMEOUT,
        threads > 1 ? threads : idle,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, self,
        MHD_OPTION_NOTIFY_CONNECTION, s_notify, self,
        MHD_OPTION_CONNECTION_TIMEOUT, idle,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 10000,
        //  Request headers must fit in a connection's memory pool, else
        //  libmicrohttpd answers 431 itself, with an HTML page: 24 KiB
        //  holds some 22 KiB of headers, so that anything from our limit
        //  (GW_MAX_HEADERS, 16 KiB) to there gets our JSON 431; beyond it
        //  the HTML page remains (docs/API.md). Bodies are read into our
        //  own buffer. libmicrohttpd zeroes the pool between the requests
        //  of a keep-alive connection, which costs with its size: GET
        //  /healthz alone, 2 threads of wrk, 64 connections, measured:
        //  16 KiB 91,000 req/s, 24 KiB 87,400, 32 KiB 84,000, 72 KiB 70,000.
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) (24 * 1024),
        //  SO_REUSEPORT too: the second server binds the first's port.
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int) 1,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) addr,
        MHD_OPTION_END);
}

gw_t *
gw_http_new (const sb_config_t *config, sb_broker_t *broker)
{
    char why [160];
    gw_proxies_t *proxies = gw_proxies_new (config->trusted_proxies, why, sizeof (why));
    if (!proxies) {
        sb_error ("bad configuration: %s", why);
        return NULL;
    }
    if (config->operator_token && strlen (config->operator_token) < S_OPERATOR_TOKEN_MIN) {
        sb_error ("bad configuration: SWITCHBOARD_OPERATOR_TOKEN must have at least %d "
                  "characters", S_OPERATOR_TOKEN_MIN);
        gw_proxies_destroy (&proxies);
        return NULL;
    }
    gw_ratelimit_t *rates = gw_ratelimit_new (config, broker);
    if (!rates) {
        gw_proxies_destroy (&proxies);
        return NULL;
    }
    gw_t *self = (gw_t *) sb_calloc (1, sizeof (gw_t));
    self->broker = broker;
    self->default_deadline_ms = config->request_timeout_ms;
    self->body_ms = (int64_t) config->http_body_seconds * 1000;
    atomic_init (&self->stopping, false);
    self->auth = gw_auth_new (config);
    self->rates = rates;
    self->ents = sb_ents_new (config);
    self->proxies = proxies;
    if (config->operator_token) {
        self->has_operator = true;
        crypto_hash_sha256 (self->operator_hash, (const unsigned char *) config->operator_token,
                            strlen (config->operator_token));
    }
    self->conns_cap = config->http_conns_per_address;
    pthread_mutex_init (&self->conns_lock, NULL);
    self->conns = zhashx_new ();
    self->docs = gw_static_new (config->docs_dir);
    self->cookie_max_age = config->refresh_token_days * 86400;
    self->cookie_secure = config->public_url && strncmp (config->public_url, "https://", 8) == 0;

    struct sockaddr_in addr = { 0 };
    addr.sin_family = AF_INET;
    addr.sin_port = htons ((uint16_t) config->http_port);
    if (inet_pton (AF_INET, config->http_bind, &addr.sin_addr) != 1) {
        sb_error ("SWITCHBOARD_HTTP_BIND '%s' is not an IPv4 address", config->http_bind);
        s_release (self);
        return NULL;
    }
    //  By default half the cores, at least two (one on a single core): the
    //  broker's thread and one of its own. The gateway shares the machine
    //  with workers and PostgreSQL, so more threads mostly add context
    //  switches; but a second keeps the HTTP side's share of the CPU when
    //  the server is the whole cost (2 cores, GET /healthz, 2 threads of
    //  wrk, alternating runs on a loaded machine: the broker's thread
    //  alone 81-102k req/s, median 87k; with a second 88-120k, median
    //  102k), and it costs the API little: a request on the second server
    //  is handed to the broker and back (GET /v1/businesses: 47-57 us of
    //  gateway CPU a request, mean 51, against 44-55, mean 50; throughput
    //  within the runs' noise).
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    unsigned int threads = config->http_threads > 0 ? (unsigned int) config->http_threads
                         : cores < 2 ? 1 : cores < 4 ? 2 : (unsigned int) (cores / 2);
    //  The first HTTP loop is the broker's: libmicrohttpd runs without a
    //  thread of its own, its epoll descriptor polled by the broker's loop
    //  with the bus (sb_broker_host), so that a request goes to its worker
    //  and its reply back to the connection with no hand-off between
    //  threads (see the header). The others (threads - 1) are a second
    //  server of their own threads on the same port (SO_REUSEPORT: the
    //  kernel spreads the connections over both).
    self->daemon = s_daemon_start (self, config, &addr, 0);
    if (self->daemon && threads > 1) {
        //  The port the first bound (it may have been 0: any).
        const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                                MHD_DAEMON_INFO_BIND_PORT);
        if (info && info->port)
            addr.sin_port = htons (info->port);
        self->pool = s_daemon_start (self, config, &addr, threads - 1);
        if (!self->pool) {
            MHD_stop_daemon (self->daemon);
            self->daemon = NULL;
        }
    }
    if (!self->daemon) {
        sb_error ("cannot listen on %s:%d", config->http_bind, config->http_port);
        s_release (self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                            MHD_DAEMON_INFO_EPOLL_FD);
    if (!info || sb_broker_host (broker, info->epoll_fd, s_host_run, s_host_timeout, self)) {
        sb_error ("http: libmicrohttpd's loop cannot run on the broker's thread");
        if (self->pool)
            MHD_stop_daemon (self->pool);
        MHD_stop_daemon (self->daemon);
        s_release (self);
        return NULL;
    }
    char others [48] = "";
    if (threads > 1)
        snprintf (others, sizeof (others), " and %u of its own", threads - 1);
    sb_info ("http: listening on %s:%d with %u threads (the broker's%s); %d connections per "
             "address, idle %d s, bodies %d s; %zu trusted proxies; operator routes %s",
             config->http_bind, config->http_port, threads, others,
             config->http_conns_per_address, config->http_idle_seconds,
             config->http_body_seconds, gw_proxies_count (proxies),
             self->has_operator ? "on" : "off");
    return self;
}

void
gw_http_quiesce (gw_t *self)
{
    atomic_store (&self->stopping, true);
    gw_ratelimit_flush (self->rates);
}

void
gw_http_destroy (gw_t **self_p)
{
    gw_t *self = *self_p;
    if (self) {
        //  The broker's thread lets go of the loop first: libmicrohttpd
        //  is stopped from here.
        sb_broker_unhost (self->broker);
        if (self->pool)
            MHD_stop_daemon (self->pool);
        MHD_stop_daemon (self->daemon);
        s_release (self);
        *self_p = NULL;
    }
}
