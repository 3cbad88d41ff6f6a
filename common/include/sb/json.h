/*  json.h — JSON ⇄ msgpack for the gateway, on jansson.

    JSON arrives from clients: it is parsed by jansson (strict RFC 8259,
    duplicate keys rejected, depth-limited) and packed as msgpack. Replies
    go the other way without an intermediate tree: a msgpack object is
    written straight out as JSON text.
*/
#ifndef SB_JSON_H_INCLUDED
#define SB_JSON_H_INCLUDED

#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>

//  Parses JSON text (not NUL-terminated; len bytes). Returns a new jansson
//  value (caller json_decref's) or NULL with a reason in why ("invalid
//  JSON at line 1 column 5: ..."). Duplicate keys and embedded NUL are refused.
json_t *sb_json_parse (const char *text, size_t len, char *why, size_t why_size);

//  Packs a jansson value as msgpack. Integers stay integers, reals become
//  doubles, strings stay strings.
void sb_json_pack (msgpack_packer *pk, const json_t *value);

//  Appends value to buf packed as msgpack (sb_json_pack with a packer of
//  its own), for the common case of packing a whole document.
void sb_json_pack_into (msgpack_sbuffer *buf, const json_t *value);

//  Appends obj as JSON text to buf (msgpack_sbuffer used as a byte
//  buffer). Strings are escaped per RFC 8259 (invalid UTF-8 is replaced by
//  U+FFFD); NaN and infinities become null; bin becomes a string of its
//  bytes if valid UTF-8 else null; ext becomes null. Map keys that are not
//  strings are written as their JSON text in a string.
void sb_json_write (msgpack_sbuffer *buf, const msgpack_object *obj);

//  Appends s (len bytes) as a quoted, escaped JSON string.
void sb_json_write_string (msgpack_sbuffer *buf, const char *s, size_t len);

void sb_json_test (bool verbose);

#endif
