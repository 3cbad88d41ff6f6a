-- 0011_admin_mail: mail tenant-svc owes an organization's admins (a Twilio
-- call refused because the plan's calls are used up; a webhook endpoint
-- disabled), handed to auth-svc's mail.admins by tenant_notices.c's relay.
-- A row is written in the transaction of what it tells; dedupe_key makes
-- "once" hold (once per month for a refused call, once per disabling of an
-- endpoint): a second row with the same key is not written. The relay's
-- rows span organizations and are read by no request: no row-level
-- security, like the other outboxes.
CREATE TABLE admin_mail_outbox (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid (),
    organization_id uuid NOT NULL,
    dedupe_key      text NOT NULL,
    subject         text NOT NULL,
    body            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now (),
    acknowledged_at timestamptz,
    next_attempt_at timestamptz NOT NULL DEFAULT now (),
    attempts        int NOT NULL DEFAULT 0,
    failures        int NOT NULL DEFAULT 0,
    last_error      text,
    UNIQUE (organization_id, dedupe_key)
);
CREATE INDEX admin_mail_outbox_due ON admin_mail_outbox (next_attempt_at)
    WHERE acknowledged_at IS NULL;
