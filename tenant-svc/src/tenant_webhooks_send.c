/*  tenant_webhooks_send.c — the thread that delivers webhooks.

    Every tenant-svc process runs one, with its own database connection and
    one libcurl multi handle: many requests in flight on one thread, never
    a thread per request. The loop:
      - claims due deliveries (status pending, next_attempt_at come, the
        endpoint enabled) across organizations, FOR UPDATE SKIP LOCKED so
        that the threads of several processes never take the same row, at
        most S_PER_ENDPOINT in flight per endpoint (counting every
        process's leases) so that a hung endpoint holds a few slots and
        never starves another organization's, and at most S_IN_FLIGHT in
        all. A claimed row gets a lease (leased_until = next_attempt_at =
        now + S_LEASE_S): if the process dies mid-delivery (kill -9) the
        row is due again when the lease ends, and any process sends it
        again — at least once, the same webhook-id;
      - sends each: the stored body as is, headers webhook-id (the event's,
        the same on every attempt), webhook-timestamp (this attempt's) and
        webhook-signature (one "v1,…" per active secret: the current one,
        and the previous one for 24 h after a rotation), 15 s in all. The
        URL's form is checked again (tenant_ssrf_check_url) and every
        address curl connects to is judged as it opens the socket (so
        whatever a name resolves to at that moment, no rebinding window;
        curl resolves asynchronously, never blocking the loop), no proxy,
        no redirect followed (a 3xx is a failed attempt);
      - records each outcome with its attempt (status code or error,
        duration), only if the lease is still this thread's: 2xx
        succeeded; 410 fails the delivery and disables the endpoint;
        anything else retries after the next delay of the Standard
        Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight
        attempts in all, divided by SWITCHBOARD_WEBHOOK_RETRY_SCALE for
        tests) or the answer's Retry-After when longer (at most 24 h),
        then fails; an endpoint whose deliveries have failed without a
        success for 5 days (also divided by the scale) is disabled.
        Deliveries of a disabled endpoint stay pending until an admin
        enables it again.
    It sleeps in curl_multi_poll, woken by curl_multi_wakeup after a
    commit that queued deliveries (tenant_webhooks_wake), and otherwise
    looks for due rows at least once a second.

    An endpoint disabled by an answer (410, or 5 days of failures) has its
    organization's admins mailed, in the same statement (admin_mail_outbox,
    tenant_notices.c).
*/
#include "tenant_webhooks.h"
#include <arpa/inet.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>

#define S_IN_FLIGHT     64
#define S_PER_ENDPOINT  3
#define S_TIMEOUT_MS    15000
#define S_LEASE_S       20          //  past the timeout: a live sender always records first
#define S_IDLE_MS       1000
#define S_ATTEMPTS      8
#define S_RETRY_AFTER_MAX_S 86400

//  The delay after the n-th failed attempt (n from 1), in seconds.
static const int64_t s_schedule [S_ATTEMPTS - 1] = { 5, 300, 1800, 7200, 18000, 36000, 36000 };

typedef struct _s_job_t s_job_t;
struct _s_job_t {
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    char org [37], delivery [37], lease [64];
    int attempts;                   //  before this one
    int64_t at_ms, started_ms;
    int64_t retry_after_s;          //  -1: none
    char error [CURL_ERROR_SIZE];
    char refused [INET6_ADDRSTRLEN];    //  an address the socket check refused
    s_job_t *next;
};

static struct {
    const sb_config_t *config;
    sb_secrets_t *secrets;
    CURLM *multi;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_bool woken;
    sb_db_t *db;
    s_job_t *jobs;                  //  in flight
    int in_flight;
} s;

void
tenant_webhooks_wake (void)
{
    if (s.multi) {
        atomic_store (&s.woken, true);
        curl_multi_wakeup (s.multi);
    }
}

//  ---------------------------------------------------------------------------
//  Recording an outcome.

//  Records the attempt of job (status 0: no answer, error says why).
static void
s_record (s_job_t *job, long status, const char *error)
{
    bool ok = status >= 200 && status < 300;
    bool gone = status == 410;
    int attempts = job->attempts + 1;
    bool final = !ok && (gone || attempts >= S_ATTEMPTS);
    int64_t scale = s.config->webhook_retry_scale > 0 ? s.config->webhook_retry_scale : 1;
    int64_t delay_ms = 0;
    if (!ok && !final) {
        delay_ms = s_schedule [attempts - 1] * 1000 / scale;
        if (job->retry_after_s >= 0 && job->retry_after_s * 1000 > delay_ms)
            delay_ms = job->retry_after_s * 1000;
    }
    char status_text [16], at [24], duration [24], delay [24], failing [24];
    snprintf (status_text, sizeof (status_text), "%ld", status);
    snprintf (at, sizeof (at), "%lld", (long long) job->at_ms);
    snprintf (duration, sizeof (duration), "%lld",
              (long long) (sb_mono_ms () - job->started_ms));
    snprintf (delay, sizeof (delay), "%lld", (long long) delay_ms);
    snprintf (failing, sizeof (failing), "%lld", (long long) (5LL * 86400 * 1000 / scale));
    const char *params [] = {
        job->org, job->delivery, job->lease, ok ? "succeeded" : final ? "failed" : "pending",
        delay, at, status ? status_text : NULL, ok ? NULL : error, duration,
        ok ? "true" : "false", gone ? "true" : "false", failing
    };
    if (sb_db_begin (s.db) || sb_db_all_orgs (s.db)) {
        sb_db_rollback (s.db);
        return;
    }
    PGresult *result = sb_db_exec (s.db,
        "WITH d AS (UPDATE webhook_deliveries SET status = $4, attempts = attempts + 1,"
        "   leased_until = NULL,"
        "   next_attempt_at = clock_timestamp () + $5::bigint * interval '1 millisecond'"
        "  WHERE organization_id = $1 AND id = $2 AND leased_until = $3::timestamptz"
        "  RETURNING organization_id, id, endpoint_id),"
        " a AS (INSERT INTO webhook_attempts (organization_id, delivery_id, at, status_code,"
        "   error, duration_ms)"
        "  SELECT d.organization_id, d.id, to_timestamp ($6::bigint / 1000.0), $7::int, $8,"
        "   $9::int FROM d RETURNING 1),"
        " p AS (UPDATE webhook_endpoints p SET"
        "   failing_since = CASE WHEN $10::boolean THEN NULL"
        "     ELSE coalesce (p.failing_since, now ()) END,"
        "   enabled = p.enabled AND NOT $11::boolean AND NOT (NOT $10::boolean"
        "     AND coalesce (p.failing_since < now () - $12::bigint * interval '1 millisecond',"
        "      false)),"
        "   disabled_reason = CASE WHEN $11::boolean THEN 'the endpoint answered 410 Gone'"
        "     WHEN NOT $10::boolean AND coalesce (p.failing_since"
        "      < now () - $12::bigint * interval '1 millisecond', false)"
        "     THEN 'deliveries failed for 5 days' ELSE p.disabled_reason END,"
        "   updated_at = CASE WHEN $10::boolean THEN p.updated_at ELSE clock_timestamp () END"
        "  FROM d, webhook_endpoints o"
        "  WHERE p.organization_id = d.organization_id AND p.id = d.endpoint_id"
        "   AND o.organization_id = p.organization_id AND o.id = p.id"
        "  RETURNING p.organization_id, p.id, p.url, p.enabled, p.disabled_reason,"
        "   o.enabled AS was_enabled),"
        //  Disabled by this answer: the admins are told (tenant_notices.c),
        //  once per disabling.
        " m AS (INSERT INTO admin_mail_outbox (organization_id, dedupe_key, subject, body)"
        "  SELECT organization_id, 'webhook-disabled:' || id || ':' || now (),"
        "   'Switchboard: a webhook endpoint was disabled',"
        "   'Switchboard stopped sending events to your webhook endpoint' || chr (13) || chr (10)"
        "   || url || chr (13) || chr (10) || 'because ' || disabled_reason || '.'"
        "   || chr (13) || chr (10) || chr (13) || chr (10)"
        "   || 'Events are not queued for it while it is disabled. Once the endpoint works'"
        "   || chr (13) || chr (10) || 'again, enable it (PATCH /v1/webhooks/' || id"
        "   || ' {\"enabled\": true}).' || chr (13) || chr (10)"
        "  FROM p WHERE was_enabled AND NOT enabled"
        "  ON CONFLICT (organization_id, dedupe_key) DO NOTHING RETURNING 1)"
        " SELECT (SELECT count (*) FROM a), (SELECT bool_and (enabled) FROM p),"
        "  (SELECT count (*) FROM m) FROM d",
        12, params);
    if (!result) {
        sb_db_rollback (s.db);
        return;
    }
    if (PQntuples (result) == 0)
        sb_warn ("webhooks: delivery %s: its lease ended before the answer; not recorded",
                 job->delivery);
    else
    if (streq (PQgetvalue (result, 0, 1), "f"))
        sb_warn ("webhooks: an endpoint of organization %s is now disabled", job->org);
    bool mailed = PQntuples (result) > 0 && atoi (PQgetvalue (result, 0, 2)) > 0;
    PQclear (result);
    if (sb_db_commit (s.db))
        sb_db_rollback (s.db);
    else
    if (mailed)
        tenant_notices_wake ();
}

//  ---------------------------------------------------------------------------
//  Sending.

static size_t
s_discard (char *data, size_t size, size_t count, void *arg)
{
    (void) data;
    (void) arg;
    return size * count;
}

//  Keeps Retry-After (seconds or an HTTP date).
static size_t
s_header (char *data, size_t size, size_t count, void *arg)
{
    s_job_t *job = (s_job_t *) arg;
    size_t length = size * count;
    static const char name [] = "retry-after:";
    if (length > strlen (name) && length < 200 && strncasecmp (data, name, strlen (name)) == 0) {
        char value [200];
        snprintf (value, sizeof (value), "%.*s", (int) (length - strlen (name)),
                  data + strlen (name));
        char *p = value;
        while (*p == ' ' || *p == '\t')
            p++;
        p [strcspn (p, "\r\n")] = 0;
        char *end;
        long long seconds = strtoll (p, &end, 10);
        if (end == p || *end) {
            time_t when = curl_getdate (p, NULL);
            seconds = when < 0 ? -1 : (long long) (when - time (NULL));
        }
        if (seconds >= 0)
            job->retry_after_s = seconds > S_RETRY_AFTER_MAX_S ? S_RETRY_AFTER_MAX_S : seconds;
    }
    return length;
}

//  Every address curl is about to connect to is judged here: the check
//  that counts (whatever the name resolved to at this moment).
static curl_socket_t
s_open_socket (void *arg, curlsocktype purpose, struct curl_sockaddr *address)
{
    (void) purpose;
    s_job_t *job = (s_job_t *) arg;
    if (!s.config->webhooks_allow_private && !tenant_ssrf_address_public (&address->addr)) {
        const void *raw = address->family == AF_INET6
                              ? (const void *) &((struct sockaddr_in6 *) &address->addr)->sin6_addr
                              : (const void *) &((struct sockaddr_in *) &address->addr)->sin_addr;
        if (!inet_ntop (address->family, raw, job->refused, sizeof (job->refused)))
            snprintf (job->refused, sizeof (job->refused), "?");
        return CURL_SOCKET_BAD;
    }
    return socket (address->family, address->socktype, address->protocol);
}

static void
s_job_free (s_job_t *job)
{
    if (job->easy)
        curl_easy_cleanup (job->easy);
    curl_slist_free_all (job->headers);
    free (job->body);
    free (job);
}

//  The signature header's value: one entry per secret that opens.
static int
s_signature (const char *const *sealed, const char *id, const char *timestamp, const char *body,
             char *out, size_t out_size)
{
    size_t used = 0;
    int count = 0;
    for (int i = 0; i < 2; i++) {
        if (!sealed [i] || !*sealed [i])
            continue;
        char *secret = sb_secrets_open (s.secrets, sealed [i], NULL);
        char one [TENANT_WEBHOOKS_SIGNATURE_SIZE];
        if (secret && tenant_webhooks_sign (secret, id, timestamp, body, strlen (body), one) == 0
            && used + strlen (one) + 2 < out_size) {
            used += (size_t) snprintf (out + used, out_size - used, "%s%s", count ? " " : "", one);
            count++;
        }
        if (secret) {
            sodium_memzero (secret, strlen (secret));
            free (secret);
        }
    }
    return count;
}

//  Starts the delivery of claimed row r: columns organization_id, id,
//  event_id, attempts, url, secret_sealed, previous_sealed, payload,
//  leased_until.
static void
s_start_job (const PGresult *rows, int r)
{
    s_job_t *job = (s_job_t *) sb_calloc (1, sizeof (s_job_t));
    snprintf (job->org, sizeof (job->org), "%s", PQgetvalue (rows, r, 0));
    snprintf (job->delivery, sizeof (job->delivery), "%s", PQgetvalue (rows, r, 1));
    snprintf (job->lease, sizeof (job->lease), "%s", PQgetvalue (rows, r, 8));
    job->attempts = atoi (PQgetvalue (rows, r, 3));
    job->retry_after_s = -1;
    job->at_ms = sb_now_ms ();
    job->started_ms = sb_mono_ms ();
    const char *id = PQgetvalue (rows, r, 2), *url = PQgetvalue (rows, r, 4);
    job->body = sb_strdup (PQgetvalue (rows, r, 7));

    bool allow = s.config->webhooks_allow_private == 1;
    char why [200];
    if (tenant_ssrf_check_url (url, allow, why, sizeof (why))) {
        char error [240];
        snprintf (error, sizeof (error), "refused: the URL %s", why);
        s_record (job, 0, error);
        s_job_free (job);
        return;
    }
    char timestamp [24], header [600];
    snprintf (timestamp, sizeof (timestamp), "%lld", (long long) (job->at_ms / 1000));
    const char *sealed [2] = { PQgetvalue (rows, r, 5),
                               PQgetisnull (rows, r, 6) ? NULL : PQgetvalue (rows, r, 6) };
    char signature [2 * TENANT_WEBHOOKS_SIGNATURE_SIZE + 4];
    if (s_signature (sealed, id, timestamp, job->body, signature, sizeof (signature)) == 0) {
        s_record (job, 0, "the endpoint's secret does not open under this sealing key");
        s_job_free (job);
        return;
    }
    job->headers = curl_slist_append (job->headers, "Content-Type: application/json");
    job->headers = curl_slist_append (job->headers, "User-Agent: Switchboard-Webhooks/1");
    job->headers = curl_slist_append (job->headers, "Expect:");
    snprintf (header, sizeof (header), "webhook-id: %s", id);
    job->headers = curl_slist_append (job->headers, header);
    snprintf (header, sizeof (header), "webhook-timestamp: %s", timestamp);
    job->headers = curl_slist_append (job->headers, header);
    snprintf (header, sizeof (header), "webhook-signature: %s", signature);
    job->headers = curl_slist_append (job->headers, header);

    CURL *easy = job->easy = curl_easy_init ();
    curl_easy_setopt (easy, CURLOPT_URL, url);
    curl_easy_setopt (easy, CURLOPT_PROTOCOLS_STR, allow ? "https,http" : "https");
    curl_easy_setopt (easy, CURLOPT_NOPROXY, "*");
    curl_easy_setopt (easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt (easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (easy, CURLOPT_TIMEOUT_MS, (long) S_TIMEOUT_MS);
    curl_easy_setopt (easy, CURLOPT_POST, 1L);
    curl_easy_setopt (easy, CURLOPT_POSTFIELDS, job->body);
    curl_easy_setopt (easy, CURLOPT_POSTFIELDSIZE, (long) strlen (job->body));
    curl_easy_setopt (easy, CURLOPT_HTTPHEADER, job->headers);
    curl_easy_setopt (easy, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt (easy, CURLOPT_HEADERFUNCTION, s_header);
    curl_easy_setopt (easy, CURLOPT_HEADERDATA, job);
    curl_easy_setopt (easy, CURLOPT_OPENSOCKETFUNCTION, s_open_socket);
    curl_easy_setopt (easy, CURLOPT_OPENSOCKETDATA, job);
    curl_easy_setopt (easy, CURLOPT_ERRORBUFFER, job->error);
    curl_easy_setopt (easy, CURLOPT_PRIVATE, job);
    if (curl_multi_add_handle (s.multi, easy) != CURLM_OK) {
        s_record (job, 0, "could not start the request");
        s_job_free (job);
        return;
    }
    job->next = s.jobs;
    s.jobs = job;
    s.in_flight++;
}

//  Claims up to room due deliveries and starts them. Returns how many it
//  claimed, or -1 when the database failed.
static int
s_claim (int room)
{
    char limit [16], per [16], lease [16];
    snprintf (limit, sizeof (limit), "%d", room);
    snprintf (per, sizeof (per), "%d", S_PER_ENDPOINT);
    snprintf (lease, sizeof (lease), "%d", S_LEASE_S);
    const char *params [] = { limit, per, lease };
    if (sb_db_begin (s.db) || sb_db_all_orgs (s.db)) {
        sb_db_rollback (s.db);
        return -1;
    }
    PGresult *rows = sb_db_exec (s.db,
        "WITH busy AS (SELECT endpoint_id, count (*) AS n FROM webhook_deliveries"
        "   WHERE status = 'pending' AND leased_until > now () GROUP BY endpoint_id),"
        " due AS (SELECT organization_id, id, endpoint_id, next_attempt_at"
        "   FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= now ()"
        "   ORDER BY next_attempt_at LIMIT 1000),"
        " ranked AS (SELECT d.organization_id, d.id, row_number () OVER"
        "   (PARTITION BY d.endpoint_id ORDER BY d.next_attempt_at, d.id)"
        "   + coalesce (b.n, 0) AS rank"
        "   FROM due d JOIN webhook_endpoints p"
        "    ON p.organization_id = d.organization_id AND p.id = d.endpoint_id AND p.enabled"
        "   LEFT JOIN busy b ON b.endpoint_id = d.endpoint_id),"
        " pick AS (SELECT d.organization_id, d.id FROM webhook_deliveries d"
        "   WHERE (d.organization_id, d.id) IN"
        "    (SELECT organization_id, id FROM ranked WHERE rank <= $2::int)"
        "   ORDER BY d.next_attempt_at LIMIT $1::int FOR UPDATE OF d SKIP LOCKED)"
        " UPDATE webhook_deliveries d"
        "  SET leased_until = now () + $3::int * interval '1 second',"
        "      next_attempt_at = now () + $3::int * interval '1 second'"
        "  FROM pick, webhook_endpoints p, webhook_events e"
        "  WHERE d.organization_id = pick.organization_id AND d.id = pick.id"
        "   AND p.organization_id = d.organization_id AND p.id = d.endpoint_id"
        "   AND e.organization_id = d.organization_id AND e.id = d.event_id"
        "  RETURNING d.organization_id, d.id, d.event_id, d.attempts, p.url, p.secret_sealed,"
        "   CASE WHEN p.previous_expires_at > now () THEN p.previous_sealed END, e.payload,"
        "   d.leased_until::text",
        3, params);
    if (!rows || sb_db_commit (s.db)) {
        PQclear (rows);
        sb_db_rollback (s.db);
        return -1;
    }
    int count = PQntuples (rows);
    for (int r = 0; r < count; r++)
        s_start_job (rows, r);
    PQclear (rows);
    return count;
}

//  Milliseconds until the next pending delivery of an enabled endpoint is
//  due (0 when one is due now), at most S_IDLE_MS.
static int
s_next_due_ms (void)
{
    if (sb_db_begin (s.db) || sb_db_all_orgs (s.db)) {
        sb_db_rollback (s.db);
        return S_IDLE_MS;
    }
    PGresult *result = sb_db_exec (s.db,
        "SELECT greatest (0, least ($1::int, ceil (extract (epoch FROM"
        " (min (d.next_attempt_at) - clock_timestamp ())) * 1000)))::int"
        " FROM webhook_deliveries d JOIN webhook_endpoints p"
        "  ON p.organization_id = d.organization_id AND p.id = d.endpoint_id AND p.enabled"
        " WHERE d.status = 'pending'",
        1, (const char *[]) { "1000" });
    int ms = S_IDLE_MS;
    if (result && PQntuples (result) == 1 && !PQgetisnull (result, 0, 0))
        ms = atoi (PQgetvalue (result, 0, 0));
    PQclear (result);
    if (sb_db_commit (s.db))
        sb_db_rollback (s.db);
    return ms;
}

//  Records the requests that have finished.
static int
s_reap (void)
{
    int done = 0;
    CURLMsg *message;
    int left;
    while ((message = curl_multi_info_read (s.multi, &left))) {
        if (message->msg != CURLMSG_DONE)
            continue;
        CURL *easy = message->easy_handle;
        CURLcode code = message->data.result;
        s_job_t *job = NULL;
        curl_easy_getinfo (easy, CURLINFO_PRIVATE, (char **) &job);
        long status = 0;
        curl_easy_getinfo (easy, CURLINFO_RESPONSE_CODE, &status);
        curl_multi_remove_handle (s.multi, easy);
        char error [CURL_ERROR_SIZE + 32];
        if (code != CURLE_OK && *job->refused)
            snprintf (error, sizeof (error), "refused: %.64s is not a public address",
                      job->refused);
        else
        if (code != CURLE_OK)
            snprintf (error, sizeof (error), "%s", *job->error ? job->error
                                                               : curl_easy_strerror (code));
        else
        if (status >= 300 && status < 400)
            snprintf (error, sizeof (error), "redirect (%ld) not followed", status);
        else
            snprintf (error, sizeof (error), "answered %ld", status);
        s_record (job, code == CURLE_OK ? status : 0, error);
        for (s_job_t **p = &s.jobs; *p; p = &(*p)->next)
            if (*p == job) {
                *p = job->next;
                break;
            }
        s.in_flight--;
        s_job_free (job);
        done++;
    }
    return done;
}

//  Gives back the leases of the requests in flight at stop: due again now.
static void
s_release_all (void)
{
    while (s.jobs) {
        s_job_t *job = s.jobs;
        s.jobs = job->next;
        curl_multi_remove_handle (s.multi, job->easy);
        const char *params [] = { job->org, job->delivery, job->lease };
        if (sb_db_begin (s.db) == 0 && sb_db_all_orgs (s.db) == 0
            && sb_db_run (s.db,
                          "UPDATE webhook_deliveries SET leased_until = NULL, "
                          "next_attempt_at = now () WHERE organization_id = $1 AND id = $2 "
                          "AND leased_until = $3::timestamptz",
                          3, params) == 0)
            sb_db_commit (s.db);
        else
            sb_db_rollback (s.db);
        s_job_free (job);
    }
    s.in_flight = 0;
}

static void *
s_run (void *arg)
{
    (void) arg;
    s.db = sb_db_new (s.config->service_database_url, "tenant");
    sb_db_connect (s.db, 30000);
    int64_t next_claim = 0;
    int backoff = 0;
    while (!atomic_load (&s.stop)) {
        int64_t now = sb_mono_ms ();
        if (atomic_exchange (&s.woken, false))
            next_claim = now;
        if (now >= next_claim && s.in_flight < S_IN_FLIGHT) {
            int room = S_IN_FLIGHT - s.in_flight;
            int claimed = s_claim (room);
            if (claimed < 0) {
                backoff = backoff ? (backoff * 2 > 30000 ? 30000 : backoff * 2) : 1000;
                next_claim = now + backoff;
            }
            else {
                backoff = 0;
                //  More may be due at once; else look when the next is due
                //  (not before 50 ms: a due row of a busy endpoint waits
                //  for a slot, which a finished request announces).
                int wait = claimed == room ? 0 : s_next_due_ms ();
                next_claim = now + (wait < 50 && claimed < room ? 50 : wait);
            }
        }
        int running = 0;
        curl_multi_perform (s.multi, &running);
        if (s_reap () > 0)
            next_claim = sb_mono_ms ();
        int64_t wait = next_claim - sb_mono_ms ();
        if (wait > S_IDLE_MS)
            wait = S_IDLE_MS;
        if (wait > 0)
            curl_multi_poll (s.multi, NULL, 0, (int) wait, NULL);
    }
    s_release_all ();
    sb_db_destroy (&s.db);
    return NULL;
}

int
tenant_webhooks_start (const sb_config_t *config)
{
    s.config = config;
    s.secrets = sb_service_secrets ();
    const char *curl = sb_curl_ready ();
    if (curl)
        return sb_error ("webhooks: libcurl: %s", curl);
    s.multi = curl_multi_init ();
    atomic_store (&s.stop, false);
    if (!s.multi || pthread_create (&s.thread, NULL, s_run, NULL) != 0)
        return sb_error ("webhooks: the delivery thread did not start");
    s.started = true;
    return 0;
}

void
tenant_webhooks_stop (void)
{
    if (s.started) {
        atomic_store (&s.stop, true);
        curl_multi_wakeup (s.multi);
        pthread_join (s.thread, NULL);
        s.started = false;
    }
    if (s.multi)
        curl_multi_cleanup (s.multi);
    s.multi = NULL;
}
