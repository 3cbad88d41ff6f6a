-- tenant-svc migration 0009: calls straight from Twilio (issue 14).
--
-- twilio_integrations: one per organization that connected its Twilio
-- account. The auth token is stored sealed (sb/secrets.h: "sb1:" + base64
-- of a secretbox), never in the clear. callback_token is the random part
-- of the status-callback URL: the callback finds its organization by it,
-- before any organization is known, so this table's policy also honours
-- switchboard.all_orgs (set by that lookup only).
--
-- twilio_events: every callback that verified, with what came of it
-- (created, duplicate, unmatched, refused, ignored), kept 30 days (the
-- callback deletes its organization's older ones).
--
-- calls.source says where a call came from ('api' or 'twilio');
-- external_id is the CallSid of a Twilio call. One call per (organization,
-- source, external_id): a CallSid makes at most one call, whatever the
-- retries and races.

CREATE TABLE twilio_integrations (
    organization_id   uuid PRIMARY KEY,
    account_sid       text NOT NULL CHECK (account_sid ~ '^AC[0-9a-fA-F]{32}$'),
    auth_token_sealed text NOT NULL CHECK (auth_token_sealed LIKE 'sb1:%'),
    callback_token    text NOT NULL UNIQUE CHECK (callback_token ~ '^[0-9a-f]{32}$'),
    connected_at      timestamptz NOT NULL DEFAULT clock_timestamp (),
    last_event_at     timestamptz
);

CREATE TABLE twilio_events (
    organization_id uuid NOT NULL,
    id              uuid NOT NULL,
    call_sid        text NOT NULL CHECK (length (call_sid) BETWEEN 1 AND 64),
    call_status     text NOT NULL CHECK (length (call_status) BETWEEN 1 AND 32),
    from_number     text CHECK (length (from_number) <= 64),
    to_number       text CHECK (length (to_number) <= 64),
    sequence_number bigint,
    received_at     timestamptz NOT NULL DEFAULT clock_timestamp (),
    outcome         text NOT NULL
                    CHECK (outcome IN ('created', 'duplicate', 'unmatched', 'refused', 'ignored')),
    call_id         uuid,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX twilio_events_recent ON twilio_events (organization_id, received_at DESC, id DESC);

ALTER TABLE calls
    ADD COLUMN source      text NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'twilio')),
    ADD COLUMN external_id text CHECK (length (external_id) BETWEEN 1 AND 64);
CREATE UNIQUE INDEX calls_external ON calls (organization_id, source, external_id)
    WHERE external_id IS NOT NULL;

ALTER TABLE twilio_integrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio_integrations FORCE ROW LEVEL SECURITY;
ALTER TABLE twilio_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE twilio_events FORCE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON twilio_integrations
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid);
CREATE POLICY tenant_isolation ON twilio_events
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid);
