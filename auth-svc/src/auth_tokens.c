/*  auth_tokens.c — the opaque random tokens auth-svc hands out (refresh
    tokens, reset links, invitations, API keys) and their hashes: a token
    is shown once and only its SHA-256 is stored.
*/
#include "auth.h"

char *
auth_token_new (sb_ctx_t *ctx, const char *prefix)
{
    unsigned char raw [32];
    randombytes_buf (raw, sizeof (raw));
    size_t prefix_len = strlen (prefix);
    size_t size = prefix_len + sodium_base64_ENCODED_LEN (sizeof (raw),
                                                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *token = (char *) sb_ctx_alloc (ctx, size);
    memcpy (token, prefix, prefix_len);
    sodium_bin2base64 (token + prefix_len, size - prefix_len, raw, sizeof (raw),
                       sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return token;
}

char *
auth_token_hash (sb_ctx_t *ctx, const char *token)
{
    unsigned char digest [crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, (const unsigned char *) token, strlen (token));
    char *text = (char *) sb_ctx_alloc (ctx, 3 + 2 * sizeof (digest));
    memcpy (text, "\\x", 2);
    sodium_bin2hex (text + 2, 1 + 2 * sizeof (digest), digest, sizeof (digest));
    return text;
}
