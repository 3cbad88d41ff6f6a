/*  util.c — allocation that never fails, clocks, random identifiers, and the
    selftest counters.

    Out of memory is not a condition this code tries to survive: every
    allocation goes through sb_malloc and friends, which abort with a message,
    so that no caller carries NULL checks for it.
*/
#include "sb/sb.h"
#include <curl/curl.h>
#include <pthread.h>
#include <jansson.h>
#include <sodium.h>
#include <time.h>

int sb_test_passed = 0;
int sb_test_failed = 0;

static void
s_out_of_memory (size_t size)
{
    fprintf (stderr, "{\"level\":\"error\",\"msg\":\"out of memory allocating %zu bytes\"}\n", size);
    abort ();
}

void *
sb_malloc (size_t size)
{
    void *p = malloc (size ? size : 1);
    if (!p)
        s_out_of_memory (size);
    return p;
}

void *
sb_calloc (size_t count, size_t size)
{
    void *p = calloc (count ? count : 1, size ? size : 1);
    if (!p)
        s_out_of_memory (count * size);
    return p;
}

void *
sb_realloc (void *ptr, size_t size)
{
    void *p = realloc (ptr, size ? size : 1);
    if (!p)
        s_out_of_memory (size);
    return p;
}

char *
sb_strdup (const char *s)
{
    return sb_strndup (s, strlen (s));
}

char *
sb_strndup (const char *s, size_t n)
{
    size_t len = strnlen (s, n);
    char *p = (char *) sb_malloc (len + 1);
    memcpy (p, s, len);
    p [len] = 0;
    return p;
}

int64_t
sb_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
sb_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  libsodium must be initialised once before its generator is used;
//  sodium_init is itself idempotent and thread-safe.
static void
s_sodium_ready (void)
{
    static bool ready = false;
    if (!ready) {
        if (sodium_init () < 0) {
            fprintf (stderr, "{\"level\":\"error\",\"msg\":\"libsodium cannot initialise\"}\n");
            abort ();
        }
        ready = true;
    }
}

void
sb_random_hex (char *buf, size_t bytes)
{
    static const char hex [] = "0123456789abcdef";
    unsigned char raw [64];
    assert (bytes <= sizeof (raw));
    s_sodium_ready ();
    randombytes_buf (raw, bytes);
    for (size_t i = 0; i < bytes; i++) {
        buf [2 * i] = hex [raw [i] >> 4];
        buf [2 * i + 1] = hex [raw [i] & 15];
    }
    buf [2 * bytes] = 0;
}

void
sb_uuid_v4 (char buf [37])
{
    static const char hex [] = "0123456789abcdef";
    unsigned char raw [16];
    s_sodium_ready ();
    randombytes_buf (raw, sizeof (raw));
    raw [6] = (raw [6] & 0x0f) | 0x40;      //  version 4
    raw [8] = (raw [8] & 0x3f) | 0x80;      //  RFC 4122 variant
    char *p = buf;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex [raw [i] >> 4];
        *p++ = hex [raw [i] & 15];
    }
    *p = 0;
}

static pthread_once_t s_curl_once = PTHREAD_ONCE_INIT;
static CURLcode s_curl_rc = CURLE_OK;

static void
s_curl_init (void)
{
    s_curl_rc = curl_global_init (CURL_GLOBAL_DEFAULT);
}

const char *
sb_curl_ready (void)
{
    pthread_once (&s_curl_once, s_curl_init);
    return s_curl_rc == CURLE_OK ? NULL : curl_easy_strerror (s_curl_rc);
}

bool
sb_is_uuid (const char *s)
{
    if (!s || strlen (s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s [i] != '-')
                return false;
        }
        else
        if (!isxdigit ((unsigned char) s [i]))
            return false;
    }
    return true;
}

void
sb_why (char *why, size_t why_size, const char *format, ...)
{
    if (!why || why_size == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (why, why_size, format, args);
    va_end (args);
}

uint64_t
sb_test_rand (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ULL;
}

const char *
sb_list_next (const char **p, size_t *len)
{
    const char *s = *p;
    if (!s || !*s)
        return NULL;
    while (*s == ' ')
        s++;
    size_t n = strcspn (s, ",");
    size_t end = n;
    while (end > 0 && s [end - 1] == ' ')
        end--;
    *len = end;
    *p = s [n] == ',' ? s + n + 1 : s + n;
    return s;
}

//  --------------------------------------------------------------------------
//  UTF-8

bool
sb_utf8_char (const uint8_t *p, size_t left, size_t *used)
{
    uint8_t c = p[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xbf; //  range of the second byte
    if (c < 0x80) {
        *used = 1;
        return true;
    }
    if (c >= 0xc2 && c <= 0xdf)
        need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        if (c == 0xe0)
            lo = 0xa0; //  shorter forms are overlong
        else if (c == 0xed)
            hi = 0x9f; //  U+D800..DFFF are surrogates
    }
    else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        if (c == 0xf0)
            lo = 0x90; //  overlong
        else if (c == 0xf4)
            hi = 0x8f; //  above U+10FFFF
    }
    else {
        *used = 1; //  continuation byte, 0xc0, 0xc1, 0xf5..0xff
        return false;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= left) {
            *used = i;
            return false;
        }
        uint8_t b = p[i];
        bool ok = i == 1 ? b >= lo && b <= hi : b >= 0x80 && b <= 0xbf;
        if (!ok) {
            *used = i;
            return false;
        }
    }
    *used = need + 1;
    return true;
}

bool
sb_utf8_valid (const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        size_t used;
        if (!sb_utf8_char (p + i, len - i, &used))
            return false;
        i += used;
    }
    return true;
}

long
sb_utf8_chars (const char *s, size_t len, bool multiline)
{
    const uint8_t *p = (const uint8_t *) s;
    long chars = 0;
    for (size_t i = 0; i < len; chars++) {
        size_t used;
        if (!sb_utf8_char (p + i, len - i, &used))
            return -1;
        uint8_t c = p [i];
        if (used == 1 && (c < 0x20 || c == 0x7f)
            && !(multiline && (c == '\n' || c == '\r' || c == '\t')))
            return -1;
        i += used;
    }
    return chars;
}

//  UTF-8 against jansson's validator, an independent implementation: short
//  strings of bytes drawn from the edges of every range agree.
static void
s_utf8_test (void)
{
    const char *mixed = "plain, caf\xc3\xa9, \xe2\x9c\x93, \xf0\x9f\x93\xa7";
    SB_CHECK (sb_utf8_valid (mixed, strlen (mixed)));
    SB_CHECK (sb_utf8_chars (mixed, strlen (mixed), false) == 17);
    SB_CHECK (!sb_utf8_valid ("\xc3", 1));                  //  cut short
    SB_CHECK (!sb_utf8_valid ("\xc0\xaf", 2));              //  overlong '/'
    SB_CHECK (!sb_utf8_valid ("\xe0\x80\xaf", 3));          //  overlong '/'
    SB_CHECK (!sb_utf8_valid ("\xed\xa0\x80", 3));          //  a surrogate
    SB_CHECK (!sb_utf8_valid ("\xf4\x90\x80\x80", 4));      //  above U+10FFFF
    SB_CHECK (!sb_utf8_valid ("\x80", 1));
    SB_CHECK (sb_utf8_chars ("caf\xc3\xa9", 5, false) == 4);
    SB_CHECK (sb_utf8_chars ("a\tb", 3, false) == -1);
    SB_CHECK (sb_utf8_chars ("a\tb\r\n", 5, true) == 5);
    SB_CHECK (sb_utf8_chars ("a\x7f", 2, true) == -1);
    SB_CHECK (sb_utf8_chars ("a\x01", 2, true) == -1);
    SB_CHECK (sb_utf8_chars ("", 0, false) == 0);
    size_t used = 0;
    SB_CHECK (!sb_utf8_char ((const uint8_t *) "\xe2\x9c", 2, &used) && used == 2);

    static const uint8_t edges [] = {
        0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0,
        0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff
    };
    uint64_t seed = 0x75746638ULL;
    int disagree = 0;
    for (int round = 0; round < 20000; round++) {
        uint8_t bytes [6];
        size_t len = 1 + sb_test_rand (&seed) % sizeof (bytes);
        for (size_t i = 0; i < len; i++)
            bytes [i] = edges [sb_test_rand (&seed) % sizeof (edges)];
        json_t *oracle = json_stringn ((const char *) bytes, len);
        if (sb_utf8_valid ((const char *) bytes, len) != (oracle != NULL))
            disagree++;
        json_decref (oracle);
    }
    SB_CHECK (disagree == 0);
}

void
sb_util_test (bool verbose)
{
    (void) verbose;
    s_utf8_test ();
    //  Lists: items trimmed, an empty one seen, the end once
    const char *list = " a ,b,, c d ,", *p = list, *item;
    size_t len = 0, n = 0;
    char seen [5][8] = { "" };
    while ((item = sb_list_next (&p, &len)) && n < 5)
        snprintf (seen [n++], sizeof (seen [0]), "%.*s", (int) len, item);
    SB_CHECK (n == 4 && streq (seen [0], "a") && streq (seen [1], "b") && streq (seen [2], "")
              && streq (seen [3], "c d"));
    p = "";
    SB_CHECK (sb_list_next (&p, &len) == NULL);
    char a [37], b [37];
    sb_uuid_v4 (a);
    sb_uuid_v4 (b);
    SB_CHECK (sb_is_uuid (a));
    SB_CHECK (strcmp (a, b) != 0);
    SB_CHECK (a [14] == '4');
    SB_CHECK (strchr ("89ab", a [19]) != NULL);
    SB_CHECK (!sb_is_uuid ("not-a-uuid"));
    SB_CHECK (!sb_is_uuid ("0123456789abcdef0123456789abcdef0123"));
    SB_CHECK (!sb_is_uuid (NULL));
    SB_CHECK (sb_is_uuid ("123e4567-E89B-12d3-a456-426614174000"));

    char h [33];
    sb_random_hex (h, 16);
    SB_CHECK (strlen (h) == 32);
    SB_CHECK (strspn (h, "0123456789abcdef") == 32);

    char *d = sb_strndup ("abcdef", 3);
    SB_CHECK (streq (d, "abc"));
    free (d);

    int64_t m1 = sb_mono_ms ();
    int64_t m2 = sb_mono_ms ();
    SB_CHECK (m2 >= m1);
    SB_CHECK (sb_now_ms () > 1700000000000LL);
}
