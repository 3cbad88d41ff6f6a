/*  tenant_webhooks_sign.c — webhook secrets and the Standard Webhooks
    signature.

    A secret is "whsec_" followed by the base64 (standard alphabet, with
    padding) of 24 random bytes; what keys the HMAC is those bytes, not the
    text. The signature of a message is "v1," + base64 (HMAC-SHA256 (key,
    id "." timestamp "." body)), as the Standard Webhooks specification
    says; a message signed with several secrets (a rotation) carries one
    such entry per secret, separated by spaces (the caller joins them).

    Failure modes: a secret without the prefix, not base64, or decoding to
    nothing or more than 64 bytes is refused (-1), never signed with a
    guessed key. The selftest checks the specification's own vector.
*/
#include "tenant_webhooks.h"
#include <sodium.h>

#define S_PREFIX "whsec_"
#define S_KEY_MAX 64

void
tenant_webhooks_secret_new (char *out)
{
    unsigned char raw [24];
    randombytes_buf (raw, sizeof (raw));
    memcpy (out, S_PREFIX, strlen (S_PREFIX));
    sodium_bin2base64 (out + strlen (S_PREFIX), TENANT_WEBHOOKS_SECRET_SIZE - strlen (S_PREFIX),
                       raw, sizeof (raw), sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero (raw, sizeof (raw));
}

int
tenant_webhooks_sign (const char *secret, const char *id, const char *timestamp,
                      const char *body, size_t body_size, char *out)
{
    if (!secret || strncmp (secret, S_PREFIX, strlen (S_PREFIX)) != 0)
        return -1;
    const char *encoded = secret + strlen (S_PREFIX);
    unsigned char key [S_KEY_MAX];
    size_t key_size = 0;
    const char *end = NULL;
    if (sodium_base642bin (key, sizeof (key), encoded, strlen (encoded), NULL, &key_size, &end,
                           sodium_base64_VARIANT_ORIGINAL) != 0
        || *end || key_size == 0)
        return -1;
    crypto_auth_hmacsha256_state state;
    unsigned char mac [crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init (&state, key, key_size);
    crypto_auth_hmacsha256_update (&state, (const unsigned char *) id, strlen (id));
    crypto_auth_hmacsha256_update (&state, (const unsigned char *) ".", 1);
    crypto_auth_hmacsha256_update (&state, (const unsigned char *) timestamp, strlen (timestamp));
    crypto_auth_hmacsha256_update (&state, (const unsigned char *) ".", 1);
    crypto_auth_hmacsha256_update (&state, (const unsigned char *) body, body_size);
    crypto_auth_hmacsha256_final (&state, mac);
    sodium_memzero (key, sizeof (key));
    memcpy (out, "v1,", 3);
    sodium_bin2base64 (out + 3, TENANT_WEBHOOKS_SIGNATURE_SIZE - 3, mac, sizeof (mac),
                       sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

void
tenant_webhooks_sign_test (bool verbose)
{
    if (verbose)
        printf (" * tenant_webhooks_sign: ");
    //  The Standard Webhooks specification's vector.
    static const char body [] = "{\"test\": 2432232314}";
    char signature [TENANT_WEBHOOKS_SIGNATURE_SIZE];
    SB_CHECK (tenant_webhooks_sign ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                    "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body,
                                    strlen (body), signature) == 0);
    SB_CHECK (streq (signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    //  One byte of the body changed: another signature.
    SB_CHECK (tenant_webhooks_sign ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                    "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
                                    "{\"test\": 2432232315}", strlen (body), signature) == 0);
    SB_CHECK (!streq (signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
    //  Malformed secrets are refused.
    SB_CHECK (tenant_webhooks_sign ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", "1", "", 0,
                                    signature) == -1);
    SB_CHECK (tenant_webhooks_sign ("whsec_", "m", "1", "", 0, signature) == -1);
    SB_CHECK (tenant_webhooks_sign ("whsec_not base64!", "m", "1", "", 0, signature) == -1);
    //  A new secret: the prefix and 24 bytes in base64 (32 characters),
    //  usable for signing, different each time.
    char a [TENANT_WEBHOOKS_SECRET_SIZE], b [TENANT_WEBHOOKS_SECRET_SIZE];
    tenant_webhooks_secret_new (a);
    tenant_webhooks_secret_new (b);
    SB_CHECK (strncmp (a, "whsec_", 6) == 0 && strlen (a) == 6 + 32);
    SB_CHECK (!streq (a, b));
    SB_CHECK (tenant_webhooks_sign (a, "msg_x", "1", "{}", 2, signature) == 0);
    if (verbose)
        printf ("OK\n");
}
