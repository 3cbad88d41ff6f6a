-- tenant-svc migration 0012: the analytics rollup (issue 16).
--
-- analytics_days holds, per organization, local day, business and call
-- status, the count of calls, their minutes (⌈seconds/60⌉ each, as usage
-- counts them), their seconds, and the calls per local hour (hours[1] is
-- 00:00–00:59). "Local" is the business's own time zone, as it is now:
-- a change of businesses.timezone rebuilds that business's rows in the
-- same statement (trigger analytics_business_zone). The overview
-- (tenant_analytics.c) reads these rows for the whole local days of its
-- range when its zone is the business's, and raw calls for the rest.
--
-- Exactness: triggers on calls keep the rows in the same transaction as
-- every write of calls, whatever the path (the API's two insert forms, the
-- legacy import, deletes by org.purge or by a business's cascade, COPY of a
-- benchmark's seed). They are statement triggers over transition tables,
-- so a bulk write aggregates first and touches each rollup row once. The
-- business's row is read FOR SHARE: a concurrent zone change waits for the
-- call's transaction, or the call waits for it and then reads the new
-- zone — never a call counted in a zone its business no longer has.
-- analytics.verify recomputes the rows from calls and reports differences.
--
-- Cost: one more upsert per call statement. Contention: the calls of one
-- business, one local day and one status update one row, so concurrent
-- inserts of one such key serialize on it until commit (a busy business
-- commits its calls one after the other on that row).

CREATE TABLE analytics_days (
    organization_id uuid NOT NULL,
    day             date NOT NULL,
    business_id     uuid NOT NULL,
    status          text NOT NULL,
    calls           integer NOT NULL,
    minutes         bigint NOT NULL,
    seconds         bigint NOT NULL,
    hours           integer[] NOT NULL CHECK (cardinality (hours) = 24),
    PRIMARY KEY (organization_id, day, business_id, status),
    FOREIGN KEY (organization_id, business_id) REFERENCES businesses (organization_id, id)
        ON DELETE CASCADE
);
CREATE INDEX analytics_days_business ON analytics_days (organization_id, business_id);

ALTER TABLE analytics_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_days FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_days
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');

-- The 24 calls per hour of the (hour, calls) pairs given; hours absent are 0.
CREATE FUNCTION analytics_hours (hrs integer[], ns bigint[]) RETURNS integer[]
    IMMUTABLE LANGUAGE sql SET search_path FROM CURRENT AS $$
    SELECT array_agg (coalesce (u.n, 0)::integer ORDER BY i)
      FROM generate_series (0, 23) i LEFT JOIN unnest (hrs, ns) u (h, n) ON u.h = i
$$;

-- Element-wise a + sign × b.
CREATE FUNCTION analytics_hours_add (a integer[], b integer[], sign integer) RETURNS integer[]
    IMMUTABLE LANGUAGE sql SET search_path FROM CURRENT AS $$
    SELECT array_agg (x + sign * y ORDER BY i) FROM unnest (a, b) WITH ORDINALITY u (x, y, i)
$$;

-- The rollup rows of a set of calls, in their businesses' zones: one
-- definition used by the triggers, the rebuild, the backfill and
-- analytics.verify (which compares it with the table). Not a trigger's
-- transition table, so the triggers inline the same aggregation.
CREATE VIEW analytics_days_recomputed WITH (security_invoker = true) AS
    SELECT organization_id, day, business_id, status, sum (n)::integer AS calls,
           sum (minutes)::bigint AS minutes, sum (seconds)::bigint AS seconds,
           analytics_hours (array_agg (hour), array_agg (n)) AS hours
      FROM (SELECT c.organization_id, (c.started_at AT TIME ZONE b.timezone)::date AS day,
                   c.business_id, c.status,
                   date_part ('hour', c.started_at AT TIME ZONE b.timezone)::integer AS hour,
                   count (*) AS n, sum ((c.duration_seconds + 59) / 60) AS minutes,
                   sum (c.duration_seconds) AS seconds
              FROM calls c JOIN businesses b
                ON b.organization_id = c.organization_id AND b.id = c.business_id
             GROUP BY 1, 2, 3, 4, 5) h
     GROUP BY 1, 2, 3, 4;

CREATE FUNCTION analytics_calls_changed () RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        WITH b AS (SELECT organization_id, id, timezone FROM businesses
                    WHERE (organization_id, id) IN
                          (SELECT DISTINCT organization_id, business_id FROM old_rows)
                    ORDER BY organization_id, id FOR SHARE),
             h AS (SELECT c.organization_id, (c.started_at AT TIME ZONE b.timezone)::date AS day,
                          c.business_id, c.status,
                          date_part ('hour', c.started_at AT TIME ZONE b.timezone)::integer AS hour,
                          count (*) AS n, sum ((c.duration_seconds + 59) / 60) AS minutes,
                          sum (c.duration_seconds) AS seconds
                     FROM old_rows c JOIN b
                       ON b.organization_id = c.organization_id AND b.id = c.business_id
                    GROUP BY 1, 2, 3, 4, 5),
             d AS (SELECT organization_id, day, business_id, status, sum (n)::integer AS calls,
                          sum (minutes)::bigint AS minutes, sum (seconds)::bigint AS seconds,
                          analytics_hours (array_agg (hour), array_agg (n)) AS hours
                     FROM h GROUP BY 1, 2, 3, 4)
        UPDATE analytics_days a
           SET calls = a.calls - d.calls, minutes = a.minutes - d.minutes,
               seconds = a.seconds - d.seconds,
               hours = analytics_hours_add (a.hours, d.hours, -1)
          FROM d
         WHERE a.organization_id = d.organization_id AND a.day = d.day
           AND a.business_id = d.business_id AND a.status = d.status;
        DELETE FROM analytics_days a USING (SELECT DISTINCT organization_id, business_id
                                              FROM old_rows) o
         WHERE a.organization_id = o.organization_id AND a.business_id = o.business_id
           AND a.calls = 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO analytics_days AS a
               (organization_id, day, business_id, status, calls, minutes, seconds, hours)
        WITH b AS (SELECT organization_id, id, timezone FROM businesses
                    WHERE (organization_id, id) IN
                          (SELECT DISTINCT organization_id, business_id FROM new_rows)
                    ORDER BY organization_id, id FOR SHARE),
             h AS (SELECT c.organization_id, (c.started_at AT TIME ZONE b.timezone)::date AS day,
                          c.business_id, c.status,
                          date_part ('hour', c.started_at AT TIME ZONE b.timezone)::integer AS hour,
                          count (*) AS n, sum ((c.duration_seconds + 59) / 60) AS minutes,
                          sum (c.duration_seconds) AS seconds
                     FROM new_rows c JOIN b
                       ON b.organization_id = c.organization_id AND b.id = c.business_id
                    GROUP BY 1, 2, 3, 4, 5)
        SELECT organization_id, day, business_id, status, sum (n)::integer,
               sum (minutes)::bigint, sum (seconds)::bigint,
               analytics_hours (array_agg (hour), array_agg (n))
          FROM h GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (organization_id, day, business_id, status) DO UPDATE
           SET calls = a.calls + EXCLUDED.calls, minutes = a.minutes + EXCLUDED.minutes,
               seconds = a.seconds + EXCLUDED.seconds,
               hours = analytics_hours_add (a.hours, EXCLUDED.hours, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER analytics_calls_inserted AFTER INSERT ON calls
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_calls_changed ();
CREATE TRIGGER analytics_calls_deleted AFTER DELETE ON calls
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_calls_changed ();
CREATE TRIGGER analytics_calls_updated AFTER UPDATE ON calls
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_calls_changed ();

-- A business's rows again from its calls, in its zone (now); returns the
-- number of rows written.
CREATE FUNCTION analytics_rebuild (org uuid, business uuid) RETURNS bigint LANGUAGE sql SET search_path FROM CURRENT AS $$
    DELETE FROM analytics_days WHERE organization_id = org AND business_id = business;
    WITH ins AS (INSERT INTO analytics_days
                     SELECT * FROM analytics_days_recomputed
                      WHERE organization_id = org AND business_id = business
                 RETURNING 1)
    SELECT count (*) FROM ins;
$$;

CREATE FUNCTION analytics_business_zone () RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM analytics_rebuild (NEW.organization_id, NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER analytics_business_zone AFTER UPDATE OF timezone ON businesses
    FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone)
    EXECUTE FUNCTION analytics_business_zone ();

-- The backfill, as the tables' owner with the policies not forced on it
-- for this transaction only.
ALTER TABLE calls NO FORCE ROW LEVEL SECURITY;
ALTER TABLE businesses NO FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics_days NO FORCE ROW LEVEL SECURITY;
INSERT INTO analytics_days SELECT * FROM analytics_days_recomputed;
ALTER TABLE calls FORCE ROW LEVEL SECURITY;
ALTER TABLE businesses FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics_days FORCE ROW LEVEL SECURITY;
