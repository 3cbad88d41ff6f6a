/*  billing_stripe.h — billing-svc's Stripe plumbing: a REST client over
    libcurl, the form bodies it sends, and Stripe-Signature verification.

    A client (billing_stripe_t) belongs to one thread: it keeps one curl
    easy handle, so that consecutive calls reuse the connection
    (keep-alive); two threads that call Stripe hold one client each.

    Every call is bounded: the caller gives a deadline (a monotonic instant
    in milliseconds, sb_mono_ms () + 8000 for example) and the call returns
    by then whatever Stripe does, with the reason in the result. A call is
    retried only where Stripe's idempotency makes a repeat harmless: a GET,
    or a POST that carries an Idempotency-Key; and only on an answer that
    says to try again (no answer at all, 429, 5xx, 409 for a key whose
    first request is still running), unless Stripe says otherwise in its
    Stripe-Should-Retry header. A POST without a key is sent once.

    The secret key is never logged, nor copied into a result.
*/
#ifndef BILLING_STRIPE_H_INCLUDED
#define BILLING_STRIPE_H_INCLUDED

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  The API version every request pins (Stripe-Version header): the shapes
//  this code reads are those of this version.
#define BILLING_STRIPE_VERSION "2025-03-31.basil"

//  Connection set-up and one attempt: each is also cut by the deadline.
#define BILLING_STRIPE_CONNECT_TIMEOUT_MS 2000
#define BILLING_STRIPE_ATTEMPT_TIMEOUT_MS 5000
//  The pause before the first retry, doubled for each later one.
#define BILLING_STRIPE_BACKOFF_MS 250

typedef struct _billing_stripe_t billing_stripe_t;

//  A client for the API at base (SWITCHBOARD_STRIPE_API_BASE: the scheme,
//  host and port, no path, e.g. https://api.stripe.com) with the secret key.
//  Both strings are copied. Returns NULL when key or base is NULL or empty
//  (billing is then not configured).
billing_stripe_t *billing_stripe_new (const char *base, const char *key);

//  Destroys the client and NULLs *self_p; accepts NULL.
void billing_stripe_destroy (billing_stripe_t **self_p);

//  A form body, application/x-www-form-urlencoded. Start from a zeroed
//  struct ({ 0 }); the caller writes Stripe's bracket notation in the keys
//  ("line_items[0][price]", "metadata[org_id]"). data is NUL-terminated
//  once anything was added (NULL while empty); the caller owns it and frees
//  it with billing_form_release. The same encoding makes a GET's query.
typedef struct {
    char *data;
    size_t len, cap;
} billing_form_t;

//  Appends key=value (after a "&" when not the first), both
//  percent-encoded: RFC 3986 unreserved characters ALPHA DIGIT - . _ ~ are
//  kept, and in the key the brackets of Stripe's notation too (as Stripe's
//  own libraries send them; both forms mean the same to a form decoder);
//  every other byte is %XX, a space and UTF-8 included. NULL value:
//  nothing is added.
void billing_form_add (billing_form_t *form, const char *key, const char *value);

//  Like billing_form_add with a printf-formatted value.
void billing_form_addf (billing_form_t *form, const char *key, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Frees the body and zeroes the struct (it can be used again).
void billing_form_release (billing_form_t *form);

//  What a call got. Zeroed by the call before it starts; body is owned by
//  the result: billing_stripe_result_release frees it (and is safe on a
//  released or zeroed result).
typedef struct {
    int http_status;                //  0: no HTTP answer (network error, timeout)
    json_t *body;                   //  the parsed JSON answer, NULL if none or not JSON
    char error_type [64];           //  Stripe's error.type ("card_error",
                                    //  "invalid_request_error", "api_error",
                                    //  "idempotency_error" ...), or "network_error",
                                    //  "timeout"; "" on success
    char error_code [64];           //  Stripe's error.code when given
    char message [256];             //  Stripe's error.message, or curl's reason
    char request_id [64];           //  Stripe's Request-Id header of the last answer
    int attempts;                   //  requests sent (1 + retries)
    bool replayed;                  //  Idempotent-Replayed: true on the last answer
} billing_stripe_result_t;

//  POSTs form (NULL: an empty body) to path ("/v1/checkout/sessions"),
//  with Idempotency-Key idempotency_key when not NULL (then retried where
//  safe, see the header above; without a key, never retried). Returns 0
//  when Stripe answered 2xx, -1 otherwise (result says why). Never past
//  deadline_ms_mono (sb_mono_ms's clock); a deadline already passed sends
//  nothing and answers "timeout".
int billing_stripe_post (billing_stripe_t *self, const char *path, const billing_form_t *form,
                         const char *idempotency_key, int64_t deadline_ms_mono,
                         billing_stripe_result_t *result);

//  GETs path, query included ("/v1/prices?lookup_keys[]=x&active=true";
//  the caller percent-encodes the values, billing_form_t may build the
//  query). Retried where safe, like a POST with a key. Returns as
//  billing_stripe_post.
int billing_stripe_get (billing_stripe_t *self, const char *path, int64_t deadline_ms_mono,
                        billing_stripe_result_t *result);

//  Frees the result's body; the result may be used again.
void billing_stripe_result_release (billing_stripe_result_t *result);

//  True when an answer with this status (0: none), error code and
//  Stripe-Should-Retry header (-1 absent, 0 false, 1 true) may be retried
//  by a caller allowed to retry (pure, exposed for the selftest).
bool billing_stripe_retryable (int http_status, const char *error_code, int should_retry);

void billing_stripe_test (bool verbose);

//  ---- Stripe-Signature (billing_signature.c) --------------------------------

//  The largest Stripe-Signature header looked at; a longer one is refused
//  unread (malformed_header).
#define BILLING_SIGNATURE_HEADER_MAX 8192

//  Verifies a webhook's Stripe-Signature header (NUL-terminated) against
//  the raw body (payload, len bytes, exactly as received) and each of
//  secret_count secrets (each used as the HMAC key as written, "whsec_..."
//  included): accepted when the header has exactly one numeric t= within
//  tolerance_s of now_s (either way) and any v1= is the lowercase hex
//  HMAC-SHA256 of "<t>.<payload>" under any secret, compared in constant
//  time. Other schemes (v0) are ignored. Returns 0 when valid, else -1 with
//  *why (may be NULL) set to a stable reason, a static string:
//  "no_signature" (no header, or no v1 in it), "malformed_header" (not
//  key=value pairs, t missing, repeated or not a number, too long),
//  "timestamp_outside_tolerance", "no_matching_signature" (also: no
//  secret configured).
int billing_signature_verify (const char *header, const void *payload, size_t len,
                              const char *const *secrets, size_t secret_count, int64_t now_s,
                              int64_t tolerance_s, const char **why);

//  Splits a comma-separated list of secrets (SWITCHBOARD_STRIPE_WEBHOOK_SECRET)
//  into at most max NUL-terminated copies in secrets (the caller frees each
//  with free); empty items are skipped. Returns how many.
size_t billing_signature_secrets (const char *list, char **secrets, size_t max);

void billing_signature_test (bool verbose);

#endif
