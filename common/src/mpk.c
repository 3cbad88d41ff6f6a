/*  mpk.c — msgpack helpers: a strict validator for untrusted bytes and small
    accessors for string-keyed maps.

    msgpack-c trusts the lengths it reads: an array header that claims four
    billion elements makes it allocate room for four billion objects before
    it notices that the bytes run out. Everything that arrives from the bus
    therefore goes through sb_mpk_validate first. The validator walks the
    raw bytes without allocating: it keeps a small stack of open containers
    and a count of the items still owed, and it refuses the frame as soon as
    that count exceeds the bytes that remain (every item takes at least one
    byte), so a lying header is caught at the header. It also refuses
    nesting deeper than the caller's limit (msgpack-c's own unpacker stops
    at 32 levels), the reserved byte 0xc1, map keys that are not strings and
    anything after the first object.

    The getters and packers below are thin conveniences used by the envelope,
    the service skeleton and the handlers.
*/

#include "sb/mpk.h"
#include "sb/test.h"
#include "sb/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Open containers are tracked in a stack; this many levels live on the C
//  stack and deeper limits take one allocation.
#define S_LOCAL_DEPTH 64

typedef struct {
    uint64_t remaining; //  items still to read in this container
    bool is_map;        //  keys and values alternate, keys first
} s_level_t;


//  Reads a big-endian unsigned integer of width bytes (1, 2, 4 or 8).
static uint64_t
s_load (const uint8_t *p, size_t width)
{
    uint64_t value = 0;
    for (size_t i = 0; i < width; i++)
        value = (value << 8) | p[i];
    return value;
}

//  What one header byte announces. For str, bin and ext the payload length
//  is either fixed in the byte (fixed_len) or read from a length field of
//  len_width bytes; ext carries one extra type byte before its payload.
typedef enum {
    S_SCALAR, //  header + fixed_len payload bytes
    S_STRING, //  str: header + length field + payload
    S_BLOB,   //  bin or ext
    S_ARRAY,
    S_MAP,
    S_INVALID
} s_kind_t;

typedef struct {
    s_kind_t kind;
    size_t fixed_len; //  payload bytes when no length field
    size_t len_width; //  bytes of the length/count field, or 0
    size_t extra;     //  ext type byte
    uint64_t count;   //  fixarray/fixmap/fixstr immediate count
} s_head_t;

static s_head_t
s_classify (uint8_t b)
{
    s_head_t h = {S_SCALAR, 0, 0, 0, 0};
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return h; //  fixints, nil, booleans
    if (b >= 0x80 && b <= 0x8f) {
        h.kind = S_MAP;
        h.count = b & 0x0f;
        return h;
    }
    if (b >= 0x90 && b <= 0x9f) {
        h.kind = S_ARRAY;
        h.count = b & 0x0f;
        return h;
    }
    if (b >= 0xa0 && b <= 0xbf) {
        h.kind = S_STRING;
        h.fixed_len = b & 0x1f;
        return h;
    }
    switch (b) {
    case 0xc4:
    case 0xc5:
    case 0xc6: //  bin 8/16/32
        h.kind = S_BLOB;
        h.len_width = (size_t)1 << (b - 0xc4);
        return h;
    case 0xc7:
    case 0xc8:
    case 0xc9: //  ext 8/16/32
        h.kind = S_BLOB;
        h.len_width = (size_t)1 << (b - 0xc7);
        h.extra = 1;
        return h;
    case 0xca:
        h.fixed_len = 4;
        return h;
    case 0xcb:
        h.fixed_len = 8;
        return h;
    case 0xcc:
    case 0xcd:
    case 0xce:
    case 0xcf: //  uint 8..64
        h.fixed_len = (size_t)1 << (b - 0xcc);
        return h;
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: //  int 8..64
        h.fixed_len = (size_t)1 << (b - 0xd0);
        return h;
    case 0xd4:
    case 0xd5:
    case 0xd6:
    case 0xd7:
    case 0xd8:
        //  fixext 1/2/4/8/16: a type byte and a fixed payload
        h.kind = S_BLOB;
        h.fixed_len = (size_t)1 << (b - 0xd4);
        h.extra = 1;
        return h;
    case 0xd9:
    case 0xda:
    case 0xdb: //  str 8/16/32
        h.kind = S_STRING;
        h.len_width = (size_t)1 << (b - 0xd9);
        return h;
    case 0xdc:
    case 0xdd: //  array 16/32
        h.kind = S_ARRAY;
        h.len_width = (size_t)2 << (b - 0xdc);
        return h;
    case 0xde:
    case 0xdf: //  map 16/32
        h.kind = S_MAP;
        h.len_width = (size_t)2 << (b - 0xde);
        return h;
    default:
        h.kind = S_INVALID; //  0xc1, never used
        return h;
    }
}

int
sb_mpk_validate (const void *data, size_t size, int max_depth, char *why, size_t why_size)
{
    if (!data || size == 0) {
        sb_why (why, why_size, "empty msgpack data");
        return -1;
    }
    if (max_depth < 0)
        max_depth = 0;

    //  Every open container took at least one byte, so the stack never
    //  needs more levels than there are bytes, whatever max_depth says
    size_t levels = (size_t)max_depth < size ? (size_t)max_depth : size;
    s_level_t local[S_LOCAL_DEPTH];
    s_level_t *stack = local;
    if (levels > S_LOCAL_DEPTH)
        stack = sb_malloc (sizeof (s_level_t) * levels);

    const uint8_t *p = data;
    size_t pos = 0;
    int depth = 0;     //  open containers
    uint64_t owed = 1; //  items still to read, across all levels
    int rc = -1;

    while (owed > 0) {
        if (pos >= size) {
            sb_why (why, why_size, "truncated msgpack at byte %zu", pos);
            goto done;
        }
        size_t start = pos;
        uint8_t b = p[pos++];
        s_head_t h = s_classify (b);
        if (h.kind == S_INVALID) {
            sb_why (why, why_size, "invalid msgpack byte 0x%02x at byte %zu", b, start);
            goto done;
        }
        //  In a map, an even number of remaining items means a key is next
        bool is_key = depth > 0 && stack[depth - 1].is_map && stack[depth - 1].remaining % 2 == 0;
        if (is_key && h.kind != S_STRING) {
            sb_why (why, why_size, "msgpack map key at byte %zu is not a string", start);
            goto done;
        }
        owed--;
        if (depth > 0)
            stack[depth - 1].remaining--;

        //  Length or count field
        uint64_t n = h.kind == S_ARRAY || h.kind == S_MAP ? h.count : h.fixed_len;
        if (h.len_width) {
            if (size - pos < h.len_width) {
                sb_why (why, why_size, "truncated msgpack at byte %zu", start);
                goto done;
            }
            n = s_load (p + pos, h.len_width);
            pos += h.len_width;
        }
        size_t left = size - pos;
        if (h.kind == S_ARRAY || h.kind == S_MAP) {
            uint64_t items = h.kind == S_MAP ? n * 2 : n;
            if (items > 0) {
                if (depth >= max_depth) {
                    sb_why (why, why_size, "msgpack nested deeper than %d levels", max_depth);
                    goto done;
                }
                //  Every owed item takes at least one byte, so a count that
                //  exceeds what is left is a lie, whatever follows
                if (items > left || owed + items > left) {
                    sb_why (why, why_size,
                           "msgpack %s at byte %zu claims %llu %s, more than the bytes left",
                           h.kind == S_MAP ? "map" : "array", start, (unsigned long long)n,
                           h.kind == S_MAP ? "entries" : "elements");
                    goto done;
                }
                owed += items;
                stack[depth].remaining = items;
                stack[depth].is_map = h.kind == S_MAP;
                depth++;
            }
            else if (depth + 1 > max_depth) {
                //  An empty container still counts as a level
                sb_why (why, why_size, "msgpack nested deeper than %d levels", max_depth);
                goto done;
            }
        }
        else {
            if (n + h.extra > left) {
                sb_why (why, why_size, "msgpack %s at byte %zu is truncated (%llu bytes claimed)",
                       h.kind == S_STRING ? "string"
                       : h.kind == S_BLOB ? "bin/ext"
                                          : "value",
                       start, (unsigned long long)n);
                goto done;
            }
            pos += h.extra + (size_t)n;
        }
        //  Close every container that this item completed
        while (depth > 0 && stack[depth - 1].remaining == 0)
            depth--;
    }
    if (pos != size) {
        sb_why (why, why_size, "%zu trailing bytes after the msgpack object", size - pos);
        goto done;
    }
    rc = 0;
done:
    if (stack != local)
        free (stack);
    return rc;
}

const msgpack_object *
sb_mpk_get (const msgpack_object *obj, const char *key)
{
    if (!obj || !key || obj->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t len = strlen (key);
    for (uint32_t i = 0; i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == len &&
            (len == 0 || memcmp (kv->key.via.str.ptr, key, len) == 0))
            return &kv->val;
    }
    return NULL;
}

bool
sb_mpk_str_eq (const msgpack_object *obj, const char *s)
{
    if (!obj || !s || obj->type != MSGPACK_OBJECT_STR)
        return false;
    size_t len = strlen (s);
    return obj->via.str.size == len && (len == 0 || memcmp (obj->via.str.ptr, s, len) == 0);
}

int
sb_mpk_copy_str (const msgpack_object *obj, char *buf, size_t size)
{
    if (!obj || !buf || size == 0 || obj->type != MSGPACK_OBJECT_STR)
        return -1;
    size_t len = obj->via.str.size;
    if (len >= size)
        return -1;
    if (len > 0 && memchr (obj->via.str.ptr, '\0', len))
        return -1;
    if (len > 0)
        memcpy (buf, obj->via.str.ptr, len);
    buf[len] = '\0';
    return 0;
}

char *
sb_mpk_strdup (const msgpack_object *obj)
{
    if (!obj || obj->type != MSGPACK_OBJECT_STR)
        return NULL;
    size_t len = obj->via.str.size;
    if (len > 0 && memchr (obj->via.str.ptr, '\0', len))
        return NULL;
    char *copy = sb_malloc (len + 1);
    if (len > 0)
        memcpy (copy, obj->via.str.ptr, len);
    copy[len] = '\0';
    return copy;
}

int
sb_mpk_int (const msgpack_object *obj, int64_t *value)
{
    if (!obj || !value)
        return -1;
    if (obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (obj->via.u64 > (uint64_t)INT64_MAX)
            return -1;
        *value = (int64_t)obj->via.u64;
        return 0;
    }
    if (obj->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *value = obj->via.i64;
        return 0;
    }
    return -1;
}

void
sb_mpk_pack_str (msgpack_packer *pk, const char *s)
{
    if (s)
        sb_mpk_pack_strn (pk, s, strlen (s));
    else
        msgpack_pack_nil (pk);
}

void
sb_mpk_pack_strn (msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str (pk, len);
    if (len > 0)
        msgpack_pack_str_body (pk, s, len);
}

void
sb_mpk_pack_kv_str (msgpack_packer *pk, const char *key, const char *value)
{
    sb_mpk_pack_str (pk, key);
    sb_mpk_pack_str (pk, value);
}

void
sb_mpk_pack_kv_int (msgpack_packer *pk, const char *key, int64_t value)
{
    sb_mpk_pack_str (pk, key);
    msgpack_pack_int64 (pk, value);
}

//  --------------------------------------------------------------------------
//  Selftest

static bool
s_valid (const char *bytes, size_t size, int max_depth)
{
    char why[128];
    return sb_mpk_validate (bytes, size, max_depth, why, sizeof (why)) == 0;
}

//  A valid object must be refused at every shorter length and with any byte
//  appended.
static bool
s_strict_prefixes (const char *bytes, size_t size)
{
    for (size_t len = 0; len < size; len++)
        if (s_valid (bytes, len, SB_MPK_MAX_DEPTH))
            return false;
    char *longer = sb_malloc (size + 1);
    memcpy (longer, bytes, size);
    longer[size] = '\0';
    bool refused = !s_valid (longer, size + 1, SB_MPK_MAX_DEPTH);
    free (longer);
    return refused;
}

#define S_BYTES(literal) literal, sizeof (literal) - 1

void
sb_mpk_test (bool verbose)
{
    if (verbose)
        printf (" * sb_mpk: ");

    //  Every format, well-formed; each also refused when cut short
    static const struct {
        const char *bytes;
        size_t size;
    } good[] = {
        {S_BYTES ("\x00")},
        {S_BYTES ("\x7f")},
        {S_BYTES ("\xe0")},
        {S_BYTES ("\xff")},
        {S_BYTES ("\xc0")},
        {S_BYTES ("\xc2")},
        {S_BYTES ("\xc3")},
        {S_BYTES ("\xcc\x01")},
        {S_BYTES ("\xcd\x01\x02")},
        {S_BYTES ("\xce\x01\x02\x03\x04")},
        {S_BYTES ("\xcf\x01\x02\x03\x04\x05\x06\x07\x08")},
        {S_BYTES ("\xd0\x80")},
        {S_BYTES ("\xd1\x01\x02")},
        {S_BYTES ("\xd2\x01\x02\x03\x04")},
        {S_BYTES ("\xd3\x01\x02\x03\x04\x05\x06\x07\x08")},
        {S_BYTES ("\xca\x3f\x80\x00\x00")},
        {S_BYTES ("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00")},
        {S_BYTES ("\xa0")},
        {S_BYTES ("\xa3"
                  "abc")},
        {S_BYTES ("\xd9\x02"
                  "ab")},
        {S_BYTES ("\xda\x00\x02"
                  "ab")},
        {S_BYTES ("\xdb\x00\x00\x00\x02"
                  "ab")},
        {S_BYTES ("\xc4\x02"
                  "ab")},
        {S_BYTES ("\xc5\x00\x02"
                  "ab")},
        {S_BYTES ("\xc6\x00\x00\x00\x02"
                  "ab")},
        {S_BYTES ("\xd4\x01"
                  "a")},
        {S_BYTES ("\xd5\x01"
                  "ab")},
        {S_BYTES ("\xd6\x01"
                  "abcd")},
        {S_BYTES ("\xd7\x01"
                  "abcdefgh")},
        {S_BYTES ("\xd8\x01"
                  "abcdefghijklmnop")},
        {S_BYTES ("\xc7\x02\x01"
                  "ab")},
        {S_BYTES ("\xc8\x00\x02\x01"
                  "ab")},
        {S_BYTES ("\xc9\x00\x00\x00\x02\x01"
                  "ab")},
        {S_BYTES ("\x90")},
        {S_BYTES ("\x80")},
        {S_BYTES ("\x93\x01\xc0\xa1x")},
        {S_BYTES ("\xdc\x00\x02\x01\x02")},
        {S_BYTES ("\xdd\x00\x00\x00\x02\x01\x02")},
        {S_BYTES ("\x82\xa1"
                  "a"
                  "\x01\xa1"
                  "b"
                  "\x91\x80")},
        {S_BYTES ("\xde\x00\x01\xa1"
                  "a"
                  "\x01")},
        {S_BYTES ("\xdf\x00\x00\x00\x01\xa1"
                  "a"
                  "\x01")},
        {S_BYTES ("\x81\xa1"
                  "k"
                  "\x81\xa1"
                  "j"
                  "\x92\x90\xc3")},
    };
    size_t good_count = sizeof (good) / sizeof (good[0]);
    size_t good_ok = 0, prefix_ok = 0;
    for (size_t i = 0; i < good_count; i++) {
        if (s_valid (good[i].bytes, good[i].size, SB_MPK_MAX_DEPTH))
            good_ok++;
        else
            fprintf (stderr, "mpk: good sample %zu refused\n", i);
        if (s_strict_prefixes (good[i].bytes, good[i].size))
            prefix_ok++;
        else
            fprintf (stderr, "mpk: sample %zu: a prefix or extension was accepted\n", i);
    }
    SB_CHECK (good_ok == good_count);
    SB_CHECK (prefix_ok == good_count);

    //  Each sample also agrees with msgpack-c
    size_t agree = 0;
    for (size_t i = 0; i < good_count; i++) {
        msgpack_unpacked u;
        msgpack_unpacked_init (&u);
        size_t off = 0;
        if (msgpack_unpack_next (&u, good[i].bytes, good[i].size, &off) == MSGPACK_UNPACK_SUCCESS &&
            off == good[i].size)
            agree++;
        msgpack_unpacked_destroy (&u);
    }
    SB_CHECK (agree == good_count);

    //  Whatever the validator accepts, msgpack-c unpacks completely: mutate
    //  a rich sample many times (deterministically) and compare
    static const char rich[] = "\x85\xa1"
                               "a"
                               "\x93\x01\xd0\x80\xcb\x3f\xf0\0\0\0\0\0\0"
                               "\xa1"
                               "b"
                               "\x82\xa1"
                               "c"
                               "\xc4\x02"
                               "xy"
                               "\xa1"
                               "d"
                               "\xd6\x01"
                               "abcd"
                               "\xa1"
                               "e"
                               "\xdc\x00\x02\xc2\xc0"
                               "\xa1"
                               "f"
                               "\xd9\x03"
                               "str"
                               "\xa1"
                               "g"
                               "\xde\x00\x01\xa0\x91\x90";
    uint64_t state = 0x9e3779b97f4a7c15ULL;
    int accepted = 0, agreed = 0;
    for (int round = 0; round < 4000; round++) {
        size_t size = sizeof (rich) - 1;
        char *data = sb_malloc (size);
        memcpy (data, rich, size);
        int edits = 1 + round % 3;
        for (int e = 0; e < edits; e++) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if (state % 7 == 0)
                size = (size_t)(state >> 8) % size + 1;
            else
                data[(state >> 8) % size] = (char)(state >> 32);
        }
        //  A fresh buffer of exactly size bytes, so ASan sees any overread
        char *exact = sb_malloc (size);
        memcpy (exact, data, size);
        free (data);
        if (s_valid (exact, size, SB_MPK_MAX_DEPTH)) {
            accepted++;
            msgpack_unpacked u;
            msgpack_unpacked_init (&u);
            size_t off = 0;
            if (msgpack_unpack_next (&u, exact, size, &off) == MSGPACK_UNPACK_SUCCESS &&
                off == size)
                agreed++;
            msgpack_unpacked_destroy (&u);
        }
        free (exact);
    }
    SB_CHECK (s_valid (rich, sizeof (rich) - 1, SB_MPK_MAX_DEPTH));
    SB_CHECK (accepted > 50);
    SB_CHECK (agreed == accepted);

    //  Refusals, with a reason
    char why[128] = "";
    SB_CHECK (sb_mpk_validate (NULL, 0, 4, why, sizeof (why)) == -1);
    SB_CHECK (sb_mpk_validate ("\xc1", 1, 4, why, sizeof (why)) == -1);
    SB_CHECK (strstr (why, "0xc1") != NULL);
    SB_CHECK (sb_mpk_validate ("\x91\xc1", 2, 4, why, sizeof (why)) == -1);
    SB_CHECK (sb_mpk_validate ("\xc0\xc0", 2, 4, why, sizeof (why)) == -1);
    SB_CHECK (strstr (why, "trailing") != NULL);
    SB_CHECK (sb_mpk_validate ("\x81\x01\x02", 3, 4, why, sizeof (why)) == -1);
    SB_CHECK (strstr (why, "not a string") != NULL);
    SB_CHECK (sb_mpk_validate ("\x81\xc4\x01k\x02", 5, 4, why, sizeof (why)) == -1);
    SB_CHECK (sb_mpk_validate ("\x81\xa1k\x81\x90\x01", 6, 4, why, sizeof (why)) == -1);
    //  Values in maps may be anything, including maps with string keys
    SB_CHECK (s_valid ("\x81\xa1k\x81\xa1j\x90", 7, 4));
    //  Lying lengths: caught at the header, no allocation
    SB_CHECK (sb_mpk_validate ("\xdd\xff\xff\xff\xff\x01\x02", 7, 4, why, sizeof (why)) == -1);
    SB_CHECK (strstr (why, "claims") != NULL);
    SB_CHECK (!s_valid ("\xdf\xff\xff\xff\xff\xa1k\x01", 8, 4));
    SB_CHECK (!s_valid ("\xdb\xff\xff\xff\xff"
                        "abc",
                        8, 4));
    SB_CHECK (!s_valid ("\xc6\xff\xff\xff\xff"
                        "abc",
                        8, 4));
    SB_CHECK (!s_valid ("\xc9\xff\xff\xff\xff\x01"
                        "abc",
                        9, 4));
    SB_CHECK (!s_valid ("\x92\x01", 2, 4));
    //  A map of n entries needs 2n bytes, not n
    SB_CHECK (!s_valid ("\x82\xa0\x01\xa0", 4, 4));
    //  Nested headers that each fit alone but not together
    SB_CHECK (!s_valid ("\x93\x93\x01\x01\x01", 5, 4));
    SB_CHECK (!s_valid ("\xd8\x01"
                        "abc",
                        5, 4));

    //  Depth: max_depth containers are fine, one more is refused
    char deep[40];
    memset (deep, 0x91, sizeof (deep));
    deep[32] = '\xc0';
    SB_CHECK (s_valid (deep, 33, 32));
    deep[32] = '\x90'; //  empty innermost array, depth 33
    SB_CHECK (!s_valid (deep, 33, 32));
    deep[32] = '\x91';
    deep[33] = '\xc0';
    SB_CHECK (sb_mpk_validate (deep, 34, 32, why, sizeof (why)) == -1);
    SB_CHECK (strstr (why, "deeper") != NULL);
    SB_CHECK (s_valid ("\x01", 1, 0));
    SB_CHECK (!s_valid ("\x90", 1, 0));
    SB_CHECK (!s_valid ("\x91\x90", 2, -3));
    //  A limit above the local stack takes the heap path
    char *deeper = sb_malloc (201);
    memset (deeper, 0x91, 200);
    deeper[200] = '\x01';
    SB_CHECK (s_valid (deeper, 201, 200));
    SB_CHECK (!s_valid (deeper, 201, 199));
    free (deeper);
    //  A huge limit costs no more than the data is long
    SB_CHECK (s_valid ("\x91\x91\x01", 3, 1 << 30));
    //  NULL why is tolerated
    SB_CHECK (sb_mpk_validate ("\xc1", 1, 4, NULL, 0) == -1);

    //  Getters
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 8);
    sb_mpk_pack_kv_str (&pk, "name", "switchboard");
    sb_mpk_pack_kv_int (&pk, "neg", -42);
    sb_mpk_pack_kv_int (&pk, "min", INT64_MIN);
    sb_mpk_pack_str (&pk, "big");
    msgpack_pack_uint64 (&pk, UINT64_MAX);
    sb_mpk_pack_kv_str (&pk, "nil", NULL);
    sb_mpk_pack_str (&pk, "nul");
    sb_mpk_pack_strn (&pk, "a\0b", 3);
    sb_mpk_pack_kv_str (&pk, "", "empty key");
    sb_mpk_pack_str (&pk, "real");
    msgpack_pack_double (&pk, 1.5);
    SB_CHECK (s_valid (buf.data, buf.size, SB_MPK_MAX_DEPTH));

    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    SB_CHECK (msgpack_unpack_next (&u, buf.data, buf.size, &off) == MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *map = &u.data;
    SB_CHECK (sb_mpk_str_eq (sb_mpk_get (map, "name"), "switchboard"));
    SB_CHECK (!sb_mpk_str_eq (sb_mpk_get (map, "name"), "switch"));
    SB_CHECK (!sb_mpk_str_eq (sb_mpk_get (map, "neg"), "-42"));
    SB_CHECK (sb_mpk_get (map, "missing") == NULL);
    SB_CHECK (sb_mpk_get (map, "nam") == NULL);
    SB_CHECK (sb_mpk_get (sb_mpk_get (map, "name"), "x") == NULL);
    SB_CHECK (sb_mpk_get (NULL, "x") == NULL);
    SB_CHECK (sb_mpk_str_eq (sb_mpk_get (map, ""), "empty key"));
    SB_CHECK (sb_mpk_get (map, "nil")->type == MSGPACK_OBJECT_NIL);

    int64_t value = 0;
    SB_CHECK (sb_mpk_int (sb_mpk_get (map, "neg"), &value) == 0 && value == -42);
    SB_CHECK (sb_mpk_int (sb_mpk_get (map, "min"), &value) == 0 && value == INT64_MIN);
    SB_CHECK (sb_mpk_int (sb_mpk_get (map, "big"), &value) == -1);
    SB_CHECK (sb_mpk_int (sb_mpk_get (map, "real"), &value) == -1);
    SB_CHECK (sb_mpk_int (sb_mpk_get (map, "name"), &value) == -1);
    SB_CHECK (sb_mpk_int (NULL, &value) == -1);

    char small[6];
    char large[32];
    SB_CHECK (sb_mpk_copy_str (sb_mpk_get (map, "name"), large, sizeof (large)) == 0);
    SB_CHECK (strcmp (large, "switchboard") == 0);
    SB_CHECK (sb_mpk_copy_str (sb_mpk_get (map, "name"), small, sizeof (small)) == -1);
    SB_CHECK (sb_mpk_copy_str (sb_mpk_get (map, "name"), large, 11) == -1);
    SB_CHECK (sb_mpk_copy_str (sb_mpk_get (map, "name"), large, 12) == 0);
    SB_CHECK (sb_mpk_copy_str (sb_mpk_get (map, "nul"), large, sizeof (large)) == -1);
    SB_CHECK (sb_mpk_copy_str (sb_mpk_get (map, "nil"), large, sizeof (large)) == -1);
    SB_CHECK (sb_mpk_copy_str (NULL, large, sizeof (large)) == -1);

    char *copy = sb_mpk_strdup (sb_mpk_get (map, "name"));
    SB_CHECK (copy && strcmp (copy, "switchboard") == 0);
    free (copy);
    SB_CHECK (sb_mpk_strdup (sb_mpk_get (map, "nul")) == NULL);
    SB_CHECK (sb_mpk_strdup (sb_mpk_get (map, "neg")) == NULL);
    SB_CHECK (sb_mpk_strdup (NULL) == NULL);

    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&buf);

    if (verbose)
        printf ("OK\n");
}
