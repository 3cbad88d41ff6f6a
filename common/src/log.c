/*  log.c — JSON-lines logging on stderr.

    One line per call, written with a single write (2) so that lines from
    several threads never interleave. The request id and its organization
    are thread-local: the code that starts work on a request sets them, and
    every line logged until they are cleared carries them, without being
    passed around. Setting a request id clears the organization, so that a
    line never carries the organization of the request before.
*/
#include "sb/sb.h"
#include <time.h>
#include <unistd.h>

static char s_component [32] = "switchboard";
static sb_log_level_t s_threshold = SB_LOG_INFO;
static _Thread_local char s_request_id [SB_ID_MAX + 1];
static _Thread_local char s_org [SB_ID_MAX + 1];

static const char *s_level_names [] = { "debug", "info", "warn", "error" };

void
sb_log_init (const char *component)
{
    snprintf (s_component, sizeof (s_component), "%s", component);
}

int
sb_log_set_level (const char *name)
{
    if (name && streq (name, "off")) {
        s_threshold = (sb_log_level_t) (SB_LOG_ERROR + 1);
        return 0;
    }
    for (int i = 0; i < 4; i++)
        if (name && streq (name, s_level_names [i])) {
            s_threshold = (sb_log_level_t) i;
            return 0;
        }
    return -1;
}

//  Copies src (NULL: "") into dst of SB_ID_MAX + 1 bytes, cut to fit:
//  cheaper than snprintf, as this runs a few times per request.
static void
s_copy_id (char *dst, const char *src)
{
    size_t len = src ? strnlen (src, SB_ID_MAX) : 0;
    memcpy (dst, src ? src : "", len);
    dst [len] = 0;
}

void
sb_log_set_request_id (const char *request_id)
{
    sb_log_set_request (request_id, NULL);
}

void
sb_log_set_request (const char *request_id, const char *org)
{
    s_copy_id (s_request_id, request_id);
    s_copy_id (s_org, org);
}

void
sb_log_set_org (const char *org)
{
    s_copy_id (s_org, org);
}

const char *
sb_log_org (void)
{
    return s_org;
}

const char *
sb_log_request_id (void)
{
    return s_request_id;
}

size_t
sb_log_escape (char *buf, size_t size, const char *s)
{
    static const char hex [] = "0123456789abcdef";
    size_t n = 0;
    if (size == 0)
        return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        char esc [7];
        size_t len;
        if (c == '"' || c == '\\') {
            esc [0] = '\\';
            esc [1] = (char) c;
            len = 2;
        }
        else
        if (c == '\n') {
            memcpy (esc, "\\n", 2);
            len = 2;
        }
        else
        if (c < 0x20 || c == 0x7f) {
            memcpy (esc, "\\u00", 4);
            esc [4] = hex [c >> 4];
            esc [5] = hex [c & 15];
            len = 6;
        }
        else {
            esc [0] = (char) c;
            len = 1;
        }
        if (n + len >= size)
            break;
        memcpy (buf + n, esc, len);
        n += len;
    }
    buf [n] = 0;
    return n;
}

void
sb_logv (sb_log_level_t level, const char *format, va_list args)
{
    if (level < s_threshold)
        return;
    char message [2048];
    vsnprintf (message, sizeof (message), format, args);

    char escaped [4096];
    sb_log_escape (escaped, sizeof (escaped), message);

    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    char when [32];
    strftime (when, sizeof (when), "%Y-%m-%dT%H:%M:%S", &tm);

    //  The request id and organization come from the envelope or a header
    //  that was checked (printable, no quotes), yet are escaped all the same:
    //  a line must stay one JSON object whatever they hold.
    char request_id [SB_ID_MAX * 6 + 1] = "", org [SB_ID_MAX * 6 + 1] = "";
    if (*s_request_id)
        sb_log_escape (request_id, sizeof (request_id), s_request_id);
    if (*s_org)
        sb_log_escape (org, sizeof (org), s_org);

    //  Large enough for the longest escaped message plus every other field,
    //  so a line is never cut.
    char line [4096 + 1024];
    int len = snprintf (line, sizeof (line),
                        "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"component\":\"%s\","
                        "\"pid\":%d%s%s%s%s%s%s,\"msg\":\"%s\"}\n",
                        when, ts.tv_nsec / 1000000, s_level_names [level], s_component,
                        (int) getpid (), *request_id ? ",\"request_id\":\"" : "", request_id,
                        *request_id ? "\"" : "", *org ? ",\"org\":\"" : "", org,
                        *org ? "\"" : "", escaped);
    if (len < 0 || (size_t) len >= sizeof (line))
        return;
    ssize_t rc = write (STDERR_FILENO, line, (size_t) len);
    (void) rc;
}

void
sb_log (sb_log_level_t level, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    sb_logv (level, format, args);
    va_end (args);
}

int
sb_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    sb_logv (SB_LOG_ERROR, format, args);
    va_end (args);
    return -1;
}

void
sb_log_test (bool verbose)
{
    (void) verbose;
    char buf [64];
    SB_CHECK (sb_log_escape (buf, sizeof (buf), "plain") == 5);
    SB_CHECK (streq (buf, "plain"));
    sb_log_escape (buf, sizeof (buf), "a\"b\\c\nd\x01");
    SB_CHECK (streq (buf, "a\\\"b\\\\c\\nd\\u0001"));
    //  Truncation never splits an escape sequence.
    char small [5];
    sb_log_escape (small, sizeof (small), "ab\"cd");
    SB_CHECK (streq (small, "ab\\\""));
    sb_log_escape (small, sizeof (small), "abc\"d");
    SB_CHECK (streq (small, "abc"));

    SB_CHECK (sb_log_set_level ("nonsense") == -1);
    SB_CHECK (sb_log_set_level ("warn") == 0);
    SB_CHECK (sb_log_set_level ("info") == 0);

    sb_log_set_request_id ("req-1");
    SB_CHECK (streq (sb_log_request_id (), "req-1"));
    sb_log_set_request_id (NULL);
    SB_CHECK (streq (sb_log_request_id (), ""));
    sb_log_set_request ("req-2", "org-2");
    SB_CHECK (streq (sb_log_request_id (), "req-2") && streq (sb_log_org (), "org-2"));
    //  A new request id never inherits the organization of the one before.
    sb_log_set_request_id ("req-3");
    SB_CHECK (streq (sb_log_org (), ""));
    sb_log_set_org ("org-3");
    SB_CHECK (streq (sb_log_org (), "org-3"));
    sb_log_set_request (NULL, NULL);
    SB_CHECK (streq (sb_log_request_id (), "") && streq (sb_log_org (), ""));
    //  Cut at 64 characters.
    char long_id [100];
    memset (long_id, 'x', sizeof (long_id) - 1);
    long_id [sizeof (long_id) - 1] = 0;
    sb_log_set_request_id (long_id);
    SB_CHECK (strlen (sb_log_request_id ()) == SB_ID_MAX);
    sb_log_set_request_id (NULL);
}
