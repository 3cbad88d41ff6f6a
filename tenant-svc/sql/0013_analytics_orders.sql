-- tenant-svc migration 0013: the orders' rollup (issue 16).
--
-- The overview counts an organization's orders over its range (optionally
-- one business's): per status, and revenue per currency from the orders
-- not cancelled. No per-day output and no time zone: so the rollup is per
-- organization, UTC day (of created_at), business, status and currency —
-- the number of orders and the sum of their total_cents. The overview
-- (tenant_analytics.c, order_sets) reads these rows for the whole UTC days
-- of its range plus the order deltas not folded yet there, and raw orders
-- for the partial days at the two edges (a range of orders_recent, at
-- most two partial days: together a day's worth for the default requests,
-- whose from and to share a time of day).
--
-- The write side is the calls' (0012's header): an append-only log,
-- analytics_order_deltas, one row per order changed (+1 inserted, −1
-- deleted, −1 old and +1 new updated: the raw facts business, created_at,
-- status, currency, total_cents), appended by statement triggers on
-- orders in the writer's transaction whatever the path (the API's insert,
-- its status transitions, the legacy import, org.purge, a business's
-- cascade, SQL by hand). An update appends only for a row whose facts
-- changed: the ON DELETE SET NULL of call_id (a call deleted) appends
-- nothing. No unique index, no row updated: concurrent orders of one
-- business never wait on each other.
--
-- The folder (tenant_analytics.c) folds them with the calls' deltas, in
-- the same transaction and under the same lock (analytics_fold_key ()):
-- analytics_order_fold takes up to a batch of deltas (DELETE … RETURNING),
-- groups them per key, upserts, deletes rows left at zero. Invariant, true
-- in every snapshot:
--     analytics_order_days + analytics_order_deltas (aggregated per key)
--       = the orders aggregated per key.
-- (1) A delta and its order's write commit together; a fold deletes
-- deltas and adds them to rows atomically. (2) No zone: a UTC day is a
-- function of created_at alone, so nothing else ever moves a row (unlike
-- the calls' zones of 0012). (3) A business deleted takes its rows and its
-- pending deltas with it (analytics_order_business_deleted; the
-- cascade's delete of its orders appends none), under the fold lock: a
-- fold commits before, or starts after and finds none; org.purge deletes
-- orders, calls, then the businesses, so it needs none of these tables
-- in its list.
-- analytics.verify compares rows + pending deltas with the orders;
-- repair rebuilds (analytics_order_rebuild: orders − pending deltas in one
-- snapshot, the fold lock held from before it).
--
-- cents is numeric: a sum of bigints, exact whatever the volume (a fold
-- that overflowed a bigint would fail, and fail again, for ever).
--
-- Measured (2026-12-03, the busy 2-core machine, load average 6–16 from
-- the other helpers: figures noisy, before and after alternated).
-- The overview (bench/scale.sh, SCALE_SIZES="100000 1000000", one order
-- per 5 calls, 5 businesses, 4 statuses, 3 currencies; the server's time
-- p50, base 13870d1 → this): see the report of branch r7-orders for every
-- run; at 1M calls (200,000 orders a year) the year went 264–2,673 ms →
-- ~100 ms and 30 days 72 ms → ~17 ms. At 100k calls (20,000 orders) the
-- rollup does not pay: its rows for a year are ~12,400 (nearly one per
-- order) and are read one heap page each (the fold inserts them in no
-- order): about as fast as the raw orders (year 35–57 → 37–150 ms, the
-- 150 in the noisiest run). The rows of a year are at most
-- 365 × businesses × statuses × currencies (21,900 here) whatever the
-- number of orders: the next step, if the year must fall further, is
-- organization-wide rows (no business) beside these, or months.
-- A writer's cost (the backend's CPU from /proc, 20,000 of the API's
-- statements in a PL/pgSQL loop as the tenant role, triggers on and off
-- alternated 4 times each): INSERT … RETURNING 41–43 → 49–60 µs (+13);
-- the status transition's UPDATE 47.5–53 → 73–81.5 µs (+27; the
-- statement trigger with EXCEPT ALL tried first: 48.5–52 → 85.5–94).

CREATE TABLE analytics_order_days (
    organization_id uuid NOT NULL,
    day             date NOT NULL,
    business_id     uuid NOT NULL,
    status          text NOT NULL,
    currency        text NOT NULL,
    orders          bigint NOT NULL,
    cents           numeric NOT NULL,
    PRIMARY KEY (organization_id, day, business_id, status, currency)
);
-- No foreign key to businesses (0012's reason: a KEY SHARE lock on the
-- business row per row folded). For a business deleted:
CREATE INDEX analytics_order_days_business ON analytics_order_days (organization_id, business_id);

-- The changes of orders not folded yet: sign +1 or −1 times one order.
-- One index, for the overview's read of an organization's range.
CREATE TABLE analytics_order_deltas (
    organization_id uuid NOT NULL,
    business_id     uuid NOT NULL,
    created_at      timestamptz NOT NULL,
    status          text NOT NULL,
    currency        text NOT NULL,
    total_cents     bigint NOT NULL,
    sign            smallint NOT NULL
);
CREATE INDEX analytics_order_deltas_range ON analytics_order_deltas (organization_id, created_at);
ALTER TABLE analytics_order_deltas SET (autovacuum_vacuum_scale_factor = 0,
                                        autovacuum_vacuum_threshold = 10000,
                                        autovacuum_vacuum_insert_threshold = 10000);

ALTER TABLE analytics_order_days ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_order_days FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_order_days
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
ALTER TABLE analytics_order_deltas ENABLE ROW LEVEL SECURITY;
ALTER TABLE analytics_order_deltas FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON analytics_order_deltas
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');

-- The orders (source 'order', +1 each) and the pending deltas (source
-- 'delta', signed) aggregated per rollup key: one definition for the
-- backfill, the rebuild (orders − deltas) and analytics.verify (orders
-- against rows + deltas). The fold makes the same aggregation.
CREATE VIEW analytics_order_days_by_source WITH (security_invoker = true) AS
    SELECT organization_id, day, business_id, status, currency, source,
           sum (n)::bigint AS orders, sum (n * total_cents)::numeric AS cents
      FROM (SELECT organization_id, (created_at AT TIME ZONE 'UTC')::date AS day, business_id,
                   status, currency, total_cents, 1 AS n, 'order' AS source FROM orders
            UNION ALL
            SELECT organization_id, (created_at AT TIME ZONE 'UTC')::date, business_id,
                   status, currency, total_cents, sign::integer, 'delta'
              FROM analytics_order_deltas) o
     GROUP BY 1, 2, 3, 4, 5, 6;

-- The writers' side: one delta per order changed, nothing else. Inserts
-- and deletes by statement triggers (transition tables); an update by a
-- row trigger whose WHEN lets through only a row whose facts changed (the
-- API's status transitions, SQL by hand), −1 old and +1 new: nothing for
-- the ON DELETE SET NULL of call_id when a call is deleted, or a change of
-- items or updated_at alone. (A statement trigger appending old EXCEPT
-- ALL new and new EXCEPT ALL old did the same for 39 µs of an update's
-- CPU; this one costs 27: the header's end.)
CREATE FUNCTION analytics_orders_changed () RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO analytics_order_deltas
            SELECT organization_id, business_id, created_at, status, currency, total_cents, 1
              FROM new_rows;
    ELSE
        -- Not for the orders of a business deleted (the cascade): its
        -- deltas and rows go with it (analytics_order_business_deleted).
        INSERT INTO analytics_order_deltas
            SELECT organization_id, business_id, created_at, status, currency, total_cents, -1
              FROM old_rows o
             WHERE EXISTS (SELECT FROM businesses b
                            WHERE b.organization_id = o.organization_id AND b.id = o.business_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION analytics_order_updated () RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO analytics_order_deltas VALUES
        (OLD.organization_id, OLD.business_id, OLD.created_at, OLD.status, OLD.currency,
         OLD.total_cents, -1),
        (NEW.organization_id, NEW.business_id, NEW.created_at, NEW.status, NEW.currency,
         NEW.total_cents, 1);
    RETURN NULL;
END
$$;

CREATE TRIGGER analytics_orders_inserted AFTER INSERT ON orders
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_orders_changed ();
CREATE TRIGGER analytics_orders_deleted AFTER DELETE ON orders
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION analytics_orders_changed ();
CREATE TRIGGER analytics_orders_updated AFTER UPDATE ON orders
    FOR EACH ROW WHEN ((OLD.organization_id, OLD.business_id, OLD.created_at, OLD.status,
                        OLD.currency, OLD.total_cents)
                       IS DISTINCT FROM (NEW.organization_id, NEW.business_id, NEW.created_at,
                                         NEW.status, NEW.currency, NEW.total_cents))
    EXECUTE FUNCTION analytics_order_updated ();

-- Up to batch deltas (any, in physical order) deleted and returned; a
-- function for its ROWS estimate (0012's analytics_fold_take says why).
CREATE FUNCTION analytics_order_fold_take (batch integer) RETURNS SETOF analytics_order_deltas
    VOLATILE ROWS 20000 LANGUAGE sql SET search_path FROM CURRENT AS $$
    DELETE FROM analytics_order_deltas
     WHERE ctid = ANY (ARRAY (SELECT ctid FROM analytics_order_deltas LIMIT batch))
    RETURNING *
$$;

-- One fold of orders: up to batch deltas deleted and added to their rows,
-- rows left at zero deleted. Returns the number of deltas folded, or −1
-- when another fold (or a rebuild) holds the lock (re-entrant: the
-- folder calls it in the transaction of the calls' fold, which holds it
-- already). The caller sees every organization (switchboard.all_orgs).
CREATE FUNCTION analytics_order_fold (batch integer) RETURNS integer
    LANGUAGE plpgsql SET search_path FROM CURRENT SET work_mem = '64MB' AS $$
DECLARE
    folded integer;
    zeros analytics_order_days[];
BEGIN
    IF NOT pg_try_advisory_xact_lock (analytics_fold_key ()) THEN
        RETURN -1;
    END IF;
    WITH d AS MATERIALIZED (SELECT * FROM analytics_order_fold_take (batch)),
         up AS (INSERT INTO analytics_order_days AS a (organization_id, day, business_id, status,
                                                       currency, orders, cents)
                SELECT organization_id, (created_at AT TIME ZONE 'UTC')::date, business_id, status,
                       currency, sum (sign), sum (sign * total_cents)
                  FROM d GROUP BY 1, 2, 3, 4, 5
                ON CONFLICT (organization_id, day, business_id, status, currency) DO UPDATE
                   SET orders = a.orders + EXCLUDED.orders, cents = a.cents + EXCLUDED.cents
                RETURNING a.*)
    SELECT (SELECT count (*) FROM d),
           (SELECT array_agg (up::analytics_order_days) FROM up WHERE orders = 0 AND cents = 0)
      INTO folded, zeros;
    IF zeros IS NOT NULL THEN
        DELETE FROM analytics_order_days a USING unnest (zeros) z
         WHERE (a.organization_id, a.day, a.business_id, a.status, a.currency)
             = (z.organization_id, z.day, z.business_id, z.status, z.currency)
           AND a.orders = 0 AND a.cents = 0;
    END IF;
    RETURN folded;
END
$$;

-- The rows of an organization (or of one business) again: the orders
-- minus the deltas not folded yet, in one snapshot, the fold lock held
-- (taken before that snapshot, kept to the commit). Returns the number of
-- rows written.
CREATE FUNCTION analytics_order_rebuild (org uuid, business uuid) RETURNS bigint
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    written bigint;
BEGIN
    PERFORM pg_advisory_xact_lock (analytics_fold_key ());
    DELETE FROM analytics_order_days
     WHERE organization_id = org AND (business IS NULL OR business_id = business);
    WITH ins AS (
        INSERT INTO analytics_order_days
        SELECT organization_id, day, business_id, status, currency,
               sum (CASE source WHEN 'order' THEN orders ELSE -orders END),
               sum (CASE source WHEN 'order' THEN cents ELSE -cents END)
          FROM analytics_order_days_by_source
         WHERE organization_id = org AND (business IS NULL OR business_id = business)
         GROUP BY 1, 2, 3, 4, 5
        HAVING sum (CASE source WHEN 'order' THEN orders ELSE -orders END) <> 0
            OR sum (CASE source WHEN 'order' THEN cents ELSE -cents END) <> 0
        RETURNING 1)
    SELECT count (*) INTO written FROM ins;
    RETURN written;
END
$$;

-- A business deleted: its rows and its pending deltas go, under the fold
-- lock so that no fold holds them meanwhile. The cascade's delete of its
-- orders appends no delta (analytics_orders_changed looks for the
-- business): the orders' statement trigger of a cascade fires after the
-- businesses' row triggers (the referential action's own AFTER triggers
-- are queued behind them), so −1 deltas it appended would come after this
-- deletion and outlive the business.
CREATE FUNCTION analytics_order_business_deleted () RETURNS trigger
    LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM pg_advisory_xact_lock (analytics_fold_key ());
    DELETE FROM analytics_order_deltas
     WHERE organization_id = OLD.organization_id AND business_id = OLD.id;
    DELETE FROM analytics_order_days
     WHERE organization_id = OLD.organization_id AND business_id = OLD.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER analytics_order_business_deleted AFTER DELETE ON businesses
    FOR EACH ROW EXECUTE FUNCTION analytics_order_business_deleted ();

-- The backfill, as the tables' owner with the policies not forced on it
-- for this transaction only.
ALTER TABLE orders NO FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics_order_days NO FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics_order_deltas NO FORCE ROW LEVEL SECURITY;
INSERT INTO analytics_order_days
    SELECT organization_id, day, business_id, status, currency, orders, cents
      FROM analytics_order_days_by_source WHERE source = 'order';
ALTER TABLE orders FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics_order_days FORCE ROW LEVEL SECURITY;
ALTER TABLE analytics_order_deltas FORCE ROW LEVEL SECURITY;
