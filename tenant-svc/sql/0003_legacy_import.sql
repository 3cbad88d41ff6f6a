-- tenant-svc migration 0003: the bookkeeping of `tenant-svc import-legacy`,
-- which moves a database of the single-tenant product into one
-- organization (see tenant-svc/src/tenant_import.c).
--
-- legacy_id_map is what makes the import idempotent and resumable: a legacy
-- row is imported in the same transaction as its mapping row, so a row is
-- either imported and mapped or neither, and a later run skips what is
-- mapped. legacy_import_rejects is the report, row by row: the rows that
-- were not imported (kind 'reject') and the rows imported with something
-- left out (kind 'warning'), each with the reason and the legacy row as it
-- was. legacy_import_runs records each run: its source, when, how far it
-- got and the counts.
--
-- Tenant data like the rest: organization_id leads every key and index,
-- and row-level security lets a transaction see its organization only.

CREATE TABLE legacy_import_runs (
    organization_id    uuid NOT NULL,
    id                 bigserial NOT NULL,
    source_fingerprint text NOT NULL,
    source_timezone    text,
    started_at         timestamptz NOT NULL DEFAULT clock_timestamp (),
    finished_at        timestamptz,
    counts             jsonb NOT NULL DEFAULT '{}',
    status             text NOT NULL DEFAULT 'running'
                       CHECK (status IN ('running', 'completed', 'partial', 'interrupted',
                                         'failed')),
    PRIMARY KEY (organization_id, id)
);

CREATE TABLE legacy_id_map (
    organization_id uuid NOT NULL,
    legacy_table    text NOT NULL CHECK (legacy_table IN ('businesses', 'calls', 'orders')),
    legacy_id       bigint NOT NULL,
    new_id          uuid NOT NULL,
    run_id          bigint NOT NULL,
    imported_at     timestamptz NOT NULL DEFAULT clock_timestamp (),
    PRIMARY KEY (organization_id, legacy_table, legacy_id),
    FOREIGN KEY (organization_id, run_id) REFERENCES legacy_import_runs (organization_id, id)
);
CREATE INDEX legacy_id_map_run ON legacy_id_map (organization_id, run_id);

CREATE TABLE legacy_import_rejects (
    organization_id uuid NOT NULL,
    run_id          bigint NOT NULL,
    legacy_table    text NOT NULL CHECK (legacy_table IN ('businesses', 'calls', 'orders')),
    legacy_id       bigint NOT NULL,
    kind            text NOT NULL DEFAULT 'reject' CHECK (kind IN ('reject', 'warning')),
    reason          text NOT NULL,
    row             jsonb,
    PRIMARY KEY (organization_id, run_id, legacy_table, legacy_id, kind),
    FOREIGN KEY (organization_id, run_id) REFERENCES legacy_import_runs (organization_id, id)
        ON DELETE CASCADE
);
CREATE INDEX legacy_import_rejects_row
    ON legacy_import_rejects (organization_id, legacy_table, legacy_id);

ALTER TABLE legacy_import_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE legacy_import_runs FORCE ROW LEVEL SECURITY;
ALTER TABLE legacy_id_map ENABLE ROW LEVEL SECURITY;
ALTER TABLE legacy_id_map FORCE ROW LEVEL SECURITY;
ALTER TABLE legacy_import_rejects ENABLE ROW LEVEL SECURITY;
ALTER TABLE legacy_import_rejects FORCE ROW LEVEL SECURITY;

-- No organization set: no rows (NULLIF turns an unset setting into NULL).
CREATE POLICY tenant_isolation ON legacy_import_runs
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid);
CREATE POLICY tenant_isolation ON legacy_id_map
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid);
CREATE POLICY tenant_isolation ON legacy_import_rejects
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid);
