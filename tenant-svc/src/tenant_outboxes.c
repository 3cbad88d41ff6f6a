/*  tenant_outboxes.c — tenant-svc's outboxes as the operator sees them
    (switchboardctl outboxes; the skeleton's sys.outboxes.*, sb_outbox_view_t).

    usage_outbox (tenant_relay.c): retried until usage-svc takes the event
    (delivered_at) or refuses it for good (refused_at, its reason in
    refusal: dead). Replay makes refused rows pending again: usage-svc is
    asked anew (it refuses again unless what it refused has changed).
    webhook_deliveries (tenant_webhooks_send.c): a delivery is pending
    until it succeeds or has used its attempts (status failed: dead; the
    reasons are in webhook_attempts). Replay makes a failed delivery
    pending with fresh attempts, due now. admin_mail_outbox is a relayed
    outbox of the common shape (sb/relay.h).
*/
#include "tenant.h"

extern const sb_outbox_view_t tenant_outboxes [];

const sb_outbox_view_t tenant_outboxes [] = {
    { .name = "usage_outbox", .summary = "usage events of calls and orders, to usage-svc",
      .stats = "SELECT count (*) FILTER (WHERE delivered_at IS NULL AND refused_at IS NULL)"
               " AS pending, COALESCE (extract (epoch FROM now () - min (created_at)"
               " FILTER (WHERE delivered_at IS NULL AND refused_at IS NULL)), 0)"
               " AS oldest_seconds, count (*) FILTER (WHERE delivered_at IS NULL"
               " AND refused_at IS NULL AND attempts > 0) AS failed,"
               " count (*) FILTER (WHERE refused_at IS NOT NULL) AS dead,"
               " count (*) AS total FROM usage_outbox",
      .rows = "SELECT * FROM (SELECT id::text AS id, CASE WHEN delivered_at IS NOT NULL THEN"
              " 'delivered' WHEN refused_at IS NOT NULL THEN 'dead' WHEN attempts > 0 THEN"
              " 'failed' ELSE 'pending' END AS state, attempts,"
              " " SB_SQL_TS ("created_at") " AS created_at, NULL::text AS next_attempt_at,"
              " refusal AS last_error, organization_id::text AS organization_id, metric"
              " FROM usage_outbox) AS o WHERE $1::text IS NULL OR state = $1"
              " ORDER BY created_at DESC, id DESC LIMIT $2::int",
      .replay = "UPDATE usage_outbox SET refused_at = NULL, refusal = NULL, attempts = 0"
                " WHERE delivered_at IS NULL AND CASE WHEN $1::text[] IS NULL"
                " THEN refused_at IS NOT NULL ELSE id::text = ANY ($1::text[]) END"
                " RETURNING id::text" },
    { .name = "webhook_deliveries", .summary = "events to the organizations' webhook endpoints",
      .stats = "SELECT count (*) FILTER (WHERE status = 'pending') AS pending,"
               " COALESCE (extract (epoch FROM now () - min (created_at)"
               " FILTER (WHERE status = 'pending')), 0) AS oldest_seconds,"
               " count (*) FILTER (WHERE status = 'pending' AND attempts > 0) AS failed,"
               " count (*) FILTER (WHERE status = 'failed') AS dead,"
               " count (*) AS total FROM webhook_deliveries",
      .rows = "SELECT * FROM (SELECT d.organization_id::text || ':' || d.id::text AS id,"
              " CASE d.status WHEN 'succeeded' THEN 'delivered' WHEN 'failed' THEN 'dead'"
              " ELSE CASE WHEN d.attempts > 0 THEN 'failed' ELSE 'pending' END END AS state,"
              " d.attempts, " SB_SQL_TS ("d.created_at") " AS created_at,"
              " " SB_SQL_TS ("d.next_attempt_at") " AS next_attempt_at,"
              " (SELECT coalesce (a.error, 'HTTP ' || a.status_code) FROM webhook_attempts AS a"
              "  WHERE a.organization_id = d.organization_id AND a.delivery_id = d.id"
              "  ORDER BY a.at DESC LIMIT 1) AS last_error,"
              " d.organization_id::text AS organization_id, d.event_id"
              " FROM webhook_deliveries AS d) AS o WHERE $1::text IS NULL OR state = $1"
              " ORDER BY created_at DESC, id DESC LIMIT $2::int",
      .replay = "UPDATE webhook_deliveries SET status = 'pending', attempts = 0,"
                " next_attempt_at = clock_timestamp (), leased_until = NULL"
                " WHERE status <> 'succeeded' AND CASE WHEN $1::text[] IS NULL"
                " THEN status = 'failed'"
                " ELSE organization_id::text || ':' || id::text = ANY ($1::text[]) END"
                " RETURNING organization_id::text || ':' || id::text" },
    { .name = "admin_mail_outbox", .summary = "notices to the organizations' admins, via auth-svc",
      SB_OUTBOX_ACKED ("admin_mail_outbox", "id", "organization_id", "created_at") },
    { .name = NULL }
};
