/*  relay.h — a thread that drains an outbox table to another service (or,
    without a bus client, to anywhere else: the mail outbox).

    An outbox is written in the same transaction as the change it reports
    (a call's usage, an organization's deletion), so that nothing is
    promised that is not also durable; a relay then delivers it over the
    bus until the receiver acknowledges. Every relay has the same shape,
    kept here once: an actor (its own thread) with its own database
    connection and bus client, so that the worker never waits for the
    receiver; it sleeps until woken (sb_relay_wake, after the commit of a
    transaction that wrote to the outbox) or for at most idle_ms (rows
    another process committed and could not deliver: it stopped), then
    runs step until step says the outbox has nothing more for now (or a
    stop request is waiting: it is seen between two steps).

    What a row is, how it is sent and when it counts as delivered belong to
    step. It returns:
        > 0   it did some work and there may be more: run again now;
          0   nothing more to do now: sleep until woken or idle_ms;
         -1   the receiver or the database failed: back off (1 s doubling
              to backoff_max_ms, reset by the next success), even if woken.

    Not LISTEN/NOTIFY: PostgreSQL serializes the commits of transactions
    that NOTIFY (one lock on the notification queue, held through the WAL
    flush), which capped POST /v1/calls at some 700 a second.
*/
#ifndef SB_RELAY_H_INCLUDED
#define SB_RELAY_H_INCLUDED

#include "sb/client.h"
#include "sb/config.h"
#include "sb/db.h"

typedef struct _sb_relay_t sb_relay_t;

typedef int (sb_relay_step_fn) (sb_db_t *db, sb_client_t *client, void *arg);

typedef struct {
    const char *name;               //  for the logs: "usage relay"
    const char *schema;             //  the connection's search_path
    sb_relay_step_fn *step;
    void *arg;                      //  step's, borrowed for the relay's life
    int idle_ms;                    //  0: 1000
    int backoff_max_ms;             //  0: 30000
    bool without_bus;               //  delivers elsewhere (mail): no bus client, step's is NULL
} sb_relay_spec_t;

//  Starts the relay's thread for the service configured in config
//  (service_database_url, broker), both borrowed for the relay's life; spec
//  is copied. Returns NULL when the thread cannot start.
sb_relay_t *sb_relay_new (const sb_config_t *config, const sb_relay_spec_t *spec);

//  Stops the thread (the step in hand finishes first) and frees the relay.
void sb_relay_destroy (sb_relay_t **self_p);

//  The step most outboxes need, kept once: rows handed over one at a time,
//  each retried on its own schedule. The table has the columns
//  acknowledged_at, next_attempt_at, attempts, failures and last_error
//  (besides its own); the step takes one row whose acknowledged_at is null
//  and whose next_attempt_at has come, locked FOR UPDATE SKIP LOCKED (the
//  relays of several processes share the table; the row stays locked
//  during the delivery), and calls deliver with its columns. A 2xx answer
//  with *done true acknowledges it; 2xx with *done false puts it at the
//  back of the due rows (work delivered in batches); anything else counts
//  a failure, keeps the reason and retries the row later, 1 s doubling to
//  backoff_max_s. Returns 1 when a row was handled (there may be more), 0
//  when none is due, -1 when the database failed — for a relay's step.
typedef struct {
    const char *name;               //  for the logs: "deletions"
    const char *table;              //  "org_deletions" (a constant: it is written into SQL)
    const char *columns;            //  "organization_id, service": the first key_count
    int column_count;               //  identify a row; at most 8 columns
    int key_count;
    int backoff_max_s;
    //  Hands the row over (values as text, borrowed): returns the
    //  receiver's status (0: no answer) with error (printable ASCII) set
    //  when it is not 2xx; *done starts true.
    int (*deliver) (sb_client_t *client, const char *const *row, bool *done, char *error,
                    size_t error_size);
} sb_outbox_t;

int sb_outbox_step (sb_db_t *db, sb_client_t *client, const sb_outbox_t *outbox);

//  A relay whose step is sb_outbox_step on outbox (borrowed for the relay's
//  life: a constant), named by it, on the service's schema. NULL when the
//  thread cannot start.
sb_relay_t *sb_outbox_relay_new (const sb_config_t *config, const char *schema,
                                 const sb_outbox_t *outbox);

//  Asks the relay to look at its outbox now; many wakes coalesce into one
//  look. Call it from the thread that created the relay (the worker's),
//  e.g. through sb_ctx_after_commit.
void sb_relay_wake (sb_relay_t *self);

#endif
