-- tenant-svc migration 0005: the monthly call quota counts an
-- organization's calls by when they were stored.
CREATE INDEX calls_created ON calls (organization_id, created_at);
