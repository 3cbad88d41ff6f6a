/*  worker.c — the Majordomo worker side of a service process.

    A worker holds one link per broker endpoint: a DEALER socket, the time
    after which the broker is presumed dead, and the time of the next
    heartbeat to send. Every message from a broker proves it alive; silence
    for liveness intervals (or a DISCONNECT) makes the link reconnect with a
    fresh socket and announce itself again with READY, which is how a worker
    started before its gateway, or outliving a gateway restart, registers.

    Requests are handled by the caller between sb_worker_recv (or
    sb_worker_recv_many, for a worker with credit) and sb_worker_reply; the
    broker expects no heartbeats meanwhile.
*/
#include "sb/sb.h"

typedef struct {
    zsock_t *sock;
    char *endpoint;
    int64_t expiry;                 //  monotonic ms: broker presumed dead after this
    int64_t heartbeat_at;           //  monotonic ms: next heartbeat to send
} s_link_t;

struct _sb_worker_t {
    const sb_config_t *config;      //  the process's, for the bus's keys
    char service [SB_SERVICE_NAME_MAX + 1];
    s_link_t links [SB_CONFIG_MAX_ENDPOINTS];
    size_t link_count;
    int heartbeat_ms;
    int liveness;
    char credit [8];                //  READY's credit frame, "1" for one at a time
    bool stopping;
    int64_t returned_at;            //  when recv last handed out a request
};

static void
s_link_send (s_link_t *link, const char *command, const char *extra)
{
    void *handle = zsock_resolve (link->sock);
    zmq_send (handle, "", 0, ZMQ_SNDMORE);
    zmq_send (handle, SB_MDPW, strlen (SB_MDPW), ZMQ_SNDMORE);
    zmq_send (handle, command, 1, extra ? ZMQ_SNDMORE : 0);
    if (extra)
        zmq_send (handle, extra, strlen (extra), 0);
}

//  (Re)opens a link's socket and announces the service with READY.
static void
s_link_connect (sb_worker_t *self, s_link_t *link)
{
    if (link->sock) {
        zsock_set_linger (link->sock, 0);
        zsock_destroy (&link->sock);
    }
    link->sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (link->sock, 0);
    //  Sends never block: a broker that refused our key (a failed CURVE
    //  handshake ends the connection for good, leaving the DEALER no
    //  peer) would otherwise hold this thread in zmq_send for ever, so
    //  the links to the other brokers go unheard and SIGTERM unanswered.
    //  What cannot be queued is dropped; the link's expiry reconnects it.
    zsock_set_sndtimeo (link->sock, 0);
    //  The keys were checked at start (sb_curve_check); one that became
    //  unreadable since leaves the link unable to handshake, logged, and
    //  it is read again at the next reconnect.
    sb_curve_client (link->sock, self->config);
    if (zsock_connect (link->sock, "%s", link->endpoint) == -1)
        sb_error ("worker: cannot connect to '%s'", link->endpoint);
    //  READY [service][credit][version]: our extension (broker.c), which
    //  the operator's `switchboardctl workers` shows.
    void *handle = zsock_resolve (link->sock);
    zmq_send (handle, "", 0, ZMQ_SNDMORE);
    zmq_send (handle, SB_MDPW, strlen (SB_MDPW), ZMQ_SNDMORE);
    zmq_send (handle, SB_MDPW_READY, 1, ZMQ_SNDMORE);
    zmq_send (handle, self->service, strlen (self->service), ZMQ_SNDMORE);
    zmq_send (handle, self->credit, strlen (self->credit), ZMQ_SNDMORE);
    zmq_send (handle, SB_VERSION, strlen (SB_VERSION), 0);
    int64_t now = sb_mono_ms ();
    link->expiry = now + (int64_t) self->heartbeat_ms * self->liveness;
    link->heartbeat_at = now + self->heartbeat_ms;
    sb_debug ("worker: connecting to %s for '%s'", link->endpoint, self->service);
}

sb_worker_t *
sb_worker_new (const sb_config_t *config, const char *service, int credit)
{
    sb_worker_t *self = (sb_worker_t *) sb_calloc (1, sizeof (sb_worker_t));
    self->config = config;
    snprintf (self->service, sizeof (self->service), "%s", service);
    if (credit > SB_WORKER_CREDIT_MAX)
        credit = SB_WORKER_CREDIT_MAX;
    snprintf (self->credit, sizeof (self->credit), "%d", credit > 1 ? credit : 1);
    self->heartbeat_ms = config->heartbeat_ms;
    self->liveness = config->heartbeat_liveness;
    for (size_t i = 0; i < config->broker_count; i++) {
        s_link_t *link = &self->links [self->link_count++];
        link->endpoint = sb_strdup (config->brokers [i]);
        s_link_connect (self, link);
    }
    return self;
}

void
sb_worker_destroy (sb_worker_t **self_p)
{
    sb_worker_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->link_count; i++) {
        s_link_t *link = &self->links [i];
        //  Give the DISCONNECT a moment to leave, so the broker stops
        //  routing to us now rather than after our heartbeats expire.
        zsock_set_linger (link->sock, 200);
        s_link_send (link, SB_MDPW_DISCONNECT, NULL);
        zsock_destroy (&link->sock);
        free (link->endpoint);
    }
    free (self);
    *self_p = NULL;
}

void
sb_worker_stop (sb_worker_t *self)
{
    self->stopping = true;
}

//  Handles one message from a link. Returns the body of a REQUEST (and
//  fills the ticket), or NULL for anything else.
static zframe_t *
s_link_receive (sb_worker_t *self, size_t index, sb_worker_ticket_t *ticket)
{
    s_link_t *link = &self->links [index];
    zmsg_t *msg = zmsg_recv (link->sock);
    if (!msg)
        return NULL;
    link->expiry = sb_mono_ms () + (int64_t) self->heartbeat_ms * self->liveness;

    zframe_t *body = NULL;
    zframe_t *empty = zmsg_pop (msg);
    zframe_t *header = zmsg_pop (msg);
    zframe_t *command = zmsg_pop (msg);
    if (!empty || zframe_size (empty) != 0 || !header || !zframe_streq (header, SB_MDPW)
        || !command || zframe_size (command) != 1)
        sb_warn ("worker: malformed message from %s dropped", link->endpoint);
    else {
        char cmd = (char) *zframe_data (command);
        if (cmd == SB_MDPW_REQUEST [0]) {
            zframe_t *address = zmsg_pop (msg);
            zframe_t *separator = zmsg_pop (msg);
            body = zmsg_pop (msg);
            if (address && separator && zframe_size (separator) == 0 && body
                && zmsg_size (msg) == 0) {
                ticket->broker = index;
                ticket->address = address;
                address = NULL;
            }
            else {
                sb_warn ("worker: malformed request from %s dropped", link->endpoint);
                zframe_destroy (&body);
            }
            zframe_destroy (&address);
            zframe_destroy (&separator);
        }
        else
        if (cmd == SB_MDPW_DISCONNECT [0]) {
            sb_info ("worker: broker %s asked us to reconnect", link->endpoint);
            s_link_connect (self, link);
        }
        else
        if (cmd != SB_MDPW_HEARTBEAT [0])
            sb_warn ("worker: unknown command from %s dropped", link->endpoint);
    }
    zframe_destroy (&empty);
    zframe_destroy (&header);
    zframe_destroy (&command);
    zmsg_destroy (&msg);
    return body;
}

zframe_t *
sb_worker_recv (sb_worker_t *self, sb_worker_ticket_t *ticket)
{
    ticket->address = NULL;
    //  Back from a long request: the brokers were not heard meanwhile
    //  because we did not listen; judge them from now on.
    int64_t back = sb_mono_ms ();
    if (self->returned_at && back - self->returned_at > self->heartbeat_ms)
        for (size_t i = 0; i < self->link_count; i++)
            if (self->links [i].expiry < back + self->heartbeat_ms)
                self->links [i].expiry = back + self->heartbeat_ms;
    while (!self->stopping && !zsys_interrupted) {
        zmq_pollitem_t items [SB_CONFIG_MAX_ENDPOINTS];
        int64_t now = sb_mono_ms ();
        int64_t next = now + self->heartbeat_ms;
        for (size_t i = 0; i < self->link_count; i++) {
            items [i].socket = zsock_resolve (self->links [i].sock);
            items [i].fd = 0;
            items [i].events = ZMQ_POLLIN;
            items [i].revents = 0;
            if (self->links [i].heartbeat_at < next)
                next = self->links [i].heartbeat_at;
        }
        long timeout = next > now ? (long) (next - now) : 0;
        int rc = zmq_poll (items, (int) self->link_count, timeout);
        if (rc == -1 && zmq_errno () != EINTR) {
            sb_error ("worker: poll failed: %s", zmq_strerror (zmq_errno ()));
            return NULL;
        }
        //  Woken much later than asked (the process was stopped, or the
        //  machine starved us): the silence was ours, not the brokers'.
        //  Give them a fresh window; what they sent meanwhile may still be
        //  on its way from the kernel into zmq.
        int64_t woke = sb_mono_ms ();
        if (woke - now > timeout + self->heartbeat_ms)
            for (size_t i = 0; i < self->link_count; i++)
                self->links [i].expiry = woke + (int64_t) self->heartbeat_ms * self->liveness;
        for (size_t i = 0; rc > 0 && i < self->link_count; i++)
            if (items [i].revents & ZMQ_POLLIN) {
                zframe_t *body = s_link_receive (self, i, ticket);
                if (body) {
                    self->returned_at = sb_mono_ms ();
                    return body;
                }
            }
        now = sb_mono_ms ();
        for (size_t i = 0; i < self->link_count; i++) {
            s_link_t *link = &self->links [i];
            //  Messages still unread prove the broker alive (we were
            //  busy, or stopped, not it): read them before judging.
            if (now > link->expiry && !(zsock_events (link->sock) & ZMQ_POLLIN)) {
                sb_warn ("worker: broker %s silent, reconnecting", link->endpoint);
                s_link_connect (self, link);
            }
            else
            if (now >= link->heartbeat_at) {
                s_link_send (link, SB_MDPW_HEARTBEAT, NULL);
                link->heartbeat_at = now + self->heartbeat_ms;
            }
        }
    }
    return NULL;
}

size_t
sb_worker_recv_many (sb_worker_t *self, sb_worker_ticket_t *tickets, zframe_t **bodies,
                     size_t max)
{
    if (max == 0 || !(bodies [0] = sb_worker_recv (self, &tickets [0])))
        return 0;
    size_t count = 1;
    bool more = true;
    while (more && count < max) {
        more = false;
        for (size_t i = 0; i < self->link_count && count < max; i++)
            if (zsock_events (self->links [i].sock) & ZMQ_POLLIN) {
                more = true;
                tickets [count].address = NULL;
                bodies [count] = s_link_receive (self, i, &tickets [count]);
                if (bodies [count])
                    count++;
            }
    }
    return count;
}

void
sb_worker_reply (sb_worker_t *self, sb_worker_ticket_t *ticket, zframe_t **reply_p)
{
    zframe_t *reply = *reply_p;
    *reply_p = NULL;
    if (ticket->broker < self->link_count && ticket->address && reply) {
        s_link_t *link = &self->links [ticket->broker];
        void *handle = zsock_resolve (link->sock);
        zmq_send (handle, "", 0, ZMQ_SNDMORE);
        zmq_send (handle, SB_MDPW, strlen (SB_MDPW), ZMQ_SNDMORE);
        zmq_send (handle, SB_MDPW_REPLY, 1, ZMQ_SNDMORE);
        zmq_send (handle, zframe_data (ticket->address), zframe_size (ticket->address),
                  ZMQ_SNDMORE);
        zmq_send (handle, "", 0, ZMQ_SNDMORE);
        zmq_send (handle, zframe_data (reply), zframe_size (reply), 0);
        //  Replying proves us alive; the broker has heard from us.
        link->heartbeat_at = sb_mono_ms () + self->heartbeat_ms;
    }
    zframe_destroy (&reply);
    zframe_destroy (&ticket->address);
}
