-- auth-svc migration 0008: support requests (POST /v1/support/requests,
-- auth_support.c) are mails in the outbox: the request to the support
-- address (kind support) and the confirmation to the user who sent it
-- (kind support_confirmation), both queued in the request's transaction.

ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('password_reset', 'invitation', 'billing', 'support',
                    'support_confirmation'));
