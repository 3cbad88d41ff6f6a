/*  json.c — libFuzzer harness: JSON → msgpack → JSON, and msgpack → JSON.

    What a stranger controls: every request body the gateway parses
    (sb_json_parse), and — through a service that echoes what it stored —
    any bytes inside the msgpack objects the reply writer turns into JSON
    (sb_json_write). Properties checked on every input:

      1. Text that sb_json_parse accepts is valid RFC 8259 (the
         recogniser below agrees), and is packed, validated as a frame would be
         (sb_mpk_validate), unpacked and written back: the output parses
         again, and equals the first parse (json_equal). JSON → msgpack →
         JSON is the identity on valid input — integers stay integers,
         reals stay reals with the same value, strings keep their bytes.
      2. The same bytes taken as msgpack: when they validate as a frame
         does, the writer's text is always valid JSON, even for invalid
         UTF-8, NaN, bin and ext. The judge is the harness's own RFC 8259
         recogniser (s_value below: grammar, escapes, UTF-8 without
         overlongs or surrogates), not jansson, which refuses valid JSON it
         cannot represent (a key holding \u0000, a map repeating a key).

    A property that fails aborts (a crash for libFuzzer, with the input
    saved); so do ASan and UBSan findings and leaks.
*/
#include "sb/json.h"
#include "sb/mpk.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_fail (const char *what, const uint8_t *data, size_t size)
{
    fprintf (stderr, "json harness: %s (input of %zu bytes)\n", what, size);
    (void) data;
    abort ();
}

//  Writes size bytes of msgpack as JSON text (NUL-terminated, malloc'd),
//  or NULL when they do not hold one valid frame-like object.
static char *
s_write (const void *bytes, size_t size, size_t *len)
{
    char why [128];
    if (sb_mpk_validate (bytes, size, SB_MPK_MAX_DEPTH, why, sizeof (why)))
        return NULL;
    msgpack_zone zone;
    msgpack_zone_init (&zone, 2048);
    msgpack_object obj;
    size_t offset = 0;
    char *text = NULL;
    if (msgpack_unpack ((const char *) bytes, size, &offset, &zone, &obj) == MSGPACK_UNPACK_SUCCESS) {
        msgpack_sbuffer out;
        msgpack_sbuffer_init (&out);
        sb_json_write (&out, &obj);
        *len = out.size;
        text = (char *) malloc (out.size + 1);
        if (out.size)
            memcpy (text, out.data, out.size);
        text [out.size] = 0;
        msgpack_sbuffer_destroy (&out);
    }
    msgpack_zone_destroy (&zone);
    return text;
}

//  ---- an RFC 8259 recogniser, independent of jansson and of json.c -------
typedef struct {
    const unsigned char *p, *end;
} s_text_t;

static void
s_ws (s_text_t *t)
{
    while (t->p < t->end && (*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r'))
        t->p++;
}

static bool
s_lit (s_text_t *t, const char *word)
{
    size_t n = strlen (word);
    if ((size_t) (t->end - t->p) < n || memcmp (t->p, word, n))
        return false;
    t->p += n;
    return true;
}

static bool
s_digits (s_text_t *t)
{
    const unsigned char *start = t->p;
    while (t->p < t->end && *t->p >= '0' && *t->p <= '9')
        t->p++;
    return t->p > start;
}

static bool
s_number (s_text_t *t)
{
    if (t->p < t->end && *t->p == '-')
        t->p++;
    if (t->p < t->end && *t->p == '0')
        t->p++;
    else
    if (!(t->p < t->end && *t->p >= '1' && *t->p <= '9') || !s_digits (t))
        return false;
    if (t->p < t->end && *t->p == '.') {
        t->p++;
        if (!s_digits (t))
            return false;
    }
    if (t->p < t->end && (*t->p == 'e' || *t->p == 'E')) {
        t->p++;
        if (t->p < t->end && (*t->p == '+' || *t->p == '-'))
            t->p++;
        if (!s_digits (t))
            return false;
    }
    return true;
}

//  One UTF-8 sequence (Unicode 15, table 3-7: no overlongs, no surrogates,
//  nothing above U+10FFFF).
static bool
s_utf8 (s_text_t *t)
{
    unsigned char c = *t->p;
    int more = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2
             : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (more < 0 || t->end - t->p <= more)
        return false;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
    for (int i = 1; i <= more; i++) {
        unsigned char d = t->p [i];
        if (d < (i == 1 ? lo : 0x80) || d > (i == 1 ? hi : 0xbf))
            return false;
    }
    t->p += more + 1;
    return true;
}

static bool
s_string (s_text_t *t)
{
    if (!(t->p < t->end && *t->p == '"'))
        return false;
    t->p++;
    while (t->p < t->end && *t->p != '"') {
        if (*t->p < 0x20)
            return false;
        if (*t->p == '\\') {
            t->p++;
            if (t->p >= t->end)
                return false;
            if (*t->p == 'u') {
                if (t->end - t->p < 5)
                    return false;
                for (int i = 1; i <= 4; i++)
                    if (!strchr ("0123456789abcdefABCDEF", t->p [i]) || !t->p [i])
                        return false;
                t->p += 5;
            }
            else
            if (*t->p && strchr ("\"\\/bfnrt", *t->p))
                t->p++;
            else
                return false;
        }
        else
        if (!s_utf8 (t))
            return false;
    }
    if (t->p >= t->end)
        return false;
    t->p++;
    return true;
}

static bool
s_value (s_text_t *t, int depth)
{
    s_ws (t);
    if (t->p >= t->end || depth > 1000)
        return false;
    bool ok;
    if (*t->p == '{' || *t->p == '[') {
        bool object = *t->p == '{';
        unsigned char close = object ? '}' : ']';
        t->p++;
        s_ws (t);
        if (t->p < t->end && *t->p == close) {
            t->p++;
            return true;
        }
        while (true) {
            if (object) {
                s_ws (t);
                if (!s_string (t))
                    return false;
                s_ws (t);
                if (!(t->p < t->end && *t->p == ':'))
                    return false;
                t->p++;
            }
            if (!s_value (t, depth + 1))
                return false;
            s_ws (t);
            if (t->p < t->end && *t->p == ',') {
                t->p++;
                continue;
            }
            if (t->p < t->end && *t->p == close) {
                t->p++;
                return true;
            }
            return false;
        }
    }
    if (*t->p == '"')
        ok = s_string (t);
    else
    if (*t->p == '-' || (*t->p >= '0' && *t->p <= '9'))
        ok = s_number (t);
    else
        ok = s_lit (t, "true") || s_lit (t, "false") || s_lit (t, "null");
    return ok;
}

//  True when text is exactly one JSON value (whitespace around it allowed).
static bool
s_valid_json (const char *text, size_t len)
{
    s_text_t t = { (const unsigned char *) text, (const unsigned char *) text + len };
    if (!s_value (&t, 0))
        return false;
    s_ws (&t);
    return t.p == t.end;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    char why [160];
    //  1. JSON text → msgpack → JSON text.
    json_t *first = sb_json_parse ((const char *) data, size, why, sizeof (why));
    if (first && !s_valid_json ((const char *) data, size))
        s_fail ("sb_json_parse accepted text RFC 8259 refuses", data, size);
    if (first) {
        msgpack_sbuffer packed;
        msgpack_sbuffer_init (&packed);
        sb_json_pack_into (&packed, first);
        size_t len = 0;
        char *text = s_write (packed.data, packed.size, &len);
        if (!text)
            s_fail ("the packed JSON is not a valid frame", data, size);
        json_t *second = sb_json_parse (text, len, why, sizeof (why));
        if (!second)
            s_fail ("the written JSON does not parse again", data, size);
        if (!json_equal (first, second))
            s_fail ("JSON -> msgpack -> JSON changed the value", data, size);
        json_decref (second);
        free (text);
        msgpack_sbuffer_destroy (&packed);
        json_decref (first);
    }
    //  2. The bytes as msgpack → JSON text, always valid.
    size_t len = 0;
    char *text = s_write (data, size, &len);
    if (text) {
        if (!s_valid_json (text, len))
            s_fail ("the writer produced invalid JSON", data, size);
        free (text);
    }
    return 0;
}
