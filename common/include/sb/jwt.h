/*  jwt.h — ES256 access tokens: auth-svc signs them, the gateway verifies
    them locally, and any standard JWT library verifies them with our JWKS.

    A token is a compact JWS with the header {"alg":"ES256","typ":"at+jwt",
    "kid":...} and the claims iss, sub, org, role, sid, iat, exp, jti. Keys are
    EC P-256. The kid is the first 16 hex characters of the SHA-256 of the
    key's DER SubjectPublicKeyInfo, so it is derived, never chosen.

    auth-svc keeps its keys as files <kid>.pem (PKCS#8 PEM private keys, mode
    0600) in one directory; the newest file signs, older ones only verify
    while tokens they signed may still be alive. The gateway builds a
    public-only key set from the JWKS document that auth-svc publishes.

    Verification never lets the token choose anything: the header is decoded
    and checked (alg exactly ES256, typ exactly at+jwt, a known kid) before
    any cryptography, and the signature is checked with OpenSSL directly
    against that kid's P-256 key, so algorithm confusion (HS256 keyed with the
    public key, "none") has nothing to work with.

    A key set is not locked: several threads may verify with one set at the
    same time, but refresh and destroy need it to themselves.
*/
#ifndef SB_JWT_H_INCLUDED
#define SB_JWT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_JWT_MAX_TOKEN      4096      //  longer tokens are refused unread
#define SB_JWT_LEEWAY         30        //  seconds of clock skew allowed for exp/nbf/iat
#define SB_JWT_MAX_LIFETIME   900       //  exp - iat may not exceed this (plus leeway)
#define SB_JWT_KID_MAX        64        //  kid characters accepted from a header or JWKS

//  What sb_jwt_verify returns.
#define SB_JWT_OK             0
#define SB_JWT_INVALID        -1        //  refuse the request; why says what failed
#define SB_JWT_UNKNOWN_KID    -2        //  refresh the key set and try once more

typedef struct {
    char iss [128];
    char sub [65];                  //  user id
    char org [65];                  //  organization id
    char role [16];                 //  "admin" | "user"
    char sid [65];                  //  session id
    char jti [65];                  //  token id
    int64_t iat, exp, nbf;          //  unix seconds; nbf 0 = absent
} sb_jwt_claims_t;

//  A set of P-256 keys by kid; private halves only where a key signs.
typedef struct _sb_jwt_keys_t sb_jwt_keys_t;

//  Auth side. Loads the keys under dir (created 0700 when missing), creating
//  one when there is none; several processes starting at once agree on one
//  key (an flock on dir/.lock, generate only if still empty, write a temp
//  file then rename). The newest key (file mtime, ties by name) signs; an
//  older key still verifies for keep_seconds after the next newer key
//  appeared (pass the token lifetime plus a margin, e.g. 1200), never for
//  more than a day. Files whose name is not the kid of their key are
//  ignored. Returns a new set the caller destroys, or NULL with why.
sb_jwt_keys_t *sb_jwt_keys_load_dir (const char *dir, int keep_seconds, char *why,
                                     size_t why_size);

//  Reloads a set made by sb_jwt_keys_load_dir when its directory changed
//  since the last load (a stat per call, cheap enough per request), when
//  the last load saw a directory changed under two seconds before (its
//  mtime's granularity cannot tell a second change in the same tick), or
//  when an older key's verification window has closed. auth-svc calls it before
//  each signature, so that every process moves to a rotated key within one
//  request (a process that never refreshes keeps signing with a key the
//  others retire). Returns 0 (nothing to do or reloaded), or -1 keeping the
//  old set. A set made from a JWKS has no source to reload from: 0.
int sb_jwt_keys_refresh (sb_jwt_keys_t *self);

//  Writes a new key under dir, which becomes the signer (its mtime is made
//  newer than every other key's), and deletes keys retired for more than a
//  day. For the `auth-svc rotate-keys` command. Returns 0, or -1 with why.
int sb_jwt_keys_rotate (const char *dir, char *why, size_t why_size);

//  Returns the JWKS document {"keys":[{"kty":"EC","crv":"P-256","x":..,
//  "y":..,"kid":..,"alg":"ES256","use":"sig"},...]} listing every key of
//  the set, signer first. The caller frees the string with free ().
char *sb_jwt_keys_jwks (sb_jwt_keys_t *self);

//  Signs claims with the set's signing key. The claims are checked first:
//  sub, org, sid, jti 1..64 of [A-Za-z0-9._:-], role admin or user, iss
//  non-empty, 0 < exp - iat <= SB_JWT_MAX_LIFETIME; nbf is never written.
//  Returns the compact token, which the caller frees with free (), or NULL
//  (logged) when the set has no private key or the claims are refused.
char *sb_jwt_sign (sb_jwt_keys_t *self, const sb_jwt_claims_t *claims);

//  Gateway side. Builds a public-only set from a JWKS document: entries
//  other than kty EC, crv P-256, alg ES256 (use, if present, sig) are
//  skipped, as are entries with a private part, a malformed kid, a point not
//  on the curve, or a kid seen before. Refuses a document with no usable
//  key. Returns a new set the caller destroys, or NULL with why.
sb_jwt_keys_t *sb_jwt_keys_from_jwks (const char *json, size_t len, char *why, size_t why_size);

//  True when the set holds a key with this kid.
bool sb_jwt_keys_has_kid (sb_jwt_keys_t *self, const char *kid);

//  Returns the signing key's kid, or NULL for a public-only set. Borrowed:
//  valid until the next refresh or destroy.
const char *sb_jwt_keys_signer_kid (sb_jwt_keys_t *self);

//  Returns the number of keys in the set.
size_t sb_jwt_keys_size (sb_jwt_keys_t *self);

//  Destroys a set and nulls the pointer; accepts NULL and a NULL pointer.
void sb_jwt_keys_destroy (sb_jwt_keys_t **self_p);

//  Verifies an access token (borrowed, untrusted) at time now (unix
//  seconds) for the expected issuer. Returns SB_JWT_OK and fills claims;
//  SB_JWT_UNKNOWN_KID when the header is well formed but its kid is not in
//  the set (anyone can send any kid: refetch the JWKS at most every few
//  seconds, not once per such token); SB_JWT_INVALID for everything else. why gets a short reason that
//  never quotes the token and is safe to log; claims is zeroed unless OK.
int sb_jwt_verify (sb_jwt_keys_t *keys, const char *token, const char *issuer, int64_t now,
                   sb_jwt_claims_t *claims, char *why, size_t why_size);

//  Self test.
//  Frees what OpenSSL keeps for the calling thread (its error queue). A
//  thread that used OpenSSL — verified or loaded keys, or connected to
//  PostgreSQL, whose SCRAM and SSL attempt use it — calls it before it
//  ends, so that a thread detached at exit (a czmq actor) leaves nothing
//  behind.
void sb_jwt_thread_stop (void);

void sb_jwt_test (bool verbose);

#endif
