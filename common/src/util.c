/*  util.c — allocation that never fails, clocks, random identifiers, and the
    selftest counters.

    Out of memory is not a condition this code tries to survive: every
    allocation goes through sb_malloc and friends, which abort with a message,
    so that no caller carries NULL checks for it.
*/
#include "sb/sb.h"
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

void
sb_util_test (bool verbose)
{
    (void) verbose;
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
