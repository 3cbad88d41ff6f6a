-- auth-svc migration 0009: an organization suspended by an operator.
--
-- `switchboardctl orgs suspend ORG --reason TEXT` (op sys.orgs.suspend,
-- auth_operator.c) sets suspended_at and suspension_reason; `orgs resume`
-- clears both. While suspended_at is set the gateways answer the
-- organization's requests 403 organization_suspended (they learn it from
-- the org.suspended / org.resumed events and, durably, from orgs.suspended,
-- which reads the partial index below), auth.login and auth.refresh refuse
-- its users, and nothing of its data is touched. Both columns are set or
-- cleared together.
ALTER TABLE organizations
    ADD COLUMN suspended_at timestamptz,
    ADD COLUMN suspension_reason text
        CHECK (suspension_reason IS NULL OR length (suspension_reason) BETWEEN 1 AND 500),
    ADD CONSTRAINT organizations_suspension_whole
        CHECK ((suspended_at IS NULL) = (suspension_reason IS NULL));
CREATE INDEX organizations_suspended ON organizations (id) WHERE suspended_at IS NOT NULL;
-- The operators' list walks organizations newest first.
CREATE INDEX organizations_created ON organizations (created_at DESC, id DESC);
