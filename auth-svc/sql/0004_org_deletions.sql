-- auth-svc migration 0004: an organization's deletion, owed to every
-- service that holds its data.
--
-- Deleting an organization (auth_org.c) writes one row here per
-- data-owning service (tenant, usage, billing) in the same transaction that
-- deletes the organization, so the deletion is as durable as the
-- organization's absence. The deletion relay (auth_deletions.c) calls
-- `<service> org.purge {organization_id}` over the bus until the service
-- answers 2xx with done, then sets acknowledged_at; while the service is
-- down or failing it retries, backing off per row (failures in a row,
-- next_attempt_at: 1 s doubling to 30 s). attempts counts every call made,
-- last_error keeps the last failure for operators. Acknowledged rows are
-- kept as the record that the organization's data is gone everywhere.
-- Internal bookkeeping, not an organization's data: no row-level security,
-- and no foreign key (the organization is gone).
CREATE TABLE org_deletions (
    organization_id uuid NOT NULL,
    service         text NOT NULL CHECK (service ~ '^[a-z][a-z0-9_-]{0,31}$'),
    requested_at    timestamptz NOT NULL DEFAULT now (),
    acknowledged_at timestamptz,
    attempts        integer NOT NULL DEFAULT 0,
    failures        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now (),
    last_error      text,
    PRIMARY KEY (organization_id, service)
);
CREATE INDEX org_deletions_pending ON org_deletions (next_attempt_at)
    WHERE acknowledged_at IS NULL;
