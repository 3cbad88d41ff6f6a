/*  tenant_webhooks.h — outbound webhooks (issue 14): endpoints, events,
    deliveries, their signature and the check of their addresses.

    tenant-svc owns them (docs/ARCHITECTURE.md, "Outbound webhooks"): the
    events it produces itself (call.created, order.created, order.updated)
    are written in the transaction of the change, and other services'
    outbox relays hand theirs over with webhooks.enqueue. A delivery thread
    in every tenant-svc process sends them (tenant_webhooks_send.c).
*/
#ifndef TENANT_WEBHOOKS_H_INCLUDED
#define TENANT_WEBHOOKS_H_INCLUDED

#include "tenant.h"
#include "sb/secrets.h"
#include <sys/socket.h>

//  ---- handlers (tenant_webhooks.c) -----------------------------------------

int tenant_webhooks_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_webhooks_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_webhooks_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_webhooks_update (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_webhooks_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_webhooks_rotate_secret (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_webhooks_test (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_webhooks_deliveries (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int tenant_webhooks_enqueue (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  Emits event type about row 0 of data (a row as the API answers it, with
//  an "id" column and, when it changes, "updated_at") in the request's
//  transaction: one event and a delivery per enabled endpoint of the
//  organization subscribed to type; nothing when there is none. The same
//  row (id and updated_at) emits once. Returns 0, or -1 on a database
//  failure (the handler returns -1: the change rolls back with it).
int tenant_webhooks_emit (sb_ctx_t *ctx, const char *type, const PGresult *data);

//  The same as SQL, for a statement that cannot call the above (calls are
//  stored in group commits): common table expressions `we` (the event)
//  and `wd` (its deliveries, one row each), to follow other expressions
//  after a comma. from is a FROM list with one row, org, source, type and
//  data SQL expressions over it (data: json).
#define TENANT_WEBHOOKS_EMIT_SQL(from, org, source, type, data)                             \
    " we AS (INSERT INTO webhook_events (organization_id, id, source_id, type, payload)"    \
    "  SELECT " org ", 'msg_' || replace (gen_random_uuid ()::text, '-', ''), " source ","  \
    "   " type ", json_build_object ('type', " type ", 'timestamp', "                        \
    SB_SQL_TS ("clock_timestamp ()") ", 'data', " data ")::text"                            \
    "  FROM " from " WHERE EXISTS (SELECT 1 FROM webhook_endpoints p"                       \
    "   WHERE p.organization_id = " org " AND p.enabled AND " type " = ANY (p.events))"     \
    "  ON CONFLICT (organization_id, source_id) DO NOTHING"                                 \
    "  RETURNING organization_id, id, type),"                                               \
    " wd AS (INSERT INTO webhook_deliveries (organization_id, event_id, endpoint_id)"       \
    "  SELECT we.organization_id, we.id, p.id FROM we JOIN webhook_endpoints p"             \
    "   ON p.organization_id = we.organization_id AND p.enabled AND we.type = ANY (p.events)" \
    "  RETURNING 1)"

//  ---- signatures (tenant_webhooks_sign.c) ----------------------------------

//  A new secret: "whsec_" + base64 of 24 random bytes (NUL-terminated in
//  out, which holds at least TENANT_WEBHOOKS_SECRET_SIZE).
#define TENANT_WEBHOOKS_SECRET_SIZE 48
void tenant_webhooks_secret_new (char *out);

//  The Standard Webhooks signature "v1,<base64 HMAC-SHA256 of
//  id.timestamp.body>" keyed with the base64-decoded part of secret after
//  "whsec_", into out (at least TENANT_WEBHOOKS_SIGNATURE_SIZE). Returns
//  0, or -1 when secret is not of that form.
#define TENANT_WEBHOOKS_SIGNATURE_SIZE 52
int tenant_webhooks_sign (const char *secret, const char *id, const char *timestamp,
                          const char *body, size_t body_size, char *out);

void tenant_webhooks_sign_test (bool verbose);

//  ---- the address check (tenant_ssrf.c) ------------------------------------

//  True when the address may be connected to: a public unicast address
//  (not loopback, private, link-local, CGNAT, 0/8, multicast, reserved or
//  documentation ranges, nor IPv6 ::1, fc00::/7, fe80::/10, documentation,
//  benchmarking or Teredo, nor the IPv4-mapped, -compatible, NAT64 or 6to4
//  forms of a refused IPv4).
bool tenant_ssrf_address_public (const struct sockaddr *address);

//  What a checked URL connects to: curl's CURLOPT_RESOLVE entry
//  "host:port:address", which pins the connection to the address checked
//  (empty for an IPv6 literal host, which nothing resolves).
typedef struct {
    char resolve [400];
} tenant_ssrf_target_t;

//  Checks url: https (or, with allow_private, http), a host and no user
//  information, and every address the host resolves to public (with
//  allow_private, any). Returns 0 with *target (may be NULL), or 1 with
//  why (a sentence for a field error or an attempt's error).
int tenant_ssrf_check (const char *url, bool allow_private, tenant_ssrf_target_t *target,
                       char *why, size_t why_size);
//  The same checks without resolving the host (the delivery thread must not
//  block on a resolver: its addresses are judged as curl opens the socket,
//  tenant_ssrf_address_public). 0, or 1 with why.
int tenant_ssrf_check_url (const char *url, bool allow_private, char *why, size_t why_size);
//  tenant_ssrf_check without the resolver: a host that is an IP literal
//  (any spelling the system resolver reads as one) is judged exactly as
//  tenant_ssrf_check judges it, a name is refused as not resolving. Never
//  touches DNS or the network: the fuzz harness's entry (tests/fuzz/webhook_url.c).
int tenant_ssrf_check_literal (const char *url, bool allow_private, tenant_ssrf_target_t *target,
                               char *why, size_t why_size);

void tenant_ssrf_test (bool verbose);

//  ---- the delivery thread (tenant_webhooks_send.c) --------------------------

//  Starts the thread that sends due deliveries. 0 or -1.
int tenant_webhooks_start (const sb_config_t *config);
void tenant_webhooks_stop (void);
//  Tells the thread that a committed transaction wrote deliveries.
void tenant_webhooks_wake (void);

#endif
