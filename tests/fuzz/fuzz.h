/*  fuzz.h — what more than one harness needs, written for the harnesses
    (header only: every .c file in tests/fuzz is a harness of its own).

    base64url (RFC 4648 §5, no padding) written here, not taken from the
    code under test or from libsodium, so that a harness judging a parser
    of base64url text (API keys, JWTs) has an oracle of its own:
    fuzz_b64url_encode spells bytes, fuzz_b64url_decode reads only the
    canonical spelling (the alphabet, no padding, a length that is not 1
    modulo 4, the unused bits of the last character zero).

    fuzz_line takes an input's next line, for the harnesses whose input
    is fields one a line (stripe_signature, twilio).

    The Gregorian calendar, likewise written here for the harnesses that
    judge a date reader (timestamp, twilio): fuzz_digits (a fixed-width
    field), fuzz_leap, fuzz_month_days,
    fuzz_days (days from 1970-01-01, counted as whole years then months),
    and fuzz_weekday by Zeller's congruence, which counts nothing from
    1970, so that it checks the reader's day name by another road.
*/
#ifndef SB_FUZZ_H_INCLUDED
#define SB_FUZZ_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static const char fuzz_b64url_alphabet [] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

//  Encodes size bytes into out (room for 4 * size / 3 + 4); returns its
//  length (out is NUL-terminated).
static inline size_t
fuzz_b64url_encode (const unsigned char *data, size_t size, char *out)
{
    size_t n = 0;
    unsigned acc = 0, bits = 0;
    for (size_t i = 0; i < size; i++) {
        acc = (acc << 8 | data [i]) & 0xffff;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out [n++] = fuzz_b64url_alphabet [acc >> bits & 63];
        }
    }
    if (bits)
        out [n++] = fuzz_b64url_alphabet [acc << (6 - bits) & 63];
    out [n] = 0;
    return n;
}

//  Decodes len characters into out (at most max bytes); the byte count,
//  or -1 unless in is canonical base64url without padding.
static inline long
fuzz_b64url_decode (const char *in, size_t len, unsigned char *out, size_t max)
{
    if (len % 4 == 1)
        return -1;
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        const char *at = in [i] ? strchr (fuzz_b64url_alphabet, in [i]) : NULL;
        if (!at)
            return -1;
        acc = (acc << 6 | (unsigned) (at - fuzz_b64url_alphabet)) & 0xffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == max)
                return -1;
            out [n++] = (unsigned char) (acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1))
        return -1;                      //  unused bits must be zero
    return (long) n;
}

//  ---- the input's lines ------------------------------------------------------

//  Takes the bytes up to the next '\n' (or the end) from *data, moving
//  *data and *size past them and the '\n'; *line is where they start.
//  Returns how many they are.
static inline size_t
fuzz_line (const uint8_t **data, size_t *size, const uint8_t **line)
{
    *line = *data;
    const uint8_t *nl = (const uint8_t *) memchr (*data, '\n', *size);
    size_t n = nl ? (size_t) (nl - *data) : *size;
    *data += nl ? n + 1 : n;
    *size -= nl ? n + 1 : n;
    return n;
}

//  ---- the calendar ---------------------------------------------------------

//  Exactly width decimal digits at s into *out; false when one is not.
static inline bool
fuzz_digits (const char *s, int width, int *out)
{
    int n = 0;
    for (int i = 0; i < width; i++) {
        if (s [i] < '0' || s [i] > '9')
            return false;
        n = n * 10 + s [i] - '0';
    }
    *out = n;
    return true;
}

static inline bool
fuzz_leap (int64_t y)
{
    if (y % 400 == 0)
        return true;
    if (y % 100 == 0)
        return false;
    return y % 4 == 0;
}

//  Days in month m (1 to 12) of year y.
static inline int
fuzz_month_days (int64_t y, int m)
{
    static const int days [12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    return days [m - 1] + (m == 2 && fuzz_leap (y));
}

//  Days from 1970-01-01 to y-m-d (y ≥ 1).
static inline int64_t
fuzz_days (int64_t y, int m, int d)
{
    static const int before [12] = { 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334 };
    int64_t p = y - 1;
    int64_t from_year_1 = 365 * p + p / 4 - p / 100 + p / 400;     //  to y-01-01
    from_year_1 += before [m - 1] + (m > 2 && fuzz_leap (y)) + d - 1;
    return from_year_1 - 719162;                                    //  1970-01-01
}

//  The day of the week of y-m-d (y ≥ 1), 0 Saturday to 6 Friday.
static inline int
fuzz_weekday (int64_t y, int m, int d)
{
    if (m < 3) {
        m += 12;
        y--;
    }
    int64_t k = y % 100, j = y / 100;
    return (int) ((d + 13 * (m + 1) / 5 + k + k / 4 + j / 4 + 5 * j) % 7);
}

#endif
