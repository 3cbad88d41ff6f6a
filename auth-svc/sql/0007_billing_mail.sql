-- auth-svc migration 0006: mail that billing-svc asks to send to an
-- organization's admins (mail.admins: dunning, trial ending). Such a row
-- carries billing's id for the message (source_id): one row per source_id
-- and recipient, so that billing's relay repeating a call it saw no answer
-- to queues nothing twice (for as long as the rows are kept).

ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('password_reset', 'invitation', 'billing'));
ALTER TABLE mail_outbox ADD COLUMN source_id uuid;
CREATE UNIQUE INDEX mail_outbox_source ON mail_outbox (source_id, recipient);
