/*  curve.c — the bus secured with ZeroMQ CURVE (see curve.h for the
    model: keys, grants, what each may do).

    The ZAP handler is an actor bound on inproc://zeromq.zap.01 in czmq's
    context, the one every socket of the process lives in; libzmq asks it
    about each CURVE handshake on a server socket (RFC 27). It must be up
    before the first server socket binds: a CURVE server with no handler
    would admit any key (sb_curve_zap_new is therefore the gateway's first
    step, and the server sockets are configured only after it answered).
    The handler owns a zcertstore of the allow-list directory, which czmq
    rereads when the directory changes, and answers:

        200 with User-Id = the grant    a listed key with a valid role,
                                        and for domain "events" an
                                        internal one;
        400                             anything else (unlisted key, a
                                        mechanism other than CURVE, a
                                        certificate with no or a bad role).

    A refusal is logged with the peer's address, once per address and key
    a minute, so that a misconfigured worker retrying does not flood the
    log.

    Failure modes: a missing or unreadable certificate makes
    sb_curve_client/sb_curve_server fail, and the program stops at start
    with the path and the command that makes one; nothing falls back to
    plaintext.
*/
#include "sb/sb.h"
#include "sb/curve.h"
#include <sys/stat.h>

#define S_ZAP_ENDPOINT "inproc://zeromq.zap.01"

//  ---- grants ----------------------------------------------------------

static const struct {
    const char *role;
    sb_grant_kind_t kind;
} s_roles [] = {
    { "auth", SB_GRANT_WORKER },      { "tenant", SB_GRANT_WORKER },
    { "billing", SB_GRANT_WORKER },   { "usage", SB_GRANT_WORKER },
    { "gateway", SB_GRANT_GATEWAY },  { "internal", SB_GRANT_INTERNAL },
    { "operator", SB_GRANT_OPERATOR }, { "client", SB_GRANT_CLIENT },
    { NULL, SB_GRANT_NONE }
};

int
sb_grant_from_role (sb_grant_t *grant, const char *role, const char *organization)
{
    memset (grant, 0, sizeof (*grant));
    if (!role)
        return -1;
    for (size_t i = 0; s_roles [i].role; i++)
        if (streq (s_roles [i].role, role)) {
            grant->kind = s_roles [i].kind;
            break;
        }
    if (grant->kind == SB_GRANT_WORKER)
        snprintf (grant->service, sizeof (grant->service), "%s", role);
    if (grant->kind == SB_GRANT_CLIENT) {
        if (!organization || !sb_is_uuid (organization)) {
            grant->kind = SB_GRANT_NONE;
            return -1;
        }
        for (size_t i = 0; i < 36; i++)
            grant->organization [i] = (char) tolower ((unsigned char) organization [i]);
    }
    return grant->kind == SB_GRANT_NONE ? -1 : 0;
}

void
sb_grant_format (const sb_grant_t *grant, char *text, size_t size)
{
    const char *role = "";
    for (size_t i = 0; s_roles [i].role; i++)
        if (s_roles [i].kind == grant->kind
            && (grant->kind != SB_GRANT_WORKER || streq (s_roles [i].role, grant->service)))
            role = s_roles [i].role;
    if (grant->kind == SB_GRANT_CLIENT)
        snprintf (text, size, "client:%s", grant->organization);
    else
        snprintf (text, size, "%s", role);
}

int
sb_grant_parse (sb_grant_t *grant, const char *text)
{
    if (text && strncmp (text, "client:", 7) == 0)
        return sb_grant_from_role (grant, "client", text + 7);
    return sb_grant_from_role (grant, text, NULL);
}

bool
sb_grant_may_register (const sb_grant_t *grant, const char *name, size_t len)
{
    if (grant->kind == SB_GRANT_ANY)
        return true;
    if (grant->kind != SB_GRANT_WORKER)
        return false;
    size_t own = strlen (grant->service);
    return len >= own && memcmp (name, grant->service, own) == 0
           && (len == own || (len > own + 1 && name [own] == '.'));
}

bool
sb_grant_internal (const sb_grant_t *grant)
{
    return grant->kind == SB_GRANT_WORKER || grant->kind == SB_GRANT_GATEWAY
           || grant->kind == SB_GRANT_INTERNAL || grant->kind == SB_GRANT_OPERATOR
           || grant->kind == SB_GRANT_ANY;
}

bool
sb_grant_may_send (const sb_grant_t *grant, sb_role_t role, const char *org)
{
    if (grant->kind == SB_GRANT_ANY || grant->kind == SB_GRANT_OPERATOR)
        return true;
    if (sb_grant_internal (grant))
        return role != SB_ROLE_OPERATOR;
    if (grant->kind == SB_GRANT_CLIENT)
        return (role == SB_ROLE_USER || role == SB_ROLE_ADMIN) && org
               && strlen (org) == 36 && strncasecmp (org, grant->organization, 36) == 0;
    return false;
}

void
sb_grant_of_frame (sb_grant_t *grant, zframe_t *frame, bool secured)
{
    memset (grant, 0, sizeof (*grant));
    if (!secured) {
        grant->kind = SB_GRANT_ANY;
        return;
    }
    const char *user_id = frame ? zframe_meta (frame, "User-Id") : NULL;
    if (!user_id || sb_grant_parse (grant, user_id))
        grant->kind = SB_GRANT_NONE;
}

//  ---- endpoints and sockets -------------------------------------------

bool
sb_curve_endpoint_loopback (const char *endpoint)
{
    if (strncmp (endpoint, "inproc://", 9) == 0 || strncmp (endpoint, "ipc://", 6) == 0)
        return true;
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return false;
    const char *host = endpoint + 6;
    //  A connect may name a source address first ("tcp://src;dst:port"):
    //  what matters is where it goes.
    const char *semi = strchr (host, ';');
    if (semi)
        host = semi + 1;
    if (strncmp (host, "[::1]:", 6) == 0 || strncmp (host, "localhost:", 10) == 0)
        return true;
    //  127.0.0.0/8, written as four decimal numbers
    unsigned a, b, c, d;
    char colon;
    return sscanf (host, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &colon) == 5 && colon == ':'
           && a == 127 && b < 256 && c < 256 && d < 256;
}

//  Loads the certificate at path with its secret key. NULL (logged, with
//  what makes one) when there is none.
static zcert_t *
s_load_secret (const char *path, const char *setting)
{
    char *secret = zsys_sprintf ("%s_secret", path);
    zcert_t *cert = zsys_file_exists (secret) ? zcert_load (path) : NULL;
    if (!cert)
        sb_error ("curve: no certificate with a secret key at %s (%s): make one with "
                  "`switchboardctl keys new %s --role ROLE` or `switchboardctl keys init`",
                  secret, setting, path);
    zstr_free (&secret);
    return cert;
}

int
sb_curve_check (const sb_config_t *config, bool server)
{
    zsock_t *probe = zsock_new (ZMQ_DEALER);
    int rc = sb_curve_client (probe, config);
    if (rc == 0 && server)
        rc = sb_curve_server (probe, config, "bus");
    zsock_destroy (&probe);
    return rc;
}

int
sb_curve_client (zsock_t *sock, const sb_config_t *config)
{
    if (!config->curve)
        return 0;
    zcert_t *cert = s_load_secret (config->curve_cert, "SWITCHBOARD_CURVE_CERT");
    zcert_t *server = cert ? zcert_load (config->curve_server_cert) : NULL;
    if (cert && !server)
        sb_error ("curve: no bus certificate at %s (SWITCHBOARD_CURVE_SERVER_CERT)",
                  config->curve_server_cert);
    if (cert && server) {
        zcert_apply (cert, sock);
        zsock_set_curve_serverkey (sock, zcert_public_txt (server));
    }
    int rc = cert && server ? 0 : -1;
    zcert_destroy (&cert);
    zcert_destroy (&server);
    return rc;
}

int
sb_curve_server (zsock_t *sock, const sb_config_t *config, const char *domain)
{
    if (!config->curve)
        return 0;
    zcert_t *cert = s_load_secret (config->curve_server_cert, "SWITCHBOARD_CURVE_SERVER_CERT");
    if (!cert)
        return -1;
    zcert_apply (cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, domain);
    zcert_destroy (&cert);
    return 0;
}

//  ---- the ZAP handler -------------------------------------------------

typedef struct {
    zcertstore_t *store;
    zhashx_t *logged;               //  "address key" -> expiry (ms), refusals logged
} s_zap_t;

//  Decides one ZAP request. Returns the status and fills user_id.
static const char *
s_zap_decide (s_zap_t *self, zmsg_t *request, char *user_id, size_t size, const char **why)
{
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    zframe_t *identity = zmsg_pop (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *key = zmsg_pop (request);
    const char *status = "400";
    *why = "not a CURVE handshake";
    if (domain && address && mechanism && streq (mechanism, "CURVE") && key
        && zframe_size (key) == 32) {
        char text [SB_CURVE_KEY_TEXT + 1];
        zmq_z85_encode (text, zframe_data (key), 32);
        zcert_t *cert = zcertstore_lookup (self->store, text);
        sb_grant_t grant = { 0 };
        *why = "key not in the allow-list";
        if (cert) {
            *why = "certificate without a valid role";
            if (sb_grant_from_role (&grant, zcert_meta (cert, "role"),
                                    zcert_meta (cert, "organization")) == 0) {
                *why = "this key may not use the events channel";
                if (!streq (domain, "events") || sb_grant_internal (&grant)) {
                    status = "200";
                    *why = "OK";
                    sb_grant_format (&grant, user_id, size);
                }
            }
        }
        if (*status != '2') {
            //  Log each refused (address, key) once a minute at most.
            char *tag = zsys_sprintf ("%s %s", address, text);
            int64_t now = sb_mono_ms ();
            int64_t *until = (int64_t *) zhashx_lookup (self->logged, tag);
            if (!until || *until < now) {
                if (zhashx_size (self->logged) > 10000)
                    zhashx_purge (self->logged);
                int64_t *next = (int64_t *) sb_malloc (sizeof (int64_t));
                *next = now + 60000;
                zhashx_update (self->logged, tag, next);
                sb_warn ("curve: refused %s on '%s' from %s: %s", text, domain, address, *why);
            }
            zstr_free (&tag);
        }
    }
    zstr_free (&domain);
    zstr_free (&address);
    zframe_destroy (&identity);
    zstr_free (&mechanism);
    zframe_destroy (&key);
    return status;
}

static void
s_free_value (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

typedef struct {
    zsock_t *handler;               //  bound by the caller, handed over
    const char *allow;              //  lent until the actor signals
} s_zap_args_t;

static void
s_zap_actor (zsock_t *pipe, void *arg)
{
    s_zap_args_t *args = (s_zap_args_t *) arg;
    zsock_t *handler = args->handler;
    s_zap_t self = { 0 };
    self.store = zcertstore_new (args->allow);
    self.logged = zhashx_new ();
    zhashx_set_destructor (self.logged, s_free_value);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, handler, NULL);
    zpoller_set_nonstop (poller, true);
    while (true) {
        zsock_t *which = (zsock_t *) zpoller_wait (poller, -1);
        if (which != handler)
            break;                  //  $TERM, or the context is going away
        zmsg_t *request = zmsg_recv (handler);
        if (!request)
            break;
        char *version = zmsg_popstr (request);
        char *sequence = zmsg_popstr (request);
        char user_id [64] = "";
        const char *why = "malformed request";
        const char *status = "400";
        if (version && streq (version, "1.0") && sequence)
            status = s_zap_decide (&self, request, user_id, sizeof (user_id), &why);
        zmsg_t *reply = zmsg_new ();
        zmsg_addstr (reply, "1.0");
        zmsg_addstr (reply, sequence ? sequence : "");
        zmsg_addstr (reply, status);
        zmsg_addstr (reply, why);
        zmsg_addstr (reply, user_id);
        zmsg_addmem (reply, NULL, 0);
        zmsg_send (&reply, handler);
        zstr_free (&version);
        zstr_free (&sequence);
        zmsg_destroy (&request);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&handler);
    zcertstore_destroy (&self.store);
    zhashx_destroy (&self.logged);
}

zactor_t *
sb_curve_zap_new (const sb_config_t *config, bool *failed)
{
    *failed = false;
    if (!config->curve)
        return NULL;
    struct stat info;
    if (stat (config->curve_allow, &info) || !S_ISDIR (info.st_mode))
        sb_warn ("curve: the allow-list %s is no directory yet: no key is admitted",
                 config->curve_allow);
    //  Bound here, so that a failure is the caller's to see, then handed
    //  to the actor (thread creation is the memory barrier zmq asks for).
    zsock_t *handler = zsock_new (ZMQ_REP);
    if (zsock_bind (handler, S_ZAP_ENDPOINT) == -1) {
        sb_error ("curve: cannot bind the ZAP handler: %s", zmq_strerror (zmq_errno ()));
        zsock_destroy (&handler);
        *failed = true;
        return NULL;
    }
    //  zactor_new returns once the actor signalled, after it read args.
    s_zap_args_t args = { handler, config->curve_allow };
    return zactor_new (s_zap_actor, &args);
}

//  ---- key files -------------------------------------------------------

int
sb_curve_keygen (const char *path, const char *role, const char *organization, char *why,
                 size_t why_size)
{
    sb_grant_t grant;
    if (!role || (!streq (role, "server") && sb_grant_from_role (&grant, role, organization))) {
        snprintf (why, why_size,
                  "role must be auth, tenant, billing, usage, gateway, internal, operator, "
                  "client (with --organization UUID) or server");
        return -1;
    }
    size_t len = strlen (path);
    if (len < 5 || !streq (path + len - 4, ".key")) {
        snprintf (why, why_size, "%s: a certificate's name ends in .key", path);
        return -1;
    }
    char *secret = zsys_sprintf ("%s_secret", path);
    int rc = -1;
    if (zsys_file_exists (path) || zsys_file_exists (secret))
        snprintf (why, why_size, "%s exists: refusing to overwrite a key", path);
    else {
        zcert_t *cert = zcert_new ();
        zcert_set_meta (cert, "role", "%s", role);
        if (organization && streq (role, "client"))
            zcert_set_meta (cert, "organization", "%s", grant.organization);
        //  The secret file is made private before any key is written to it.
        mode_t old = umask (077);
        rc = zcert_save (cert, path);
        umask (old);
        if (rc == 0)
            rc = chmod (path, 0644);
        if (rc)
            snprintf (why, why_size, "cannot write %s: %s", path, strerror (errno));
        zcert_destroy (&cert);
    }
    zstr_free (&secret);
    return rc;
}

int
sb_curve_allow (const char *cert_path, const char *allow_dir, const char *role,
                const char *organization, char *why, size_t why_size)
{
    size_t len = strlen (cert_path);
    if (len < 5 || !streq (cert_path + len - 4, ".key")) {
        snprintf (why, why_size, "%s: a public certificate's name ends in .key", cert_path);
        return -1;
    }
    //  Only the public file is read, whatever lies beside it.
    zcert_t *source = NULL;
    zconfig_t *root = zconfig_load (cert_path);
    const char *public_txt = root ? zconfig_get (root, "curve/public-key", NULL) : NULL;
    byte public_key [32], no_secret [32] = { 0 };
    if (public_txt && strlen (public_txt) == SB_CURVE_KEY_TEXT
        && zmq_z85_decode (public_key, public_txt))
        source = zcert_new_from (public_key, no_secret);
    if (!source) {
        snprintf (why, why_size, "%s is no certificate", cert_path);
        zconfig_destroy (&root);
        return -1;
    }
    if (!role)
        role = zconfig_get (root, "metadata/role", NULL);
    if (!organization)
        organization = zconfig_get (root, "metadata/organization", NULL);
    sb_grant_t grant;
    int rc = -1;
    if (!role || sb_grant_from_role (&grant, role, organization))
        snprintf (why, why_size, "%s: no valid role (give --role; a client needs --organization)",
                  cert_path);
    else
    if (zsys_dir_create ("%s", allow_dir))
        snprintf (why, why_size, "cannot create %s", allow_dir);
    else {
        zcert_set_meta (source, "role", "%s", role);
        if (grant.kind == SB_GRANT_CLIENT)
            zcert_set_meta (source, "organization", "%s", grant.organization);
        const char *base = strrchr (cert_path, '/');
        char *target = zsys_sprintf ("%s/%s", allow_dir, base ? base + 1 : cert_path);
        //  Written aside and renamed: the handler never reads half a file.
        char *partial = zsys_sprintf ("%s/.%s.partial", allow_dir, base ? base + 1 : cert_path);
        rc = zcert_save_public (source, partial);
        if (rc == 0)
            rc = rename (partial, target);
        if (rc)
            snprintf (why, why_size, "cannot write %s: %s", target, strerror (errno));
        zstr_free (&target);
        zstr_free (&partial);
    }
    zcert_destroy (&source);
    zconfig_destroy (&root);
    return rc;
}

//  ---- selftest --------------------------------------------------------

//  A config for the selftest's sockets: CURVE on, keys in dir.
static void
s_test_config (sb_config_t *config, const char *dir, const char *cert)
{
    memset (config, 0, sizeof (*config));
    config->curve = true;
    config->curve_cert = zsys_sprintf ("%s/%s.key", dir, cert);
    config->curve_server_cert = zsys_sprintf ("%s/server.key", dir);
    config->curve_allow = zsys_sprintf ("%s/allow", dir);
}

static void
s_test_config_free (sb_config_t *config)
{
    zstr_free (&config->curve_cert);
    zstr_free (&config->curve_server_cert);
    zstr_free (&config->curve_allow);
}

//  Sends "ping" from a DEALER configured by client_config (or plaintext
//  when NULL) to the ROUTER at endpoint; returns the User-Id the server
//  saw, or "" when nothing arrived within 500 ms.
static void
s_test_reach (zsock_t *router, const char *endpoint, const sb_config_t *client_config,
              char *seen, size_t size)
{
    *seen = 0;
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_linger (dealer, 0);
    if (client_config)
        SB_CHECK (sb_curve_client (dealer, client_config) == 0);
    SB_CHECK (zsock_connect (dealer, "%s", endpoint) == 0);
    zstr_send (dealer, "ping");
    zpoller_t *poller = zpoller_new (router, NULL);
    if (zpoller_wait (poller, 500) == router) {
        zmsg_t *msg = zmsg_recv (router);
        zframe_t *body = zmsg_last (msg);
        const char *user_id = body ? zframe_meta (body, "User-Id") : NULL;
        snprintf (seen, size, "%s", user_id ? user_id : "(none)");
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
}

void
sb_curve_test (bool verbose)
{
    (void) verbose;
    printf (" * curve: ");

    //  Grants: the role table and the User-Id round trip.
    sb_grant_t grant;
    char text [64];
    SB_CHECK (sb_grant_from_role (&grant, "tenant", NULL) == 0 && grant.kind == SB_GRANT_WORKER);
    sb_grant_format (&grant, text, sizeof (text));
    SB_CHECK (streq (text, "tenant"));
    SB_CHECK (sb_grant_may_register (&grant, "tenant", 6));
    SB_CHECK (sb_grant_may_register (&grant, "tenant.peer", 11));
    SB_CHECK (!sb_grant_may_register (&grant, "tenantx", 7));
    SB_CHECK (!sb_grant_may_register (&grant, "tenant.", 7));
    SB_CHECK (!sb_grant_may_register (&grant, "auth", 4));
    SB_CHECK (!sb_grant_may_register (&grant, "tena", 4));
    SB_CHECK (sb_grant_may_send (&grant, SB_ROLE_SERVICE, "any"));
    SB_CHECK (!sb_grant_may_send (&grant, SB_ROLE_OPERATOR, ""));
    SB_CHECK (sb_grant_from_role (&grant, "operator", NULL) == 0);
    SB_CHECK (sb_grant_may_send (&grant, SB_ROLE_OPERATOR, ""));
    SB_CHECK (!sb_grant_may_register (&grant, "auth", 4));
    SB_CHECK (sb_grant_from_role (&grant, "client", NULL) == -1 && grant.kind == SB_GRANT_NONE);
    SB_CHECK (sb_grant_from_role (&grant, "client", "not-a-uuid") == -1);
    const char *org = "0A1B2C3D-0000-4000-8000-000000000001";
    SB_CHECK (sb_grant_from_role (&grant, "client", org) == 0);
    sb_grant_format (&grant, text, sizeof (text));
    SB_CHECK (streq (text, "client:0a1b2c3d-0000-4000-8000-000000000001"));
    sb_grant_t back;
    SB_CHECK (sb_grant_parse (&back, text) == 0 && back.kind == SB_GRANT_CLIENT
              && streq (back.organization, grant.organization));
    SB_CHECK (sb_grant_may_send (&grant, SB_ROLE_ADMIN, org));
    SB_CHECK (sb_grant_may_send (&grant, SB_ROLE_USER, "0a1b2c3d-0000-4000-8000-000000000001"));
    SB_CHECK (!sb_grant_may_send (&grant, SB_ROLE_SERVICE, org));
    SB_CHECK (!sb_grant_may_send (&grant, SB_ROLE_USER, "0a1b2c3d-0000-4000-8000-000000000002"));
    SB_CHECK (!sb_grant_may_send (&grant, SB_ROLE_USER, ""));
    SB_CHECK (!sb_grant_internal (&grant));
    SB_CHECK (sb_grant_parse (&back, "root") == -1 && back.kind == SB_GRANT_NONE);
    SB_CHECK (sb_grant_parse (&back, NULL) == -1);
    SB_CHECK (sb_grant_parse (&back, "server") == -1);
    sb_grant_of_frame (&back, NULL, false);
    SB_CHECK (back.kind == SB_GRANT_ANY && sb_grant_may_register (&back, "auth", 4));
    sb_grant_of_frame (&back, NULL, true);
    SB_CHECK (back.kind == SB_GRANT_NONE && !sb_grant_may_send (&back, SB_ROLE_USER, org));

    //  Loopback, and what is not.
    SB_CHECK (sb_curve_endpoint_loopback ("tcp://127.0.0.1:5555"));
    SB_CHECK (sb_curve_endpoint_loopback ("tcp://127.8.9.10:1"));
    SB_CHECK (sb_curve_endpoint_loopback ("tcp://localhost:5555"));
    SB_CHECK (sb_curve_endpoint_loopback ("tcp://[::1]:5555"));
    SB_CHECK (sb_curve_endpoint_loopback ("ipc:///tmp/x"));
    SB_CHECK (sb_curve_endpoint_loopback ("inproc://x"));
    SB_CHECK (sb_curve_endpoint_loopback ("tcp://10.0.0.1;127.0.0.1:5555"));
    SB_CHECK (!sb_curve_endpoint_loopback ("tcp://127.0.0.1;10.0.0.1:5555"));
    SB_CHECK (!sb_curve_endpoint_loopback ("tcp://*:5555"));
    SB_CHECK (!sb_curve_endpoint_loopback ("tcp://0.0.0.0:5555"));
    SB_CHECK (!sb_curve_endpoint_loopback ("tcp://10.1.2.3:5555"));
    SB_CHECK (!sb_curve_endpoint_loopback ("tcp://127.0.0.1.evil.example:5555"));
    SB_CHECK (!sb_curve_endpoint_loopback ("tcp://1127.0.0.1:5555"));
    SB_CHECK (!sb_curve_endpoint_loopback ("tcp://localhost.example:5555"));
    SB_CHECK (!sb_curve_endpoint_loopback ("tcp://eth0:5555"));

    //  Key files: made once, never overwritten, secret private, allowed
    //  without the secret.
    char dir [] = "/tmp/sb-curve-XXXXXX";
    SB_CHECK (mkdtemp (dir) != NULL);
    char why [256];
    char *path = zsys_sprintf ("%s/tenant.key", dir);
    SB_CHECK (sb_curve_keygen (path, "tenant", NULL, why, sizeof (why)) == 0);
    SB_CHECK (sb_curve_keygen (path, "tenant", NULL, why, sizeof (why)) == -1
              && strstr (why, "exists"));
    struct stat info;
    char *secret = zsys_sprintf ("%s_secret", path);
    SB_CHECK (stat (secret, &info) == 0 && (info.st_mode & 077) == 0);
    zstr_free (&secret);
    zstr_free (&path);
    path = zsys_sprintf ("%s/x.pem", dir);
    SB_CHECK (sb_curve_keygen (path, "tenant", NULL, why, sizeof (why)) == -1);
    zstr_free (&path);
    path = zsys_sprintf ("%s/y.key", dir);
    SB_CHECK (sb_curve_keygen (path, "root", NULL, why, sizeof (why)) == -1);
    SB_CHECK (sb_curve_keygen (path, "client", NULL, why, sizeof (why)) == -1);
    zstr_free (&path);
    const char *names [] = { "server", "tenant2", "stranger", "operator" };
    const char *roles [] = { "server", "tenant", "tenant", "operator" };
    for (size_t i = 0; i < 4; i++) {
        path = zsys_sprintf ("%s/%s.key", dir, names [i]);
        SB_CHECK (sb_curve_keygen (path, roles [i], NULL, why, sizeof (why)) == 0);
        zstr_free (&path);
    }
    char *allow = zsys_sprintf ("%s/allow", dir);
    path = zsys_sprintf ("%s/tenant2.key", dir);
    SB_CHECK (sb_curve_allow (path, allow, NULL, NULL, why, sizeof (why)) == 0);
    zstr_free (&path);
    path = zsys_sprintf ("%s/operator.key", dir);
    SB_CHECK (sb_curve_allow (path, allow, NULL, NULL, why, sizeof (why)) == 0);
    zstr_free (&path);
    path = zsys_sprintf ("%s/tenant2.key_secret", allow);
    SB_CHECK (!zsys_file_exists (path));
    zstr_free (&path);
    path = zsys_sprintf ("%s/server.key_secret", dir);
    SB_CHECK (sb_curve_allow (path, allow, NULL, NULL, why, sizeof (why)) == -1);
    zstr_free (&path);
    path = zsys_sprintf ("%s/server.key", dir);
    SB_CHECK (sb_curve_allow (path, allow, NULL, NULL, why, sizeof (why)) == -1
              && strstr (why, "role"));
    zstr_free (&path);

    //  A CURVE server admits the listed key with its grant, and nothing
    //  from an unlisted key or a plaintext peer.
    sb_config_t server, allowed, stranger, bare;
    s_test_config (&server, dir, "server");
    s_test_config (&allowed, dir, "tenant2");
    s_test_config (&stranger, dir, "stranger");
    s_test_config (&bare, dir, "missing");
    bool failed;
    zactor_t *zap = sb_curve_zap_new (&server, &failed);
    SB_CHECK (zap && !failed);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    SB_CHECK (sb_curve_server (router, &server, "bus") == 0);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    SB_CHECK (port > 0);
    char *endpoint = zsys_sprintf ("tcp://127.0.0.1:%d", port);
    char seen [64];
    s_test_reach (router, endpoint, &allowed, seen, sizeof (seen));
    SB_CHECK (streq (seen, "tenant"));
    s_test_reach (router, endpoint, &stranger, seen, sizeof (seen));
    SB_CHECK (streq (seen, ""));
    s_test_reach (router, endpoint, NULL, seen, sizeof (seen));
    SB_CHECK (streq (seen, ""));
    zsock_t *probe = zsock_new (ZMQ_DEALER);
    SB_CHECK (sb_curve_client (probe, &bare) == -1);
    zsock_destroy (&probe);
    //  The events domain admits only internal callers: a client key is
    //  turned away there but admitted on the bus.
    path = zsys_sprintf ("%s/stranger.key", dir);
    SB_CHECK (sb_curve_allow (path, allow, "client", "0a1b2c3d-0000-4000-8000-000000000001", why,
                              sizeof (why)) == 0);
    zstr_free (&path);
    //  zcertstore notices a changed directory by its size and time
    zclock_sleep (1100);
    s_test_reach (router, endpoint, &stranger, seen, sizeof (seen));
    SB_CHECK (streq (seen, "client:0a1b2c3d-0000-4000-8000-000000000001"));
    zsock_t *events = zsock_new (ZMQ_ROUTER);
    SB_CHECK (sb_curve_server (events, &server, "events") == 0);
    int events_port = zsock_bind (events, "tcp://127.0.0.1:*");
    char *events_endpoint = zsys_sprintf ("tcp://127.0.0.1:%d", events_port);
    s_test_reach (events, events_endpoint, &stranger, seen, sizeof (seen));
    SB_CHECK (streq (seen, ""));
    s_test_reach (events, events_endpoint, &allowed, seen, sizeof (seen));
    SB_CHECK (streq (seen, "tenant"));
    zstr_free (&events_endpoint);
    zsock_destroy (&events);
    //  Revoked: no new connection.
    path = zsys_sprintf ("%s/tenant2.key", allow);
    SB_CHECK (unlink (path) == 0);
    zstr_free (&path);
    zclock_sleep (1100);
    s_test_reach (router, endpoint, &allowed, seen, sizeof (seen));
    SB_CHECK (streq (seen, ""));

    zstr_free (&endpoint);
    zsock_destroy (&router);
    zactor_destroy (&zap);
    s_test_config_free (&server);
    s_test_config_free (&allowed);
    s_test_config_free (&stranger);
    s_test_config_free (&bare);
    zstr_free (&allow);
    char *command = zsys_sprintf ("rm -rf '%s'", dir);
    SB_CHECK (system (command) == 0);
    zstr_free (&command);
    printf ("OK\n");
}
