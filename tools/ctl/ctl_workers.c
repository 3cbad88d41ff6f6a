/*  ctl_workers.c — `switchboardctl workers`: the live workers of every
    service, with their versions and load, as each gateway's broker sees
    them. The broker answers bus service `mmi.workers` itself (broker.c):
    {broker, services: [{name, queued, workers: [{id, version, credit,
    inflight, since}]}]}. Every endpoint of SWITCHBOARD_BROKER is asked on
    its own (a client each: a worker registers with every broker, so each
    gateway has its own view) and the rows merged: one per worker and
    gateway. A gateway that does not answer is reported (stderr, and
    "unreachable" in the JSON) and makes the exit CTL_UNAVAILABLE; the
    others are still shown.
*/
#include "ctl.h"

static const char s_usage [] =
    "usage: switchboardctl [--json] workers\n\n"
    "The live workers of every service as each gateway's broker sees them:\n"
    "service, worker id, version, credit (requests it may take), in flight,\n"
    "since (when it registered, UTC) and gateway (broker endpoint).\n";

static const char *
s_str (const json_t *object, const char *key)
{
    const char *value = json_string_value (json_object_get (object, key));
    return value ? value : "";
}

int
ctl_workers (ctl_t *ctl, int argc, char **argv)
{
    if (ctl_wants_help (argc, argv, s_usage))
        return CTL_OK;
    if (ctl_word (argc, argv, 0, NULL)) {
        fputs (s_usage, stderr);
        return CTL_USAGE;
    }
    json_t *rows = json_array ();
    json_t *unreachable = json_array ();
    int code = CTL_OK;
    //  ctl_call speaks through ctl->client: lend it one client per endpoint
    sb_client_t *shared = ctl->client;
    for (size_t index = 0; index < ctl->config.broker_count; index++) {
        const char *endpoint = ctl->config.brokers [index];
        ctl->client = sb_client_new (&ctl->config, endpoint);
        json_t *body = NULL;
        int status = ctl->client ? ctl_call (ctl, "mmi.workers", "mmi.workers", NULL, NULL,
                                             &body)
                                 : 0;
        sb_client_destroy (&ctl->client);
        if (!body) {
            json_array_append_new (unreachable, json_string (endpoint));
            if (code == CTL_OK)
                code = status ? ctl_exit_code (status) : CTL_UNAVAILABLE;
            continue;
        }
        size_t s_index, w_index;
        json_t *service, *worker;
        json_array_foreach (json_object_get (body, "services"), s_index, service) {
            json_array_foreach (json_object_get (service, "workers"), w_index, worker) {
                json_t *row = json_pack ("{s:O, s:O, s:O, s:O, s:O, s:O, s:s}",
                    "service", json_object_get (service, "name"),
                    "id", json_object_get (worker, "id"),
                    "version", json_object_get (worker, "version"),
                    "credit", json_object_get (worker, "credit"),
                    "inflight", json_object_get (worker, "inflight"),
                    "since", json_object_get (worker, "since"),
                    "gateway", endpoint);
                if (row)
                    json_array_append_new (rows, row);
            }
        }
        json_decref (body);
    }
    ctl->client = shared;
    if (ctl->json) {
        json_t *document = json_pack ("{s:o, s:o}", "workers", rows, "unreachable", unreachable);
        ctl_print_json (document);
        json_decref (document);
        return code;
    }
    printf ("%-16s %-18s %-10s %6s %8s %-20s %s\n", "SERVICE", "WORKER", "VERSION", "CREDIT",
            "INFLIGHT", "SINCE", "GATEWAY");
    size_t index;
    json_t *row;
    json_array_foreach (rows, index, row) {
        char since [SB_TIMESTAMP_SIZE] = "";
        json_int_t ms = json_integer_value (json_object_get (row, "since"));
        if (ms > 0)
            sb_timestamp_format ((int64_t) ms * 1000, since);
        since [19] = 0;
        printf ("%-16s %-18s %-10s %6lld %8lld %-20s %s\n",
                s_str (row, "service"),
                s_str (row, "id"),
                s_str (row, "version"),
                (long long) json_integer_value (json_object_get (row, "credit")),
                (long long) json_integer_value (json_object_get (row, "inflight")), since,
                s_str (row, "gateway"));
    }
    json_array_foreach (unreachable, index, row)
        fprintf (stderr, "switchboardctl: gateway %s did not answer\n", json_string_value (row));
    json_decref (rows);
    json_decref (unreachable);
    return code;
}
