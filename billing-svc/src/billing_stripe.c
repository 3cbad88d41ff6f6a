/*  billing_stripe.c — a Stripe REST client over libcurl (billing_stripe.h).

    One call is a loop of attempts on the client's one easy handle (reset
    before each attempt, which keeps its connection cache, so a second call
    reuses the connection). Each attempt's timeout is the smaller of
    BILLING_STRIPE_ATTEMPT_TIMEOUT_MS and what is left until the caller's
    deadline, the connection set-up's the smaller of that and
    BILLING_STRIPE_CONNECT_TIMEOUT_MS; a pause before a retry never reaches
    past the deadline either (no retry when it would). So a call returns by
    its deadline, give or take libcurl's own granularity.

    What is retried (billing_stripe_retryable): Stripe's Stripe-Should-Retry
    header when present decides alone; otherwise no answer at all, 429,
    5xx, and 409 with error code idempotency_key_in_use (the first request
    with that key is still running) or lock_timeout (the object is locked by
    another request). Only GETs and POSTs with an Idempotency-Key are
    retried: Stripe replays a key's saved answer, so a repeat cannot create
    twice. At most BILLING_STRIPE_MAX_ATTEMPTS attempts.

    Answers larger than S_BODY_MAX are cut off and count as no answer
    (network_error). The secret key lives in the Authorization header line
    only; no log line and no result carries it.
*/
#include "billing_service.h"
#include "billing_stripe.h"

#include <assert.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <strings.h>
#include <time.h>

#define BILLING_STRIPE_MAX_ATTEMPTS 4
#define S_BODY_MAX (1024 * 1024)
#define S_USER_AGENT "Switchboard-billing-svc/" SB_VERSION

struct _billing_stripe_t {
    CURL *curl;
    char *base;                     //  without a trailing slash
    char *authorization;            //  "Authorization: Bearer <key>"
};

//  What one attempt read: the body and the headers of interest.
typedef struct {
    char *data;
    size_t len, cap;
    bool too_large;
    char request_id [64];
    int should_retry;               //  -1 absent, 0 false, 1 true
    bool replayed;
} s_answer_t;

billing_stripe_t *
billing_stripe_new (const char *base, const char *key)
{
    if (!base || !*base || !key || !*key)
        return NULL;
    const char *not_ready = sb_curl_ready ();
    if (not_ready) {
        sb_error ("stripe: libcurl cannot be initialised: %s", not_ready);
        return NULL;
    }
    CURL *curl = curl_easy_init ();
    if (!curl) {
        sb_error ("stripe: curl_easy_init failed");
        return NULL;
    }
    billing_stripe_t *self = (billing_stripe_t *) sb_calloc (1, sizeof (billing_stripe_t));
    self->curl = curl;
    size_t len = strlen (base);
    while (len > 0 && base [len - 1] == '/')
        len--;
    self->base = sb_strndup (base, len);
    size_t size = strlen ("Authorization: Bearer ") + strlen (key) + 1;
    self->authorization = (char *) sb_malloc (size);
    snprintf (self->authorization, size, "Authorization: Bearer %s", key);
    return self;
}

void
billing_stripe_destroy (billing_stripe_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    billing_stripe_t *self = *self_p;
    curl_easy_cleanup (self->curl);
    free (self->base);
    //  The key should not linger in freed memory.
    sodium_memzero (self->authorization, strlen (self->authorization));
    free (self->authorization);
    free (self);
    *self_p = NULL;
}

//  ---- form bodies -----------------------------------------------------------

static void
s_form_put (billing_form_t *form, const char *bytes, size_t len)
{
    if (form->len + len + 1 > form->cap) {
        size_t cap = form->cap ? form->cap : 256;
        while (form->len + len + 1 > cap)
            cap *= 2;
        form->data = (char *) sb_realloc (form->data, cap);
        form->cap = cap;
    }
    memcpy (form->data + form->len, bytes, len);
    form->len += len;
    form->data [form->len] = 0;
}

//  Percent-encodes s: RFC 3986 unreserved characters stay, and in a key
//  the brackets of Stripe's notation too (Stripe's libraries send them so);
//  every other byte becomes %XX, upper-case hex.
static void
s_form_encode (billing_form_t *form, const char *s, bool key)
{
    static const char hex [] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
        ||  *p == '-' || *p == '.' || *p == '_' || *p == '~'
        ||  (key && (*p == '[' || *p == ']')))
            s_form_put (form, (const char *) p, 1);
        else {
            char escaped [3] = { '%', hex [*p >> 4], hex [*p & 15] };
            s_form_put (form, escaped, 3);
        }
    }
}

void
billing_form_add (billing_form_t *form, const char *key, const char *value)
{
    assert (form && key);
    if (!value)
        return;
    if (form->len)
        s_form_put (form, "&", 1);
    s_form_encode (form, key, true);
    s_form_put (form, "=", 1);
    s_form_encode (form, value, false);
}

void
billing_form_addf (billing_form_t *form, const char *key, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *value = NULL;
    if (vasprintf (&value, format, args) < 0)
        abort ();                   //  out of memory, as sb_malloc would
    va_end (args);
    billing_form_add (form, key, value);
    free (value);
}

void
billing_form_release (billing_form_t *form)
{
    if (!form)
        return;
    free (form->data);
    form->data = NULL;
    form->len = form->cap = 0;
}

//  ---- calls -----------------------------------------------------------------

void
billing_stripe_result_release (billing_stripe_result_t *result)
{
    if (!result)
        return;
    json_decref (result->body);
    result->body = NULL;
}

bool
billing_stripe_retryable (int http_status, const char *error_code, int should_retry)
{
    if (should_retry == 0 || should_retry == 1)
        return should_retry == 1;
    if (http_status == 0 || http_status == 429 || http_status >= 500)
        return true;
    if (http_status == 409 && error_code
    &&  (streq (error_code, "idempotency_key_in_use") || streq (error_code, "lock_timeout")))
        return true;
    return false;
}

static size_t
s_write (char *data, size_t size, size_t count, void *arg)
{
    s_answer_t *answer = (s_answer_t *) arg;
    size_t len = size * count;
    if (answer->len + len > S_BODY_MAX) {
        answer->too_large = true;
        return 0;                   //  curl stops with CURLE_WRITE_ERROR
    }
    if (answer->len + len + 1 > answer->cap) {
        size_t cap = answer->cap ? answer->cap : 4096;
        while (answer->len + len + 1 > cap)
            cap *= 2;
        answer->data = (char *) sb_realloc (answer->data, cap);
        answer->cap = cap;
    }
    memcpy (answer->data + answer->len, data, len);
    answer->len += len;
    answer->data [answer->len] = 0;
    return len;
}

//  Copies the value of header line (name: value\r\n) into out when its name
//  is name; true when it was.
static bool
s_header_value (const char *line, size_t len, const char *name, char *out, size_t out_size)
{
    size_t name_len = strlen (name);
    if (len <= name_len || line [name_len] != ':' || strncasecmp (line, name, name_len))
        return false;
    const char *value = line + name_len + 1;
    const char *end = line + len;
    while (value < end && (*value == ' ' || *value == '\t'))
        value++;
    while (end > value && (end [-1] == '\r' || end [-1] == '\n' || end [-1] == ' '))
        end--;
    size_t n = (size_t) (end - value);
    if (n >= out_size)
        n = out_size - 1;
    memcpy (out, value, n);
    out [n] = 0;
    return true;
}

static size_t
s_header (char *line, size_t size, size_t count, void *arg)
{
    s_answer_t *answer = (s_answer_t *) arg;
    size_t len = size * count;
    char value [64];
    //  A new status line (after a 100 Continue, say) starts a new answer.
    if (len >= 5 && strncmp (line, "HTTP/", 5) == 0) {
        answer->request_id [0] = 0;
        answer->should_retry = -1;
        answer->replayed = false;
    }
    else
    if (s_header_value (line, len, "Request-Id", value, sizeof (value)))
        snprintf (answer->request_id, sizeof (answer->request_id), "%s", value);
    else
    if (s_header_value (line, len, "Stripe-Should-Retry", value, sizeof (value)))
        answer->should_retry = strcasecmp (value, "true") == 0 ? 1
                             : strcasecmp (value, "false") == 0 ? 0 : -1;
    else
    if (s_header_value (line, len, "Idempotent-Replayed", value, sizeof (value)))
        answer->replayed = strcasecmp (value, "true") == 0;
    return len;
}

//  Reads Stripe's error object ({"error": {"type", "code", "message"}}) of
//  a non-2xx answer into result.
static void
s_read_error (billing_stripe_result_t *result)
{
    json_t *error = result->body ? json_object_get (result->body, "error") : NULL;
    const char *type = json_string_value (json_object_get (error, "type"));
    const char *code = json_string_value (json_object_get (error, "code"));
    const char *message = json_string_value (json_object_get (error, "message"));
    snprintf (result->error_type, sizeof (result->error_type), "%s",
              type ? type : "api_error");
    snprintf (result->error_code, sizeof (result->error_code), "%s", code ? code : "");
    if (message)
        snprintf (result->message, sizeof (result->message), "%s", message);
    else
        snprintf (result->message, sizeof (result->message), "stripe answered HTTP %d%s",
                  result->http_status, result->body ? "" : " without a JSON error");
}

static void
s_sleep_ms (int64_t ms)
{
    struct timespec pause = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    while (nanosleep (&pause, &pause) == -1 && errno == EINTR)
        ;
}

//  One attempt. Fills result (status, body, error fields, request id) and
//  returns the answer's Stripe-Should-Retry (-1 when absent).
static int
s_attempt (billing_stripe_t *self, const char *method, const char *url, const char *body,
           size_t body_len, struct curl_slist *headers, int64_t timeout_ms,
           billing_stripe_result_t *result)
{
    CURL *curl = self->curl;
    s_answer_t answer = { .should_retry = -1 };
    char curl_error [CURL_ERROR_SIZE] = "";
    curl_easy_reset (curl);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_USERAGENT, S_USER_AGENT);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
    curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT_MS,
                      (long) (timeout_ms < BILLING_STRIPE_CONNECT_TIMEOUT_MS
                              ? timeout_ms : BILLING_STRIPE_CONNECT_TIMEOUT_MS));
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt (curl, CURLOPT_HEADERFUNCTION, s_header);
    curl_easy_setopt (curl, CURLOPT_HEADERDATA, &answer);
    curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, curl_error);
    if (streq (method, "POST")) {
        curl_easy_setopt (curl, CURLOPT_POST, 1L);
        curl_easy_setopt (curl, CURLOPT_POSTFIELDSIZE, (long) body_len);
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, body ? body : "");
    }
    else
        curl_easy_setopt (curl, CURLOPT_HTTPGET, 1L);

    CURLcode rc = curl_easy_perform (curl);
    //  The buffers above are this frame's: the handle must not keep them.
    curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt (curl, CURLOPT_HEADERDATA, NULL);
    result->attempts++;
    billing_stripe_result_release (result);
    result->http_status = 0;
    result->error_type [0] = result->error_code [0] = result->message [0] = 0;
    snprintf (result->request_id, sizeof (result->request_id), "%s", answer.request_id);
    result->replayed = answer.replayed;
    if (rc != CURLE_OK) {
        snprintf (result->error_type, sizeof (result->error_type), "%s",
                  rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "network_error");
        snprintf (result->message, sizeof (result->message), "%s",
                  answer.too_large ? "the answer was too large"
                  : *curl_error ? curl_error : curl_easy_strerror (rc));
        free (answer.data);
        return -1;
    }
    long status = 0;
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    result->http_status = (int) status;
    if (answer.len) {
        char why [128];
        result->body = sb_json_parse (answer.data, answer.len, why, sizeof (why));
    }
    free (answer.data);
    if (status < 200 || status > 299)
        s_read_error (result);
    return answer.should_retry;
}

static int
s_call (billing_stripe_t *self, const char *method, const char *path, const char *body,
        size_t body_len, const char *idempotency_key, bool may_retry, int64_t deadline,
        billing_stripe_result_t *result)
{
    assert (self && path && result);
    memset (result, 0, sizeof (*result));
    size_t url_size = strlen (self->base) + strlen (path) + 1;
    char *url = (char *) sb_malloc (url_size);
    snprintf (url, url_size, "%s%s", self->base, path);

    struct curl_slist *headers = NULL;
    headers = curl_slist_append (headers, self->authorization);
    headers = curl_slist_append (headers, "Stripe-Version: " BILLING_STRIPE_VERSION);
    headers = curl_slist_append (headers, "Accept: application/json");
    headers = curl_slist_append (headers, "Expect:");
    if (streq (method, "POST"))
        headers = curl_slist_append (headers,
                                     "Content-Type: application/x-www-form-urlencoded");
    char *idem_header = NULL;
    if (idempotency_key) {
        size_t size = strlen ("Idempotency-Key: ") + strlen (idempotency_key) + 1;
        idem_header = (char *) sb_malloc (size);
        snprintf (idem_header, size, "Idempotency-Key: %s", idempotency_key);
        headers = curl_slist_append (headers, idem_header);
    }

    int64_t backoff = BILLING_STRIPE_BACKOFF_MS;
    int rc = -1;
    while (true) {
        int64_t left = deadline - sb_mono_ms ();
        if (left <= 0) {
            if (result->attempts == 0) {
                snprintf (result->error_type, sizeof (result->error_type), "timeout");
                snprintf (result->message, sizeof (result->message),
                          "the deadline passed before the request was sent");
            }
            break;
        }
        int64_t timeout = left < BILLING_STRIPE_ATTEMPT_TIMEOUT_MS
                        ? left : BILLING_STRIPE_ATTEMPT_TIMEOUT_MS;
        int should_retry = s_attempt (self, method, url, body, body_len, headers, timeout,
                                      result);
        sb_debug ("stripe: %s %s -> %d%s%s (attempt %d, request %s)", method, path,
                  result->http_status, *result->error_type ? " " : "", result->error_type,
                  result->attempts, *result->request_id ? result->request_id : "-");
        if (result->http_status >= 200 && result->http_status <= 299) {
            rc = 0;
            break;
        }
        if (!may_retry || result->attempts >= BILLING_STRIPE_MAX_ATTEMPTS
        ||  !billing_stripe_retryable (result->http_status, result->error_code, should_retry))
            break;
        //  A pause that would end at or past the deadline leaves no time
        //  for the attempt after it: keep this answer.
        if (sb_mono_ms () + backoff >= deadline)
            break;
        s_sleep_ms (backoff);
        backoff *= 2;
    }
    curl_slist_free_all (headers);
    free (idem_header);
    free (url);
    return rc;
}

int
billing_stripe_post (billing_stripe_t *self, const char *path, const billing_form_t *form,
                     const char *idempotency_key, int64_t deadline_ms_mono,
                     billing_stripe_result_t *result)
{
    return s_call (self, "POST", path, form ? form->data : NULL, form ? form->len : 0,
                   idempotency_key, idempotency_key != NULL, deadline_ms_mono, result);
}

int
billing_stripe_get (billing_stripe_t *self, const char *path, int64_t deadline_ms_mono,
                    billing_stripe_result_t *result)
{
    return s_call (self, "GET", path, NULL, 0, NULL, true, deadline_ms_mono, result);
}

//  ---- the debugging command ----------------------------------------------

//  `billing-svc stripe-call METHOD PATH [--idempotency-key K] [--timeout-ms N]
//  [KEY=VALUE ...]`: one call through this client, for debugging against a
//  Stripe account and for the tests of the client's retries and deadline
//  (t3002); not listed in --help. KEY=VALUE pairs make the form (POST) or
//  the query (GET). Prints the result as one JSON line: {ok, http_status,
//  attempts, error_type, error_code, message, request_id, replayed, body}.
//  Exit 0 on a 2xx, 1 otherwise, 2 usage or no key.
int
billing_stripe_command (int argc, char **argv, const sb_config_t *config)
{
    const char *usage = "usage: billing-svc stripe-call GET|POST PATH [--idempotency-key K] "
                        "[--timeout-ms N] [KEY=VALUE ...]\n";
    if (argc < 3 || (!streq (argv [1], "GET") && !streq (argv [1], "POST"))
    ||  argv [2][0] != '/') {
        fprintf (stderr, "%s", usage);
        return 2;
    }
    const char *idempotency_key = NULL;
    long timeout_ms = 8000;
    billing_form_t form = { 0 };
    for (int i = 3; i < argc; i++) {
        char *equals = strchr (argv [i], '=');
        if (streq (argv [i], "--idempotency-key") && i + 1 < argc)
            idempotency_key = argv [++i];
        else
        if (streq (argv [i], "--timeout-ms") && i + 1 < argc)
            timeout_ms = strtol (argv [++i], NULL, 10);
        else
        if (equals && equals != argv [i]) {
            *equals = 0;
            billing_form_add (&form, argv [i], equals + 1);
            *equals = '=';
        }
        else {
            fprintf (stderr, "%s", usage);
            billing_form_release (&form);
            return 2;
        }
    }
    billing_stripe_t *self = billing_stripe_new (config->stripe_api_base,
                                                 config->stripe_secret_key);
    if (!self) {
        fprintf (stderr, "billing-svc stripe-call: SWITCHBOARD_STRIPE_SECRET_KEY is not set\n");
        billing_form_release (&form);
        return 2;
    }
    billing_stripe_result_t result;
    int64_t deadline = sb_mono_ms () + timeout_ms;
    int rc;
    if (streq (argv [1], "POST"))
        rc = billing_stripe_post (self, argv [2], &form, idempotency_key, deadline, &result);
    else {
        size_t size = strlen (argv [2]) + form.len + 2;
        char *path = (char *) sb_malloc (size);
        snprintf (path, size, "%s%s%s", argv [2], form.len ? "?" : "", form.len ? form.data : "");
        rc = billing_stripe_get (self, path, deadline, &result);
        free (path);
    }
    json_t *out = json_pack ("{s:b, s:i, s:i, s:s, s:s, s:s, s:s, s:b, s:O?}",
                             "ok", rc == 0, "http_status", result.http_status,
                             "attempts", result.attempts, "error_type", result.error_type,
                             "error_code", result.error_code, "message", result.message,
                             "request_id", result.request_id, "replayed", result.replayed,
                             "body", result.body);
    char *text = out ? json_dumps (out, JSON_COMPACT) : NULL;
    printf ("%s\n", text ? text : "{}");
    free (text);
    json_decref (out);
    billing_stripe_result_release (&result);
    billing_stripe_destroy (&self);
    billing_form_release (&form);
    return rc == 0 ? 0 : 1;
}

//  ---- selftest --------------------------------------------------------------

void
billing_stripe_test (bool verbose)
{
    if (verbose)
        printf (" * billing_stripe: ");

    //  Form encoding: unreserved characters kept, brackets kept in keys
    //  only, everything else (space, reserved, UTF-8 bytes) %XX.
    billing_form_t form = { 0 };
    SB_CHECK (form.data == NULL);
    billing_form_add (&form, "mode", "subscription");
    SB_CHECK (streq (form.data, "mode=subscription"));
    billing_form_add (&form, "line_items[0][price]", "price_1A-b.c_d~e");
    SB_CHECK (streq (form.data, "mode=subscription&line_items[0][price]=price_1A-b.c_d~e"));
    billing_form_release (&form);
    SB_CHECK (form.data == NULL && form.len == 0);

    billing_form_add (&form, "success_url", "https://a.test/ok?session_id={CHECKOUT_SESSION_ID}&x=1 2+3");
    SB_CHECK (streq (form.data, "success_url=https%3A%2F%2Fa.test%2Fok%3Fsession_id%3D"
                                "%7BCHECKOUT_SESSION_ID%7D%26x%3D1%202%2B3"));
    billing_form_release (&form);

    billing_form_add (&form, "metadata[n\xc3\xa4me]", "caf\xc3\xa9 \xe2\x82\xac [x]");
    SB_CHECK (streq (form.data, "metadata[n%C3%A4me]=caf%C3%A9%20%E2%82%AC%20%5Bx%5D"));
    billing_form_add (&form, "skipped", NULL);
    billing_form_add (&form, "empty", "");
    SB_CHECK (streq (form.data + form.len - 7, "&empty="));
    billing_form_addf (&form, "unit_amount", "%d", 2900);
    SB_CHECK (streq (form.data + form.len - 17, "&unit_amount=2900"));
    SB_CHECK (form.len == strlen (form.data));
    billing_form_release (&form);

    //  '!*'();:@$,/?#=&+%' all escaped, in keys too (but the brackets).
    billing_form_add (&form, "k!*'();:@$,/?#=&+%", "!*'();:@$,/?#=&+%\"<>\\^`{|}");
    SB_CHECK (streq (form.data, "k%21%2A%27%28%29%3B%3A%40%24%2C%2F%3F%23%3D%26%2B%25="
                                "%21%2A%27%28%29%3B%3A%40%24%2C%2F%3F%23%3D%26%2B%25%22%3C%3E"
                                "%5C%5E%60%7B%7C%7D"));
    billing_form_release (&form);

    //  A long body grows its buffer.
    for (int i = 0; i < 200; i++)
        billing_form_addf (&form, "metadata[k]", "%d", i);
    SB_CHECK (form.len == strlen (form.data) && form.cap > form.len);
    SB_CHECK (strncmp (form.data, "metadata[k]=0&metadata[k]=1&", 28) == 0);
    billing_form_release (&form);
    billing_form_release (&form);   //  twice is harmless

    //  Retry decisions.
    SB_CHECK (billing_stripe_retryable (0, "", -1));
    SB_CHECK (billing_stripe_retryable (429, "rate_limit", -1));
    SB_CHECK (billing_stripe_retryable (500, "", -1));
    SB_CHECK (billing_stripe_retryable (503, "", -1));
    SB_CHECK (billing_stripe_retryable (409, "idempotency_key_in_use", -1));
    SB_CHECK (billing_stripe_retryable (409, "lock_timeout", -1));
    SB_CHECK (!billing_stripe_retryable (409, "", -1));
    SB_CHECK (!billing_stripe_retryable (409, NULL, -1));
    SB_CHECK (!billing_stripe_retryable (400, "idempotency_key_in_use", -1));
    SB_CHECK (!billing_stripe_retryable (400, "parameter_missing", -1));
    SB_CHECK (!billing_stripe_retryable (402, "card_declined", -1));
    SB_CHECK (!billing_stripe_retryable (401, "", -1));
    SB_CHECK (!billing_stripe_retryable (404, "resource_missing", -1));
    //  Stripe-Should-Retry overrides in both directions.
    SB_CHECK (!billing_stripe_retryable (500, "", 0));
    SB_CHECK (!billing_stripe_retryable (429, "", 0));
    SB_CHECK (billing_stripe_retryable (400, "", 1));

    //  Constructor refusals; destroy accepts NULL.
    SB_CHECK (billing_stripe_new ("https://api.stripe.com", NULL) == NULL);
    SB_CHECK (billing_stripe_new ("https://api.stripe.com", "") == NULL);
    SB_CHECK (billing_stripe_new (NULL, "sk_test_x") == NULL);
    billing_stripe_t *stripe = billing_stripe_new ("http://127.0.0.1:9/", "sk_test_x");
    SB_CHECK (stripe && streq (stripe->base, "http://127.0.0.1:9"));

    //  A deadline already passed sends nothing.
    billing_stripe_result_t result;
    SB_CHECK (billing_stripe_get (stripe, "/v1/customers/cus_x", sb_mono_ms () - 1, &result)
              == -1);
    SB_CHECK (result.attempts == 0 && result.http_status == 0
              && streq (result.error_type, "timeout"));
    billing_stripe_result_release (&result);
    billing_stripe_result_release (&result);
    billing_stripe_destroy (&stripe);
    SB_CHECK (stripe == NULL);
    billing_stripe_destroy (&stripe);
    billing_stripe_destroy (NULL);

    if (verbose)
        printf ("OK\n");
}
