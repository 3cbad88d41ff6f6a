-- tenant-svc migration 0008: an index for each filter of the lists.
--
-- A list page reads the newest rows of one organization that pass its
-- filters (business_id, status, from, to, a cursor) in (time DESC, id DESC)
-- order and stops after limit + 1 rows. It reads only about a page when an
-- index holds the rows it wants in that order: one led by organization_id
-- and the columns compared with "=", then the time and the id. The lists
-- already have (organization_id, time, id) and (organization_id,
-- business_id, time, id); these add status and business + status, so that
-- a rare status (or one absent) costs a page, not a walk through every row
-- of the organization. `from`, `to` and the cursor are ranges on the time:
-- every one of these indexes serves them. (tests/t2011 checks the plans.)
-- Orders' status changes: with status indexed, such an update is no longer
-- a HOT update. A list filtered by status is worth that.

CREATE INDEX calls_status ON calls (organization_id, status, started_at DESC, id DESC);
CREATE INDEX calls_business_status
    ON calls (organization_id, business_id, status, started_at DESC, id DESC);
CREATE INDEX orders_status ON orders (organization_id, status, created_at DESC, id DESC);
CREATE INDEX orders_business_status
    ON orders (organization_id, business_id, status, created_at DESC, id DESC);
