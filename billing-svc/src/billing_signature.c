/*  billing_signature.c — Stripe-Signature verification (billing_stripe.h).

    Stripe signs each webhook delivery with the endpoint's secret: the
    header is `t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]`, and each
    v1 is the lower-case hex HMAC-SHA256, keyed with a secret as written
    ("whsec_..." included), of `<t>.<raw body bytes>`. During a secret roll
    Stripe sends one v1 per active secret, and we may hold several secrets
    (SWITCHBOARD_STRIPE_WEBHOOK_SECRET, comma-separated): any v1 matching
    any secret accepts (REFERENCE.md §1).

    The header comes from anyone on the internet, so it is parsed without
    trust: longer than BILLING_SIGNATURE_HEADER_MAX is refused unread; every
    item must be key=value; t must appear exactly once and be 1-12 decimal
    digits; a v1 that is not 64 hex characters can match nothing and is
    skipped (it still counts as a signature offered); unknown schemes are
    ignored. The timestamp is checked before any HMAC is computed (a stale
    delivery costs nothing), then every v1 against every secret, each
    comparison in constant time (sodium_memcmp) and all of them done even
    after a match, so the time taken says nothing about which matched.
*/
#include "billing_service.h"
#include "billing_stripe.h"

#include <errno.h>
#include <sodium.h>

#define S_T_DIGITS_MAX 12
#define S_SIG_HEX 64

//  Trims spaces around [*start, *end).
static void
s_trim (const char **start, const char **end)
{
    while (*start < *end && (**start == ' ' || **start == '\t'))
        (*start)++;
    while (*end > *start && ((*end) [-1] == ' ' || (*end) [-1] == '\t'))
        (*end)--;
}

static bool
s_is_hex_lower_or_upper (const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isxdigit ((unsigned char) s [i]))
            return false;
    return true;
}

static int
s_refuse (const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -1;
}

int
billing_signature_verify (const char *header, const void *payload, size_t len,
                          const char *const *secrets, size_t secret_count, int64_t now_s,
                          int64_t tolerance_s, const char **why)
{
    if (why)
        *why = NULL;
    if (!header || !*header)
        return s_refuse (why, "no_signature");
    size_t header_len = strnlen (header, BILLING_SIGNATURE_HEADER_MAX + 1);
    if (header_len > BILLING_SIGNATURE_HEADER_MAX)
        return s_refuse (why, "malformed_header");

    //  First pass: the items' shape, t, and whether any v1 is offered.
    const char *t_value = NULL;
    size_t t_len = 0;
    size_t v1_count = 0;
    const char *p = header, *end = header + header_len;
    while (p <= end) {
        const char *item_end = memchr (p, ',', (size_t) (end - p));
        if (!item_end)
            item_end = end;
        const char *item = p, *item_stop = item_end;
        s_trim (&item, &item_stop);
        const char *equals = memchr (item, '=', (size_t) (item_stop - item));
        if (!equals || equals == item)
            return s_refuse (why, "malformed_header");
        size_t key_len = (size_t) (equals - item);
        const char *value = equals + 1;
        size_t value_len = (size_t) (item_stop - value);
        if (key_len == 1 && item [0] == 't') {
            if (t_value || value_len == 0 || value_len > S_T_DIGITS_MAX)
                return s_refuse (why, "malformed_header");
            for (size_t i = 0; i < value_len; i++)
                if (value [i] < '0' || value [i] > '9')
                    return s_refuse (why, "malformed_header");
            t_value = value;
            t_len = value_len;
        }
        else
        if (key_len == 2 && item [0] == 'v' && item [1] == '1')
            v1_count++;
        p = item_end + 1;
    }
    if (!t_value)
        return s_refuse (why, "malformed_header");
    if (v1_count == 0)
        return s_refuse (why, "no_signature");

    int64_t t = 0;
    for (size_t i = 0; i < t_len; i++)
        t = t * 10 + (t_value [i] - '0');
    int64_t age = now_s - t;
    if (age > tolerance_s || age < -tolerance_s)
        return s_refuse (why, "timestamp_outside_tolerance");

    //  The expected signature under each secret.
    bool matched = false;
    for (size_t s = 0; s < secret_count; s++) {
        if (!secrets [s] || !*secrets [s])
            continue;
        crypto_auth_hmacsha256_state state;
        unsigned char digest [crypto_auth_hmacsha256_BYTES];
        char expected [S_SIG_HEX + 1];
        crypto_auth_hmacsha256_init (&state, (const unsigned char *) secrets [s],
                                     strlen (secrets [s]));
        crypto_auth_hmacsha256_update (&state, (const unsigned char *) t_value, t_len);
        crypto_auth_hmacsha256_update (&state, (const unsigned char *) ".", 1);
        crypto_auth_hmacsha256_update (&state, (const unsigned char *) payload, len);
        crypto_auth_hmacsha256_final (&state, digest);
        sodium_bin2hex (expected, sizeof (expected), digest, sizeof (digest));

        for (p = header; p <= end; ) {
            const char *item_end = memchr (p, ',', (size_t) (end - p));
            if (!item_end)
                item_end = end;
            const char *item = p, *item_stop = item_end;
            s_trim (&item, &item_stop);
            p = item_end + 1;
            if (item_stop - item != 3 + S_SIG_HEX || strncmp (item, "v1=", 3))
                continue;
            if (!s_is_hex_lower_or_upper (item + 3, S_SIG_HEX))
                continue;
            if (sodium_memcmp (item + 3, expected, S_SIG_HEX) == 0)
                matched = true;
        }
    }
    if (!matched)
        return s_refuse (why, "no_matching_signature");
    return 0;
}

size_t
billing_signature_secrets (const char *list, char **secrets, size_t max)
{
    size_t count = 0, len;
    const char *item, *p = list;
    while (p && count < max && (item = sb_list_next (&p, &len)))
        if (len > 0)
            secrets [count++] = sb_strndup (item, len);
    return count;
}

//  `billing-svc verify-signature HEADER PAYLOAD_FILE [NOW]`: a debugging
//  aid not listed in --help (t3002 holds the check against
//  tests/lib/stripe_sign.py with it): verifies as the webhook will, with
//  the secrets of SWITCHBOARD_STRIPE_WEBHOOK_SECRET, the 300 s tolerance
//  and NOW (Unix seconds, default the clock). Prints "valid" or the reason;
//  exit 0 valid, 1 refused, 2 usage.
int
billing_signature_command (int argc, char **argv, const sb_config_t *config)
{
    if (argc < 3 || argc > 4) {
        fprintf (stderr, "usage: billing-svc verify-signature HEADER PAYLOAD_FILE [NOW]\n");
        return 2;
    }
    int64_t now = sb_now_ms () / 1000;
    if (argc == 4) {
        char *end;
        errno = 0;
        now = strtoll (argv [3], &end, 10);
        if (errno || *end || end == argv [3]) {
            fprintf (stderr, "billing-svc verify-signature: NOW is not a number\n");
            return 2;
        }
    }
    FILE *file = fopen (argv [2], "rb");
    if (!file) {
        fprintf (stderr, "billing-svc verify-signature: cannot open %s\n", argv [2]);
        return 2;
    }
    size_t len = 0, cap = 4096;
    char *payload = (char *) sb_malloc (cap);
    size_t n;
    while ((n = fread (payload + len, 1, cap - len, file)) > 0) {
        len += n;
        if (len == cap)
            payload = (char *) sb_realloc (payload, cap *= 2);
    }
    fclose (file);
    char *secrets [16];
    size_t count = billing_signature_secrets (config->stripe_webhook_secret, secrets, 16);
    const char *why = NULL;
    int rc = billing_signature_verify (argv [1], payload, len, (const char *const *) secrets,
                                       count, now, 300, &why);
    printf ("%s\n", rc == 0 ? "valid" : why);
    for (size_t i = 0; i < count; i++)
        free (secrets [i]);
    free (payload);
    return rc == 0 ? 0 : 1;
}

//  ---- selftest --------------------------------------------------------------

void
billing_signature_test (bool verbose)
{
    if (verbose)
        printf (" * billing_signature: ");

    //  Vectors made at development time by the independent oracle,
    //  tests/lib/stripe_sign.py (Python's hmac, written from Stripe's
    //  documentation), e.g. `stripe_sign.py whsec_test_secret p1.json
    //  1700000000`; fixed here as inputs.
    const char *p1 = "{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}";
    const char *h1 = "t=1700000000,"
                     "v1=46dc069361a7691082640523fa33fe5d6c8c88d5f5e257cdf8cf11539d166595";
    const char *h1_roll = "t=1700000000,"
                     "v1=d13175aede5abd17f608014cc932a35d96e3c14e1ca5933a3a87aa37a60768fb,"
                     "v1=06c3705d601923888df75d46fc06830f535f3da6966a41a12ef2a89a3548282e";
    const char *h0 = "t=1700000000,"
                     "v1=316b9ab98c15bfa039d243f3196acee619cf29749a91a634e6a8154e2f7b6727";
    //  Raw bytes: UTF-8, an escaped newline, CR LF at the end.
    const char *p2 = "{\"a\":\"caf\xc3\xa9\\n\"}\r\n";
    const char *h2 = "t=1700000123,"
                     "v1=4e73d7e2227e1366a4cb3a1d74fab810fc8267233cb14fe57dd300d307660702";
    const char *one [] = { "whsec_test_secret" };
    const char *old_new [] = { "whsec_old", "whsec_new" };
    const char *other_then_right [] = { "whsec_other", "whsec_test_secret" };
    const char *wrong [] = { "whsec_wrong" };
    const char *just_new [] = { "whsec_new" };
    const char *just_old [] = { "whsec_old" };
    int64_t now = 1700000000;
    const char *why = "unset";
    size_t n1 = strlen (p1);

    SB_CHECK (billing_signature_verify (h1, p1, n1, one, 1, now, 300, &why) == 0 && !why);
    SB_CHECK (billing_signature_verify (h0, "", 0, one, 1, now, 300, &why) == 0);
    SB_CHECK (billing_signature_verify (h2, p2, strlen (p2), one, 1, now + 123, 300, &why) == 0);
    //  Several secrets configured: the right one anywhere in the list.
    SB_CHECK (billing_signature_verify (h1, p1, n1, other_then_right, 2, now, 300, &why) == 0);
    //  Stripe's roll: two v1, either secret alone accepts.
    SB_CHECK (billing_signature_verify (h1_roll, p1, n1, just_new, 1, now, 300, &why) == 0);
    SB_CHECK (billing_signature_verify (h1_roll, p1, n1, just_old, 1, now, 300, &why) == 0);
    SB_CHECK (billing_signature_verify (h1_roll, p1, n1, old_new, 2, now, 300, &why) == 0);
    //  Spaces after commas and a v0 are tolerated.
    char spaced [256];
    snprintf (spaced, sizeof (spaced), "t=1700000000, v0=abc, v1=%s", h1 + 16);
    SB_CHECK (billing_signature_verify (spaced, p1, n1, one, 1, now, 300, &why) == 0);
    //  Any order: v1 before t.
    char reordered [256];
    snprintf (reordered, sizeof (reordered), "v1=%s,t=1700000000", h1 + 16);
    SB_CHECK (billing_signature_verify (reordered, p1, n1, one, 1, now, 300, &why) == 0);

    //  Tampered body, one byte more or less, wrong secret, no secret.
    char tampered [64];
    snprintf (tampered, sizeof (tampered), "%s", p1);
    tampered [8] = 'X';
    SB_CHECK (billing_signature_verify (h1, tampered, n1, one, 1, now, 300, &why) == -1
              && streq (why, "no_matching_signature"));
    SB_CHECK (billing_signature_verify (h1, p1, n1 - 1, one, 1, now, 300, &why) == -1);
    SB_CHECK (billing_signature_verify (h1, "{\"id\":\"evt_1\",\"type\":\"invoice.paid\"} ",
                                        n1 + 1, one, 1, now, 300, &why) == -1);
    SB_CHECK (billing_signature_verify (h1, p1, n1, wrong, 1, now, 300, &why) == -1
              && streq (why, "no_matching_signature"));
    SB_CHECK (billing_signature_verify (h1, p1, n1, NULL, 0, now, 300, &why) == -1
              && streq (why, "no_matching_signature"));
    //  The same signature with another timestamp: the timestamp is signed.
    char moved [256];
    snprintf (moved, sizeof (moved), "t=1700000001,v1=%s", h1 + 16);
    SB_CHECK (billing_signature_verify (moved, p1, n1, one, 1, now, 300, &why) == -1
              && streq (why, "no_matching_signature"));
    //  Upper-case hex is not what Stripe sends: no match.
    char upper [256];
    snprintf (upper, sizeof (upper), "%s", h1);
    for (char *c = upper + 16; *c; c++)
        *c = (char) toupper ((unsigned char) *c);
    SB_CHECK (billing_signature_verify (upper, p1, n1, one, 1, now, 300, &why) == -1
              && streq (why, "no_matching_signature"));

    //  Tolerance, both directions, boundaries included.
    SB_CHECK (billing_signature_verify (h1, p1, n1, one, 1, now + 300, 300, &why) == 0);
    SB_CHECK (billing_signature_verify (h1, p1, n1, one, 1, now - 300, 300, &why) == 0);
    SB_CHECK (billing_signature_verify (h1, p1, n1, one, 1, now + 301, 300, &why) == -1
              && streq (why, "timestamp_outside_tolerance"));
    SB_CHECK (billing_signature_verify (h1, p1, n1, one, 1, now - 301, 300, &why) == -1
              && streq (why, "timestamp_outside_tolerance"));
    SB_CHECK (billing_signature_verify (h1, p1, n1, one, 1, now + 86400 * 365, 300, &why) == -1
              && streq (why, "timestamp_outside_tolerance"));

    //  Garbage headers.
    struct { const char *header; const char *why; } bad [] = {
        { NULL, "no_signature" },
        { "", "no_signature" },
        { "t=1700000000", "no_signature" },
        { "t=1700000000,v0=abcd", "no_signature" },
        { "v1=46dc069361a7691082640523fa33fe5d6c8c88d5f5e257cdf8cf11539d166595",
          "malformed_header" },
        { "t=1700000000,t=1700000000,v1=46dc069361a7691082640523fa33fe5d6c8c88d5f5e257cdf8cf11539d166595",
          "malformed_header" },
        { "t=17e8,v1=46dc069361a7691082640523fa33fe5d6c8c88d5f5e257cdf8cf11539d166595",
          "malformed_header" },
        { "t=-1700000000,v1=46dc069361a7691082640523fa33fe5d6c8c88d5f5e257cdf8cf11539d166595",
          "malformed_header" },
        { "t=,v1=46dc069361a7691082640523fa33fe5d6c8c88d5f5e257cdf8cf11539d166595",
          "malformed_header" },
        { "t=99999999999999999999,v1=46dc069361a7691082640523fa33fe5d6c8c88d5f5e257cdf8cf11539d166595",
          "malformed_header" },
        { "t=1700000000,,v1=46dc069361a7691082640523fa33fe5d6c8c88d5f5e257cdf8cf11539d166595",
          "malformed_header" },
        { "t=1700000000,v1", "malformed_header" },
        { "garbage", "malformed_header" },
        { "=x,t=1700000000,v1=ab", "malformed_header" },
        { "t=1700000000,v1=", "no_matching_signature" },
        { "t=1700000000,v1=46dc", "no_matching_signature" },
        { "t=1700000000,v1=46dc069361a7691082640523fa33fe5d6c8c88d5f5e257cdf8cf11539d16659",
          "no_matching_signature" },         //  63 characters: odd hex
        { "t=1700000000,v1=46dc069361a7691082640523fa33fe5d6c8c88d5f5e257cdf8cf11539d1665950",
          "no_matching_signature" },         //  65
        { "t=1700000000,v1=zzdc069361a7691082640523fa33fe5d6c8c88d5f5e257cdf8cf11539d166595",
          "no_matching_signature" },
        { NULL, NULL }
    };
    for (size_t i = 0; bad [i].why; i++) {
        const char *reason = NULL;
        int rc = billing_signature_verify (bad [i].header, p1, n1, one, 1, now, 300, &reason);
        SB_CHECK (rc == -1 && reason && streq (reason, bad [i].why));
        if (rc != -1 || !reason || !streq (reason, bad [i].why))
            fprintf (stderr, "  header %zu '%s': %s\n", i,
                     bad [i].header ? bad [i].header : "(null)", reason ? reason : "(null)");
    }

    //  A huge header is refused unread, even one that would match.
    size_t huge_size = BILLING_SIGNATURE_HEADER_MAX + 200;
    char *huge = (char *) sb_malloc (huge_size);
    int used = snprintf (huge, huge_size, "%s", h1);
    while ((size_t) used + 6 < huge_size - 1)
        used += snprintf (huge + used, huge_size - (size_t) used, ",v0=ab");
    SB_CHECK (billing_signature_verify (huge, p1, n1, one, 1, now, 300, &why) == -1
              && streq (why, "malformed_header"));
    free (huge);
    //  why may be NULL.
    SB_CHECK (billing_signature_verify ("garbage", p1, n1, one, 1, now, 300, NULL) == -1);

    //  The secrets list.
    char *secrets [4];
    size_t count = billing_signature_secrets (" whsec_a ,, whsec_b,whsec_c,whsec_d,whsec_e",
                                              secrets, 4);
    SB_CHECK (count == 4);
    SB_CHECK (count == 4 && streq (secrets [0], "whsec_a") && streq (secrets [1], "whsec_b")
              && streq (secrets [3], "whsec_d"));
    for (size_t i = 0; i < count; i++)
        free (secrets [i]);
    SB_CHECK (billing_signature_secrets (NULL, secrets, 4) == 0);
    SB_CHECK (billing_signature_secrets (" , ", secrets, 4) == 0);

    if (verbose)
        printf ("OK\n");
}
