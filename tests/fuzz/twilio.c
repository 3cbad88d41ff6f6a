/*  twilio.c — libFuzzer harness: a Twilio status callback's form body and
    its X-Twilio-Signature (tenant-svc/src/tenant_twilio.c).

    What a stranger controls: the raw body of POST
    /v1/integrations/twilio/callback/<token>, the request's path and query
    (decoded by the gateway) and the X-Twilio-Signature header; not the
    organization's auth token. An input is read as:

        byte 0    flags: which byte the tamper checks change, and whether
                  the round trip writes a space as '+' or %20
        token\n   the auth token (up to 128 bytes, no NUL)
        base\n    SWITCHBOARD_PUBLIC_URL
        path\n    the request's path
        query\n   the decoded query, names and values separated by TAB
        body      the rest, raw

    and goes through the callback's pure steps in its order:
    tenant_twilio_form_parse, tenant_twilio_url_build, tenant_twilio_verify.
    Properties checked on every input:

      1. The form parser agrees with the harness's own reading of the
         documented rules (s_form below: '&'-separated, empty pieces
         skipped, name up to the first '=', '+' a space, %XX with two hex
         digits, no NUL raw or decoded, name never empty, at most
         TENANT_TWILIO_PARAMS_MAX, other bytes kept as they are, invalid
         UTF-8 included): the same verdict, the same names and values.
      2. Round trip: the parsed parameters written back as a form by the
         harness (every byte outside RFC 3986's unreserved set as %XX, a
         space as '+' or %20) parse again to the same parameters.
      3. The URL rebuilt is the harness's own rebuilding (base without
         trailing '/', path, '?' and the pairs percent-encoded), whenever
         that fits in the callback's 2048-byte buffer.
      4. A signature made by the harness — its own HMAC-SHA1 (RFC 2104
         written here over OpenSSL's SHA-1, not OpenSSL's HMAC the code
         uses) of the URL and the parameters sorted by name then value,
         base64 by OpenSSL's encoder — verifies; with https and no port,
         so does the one made over the URL with ":443" after the host.
      5. That signature is refused after any one change: a byte of a
         name, a value, the URL or the token flipped, one character of
         the header changed, the header cut or lengthened; and the input's
         own text as a header is refused unless it is the signature.
      6. What the form says (tenant_twilio_event_read, which the callback
         runs once the signature holds) equals the harness's reading of
         tenant.h's rules, on every form that parses: the first CallSid,
         CallStatus, From and To kept only when printable ASCII without
         spaces and short enough (the same pointers), SequenceNumber only
         when 1 to 18 digits, CallDuration 0 to 86400 else 0, terminal
         for the five final statuses, and the Timestamp read by the
         harness's own RFC 2822 reader (fields split at single spaces, the
         day name by Zeller's congruence; fuzz.h), else or when later than
         now, now. Refused exactly when CallSid or CallStatus is missing.
      7. Nothing crashes, reads out of bounds or leaks.
*/
#include "../../tenant-svc/src/tenant.h"
#include "fuzz.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_MAX TENANT_TWILIO_PARAMS_MAX
#define S_URL_SIZE 2048             //  the callback's buffer (tenant_twilio.c)
#define S_TOKEN_MAX 128

static void
s_fail (const char *what, size_t size)
{
    fprintf (stderr, "twilio harness: %s (input of %zu bytes)\n", what, size);
    abort ();
}

//  ---- the oracle's form reading ----------------------------------------------

typedef struct {
    uint8_t *name, *value;      //  malloc'd
    size_t name_len, value_len;
} s_param_t;

static int
s_hexval (uint8_t c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

//  Decodes [s, s + n) into a new buffer; false when refused.
static bool
s_unescape (const uint8_t *s, size_t n, uint8_t **out, size_t *out_len)
{
    uint8_t *o = (uint8_t *) malloc (n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s [i];
        if (c == '%') {
            if (n - i < 3 || s_hexval (s [i + 1]) < 0 || s_hexval (s [i + 2]) < 0) {
                free (o);
                return false;
            }
            c = (uint8_t) (s_hexval (s [i + 1]) << 4 | s_hexval (s [i + 2]));
            i += 2;
        }
        else
        if (c == '+')
            c = ' ';
        if (c == 0) {
            free (o);
            return false;
        }
        o [k++] = c;
    }
    *out = o;
    *out_len = k;
    return true;
}

static void
s_params_free (s_param_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free (p [i].name);
        free (p [i].value);
    }
}

//  Reads body as the documented rules say; -1 when refused.
static long
s_form (const uint8_t *body, size_t len, s_param_t *out)
{
    size_t count = 0, start = 0;
    while (start <= len) {
        size_t stop = start;
        while (stop < len && body [stop] != '&')
            stop++;
        if (stop > start) {
            size_t eq = start;
            while (eq < stop && body [eq] != '=')
                eq++;
            bool ok = count < S_MAX && eq > start
                   && s_unescape (body + start, eq - start, &out [count].name,
                                  &out [count].name_len);
            if (ok) {
                size_t v = eq < stop ? eq + 1 : stop;
                ok = s_unescape (body + v, stop - v, &out [count].value, &out [count].value_len);
                if (!ok)
                    free (out [count].name);
            }
            if (!ok) {
                s_params_free (out, count);
                return -1;
            }
            count++;
        }
        start = stop + 1;
    }
    return (long) count;
}

//  ---- the oracle's encoding, URL, signature ------------------------------------

static bool
s_unreserved (uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
        || c == '-' || c == '.' || c == '_' || c == '~';
}

//  Appends the percent-encoding of s (n bytes) to out at *at (room assumed).
static void
s_escape (char *out, size_t *at, const uint8_t *s, size_t n, bool plus)
{
    for (size_t i = 0; i < n; i++) {
        if (s_unreserved (s [i]))
            out [(*at)++] = (char) s [i];
        else
        if (plus && s [i] == ' ')
            out [(*at)++] = '+';
        else
            *at += (size_t) sprintf (out + *at, "%%%02X", s [i]);
    }
    out [*at] = 0;
}

//  RFC 2104 over SHA-1: base64 of HMAC (key, text) into out (29 bytes).
static void
s_hmac_sha1_b64 (const char *key, const uint8_t *text, size_t len, char *out)
{
    uint8_t k [64] = { 0 }, pad [64], inner [20], mac [20];
    size_t key_len = strlen (key);
    if (key_len > 64)
        EVP_Digest (key, key_len, k, NULL, EVP_sha1 (), NULL);
    else
        memcpy (k, key, key_len);
    EVP_MD_CTX *md = EVP_MD_CTX_new ();
    for (int i = 0; i < 64; i++)
        pad [i] = k [i] ^ 0x36;
    EVP_DigestInit_ex (md, EVP_sha1 (), NULL);
    EVP_DigestUpdate (md, pad, 64);
    EVP_DigestUpdate (md, text, len);
    EVP_DigestFinal_ex (md, inner, NULL);
    for (int i = 0; i < 64; i++)
        pad [i] = k [i] ^ 0x5c;
    EVP_DigestInit_ex (md, EVP_sha1 (), NULL);
    EVP_DigestUpdate (md, pad, 64);
    EVP_DigestUpdate (md, inner, 20);
    EVP_DigestFinal_ex (md, mac, NULL);
    EVP_MD_CTX_free (md);
    EVP_EncodeBlock ((unsigned char *) out, mac, 20);
}

//  Byte order of (name, value), shorter first on a common prefix.
static int
s_bytes_cmp (const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp (a, b, an < bn ? an : bn);
    return c ? c : an < bn ? -1 : an > bn ? 1 : 0;
}

//  The signature of (url, params) under token, params left as they are.
static void
s_signature (const char *token, const char *url, const tenant_form_param_t *params,
             size_t count, char *out)
{
    size_t order [S_MAX], total = strlen (url);
    for (size_t i = 0; i < count; i++) {
        order [i] = i;
        total += params [i].name_len + params [i].value_len;
    }
    //  Insertion sort: by name, then by value.
    for (size_t i = 1; i < count; i++)
        for (size_t j = i; j > 0; j--) {
            const tenant_form_param_t *x = &params [order [j - 1]], *y = &params [order [j]];
            int c = s_bytes_cmp (x->name, x->name_len, y->name, y->name_len);
            if (c == 0)
                c = s_bytes_cmp (x->value, x->value_len, y->value, y->value_len);
            if (c <= 0)
                break;
            size_t t = order [j];
            order [j] = order [j - 1];
            order [j - 1] = t;
        }
    uint8_t *text = (uint8_t *) malloc (total + 1);
    size_t at = strlen (url);
    memcpy (text, url, at);
    for (size_t i = 0; i < count; i++) {
        const tenant_form_param_t *p = &params [order [i]];
        memcpy (text + at, p->name, p->name_len);
        at += p->name_len;
        memcpy (text + at, p->value, p->value_len);
        at += p->value_len;
    }
    s_hmac_sha1_b64 (token, text, at, out);
    free (text);
}

static bool
s_verify (const char *token, const char *url, tenant_form_param_t *params, size_t count,
          const char *header)
{
    //  The verifier sorts params in place: give it a copy.
    tenant_form_param_t copy [S_MAX];
    memcpy (copy, params, count * sizeof (params [0]));
    return tenant_twilio_verify (token, url, copy, count, header);
}

//  ---- the oracle's reading of an event -----------------------------------------

#define S_NOW (INT64_C (1796292600) * 1000000)       //  Thu, 03 Dec 2026 10:10:00 +0000

static const tenant_form_param_t *
s_first (const tenant_form_param_t *params, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (params [i].name_len == strlen (name) && !memcmp (params [i].name, name,
                                                             params [i].name_len))
            return &params [i];
    return NULL;
}

//  The value when 1 to max bytes, each from '!' to '~'; else NULL.
static const char *
s_printable (const tenant_form_param_t *p, size_t max)
{
    if (!p || p->value_len < 1 || p->value_len > max)
        return NULL;
    for (size_t i = 0; i < p->value_len; i++)
        if ((uint8_t) p->value [i] <= ' ' || (uint8_t) p->value [i] >= 0x7f)
            return NULL;
    return p->value;
}

//  1 to 18 decimal digits, else -1.
static int64_t
s_number (const tenant_form_param_t *p)
{
    if (!p || p->value_len < 1 || p->value_len > 18)
        return -1;
    int64_t n = 0;
    for (size_t i = 0; i < p->value_len; i++) {
        if (!memchr ("0123456789", p->value [i], 10))
            return -1;
        n = 10 * n + (p->value [i] - '0');
    }
    return n;
}

//  "Www, DD Mon YYYY HH:MM:SS ±hhmm" in microseconds, else -1: six fields
//  split at single spaces, each of its exact shape and range.
static int64_t
s_when (const tenant_form_param_t *p)
{
    static const char *names [7] = { "Sat,", "Sun,", "Mon,", "Tue,", "Wed,", "Thu,", "Fri," };
    static const char *months [12] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    if (!p || p->value_len > 40)
        return -1;
    char text [41], *field [7];
    memcpy (text, p->value, p->value_len);
    text [p->value_len] = 0;
    size_t fields = 0;
    for (char *at = text; fields < 7; ) {
        field [fields++] = at;
        char *space = strchr (at, ' ');
        if (!space)
            break;
        *space = 0;
        at = space + 1;
    }
    static const size_t widths [6] = { 4, 2, 3, 4, 8, 5 };
    if (fields != 6)
        return -1;
    for (size_t i = 0; i < 6; i++)
        if (strlen (field [i]) != widths [i])
            return -1;
    int month = 0;
    for (int m = 0; m < 12; m++)
        if (!strcmp (field [2], months [m]))
            month = m + 1;
    const char *t = field [4], *z = field [5];
    int day, year, h, mi, se, zh, zm;
    if (!fuzz_digits (field [1], 2, &day) || !fuzz_digits (field [3], 4, &year)
        || !fuzz_digits (t, 2, &h) || !fuzz_digits (t + 3, 2, &mi) || !fuzz_digits (t + 6, 2, &se)
        || !fuzz_digits (z + 1, 2, &zh) || !fuzz_digits (z + 3, 2, &zm))
        return -1;
    if (!month || day < 1 || year < 1970 || day > fuzz_month_days (year, month)
        || t [2] != ':' || t [5] != ':' || h > 23 || mi > 59 || se > 59
        || (z [0] != '+' && z [0] != '-') || zh > 23 || zm > 59
        || strcmp (field [0], names [fuzz_weekday (year, month, day)]))
        return -1;
    int64_t local = fuzz_days (year, month, day) * 86400 + h * 3600 + mi * 60 + se;
    return (local - (z [0] == '-' ? -1 : 1) * (zh * 3600 + zm * 60)) * 1000000;
}

static void
s_check_event (const tenant_form_param_t *params, size_t count, size_t total)
{
    tenant_twilio_event_t said;
    int rc = tenant_twilio_event_read (params, count, S_NOW, &said);
    const char *sid = s_printable (s_first (params, count, "CallSid"), 64);
    const char *status = s_printable (s_first (params, count, "CallStatus"), 32);
    if ((rc == 0) != (sid && status))
        s_fail (rc ? "an event with CallSid and CallStatus refused"
                   : "an event without CallSid or CallStatus read", total);
    if (rc)
        return;
    if (said.sid != sid || said.status != status
        || said.from != s_printable (s_first (params, count, "From"), 64)
        || said.to != s_printable (s_first (params, count, "To"), 64))
        s_fail ("the event's CallSid, CallStatus, From or To differs from the rules", total);
    const tenant_form_param_t *sequence = s_first (params, count, "SequenceNumber");
    if (said.sequence != (s_number (sequence) >= 0 ? sequence->value : NULL))
        s_fail ("the event's SequenceNumber differs from the rules", total);
    int64_t duration = s_number (s_first (params, count, "CallDuration"));
    if (said.duration != (duration >= 0 && duration <= 86400 ? duration : 0))
        s_fail ("the event's duration differs from the rules", total);
    static const char *final [] = { "completed", "busy", "no-answer", "failed", "canceled" };
    bool terminal = false;
    for (size_t i = 0; i < 5; i++)
        terminal |= !strcmp (status, final [i]);
    if (said.terminal != terminal)
        s_fail ("the event's terminal flag differs from its status", total);
    int64_t when = s_when (s_first (params, count, "Timestamp"));
    if (said.ended_us != (when < 0 || when > S_NOW ? S_NOW : when))
        s_fail ("the event's time differs from the harness's RFC 2822 reading", total);
}

//  The input's next line (fuzz_line) as a C string cut at its first NUL
//  (malloc'd).
static char *
s_line (const uint8_t **data, size_t *size)
{
    const uint8_t *text;
    size_t n = fuzz_line (data, size, &text);
    char *line = (char *) malloc (n + 1);
    memcpy (line, text, n);
    line [n] = 0;
    return line;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    size_t total = size;
    if (size < 1)
        return 0;
    uint8_t flags = data [0];
    data++, size--;
    char *token = s_line (&data, &size);
    char *base = s_line (&data, &size);
    char *path = s_line (&data, &size);
    char *query_text = s_line (&data, &size);
    const uint8_t *body = data;
    size_t len = size;
    if (strlen (token) > S_TOKEN_MAX)
        token [S_TOKEN_MAX] = 0;

    //  1. The parser and the rules.
    char *buf = (char *) malloc (len + 2 * S_MAX + 1);
    tenant_form_param_t params [S_MAX];
    long count = tenant_twilio_form_parse ((const char *) body, len, buf, params, S_MAX);
    s_param_t expected [S_MAX];
    long expected_count = s_form (body, len, expected);
    if (count != expected_count)
        s_fail (count < 0 ? "the parser refused a form the rules accept"
              : expected_count < 0 ? "the parser accepted a form the rules refuse"
              : "the parser found another number of parameters", total);
    for (long i = 0; i < count; i++) {
        const tenant_form_param_t *p = &params [i];
        if (p->name_len != expected [i].name_len || p->value_len != expected [i].value_len
            || memcmp (p->name, expected [i].name, p->name_len)
            || memcmp (p->value, expected [i].value, p->value_len)
            || p->name [p->name_len] || p->value [p->value_len])
            s_fail ("a parameter differs from the rules' reading", total);
    }
    if (expected_count > 0)
        s_params_free (expected, (size_t) expected_count);
    if (count >= 0)
        s_check_event (params, (size_t) count, total);

    //  2. Round trip through the harness's own writer.
    if (count >= 0) {
        size_t room = 1;
        for (long i = 0; i < count; i++)
            room += 3 * (params [i].name_len + params [i].value_len) + 2;
        char *form = (char *) malloc (room);
        size_t at = 0;
        form [0] = 0;
        for (long i = 0; i < count; i++) {
            if (i)
                form [at++] = '&';
            s_escape (form, &at, (const uint8_t *) params [i].name, params [i].name_len,
                      flags & 1);
            form [at++] = '=';
            s_escape (form, &at, (const uint8_t *) params [i].value, params [i].value_len,
                      flags & 1);
        }
        char *buf2 = (char *) malloc (at + 2 * S_MAX + 1);
        tenant_form_param_t again [S_MAX];
        long count2 = tenant_twilio_form_parse (form, at, buf2, again, S_MAX);
        if (count2 != count)
            s_fail ("the form written back does not parse to as many parameters", total);
        for (long i = 0; i < count; i++)
            if (s_bytes_cmp (again [i].name, again [i].name_len, params [i].name,
                             params [i].name_len)
                || s_bytes_cmp (again [i].value, again [i].value_len, params [i].value,
                                params [i].value_len))
                s_fail ("the form written back parses to other parameters", total);
        free (buf2);
        free (form);
    }

    //  3. The URL.
    const char *query [2 * S_MAX];
    size_t pairs = 0;
    if (*query_text) {
        char *p = query_text;
        size_t fields = 0;
        while (p && fields < 2 * S_MAX) {
            query [fields++] = p;
            p = strchr (p, '\t');
            if (p)
                *p++ = 0;
        }
        if (fields % 2)
            query [fields++] = "";
        pairs = fields / 2;
    }
    size_t base_len = strlen (base);
    while (base_len && base [base_len - 1] == '/')
        base_len--;
    size_t room = base_len + strlen (path) + 2;
    for (size_t i = 0; i < 2 * pairs; i++)
        room += 3 * strlen (query [i]) + 1;
    char *mine = (char *) malloc (room);
    size_t mine_len = (size_t) sprintf (mine, "%.*s%s", (int) base_len, base, path);
    for (size_t i = 0; i < pairs; i++) {
        mine [mine_len++] = i ? '&' : '?';
        s_escape (mine, &mine_len, (const uint8_t *) query [2 * i], strlen (query [2 * i]),
                  false);
        mine [mine_len++] = '=';
        s_escape (mine, &mine_len, (const uint8_t *) query [2 * i + 1],
                  strlen (query [2 * i + 1]), false);
    }
    char url [S_URL_SIZE];
    bool built = tenant_twilio_url_build (base, path, query, pairs, url, sizeof (url));
    if (built && strcmp (url, mine))
        s_fail ("the URL rebuilt differs from the harness's", total);
    //  Exactly fitting is allowed to fail (the builder keeps a byte spare
    //  before a separator); clearly fitting is not.
    if (!built && mine_len + 2 < S_URL_SIZE)
        s_fail ("a URL that fits was not rebuilt", total);
    if (built && mine_len >= S_URL_SIZE)
        s_fail ("a URL that does not fit was rebuilt", total);

    //  4. and 5. The signature.
    if (count >= 0 && built) {
        char sig [32];
        s_signature (token, url, params, (size_t) count, sig);
        if (!s_verify (token, url, params, (size_t) count, sig))
            s_fail ("the harness's signature does not verify", total);
        //  https://host/... with no port: Twilio may have signed with :443.
        if (strncmp (url, "https://", 8) == 0) {
            size_t host = 8, end = 8;
            while (url [end] && (s_unreserved ((uint8_t) url [end])))
                end++;
            if (end > host && (url [end] == '/' || url [end] == '?' || !url [end])) {
                char with_port [S_URL_SIZE + 8];
                snprintf (with_port, sizeof (with_port), "%.*s:443%s", (int) end, url,
                          url + end);
                char sig443 [32];
                s_signature (token, with_port, params, (size_t) count, sig443);
                if (!s_verify (token, url, params, (size_t) count, sig443))
                    s_fail ("the signature over the URL with :443 does not verify", total);
                if (!s_verify (token, with_port, params, (size_t) count, sig))
                    s_fail ("the signature without :443 does not verify the URL with it",
                            total);
            }
        }
        uint8_t bit = (uint8_t) (1u << (flags >> 1) % 7);    //  never makes a NUL from 0x80
        //  A byte of a parameter, name or value.
        if (count > 0) {
            tenant_form_param_t *p = &params [(flags >> 4) % count];
            bool in_value = p->value_len && (flags & 2);
            char *bytes = (char *) (in_value ? p->value : p->name);
            size_t n = in_value ? p->value_len : p->name_len;
            size_t where = (size_t) flags % n;
            char saved = bytes [where];
            bytes [where] ^= (char) bit;
            if (!bytes [where])
                bytes [where] = saved ^ 0x40;
            if (s_verify (token, url, params, (size_t) count, sig))
                s_fail ("a changed parameter byte still verifies", total);
            bytes [where] = saved;
        }
        //  A byte of the URL, of the token.
        size_t url_len = strlen (url);
        if (url_len) {
            size_t where = (size_t) (flags * 7) % url_len;
            char saved = url [where];
            url [where] ^= (char) bit;
            if (!url [where])
                url [where] = saved ^ 0x40;
            if (s_verify (token, url, params, (size_t) count, sig))
                s_fail ("a changed URL byte still verifies", total);
            url [where] = saved;
        }
        size_t token_len = strlen (token);
        if (token_len) {
            size_t where = (size_t) flags % token_len;
            char saved = token [where];
            token [where] ^= (char) bit;
            if (!token [where])
                token [where] = saved ^ 0x40;
            if (s_verify (token, url, params, (size_t) count, sig))
                s_fail ("another token still verifies", total);
            token [where] = saved;
        }
        //  The header changed, cut, lengthened.
        char other [40];
        snprintf (other, sizeof (other), "%s", sig);
        other [flags % 28] = other [flags % 28] == 'A' ? 'B' : 'A';
        if (s_verify (token, url, params, (size_t) count, other))
            s_fail ("a changed header still verifies", total);
        snprintf (other, sizeof (other), "%.27s", sig);
        if (s_verify (token, url, params, (size_t) count, other))
            s_fail ("a cut header still verifies", total);
        snprintf (other, sizeof (other), "%s%c", sig, "=A/ " [flags & 3]);
        if (s_verify (token, url, params, (size_t) count, other))
            s_fail ("a lengthened header still verifies", total);
        //  The query's text itself as a header (a forger's guess).
        if (strcmp (query_text, sig) && s_verify (token, url, params, (size_t) count,
                                                   query_text))
            s_fail ("a header that is not the signature verifies", total);
    }
    free (mine);
    free (buf);
    free (token);
    free (base);
    free (path);
    free (query_text);
    return 0;
}
