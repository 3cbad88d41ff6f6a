/*  usage_outboxes.c — usage-svc's outboxes as the operator sees them
    (switchboardctl outboxes; the skeleton's sys.outboxes.*, sb_outbox_view_t).
    alert_outbox (usage_alerts.c) is relayed in the common shape
    (sb/relay.h: retried until acknowledged), one row per alert and channel.
*/
#include "usage.h"

extern const sb_outbox_view_t usage_outboxes [];

const sb_outbox_view_t usage_outboxes [] = {
    { .name = "alert_outbox", .summary = "usage alerts to the admins' mail and webhooks",
      SB_OUTBOX_ACKED ("alert_outbox", "alert_id || ':' || channel", "organization_id",
                       "created_at") },
    { .name = NULL }
};
