/*  broker.c — the Majordomo (MDP/0.1) broker hosted by the gateway.

    The broker runs as a czmq actor. Its state lives entirely on the actor's
    thread: services, each with a queue of requests and a list of waiting
    workers (least recently used first), and a table of workers by identity.
    Other threads reach it only through two doors:

    - sb_broker_submit pushes a job pointer over an inproc PUSH/PULL pair
      (the PUSH end is shared by the gateway's HTTP threads under a mutex:
      holding it costs one inproc send); called on the actor's own thread
      (from a hosted loop, below) it takes the job in directly;
    - sb_broker_worker_count reads a small table of live workers per
      service, guarded by its own mutex, which the actor refreshes whenever
      a worker comes or goes.

    The actor's loop is one epoll set: the pipe, the ROUTER and the PULL
    (their ZMQ_FD descriptors, each socket then read until ZMQ_EVENTS says
    it is empty, a batch at a time) and, when the gateway has a single
    HTTP thread, libmicrohttpd's own epoll descriptor (sb_broker_host):
    the HTTP server then runs on this thread, once every turn, so that a
    request goes from its connection to a worker and the reply back to the
    connection without a hand-off between threads (each hand-off was a
    wakeup of a sleeping thread; two per request).

    The ROUTER is ROUTER_MANDATORY: sending to a worker whose connection is
    gone fails at once, so a killed worker is noticed on the next dispatch
    instead of after its heartbeats expire, and the request goes to another
    worker or is answered 503 immediately.

    Every request, from an HTTP thread or an external MDP client, carries a
    monotonic deadline; a periodic sweep answers 504 for those that pass it.
    A request handed to a worker that then dies is answered 503 (it might or
    might not have been carried out, so it is not retried behind the
    client's back). Every reply to an external client, including those the
    broker writes itself (a body that is no envelope, no worker, a refused
    service name), carries the service frame the client sent, as MDP/0.1
    clients expect.

    Trust (sb/curve.h). On a secured bus every message from the ROUTER
    carries its sender's grant (the User-Id our ZAP handler gave the
    connection). A READY for a service the key may not serve is refused
    with DISCONNECT and never registers; a request whose envelope claims
    more than the key allows (role service or operator, or another
    organization, from a client key) is answered 403 forbidden without
    reaching a worker. The HTTP threads' jobs are the gateway's own and
    carry what the gateway authenticated. On a plaintext bus (loopback,
    development) everyone is trusted, as before.

    Credit (our extension of MDP/0.1): a worker's READY may carry one more
    frame, the number of requests it takes at once (1 to
    SB_WORKER_CREDIT_MAX, decimal), and after it another, its version
    (printable, up to 32 characters; shown to operators). Such a worker
    stays in its service's waiting list until that many are in its hands,
    and moves to the end of the list with each
    request, so requests spread over the workers and each may find several
    to handle together (one database round trip for many reads, one commit
    for many usage batches). A worker without the frame takes one at a
    time, as MDP says. The address frame of a REQUEST is always the
    broker's own ticket ('@' and the request's sequence number), which the
    worker echoes in its REPLY, so replies match their requests in any
    order.

    The broker answers one service itself: `mmi.workers` (in the spirit of
    MDP's MMI), for internal and operator keys only: the services it knows,
    the requests queued for each, and every worker with its version,
    credit, requests in hand and the time of its READY.
*/
#include "sb/sb.h"
#include <pthread.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#define S_MAX_SERVICES      64
#define S_SWEEP_MS          25      //  deadline resolution
#define S_BATCH             64      //  messages read from a socket per turn
#define S_MAX_DEADLINE_MS   (10 * 60 * 1000)

typedef struct _s_service_t s_service_t;
typedef struct _s_worker_t s_worker_t;

//  A request in the broker: from an HTTP thread (job) or an external
//  client (client address).
typedef struct {
    uint64_t seq;
    sb_job_t *job;                  //  internal request, or NULL
    zframe_t *client;               //  external client's address, or NULL
    zframe_t *called;               //  ... and the service frame it sent, echoed
    zframe_t *body;                 //  envelope, until it is sent to a worker
    char id [SB_ID_MAX + 1];        //  request id, for external error replies
    int64_t deadline;               //  monotonic ms
    s_service_t *service;
    s_worker_t *worker;             //  set once dispatched
    void *queue_handle;             //  in service->requests while queued
} s_request_t;

struct _s_service_t {
    char name [SB_SERVICE_NAME_MAX + 1];
    zlistx_t *requests;             //  s_request_t *, waiting for a worker
    zlistx_t *waiting;              //  s_worker_t *, idle, LRU first
    size_t workers;                 //  registered workers (idle or busy)
};

struct _s_worker_t {
    char *key;                      //  identity as hex, the table key
    zframe_t *address;              //  identity frame
    s_service_t *service;
    int64_t expiry;                 //  monotonic ms
    int credit;                     //  requests it takes at once
    int inflight;                   //  sent and not yet answered by it
    char version [33];              //  from READY, printable ASCII, or ""
    int64_t since;                  //  wall ms of its READY
    s_request_t *held [SB_WORKER_CREDIT_MAX];   //  those still pending (NULL: timed out)
    void *waiting_handle;           //  in service->waiting while it has credit left
};

typedef struct {
    sb_broker_t *owner;
    zsock_t *pipe;                  //  actor pipe
    zsock_t *router;                //  the bus
    zsock_t *jobs;                  //  PULL: jobs from HTTP threads
    zhashx_t *services;             //  name -> s_service_t
    zhashx_t *workers;              //  key -> s_worker_t
    zhashx_t *pending;              //  every live s_request_t, by pointer
    int heartbeat_ms;
    int liveness;
    int64_t heartbeat_at;
    int64_t sweep_at;
    uint64_t next_seq;
    bool terminated;
    bool draining;                  //  stopping: answer everything 503 at once
    bool secured;                   //  CURVE: messages carry their sender's grant
    bool router_used;               //  sent on this turn: check it for input again
    //  A hosted event loop (sb_broker_host), or host_run NULL.
    int host_fd;
    sb_broker_host_fn *host_run;
    sb_broker_timeout_fn *host_timeout;
    void *host_arg;
} s_broker_t;

struct _sb_broker_t {
    zactor_t *actor;
    zsock_t *router;                //  bound here, then handed to the actor
    zsock_t *jobs;
    zsock_t *submit;                //  PUSH to the actor, under submit_lock
    pthread_mutex_t submit_lock;
    char jobs_endpoint [64];
    char endpoint [256];
    int heartbeat_ms;
    int liveness;
    bool secured;
    //  The actor's thread and state: a job submitted on that thread (a
    //  hosted loop's) is accepted there and then, without the pipe.
    pthread_t thread;
    s_broker_t *state;
    //  What sb_broker_host hands to the actor (read by it on HOST).
    int host_fd;
    sb_broker_host_fn *host_run;
    sb_broker_timeout_fn *host_timeout;
    void *host_arg;
    //  Live workers per service, for any thread.
    pthread_mutex_t count_lock;
    struct {
        char name [SB_SERVICE_NAME_MAX + 1];
        size_t workers;
    } counts [S_MAX_SERVICES];
    size_t count_size;
};

static bool
s_service_name_valid (const char *name, size_t len)
{
    if (len == 0 || len > SB_SERVICE_NAME_MAX || !islower ((unsigned char) name [0]))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name [i];
        if (!(islower ((unsigned char) c) || isdigit ((unsigned char) c) || c == '_' || c == '-'
              || c == '.'))
            return false;
    }
    return true;
}

//  Publishes a service's live worker count for other threads.
static void
s_publish_count (s_broker_t *self, s_service_t *service)
{
    sb_broker_t *owner = self->owner;
    pthread_mutex_lock (&owner->count_lock);
    size_t i;
    for (i = 0; i < owner->count_size; i++)
        if (streq (owner->counts [i].name, service->name))
            break;
    if (i == owner->count_size && i < S_MAX_SERVICES) {
        snprintf (owner->counts [i].name, sizeof (owner->counts [i].name), "%s", service->name);
        owner->count_size++;
    }
    if (i < S_MAX_SERVICES)
        owner->counts [i].workers = service->workers;
    pthread_mutex_unlock (&owner->count_lock);
}

static void
s_service_destroy (void **item_p)
{
    s_service_t *service = (s_service_t *) *item_p;
    if (service) {
        zlistx_destroy (&service->requests);
        zlistx_destroy (&service->waiting);
        free (service);
        *item_p = NULL;
    }
}

static s_service_t *
s_service_require (s_broker_t *self, const char *name, size_t len)
{
    char key [SB_SERVICE_NAME_MAX + 1];
    snprintf (key, sizeof (key), "%.*s", (int) len, name);
    s_service_t *service = (s_service_t *) zhashx_lookup (self->services, key);
    if (!service) {
        if (zhashx_size (self->services) >= S_MAX_SERVICES)
            return NULL;
        service = (s_service_t *) sb_calloc (1, sizeof (s_service_t));
        snprintf (service->name, sizeof (service->name), "%s", key);
        service->requests = zlistx_new ();
        service->waiting = zlistx_new ();
        zhashx_insert (self->services, key, service);
    }
    return service;
}

//  Sends frames on the ROUTER: the address, then the given parts. Returns 0,
//  or -1 when the peer is gone (ROUTER_MANDATORY) or its queue is full.
static int
s_send (s_broker_t *self, zframe_t *address, const char *const *parts, const size_t *sizes,
        size_t count, zframe_t *body)
{
    void *handle = zsock_resolve (self->router);
    self->router_used = true;
    if (zmq_send (handle, zframe_data (address), zframe_size (address), ZMQ_SNDMORE) == -1)
        return -1;
    for (size_t i = 0; i < count; i++) {
        bool last = i + 1 == count && !body;
        if (zmq_send (handle, parts [i], sizes [i], last ? 0 : ZMQ_SNDMORE) == -1)
            return -1;
    }
    if (body && zmq_send (handle, zframe_data (body), zframe_size (body), 0) == -1)
        return -1;
    return 0;
}

//  Sends a one-byte MDP worker command (HEARTBEAT, DISCONNECT) to address.
static int
s_send_command (s_broker_t *self, zframe_t *address, const char *command)
{
    const char *parts [] = { "", SB_MDPW, command };
    size_t sizes [] = { 0, strlen (SB_MDPW), 1 };
    return s_send (self, address, parts, sizes, 3, NULL);
}

//  Finishes a request: hands the reply (or the failure status) to its
//  client and frees it. reply may be NULL with status 503/504/400.
static void
s_request_finish (s_broker_t *self, s_request_t *request, zframe_t **reply_p, int status,
                  const char *code, const char *message)
{
    zframe_t *reply = reply_p ? *reply_p : NULL;
    if (reply_p)
        *reply_p = NULL;

    if (request->job) {
        sb_job_t *job = request->job;
        job->status = reply ? 0 : status;
        job->reply = reply;
        job->done (job);
    }
    else {
        if (!reply) {
            msgpack_sbuffer buf;
            msgpack_sbuffer_init (&buf);
            sb_envelope_encode_error (&buf, request->id, status, code, message, NULL, 0);
            reply = zframe_new (buf.data, buf.size);
            msgpack_sbuffer_destroy (&buf);
        }
        //  MDP/0.1: the reply names the service called, whatever the
        //  answer (the reference client checks it), even one we refused
        const char *parts [] = { "", SB_MDPC, (const char *) zframe_data (request->called) };
        size_t sizes [] = { 0, strlen (SB_MDPC), zframe_size (request->called) };
        if (s_send (self, request->client, parts, sizes, 3, reply))
            sb_debug ("broker: client gone before its reply");
        zframe_destroy (&reply);
        zframe_destroy (&request->client);
        zframe_destroy (&request->called);
    }
    if (request->queue_handle)
        zlistx_delete (request->service->requests, request->queue_handle);
    if (request->worker) {
        s_worker_t *worker = request->worker;
        for (int i = 0; i < worker->credit; i++)
            if (worker->held [i] == request)
                worker->held [i] = NULL;
    }
    zframe_destroy (&request->body);
    zhashx_delete (self->pending, &request->seq);
    free (request);
}

//  The worker was just heard: it is presumed alive for liveness intervals
//  from now, and while it holds requests (a busy worker cannot heartbeat)
//  until the latest of their deadlines plus one interval. Recomputed from
//  scratch on every message: a heartbeat that crossed a request on its way,
//  or the reply to one of several held, must not cut short the time given
//  to what the worker is still busy with.
static void
s_worker_alive (s_broker_t *self, s_worker_t *worker)
{
    worker->expiry = sb_mono_ms () + (int64_t) self->heartbeat_ms * self->liveness;
    for (int i = 0; i < worker->credit; i++)
        if (worker->held [i] && worker->expiry < worker->held [i]->deadline + self->heartbeat_ms)
            worker->expiry = worker->held [i]->deadline + self->heartbeat_ms;
}

static void
s_worker_delete (s_broker_t *self, s_worker_t *worker, bool disconnect)
{
    if (disconnect)
        s_send_command (self, worker->address, SB_MDPW_DISCONNECT);
    for (int i = 0; i < worker->credit; i++)
        if (worker->held [i])
            s_request_finish (self, worker->held [i], NULL, 503, SB_E_SERVICE_UNAVAILABLE,
                              "the worker handling this request went away");
    if (worker->waiting_handle)
        zlistx_delete (worker->service->waiting, worker->waiting_handle);
    if (worker->service) {
        worker->service->workers--;
        s_publish_count (self, worker->service);
        sb_info ("broker: worker %s of '%s' removed (%zu left)", worker->key,
                 worker->service->name, worker->service->workers);
    }
    char *key = worker->key;
    zhashx_delete (self->workers, key);
    zframe_destroy (&worker->address);
    free (key);
    free (worker);
}

//  Sends queued requests to idle workers, oldest request to the least
//  recently used worker. A worker whose connection is gone is dropped and
//  the next one tried.
static void
s_dispatch (s_broker_t *self, s_service_t *service)
{
    while (zlistx_size (service->requests) && zlistx_size (service->waiting)) {
        s_worker_t *worker = (s_worker_t *) zlistx_first (service->waiting);
        s_request_t *request = (s_request_t *) zlistx_first (service->requests);
        zlistx_delete (service->waiting, worker->waiting_handle);
        worker->waiting_handle = NULL;

        char address [9];
        address [0] = '@';
        memcpy (address + 1, &request->seq, 8);
        const char *parts [] = { "", SB_MDPW, SB_MDPW_REQUEST, address, "" };
        size_t sizes [] = { 0, strlen (SB_MDPW), 1, 9, 0 };
        if (s_send (self, worker->address, parts, sizes, 5, request->body) == -1) {
            sb_warn ("broker: worker %s of '%s' unreachable (%s), dropping it", worker->key,
                     service->name, zmq_strerror (zmq_errno ()));
            s_worker_delete (self, worker, false);
            continue;
        }
        zlistx_delete (service->requests, request->queue_handle);
        request->queue_handle = NULL;
        zframe_destroy (&request->body);
        request->worker = worker;
        for (int i = 0; i < worker->credit; i++)
            if (!worker->held [i]) {
                worker->held [i] = request;
                break;
            }
        if (++worker->inflight < worker->credit)
            worker->waiting_handle = zlistx_add_end (service->waiting, worker);
        //  A busy worker cannot heartbeat: give it until the request's
        //  deadline, plus the usual grace, before declaring it dead.
        int64_t until = request->deadline + self->heartbeat_ms;
        if (worker->expiry < until)
            worker->expiry = until;
    }
    if (service->workers == 0) {
        //  Nobody can serve what is queued: answer now rather than at the deadline.
        while (zlistx_size (service->requests)) {
            s_request_t *request = (s_request_t *) zlistx_first (service->requests);
            s_request_finish (self, request, NULL, 503, SB_E_SERVICE_UNAVAILABLE,
                              "no worker is available for this service");
        }
    }
}

//  Accepts a request for service: answers 503 at once when the service has
//  no worker, otherwise queues it and dispatches.
static void
s_request_accept (s_broker_t *self, s_request_t *request, const char *name, size_t len)
{
    request->seq = ++self->next_seq;
    zhashx_insert (self->pending, &request->seq, request);
    s_service_t *service = s_service_name_valid (name, len) ? s_service_require (self, name, len)
                                                             : NULL;
    request->service = service;
    if (self->draining) {
        s_request_finish (self, request, NULL, 503, SB_E_SERVICE_UNAVAILABLE,
                          "the gateway is stopping");
        return;
    }
    if (!service || service->workers == 0) {
        s_request_finish (self, request, NULL, 503, SB_E_SERVICE_UNAVAILABLE,
                          "no worker is available for this service");
        return;
    }
    request->queue_handle = zlistx_add_end (service->requests, request);
    s_dispatch (self, service);
}

static void s_job_accept (s_broker_t *self, sb_job_t *job);

static void
s_handle_job (s_broker_t *self)
{
    zframe_t *frame = zframe_recv (self->jobs);
    if (!frame)
        return;
    sb_job_t *job = NULL;
    if (zframe_size (frame) == sizeof (job))
        memcpy (&job, zframe_data (frame), sizeof (job));
    zframe_destroy (&frame);
    if (job)
        s_job_accept (self, job);
}

//  Takes a job in as a request (on the actor's thread).
static void
s_job_accept (s_broker_t *self, sb_job_t *job)
{
    s_request_t *request = (s_request_t *) sb_calloc (1, sizeof (s_request_t));
    request->job = job;
    request->body = job->request;
    job->request = NULL;
    request->deadline = job->deadline;
    s_request_accept (self, request, job->service, strlen (job->service));
}

//  True when the key's grant allows what the envelope claims (role,
//  organization). Only keys that are neither operators nor on a
//  plaintext bus pay for decoding the head.
static bool
s_request_allowed (const sb_grant_t *grant, zframe_t *body)
{
    if (grant->kind == SB_GRANT_ANY || grant->kind == SB_GRANT_OPERATOR)
        return true;
    if (grant->kind == SB_GRANT_NONE)
        return false;
    sb_request_t decoded;
    char why [64];
    bool allowed = sb_request_decode (&decoded, zframe_data (body), zframe_size (body), why,
                                      sizeof (why)) == 0
                   && sb_grant_may_send (grant, decoded.head.role, decoded.head.org);
    sb_request_release (&decoded);
    return allowed;
}

#define S_MMI_WORKERS "mmi.workers"

//  The body of mmi.workers (see the header) into buf.
static void
s_mmi_workers (s_broker_t *self, msgpack_sbuffer *buf)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    sb_mpk_pack_kv_str (&pk, "broker", self->owner->endpoint);
    sb_mpk_pack_str (&pk, "services");
    msgpack_pack_array (&pk, (uint32_t) zhashx_size (self->services));
    for (s_service_t *service = (s_service_t *) zhashx_first (self->services); service;
         service = (s_service_t *) zhashx_next (self->services)) {
        msgpack_pack_map (&pk, 3);
        sb_mpk_pack_kv_str (&pk, "name", service->name);
        sb_mpk_pack_kv_int (&pk, "queued", (int64_t) zlistx_size (service->requests));
        sb_mpk_pack_str (&pk, "workers");
        msgpack_pack_array (&pk, (uint32_t) service->workers);
        //  A cursor of its own: the services' one is in use.
        zlistx_t *workers = zhashx_values (self->workers);
        uint32_t packed = 0;
        for (s_worker_t *worker = (s_worker_t *) zlistx_first (workers);
             worker && packed < service->workers;
             worker = (s_worker_t *) zlistx_next (workers)) {
            if (worker->service != service)
                continue;
            msgpack_pack_map (&pk, 5);
            sb_mpk_pack_kv_str (&pk, "id", worker->key);
            sb_mpk_pack_kv_str (&pk, "version", worker->version);
            sb_mpk_pack_kv_int (&pk, "credit", worker->credit);
            sb_mpk_pack_kv_int (&pk, "inflight", worker->inflight);
            sb_mpk_pack_kv_int (&pk, "since", worker->since);
            packed++;
        }
        zlistx_destroy (&workers);
    }
}

//  A request from an external MDP client: [address][""][MDPC01][service][body].
static void
s_handle_client (s_broker_t *self, zframe_t *sender, zmsg_t *msg, const sb_grant_t *grant)
{
    zframe_t *service_frame = zmsg_pop (msg);
    zframe_t *body = zmsg_pop (msg);
    if (!service_frame || !body || zmsg_size (msg) != 0) {
        sb_warn ("broker: malformed client request dropped");
        zframe_destroy (&service_frame);
        zframe_destroy (&body);
        return;
    }
    s_request_t *request = (s_request_t *) sb_calloc (1, sizeof (s_request_t));
    request->client = zframe_dup (sender);
    request->called = service_frame;
    int64_t deadline_wall;
    if (zframe_size (body) > SB_ENVELOPE_MAX_SIZE
        || sb_envelope_peek (zframe_data (body), zframe_size (body), request->id, &deadline_wall)) {
        snprintf (request->id, sizeof (request->id), "-");
        request->seq = ++self->next_seq;
        zhashx_insert (self->pending, &request->seq, request);
        s_request_finish (self, request, NULL, 400, SB_E_INVALID_REQUEST,
                          "the request is not a valid envelope");
        zframe_destroy (&body);
        return;
    }
    if (!s_request_allowed (grant, body)) {
        char who [64];
        sb_grant_format (grant, who, sizeof (who));
        sb_warn ("broker: request %s for '%.*s' refused: key '%s' may not send it", request->id,
                 (int) zframe_size (service_frame), (const char *) zframe_data (service_frame),
                 *who ? who : "(none)");
        request->seq = ++self->next_seq;
        zhashx_insert (self->pending, &request->seq, request);
        s_request_finish (self, request, NULL, 403, SB_E_FORBIDDEN,
                          "this bus key may not send this request");
        zframe_destroy (&body);
        return;
    }
    if (zframe_streq (service_frame, S_MMI_WORKERS)) {
        request->seq = ++self->next_seq;
        zhashx_insert (self->pending, &request->seq, request);
        zframe_destroy (&body);
        if (!sb_grant_internal (grant)) {
            s_request_finish (self, request, NULL, 403, SB_E_FORBIDDEN,
                              "only internal and operator keys may ask for the workers");
            return;
        }
        msgpack_sbuffer answer, reply;
        msgpack_sbuffer_init (&answer);
        msgpack_sbuffer_init (&reply);
        s_mmi_workers (self, &answer);
        sb_envelope_encode_reply (&reply, request->id, 200, answer.data, answer.size);
        zframe_t *frame = zframe_new (reply.data, reply.size);
        msgpack_sbuffer_destroy (&answer);
        msgpack_sbuffer_destroy (&reply);
        s_request_finish (self, request, &frame, 0, NULL, NULL);
        return;
    }
    int64_t left = deadline_wall - sb_now_ms ();
    if (left > S_MAX_DEADLINE_MS)
        left = S_MAX_DEADLINE_MS;
    request->deadline = sb_mono_ms () + left;
    request->body = body;
    s_request_accept (self, request, (const char *) zframe_data (service_frame),
                      zframe_size (service_frame));
}

//  A message from a worker: [address][""][MDPW01][command]...
static void
s_handle_worker (s_broker_t *self, zframe_t *sender, zmsg_t *msg, const sb_grant_t *grant)
{
    zframe_t *command = zmsg_pop (msg);
    char *key = zframe_strhex (sender);
    s_worker_t *worker = (s_worker_t *) zhashx_lookup (self->workers, key);
    char cmd = command && zframe_size (command) == 1 ? (char) *zframe_data (command) : 0;
    zframe_destroy (&command);

    if (worker)
        s_worker_alive (self, worker);

    if (cmd == SB_MDPW_READY [0]) {
        zframe_t *name = zmsg_pop (msg);
        zframe_t *credit_frame = zmsg_pop (msg);
        zframe_t *version_frame = zmsg_pop (msg);
        char version [33] = "";
        if (version_frame) {
            size_t size = zframe_size (version_frame);
            const byte *data = zframe_data (version_frame);
            bool printable = size < sizeof (version);
            for (size_t i = 0; printable && i < size; i++)
                printable = data [i] >= 0x21 && data [i] < 0x7f;
            if (printable)
                memcpy (version, data, size);
            zframe_destroy (&version_frame);
        }
        s_service_t *service = NULL;
        if (name && s_service_name_valid ((const char *) zframe_data (name), zframe_size (name)))
            service = s_service_require (self, (const char *) zframe_data (name),
                                         zframe_size (name));
        int credit = 1;
        if (credit_frame) {
            char text [8];
            size_t size = zframe_size (credit_frame);
            char *end = NULL;
            if (size > 0 && size < sizeof text) {
                memcpy (text, zframe_data (credit_frame), size);
                text [size] = 0;
                long value = strtol (text, &end, 10);
                credit = *end || value < 1 || value > SB_WORKER_CREDIT_MAX ? 0 : (int) value;
            }
            else
                credit = 0;
        }
        zframe_destroy (&credit_frame);
        if (service && !worker
            && !sb_grant_may_register (grant, (const char *) zframe_data (name),
                                       zframe_size (name))) {
            char who [64];
            sb_grant_format (grant, who, sizeof (who));
            sb_warn ("broker: key '%s' may not register as '%s'", *who ? who : "(none)",
                     service->name);
            s_send_command (self, sender, SB_MDPW_DISCONNECT);
        }
        else
        if (worker || !service || !credit || zmsg_size (msg)) {
            //  READY twice, or for an impossible service: a protocol error.
            sb_warn ("broker: bad READY from %s", key);
            if (worker)
                s_worker_delete (self, worker, true);
            else {
                s_send_command (self, sender, SB_MDPW_DISCONNECT);
            }
        }
        else {
            worker = (s_worker_t *) sb_calloc (1, sizeof (s_worker_t));
            worker->key = key;
            key = NULL;
            worker->address = zframe_dup (sender);
            worker->service = service;
            worker->credit = credit;
            memcpy (worker->version, version, sizeof (version));
            worker->since = sb_now_ms ();
            worker->expiry = sb_mono_ms () + (int64_t) self->heartbeat_ms * self->liveness;
            zhashx_insert (self->workers, worker->key, worker);
            service->workers++;
            worker->waiting_handle = zlistx_add_end (service->waiting, worker);
            s_publish_count (self, service);
            sb_info ("broker: worker %s ready for '%s' taking %d at once (%zu live)", worker->key,
                     service->name, credit, service->workers);
            s_dispatch (self, service);
        }
        zframe_destroy (&name);
    }
    else
    if (cmd == SB_MDPW_REPLY [0] && worker && worker->inflight > 0) {
        zframe_t *address = zmsg_pop (msg);
        zframe_t *empty = zmsg_pop (msg);
        zframe_t *body = zmsg_pop (msg);
        //  Our ticket names the request; one that timed out meanwhile is
        //  gone from pending, and its late reply only returns the credit.
        s_request_t *request = NULL;
        if (address && zframe_size (address) == 9 && zframe_data (address) [0] == '@') {
            uint64_t seq;
            memcpy (&seq, zframe_data (address) + 1, 8);
            request = (s_request_t *) zhashx_lookup (self->pending, &seq);
            if (request && request->worker != worker)
                request = NULL;
        }
        if (request && body && zmsg_size (msg) == 0)
            s_request_finish (self, request, &body, 0, NULL, NULL);
        else
        if (request)
            s_request_finish (self, request, NULL, 502, SB_E_INTERNAL,
                              "the service sent a malformed reply");
        zframe_destroy (&address);
        zframe_destroy (&empty);
        zframe_destroy (&body);
        if (worker->inflight-- == worker->credit)
            worker->waiting_handle = zlistx_add_end (worker->service->waiting, worker);
        s_worker_alive (self, worker);      //  the answered request no longer counts
        s_dispatch (self, worker->service);
    }
    else
    if (cmd == SB_MDPW_HEARTBEAT [0] && worker) {
        //  expiry already refreshed
    }
    else
    if (cmd == SB_MDPW_DISCONNECT [0]) {
        if (worker)
            s_worker_delete (self, worker, false);
    }
    else {
        //  Unknown worker (we restarted, or it expired) or unknown command:
        //  tell it to reconnect so that it registers afresh.
        if (worker)
            s_worker_delete (self, worker, true);
        else {
            s_send_command (self, sender, SB_MDPW_DISCONNECT);
        }
    }
    free (key);
}

static void
s_handle_router (s_broker_t *self)
{
    zmsg_t *msg = zmsg_recv (self->router);
    if (!msg)
        return;
    zframe_t *sender = zmsg_pop (msg);
    zframe_t *empty = zmsg_pop (msg);
    zframe_t *header = zmsg_pop (msg);
    if (sender && empty && zframe_size (empty) == 0 && header) {
        //  The grant travels on every frame the peer sent (the routing id
        //  is the ROUTER's own, so it is read from the header).
        sb_grant_t grant;
        sb_grant_of_frame (&grant, header, self->secured);
        if (zframe_streq (header, SB_MDPC))
            s_handle_client (self, sender, msg, &grant);
        else
        if (zframe_streq (header, SB_MDPW))
            s_handle_worker (self, sender, msg, &grant);
        else
            sb_warn ("broker: message with an unknown protocol header dropped");
    }
    else
        sb_warn ("broker: malformed message dropped");
    zframe_destroy (&sender);
    zframe_destroy (&empty);
    zframe_destroy (&header);
    zmsg_destroy (&msg);
}

//  Heartbeats every worker and forgets those that stayed silent too long.
static void
s_heartbeat (s_broker_t *self)
{
    int64_t now = sb_mono_ms ();
    zlistx_t *dead = zlistx_new ();
    s_worker_t *worker = (s_worker_t *) zhashx_first (self->workers);
    while (worker) {
        //  A heartbeat that cannot be sent means the connection is gone
        //  (ROUTER_MANDATORY): no need to wait for the expiry.
        if (worker->expiry < now || s_send_command (self, worker->address, SB_MDPW_HEARTBEAT))
            zlistx_add_end (dead, worker);
        worker = (s_worker_t *) zhashx_next (self->workers);
    }
    worker = (s_worker_t *) zlistx_first (dead);
    while (worker) {
        sb_warn ("broker: worker %s of '%s' is gone (no heartbeat or connection)", worker->key,
                 worker->service->name);
        s_worker_delete (self, worker, true);
        worker = (s_worker_t *) zlistx_next (dead);
    }
    zlistx_destroy (&dead);
}

//  Answers 504 for every request past its deadline.
static void
s_sweep (s_broker_t *self)
{
    int64_t now = sb_mono_ms ();
    zlistx_t *late = NULL;
    s_request_t *request = (s_request_t *) zhashx_first (self->pending);
    while (request) {
        if (request->deadline <= now) {
            if (!late)
                late = zlistx_new ();
            zlistx_add_end (late, request);
        }
        request = (s_request_t *) zhashx_next (self->pending);
    }
    if (!late)
        return;
    request = (s_request_t *) zlistx_first (late);
    while (request) {
        s_request_finish (self, request, NULL, 504, SB_E_TIMEOUT,
                          "the service did not answer in time");
        request = (s_request_t *) zlistx_next (late);
    }
    zlistx_destroy (&late);
}

static size_t
s_seq_hash (const void *key)
{
    uint64_t seq;
    memcpy (&seq, key, sizeof (seq));
    return (size_t) (seq * 0x9E3779B97F4A7C15ULL);
}

static int
s_seq_compare (const void *a, const void *b)
{
    uint64_t x, y;
    memcpy (&x, a, sizeof (x));
    memcpy (&y, b, sizeof (y));
    return x < y ? -1 : x > y;
}

//  A command on the actor's pipe: $TERM, DRAIN, HOST, UNHOST.
static void
s_handle_command (s_broker_t *self, zsock_t *pipe, int poll_fd)
{
    sb_broker_t *owner = self->owner;
    char *command = zstr_recv (pipe);
    if (!command || streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "DRAIN")) {
        self->draining = true;
        s_request_t *request;
        while ((request = (s_request_t *) zhashx_first (self->pending)))
            s_request_finish (self, request, NULL, 503, SB_E_SERVICE_UNAVAILABLE,
                              "the gateway is stopping");
        zsock_signal (pipe, 0);
    }
    else
    if (streq (command, "HOST") && !self->host_run) {
        struct epoll_event event = { .events = EPOLLIN, .data.u32 = 3 };
        if (epoll_ctl (poll_fd, EPOLL_CTL_ADD, owner->host_fd, &event) == 0) {
            self->host_fd = owner->host_fd;
            self->host_run = owner->host_run;
            self->host_timeout = owner->host_timeout;
            self->host_arg = owner->host_arg;
        }
        else
            sb_error ("broker: cannot poll the hosted loop: %s", strerror (errno));
        zsock_signal (pipe, self->host_run ? 0 : 1);
    }
    else
    if (streq (command, "UNHOST")) {
        if (self->host_run)
            epoll_ctl (poll_fd, EPOLL_CTL_DEL, self->host_fd, NULL);
        self->host_fd = -1;
        self->host_run = NULL;
        self->host_timeout = NULL;
        self->host_arg = NULL;
        zsock_signal (pipe, 0);
    }
    zstr_free (&command);
}

static void
s_actor (zsock_t *pipe, void *args)
{
    sb_broker_t *owner = (sb_broker_t *) args;
    s_broker_t self_s = { 0 };
    s_broker_t *self = &self_s;
    self->owner = owner;
    self->pipe = pipe;
    self->heartbeat_ms = owner->heartbeat_ms;
    self->liveness = owner->liveness;
    self->secured = owner->secured;
    self->router = owner->router;
    owner->router = NULL;
    self->jobs = owner->jobs;
    owner->jobs = NULL;
    self->services = zhashx_new ();
    zhashx_set_destructor (self->services, s_service_destroy);
    self->workers = zhashx_new ();
    self->pending = zhashx_new ();
    zhashx_set_key_hasher (self->pending, s_seq_hash);
    zhashx_set_key_comparator (self->pending, s_seq_compare);
    zhashx_set_key_duplicator (self->pending, NULL);
    zhashx_set_key_destructor (self->pending, NULL);

    owner->thread = pthread_self ();
    owner->state = self;
    zsock_signal (pipe, 0);
    //  One epoll set for the pipe, the bus and the jobs (their ZMQ_FD
    //  descriptors) and the hosted loop's descriptor. A ZMQ_FD only says
    //  that the socket may have changed: a socket is read until ZMQ_EVENTS
    //  says it is empty (at most S_BATCH messages a turn, then again at
    //  once), and checked again whenever it was used (a send on the bus may
    //  take in its incoming messages). The hosted loop runs on every turn:
    //  connections that this turn's replies resumed are answered in it,
    //  without a wakeup of their own.
    zsock_t *sockets [3] = { pipe, self->router, self->jobs };
    bool check [3] = { true, true, true };
    int poll_fd = epoll_create1 (EPOLL_CLOEXEC);
    for (int i = 0; i < 3; i++) {
        struct epoll_event event = { .events = EPOLLIN, .data.u32 = (uint32_t) i };
        epoll_ctl (poll_fd, EPOLL_CTL_ADD, zsock_fd (sockets [i]), &event);
    }
    self->host_fd = -1;
    self->heartbeat_at = sb_mono_ms () + self->heartbeat_ms;
    self->sweep_at = sb_mono_ms () + S_SWEEP_MS;
    while (!self->terminated) {
        self->router_used = false;
        if (check [0]) {
            check [0] = false;
            while (!self->terminated && (zsock_events (pipe) & ZMQ_POLLIN))
                s_handle_command (self, pipe, poll_fd);
        }
        if (check [1]) {
            int i = 0;
            while (i < S_BATCH && (zsock_events (self->router) & ZMQ_POLLIN)) {
                s_handle_router (self);
                i++;
            }
            check [1] = i == S_BATCH;
        }
        if (check [2]) {
            int i = 0;
            while (i < S_BATCH && (zsock_events (self->jobs) & ZMQ_POLLIN)) {
                s_handle_job (self);
                i++;
            }
            check [2] = i == S_BATCH;
        }
        int64_t now = sb_mono_ms ();
        if (now >= self->sweep_at) {
            s_sweep (self);
            self->sweep_at = now + S_SWEEP_MS;
        }
        if (now >= self->heartbeat_at) {
            s_heartbeat (self);
            self->heartbeat_at = now + self->heartbeat_ms;
        }
        if (self->host_run && !self->terminated)
            self->host_run (self->host_arg);
        if (self->router_used)
            check [1] = true;
        int timeout = 0;
        if (!check [0] && !check [1] && !check [2]) {
            now = sb_mono_ms ();
            int64_t next = self->heartbeat_at < self->sweep_at ? self->heartbeat_at
                                                               : self->sweep_at;
            timeout = next > now ? (int) (next - now) : 0;
            if (self->host_run) {
                int host = self->host_timeout (self->host_arg);
                if (host >= 0 && host < timeout)
                    timeout = host;
            }
        }
        struct epoll_event events [4];
        int ready = epoll_wait (poll_fd, events, 4, timeout);
        for (int i = 0; i < ready; i++)
            if (events [i].data.u32 < 3)
                check [events [i].data.u32] = true;
    }
    close (poll_fd);
    //  Jobs still in the pipe, then everything pending, complete with 503;
    //  workers are told to disconnect so that they re-register with the
    //  next broker to come up.
    while (zsock_events (self->jobs) & ZMQ_POLLIN)
        s_handle_job (self);
    s_request_t *request;
    while ((request = (s_request_t *) zhashx_first (self->pending)))
        s_request_finish (self, request, NULL, 503, SB_E_SERVICE_UNAVAILABLE,
                          "the gateway is stopping");
    s_worker_t *worker;
    while ((worker = (s_worker_t *) zhashx_first (self->workers)))
        s_worker_delete (self, worker, true);
    owner->state = NULL;
    zhashx_destroy (&self->pending);
    zhashx_destroy (&self->workers);
    zhashx_destroy (&self->services);
    zsock_destroy (&self->jobs);
    zsock_destroy (&self->router);
    //  A hosted HTTP loop verified tokens on this thread, leaving OpenSSL
    //  state here; an actor's thread may outlive main's cleanup, so free it.
    sb_jwt_thread_stop ();
}

sb_broker_t *
sb_broker_new (const char *endpoint, int heartbeat_ms, int liveness, const sb_config_t *config)
{
    sb_broker_t *self = (sb_broker_t *) sb_calloc (1, sizeof (sb_broker_t));
    snprintf (self->endpoint, sizeof (self->endpoint), "%s", endpoint);
    snprintf (self->jobs_endpoint, sizeof (self->jobs_endpoint), "inproc://sb-broker-jobs-%p",
              (void *) self);
    self->heartbeat_ms = heartbeat_ms;
    self->liveness = liveness;
    pthread_mutex_init (&self->submit_lock, NULL);
    pthread_mutex_init (&self->count_lock, NULL);
    //  The sockets are created and bound here, so that a bad endpoint is
    //  reported to the caller, then handed to the actor (thread creation is
    //  the memory barrier zmq asks for when a socket changes threads).
    self->router = zsock_new (ZMQ_ROUTER);
    zsock_set_router_mandatory (self->router, 1);
    zsock_set_sndtimeo (self->router, 0);
    zsock_set_sndhwm (self->router, 100000);
    zsock_set_rcvhwm (self->router, 100000);
    self->jobs = zsock_new (ZMQ_PULL);
    zsock_set_rcvhwm (self->jobs, 0);
    self->secured = config && config->curve;
    if ((config && sb_curve_server (self->router, config, "bus"))
        || zsock_bind (self->router, "%s", endpoint) == -1
        || zsock_bind (self->jobs, "%s", self->jobs_endpoint) == -1) {
        sb_error ("broker: cannot bind '%s': %s", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&self->router);
        zsock_destroy (&self->jobs);
        pthread_mutex_destroy (&self->submit_lock);
        pthread_mutex_destroy (&self->count_lock);
        free (self);
        return NULL;
    }
    self->actor = zactor_new (s_actor, self);
    self->submit = zsock_new (ZMQ_PUSH);
    zsock_set_sndhwm (self->submit, 0);
    zsock_connect (self->submit, "%s", self->jobs_endpoint);
    sb_info ("broker: bound on %s", endpoint);
    return self;
}

void
sb_broker_destroy (sb_broker_t **self_p)
{
    sb_broker_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy (&self->submit);
    zactor_destroy (&self->actor);
    pthread_mutex_destroy (&self->submit_lock);
    pthread_mutex_destroy (&self->count_lock);
    free (self);
    *self_p = NULL;
}

void
sb_broker_drain (sb_broker_t *self)
{
    zstr_send (self->actor, "DRAIN");
    zsock_wait (self->actor);
}

void
sb_broker_submit (sb_broker_t *self, sb_job_t *job)
{
    //  On the actor's own thread (a hosted loop): accepted at once; the
    //  job may even be done before this returns.
    if (pthread_equal (pthread_self (), self->thread) && self->state) {
        s_job_accept (self->state, job);
        return;
    }
    pthread_mutex_lock (&self->submit_lock);
    int rc = zmq_send (zsock_resolve (self->submit), &job, sizeof (job), 0);
    pthread_mutex_unlock (&self->submit_lock);
    if (rc == -1) {
        //  Only possible while the broker is being destroyed.
        job->status = 503;
        job->reply = NULL;
        zframe_destroy (&job->request);
        job->done (job);
    }
}

int
sb_broker_host (sb_broker_t *self, int fd, sb_broker_host_fn *run, sb_broker_timeout_fn *timeout,
                void *arg)
{
    self->host_fd = fd;
    self->host_run = run;
    self->host_timeout = timeout;
    self->host_arg = arg;
    zstr_send (self->actor, "HOST");
    return zsock_wait (self->actor) == 0 ? 0 : -1;
}

void
sb_broker_unhost (sb_broker_t *self)
{
    zstr_send (self->actor, "UNHOST");
    zsock_wait (self->actor);
}

size_t
sb_broker_worker_count (sb_broker_t *self, const char *service)
{
    size_t workers = 0;
    pthread_mutex_lock (&self->count_lock);
    for (size_t i = 0; i < self->count_size; i++)
        if (streq (self->counts [i].name, service))
            workers = self->counts [i].workers;
    pthread_mutex_unlock (&self->count_lock);
    return workers;
}


//  --------------------------------------------------------------------------
//  Selftest: a broker on inproc, driven by a raw DEALER client and a raw
//  DEALER worker speaking MDP/0.1 frame by frame, as any MDP client would.

//  Receives a client reply; true when it is ["", MDPC01, service, body]
//  with the body a reply envelope of the status wanted.
static bool
s_test_client_reply (zsock_t *client, const char *service, int status)
{
    zsock_set_rcvtimeo (client, 5000);
    zmsg_t *msg = zmsg_recv (client);
    if (!msg)
        return false;
    bool ok = zmsg_size (msg) == 4;
    zframe_t *empty = zmsg_pop (msg);
    zframe_t *header = zmsg_pop (msg);
    zframe_t *name = zmsg_pop (msg);
    zframe_t *body = zmsg_pop (msg);
    ok = ok && zframe_size (empty) == 0 && zframe_streq (header, SB_MDPC)
         && zframe_streq (name, service);
    sb_reply_msg_t reply;
    char why [128];
    if (ok) {
        ok = sb_reply_decode (&reply, zframe_data (body), zframe_size (body), why,
                              sizeof (why)) == 0
             && reply.status == status;
        sb_reply_msg_release (&reply);
    }
    zframe_destroy (&empty);
    zframe_destroy (&header);
    zframe_destroy (&name);
    zframe_destroy (&body);
    zmsg_destroy (&msg);
    return ok;
}

//  Sends ["", MDPC01, service, body] from the client.
static void
s_test_client_send (zsock_t *client, const char *service, const void *body, size_t size)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, "", 0);
    zmsg_addstr (msg, SB_MDPC);
    zmsg_addstr (msg, service);
    zmsg_addmem (msg, body, size);
    zmsg_send (&msg, client);
}

//  A request envelope for op ("" packs none) that expires in 5 s.
static void
s_test_envelope (msgpack_sbuffer *buf, const char *op)
{
    sb_envelope_head_t head = { .role = SB_ROLE_SERVICE };
    snprintf (head.id, sizeof (head.id), "broker-test-%s", *op ? op : "noop");
    snprintf (head.op, sizeof (head.op), "%s", op);
    head.deadline = sb_now_ms () + 5000;
    msgpack_sbuffer_init (buf);
    sb_envelope_encode_request (buf, &head, NULL, 0);
}

//  For the selftest's jobs: done callbacks run on the broker's thread.
typedef struct {
    atomic_int done;
    bool on_broker;                 //  done ran on the thread that hosts the loop
    bool inside_submit;             //  ... before sb_broker_submit returned
} s_test_mark_t;

static _Thread_local bool s_test_submitting;
static pthread_t s_test_broker_thread;

static void
s_test_job_done (sb_job_t *job)
{
    s_test_mark_t *mark = (s_test_mark_t *) job->arg;
    mark->on_broker = pthread_equal (pthread_self (), s_test_broker_thread);
    mark->inside_submit = s_test_submitting;
    atomic_store (&mark->done, 1);
}

static bool
s_test_wait (s_test_mark_t *mark)
{
    for (int i = 0; i < 500 && !atomic_load (&mark->done); i++)
        zclock_sleep (10);
    return atomic_load (&mark->done) == 1;
}

static void
s_test_job (sb_job_t *job, s_test_mark_t *mark, const char *service, int deadline_ms)
{
    msgpack_sbuffer envelope;
    s_test_envelope (&envelope, "ping");
    memset (job, 0, sizeof (*job));
    snprintf (job->service, sizeof (job->service), "%s", service);
    job->request = zframe_new (envelope.data, envelope.size);
    msgpack_sbuffer_destroy (&envelope);
    job->deadline = sb_mono_ms () + deadline_ms;
    job->done = s_test_job_done;
    job->arg = mark;
}

//  The hosted loop of the selftest: an eventfd; on its first turn it
//  submits a job for a service nobody serves (answered at once, on this
//  thread, inside the submit) and one for the live worker.
typedef struct {
    int fd;
    atomic_int turns;
    sb_broker_t *broker;
    sb_job_t lonely, served;
    s_test_mark_t lonely_mark, served_mark;
} s_test_host_t;

static void
s_test_host_run (void *arg)
{
    s_test_host_t *host = (s_test_host_t *) arg;
    uint64_t value;
    if (read (host->fd, &value, sizeof (value)) == (ssize_t) sizeof (value)) {
        s_test_broker_thread = pthread_self ();
        s_test_job (&host->lonely, &host->lonely_mark, "nobody", 5000);
        s_test_job (&host->served, &host->served_mark, "orders", 5000);
        s_test_submitting = true;
        sb_broker_submit (host->broker, &host->lonely);
        sb_broker_submit (host->broker, &host->served);
        s_test_submitting = false;
    }
    atomic_fetch_add (&host->turns, 1);
}

static int
s_test_host_timeout (void *arg)
{
    (void) arg;
    return 1000;
}

//  The worker's next REQUEST (heartbeats skipped): its ticket into
//  address (9 bytes); false when none came.
static bool
s_test_worker_request (zsock_t *worker, byte address [9])
{
    zsock_set_rcvtimeo (worker, 5000);
    zmsg_t *request = NULL;
    while ((request = zmsg_recv (worker)) && zmsg_size (request) != 6)
        zmsg_destroy (&request);
    if (!request)
        return false;
    zframe_t *frame = zmsg_first (request);
    for (int i = 0; i < 3; i++)
        frame = zmsg_next (request);
    bool ok = zframe_size (frame) == 9;
    if (ok)
        memcpy (address, zframe_data (frame), 9);
    zmsg_destroy (&request);
    return ok;
}

//  The worker answers the request of ticket address with status.
static void
s_test_worker_reply (zsock_t *worker, const byte address [9], int status)
{
    msgpack_sbuffer answer;
    msgpack_sbuffer_init (&answer);
    sb_envelope_encode_reply (&answer, "-", status, NULL, 0);
    zmsg_t *reply = zmsg_new ();
    zmsg_addmem (reply, "", 0);
    zmsg_addstr (reply, SB_MDPW);
    zmsg_addstr (reply, SB_MDPW_REPLY);
    zmsg_addmem (reply, address, 9);
    zmsg_addmem (reply, "", 0);
    zmsg_addmem (reply, answer.data, answer.size);
    zmsg_send (&reply, worker);
    msgpack_sbuffer_destroy (&answer);
}

//  The status of a job's reply envelope, or -1.
static int
s_test_reply_status (const sb_job_t *job)
{
    if (job->status != 0 || !job->reply)
        return -1;
    sb_reply_msg_t reply;
    char why [64];
    int status = sb_reply_decode (&reply, zframe_data (job->reply), zframe_size (job->reply), why,
                                  sizeof (why)) == 0 ? reply.status : -1;
    sb_reply_msg_release (&reply);
    return status;
}

//  Two jobs for service, submitted in order, and their tickets as its
//  worker receives them; false when either did not come.
static bool
s_test_two (sb_broker_t *broker, zsock_t *worker, const char *service, sb_job_t *a,
            s_test_mark_t *a_mark, int a_deadline_ms, sb_job_t *b, s_test_mark_t *b_mark,
            int b_deadline_ms, byte first [9], byte second [9])
{
    s_test_job (a, a_mark, service, a_deadline_ms);
    s_test_job (b, b_mark, service, b_deadline_ms);
    sb_broker_submit (broker, a);
    sb_broker_submit (broker, b);
    return s_test_worker_request (worker, first) && s_test_worker_request (worker, second);
}

//  A raw worker of service taking two requests at once, registered.
static zsock_t *
s_test_worker_ready (sb_broker_t *broker, const char *endpoint, const char *service)
{
    zsock_t *worker = zsock_new_dealer (endpoint);
    zmsg_t *ready = zmsg_new ();
    zmsg_addmem (ready, "", 0);
    zmsg_addstr (ready, SB_MDPW);
    zmsg_addstr (ready, SB_MDPW_READY);
    zmsg_addstr (ready, service);
    zmsg_addstr (ready, "2");
    zmsg_send (&ready, worker);
    for (int i = 0; i < 200 && sb_broker_worker_count (broker, service) == 0; i++)
        zclock_sleep (10);
    SB_CHECK (sb_broker_worker_count (broker, service) == 1);
    return worker;
}

//  A worker busy past liveness intervals is kept while its requests' deadlines
//  run: not even its heartbeat, sent as a request was on its way to it, nor
//  its answer to one of two requests it holds, shortens that (each ended
//  in 503 "went away" once: the broker judged the silent worker by the
//  last message alone).
static void
s_test_busy (sb_broker_t *broker, const char *endpoint)
{
    zsock_t *worker = s_test_worker_ready (broker, endpoint, "stripe");

    sb_job_t crossed, quick, slow;
    s_test_mark_t crossed_mark = { 0 }, quick_mark = { 0 }, slow_mark = { 0 };
    //  The heartbeat that crosses the request: sent after it was dispatched.
    s_test_job (&crossed, &crossed_mark, "stripe", 4000);
    sb_broker_submit (broker, &crossed);
    byte ticket [9];
    SB_CHECK (s_test_worker_request (worker, ticket));
    zmsg_t *heartbeat = zmsg_new ();
    zmsg_addmem (heartbeat, "", 0);
    zmsg_addstr (heartbeat, SB_MDPW);
    zmsg_addstr (heartbeat, SB_MDPW_HEARTBEAT);
    zmsg_send (&heartbeat, worker);
    zclock_sleep (1500);            //  twice the 750 ms of liveness, silent
    SB_CHECK (!atomic_load (&crossed_mark.done));
    s_test_worker_reply (worker, ticket, 200);
    SB_CHECK (s_test_wait (&crossed_mark) && s_test_reply_status (&crossed) == 200);
    zframe_destroy (&crossed.reply);

    //  Two held; the first answered at once, the second after a silence.
    byte first [9], second [9];
    SB_CHECK (s_test_two (broker, worker, "stripe", &quick, &quick_mark, 4000, &slow, &slow_mark, 4000,
                          first, second));
    s_test_worker_reply (worker, first, 201);
    SB_CHECK (s_test_wait (&quick_mark) && s_test_reply_status (&quick) == 201);
    zclock_sleep (1500);
    SB_CHECK (!atomic_load (&slow_mark.done));
    s_test_worker_reply (worker, second, 202);
    SB_CHECK (s_test_wait (&slow_mark) && s_test_reply_status (&slow) == 202);
    zframe_destroy (&quick.reply);
    zframe_destroy (&slow.reply);
    SB_CHECK (sb_broker_worker_count (broker, "stripe") == 1);
    zsock_destroy (&worker);
}

//  In-process jobs: a reply after the deadline (504) is dropped and never
//  reaches the job that is pending beside it; a hosted loop's jobs are
//  taken in on the broker's thread and answered there, at once for a
//  service without worker.
static void
s_test_jobs (sb_broker_t *broker, const char *endpoint)
{
    zsock_t *worker = s_test_worker_ready (broker, endpoint, "orders");

    sb_job_t late, other;
    s_test_mark_t late_mark = { 0 }, other_mark = { 0 };
    byte first [9], second [9];
    SB_CHECK (s_test_two (broker, worker, "orders", &late, &late_mark, 100, &other, &other_mark, 5000,
                          first, second));
    SB_CHECK (s_test_wait (&late_mark) && late.status == 504 && !late.reply);
    //  The late reply (first, 201), then the other's own (second, 202).
    s_test_worker_reply (worker, first, 201);
    s_test_worker_reply (worker, second, 202);
    SB_CHECK (s_test_wait (&other_mark) && s_test_reply_status (&other) == 202);
    SB_CHECK (late.status == 504 && !late.reply);
    zframe_destroy (&other.reply);

    s_test_host_t host = { .fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC), .broker = broker };
    atomic_init (&host.turns, 0);
    SB_CHECK (sb_broker_host (broker, host.fd, s_test_host_run, s_test_host_timeout, &host) == 0);
    uint64_t one = 1;
    SB_CHECK (write (host.fd, &one, sizeof (one)) == (ssize_t) sizeof (one));
    SB_CHECK (s_test_wait (&host.lonely_mark));
    SB_CHECK (host.lonely.status == 503 && host.lonely_mark.on_broker
              && host.lonely_mark.inside_submit);
    byte ticket [9];
    SB_CHECK (s_test_worker_request (worker, ticket));
    s_test_worker_reply (worker, ticket, 200);
    SB_CHECK (s_test_wait (&host.served_mark) && s_test_reply_status (&host.served) == 200
              && host.served_mark.on_broker && !host.served_mark.inside_submit);
    zframe_destroy (&host.served.reply);
    sb_broker_unhost (broker);
    int turns = atomic_load (&host.turns);
    SB_CHECK (turns > 0);
    SB_CHECK (write (host.fd, &one, sizeof (one)) == (ssize_t) sizeof (one));
    zclock_sleep (100);
    SB_CHECK (atomic_load (&host.turns) == turns);
    close (host.fd);
    zsock_destroy (&worker);
}

void
sb_broker_test (bool verbose)
{
    (void) verbose;
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://sb-broker-test-%d", (int) getpid ());
    sb_broker_t *broker = sb_broker_new (endpoint, 250, 3, NULL);
    SB_CHECK (broker);
    if (!broker)
        return;
    zsock_t *client = zsock_new_dealer (endpoint);
    msgpack_sbuffer envelope;

    //  What the broker answers itself names the service called: a body
    //  that is no envelope, an envelope without op for a service with no
    //  worker, a service name the broker refuses.
    s_test_client_send (client, "tenant", "\xc1garbage", 8);
    SB_CHECK (s_test_client_reply (client, "tenant", 400));
    s_test_envelope (&envelope, "");
    s_test_client_send (client, "tenant", envelope.data, envelope.size);
    SB_CHECK (s_test_client_reply (client, "tenant", 503));
    s_test_client_send (client, "No Such!", envelope.data, envelope.size);
    SB_CHECK (s_test_client_reply (client, "No Such!", 503));

    //  With a worker: the envelope without op reaches it, and its answer
    //  comes back under the service's name too.
    zsock_t *worker = zsock_new_dealer (endpoint);
    zmsg_t *ready = zmsg_new ();
    zmsg_addmem (ready, "", 0);
    zmsg_addstr (ready, SB_MDPW);
    zmsg_addstr (ready, SB_MDPW_READY);
    zmsg_addstr (ready, "tenant");
    zmsg_send (&ready, worker);
    for (int i = 0; i < 200 && sb_broker_worker_count (broker, "tenant") == 0; i++)
        zclock_sleep (10);
    SB_CHECK (sb_broker_worker_count (broker, "tenant") == 1);
    s_test_client_send (client, "tenant", envelope.data, envelope.size);
    zsock_set_rcvtimeo (worker, 5000);
    zmsg_t *request = NULL;
    //  Skip heartbeats: the REQUEST is [""][MDPW01][REQUEST][address][""][body]
    while ((request = zmsg_recv (worker)) && zmsg_size (request) != 6)
        zmsg_destroy (&request);
    SB_CHECK (request);
    if (request) {
        zframe_t *address = zmsg_first (request);
        for (int i = 0; i < 3; i++)
            address = zmsg_next (request);
        msgpack_sbuffer answer;
        msgpack_sbuffer_init (&answer);
        sb_envelope_encode_error (&answer, "-", 400, SB_E_INVALID_REQUEST, "no op", NULL, 0);
        zmsg_t *reply = zmsg_new ();
        zmsg_addmem (reply, "", 0);
        zmsg_addstr (reply, SB_MDPW);
        zmsg_addstr (reply, SB_MDPW_REPLY);
        zmsg_addmem (reply, zframe_data (address), zframe_size (address));
        zmsg_addmem (reply, "", 0);
        zmsg_addmem (reply, answer.data, answer.size);
        zmsg_send (&reply, worker);
        msgpack_sbuffer_destroy (&answer);
        SB_CHECK (s_test_client_reply (client, "tenant", 400));
    }
    zmsg_destroy (&request);
    msgpack_sbuffer_destroy (&envelope);
    zsock_destroy (&worker);
    zsock_destroy (&client);
    s_test_jobs (broker, endpoint);
    s_test_busy (broker, endpoint);
    sb_broker_destroy (&broker);
}
