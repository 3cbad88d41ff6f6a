-- tenant-svc migration 0006: a deleted organization's usage outbox rows are
-- found by organization.
--
-- org.purge (tenant_org.c) deletes an organization's rows in batches, each
-- a range of an index led by organization_id. usage_outbox had none (its
-- rows are found by id by the relay), so every batch would have read the
-- whole outbox, delivered rows included.
CREATE INDEX usage_outbox_organization ON usage_outbox (organization_id);
