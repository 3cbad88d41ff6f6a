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
-- local days of its range, plus the deltas not folded yet, and raw calls
-- for the rest.
--
-- The write side is an append-only delta log, analytics_deltas, written in
-- the transaction of every write of calls whatever the path, one row per
-- change: +1 for a call inserted, −1 for a call deleted, −1 (old) and +1
-- (new) for a call updated. Who writes it:
--   - tenant-svc's insert (tenant_calls.c: POST /v1/calls, Twilio's calls),
--     the hot path: its own statement, a CTE beside the usage outbox's; it
--     names its call in switchboard.call_delta (set_config, local to the
--     transaction) before the row is made;
--   - any other insert (the legacy import, bench/scale.sh's loader, SQL by
--     hand): a row trigger on calls, whose WHEN skips the call named in
--     switchboard.call_delta — evaluated per row before anything is queued,
--     so on the hot path it costs a comparison, not a trigger;
--   - deletes (org.purge, a business's cascade) and updates (by hand;
--     tenant-svc never changes a call): statement triggers with transition
--     tables, one INSERT per statement whatever its size.
-- A delta is the call's raw facts (business, started_at, status, seconds),
-- with no zone and no aggregate: the table has no unique index and no row
-- is ever updated, so concurrent calls of one organization or business
-- never wait on each other (round 5's upsert per call serialized them on
-- one row until commit, and took an advisory lock per organization; it
-- cost POST /v1/calls a third of its throughput). A write with the
-- triggers off (session_replication_role = replica), or an insert that
-- names its call in switchboard.call_delta without writing its delta,
-- leaves the rollup short: analytics.verify reports it, repair rebuilds.
--
-- The folder (tenant_analytics.c, a background thread in each tenant-svc
-- worker; one at a time across workers: pg_try_advisory_xact_lock of
-- analytics_fold_key ()) moves deltas into analytics_days, up to a batch
-- at a time, in one transaction: DELETE … RETURNING, the zones of now
-- (analytics_businesses and analytics_orgs, kept with businesses), GROUP
-- BY, upsert, rows left at zero deleted. It resolves the zones, not the
-- writer. Invariant, true in every snapshot:
--     analytics_days + (analytics_deltas aggregated in the zones of now)
--       = the calls aggregated in the zones of now.
-- It holds because (1) a delta and its call's write commit together, a
-- fold deletes deltas and adds them to rows atomically; (2) a zone change
-- (a business's zone, or the organization's: its oldest business created,
-- deleted or moved) rebuilds the rows concerned in the transaction that
-- changes the zone, as calls − pending deltas in one snapshot, holding
-- the fold lock from before that snapshot until its commit: a fold in
-- flight (old zones) commits first and its rows are rebuilt; the next
-- fold starts after the commit and reads the new zones. Deltas committed
-- after the rebuild's snapshot are of calls it did not see: folded later,
-- in the new zones. A business deleted takes its rows and its pending
-- deltas with it, under the fold lock: a fold commits before, or starts
-- after and finds neither its deltas nor its zone (the −1 deltas its
-- cascade appends after that are dropped by the next fold: no zone).
-- Ordering of zone changes among themselves: an exclusive advisory lock
-- per organization (analytics_lock_key) taken by the business trigger
-- only — never by calls. analytics.verify compares rows + pending deltas
-- with the calls; repair rebuilds.
--
-- Cost to a writer, measured (2026-12-03 round 7, load average 6–12 from
-- the other engineers and a 10M-call load: every figure below is noisy).
-- The insert statement of tenant_calls.c with the usage outbox, 10,000 in
-- a PL/pgSQL loop as sb_tenant, the backend's CPU time from /proc, 3
-- rounds alternated (µs per insert): nothing 90/104/95; the statement
-- trigger 110/109/115; the CTE + this row trigger skipped 120/114/120; the
-- CTE alone 117/110/117; the row trigger not skipped 128/121/129. So the
-- skipped row trigger costs next to nothing (CTE alone vs CTE + skipped:
-- within the noise), but the CTE is not cheaper than the statement
-- trigger in a loop whose plans are cached: what a delta costs is its row
-- (heap, index, WAL, the policy's check), wherever it is written. Under
-- POST /v1/calls (perf record -g of tenant-svc's backends, 8 s of
-- bench/bench.sh SCENARIOS=calls, one run each): the after-trigger queue's
-- end of query (AfterTriggerEndQuery) was 10.0 % of the samples with the
-- statement trigger (plpgsql_exec_trigger 5.7 %), 5.0 % with the CTE and
-- 4.6 % on main (the foreign key's check); ExecutorStart 8.3 % against
-- 7.3 % on main (one more table in the plan). Chosen: the CTE, for the
-- trigger machinery it takes off the hot path, and the row trigger for
-- the other inserts, which are not hot (a bulk load, bench/scale.sh's,
-- writes its deltas in its own statement with the triggers off: the row
-- trigger doubled its load time at 100,000 calls, 17 → 33 s; so it is
-- 9 s, the foreign keys unchecked too).
--
-- Cost of the fold, measured (2026-12-03, a scratch cluster of the test
-- harness, tenant-svc stopped; 100,000 deltas folded 20,000 at a time as
-- the tenant role, the backend's CPU time from /proc; the two versions
-- alternated on the busy 2-core machine; EXPLAIN ANALYZE and auto_explain
-- for where the time goes). Deltas folded per second of CPU, before →
-- after:
--     100 organizations × 10 businesses, calls of the last 2 hours,
--     rows already there (live)                     14,000 → 150,000–180,000
--     the same over 365 days, no row yet (bulk)      9,300 →  40,000
--     1 organization × 5 businesses, 365 days, bulk  85,000 → 130,000
-- Before, 95 % of a fold of 1,000 businesses went to one nested loop: the
-- batch (a DELETE … RETURNING, estimated at one row) read again for each
-- of its 1,700 (business, zone) pairs — a cost of batch × businesses, so
-- ~600 µs a delta once thousands of businesses share a batch. Now (bulk,
-- per batch of 20,000 under EXPLAIN ANALYZE): the DELETE 35–45 ms, the
-- zones 10 ms, the join 25 ms, the aggregation 110 ms (33,000 keys), the
-- upsert 360 ms (33,000 rows inserted, two indexes; the foreign key's
-- check was 27 ms more and is gone); live, the upsert of 1,700 rows is
-- 20 ms. Measured and left: fillfactor 70 (no difference, the updates
-- were HOT either way once vacuumed); the index analytics_days_business
-- (a business deleted needs it).
--
-- POST /v1/calls (bench/bench.sh SCENARIOS=calls, 100 organizations × 10
-- businesses), round 6: main d41bfb4 2,684 / 3,081 / 2,211 / 2,841 req/s,
-- the statement trigger 2,277 / 2,597 / 1,838 / 2,186 (−18 %); a build
-- that never folds and one without the index of analytics_deltas measured
-- the same. Round 7 (main d2522a0's release build and this one
-- alternated, load average 6–16): main 1,471 / 1,686 / 1,581 / 1,182 /
-- 479 / 1,280, the statement trigger 1,194 / 1,753 / 1,018, this 1,224 /
-- 1,730 / 1,066 / 727 / 1,320 / 1,295 — runs of one build vary 3× on the
-- machine of that day: no conclusion; the lead's quiet machine decides.

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
    PRIMARY KEY (organization_id, timezone, day, business_id, status)
);
-- No foreign key to businesses: its check ran once per row the fold
-- inserted, and took a KEY SHARE lock on the business row, the row every
-- POST /v1/calls of that business locks too (multixacts). A business's
-- rows are deleted by the trigger that deletes its deltas, under the fold
-- lock (analytics_business_changed), with the help of this index.
CREATE INDEX analytics_days_business ON analytics_days (organization_id, business_id);

-- The changes of calls not folded yet: sign +1 or −1 times one call.
-- One index, for the overview's read of an organization's range.
CREATE TABLE analytics_deltas (
    organization_id uuid NOT NULL,
    business_id     uuid NOT NULL,
    started_at      timestamptz NOT NULL,
    status          text NOT NULL,
    seconds         integer NOT NULL,
    sign            smallint NOT NULL
);
CREATE INDEX analytics_deltas_range ON analytics_deltas (organization_id, started_at);
-- Deleted a second after they are written: vacuumed often.
ALTER TABLE analytics_deltas SET (autovacuum_vacuum_scale_factor = 0,
                                  autovacuum_vacuum_threshold = 10000,
                                  autovacuum_vacuum_insert_threshold = 10000);

-- The zone of an organization's oldest business when its rows were made:
-- the zone of its organization-wide rows.
CREATE TABLE analytics_orgs (
    organization_id uuid PRIMARY KEY,
    timezone        text NOT NULL
);

-- Each business's zone, for the folder: it folds every organization's
-- deltas in one statement (switchboard.all_orgs), and the policy of
-- businesses shows one organization at a time. Kept by the trigger on
-- businesses in the same transaction as the business (with
-- analytics_orgs), so the two agree in every snapshot; analytics.verify
-- would see a difference (rows folded into a wrong zone).
CREATE TABLE analytics_businesses (
    organization_id uuid NOT NULL,
    business_id     uuid NOT NULL,
    timezone        text NOT NULL,
    PRIMARY KEY (organization_id, business_id)
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
ALTER TABLE analytics_businesses ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_businesses FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_businesses
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
ALTER TABLE analytics_deltas ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_deltas FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics_businesses FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_deltas
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
              FROM generate_series (0, 23) i LEFT JOIN
                   (SELECT h, sum (n) AS n FROM unnest (hrs, ns) v (h, n) GROUP BY h) u
                ON u.h = i);
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

-- The zone changes of one organization, one at a time.
CREATE FUNCTION analytics_lock_key (org uuid) RETURNS bigint
    IMMUTABLE LANGUAGE sql AS $$
    SELECT hashtextextended ('analytics_days ' || org::text, 0)
$$;

-- The folder's lock: one fold at a time, and no fold during a rebuild.
CREATE FUNCTION analytics_fold_key () RETURNS bigint
    IMMUTABLE LANGUAGE sql AS $$
    SELECT hashtextextended ('analytics_days fold', 0)
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

-- The calls (source 'call', +1 each) and the pending deltas (source
-- 'delta', signed) aggregated per rollup key in the zones of now: one
-- definition for the backfill, the rebuilds (calls − deltas) and
-- analytics.verify (calls against rows + deltas). The folder makes the
-- same aggregation over the deltas it deletes.
CREATE VIEW analytics_days_by_source WITH (security_invoker = true) AS
    SELECT organization_id, timezone, day, business_id, status, source,
           sum (n)::integer AS calls, sum (minutes)::bigint AS minutes,
           sum (seconds)::bigint AS seconds,
           analytics_hours (array_agg (hour), array_agg (n)) AS hours
      FROM (SELECT c.organization_id, z.timezone,
                   (c.started_at AT TIME ZONE z.timezone)::date AS day, c.business_id, c.status,
                   c.source, date_part ('hour', c.started_at AT TIME ZONE z.timezone)::integer AS hour,
                   sum (c.n) AS n, sum (c.n * ((c.seconds + 59) / 60)) AS minutes,
                   sum (c.n * c.seconds) AS seconds
              FROM (SELECT organization_id, business_id, started_at, status,
                           duration_seconds AS seconds, 1 AS n, 'call' AS source FROM calls
                    UNION ALL
                    SELECT organization_id, business_id, started_at, status, seconds,
                           sign::integer, 'delta' FROM analytics_deltas) c
              JOIN analytics_zones z
                ON z.organization_id = c.organization_id AND z.business_id = c.business_id
             GROUP BY 1, 2, 3, 4, 5, 6, 7) h
     GROUP BY 1, 2, 3, 4, 5, 6;

-- The writers' side: one delta per call changed, nothing else.
-- Inserted: tenant-svc's insert (tenant_calls.c, the API's and Twilio's
-- calls) appends its call's delta itself, in a CTE of its statement, and
-- names the call in switchboard.call_delta (set_config, local to the
-- transaction) before the row is made; the row trigger below skips that
-- call (its WHEN, evaluated per row before anything is queued) and appends
-- the delta of any other call inserted — the legacy import, bench/scale.sh's
-- loader, SQL by hand. Deleted or updated (org.purge, a business's cascade,
-- SQL by hand; tenant-svc never changes a call): statement triggers with
-- transition tables, one INSERT per statement whatever its size.
CREATE FUNCTION analytics_call_inserted () RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO analytics_deltas
        VALUES (NEW.organization_id, NEW.business_id, NEW.started_at, NEW.status,
                NEW.duration_seconds, 1);
    RETURN NULL;
END
$$;

CREATE FUNCTION analytics_calls_changed () RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO analytics_deltas
        SELECT organization_id, business_id, started_at, status, duration_seconds, -1
          FROM old_rows;
    IF TG_OP = 'UPDATE' THEN
        INSERT INTO analytics_deltas
            SELECT organization_id, business_id, started_at, status, duration_seconds, 1
              FROM new_rows;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER analytics_calls_inserted AFTER INSERT ON calls
    FOR EACH ROW WHEN (NEW.id::text IS DISTINCT FROM current_setting ('switchboard.call_delta', true))
    EXECUTE FUNCTION analytics_call_inserted ();
CREATE TRIGGER analytics_calls_deleted AFTER DELETE ON calls
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_calls_changed ();
CREATE TRIGGER analytics_calls_updated AFTER UPDATE ON calls
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_calls_changed ();

-- Element-wise a + b, 24 elements: inlined by the planner (a plain SQL
-- expression), where ARRAY (SELECT … generate_series) was a subplan run
-- per row updated.
CREATE FUNCTION analytics_hours_plus (a integer[], b integer[]) RETURNS integer[]
    IMMUTABLE LANGUAGE sql AS $$
    SELECT ARRAY [a [1] + b [1], a [2] + b [2], a [3] + b [3], a [4] + b [4], a [5] + b [5],
                  a [6] + b [6], a [7] + b [7], a [8] + b [8], a [9] + b [9], a [10] + b [10],
                  a [11] + b [11], a [12] + b [12], a [13] + b [13], a [14] + b [14],
                  a [15] + b [15], a [16] + b [16], a [17] + b [17], a [18] + b [18],
                  a [19] + b [19], a [20] + b [20], a [21] + b [21], a [22] + b [22],
                  a [23] + b [23], a [24] + b [24]]
$$;

-- The fold's first step: up to batch deltas (any, in physical order)
-- deleted and returned. A function for its ROWS estimate: a DELETE …
-- RETURNING in a CTE is estimated at one row (the Tid scan and the
-- policy's filter), and the planner then joined the deltas to their zones
-- by a nested loop that read the whole batch again for every (business,
-- zone): 1,700 × 20,000 rows for a batch of 1,000 businesses, 95 % of
-- the fold's time.
CREATE FUNCTION analytics_fold_take (batch integer) RETURNS SETOF analytics_deltas
    VOLATILE ROWS 20000 LANGUAGE sql SET search_path FROM CURRENT AS $$
    DELETE FROM analytics_deltas
     WHERE ctid = ANY (ARRAY (SELECT ctid FROM analytics_deltas LIMIT batch))
    RETURNING *
$$;

-- One fold: up to batch deltas deleted and added to their rows in the
-- zones of now, and the rows left at zero deleted. Returns the number of
-- deltas folded, or −1 when another fold (or a rebuild) holds the lock.
-- The caller sees every organization (switchboard.all_orgs) and commits
-- right after. The plan, measured (EXPLAIN ANALYZE, auto_explain): the
-- zones of the batch's businesses (z, one index lookup each, materialized)
-- hashed and joined to the deltas; each delta's local time computed once
-- per zone (l); one hashed aggregation per key with the 24 hours as
-- FILTERed sums; the upsert. enable_sort off and work_mem: the estimates
-- of the CTEs stay small (the policies' filters), so the planner would
-- sort 34,000 rows to group them (a third of the time left) and the hash
-- of a bulk load's 33,000 keys × 27 sums would spill to disk at 4 MB.
CREATE FUNCTION analytics_fold (batch integer) RETURNS integer
    LANGUAGE plpgsql SET search_path FROM CURRENT SET enable_sort = off SET work_mem = '64MB'
    AS $$
DECLARE
    folded integer;
    zeros analytics_days[];
BEGIN
    IF NOT pg_try_advisory_xact_lock (analytics_fold_key ()) THEN
        RETURN -1;
    END IF;
    -- (A new snapshot per statement: the fold sees every delta committed
    -- before it took the lock.)
    WITH d AS MATERIALIZED (SELECT * FROM analytics_fold_take (batch)),
         z AS MATERIALIZED (
               SELECT DISTINCT b.organization_id, b.business_id, t.timezone
                 FROM (SELECT DISTINCT organization_id, business_id FROM d) k
                 JOIN analytics_businesses b
                   ON b.organization_id = k.organization_id AND b.business_id = k.business_id
                 JOIN analytics_orgs o ON o.organization_id = k.organization_id,
                      unnest (ARRAY [b.timezone, o.timezone]) t (timezone)),
         l AS (SELECT d.organization_id, z.timezone, d.business_id, d.status, d.sign, d.seconds,
                      d.started_at AT TIME ZONE z.timezone AS local
                 FROM d JOIN z
                   ON z.organization_id = d.organization_id AND z.business_id = d.business_id
               OFFSET 0),
         h AS (SELECT organization_id, timezone, local::date AS day, business_id, status,
                      date_part ('hour', local)::integer AS hour, sign, seconds FROM l),
         up AS (INSERT INTO analytics_days AS a (organization_id, timezone, day, business_id,
                                                 status, calls, minutes, seconds, hours)
                SELECT organization_id, timezone, day, business_id, status, sum (sign)::integer,
                       sum (sign * ((seconds + 59) / 60))::bigint, sum (sign * seconds)::bigint,
                       ARRAY [
                           coalesce (sum (sign) FILTER (WHERE hour = 0), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 1), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 2), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 3), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 4), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 5), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 6), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 7), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 8), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 9), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 10), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 11), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 12), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 13), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 14), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 15), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 16), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 17), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 18), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 19), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 20), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 21), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 22), 0),
                           coalesce (sum (sign) FILTER (WHERE hour = 23), 0)
                       ]::integer[]
                  FROM h GROUP BY 1, 2, 3, 4, 5
                ON CONFLICT (organization_id, timezone, day, business_id, status) DO UPDATE
                   SET calls = a.calls + EXCLUDED.calls, minutes = a.minutes + EXCLUDED.minutes,
                       seconds = a.seconds + EXCLUDED.seconds,
                       hours = analytics_hours_plus (a.hours, EXCLUDED.hours)
                RETURNING a.*)
    SELECT (SELECT count (*) FROM d),
           (SELECT array_agg (up::analytics_days) FROM up
             WHERE calls = 0 AND minutes = 0 AND seconds = 0
               AND hours = array_fill (0, ARRAY [24]))
      INTO folded, zeros;
    IF zeros IS NOT NULL THEN
        DELETE FROM analytics_days a USING unnest (zeros) z
         WHERE (a.organization_id, a.timezone, a.day, a.business_id, a.status)
             = (z.organization_id, z.timezone, z.day, z.business_id, z.status)
           AND a.calls = 0 AND a.minutes = 0 AND a.seconds = 0
           AND a.hours = array_fill (0, ARRAY [24]);
    END IF;
    RETURN folded;
END
$$;

-- The rows of an organization (or of one of its businesses) again, in the
-- zones of now: the calls minus the deltas not folded yet, in one
-- snapshot, the fold lock held (taken before that snapshot, kept to the
-- commit). Returns the number of rows written.
CREATE FUNCTION analytics_rebuild (org uuid, business uuid) RETURNS bigint
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    written bigint;
BEGIN
    PERFORM pg_advisory_xact_lock (analytics_fold_key ());
    DELETE FROM analytics_days
     WHERE organization_id = org AND (business IS NULL OR business_id = business);
    WITH r AS (SELECT * FROM analytics_days_by_source
                WHERE organization_id = org AND (business IS NULL OR business_id = business)),
         ins AS (
        INSERT INTO analytics_days
        SELECT organization_id, timezone, day, business_id, status,
               coalesce (c.calls, 0) - coalesce (d.calls, 0),
               coalesce (c.minutes, 0) - coalesce (d.minutes, 0),
               coalesce (c.seconds, 0) - coalesce (d.seconds, 0),
               analytics_hours_add (coalesce (c.hours, array_fill (0, ARRAY [24])),
                                    coalesce (d.hours, array_fill (0, ARRAY [24])), -1)
          FROM (SELECT * FROM r WHERE source = 'call') c
               FULL JOIN (SELECT * FROM r WHERE source = 'delta') d
               USING (organization_id, timezone, day, business_id, status)
         WHERE (c.calls, c.minutes, c.seconds, c.hours)
               IS DISTINCT FROM (d.calls, d.minutes, d.seconds, d.hours)
        RETURNING 1)
    SELECT count (*) INTO written FROM ins;
    RETURN written;
END
$$;

-- A business created, deleted or moved to another zone (or to another
-- created_at, never by the API): the organization's zone (analytics_orgs
-- holds the one its rows are in) may change, and then every row of the
-- organization is made again; else a business's zone changed makes its
-- own rows again. (Deleted: its rows, its deltas, analytics_businesses
-- and analytics_orgs go here, so
-- org.purge needs none of the rollup's tables in its list.)
-- The organization's first business rebuilds nothing: no call can be
-- older than it.
CREATE FUNCTION analytics_business_changed () RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    org uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.organization_id ELSE NEW.organization_id END;
    zone_now text;
    zone_was text;
BEGIN
    PERFORM pg_advisory_xact_lock (analytics_lock_key (org));
    IF TG_OP = 'DELETE' THEN
        -- Its deltas go too, the fold lock held so that no fold holds
        -- them meanwhile. The −1 deltas of its calls deleted by the
        -- cascade are appended AFTER this trigger (PostgreSQL 15 fires
        -- the cascade's statement triggers later, as round 7 found): the
        -- next fold takes them and drops them, a business with no zone,
        -- and the overview never reads a deleted business's deltas.
        PERFORM pg_advisory_xact_lock (analytics_fold_key ());
        DELETE FROM analytics_deltas WHERE organization_id = org AND business_id = OLD.id;
        DELETE FROM analytics_days WHERE organization_id = org AND business_id = OLD.id;
        DELETE FROM analytics_businesses WHERE organization_id = org AND business_id = OLD.id;
    ELSE
        INSERT INTO analytics_businesses VALUES (org, NEW.id, NEW.timezone)
            ON CONFLICT (organization_id, business_id) DO UPDATE SET timezone = EXCLUDED.timezone;
    END IF;
    SELECT timezone INTO zone_now FROM businesses
     WHERE organization_id = org ORDER BY created_at, id LIMIT 1;
    SELECT timezone INTO zone_was FROM analytics_orgs WHERE organization_id = org;
    IF zone_now IS DISTINCT FROM zone_was THEN
        DELETE FROM analytics_orgs WHERE organization_id = org;
        IF zone_now IS NOT NULL THEN
            INSERT INTO analytics_orgs VALUES (org, zone_now);
        END IF;
        IF zone_was IS NOT NULL THEN
            PERFORM analytics_rebuild (org, NULL);
        END IF;
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
ALTER TABLE analytics_deltas NO FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics_businesses NO FORCE ROW LEVEL SECURITY;
INSERT INTO analytics_businesses SELECT organization_id, id, timezone FROM businesses;
INSERT INTO analytics_orgs
    SELECT DISTINCT ON (organization_id) organization_id, timezone FROM businesses
     ORDER BY organization_id, created_at, id;
INSERT INTO analytics_days
    SELECT organization_id, timezone, day, business_id, status, calls, minutes, seconds, hours
      FROM analytics_days_by_source WHERE source = 'call';
ALTER TABLE analytics_orgs FORCE ROW LEVEL SECURITY;
ALTER TABLE calls FORCE ROW LEVEL SECURITY;
ALTER TABLE businesses FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics_days FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics_deltas FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics_businesses FORCE ROW LEVEL SECURITY;
