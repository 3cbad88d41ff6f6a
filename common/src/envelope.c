/*  envelope.c — the msgpack request and reply envelopes that travel on the
    bus between the gateway, the broker and the services.

    Encoding is trusted: our own code builds the head, and the raw msgpack
    of the arguments, body or error extras is appended as is after the last
    key, so that a handler's reply is never unpacked and repacked.

    Decoding is not: a frame may come from any peer on the bus. It is size
    checked, walked by sb_mpk_validate (lengths, depth, string keys), then
    unpacked by msgpack-c and checked field by field. msgpack-c points string
    and bin objects into the buffer it unpacks, so the frame is first copied
    and the copy handed to the unpacked zone: a decoded request or reply owns
    everything it points to and outlives the frame it came from. Every
    failure leaves a short reason that names the field but never echoes its
    content, so it is safe to show a client.
*/

#include "sb/envelope.h"
#include "sb/err.h"
#include "sb/log.h"
#include "sb/mpk.h"
#include "sb/test.h"
#include "sb/util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  What a request without "args" gets: an empty map that is never freed.
static const msgpack_object s_empty_map = {.type = MSGPACK_OBJECT_MAP,
                                           .via.map = {.size = 0, .ptr = NULL}};

static int s_fail (char *why, size_t why_size, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Writes the reason and returns -1, for `return s_fail (why, ...)`.
static int
s_fail (char *why, size_t why_size, const char *format, ...)
{
    if (why && why_size > 0) {
        va_list args;
        va_start (args, format);
        vsnprintf (why, why_size, format, args);
        va_end (args);
    }
    return -1;
}

const char *
sb_role_name (sb_role_t role)
{
    switch (role) {
    case SB_ROLE_USER:
        return "user";
    case SB_ROLE_ADMIN:
        return "admin";
    case SB_ROLE_SERVICE:
        return "service";
    case SB_ROLE_OPERATOR:
        return "operator";
    default:
        return NULL;
    }
}

int
sb_role_parse (const char *name, sb_role_t *role)
{
    if (!name || !role)
        return -1;
    if (strcmp (name, "user") == 0)
        *role = SB_ROLE_USER;
    else if (strcmp (name, "admin") == 0)
        *role = SB_ROLE_ADMIN;
    else if (strcmp (name, "service") == 0)
        *role = SB_ROLE_SERVICE;
    else if (strcmp (name, "operator") == 0)
        *role = SB_ROLE_OPERATOR;
    else
        return -1;
    return 0;
}

bool
sb_envelope_id_valid (const char *id)
{
    if (!id)
        return false;
    size_t len = 0;
    for (const char *c = id; *c; c++, len++) {
        bool ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                  (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == ':' || *c == '-';
        if (!ok || len >= SB_ID_MAX)
            return false;
    }
    return len >= 1;
}

bool
sb_envelope_op_valid (const char *op)
{
    if (!op || !(*op >= 'a' && *op <= 'z'))
        return false;
    size_t len = 0;
    bool dot = false;
    for (const char *c = op; *c; c++, len++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.';
        if (!ok || len >= SB_OP_MAX)
            return false;
        if (*c == '.')
            dot = true;
    }
    return len >= 3 && dot;
}

//  --------------------------------------------------------------------------
//  Encoding

//  Packs a fixed-size head field, nil when empty. The length is bounded by
//  the array so that a head without its terminating NUL cannot be overread.
static void
s_pack_field (msgpack_packer *pk, const char *key, const char *value, size_t max)
{
    sb_mpk_pack_str (pk, key);
    size_t len = strnlen (value, max);
    if (len == 0)
        msgpack_pack_nil (pk);
    else
        sb_mpk_pack_strn (pk, value, len);
}

static void
s_append (msgpack_sbuffer *buf, const void *data, size_t size)
{
    //  msgpack_sbuffer_write fails only when out of memory, which aborts
    if (size > 0 && msgpack_sbuffer_write (buf, data, size) != 0)
        abort ();
}

void
sb_envelope_encode_request (msgpack_sbuffer *buf, const sb_envelope_head_t *head, const void *args,
                            size_t args_size)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, *head->idem ? 12 : 11);
    sb_mpk_pack_kv_int (&pk, "v", SB_ENVELOPE_VERSION);
    s_pack_field (&pk, "id", head->id, sizeof (head->id));
    s_pack_field (&pk, "op", head->op, sizeof (head->op));
    s_pack_field (&pk, "org", head->org, sizeof (head->org));
    s_pack_field (&pk, "sub", head->sub, sizeof (head->sub));
    sb_mpk_pack_kv_str (&pk, "role", sb_role_name (head->role));
    s_pack_field (&pk, "key", head->key, sizeof (head->key));
    s_pack_field (&pk, "sid", head->sid, sizeof (head->sid));
    s_pack_field (&pk, "ip", head->ip, sizeof (head->ip));
    if (*head->idem)
        s_pack_field (&pk, "idem", head->idem, sizeof (head->idem));
    sb_mpk_pack_kv_int (&pk, "deadline", head->deadline);
    //  args is the last key: its value is the caller's bytes, appended as is
    sb_mpk_pack_str (&pk, "args");
    if (args && args_size > 0)
        s_append (buf, args, args_size);
    else
        msgpack_pack_map (&pk, 0);
}

//  Packs the three keys every reply starts with; the caller adds the fourth.
static void
s_pack_reply_head (msgpack_packer *pk, const char *id, int status)
{
    msgpack_pack_map (pk, 4);
    sb_mpk_pack_kv_int (pk, "v", SB_ENVELOPE_VERSION);
    sb_mpk_pack_str (pk, "id");
    size_t len = id ? strnlen (id, SB_ID_MAX + 1) : 0;
    sb_mpk_pack_strn (pk, id ? id : "", len);
    sb_mpk_pack_kv_int (pk, "status", status);
}

void
sb_envelope_encode_reply (msgpack_sbuffer *buf, const char *id, int status, const void *body_raw,
                          size_t body_size)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    s_pack_reply_head (&pk, id, status);
    sb_mpk_pack_str (&pk, "body");
    if (body_raw && body_size > 0)
        s_append (buf, body_raw, body_size);
    else
        msgpack_pack_nil (&pk);
}

//  Reads the entry count and header length of a msgpack map header.
//  Returns 0, or -1 when the bytes do not start with a map header.
static int
s_map_header (const uint8_t *p, size_t size, uint32_t *count, size_t *header)
{
    if (size >= 1 && p[0] >= 0x80 && p[0] <= 0x8f) {
        *count = p[0] & 0x0f;
        *header = 1;
    }
    else if (size >= 3 && p[0] == 0xde) {
        *count = (uint32_t)p[1] << 8 | p[2];
        *header = 3;
    }
    else if (size >= 5 && p[0] == 0xdf) {
        *count = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
        *header = 5;
    }
    else
        return -1;
    return 0;
}

void
sb_envelope_encode_error (msgpack_sbuffer *buf, const char *id, int status, const char *code,
                          const char *message, const void *extra_raw, size_t extra_size)
{
    //  The extras come from our own code, but a malformed map would corrupt
    //  the whole reply for the client: check it and drop it if need be. Its
    //  entries land one level down, inside the error map.
    uint32_t extra_count = 0;
    size_t extra_header = 0;
    if (extra_raw && extra_size > 0) {
        char why[128];
        bool ok =
            sb_mpk_validate (extra_raw, extra_size, SB_MPK_MAX_DEPTH - 1, why, sizeof (why)) == 0;
        if (ok && (s_map_header (extra_raw, extra_size, &extra_count, &extra_header) ||
                   extra_count > UINT32_MAX - 2)) {
            snprintf (why, sizeof (why), "not a map");
            ok = false;
        }
        if (!ok) {
            sb_warn ("error reply extras dropped: %s", why);
            extra_count = 0;
            extra_raw = NULL;
        }
    }
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    s_pack_reply_head (&pk, id, status);
    sb_mpk_pack_str (&pk, "error");
    msgpack_pack_map (&pk, 2 + (size_t)extra_count);
    sb_mpk_pack_kv_str (&pk, "code", code ? code : SB_E_INTERNAL);
    sb_mpk_pack_kv_str (&pk, "message", message ? message : "");
    if (extra_raw && extra_count > 0)
        s_append (buf, (const uint8_t *)extra_raw + extra_header, extra_size - extra_header);
}

//  --------------------------------------------------------------------------
//  Decoding

//  Checks size and shape, then unpacks a private copy of the frame into u
//  (initialized by the caller). On failure u holds nothing.
static int
s_unpack (msgpack_unpacked *u, const void *data, size_t size, char *why, size_t why_size)
{
    if (!data || size == 0)
        return s_fail (why, why_size, "empty envelope");
    if (size > SB_ENVELOPE_MAX_SIZE)
        return s_fail (why, why_size, "envelope too large (%zu bytes, limit %d)", size,
                       SB_ENVELOPE_MAX_SIZE);
    char reason[160];
    if (sb_mpk_validate (data, size, SB_MPK_MAX_DEPTH, reason, sizeof (reason)))
        return s_fail (why, why_size, "malformed envelope: %s", reason);

    char *copy = sb_malloc (size);
    memcpy (copy, data, size);
    size_t offset = 0;
    msgpack_unpack_return rc = msgpack_unpack_next (u, copy, size, &offset);
    if (rc != MSGPACK_UNPACK_SUCCESS || offset != size) {
        //  Cannot happen after validation, unless out of memory
        msgpack_unpacked_destroy (u);
        free (copy);
        return s_fail (why, why_size, "malformed envelope: cannot unpack");
    }
    //  The zone frees the copy when the unpacked object is destroyed. A lone
    //  scalar gets no zone, but then nothing points into the copy either.
    if (!u->zone)
        free (copy);
    else if (!msgpack_zone_push_finalizer (u->zone, free, copy)) {
        msgpack_unpacked_destroy (u);
        free (copy);
        return s_fail (why, why_size, "out of memory unpacking envelope");
    }
    if (u->data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy (u);
        return s_fail (why, why_size, "envelope is not a map");
    }
    return 0;
}

//  Refuses a map in which one of the names appears more than once: two "org"
//  keys would let two readers of the same frame disagree. Unknown keys may
//  repeat; they are ignored anyway.
static int
s_check_duplicates (const msgpack_object *map, const char *const *names, char *why, size_t why_size)
{
    for (size_t n = 0; names[n]; n++) {
        int seen = 0;
        for (uint32_t i = 0; i < map->via.map.size; i++)
            if (sb_mpk_str_eq (&map->via.map.ptr[i].key, names[n]))
                seen++;
        if (seen > 1)
            return s_fail (why, why_size, "duplicate field '%s'", names[n]);
    }
    return 0;
}

static int
s_check_version (const msgpack_object *map, char *why, size_t why_size)
{
    const msgpack_object *v = sb_mpk_get (map, "v");
    if (!v)
        return s_fail (why, why_size, "missing field 'v'");
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 == 0)
        return s_fail (why, why_size, "field 'v' must be a positive integer");
    if (v->via.u64 != SB_ENVELOPE_VERSION)
        return s_fail (why, why_size, "unsupported envelope version %" PRIu64, v->via.u64);
    return 0;
}

static int
s_check_id (const msgpack_object *map, char id[SB_ID_MAX + 1], char *why, size_t why_size)
{
    const msgpack_object *obj = sb_mpk_get (map, "id");
    if (!obj)
        return s_fail (why, why_size, "missing field 'id'");
    if (obj->type != MSGPACK_OBJECT_STR)
        return s_fail (why, why_size, "field 'id' must be a string");
    if (sb_mpk_copy_str (obj, id, SB_ID_MAX + 1) || !sb_envelope_id_valid (id)) {
        id[0] = '\0';
        return s_fail (why, why_size,
                       "field 'id' must be 1 to %d characters of A-Z a-z 0-9 . _ : -", SB_ID_MAX);
    }
    return 0;
}

static int
s_check_op (const msgpack_object *map, char op[SB_OP_MAX + 1], char *why, size_t why_size)
{
    const msgpack_object *obj = sb_mpk_get (map, "op");
    if (!obj)
        return s_fail (why, why_size, "missing field 'op'");
    if (obj->type != MSGPACK_OBJECT_STR)
        return s_fail (why, why_size, "field 'op' must be a string");
    if (sb_mpk_copy_str (obj, op, SB_OP_MAX + 1) || !sb_envelope_op_valid (op)) {
        op[0] = '\0';
        return s_fail (why, why_size, "field 'op' is not a valid operation name");
    }
    return 0;
}

//  An optional string field of at most max bytes of printable ASCII (space
//  included) into value (max + 1 bytes); nil or absent leaves it empty.
//  Every such field is an identifier, an address or the client's
//  Idempotency-Key (the gateway takes only printable ASCII there): a byte
//  past 0x7e would reach a log line or a SQL setting as text that may not
//  even be UTF-8 (found by tests/fuzz/envelope.c: the check refused only
//  control characters).
static int
s_check_optional_max (const msgpack_object *map, const char *name, char *value, size_t max,
                      char *why, size_t why_size)
{
    value[0] = '\0';
    const msgpack_object *obj = sb_mpk_get (map, name);
    if (!obj || obj->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (obj->type != MSGPACK_OBJECT_STR)
        return s_fail (why, why_size, "field '%s' must be a string or nil", name);
    if (obj->via.str.size > max)
        return s_fail (why, why_size, "field '%s' is longer than %zu bytes", name, max);
    for (uint32_t i = 0; i < obj->via.str.size; i++) {
        unsigned char c = (unsigned char)obj->via.str.ptr[i];
        if (c < 0x20 || c == 0x7f)
            return s_fail (why, why_size, "field '%s' contains control characters", name);
        if (c > 0x7f)
            return s_fail (why, why_size, "field '%s' is not printable ASCII", name);
    }
    memcpy (value, obj->via.str.ptr, obj->via.str.size);
    value[obj->via.str.size] = '\0';
    return 0;
}

//  org, sub and key: absent or nil means empty; otherwise a short string
//  of printable ASCII, since it ends up in logs and SQL settings.
static int
s_check_optional (const msgpack_object *map, const char *name, char value[SB_FIELD_MAX + 1],
                  char *why, size_t why_size)
{
    return s_check_optional_max (map, name, value, SB_FIELD_MAX, why, why_size);
}

static int
s_check_role (const msgpack_object *map, sb_role_t *role, char *why, size_t why_size)
{
    *role = SB_ROLE_NONE;
    const msgpack_object *obj = sb_mpk_get (map, "role");
    if (!obj || obj->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (obj->type != MSGPACK_OBJECT_STR)
        return s_fail (why, why_size, "field 'role' must be a string or nil");
    char name[16];
    if (sb_mpk_copy_str (obj, name, sizeof (name)) || sb_role_parse (name, role))
        return s_fail (why, why_size, "field 'role' must be one of user, admin, service");
    return 0;
}

static int
s_check_deadline (const msgpack_object *map, int64_t *deadline, char *why, size_t why_size)
{
    const msgpack_object *obj = sb_mpk_get (map, "deadline");
    if (!obj)
        return s_fail (why, why_size, "missing field 'deadline'");
    if (sb_mpk_int (obj, deadline) || *deadline <= 0) {
        *deadline = 0;
        return s_fail (why, why_size, "field 'deadline' must be a positive integer");
    }
    return 0;
}

static const char *const s_request_fields[] = {"v",   "id",  "op", "org",  "sub",      "role",
                                               "key", "sid", "ip", "idem", "deadline", "args",
                                               NULL};

//  Checks every field of a request map and fills head and args.
static int
s_check_request (const msgpack_object *map, sb_envelope_head_t *head, const msgpack_object **args,
                 char *why, size_t why_size)
{
    if (s_check_duplicates (map, s_request_fields, why, why_size) ||
        s_check_version (map, why, why_size) || s_check_id (map, head->id, why, why_size) ||
        s_check_op (map, head->op, why, why_size) ||
        s_check_optional (map, "org", head->org, why, why_size) ||
        s_check_optional (map, "sub", head->sub, why, why_size) ||
        s_check_optional (map, "key", head->key, why, why_size) ||
        s_check_optional (map, "sid", head->sid, why, why_size) ||
        s_check_optional (map, "ip", head->ip, why, why_size) ||
        s_check_optional_max (map, "idem", head->idem, SB_IDEM_MAX, why, why_size) ||
        s_check_role (map, &head->role, why, why_size) ||
        s_check_deadline (map, &head->deadline, why, why_size))
        return -1;

    const msgpack_object *obj = sb_mpk_get (map, "args");
    if (!obj)
        *args = &s_empty_map;
    else if (obj->type == MSGPACK_OBJECT_MAP)
        *args = obj;
    else
        return s_fail (why, why_size, "field 'args' must be a map");
    return 0;
}

int
sb_request_decode (sb_request_t *self, const void *data, size_t size, char *why, size_t why_size)
{
    memset (&self->head, 0, sizeof (self->head));
    self->args = &s_empty_map;
    msgpack_unpacked_init (&self->unpacked);
    if (why && why_size > 0)
        why[0] = '\0';

    if (s_unpack (&self->unpacked, data, size, why, why_size))
        return -1;
    if (s_check_request (&self->unpacked.data, &self->head, &self->args, why, why_size)) {
        sb_request_release (self);
        return -1;
    }
    return 0;
}

void
sb_request_release (sb_request_t *self)
{
    if (!self)
        return;
    msgpack_unpacked_destroy (&self->unpacked);
    memset (&self->head, 0, sizeof (self->head));
    self->args = &s_empty_map;
}

int
sb_envelope_peek (const void *data, size_t size, char id[SB_ID_MAX + 1], int64_t *deadline)
{
    //  The same checks as a full decode for what the broker reads, without
    //  copying the frame: nothing here outlives the call
    if (!data || size == 0 || size > SB_ENVELOPE_MAX_SIZE ||
        sb_mpk_validate (data, size, SB_MPK_MAX_DEPTH, NULL, 0))
        return -1;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t offset = 0;
    int rc = -1;
    char found_id[SB_ID_MAX + 1] = "";
    int64_t found_deadline = 0;
    if (msgpack_unpack_next (&u, data, size, &offset) == MSGPACK_UNPACK_SUCCESS && offset == size &&
        u.data.type == MSGPACK_OBJECT_MAP &&
        s_check_duplicates (&u.data, s_request_fields, NULL, 0) == 0 &&
        s_check_version (&u.data, NULL, 0) == 0 && s_check_id (&u.data, found_id, NULL, 0) == 0 &&
        s_check_deadline (&u.data, &found_deadline, NULL, 0) == 0)
        rc = 0;
    msgpack_unpacked_destroy (&u);
    if (rc == 0) {
        if (id)
            memcpy (id, found_id, sizeof (found_id));
        if (deadline)
            *deadline = found_deadline;
    }
    return rc;
}

static const char *const s_reply_fields[] = {"v",    "id",    "status", "replayed",
                                             "body", "error", NULL};

static int
s_check_reply (sb_reply_msg_t *self, char *why, size_t why_size)
{
    const msgpack_object *map = &self->unpacked.data;
    if (s_check_duplicates (map, s_reply_fields, why, why_size) ||
        s_check_version (map, why, why_size) || s_check_id (map, self->id, why, why_size))
        return -1;

    const msgpack_object *status = sb_mpk_get (map, "status");
    if (!status)
        return s_fail (why, why_size, "missing field 'status'");
    if (status->type != MSGPACK_OBJECT_POSITIVE_INTEGER || status->via.u64 < 100 ||
        status->via.u64 > 599)
        return s_fail (why, why_size, "field 'status' must be an integer from 100 to 599");

    const msgpack_object *body = sb_mpk_get (map, "body");
    const msgpack_object *error = sb_mpk_get (map, "error");
    if (body && error)
        return s_fail (why, why_size, "reply has both 'body' and 'error'");
    if (!body && !error)
        return s_fail (why, why_size, "reply has neither 'body' nor 'error'");
    if (error) {
        if (error->type != MSGPACK_OBJECT_MAP)
            return s_fail (why, why_size, "field 'error' must be a map");
        const msgpack_object *code = sb_mpk_get (error, "code");
        const msgpack_object *message = sb_mpk_get (error, "message");
        if (!code || code->type != MSGPACK_OBJECT_STR || code->via.str.size == 0)
            return s_fail (why, why_size, "field 'error.code' must be a non-empty string");
        if (!message || message->type != MSGPACK_OBJECT_STR)
            return s_fail (why, why_size, "field 'error.message' must be a string");
    }
    const msgpack_object *replayed = sb_mpk_get (map, "replayed");
    if (replayed && replayed->type != MSGPACK_OBJECT_BOOLEAN)
        return s_fail (why, why_size, "field 'replayed' must be a boolean");
    self->replayed = replayed && replayed->via.boolean;
    self->status = (int)status->via.u64;
    self->body = body;
    self->error = error;
    return 0;
}

int
sb_reply_decode (sb_reply_msg_t *self, const void *data, size_t size, char *why, size_t why_size)
{
    self->id[0] = '\0';
    self->status = 0;
    self->replayed = false;
    self->body = NULL;
    self->error = NULL;
    msgpack_unpacked_init (&self->unpacked);
    if (why && why_size > 0)
        why[0] = '\0';

    if (s_unpack (&self->unpacked, data, size, why, why_size))
        return -1;
    if (s_check_reply (self, why, why_size)) {
        sb_reply_msg_release (self);
        return -1;
    }
    return 0;
}

void
sb_reply_msg_release (sb_reply_msg_t *self)
{
    if (!self)
        return;
    msgpack_unpacked_destroy (&self->unpacked);
    self->id[0] = '\0';
    self->status = 0;
    self->body = NULL;
    self->error = NULL;
}

//  --------------------------------------------------------------------------
//  Selftest

#define S_BYTES(literal) literal, sizeof (literal) - 1

typedef struct {
    const char *name;
    const char *raw; //  msgpack bytes of the value
    size_t size;
} s_field_t;

//  A good request and a good reply, field by field, in encoder order
static const s_field_t s_test_request[] = {
    {"v", S_BYTES ("\x01")},
    {"id", S_BYTES ("\xa5"
                    "req-1")},
    {"op", S_BYTES ("\xab"
                    "things.list")},
    {"org", S_BYTES ("\xa5"
                     "org-1")},
    {"sub", S_BYTES ("\xa6"
                     "user-1")},
    {"role", S_BYTES ("\xa5"
                      "admin")},
    {"key", S_BYTES ("\xc0")},
    {"deadline", S_BYTES ("\xcf\x00\x00\x01\x8b\xcf\xe5\x68\x00")}, //  1700000000000
    {"args", S_BYTES ("\x81\xa1"
                      "a"
                      "\x01")},
    {NULL, NULL, 0}};

static const s_field_t s_test_reply[] = {{"v", S_BYTES ("\x01")},
                                         {"id", S_BYTES ("\xa5"
                                                         "req-1")},
                                         {"status", S_BYTES ("\xcc\xc8")},
                                         {"body", S_BYTES ("\x81\xa2"
                                                           "ok"
                                                           "\xc3")},
                                         {NULL, NULL, 0}};

//  Builds a map from fields into buf (cleared first). When append is false
//  the field called name gets the value raw, or is left out when raw is
//  NULL; when append is true, name and raw are added as one more entry.
static void
s_build (msgpack_sbuffer *buf, const s_field_t *fields, const char *name, const char *raw,
         size_t size, bool append)
{
    msgpack_sbuffer_clear (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    size_t count = 0;
    for (const s_field_t *f = fields; f->name; f++)
        if (append || !name || strcmp (f->name, name) != 0 || raw)
            count++;
    msgpack_pack_map (&pk, count + (append ? 1 : 0));
    for (const s_field_t *f = fields; f->name; f++) {
        if (!append && name && strcmp (f->name, name) == 0) {
            if (raw) {
                sb_mpk_pack_str (&pk, f->name);
                s_append (buf, raw, size);
            }
        }
        else {
            sb_mpk_pack_str (&pk, f->name);
            s_append (buf, f->raw, f->size);
        }
    }
    if (append) {
        sb_mpk_pack_str (&pk, name);
        s_append (buf, raw, size);
    }
}

//  Decodes buf as a request; true when the outcome is as expected and, for
//  a refusal, the reason contains expect.
static bool
s_request_outcome (const msgpack_sbuffer *buf, bool accept, const char *expect)
{
    sb_request_t request;
    char why[256] = "unset";
    int rc = sb_request_decode (&request, buf->data, buf->size, why, sizeof (why));
    bool ok = accept ? rc == 0 : rc == -1 && expect && strstr (why, expect) != NULL;
    //  Whatever happened, args is a map and release is safe
    ok = ok && request.args && request.args->type == MSGPACK_OBJECT_MAP;
    if (!ok)
        fprintf (stderr, "envelope: request rc=%d why='%s' (expected %s '%s')\n", rc, why,
                 accept ? "accept" : "refuse", expect ? expect : "");
    sb_request_release (&request);
    return ok;
}

static bool
s_request_case (const char *name, const char *raw, size_t size, bool append, bool accept,
                const char *expect)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_build (&buf, s_test_request, name, raw, size, append);
    bool ok = s_request_outcome (&buf, accept, expect);
    if (!ok)
        fprintf (stderr, "envelope: request case '%s' failed\n", name);
    msgpack_sbuffer_destroy (&buf);
    return ok;
}

static bool
s_reply_case (const char *name, const char *raw, size_t size, bool append, bool accept,
              const char *expect)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    s_build (&buf, s_test_reply, name, raw, size, append);
    sb_reply_msg_t reply;
    char why[256] = "unset";
    int rc = sb_reply_decode (&reply, buf.data, buf.size, why, sizeof (why));
    bool ok = accept ? rc == 0 : rc == -1 && expect && strstr (why, expect) != NULL;
    if (rc == 0)
        ok = ok && (reply.body == NULL) != (reply.error == NULL);
    else
        ok = ok && reply.body == NULL && reply.error == NULL;
    if (!ok)
        fprintf (stderr, "envelope: reply case '%s' rc=%d why='%s'\n", name, rc, why);
    sb_reply_msg_release (&reply);
    msgpack_sbuffer_destroy (&buf);
    return ok;
}

//  Every proper prefix of a good frame is refused by both decoders and peek.
static bool
s_prefixes_refused (const char *data, size_t size)
{
    for (size_t len = 0; len < size; len++) {
        //  A fresh allocation of exactly len bytes, so ASan sees any overread
        char *cut = sb_malloc (len ? len : 1);
        memcpy (cut, data, len);
        sb_request_t request;
        sb_reply_msg_t reply;
        char id[SB_ID_MAX + 1];
        int64_t deadline;
        char why[256];
        bool refused = sb_request_decode (&request, cut, len, why, sizeof (why)) == -1 &&
                       sb_reply_decode (&reply, cut, len, why, sizeof (why)) == -1 &&
                       sb_envelope_peek (cut, len, id, &deadline) == -1;
        sb_request_release (&request);
        sb_reply_msg_release (&reply);
        free (cut);
        if (!refused) {
            fprintf (stderr, "envelope: prefix of %zu bytes accepted\n", len);
            return false;
        }
    }
    return true;
}

//  Feeds mutated and random frames to both decoders and peek; returns the
//  number of results that broke an invariant.
static int
s_fuzz (const msgpack_sbuffer *const *seeds, size_t seed_count, int rounds, int *accepted)
{
    uint64_t state = 0x5b0a4d5eedULL;
    int broken = 0;
    for (int round = 0; round < rounds; round++) {
        const msgpack_sbuffer *seed = seeds[sb_test_rand (&state) % seed_count];
        size_t size = seed->size;
        size_t cap = size + 64;
        uint8_t *data = sb_malloc (cap);
        memcpy (data, seed->data, size);
        unsigned mode = (unsigned)(sb_test_rand (&state) % 8);
        if (mode == 0) {
            //  pure noise, often starting with a map header
            size = (size_t)(sb_test_rand (&state) % 64);
            for (size_t i = 0; i < size; i++)
                data[i] = (uint8_t)sb_test_rand (&state);
            if (size > 0 && sb_test_rand (&state) % 2)
                data[0] = (uint8_t)(0x80 | (sb_test_rand (&state) % 16));
        }
        else {
            int edits = 1 + (int)(sb_test_rand (&state) % 4);
            for (int e = 0; e < edits && size > 0; e++) {
                size_t at = (size_t)(sb_test_rand (&state) % size);
                switch (sb_test_rand (&state) % 5) {
                case 0:
                    data[at] = (uint8_t)sb_test_rand (&state);
                    break;
                case 1:
                    data[at] ^= (uint8_t)(1u << (sb_test_rand (&state) % 8));
                    break;
                case 2:
                    size = at; //  truncate
                    break;
                case 3:
                    if (size < cap) { //  insert a byte
                        memmove (data + at + 1, data + at, size - at);
                        data[at] = (uint8_t)sb_test_rand (&state);
                        size++;
                    }
                    break;
                default: {
                    //  plant a length byte that lies
                    static const uint8_t liars[] = {0xdc, 0xdd, 0xde, 0xdf, 0xdb,
                                                    0xc6, 0xc9, 0x9f, 0x8f, 0xbf};
                    data[at] = liars[sb_test_rand (&state) % sizeof (liars)];
                    break;
                }
                }
            }
        }
        //  Exactly size bytes, so that ASan catches any overread
        uint8_t *frame = sb_malloc (size ? size : 1);
        memcpy (frame, data, size);
        free (data);

        char why[256];
        sb_request_t request;
        int rc = sb_request_decode (&request, frame, size, why, sizeof (why));
        if (rc == 0) {
            (*accepted)++;
            if (!sb_envelope_id_valid (request.head.id) ||
                !sb_envelope_op_valid (request.head.op) || request.head.deadline <= 0 ||
                request.args->type != MSGPACK_OBJECT_MAP)
                broken++;
        }
        else if (rc != -1 || why[0] == '\0')
            broken++;
        sb_request_release (&request);

        sb_reply_msg_t reply;
        rc = sb_reply_decode (&reply, frame, size, why, sizeof (why));
        if (rc == 0) {
            (*accepted)++;
            if (reply.status < 100 || reply.status > 599 ||
                (reply.body == NULL) == (reply.error == NULL))
                broken++;
        }
        else if (rc != -1 || why[0] == '\0')
            broken++;
        sb_reply_msg_release (&reply);

        char id[SB_ID_MAX + 1];
        int64_t deadline = 0;
        if (sb_envelope_peek (frame, size, id, &deadline) == 0 &&
            (!sb_envelope_id_valid (id) || deadline <= 0))
            broken++;
        free (frame);
    }
    return broken;
}

void
sb_envelope_test (bool verbose)
{
    if (verbose)
        printf (" * sb_envelope: ");

    //  Roles
    sb_role_t role = SB_ROLE_NONE;
    SB_CHECK (sb_role_parse ("admin", &role) == 0 && role == SB_ROLE_ADMIN);
    SB_CHECK (sb_role_parse ("user", &role) == 0 && role == SB_ROLE_USER);
    SB_CHECK (sb_role_parse ("service", &role) == 0 && role == SB_ROLE_SERVICE);
    SB_CHECK (sb_role_parse ("Admin", &role) == -1 && role == SB_ROLE_SERVICE);
    SB_CHECK (sb_role_parse ("", &role) == -1);
    SB_CHECK (sb_role_parse (NULL, &role) == -1);
    SB_CHECK (sb_role_name (SB_ROLE_NONE) == NULL);
    SB_CHECK (strcmp (sb_role_name (SB_ROLE_ADMIN), "admin") == 0);
    SB_CHECK (strcmp (sb_role_name (SB_ROLE_USER), "user") == 0);
    SB_CHECK (strcmp (sb_role_name (SB_ROLE_SERVICE), "service") == 0);
    SB_CHECK (sb_role_name ((sb_role_t)42) == NULL);

    //  Ids and operation names
    char long_id[SB_ID_MAX + 2];
    memset (long_id, 'a', sizeof (long_id));
    long_id[SB_ID_MAX] = '\0';
    SB_CHECK (sb_envelope_id_valid (long_id));
    long_id[SB_ID_MAX] = 'a';
    long_id[SB_ID_MAX + 1] = '\0';
    SB_CHECK (!sb_envelope_id_valid (long_id));
    SB_CHECK (sb_envelope_id_valid ("a"));
    SB_CHECK (sb_envelope_id_valid ("Req-1.2_3:4"));
    SB_CHECK (sb_envelope_id_valid ("0f8fad5b-d9cb-469f-a165-70867728950e"));
    SB_CHECK (!sb_envelope_id_valid (""));
    SB_CHECK (!sb_envelope_id_valid (NULL));
    SB_CHECK (!sb_envelope_id_valid ("a b"));
    SB_CHECK (!sb_envelope_id_valid ("a/b"));
    SB_CHECK (!sb_envelope_id_valid ("caf\xc3\xa9"));
    SB_CHECK (!sb_envelope_id_valid ("a\nb"));
    SB_CHECK (sb_envelope_op_valid ("businesses.list"));
    SB_CHECK (sb_envelope_op_valid ("a.b"));
    SB_CHECK (sb_envelope_op_valid ("usage.record_2"));
    SB_CHECK (!sb_envelope_op_valid ("a."));
    SB_CHECK (!sb_envelope_op_valid ("ab"));
    SB_CHECK (!sb_envelope_op_valid ("things"));
    SB_CHECK (!sb_envelope_op_valid ("Things.list"));
    SB_CHECK (!sb_envelope_op_valid ("1things.list"));
    SB_CHECK (!sb_envelope_op_valid (".things.list"));
    SB_CHECK (!sb_envelope_op_valid ("things-list.x"));
    SB_CHECK (!sb_envelope_op_valid ("things list"));
    SB_CHECK (!sb_envelope_op_valid (""));
    SB_CHECK (!sb_envelope_op_valid (NULL));
    char long_op[SB_OP_MAX + 2];
    memset (long_op, 'a', sizeof (long_op));
    long_op[1] = '.';
    long_op[SB_OP_MAX] = '\0';
    SB_CHECK (sb_envelope_op_valid (long_op));
    long_op[SB_OP_MAX] = 'a';
    long_op[SB_OP_MAX + 1] = '\0';
    SB_CHECK (!sb_envelope_op_valid (long_op));

    //  Request round trip, every field set
    sb_envelope_head_t head;
    memset (&head, 0, sizeof (head));
    strcpy (head.id, "req-42");
    strcpy (head.op, "businesses.list");
    strcpy (head.org, "2f1e6a3c-0000-4000-8000-000000000001");
    strcpy (head.sub, "user:7");
    strcpy (head.key, "key_abc");
    head.role = SB_ROLE_ADMIN;
    head.deadline = 1700000000123;

    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    sb_mpk_pack_kv_int (&pk, "n", -7);
    sb_mpk_pack_str (&pk, "list");
    msgpack_pack_array (&pk, 2);
    msgpack_pack_int (&pk, 1);
    sb_mpk_pack_str (&pk, "two");

    msgpack_sbuffer frame;
    msgpack_sbuffer_init (&frame);
    sb_envelope_encode_request (&frame, &head, args.data, args.size);
    char why[256] = "";
    sb_request_t request;
    SB_CHECK (sb_request_decode (&request, frame.data, frame.size, why, sizeof (why)) == 0);
    //  The request owns its data: overwrite and free the frame first
    memset (frame.data, 0xc1, frame.size);
    msgpack_sbuffer_destroy (&frame);
    SB_CHECK (strcmp (request.head.id, "req-42") == 0);
    SB_CHECK (strcmp (request.head.op, "businesses.list") == 0);
    SB_CHECK (strcmp (request.head.org, head.org) == 0);
    SB_CHECK (strcmp (request.head.sub, "user:7") == 0);
    SB_CHECK (strcmp (request.head.key, "key_abc") == 0);
    SB_CHECK (request.head.role == SB_ROLE_ADMIN);
    SB_CHECK (request.head.deadline == 1700000000123);
    SB_CHECK (request.args->type == MSGPACK_OBJECT_MAP && request.args->via.map.size == 2);
    int64_t n = 0;
    SB_CHECK (sb_mpk_int (sb_mpk_get (request.args, "n"), &n) == 0 && n == -7);
    const msgpack_object *list = sb_mpk_get (request.args, "list");
    SB_CHECK (list && list->type == MSGPACK_OBJECT_ARRAY && list->via.array.size == 2 &&
              sb_mpk_str_eq (&list->via.array.ptr[1], "two"));
    //  Keys in the documented order, args last
    static const char *const request_order[] = {"v",   "id",  "op", "org",      "sub", "role",
                                                "key", "sid", "ip", "deadline", "args"};
    const msgpack_object *top = &request.unpacked.data;
    bool in_order = top->via.map.size == 11;
    for (uint32_t i = 0; in_order && i < 11; i++)
        in_order = sb_mpk_str_eq (&top->via.map.ptr[i].key, request_order[i]);
    SB_CHECK (in_order);
    SB_CHECK (request.head.idem[0] == '\0' && !sb_mpk_get (top, "idem"));
    sb_request_release (&request);
    SB_CHECK (request.args == &s_empty_map);
    sb_request_release (&request); //  twice is harmless

    //  An Idempotency-Key travels as "idem" only when set, up to 255 bytes
    memset (head.idem, 'k', SB_IDEM_MAX);
    msgpack_sbuffer_init (&frame);
    sb_envelope_encode_request (&frame, &head, args.data, args.size);
    SB_CHECK (sb_request_decode (&request, frame.data, frame.size, why, sizeof (why)) == 0);
    SB_CHECK (strlen (request.head.idem) == SB_IDEM_MAX && request.head.idem[0] == 'k');
    SB_CHECK (request.unpacked.data.via.map.size == 12);
    sb_request_release (&request);
    msgpack_sbuffer_destroy (&frame);
    memset (head.idem, 0, sizeof (head.idem));

    //  Empty fields travel as nil; no args means an empty map
    memset (&head, 0, sizeof (head));
    strcpy (head.id, "r");
    strcpy (head.op, "a.b");
    head.deadline = 1;
    msgpack_sbuffer_init (&frame);
    sb_envelope_encode_request (&frame, &head, NULL, 0);
    SB_CHECK (sb_request_decode (&request, frame.data, frame.size, why, sizeof (why)) == 0);
    SB_CHECK (request.head.org[0] == '\0' && request.head.sub[0] == '\0' &&
              request.head.key[0] == '\0' && request.head.role == SB_ROLE_NONE);
    SB_CHECK (request.args->type == MSGPACK_OBJECT_MAP && request.args->via.map.size == 0);
    top = &request.unpacked.data;
    SB_CHECK (sb_mpk_get (top, "org")->type == MSGPACK_OBJECT_NIL);
    SB_CHECK (sb_mpk_get (top, "sub")->type == MSGPACK_OBJECT_NIL);
    SB_CHECK (sb_mpk_get (top, "key")->type == MSGPACK_OBJECT_NIL);
    SB_CHECK (sb_mpk_get (top, "role")->type == MSGPACK_OBJECT_NIL);
    sb_request_release (&request);

    //  Peek agrees with the full decode
    char id[SB_ID_MAX + 1] = "";
    int64_t deadline = 0;
    SB_CHECK (sb_envelope_peek (frame.data, frame.size, id, &deadline) == 0);
    SB_CHECK (strcmp (id, "r") == 0 && deadline == 1);
    SB_CHECK (sb_envelope_peek (frame.data, frame.size, NULL, NULL) == 0);
    SB_CHECK (sb_envelope_peek (NULL, 0, id, &deadline) == -1);
    SB_CHECK (s_prefixes_refused (frame.data, frame.size));
    msgpack_sbuffer_destroy (&frame);

    //  A head without its terminating NUL is cut at the array's end and
    //  then refused as too long, never overread
    memset (&head, 0, sizeof (head));
    memset (head.id, 'x', sizeof (head.id));
    strcpy (head.op, "a.b");
    head.deadline = 1;
    msgpack_sbuffer_init (&frame);
    sb_envelope_encode_request (&frame, &head, NULL, 0);
    SB_CHECK (sb_request_decode (&request, frame.data, frame.size, why, sizeof (why)) == -1);
    SB_CHECK (strstr (why, "field 'id'") != NULL);
    sb_request_release (&request);
    msgpack_sbuffer_destroy (&frame);

    //  The hand-built good request is accepted, and peek reads it
    msgpack_sbuffer_init (&frame);
    s_build (&frame, s_test_request, NULL, NULL, 0, false);
    SB_CHECK (s_request_outcome (&frame, true, NULL));
    SB_CHECK (sb_envelope_peek (frame.data, frame.size, id, &deadline) == 0);
    SB_CHECK (strcmp (id, "req-1") == 0 && deadline == 1700000000000);
    SB_CHECK (s_prefixes_refused (frame.data, frame.size));

    //  Trailing bytes
    s_append (&frame, "\xc0", 1);
    SB_CHECK (s_request_outcome (&frame, false, "trailing"));
    SB_CHECK (sb_envelope_peek (frame.data, frame.size, id, &deadline) == -1);
    msgpack_sbuffer_destroy (&frame);

    //  Each field: missing, wrong type, wrong shape
    SB_CHECK (s_request_case ("v", NULL, 0, false, false, "missing field 'v'"));
    SB_CHECK (s_request_case ("v",
                              S_BYTES ("\xa1"
                                       "1"),
                              false, false, "field 'v' must be"));
    SB_CHECK (s_request_case ("v", S_BYTES ("\x00"), false, false, "field 'v' must be"));
    SB_CHECK (s_request_case ("v", S_BYTES ("\xff"), false, false, "field 'v' must be"));
    SB_CHECK (s_request_case ("v", S_BYTES ("\xc0"), false, false, "field 'v' must be"));
    SB_CHECK (s_request_case ("v", S_BYTES ("\xcb\x3f\xf0\0\0\0\0\0\0"), false, false,
                              "field 'v' must be"));
    SB_CHECK (s_request_case ("v", S_BYTES ("\x02"), false, false, "unsupported envelope version"));

    SB_CHECK (s_request_case ("id", NULL, 0, false, false, "missing field 'id'"));
    SB_CHECK (s_request_case ("id", S_BYTES ("\x01"), false, false, "field 'id' must be a string"));
    SB_CHECK (s_request_case ("id", S_BYTES ("\xc0"), false, false, "field 'id' must be a string"));
    SB_CHECK (s_request_case ("id",
                              S_BYTES ("\xc4\x01"
                                       "a"),
                              false, false, "field 'id' must be a string"));
    SB_CHECK (s_request_case ("id", S_BYTES ("\xa0"), false, false, "'id' must be 1 to"));
    SB_CHECK (s_request_case ("id",
                              S_BYTES ("\xa3"
                                       "a b"),
                              false, false, "'id' must be 1 to"));
    SB_CHECK (s_request_case ("id",
                              S_BYTES ("\xa3"
                                       "a\0b"),
                              false, false, "'id' must be 1 to"));
    SB_CHECK (s_request_case ("id",
                              S_BYTES ("\xa3"
                                       "a\"b"),
                              false, false, "'id' must be 1 to"));

    char raw[80];
    raw[0] = (char)0xd9;
    raw[1] = (char)64;
    memset (raw + 2, 'i', 64);
    SB_CHECK (s_request_case ("id", raw, 66, false, true, NULL));
    raw[1] = (char)65;
    memset (raw + 2, 'i', 65);
    SB_CHECK (s_request_case ("id", raw, 67, false, false, "'id' must be 1 to"));

    SB_CHECK (s_request_case ("op", NULL, 0, false, false, "missing field 'op'"));
    SB_CHECK (s_request_case ("op", S_BYTES ("\x01"), false, false, "field 'op' must be a string"));
    SB_CHECK (s_request_case ("op",
                              S_BYTES ("\x91\xa3"
                                       "a.b"),
                              false, false, "field 'op' must be a string"));
    SB_CHECK (s_request_case ("op",
                              S_BYTES ("\xa2"
                                       "a."),
                              false, false, "field 'op' is not"));
    SB_CHECK (s_request_case ("op",
                              S_BYTES ("\xa6"
                                       "things"),
                              false, false, "field 'op' is not"));
    SB_CHECK (s_request_case ("op",
                              S_BYTES ("\xab"
                                       "Things.list"),
                              false, false, "field 'op' is not"));
    SB_CHECK (s_request_case ("op",
                              S_BYTES ("\xab"
                                       "1hings.list"),
                              false, false, "field 'op' is not"));
    SB_CHECK (s_request_case ("op",
                              S_BYTES ("\xab"
                                       "things-list"),
                              false, false, "field 'op' is not"));
    SB_CHECK (s_request_case ("op",
                              S_BYTES ("\xab"
                                       "things\0list"),
                              false, false, "field 'op' is not"));
    SB_CHECK (s_request_case ("op",
                              S_BYTES ("\xa3"
                                       "a.b"),
                              false, true, NULL));
    raw[1] = (char)65;
    memset (raw + 2, 'o', 65);
    raw[3] = '.';
    SB_CHECK (s_request_case ("op", raw, 67, false, false, "field 'op' is not"));

    static const char *const optional[] = {"org", "sub", "key"};
    for (size_t i = 0; i < 3; i++) {
        const char *name = optional[i];
        SB_CHECK (s_request_case (name, NULL, 0, false, true, NULL));
        SB_CHECK (s_request_case (name, S_BYTES ("\xc0"), false, true, NULL));
        SB_CHECK (s_request_case (name, S_BYTES ("\xa0"), false, true, NULL));
        SB_CHECK (s_request_case (name,
                                  S_BYTES ("\xa5"
                                           "caf\xc3\xa9"),
                                  false, false, "is not printable ASCII"));
        SB_CHECK (s_request_case (name, S_BYTES ("\x01"), false, false, "must be a string or nil"));
        SB_CHECK (s_request_case (name, S_BYTES ("\xc3"), false, false, "must be a string or nil"));
        SB_CHECK (
            s_request_case (name, S_BYTES ("\x91\xa0"), false, false, "must be a string or nil"));
        SB_CHECK (s_request_case (name,
                                  S_BYTES ("\xa3"
                                           "a\nb"),
                                  false, false, "control char"));
        SB_CHECK (s_request_case (name,
                                  S_BYTES ("\xa3"
                                           "a\x7f"
                                           "b"),
                                  false, false, "control characters"));
        SB_CHECK (s_request_case (name,
                                  S_BYTES ("\xa3"
                                           "a\0b"),
                                  false, false, "control char"));
        SB_CHECK (s_request_case (name,
                                  S_BYTES ("\xa3"
                                           "\xc3\xa9"
                                           "b"),
                                  false, false, "is not printable ASCII"));
        SB_CHECK (s_request_case (name,
                                  S_BYTES ("\xa2"
                                           "a\xff"),
                                  false, false, "is not printable ASCII"));
        raw[1] = (char)64;
        memset (raw + 2, 'f', 64);
        SB_CHECK (s_request_case (name, raw, 66, false, true, NULL));
        raw[1] = (char)65;
        memset (raw + 2, 'f', 65);
        SB_CHECK (s_request_case (name, raw, 67, false, false, "longer than 64"));
    }

    SB_CHECK (s_request_case ("role", NULL, 0, false, true, NULL));
    SB_CHECK (s_request_case ("role", S_BYTES ("\xc0"), false, true, NULL));
    SB_CHECK (s_request_case ("role",
                              S_BYTES ("\xa4"
                                       "user"),
                              false, true, NULL));
    SB_CHECK (s_request_case ("role",
                              S_BYTES ("\xa7"
                                       "service"),
                              false, true, NULL));
    SB_CHECK (s_request_case ("role",
                              S_BYTES ("\xa4"
                                       "root"),
                              false, false, "one of user"));
    SB_CHECK (s_request_case ("role",
                              S_BYTES ("\xa5"
                                       "Admin"),
                              false, false, "one of user"));
    SB_CHECK (s_request_case ("role", S_BYTES ("\xa0"), false, false, "one of user"));
    SB_CHECK (s_request_case ("role",
                              S_BYTES ("\xa6"
                                       "admin\0"),
                              false, false, "one of user"));
    SB_CHECK (s_request_case ("role",
                              S_BYTES ("\xb4"
                                       "administratoradminis"),
                              false, false, "one of user"));
    SB_CHECK (s_request_case ("role", S_BYTES ("\x01"), false, false, "must be a string or nil"));

    SB_CHECK (s_request_case ("deadline", NULL, 0, false, false, "missing field 'deadline'"));
    SB_CHECK (s_request_case ("deadline", S_BYTES ("\x00"), false, false, "positive integer"));
    SB_CHECK (s_request_case ("deadline", S_BYTES ("\xfb"), false, false, "positive integer"));
    SB_CHECK (s_request_case ("deadline", S_BYTES ("\xd3\x80\0\0\0\0\0\0\0"), false, false,
                              "positive integer"));
    SB_CHECK (s_request_case ("deadline",
                              S_BYTES ("\xa1"
                                       "1"),
                              false, false, "positive integer"));
    SB_CHECK (s_request_case ("deadline", S_BYTES ("\xc0"), false, false, "positive integer"));
    SB_CHECK (s_request_case ("deadline", S_BYTES ("\xcb\x3f\xf8\0\0\0\0\0\0"), false, false,
                              "positive integer"));
    SB_CHECK (s_request_case ("deadline", S_BYTES ("\xcf\xff\xff\xff\xff\xff\xff\xff\xff"), false,
                              false, "positive integer"));
    SB_CHECK (s_request_case ("deadline", S_BYTES ("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff"), false,
                              true, NULL));
    SB_CHECK (s_request_case ("deadline", S_BYTES ("\x01"), false, true, NULL));

    SB_CHECK (s_request_case ("args", NULL, 0, false, true, NULL));
    SB_CHECK (s_request_case ("args", S_BYTES ("\x80"), false, true, NULL));
    SB_CHECK (s_request_case ("args", S_BYTES ("\x90"), false, false, "'args' must be a map"));
    SB_CHECK (s_request_case ("args", S_BYTES ("\xc0"), false, false, "'args' must be a map"));
    SB_CHECK (s_request_case ("args", S_BYTES ("\xa0"), false, false, "'args' must be a map"));
    SB_CHECK (s_request_case ("args", S_BYTES ("\x07"), false, false, "'args' must be a map"));

    //  Unknown keys are ignored; known ones may not repeat
    SB_CHECK (s_request_case ("zz", S_BYTES ("\x01"), true, true, NULL));
    SB_CHECK (s_request_case ("op",
                              S_BYTES ("\xa3"
                                       "a.b"),
                              true, false, "duplicate field 'op'"));
    SB_CHECK (s_request_case ("org", S_BYTES ("\xc0"), true, false, "duplicate field 'org'"));
    SB_CHECK (s_request_case ("args", S_BYTES ("\x80"), true, false, "duplicate field 'args'"));

    //  Lying lengths inside args, 0xc1, non-string keys
    SB_CHECK (s_request_case ("args",
                              S_BYTES ("\x81\xa1"
                                       "a"
                                       "\xdd\xff\xff\xff\xff\x01"),
                              false, false, "malformed envelope"));
    SB_CHECK (s_request_case ("args",
                              S_BYTES ("\xdf\xff\xff\xff\xff\xa1"
                                       "a"
                                       "\x01"),
                              false, false, "malformed envelope"));
    SB_CHECK (s_request_case ("args",
                              S_BYTES ("\x81\xa1"
                                       "a"
                                       "\xdb\x7f\xff\xff\xff"
                                       "ab"),
                              false, false, "malformed envelope"));
    SB_CHECK (s_request_case ("args",
                              S_BYTES ("\x81\xa1"
                                       "a"
                                       "\xc6\x00\x10\x00\x00"
                                       "ab"),
                              false, false, "malformed envelope"));
    SB_CHECK (s_request_case ("args",
                              S_BYTES ("\x81\xa1"
                                       "a"
                                       "\xc1"),
                              false, false, "malformed envelope"));
    SB_CHECK (s_request_case ("args", S_BYTES ("\x81\x01\x01"), false, false, "not a string"));
    SB_CHECK (s_request_case ("args", S_BYTES ("\x81\xc0\x01"), false, false, "not a string"));

    //  Depth: the envelope is level 1 and args level 2, so 30 arrays inside
    //  args reach level 32 and 31 reach 33
    char nest[64];
    memcpy (nest,
            "\x81\xa1"
            "d",
            3);
    memset (nest + 3, 0x91, 31);
    nest[3 + 30] = '\xc0';
    SB_CHECK (s_request_case ("args", nest, 3 + 30 + 1, false, true, NULL));
    nest[3 + 30] = '\x91';
    nest[3 + 31] = '\xc0';
    SB_CHECK (s_request_case ("args", nest, 3 + 31 + 1, false, false, "deeper"));

    //  Frames that are not request maps
    msgpack_sbuffer_init (&frame);
    static const struct {
        const char *bytes;
        size_t size;
        const char *expect;
    } not_maps[] = {
        {S_BYTES ("\x91\x01"), "not a map"},
        {S_BYTES ("\x01"), "not a map"},
        {S_BYTES ("\xa1"
                  "x"),
         "not a map"},
        {S_BYTES ("\xc0"), "not a map"},
        {S_BYTES ("\x80"), "missing field 'v'"},
        {S_BYTES ("\x81\x01\x01"), "not a string"},
        {S_BYTES ("\xc1"), "malformed"},
        {S_BYTES ("\xde\xff\xff\xa1"
                  "v"
                  "\x01"),
         "claims"},
        {S_BYTES ("\xdf\xff\xff\xff\xff\xa1"
                  "v"
                  "\x01"),
         "claims"},
        {S_BYTES (""), "empty"},
    };
    for (size_t i = 0; i < sizeof (not_maps) / sizeof (not_maps[0]); i++) {
        msgpack_sbuffer_clear (&frame);
        s_append (&frame, not_maps[i].bytes, not_maps[i].size);
        SB_CHECK (s_request_outcome (&frame, false, not_maps[i].expect));
    }
    SB_CHECK (sb_request_decode (&request, NULL, 0, why, sizeof (why)) == -1);
    sb_request_release (&request);
    msgpack_sbuffer_destroy (&frame);

    //  Size: a frame just under the limit is fine, one byte over is not
    msgpack_sbuffer_init (&frame);
    s_build (&frame, s_test_request, "args", NULL, 0, false);
    size_t head_size = frame.size;
    //  args key (5 bytes) + fixmap + "blob" key (5) + bin32 header (5)
    size_t blob = SB_ENVELOPE_MAX_SIZE - head_size - 5 - 1 - 5 - 5;
    char *big = sb_calloc (1, blob + 32);
    msgpack_sbuffer args_big;
    msgpack_sbuffer_init (&args_big);
    msgpack_packer_init (&pk, &args_big, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sb_mpk_pack_str (&pk, "blob");
    msgpack_pack_bin_with_body (&pk, big, blob);
    s_build (&frame, s_test_request, "args", args_big.data, args_big.size, false);
    SB_CHECK (frame.size == SB_ENVELOPE_MAX_SIZE);
    SB_CHECK (s_request_outcome (&frame, true, NULL));
    msgpack_sbuffer_clear (&args_big);
    msgpack_pack_map (&pk, 1);
    sb_mpk_pack_str (&pk, "blob");
    msgpack_pack_bin_with_body (&pk, big, blob + 1);
    s_build (&frame, s_test_request, "args", args_big.data, args_big.size, false);
    SB_CHECK (frame.size == SB_ENVELOPE_MAX_SIZE + 1);
    SB_CHECK (s_request_outcome (&frame, false, "too large"));
    SB_CHECK (sb_envelope_peek (frame.data, frame.size, id, &deadline) == -1);
    free (big);
    msgpack_sbuffer_destroy (&args_big);
    msgpack_sbuffer_destroy (&frame);

    //  Reply round trips
    msgpack_sbuffer_init (&frame);
    sb_envelope_encode_reply (&frame, "req-42", 201, args.data, args.size);
    sb_reply_msg_t reply;
    SB_CHECK (sb_reply_decode (&reply, frame.data, frame.size, why, sizeof (why)) == 0);
    memset (frame.data, 0xc1, frame.size);
    msgpack_sbuffer_destroy (&frame);
    SB_CHECK (strcmp (reply.id, "req-42") == 0 && reply.status == 201 && reply.error == NULL);
    SB_CHECK (reply.body && reply.body->type == MSGPACK_OBJECT_MAP);
    SB_CHECK (sb_mpk_int (sb_mpk_get (reply.body, "n"), &n) == 0 && n == -7);
    top = &reply.unpacked.data;
    SB_CHECK (top->via.map.size == 4 && sb_mpk_str_eq (&top->via.map.ptr[0].key, "v") &&
              sb_mpk_str_eq (&top->via.map.ptr[1].key, "id") &&
              sb_mpk_str_eq (&top->via.map.ptr[2].key, "status") &&
              sb_mpk_str_eq (&top->via.map.ptr[3].key, "body"));
    sb_reply_msg_release (&reply);
    SB_CHECK (reply.body == NULL && reply.error == NULL);

    msgpack_sbuffer_init (&frame);
    sb_envelope_encode_reply (&frame, "req-42", 204, NULL, 0);
    SB_CHECK (sb_reply_decode (&reply, frame.data, frame.size, why, sizeof (why)) == 0);
    SB_CHECK (reply.status == 204 && reply.body && reply.body->type == MSGPACK_OBJECT_NIL);
    sb_reply_msg_release (&reply);
    SB_CHECK (s_prefixes_refused (frame.data, frame.size));
    //  A reply is not a request, and peek says so
    SB_CHECK (sb_envelope_peek (frame.data, frame.size, id, &deadline) == -1);
    SB_CHECK (sb_request_decode (&request, frame.data, frame.size, why, sizeof (why)) == -1);
    sb_request_release (&request);
    msgpack_sbuffer_destroy (&frame);

    //  Error replies, with and without extras
    msgpack_sbuffer extra;
    msgpack_sbuffer_init (&extra);
    msgpack_packer_init (&pk, &extra, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    sb_mpk_pack_kv_int (&pk, "limit", 100);
    sb_mpk_pack_kv_int (&pk, "used", 101);
    msgpack_sbuffer_init (&frame);
    sb_envelope_encode_error (&frame, "req-9", 429, SB_E_RATE_LIMITED, "slow down", extra.data,
                              extra.size);
    SB_CHECK (sb_reply_decode (&reply, frame.data, frame.size, why, sizeof (why)) == 0);
    SB_CHECK (reply.status == 429 && reply.body == NULL && reply.error != NULL);
    SB_CHECK (reply.error && reply.error->via.map.size == 4);
    SB_CHECK (sb_mpk_str_eq (sb_mpk_get (reply.error, "code"), SB_E_RATE_LIMITED));
    SB_CHECK (sb_mpk_str_eq (sb_mpk_get (reply.error, "message"), "slow down"));
    SB_CHECK (sb_mpk_int (sb_mpk_get (reply.error, "used"), &n) == 0 && n == 101);
    SB_CHECK (sb_mpk_str_eq (&reply.error->via.map.ptr[0].key, "code") &&
              sb_mpk_str_eq (&reply.error->via.map.ptr[1].key, "message") &&
              sb_mpk_str_eq (&reply.error->via.map.ptr[2].key, "limit"));
    top = &reply.unpacked.data;
    SB_CHECK (sb_mpk_str_eq (&top->via.map.ptr[3].key, "error"));
    sb_reply_msg_release (&reply);
    SB_CHECK (s_prefixes_refused (frame.data, frame.size));

    msgpack_sbuffer_clear (&frame);
    sb_envelope_encode_error (&frame, "req-9", 404, SB_E_NOT_FOUND, "no such thing", NULL, 0);
    SB_CHECK (sb_reply_decode (&reply, frame.data, frame.size, why, sizeof (why)) == 0);
    SB_CHECK (reply.status == 404 && reply.error && reply.error->via.map.size == 2);
    sb_reply_msg_release (&reply);

    //  Broken or non-map extras are dropped rather than corrupting the reply
    static const struct {
        const char *bytes;
        size_t size;
    } bad_extras[] = {
        {S_BYTES ("\x81\xa1"
                  "x")},
        {S_BYTES ("\x01")},
        {S_BYTES ("\x91\x01")},
        {S_BYTES ("\x81\xa1"
                  "x"
                  "\x01\x01")},
        {S_BYTES ("\xc1")},
    };
    for (size_t i = 0; i < sizeof (bad_extras) / sizeof (bad_extras[0]); i++) {
        msgpack_sbuffer_clear (&frame);
        sb_envelope_encode_error (&frame, "req-9", 500, NULL, NULL, bad_extras[i].bytes,
                                  bad_extras[i].size);
        SB_CHECK (sb_reply_decode (&reply, frame.data, frame.size, why, sizeof (why)) == 0);
        SB_CHECK (reply.error && reply.error->via.map.size == 2 &&
                  sb_mpk_str_eq (sb_mpk_get (reply.error, "code"), SB_E_INTERNAL) &&
                  sb_mpk_str_eq (sb_mpk_get (reply.error, "message"), ""));
        sb_reply_msg_release (&reply);
    }
    msgpack_sbuffer_destroy (&frame);
    msgpack_sbuffer_destroy (&extra);

    //  Reply refusals
    SB_CHECK (s_reply_case (NULL, NULL, 0, false, true, NULL));
    SB_CHECK (s_reply_case ("v", NULL, 0, false, false, "missing field 'v'"));
    SB_CHECK (s_reply_case ("v", S_BYTES ("\x03"), false, false, "unsupported"));
    SB_CHECK (s_reply_case ("id", NULL, 0, false, false, "missing field 'id'"));
    SB_CHECK (s_reply_case ("id",
                            S_BYTES ("\xa3"
                                     "a b"),
                            false, false, "field 'id'"));
    SB_CHECK (s_reply_case ("id", S_BYTES ("\x07"), false, false, "field 'id' must be a string"));
    SB_CHECK (s_reply_case ("status", NULL, 0, false, false, "missing field 'status'"));
    SB_CHECK (s_reply_case ("status", S_BYTES ("\x64"), false, true, NULL));
    SB_CHECK (s_reply_case ("status", S_BYTES ("\xcd\x02\x57"), false, true, NULL));
    SB_CHECK (s_reply_case ("status", S_BYTES ("\x63"), false, false, "from 100 to 599"));
    SB_CHECK (s_reply_case ("status", S_BYTES ("\xcd\x02\x58"), false, false, "from 100 to 599"));
    SB_CHECK (s_reply_case ("status", S_BYTES ("\xd0\x9c"), false, false, "from 100 to 599"));
    SB_CHECK (s_reply_case ("status", S_BYTES ("\xcf\x00\x00\x00\x01\x00\x00\x00\xc8"), false,
                            false, "from 100 to 599"));
    SB_CHECK (s_reply_case ("status",
                            S_BYTES ("\xa3"
                                     "200"),
                            false, false, "from 100 to 599"));
    SB_CHECK (s_reply_case ("status", S_BYTES ("\xcb\x40\x69\0\0\0\0\0\0"), false, false,
                            "from 100 to 599"));
    SB_CHECK (s_reply_case ("body", NULL, 0, false, false, "neither"));
    SB_CHECK (s_reply_case ("body", S_BYTES ("\xc0"), false, true, NULL));
    SB_CHECK (s_reply_case ("error",
                            S_BYTES ("\x82\xa4"
                                     "code"
                                     "\xa1"
                                     "x"
                                     "\xa7"
                                     "message"
                                     "\xa0"),
                            true, false, "both"));
    SB_CHECK (s_reply_case ("body", S_BYTES ("\xc0"), true, false, "duplicate field 'body'"));
    SB_CHECK (s_request_case ("idem", S_BYTES ("\xa2"
                                               "a\x01"),
                              true, false, "field 'idem' contains control characters"));
    SB_CHECK (s_request_case ("idem", S_BYTES ("\xa3"
                                               "k-1"),
                              true, true, NULL));
    SB_CHECK (s_reply_case ("replayed", S_BYTES ("\xc3"), true, true, NULL));
    SB_CHECK (s_reply_case ("replayed", S_BYTES ("\x01"), true, false,
                            "field 'replayed' must be a boolean"));
    SB_CHECK (s_reply_case ("status", S_BYTES ("\xcc\xc8"), true, false, "duplicate field"));
    SB_CHECK (s_reply_case ("zz", S_BYTES ("\xcc\xc8"), true, true, NULL));
    SB_CHECK (s_reply_case ("body",
                            S_BYTES ("\x81\xa1"
                                     "a"
                                     "\xdd\x7f\xff\xff\xff"),
                            false, false, "malformed"));

    //  An error instead of the body: build replies without body
    static const s_field_t error_reply[] = {{"v", S_BYTES ("\x01")},
                                            {"id", S_BYTES ("\xa5"
                                                            "req-1")},
                                            {"status", S_BYTES ("\xcd\x01\x90")},
                                            {"error", S_BYTES ("\x82\xa4"
                                                               "code"
                                                               "\xa1"
                                                               "x"
                                                               "\xa7"
                                                               "message"
                                                               "\xa0")},
                                            {NULL, NULL, 0}};
    static const struct {
        const char *bytes;
        size_t size;
        const char *expect; //  NULL: accepted
    } errors[] = {
        {S_BYTES ("\x82\xa4"
                  "code"
                  "\xa1"
                  "x"
                  "\xa7"
                  "message"
                  "\xa0"),
         NULL},
        {S_BYTES ("\x83\xa4"
                  "code"
                  "\xa1"
                  "x"
                  "\xa7"
                  "message"
                  "\xa0\xa1"
                  "f"
                  "\x80"),
         NULL},
        {S_BYTES ("\x01"), "field 'error' must be a map"},
        {S_BYTES ("\xc0"), "field 'error' must be a map"},
        {S_BYTES ("\x90"), "field 'error' must be a map"},
        {S_BYTES ("\x81\xa7"
                  "message"
                  "\xa0"),
         "error.code"},
        {S_BYTES ("\x82\xa4"
                  "code"
                  "\x01\xa7"
                  "message"
                  "\xa0"),
         "error.code"},
        {S_BYTES ("\x82\xa4"
                  "code"
                  "\xa0\xa7"
                  "message"
                  "\xa0"),
         "error.code"},
        {S_BYTES ("\x81\xa4"
                  "code"
                  "\xa1"
                  "x"),
         "error.message"},
        {S_BYTES ("\x82\xa4"
                  "code"
                  "\xa1"
                  "x"
                  "\xa7"
                  "message"
                  "\xc0"),
         "error.message"},
        {S_BYTES ("\x82\xa4"
                  "code"
                  "\xa1"
                  "x"
                  "\xa7"
                  "message"
                  "\x80"),
         "error.message"},
    };
    size_t errors_ok = 0;
    for (size_t i = 0; i < sizeof (errors) / sizeof (errors[0]); i++) {
        msgpack_sbuffer_init (&frame);
        s_build (&frame, error_reply, "error", errors[i].bytes, errors[i].size, false);
        int rc = sb_reply_decode (&reply, frame.data, frame.size, why, sizeof (why));
        if (errors[i].expect ? rc == -1 && strstr (why, errors[i].expect) != NULL
                             : rc == 0 && reply.status == 400 && reply.error && !reply.body)
            errors_ok++;
        else
            fprintf (stderr, "envelope: error case %zu rc=%d why='%s'\n", i, rc, why);
        sb_reply_msg_release (&reply);
        msgpack_sbuffer_destroy (&frame);
    }
    SB_CHECK (errors_ok == sizeof (errors) / sizeof (errors[0]));

    //  A reply frame at every truncation, and with trailing bytes
    msgpack_sbuffer_init (&frame);
    s_build (&frame, s_test_reply, NULL, NULL, 0, false);
    SB_CHECK (s_prefixes_refused (frame.data, frame.size));
    s_append (&frame, "\x00", 1);
    SB_CHECK (sb_reply_decode (&reply, frame.data, frame.size, why, sizeof (why)) == -1);
    SB_CHECK (strstr (why, "trailing") != NULL);
    sb_reply_msg_release (&reply);
    msgpack_sbuffer_destroy (&frame);

    //  Fuzz: mutated good frames and noise never crash, never leak, and
    //  whatever is accepted keeps the decoders' promises
    msgpack_sbuffer seeds[4];
    for (int i = 0; i < 4; i++)
        msgpack_sbuffer_init (&seeds[i]);
    memset (&head, 0, sizeof (head));
    strcpy (head.id, "fuzz-1");
    strcpy (head.op, "things.list");
    strcpy (head.org, "org");
    head.role = SB_ROLE_USER;
    head.deadline = 99;
    sb_envelope_encode_request (&seeds[0], &head, args.data, args.size);
    s_build (&seeds[1], s_test_request, NULL, NULL, 0, false);
    sb_envelope_encode_reply (&seeds[2], "fuzz-1", 200, args.data, args.size);
    sb_envelope_encode_error (&seeds[3], "fuzz-1", 409, SB_E_CONFLICT, "taken", NULL, 0);
    const msgpack_sbuffer *seed_list[4] = {&seeds[0], &seeds[1], &seeds[2], &seeds[3]};
    int accepted = 0;
    SB_CHECK (s_fuzz (seed_list, 4, 5000, &accepted) == 0);
    //  Some mutations are harmless, so a few frames must survive
    SB_CHECK (accepted > 0);
    if (verbose)
        printf ("(fuzz: %d of 10000 decodes accepted) ", accepted);
    for (int i = 0; i < 4; i++)
        msgpack_sbuffer_destroy (&seeds[i]);
    msgpack_sbuffer_destroy (&args);

    if (verbose)
        printf ("OK\n");
}
