-- billing-svc migration 0005: meter_reports, the overage reported to
-- Stripe meters (billing_meter.c).
--
-- One row per quantity billing-svc decided to report for an organization,
-- metric and month (the calendar month in UTC, usage-svc's counter
-- period): written and committed BEFORE it is sent, with the identifier
-- Stripe deduplicates on, so that a crash between recording and sending
-- re-sends the same quantity under the same identifier, never a second
-- one. The sum of an (organization, metric, period)'s rows is what was
-- recorded; the next row is the overage beyond that sum, never beyond
-- what Stripe acknowledged. reported_at is set once Stripe acknowledged
-- (2xx, or the identifier already known to it); NULL rows are pending.
--
-- seq numbers the rows of an (organization, metric, period): the reporter
-- reads the sum and writes seq + 1 in one statement, so that two
-- reporters deciding at once conflict on the key and only one row is
-- written. The customer and meter event name are those of the moment of
-- recording: a re-send is the same request, as its Idempotency-Key needs.

CREATE TABLE meter_reports (
    organization_id    uuid NOT NULL,
    metric             text NOT NULL CHECK (metric ~ '^[a-z][a-z0-9_]{0,62}$'),
    period_start       date NOT NULL,
    seq                integer NOT NULL CHECK (seq > 0),
    quantity           bigint NOT NULL CHECK (quantity > 0),
    identifier         text NOT NULL UNIQUE CHECK (length (identifier) <= 100),
    event_name         text NOT NULL,
    stripe_customer_id text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now (),
    reported_at        timestamptz,
    attempts           integer NOT NULL DEFAULT 0,
    last_error         text,
    PRIMARY KEY (organization_id, metric, period_start, seq)
);
CREATE INDEX meter_reports_pending ON meter_reports (created_at) WHERE reported_at IS NULL;

ALTER TABLE meter_reports ENABLE ROW LEVEL SECURITY;
ALTER TABLE meter_reports FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_isolation ON meter_reports
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
