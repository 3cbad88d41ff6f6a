-- usage-svc migration 0007: one B-tree on events, not two (issue 16,
-- "ingestion at twice the peers").
--
-- The index (organization_id, metric, occurred_at) served only GET
-- /v1/usage (usage.series), which now reads the hourly sums of migration
-- 0008 and, for the partial hours at a range's edges, the raw events
-- through a BRIN index on occurred_at. A BRIN entry covers a range of 32
-- heap pages and changes only when VACUUM summarizes a full range, not per
-- row; measured with perf, both BRIN indexes below cost some 2 % of
-- PostgreSQL's time on POST /v1/usage/events, the B-tree 30 % of the
-- statement's backend CPU (100-row batches of a client's ordered ids, 1M
-- rows in the table: 2.1-2.25 ms a statement with it, 1.35-1.43 ms
-- without; 483 against 358 WAL bytes a row).
--
-- Measured and not taken: a 16-byte key (the first 16 bytes of SHA-256
-- over the organization and the client's id, a uuid column) instead of the
-- text event_id in the primary key. With random client ids (UUIDs) it is
-- as cheap as the text key; with ordered ids (a client's counter, the
-- benchmark's) it is 25-40 % dearer: the hash scatters the inserts over
-- the whole index where ordered text keys append at the right edge of
-- each organization's part of the B-tree (fewer pages touched, fewer
-- splits). On the full benchmark PostgreSQL spent 15.4 CPU-us an event
-- with it against 14.2 without.
--
-- autosummarize is left off: at thousands of rows a second its requests
-- overflow autovacuum's work-item queue (each overflow a log line).
-- Ranges not yet summarized are read by every BRIN scan, so autovacuum
-- visits the table after every 100,000 inserted rows (not after 20 % of
-- the table, the default): the unsummarized tail stays about a minute of
-- events (autovacuum's naptime). received_at's index serves the retention
-- sweep (usage_retention.c). The organization's purge (org.purge) reads
-- the primary key's leading column.
DROP INDEX events_metric_time;
CREATE INDEX events_occurred_brin ON events USING brin (occurred_at)
    WITH (pages_per_range = 32);
CREATE INDEX events_received_brin ON events USING brin (received_at)
    WITH (pages_per_range = 32);
ALTER TABLE events SET (autovacuum_vacuum_insert_threshold = 100000,
                        autovacuum_vacuum_insert_scale_factor = 0);
