/*  secrets.c — sealing third-party secrets at rest (contract in
    sb/secrets.h).

    The key lives in locked memory (sodium_malloc: guarded pages, never
    swapped, wiped when freed). Making the key file is race-free between
    processes: it is written to a temporary name and linked into place, so
    that two processes starting together end with one key, and the loser
    reads the winner's.
*/
#include "sb/sb.h"
#include "sb/secrets.h"
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_PREFIX "sb1:"
#define S_KEY    crypto_secretbox_KEYBYTES
#define S_NONCE  crypto_secretbox_NONCEBYTES
#define S_MAC    crypto_secretbox_MACBYTES
#define S_SEALED_MAX 65536          //  bytes of a sealed text we agree to open

struct _sb_secrets_t {
    unsigned char *key;             //  S_KEY bytes, sodium_malloc'd
};

//  Reads exactly S_KEY bytes of path into key: 0; 1 when there is no
//  file; -1 (why) when it cannot be used.
static int
s_read_key (const char *path, unsigned char *key, char *why, size_t why_size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 1;
        snprintf (why, why_size, "%s: %s", path, strerror (errno));
        return -1;
    }
    unsigned char buf [S_KEY + 1];
    ssize_t got = read (fd, buf, sizeof (buf));
    close (fd);
    int rc = 0;
    if (got != (ssize_t) S_KEY) {
        snprintf (why, why_size, "%s holds %zd bytes, not %d", path, got, S_KEY);
        rc = -1;
    }
    else
        memcpy (key, buf, S_KEY);
    sodium_memzero (buf, sizeof (buf));
    return rc;
}

//  The key file at path: read, else made (0600) and read back.
static int
s_key_file (const char *path, unsigned char *key, char *why, size_t why_size)
{
    int rc = s_read_key (path, key, why, why_size);
    if (rc <= 0)
        return rc;
    char tmp [PATH_MAX + 32];
    snprintf (tmp, sizeof (tmp), "%s.%ld.tmp", path, (long) getpid ());
    int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf (why, why_size, "%s: %s", tmp, strerror (errno));
        return -1;
    }
    unsigned char fresh [S_KEY];
    randombytes_buf (fresh, sizeof (fresh));
    bool written = write (fd, fresh, sizeof (fresh)) == (ssize_t) sizeof (fresh) && fsync (fd) == 0;
    sodium_memzero (fresh, sizeof (fresh));
    close (fd);
    //  link fails with EEXIST when another process made the file first:
    //  its key is the one.
    if (!written || (link (tmp, path) && errno != EEXIST)) {
        snprintf (why, why_size, "%s: %s", path, strerror (errno));
        unlink (tmp);
        return -1;
    }
    unlink (tmp);
    sb_info ("secrets: made a new key in %s", path);
    return s_read_key (path, key, why, why_size) == 0 ? 0 : -1;
}

sb_secrets_t *
sb_secrets_new (const sb_config_t *config, char *why, size_t why_size)
{
    if (sodium_init () < 0) {
        snprintf (why, why_size, "libsodium cannot start");
        return NULL;
    }
    sb_secrets_t *self = (sb_secrets_t *) sb_calloc (1, sizeof (sb_secrets_t));
    self->key = (unsigned char *) sodium_malloc (S_KEY);
    if (!self->key) {
        snprintf (why, why_size, "no locked memory for the key");
        free (self);
        return NULL;
    }
    int rc;
    if (config->secrets_key) {
        size_t size = 0;
        const char *end = NULL;
        rc = sodium_base642bin (self->key, S_KEY, config->secrets_key,
                                strlen (config->secrets_key), " \n", &size, &end,
                                sodium_base64_VARIANT_ORIGINAL) == 0
             && size == S_KEY && end && *end == 0 ? 0 : -1;
        if (rc)
            snprintf (why, why_size, "SWITCHBOARD_SECRETS_KEY is not 32 bytes in base64");
    }
    else {
        char path [PATH_MAX];
        snprintf (path, sizeof (path), "%s/secrets.key", config->data_dir);
        rc = s_key_file (path, self->key, why, why_size);
    }
    if (rc) {
        sb_secrets_destroy (&self);
        return NULL;
    }
    return self;
}

void
sb_secrets_destroy (sb_secrets_t **self_p)
{
    sb_secrets_t *self = *self_p;
    if (!self)
        return;
    sodium_free (self->key);
    free (self);
    *self_p = NULL;
}

char *
sb_secrets_seal (sb_secrets_t *self, const void *plain, size_t size)
{
    size_t raw_size = S_NONCE + S_MAC + size;
    unsigned char *raw = (unsigned char *) sb_malloc (raw_size);
    randombytes_buf (raw, S_NONCE);
    crypto_secretbox_easy (raw + S_NONCE, (const unsigned char *) plain, size, raw, self->key);
    size_t text_size = strlen (S_PREFIX)
                       + sodium_base64_ENCODED_LEN (raw_size, sodium_base64_VARIANT_ORIGINAL);
    char *text = (char *) sb_malloc (text_size);
    memcpy (text, S_PREFIX, strlen (S_PREFIX));
    sodium_bin2base64 (text + strlen (S_PREFIX), text_size - strlen (S_PREFIX), raw, raw_size,
                       sodium_base64_VARIANT_ORIGINAL);
    free (raw);
    return text;
}

char *
sb_secrets_open (sb_secrets_t *self, const char *sealed, size_t *size)
{
    size_t prefix = strlen (S_PREFIX);
    size_t length = sealed ? strlen (sealed) : 0;
    if (length <= prefix || length > S_SEALED_MAX || strncmp (sealed, S_PREFIX, prefix))
        return NULL;
    size_t raw_cap = length;        //  base64 decodes to fewer bytes than it has
    unsigned char *raw = (unsigned char *) sb_malloc (raw_cap);
    size_t raw_size = 0;
    const char *end = NULL;
    if (sodium_base642bin (raw, raw_cap, sealed + prefix, length - prefix, NULL, &raw_size, &end,
                           sodium_base64_VARIANT_ORIGINAL) || !end || *end
        || raw_size < S_NONCE + S_MAC) {
        free (raw);
        return NULL;
    }
    size_t plain_size = raw_size - S_NONCE - S_MAC;
    char *plain = (char *) sb_malloc (plain_size + 1);
    if (crypto_secretbox_open_easy ((unsigned char *) plain, raw + S_NONCE, raw_size - S_NONCE,
                                    raw, self->key)) {
        free (raw);
        free (plain);
        return NULL;
    }
    free (raw);
    plain [plain_size] = 0;
    if (size)
        *size = plain_size;
    return plain;
}

void
sb_secrets_test (bool verbose)
{
    (void) verbose;
    printf (" * secrets: ");
    char dir [] = "/tmp/sb-secrets-XXXXXX";
    SB_CHECK (mkdtemp (dir));
    sb_config_t config = { .data_dir = dir };
    char why [256];
    //  The first use makes the key file (0600, 32 bytes); the next reads it.
    sb_secrets_t *a = sb_secrets_new (&config, why, sizeof (why));
    SB_CHECK (a);
    char path [PATH_MAX];
    snprintf (path, sizeof (path), "%s/secrets.key", dir);
    struct stat st;
    SB_CHECK (stat (path, &st) == 0 && st.st_size == S_KEY && (st.st_mode & 0777) == 0600);
    sb_secrets_t *b = sb_secrets_new (&config, why, sizeof (why));
    SB_CHECK (b);

    const char *token = "twilio auth token 0123456789abcdef";
    char *sealed = sb_secrets_seal (a, token, strlen (token));
    SB_CHECK (strncmp (sealed, "sb1:", 4) == 0 && !strstr (sealed, "twilio"));
    size_t size = 0;
    char *plain = sb_secrets_open (b, sealed, &size);
    SB_CHECK (plain && size == strlen (token) && streq (plain, token));
    free (plain);
    //  A fresh nonce each time: the same secret seals differently.
    char *again = sb_secrets_seal (a, token, strlen (token));
    SB_CHECK (!streq (again, sealed));
    free (again);
    //  One bit changed anywhere, or a cut, or not ours: it does not open.
    size_t length = strlen (sealed);
    for (size_t i = 4; i < length; i += 7) {
        char *bad = strdup (sealed);
        bad [i] = bad [i] == 'A' ? 'B' : 'A';
        SB_CHECK (!sb_secrets_open (a, bad, NULL));
        free (bad);
    }
    char *cut = strndup (sealed, length - 8);
    SB_CHECK (!sb_secrets_open (a, cut, NULL));
    free (cut);
    SB_CHECK (!sb_secrets_open (a, "sb1:", NULL));
    SB_CHECK (!sb_secrets_open (a, "plain text", NULL));
    SB_CHECK (!sb_secrets_open (a, NULL, NULL));
    //  Under another key (the variable), it does not open either.
    unsigned char other [S_KEY];
    randombytes_buf (other, sizeof (other));
    char b64 [sodium_base64_ENCODED_LEN (S_KEY, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64 (b64, sizeof (b64), other, sizeof (other), sodium_base64_VARIANT_ORIGINAL);
    sb_config_t keyed = { .data_dir = dir, .secrets_key = b64 };
    sb_secrets_t *c = sb_secrets_new (&keyed, why, sizeof (why));
    SB_CHECK (c);
    SB_CHECK (!sb_secrets_open (c, sealed, NULL));
    //  An empty secret seals and opens.
    char *empty = sb_secrets_seal (c, "", 0);
    plain = sb_secrets_open (c, empty, &size);
    SB_CHECK (plain && size == 0 && *plain == 0);
    free (plain);
    free (empty);
    //  A malformed variable, a wrong-sized file: refused, the file kept.
    sb_config_t bad_key = { .data_dir = dir, .secrets_key = (char *) "c2hvcnQ=" };
    SB_CHECK (!sb_secrets_new (&bad_key, why, sizeof (why)) && strstr (why, "SECRETS_KEY"));
    FILE *f = fopen (path, "w");
    SB_CHECK (f && fputs ("short", f) >= 0 && fclose (f) == 0);
    SB_CHECK (!sb_secrets_new (&config, why, sizeof (why)) && strstr (why, "bytes"));
    SB_CHECK (stat (path, &st) == 0 && st.st_size == 5);
    free (sealed);
    sb_secrets_destroy (&a);
    sb_secrets_destroy (&b);
    sb_secrets_destroy (&c);
    SB_CHECK (!a && !b && !c);
    unlink (path);
    rmdir (dir);
    printf ("OK\n");
}
