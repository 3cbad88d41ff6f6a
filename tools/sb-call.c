/*  sb-call.c — call a service over the bus, as any internal program can.

    Usage: sb-call [-b BROKERS] [-t TIMEOUT_MS] [-r ROLE] [-o ORG] SERVICE OP [JSON_ARGS]

    Builds a request envelope, sends it through an MDP client to the
    brokers (SWITCHBOARD_BROKER by default), with the internal key on a
    secured bus (SWITCHBOARD_CURVE_CERT, default <CURVE_DIR>/internal.key),
    and prints the reply as JSON:
    {"status":200,"body":...} or {"status":404,"error":{...}}. Exits 0 when
    a reply came (whatever its status), 1 on timeout, 2 on bad usage.
*/
#include "sb/sb.h"

int
main (int argc, char **argv)
{
    const char *brokers = NULL;     //  -b, else SWITCHBOARD_BROKER
    int timeout = 5000;
    sb_envelope_head_t head = { .role = SB_ROLE_SERVICE };
    int i = 1;
    for (; i < argc && argv [i][0] == '-'; i++) {
        if (streq (argv [i], "--help") || streq (argv [i], "-h")) {
            printf ("usage: sb-call [-b BROKERS] [-t TIMEOUT_MS] [-r ROLE] [-o ORG] SERVICE OP "
                    "[JSON_ARGS]\n");
            return 0;
        }
        if (streq (argv [i], "--version")) {
            printf ("sb-call %s\n", SB_VERSION);
            return 0;
        }
        if (i + 1 >= argc)
            break;
        if (streq (argv [i], "-b"))
            brokers = argv [++i];
        else
        if (streq (argv [i], "-t"))
            timeout = atoi (argv [++i]);
        else
        if (streq (argv [i], "-r")) {
            if (sb_role_parse (argv [++i], &head.role)) {
                fprintf (stderr, "sb-call: unknown role '%s'\n", argv [i]);
                return 2;
            }
        }
        else
        if (streq (argv [i], "-o"))
            snprintf (head.org, sizeof (head.org), "%s", argv [++i]);
        else
            break;
    }
    if (argc - i < 2 || argc - i > 3 || timeout <= 0) {
        fprintf (stderr, "usage: sb-call [-b BROKERS] [-t TIMEOUT_MS] [-r ROLE] [-o ORG] SERVICE "
                         "OP [JSON_ARGS]\n");
        return 2;
    }
    sb_log_init ("sb-call");
    sb_log_set_level ("warn");
    const char *service = argv [i];
    snprintf (head.op, sizeof (head.op), "%s", argv [i + 1]);
    if (!sb_envelope_op_valid (head.op)) {
        fprintf (stderr, "sb-call: '%s' is not an operation name\n", head.op);
        return 2;
    }
    char why [256];
    json_t *args = sb_json_parse (argc - i == 3 ? argv [i + 2] : "{}",
                                  strlen (argc - i == 3 ? argv [i + 2] : "{}"), why, sizeof (why));
    if (!args || !json_is_object (args)) {
        fprintf (stderr, "sb-call: arguments must be a JSON object%s%s\n", args ? "" : ": ",
                 args ? "" : why);
        json_decref (args);
        return 2;
    }
    msgpack_sbuffer packed, envelope;
    msgpack_sbuffer_init (&packed);
    msgpack_sbuffer_init (&envelope);
    sb_json_pack_into (&packed, args);
    json_decref (args);
    sb_random_hex (head.id, 16);
    head.deadline = sb_now_ms () + timeout;
    sb_envelope_encode_request (&envelope, &head, packed.data, packed.size);

    int status = 1;
    sb_config_t config;
    char config_why [256];
    if (sb_config_load (&config, NULL, NULL, config_why, sizeof (config_why))) {
        fprintf (stderr, "sb-call: %s\n", config_why);
        sb_config_release (&config);
        msgpack_sbuffer_destroy (&packed);
        msgpack_sbuffer_destroy (&envelope);
        return 2;
    }
    sb_client_t *client = sb_client_new (&config, brokers);
    sb_reply_msg_t reply;
    if (client
        && sb_client_call (client, service, envelope.data, envelope.size, timeout, &reply) == 0) {
        msgpack_sbuffer out;
        msgpack_sbuffer_init (&out);
        char head_json [64];
        snprintf (head_json, sizeof (head_json), "{\"status\":%d,\"%s\":", reply.status,
                  reply.error ? "error" : "body");
        msgpack_sbuffer_write (&out, head_json, strlen (head_json));
        sb_json_write (&out, reply.error ? reply.error : reply.body);
        printf ("%.*s}\n", (int) out.size, out.data);
        msgpack_sbuffer_destroy (&out);
        sb_reply_msg_release (&reply);
        status = 0;
    }
    else
        fprintf (stderr, "sb-call: no reply from '%s'\n", service);
    sb_client_destroy (&client);
    sb_config_release (&config);
    msgpack_sbuffer_destroy (&packed);
    msgpack_sbuffer_destroy (&envelope);
    return status;
}
