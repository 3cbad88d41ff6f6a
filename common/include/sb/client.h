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

//  Connects to the comma-separated broker endpoints. Returns NULL when none
//  is a valid endpoint.
sb_client_t *sb_client_new (const char *brokers);
void sb_client_destroy (sb_client_t **self_p);

//  Sends the request envelope (raw msgpack) to service and waits up to
//  timeout_ms for the reply with the same request id. Returns the decoded
//  reply in *reply (release with sb_reply_msg_release) and 0, or -1 on
//  timeout or a malformed reply (logged).
int sb_client_call (sb_client_t *self, const char *service, const void *request,
                    size_t size, int timeout_ms, sb_reply_msg_t *reply);

#endif
