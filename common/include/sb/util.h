/*  util.h — small helpers with no better home: allocation that never returns
    NULL, monotonic and wall clocks in milliseconds, random identifiers.
*/
#ifndef SB_UTIL_H_INCLUDED
#define SB_UTIL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

//  Allocation: out of memory aborts the process, so callers never check.
void *sb_malloc (size_t size);
void *sb_calloc (size_t count, size_t size);
void *sb_realloc (void *ptr, size_t size);
char *sb_strdup (const char *s);
char *sb_strndup (const char *s, size_t n);

//  Milliseconds since the Unix epoch (wall clock) and since an arbitrary
//  point (monotonic clock, for timers and deadlines within one process).
int64_t sb_now_ms (void);
int64_t sb_mono_ms (void);

//  Writes a random identifier of 32 lower-case hex characters plus NUL into
//  buf (at least 33 bytes).
void sb_random_hex (char *buf, size_t bytes_of_randomness);

//  Writes a random RFC 4122 version-4 UUID (36 characters plus NUL) into buf.
void sb_uuid_v4 (char buf [37]);

//  True when s is a canonical lower- or upper-case UUID string.
bool sb_is_uuid (const char *s);

//  Initialises libcurl once per process, from any thread (curl_global_init
//  is not thread-safe in every libcurl): NULL when ready, else why not.
const char *sb_curl_ready (void);

//  Writes a formatted reason into why (when why is not NULL and why_size is
//  not 0): the shared helper of every function that explains a refusal.
void sb_why (char *why, size_t why_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Walks a comma-separated list (settings): returns the next item of *p
//  with spaces around it trimmed, its length in *len (0 for an empty
//  item), and moves *p past the item and its comma; NULL at the end.
const char *sb_list_next (const char **p, size_t *len);

//  UTF-8 (RFC 3629), the one validator everything uses. sb_utf8_char
//  decodes the sequence at p (left > 0 bytes): true with *used set to its
//  length when it is a scalar value in shortest form; otherwise false with
//  *used set to the length of the maximal invalid subpart (at least 1),
//  which is what one U+FFFD replaces. Overlong forms, surrogates, code
//  points above U+10FFFF and cut sequences are invalid.
bool sb_utf8_char (const uint8_t *p, size_t left, size_t *used);
//  True when the len bytes at s are well-formed UTF-8 (NUL included).
bool sb_utf8_valid (const char *s, size_t len);
//  The code points of the len bytes at s, or -1 when they are not
//  well-formed UTF-8 or hold a control character (C0, DEL; with multiline
//  true, tab, LF and CR are allowed).
long sb_utf8_chars (const char *s, size_t len, bool multiline);

//  A deterministic pseudo-random sequence (xorshift64*) for selftests that
//  shake decoders with mutated input; *state must start non-zero.
uint64_t sb_test_rand (uint64_t *state);

//  Self test.
void sb_util_test (bool verbose);

#endif
