/*  envelope.c — libFuzzer harness: the bus envelopes (sb/envelope.h).

    What a stranger controls: any peer on the bus can send any frame to the
    broker (sb_envelope_peek) and to a service or the gateway
    (sb_request_decode, sb_reply_decode); the gateway builds request heads
    from what an HTTP client sent (sb_envelope_encode_request). Every input
    is used twice. Properties checked:

      1. The bytes as a frame. Whatever a decoder accepts is one msgpack
         object that the harness's own walker (s_walk below, written from
         the msgpack spec, not from mpk.c) finds well formed, with no
         trailing byte, nested at most SB_MPK_MAX_DEPTH deep and with string
         keys only, and that sb_mpk_validate accepts too. A decoded request
         head obeys the documented field rules, judged by the harness's own
         checks (id, op, org/sub/key/sid/ip, idem, role, deadline, args a
         map); peek agrees with a full decode on id and deadline. A decoded
         reply has a status 100..599 and exactly one of body and error
         (a map with a non-empty string code and a string message).
         Encoding what was decoded and decoding again gives the same head,
         the same args, the same reply (compared as canonical msgpack).
      2. The bytes as the fields of a head (s_head_from): the encoder's
         frame is accepted exactly when the harness's own rules accept the
         fields, and then decodes to the same fields and arguments.

    A property that fails aborts (a crash for libFuzzer, with the input
    saved); so do ASan and UBSan findings and leaks.
*/
#include "sb/envelope.h"
#include "sb/mpk.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_fail (const char *what, size_t size)
{
    fprintf (stderr, "envelope harness: %s (input of %zu bytes)\n", what, size);
    abort ();
}

//  ---- an independent msgpack walker ---------------------------------------
//  Returns the bytes one object takes at p, or 0 when it is malformed, has
//  a key that is not a string, or nests deeper than limit containers. The
//  deepest nesting seen goes to *deepest.

static uint64_t
s_be (const uint8_t *p, int width)
{
    uint64_t n = 0;
    for (int i = 0; i < width; i++)
        n = n << 8 | p [i];
    return n;
}

static size_t
s_walk (const uint8_t *p, size_t size, int depth, int limit, int *deepest, bool key)
{
    if (size == 0 || depth > limit)
        return 0;
    uint8_t b = p [0];
    bool str = (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb);
    if (key && !str)
        return 0;
    uint64_t count = 0, len = 0;
    int width = 0;
    bool map = false, array = false;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return 1;
    if (b >= 0x80 && b <= 0x8f) { map = true; count = b & 0x0f; }
    else if (b >= 0x90 && b <= 0x9f) { array = true; count = b & 0x0f; }
    else if (b >= 0xa0 && b <= 0xbf) len = b & 0x1f;
    else if (b == 0xc4 || b == 0xd9) width = 1;
    else if (b == 0xc5 || b == 0xda) width = 2;
    else if (b == 0xc6 || b == 0xdb) width = 4;
    else if (b >= 0xc7 && b <= 0xc9) {
        //  ext 8/16/32: length, then a type byte, then the data
        width = b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4;
        if (size < 1 + (size_t) width)
            return 0;
        len = s_be (p + 1, width) + 1;
    }
    else if (b == 0xca) len = 4;
    else if (b == 0xcb) len = 8;
    else if (b >= 0xcc && b <= 0xcf) len = (uint64_t) 1 << (b - 0xcc);
    else if (b >= 0xd0 && b <= 0xd3) len = (uint64_t) 1 << (b - 0xd0);
    else if (b >= 0xd4 && b <= 0xd8) len = ((uint64_t) 1 << (b - 0xd4)) + 1;
    else if (b == 0xdc || b == 0xde) { width = 2; array = b == 0xdc; map = b == 0xde; }
    else if (b == 0xdd || b == 0xdf) { width = 4; array = b == 0xdd; map = b == 0xdf; }
    else
        return 0;                           //  0xc1, never used
    size_t used = 1 + (size_t) width;
    if (size < used)
        return 0;
    if (width && !(b >= 0xc7 && b <= 0xc9)) {
        if (map || array)
            count = s_be (p + 1, width);
        else
            len = s_be (p + 1, width);
    }
    if (!map && !array) {
        if (len > size - used)
            return 0;
        return used + (size_t) len;
    }
    //  A container is a level, empty or not
    if (depth + 1 > limit)
        return 0;
    if (depth + 1 > *deepest)
        *deepest = depth + 1;
    uint64_t items = map ? count * 2 : count;
    if (items > size - used)
        return 0;
    for (uint64_t i = 0; i < items; i++) {
        size_t one = s_walk (p + used, size - used, depth + 1, limit, deepest, map && i % 2 == 0);
        if (!one)
            return 0;
        used += one;
    }
    return used;
}

//  True when bytes hold exactly one object as the envelope allows.
static bool
s_well_formed (const uint8_t *p, size_t size)
{
    int deepest = 0;
    size_t used = s_walk (p, size, 0, SB_MPK_MAX_DEPTH, &deepest, false);
    return used != 0 && used == size && deepest <= SB_MPK_MAX_DEPTH;
}

//  ---- the documented field rules (envelope.h), written again ---------------

static bool
s_id_ok (const char *s)
{
    size_t n = strlen (s);
    if (n < 1 || n > SB_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-", s [i]))
            return false;
    return true;
}

static bool
s_op_ok (const char *s)
{
    size_t n = strlen (s);
    if (n < 3 || n > SB_OP_MAX || !(s [0] >= 'a' && s [0] <= 'z') || !strchr (s, '.'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr ("abcdefghijklmnopqrstuvwxyz0123456789_.", s [i]))
            return false;
    return true;
}

//  org, sub, key, sid, ip (max 64) and idem (max 255): printable ASCII,
//  space included (envelope.h).
static bool
s_field_ok (const char *s, size_t max)
{
    size_t n = strlen (s);
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s [i] < 0x20 || (unsigned char) s [i] > 0x7e)
            return false;
    return true;
}

static bool
s_head_ok (const sb_envelope_head_t *h)
{
    return s_id_ok (h->id) && s_op_ok (h->op) && s_field_ok (h->org, SB_FIELD_MAX)
           && s_field_ok (h->sub, SB_FIELD_MAX) && s_field_ok (h->key, SB_FIELD_MAX)
           && s_field_ok (h->sid, SB_FIELD_MAX) && s_field_ok (h->ip, SB_FIELD_MAX)
           && s_field_ok (h->idem, SB_IDEM_MAX) && h->role >= SB_ROLE_NONE
           && h->role <= SB_ROLE_OPERATOR && h->deadline > 0;
}

static bool
s_head_equal (const sb_envelope_head_t *a, const sb_envelope_head_t *b)
{
    return !strcmp (a->id, b->id) && !strcmp (a->op, b->op) && !strcmp (a->org, b->org)
           && !strcmp (a->sub, b->sub) && !strcmp (a->key, b->key) && !strcmp (a->sid, b->sid)
           && !strcmp (a->ip, b->ip) && !strcmp (a->idem, b->idem) && a->role == b->role
           && a->deadline == b->deadline;
}

//  Packs obj canonically into buf (cleared first).
static void
s_pack (msgpack_sbuffer *buf, const msgpack_object *obj)
{
    msgpack_sbuffer_clear (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_object (&pk, *obj);
}

static bool
s_same_object (const msgpack_object *a, const msgpack_object *b)
{
    msgpack_sbuffer x, y;
    msgpack_sbuffer_init (&x);
    msgpack_sbuffer_init (&y);
    s_pack (&x, a);
    s_pack (&y, b);
    bool same = x.size == y.size && (x.size == 0 || !memcmp (x.data, y.data, x.size));
    msgpack_sbuffer_destroy (&x);
    msgpack_sbuffer_destroy (&y);
    return same;
}

//  ---- 1. the bytes as a frame ----------------------------------------------

static void
s_request (const uint8_t *data, size_t size)
{
    sb_request_t request;
    char why [256];
    int rc = sb_request_decode (&request, data, size, why, sizeof (why));
    char peek_id [SB_ID_MAX + 1] = "";
    int64_t peek_deadline = 0;
    int peeked = sb_envelope_peek (data, size, peek_id, &peek_deadline);
    if (peeked == 0 && (!s_well_formed (data, size)
                        || sb_mpk_validate (data, size, SB_MPK_MAX_DEPTH, NULL, 0)))
        s_fail ("peek accepted a frame that is not well formed", size);
    if (peeked == 0 && (!s_id_ok (peek_id) || peek_deadline <= 0))
        s_fail ("peek gave an invalid id or deadline", size);
    if (!request.args || request.args->type != MSGPACK_OBJECT_MAP)
        s_fail ("args is not a map after decode", size);
    if (rc == 0) {
        if (size > SB_ENVELOPE_MAX_SIZE || !s_well_formed (data, size)
            || sb_mpk_validate (data, size, SB_MPK_MAX_DEPTH, NULL, 0))
            s_fail ("a request was accepted from bytes that are not well formed", size);
        if (!s_head_ok (&request.head))
            s_fail ("a decoded request head breaks the documented rules", size);
        if (peeked || strcmp (peek_id, request.head.id) || peek_deadline != request.head.deadline)
            s_fail ("peek disagrees with the full decode", size);
        //  Encode what was decoded; decode again: the same head and args.
        msgpack_sbuffer args, frame;
        msgpack_sbuffer_init (&args);
        msgpack_sbuffer_init (&frame);
        s_pack (&args, request.args);
        sb_envelope_encode_request (&frame, &request.head, args.data, args.size);
        sb_request_t again;
        if (sb_request_decode (&again, frame.data, frame.size, why, sizeof (why)))
            s_fail ("a re-encoded request is refused", size);
        if (!s_head_equal (&request.head, &again.head) || !s_same_object (request.args, again.args))
            s_fail ("decode -> encode -> decode changed the request", size);
        sb_request_release (&again);
        msgpack_sbuffer_destroy (&args);
        msgpack_sbuffer_destroy (&frame);
    }
    else
    if (why [0] == 0)
        s_fail ("a refused request has no reason", size);
    sb_request_release (&request);
}

static void
s_reply (const uint8_t *data, size_t size)
{
    sb_reply_msg_t reply;
    char why [256];
    if (sb_reply_decode (&reply, data, size, why, sizeof (why))) {
        if (why [0] == 0)
            s_fail ("a refused reply has no reason", size);
        sb_reply_msg_release (&reply);
        return;
    }
    if (!s_well_formed (data, size) || sb_mpk_validate (data, size, SB_MPK_MAX_DEPTH, NULL, 0))
        s_fail ("a reply was accepted from bytes that are not well formed", size);
    if (!s_id_ok (reply.id) || reply.status < 100 || reply.status > 599
        || !reply.body == !reply.error)
        s_fail ("a decoded reply breaks the documented rules", size);
    msgpack_sbuffer frame, raw;
    msgpack_sbuffer_init (&frame);
    msgpack_sbuffer_init (&raw);
    if (reply.body) {
        s_pack (&raw, reply.body);
        sb_envelope_encode_reply (&frame, reply.id, reply.status, raw.data, raw.size);
        sb_reply_msg_t again;
        if (sb_reply_decode (&again, frame.data, frame.size, why, sizeof (why)))
            s_fail ("a re-encoded reply is refused", size);
        if (strcmp (again.id, reply.id) || again.status != reply.status || !again.body
            || !s_same_object (again.body, reply.body))
            s_fail ("decode -> encode -> decode changed the reply", size);
        sb_reply_msg_release (&again);
    }
    else {
        const msgpack_object *code = sb_mpk_get (reply.error, "code");
        const msgpack_object *message = sb_mpk_get (reply.error, "message");
        if (!code || code->type != MSGPACK_OBJECT_STR || code->via.str.size == 0 || !message
            || message->type != MSGPACK_OBJECT_STR)
            s_fail ("a decoded error has no string code and message", size);
        //  Only C strings go back through the encoder.
        char *c = sb_mpk_strdup (code), *m = sb_mpk_strdup (message);
        if (c && m) {
            //  The extras: every entry but the first code and message.
            const msgpack_object_map *map = &reply.error->via.map;
            msgpack_packer pk;
            msgpack_packer_init (&pk, &raw, msgpack_sbuffer_write);
            msgpack_pack_map (&pk, map->size - 2);
            for (uint32_t i = 0; i < map->size; i++) {
                if (&map->ptr [i].val == code || &map->ptr [i].val == message)
                    continue;
                msgpack_pack_object (&pk, map->ptr [i].key);
                msgpack_pack_object (&pk, map->ptr [i].val);
            }
            sb_envelope_encode_error (&frame, reply.id, reply.status, c, m, raw.data, raw.size);
            //  Expected: code and message first, then the extras in order.
            msgpack_sbuffer expected;
            msgpack_sbuffer_init (&expected);
            msgpack_packer_init (&pk, &expected, msgpack_sbuffer_write);
            msgpack_pack_map (&pk, map->size);
            sb_mpk_pack_kv_str (&pk, "code", c);
            sb_mpk_pack_kv_str (&pk, "message", m);
            for (uint32_t i = 0; i < map->size; i++) {
                if (&map->ptr [i].val == code || &map->ptr [i].val == message)
                    continue;
                msgpack_pack_object (&pk, map->ptr [i].key);
                msgpack_pack_object (&pk, map->ptr [i].val);
            }
            sb_reply_msg_t again;
            if (sb_reply_decode (&again, frame.data, frame.size, why, sizeof (why)))
                s_fail ("a re-encoded error reply is refused", size);
            if (strcmp (again.id, reply.id) || again.status != reply.status || !again.error)
                s_fail ("decode -> encode -> decode changed the error reply", size);
            msgpack_sbuffer got;
            msgpack_sbuffer_init (&got);
            s_pack (&got, again.error);
            if (got.size != expected.size || memcmp (got.data, expected.data, got.size))
                s_fail ("decode -> encode -> decode changed the error object", size);
            msgpack_sbuffer_destroy (&got);
            msgpack_sbuffer_destroy (&expected);
            sb_reply_msg_release (&again);
        }
        free (c);
        free (m);
    }
    msgpack_sbuffer_destroy (&frame);
    msgpack_sbuffer_destroy (&raw);
    sb_reply_msg_release (&reply);
}

//  ---- 2. the bytes as the fields of a head ---------------------------------

typedef struct {
    const uint8_t *p;
    size_t left;
} s_cursor_t;

//  The next piece: one length byte (modulo cap + 1), then that many bytes.
static void
s_take (s_cursor_t *c, char *out, size_t cap)
{
    size_t n = 0;
    if (c->left) {
        n = c->p [0] % (cap + 1);
        c->p++, c->left--;
    }
    if (n > c->left)
        n = c->left;
    memcpy (out, c->p, n);
    out [n] = 0;
    c->p += n, c->left -= n;
}

static void
s_encoded (const uint8_t *data, size_t size)
{
    sb_envelope_head_t head;
    memset (&head, 0, sizeof (head));
    s_cursor_t c = { data, size };
    //  One byte more than each field allows, so that too long is tried.
    char piece [SB_IDEM_MAX + 2];
    s_take (&c, piece, SB_ID_MAX + 1);
    snprintf (head.id, sizeof (head.id), "%s", piece);
    bool too_long = strlen (piece) > SB_ID_MAX;
    s_take (&c, piece, SB_OP_MAX + 1);
    snprintf (head.op, sizeof (head.op), "%s", piece);
    too_long |= strlen (piece) > SB_OP_MAX;
    char *fields [] = { head.org, head.sub, head.key, head.sid, head.ip };
    for (int i = 0; i < 5; i++) {
        s_take (&c, fields [i], SB_FIELD_MAX);
    }
    s_take (&c, head.idem, SB_IDEM_MAX);
    uint8_t role = c.left ? c.p [0] : 0;
    if (c.left)
        c.p++, c.left--;
    head.role = (sb_role_t) (role % 5);
    uint8_t raw [8] = { 0 };
    size_t n = c.left < 8 ? c.left : 8;
    memcpy (raw, c.p, n);
    c.p += n, c.left -= n;
    head.deadline = (int64_t) s_be (raw, 8);
    //  What is left is the args: used when it is a well-formed map that
    //  fits one level down, else none (the encoder trusts its caller).
    const void *args = NULL;
    size_t args_size = 0;
    int deepest = 0;
    if (c.left && c.p [0] >= 0x80 && (c.p [0] <= 0x8f || c.p [0] == 0xde || c.p [0] == 0xdf)
        && s_walk (c.p, c.left, 0, SB_MPK_MAX_DEPTH - 1, &deepest, false) == c.left) {
        args = c.p;
        args_size = c.left;
    }
    msgpack_sbuffer frame;
    msgpack_sbuffer_init (&frame);
    sb_envelope_encode_request (&frame, &head, args, args_size);
    sb_request_t request;
    char why [256];
    int rc = sb_request_decode (&request, frame.data, frame.size, why, sizeof (why));
    bool expect = !too_long && s_head_ok (&head);
    if (expect && rc)
        s_fail ("an encoded request with valid fields is refused", size);
    if (!expect && rc == 0)
        s_fail ("an encoded request with invalid fields is accepted", size);
    if (rc == 0) {
        if (!s_head_equal (&head, &request.head))
            s_fail ("encode -> decode changed the head", size);
        msgpack_object expected = { .type = MSGPACK_OBJECT_MAP };
        msgpack_unpacked u;
        msgpack_unpacked_init (&u);
        size_t offset = 0;
        if (args) {
            if (msgpack_unpack_next (&u, args, args_size, &offset) != MSGPACK_UNPACK_SUCCESS)
                s_fail ("msgpack-c refuses args the walker took", size);
            expected = u.data;
        }
        if (!s_same_object (&expected, request.args))
            s_fail ("encode -> decode changed the args", size);
        msgpack_unpacked_destroy (&u);
    }
    sb_request_release (&request);
    msgpack_sbuffer_destroy (&frame);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_request (data, size);
    s_reply (data, size);
    s_encoded (data, size);
    return 0;
}
