/*  billing_outboxes.c — billing-svc's outboxes as the operator sees them
    (switchboardctl outboxes; the skeleton's sys.outboxes.*, sb_outbox_view_t).

    mail_outbox (billing_dunning.c): admin mails handed to auth-svc,
    retried until delivered_at, or given up (failed_at: dead; the body is
    kept). Replay makes dead mails pending again with fresh attempts, due
    now. webhook_outbox (billing_outbox.c) is relayed in the common shape
    (sb/relay.h). meter_reports and credits are Stripe's side of billing,
    retried by their own loops; /metrics shows their backlog.
*/
#include "billing_service.h"

extern const sb_outbox_view_t billing_outboxes [];

const sb_outbox_view_t billing_outboxes [] = {
    { .name = "mail_outbox", .summary = "billing mails to the admins, via auth-svc",
      .stats = "SELECT count (*) FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL)"
               " AS pending, COALESCE (extract (epoch FROM now () - min (created_at)"
               " FILTER (WHERE delivered_at IS NULL AND failed_at IS NULL)), 0)"
               " AS oldest_seconds, count (*) FILTER (WHERE delivered_at IS NULL"
               " AND failed_at IS NULL AND attempts > 0) AS failed,"
               " count (*) FILTER (WHERE failed_at IS NOT NULL) AS dead,"
               " count (*) AS total FROM mail_outbox",
      .rows = "SELECT * FROM (SELECT id::text AS id, CASE WHEN delivered_at IS NOT NULL THEN"
              " 'delivered' WHEN failed_at IS NOT NULL THEN 'dead' WHEN attempts > 0 THEN"
              " 'failed' ELSE 'pending' END AS state, attempts,"
              " " SB_SQL_TS ("created_at") " AS created_at,"
              " " SB_SQL_TS ("next_attempt_at") " AS next_attempt_at, last_error,"
              " organization_id::text AS organization_id, kind FROM mail_outbox) AS o"
              " WHERE $1::text IS NULL OR state = $1 ORDER BY created_at DESC, id DESC"
              " LIMIT $2::int",
      .replay = "UPDATE mail_outbox SET failed_at = NULL, attempts = 0, next_attempt_at = now ()"
                " WHERE delivered_at IS NULL AND CASE WHEN $1::text[] IS NULL"
                " THEN failed_at IS NOT NULL OR attempts > 0"
                " ELSE id::text = ANY ($1::text[]) END RETURNING id::text" },
    { .name = "webhook_outbox", .summary = "subscription.updated events, to tenant-svc's webhooks",
      SB_OUTBOX_ACKED ("webhook_outbox", "organization_id || ':' || version", "organization_id",
                       "created_at") },
    { .name = NULL }
};
