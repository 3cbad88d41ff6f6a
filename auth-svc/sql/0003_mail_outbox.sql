-- auth-svc migration 0003: the mail outbox.
--
-- A request that sends mail (a password reset, an invitation) writes the
-- message here in its own transaction, so that a mail is queued exactly
-- when what it announces (the reset token, the invitation) is committed,
-- and answers without talking to any mail server. Each auth-svc process's
-- mail thread (auth_mail.c) takes due rows (FOR UPDATE SKIP LOCKED, so the
-- workers share the outbox), sends them, and marks them sent, or counts the
-- attempt and sets the next one (backoff), or after the last attempt marks
-- them failed. The text holds a single-use link: it is cleared once the row
-- is sent or failed, so the link lives here only while it is undelivered.

CREATE TABLE mail_outbox (
    id              bigserial PRIMARY KEY,
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('password_reset', 'invitation')),
    recipient       text NOT NULL CHECK (length(recipient) BETWEEN 3 AND 254),
    subject         text NOT NULL,
    body            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz,
    failed_at       timestamptz,
    CHECK (sent_at IS NULL OR failed_at IS NULL),
    CHECK (body IS NOT NULL OR sent_at IS NOT NULL OR failed_at IS NOT NULL)
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at, id)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_organization ON mail_outbox (organization_id);

-- Every forgotten-password request, for a known email or not, writes a row
-- here in its transaction: both answers then commit a write (a WAL flush),
-- so their time does not tell whether the account exists. The mail thread
-- deletes rows older than a day.
CREATE TABLE forgot_requests (
    id          bigserial PRIMARY KEY,
    email_lower text NOT NULL,
    ip          text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX forgot_requests_at ON forgot_requests (at);
