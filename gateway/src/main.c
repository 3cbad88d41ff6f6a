/*  main.c — the gateway process: the broker, the event proxy and the HTTP
    server, stopped in order on SIGTERM/SIGINT.
*/
#include "gw.h"

static void
s_usage (FILE *out)
{
    fprintf (out, "Usage: gateway [--help] [--version]\n\n"
                  "Switchboard's HTTP gateway: serves the public API on SWITCHBOARD_HTTP_PORT,\n"
                  "hosts the bus broker on the first SWITCHBOARD_BROKER endpoint and the event\n"
                  "proxy on SWITCHBOARD_EVENTS_PUB / SWITCHBOARD_EVENTS_SUB, both CURVE-secured\n"
                  "(SWITCHBOARD_CURVE_*: only keys in the allow-list get in; see\n"
                  "`switchboardctl keys --help`).\n\n"
                  "The /v1/sys routes answer only to SWITCHBOARD_OPERATOR_TOKEN (404 when\n"
                  "unset). Behind a proxy, list it in SWITCHBOARD_TRUSTED_PROXIES so that\n"
                  "per-address limits and the audit log see the client, not the proxy.\n\n");
    sb_config_print_help (out);
}

int
main (int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "--help") || streq (argv [i], "-h")) {
            s_usage (stdout);
            return 0;
        }
        if (streq (argv [i], "--version")) {
            printf ("gateway %s\n", SB_VERSION);
            return 0;
        }
        fprintf (stderr, "gateway: unknown argument '%s' (try --help)\n", argv [i]);
        return 2;
    }
    sb_log_init ("gateway");
    sb_config_t config;
    char why [256];
    if (sb_config_load (&config, "gateway", NULL, why, sizeof (why))) {
        sb_error ("bad configuration: %s", why);
        sb_config_release (&config);
        return 2;
    }
    sb_log_set_level (config.log_level);
    zsys_init ();

    int status = 1;
    //  The ZAP handler comes first: a CURVE server socket bound without it
    //  would admit any key (sb/curve.h).
    zactor_t *zap = NULL;
    bool bus_ready = true;
    if (config.curve) {
        bool failed = false;
        bus_ready = sb_curve_check (&config, true) == 0
                    && (zap = sb_curve_zap_new (&config, &failed)) != NULL;
    }
    sb_broker_t *broker = bus_ready ? sb_broker_new (config.brokers [0], config.heartbeat_ms,
                                                      config.heartbeat_liveness, &config)
                                     : NULL;
    zactor_t *events = broker ? sb_events_proxy_new (&config) : NULL;
    gw_t *http = events ? gw_http_new (&config, broker) : NULL;
    if (http) {
        sb_info ("gateway %s ready on port %d", SB_VERSION, config.http_port);
        while (!zsys_interrupted)
            zclock_sleep (100);
        sb_info ("gateway stopping");
        //  New work gets 503, waiting work is answered 503 by the broker so
        //  that no connection stays suspended, then the HTTP server stops.
        gw_http_quiesce (http);
        sb_broker_drain (broker);
        zclock_sleep (100);
        gw_http_destroy (&http);
        status = 0;
    }
    zactor_destroy (&events);
    sb_broker_destroy (&broker);
    zactor_destroy (&zap);
    sb_config_release (&config);
    return status;
}
