/*  events.h — the event channel: PUB/SUB through the gateway's XSUB/XPUB
    proxy.

    Publishers (services) connect a PUB to every gateway's XSUB endpoint
    (SWITCHBOARD_EVENTS_PUB); subscribers connect a SUB to the XPUB endpoint
    (SWITCHBOARD_EVENTS_SUB). An event is two frames: the topic
    ("apikey.revoked", "org.deleted", ...) and a msgpack body.
*/
#ifndef SB_EVENTS_H_INCLUDED
#define SB_EVENTS_H_INCLUDED

#include <czmq.h>
#include "sb/config.h"

//  Starts the proxy actor bound on the first SWITCHBOARD_EVENTS_PUB (XSUB)
//  and SWITCHBOARD_EVENTS_SUB (XPUB) endpoints, as CURVE servers in ZAP domain "events" when the
//  bus is secured (only internal callers' keys get in). NULL when binding
//  fails or the bus's certificate cannot be read.
zactor_t *sb_events_proxy_new (const sb_config_t *config);

//  A PUB socket connected to every XSUB endpoint (a CURVE client when the
//  bus is secured). Caller owns; NULL when the keys cannot be read.
zsock_t *sb_events_publisher_new (const sb_config_t *config);

//  Publishes topic with a msgpack body (may be NULL). Returns 0 or -1.
int sb_events_publish (zsock_t *pub, const char *topic, const void *body, size_t size);

//  A SUB socket connected to every XPUB endpoint, subscribed to the
//  NULL-terminated topic prefixes (an empty list subscribes to everything).
//  A CURVE client when the bus is secured; NULL when the keys cannot be read.
zsock_t *sb_events_subscriber_new (const sb_config_t *config, const char *const *topics);

#endif
