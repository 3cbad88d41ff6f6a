/*  mail.c — outgoing mail through libcurl's SMTP client, or into files.

    A message is built once, as RFC 5322 text with CRLF line endings, and
    then either uploaded through libcurl or written to the data directory:
    the file is exactly what the SMTP server would have received, so a
    developer can open it in a mail reader.

    The body goes as 8bit when every line fits SMTP's limit of 998 octets,
    which keeps links readable in the raw message; a body with a longer line
    goes as quoted-printable instead. Subjects that are not short plain ASCII
    become RFC 2047 encoded-words (base64 UTF-8), folded so that no header
    line passes 76 characters.

    Dot-stuffing is libcurl's job: its SMTP upload path doubles a '.' that
    starts a line (Curl_smtp_escape_eob in lib/smtp.c, curl's tests 901 and
    1520) and sends the final CRLF.CRLF itself, so the message here holds the
    text as it is. libcurl does not turn LF into CRLF unless asked
    (CURLOPT_CRLF), which is why the message is built with CRLF already.
*/
#include "sb/sb.h"
#include "sb/mail.h"
#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <strings.h>
#include <sodium.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_ADDRESS_MAX     254       //  RFC 5321: a path of 256 less the brackets
#define S_LOCAL_MAX       64        //  RFC 5321 section 4.5.3.1.1
#define S_SUBJECT_MAX     998       //  one header line at most, before encoding
#define S_TEXT_MAX        (1024 * 1024)
#define S_LINE_MAX        998       //  RFC 5322 section 2.1.1, without the CRLF
#define S_QP_LINE_MAX     76        //  RFC 2045 section 6.7 rule 5
#define S_WORD_BYTES      39        //  subject bytes per encoded-word: see s_add_subject

//  A growing byte buffer; it is always NUL-terminated.
typedef struct {
    char *data;
    size_t size;
    size_t max;
} s_buf_t;

static void
s_buf_add (s_buf_t *self, const char *data, size_t size)
{
    if (self->size + size + 1 > self->max) {
        size_t max = self->max ? self->max : 1024;
        while (max < self->size + size + 1)
            max *= 2;
        self->data = (char *) sb_realloc (self->data, max);
        self->max = max;
    }
    memcpy (self->data + self->size, data, size);
    self->size += size;
    self->data [self->size] = 0;
}

static void
s_buf_str (s_buf_t *self, const char *s)
{
    s_buf_add (self, s, strlen (s));
}

static void s_buf_printf (s_buf_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_buf_printf (s_buf_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int len = vsnprintf (NULL, 0, format, args);
    va_end (args);
    assert (len >= 0);
    //  Grow first, then format in place: the buffer keeps its NUL.
    s_buf_add (self, "", 0);
    if (self->size + (size_t) len + 1 > self->max) {
        self->max = self->size + (size_t) len + 1;
        self->data = (char *) sb_realloc (self->data, self->max);
    }
    va_start (args, format);
    vsnprintf (self->data + self->size, (size_t) len + 1, format, args);
    va_end (args);
    self->size += (size_t) len;
}

static void
s_buf_free (s_buf_t *self)
{
    free (self->data);
    memset (self, 0, sizeof (*self));
}

int
sb_mail_check_address (const char *address, char *why, size_t why_size)
{
    if (!address || !*address) {
        sb_why (why, why_size, "the address is empty");
        return -1;
    }
    size_t len = strlen (address);
    if (len > S_ADDRESS_MAX) {
        sb_why (why, why_size, "the address is longer than %d characters", S_ADDRESS_MAX);
        return -1;
    }
    size_t ats = 0;
    for (const char *p = address; *p; p++) {
        unsigned char c = (unsigned char) *p;
        //  CR and LF are the header injection; the others would change how
        //  the To header or the SMTP command parses (a second address, a
        //  comment, a display name). Quoted local parts are not supported.
        if (c < 0x20 || c == 0x7f) {
            sb_why (why, why_size, "the address contains a control character");
            return -1;
        }
        if (c >= 0x80) {
            sb_why (why, why_size, "the address contains a non-ASCII character");
            return -1;
        }
        if (c == ' ' || strchr ("()<>[]:;,\\\"", c)) {
            sb_why (why, why_size, "the address contains '%c'", c);
            return -1;
        }
        if (c == '@')
            ats++;
    }
    if (ats != 1) {
        sb_why (why, why_size, "the address must contain exactly one '@'");
        return -1;
    }
    const char *at = strchr (address, '@');
    const char *domain = at + 1;
    size_t local_len = (size_t) (at - address);
    if (local_len == 0 || local_len > S_LOCAL_MAX) {
        sb_why (why, why_size, "the address needs 1 to %d characters before the '@'", S_LOCAL_MAX);
        return -1;
    }
    if (!*domain || *domain == '.' || domain [strlen (domain) - 1] == '.'
        || strstr (domain, "..")) {
        sb_why (why, why_size, "the address has no valid domain after the '@'");
        return -1;
    }
    return 0;
}

static int
s_check_subject (const char *subject, char *why, size_t why_size)
{
    if (!subject) {
        sb_why (why, why_size, "the subject is missing");
        return -1;
    }
    if (strlen (subject) > S_SUBJECT_MAX) {
        sb_why (why, why_size, "the subject is longer than %d bytes", S_SUBJECT_MAX);
        return -1;
    }
    for (const char *p = subject; *p; p++) {
        unsigned char c = (unsigned char) *p;
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            sb_why (why, why_size, "the subject contains a line break or control character");
            return -1;
        }
    }
    if (!sb_utf8_valid (subject, strlen (subject))) {
        sb_why (why, why_size, "the subject is not valid UTF-8");
        return -1;
    }
    return 0;
}

//  Date header value, RFC 5322 section 3.3, in UTC. Names are spelled out
//  here because strftime's %a and %b follow the locale.
static void
s_add_date (s_buf_t *buf, int64_t now_ms)
{
    static const char *days [] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *months [] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t seconds = (time_t) (now_ms / 1000);
    struct tm tm;
    gmtime_r (&seconds, &tm);
    s_buf_printf (buf, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days [tm.tm_wday],
                  tm.tm_mday, months [tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
}

//  Subject header. Short printable ASCII goes as it is; anything else as
//  encoded-words of at most S_WORD_BYTES bytes each, cut between UTF-8
//  characters (RFC 2047 section 5: a word holds whole characters). 39 bytes
//  make 52 base64 characters, a 64-character word, and a first line of 73
//  with "Subject: ": under the limit of 76 for lines with encoded-words.
static void
s_add_subject (s_buf_t *buf, const char *subject)
{
    size_t len = strlen (subject);
    bool plain = strlen ("Subject: ") + len <= 78 && !strstr (subject, "=?");
    for (const char *p = subject; plain && *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            plain = false;
    if (plain) {
        s_buf_printf (buf, "Subject: %s\r\n", subject);
        return;
    }
    s_buf_str (buf, "Subject:");
    size_t start = 0;
    while (start < len) {
        size_t end = start + S_WORD_BYTES < len ? start + S_WORD_BYTES : len;
        while (end < len && end > start && ((unsigned char) subject [end] & 0xc0) == 0x80)
            end--;              //  back off to the start of a character
        char b64 [sodium_base64_ENCODED_LEN (S_WORD_BYTES, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64 (b64, sizeof (b64), (const unsigned char *) subject + start, end - start,
                           sodium_base64_VARIANT_ORIGINAL);
        s_buf_printf (buf, "%s=?UTF-8?B?%s?=", start ? "\r\n " : " ", b64);
        start = end;
    }
    s_buf_str (buf, "\r\n");
}

//  Calls line (arg, start, length) for each line of text, whatever its line
//  ending (CRLF, LF or a lone CR). A final line without an ending counts;
//  nothing after a final line ending does.
static void
s_each_line (const char *text, void (*line) (void *arg, const char *start, size_t len), void *arg)
{
    const char *p = text;
    while (*p) {
        size_t len = strcspn (p, "\r\n");
        line (arg, p, len);
        p += len;
        if (p [0] == '\r' && p [1] == '\n')
            p += 2;
        else
        if (*p)
            p++;
    }
}

static void
s_line_longest (void *arg, const char *start, size_t len)
{
    (void) start;
    size_t *longest = (size_t *) arg;
    if (len > *longest)
        *longest = len;
}

static void
s_line_8bit (void *arg, const char *start, size_t len)
{
    s_buf_t *buf = (s_buf_t *) arg;
    s_buf_add (buf, start, len);
    s_buf_str (buf, "\r\n");
}

//  One line as quoted-printable (RFC 2045 section 6.7): '=' and bytes
//  outside printable ASCII as =XX, a space or tab at the end of the line
//  too (transports strip trailing white space), soft line breaks ("=" at the
//  end of a line) to stay within 76 characters.
static void
s_line_qp (void *arg, const char *start, size_t len)
{
    static const char hex [] = "0123456789ABCDEF";
    s_buf_t *buf = (s_buf_t *) arg;
    size_t column = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) start [i];
        char token [3];
        size_t token_len = 1;
        bool last = i + 1 == len;
        if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last))
            token [0] = (char) c;
        else {
            token [0] = '=';
            token [1] = hex [c >> 4];
            token [2] = hex [c & 15];
            token_len = 3;
        }
        //  Room for the token plus the '=' of a soft break, unless this is
        //  the last token of the line, which needs no break after it.
        if (column + token_len + (last ? 0 : 1) > S_QP_LINE_MAX) {
            s_buf_str (buf, "=\r\n");
            column = 0;
        }
        s_buf_add (buf, token, token_len);
        column += token_len;
    }
    s_buf_str (buf, "\r\n");
}

//  Builds the whole message into buf. Arguments are already checked.
static void
s_message_build (s_buf_t *buf, const char *from, const char *to, const char *subject,
                 const char *text, int64_t now_ms)
{
    char id [33];
    sb_random_hex (id, 16);
    size_t longest = 0;
    s_each_line (text, s_line_longest, &longest);
    bool qp = longest > S_LINE_MAX;

    s_add_date (buf, now_ms);
    s_buf_printf (buf, "From: %s\r\n", from);
    s_buf_printf (buf, "To: %s\r\n", to);
    s_add_subject (buf, subject);
    s_buf_printf (buf, "Message-ID: <%s@%s>\r\n", id, strchr (from, '@') + 1);
    s_buf_str (buf, "MIME-Version: 1.0\r\n");
    s_buf_str (buf, "Content-Type: text/plain; charset=utf-8\r\n");
    s_buf_printf (buf, "Content-Transfer-Encoding: %s\r\n", qp ? "quoted-printable" : "8bit");
    //  RFC 3834: tells vacation responders not to answer a password reset.
    s_buf_str (buf, "Auto-Submitted: auto-generated\r\n");
    s_buf_str (buf, "\r\n");
    s_each_line (text, qp ? s_line_qp : s_line_8bit, buf);
}

int
sb_mail_check (const sb_config_t *config, const char *to, const char *subject, const char *text,
               char *why, size_t why_size)
{
    char reason [128];
    if (!config || !config->smtp_from
        || sb_mail_check_address (config->smtp_from, reason, sizeof (reason))) {
        sb_why (why, why_size, "invalid sender address (SWITCHBOARD_SMTP_FROM): %s",
                config && config->smtp_from ? reason : "unset");
        return -1;
    }
    if (sb_mail_check_address (to, reason, sizeof (reason))) {
        sb_why (why, why_size, "invalid recipient address: %s", reason);
        return -1;
    }
    if (s_check_subject (subject, why, why_size))
        return -1;
    if (!text) {
        sb_why (why, why_size, "the text is missing");
        return -1;
    }
    if (strlen (text) > S_TEXT_MAX) {
        sb_why (why, why_size, "the text is longer than %d bytes", S_TEXT_MAX);
        return -1;
    }
    if (!sb_utf8_valid (text, strlen (text))) {
        sb_why (why, why_size, "the text is not valid UTF-8");
        return -1;
    }
    if (!config->smtp_url && !config->data_dir) {
        sb_why (why, why_size, "neither an SMTP server nor a data directory is configured");
        return -1;
    }
    return 0;
}

// ---- delivery into a file ----------------------------------------------

static int
s_mkdir (const char *path, char *why, size_t why_size)
{
    if (mkdir (path, 0700) == 0 || errno == EEXIST)
        return 0;
    sb_why (why, why_size, "cannot create mail directory '%s': %s", path, strerror (errno));
    return -1;
}

static int
s_write_all (int fd, const char *data, size_t size)
{
    while (size) {
        ssize_t n = write (fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        size -= (size_t) n;
    }
    return 0;
}

//  Writes the message as <dir>/<ms>-<random>.eml through a hidden temporary
//  file in the same directory (rename is atomic only within a file system).
//  The final path goes into path when it is not NULL.
static int
s_send_file (const char *data_dir, const s_buf_t *message, char *path, size_t path_size,
             char *why, size_t why_size)
{
    char dir [PATH_MAX], temp [PATH_MAX], final [PATH_MAX], random [17];
    if (snprintf (dir, sizeof (dir), "%s/mail", data_dir) >= (int) sizeof (dir)) {
        sb_why (why, why_size, "the data directory path is too long");
        return -1;
    }
    if (s_mkdir (data_dir, why, why_size) || s_mkdir (dir, why, why_size))
        return -1;
    sb_random_hex (random, 8);
    long long now = (long long) sb_now_ms ();
    if (snprintf (temp, sizeof (temp), "%s/.%lld-%s.tmp", dir, now, random) >= (int) sizeof (temp)
        || snprintf (final, sizeof (final), "%s/%lld-%s.eml", dir, now, random)
               >= (int) sizeof (final)) {
        sb_why (why, why_size, "the data directory path is too long");
        return -1;
    }
    int fd = open (temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        sb_why (why, why_size, "cannot create '%s': %s", temp, strerror (errno));
        return -1;
    }
    //  fsync before rename: after a crash, a name never points at nothing.
    int rc = s_write_all (fd, message->data, message->size);
    if (rc == 0)
        rc = fsync (fd);
    int saved = errno;
    if (close (fd) && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename (temp, final)) {
        rc = -1;
        saved = errno;
    }
    if (rc) {
        unlink (temp);
        sb_why (why, why_size, "cannot write '%s': %s", final, strerror (saved));
        return -1;
    }
    if (path)
        snprintf (path, path_size, "%s", final);
    return 0;
}

// ---- delivery through SMTP ---------------------------------------------

typedef struct {
    const char *data;
    size_t size;
    size_t offset;
} s_reader_t;

static size_t
s_read (char *buffer, size_t size, size_t nitems, void *arg)
{
    s_reader_t *reader = (s_reader_t *) arg;
    size_t room = size * nitems;
    size_t left = reader->size - reader->offset;
    size_t n = left < room ? left : room;
    memcpy (buffer, reader->data + reader->offset, n);
    reader->offset += n;
    return n;
}

//  "smtp://host:port" for messages: the URL without user and password.
static void
s_server_name (const char *url, char *name, size_t name_size)
{
    snprintf (name, name_size, "the SMTP server");
    CURLU *parsed = curl_url ();
    char *scheme = NULL, *host = NULL, *port = NULL;
    if (curl_url_set (parsed, CURLUPART_URL, url, 0) == CURLUE_OK
        && curl_url_get (parsed, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK
        && curl_url_get (parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        if (curl_url_get (parsed, CURLUPART_PORT, &port, 0) == CURLUE_OK)
            snprintf (name, name_size, "%s://%s:%s", scheme, host, port);
        else
            snprintf (name, name_size, "%s://%s", scheme, host);
    }
    curl_free (scheme);
    curl_free (host);
    curl_free (port);
    curl_url_cleanup (parsed);
}

//  Overwrites every occurrence of secret in text with '*'.
static void
s_scrub (char *text, const char *secret)
{
    if (!text || !secret || !*secret)
        return;
    size_t len = strlen (secret);
    for (char *hit = strstr (text, secret); hit; hit = strstr (hit + len, secret))
        memset (hit, '*', len);
}

//  Belt and braces: no libcurl message is known to quote the password, but
//  why travels into logs, so both its raw and its decoded form are removed.
static void
s_scrub_password (const char *url, char *why)
{
    CURLU *parsed = curl_url ();
    char *raw = NULL, *decoded = NULL;
    if (curl_url_set (parsed, CURLUPART_URL, url, 0) == CURLUE_OK) {
        curl_url_get (parsed, CURLUPART_PASSWORD, &raw, 0);
        curl_url_get (parsed, CURLUPART_PASSWORD, &decoded, CURLU_URLDECODE);
    }
    s_scrub (why, raw);
    s_scrub (why, decoded);
    curl_free (raw);
    curl_free (decoded);
    curl_url_cleanup (parsed);
}

//  True when host (as libcurl's URL parser gives it: IPv6 in brackets)
//  names this machine's loopback: 127.0.0.0/8, ::1, ::ffff:127.x.y.z,
//  "localhost" and names under ".localhost" (RFC 6761, and libcurl answers
//  them itself without asking a resolver). Any other name counts as remote,
//  even one that happens to resolve to loopback: the policy is decided on
//  the URL, before any resolver could be lied to.
static bool
s_host_loopback (const char *host)
{
    char name [256];
    size_t len = strlen (host);
    if (len >= sizeof (name))
        return false;
    if (host [0] == '[' && len > 2 && host [len - 1] == ']') {
        memcpy (name, host + 1, len - 2);
        name [len - 2] = 0;
        struct in6_addr address;
        if (inet_pton (AF_INET6, name, &address) != 1)
            return false;
        if (IN6_IS_ADDR_LOOPBACK (&address))
            return true;
        return IN6_IS_ADDR_V4MAPPED (&address) && address.s6_addr [12] == 127;
    }
    struct in_addr address;
    if (inet_pton (AF_INET, host, &address) == 1)
        return ((const unsigned char *) &address.s_addr) [0] == 127;
    for (size_t i = 0; i <= len; i++)
        name [i] = (char) tolower ((unsigned char) host [i]);
    if (len && name [len - 1] == '.')
        name [--len] = 0;           //  the absolute form of the same name
    const char *suffix = ".localhost";
    size_t suffix_len = strlen (suffix);
    return streq (name, "localhost")
           || (len > suffix_len && streq (name + len - suffix_len, suffix));
}

sb_mail_tls_t
sb_mail_tls_policy (const char *url, bool allow_plaintext)
{
    sb_mail_tls_t policy = SB_MAIL_TLS_INVALID;
    CURLU *parsed = curl_url ();
    char *scheme = NULL, *host = NULL;
    if (url && parsed && curl_url_set (parsed, CURLUPART_URL, url, 0) == CURLUE_OK
        && curl_url_get (parsed, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK
        && curl_url_get (parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK && *host) {
        if (strcasecmp (scheme, "smtps") == 0)
            policy = SB_MAIL_TLS_IMPLICIT;
        else
        if (strcasecmp (scheme, "smtp") == 0)
            policy = allow_plaintext || s_host_loopback (host) ? SB_MAIL_TLS_OPTIONAL
                                                               : SB_MAIL_TLS_REQUIRED;
    }
    curl_free (scheme);
    curl_free (host);
    curl_url_cleanup (parsed);
    return policy;
}

const char *
sb_mail_tls_describe (sb_mail_tls_t policy)
{
    switch (policy) {
        case SB_MAIL_TLS_IMPLICIT:
            return "TLS from the start (smtps)";
        case SB_MAIL_TLS_REQUIRED:
            return "STARTTLS required";
        case SB_MAIL_TLS_OPTIONAL:
            return "STARTTLS when offered, else plaintext (loopback or "
                   "SWITCHBOARD_SMTP_ALLOW_PLAINTEXT=1)";
        default:
            return "not an smtp:// or smtps:// URL";
    }
}

static int
s_send_smtp (const sb_config_t *config, const char *to, const s_buf_t *message, char *why,
             size_t why_size)
{
    sb_mail_tls_t policy = sb_mail_tls_policy (config->smtp_url, config->smtp_allow_plaintext);
    if (policy == SB_MAIL_TLS_INVALID) {
        sb_why (why, why_size, "SWITCHBOARD_SMTP_URL is not an smtp:// or smtps:// URL with a host");
        return -1;
    }
    char server [300];
    s_server_name (config->smtp_url, server, sizeof (server));
    const char *not_ready = sb_curl_ready ();
    if (not_ready) {
        sb_why (why, why_size, "cannot initialise libcurl: %s", not_ready);
        return -1;
    }
    CURL *curl = curl_easy_init ();
    if (!curl) {
        sb_why (why, why_size, "cannot initialise libcurl");
        return -1;
    }
    char from_path [S_ADDRESS_MAX + 3], to_path [S_ADDRESS_MAX + 3];
    snprintf (from_path, sizeof (from_path), "<%s>", config->smtp_from);
    snprintf (to_path, sizeof (to_path), "<%s>", to);
    struct curl_slist *rcpt = curl_slist_append (NULL, to_path);
    s_reader_t reader = { message->data, message->size, 0 };
    char error [CURL_ERROR_SIZE] = "";

    CURLcode rc = CURLE_OK;
    //  Each setopt can fail only on a bad option or out of memory; the
    //  first failure is kept and reported.
#define S_SETOPT(option, value)                                      \
    if (rc == CURLE_OK)                                              \
        rc = curl_easy_setopt (curl, option, value)
    S_SETOPT (CURLOPT_ERRORBUFFER, error);
    S_SETOPT (CURLOPT_URL, config->smtp_url);
    S_SETOPT (CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    S_SETOPT (CURLOPT_NOSIGNAL, 1L);             //  threads: no SIGALRM for DNS timeouts
    S_SETOPT (CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    S_SETOPT (CURLOPT_TIMEOUT_MS, 15000L);
    //  STARTTLS is not optional over a network: a man in the middle would
    //  strip the server's offer and read the mail (a reset link).
    S_SETOPT (CURLOPT_USE_SSL, (long) (policy == SB_MAIL_TLS_OPTIONAL ? CURLUSESSL_TRY
                                                                       : CURLUSESSL_ALL));
    S_SETOPT (CURLOPT_MAIL_FROM, from_path);
    S_SETOPT (CURLOPT_MAIL_RCPT, rcpt);
    S_SETOPT (CURLOPT_UPLOAD, 1L);
    S_SETOPT (CURLOPT_READFUNCTION, s_read);
    S_SETOPT (CURLOPT_READDATA, &reader);
    S_SETOPT (CURLOPT_INFILESIZE_LARGE, (curl_off_t) message->size);
#undef S_SETOPT
    if (rc == CURLE_OK)
        rc = curl_easy_perform (curl);
    curl_slist_free_all (rcpt);
    curl_easy_cleanup (curl);
    if (rc == CURLE_USE_SSL_FAILED) {
        sb_why (why, why_size,
                "refused to send mail through %s: it does not offer STARTTLS, and mail to a "
                "host that is not loopback goes only over TLS (SWITCHBOARD_SMTP_ALLOW_PLAINTEXT=1 "
                "allows plaintext)", server);
        return -1;
    }
    if (rc != CURLE_OK) {
        sb_why (why, why_size, "cannot send mail through %s: %s", server,
                *error ? error : curl_easy_strerror (rc));
        s_scrub_password (config->smtp_url, why);
        return -1;
    }
    sb_info ("mail sent through %s", server);
    return 0;
}

int
sb_mail_send (const sb_config_t *config, const char *to, const char *subject, const char *text,
              char *why, size_t why_size)
{
    if (sb_mail_check (config, to, subject, text, why, why_size))
        return -1;
    s_buf_t message = { 0 };
    s_message_build (&message, config->smtp_from, to, subject, text, sb_now_ms ());
    int rc;
    if (config->smtp_url)
        rc = s_send_smtp (config, to, &message, why, why_size);
    else {
        char path [PATH_MAX];
        rc = s_send_file (config->data_dir, &message, path, sizeof (path), why, why_size);
        if (rc == 0)
            sb_info ("mail written to %s", path);
    }
    s_buf_free (&message);
    return rc;
}

// ---- selftest ------------------------------------------------------------

//  Decodes the Subject header of a built message back to UTF-8: unfolds the
//  encoded-words (or takes the plain value) into out.
static bool
s_test_subject (const char *message, char *out, size_t out_size)
{
    const char *p = strstr (message, "\r\nSubject:");
    if (!p)
        return false;
    p += strlen ("\r\nSubject:");
    size_t used = 0;
    out [0] = 0;
    while (*p == ' ') {
        p++;
        if (strncmp (p, "=?UTF-8?B?", 10)) {
            size_t len = strcspn (p, "\r");
            snprintf (out, out_size, "%.*s", (int) len, p);
            return true;
        }
        p += 10;
        const char *end = strstr (p, "?=");
        if (!end)
            return false;
        size_t bin_len = 0;
        if (sodium_base642bin ((unsigned char *) out + used, out_size - used - 1, p,
                               (size_t) (end - p), NULL, &bin_len, NULL,
                               sodium_base64_VARIANT_ORIGINAL))
            return false;
        used += bin_len;
        out [used] = 0;
        p = end + 2;
        if (strncmp (p, "\r\n ", 3) == 0)
            p += 2;             //  a folded continuation: the space is next
    }
    return strncmp (p, "\r\n", 2) == 0;
}

//  True when every LF is preceded by CR and every CR followed by LF, and no
//  line (without its CRLF) is longer than max.
static bool
s_test_crlf (const char *message, size_t max)
{
    size_t column = 0;
    for (const char *p = message; *p; p++) {
        if (*p == '\r' && p [1] != '\n')
            return false;
        if (*p == '\n' && (p == message || p [-1] != '\r'))
            return false;
        if (*p == '\r' || *p == '\n')
            column = 0;
        else
        if (++column > max)
            return false;
    }
    return true;
}

//  Decodes a quoted-printable body back, turning CRLF into LF.
static char *
s_test_qp_decode (const char *body)
{
    char *out = (char *) sb_malloc (strlen (body) + 1);
    char *q = out;
    for (const char *p = body; *p;) {
        if (p [0] == '=' && p [1] == '\r' && p [2] == '\n')
            p += 3;
        else
        if (p [0] == '=' && isxdigit ((unsigned char) p [1]) && isxdigit ((unsigned char) p [2])) {
            char hex [3] = { p [1], p [2], 0 };
            *q++ = (char) strtol (hex, NULL, 16);
            p += 3;
        }
        else
        if (p [0] == '\r' && p [1] == '\n') {
            *q++ = '\n';
            p += 2;
        }
        else
            *q++ = *p++;
    }
    *q = 0;
    return out;
}

//  The names of the regular files in dir, in one string separated by '\n'
//  (caller frees), and their number in *count.
static char *
s_test_list (const char *dir, int *count)
{
    s_buf_t names = { 0 };
    s_buf_str (&names, "");
    *count = 0;
    DIR *handle = opendir (dir);
    if (!handle)
        return names.data;
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        if (streq (entry->d_name, ".") || streq (entry->d_name, ".."))
            continue;
        s_buf_printf (&names, "%s\n", entry->d_name);
        (*count)++;
    }
    closedir (handle);
    return names.data;
}

void
sb_mail_test (bool verbose)
{
    char why [256];

    //  Addresses
    SB_CHECK (sb_mail_check_address ("user@example.com", why, sizeof (why)) == 0);
    SB_CHECK (sb_mail_check_address ("first.last+tag@sub.example.co.uk", why, sizeof (why)) == 0);
    char longest [S_ADDRESS_MAX + 2];
    memset (longest, 'a', sizeof (longest));
    memcpy (longest, "user@", 5);
    longest [S_ADDRESS_MAX] = 0;
    SB_CHECK (sb_mail_check_address (longest, why, sizeof (why)) == 0);
    longest [S_ADDRESS_MAX] = 'a';
    longest [S_ADDRESS_MAX + 1] = 0;
    SB_CHECK (sb_mail_check_address (longest, why, sizeof (why)) == -1);
    const char *bad_addresses [] = {
        "a@b.c\r\nBcc: x@y.z", "a@b.c\nBcc: x@y.z", "a@b.c\r", "", "ab.c", "a@@b.c",
        "a@b@c.d", "<a@b.c>", "a@b.c>", "a@b.c,d@e.f", "a@b.c;d@e.f", "a b@c.d", "a@b.c ",
        "\ta@b.c", "@b.c", "a@", "a@.b", "a@b.", "a@b..c", "\"a\"@b.c", "a(x)@b.c",
        "j\xc3\xbcrgen@b.c", "a@b.c\x7f", NULL };
    for (int i = 0; bad_addresses [i]; i++) {
        int rc = sb_mail_check_address (bad_addresses [i], why, sizeof (why));
        SB_CHECK (rc == -1);
        if (verbose)
            printf ("  address %d -> %s\n", i, why);
    }
    SB_CHECK (sb_mail_check_address (NULL, why, sizeof (why)) == -1);

    //  UTF-8

    //  A message: headers, CRLF everywhere, the date, 8bit body
    s_buf_t message = { 0 };
    s_message_build (&message, "no-reply@example.com", "user@example.org", "Reset your password",
                     "Hello,\n.a line with a dot\n\nBye\n", 1700000000123LL);
    const char *m = message.data;
    SB_CHECK (strncmp (m, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n", 39) == 0);
    SB_CHECK (strstr (m, "\r\nFrom: no-reply@example.com\r\n"));
    SB_CHECK (strstr (m, "\r\nTo: user@example.org\r\n"));
    SB_CHECK (strstr (m, "\r\nSubject: Reset your password\r\n"));
    SB_CHECK (strstr (m, "\r\nMessage-ID: <"));
    SB_CHECK (strstr (m, "@example.com>\r\n"));
    SB_CHECK (strstr (m, "\r\nMIME-Version: 1.0\r\n"));
    SB_CHECK (strstr (m, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
    SB_CHECK (strstr (m, "\r\nContent-Transfer-Encoding: 8bit\r\n"));
    SB_CHECK (s_test_crlf (m, S_LINE_MAX));
    const char *body = strstr (m, "\r\n\r\n");
    SB_CHECK (body && streq (body + 4, "Hello,\r\n.a line with a dot\r\n\r\nBye\r\n"));
    if (verbose)
        printf ("%s", m);
    s_buf_free (&message);

    //  Line endings of every kind become CRLF; a last line without one gets it.
    s_message_build (&message, "a@b.c", "d@e.f", "x", "one\r\ntwo\rthree\nfour", 0);
    body = strstr (message.data, "\r\n\r\n");
    SB_CHECK (body && streq (body + 4, "one\r\ntwo\r\nthree\r\nfour\r\n"));
    SB_CHECK (strncmp (message.data, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n", 39) == 0);
    s_buf_free (&message);

    //  A non-ASCII subject becomes encoded-words that decode back to it,
    //  folded within 76 columns even when it is long.
    const char *subjects [] = {
        "R\xc3\xa9initialisation du mot de passe",
        "\xe2\x9c\x93 \xe2\x9c\x93 \xe2\x9c\x93 \xe2\x9c\x93 \xe2\x9c\x93 \xe2\x9c\x93 \xe2\x9c\x93 "
        "\xe2\x9c\x93 \xe2\x9c\x93 \xe2\x9c\x93 \xe2\x9c\x93 \xe2\x9c\x93 \xe2\x9c\x93 \xe2\x9c\x93 "
        "\xf0\x9f\x93\xa7 \xf0\x9f\x93\xa7 \xf0\x9f\x93\xa7 \xf0\x9f\x93\xa7 \xf0\x9f\x93\xa7",
        "A plain ASCII subject that is far too long to fit on one header line of 78 columns",
        "Looks like =?UTF-8?B?eA==?= an encoded word",
        "tab\tinside",
        NULL };
    for (int i = 0; subjects [i]; i++) {
        s_message_build (&message, "a@b.c", "d@e.f", subjects [i], "", 0);
        char decoded [1024];
        SB_CHECK (strstr (message.data, "\r\nSubject: =?UTF-8?B?"));
        SB_CHECK (s_test_subject (message.data, decoded, sizeof (decoded)));
        SB_CHECK (streq (decoded, subjects [i]));
        char headers [2048];
        snprintf (headers, sizeof (headers), "%.*s",
                  (int) (strstr (message.data, "\r\nMessage-ID") - message.data), message.data);
        SB_CHECK (s_test_crlf (headers, 76));
        if (verbose)
            printf ("%s\n", headers);
        s_buf_free (&message);
    }

    //  A line over 998 octets switches the body to quoted-printable, which
    //  decodes back to the text exactly.
    char *text = (char *) sb_malloc (4000);
    strcpy (text, "caf\xc3\xa9 = ok \n.dot\n");
    size_t len = strlen (text);
    for (int i = 0; i < 2500; i++)
        text [len++] = (char) ('a' + i % 26);
    strcpy (text + len, " \ntrailing tab\t\nend");
    s_message_build (&message, "a@b.c", "d@e.f", "qp", text, 0);
    SB_CHECK (strstr (message.data, "\r\nContent-Transfer-Encoding: quoted-printable\r\n"));
    SB_CHECK (s_test_crlf (message.data, S_QP_LINE_MAX));
    body = strstr (message.data, "\r\n\r\n");
    char *decoded = body ? s_test_qp_decode (body + 4) : NULL;
    strcat (text, "\n");
    SB_CHECK (decoded && streq (decoded, text));
    SB_CHECK (body && strstr (body, "caf=C3=A9 =3D ok=20\r\n"));
    SB_CHECK (body && strstr (body, "tab=09\r\n"));
    free (decoded);
    free (text);
    s_buf_free (&message);

    //  Refusals, through sb_mail_send, into a data directory of our own:
    //  nothing may be written for any of them.
    char data_dir [] = "/tmp/sb-mail-test.XXXXXX";
    SB_CHECK (mkdtemp (data_dir) != NULL);
    char from [] = "no-reply@example.com", bad_from [] = "no-reply@example.com\r\nBcc: x@y.z";
    sb_config_t config;
    memset (&config, 0, sizeof (config));
    config.smtp_from = from;
    config.data_dir = data_dir;
    struct {
        const char *to, *subject, *text;
    } refused [] = {
        { "a@b.c\r\nBcc: x@y.z", "Hi", "text" },
        { "a@b.c", "Hi\r\nBcc: x@y.z", "text" },
        { "a@b.c", "Hi\nBcc: x@y.z", "text" },
        { "a@b.c", "Hi\rthere", "text" },
        { "a@b.c, x@y.z", "Hi", "text" },
        { "a@b.c", "bad \xff utf-8", "text" },
        { "a@b.c", "Hi", "bad \xc3 utf-8" },
        { NULL, "Hi", "text" },
        { "a@b.c", NULL, "text" },
        { "a@b.c", "Hi", NULL } };
    for (size_t i = 0; i < sizeof (refused) / sizeof (refused [0]); i++) {
        strcpy (why, "");
        int rc = sb_mail_send (&config, refused [i].to, refused [i].subject, refused [i].text, why,
                               sizeof (why));
        SB_CHECK (rc == -1);
        SB_CHECK (*why);
        if (verbose)
            printf ("  refused %zu -> %s\n", i, why);
    }
    config.smtp_from = bad_from;
    SB_CHECK (sb_mail_send (&config, "a@b.c", "Hi", "text", why, sizeof (why)) == -1);
    SB_CHECK (strstr (why, "SWITCHBOARD_SMTP_FROM"));
    config.smtp_from = from;
    int count;
    char *names = s_test_list (data_dir, &count);
    SB_CHECK (count == 0);
    free (names);

    //  The file fallback: one .eml in <data_dir>/mail, mode 0700, holding
    //  the message, and no temporary file left behind.
    SB_CHECK (sb_mail_send (&config, "user@example.org", "Welcome", "Hello\n.\nBye", why,
                            sizeof (why)) == 0);
    char mail_dir [PATH_MAX];
    snprintf (mail_dir, sizeof (mail_dir), "%s/mail", data_dir);
    struct stat st;
    SB_CHECK (stat (mail_dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    names = s_test_list (mail_dir, &count);
    SB_CHECK (count == 1);
    size_t name_len = strcspn (names, "\n");
    SB_CHECK (name_len > 4 && strncmp (names + name_len - 4, ".eml", 4) == 0);
    SB_CHECK (isdigit ((unsigned char) names [0]));
    char file [PATH_MAX];
    SB_CHECK (snprintf (file, sizeof (file), "%s/%.*s", mail_dir, (int) name_len, names)
              < (int) sizeof (file));
    FILE *handle = fopen (file, "rb");
    SB_CHECK (handle);
    char content [4096] = "";
    if (handle) {
        size_t got = fread (content, 1, sizeof (content) - 1, handle);
        content [got] = 0;
        fclose (handle);
    }
    SB_CHECK (strstr (content, "\r\nTo: user@example.org\r\n"));
    SB_CHECK (strstr (content, "\r\nSubject: Welcome\r\n"));
    body = strstr (content, "\r\n\r\n");
    SB_CHECK (body && streq (body + 4, "Hello\r\n.\r\nBye\r\n"));
    SB_CHECK (unlink (file) == 0);
    free (names);
    SB_CHECK (rmdir (mail_dir) == 0);
    SB_CHECK (rmdir (data_dir) == 0);

    //  SMTP: a refused connection fails fast, and the reason names the
    //  server without the password. Port 1 on loopback is closed on any
    //  sane machine (tcpmux is long dead).
    char smtp_url [] = "smtp://mailer:s3cr%65t-pw@127.0.0.1:1";
    config.smtp_url = smtp_url;
    int64_t started = sb_mono_ms ();
    SB_CHECK (sb_mail_send (&config, "user@example.org", "Hi", "text", why, sizeof (why)) == -1);
    SB_CHECK (sb_mono_ms () - started < 6000);
    SB_CHECK (strstr (why, "smtp://127.0.0.1:1"));
    SB_CHECK (!strstr (why, "s3cr"));
    SB_CHECK (!strstr (why, "secret"));
    if (verbose)
        printf ("  smtp -> %s\n", why);
    //  The STARTTLS policy: required on smtp:// unless the host, as written,
    //  is loopback or plaintext is allowed; smtps:// is TLS throughout.
    struct {
        const char *url;
        bool allow;
        sb_mail_tls_t want;
    } policies [] = {
        { "smtp://mail.example.com", false, SB_MAIL_TLS_REQUIRED },
        { "smtp://mail.example.com:587", false, SB_MAIL_TLS_REQUIRED },
        { "smtp://user:pw@mail.example.com:25", false, SB_MAIL_TLS_REQUIRED },
        { "SMTP://Mail.Example.COM", false, SB_MAIL_TLS_REQUIRED },
        { "smtp://mail.example.com", true, SB_MAIL_TLS_OPTIONAL },
        { "smtp://127.0.0.1:2525", false, SB_MAIL_TLS_OPTIONAL },
        { "smtp://127.1.2.3", false, SB_MAIL_TLS_OPTIONAL },
        { "smtp://[::1]:25", false, SB_MAIL_TLS_OPTIONAL },
        { "smtp://[::ffff:127.0.0.1]:25", false, SB_MAIL_TLS_OPTIONAL },
        { "smtp://localhost:25", false, SB_MAIL_TLS_OPTIONAL },
        { "smtp://LocalHost.:25", false, SB_MAIL_TLS_OPTIONAL },
        { "smtp://mail.localhost", false, SB_MAIL_TLS_OPTIONAL },
        { "smtp://128.0.0.1", false, SB_MAIL_TLS_REQUIRED },
        { "smtp://10.0.0.5", false, SB_MAIL_TLS_REQUIRED },
        { "smtp://[::2]", false, SB_MAIL_TLS_REQUIRED },
        { "smtp://[::ffff:10.0.0.1]", false, SB_MAIL_TLS_REQUIRED },
        { "smtp://localhost.example.com", false, SB_MAIL_TLS_REQUIRED },
        { "smtp://notlocalhost", false, SB_MAIL_TLS_REQUIRED },
        { "smtp://127.0.0.1.example.com", false, SB_MAIL_TLS_REQUIRED },
        { "smtp://vm", false, SB_MAIL_TLS_REQUIRED },       //  /etc/hosts may say 127.0.0.1
        { "smtps://mail.example.com:465", false, SB_MAIL_TLS_IMPLICIT },
        { "smtps://127.0.0.1", true, SB_MAIL_TLS_IMPLICIT },
        { "http://mail.example.com", true, SB_MAIL_TLS_INVALID },
        { "mail.example.com", false, SB_MAIL_TLS_INVALID },
        { "smtp://", true, SB_MAIL_TLS_INVALID },
        { "", true, SB_MAIL_TLS_INVALID },
        { NULL, true, SB_MAIL_TLS_INVALID } };
    for (size_t i = 0; i < sizeof (policies) / sizeof (policies [0]); i++) {
        sb_mail_tls_t got = sb_mail_tls_policy (policies [i].url, policies [i].allow);
        SB_CHECK (got == policies [i].want);
        if (verbose || got != policies [i].want)
            printf ("  %s%s -> %s\n", policies [i].url ? policies [i].url : "(null)",
                    policies [i].allow ? " (plaintext allowed)" : "", sb_mail_tls_describe (got));
    }

    //  And the scrubber itself, with a reason that does quote it.
    char quoted [] = "login s3cret-pw and s3cr%65t-pw failed";
    s_scrub_password (smtp_url, quoted);
    SB_CHECK (streq (quoted, "login ********* and *********** failed"));
}
