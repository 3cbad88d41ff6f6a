/*  client.c — the Majordomo client: calling a service over the bus.

    A DEALER connected to every broker; zmq spreads requests over the
    connected brokers and each reply returns on the same socket. A call
    waits for the reply whose request id matches its own, so a reply to an
    earlier call that timed out is recognised and dropped, never mistaken
    for the current one.
*/
#include "sb/sb.h"

struct _sb_client_t {
    zsock_t *sock;
};

sb_client_t *
sb_client_new (const sb_config_t *config, const char *brokers)
{
    sb_client_t *self = (sb_client_t *) sb_calloc (1, sizeof (sb_client_t));
    self->sock = zsock_new (ZMQ_DEALER);
    zsock_set_linger (self->sock, 0);
    if (sb_curve_client (self->sock, config)) {
        sb_client_destroy (&self);
        return NULL;
    }
    if (!brokers)
        brokers = config->broker;
    //  Queue only to brokers we are connected to, so that a down gateway
    //  does not swallow requests meant for a live one.
    zsock_set_immediate (self->sock, 1);
    size_t connected = 0;
    const char *p = brokers ? brokers : "", *item;
    size_t len;
    while ((item = sb_list_next (&p, &len))) {
        if (len && zsock_connect (self->sock, "%.*s", (int) len, item) == 0)
            connected++;
        else
            sb_warn ("client: cannot connect to '%.*s'", (int) len, item);
    }
    if (connected == 0) {
        sb_client_destroy (&self);
        return NULL;
    }
    return self;
}

void
sb_client_destroy (sb_client_t **self_p)
{
    sb_client_t *self = *self_p;
    if (self) {
        zsock_destroy (&self->sock);
        free (self);
        *self_p = NULL;
    }
}

int
sb_client_request (sb_client_t *self, const char *service, const char *op, const char *org,
                   const msgpack_sbuffer *args, int timeout_ms, sb_reply_msg_t *reply,
                   char *error, size_t error_size)
{
    sb_envelope_head_t head = { .role = SB_ROLE_SERVICE };
    sb_random_hex (head.id, 16);
    snprintf (head.op, sizeof (head.op), "%s", op);
    if (org)
        snprintf (head.org, sizeof (head.org), "%s", org);
    head.deadline = sb_now_ms () + timeout_ms;
    msgpack_sbuffer envelope;
    msgpack_sbuffer_init (&envelope);
    sb_envelope_encode_request (&envelope, &head, args ? args->data : NULL, args ? args->size : 0);
    sb_reply_msg_t own;
    sb_reply_msg_t *answer = reply ? reply : &own;
    int status = 0;
    if (error_size)
        *error = 0;
    if (self && sb_client_call (self, service, envelope.data, envelope.size, timeout_ms,
                                answer) == 0) {
        status = answer->status;
        if ((status < 200 || status >= 300) && error_size) {
            char code [64] = "", message [128] = "";
            if (answer->error) {
                sb_mpk_copy_str (sb_mpk_get (answer->error, "code"), code, sizeof (code));
                sb_mpk_copy_str (sb_mpk_get (answer->error, "message"), message,
                                 sizeof (message));
            }
            snprintf (error, error_size, "%d %s: %s", status, code, message);
        }
        if (!reply)
            sb_reply_msg_release (&own);
    }
    else
    if (error_size)
        snprintf (error, error_size, "no answer from %s within %d ms", service, timeout_ms);
    //  Printable ASCII only: it is logged and kept in text columns.
    for (char *c = error_size ? error : NULL; c && *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            *c = '?';
    msgpack_sbuffer_destroy (&envelope);
    return status;
}

int
sb_client_call (sb_client_t *self, const char *service, const void *request, size_t size,
                int timeout_ms, sb_reply_msg_t *reply)
{
    char id [SB_ID_MAX + 1];
    int64_t deadline;
    msgpack_unpacked_init (&reply->unpacked);
    if (sb_envelope_peek (request, size, id, &deadline))
        return sb_error ("client: refusing to send an invalid request envelope");

    void *handle = zsock_resolve (self->sock);
    zsock_set_sndtimeo (self->sock, timeout_ms);
    if (zmq_send (handle, "", 0, ZMQ_SNDMORE) == -1
        || zmq_send (handle, SB_MDPC, strlen (SB_MDPC), ZMQ_SNDMORE) == -1
        || zmq_send (handle, service, strlen (service), ZMQ_SNDMORE) == -1
        || zmq_send (handle, request, size, 0) == -1)
        return sb_error ("client: cannot send to '%s': no broker reachable", service);

    int64_t until = sb_mono_ms () + timeout_ms;
    while (!zsys_interrupted) {
        int64_t left = until - sb_mono_ms ();
        if (left <= 0)
            break;
        zmq_pollitem_t item = { handle, 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&item, 1, (long) left);
        if (rc <= 0)
            continue;
        zmsg_t *msg = zmsg_recv (self->sock);
        if (!msg)
            continue;
        zframe_t *empty = zmsg_pop (msg);
        zframe_t *header = zmsg_pop (msg);
        zframe_t *name = zmsg_pop (msg);
        zframe_t *body = zmsg_pop (msg);
        char why [128];
        int matched = -1;
        if (header && zframe_streq (header, SB_MDPC) && body) {
            sb_reply_msg_release (reply);
            if (sb_reply_decode (reply, zframe_data (body), zframe_size (body), why, sizeof (why)))
                sb_warn ("client: malformed reply from '%s': %s", service, why);
            else
            if (streq (reply->id, id) || streq (reply->id, "-"))
                matched = 0;
            else
                sb_debug ("client: late reply %s dropped", reply->id);
        }
        zframe_destroy (&empty);
        zframe_destroy (&header);
        zframe_destroy (&name);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
        if (matched == 0)
            return 0;
    }
    sb_reply_msg_release (reply);
    msgpack_unpacked_init (&reply->unpacked);
    return sb_error ("client: no reply from '%s' within %d ms", service, timeout_ms);
}

int
sb_client_mail_admins (sb_client_t *self, const char *id, const char *org, const char *subject,
                       const char *text, int timeout_ms, char *error, size_t error_size)
{
    msgpack_sbuffer args;
    msgpack_sbuffer_init (&args);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &args, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 4);
    sb_mpk_pack_kv_str (&pk, "id", id);
    sb_mpk_pack_kv_str (&pk, "organization_id", org);
    sb_mpk_pack_kv_str (&pk, "subject", subject);
    sb_mpk_pack_kv_str (&pk, "text", text);
    int status = sb_client_request (self, "auth", "mail.admins", org, &args, timeout_ms, NULL,
                                    error, error_size);
    msgpack_sbuffer_destroy (&args);
    return status;
}
