/*  sb-usage-bench.c — how many usage events a second usage-svc ingests over
    the bus, the way producers deliver them (usage.record, role service).

    Usage: sb-usage-bench [-b BROKERS] [-c CLIENTS] [-n BATCH] [-d SECONDS] ORG

    CLIENTS threads (default 4), each with its own MDP client, send batches
    of BATCH events (default 100) for organization ORG, one after the
    other, for SECONDS (default 10); every event id is new (a random run id,
    the thread and a sequence number). Prints one line of figures: events
    accepted per second, batches, failures, and the batch round trip's
    median and 99th percentile. Not a test: it judges nothing. Exits 0 when
    at least one batch was acknowledged, 1 otherwise, 2 on bad usage.
*/
#include "sb/sb.h"
#include <pthread.h>

typedef struct {
    const sb_config_t *config;      //  the bus's keys
    const char *brokers;
    const char *org;
    const char *run;
    int index;
    int batch;
    int64_t until;                  //  monotonic ms
    int64_t accepted;
    int64_t batches;
    int64_t failures;
    int64_t *latencies;             //  microseconds, one per acknowledged batch
    size_t latency_count;
    size_t latency_max;
} s_worker_t;

static int64_t
s_usec (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *
s_run (void *arg)
{
    s_worker_t *self = (s_worker_t *) arg;
    sb_client_t *client = sb_client_new (self->config, self->brokers);
    if (!client)
        return NULL;
    msgpack_sbuffer args, envelope;
    msgpack_sbuffer_init (&args);
    msgpack_sbuffer_init (&envelope);
    static const char *const metrics [] = { "bench_calls", "bench_minutes", "bench_tokens" };
    for (int64_t seq = 0; sb_mono_ms () < self->until; seq++) {
        time_t now = time (NULL);
        struct tm tm;
        gmtime_r (&now, &tm);
        char at [32], id [96];
        strftime (at, sizeof (at), "%Y-%m-%dT%H:%M:%SZ", &tm);
        msgpack_sbuffer_clear (&args);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 1);
        sb_mpk_pack_str (&pk, "events");
        msgpack_pack_array (&pk, (size_t) self->batch);
        for (int i = 0; i < self->batch; i++) {
            snprintf (id, sizeof (id), "%s-%d-%lld-%d", self->run, self->index, (long long) seq, i);
            msgpack_pack_map (&pk, 5);
            sb_mpk_pack_kv_str (&pk, "id", id);
            sb_mpk_pack_kv_str (&pk, "org", self->org);
            sb_mpk_pack_kv_str (&pk, "metric", metrics [i % 3]);
            sb_mpk_pack_kv_int (&pk, "quantity", 1 + i % 7);
            sb_mpk_pack_kv_str (&pk, "occurred_at", at);
        }
        sb_envelope_head_t head = { .role = SB_ROLE_SERVICE };
        sb_random_hex (head.id, 16);
        snprintf (head.op, sizeof (head.op), "usage.record");
        head.deadline = sb_now_ms () + 10000;
        msgpack_sbuffer_clear (&envelope);
        sb_envelope_encode_request (&envelope, &head, args.data, args.size);
        int64_t started = s_usec ();
        sb_reply_msg_t reply;
        if (sb_client_call (client, "usage", envelope.data, envelope.size, 10000, &reply) != 0) {
            self->failures++;
            continue;
        }
        int64_t accepted = 0;
        if (reply.status == 200 && reply.body
            && sb_mpk_int (sb_mpk_get (reply.body, "accepted"), &accepted) == 0) {
            self->accepted += accepted;
            self->batches++;
            if (self->latency_count == self->latency_max) {
                self->latency_max = self->latency_max ? self->latency_max * 2 : 1024;
                self->latencies = (int64_t *) sb_realloc (self->latencies,
                                                          self->latency_max * sizeof (int64_t));
            }
            self->latencies [self->latency_count++] = s_usec () - started;
        }
        else
            self->failures++;
        sb_reply_msg_release (&reply);
    }
    msgpack_sbuffer_destroy (&args);
    msgpack_sbuffer_destroy (&envelope);
    sb_client_destroy (&client);
    return NULL;
}

static int
s_compare (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
    const char *brokers = NULL;     //  -b, else SWITCHBOARD_BROKER
    int clients = 4, batch = 100, seconds = 10;
    int i = 1;
    for (; i + 1 < argc && argv [i][0] == '-'; i += 2) {
        if (streq (argv [i], "-b"))
            brokers = argv [i + 1];
        else
        if (streq (argv [i], "-c"))
            clients = atoi (argv [i + 1]);
        else
        if (streq (argv [i], "-n"))
            batch = atoi (argv [i + 1]);
        else
        if (streq (argv [i], "-d"))
            seconds = atoi (argv [i + 1]);
        else
            break;
    }
    if (argc - i != 1 || !sb_is_uuid (argv [i]) || clients < 1 || clients > 256 || batch < 1
        || batch > 1000 || seconds < 1) {
        fprintf (stderr, "usage: sb-usage-bench [-b BROKERS] [-c CLIENTS 1..256] "
                         "[-n BATCH 1..1000] [-d SECONDS] ORG\n");
        return 2;
    }
    sb_log_init ("sb-usage-bench");
    sb_log_set_level ("warn");
    sb_config_t config;
    char why [256];
    if (sb_config_load (&config, NULL, NULL, why, sizeof (why))) {
        fprintf (stderr, "sb-usage-bench: %s\n", why);
        sb_config_release (&config);
        return 2;
    }
    char run [17];
    sb_random_hex (run, 8);
    s_worker_t *workers = (s_worker_t *) sb_calloc ((size_t) clients, sizeof (s_worker_t));
    pthread_t *threads = (pthread_t *) sb_calloc ((size_t) clients, sizeof (pthread_t));
    int64_t started = s_usec ();
    for (int c = 0; c < clients; c++) {
        workers [c] = (s_worker_t) { .config = &config, .brokers = brokers,
                                     .org = argv [i], .run = run, .index = c, .batch = batch,
                                     .until = sb_mono_ms () + seconds * 1000 };
        pthread_create (&threads [c], NULL, s_run, &workers [c]);
    }
    int64_t accepted = 0, batches = 0, failures = 0;
    size_t count = 0;
    for (int c = 0; c < clients; c++) {
        pthread_join (threads [c], NULL);
        accepted += workers [c].accepted;
        batches += workers [c].batches;
        failures += workers [c].failures;
        count += workers [c].latency_count;
    }
    double elapsed = (double) (s_usec () - started) / 1e6;
    int64_t *all = (int64_t *) sb_calloc (count ? count : 1, sizeof (int64_t));
    size_t n = 0;
    for (int c = 0; c < clients; c++) {
        memcpy (all + n, workers [c].latencies, workers [c].latency_count * sizeof (int64_t));
        n += workers [c].latency_count;
        free (workers [c].latencies);
    }
    qsort (all, count, sizeof (int64_t), s_compare);
    printf ("bus: %lld events accepted in %.1f s = %.0f events/s (%lld batches of %d from %d "
            "clients, %lld failed); batch round trip p50 %.1f ms, p99 %.1f ms\n",
            (long long) accepted, elapsed, (double) accepted / elapsed, (long long) batches, batch,
            clients, (long long) failures, count ? (double) all [count / 2] / 1000 : 0.0,
            count ? (double) all [count * 99 / 100] / 1000 : 0.0);
    free (all);
    free (workers);
    free (threads);
    sb_config_release (&config);
    return batches > 0 ? 0 : 1;
}
