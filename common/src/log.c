/*  log.c — JSON-lines logging on stderr.

    One line per call, written with a single write (2) so that lines from
    several threads never interleave. The request id is thread-local: the
    code that starts work on a request sets it, and every line logged until
    it is cleared carries it, without being passed around.
*/
#include "sb/sb.h"
#include <time.h>
#include <unistd.h>

static char s_component [32] = "switchboard";
static sb_log_level_t s_threshold = SB_LOG_INFO;
static _Thread_local char s_request_id [SB_ID_MAX + 1];

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

void
sb_log_set_request_id (const char *request_id)
{
    snprintf (s_request_id, sizeof (s_request_id), "%s", request_id ? request_id : "");
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

    //  Large enough for the longest escaped message plus every other field,
    //  so a line is never cut.
    char line [4096 + 512];
    int len;
    if (*s_request_id)
        len = snprintf (line, sizeof (line),
                        "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"component\":\"%s\","
                        "\"pid\":%d,\"request_id\":\"%s\",\"msg\":\"%s\"}\n",
                        when, ts.tv_nsec / 1000000, s_level_names [level], s_component,
                        (int) getpid (), s_request_id, escaped);
    else
        len = snprintf (line, sizeof (line),
                        "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"component\":\"%s\","
                        "\"pid\":%d,\"msg\":\"%s\"}\n",
                        when, ts.tv_nsec / 1000000, s_level_names [level], s_component,
                        (int) getpid (), escaped);
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
}
