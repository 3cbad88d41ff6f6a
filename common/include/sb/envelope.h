/*  envelope.h — the msgpack envelope that travels on the bus.

    A request is one msgpack map:
        {"v":1, "id":"<request id>", "op":"businesses.list", "org":<str|nil>,
         "sub":<str|nil>, "role":<str|nil>, "key":<str|nil>, "sid":<str|nil>,
         "ip":<str|nil>, "idem":<str> (only when the client sent one),
         "deadline":<unix ms>, "args":{...}}
    and a reply is
        {"v":1, "id":"<request id>", "status":<int>, "body":<any>}
    or the same with "error":{"code":"snake_case","message":"...", ...extra}
    instead of "body". A reply that repeats the stored answer of an earlier
    request with the same Idempotency-Key says "replayed":true before its
    body.

    Decoding is strict: the bytes are validated before msgpack-c sees them
    (sb_mpk_validate), then every field's type and shape is checked. A frame
    that is truncated, oversized, of the wrong types or missing a field is
    refused with a reason, never trusted and never a crash. Unknown keys are
    ignored so that newer peers can add fields.
*/
#ifndef SB_ENVELOPE_H_INCLUDED
#define SB_ENVELOPE_H_INCLUDED

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_ENVELOPE_VERSION   1
#define SB_ENVELOPE_MAX_SIZE  (4 * 1024 * 1024)     //  bigger frames are refused
#define SB_ID_MAX             64                    //  request id characters
#define SB_OP_MAX             64                    //  operation name characters
#define SB_FIELD_MAX          64                    //  org, sub, key characters
#define SB_IDEM_MAX           255                   //  Idempotency-Key characters

//  Roles are ordered: an operation names the least it needs. SERVICE is
//  an internal caller (another service, an internal program); OPERATOR is
//  switchboardctl with an operator key, the only role that may call the
//  operator's operations (sys.*). On a CURVE bus the broker accepts
//  SERVICE and OPERATOR only from keys allowed them (sb/curve.h).
typedef enum {
    SB_ROLE_NONE = 0, SB_ROLE_USER, SB_ROLE_ADMIN, SB_ROLE_SERVICE, SB_ROLE_OPERATOR
} sb_role_t;

//  Returns the role's name ("admin", ...) or NULL for SB_ROLE_NONE, and parses one.
const char *sb_role_name (sb_role_t role);
int sb_role_parse (const char *name, sb_role_t *role);

//  The head of a request: everything but the arguments. Empty strings mean
//  nil. The decoder takes org, sub, key, sid, ip and idem only as printable
//  ASCII (space included): they reach log lines and SQL settings.
typedef struct {
    char id [SB_ID_MAX + 1];
    char op [SB_OP_MAX + 1];
    char org [SB_FIELD_MAX + 1];
    char sub [SB_FIELD_MAX + 1];
    char key [SB_FIELD_MAX + 1];
    char sid [SB_FIELD_MAX + 1];    //  the session of the caller's access token
    char ip [SB_FIELD_MAX + 1];     //  the HTTP client's address, when from the gateway
    char idem [SB_IDEM_MAX + 1];    //  the client's Idempotency-Key, printable ASCII
    sb_role_t role;
    int64_t deadline;               //  unix milliseconds
} sb_envelope_head_t;

//  True when id is a sane request id: 1..64 of [A-Za-z0-9._:-].
bool sb_envelope_id_valid (const char *id);

//  True when op is a sane operation name: 3..64 of [a-z0-9_.], with a dot,
//  starting with a letter.
bool sb_envelope_op_valid (const char *op);

//  Appends a request envelope to buf. args/args_size are the raw msgpack
//  bytes of the arguments map (already valid msgpack, a map); NULL means an
//  empty map.
void sb_envelope_encode_request (msgpack_sbuffer *buf, const sb_envelope_head_t *head,
                                 const void *args, size_t args_size);

//  A decoded request. Owns the unpacked msgpack; args is borrowed from it.
typedef struct {
    sb_envelope_head_t head;
    const msgpack_object *args;     //  always a map
    msgpack_unpacked unpacked;
} sb_request_t;

//  Decodes and validates a request frame. Returns 0, or -1 with the reason
//  in why (short, safe to show a client). Release with
//  sb_request_release in both cases.
int sb_request_decode (sb_request_t *self, const void *data, size_t size,
                       char *why, size_t why_size);
void sb_request_release (sb_request_t *self);

//  Reads only the id and deadline of a request frame, cheaply, for the
//  broker (which routes bodies without otherwise decoding them). Returns 0
//  or -1 when the frame is not a valid request map.
int sb_envelope_peek (const void *data, size_t size, char id [SB_ID_MAX + 1],
                      int64_t *deadline);

//  Appends a success reply: body_raw is the msgpack bytes of one object
//  (NULL packs nil).
void sb_envelope_encode_reply (msgpack_sbuffer *buf, const char *id, int status,
                               const void *body_raw, size_t body_size);

//  Appends an error reply. extra_raw, when not NULL, is a msgpack map whose
//  entries are added to the error object after code and message (for
//  example {"fields":{...}} or {"limit":100,"used":100}).
void sb_envelope_encode_error (msgpack_sbuffer *buf, const char *id, int status,
                               const char *code, const char *message,
                               const void *extra_raw, size_t extra_size);

//  A decoded reply. body or error is set (never both); both are borrowed
//  from unpacked.
typedef struct {
    char id [SB_ID_MAX + 1];
    int status;                     //  100..599
    bool replayed;                  //  the stored answer of an idempotent request
    const msgpack_object *body;     //  NULL when error
    const msgpack_object *error;    //  a map with string code and message, or NULL
    msgpack_unpacked unpacked;
} sb_reply_msg_t;

int sb_reply_decode (sb_reply_msg_t *self, const void *data, size_t size,
                     char *why, size_t why_size);
void sb_reply_msg_release (sb_reply_msg_t *self);

void sb_envelope_test (bool verbose);

#endif
