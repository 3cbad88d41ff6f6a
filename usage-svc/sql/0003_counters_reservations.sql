-- usage-svc migration 0003: counters, reservations, event properties, and
-- row-level security on all three tables.
--
-- counters holds, per organization, metric and billing period (the
-- calendar month in UTC of the event's occurred_at, until billing-svc
-- defines periods), the sum of the quantities of the events stored. The
-- service maintains it in the statement that inserts the events, so that
-- it always equals what the events add up to (usage.verify recomputes it).
--
-- reservations are holds on quota: capacity taken out of a period before
-- the work is done (a call that may last long), counted against the limit
-- until committed (turned into an event), released, or expired. An expired
-- hold counts for nothing; rows of expired holds are deleted lazily.
--
-- Row-level security, as in tenant-svc, is the second wall behind the
-- WHERE clauses: a transaction sees the organization set in
-- switchboard.org. Internal batch operations that span organizations (the
-- outbox relay's usage.record, usage.verify, the sweep of expired holds)
-- say so explicitly for their transaction with switchboard.all_orgs = on.

ALTER TABLE events ADD COLUMN properties jsonb;
ALTER TABLE events ADD COLUMN reservation_id uuid;
-- A commit repeated after its answer was lost finds its event again.
CREATE INDEX events_reservation ON events (organization_id, reservation_id)
    WHERE reservation_id IS NOT NULL;

CREATE TABLE counters (
    organization_id uuid NOT NULL,
    metric          text NOT NULL CHECK (metric ~ '^[a-z][a-z0-9_]{0,62}$'),
    period_start    date NOT NULL,
    used            bigint NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (organization_id, metric, period_start)
);

-- Events stored before counters existed (the outbox relay has been
-- delivering since migration 0002) are counted now, before the policies
-- below would hide them from this statement.
INSERT INTO counters (organization_id, metric, period_start, used)
SELECT organization_id, metric, date_trunc ('month', occurred_at AT TIME ZONE 'UTC')::date,
       sum (quantity)
  FROM events
 GROUP BY 1, 2, 3;

CREATE TABLE reservations (
    organization_id uuid NOT NULL,
    id              uuid NOT NULL,
    metric          text NOT NULL CHECK (metric ~ '^[a-z][a-z0-9_]{0,62}$'),
    period_start    date NOT NULL,
    quantity        bigint NOT NULL CHECK (quantity > 0),
    created_at      timestamptz NOT NULL DEFAULT now (),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX reservations_active
    ON reservations (organization_id, metric, period_start, expires_at);
CREATE INDEX reservations_expiry ON reservations (expires_at);

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
ALTER TABLE counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE counters FORCE ROW LEVEL SECURITY;
ALTER TABLE reservations ENABLE ROW LEVEL SECURITY;
ALTER TABLE reservations FORCE ROW LEVEL SECURITY;

-- No organization set and no all_orgs: no rows.
CREATE POLICY usage_isolation ON events
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
CREATE POLICY usage_isolation ON counters
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
CREATE POLICY usage_isolation ON reservations
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
