/*  stripe_signature.c — libFuzzer harness: the Stripe-Signature check
    (billing_signature_verify, billing-svc/src/billing_signature.c).

    What a stranger controls: the whole Stripe-Signature header and the
    raw body of POST /v1/billing/webhook. What they do not know: the
    endpoint's secret. An input is read as four parts:

        byte 0      flags: bit 0, a second (wrong) secret is configured
                    first; bits 1-2, which variant the replay checks use
        bytes 1-2   the timestamp's distance from now, signed 16-bit
                    seconds (so both sides of the 300 s tolerance)
        secret\n    the endpoint secret (up to 64 bytes, no NUL)
        template\n  the header, in which '#' stands for the timestamp's
                    digits and '@' for the harness's own v1 signature of
                    "<t>.<payload>" under the secret: "t=#,v1=@" is a
                    header Stripe would send; mutations give duplicates,
                    spaces, v0, garbage, cut or doubled signatures
        payload     the rest, the raw body

    Properties checked on every input:

      1. The verifier's answer (accepted, or refused with which reason)
         equals the one predicted by the harness's own reading of the
         documented rules (s_predict below: items key=value split on ','
         and trimmed of spaces and tabs, exactly one t of 1-12 digits,
         at least one v1, |now - t| <= 300, a v1 equal to the lower-case
         hex HMAC-SHA256 under a non-empty secret), the HMAC computed with
         OpenSSL's HMAC, not libsodium's as the verifier does.
      2. When accepted, the same check with one payload byte flipped, one
         byte more, another secret alone, a "now" just outside the
         tolerance on either side: the fuzzed header still gets the rules'
         answer (it may hold a v1 for the changed bytes too: libFuzzer
         learns the values the harness compares), and the harness's plain
         header "t=<t>,v1=<hex>" is refused every time.
      3. Nothing crashes, reads out of bounds or leaks, whatever the text.
*/
#include "../../billing-svc/src/billing_stripe.h"

#include "fuzz.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_NOW       INT64_C (1700000000)
#define S_TOLERANCE 300
#define S_SECRET_MAX 64

static void
s_fail (const char *what, const char *header, size_t size)
{
    fprintf (stderr, "stripe_signature harness: %s (input of %zu bytes, header '%.200s')\n",
             what, size, header);
    abort ();
}

//  The oracle's signature: lower-case hex HMAC-SHA256 of "<t>.<payload>".
static void
s_sign (const char *secret, const char *t, const uint8_t *payload, size_t len, char *hex)
{
    size_t t_len = strlen (t);
    unsigned char *text = (unsigned char *) malloc (t_len + 1 + len + 1);
    memcpy (text, t, t_len);
    text [t_len] = '.';
    if (len)
        memcpy (text + t_len + 1, payload, len);
    unsigned char mac [EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!HMAC (EVP_sha256 (), secret, (int) strlen (secret), text, t_len + 1 + len, mac,
               &mac_len) || mac_len != 32)
        abort ();
    free (text);
    for (unsigned i = 0; i < 32; i++)
        snprintf (hex + 2 * i, 3, "%02x", mac [i]);
}

//  ---- the documented rules, read independently ------------------------------
//  Returns NULL for "accepted", else the reason the verifier must give.
static const char *
s_predict (const char *header, const uint8_t *payload, size_t len, const char *const *secrets,
           size_t count, int64_t now)
{
    if (!header || !*header)
        return "no_signature";
    size_t header_len = strlen (header);
    if (header_len > BILLING_SIGNATURE_HEADER_MAX)
        return "malformed_header";
    //  The items, trimmed.
    char t_text [16] = "";
    int t_seen = 0, v1_seen = 0;
    size_t start = 0;
    while (true) {
        size_t stop = start;
        while (stop < header_len && header [stop] != ',')
            stop++;
        size_t a = start, b = stop;
        while (a < b && (header [a] == ' ' || header [a] == '\t'))
            a++;
        while (b > a && (header [b - 1] == ' ' || header [b - 1] == '\t'))
            b--;
        size_t eq = a;
        while (eq < b && header [eq] != '=')
            eq++;
        if (eq == b || eq == a)
            return "malformed_header";      //  no '=', or an empty key
        size_t key_len = eq - a, value_len = b - eq - 1;
        const char *value = header + eq + 1;
        if (key_len == 1 && header [a] == 't') {
            if (t_seen++ || value_len < 1 || value_len > 12)
                return "malformed_header";
            for (size_t i = 0; i < value_len; i++)
                if (value [i] < '0' || value [i] > '9')
                    return "malformed_header";
            memcpy (t_text, value, value_len);
            t_text [value_len] = 0;
        }
        else
        if (key_len == 2 && header [a] == 'v' && header [a + 1] == '1')
            v1_seen++;
        if (stop == header_len)
            break;
        start = stop + 1;
    }
    if (!t_seen)
        return "malformed_header";
    if (!v1_seen)
        return "no_signature";
    int64_t t = strtoll (t_text, NULL, 10);
    if (now - t > S_TOLERANCE || t - now > S_TOLERANCE)
        return "timestamp_outside_tolerance";
    //  Any v1 (trimmed item "v1=<64 lower-case hex>") under any non-empty secret.
    for (size_t s = 0; s < count; s++) {
        if (!*secrets [s])
            continue;
        char hex [65];
        s_sign (secrets [s], t_text, payload, len, hex);
        const char *p = header;
        while (p) {
            const char *q = p;
            while (*q == ' ' || *q == '\t')
                q++;
            if (strncmp (q, "v1=", 3) == 0 && strncmp (q + 3, hex, 64) == 0) {
                const char *after = q + 67;
                while (*after == ' ' || *after == '\t')
                    after++;
                if (*after == ',' || !*after)
                    return NULL;
            }
            p = strchr (p, ',');
            if (p)
                p++;
        }
    }
    return "no_matching_signature";
}

static bool
s_same (const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp (a, b) == 0);
}

//  Runs the verifier and compares it with the prediction.
static const char *
s_check (const char *header, const uint8_t *payload, size_t len, const char *const *secrets,
         size_t count, int64_t now, size_t size)
{
    const char *why = "unset";
    int rc = billing_signature_verify (header, payload, len, secrets, count, now, S_TOLERANCE,
                                       &why);
    const char *expected = s_predict (header, payload, len, secrets, count, now);
    if ((rc == 0) != (expected == NULL))
        s_fail (rc == 0 ? "accepted what the rules refuse" : "refused what the rules accept",
                header, size);
    if (rc != 0 && rc != -1)
        s_fail ("returned neither 0 nor -1", header, size);
    if (!s_same (rc == 0 ? NULL : why, expected)) {
        fprintf (stderr, "verifier: %s, rules: %s\n", why ? why : "(null)",
                 expected ? expected : "(accepted)");
        s_fail ("the reason differs from the rules'", header, size);
    }
    return expected;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    size_t total = size;
    if (size < 3)
        return 0;
    uint8_t flags = data [0];
    int64_t delta = (int16_t) (uint16_t) (data [1] | data [2] << 8);
    data += 3, size -= 3;

    const uint8_t *line;
    size_t n = fuzz_line (&data, &size, &line);
    char secret [S_SECRET_MAX + 1];
    n = strnlen ((const char *) line, n < S_SECRET_MAX ? n : S_SECRET_MAX);
    memcpy (secret, line, n);
    secret [n] = 0;

    const uint8_t *tmpl;
    size_t tmpl_len = fuzz_line (&data, &size, &tmpl);
    if (tmpl_len > 2 * BILLING_SIGNATURE_HEADER_MAX)
        return 0;
    const uint8_t *payload = data;
    size_t len = size;

    char t_text [24];
    snprintf (t_text, sizeof (t_text), "%lld", (long long) (S_NOW + delta));
    char hex [65];
    s_sign (secret, t_text, payload, len, hex);

    //  The header: the template with '#' and '@' expanded, cut at a NUL
    //  (the header is a C string by the time the verifier sees it).
    char *header = (char *) malloc (tmpl_len * 64 + 1);
    size_t at = 0;
    for (size_t i = 0; i < tmpl_len && tmpl [i]; i++) {
        if (tmpl [i] == '#') {
            memcpy (header + at, t_text, strlen (t_text));
            at += strlen (t_text);
        }
        else
        if (tmpl [i] == '@') {
            memcpy (header + at, hex, 64);
            at += 64;
        }
        else
            header [at++] = (char) tmpl [i];
    }
    header [at] = 0;

    const char *secrets [2] = { "whsec_not_this_one", secret };
    const char *const *configured = (flags & 1) ? secrets : secrets + 1;
    size_t count = (flags & 1) ? 2 : 1;
    const char *why = s_check (header, payload, len, configured, count, S_NOW, total);

    if (!why) {
        //  2. Accepted: for anything else, the fuzzed header must still get
        //  the rules' answer (it may carry a v1 for the changed bytes too:
        //  libFuzzer learns the values the harness compares), and the
        //  harness's plain header "t=<t>,v1=<hex>" must be refused.
        char plain [96];
        snprintf (plain, sizeof (plain), "t=%s,v1=%s", t_text, hex);
        const char *headers [2] = { header, plain };
        int variant = (flags >> 1) & 3;
        int64_t t = S_NOW + delta;
        char other [S_SECRET_MAX + 2];
        snprintf (other, sizeof (other), "%s%c", secret, "x!_0" [variant]);
        const char *just_other [1] = { other };
        uint8_t *changed = (uint8_t *) malloc (len + 1);
        if (len)
            memcpy (changed, payload, len);
        changed [len] = (uint8_t) variant;
        size_t where = len ? (size_t) (delta & 0x7fff) % len : 0;
        for (int h = 0; h < 2; h++) {
            const char *what [5];
            if (len)
                changed [where] ^= (uint8_t) (1u << (variant + (flags >> 5)) % 8);
            what [0] = len ? s_check (headers [h], changed, len, configured, count, S_NOW, total)
                           : "skipped";
            if (len)
                changed [where] = payload [where];
            what [1] = s_check (headers [h], changed, len + 1, configured, count, S_NOW, total);
            what [2] = s_check (headers [h], payload, len, just_other, 1, S_NOW, total);
            what [3] = s_check (headers [h], payload, len, configured, count,
                                t + S_TOLERANCE + 1 + variant, total);
            what [4] = s_check (headers [h], payload, len, configured, count,
                                t - S_TOLERANCE - 1 - variant, total);
            if (h == 1 && (!what [0] || !what [1]))
                s_fail ("a changed payload still verifies", plain, total);
            if (h == 1 && !what [2])
                s_fail ("another secret verifies", plain, total);
            if (h == 1 && (!what [3] || !what [4]))
                s_fail ("a header outside the tolerance verifies", plain, total);
        }
        free (changed);
    }
    free (header);
    return 0;
}
