-- Skeleton migration 9001, applied to every service's schema after the
-- service's own migrations (versions 9000 and up belong to the skeleton,
-- common/sql/; a service's own stay below): the answers of requests made
-- with an Idempotency-Key (common/src/service.c, "Idempotency").
--
-- One row per organization and key. The key itself is not stored, only a
-- hash of it (key_hash), and the answer (body: the msgpack of the reply's
-- body, which may hold a secret shown once, such as a new API key) is
-- encrypted with a key derived from the Idempotency-Key: the table alone
-- gives neither away. fingerprint is the hash of the operation and its
-- arguments. Rows older than 24 hours are ignored and deleted a few at a
-- time as the organization stores new ones.

CREATE TABLE idempotency_keys (
    organization_id uuid NOT NULL,
    key_hash        text NOT NULL CHECK (length (key_hash) = 64),
    fingerprint     text NOT NULL,
    status          integer NOT NULL CHECK (status BETWEEN 200 AND 299),
    body            bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now (),
    PRIMARY KEY (organization_id, key_hash)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (organization_id, created_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
-- No organization set: no rows (NULLIF turns an unset setting into NULL).
CREATE POLICY tenant_isolation ON idempotency_keys
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid);
