/*  worker.h — a Majordomo worker: how a service process receives requests.

    One DEALER per broker listed in SWITCHBOARD_BROKER, each sending READY
    with the service name and heartbeating both ways. When a broker goes
    silent for liveness intervals, its socket is closed and reopened (the
    broker may have restarted and forgotten us), and READY is sent again.
    A worker created with a credit above 1 says so in its READY (our
    extension, see broker.c) and may be handed that many requests at once;
    sb_worker_recv_many collects those already waiting.
*/
#ifndef SB_WORKER_H_INCLUDED
#define SB_WORKER_H_INCLUDED

#include <czmq.h>
#include "sb/config.h"

typedef struct _sb_worker_t sb_worker_t;

//  The most requests a worker may hold at once.
#define SB_WORKER_CREDIT_MAX 64

//  Where a reply must go: the broker it came from and the client address.
typedef struct {
    size_t broker;
    zframe_t *address;
} sb_worker_ticket_t;

//  Connects to every broker endpoint in config for service, taking up to
//  credit requests at once (1 to SB_WORKER_CREDIT_MAX), as a CURVE client
//  when the bus is secured. config must outlive the worker (its keys are
//  read again at each reconnect; check them at start with sb_curve_check).
//  Caller owns.
sb_worker_t *sb_worker_new (const sb_config_t *config, const char *service, int credit);

//  Sends DISCONNECT to every broker and closes the sockets.
void sb_worker_destroy (sb_worker_t **self_p);

//  Waits for the next request, heartbeating meanwhile. Returns the request
//  body (caller owns) and fills ticket, or NULL when the process was
//  interrupted (SIGINT/SIGTERM) or sb_worker_stop was called.
zframe_t *sb_worker_recv (sb_worker_t *self, sb_worker_ticket_t *ticket);

//  Like sb_worker_recv for the first request, then takes those already
//  waiting, up to max. Returns how many (0 when interrupted or stopped).
size_t sb_worker_recv_many (sb_worker_t *self, sb_worker_ticket_t *tickets, zframe_t **bodies,
                            size_t max);

//  Sends a reply for ticket; takes *reply_p and the ticket's address.
void sb_worker_reply (sb_worker_t *self, sb_worker_ticket_t *ticket, zframe_t **reply_p);

//  Makes the next sb_worker_recv return NULL (from the worker's thread,
//  e.g. a signal handler sets zsys_interrupted instead).
void sb_worker_stop (sb_worker_t *self);

#endif
