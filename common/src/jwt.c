/*  jwt.c — ES256 access tokens: signing keys on disk, the JWKS document,
    signing, and a verifier that trusts nothing in the token.

    Every cryptographic step is OpenSSL 3 directly, not libjwt. libjwt 1.10
    takes the algorithm from the token's own header (so, handed our public
    key PEM, it verifies an HS256 token keyed with that PEM, and with no key
    it accepts "none"), parses the PEM again on every call, and wants typ
    "JWT". Here the verifier splits and decodes the token itself, checks the
    header against an allow-list, looks the kid up, and only then runs
    ECDSA P-256 / SHA-256 over "header.payload" with that kid's key, the
    JOSE R||S signature turned into DER. The key is the only thing that
    decides the algorithm. libjwt serves the selftest as a second, standard
    implementation: it forges the attacker's tokens and checks that what we
    sign is a token another library reads.

    Keys live in one directory as <kid>.pem. The newest file signs; an older
    one is "retired" from the moment the next newer file appeared, and is
    kept (public half only) while tokens it signed may still be alive. Files
    are written to a temporary name and renamed, under an flock on
    dir/.lock, so that several processes starting together agree on a key.
*/

#include "sb/sb.h"

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_KID_LEN       16              //  hex characters of our derived kids
#define S_COORD         32              //  bytes of x, y, r and s on P-256
#define S_DAY           86400
#define S_MAX_KEYS      64              //  per directory or JWKS document
#define S_MAX_FILES     1024            //  directory entries we are willing to sort
#define S_MAX_PEM       16384
#define S_MAX_JWKS      65536
#define S_MAX_HEADER    512             //  decoded header bytes
#define S_RACY_SECONDS  2               //  a directory mtime younger than this is re-read
#define S_MAX_TIME      253402300799LL  //  9999-12-31: keeps time arithmetic far from overflow

typedef struct {
    char kid [SB_JWT_KID_MAX + 1];
    EVP_PKEY *pkey;                 //  private only for the signer
    char x [48], y [48];            //  base64url coordinates, for the JWKS
} s_key_t;

struct _sb_jwt_keys_t {
    s_key_t *keys;                  //  the signer (if any) first
    size_t count;
    s_key_t *signer;                //  NULL for a public-only set
    char *dir;                      //  NULL for a set made from a JWKS
    int keep_seconds;
    struct timespec dir_mtime;      //  of dir when it was last read
    bool racy;                      //  dir_mtime too recent to prove nothing changed since
    time_t expires;                 //  when a retained older key's window closes; 0 never
};

typedef struct {
    char name [S_KID_LEN + 5];      //  <kid>.pem
    struct timespec mtime;
} s_file_t;

static int s_fail (char *why, size_t why_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Writes the reason, drops whatever OpenSSL queued, and returns -1.
static int
s_fail (char *why, size_t why_size, const char *format, ...)
{
    if (why && why_size) {
        va_list args;
        va_start (args, format);
        vsnprintf (why, why_size, format, args);
        va_end (args);
    }
    ERR_clear_error ();
    return -1;
}


//  ---------------------------------------------------------------------
//  base64url without padding (RFC 7515 §2), through libsodium, which is
//  strict on decode: only the URL-safe alphabet, no '=', no whitespace,
//  and unused trailing bits must be zero, so that every byte string has
//  exactly one spelling.

#define S_B64URL sodium_base64_VARIANT_URLSAFE_NO_PADDING

//  True for a character of the base64url alphabet.
static bool
s_b64_char (char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_';
}

//  Writes the encoding of data into out (room for 4 * size / 3 + 2 bytes)
//  and returns its length.
static size_t
s_b64_encode (const unsigned char *data, size_t size, char *out)
{
    sodium_bin2base64 (out, sodium_base64_ENCODED_LEN (size, S_B64URL), data, size, S_B64URL);
    return strlen (out);
}

//  Decodes len characters of in into out (at most max bytes). Returns the
//  decoded length, or -1 for anything that is not canonical base64url or
//  does not fit.
static long
s_b64_decode (const char *in, size_t len, unsigned char *out, size_t max)
{
    size_t size = 0;
    if (sodium_base642bin (out, max, in, len, NULL, &size, NULL, S_B64URL) != 0)
        return -1;
    return (long) size;
}


//  ---------------------------------------------------------------------
//  Keys

//  True for a kid we accept from a header or a JWKS: 1..64 of [A-Za-z0-9_-].
static bool
s_kid_valid (const char *kid, size_t len)
{
    if (len < 1 || len > SB_JWT_KID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = kid [i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

//  True when value is a JSON string equal to expect, byte for byte (a
//  string with an embedded NUL is not equal to its prefix).
static bool
s_json_str_eq (json_t *value, const char *expect)
{
    return json_is_string (value) && json_string_length (value) == strlen (expect) &&
           memcmp (json_string_value (value), expect, strlen (expect)) == 0;
}

//  True when pkey is an EC key on the named curve P-256.
static bool
s_is_p256 (EVP_PKEY *pkey)
{
    char group [64];
    size_t len = 0;
    if (!EVP_PKEY_is_a (pkey, "EC") ||
        EVP_PKEY_get_group_name (pkey, group, sizeof (group), &len) != 1)
        return false;
    int nid = OBJ_sn2nid (group);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid (group);
    return nid == NID_X9_62_prime256v1;
}

//  Fills key from pkey (which key then owns): the derived kid and the
//  coordinates. Unless keep_private, the key is replaced by its public half
//  so that retired private keys do not sit in memory. Returns 0 or -1.
static int
s_key_set (s_key_t *key, EVP_PKEY *pkey, bool keep_private, char *why, size_t why_size)
{
    memset (key, 0, sizeof (*key));
    unsigned char *der = NULL;
    int der_len = i2d_PUBKEY (pkey, &der);
    unsigned char md [EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    BIGNUM *x = NULL, *y = NULL;
    unsigned char bin [S_COORD];
    int rc = -1;
    if (der_len <= 0 || EVP_Digest (der, (size_t) der_len, md, &md_len, EVP_sha256 (), NULL) != 1) {
        s_fail (why, why_size, "cannot encode the public key");
        goto done;
    }
    for (int i = 0; i < S_KID_LEN / 2; i++)
        snprintf (key->kid + 2 * i, 3, "%02x", md [i]);

    if (EVP_PKEY_get_bn_param (pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
        EVP_PKEY_get_bn_param (pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1) {
        s_fail (why, why_size, "cannot read the public point");
        goto done;
    }
    if (BN_bn2binpad (x, bin, S_COORD) != S_COORD) {
        s_fail (why, why_size, "public point out of range");
        goto done;
    }
    s_b64_encode (bin, S_COORD, key->x);
    if (BN_bn2binpad (y, bin, S_COORD) != S_COORD) {
        s_fail (why, why_size, "public point out of range");
        goto done;
    }
    s_b64_encode (bin, S_COORD, key->y);

    if (keep_private)
        key->pkey = pkey;
    else {
        const unsigned char *p = der;
        key->pkey = d2i_PUBKEY (NULL, &p, der_len);
        if (!key->pkey) {
            s_fail (why, why_size, "cannot decode the public key");
            goto done;
        }
        EVP_PKEY_free (pkey);
    }
    pkey = NULL;
    rc = 0;
done:
    EVP_PKEY_free (pkey);
    BN_free (x);
    BN_free (y);
    OPENSSL_free (der);
    return rc;
}

static void
s_keys_clear (sb_jwt_keys_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        EVP_PKEY_free (self->keys [i].pkey);
    free (self->keys);
    free (self->dir);
    memset (self, 0, sizeof (*self));
}

//  Adds a filled key to the set (which takes it over).
static void
s_keys_append (sb_jwt_keys_t *self, const s_key_t *key)
{
    self->keys = (s_key_t *) sb_realloc (self->keys, (self->count + 1) * sizeof (s_key_t));
    self->keys [self->count++] = *key;
}

static s_key_t *
s_keys_lookup (sb_jwt_keys_t *self, const char *kid, size_t len)
{
    for (size_t i = 0; i < self->count; i++)
        if (strlen (self->keys [i].kid) == len && memcmp (self->keys [i].kid, kid, len) == 0)
            return &self->keys [i];
    return NULL;
}


//  ---------------------------------------------------------------------
//  The key directory

//  OpenSSL's default would ask for a passphrase on the terminal; an
//  encrypted key file is simply refused.
static int
s_no_passphrase (char *buf, int size, int rwflag, void *args)
{
    (void) buf, (void) size, (void) rwflag, (void) args;
    return -1;
}

static bool
s_is_key_name (const char *name)
{
    if (strlen (name) != S_KID_LEN + 4 || strcmp (name + S_KID_LEN, ".pem") != 0)
        return false;
    for (int i = 0; i < S_KID_LEN; i++)
        if (!((name [i] >= '0' && name [i] <= '9') || (name [i] >= 'a' && name [i] <= 'f')))
            return false;
    return true;
}

static int
s_timespec_cmp (const struct timespec *a, const struct timespec *b)
{
    if (a->tv_sec != b->tv_sec)
        return a->tv_sec < b->tv_sec ? -1 : 1;
    if (a->tv_nsec != b->tv_nsec)
        return a->tv_nsec < b->tv_nsec ? -1 : 1;
    return 0;
}

//  Newest first; ties by name, the greater first, so every process agrees.
static int
s_file_cmp (const void *a, const void *b)
{
    const s_file_t *fa = (const s_file_t *) a, *fb = (const s_file_t *) b;
    int c = s_timespec_cmp (&fb->mtime, &fa->mtime);
    return c ? c : strcmp (fb->name, fa->name);
}

//  Creates dir and any missing parents, mode 0700, and checks it is a
//  directory.
static int
s_mkdirs (const char *dir, char *why, size_t why_size)
{
    if (!dir || !*dir || strlen (dir) >= 4096)
        return s_fail (why, why_size, "key directory name missing or too long");
    char path [4096];
    snprintf (path, sizeof (path), "%s", dir);
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir (path, 0700) && errno != EEXIST)
                return s_fail (why, why_size, "cannot create '%s': %s", path, strerror (errno));
            *p = '/';
        }
    if (mkdir (path, 0700) && errno != EEXIST)
        return s_fail (why, why_size, "cannot create '%s': %s", path, strerror (errno));
    struct stat st;
    if (stat (path, &st) || !S_ISDIR (st.st_mode))
        return s_fail (why, why_size, "'%s' is not a directory", path);
    return 0;
}

//  Lists the key files of dir, newest first, into *files_p (the caller
//  frees it). Returns their number or -1.
static long
s_scan (const char *dir, s_file_t **files_p, char *why, size_t why_size)
{
    *files_p = NULL;
    DIR *handle = opendir (dir);
    if (!handle)
        return s_fail (why, why_size, "cannot read '%s': %s", dir, strerror (errno));
    s_file_t *files = NULL;
    size_t count = 0;
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        if (!s_is_key_name (entry->d_name))
            continue;
        struct stat st;
        if (fstatat (dirfd (handle), entry->d_name, &st, 0) || !S_ISREG (st.st_mode))
            continue;
        if (count == S_MAX_FILES) {
            closedir (handle);
            free (files);
            return s_fail (why, why_size, "too many key files in '%s'", dir);
        }
        files = (s_file_t *) sb_realloc (files, (count + 1) * sizeof (s_file_t));
        memcpy (files [count].name, entry->d_name, sizeof (files [count].name));    //  checked length
        files [count].mtime = st.st_mtim;
        count++;
    }
    closedir (handle);
    if (count)
        qsort (files, count, sizeof (s_file_t), s_file_cmp);
    *files_p = files;
    return (long) count;
}

//  Takes the directory's lock, waiting for it; returns the descriptor to
//  close, or -1.
static int
s_lock (const char *dir, char *why, size_t why_size)
{
    char path [4200];
    snprintf (path, sizeof (path), "%s/.lock", dir);
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return s_fail (why, why_size, "cannot open '%s': %s", path, strerror (errno));
    while (flock (fd, LOCK_EX)) {
        if (errno != EINTR) {
            close (fd);
            return s_fail (why, why_size, "cannot lock '%s': %s", path, strerror (errno));
        }
    }
    return fd;
}

//  Reads one private key file; returns the P-256 key or NULL.
static EVP_PKEY *
s_read_private (const char *dir, const char *name, char *why, size_t why_size)
{
    char path [4200];
    snprintf (path, sizeof (path), "%s/%s", dir, name);
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        s_fail (why, why_size, "cannot open key %s: %s", name, strerror (errno));
        return NULL;
    }
    struct stat st;
    if (fstat (fd, &st) || !S_ISREG (st.st_mode) || st.st_size <= 0 || st.st_size > S_MAX_PEM) {
        close (fd);
        s_fail (why, why_size, "key %s is not a plausible PEM file", name);
        return NULL;
    }
    if (st.st_mode & 077)
        sb_warn ("jwt: key %s is readable by group or others (mode %03o)", name,
                 (unsigned) (st.st_mode & 0777));
    char *pem = (char *) sb_malloc ((size_t) st.st_size);
    size_t have = 0;
    while (have < (size_t) st.st_size) {
        ssize_t n = read (fd, pem + have, (size_t) st.st_size - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t) n;
    }
    close (fd);
    EVP_PKEY *pkey = NULL;
    BIO *bio = BIO_new_mem_buf (pem, (int) have);
    if (bio)
        pkey = PEM_read_bio_PrivateKey (bio, NULL, s_no_passphrase, NULL);
    BIO_free (bio);
    OPENSSL_cleanse (pem, (size_t) st.st_size);
    free (pem);
    if (!pkey) {
        s_fail (why, why_size, "key %s is not an unencrypted PEM private key", name);
        return NULL;
    }
    EVP_PKEY_CTX *ctx = s_is_p256 (pkey) ? EVP_PKEY_CTX_new_from_pkey (NULL, pkey, NULL) : NULL;
    bool sane = ctx && EVP_PKEY_check (ctx) == 1;
    EVP_PKEY_CTX_free (ctx);
    if (!sane) {
        EVP_PKEY_free (pkey);
        s_fail (why, why_size, "key %s is not a valid P-256 key", name);
        return NULL;
    }
    ERR_clear_error ();
    return pkey;
}

//  Generates a key and writes it as dir/<kid>.pem through a temporary file.
//  When newer_than is given, the file's mtime is pushed past it so that the
//  new key is the newest even on a coarse clock. The caller holds the lock.
static int
s_write_new_key (const char *dir, const struct timespec *newer_than, char *why, size_t why_size)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    if (!pkey)
        return s_fail (why, why_size, "cannot generate a P-256 key");
    s_key_t key;
    EVP_PKEY *copy = EVP_PKEY_dup (pkey);
    if (!copy || s_key_set (&key, copy, false, why, why_size)) {
        EVP_PKEY_free (pkey);
        return -1;
    }
    EVP_PKEY_free (key.pkey);

    int rc = -1;
    char *data = NULL;
    long size = 0;
    BIO *mem = BIO_new (BIO_s_mem ());
    if (!mem || PEM_write_bio_PrivateKey (mem, pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
        (size = BIO_get_mem_data (mem, &data)) <= 0) {
        s_fail (why, why_size, "cannot encode the new key");
        goto done;
    }
    char tmp [4200], final [4200], rand [17];
    sb_random_hex (rand, 8);
    snprintf (tmp, sizeof (tmp), "%s/.tmp-%s", dir, rand);
    snprintf (final, sizeof (final), "%s/%s.pem", dir, key.kid);
    int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        s_fail (why, why_size, "cannot create '%s': %s", tmp, strerror (errno));
        goto done;
    }
    bool ok = fchmod (fd, 0600) == 0;
    for (long have = 0; ok && have < size;) {
        ssize_t n = write (fd, data + have, (size_t) (size - have));
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        have += ok ? n : 0;
    }
    ok = ok && fsync (fd) == 0;
    if (ok && newer_than) {
        struct stat st;
        ok = fstat (fd, &st) == 0;
        if (ok && s_timespec_cmp (&st.st_mtim, newer_than) <= 0) {
            struct timespec times [2] = {{.tv_nsec = UTIME_OMIT}, *newer_than};
            times [1].tv_nsec += 1000000;
            if (times [1].tv_nsec >= 1000000000) {
                times [1].tv_sec++;
                times [1].tv_nsec -= 1000000000;
            }
            ok = futimens (fd, times) == 0;
        }
    }
    int saved = errno;
    if (close (fd))
        ok = false;
    if (!ok || rename (tmp, final)) {
        if (ok)
            saved = errno;
        unlink (tmp);
        s_fail (why, why_size, "cannot write key file in '%s': %s", dir, strerror (saved));
        goto done;
    }
    int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync (dfd);
        close (dfd);
    }
    sb_info ("jwt: new signing key %s", key.kid);
    rc = 0;
done:
    if (data && size > 0)
        OPENSSL_cleanse (data, (size_t) size);
    BIO_free (mem);
    EVP_PKEY_free (pkey);
    ERR_clear_error ();
    return rc;
}

//  Reads dir into out (which must be empty): creates a first key when there
//  is none, loads the newest as the signer and older ones while they may
//  verify. Returns 0, or -1 leaving out empty.
static int
s_load (const char *dir, int keep_seconds, sb_jwt_keys_t *out, char *why, size_t why_size)
{
    if (s_mkdirs (dir, why, why_size))
        return -1;
    struct stat st;
    if (stat (dir, &st))
        return s_fail (why, why_size, "cannot stat '%s': %s", dir, strerror (errno));
    if (st.st_mode & 022)
        //  Whoever can write here can plant a newer key and become the signer.
        sb_warn ("jwt: key directory '%s' is writable by group or others", dir);
    s_file_t *files;
    long count = s_scan (dir, &files, why, why_size);
    if (count == 0) {
        //  Only one of several processes starting together may create the
        //  first key; the others find it on their second look.
        int lock = s_lock (dir, why, why_size);
        if (lock < 0)
            return -1;
        free (files);
        count = s_scan (dir, &files, why, why_size);
        int rc = count == 0 ? s_write_new_key (dir, NULL, why, why_size) : 0;
        close (lock);
        if (rc)
            return -1;
        if (count == 0) {
            free (files);
            if (stat (dir, &st))
                return s_fail (why, why_size, "cannot stat '%s': %s", dir, strerror (errno));
            count = s_scan (dir, &files, why, why_size);
        }
    }
    if (count <= 0) {
        free (files);
        return count < 0 ? -1 : s_fail (why, why_size, "no key in '%s'", dir);
    }
    if (keep_seconds < 0)
        keep_seconds = 0;
    if (keep_seconds > S_DAY)
        keep_seconds = S_DAY;
    time_t now = time (NULL);
    out->dir = sb_strdup (dir);
    out->keep_seconds = keep_seconds;
    out->dir_mtime = st.st_mtim;
    //  A directory's mtime has the file system's granularity (a clock tick,
    //  a second on some): a key renamed in within the same tick as the
    //  change we read leaves the mtime as we saw it. While the mtime is
    //  that recent it proves nothing, so the next refresh reads again.
    struct timespec read_at;
    clock_gettime (CLOCK_REALTIME, &read_at);
    out->racy = read_at.tv_sec - st.st_mtim.tv_sec < S_RACY_SECONDS;
    for (long i = 0; i < count && out->count < S_MAX_KEYS; i++) {
        if (i > 0) {
            //  A key retired when the next newer one appeared.
            time_t retired = files [i - 1].mtime.tv_sec;
            if (now - retired > keep_seconds)
                break;
            if (!out->expires || retired + keep_seconds + 1 < out->expires)
                out->expires = retired + keep_seconds + 1;
        }
        char reason [256] = "";
        s_key_t key;
        EVP_PKEY *pkey = s_read_private (dir, files [i].name, reason, sizeof (reason));
        if (pkey && s_key_set (&key, pkey, i == 0, reason, sizeof (reason)) == 0) {
            if (strncmp (key.kid, files [i].name, S_KID_LEN) == 0) {
                s_keys_append (out, &key);
                continue;
            }
            EVP_PKEY_free (key.pkey);
            snprintf (reason, sizeof (reason), "key file %s does not hold the key it names",
                      files [i].name);
        }
        if (i == 0) {
            //  Falling back to an older signer would hide the problem and
            //  might split processes between two signers.
            free (files);
            s_keys_clear (out);
            return s_fail (why, why_size, "newest key unusable: %s", reason);
        }
        sb_warn ("jwt: skipping older key: %s", reason);
    }
    free (files);
    out->signer = &out->keys [0];
    return 0;
}

sb_jwt_keys_t *
sb_jwt_keys_load_dir (const char *dir, int keep_seconds, char *why, size_t why_size)
{
    sb_jwt_keys_t *self = (sb_jwt_keys_t *) sb_calloc (1, sizeof (sb_jwt_keys_t));
    if (s_load (dir, keep_seconds, self, why, why_size)) {
        free (self);
        return NULL;
    }
    return self;
}

int
sb_jwt_keys_refresh (sb_jwt_keys_t *self)
{
    assert (self);
    if (!self->dir)
        return 0;
    struct stat st;
    if (stat (self->dir, &st))
        return sb_error ("jwt: cannot stat key directory '%s': %s", self->dir, strerror (errno));
    if (!self->racy && s_timespec_cmp (&st.st_mtim, &self->dir_mtime) == 0 &&
        (!self->expires || time (NULL) < self->expires))
        return 0;
    sb_jwt_keys_t fresh = {0};
    char why [256];
    if (s_load (self->dir, self->keep_seconds, &fresh, why, sizeof (why)))
        return sb_error ("jwt: keeping the old keys: %s", why);
    s_keys_clear (self);
    *self = fresh;
    return 0;
}

int
sb_jwt_keys_rotate (const char *dir, char *why, size_t why_size)
{
    if (s_mkdirs (dir, why, why_size))
        return -1;
    int lock = s_lock (dir, why, why_size);
    if (lock < 0)
        return -1;
    s_file_t *files;
    long count = s_scan (dir, &files, why, why_size);
    int rc = -1;
    if (count >= 0) {
        struct timespec newest = {0};
        for (long i = 0; i < count; i++)
            if (s_timespec_cmp (&files [i].mtime, &newest) > 0)
                newest = files [i].mtime;
        rc = s_write_new_key (dir, count ? &newest : NULL, why, why_size);
        free (files);
    }
    if (rc == 0 && (count = s_scan (dir, &files, why, why_size)) >= 0) {
        time_t now = time (NULL);
        for (long i = 1; i < count; i++) {
            if (now - files [i - 1].mtime.tv_sec <= S_DAY)
                continue;
            char path [4200];
            snprintf (path, sizeof (path), "%s/%s", dir, files [i].name);
            if (unlink (path) == 0)
                sb_info ("jwt: deleted key %.16s, retired more than a day ago", files [i].name);
            else
                sb_warn ("jwt: cannot delete '%s': %s", path, strerror (errno));
        }
        free (files);
    }
    close (lock);
    return count < 0 ? -1 : rc;
}


//  ---------------------------------------------------------------------
//  JWKS

char *
sb_jwt_keys_jwks (sb_jwt_keys_t *self)
{
    assert (self);
    json_t *keys = json_array ();
    for (size_t i = 0; i < self->count; i++) {
        s_key_t *key = &self->keys [i];
        json_array_append_new (keys, json_pack ("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty",
                                                "EC", "crv", "P-256", "x", key->x, "y", key->y,
                                                "kid", key->kid, "alg", "ES256", "use", "sig"));
    }
    json_t *root = json_pack ("{s:o}", "keys", keys);
    char *text = json_dumps (root, JSON_COMPACT);
    json_decref (root);
    assert (text);
    return text;
}

//  Builds a public P-256 key from base64url coordinates; NULL when they are
//  not 32 bytes each or not a point on the curve.
static EVP_PKEY *
s_public_from_xy (json_t *jx, json_t *jy)
{
    unsigned char point [1 + 2 * S_COORD];
    point [0] = 0x04;                   //  uncompressed
    if (!json_is_string (jx) || !json_is_string (jy) ||
        s_b64_decode (json_string_value (jx), json_string_length (jx), point + 1, S_COORD) !=
            S_COORD ||
        s_b64_decode (json_string_value (jy), json_string_length (jy), point + 1 + S_COORD,
                      S_COORD) != S_COORD)
        return NULL;
    char group [] = "P-256";
    OSSL_PARAM params [] = {
        OSSL_PARAM_construct_utf8_string (OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string (OSSL_PKEY_PARAM_PUB_KEY, point, sizeof (point)),
        OSSL_PARAM_construct_end ()};
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name (NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init (ctx) != 1 ||
        EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    EVP_PKEY_CTX_free (ctx);
    //  RFC 8725 §3.4: check the point, not just its encoding.
    ctx = pkey ? EVP_PKEY_CTX_new_from_pkey (NULL, pkey, NULL) : NULL;
    if (pkey && (!ctx || EVP_PKEY_public_check (ctx) != 1 || !s_is_p256 (pkey))) {
        EVP_PKEY_free (pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free (ctx);
    ERR_clear_error ();
    return pkey;
}

sb_jwt_keys_t *
sb_jwt_keys_from_jwks (const char *json, size_t len, char *why, size_t why_size)
{
    if (!json || len == 0 || len > S_MAX_JWKS) {
        s_fail (why, why_size, "JWKS missing or too large");
        return NULL;
    }
    json_error_t error;
    json_t *root = json_loadb (json, len, JSON_REJECT_DUPLICATES, &error);
    json_t *array = json_is_object (root) ? json_object_get (root, "keys") : NULL;
    if (!json_is_array (array) || json_array_size (array) > S_MAX_KEYS) {
        json_decref (root);
        s_fail (why, why_size, "JWKS is not an object with a 'keys' array of at most %d",
                S_MAX_KEYS);
        return NULL;
    }
    sb_jwt_keys_t *self = (sb_jwt_keys_t *) sb_calloc (1, sizeof (sb_jwt_keys_t));
    size_t index;
    json_t *entry;
    json_array_foreach (array, index, entry) {
        json_t *kid = json_object_get (entry, "kid");
        json_t *use = json_object_get (entry, "use");
        const char *skip = NULL;
        if (!json_is_object (entry))
            skip = "not an object";
        else
        if (!s_json_str_eq (json_object_get (entry, "kty"), "EC") ||
            !s_json_str_eq (json_object_get (entry, "crv"), "P-256") ||
            !s_json_str_eq (json_object_get (entry, "alg"), "ES256") ||
            (use && !s_json_str_eq (use, "sig")))
            skip = "not an EC P-256 ES256 signing key";
        else
        if (json_object_get (entry, "d"))
            skip = "carries a private key";
        else
        if (!json_is_string (kid) || !s_kid_valid (json_string_value (kid), json_string_length (kid)))
            skip = "kid missing or malformed";
        else
        if (s_keys_lookup (self, json_string_value (kid), json_string_length (kid)))
            skip = "duplicate kid";
        if (!skip) {
            EVP_PKEY *pkey = s_public_from_xy (json_object_get (entry, "x"),
                                               json_object_get (entry, "y"));
            s_key_t key;
            if (!pkey)
                skip = "x/y not a P-256 point";
            else
            if (s_key_set (&key, pkey, false, NULL, 0))
                skip = "unusable public key";
            else {
                //  The published kid names the key, whatever we would derive.
                snprintf (key.kid, sizeof (key.kid), "%s", json_string_value (kid));
                s_keys_append (self, &key);
            }
        }
        if (skip)
            sb_warn ("jwt: JWKS entry %zu skipped: %s", index, skip);
    }
    json_decref (root);
    if (self->count == 0) {
        sb_jwt_keys_destroy (&self);
        s_fail (why, why_size, "JWKS has no usable EC P-256 ES256 key");
        return NULL;
    }
    return self;
}

bool
sb_jwt_keys_has_kid (sb_jwt_keys_t *self, const char *kid)
{
    return self && kid && s_keys_lookup (self, kid, strlen (kid)) != NULL;
}

const char *
sb_jwt_keys_signer_kid (sb_jwt_keys_t *self)
{
    return self && self->signer ? self->signer->kid : NULL;
}

size_t
sb_jwt_keys_size (sb_jwt_keys_t *self)
{
    return self ? self->count : 0;
}

void
sb_jwt_keys_destroy (sb_jwt_keys_t **self_p)
{
    if (self_p && *self_p) {
        s_keys_clear (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}


//  ---------------------------------------------------------------------
//  Signing

//  Signs "b64(header).b64(payload)" with key and returns the compact token
//  (the caller frees it), or NULL.
static char *
s_sign_parts (s_key_t *key, const char *header, const char *payload)
{
    size_t hlen = strlen (header), plen = strlen (payload);
    size_t cap = (hlen + plen) / 3 * 4 + 8 + 2 * 2 * S_COORD;
    char *token = (char *) sb_malloc (cap);
    size_t len = s_b64_encode ((const unsigned char *) header, hlen, token);
    token [len++] = '.';
    len += s_b64_encode ((const unsigned char *) payload, plen, token + len);

    unsigned char der [128], raw [2 * S_COORD];
    size_t der_len = sizeof (der);
    ECDSA_SIG *sig = NULL;
    const unsigned char *p = der;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    bool ok = ctx &&
              EVP_DigestSignInit_ex (ctx, NULL, "SHA256", NULL, NULL, key->pkey, NULL) == 1 &&
              EVP_DigestSign (ctx, der, &der_len, (const unsigned char *) token, len) == 1 &&
              (sig = d2i_ECDSA_SIG (NULL, &p, (long) der_len)) != NULL &&
              BN_bn2binpad (ECDSA_SIG_get0_r (sig), raw, S_COORD) == S_COORD &&
              BN_bn2binpad (ECDSA_SIG_get0_s (sig), raw + S_COORD, S_COORD) == S_COORD;
    ECDSA_SIG_free (sig);
    EVP_MD_CTX_free (ctx);
    ERR_clear_error ();
    if (!ok || len + 1 + 86 > SB_JWT_MAX_TOKEN) {
        free (token);
        return NULL;
    }
    token [len++] = '.';
    s_b64_encode (raw, sizeof (raw), token + len);
    return token;
}

//  The claim rules signing and verifying share, apart from the clock.
static int
s_claims_check (const sb_jwt_claims_t *c, char *why, size_t why_size)
{
    if (!*c->iss || strnlen (c->iss, sizeof (c->iss)) == sizeof (c->iss))
        return s_fail (why, why_size, "iss missing or too long");
    if (!sb_envelope_id_valid (c->sub) || !sb_envelope_id_valid (c->org) ||
        !sb_envelope_id_valid (c->sid) || !sb_envelope_id_valid (c->jti))
        return s_fail (why, why_size, "sub, org, sid and jti must be 1..64 of [A-Za-z0-9._:-]");
    if (!streq (c->role, "admin") && !streq (c->role, "user"))
        return s_fail (why, why_size, "role must be admin or user");
    if (c->iat < 0 || c->iat > S_MAX_TIME || c->exp < 0 || c->exp > S_MAX_TIME)
        return s_fail (why, why_size, "iat or exp out of range");
    if (c->exp <= c->iat)
        return s_fail (why, why_size, "exp not after iat");
    return 0;
}

char *
sb_jwt_sign (sb_jwt_keys_t *self, const sb_jwt_claims_t *claims)
{
    assert (self && claims);
    if (!self->signer) {
        sb_error ("jwt: cannot sign: the key set has no private key");
        return NULL;
    }
    char why [128];
    if (s_claims_check (claims, why, sizeof (why))) {
        sb_error ("jwt: refusing to sign: %s", why);
        return NULL;
    }
    if (claims->exp - claims->iat > SB_JWT_MAX_LIFETIME) {
        sb_error ("jwt: refusing to sign: lifetime over %d s", SB_JWT_MAX_LIFETIME);
        return NULL;
    }
    char header [128];
    snprintf (header, sizeof (header), "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}",
              self->signer->kid);
    json_t *body = json_pack ("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "iss", claims->iss,
                              "sub", claims->sub, "org", claims->org, "role", claims->role,
                              "sid", claims->sid, "iat", (json_int_t) claims->iat, "exp",
                              (json_int_t) claims->exp, "jti", claims->jti);
    char *payload = body ? json_dumps (body, JSON_COMPACT) : NULL;
    json_decref (body);
    char *token = payload ? s_sign_parts (self->signer, header, payload) : NULL;
    free (payload);
    if (!token)
        sb_error ("jwt: signing failed");
    return token;
}


//  ---------------------------------------------------------------------
//  Verification

//  Copies a string claim into dest (size bytes) when it is a string without
//  embedded NUL that fits; returns 0 or -1.
static int
s_claim_str (json_t *body, const char *name, char *dest, size_t size)
{
    json_t *value = json_object_get (body, name);
    if (!json_is_string (value) || json_string_length (value) >= size ||
        strlen (json_string_value (value)) != json_string_length (value))
        return -1;
    memcpy (dest, json_string_value (value), json_string_length (value) + 1);
    return 0;
}

//  Reads an integer claim in [0, S_MAX_TIME]; returns 1 when present, 0
//  when absent, -1 when present but not such an integer.
static int
s_claim_time (json_t *body, const char *name, int64_t *value)
{
    json_t *item = json_object_get (body, name);
    if (!item)
        return 0;
    if (!json_is_integer (item) || json_integer_value (item) < 0 ||
        json_integer_value (item) > S_MAX_TIME)
        return -1;
    *value = (int64_t) json_integer_value (item);
    return 1;
}

//  The header check, before any cryptography: returns the key, or NULL with
//  *rc set.
static s_key_t *
s_check_header (sb_jwt_keys_t *keys, const char *segment, size_t len, int *rc, char *why,
                size_t why_size)
{
    *rc = SB_JWT_INVALID;
    unsigned char text [S_MAX_HEADER];
    long size = s_b64_decode (segment, len, text, sizeof (text));
    if (size < 0) {
        s_fail (why, why_size, "header not base64url or too long");
        return NULL;
    }
    json_error_t error;
    json_t *header = json_loadb ((const char *) text, (size_t) size, JSON_REJECT_DUPLICATES, &error);
    s_key_t *key = NULL;
    if (!json_is_object (header))
        s_fail (why, why_size, "header not a JSON object");
    else
    if (!s_json_str_eq (json_object_get (header, "alg"), "ES256"))
        s_fail (why, why_size, "alg not ES256");
    else
    if (!s_json_str_eq (json_object_get (header, "typ"), "at+jwt"))
        s_fail (why, why_size, "typ not at+jwt");
    else {
        //  alg and typ are there, so three members are alg, typ and kid
        //  exactly; counting also catches a key with an embedded NUL.
        json_t *value = json_object_get (header, "kid");
        if (json_object_size (header) != 3 || !value)
            s_fail (why, why_size, "header members must be exactly alg, typ, kid");
        else
        if (!json_is_string (value) ||
            !s_kid_valid (json_string_value (value), json_string_length (value)))
            s_fail (why, why_size, "kid missing or malformed");
        else
        if (!(key = s_keys_lookup (keys, json_string_value (value), json_string_length (value)))) {
            *rc = SB_JWT_UNKNOWN_KID;
            s_fail (why, why_size, "unknown kid");
        }
    }
    json_decref (header);
    return key;
}

//  ECDSA P-256 with SHA-256 over signed (len bytes); sig is the JOSE
//  R||S pair. Returns true when it verifies.
static bool
s_check_signature (s_key_t *key, const char *signed_part, size_t len, const unsigned char *sig)
{
    ECDSA_SIG *esig = ECDSA_SIG_new ();
    BIGNUM *r = BN_bin2bn (sig, S_COORD, NULL);
    BIGNUM *s = BN_bin2bn (sig + S_COORD, S_COORD, NULL);
    unsigned char *der = NULL;
    int der_len = 0;
    if (esig && r && s && ECDSA_SIG_set0 (esig, r, s) == 1) {
        r = s = NULL;                   //  esig owns them now
        der_len = i2d_ECDSA_SIG (esig, &der);
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    bool ok = der_len > 0 && ctx &&
              EVP_DigestVerifyInit_ex (ctx, NULL, "SHA256", NULL, NULL, key->pkey, NULL) == 1 &&
              EVP_DigestVerify (ctx, der, (size_t) der_len, (const unsigned char *) signed_part,
                                len) == 1;
    EVP_MD_CTX_free (ctx);
    OPENSSL_free (der);
    ECDSA_SIG_free (esig);
    BN_free (r);
    BN_free (s);
    ERR_clear_error ();
    return ok;
}

//  Checks the claims at time now; fills c. Returns 0 or -1.
static int
s_check_claims (const char *segment, size_t len, const char *issuer, int64_t now,
                sb_jwt_claims_t *c, char *why, size_t why_size)
{
    unsigned char text [SB_JWT_MAX_TOKEN];
    long size = s_b64_decode (segment, len, text, sizeof (text));
    if (size < 0)
        return s_fail (why, why_size, "payload not base64url");
    json_error_t error;
    json_t *body = json_loadb ((const char *) text, (size_t) size, JSON_REJECT_DUPLICATES, &error);
    int rc = -1;
    int has_nbf = 0;
    if (!json_is_object (body))
        s_fail (why, why_size, "payload not a JSON object");
    else
    if (s_claim_str (body, "iss", c->iss, sizeof (c->iss)) || !streq (c->iss, issuer))
        s_fail (why, why_size, "wrong or missing iss");
    else
    if (s_claim_str (body, "sub", c->sub, sizeof (c->sub)) ||
        s_claim_str (body, "org", c->org, sizeof (c->org)) ||
        s_claim_str (body, "sid", c->sid, sizeof (c->sid)) ||
        s_claim_str (body, "jti", c->jti, sizeof (c->jti)) ||
        s_claim_str (body, "role", c->role, sizeof (c->role)))
        s_fail (why, why_size, "sub, org, sid, jti or role missing or malformed");
    else
    if (s_claim_time (body, "iat", &c->iat) != 1 || s_claim_time (body, "exp", &c->exp) != 1 ||
        (has_nbf = s_claim_time (body, "nbf", &c->nbf)) < 0)
        s_fail (why, why_size, "iat, exp or nbf missing or not an integer");
    else
    if (s_claims_check (c, why, why_size) == 0) {
        if (c->exp <= now - SB_JWT_LEEWAY)
            s_fail (why, why_size, "token expired");
        else
        if (c->iat > now + SB_JWT_LEEWAY)
            s_fail (why, why_size, "iat in the future");
        else
        if (has_nbf && c->nbf > now + SB_JWT_LEEWAY)
            s_fail (why, why_size, "token not yet valid (nbf)");
        else
        if (c->exp - c->iat > SB_JWT_MAX_LIFETIME + SB_JWT_LEEWAY)
            s_fail (why, why_size, "token lifetime too long");
        else
            rc = 0;
    }
    json_decref (body);
    return rc;
}

int
sb_jwt_verify (sb_jwt_keys_t *keys, const char *token, const char *issuer, int64_t now,
               sb_jwt_claims_t *claims, char *why, size_t why_size)
{
    assert (claims);
    memset (claims, 0, sizeof (*claims));
    if (!keys || !issuer || !*issuer)
        return s_fail (why, why_size, "no keys or no issuer to verify against");
    if (!token)
        return s_fail (why, why_size, "no token");

    //  Shape: at most 4096 characters of base64url in three non-empty
    //  segments, before anything is decoded.
    size_t len = strnlen (token, SB_JWT_MAX_TOKEN + 1);
    if (len > SB_JWT_MAX_TOKEN)
        return s_fail (why, why_size, "token too long");
    const char *dot [2] = {NULL, NULL};
    int dots = 0;
    for (size_t i = 0; i < len; i++) {
        if (token [i] == '.') {
            if (dots == 2)
                return s_fail (why, why_size, "token has more than three segments");
            dot [dots++] = token + i;
        }
        else
        if (!s_b64_char (token [i]))
            return s_fail (why, why_size, "token has characters outside base64url");
    }
    if (dots != 2)
        return s_fail (why, why_size, "token has fewer than three segments");
    size_t header_len = (size_t) (dot [0] - token);
    size_t payload_len = (size_t) (dot [1] - dot [0] - 1);
    size_t sig_len = (size_t) (token + len - dot [1] - 1);
    if (!header_len || !payload_len || !sig_len)
        return s_fail (why, why_size, "token has an empty segment");

    int rc;
    s_key_t *key = s_check_header (keys, token, header_len, &rc, why, why_size);
    if (!key)
        return rc;

    unsigned char sig [2 * S_COORD];
    if (s_b64_decode (dot [1] + 1, sig_len, sig, sizeof (sig)) != (long) sizeof (sig))
        return s_fail (why, why_size, "signature not 64 bytes of base64url");
    if (!s_check_signature (key, token, (size_t) (dot [1] - token), sig))
        return s_fail (why, why_size, "bad signature");

    if (s_check_claims (dot [0] + 1, payload_len, issuer, now, claims, why, why_size)) {
        memset (claims, 0, sizeof (*claims));
        return SB_JWT_INVALID;
    }
    return SB_JWT_OK;
}


//  ---------------------------------------------------------------------
//  Selftest

#include <jwt.h>

//  Builds claims a valid token carries.
static void
s_test_claims (sb_jwt_claims_t *c, int64_t now)
{
    memset (c, 0, sizeof (*c));
    snprintf (c->iss, sizeof (c->iss), "https://switchboard.test");
    snprintf (c->sub, sizeof (c->sub), "8f14e45f-ceea-467a-9af0-4b4a3d4a1b20");
    snprintf (c->org, sizeof (c->org), "c9f0f895-fb98-4b91-b5c1-2ab3f4d2e6a1");
    snprintf (c->role, sizeof (c->role), "admin");
    snprintf (c->sid, sizeof (c->sid), "sess-42");
    snprintf (c->jti, sizeof (c->jti), "0123456789abcdef0123456789abcdef");
    c->iat = now;
    c->exp = now + 900;
}

//  A validly signed token with any header and payload text, so that a
//  refusal can only come from the checks under test.
static char *
s_test_forge (sb_jwt_keys_t *keys, const char *header, const char *payload)
{
    return s_sign_parts (keys->signer, header, payload);
}

//  A payload with the given claim members spliced in.
static void
s_test_payload (char *buf, size_t size, int64_t iat, int64_t exp, const char *extra)
{
    bool no_sid = strstr (extra, "NOSID") != NULL;
    snprintf (buf, size,
              "{\"iss\":\"https://switchboard.test\",\"sub\":\"u1\",\"org\":\"o1\","
              "\"role\":\"user\",%s%s\"iat\":%lld,\"exp\":%lld,\"jti\":\"j1\"}",
              no_sid ? "" : "\"sid\":\"s1\",", no_sid ? "" : extra, (long long) iat,
              (long long) exp);
}

//  Copies tmpl into out with @KID, @IAT and @EXP replaced.
static void
s_test_fill (char *out, size_t size, const char *tmpl, const char *kid, int64_t iat, int64_t exp)
{
    size_t o = 0;
    for (const char *p = tmpl; *p && o + 1 < size;) {
        char number [24] = "";
        const char *with = NULL;
        if (strncmp (p, "@KID", 4) == 0)
            with = kid;
        else
        if (strncmp (p, "@IAT", 4) == 0 || strncmp (p, "@EXP", 4) == 0) {
            snprintf (number, sizeof (number), "%lld", (long long) (p [1] == 'I' ? iat : exp));
            with = number;
        }
        if (with) {
            o += (size_t) snprintf (out + o, size - o, "%s", with);
            p += 4;
        }
        else
            out [o++] = *p++;
    }
    out [o < size ? o : size - 1] = 0;
}

//  Returns the public key of the signer as PEM (the caller frees it).
static char *
s_test_public_pem (sb_jwt_keys_t *keys)
{
    BIO *mem = BIO_new (BIO_s_mem ());
    char *data = NULL;
    PEM_write_bio_PUBKEY (mem, keys->signer->pkey);
    long size = BIO_get_mem_data (mem, &data);
    char *pem = sb_strndup (data, (size_t) size);
    BIO_free (mem);
    return pem;
}

//  An HS256 token made by libjwt, keyed with secret: the algorithm
//  confusion attack.
static char *
s_test_hs256 (const char *secret, const char *kid, int64_t now)
{
    jwt_t *jwt = NULL;
    char *token = NULL;
    if (jwt_new (&jwt) == 0 &&
        jwt_set_alg (jwt, JWT_ALG_HS256, (const unsigned char *) secret, (int) strlen (secret)) == 0 &&
        jwt_add_header (jwt, "typ", "at+jwt") == 0 && jwt_add_header (jwt, "kid", kid) == 0 &&
        jwt_add_grant (jwt, "iss", "https://switchboard.test") == 0 &&
        jwt_add_grant (jwt, "sub", "u1") == 0 && jwt_add_grant (jwt, "org", "o1") == 0 &&
        jwt_add_grant (jwt, "role", "admin") == 0 && jwt_add_grant (jwt, "sid", "s1") == 0 &&
        jwt_add_grant (jwt, "jti", "j1") == 0 && jwt_add_grant_int (jwt, "iat", (long) now) == 0 &&
        jwt_add_grant_int (jwt, "exp", (long) now + 600) == 0)
        token = jwt_encode_str (jwt);
    jwt_free (jwt);
    return token;
}

static int
s_test_verify (sb_jwt_keys_t *keys, const char *token, int64_t now, char *why, size_t why_size)
{
    sb_jwt_claims_t c;
    return sb_jwt_verify (keys, token, "https://switchboard.test", now, &c, why, why_size);
}

static long
s_test_count_keys (const char *dir)
{
    s_file_t *files;
    long count = s_scan (dir, &files, NULL, 0);
    free (files);
    return count;
}

static void
s_test_set_mtime (const char *dir, const char *kid, time_t when)
{
    char path [4200];
    snprintf (path, sizeof (path), "%s/%s.pem", dir, kid);
    struct timespec times [2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = when}};
    utimensat (AT_FDCWD, path, times, 0);
}

static void
s_test_remove_tree (const char *dir)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return;
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        if (streq (entry->d_name, ".") || streq (entry->d_name, ".."))
            continue;
        char path [4200];
        snprintf (path, sizeof (path), "%s/%s", dir, entry->d_name);
        struct stat st;
        if (lstat (path, &st) == 0 && S_ISDIR (st.st_mode))
            s_test_remove_tree (path);
        else
            unlink (path);
    }
    closedir (handle);
    rmdir (dir);
}

void
sb_jwt_thread_stop (void)
{
    OPENSSL_thread_stop ();
}

void
sb_jwt_test (bool verbose)
{
    char top [] = "/tmp/sb-jwt-test-XXXXXX";
    SB_CHECK (mkdtemp (top) != NULL);
    char dir [200];
    snprintf (dir, sizeof (dir), "%s/var/keys", top);
    char why [256];
    int64_t now = sb_now_ms () / 1000;
    const char *iss = "https://switchboard.test";

    //  base64url is strict both ways.
    unsigned char bytes [8];
    char text [16];
    SB_CHECK (s_b64_encode ((const unsigned char *) "\xfb\xff", 2, text) == 3 && streq (text, "-_8"));
    SB_CHECK (s_b64_decode ("-_8", 3, bytes, sizeof (bytes)) == 2 && bytes [0] == 0xfb);
    SB_CHECK (s_b64_decode ("-_9", 3, bytes, sizeof (bytes)) == -1);   //  non-zero spare bits
    SB_CHECK (s_b64_decode ("QQ==", 4, bytes, sizeof (bytes)) == -1);
    SB_CHECK (s_b64_decode ("QUJD+", 5, bytes, sizeof (bytes)) == -1);
    SB_CHECK (s_b64_decode ("QUJDRA", 6, bytes, 3) == -1);             //  does not fit
    SB_CHECK (s_b64_decode ("QUJDR", 5, bytes, sizeof (bytes)) == -1);  //  no such length
    SB_CHECK (s_b64_decode ("QU JD", 5, bytes, sizeof (bytes)) == -1);  //  no whitespace
    SB_CHECK (s_b64_decode ("QUJD", 4, bytes, sizeof (bytes)) == 3 && memcmp (bytes, "ABC", 3) == 0);
    SB_CHECK (s_b64_decode ("", 0, bytes, sizeof (bytes)) == 0);

    //  The key directory: the first load creates exactly one key, mode 0600.
    sb_jwt_keys_t *keys = sb_jwt_keys_load_dir (dir, 1200, why, sizeof (why));
    SB_CHECK (keys != NULL);
    if (!keys) {
        fprintf (stderr, "jwt: cannot load keys: %s\n", why);
        s_test_remove_tree (top);
        return;
    }
    SB_CHECK (s_test_count_keys (dir) == 1);
    SB_CHECK (sb_jwt_keys_size (keys) == 1);
    //  Borrowed until the next refresh, which reloads a set read in the
    //  tick its directory changed: a copy.
    const char *signer = sb_jwt_keys_signer_kid (keys);
    SB_CHECK (signer && strlen (signer) == S_KID_LEN);
    char kid [SB_JWT_KID_MAX + 1];
    snprintf (kid, sizeof (kid), "%s", signer ? signer : "");
    char old_kid [SB_JWT_KID_MAX + 1];
    snprintf (old_kid, sizeof (old_kid), "%s", kid);
    char path [4200];
    snprintf (path, sizeof (path), "%s/%s.pem", dir, kid);
    struct stat st;
    SB_CHECK (stat (path, &st) == 0 && (st.st_mode & 0777) == 0600);
    SB_CHECK (stat (dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    sb_jwt_keys_t *again = sb_jwt_keys_load_dir (dir, 1200, why, sizeof (why));
    SB_CHECK (again && streq (sb_jwt_keys_signer_kid (again), kid));
    SB_CHECK (s_test_count_keys (dir) == 1);
    sb_jwt_keys_destroy (&again);
    SB_CHECK (again == NULL);
    SB_CHECK (sb_jwt_keys_refresh (keys) == 0);

    //  Several processes starting at once agree on one key.
    char race_dir [240];
    snprintf (race_dir, sizeof (race_dir), "%s/race", top);
    pid_t pids [4];
    for (int i = 0; i < 4; i++) {
        pids [i] = fork ();
        if (pids [i] == 0) {
            sb_jwt_keys_t *child = sb_jwt_keys_load_dir (race_dir, 1200, NULL, 0);
            int code = child ? 0 : 1;
            sb_jwt_keys_destroy (&child);
            _exit (code);
        }
    }
    int children_ok = 0;
    for (int i = 0; i < 4; i++) {
        int status = 0;
        if (pids [i] > 0 && waitpid (pids [i], &status, 0) == pids [i] && WIFEXITED (status) &&
            WEXITSTATUS (status) == 0)
            children_ok++;
    }
    SB_CHECK (children_ok == 4);
    SB_CHECK (s_test_count_keys (race_dir) == 1);

    //  Sign, verify.
    sb_jwt_claims_t claims, got;
    s_test_claims (&claims, now);
    char *token = sb_jwt_sign (keys, &claims);
    SB_CHECK (token != NULL);
    int rc = sb_jwt_verify (keys, token, iss, now, &got, why, sizeof (why));
    SB_CHECK (rc == SB_JWT_OK);
    if (rc != SB_JWT_OK)
        fprintf (stderr, "jwt: round trip refused: %s\n", why);
    SB_CHECK (streq (got.sub, claims.sub) && streq (got.org, claims.org) &&
              streq (got.role, "admin") && streq (got.sid, claims.sid) &&
              streq (got.jti, claims.jti) && streq (got.iss, iss));
    SB_CHECK (got.iat == now && got.exp == now + 900 && got.nbf == 0);
    if (verbose)
        printf ("jwt: token of %zu characters, kid %s\n", strlen (token), kid);

    //  The signer refuses what the verifier would refuse.
    sb_jwt_claims_t bad = claims;
    bad.exp = bad.iat + 3600;
    SB_CHECK (sb_jwt_sign (keys, &bad) == NULL);
    bad = claims;
    snprintf (bad.role, sizeof (bad.role), "owner");
    SB_CHECK (sb_jwt_sign (keys, &bad) == NULL);
    bad = claims;
    bad.sid [0] = 0;
    SB_CHECK (sb_jwt_sign (keys, &bad) == NULL);

    //  JWKS round trip: the public set verifies what the private set signed.
    char *jwks = sb_jwt_keys_jwks (keys);
    SB_CHECK (jwks && strstr (jwks, kid) && strstr (jwks, "\"crv\":\"P-256\"") &&
              !strstr (jwks, "\"d\""));
    sb_jwt_keys_t *pub = sb_jwt_keys_from_jwks (jwks, strlen (jwks), why, sizeof (why));
    SB_CHECK (pub != NULL);
    SB_CHECK (pub && sb_jwt_keys_has_kid (pub, kid) && !sb_jwt_keys_has_kid (pub, "nope"));
    SB_CHECK (pub && sb_jwt_keys_signer_kid (pub) == NULL);
    SB_CHECK (pub && sb_jwt_verify (pub, token, iss, now, &got, why, sizeof (why)) == SB_JWT_OK);
    SB_CHECK (pub && sb_jwt_sign (pub, &claims) == NULL);
    SB_CHECK (pub && sb_jwt_keys_refresh (pub) == 0);

    //  JWKS documents with nothing usable are refused; bad entries skipped.
    const char *no_keys [] = {
        "{}", "[]", "{\"keys\":{}}", "{\"keys\":[]}", "not json",
        "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\",\"kid\":\"r\",\"alg\":\"RS256\"}]}",
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\",\"kid\":\"h\",\"alg\":\"HS256\"}]}",
        NULL};
    for (int i = 0; no_keys [i]; i++) {
        sb_jwt_keys_t *none = sb_jwt_keys_from_jwks (no_keys [i], strlen (no_keys [i]), why,
                                                     sizeof (why));
        SB_CHECK (none == NULL);
        sb_jwt_keys_destroy (&none);
    }
    char doc [2048];
    sb_jwt_keys_t *mixed = NULL;
    if (pub) {
        s_key_t *k = &pub->keys [0];
        //  alg missing, crv P-384, use enc, x/y swapped for a point off the
        //  curve (almost surely), a private part: all skipped; the last is good.
        snprintf (doc, sizeof (doc),
                  "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"a\"},"
                  "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"b\",\"alg\":\"ES256\"},"
                  "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"c\",\"alg\":\"ES256\",\"use\":\"enc\"},"
                  "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"d\",\"alg\":\"ES256\"},"
                  "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"e\",\"alg\":\"ES256\",\"d\":\"AA\"},"
                  "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"kid\":\"%s\",\"alg\":\"ES256\"}]}",
                  k->x, k->y, k->x, k->y, k->x, k->y, k->y, k->x, k->x, k->y, k->x, k->y, kid);
        mixed = sb_jwt_keys_from_jwks (doc, strlen (doc), why, sizeof (why));
    }
    SB_CHECK (mixed && sb_jwt_keys_size (mixed) == 1 && sb_jwt_keys_has_kid (mixed, kid));
    sb_jwt_keys_destroy (&mixed);

    //  A second implementation reads our tokens: libjwt checks the ES256
    //  signature with the public PEM. libjwt 1.10 insists on typ "JWT", so
    //  it is given a token with that header (which we in turn refuse).
    char *pem = s_test_public_pem (keys);
    char payload [1024];
    s_test_payload (payload, sizeof (payload), now, now + 600, "");
    char header [256];
    snprintf (header, sizeof (header), "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
    char *typ_jwt = s_test_forge (keys, header, payload);
    jwt_t *decoded = NULL;
    int lib_rc = jwt_decode (&decoded, typ_jwt, (const unsigned char *) pem, (int) strlen (pem));
    const char *lib_sid = lib_rc == 0 && decoded ? jwt_get_grant (decoded, "sid") : NULL;
    SB_CHECK (lib_sid && streq (lib_sid, "s1"));
    jwt_free (decoded);
    decoded = NULL;
    lib_rc = jwt_decode (&decoded, token, (const unsigned char *) pem, (int) strlen (pem));
    if (verbose)
        printf ("jwt: libjwt decoding our at+jwt token: %s\n", lib_rc ? strerror (lib_rc) : "ok");
    jwt_free (decoded);
    SB_CHECK (s_test_verify (keys, typ_jwt, now, why, sizeof (why)) == SB_JWT_INVALID &&
              strstr (why, "typ"));
    free (typ_jwt);

    //  Algorithm confusion: HS256 keyed with the public PEM, then with the
    //  JWKS text. libjwt itself accepts the first given the PEM.
    char *hs = s_test_hs256 (pem, kid, now);
    SB_CHECK (hs != NULL);
    decoded = NULL;
    lib_rc = hs ? jwt_decode (&decoded, hs, (const unsigned char *) pem, (int) strlen (pem)) : -1;
    if (verbose)
        printf ("jwt: libjwt's jwt_decode on HS256-with-PEM: %s\n", lib_rc == 0 ? "ACCEPTED" : "refused");
    jwt_free (decoded);
    SB_CHECK (hs && s_test_verify (keys, hs, now, why, sizeof (why)) == SB_JWT_INVALID &&
              strstr (why, "alg"));
    SB_CHECK (hs && pub && s_test_verify (pub, hs, now, why, sizeof (why)) == SB_JWT_INVALID);
    free (hs);
    hs = s_test_hs256 (jwks, kid, now);
    SB_CHECK (hs && s_test_verify (pub, hs, now, why, sizeof (why)) == SB_JWT_INVALID &&
              strstr (why, "alg"));
    free (hs);

    //  alg none: libjwt's unsigned token (empty third segment), and one
    //  with the signature left on.
    jwt_t *jn = NULL;
    char *none = NULL;
    if (jwt_new (&jn) == 0 && jwt_add_grant (jn, "iss", iss) == 0 &&
        jwt_add_header (jn, "kid", kid) == 0)
        none = jwt_encode_str (jn);
    jwt_free (jn);
    SB_CHECK (none && s_test_verify (keys, none, now, why, sizeof (why)) == SB_JWT_INVALID);
    free (none);
    const char *bad_headers [] = {
        "{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"@KID\"}",
        "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"@KID\"}",
        "{\"alg\":\"ES384\",\"typ\":\"at+jwt\",\"kid\":\"@KID\"}",
        "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"@KID\"}",
        "{\"alg\":\"es256\",\"typ\":\"at+jwt\",\"kid\":\"@KID\"}",
        "{\"alg\":\"ES256\\u0000\",\"typ\":\"at+jwt\",\"kid\":\"@KID\"}",
        "{\"alg\":\"ES256\",\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"@KID\"}",
        "{\"alg\":\"ES256\",\"kid\":\"@KID\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at+JWT\",\"kid\":\"@KID\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"@KID\",\"jku\":\"https://evil\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"@KID\",\"crit\":[\"exp\"]}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"@KID\",\"alg\\u0000\":\"HS256\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\\u0000x\":\"@KID\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"@KID/../x\"}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":[\"@KID\"]}",
        "{\"alg\":\"ES256\",\"typ\":\"at+jwt\"}@KID",
        "[\"ES256\",\"@KID\"]",
        "not json @KID",
        NULL};
    for (int i = 0; bad_headers [i]; i++) {
        s_test_fill (header, sizeof (header), bad_headers [i], kid, 0, 0);
        char *forged = s_test_forge (keys, header, payload);
        SB_CHECK (forged && s_test_verify (keys, forged, now, why, sizeof (why)) == SB_JWT_INVALID);
        free (forged);
    }
    //  The forge itself is sound: the right header passes.
    snprintf (header, sizeof (header), "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"%s\"}", kid);
    char *forged = s_test_forge (keys, header, payload);
    SB_CHECK (forged && s_test_verify (keys, forged, now, why, sizeof (why)) == SB_JWT_OK);
    free (forged);

    //  Unknown kid, well formed: the caller may refresh and retry.
    forged = s_test_forge (keys, "{\"alg\":\"ES256\",\"typ\":\"at+jwt\",\"kid\":\"0000000000000000\"}",
                           payload);
    SB_CHECK (forged && s_test_verify (keys, forged, now, why, sizeof (why)) == SB_JWT_UNKNOWN_KID);
    free (forged);

    //  Tampering: a flipped signature bit, an altered payload, a signature
    //  moved to another payload, a truncated signature.
    char *copy = sb_strdup (token);
    char *sig_at = strrchr (copy, '.') + 1;
    unsigned char raw [2 * S_COORD];
    SB_CHECK (s_b64_decode (sig_at, strlen (sig_at), raw, sizeof (raw)) == 64);
    raw [10] ^= 0x01;
    s_b64_encode (raw, sizeof (raw), sig_at);
    SB_CHECK (s_test_verify (keys, copy, now, why, sizeof (why)) == SB_JWT_INVALID &&
              strstr (why, "signature"));
    free (copy);
    char *dot1 = strchr (token, '.');
    char *dot2 = strrchr (token, '.');
    char altered_payload [1024];
    s_test_payload (altered_payload, sizeof (altered_payload), now, now + 600, "");
    char *alt = strstr (altered_payload, "\"role\":\"user\"");
    if (alt)
        memcpy (alt, "\"role\":\"admn\"", 13);
    char encoded [1500];
    s_b64_encode ((const unsigned char *) altered_payload, strlen (altered_payload), encoded);
    char spliced [SB_JWT_MAX_TOKEN + 16];
    snprintf (spliced, sizeof (spliced), "%.*s.%s%s", (int) (dot1 - token), token, encoded, dot2);
    SB_CHECK (s_test_verify (keys, spliced, now, why, sizeof (why)) == SB_JWT_INVALID &&
              strstr (why, "signature"));
    copy = sb_strdup (token);
    copy [dot1 - token + 5] = copy [dot1 - token + 5] == 'A' ? 'B' : 'A';
    SB_CHECK (s_test_verify (keys, copy, now, why, sizeof (why)) == SB_JWT_INVALID);
    copy [strlen (copy) - 2] = 0;
    SB_CHECK (s_test_verify (keys, copy, now, why, sizeof (why)) == SB_JWT_INVALID);
    free (copy);

    //  Time: expired beyond the leeway, expired within it, nbf and iat in
    //  the future, a one-hour lifetime.
    SB_CHECK (sb_jwt_verify (keys, token, iss, now + 900 + 31, &got, why, sizeof (why)) ==
              SB_JWT_INVALID && strstr (why, "expired"));
    SB_CHECK (got.sub [0] == 0);
    SB_CHECK (sb_jwt_verify (keys, token, iss, now + 900 + 29, &got, why, sizeof (why)) ==
              SB_JWT_OK);
    SB_CHECK (sb_jwt_verify (keys, token, iss, now - 31, &got, why, sizeof (why)) ==
              SB_JWT_INVALID && strstr (why, "iat"));
    SB_CHECK (sb_jwt_verify (keys, token, iss, now - 29, &got, why, sizeof (why)) == SB_JWT_OK);
    struct {
        int64_t iat, exp;
        const char *extra;
        int expect;
    } timing [] = {
        {now - 60, now + 600, "\"nbf\":" "0,", SB_JWT_OK},
        {now, now + 600, "", SB_JWT_OK},
        {now - 3000, now + 600, "", SB_JWT_INVALID},           //  lifetime 1 h
        {now - 929, now + 1, "", SB_JWT_OK},                   //  900 s plus leeway
        {now - 930, now + 1, "", SB_JWT_INVALID},
        {now, now, "", SB_JWT_INVALID},                        //  exp not after iat
        {now + 120, now + 600, "", SB_JWT_INVALID},            //  iat in the future
        {now - 100, now - 40, "", SB_JWT_INVALID},             //  expired 40 s ago
        {now - 100, now - 20, "", SB_JWT_OK},                  //  expired 20 s ago: leeway
        {now, now + 600, "NOSID", SB_JWT_INVALID},
        {-1, now + 600, "", SB_JWT_INVALID},
        {now, now + 600, "\"nbf\":\"soon\",", SB_JWT_INVALID},
        {0, 0, NULL, 0}};
    for (int i = 0; timing [i].extra; i++) {
        s_test_payload (payload, sizeof (payload), timing [i].iat, timing [i].exp, timing [i].extra);
        forged = s_test_forge (keys, header, payload);
        rc = s_test_verify (keys, forged, now, why, sizeof (why));
        SB_CHECK (rc == timing [i].expect);
        if (rc != timing [i].expect)
            fprintf (stderr, "jwt: timing case %d: %s\n", i, why);
        free (forged);
    }
    //  nbf in the future, by hand so that it is the only fault.
    snprintf (payload, sizeof (payload),
              "{\"iss\":\"%s\",\"sub\":\"u1\",\"org\":\"o1\",\"role\":\"user\",\"sid\":\"s1\","
              "\"iat\":%lld,\"exp\":%lld,\"nbf\":%lld,\"jti\":\"j1\"}",
              iss, (long long) now, (long long) now + 600, (long long) now + 120);
    forged = s_test_forge (keys, header, payload);
    SB_CHECK (s_test_verify (keys, forged, now, why, sizeof (why)) == SB_JWT_INVALID &&
              strstr (why, "nbf"));
    free (forged);

    //  Claims: wrong iss, bad role, missing or odd fields, floats, duplicates.
    const char *bad_payloads [] = {
        "{\"iss\":\"https://evil.test\",\"sub\":\"u1\",\"org\":\"o1\",\"role\":\"user\",\"sid\":\"s1\",\"iat\":@IAT,\"exp\":@EXP,\"jti\":\"j1\"}",
        "{\"iss\":\"https://switchboard.test\\u0000\",\"sub\":\"u1\",\"org\":\"o1\",\"role\":\"user\",\"sid\":\"s1\",\"iat\":@IAT,\"exp\":@EXP,\"jti\":\"j1\"}",
        "{\"sub\":\"u1\",\"org\":\"o1\",\"role\":\"user\",\"sid\":\"s1\",\"iat\":@IAT,\"exp\":@EXP,\"jti\":\"j1\"}",
        "{\"iss\":\"https://switchboard.test\",\"sub\":\"u1\",\"org\":\"o1\",\"role\":\"owner\",\"sid\":\"s1\",\"iat\":@IAT,\"exp\":@EXP,\"jti\":\"j1\"}",
        "{\"iss\":\"https://switchboard.test\",\"sub\":\"u1\",\"org\":\"o1\",\"role\":\"user\",\"sid\":\"\",\"iat\":@IAT,\"exp\":@EXP,\"jti\":\"j1\"}",
        "{\"iss\":\"https://switchboard.test\",\"sub\":\"u 1\",\"org\":\"o1\",\"role\":\"user\",\"sid\":\"s1\",\"iat\":@IAT,\"exp\":@EXP,\"jti\":\"j1\"}",
        "{\"iss\":\"https://switchboard.test\",\"sub\":\"u1\",\"org\":7,\"role\":\"user\",\"sid\":\"s1\",\"iat\":@IAT,\"exp\":@EXP,\"jti\":\"j1\"}",
        "{\"iss\":\"https://switchboard.test\",\"sub\":\"u1\",\"org\":\"o1\",\"role\":\"user\",\"sid\":\"s1\",\"iat\":@IAT,\"exp\":@EXP}",
        "{\"iss\":\"https://switchboard.test\",\"sub\":\"u1\",\"org\":\"o1\",\"role\":\"user\",\"sid\":\"s1\",\"iat\":@IAT,\"exp\":@EXP.0,\"jti\":\"j1\"}",
        "{\"iss\":\"https://switchboard.test\",\"sub\":\"u1\",\"org\":\"o1\",\"role\":\"user\",\"role\":\"admin\",\"sid\":\"s1\",\"iat\":@IAT,\"exp\":@EXP,\"jti\":\"j1\"}",
        "{\"iss\":\"https://switchboard.test\",\"sub\":\"u1\",\"org\":\"o1\",\"role\":\"user\",\"sid\":\"s1\",\"iat\":@IAT,\"exp\":\"@EXP\",\"jti\":\"j1\"}",
        "{\"iss\":\"https://switchboard.test\",\"sub\":\"0123456789012345678901234567890123456789012345678901234567890123456789\",\"org\":\"o1\",\"role\":\"user\",\"sid\":\"s1\",\"iat\":@IAT,\"exp\":@EXP,\"jti\":\"j1\"}",
        "[@IAT,@EXP]",
        NULL};
    for (int i = 0; bad_payloads [i]; i++) {
        s_test_fill (payload, sizeof (payload), bad_payloads [i], NULL, now, now + 600);
        forged = s_test_forge (keys, header, payload);
        SB_CHECK (forged && s_test_verify (keys, forged, now, why, sizeof (why)) == SB_JWT_INVALID);
        free (forged);
    }
    SB_CHECK (sb_jwt_verify (keys, token, "https://other.test", now, &got, why, sizeof (why)) ==
              SB_JWT_INVALID && strstr (why, "iss"));

    //  Shape: segments, alphabet, length.
    char shaped [6000];
    const char *shapes [] = {"", ".extra", ".", "..x", NULL};
    int head_and_payload = (int) (dot2 - token);
    for (int i = 0; shapes [i]; i++) {
        snprintf (shaped, sizeof (shaped), "%.*s%s", head_and_payload, token, shapes [i]);
        SB_CHECK (s_test_verify (keys, shaped, now, why, sizeof (why)) == SB_JWT_INVALID);
    }
    snprintf (shaped, sizeof (shaped), ".%.*s", head_and_payload, token);
    SB_CHECK (s_test_verify (keys, shaped, now, why, sizeof (why)) == SB_JWT_INVALID);
    snprintf (shaped, sizeof (shaped), "%s.%s", token, "AAAA");        //  4 segments
    SB_CHECK (s_test_verify (keys, shaped, now, why, sizeof (why)) == SB_JWT_INVALID &&
              strstr (why, "segments"));
    snprintf (shaped, sizeof (shaped), "%.*s.%s", (int) (dot1 - token), token, dot2 + 1);
    SB_CHECK (s_test_verify (keys, shaped, now, why, sizeof (why)) == SB_JWT_INVALID &&
              strstr (why, "segments"));                               //  2 segments
    snprintf (shaped, sizeof (shaped), "%.*s..%s", (int) (dot1 - token), token, dot2 + 1);
    SB_CHECK (s_test_verify (keys, shaped, now, why, sizeof (why)) == SB_JWT_INVALID &&
              strstr (why, "empty"));
    const char *odd_chars = "+/= \n%";
    for (const char *c = odd_chars; *c; c++) {
        snprintf (shaped, sizeof (shaped), "%s", token);
        shaped [dot1 - token + 3] = *c;
        SB_CHECK (s_test_verify (keys, shaped, now, why, sizeof (why)) == SB_JWT_INVALID &&
                  strstr (why, "base64url"));
    }
    snprintf (shaped, sizeof (shaped), "%s=", token);
    SB_CHECK (s_test_verify (keys, shaped, now, why, sizeof (why)) == SB_JWT_INVALID);
    memset (shaped, 'A', 5000);
    shaped [5000] = 0;
    memcpy (shaped, token, strlen (token));
    SB_CHECK (s_test_verify (keys, shaped, now, why, sizeof (why)) == SB_JWT_INVALID &&
              strstr (why, "too long"));
    SB_CHECK (s_test_verify (keys, "", now, why, sizeof (why)) == SB_JWT_INVALID);
    SB_CHECK (s_test_verify (keys, NULL, now, why, sizeof (why)) == SB_JWT_INVALID);
    SB_CHECK (sb_jwt_verify (keys, token, NULL, now, &got, why, sizeof (why)) == SB_JWT_INVALID);
    //  Header and payload that are not JSON, validly signed.
    forged = s_test_forge (keys, "ES256 at+jwt", payload);
    SB_CHECK (forged && s_test_verify (keys, forged, now, why, sizeof (why)) == SB_JWT_INVALID &&
              strstr (why, "header"));
    free (forged);
    forged = s_test_forge (keys, header, "{\"iss\":");
    SB_CHECK (forged && s_test_verify (keys, forged, now, why, sizeof (why)) == SB_JWT_INVALID &&
              strstr (why, "payload"));
    free (forged);

    //  Random mutations of a good token never verify (and never crash).
    uint64_t seed = 0x5eed5eed12345ULL;
    int accepted = 0;
    size_t token_len = strlen (token);
    for (int i = 0; i < 500; i++) {
        snprintf (shaped, sizeof (shaped), "%s", token);
        size_t at = (size_t) (sb_test_rand (&seed) % token_len);
        char c = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            [sb_test_rand (&seed) % 64];
        if (shaped [at] == '.' || shaped [at] == c)
            continue;
        shaped [at] = c;
        if (s_test_verify (keys, shaped, now, why, sizeof (why)) == SB_JWT_OK)
            accepted++;
    }
    SB_CHECK (accepted == 0);

    //  Rotation: a second key signs; old tokens still verify; the JWKS
    //  lists both; the gateway's old JWKS set sees an unknown kid.
    SB_CHECK (sb_jwt_keys_rotate (dir, why, sizeof (why)) == 0);
    SB_CHECK (s_test_count_keys (dir) == 2);
    SB_CHECK (sb_jwt_keys_refresh (keys) == 0);
    SB_CHECK (sb_jwt_keys_size (keys) == 2);
    const char *new_kid = sb_jwt_keys_signer_kid (keys);
    SB_CHECK (new_kid && !streq (new_kid, old_kid));
    SB_CHECK (sb_jwt_keys_has_kid (keys, old_kid));
    SB_CHECK (s_test_verify (keys, token, now, why, sizeof (why)) == SB_JWT_OK);
    char *token2 = sb_jwt_sign (keys, &claims);
    SB_CHECK (token2 && strstr (token2, ".") && s_test_verify (keys, token2, now, why, sizeof (why)) == SB_JWT_OK);
    SB_CHECK (pub && s_test_verify (pub, token2, now, why, sizeof (why)) == SB_JWT_UNKNOWN_KID);
    char *jwks2 = sb_jwt_keys_jwks (keys);
    SB_CHECK (jwks2 && strstr (jwks2, old_kid) && new_kid && strstr (jwks2, new_kid));
    sb_jwt_keys_t *pub2 = jwks2 ? sb_jwt_keys_from_jwks (jwks2, strlen (jwks2), why, sizeof (why)) : NULL;
    SB_CHECK (pub2 && sb_jwt_keys_size (pub2) == 2);
    SB_CHECK (pub2 && s_test_verify (pub2, token, now, why, sizeof (why)) == SB_JWT_OK);
    SB_CHECK (pub2 && s_test_verify (pub2, token2, now, why, sizeof (why)) == SB_JWT_OK);
    //  Only the signer keeps its private half.
    BIGNUM *secret = NULL;
    SB_CHECK (keys->count == 2 &&
              EVP_PKEY_get_bn_param (keys->keys [0].pkey, OSSL_PKEY_PARAM_PRIV_KEY, &secret) == 1);
    BN_clear_free (secret);
    secret = NULL;
    SB_CHECK (keys->count == 2 &&
              EVP_PKEY_get_bn_param (keys->keys [1].pkey, OSSL_PKEY_PARAM_PRIV_KEY, &secret) != 1);
    BN_clear_free (secret);
    ERR_clear_error ();
    sb_jwt_keys_t *loaded = sb_jwt_keys_load_dir (dir, 1200, why, sizeof (why));
    SB_CHECK (loaded && new_kid && streq (sb_jwt_keys_signer_kid (loaded), new_kid));
    SB_CHECK (loaded && s_test_verify (loaded, token, now, why, sizeof (why)) == SB_JWT_OK);
    sb_jwt_keys_destroy (&loaded);

    //  A rotation within the tick of the change last read leaves the
    //  directory's mtime as it was (the clean-clone CI saw a worker keep the
    //  old set so, and the gateway refuse the new signer's kid): still found.
    char racy_dir [240];
    snprintf (racy_dir, sizeof (racy_dir), "%s/racy", top);
    loaded = sb_jwt_keys_load_dir (racy_dir, 1200, why, sizeof (why));
    SB_CHECK (loaded && sb_jwt_keys_size (loaded) == 1);
    char first_kid [SB_JWT_KID_MAX + 1] = "";
    if (loaded)
        snprintf (first_kid, sizeof (first_kid), "%s", sb_jwt_keys_signer_kid (loaded));
    struct stat before;
    SB_CHECK (stat (racy_dir, &before) == 0);
    SB_CHECK (sb_jwt_keys_rotate (racy_dir, why, sizeof (why)) == 0);
    struct timespec same [2] = { before.st_atim, before.st_mtim };
    SB_CHECK (utimensat (AT_FDCWD, racy_dir, same, 0) == 0);
    SB_CHECK (loaded && sb_jwt_keys_refresh (loaded) == 0 && sb_jwt_keys_size (loaded) == 2);
    SB_CHECK (loaded && !streq (sb_jwt_keys_signer_kid (loaded), first_kid));
    sb_jwt_keys_destroy (&loaded);
    //  A set read when the mtime was old enough trusts it.
    struct timespec old_enough [2] = { { (time_t) now - 10, 0 }, { (time_t) now - 10, 0 } };
    SB_CHECK (utimensat (AT_FDCWD, racy_dir, old_enough, 0) == 0);
    loaded = sb_jwt_keys_load_dir (racy_dir, 1200, why, sizeof (why));
    SB_CHECK (loaded && !loaded->racy);
    sb_jwt_keys_destroy (&loaded);

    //  Retirement: once the new key is older than keep_seconds, the old key
    //  no longer verifies; after a day, rotation deletes it.
    char new_copy [SB_JWT_KID_MAX + 1];
    snprintf (new_copy, sizeof (new_copy), "%s", new_kid ? new_kid : "");
    s_test_set_mtime (dir, old_kid, (time_t) now - 4000);
    s_test_set_mtime (dir, new_copy, (time_t) now - 2000);
    loaded = sb_jwt_keys_load_dir (dir, 1200, why, sizeof (why));
    SB_CHECK (loaded && sb_jwt_keys_size (loaded) == 1 && !sb_jwt_keys_has_kid (loaded, old_kid));
    SB_CHECK (loaded && s_test_verify (loaded, token, now, why, sizeof (why)) == SB_JWT_UNKNOWN_KID);
    sb_jwt_keys_destroy (&loaded);
    loaded = sb_jwt_keys_load_dir (dir, 3000, why, sizeof (why));
    SB_CHECK (loaded && sb_jwt_keys_size (loaded) == 2);
    sb_jwt_keys_destroy (&loaded);
    s_test_set_mtime (dir, old_kid, (time_t) now - 3 * S_DAY);
    s_test_set_mtime (dir, new_copy, (time_t) now - 2 * S_DAY);
    SB_CHECK (sb_jwt_keys_rotate (dir, why, sizeof (why)) == 0);
    SB_CHECK (s_test_count_keys (dir) == 2);          //  newest, and the one it retired
    snprintf (path, sizeof (path), "%s/%s.pem", dir, old_kid);
    SB_CHECK (access (path, F_OK) != 0);
    SB_CHECK (sb_jwt_keys_refresh (keys) == 0);
    SB_CHECK (sb_jwt_keys_size (keys) == 2 && !sb_jwt_keys_has_kid (keys, old_kid));

    //  A key file whose name is not its kid, or that is not a key, is not loaded.
    char junk_dir [240];
    snprintf (junk_dir, sizeof (junk_dir), "%s/junk", top);
    SB_CHECK (mkdir (junk_dir, 0700) == 0);
    snprintf (path, sizeof (path), "%s/0123456789abcdef.pem", junk_dir);
    FILE *junk = fopen (path, "w");
    if (junk) {
        fputs ("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n", junk);
        fclose (junk);
    }
    loaded = sb_jwt_keys_load_dir (junk_dir, 1200, why, sizeof (why));
    SB_CHECK (loaded == NULL && strstr (why, "newest key unusable"));
    char from [4200];
    snprintf (from, sizeof (from), "%s/%s.pem", dir, sb_jwt_keys_signer_kid (keys));
    unlink (path);
    SB_CHECK (link (from, path) == 0);
    loaded = sb_jwt_keys_load_dir (junk_dir, 1200, why, sizeof (why));
    SB_CHECK (loaded == NULL && strstr (why, "does not hold"));

    free (token);
    free (token2);
    free (jwks);
    free (jwks2);
    free (pem);
    sb_jwt_keys_destroy (&pub);
    sb_jwt_keys_destroy (&pub2);
    sb_jwt_keys_destroy (&keys);
    sb_jwt_keys_destroy (&keys);            //  twice is harmless
    sb_jwt_keys_destroy (NULL);
    s_test_remove_tree (top);
    SB_CHECK (access (top, F_OK) != 0);
}
