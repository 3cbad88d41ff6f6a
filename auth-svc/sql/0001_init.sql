-- auth-svc migration 0001: the schema's first table, so that a fresh
-- database has something to migrate before the service's real tables
-- arrive. Runs inside one transaction with search_path set to the
-- service's schema, so names are unqualified.

CREATE TABLE service_info (
    key   text PRIMARY KEY,
    value text NOT NULL
);

INSERT INTO service_info (key, value) VALUES ('schema_created_at', now()::text);
