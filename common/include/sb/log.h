/*  log.h — JSON-lines logging on stderr.

    Every line is one JSON object:
    {"ts","level","component","pid","request_id"?,"org"?,"msg"}.
    The request id and its organization are per thread: the service
    skeleton and the gateway set them while they work on a request, so every
    line logged meanwhile carries them ("org" once the organization is known).
    SWITCHBOARD_LOG_LEVEL (debug, info, warn, error) sets the threshold.
*/
#ifndef SB_LOG_H_INCLUDED
#define SB_LOG_H_INCLUDED

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum { SB_LOG_DEBUG = 0, SB_LOG_INFO, SB_LOG_WARN, SB_LOG_ERROR } sb_log_level_t;

//  Names the component ("gateway", "tenant-svc", ...) for every later line.
void sb_log_init (const char *component);

//  Sets the threshold ("debug", "info", "warn", "error", or "off" for
//  selftests that provoke errors on purpose); returns -1 (and keeps the old
//  one) for an unknown name.
int sb_log_set_level (const char *name);

//  Sets (or with NULL clears) the request id of the calling thread, and
//  clears its organization. The string is copied (at most 64 characters).
void sb_log_set_request_id (const char *request_id);
const char *sb_log_request_id (void);

//  Sets the request id and the organization (either NULL or "": none) of
//  the calling thread; copied, at most 64 characters each.
void sb_log_set_request (const char *request_id, const char *org);
//  Sets (NULL: clears) only the organization, once it is known.
void sb_log_set_org (const char *org);
const char *sb_log_org (void);

void sb_log (sb_log_level_t level, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
void sb_logv (sb_log_level_t level, const char *format, va_list args)
    __attribute__ ((format (printf, 2, 0)));

#define sb_debug(...) sb_log (SB_LOG_DEBUG, __VA_ARGS__)
#define sb_info(...)  sb_log (SB_LOG_INFO, __VA_ARGS__)
#define sb_warn(...)  sb_log (SB_LOG_WARN, __VA_ARGS__)

//  Logs at error level and returns -1, for `return sb_error ("...")`.
int sb_error (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

//  Writes s as a JSON string body (without the quotes) into buf, escaping as
//  JSON requires; returns the length written (truncates to fit size-1).
size_t sb_log_escape (char *buf, size_t size, const char *s);

void sb_log_test (bool verbose);

#endif
