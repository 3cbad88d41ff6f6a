/*  gw.h — the gateway's private declarations.

    The gateway is three parts: the route table (gw_routes.c), which maps a
    method and path to an operation on a service or to a local handler; the
    HTTP server (gw_http.c), which turns requests into envelopes, hands
    them to the broker and turns replies back into JSON; and main.c, which
    wires the broker, the event proxy and the HTTP server together. The
    HTTP server asks gw_auth.c who a request acts for and gw_ratelimit.c
    whether it may go on, and tells gw_metrics.c what it answered.
*/
#ifndef GW_H_INCLUDED
#define GW_H_INCLUDED

#include "sb/sb.h"

#define GW_MAX_BODY        (1024 * 1024)    //  request bodies above this get 413
#define GW_MAX_HEADERS     (16 * 1024)      //  request header fields above this get 431
#define GW_MAX_BODY_ANON   (64 * 1024)      //  the same on routes without authentication
#define GW_MAX_DEPTH       16                //  JSON nesting a request body may have
#define GW_MAX_PARAMS      4
#define GW_PARAM_MAX       128

typedef struct _gw_t gw_t;
typedef struct _gw_conn_t gw_conn_t;

//  A local handler answers without the bus (health, readiness).
typedef void (gw_local_fn) (gw_conn_t *conn);

//  Route flags.
#define GW_ROUTE_OPERATOR  1        //  for operators: SWITCHBOARD_OPERATOR_TOKEN
#define GW_ROUTE_RAW       2        //  the body is not parsed: args are {raw: bin of the
                                    //  body's bytes, signature: the route's signature
                                    //  header or nil, path, query, and the path's
                                    //  parameters} (gw_http.c)
#define GW_ROUTE_REST      4        //  the path's last {param} takes the rest of the path,
                                    //  slashes and all (at most GW_PARAM_MAX bytes)
#define GW_ROUTE_SESSION   8        //  the refresh token may travel in a cookie (gw_session.c)

typedef struct {
    const char *method;             //  "GET", "POST", ...
    const char *path;               //  "/v1/businesses/{id}"
    const char *service;            //  bus service, or NULL for a local route
    const char *op;                 //  operation on that service
    sb_role_t role;                 //  SB_ROLE_NONE: no authentication
    int deadline_ms;                //  0: SWITCHBOARD_REQUEST_TIMEOUT_MS
    gw_local_fn *local;
    size_t max_body;                //  0: GW_MAX_BODY_ANON without authentication, else GW_MAX_BODY
    int flags;                      //  GW_ROUTE_*
    const char *signature;          //  GW_ROUTE_RAW: the header carrying the sender's
                                    //  signature ("Stripe-Signature")
} gw_route_t;

typedef struct {
    const gw_route_t *route;        //  NULL when status is 404 or 405
    int status;                     //  0 matched, 404 or 405
    char allow [64];                //  for 405: the methods the path takes
    size_t param_count;
    struct {
        char name [32];
        char value [GW_PARAM_MAX + 1];
    } params [GW_MAX_PARAMS];
} gw_match_t;

//  Finds the route for method and path (the path without its query).
//  Always fills match; match->status says 0, 404 or 405.
void gw_routes_match (const char *method, const char *path, gw_match_t *match);

//  The route at index in the table, or NULL past its end (for the selftest
//  that holds the table against the services' operations).
const gw_route_t *gw_routes_at (size_t index);

//  The largest request body route takes (see max_body).
size_t gw_route_max_body (const gw_route_t *route);

//  The services that must have live workers for /readyz to answer 200.
extern const char *const gw_services [];

//  ---- authentication (gw_auth.c) ----------------------------------------

typedef struct _gw_auth_t gw_auth_t;

//  Who a request acts for, as the envelope will say.
typedef struct {
    char org [65];
    char sub [65];                  //  the user, "" for an API key
    char key [65];                  //  the API key's id, "" for a user
    char sid [65];                  //  the session of an access token
    char subdomain [64];            //  the organization's, when known
    sb_role_t role;
} gw_ident_t;

typedef struct {
    int status;                     //  401 or 403
    const char *code;
    const char *message;
} gw_denial_t;

//  A lookup the gateway must make over the bus before it can decide.
typedef struct {
    char op [32];                   //  on service auth, as role service
    msgpack_sbuffer args;           //  the arguments map
    char key_hash [65];             //  for apikeys.resolve: the cache key
    char sid [65];                  //  for sessions.revoked: the session asked about
    char org [65];                  //  for orgs.suspended: the organization asked about
    uint64_t generation;            //  revocations seen when it was made
} gw_need_t;

typedef enum { GW_AUTH_OK, GW_AUTH_DENIED, GW_AUTH_NEED } gw_auth_result_t;

//  Starts the authentication state and its event actor. NULL on failure.
gw_auth_t *gw_auth_new (const sb_config_t *config);
void gw_auth_destroy (gw_auth_t **self_p);

//  Decides a request from its Authorization / X-API-Key / Host headers
//  (any may be NULL) and the role the route needs: OK fills ident; DENIED
//  fills denial; NEED fills need (release it with gw_need_release) — run
//  it, give the reply to gw_auth_apply, then check again.
gw_auth_result_t gw_auth_check (gw_auth_t *self, const char *authorization, const char *api_key,
                                const char *host, sb_role_t required, gw_ident_t *ident,
                                gw_denial_t *denial, gw_need_t *need);
//  The credential of a request's headers (either may be NULL):
//  Authorization's value after "Bearer " (any case) and any spaces, else
//  X-API-Key's; NULL when there is none, when Authorization has another
//  scheme, or when the value is empty. Borrowed from the arguments.
const char *gw_auth_credential (const char *authorization, const char *api_key);
//  Stores what a lookup answered (reply may be NULL when it failed).
void gw_auth_apply (gw_auth_t *self, const gw_need_t *need, const sb_reply_msg_t *reply);
void gw_need_release (gw_need_t *need);

void gw_auth_test (bool verbose);
//  ---- client addresses (gw_addr.c) -------------------------------------

//  An IPv4 or IPv6 address (IPv4-mapped IPv6 is held as IPv4).
typedef struct {
    int family;                     //  AF_INET, AF_INET6, 0 when unknown
    unsigned char bytes [16];       //  the first 4 for AF_INET
} gw_addr_t;

//  The text of a formatted address or limit key fits this.
#define GW_ADDR_TEXT 64

//  Parses an address (no prefix, no port, no name): 0, or -1 when text is
//  not one.
int gw_addr_parse (gw_addr_t *addr, const char *text);
//  The address of an AF_INET or AF_INET6 sockaddr: 0, else -1.
int gw_addr_from_sockaddr (gw_addr_t *addr, const struct sockaddr *sa);
//  The address as text ("" when unknown).
void gw_addr_format (const gw_addr_t *addr, char *buf, size_t size);
//  What per-address limits count by: an IPv4 address itself, an IPv6
//  address's /64 ("2001:db8:1:2::/64").
void gw_addr_key (const gw_addr_t *addr, char *buf, size_t size);

//  The trusted proxies of SWITCHBOARD_TRUSTED_PROXIES.
typedef struct _gw_proxies_t gw_proxies_t;

//  Parses a comma-separated list of addresses and CIDRs (NULL or "": none).
//  NULL, with the reason naming the setting in why, when an entry is not
//  valid.
gw_proxies_t *gw_proxies_new (const char *list, char *why, size_t why_size);
void gw_proxies_destroy (gw_proxies_t **self_p);
size_t gw_proxies_count (const gw_proxies_t *self);
//  True when addr is in one of the trusted ranges.
bool gw_proxies_trusts (const gw_proxies_t *self, const gw_addr_t *addr);
//  The client of a request that came from peer with the X-Forwarded-For
//  header xff (NULL: none): the rightmost entry that is not a trusted
//  proxy when peer is trusted; peer itself when it is not, or when an entry
//  that must be read is not an address.
void gw_proxies_client (const gw_proxies_t *self, const gw_addr_t *peer, const char *xff,
                        gw_addr_t *client);

void gw_addr_test (bool verbose);

//  ---- rate limits and request counting (gw_ratelimit.c) ----------------

typedef struct _gw_ratelimit_t gw_ratelimit_t;

//  What a limit says about one request, for the RateLimit headers.
typedef struct {
    bool shown;                     //  false: no limit applies, no headers
    int64_t limit;                  //  requests per minute at this gateway
    int64_t remaining;              //  after this request
    int64_t reset;                  //  seconds until the window resets
    int64_t retry_after;            //  seconds, when refused
} gw_rate_t;

//  Starts the limiter and its actor, which sends the requests counted to
//  usage-svc every second through broker. Broker is borrowed and must
//  outlive it. NULL (logged) when SWITCHBOARD_RATE_SHARE is not valid.
gw_ratelimit_t *gw_ratelimit_new (const sb_config_t *config, sb_broker_t *broker);
//  Stops the actor, which tries once to send what is left.
void gw_ratelimit_destroy (gw_ratelimit_t **self_p);

//  Counts one authenticated request of org against per_minute, its
//  entitlement's requests per minute (-1: unlimited): true when admitted
//  (and counted for usage), false when over the limit. Fills rate either
//  way.
bool gw_ratelimit_org (gw_ratelimit_t *self, const char *org, int64_t per_minute,
                       gw_rate_t *rate);

//  For signup, login and password forgot/reset (by op), counts one request
//  from client_ip: 0 when admitted (and for any other op), else the
//  seconds to wait.
int64_t gw_ratelimit_client (gw_ratelimit_t *self, const char *op, const char *client_ip);

//  Failed credentials per client address (SWITCHBOARD_AUTH_FAILURES_PER_
//  MINUTE, 0: off). gw_ratelimit_failures_wait answers, without counting,
//  the seconds client must wait before a credential of its is looked at
//  (0: now); gw_ratelimit_failure counts one failure.
int64_t gw_ratelimit_failures_wait (gw_ratelimit_t *self, const char *client);
void gw_ratelimit_failure (gw_ratelimit_t *self, const char *client);

//  Sends every count held now to usage-svc (one attempt) and returns when
//  done: for a gateway about to stop.
void gw_ratelimit_flush (gw_ratelimit_t *self);

void gw_ratelimit_test (bool verbose);

//  ---- metrics (gw_metrics.c) --------------------------------------------

typedef enum { GW_LIMIT_ORG, GW_LIMIT_CLIENT, GW_LIMIT_FAILURES } gw_limit_kind_t;

//  A monotonic clock in microseconds, for the latencies below.
int64_t gw_metrics_now_us (void);
//  Counts an answered request of route (NULL: no route matched) with
//  status, micros after its headers came in. Lock-free, any thread.
void gw_metrics_request (const gw_route_t *route, int status, int64_t micros);
//  Counts a bus round trip to service: status as the broker's job says
//  (0 a reply, 503, 504), micros after it was submitted.
void gw_metrics_bus (const char *service, int status, int64_t micros);
//  Counts a request refused by a rate limit of kind.
void gw_metrics_limited (gw_limit_kind_t kind);
//  GET /metrics (local route): see gw_metrics.c.
void gw_metrics_scrape (gw_conn_t *conn);
void gw_metrics_test (bool verbose);

//  ---- the HTTP server (gw_http.c) ---------------------------------------

//  Local handlers.
void gw_http_healthz (gw_conn_t *conn);
void gw_http_readyz (gw_conn_t *conn);

//  For a local handler that waits on the bus (gw_metrics_scrape): it
//  suspends its connection and submits jobs to the broker; the last job's
//  done callback resumes it, and the handler is then called again, finding
//  the state it set with gw_http_set_local (released with release once the
//  request is over). gw_http_respond answers with a body of another
//  content type than JSON (buf is taken).
sb_broker_t *gw_http_broker (gw_conn_t *conn);
const char *gw_http_request_id (gw_conn_t *conn);
void gw_http_suspend (gw_conn_t *conn);
void gw_http_resume (gw_conn_t *conn);
void *gw_http_local (gw_conn_t *conn);
void gw_http_set_local (gw_conn_t *conn, void *state, void (*release) (void *));
void gw_http_respond (gw_conn_t *conn, int status, const char *content_type,
                      msgpack_sbuffer *buf);
//  True when the request may read what operators read: no operator token
//  is configured, or it carries it. Else answers it (401, or 429 while its
//  address is refused for failed credentials) and returns false.
bool gw_http_operator_or_open (gw_conn_t *conn);

//  What s_forward makes of a request for a service (not a raw route),
//  without the connection, for the selftests and tests/fuzz:
//  gw_http_body_args turns the body (size bytes; none when 0) into the
//  arguments object: NULL, with the 400's message in why, unless it is a
//  JSON object nesting at most GW_MAX_DEPTH levels. gw_http_arg_set then
//  sets each query parameter, then each path parameter, as a string
//  (value NULL: ""), replacing what was there: false when the name is
//  empty or the name or value is not valid UTF-8 (a 400).
//  gw_http_idempotency_key reads the Idempotency-Key header value key
//  (NULL: none) of a request: see s_idempotency_key.
json_t *gw_http_body_args (const char *body, size_t size, char *why, size_t why_size);
bool gw_http_arg_set (json_t *args, const char *name, const char *value);
bool gw_http_idempotency_key (const char *method, const char *key, char idem [SB_IDEM_MAX + 1]);
//  A raw route's arguments, appended to out: {raw: body (size bytes) as
//  bin, signature: the route's signature header's value or nil, path,
//  query: [[name, value], ...] from query (count name/value pairs, a NULL
//  value packs ""), then each of match's params by its name}.
void gw_http_raw_args (msgpack_sbuffer *out, const gw_match_t *match, const char *body, size_t size,
                       const char *signature, const char *path, const char *const *query,
                       size_t count);

//  Starts the HTTP server. Returns NULL when the port cannot be bound.
gw_t *gw_http_new (const sb_config_t *config, sb_broker_t *broker);
//  Stops answering new work: requests from now on get 503; the requests
//  counted so far go to usage-svc.
void gw_http_quiesce (gw_t *self);
void gw_http_destroy (gw_t **self_p);

void gw_routes_test (bool verbose);

//  What a local handler outside gw_http.c answers with. gw_http_send
//  queues response (borrowed: the caller's reference is dropped) with
//  X-Request-Id and nothing else added; gw_http_error answers in the API's
//  error shape.
struct MHD_Response;
const gw_match_t *gw_http_match (gw_conn_t *conn);
const char *gw_http_header (gw_conn_t *conn, const char *name);
void gw_http_send (gw_conn_t *conn, int status, struct MHD_Response *response);
void gw_http_error (gw_conn_t *conn, int status, const char *code, const char *message);

//  ---- /docs: the API reference and the guides (gw_static.c) --------------

typedef struct _gw_static_t gw_static_t;

//  Reads the built documentation in dir (NULL or "": ../share/docs next to
//  the binary) into memory. Never NULL: without it, /docs answers 503.
gw_static_t *gw_static_new (const char *dir);
void gw_static_destroy (gw_static_t **self_p);
//  The gateway's (in gw_http.c).
gw_static_t *gw_http_docs (gw_conn_t *conn);

//  Local handlers: GET /docs, /docs/assets/{name}, /docs/guides/ and
//  /docs/guides/{name}.
void gw_static_reference (gw_conn_t *conn);
void gw_static_asset (gw_conn_t *conn);
void gw_static_guides (gw_conn_t *conn);
void gw_static_guide (gw_conn_t *conn);
//  The dashboard (share/www beside share/docs): GET /, /app, /app/ and
//  /app/{path...} answer its index.html; /app/assets/{name} its files.
void gw_static_app (gw_conn_t *conn);
void gw_static_app_asset (gw_conn_t *conn);

void gw_static_test (bool verbose);

//  ---- the dashboard's refresh cookie (gw_session.c) ---------------------

struct MHD_Connection;

#define GW_SESSION_TOKEN_MAX  128   //  characters of a refresh token in the cookie, at most
#define GW_SESSION_HEADER_MAX 256   //  a Set-Cookie value, at most

//  True when route is a session route and the request asks for the cookie
//  (Switchboard-Session: cookie).
bool gw_session_wanted (struct MHD_Connection *connection, const gw_route_t *route);
//  The request's sb_refresh cookie when well formed, else NULL. Borrowed
//  from the connection.
const char *gw_session_cookie (struct MHD_Connection *connection);
//  Writes the Set-Cookie value that keeps token (NULL: clears the cookie)
//  into out. False when token is not a well-formed token or out is too
//  small.
bool gw_session_set_cookie (char *out, size_t size, const char *token, int max_age, bool secure);
//  Writes the Set-Cookie value of the page's hint (sb_session=1 on /, no
//  secret) that goes with it: set, or cleared.
bool gw_session_set_hint (char *out, size_t size, bool set, int max_age, bool secure);
void gw_session_test (bool verbose);

//  ---- the API reference (gw_openapi.c) ---------------------------------

//  The OpenAPI document (docs/openapi.yaml as JSON), embedded at build
//  time; sets *size. Static: never freed.
const char *gw_openapi_document (size_t *size);
//  GET /openapi.json: the document, cacheable.
void gw_http_openapi (gw_conn_t *conn);
//  Holds the document's paths to the route table, both ways.
void gw_openapi_test (bool verbose);

#endif
