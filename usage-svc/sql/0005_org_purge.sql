-- usage-svc migration 0005: deleted organizations stay deleted.
--
-- org.purge (usage_org.c) records the organization here before it deletes
-- its rows, and the statement that stores events (usage_store) drops the
-- events of an organization listed here: usage still in flight when the
-- organization was deleted (the gateway's api_requests counts, held while
-- usage-svc was down and sent for up to five minutes; a tenant-svc outbox
-- batch sent just before tenant-svc purged it) would otherwise bring rows
-- of the deleted organization back after the purge. One row per deleted
-- organization, ever: small, and not tenant data (no row-level security).
CREATE TABLE purged_organizations (
    organization_id uuid PRIMARY KEY,
    purged_at       timestamptz NOT NULL DEFAULT now ()
);
