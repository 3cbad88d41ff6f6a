/*  apikey.c — libFuzzer harness: the API-key text (auth_apikey_parse and
    auth_apikey_compose, auth-svc/src/auth_apikeys.c).

    What a stranger controls: the X-API-Key header (or a Bearer value
    starting with "sbk_"), which the gateway hands to auth-svc's
    apikeys.resolve; resolve parses it before it looks anything up, by
    the prefix, in the database. The documented form (auth.h) is
    sbk_<8 lowercase hex>_<43 base64url>: 4 bytes of public id and 32 of
    secret, the secret in canonical unpadded base64url. The first byte of
    an input picks what the rest is:

      0. A key as sent (up to its first NUL). auth_apikey_parse accepts it
         exactly when the harness's own reading of the form does (its own
         character classes, and its own rule for the last character,
         whose 2 unused bits must be zero); an accepted key gives back its
         first 12 characters as the prefix and, as the secret, the bytes
         the harness decodes itself; composing those parts again gives
         the same text.
      1. Parts: 4 + 32 bytes (zero-filled when the input is short), then
         (position, byte) edits. auth_apikey_compose spells the parts as
         the harness spells them (its own hex and base64url), and
         auth_apikey_parse gives the same parts back. The edited text is
         accepted exactly when the harness's reading says so, and a text
         that differs from the original never parses to the original's
         parts (one spelling per key).

    A property that fails aborts; so do ASan and UBSan findings and leaks.
*/
#include "sb/sb.h"
#include "../../auth-svc/src/auth.h"

#include "fuzz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_fail (const char *what, size_t size)
{
    fprintf (stderr, "apikey harness: %s (input of %zu bytes)\n", what, size);
    abort ();
}

//  The harness's reading of the form: true when key is one, with its
//  parts decoded into id and secret.
static bool
s_oracle (const char *key, unsigned char id [4], unsigned char secret [32])
{
    if (strlen (key) != 56 || strncmp (key, "sbk_", 4) != 0 || key [12] != '_')
        return false;
    for (int i = 0; i < 8; i++) {
        char c = key [4 + i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        id [i / 2] = (unsigned char) (i % 2 ? (id [i / 2] << 4 | v) : v);
    }
    //  43 characters carry 258 bits: 32 bytes and 2 bits that must be 0.
    return fuzz_b64url_decode (key + 13, 43, secret, 32) == 32;
}

//  The harness's spelling of the parts.
static void
s_spell (const unsigned char id [4], const unsigned char secret [32], char out [57])
{
    static const char hex [] = "0123456789abcdef";
    memcpy (out, "sbk_", 4);
    for (int i = 0; i < 4; i++) {
        out [4 + 2 * i] = hex [id [i] >> 4];
        out [5 + 2 * i] = hex [id [i] & 15];
    }
    out [12] = '_';
    fuzz_b64url_encode (secret, 32, out + 13);
}

//  Parses key and holds the result to the oracle's; true when accepted.
static bool
s_check (const char *key, unsigned char secret [32], size_t size)
{
    unsigned char id [4], mine [32];
    char prefix [AUTH_APIKEY_PREFIX_LEN + 1];
    memset (prefix, 'x', sizeof (prefix));
    bool accepted = auth_apikey_parse (key, prefix, secret);
    bool valid = s_oracle (key, id, mine);
    if (accepted != valid)
        s_fail (accepted ? "a key of another form was accepted" : "a well-formed key was refused",
                size);
    if (!accepted)
        return false;
    if (strncmp (prefix, key, 12) != 0 || prefix [12] != 0)
        s_fail ("the prefix is not the key's first 12 characters", size);
    if (memcmp (secret, mine, 32) != 0)
        s_fail ("the secret is not the bytes the key spells", size);
    char again [AUTH_APIKEY_LEN + 1];
    auth_apikey_compose (id, secret, again);
    if (!streq (again, key))
        s_fail ("composing the parsed parts gives another text", size);
    return true;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1 || size > 1024)
        return 0;
    unsigned char secret [32];
    if (data [0] % 2 == 0) {
        char *key = strndup ((const char *) data + 1, size - 1);
        s_check (key, secret, size);
        free (key);
        return 0;
    }
    unsigned char parts [36] = { 0 };
    size_t have = size - 1 < 36 ? size - 1 : 36;
    memcpy (parts, data + 1, have);
    char key [AUTH_APIKEY_LEN + 1], spelt [57];
    auth_apikey_compose (parts, parts + 4, key);
    s_spell (parts, parts + 4, spelt);
    if (!streq (key, spelt))
        s_fail ("auth_apikey_compose spells the parts otherwise", size);
    if (!s_check (key, secret, size) || memcmp (secret, parts + 4, 32) != 0)
        s_fail ("a composed key does not parse back to its parts", size);
    //  Edits: (position, byte) pairs; a NUL shortens the key.
    char edited [AUTH_APIKEY_LEN + 1];
    memcpy (edited, key, sizeof (edited));
    for (size_t i = 1 + have; i + 2 <= size && i < 1 + have + 2 * 8; i += 2)
        edited [data [i] % AUTH_APIKEY_LEN] = (char) data [i + 1];
    if (s_check (edited, secret, size) && !streq (edited, key)
        && strncmp (edited, key, 12) == 0 && memcmp (secret, parts + 4, 32) == 0)
        s_fail ("two texts parse to the same key", size);
    return 0;
}
