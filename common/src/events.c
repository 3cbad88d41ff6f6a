/*  events.c — the event channel through the gateway's XSUB/XPUB proxy.

    The proxy is a small actor forwarding events from its XSUB to its XPUB
    and subscriptions back the other way. Publishers and subscribers get
    sockets connected to every gateway, so that an event reaches all of them.
*/
#include "sb/sb.h"

//  Forwards every multipart message from one socket to the other.
static void
s_forward (zsock_t *from, zsock_t *to)
{
    zmsg_t *msg = zmsg_recv (from);
    if (msg)
        zmsg_send (&msg, to);
}

typedef struct {
    zsock_t *xsub;
    zsock_t *xpub;
} s_proxy_args_t;

static void
s_proxy_actor (zsock_t *pipe, void *arg)
{
    s_proxy_args_t *args = (s_proxy_args_t *) arg;
    zsock_t *xsub = args->xsub;
    zsock_t *xpub = args->xpub;
    free (args);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, xsub, xpub, NULL);
    zpoller_set_nonstop (poller, true);
    while (true) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, -1);
        if (which == pipe)
            break;                  //  $TERM is the only command
        if (which == xsub)
            s_forward (xsub, xpub);     //  events downstream
        else
        if (which == xpub)
            s_forward (xpub, xsub);     //  subscriptions upstream
    }
    zpoller_destroy (&poller);
    zsock_destroy (&xsub);
    zsock_destroy (&xpub);
}

zactor_t *
sb_events_proxy_new (const sb_config_t *config)
{
    //  Bound here so that a taken port is reported to the caller, then
    //  handed to the actor's thread.
    zsock_t *xsub = zsock_new (ZMQ_XSUB);
    zsock_t *xpub = zsock_new (ZMQ_XPUB);
    if (sb_curve_server (xsub, config, "events") || sb_curve_server (xpub, config, "events")) {
        zsock_destroy (&xsub);
        zsock_destroy (&xpub);
        return NULL;
    }
    if (zsock_bind (xsub, "%s", config->events_pubs [0]) == -1
        || zsock_bind (xpub, "%s", config->events_subs [0]) == -1) {
        sb_error ("events: cannot bind '%s' / '%s': %s", config->events_pubs [0],
                  config->events_subs [0], zmq_strerror (zmq_errno ()));
        zsock_destroy (&xsub);
        zsock_destroy (&xpub);
        return NULL;
    }
    s_proxy_args_t *args = (s_proxy_args_t *) sb_malloc (sizeof (s_proxy_args_t));
    args->xsub = xsub;
    args->xpub = xpub;
    sb_info ("events: proxy %s -> %s", config->events_pubs [0], config->events_subs [0]);
    return zactor_new (s_proxy_actor, args);
}

zsock_t *
sb_events_publisher_new (const sb_config_t *config)
{
    zsock_t *pub = zsock_new (ZMQ_PUB);
    zsock_set_linger (pub, 500);
    if (sb_curve_client (pub, config)) {
        zsock_destroy (&pub);
        return NULL;
    }
    for (size_t i = 0; i < config->events_pub_count; i++)
        if (zsock_connect (pub, "%s", config->events_pubs [i]) == -1)
            sb_warn ("events: cannot connect to '%s'", config->events_pubs [i]);
    return pub;
}

int
sb_events_publish (zsock_t *pub, const char *topic, const void *body, size_t size)
{
    void *handle = zsock_resolve (pub);
    if (zmq_send (handle, topic, strlen (topic), ZMQ_SNDMORE) == -1
        || zmq_send (handle, body ? body : "", body ? size : 0, 0) == -1)
        return sb_error ("events: cannot publish '%s'", topic);
    return 0;
}

zsock_t *
sb_events_subscriber_new (const sb_config_t *config, const char *const *topics)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    if (sb_curve_client (sub, config)) {
        zsock_destroy (&sub);
        return NULL;
    }
    if (!topics || !*topics)
        zsock_set_subscribe (sub, "");
    for (; topics && *topics; topics++)
        zsock_set_subscribe (sub, *topics);
    for (size_t i = 0; i < config->events_sub_count; i++)
        if (zsock_connect (sub, "%s", config->events_subs [i]) == -1)
            sb_warn ("events: cannot connect to '%s'", config->events_subs [i]);
    return sub;
}
