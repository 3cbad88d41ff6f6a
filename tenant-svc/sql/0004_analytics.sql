-- tenant-svc migration 0004: what the analytics overview reads.
--
-- The overview aggregates every call of an organization in a time range
-- (up to 366 days: 100,000 calls and more). This index holds each call's
-- started_at with the columns the overview needs, so that the range is an
-- index-only scan: no heap page is read, and no other organization's row.
-- Calls are never updated, so the included columns cost no HOT updates.
-- Orders are not covered the same way: their status changes, and a status
-- in an index would make every such update a non-HOT one (the overview
-- reads orders_recent and the heap instead; orders are fewer than calls).

CREATE INDEX calls_analytics ON calls (organization_id, started_at)
    INCLUDE (business_id, duration_seconds, status);
