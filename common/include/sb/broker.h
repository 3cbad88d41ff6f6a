/*  broker.h — the Majordomo broker the gateway hosts.

    The broker is an actor (its own thread) owning a ROUTER socket bound on
    the bus endpoint. Workers register with READY and are handed requests
    least recently used first; heartbeats flow both ways and a worker that
    misses SWITCHBOARD_HEARTBEAT_LIVENESS intervals is forgotten. Requests
    come from two kinds of clients:

    - external MDP clients on the ROUTER (internal programs, other
      services), whose envelope deadline the broker reads;
    - the gateway's own HTTP threads, in process, through sb_broker_submit:
      a job is a request plus a completion callback, so an HTTP thread never
      waits for the bus (its connection is suspended meanwhile). An HTTP
      server whose loop the broker hosts (sb_broker_host) runs on the
      broker's thread: its jobs are taken in and answered there, with no
      hand-off between threads.

    A request for a service with no live worker is answered 503 at once; a
    request still unanswered at its deadline is answered 504; a request whose
    worker vanishes (DISCONNECT, expiry, or the connection dropping) is
    answered 503. Late replies are dropped.
*/
#ifndef SB_BROKER_H_INCLUDED
#define SB_BROKER_H_INCLUDED

#include <czmq.h>
#include <stdint.h>
#include "sb/config.h"
#include "sb/mdp.h"

typedef struct _sb_broker_t sb_broker_t;
typedef struct _sb_job_t sb_job_t;

//  Called on the broker's thread when a job is finished: it must be quick
//  and must only hand the job back to its owner (e.g. resume a connection).
typedef void (sb_job_done_fn) (sb_job_t *job);

struct _sb_job_t {
    //  Set by the submitter:
    char service [SB_SERVICE_NAME_MAX + 1];
    zframe_t *request;              //  the envelope; the broker takes it
    int64_t deadline;               //  sb_mono_ms () time after which 504
    sb_job_done_fn *done;
    void *arg;                      //  for the submitter
    //  Set by the broker before done () is called:
    int status;                     //  0 = reply present, else 503 or 504
    zframe_t *reply;                //  reply envelope; the job's owner frees it
    //  Private to the broker:
    uint64_t seq;
};

//  Starts the broker, bound on endpoint (e.g. tcp://127.0.0.1:5555). With
//  config (NULL: a plaintext bus, for tests) and CURVE on, the ROUTER is a
//  CURVE server in ZAP domain "bus" and every worker and client is held to
//  its key's grant (sb/curve.h; the process's ZAP handler must be running).
//  Returns NULL (logged) when the endpoint cannot be bound or the bus's
//  certificate cannot be read.
sb_broker_t *sb_broker_new (const char *endpoint, int heartbeat_ms, int liveness,
                            const sb_config_t *config);

//  Stops the broker: pending jobs complete with 503, workers are told to
//  DISCONNECT. Nullifies *self_p.
void sb_broker_destroy (sb_broker_t **self_p);

//  Completes every pending job with 503 now, and every job submitted from
//  now on at once: the first step of a graceful stop, so that no HTTP
//  connection stays suspended while the HTTP server shuts down.
void sb_broker_drain (sb_broker_t *self);

//  Hands a job to the broker; callable from any thread. The job must stay
//  valid until its done callback has run.
void sb_broker_submit (sb_broker_t *self, sb_job_t *job);

//  Another event loop run on the broker's thread (the gateway's HTTP
//  server when it has one thread): fd (e.g. an epoll descriptor) is polled
//  with the bus, and run (arg) is called on every turn of the broker's loop
//  — when fd is readable, after bus messages (whose jobs' done callbacks
//  may have readied work for it), and timeout (arg) milliseconds after the
//  last turn at most (-1: no timeout of its own). A job submitted from run
//  is taken in at once, without a hand-off between threads. Returns 0 once
//  the broker runs it, -1 (logged) when fd cannot be polled or a loop is
//  hosted already.
typedef void (sb_broker_host_fn) (void *arg);
typedef int (sb_broker_timeout_fn) (void *arg);
int sb_broker_host (sb_broker_t *self, int fd, sb_broker_host_fn *run,
                     sb_broker_timeout_fn *timeout, void *arg);

//  Stops running the hosted loop; once this returns, run is never called
//  again.
void sb_broker_unhost (sb_broker_t *self);

//  Number of live workers registered for service, from any thread.
size_t sb_broker_worker_count (sb_broker_t *self, const char *service);

//  Selftest: MDP clients get the service they called in every reply.
void sb_broker_test (bool verbose);


#endif
