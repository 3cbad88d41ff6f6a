/*  client.h — a Majordomo client: how internal programs and services call a
    service over the bus.

    The client's DEALER connects to every broker listed; requests are
    spread over them and a reply comes back on the same socket. Calls are
    synchronous with a timeout; a reply that arrives after its call gave up
    is recognised by its request id and dropped.
*/
#ifndef SB_CLIENT_H_INCLUDED
#define SB_CLIENT_H_INCLUDED

#include <czmq.h>
#include "sb/config.h"
#include "sb/envelope.h"

typedef struct _sb_client_t sb_client_t;

//  Connects to the comma-separated broker endpoints (NULL: config's
//  SWITCHBOARD_BROKER), as a CURVE client with config's keys when the bus
//  is secured (sb/curve.h). Returns NULL when none is a valid endpoint or
//  the keys cannot be read (logged).
sb_client_t *sb_client_new (const sb_config_t *config, const char *brokers);
void sb_client_destroy (sb_client_t **self_p);

//  Sends the request envelope (raw msgpack) to service and waits up to
//  timeout_ms for the reply with the same request id. Returns the decoded
//  reply in *reply (release with sb_reply_msg_release) and 0, or -1 on
//  timeout or a malformed reply (logged).
int sb_client_call (sb_client_t *self, const char *service, const void *request,
                    size_t size, int timeout_ms, sb_reply_msg_t *reply);

//  Calls op on service as an internal caller (role service, a fresh
//  request id, org when not NULL) with the msgpack args map (NULL: none),
//  waiting at most timeout_ms. Returns the reply's status, 0 when none
//  came. With reply not NULL and a status, *reply holds the answer
//  (release it with sb_reply_msg_release); with error_size, error says why
//  when the status is not 2xx, as printable ASCII ("409 conflict: ...",
//  "no answer from billing within 2000 ms"). self may be NULL (no answer).
int sb_client_request (sb_client_t *self, const char *service, const char *op, const char *org,
                       const msgpack_sbuffer *args, int timeout_ms, sb_reply_msg_t *reply,
                       char *error, size_t error_size);

//  auth-svc's mail.admins: a mail to every admin of org (subject, text:
//  CRLF lines), id naming it so that a repeat is not sent twice. The
//  status as sb_client_request answers it.
int sb_client_mail_admins (sb_client_t *self, const char *id, const char *org,
                           const char *subject, const char *text, int timeout_ms, char *error,
                           size_t error_size);

#endif
