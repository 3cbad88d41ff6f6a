-- tenant-svc migration 0012: the analytics rollup (issue 16).
--
-- analytics_days holds, per organization, time zone, local day, business
-- and call status, the count of calls, their minutes (⌈seconds/60⌉ each,
-- as usage counts them), their seconds, and the calls per local hour
-- (hours[1] is 00:00–00:59). Each call is counted in the zones the
-- overview defaults to: its business's own zone (a business's overview)
-- and the organization's zone, the zone of its oldest business (the
-- organization's overview) — one row set when they are the same, two when
-- not. The overview (tenant_analytics.c) reads these rows for the whole
-- local days of its range and raw calls for the rest.
--
-- Exactness: triggers on calls keep the rows in the same transaction as
-- every write of calls, whatever the path (the API's two insert forms, the
-- legacy import, deletes by org.purge or by a business's cascade, COPY of a
-- benchmark's seed). They are statement triggers over transition tables,
-- so a bulk write aggregates first and touches each rollup row once. The
-- zones of a business's calls change when its zone changes or when the
-- organization's oldest business changes (a business created, deleted or
-- its zone changed): a trigger on businesses then rebuilds the rows
-- concerned in the same statement — the business's own rows, or every row
-- of the organization when the organization's zone changed. Races: the
-- call triggers hold a shared advisory lock of the organization (key
-- analytics_lock_key), the business trigger an exclusive one, so a zone
-- change waits for the calls in flight and new calls wait for it (and
-- then read the new zones): never a call counted in a zone that is no
-- longer its own. analytics.verify recomputes the rows from the calls
-- and reports differences.
--
-- Cost: the trigger per call statement, one or two upserts: POST
-- /v1/calls went from ~2,700 to ~1,850 req/s in bench/bench.sh's calls
-- scenario (one noisy run each, alternated; 2026-12-03). Contention: the
-- calls of one business, zone, local day and status update one row, so
-- concurrent inserts of one such key serialize on it until commit (one
-- commit at a time per key: a business with hundreds of calls a second
-- on one day would wait on it; the benchmark's spread over 100
-- organizations does not).

CREATE TABLE analytics_days (
    organization_id uuid NOT NULL,
    timezone        text NOT NULL,
    day             date NOT NULL,
    business_id     uuid NOT NULL,
    status          text NOT NULL,
    calls           integer NOT NULL,
    minutes         bigint NOT NULL,
    seconds         bigint NOT NULL,
    hours           integer[] NOT NULL CHECK (cardinality (hours) = 24),
    PRIMARY KEY (organization_id, timezone, day, business_id, status),
    FOREIGN KEY (organization_id, business_id) REFERENCES businesses (organization_id, id)
        ON DELETE CASCADE
);
CREATE INDEX analytics_days_business ON analytics_days (organization_id, business_id);

-- The zone of an organization's oldest business when its rows were made:
-- the zone of its organization-wide rows.
CREATE TABLE analytics_orgs (
    organization_id uuid PRIMARY KEY,
    timezone        text NOT NULL
);

ALTER TABLE analytics_orgs ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_orgs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_orgs
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
ALTER TABLE analytics_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_days FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_days
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');

-- The 24 calls per hour of the (hour, calls) pairs given; hours absent are 0.
-- (PL/pgSQL, not SQL: a SQL function that cannot be inlined is planned
-- again at every call; PL/pgSQL keeps its plans for the session.)
CREATE FUNCTION analytics_hours (hrs integer[], ns bigint[]) RETURNS integer[]
    IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT array_agg (coalesce (u.n, 0)::integer ORDER BY i)
              FROM generate_series (0, 23) i LEFT JOIN unnest (hrs, ns) u (h, n) ON u.h = i);
END
$$;

-- Element-wise a + sign × b.
CREATE FUNCTION analytics_hours_add (a integer[], b integer[], sign integer) RETURNS integer[]
    IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT array_agg (x + sign * y ORDER BY i)
              FROM unnest (a, b) WITH ORDINALITY u (x, y, i));
END
$$;

CREATE FUNCTION analytics_lock_key (org uuid) RETURNS bigint
    IMMUTABLE LANGUAGE sql AS $$
    SELECT hashtextextended ('analytics_days ' || org::text, 0)
$$;

-- The zones a business's calls are counted in: its own, and its
-- organization's (the zone of the oldest business, as the overview's
-- default), once when they are the same.
CREATE FUNCTION analytics_zones_of (org uuid, business uuid) RETURNS SETOF text
    STABLE LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    RETURN QUERY
        SELECT DISTINCT t FROM unnest (ARRAY [
            (SELECT timezone FROM businesses WHERE organization_id = org AND id = business),
            (SELECT timezone FROM businesses WHERE organization_id = org
              ORDER BY created_at, id LIMIT 1)]) t
         WHERE t IS NOT NULL;
END
$$;

CREATE VIEW analytics_zones WITH (security_invoker = true) AS
    SELECT b.organization_id, b.id AS business_id, z.timezone
      FROM businesses b, LATERAL analytics_zones_of (b.organization_id, b.id) z (timezone);

-- The rollup rows of the calls: one definition used by the rebuilds, the
-- backfill and analytics.verify (which compares it with the table). The
-- triggers make the same aggregation over their transition tables.
CREATE VIEW analytics_days_recomputed WITH (security_invoker = true) AS
    SELECT organization_id, timezone, day, business_id, status, sum (n)::integer AS calls,
           sum (minutes)::bigint AS minutes, sum (seconds)::bigint AS seconds,
           analytics_hours (array_agg (hour), array_agg (n)) AS hours
      FROM (SELECT c.organization_id, z.timezone,
                   (c.started_at AT TIME ZONE z.timezone)::date AS day, c.business_id, c.status,
                   date_part ('hour', c.started_at AT TIME ZONE z.timezone)::integer AS hour,
                   count (*) AS n, sum ((c.duration_seconds + 59) / 60) AS minutes,
                   sum (c.duration_seconds) AS seconds
              FROM calls c JOIN analytics_zones z
                ON z.organization_id = c.organization_id AND z.business_id = c.business_id
             GROUP BY 1, 2, 3, 4, 5, 6) h
     GROUP BY 1, 2, 3, 4, 5;

CREATE FUNCTION analytics_calls_changed () RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    r record;
    zb text;
    zo text;
    z text;
    h integer;
    hrs integer[];
BEGIN
    -- One call inserted (the API's case): the same counts without the
    -- aggregation's machinery, a third of its cost per call.
    IF TG_OP = 'INSERT' THEN
        SELECT count (*) INTO h FROM new_rows;
    END IF;
    IF TG_OP = 'INSERT' AND h = 1 THEN
        SELECT * INTO r FROM new_rows;
        PERFORM pg_advisory_xact_lock_shared (analytics_lock_key (r.organization_id));
        SELECT timezone INTO zb FROM businesses
         WHERE organization_id = r.organization_id AND id = r.business_id;
        SELECT timezone INTO zo FROM businesses
         WHERE organization_id = r.organization_id ORDER BY created_at, id LIMIT 1;
        FOREACH z IN ARRAY CASE WHEN zo IS NULL OR zo = zb THEN ARRAY [zb]
                                ELSE ARRAY [zb, zo] END LOOP
            h := date_part ('hour', r.started_at AT TIME ZONE z)::integer + 1;
            hrs := array_fill (0, ARRAY [24]);
            hrs [h] := 1;
            INSERT INTO analytics_days AS a (organization_id, timezone, day, business_id, status,
                                             calls, minutes, seconds, hours)
            VALUES (r.organization_id, z, (r.started_at AT TIME ZONE z)::date, r.business_id,
                    r.status, 1, (r.duration_seconds + 59) / 60, r.duration_seconds, hrs)
            ON CONFLICT (organization_id, timezone, day, business_id, status) DO UPDATE
               SET calls = a.calls + 1, minutes = a.minutes + EXCLUDED.minutes,
                   seconds = a.seconds + EXCLUDED.seconds, hours [h] = a.hours [h] + 1;
        END LOOP;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM pg_advisory_xact_lock_shared (k)
           FROM (SELECT DISTINCT analytics_lock_key (organization_id) AS k FROM old_rows) o
          ORDER BY k;
        WITH h AS (SELECT c.organization_id, z.timezone,
                          (c.started_at AT TIME ZONE z.timezone)::date AS day,
                          c.business_id, c.status,
                          date_part ('hour', c.started_at AT TIME ZONE z.timezone)::integer AS hour,
                          count (*) AS n, sum ((c.duration_seconds + 59) / 60) AS minutes,
                          sum (c.duration_seconds) AS seconds
                     FROM old_rows c JOIN
                          (SELECT p.organization_id, p.business_id, z.timezone
                             FROM (SELECT DISTINCT organization_id, business_id FROM old_rows) p,
                                  LATERAL analytics_zones_of (p.organization_id, p.business_id)
                                    z (timezone)) z
                       ON z.organization_id = c.organization_id AND z.business_id = c.business_id
                    GROUP BY 1, 2, 3, 4, 5, 6),
             d AS (SELECT organization_id, timezone, day, business_id, status,
                          sum (n)::integer AS calls, sum (minutes)::bigint AS minutes,
                          sum (seconds)::bigint AS seconds,
                          analytics_hours (array_agg (hour), array_agg (n)) AS hours
                     FROM h GROUP BY 1, 2, 3, 4, 5)
        UPDATE analytics_days a
           SET calls = a.calls - d.calls, minutes = a.minutes - d.minutes,
               seconds = a.seconds - d.seconds,
               hours = analytics_hours_add (a.hours, d.hours, -1)
          FROM d
         WHERE a.organization_id = d.organization_id AND a.timezone = d.timezone
           AND a.day = d.day AND a.business_id = d.business_id AND a.status = d.status;
        DELETE FROM analytics_days a USING (SELECT DISTINCT organization_id, business_id
                                              FROM old_rows) o
         WHERE a.organization_id = o.organization_id AND a.business_id = o.business_id
           AND a.calls = 0;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_advisory_xact_lock_shared (k)
           FROM (SELECT DISTINCT analytics_lock_key (organization_id) AS k FROM new_rows) o
          ORDER BY k;
        INSERT INTO analytics_days AS a (organization_id, timezone, day, business_id, status,
                                         calls, minutes, seconds, hours)
        WITH h AS (SELECT c.organization_id, z.timezone,
                          (c.started_at AT TIME ZONE z.timezone)::date AS day,
                          c.business_id, c.status,
                          date_part ('hour', c.started_at AT TIME ZONE z.timezone)::integer AS hour,
                          count (*) AS n, sum ((c.duration_seconds + 59) / 60) AS minutes,
                          sum (c.duration_seconds) AS seconds
                     FROM new_rows c JOIN
                          (SELECT p.organization_id, p.business_id, z.timezone
                             FROM (SELECT DISTINCT organization_id, business_id FROM new_rows) p,
                                  LATERAL analytics_zones_of (p.organization_id, p.business_id)
                                    z (timezone)) z
                       ON z.organization_id = c.organization_id AND z.business_id = c.business_id
                    GROUP BY 1, 2, 3, 4, 5, 6)
        SELECT organization_id, timezone, day, business_id, status, sum (n)::integer,
               sum (minutes)::bigint, sum (seconds)::bigint,
               analytics_hours (array_agg (hour), array_agg (n))
          FROM h GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (organization_id, timezone, day, business_id, status) DO UPDATE
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

-- The rows of an organization (or of one of its businesses) again from
-- the calls, in the zones of now; returns the number of rows written.
CREATE FUNCTION analytics_rebuild (org uuid, business uuid) RETURNS bigint
    LANGUAGE sql SET search_path FROM CURRENT AS $$
    DELETE FROM analytics_days
     WHERE organization_id = org AND (business IS NULL OR business_id = business);
    WITH ins AS (INSERT INTO analytics_days
                     SELECT * FROM analytics_days_recomputed
                      WHERE organization_id = org AND (business IS NULL OR business_id = business)
                 RETURNING 1)
    SELECT count (*) FROM ins;
$$;

-- A business created, deleted or moved to another zone (or to another
-- created_at, never by the API): the organization's zone (analytics_orgs
-- holds the one its rows are in) may change, and then every row of the
-- organization is made again; else a business's zone changed makes its
-- own rows again. (Deleted: its rows went by the foreign key's cascade.)
CREATE FUNCTION analytics_business_changed () RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    org uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.organization_id ELSE NEW.organization_id END;
    zone_now text;
    zone_was text;
BEGIN
    PERFORM pg_advisory_xact_lock (analytics_lock_key (org));
    SELECT timezone INTO zone_now FROM businesses
     WHERE organization_id = org ORDER BY created_at, id LIMIT 1;
    SELECT timezone INTO zone_was FROM analytics_orgs WHERE organization_id = org;
    IF zone_now IS DISTINCT FROM zone_was THEN
        DELETE FROM analytics_orgs WHERE organization_id = org;
        IF zone_now IS NOT NULL THEN
            INSERT INTO analytics_orgs VALUES (org, zone_now);
        END IF;
        PERFORM analytics_rebuild (org, NULL);
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM analytics_rebuild (org, NEW.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER analytics_business_inserted AFTER INSERT ON businesses
    FOR EACH ROW EXECUTE FUNCTION analytics_business_changed ();
CREATE TRIGGER analytics_business_deleted AFTER DELETE ON businesses
    FOR EACH ROW EXECUTE FUNCTION analytics_business_changed ();
CREATE TRIGGER analytics_business_zone AFTER UPDATE OF timezone, created_at ON businesses
    FOR EACH ROW WHEN (OLD.timezone IS DISTINCT FROM NEW.timezone
                       OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION analytics_business_changed ();

-- The backfill, as the tables' owner with the policies not forced on it
-- for this transaction only.
ALTER TABLE calls NO FORCE ROW LEVEL SECURITY;
ALTER TABLE businesses NO FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics_days NO FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics_orgs NO FORCE ROW LEVEL SECURITY;
INSERT INTO analytics_orgs
    SELECT DISTINCT ON (organization_id) organization_id, timezone FROM businesses
     ORDER BY organization_id, created_at, id;
INSERT INTO analytics_days SELECT * FROM analytics_days_recomputed;
ALTER TABLE analytics_orgs FORCE ROW LEVEL SECURITY;
ALTER TABLE calls FORCE ROW LEVEL SECURITY;
ALTER TABLE businesses FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics_days FORCE ROW LEVEL SECURITY;
