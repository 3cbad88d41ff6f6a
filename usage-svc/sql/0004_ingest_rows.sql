-- usage-svc migration 0004: cheaper rows on the ingestion path.
--
-- Measured with perf on POST /v1/usage/events (100 events a request):
--
-- - events.metric carried CHECK (metric ~ '^[a-z][a-z0-9_]{0,62}$'). The
--   service checks every metric name before it builds an insert
--   (usage_metric_valid), and it is the only writer; evaluating the regular
--   expression for each row cost 13 % of PostgreSQL's time. counters keeps
--   the check: it sees one row per organization, metric and month.
-- - Event ids and metric names are identifiers, compared for equality and
--   kept in key order, never sorted for people: collation "C" compares them
--   with memcmp instead of the database locale's strcoll, in the primary
--   key and the (organization, metric, time) index that every insert
--   descends (_bt_compare was 15 % of the time).
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_metric_check;
ALTER TABLE events
    ALTER COLUMN event_id TYPE text COLLATE "C",
    ALTER COLUMN metric TYPE text COLLATE "C";
ALTER TABLE counters ALTER COLUMN metric TYPE text COLLATE "C";
ALTER TABLE reservations ALTER COLUMN metric TYPE text COLLATE "C";
