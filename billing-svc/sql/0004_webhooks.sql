-- billing-svc migration 0004: Stripe's webhook events (the ledger), the
-- invoices they tell of, and the mail billing asks auth-svc to send to an
-- organization's admins (dunning, trial ending).
--
-- webhook_events: one row per Stripe event id ever accepted (signature
-- valid), written in the transaction that applies the event, so that an
-- event is applied exactly once however often Stripe delivers it. outcome
-- says what became of it: applied, ignored (a type we do not act on, an
-- unknown customer), stale (older than the state already applied).
-- organization_id is null when the event named no organization we know.
--
-- invoices: what the invoice.* events said, one row per Stripe invoice,
-- updated only by an event at least as new as the one it holds
-- (stripe_state_at, the event's `created`).
--
-- mail_outbox: mails to an organization's admins, written in the
-- transaction of the change they announce; the dunning thread
-- (billing_dunning.c) hands each to auth-svc's mail.admins, which queues
-- one mail per admin, idempotent by the row's id.

CREATE TABLE webhook_events (
    id              text PRIMARY KEY,
    type            text NOT NULL,
    organization_id uuid,
    created         bigint NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now (),
    outcome         text NOT NULL CHECK (outcome IN ('applied', 'ignored', 'stale'))
);
CREATE INDEX webhook_events_organization ON webhook_events (organization_id);

CREATE TABLE invoices (
    id                 uuid PRIMARY KEY,
    organization_id    uuid NOT NULL,
    stripe_invoice_id  text NOT NULL,
    number             text,
    amount_due         bigint NOT NULL DEFAULT 0,
    amount_paid        bigint NOT NULL DEFAULT 0,
    currency           text NOT NULL,
    status             text NOT NULL,
    period_start       timestamptz,
    period_end         timestamptz,
    hosted_invoice_url text,
    created            timestamptz NOT NULL,
    stripe_state_at    bigint NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now ()
);
CREATE UNIQUE INDEX invoices_stripe ON invoices (stripe_invoice_id);
CREATE INDEX invoices_page ON invoices (organization_id, created DESC, id DESC);

CREATE TABLE mail_outbox (
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL,
    kind            text NOT NULL,
    subject         text NOT NULL,
    body            text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now (),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now (),
    delivered_at    timestamptz,
    failed_at       timestamptz,
    last_error      text
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_organization ON mail_outbox (organization_id);

-- Row-level security as for subscriptions: the webhook and the dunning
-- thread span organizations (switchboard.all_orgs), an admin's list sees
-- its own.
ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_events FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_isolation ON webhook_events
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
ALTER TABLE invoices FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_isolation ON invoices
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
ALTER TABLE mail_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE mail_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_isolation ON mail_outbox
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
