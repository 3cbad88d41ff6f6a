-- tenant-svc migration 0010: outbound webhooks (issue 14).
--
-- An organization's endpoints, the events it emitted, one delivery per
-- event and subscribed endpoint, and each attempt of a delivery. An event
-- and its deliveries are written in the transaction of the change they
-- report (a call, an order) or of webhooks.enqueue (other services' outbox
-- relays), so nothing is announced that did not commit and nothing that
-- committed is lost: the delivery thread of any tenant-svc process claims
-- due deliveries (FOR UPDATE SKIP LOCKED, then a lease in leased_until so
-- that a process killed mid-delivery leaves the row due again when its
-- lease ends) and records each attempt.
--
-- Secrets are sealed (sb/secrets.h): the current one, and the previous one
-- until previous_expires_at (rotation: both sign meanwhile).

CREATE TABLE webhook_endpoints (
    organization_id     uuid NOT NULL,
    id                  uuid NOT NULL,
    url                 text NOT NULL CHECK (length (url) BETWEEN 1 AND 2000),
    events              text [] NOT NULL,
    description         text CHECK (length (description) <= 500),
    enabled             boolean NOT NULL DEFAULT true,
    disabled_reason     text,
    secret_sealed       text NOT NULL,
    previous_sealed     text,
    previous_expires_at timestamptz,
    failing_since       timestamptz,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp (),
    updated_at          timestamptz NOT NULL DEFAULT clock_timestamp (),
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX webhook_endpoints_recent ON webhook_endpoints (organization_id, created_at DESC, id DESC);

-- id is the webhook-id (msg_…), the same on every attempt. source_id is
-- what the event is about, unique per organization so that an enqueue is
-- idempotent (a call's id, "<order id>:<updated_at>", another service's
-- event id).
CREATE TABLE webhook_events (
    organization_id uuid NOT NULL,
    id              text NOT NULL CHECK (id ~ '^msg_[A-Za-z0-9]{8,64}$'),
    source_id       text NOT NULL,
    type            text NOT NULL,
    payload         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp (),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, source_id)
);

CREATE TABLE webhook_deliveries (
    organization_id uuid NOT NULL,
    id              uuid NOT NULL DEFAULT gen_random_uuid (),
    event_id        text NOT NULL,
    endpoint_id     uuid NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp (),
    leased_until    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp (),
    PRIMARY KEY (organization_id, id),
    UNIQUE (organization_id, endpoint_id, event_id),
    FOREIGN KEY (organization_id, event_id) REFERENCES webhook_events (organization_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (organization_id, endpoint_id) REFERENCES webhook_endpoints (organization_id, id)
        ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_recent
    ON webhook_deliveries (organization_id, endpoint_id, created_at DESC, id DESC);

CREATE TABLE webhook_attempts (
    organization_id uuid NOT NULL,
    id              bigserial,
    delivery_id     uuid NOT NULL,
    at              timestamptz NOT NULL,
    status_code     integer,
    error           text,
    duration_ms     integer NOT NULL,
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, delivery_id) REFERENCES webhook_deliveries (organization_id, id)
        ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (organization_id, delivery_id, at);

-- Row-level security as for the other tenant tables, and like billing's
-- cross-organization tables: the delivery thread spans organizations
-- (switchboard.all_orgs), every request sees its own organization's rows.
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY;
ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_events FORCE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_deliveries FORCE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_attempts FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON webhook_endpoints
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
CREATE POLICY tenant_isolation ON webhook_events
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
CREATE POLICY tenant_isolation ON webhook_deliveries
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
CREATE POLICY tenant_isolation ON webhook_attempts
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
