/*  mpk.h — msgpack helpers: strict validation of untrusted bytes and
    convenient access to maps.

    sb_mpk_validate walks raw bytes before msgpack-c unpacks them, so that a
    frame that lies about its lengths (an array claiming four billion
    elements in ten bytes) or nests too deeply is refused without any
    allocation. The getters read maps whose keys are strings.
*/
#ifndef SB_MPK_H_INCLUDED
#define SB_MPK_H_INCLUDED

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_MPK_MAX_DEPTH 32

//  Checks that data holds exactly one well-formed msgpack object (no
//  trailing bytes), nested at most max_depth deep, whose declared lengths
//  fit in the bytes present, and whose map keys are all strings. Returns 0
//  when valid; otherwise -1 with a short reason in why.
int sb_mpk_validate (const void *data, size_t size, int max_depth, char *why, size_t why_size);

//  Looks up key in a map object; NULL when obj is not a map or has no such
//  key. The result is borrowed from obj.
const msgpack_object *sb_mpk_get (const msgpack_object *obj, const char *key);

//  True when obj is a string equal to s.
bool sb_mpk_str_eq (const msgpack_object *obj, const char *s);

//  Copies a string object into buf (NUL-terminated). Returns 0, or -1 when
//  obj is missing, not a string, contains NUL, or does not fit.
int sb_mpk_copy_str (const msgpack_object *obj, char *buf, size_t size);

//  Returns a newly allocated copy of a string object (caller frees), or NULL
//  when obj is missing or not a string or contains NUL.
char *sb_mpk_strdup (const msgpack_object *obj);

//  Reads an integer object into *value. Returns 0, or -1 when obj is missing
//  or not an integer that fits in int64_t.
int sb_mpk_int (const msgpack_object *obj, int64_t *value);

//  Packs a NUL-terminated string (or nil when s is NULL).
void sb_mpk_pack_str (msgpack_packer *pk, const char *s);
//  Packs a string of len bytes.
void sb_mpk_pack_strn (msgpack_packer *pk, const char *s, size_t len);
//  Packs key then string value: the common case of building a map.
void sb_mpk_pack_kv_str (msgpack_packer *pk, const char *key, const char *value);
void sb_mpk_pack_kv_int (msgpack_packer *pk, const char *key, int64_t value);

void sb_mpk_test (bool verbose);

#endif
