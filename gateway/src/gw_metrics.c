/*  gw_metrics.c — what the gateway counts, and GET /metrics.

    The gateway counts, in memory, what passes through it: HTTP requests
    by route template (the route table's "GET /v1/businesses/{id}", never
    the raw path; a path no route has is "unmatched") and status, their
    latency, bus round trips by service and outcome, and the requests the
    rate limits refused, by kind. No label ever names an organization, a
    client or a path: the label sets are fixed by the route table, the
    status table and the service list. A request counts once answered (a
    connection closed without an answer is not counted); the counts live
    in the process and start from zero with it, as Prometheus expects of
    counters.

    The HTTP threads and the broker's thread count on the hot path, so
    counting takes no lock: every figure is a relaxed atomic add into a
    fixed array, indexed by route and status slot. The arrays are sharded,
    one shard per counting thread (a thread takes the next shard the first
    time it counts, round-robin over S_SHARDS), so that two threads do not
    fight over one cache line; a scrape sums the shards. A scrape reads
    while threads count: a histogram's count is the sum of its buckets, so
    the two always agree, and its sum may lag by a request.

    GET /metrics (Prometheus text format 0.0.4) also reports the live
    workers of each service (the broker's count, as /readyz reads it) and
    each service's own figures: at scrape time the gateway asks every
    service `sys.stats` over the bus (role service, all at once, at most
    S_STATS_MS) and merges the gauges they answer (outbox backlogs, webhook
    events ...: global figures read from each service's database, so any
    one worker answers) under switchboard_<name>{service="x",...}. A
    service that does not answer in time, or answers badly, is
    switchboard_service_up{service="x"} 0 and adds no gauges. The
    connection is suspended while the services answer, like any request
    for a service: no HTTP thread waits.

    A service's gauge names and labels come from its own SQL, yet they are
    checked here all the same: a name or label name that is not
    [a-z_][a-z0-9_]* (at most 64 characters), or past S_GAUGES_MAX gauges
    of one service, is dropped; label values are escaped as the format
    wants.

    The gateway's bounded caches (sb/lru.h: API keys, unknown keys, access
    tokens, subdomains, entitlements, rate-limit windows ...) are reported
    by name: switchboard_cache_entries and _capacity (gauges), and
    switchboard_cache_hits_total, _misses_total and _evictions_total
    (counters), labelled cache="<name>" (a fixed set, the names in the
    code; a sharded table is one figure).

    Who may scrape: anyone when no SWITCHBOARD_OPERATOR_TOKEN is set;
    otherwise only "Authorization: Bearer <the operator token>" (401 else,
    counted as a refused credential): Prometheus sends it with
    `authorization: {credentials_file: ...}` in its scrape config.
*/
#include "gw.h"
#include "sb/lru.h"
#include <stdatomic.h>
#include <time.h>

#define S_SHARDS        4
#define S_ROUTES_MAX    192         //  route table entries, at most (selftest checks)
#define S_SERVICES_MAX  8           //  gw_services entries, at most (selftest checks)
#define S_STATS_MS      1000        //  how long a scrape waits for sys.stats
#define S_GAUGES_MAX    256         //  gauges taken from one service
#define S_NAME_MAX      64

//  The statuses counted under their own code; any other counts under its
//  class ("2xx" ...).
static const int s_statuses [] = {
    200, 201, 202, 204, 301, 302, 304, 400, 401, 402, 403, 404, 405, 409, 410, 412,
    413, 415, 422, 428, 429, 431, 500, 501, 502, 503, 504
};
#define S_STATUS_CODES  (sizeof (s_statuses) / sizeof (s_statuses [0]))
#define S_STATUS_SLOTS  (S_STATUS_CODES + 5)

//  Latency buckets, in microseconds (upper bounds; +Inf besides).
static const int64_t s_buckets [] = {
    1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
    5000000, 10000000
};
#define S_BUCKETS  (sizeof (s_buckets) / sizeof (s_buckets [0]) + 1)

static const char *const s_bus_outcomes [] = { "reply", "unavailable", "timeout" };
#define S_BUS_OUTCOMES 3

static const char *const s_limit_kinds [] = { "organization", "client_address", "failures" };

typedef struct {
    //  Slot 0 of routes is "unmatched"; route i of the table is slot i + 1.
    atomic_uint_fast64_t requests [S_ROUTES_MAX + 1][S_STATUS_SLOTS];
    atomic_uint_fast64_t latency [S_ROUTES_MAX + 1][S_BUCKETS];
    atomic_uint_fast64_t latency_us [S_ROUTES_MAX + 1];
    //  Slot S_SERVICES_MAX: a service not in gw_services.
    atomic_uint_fast64_t bus [S_SERVICES_MAX + 1][S_BUS_OUTCOMES];
    atomic_uint_fast64_t bus_latency [S_SERVICES_MAX + 1][S_BUCKETS];
    atomic_uint_fast64_t bus_latency_us [S_SERVICES_MAX + 1];
    atomic_uint_fast64_t limited [3];
    char pad [64];
} s_shard_t;

//  Zero-initialized, as atomics of static storage are.
static s_shard_t s_shards [S_SHARDS];
static atomic_uint s_next_shard;
static _Thread_local s_shard_t *s_mine;

static s_shard_t *
s_shard (void)
{
    if (!s_mine)
        s_mine = &s_shards [atomic_fetch_add_explicit (&s_next_shard, 1, memory_order_relaxed)
                            % S_SHARDS];
    return s_mine;
}

static void
s_add (atomic_uint_fast64_t *cell, uint64_t n)
{
    atomic_fetch_add_explicit (cell, n, memory_order_relaxed);
}

static uint64_t
s_sum (size_t offset)
{
    uint64_t total = 0;
    for (size_t i = 0; i < S_SHARDS; i++)
        total += atomic_load_explicit ((atomic_uint_fast64_t *) ((char *) &s_shards [i] + offset),
                                       memory_order_relaxed);
    return total;
}

#define S_SUM(field) s_sum (offsetof (s_shard_t, field))

static size_t
s_status_slot (int status)
{
    for (size_t i = 0; i < S_STATUS_CODES; i++)
        if (s_statuses [i] == status)
            return i;
    int class = status / 100;
    return S_STATUS_CODES + (size_t) (class >= 1 && class <= 5 ? class - 1 : 4);
}

static void
s_status_label (size_t slot, char *buf, size_t size)
{
    if (slot < S_STATUS_CODES)
        snprintf (buf, size, "%d", s_statuses [slot]);
    else
        //  A class 1..5 ("4xx"): one digit.
        snprintf (buf, size, "%dxx", (int) ((slot - S_STATUS_CODES) % 5) + 1);
}

static size_t
s_bucket (int64_t micros)
{
    size_t i = 0;
    while (i < S_BUCKETS - 1 && micros > s_buckets [i])
        i++;
    return i;
}

static size_t
s_route_slot (const gw_route_t *route)
{
    if (!route)
        return 0;
    size_t index = (size_t) (route - gw_routes_at (0));
    return index < S_ROUTES_MAX ? index + 1 : 0;
}

static size_t
s_service_slot (const char *service)
{
    for (size_t i = 0; i < S_SERVICES_MAX && gw_services [i]; i++)
        if (streq (gw_services [i], service))
            return i;
    return S_SERVICES_MAX;
}

int64_t
gw_metrics_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
gw_metrics_request (const gw_route_t *route, int status, int64_t micros)
{
    s_shard_t *shard = s_shard ();
    size_t slot = s_route_slot (route);
    s_add (&shard->requests [slot][s_status_slot (status)], 1);
    s_add (&shard->latency [slot][s_bucket (micros)], 1);
    s_add (&shard->latency_us [slot], (uint64_t) (micros > 0 ? micros : 0));
}

void
gw_metrics_bus (const char *service, int status, int64_t micros)
{
    s_shard_t *shard = s_shard ();
    size_t slot = s_service_slot (service);
    s_add (&shard->bus [slot][status == 0 ? 0 : status == 504 ? 2 : 1], 1);
    s_add (&shard->bus_latency [slot][s_bucket (micros)], 1);
    s_add (&shard->bus_latency_us [slot], (uint64_t) (micros > 0 ? micros : 0));
}

void
gw_metrics_limited (gw_limit_kind_t kind)
{
    if ((int) kind >= 0 && (int) kind < 3)
        s_add (&s_shard ()->limited [kind], 1);
}

//  ---------------------------------------------------------------------
//  The text

static void
s_printf (msgpack_sbuffer *buf, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

static void
s_printf (msgpack_sbuffer *buf, const char *format, ...)
{
    char line [1024];
    va_list args;
    va_start (args, format);
    int len = vsnprintf (line, sizeof (line), format, args);
    va_end (args);
    if (len > 0)
        msgpack_sbuffer_write (buf, line, (size_t) len < sizeof (line) ? (size_t) len
                                                                        : sizeof (line) - 1);
}

static void
s_family (msgpack_sbuffer *buf, const char *name, const char *type, const char *help)
{
    s_printf (buf, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  A label value as the text format wants it: \\, \" and \n escaped.
static void
s_escape (const char *value, char *buf, size_t size)
{
    size_t n = 0;
    for (; *value && n + 3 < size; value++) {
        if (*value == '\\' || *value == '"') {
            buf [n++] = '\\';
            buf [n++] = *value;
        }
        else
        if (*value == '\n') {
            buf [n++] = '\\';
            buf [n++] = 'n';
        }
        else
            buf [n++] = *value;
    }
    buf [n] = 0;
}

//  True for a metric or label name we take: [a-z_][a-z0-9_]*, at most
//  S_NAME_MAX characters, not starting with "__" (reserved).
static bool
s_name_ok (const char *name)
{
    size_t len = strlen (name);
    if (len == 0 || len > S_NAME_MAX || strncmp (name, "__", 2) == 0
        || (name [0] >= '0' && name [0] <= '9'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((name [i] >= 'a' && name [i] <= 'z') || (name [i] >= '0' && name [i] <= '9')
              || name [i] == '_'))
            return false;
    return true;
}

static void
s_seconds (char *buf, size_t size, uint64_t micros)
{
    snprintf (buf, size, "%llu.%06llu", (unsigned long long) (micros / 1000000),
              (unsigned long long) (micros % 1000000));
}

//  One histogram's lines, labels being `name="value"` (without braces).
static void
s_histogram (msgpack_sbuffer *buf, const char *name, const char *labels, const uint64_t *buckets,
             uint64_t sum_us)
{
    uint64_t cumulative = 0;
    char le [32];
    for (size_t i = 0; i < S_BUCKETS; i++) {
        cumulative += buckets [i];
        if (i < S_BUCKETS - 1) {
            s_seconds (le, sizeof (le), (uint64_t) s_buckets [i]);
            //  "0.001000" -> "0.001"
            size_t len = strlen (le);
            while (len > 1 && le [len - 1] == '0')
                le [--len] = 0;
            if (le [len - 1] == '.')
                le [--len] = 0;
        }
        else
            snprintf (le, sizeof (le), "+Inf");
        s_printf (buf, "%s_bucket{%s,le=\"%s\"} %llu\n", name, labels, le,
                  (unsigned long long) cumulative);
    }
    char sum [32];
    s_seconds (sum, sizeof (sum), sum_us);
    s_printf (buf, "%s_sum{%s} %s\n", name, labels, sum);
    s_printf (buf, "%s_count{%s} %llu\n", name, labels, (unsigned long long) cumulative);
}

static void
s_route_label (size_t slot, char *buf, size_t size)
{
    const gw_route_t *route = slot ? gw_routes_at (slot - 1) : NULL;
    char raw [160];
    if (route)
        snprintf (raw, sizeof (raw), "%s %s", route->method, route->path);
    else
        snprintf (raw, sizeof (raw), "unmatched");
    s_escape (raw, buf, size);
}

static void
s_write_counters (msgpack_sbuffer *buf)
{
    char route [320], status [8], labels [400];
    size_t routes = 1;
    while (routes <= S_ROUTES_MAX && gw_routes_at (routes - 1))
        routes++;

    s_family (buf, "switchboard_http_requests_total", "counter",
              "HTTP requests answered, by route template and status.");
    for (size_t r = 0; r < routes; r++)
        for (size_t s = 0; s < S_STATUS_SLOTS; s++) {
            uint64_t n = S_SUM (requests [r][s]);
            if (!n)
                continue;
            s_route_label (r, route, sizeof (route));
            s_status_label (s, status, sizeof (status));
            s_printf (buf, "switchboard_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
                      route, status, (unsigned long long) n);
        }

    s_family (buf, "switchboard_http_request_duration_seconds", "histogram",
              "Time from a request's headers to its answer, by route template.");
    for (size_t r = 0; r < routes; r++) {
        uint64_t buckets [S_BUCKETS], total = 0;
        for (size_t b = 0; b < S_BUCKETS; b++)
            total += buckets [b] = S_SUM (latency [r][b]);
        if (!total)
            continue;
        s_route_label (r, route, sizeof (route));
        snprintf (labels, sizeof (labels), "route=\"%s\"", route);
        s_histogram (buf, "switchboard_http_request_duration_seconds", labels, buckets,
                     S_SUM (latency_us [r]));
    }

    s_family (buf, "switchboard_bus_requests_total", "counter",
              "Requests the gateway sent over the bus, by service and outcome "
              "(reply, unavailable: no live worker or it vanished, timeout).");
    for (size_t v = 0; v <= S_SERVICES_MAX; v++) {
        if (v < S_SERVICES_MAX && !gw_services [v])
            v = S_SERVICES_MAX;
        const char *service = v < S_SERVICES_MAX ? gw_services [v] : "other";
        for (size_t o = 0; o < S_BUS_OUTCOMES; o++) {
            uint64_t n = S_SUM (bus [v][o]);
            if (n || v < S_SERVICES_MAX)
                s_printf (buf, "switchboard_bus_requests_total{service=\"%s\",outcome=\"%s\"} "
                          "%llu\n", service, s_bus_outcomes [o], (unsigned long long) n);
        }
    }
    s_family (buf, "switchboard_bus_round_trip_seconds", "histogram",
              "Time from handing a request to the broker to its answer, by service.");
    for (size_t v = 0; v <= S_SERVICES_MAX; v++) {
        if (v < S_SERVICES_MAX && !gw_services [v])
            v = S_SERVICES_MAX;
        uint64_t buckets [S_BUCKETS], total = 0;
        for (size_t b = 0; b < S_BUCKETS; b++)
            total += buckets [b] = S_SUM (bus_latency [v][b]);
        if (!total && v == S_SERVICES_MAX)
            continue;
        snprintf (labels, sizeof (labels), "service=\"%s\"",
                  v < S_SERVICES_MAX ? gw_services [v] : "other");
        s_histogram (buf, "switchboard_bus_round_trip_seconds", labels, buckets,
                     S_SUM (bus_latency_us [v]));
    }

    s_family (buf, "switchboard_rate_limited_total", "counter",
              "Requests refused 429 by a rate limit, by kind (organization: its plan's "
              "requests per minute; client_address: signup, login and password routes; "
              "failures: refused credentials).");
    for (size_t k = 0; k < 3; k++)
        s_printf (buf, "switchboard_rate_limited_total{kind=\"%s\"} %llu\n", s_limit_kinds [k],
                  (unsigned long long) S_SUM (limited [k]));
}

//  The bounded caches: one family at a time, each with every cache.
typedef struct {
    msgpack_sbuffer *buf;
    const char *family;
    int which;                      //  0 entries, 1 capacity, 2 hits, 3 misses, 4 evictions
} s_cache_pass_t;

static void
s_cache_line (const sb_lru_stats_t *stats, void *arg)
{
    s_cache_pass_t *pass = (s_cache_pass_t *) arg;
    uint64_t values [] = { stats->size, stats->capacity, stats->hits, stats->misses,
                           stats->evictions };
    if (s_name_ok (stats->name))
        s_printf (pass->buf, "%s{cache=\"%s\"} %llu\n", pass->family, stats->name,
                  (unsigned long long) values [pass->which]);
}

static void
s_write_caches (msgpack_sbuffer *buf)
{
    static const struct {
        const char *name, *type, *help;
    } families [] = {
        { "switchboard_cache_entries", "gauge", "Entries in a bounded cache of the gateway, by cache." },
        { "switchboard_cache_capacity", "gauge",
          "Entries a bounded cache holds at most (its setting), by cache." },
        { "switchboard_cache_hits_total", "counter", "Lookups a cache answered, by cache." },
        { "switchboard_cache_misses_total", "counter",
          "Lookups a cache could not answer (asked elsewhere), by cache." },
        { "switchboard_cache_evictions_total", "counter",
          "Entries evicted, least recently used first, to make room, by cache." },
    };
    for (int f = 0; f < 5; f++) {
        s_family (buf, families [f].name, families [f].type, families [f].help);
        s_cache_pass_t pass = { .buf = buf, .family = families [f].name, .which = f };
        sb_lru_report (s_cache_line, &pass);
    }
}

//  ---------------------------------------------------------------------
//  The scrape

typedef struct {
    gw_conn_t *conn;
    size_t count;
    atomic_size_t pending;
    struct {
        char service [SB_SERVICE_NAME_MAX + 1];
        sb_job_t job;
    } asks [S_SERVICES_MAX];
} s_scrape_t;

static void
s_scrape_release (void *arg)
{
    s_scrape_t *scrape = (s_scrape_t *) arg;
    for (size_t i = 0; i < scrape->count; i++) {
        zframe_destroy (&scrape->asks [i].job.request);
        zframe_destroy (&scrape->asks [i].job.reply);
    }
    free (scrape);
}

static void
s_ask_done (sb_job_t *job)
{
    //  On the broker's thread: the last answer wakes the connection.
    s_scrape_t *scrape = (s_scrape_t *) job->arg;
    if (atomic_fetch_sub (&scrape->pending, 1) == 1)
        gw_http_resume (scrape->conn);
}

//  One gauge a service answered, kept for the merge.
typedef struct {
    const char *service;
    const msgpack_object *gauge;
} s_gauge_t;

static const char *
s_gauge_help (const char *name)
{
    if (streq (name, "outbox_backlog"))
        return "Rows of an outbox not yet delivered, by service and outbox.";
    if (streq (name, "outbox_oldest_seconds"))
        return "Age of the oldest row of an outbox not yet delivered (0: none), by service "
               "and outbox.";
    if (streq (name, "webhook_events"))
        return "Stripe events received and kept, by type and outcome.";
    return "A figure the service reports (sys.stats).";
}

static void
s_gauge_line (msgpack_sbuffer *buf, const char *name, const s_gauge_t *gauge)
{
    const msgpack_object *value = sb_mpk_get (gauge->gauge, "value");
    double number;
    if (value && value->type == MSGPACK_OBJECT_FLOAT64)
        number = value->via.f64;
    else
    if (value && value->type == MSGPACK_OBJECT_FLOAT32)
        number = value->via.f64;
    else
    if (value && value->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        number = (double) value->via.u64;
    else
    if (value && value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        number = (double) value->via.i64;
    else
        return;
    char labels [1024];
    snprintf (labels, sizeof (labels), "service=\"%s\"", gauge->service);
    const msgpack_object *map = sb_mpk_get (gauge->gauge, "labels");
    if (map && map->type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < map->via.map.size; i++) {
            char key [S_NAME_MAX + 1], text [256], escaped [520];
            if (sb_mpk_copy_str (&map->via.map.ptr [i].key, key, sizeof (key))
                || !s_name_ok (key) || streq (key, "service")
                || sb_mpk_copy_str (&map->via.map.ptr [i].val, text, sizeof (text)))
                continue;
            s_escape (text, escaped, sizeof (escaped));
            size_t len = strlen (labels);
            snprintf (labels + len, sizeof (labels) - len, ",%s=\"%s\"", key, escaped);
        }
    s_printf (buf, "switchboard_%s{%s} %.15g\n", name, labels, number);
}

static void
s_write_services (msgpack_sbuffer *buf, s_scrape_t *scrape)
{
    s_family (buf, "switchboard_workers", "gauge",
              "Live workers registered with the broker, by service.");
    for (size_t i = 0; i < S_SERVICES_MAX && gw_services [i]; i++)
        s_printf (buf, "switchboard_workers{service=\"%s\"} %zu\n", gw_services [i],
                  sb_broker_worker_count (gw_http_broker (scrape->conn), gw_services [i]));

    sb_reply_msg_t replies [S_SERVICES_MAX];
    bool up [S_SERVICES_MAX];
    size_t kept = 0;
    s_gauge_t *gauges = (s_gauge_t *) sb_calloc (S_SERVICES_MAX * S_GAUGES_MAX,
                                                 sizeof (s_gauge_t));
    for (size_t i = 0; i < scrape->count; i++) {
        sb_job_t *job = &scrape->asks [i].job;
        char why [128];
        memset (&replies [i], 0, sizeof (replies [i]));
        up [i] = job->status == 0 && job->reply
                 && sb_reply_decode (&replies [i], zframe_data (job->reply),
                                     zframe_size (job->reply), why, sizeof (why)) == 0
                 && replies [i].status == 200;
        const msgpack_object *list = up [i] ? sb_mpk_get (replies [i].body, "gauges") : NULL;
        if (up [i] && (!list || list->type != MSGPACK_OBJECT_ARRAY))
            up [i] = false;
        for (uint32_t g = 0; up [i] && g < list->via.array.size && g < S_GAUGES_MAX; g++) {
            char name [S_NAME_MAX + 1];
            const msgpack_object *gauge = &list->via.array.ptr [g];
            if (sb_mpk_copy_str (sb_mpk_get (gauge, "name"), name, sizeof (name))
                || !s_name_ok (name))
                continue;
            gauges [kept].service = scrape->asks [i].service;
            gauges [kept++].gauge = gauge;
        }
    }
    s_family (buf, "switchboard_service_up", "gauge",
              "1 when the service answered sys.stats for this scrape, else 0.");
    for (size_t i = 0; i < scrape->count; i++)
        s_printf (buf, "switchboard_service_up{service=\"%s\"} %d\n", scrape->asks [i].service,
                  up [i] ? 1 : 0);

    //  The gauges, one family at a time (the format wants a family's
    //  samples together), in the order their names first appear.
    for (size_t i = 0; i < kept; i++) {
        char name [S_NAME_MAX + 1], full [S_NAME_MAX + 16], other [S_NAME_MAX + 1];
        sb_mpk_copy_str (sb_mpk_get (gauges [i].gauge, "name"), name, sizeof (name));
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++) {
            sb_mpk_copy_str (sb_mpk_get (gauges [j].gauge, "name"), other, sizeof (other));
            seen = streq (name, other);
        }
        if (seen)
            continue;
        snprintf (full, sizeof (full), "switchboard_%s", name);
        s_family (buf, full, "gauge", s_gauge_help (name));
        for (size_t j = i; j < kept; j++) {
            sb_mpk_copy_str (sb_mpk_get (gauges [j].gauge, "name"), other, sizeof (other));
            if (streq (name, other))
                s_gauge_line (buf, name, &gauges [j]);
        }
    }
    free (gauges);
    for (size_t i = 0; i < scrape->count; i++)
        sb_reply_msg_release (&replies [i]);
}

//  Asks every service (not a lane: the same database) for sys.stats:
//  true when the connection is suspended for their answers, false when
//  there is nobody to ask.
static bool
s_scrape_start (gw_conn_t *conn)
{
    s_scrape_t *scrape = (s_scrape_t *) sb_calloc (1, sizeof (s_scrape_t));
    scrape->conn = conn;
    for (size_t i = 0; i < S_SERVICES_MAX && gw_services [i]; i++)
        if (!strchr (gw_services [i], '.')) {
            char *service = scrape->asks [scrape->count++].service;
            size_t len = strlen (gw_services [i]);
            memcpy (service, gw_services [i], len < SB_SERVICE_NAME_MAX ? len : SB_SERVICE_NAME_MAX);
        }
    gw_http_set_local (conn, scrape, s_scrape_release);
    if (scrape->count == 0)
        return false;
    atomic_init (&scrape->pending, scrape->count);
    for (size_t i = 0; i < scrape->count; i++) {
        sb_envelope_head_t head = { .role = SB_ROLE_SERVICE };
        snprintf (head.id, sizeof (head.id), "%s", gw_http_request_id (conn));
        snprintf (head.op, sizeof (head.op), "sys.stats");
        head.deadline = sb_now_ms () + S_STATS_MS;
        msgpack_sbuffer envelope;
        msgpack_sbuffer_init (&envelope);
        sb_envelope_encode_request (&envelope, &head, NULL, 0);
        sb_job_t *job = &scrape->asks [i].job;
        memcpy (job->service, scrape->asks [i].service, sizeof (job->service));
        job->request = zframe_new (envelope.data, envelope.size);
        msgpack_sbuffer_destroy (&envelope);
        job->deadline = sb_mono_ms () + S_STATS_MS;
        job->done = s_ask_done;
        job->arg = scrape;
    }
    //  Suspended before the first submit: the broker may answer at once.
    gw_http_suspend (conn);
    //  Submitting the last job may complete the scrape and have the
    //  connection resumed and answered (freeing scrape) on another thread:
    //  the count is read before.
    size_t count = scrape->count;
    sb_broker_t *broker = gw_http_broker (conn);
    sb_job_t *jobs [S_SERVICES_MAX];
    for (size_t i = 0; i < count; i++)
        jobs [i] = &scrape->asks [i].job;
    for (size_t i = 0; i < count; i++)
        sb_broker_submit (broker, jobs [i]);
    return true;
}

void
gw_metrics_scrape (gw_conn_t *conn)
{
    s_scrape_t *scrape = (s_scrape_t *) gw_http_local (conn);
    if (!scrape) {
        if (!gw_http_operator_or_open (conn) || s_scrape_start (conn))
            return;
        scrape = (s_scrape_t *) gw_http_local (conn);
    }
    //  Resumed: every service has answered or failed.
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_write_counters (&buf);
    s_write_caches (&buf);
    s_write_services (&buf, scrape);
    gw_http_respond (conn, 200, "text/plain; version=0.0.4; charset=utf-8", &buf);
    msgpack_sbuffer_destroy (&buf);
}

//  ---------------------------------------------------------------------

void
gw_metrics_test (bool verbose)
{
    (void) verbose;
    //  The fixed arrays hold the route table and the service list.
    SB_CHECK (gw_routes_at (S_ROUTES_MAX - 1) == NULL);
    size_t services = 0;
    while (gw_services [services])
        services++;
    SB_CHECK (services <= S_SERVICES_MAX);

    char label [8];
    s_status_label (s_status_slot (200), label, sizeof (label));
    SB_CHECK (streq (label, "200"));
    s_status_label (s_status_slot (429), label, sizeof (label));
    SB_CHECK (streq (label, "429"));
    s_status_label (s_status_slot (418), label, sizeof (label));
    SB_CHECK (streq (label, "4xx"));
    s_status_label (s_status_slot (999), label, sizeof (label));
    SB_CHECK (streq (label, "5xx"));

    SB_CHECK (s_bucket (0) == 0);
    SB_CHECK (s_bucket (1000) == 0);
    SB_CHECK (s_bucket (1001) == 1);
    SB_CHECK (s_bucket (10000000) == S_BUCKETS - 2);
    SB_CHECK (s_bucket (10000001) == S_BUCKETS - 1);

    SB_CHECK (s_name_ok ("outbox_backlog"));
    SB_CHECK (!s_name_ok (""));
    SB_CHECK (!s_name_ok ("__name"));
    SB_CHECK (!s_name_ok ("9lives"));
    SB_CHECK (!s_name_ok ("Bad-Name"));
    SB_CHECK (!s_name_ok ("a\"b"));

    char escaped [32];
    s_escape ("a\"b\\c\nd", escaped, sizeof (escaped));
    SB_CHECK (streq (escaped, "a\\\"b\\\\c\\nd"));

    //  A request counted shows under its route template, never its path.
    gw_match_t match;
    gw_routes_match ("GET", "/healthz", &match);
    SB_CHECK (match.route);
    gw_metrics_request (match.route, 200, 1500);
    gw_metrics_request (NULL, 404, 10);
    gw_metrics_limited (GW_LIMIT_FAILURES);
    gw_metrics_bus ("auth", 0, 300);
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_write_counters (&buf);
    msgpack_sbuffer_write (&buf, "", 1);
    SB_CHECK (strstr (buf.data, "switchboard_http_requests_total{route=\"GET /healthz\","
                                "status=\"200\"} "));
    SB_CHECK (strstr (buf.data, "switchboard_http_requests_total{route=\"unmatched\","
                                "status=\"404\"} "));
    SB_CHECK (strstr (buf.data, "switchboard_http_request_duration_seconds_bucket{"
                                "route=\"GET /healthz\",le=\"0.001\"} "));
    SB_CHECK (strstr (buf.data, "le=\"0.0025\"}"));
    SB_CHECK (strstr (buf.data, "le=\"10\"}"));
    SB_CHECK (strstr (buf.data, "switchboard_rate_limited_total{kind=\"failures\"} "));
    SB_CHECK (strstr (buf.data, "switchboard_bus_requests_total{service=\"auth\","
                                "outcome=\"reply\"} "));
    msgpack_sbuffer_destroy (&buf);
}
