/*  sb/secrets.h — third-party secrets sealed at rest (common/src/secrets.c).

    What a customer gives us to act for them (a Twilio auth token) or what
    we must keep to sign for them (a webhook endpoint's secret) is stored
    sealed: libsodium's secretbox (XSalsa20-Poly1305) under one 32-byte key,
    a fresh random nonce each time, the text "sb1:" + base64(nonce ||
    ciphertext). A sealed value read back under another key, or altered by
    one bit, does not open (NULL), never decrypts to garbage.

    The key: SWITCHBOARD_SECRETS_KEY (32 bytes in base64), else the file
    <SWITCHBOARD_DATA_DIR>/secrets.key (32 raw bytes, made on first use
    with mode 0600 by whichever process needs it first; a file of another
    size is refused, never replaced). Services on several hosts must share
    the key: set the variable.
*/
#ifndef SB_SECRETS_H
#define SB_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _sb_secrets_t sb_secrets_t;

//  The key from config (see above); NULL with why filled when it cannot be
//  had (a malformed variable, an unreadable or wrong-sized file).
sb_secrets_t *sb_secrets_new (const sb_config_t *config, char *why, size_t why_size);
void sb_secrets_destroy (sb_secrets_t **self_p);

//  The sealed text of plain (size bytes). Freshly allocated: free it.
char *sb_secrets_seal (sb_secrets_t *self, const void *plain, size_t size);
//  The plain bytes of sealed, NUL-terminated, *size set (may be NULL);
//  NULL when sealed is not one of ours or does not open under this key.
//  Freshly allocated: free it (sodium_memzero first if it matters).
char *sb_secrets_open (sb_secrets_t *self, const char *sealed, size_t *size);

void sb_secrets_test (bool verbose);

#endif
