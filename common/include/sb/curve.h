/*  curve.h — the bus secured with ZeroMQ CURVE: keys, the allow-list, and
    what each key is allowed to do.

    Every program on the bus has a key pair, kept as a czmq certificate
    (zcert: `NAME.key` holds the public key and metadata, `NAME.key_secret`
    beside it the secret key too). Gateways also hold the bus's own
    certificate (the server's: `server.key_secret`); everyone else holds
    only its public half (`server.key`), which is how a worker knows it is
    talking to our broker and not to someone who took its address.

    A gateway admits a connection to its broker (ZAP domain "bus") or to its
    event proxy ("events") only when the client's public key is in its
    allow-list directory (SWITCHBOARD_CURVE_ALLOW, a zcertstore: one public
    certificate per key, metadata `role` and for clients `organization`).
    The role is the key's grant:

        auth, tenant, billing, usage   a worker of that service (it may
                                        register as `tenant` or `tenant.<x>`,
                                        and call others as an internal caller)
        gateway                        another gateway: an internal caller
        internal                       an internal program (sb-call, a
                                        batch job): an internal caller
        operator                       switchboardctl: an internal caller
                                        that may also send role `operator`
        client                         a program of one organization: its
                                        requests must name that organization
                                        and a role of user or admin

    Internal callers may send any organization and role `service`; only
    operators role `operator`; nobody but a service's own key may register
    as its worker; only internal callers may publish or subscribe to
    events. The ZAP handler answers with the grant as the connection's
    User-Id ("tenant", "client:<uuid>"), so the broker reads it from every
    message (zframe_meta "User-Id") with no table shared between threads.
    A key removed from the allow-list admits no new connection at once
    (zcertstore rereads a changed directory); connections already made keep
    their grant until they close.

    Plaintext (SWITCHBOARD_CURVE=off) is for development only: the
    configuration refuses it unless every bus endpoint is loopback
    (127.0.0.0/8, ::1, localhost, ipc://, inproc://).
*/
#ifndef SB_CURVE_H_INCLUDED
#define SB_CURVE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include "sb/config.h"
#include "sb/envelope.h"

#define SB_CURVE_KEY_TEXT 40        //  a Z85 key's characters

//  What a key may do on the bus (see above).
typedef enum {
    SB_GRANT_NONE = 0,              //  unknown: nothing
    SB_GRANT_WORKER,                //  service names the service
    SB_GRANT_GATEWAY,
    SB_GRANT_INTERNAL,
    SB_GRANT_OPERATOR,
    SB_GRANT_CLIENT,                //  organization names the organization
    SB_GRANT_ANY                    //  a plaintext bus: everything (development)
} sb_grant_kind_t;

typedef struct {
    sb_grant_kind_t kind;
    char service [16];              //  SB_GRANT_WORKER
    char organization [37];         //  SB_GRANT_CLIENT, lower case
} sb_grant_t;

//  Parses a key's role (and organization, for `client`) into grant.
//  Returns 0, or -1 when the role is unknown or a client has no valid
//  organization.
int sb_grant_from_role (sb_grant_t *grant, const char *role, const char *organization);

//  The grant as a User-Id ("tenant", "client:<uuid>") and back.
void sb_grant_format (const sb_grant_t *grant, char *text, size_t size);
int sb_grant_parse (sb_grant_t *grant, const char *text);

//  True when grant lets a worker register as service (name, len): its
//  own service or "<service>.<anything>".
bool sb_grant_may_register (const sb_grant_t *grant, const char *name, size_t len);

//  True when grant lets a request with this role and organization
//  through (org "" for none).
bool sb_grant_may_send (const sb_grant_t *grant, sb_role_t role, const char *org);

//  True when grant may publish or subscribe to events.
bool sb_grant_internal (const sb_grant_t *grant);

//  The grant of the peer that sent frame (its User-Id): SB_GRANT_ANY when
//  the bus is plaintext (secured false), SB_GRANT_NONE when the frame
//  carries none.
void sb_grant_of_frame (sb_grant_t *grant, zframe_t *frame, bool secured);

//  True when endpoint stays on this machine (see above).
bool sb_curve_endpoint_loopback (const char *endpoint);

//  Checks at a program's start that config's keys can be read: its own
//  certificate with its secret, the bus's public key, and for a gateway
//  (server true) the bus's secret key. Returns 0 (also when CURVE is
//  off), or -1 logged with the command that makes what is missing.
int sb_curve_check (const sb_config_t *config, bool server);

//  Makes sock a CURVE client of the bus per config (its own certificate,
//  the server's public key). Call before connecting. Returns 0 (also when
//  CURVE is off: nothing to do), or -1 logged.
int sb_curve_client (zsock_t *sock, const sb_config_t *config);

//  Makes sock a CURVE server in ZAP domain ("bus", "events"). Call before
//  binding. Returns 0 (also when CURVE is off), or -1 logged.
int sb_curve_server (zsock_t *sock, const sb_config_t *config, const char *domain);

//  Starts the ZAP handler of this process (gateways; before the first
//  server socket binds): admits keys of config's allow-list with their
//  grants, per domain. NULL when CURVE is off (nothing to start) or the
//  handler cannot bind (logged; *failed set).
zactor_t *sb_curve_zap_new (const sb_config_t *config, bool *failed);

//  Writes a new key pair to path (NAME.key and NAME.key_secret; path
//  names the public file) with metadata role (and organization). Refuses
//  to overwrite. Returns 0, or -1 with why.
int sb_curve_keygen (const char *path, const char *role, const char *organization, char *why,
                     size_t why_size);

//  Adds the public certificate at cert_path to the allow-list directory
//  allow_dir (created when missing), as NAME.key; role and organization,
//  when given, replace those in the certificate. Never copies a secret.
//  Returns 0, or -1 with why.
int sb_curve_allow (const char *cert_path, const char *allow_dir, const char *role,
                    const char *organization, char *why, size_t why_size);

void sb_curve_test (bool verbose);

#endif
