/*  json.c — JSON in and out of the gateway.

    Requests: client JSON is parsed by jansson, strictly (RFC 8259, any
    value at the top level, duplicate keys and \u0000 refused, nothing after
    the value, invalid UTF-8 refused by jansson itself), then checked for
    depth and packed as msgpack with integers kept as integers.

    Replies: a msgpack object is written straight out as JSON text, without
    a jansson tree in between. The writer must produce valid JSON whatever
    the object holds, because a service may put any bytes in a string: it
    validates UTF-8 itself (overlongs, surrogates and code points above
    U+10FFFF included) and replaces each maximal invalid subsequence with
    U+FFFD, escapes what RFC 8259 requires, writes NaN and infinities as
    null, and keeps reals looking like reals ("5.0", not "5") so that a round
    trip through JSON does not turn a double into an integer.
*/

#include "sb/json.h"
#include "sb/mpk.h"
#include "sb/test.h"
#include "sb/util.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  JSON deeper than this is refused. A parsed body becomes (part of) the
//  args of an envelope, which sits at level 2 of a frame limited to
//  SB_MPK_MAX_DEPTH levels; the margin leaves room for the gateway to wrap
//  the body once or twice.
#define S_MAX_DEPTH (SB_MPK_MAX_DEPTH - 4)

//  The writer gives up on objects nested deeper than this (they cannot come
//  from a validated frame) and writes null instead of recursing further.
#define S_WRITE_MAX_DEPTH 128


//  True when value nests deeper than limit levels (a scalar is level 0).
static bool
s_too_deep (const json_t *value, int limit)
{
    if (json_is_array (value)) {
        if (limit <= 0)
            return true;
        for (size_t i = 0; i < json_array_size (value); i++)
            if (s_too_deep (json_array_get (value, i), limit - 1))
                return true;
    }
    else if (json_is_object (value)) {
        if (limit <= 0)
            return true;
        //  jansson's iterators take a non-const object but do not change it
        json_t *object = (json_t *)value;
        for (void *it = json_object_iter (object); it; it = json_object_iter_next (object, it))
            if (s_too_deep (json_object_iter_value (it), limit - 1))
                return true;
    }
    return false;
}

json_t *
sb_json_parse (const char *text, size_t len, char *why, size_t why_size)
{
    if (!text) {
        sb_why (why, why_size, "invalid JSON: no text");
        return NULL;
    }
    //  A raw NUL byte is never JSON (not whitespace, not allowed inside a
    //  string), but jansson's buffer reader takes one after the value for
    //  the end of the text: "false\0" parsed (found by tests/fuzz/json.c).
    const char *nul = (const char *) memchr (text, 0, len);
    if (nul) {
        sb_why (why, why_size, "invalid JSON: a NUL byte at offset %zu", (size_t) (nul - text));
        return NULL;
    }
    //  Not JSON_DISABLE_EOF_CHECK: trailing garbage is an error. Not
    //  JSON_ALLOW_NUL: "\u0000" is refused, so every string is a C string.
    //  JSON_DECODE_ANY: RFC 8259 allows any value at the top level.
    json_error_t error;
    json_t *value = json_loadb (text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (!value) {
        sb_why (why, why_size, "invalid JSON at line %d column %d: %s", error.line, error.column,
               error.text);
        return NULL;
    }
    if (s_too_deep (value, S_MAX_DEPTH)) {
        json_decref (value);
        sb_why (why, why_size, "invalid JSON: nested deeper than %d levels", S_MAX_DEPTH);
        return NULL;
    }
    return value;
}

void
sb_json_pack (msgpack_packer *pk, const json_t *value)
{
    if (!value) {
        msgpack_pack_nil (pk);
        return;
    }
    switch (json_typeof (value)) {
    case JSON_OBJECT: {
        json_t *object = (json_t *)value;
        msgpack_pack_map (pk, json_object_size (object));
        void *it = json_object_iter (object);
        for (; it; it = json_object_iter_next (object, it)) {
            sb_mpk_pack_strn (pk, json_object_iter_key (it), json_object_iter_key_len (it));
            sb_json_pack (pk, json_object_iter_value (it));
        }
        break;
    }
    case JSON_ARRAY:
        msgpack_pack_array (pk, json_array_size (value));
        for (size_t i = 0; i < json_array_size (value); i++)
            sb_json_pack (pk, json_array_get (value, i));
        break;
    case JSON_STRING:
        sb_mpk_pack_strn (pk, json_string_value (value), json_string_length (value));
        break;
    case JSON_INTEGER:
        msgpack_pack_int64 (pk, (int64_t)json_integer_value (value));
        break;
    case JSON_REAL:
        msgpack_pack_double (pk, json_real_value (value));
        break;
    case JSON_TRUE:
        msgpack_pack_true (pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false (pk);
        break;
    default:
        msgpack_pack_nil (pk);
        break;
    }
}

//  --------------------------------------------------------------------------
//  Writer

//  Room for len more bytes in buf (growing it as msgpack_sbuffer_write
//  would: doubling); out of memory aborts.
static inline void
s_reserve (msgpack_sbuffer *buf, size_t len)
{
    if (buf->alloc - buf->size >= len)
        return;
    size_t alloc = buf->alloc ? buf->alloc * 2 : MSGPACK_SBUFFER_INIT_SIZE;
    while (alloc < buf->size + len)
        alloc *= 2;
    char *data = (char *) realloc (buf->data, alloc);
    if (!data)
        abort ();
    buf->data = data;
    buf->alloc = alloc;
}

static inline void
s_put (msgpack_sbuffer *buf, const char *data, size_t len)
{
    if (len == 0)
        return;
    s_reserve (buf, len);
    memcpy (buf->data + buf->size, data, len);
    buf->size += len;
}

//  What the string writer does with each byte: 0 copies it as is, 1
//  escapes it, 2 starts a UTF-8 sequence to check.
static const uint8_t s_string_class [256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,     //  '"'
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,     //  '\\'
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2
};

//  An integer's decimal digits (no snprintf on the hot path).
static void
s_put_u64 (msgpack_sbuffer *buf, uint64_t value, bool negative)
{
    char text [24];
    size_t at = sizeof (text);
    do {
        text [--at] = (char) ('0' + value % 10);
        value /= 10;
    } while (value);
    if (negative)
        text [--at] = '-';
    s_put (buf, text + at, sizeof (text) - at);
}

static void
s_puts (msgpack_sbuffer *buf, const char *s)
{
    s_put (buf, s, strlen (s));
}

void
sb_json_write_string (msgpack_sbuffer *buf, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    //  Room for the common case (nothing to escape) at once.
    s_reserve (buf, len + 2);
    s_put (buf, "\"", 1);
    const uint8_t *p = (const uint8_t *)s;
    size_t run = 0; //  start of bytes not yet written
    size_t i = 0;
    while (p && i < len) {
        uint8_t c = p[i];
        if (s_string_class[c] == 0) {
            i++;
            continue;
        }
        size_t used = 1;
        if (c >= 0x80 && sb_utf8_char (p + i, len - i, &used)) {
            i += used; //  valid UTF-8 goes out as is
            continue;
        }
        s_put (buf, s + run, i - run);
        if (c >= 0x80)
            s_put (buf, "\xef\xbf\xbd", 3);
        else {
            char escape[6] = {'\\', 0, 0, 0, 0, 0};
            size_t escape_len = 2;
            switch (c) {
            case '"':
                escape[1] = '"';
                break;
            case '\\':
                escape[1] = '\\';
                break;
            case '\b':
                escape[1] = 'b';
                break;
            case '\f':
                escape[1] = 'f';
                break;
            case '\n':
                escape[1] = 'n';
                break;
            case '\r':
                escape[1] = 'r';
                break;
            case '\t':
                escape[1] = 't';
                break;
            default:
                memcpy (escape + 1, "u00", 3);
                escape[4] = hex[c >> 4];
                escape[5] = hex[c & 0x0f];
                escape_len = 6;
                break;
            }
            s_put (buf, escape, escape_len);
        }
        i += used;
        run = i;
    }
    if (i > run)
        s_put (buf, s + run, i - run);
    s_put (buf, "\"", 1);
}

static void
s_write_double (msgpack_sbuffer *buf, double value, bool single)
{
    if (!isfinite (value)) {
        s_puts (buf, "null");
        return;
    }
    //  The shortest of 15, 16 or 17 significant digits that reads back as
    //  the same double (17 always does; 9 for a float): 0.14, not
    //  0.14000000000000001.
    char text[48];
    int len = -1;
    if (single)
        len = snprintf (text, sizeof (text) - 2, "%.9g", value);
    else
        for (int digits = 15; digits <= 17; digits++) {
            len = snprintf (text, sizeof (text) - 2, "%.*g", digits, value);
            if (len > 0 && (size_t)len < sizeof (text) - 2 && strtod (text, NULL) == value)
                break;
        }
    if (len < 0 || (size_t)len >= sizeof (text) - 2) {
        s_puts (buf, "null");
        return;
    }
    //  A locale with a decimal comma must not leak into JSON
    for (int i = 0; i < len; i++)
        if (text[i] == ',')
            text[i] = '.';
    //  "5" would read back as an integer: keep the value a real
    if (strspn (text, "-0123456789") == (size_t)len) {
        memcpy (text + len, ".0", 3);
        len += 2;
    }
    s_put (buf, text, (size_t)len);
}

static void s_write (msgpack_sbuffer *buf, const msgpack_object *obj, int depth);

static void
s_write_key (msgpack_sbuffer *buf, const msgpack_object *key, int depth)
{
    if (key->type == MSGPACK_OBJECT_STR)
        sb_json_write_string (buf, key->via.str.ptr, key->via.str.size);
    else if (key->type == MSGPACK_OBJECT_BIN && sb_utf8_valid (key->via.bin.ptr, key->via.bin.size))
        sb_json_write_string (buf, key->via.bin.ptr, key->via.bin.size);
    else {
        //  JSON keys are strings: use the key's own JSON text
        msgpack_sbuffer text;
        msgpack_sbuffer_init (&text);
        s_write (&text, key, depth + 1);
        sb_json_write_string (buf, text.data, text.size);
        msgpack_sbuffer_destroy (&text);
    }
}

static void
s_write (msgpack_sbuffer *buf, const msgpack_object *obj, int depth)
{
    if (depth > S_WRITE_MAX_DEPTH) {
        s_puts (buf, "null");
        return;
    }
    switch (obj->type) {
    case MSGPACK_OBJECT_NIL:
        s_puts (buf, "null");
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        s_puts (buf, obj->via.boolean ? "true" : "false");
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        s_put_u64 (buf, obj->via.u64, false);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        //  The magnitude as unsigned: -INT64_MIN does not fit an int64_t.
        s_put_u64 (buf, obj->via.i64 < 0 ? 0 - (uint64_t) obj->via.i64 : (uint64_t) obj->via.i64,
                   obj->via.i64 < 0);
        break;
    case MSGPACK_OBJECT_FLOAT32:
        s_write_double (buf, obj->via.f64, true);
        break;
    case MSGPACK_OBJECT_FLOAT64:
        s_write_double (buf, obj->via.f64, false);
        break;
    case MSGPACK_OBJECT_STR:
        sb_json_write_string (buf, obj->via.str.ptr, obj->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        if (sb_utf8_valid (obj->via.bin.ptr, obj->via.bin.size))
            sb_json_write_string (buf, obj->via.bin.ptr, obj->via.bin.size);
        else
            s_puts (buf, "null");
        break;
    case MSGPACK_OBJECT_ARRAY:
        s_put (buf, "[", 1);
        for (uint32_t i = 0; i < obj->via.array.size; i++) {
            if (i > 0)
                s_put (buf, ",", 1);
            s_write (buf, &obj->via.array.ptr[i], depth + 1);
        }
        s_put (buf, "]", 1);
        break;
    case MSGPACK_OBJECT_MAP:
        s_put (buf, "{", 1);
        for (uint32_t i = 0; i < obj->via.map.size; i++) {
            if (i > 0)
                s_put (buf, ",", 1);
            s_write_key (buf, &obj->via.map.ptr[i].key, depth);
            s_put (buf, ":", 1);
            s_write (buf, &obj->via.map.ptr[i].val, depth + 1);
        }
        s_put (buf, "}", 1);
        break;
    default:
        //  ext, and any type a later msgpack-c may add
        s_puts (buf, "null");
        break;
    }
}

void
sb_json_pack_into (msgpack_sbuffer *buf, const json_t *value)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    sb_json_pack (&pk, value);
}

void
sb_json_write (msgpack_sbuffer *buf, const msgpack_object *obj)
{
    if (!obj)
        s_puts (buf, "null");
    else
        s_write (buf, obj, 0);
}

//  --------------------------------------------------------------------------
//  Selftest

#define S_BYTES(literal) literal, sizeof (literal) - 1

static bool
s_same (const msgpack_sbuffer *out, const char *expect, size_t expect_len, const char *what)
{
    if (out->size == expect_len && (expect_len == 0 || memcmp (out->data, expect, expect_len) == 0))
        return true;
    fprintf (stderr, "json: %s: got '%.*s', expected '%.*s'\n", what, (int)out->size,
             out->data ? out->data : "", (int)expect_len, expect);
    return false;
}

//  JSON text -> jansson -> msgpack -> JSON text; true when the result is
//  expect (NULL: the text itself).
static bool
s_round_trip (const char *text, const char *expect)
{
    char why[256];
    json_t *value = sb_json_parse (text, strlen (text), why, sizeof (why));
    if (!value) {
        fprintf (stderr, "json: cannot parse '%s': %s\n", text, why);
        return false;
    }
    msgpack_sbuffer packed;
    msgpack_sbuffer_init (&packed);
    sb_json_pack_into (&packed, value);
    json_decref (value);

    bool ok = sb_mpk_validate (packed.data, packed.size, SB_MPK_MAX_DEPTH, why, sizeof (why)) == 0;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    ok = ok && msgpack_unpack_next (&u, packed.data, packed.size, &off) == MSGPACK_UNPACK_SUCCESS;
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    if (ok) {
        sb_json_write (&out, &u.data);
        if (!expect)
            expect = text;
        ok = s_same (&out, expect, strlen (expect), text);
    }
    msgpack_sbuffer_destroy (&out);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&packed);
    return ok;
}

//  True when sb_json_parse refuses text (len bytes) with a reason that
//  contains expect.
static bool
s_parse_refused (const char *text, size_t len, const char *expect)
{
    char why[256] = "";
    json_t *value = sb_json_parse (text, len, why, sizeof (why));
    if (value) {
        json_decref (value);
        fprintf (stderr, "json: accepted '%.*s'\n", (int)len, text);
        return false;
    }
    if (!strstr (why, expect)) {
        fprintf (stderr, "json: refused '%.*s' with '%s', expected '%s'\n", (int)len, text, why,
                 expect);
        return false;
    }
    return true;
}

static bool
s_string_is (const char *s, size_t len, const char *expect, size_t expect_len)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    sb_json_write_string (&out, s, len);
    bool ok = s_same (&out, expect, expect_len, "string");
    //  Whatever went in, what comes out is valid JSON
    json_error_t error;
    json_t *back = json_loadb (out.data, out.size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    ok = ok && back && json_is_string (back);
    json_decref (back);
    msgpack_sbuffer_destroy (&out);
    return ok;
}

static bool
s_object_is (const msgpack_object *obj, const char *expect)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    sb_json_write (&out, obj);
    bool ok = s_same (&out, expect, strlen (expect), "object");
    msgpack_sbuffer_destroy (&out);
    return ok;
}

//  Unpacks packed (which must be valid) and checks its JSON rendering.
static bool
s_packed_is (const msgpack_sbuffer *packed, const char *expect)
{
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    bool ok =
        msgpack_unpack_next (&u, packed->data, packed->size, &off) == MSGPACK_UNPACK_SUCCESS &&
        s_object_is (&u.data, expect);
    msgpack_unpacked_destroy (&u);
    return ok;
}

void
sb_json_test (bool verbose)
{
    if (verbose)
        printf (" * sb_json: ");

    //  Round trips keep structure, order, types and exact integers
    SB_CHECK (s_round_trip (
        "{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\",\"f\":[]},\"g\":{}}", NULL));
    SB_CHECK (s_round_trip ("{\"z\":1,\"a\":2,\"m\":3}", NULL));
    SB_CHECK (s_round_trip ("[[[[[]]]],{\"x\":[{\"y\":[1,[2,[3]]]}]}]", NULL));
    SB_CHECK (s_round_trip (" { \"a\" : [ 1 , 2 ] }\n", "{\"a\":[1,2]}"));
    SB_CHECK (s_round_trip ("{}", NULL));
    SB_CHECK (s_round_trip ("[]", NULL));
    SB_CHECK (s_round_trip ("\"top\"", NULL));
    SB_CHECK (s_round_trip ("0", NULL));
    SB_CHECK (s_round_trip ("-1", NULL));
    SB_CHECK (s_round_trip ("null", NULL));
    SB_CHECK (s_round_trip ("true", NULL));
    SB_CHECK (s_round_trip ("{\"max\":9223372036854775807,\"min\":-9223372036854775808}", NULL));
    SB_CHECK (s_round_trip ("[4294967295,4294967296,-2147483649,127,128,-32,-33]", NULL));
    SB_CHECK (s_round_trip ("[1.5,-2.25,5.0,-0.0,100.0,1e2,0.1,1e300,1E-7,2.5e-320]",
                            "[1.5,-2.25,5.0,-0.0,100.0,100.0,0.1,1e+300,1e-07,"
                            "2.49997216795671e-320]"));
    SB_CHECK (s_round_trip ("\"caf\\u00e9 \\u20ac \\ud83d\\ude00\"",
                            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""));
    SB_CHECK (s_round_trip ("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", NULL));
    SB_CHECK (s_round_trip ("\"q\\\"b\\\\s\\/\\b\\f\\n\\r\\t\\u0001\\u001F\\u007f\\u2028\"",
                            "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xe2\x80\xa8\""));
    SB_CHECK (s_round_trip ("{\"a\\\"b\":1,\"\\u00e9\":2,\"\":3}",
                            "{\"a\\\"b\":1,\"\xc3\xa9\":2,\"\":3}"));

    //  Floats written from msgpack read back as the same double
    static const double reals[] = {0.1, 1.0 / 3.0, 1e308, 4.9e-324, -123456.789, 2.0};
    size_t reals_ok = 0;
    for (size_t i = 0; i < sizeof (reals) / sizeof (reals[0]); i++) {
        msgpack_object obj = {.type = MSGPACK_OBJECT_FLOAT64, .via.f64 = reals[i]};
        msgpack_sbuffer out;
        msgpack_sbuffer_init (&out);
        sb_json_write (&out, &obj);
        json_t *back = sb_json_parse (out.data, out.size, NULL, 0);
        if (back && json_is_real (back) && json_real_value (back) == reals[i])
            reals_ok++;
        json_decref (back);
        msgpack_sbuffer_destroy (&out);
    }
    SB_CHECK (reals_ok == sizeof (reals) / sizeof (reals[0]));

    //  Parse errors carry line and column
    char why[256] = "";
    json_t *value = sb_json_parse ("{\n  \"a\": }", 10, why, sizeof (why));
    SB_CHECK (value == NULL);
    SB_CHECK (strncmp (why, "invalid JSON at line 2 column ", 30) == 0);
    SB_CHECK (s_parse_refused (S_BYTES ("{"), "invalid JSON at line 1"));
    SB_CHECK (s_parse_refused (S_BYTES (""), "invalid JSON at line"));
    SB_CHECK (s_parse_refused (S_BYTES ("{\"a\":1} x"), "end of file expected"));
    SB_CHECK (s_parse_refused (S_BYTES ("{\"a\":1}{}"), "end of file expected"));
    SB_CHECK (s_parse_refused (S_BYTES ("[1] ]"), "end of file expected"));
    SB_CHECK (s_parse_refused (S_BYTES ("false\0"), "a NUL byte at offset 5"));
    SB_CHECK (s_parse_refused (S_BYTES ("{\"a\":\0 1}"), "a NUL byte at offset 5"));
    SB_CHECK (s_parse_refused (S_BYTES ("{\"a\":1,\"a\":2}"), "duplicate object key"));
    SB_CHECK (s_parse_refused (S_BYTES ("{\"x\":{\"a\":1,\"a\":1}}"), "duplicate object key"));
    SB_CHECK (s_parse_refused (S_BYTES ("[1,]"), "invalid JSON"));
    SB_CHECK (s_parse_refused (S_BYTES ("{'a':1}"), "invalid JSON"));
    SB_CHECK (s_parse_refused (S_BYTES ("{a:1}"), "invalid JSON"));
    SB_CHECK (s_parse_refused (S_BYTES ("NaN"), "invalid JSON"));
    SB_CHECK (s_parse_refused (S_BYTES ("[Infinity]"), "invalid JSON"));
    SB_CHECK (s_parse_refused (S_BYTES ("01"), "invalid JSON"));
    SB_CHECK (s_parse_refused (S_BYTES ("[1e999]"), "invalid JSON"));
    SB_CHECK (s_parse_refused (S_BYTES ("9223372036854775808"), "too big integer"));
    SB_CHECK (s_parse_refused (S_BYTES ("-9223372036854775809"), "too big negative integer"));
    SB_CHECK (s_parse_refused (S_BYTES ("\"a\\x\""), "invalid JSON"));
    SB_CHECK (s_parse_refused (S_BYTES ("\"\\ud800\""), "invalid JSON"));
    SB_CHECK (s_parse_refused (S_BYTES ("\"\xff\""), "invalid JSON"));
    SB_CHECK (s_parse_refused (S_BYTES ("\"\xc0\x80\""), "invalid JSON"));
    SB_CHECK (s_parse_refused (S_BYTES ("\"\xed\xa0\x80\""), "invalid JSON"));
    SB_CHECK (s_parse_refused (S_BYTES ("\"tab\there\""), "control character"));
    //  NUL: jansson refuses the "\u0000" escape unless JSON_ALLOW_NUL is
    //  given, which sb_json_parse never gives, so every string it returns is
    //  a plain C string; a raw NUL byte is refused with or without the flag
    //  (a control character inside a string, an invalid token outside)
    SB_CHECK (s_parse_refused (S_BYTES ("\"a\\u0000b\""), "\\u0000 is not allowed"));
    SB_CHECK (s_parse_refused (S_BYTES ("{\"a\\u0000b\":1}"), "invalid JSON"));
    SB_CHECK (s_parse_refused (S_BYTES ("\"a\0b\""), "a NUL byte at offset 2"));
    SB_CHECK (s_parse_refused (S_BYTES ("{}\0"), "a NUL byte at offset 2"));
    SB_CHECK (s_parse_refused (S_BYTES ("\0{}"), "invalid JSON"));
    json_error_t error;
    value = json_loadb (S_BYTES ("\"a\\u0000b\""), JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    SB_CHECK (value && json_string_length (value) == 3);
    json_decref (value);
    value = json_loadb (S_BYTES ("\"a\0b\""), JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
    SB_CHECK (value == NULL);
    //  ... and if one did get through, the writer escapes it
    SB_CHECK (s_string_is (S_BYTES ("a\0b"), S_BYTES ("\"a\\u0000b\"")));

    //  Depth: S_MAX_DEPTH levels are fine, one more is refused
    char nest[2 * (S_MAX_DEPTH + 1)];
    for (int i = 0; i < S_MAX_DEPTH + 1; i++) {
        nest[i] = '[';
        nest[2 * (S_MAX_DEPTH + 1) - 1 - i] = ']';
    }
    value = sb_json_parse (nest + 1, 2 * S_MAX_DEPTH, why, sizeof (why));
    SB_CHECK (value != NULL);
    json_decref (value);
    SB_CHECK (s_parse_refused (nest, sizeof (nest), "nested deeper"));
    char *very_deep = sb_malloc (5000);
    memset (very_deep, '[', 2500);
    memset (very_deep + 2500, ']', 2500);
    SB_CHECK (s_parse_refused (very_deep, 5000, "invalid JSON"));
    free (very_deep);
    char objects[] = "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                     "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
                     "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1"
                     "}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}";
    SB_CHECK (s_parse_refused (objects, strlen (objects), "nested deeper"));

    //  Refusals without a why buffer, or with a tiny one
    SB_CHECK (sb_json_parse ("{", 1, NULL, 0) == NULL);
    char tiny[8];
    SB_CHECK (sb_json_parse ("{", 1, tiny, sizeof (tiny)) == NULL && strlen (tiny) == 7);
    SB_CHECK (sb_json_parse (NULL, 3, why, sizeof (why)) == NULL);
    //  Not NUL-terminated: only len bytes are read
    char unterminated[2] = {'[', ']'};
    value = sb_json_parse (unterminated, 2, why, sizeof (why));
    SB_CHECK (value && json_is_array (value));
    json_decref (value);

    //  Writing msgpack that JSON cannot express directly
    msgpack_sbuffer packed;
    msgpack_sbuffer_init (&packed);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &packed, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 14);
    msgpack_pack_uint64 (&pk, UINT64_MAX);
    msgpack_pack_uint64 (&pk, (uint64_t)INT64_MAX + 1);
    msgpack_pack_int64 (&pk, INT64_MIN);
    msgpack_pack_float (&pk, 1.5f);
    msgpack_pack_float (&pk, 0.1f);
    msgpack_pack_double (&pk, NAN);
    msgpack_pack_double (&pk, INFINITY);
    msgpack_pack_double (&pk, -INFINITY);
    msgpack_pack_float (&pk, INFINITY);
    msgpack_pack_bin_with_body (&pk, "abc", 3);
    msgpack_pack_bin_with_body (&pk, "a\xff", 2);
    msgpack_pack_ext_with_body (&pk, "abcd", 4, 1);
    msgpack_pack_str (&pk, 0);
    msgpack_pack_bin (&pk, 0);
    SB_CHECK (s_packed_is (&packed, "[18446744073709551615,9223372036854775808,"
                                    "-9223372036854775808,1.5,0.100000001,null,null,null,null,"
                                    "\"abc\",null,null,\"\",\"\"]"));

    //  Map keys that are not strings become their JSON text
    msgpack_sbuffer_clear (&packed);
    msgpack_pack_map (&pk, 10);
    msgpack_pack_int (&pk, 1);
    sb_mpk_pack_str (&pk, "a");
    msgpack_pack_nil (&pk);
    sb_mpk_pack_str (&pk, "b");
    msgpack_pack_array (&pk, 2);
    msgpack_pack_int (&pk, 1);
    sb_mpk_pack_str (&pk, "x\"y");
    sb_mpk_pack_str (&pk, "c");
    msgpack_pack_true (&pk);
    msgpack_pack_int (&pk, 1);
    msgpack_pack_int (&pk, -5);
    msgpack_pack_int (&pk, 2);
    msgpack_pack_double (&pk, 1.5);
    msgpack_pack_int (&pk, 3);
    msgpack_pack_bin_with_body (&pk, "k", 1);
    msgpack_pack_int (&pk, 4);
    msgpack_pack_bin_with_body (&pk, "\xff", 1);
    msgpack_pack_int (&pk, 5);
    msgpack_pack_map (&pk, 1);
    sb_mpk_pack_kv_int (&pk, "x", 1);
    msgpack_pack_int (&pk, 6);
    msgpack_pack_ext_with_body (&pk, "z", 1, 7);
    msgpack_pack_int (&pk, 7);
    SB_CHECK (s_packed_is (&packed, "{\"1\":\"a\",\"null\":\"b\",\"[1,\\\"x\\\\\\\"y\\\"]\":\"c\","
                                    "\"true\":1,\"-5\":2,\"1.5\":3,\"k\":4,\"null\":5,"
                                    "\"{\\\"x\\\":1}\":6,\"null\":7}"));
    SB_CHECK (s_object_is (NULL, "null"));
    msgpack_sbuffer_clear (&packed);
    sb_json_pack (&pk, NULL);
    SB_CHECK (s_packed_is (&packed, "null"));
    msgpack_sbuffer_destroy (&packed);

    //  A deeper object than any frame can carry is cut off, not recursed into
    msgpack_object chain[S_WRITE_MAX_DEPTH + 10];
    for (size_t i = 0; i < S_WRITE_MAX_DEPTH + 10; i++) {
        chain[i].type = MSGPACK_OBJECT_ARRAY;
        chain[i].via.array.size = i + 1 < S_WRITE_MAX_DEPTH + 10 ? 1 : 0;
        chain[i].via.array.ptr = i + 1 < S_WRITE_MAX_DEPTH + 10 ? &chain[i + 1] : NULL;
    }
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    sb_json_write (&out, &chain[0]);
    SB_CHECK (out.size == 2 * (S_WRITE_MAX_DEPTH + 1) + 4);
    SB_CHECK (out.size > 2 && memcmp (out.data + S_WRITE_MAX_DEPTH + 1, "null", 4) == 0);
    msgpack_sbuffer_destroy (&out);

    //  Escapes and UTF-8: valid sequences at the edges pass unchanged...
    SB_CHECK (s_string_is (S_BYTES (""), S_BYTES ("\"\"")));
    SB_CHECK (s_string_is (NULL, 0, S_BYTES ("\"\"")));
    SB_CHECK (s_string_is (S_BYTES ("plain"), S_BYTES ("\"plain\"")));
    SB_CHECK (s_string_is (S_BYTES ("\"\\/\b\f\n\r\t\x01\x1f\x7f"),
                           S_BYTES ("\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
                                    "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf"),
                           S_BYTES ("\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
                                    "\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"")));
    //  ...and each maximal invalid subsequence becomes one U+FFFD
#define FFFD "\xef\xbf\xbd"
    SB_CHECK (s_string_is (S_BYTES ("a\x80"
                                    "b"),
                           S_BYTES ("\"a" FFFD "b\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xc0\x80"), S_BYTES ("\"" FFFD FFFD "\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xc1\xbf"), S_BYTES ("\"" FFFD FFFD "\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xe0\x80\x80"), S_BYTES ("\"" FFFD FFFD FFFD "\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xe0\x9f\xbf"), S_BYTES ("\"" FFFD FFFD FFFD "\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xf0\x8f\xbf\xbf"), S_BYTES ("\"" FFFD FFFD FFFD FFFD "\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xed\xa0\x80"), S_BYTES ("\"" FFFD FFFD FFFD "\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xed\xbf\xbf"), S_BYTES ("\"" FFFD FFFD FFFD "\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xf4\x90\x80\x80"), S_BYTES ("\"" FFFD FFFD FFFD FFFD "\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xf5\x80\x80\x80"), S_BYTES ("\"" FFFD FFFD FFFD FFFD "\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xff\xfe"), S_BYTES ("\"" FFFD FFFD "\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xe2\x82"), S_BYTES ("\"" FFFD "\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xe2\x82"
                                    "x"),
                           S_BYTES ("\"" FFFD "x\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xf0\x9f\x98"), S_BYTES ("\"" FFFD "\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xf0\x9f\x98\"\xf0\x9f\x98\x80"),
                           S_BYTES ("\"" FFFD "\\\"\xf0\x9f\x98\x80\"")));
    SB_CHECK (s_string_is (S_BYTES ("\xc3"), S_BYTES ("\"" FFFD "\"")));
    SB_CHECK (s_string_is (S_BYTES ("ok\xc3\n"), S_BYTES ("\"ok" FFFD "\\n\"")));
#undef FFFD

    //  Whatever msgpack a frame can carry, the writer's output is JSON
    msgpack_sbuffer_init (&packed);
    msgpack_pack_map (&pk, 6);
    sb_mpk_pack_kv_str (&pk, "s", "caf\xc3\xa9\n\"");
    sb_mpk_pack_str (&pk, "a");
    msgpack_pack_array (&pk, 5);
    msgpack_pack_int64 (&pk, -300);
    msgpack_pack_uint64 (&pk, UINT64_MAX);
    msgpack_pack_double (&pk, 2.5);
    msgpack_pack_float (&pk, -1.25f);
    msgpack_pack_nil (&pk);
    sb_mpk_pack_str (&pk, "b");
    msgpack_pack_bin_with_body (&pk, "bytes\xe2\x82\xac", 8);
    sb_mpk_pack_str (&pk, "m");
    msgpack_pack_map (&pk, 1);
    sb_mpk_pack_kv_int (&pk, "k", 70000);
    sb_mpk_pack_str (&pk, "e");
    msgpack_pack_ext_with_body (&pk, "\x01\x02", 2, 5);
    sb_mpk_pack_str (&pk, "t");
    msgpack_pack_true (&pk);
    uint64_t state = 0x15e1f00dULL;
    int rounds = 0, written = 0, valid_json = 0;
    for (rounds = 0; rounds < 3000; rounds++) {
        size_t size = packed.size;
        char *data = sb_malloc (size);
        memcpy (data, packed.data, size);
        int edits = 1 + (int)(sb_test_rand (&state) % 3);
        for (int e = 0; e < edits; e++)
            data[sb_test_rand (&state) % size] = (char)sb_test_rand (&state);
        if (sb_mpk_validate (data, size, SB_MPK_MAX_DEPTH, NULL, 0) == 0) {
            msgpack_unpacked u;
            msgpack_unpacked_init (&u);
            size_t off = 0;
            if (msgpack_unpack_next (&u, data, size, &off) == MSGPACK_UNPACK_SUCCESS) {
                msgpack_sbuffer_init (&out);
                sb_json_write (&out, &u.data);
                written++;
                //  Duplicate keys, NULs and integers above INT64_MAX are all
                //  valid JSON that jansson refuses by default
                json_t *back =
                    json_loadb (out.data, out.size,
                                JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &error);
                //  ... except a NUL in a key, which it never accepts
                if (back || strstr (error.text, "NUL byte in object key"))
                    valid_json++;
                else
                    fprintf (stderr, "json: invalid output '%.*s': %s\n", (int)out.size, out.data,
                             error.text);
                json_decref (back);
                msgpack_sbuffer_destroy (&out);
            }
            msgpack_unpacked_destroy (&u);
        }
        free (data);
    }
    SB_CHECK (written > 100);
    SB_CHECK (valid_json == written);
    msgpack_sbuffer_destroy (&packed);

    if (verbose)
        printf ("OK\n");
}
