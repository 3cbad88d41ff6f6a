/*  fuzz.h — what more than one harness needs, written for the harnesses
    (header only: every .c file in tests/fuzz is a harness of its own).

    base64url (RFC 4648 §5, no padding) written here, not taken from the
    code under test or from libsodium, so that a harness judging a parser
    of base64url text (API keys, JWTs) has an oracle of its own:
    fuzz_b64url_encode spells bytes, fuzz_b64url_decode reads only the
    canonical spelling (the alphabet, no padding, a length that is not 1
    modulo 4, the unused bits of the last character zero).
*/
#ifndef SB_FUZZ_H_INCLUDED
#define SB_FUZZ_H_INCLUDED

#include <stddef.h>
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

#endif
