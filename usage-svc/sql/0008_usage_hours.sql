-- usage-svc migration 0008: usage per UTC hour, for GET /v1/usage, and
-- what the retention sweep took away.
--
-- hours holds, per organization, metric and UTC hour (a timestamp without
-- time zone: the hour's start in UTC), the sum of the quantities of the
-- events stored with occurred_at in that hour. The statement that stores
-- events (usage_store_stmt) adds to it in the same transaction as the
-- counters, a few rows a batch (grouped), so it always equals the events'
-- sum per hour; usage.verify recomputes it.
--
-- retired holds the same sums for the events the retention sweep deleted
-- (SWITCHBOARD_USAGE_RETENTION_DAYS, usage_retention.c), added in the
-- deleting statement: events + retired = hours, and per month = counters,
-- for usage.verify, however old the raw events.
CREATE TABLE hours (
    organization_id uuid NOT NULL,
    metric          text COLLATE "C" NOT NULL,
    hour            timestamp NOT NULL,
    quantity        numeric NOT NULL CHECK (quantity >= 0),
    PRIMARY KEY (organization_id, metric, hour)
);

CREATE TABLE retired (
    organization_id uuid NOT NULL,
    metric          text COLLATE "C" NOT NULL,
    hour            timestamp NOT NULL,
    quantity        numeric NOT NULL CHECK (quantity >= 0),
    events          bigint NOT NULL CHECK (events >= 0),
    PRIMARY KEY (organization_id, metric, hour)
);

-- The events stored so far (before the policies below hide them).
INSERT INTO hours (organization_id, metric, hour, quantity)
SELECT organization_id, metric, date_trunc ('hour', occurred_at AT TIME ZONE 'UTC'),
       sum (quantity)
  FROM events
 GROUP BY 1, 2, 3;

ALTER TABLE hours ENABLE ROW LEVEL SECURITY;
ALTER TABLE hours FORCE ROW LEVEL SECURITY;
ALTER TABLE retired ENABLE ROW LEVEL SECURITY;
ALTER TABLE retired FORCE ROW LEVEL SECURITY;
CREATE POLICY usage_isolation ON hours
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
CREATE POLICY usage_isolation ON retired
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
