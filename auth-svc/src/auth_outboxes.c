/*  auth_outboxes.c — auth-svc's outboxes as the operator sees them
    (switchboardctl outboxes; the skeleton's sys.outboxes.*, sb_outbox_view_t).

    mail_outbox has its own shape (auth_mail.c): a mail is retried up to
    SWITCHBOARD_MAIL_MAX_ATTEMPTS times, then marked failed_at (dead); its
    body is cleared once sent or dead, since it may hold a reset token. So
    a dead mail cannot be sent again: replay makes due now only the mails
    still pending that have failed (attempts > 0, last_error set) or, named
    by id, any pending one; a dead one is left alone (the user asks anew).
    org_deletions and referral_outbox are relayed rows of the common shape
    (sb/relay.h: retried forever until acknowledged).
*/
#include "auth.h"

extern const sb_outbox_view_t auth_outboxes [];

const sb_outbox_view_t auth_outboxes [] = {
    { .name = "mail_outbox", .summary = "mails to users (password reset, invitation) via SMTP",
      .stats = "SELECT count (*) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL) AS pending,"
               " COALESCE (extract (epoch FROM now () - min (created_at)"
               " FILTER (WHERE sent_at IS NULL AND failed_at IS NULL)), 0) AS oldest_seconds,"
               " count (*) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL AND attempts > 0)"
               " AS failed, count (*) FILTER (WHERE failed_at IS NOT NULL) AS dead,"
               " count (*) AS total FROM mail_outbox",
      .rows = "SELECT * FROM (SELECT id::text AS id, CASE WHEN sent_at IS NOT NULL THEN"
              " 'delivered' WHEN failed_at IS NOT NULL THEN 'dead' WHEN attempts > 0 THEN"
              " 'failed' ELSE 'pending' END AS state, attempts,"
              " " SB_SQL_TS ("created_at") " AS created_at,"
              " " SB_SQL_TS ("next_attempt_at") " AS next_attempt_at, last_error,"
              " organization_id::text AS organization_id, kind, recipient FROM mail_outbox) AS o"
              " WHERE $1::text IS NULL OR state = $1 ORDER BY created_at DESC, id DESC"
              " LIMIT $2::int",
      .replay = "UPDATE mail_outbox SET next_attempt_at = now (), attempts = 0"
                " WHERE sent_at IS NULL AND failed_at IS NULL AND body IS NOT NULL"
                " AND CASE WHEN $1::text[] IS NULL THEN attempts > 0"
                " ELSE id::text = ANY ($1::text[]) END RETURNING id::text" },
    { .name = "org_deletions", .summary = "organization deletions told to every service",
      SB_OUTBOX_ACKED ("org_deletions", "organization_id || ':' || service", "organization_id",
                       "requested_at") },
    { .name = "referral_outbox", .summary = "referrals handed to billing-svc",
      SB_OUTBOX_ACKED ("referral_outbox", "id", "referrer_organization_id", "created_at") },
    { .name = NULL }
};
