/*  jwt.c — libFuzzer harness: the access-token verifier (sb_jwt_verify).

    What a stranger controls: the text after "Authorization: Bearer " on
    every authenticated request, which the gateway hands to sb_jwt_verify
    with the public key set it built from auth-svc's JWKS. The harness
    builds the same kind of set once (LLVMFuzzerInitialize): a key that
    sb_jwt_keys_load_dir writes in a temporary directory, its JWKS, and
    sb_jwt_keys_from_jwks; it also reads the private key file back, so that
    it can sign text of its own choosing with OpenSSL (its own signer, not
    jwt.c's). The clock is fixed (S_NOW). The first byte of an input picks
    what the rest is:

      0. A token, verified as it is. It is accepted only when its signed
         part ("header.payload") is one a real signer made, and the claims
         it fills are the ones the harness decodes from that payload.
      1. Edits to one of the tokens sb_jwt_sign minted at start (a byte set
         to another value at a position, repeated; then perhaps a
         truncation): whatever differs from every minted token is refused.
      2. An algorithm swap: the minted payload under a header of another
         alg ("none", HS256 keyed with the public key's PEM — the classic
         confusion —, HS384, RS256, ES384, ES256 with typ JWT, a missing
         kid, a second alg member), with the signature that alg would
         carry (none, an HMAC, the original ES256 one, random bytes):
         always refused.
      3. A header of the input's choosing, signed with the real key over
         the minted payload: accepted exactly when the header is the JSON
         object {"alg":"ES256","typ":"at+jwt","kid":<our kid>} in any
         order and spelling (the harness's own check of the decoded
         header: three members, those values, nothing repeated).
      4. A payload of the input's choosing, signed with the real key under
         the right header: accepted exactly when the harness's own reading
         of the claims says so (jwt.h's rules: iss is ours; sub, org, sid,
         jti 1..64 of [A-Za-z0-9._:-]; role admin or user; iat and exp
         integers in [0, 9999-12-31], exp > iat, exp - iat <= 900 + 30,
         exp > now - 30, iat <= now + 30; nbf, when present, such an
         integer <= now + 30; no member repeated), and then the claims
         filled are those values.

    The harness's base64url is its own (canonical: no padding, unused bits
    zero). A property that fails aborts; so do ASan and UBSan findings and
    leaks. Modes 3 and 4 sign once per input (ECDSA), so they cost more.
*/
#include "sb/sb.h"
#include "sb/jwt.h"

#include <dirent.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>
#include "fuzz.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_NOW      1798761600LL         //  2027-01-01T00:00:00Z
#define S_ISSUER   "https://auth.switchboard.test"
#define S_MINTED   3
#define S_MAX_TIME 253402300799LL       //  9999-12-31T23:59:59Z, jwt.h's range

static sb_jwt_keys_t *s_signer;         //  the directory's set (private key)
static sb_jwt_keys_t *s_public;         //  the gateway's: from the JWKS
static EVP_PKEY *s_pkey;                //  the same private key, for our own signing
static char s_kid [SB_JWT_KID_MAX + 1];
static char *s_pem;                     //  the public key as PEM (the HS256 confusion's secret)
static char *s_minted [S_MINTED];
static sb_jwt_claims_t s_minted_claims [S_MINTED];

static void
s_fail (const char *what, size_t size)
{
    fprintf (stderr, "jwt harness: %s (input of %zu bytes)\n", what, size);
    abort ();
}

//  ---- our own ES256 signer -------------------------------------------

//  Returns "b64(header).b64(payload).b64(sig)" (malloc'd), signed with
//  s_pkey; header and payload are taken as bytes.
static char *
s_sign (const char *header, size_t hlen, const char *payload, size_t plen)
{
    char *token = (char *) malloc ((hlen + plen) / 3 * 4 + 16 + 90);
    size_t len = fuzz_b64url_encode ((const unsigned char *) header, hlen, token);
    token [len++] = '.';
    len += fuzz_b64url_encode ((const unsigned char *) payload, plen, token + len);
    unsigned char der [128], raw [64];
    size_t der_len = sizeof (der);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    ECDSA_SIG *sig = NULL;
    const unsigned char *p = der;
    if (!ctx || EVP_DigestSignInit (ctx, NULL, EVP_sha256 (), NULL, s_pkey) != 1
        || EVP_DigestSign (ctx, der, &der_len, (const unsigned char *) token, len) != 1
        || !(sig = d2i_ECDSA_SIG (NULL, &p, (long) der_len))
        || BN_bn2binpad (ECDSA_SIG_get0_r (sig), raw, 32) != 32
        || BN_bn2binpad (ECDSA_SIG_get0_s (sig), raw + 32, 32) != 32)
        s_fail ("the harness could not sign", 0);
    ECDSA_SIG_free (sig);
    EVP_MD_CTX_free (ctx);
    token [len++] = '.';
    fuzz_b64url_encode (raw, sizeof (raw), token + len);
    return token;
}

//  ---- the harness's reading of a header and of claims -----------------

static bool
s_str_is (json_t *value, const char *expect)
{
    return json_is_string (value) && json_string_length (value) == strlen (expect)
           && memcmp (json_string_value (value), expect, strlen (expect)) == 0;
}

//  True when text (len bytes) decodes to exactly our header.
static bool
s_header_ok (const unsigned char *text, size_t len)
{
    json_t *header = json_loadb ((const char *) text, len, JSON_REJECT_DUPLICATES, NULL);
    bool ok = json_is_object (header) && json_object_size (header) == 3
              && s_str_is (json_object_get (header, "alg"), "ES256")
              && s_str_is (json_object_get (header, "typ"), "at+jwt")
              && s_str_is (json_object_get (header, "kid"), s_kid);
    json_decref (header);
    return ok;
}

//  An identifier claim: 1..64 of [A-Za-z0-9._:-], as a JSON string.
static bool
s_id_claim (json_t *value, char *dest)
{
    if (!json_is_string (value))
        return false;
    const char *s = json_string_value (value);
    size_t len = json_string_length (value);
    if (len < 1 || len > 64)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s [i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
              || c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
    }
    memcpy (dest, s, len + 1);
    return true;
}

static bool
s_time_claim (json_t *value, int64_t *out)
{
    if (!json_is_integer (value) || json_integer_value (value) < 0
        || json_integer_value (value) > S_MAX_TIME)
        return false;
    *out = (int64_t) json_integer_value (value);
    return true;
}

//  True when payload (len bytes) holds claims jwt.h accepts at S_NOW;
//  fills c with them.
static bool
s_claims_ok (const unsigned char *payload, size_t len, sb_jwt_claims_t *c)
{
    memset (c, 0, sizeof (*c));
    json_t *body = json_loadb ((const char *) payload, len, JSON_REJECT_DUPLICATES, NULL);
    bool ok = false;
    json_t *nbf = json_object_get (body, "nbf");
    if (json_is_object (body) && s_str_is (json_object_get (body, "iss"), S_ISSUER)
        && s_id_claim (json_object_get (body, "sub"), c->sub)
        && s_id_claim (json_object_get (body, "org"), c->org)
        && s_id_claim (json_object_get (body, "sid"), c->sid)
        && s_id_claim (json_object_get (body, "jti"), c->jti)
        && (s_str_is (json_object_get (body, "role"), "admin")
            || s_str_is (json_object_get (body, "role"), "user"))
        && s_time_claim (json_object_get (body, "iat"), &c->iat)
        && s_time_claim (json_object_get (body, "exp"), &c->exp)
        && (!nbf || s_time_claim (nbf, &c->nbf))) {
        strcpy (c->iss, S_ISSUER);
        strcpy (c->role, json_string_value (json_object_get (body, "role")));
        ok = c->exp > c->iat && c->exp - c->iat <= SB_JWT_MAX_LIFETIME + SB_JWT_LEEWAY
             && c->exp > S_NOW - SB_JWT_LEEWAY && c->iat <= S_NOW + SB_JWT_LEEWAY
             && (!nbf || c->nbf <= S_NOW + SB_JWT_LEEWAY);
    }
    json_decref (body);
    return ok;
}

static bool
s_claims_equal (const sb_jwt_claims_t *a, const sb_jwt_claims_t *b)
{
    return streq (a->iss, b->iss) && streq (a->sub, b->sub) && streq (a->org, b->org)
           && streq (a->role, b->role) && streq (a->sid, b->sid) && streq (a->jti, b->jti)
           && a->iat == b->iat && a->exp == b->exp && a->nbf == b->nbf;
}

static int
s_verify (const char *token, sb_jwt_claims_t *claims)
{
    char why [128];
    int rc = sb_jwt_verify (s_public, token, S_ISSUER, S_NOW, claims, why, sizeof (why));
    if (rc != SB_JWT_OK && rc != SB_JWT_INVALID && rc != SB_JWT_UNKNOWN_KID)
        s_fail ("sb_jwt_verify returned an unknown code", 0);
    static const sb_jwt_claims_t zero;
    if (rc != SB_JWT_OK && memcmp (claims, &zero, sizeof (zero)))
        s_fail ("claims not zeroed on refusal", 0);
    return rc;
}

//  Checks an accepted token's claims against the harness's reading of its
//  payload (which must satisfy the rules).
static void
s_check_accepted (const char *token, const sb_jwt_claims_t *claims, size_t size)
{
    const char *dot1 = strchr (token, '.');
    const char *dot2 = dot1 ? strchr (dot1 + 1, '.') : NULL;
    if (!dot2 || strchr (dot2 + 1, '.'))
        s_fail ("a token accepted without three segments", size);
    unsigned char text [SB_JWT_MAX_TOKEN];
    long hlen = fuzz_b64url_decode (token, (size_t) (dot1 - token), text, sizeof (text));
    if (hlen < 0 || !s_header_ok (text, (size_t) hlen))
        s_fail ("a token accepted whose header is not ours", size);
    long plen = fuzz_b64url_decode (dot1 + 1, (size_t) (dot2 - dot1 - 1), text, sizeof (text));
    sb_jwt_claims_t mine;
    if (plen < 0 || !s_claims_ok (text, (size_t) plen, &mine))
        s_fail ("a token accepted whose claims break the rules", size);
    if (!s_claims_equal (&mine, claims))
        s_fail ("the claims filled are not the payload's", size);
}

//  ---- set-up ---------------------------------------------------------

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc, (void) argv;
    sb_log_set_level ("error");
    char dir [] = "/tmp/sb-fuzz-jwt-XXXXXX", why [256];
    if (!mkdtemp (dir))
        s_fail ("mkdtemp", 0);
    s_signer = sb_jwt_keys_load_dir (dir, 1200, why, sizeof (why));
    if (!s_signer)
        s_fail (why, 0);
    snprintf (s_kid, sizeof (s_kid), "%s", sb_jwt_keys_signer_kid (s_signer));
    //  Our own copy of the private key, then the directory goes.
    char path [512];
    snprintf (path, sizeof (path), "%s/%s.pem", dir, s_kid);
    FILE *file = fopen (path, "r");
    s_pkey = file ? PEM_read_PrivateKey (file, NULL, NULL, NULL) : NULL;
    if (file)
        fclose (file);
    if (!s_pkey)
        s_fail ("cannot read the key back", 0);
    DIR *d = opendir (dir);
    struct dirent *e;
    while (d && (e = readdir (d)))
        if (strcmp (e->d_name, ".") && strcmp (e->d_name, "..")) {
            snprintf (path, sizeof (path), "%s/%s", dir, e->d_name);
            unlink (path);
        }
    if (d)
        closedir (d);
    rmdir (dir);

    char *jwks = sb_jwt_keys_jwks (s_signer);
    s_public = sb_jwt_keys_from_jwks (jwks, strlen (jwks), why, sizeof (why));
    free (jwks);
    if (!s_public)
        s_fail (why, 0);
    BIO *bio = BIO_new (BIO_s_mem ());
    PEM_write_bio_PUBKEY (bio, s_pkey);
    char *data;
    long n = BIO_get_mem_data (bio, &data);
    s_pem = strndup (data, (size_t) n);
    BIO_free (bio);

    const char *roles [S_MINTED] = { "user", "admin", "user" };
    for (int i = 0; i < S_MINTED; i++) {
        sb_jwt_claims_t *c = &s_minted_claims [i];
        memset (c, 0, sizeof (*c));
        snprintf (c->iss, sizeof (c->iss), "%s", S_ISSUER);
        snprintf (c->sub, sizeof (c->sub), "7c9e6679-7425-40de-944b-e07fc1f90ae%d", i);
        snprintf (c->org, sizeof (c->org), "org_%d:a.b-c", i);
        snprintf (c->sid, sizeof (c->sid), "s%d", i);
        snprintf (c->jti, sizeof (c->jti), "jti-%d-%s", i, "0123456789abcdef0123456789abcdef");
        snprintf (c->role, sizeof (c->role), "%s", roles [i]);
        c->iat = S_NOW - 60 * i;
        c->exp = c->iat + (i == 2 ? SB_JWT_MAX_LIFETIME : 300);
        s_minted [i] = sb_jwt_sign (s_signer, c);
        sb_jwt_claims_t back;
        if (!s_minted [i] || s_verify (s_minted [i], &back) != SB_JWT_OK)
            s_fail ("a minted token does not verify", 0);
        if (!s_claims_equal (&back, c))
            s_fail ("a minted token's claims come back changed", 0);
        s_check_accepted (s_minted [i], &back, 0);
    }
    return 0;
}

//  ---- the modes -------------------------------------------------------

//  The signed part ("header.payload") of token: its length.
static size_t
s_signed_len (const char *token)
{
    const char *dot = strrchr (token, '.');
    return dot ? (size_t) (dot - token) : 0;
}

static void
s_mode_token (const uint8_t *data, size_t size)
{
    if (size > SB_JWT_MAX_TOKEN + 16)
        return;
    char *token = strndup ((const char *) data, size);
    sb_jwt_claims_t claims;
    if (s_verify (token, &claims) == SB_JWT_OK) {
        s_check_accepted (token, &claims, size);
        //  Only a real signer's "header.payload" can carry a valid signature.
        bool known = false;
        for (int i = 0; i < S_MINTED; i++) {
            size_t n = s_signed_len (s_minted [i]);
            known |= s_signed_len (token) == n && memcmp (token, s_minted [i], n) == 0;
        }
        if (!known)
            s_fail ("a token accepted that no signer made", size);
    }
    free (token);
}

static void
s_mode_edit (const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    const char *minted = s_minted [data [0] % S_MINTED];
    size_t len = strlen (minted);
    char *token = strdup (minted);
    //  Then (position: 2 bytes, value: 1 byte) edits; a last odd pair of
    //  bytes truncates.
    size_t i = 1;
    for (; i + 3 <= size && i < 1 + 3 * 16; i += 3) {
        size_t at = ((size_t) data [i] << 8 | data [i + 1]) % len;
        token [at] = (char) data [i + 2];
    }
    if (i + 2 <= size)
        token [((size_t) data [i] << 8 | data [i + 1]) % len] = 0;
    for (int k = 0; k < S_MINTED; k++)
        if (streq (token, s_minted [k])) {
            free (token);
            return;                     //  edited back to a minted token
        }
    sb_jwt_claims_t claims;
    if (s_verify (token, &claims) == SB_JWT_OK)
        s_fail ("an edited token was accepted", size);
    free (token);
}

static void
s_mode_swap (const uint8_t *data, size_t size)
{
    static const char *const headers [] = {
        "{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
        "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
        "{\"alg\":\"HS384\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
        "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
        "{\"alg\":\"ES384\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
        "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}",
        "{\"alg\":\"es256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\",\"alg\":\"none\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\",\"jku\":\"https://evil.test/\"}",
    };
    size_t count = sizeof (headers) / sizeof (headers [0]);
    if (size < 2)
        return;
    const char *minted = s_minted [data [0] % S_MINTED];
    const char *payload = strchr (minted, '.') + 1;
    size_t plen = s_signed_len (minted) - (size_t) (payload - minted);
    char header [256], token [SB_JWT_MAX_TOKEN + 512];
    #pragma GCC diagnostic push
    #pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf (header, sizeof (header), headers [data [1] % count], s_kid);
    #pragma GCC diagnostic pop
    size_t n = fuzz_b64url_encode ((const unsigned char *) header, strlen (header), token);
    token [n++] = '.';
    memcpy (token + n, payload, plen);
    n += plen;
    token [n] = 0;
    //  The signature that alg would carry.
    unsigned char mac [64];
    switch ((data [1] / count) % 4) {
        case 0:                         //  none: no signature at all
            token [n++] = '.';
            token [n] = 0;
            break;
        case 1: {                       //  HMAC-SHA256 keyed with the public PEM
            crypto_auth_hmacsha256_state st;
            crypto_auth_hmacsha256_init (&st, (const unsigned char *) s_pem, strlen (s_pem));
            crypto_auth_hmacsha256_update (&st, (const unsigned char *) token, n);
            crypto_auth_hmacsha256_final (&st, mac);
            token [n++] = '.';
            fuzz_b64url_encode (mac, 32, token + n);
            break;
        }
        case 2:                         //  the minted token's real signature
            snprintf (token + n, sizeof (token) - n, "%s", strrchr (minted, '.'));
            break;
        default: {                      //  bytes of the input, 64 at most
            size_t k = size - 2 < 64 ? size - 2 : 64;
            memcpy (mac, data + 2, k);
            token [n++] = '.';
            fuzz_b64url_encode (mac, k, token + n);
        }
    }
    sb_jwt_claims_t claims;
    if (s_verify (token, &claims) == SB_JWT_OK)
        s_fail ("a token under another header was accepted", size);
}

static void
s_mode_header (const uint8_t *data, size_t size)
{
    if (size > 600)
        return;
    const char *minted = s_minted [0];
    const char *payload = strchr (minted, '.') + 1;
    unsigned char text [SB_JWT_MAX_TOKEN];
    long plen = fuzz_b64url_decode (payload, s_signed_len (minted) - (size_t) (payload - minted), text,
                         sizeof (text));
    char *token = s_sign ((const char *) data, size, (const char *) text, (size_t) plen);
    sb_jwt_claims_t claims;
    bool accepted = s_verify (token, &claims) == SB_JWT_OK;
    bool ours = s_header_ok (data, size);
    if (accepted && !ours)
        s_fail ("a header that is not ours was accepted", size);
    if (!accepted && ours && strlen (token) <= SB_JWT_MAX_TOKEN && size <= 512)
        s_fail ("our own header, signed, was refused", size);
    if (accepted)
        s_check_accepted (token, &claims, size);
    free (token);
}

static void
s_mode_payload (const uint8_t *data, size_t size)
{
    if (size > SB_JWT_MAX_TOKEN)
        return;
    char header [128];
    snprintf (header, sizeof (header), "{\"kid\":\"%s\",\"typ\":\"at+jwt\",\"alg\":\"ES256\"}",
              s_kid);
    char *token = s_sign (header, strlen (header), (const char *) data, size);
    sb_jwt_claims_t claims, mine;
    bool accepted = s_verify (token, &claims) == SB_JWT_OK;
    bool valid = s_claims_ok (data, size, &mine);
    if (accepted && !valid)
        s_fail ("claims that break the rules were accepted", size);
    if (!accepted && valid && strlen (token) <= SB_JWT_MAX_TOKEN)
        s_fail ("valid claims, signed, were refused", size);
    if (accepted)
        s_check_accepted (token, &claims, size);
    free (token);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data [0] % 5) {
        case 0: s_mode_token (data + 1, size - 1); break;
        case 1: s_mode_edit (data + 1, size - 1); break;
        case 2: s_mode_swap (data + 1, size - 1); break;
        case 3: s_mode_header (data + 1, size - 1); break;
        default: s_mode_payload (data + 1, size - 1); break;
    }
    return 0;
}
