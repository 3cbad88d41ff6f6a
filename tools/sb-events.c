/*  sb-events.c — publish to or listen on the event channel.

    Usage: sb-events pub TOPIC [JSON]
           sb-events sub [-n COUNT] [-t TIMEOUT_MS] [TOPIC_PREFIX...]

    pub connects to every SWITCHBOARD_EVENTS_PUB endpoint, waits for the
    subscriptions to arrive (PUB/SUB drops what is sent before), publishes
    one event with the JSON argument packed as msgpack, and exits.
    sub prints each event as one JSON line {"topic":..,"body":..} and exits
    after COUNT events (default 1) or TIMEOUT_MS (default 10000; status 1).
*/
#include "sb/sb.h"

static int
s_usage (void)
{
    fprintf (stderr, "usage: sb-events pub TOPIC [JSON]\n"
                     "       sb-events sub [-n COUNT] [-t TIMEOUT_MS] [TOPIC_PREFIX...]\n");
    return 2;
}

static int
s_publish (const sb_config_t *config, const char *topic, const char *json)
{
    char why [256];
    json_t *value = sb_json_parse (json, strlen (json), why, sizeof (why));
    if (!value) {
        fprintf (stderr, "sb-events: %s\n", why);
        return 2;
    }
    msgpack_sbuffer body;
    msgpack_sbuffer_init (&body);
    sb_json_pack_into (&body, value);
    json_decref (value);
    zsock_t *pub = sb_events_publisher_new (config);
    if (!pub) {
        msgpack_sbuffer_destroy (&body);
        return 1;
    }
    //  Subscriptions travel back through the proxy after we connect.
    zclock_sleep (500);
    int rc = sb_events_publish (pub, topic, body.data, body.size);
    zsock_destroy (&pub);
    msgpack_sbuffer_destroy (&body);
    return rc ? 1 : 0;
}

static int
s_subscribe (const sb_config_t *config, int count, int timeout, const char *const *topics)
{
    zsock_t *sub = sb_events_subscriber_new (config, topics);
    if (!sub)
        return 1;
    int64_t until = sb_mono_ms () + timeout;
    int seen = 0;
    printf ("subscribed\n");
    fflush (stdout);
    while (seen < count && !zsys_interrupted) {
        int64_t left = until - sb_mono_ms ();
        if (left <= 0)
            break;
        zsock_set_rcvtimeo (sub, (int) left);
        zmsg_t *msg = zmsg_recv (sub);
        if (!msg)
            continue;
        zframe_t *topic = zmsg_first (msg);
        zframe_t *body = zmsg_next (msg);
        msgpack_sbuffer out;
        msgpack_sbuffer_init (&out);
        msgpack_sbuffer_write (&out, "{\"topic\":", 9);
        sb_json_write_string (&out, (const char *) zframe_data (topic), zframe_size (topic));
        msgpack_sbuffer_write (&out, ",\"body\":", 8);
        msgpack_unpacked unpacked;
        msgpack_unpacked_init (&unpacked);
        char why [128];
        if (body && zframe_size (body)
            && sb_mpk_validate (zframe_data (body), zframe_size (body), SB_MPK_MAX_DEPTH, why,
                                sizeof (why)) == 0
            && msgpack_unpack_next (&unpacked, (const char *) zframe_data (body),
                                    zframe_size (body), NULL) == MSGPACK_UNPACK_SUCCESS)
            sb_json_write (&out, &unpacked.data);
        else
            msgpack_sbuffer_write (&out, "null", 4);
        msgpack_unpacked_destroy (&unpacked);
        printf ("%.*s}\n", (int) out.size, out.data);
        fflush (stdout);
        msgpack_sbuffer_destroy (&out);
        zmsg_destroy (&msg);
        seen++;
    }
    zsock_destroy (&sub);
    return seen == count ? 0 : 1;
}

int
main (int argc, char **argv)
{
    if (argc >= 2 && (streq (argv [1], "--help") || streq (argv [1], "-h"))) {
        s_usage ();
        return 0;
    }
    if (argc >= 2 && streq (argv [1], "--version")) {
        printf ("sb-events %s\n", SB_VERSION);
        return 0;
    }
    if (argc < 2)
        return s_usage ();
    sb_log_init ("sb-events");
    sb_log_set_level ("warn");
    sb_config_t config;
    char why [256];
    //  An internal program: the internal key on a secured bus.
    if (sb_config_load (&config, NULL, NULL, why, sizeof (why))) {
        fprintf (stderr, "sb-events: %s\n", why);
        sb_config_release (&config);
        return 2;
    }
    int status;
    if (streq (argv [1], "pub") && (argc == 3 || argc == 4))
        status = s_publish (&config, argv [2], argc == 4 ? argv [3] : "null");
    else
    if (streq (argv [1], "sub")) {
        int count = 1, timeout = 10000, i = 2;
        for (; i + 1 < argc && argv [i][0] == '-'; i += 2) {
            if (streq (argv [i], "-n"))
                count = atoi (argv [i + 1]);
            else
            if (streq (argv [i], "-t"))
                timeout = atoi (argv [i + 1]);
            else
                break;
        }
        if (count <= 0 || timeout <= 0)
            status = s_usage ();
        else
            status = s_subscribe (&config, count, timeout, (const char *const *) argv + i);
    }
    else
        status = s_usage ();
    sb_config_release (&config);
    return status;
}
