-- tenant-svc migration 0002: the tenants' data.
--
-- organization_id leads every primary key and index, so that every lookup
-- is a range of one tenant (and the tables can be distributed by tenant).
-- Row-level security is the second wall behind the WHERE clauses: each
-- transaction of the service sets switchboard.org, and the policies let a
-- statement see and write only that organization's rows. FORCE applies the
-- policies to the tables' owner too; the service's role owns nothing.

CREATE TABLE businesses (
    organization_id uuid NOT NULL,
    id              uuid NOT NULL,
    name            text NOT NULL CHECK (length (name) BETWEEN 1 AND 200),
    phone_number    text NOT NULL CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
    timezone        text NOT NULL,
    greeting        text CHECK (length (greeting) <= 2000),
    hours           jsonb,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp (),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp (),
    PRIMARY KEY (organization_id, id)
);
CREATE INDEX businesses_recent ON businesses (organization_id, created_at DESC, id DESC);

CREATE TABLE calls (
    organization_id  uuid NOT NULL,
    id               uuid NOT NULL,
    business_id      uuid NOT NULL,
    caller_number    text NOT NULL,
    started_at       timestamptz NOT NULL,
    duration_seconds integer NOT NULL CHECK (duration_seconds BETWEEN 0 AND 86400),
    status           text NOT NULL CHECK (status IN ('completed', 'missed', 'voicemail', 'transferred')),
    transcript       text,
    summary          text,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp (),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, business_id) REFERENCES businesses (organization_id, id)
        ON DELETE CASCADE
);
CREATE INDEX calls_recent ON calls (organization_id, started_at DESC, id DESC);
CREATE INDEX calls_business ON calls (organization_id, business_id, started_at DESC, id DESC);

CREATE TABLE orders (
    organization_id uuid NOT NULL,
    id              uuid NOT NULL,
    business_id     uuid NOT NULL,
    call_id         uuid,
    customer_name   text NOT NULL CHECK (length (customer_name) BETWEEN 1 AND 200),
    customer_phone  text,
    items           jsonb NOT NULL,
    total_cents     bigint NOT NULL CHECK (total_cents >= 0),
    currency        text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'confirmed', 'fulfilled', 'cancelled')),
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp (),
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp (),
    PRIMARY KEY (organization_id, id),
    FOREIGN KEY (organization_id, business_id) REFERENCES businesses (organization_id, id)
        ON DELETE CASCADE,
    FOREIGN KEY (organization_id, call_id) REFERENCES calls (organization_id, id)
        ON DELETE SET NULL (call_id)
);
CREATE INDEX orders_recent ON orders (organization_id, created_at DESC, id DESC);
CREATE INDEX orders_business ON orders (organization_id, business_id, created_at DESC, id DESC);

-- Usage produced by storing calls, delivered to usage-svc by the relay and
-- marked delivered only once acknowledged. Internal plumbing, not tenant
-- data served to anyone: the relay reads all organizations' rows, so this
-- table has no row-level security.
CREATE TABLE usage_outbox (
    id              bigserial PRIMARY KEY,
    organization_id uuid NOT NULL,
    event_id        uuid NOT NULL UNIQUE,
    metric          text NOT NULL,
    quantity        bigint NOT NULL,
    occurred_at     timestamptz NOT NULL,
    business_id     uuid,
    created_at      timestamptz NOT NULL DEFAULT now (),
    attempts        integer NOT NULL DEFAULT 0,
    delivered_at    timestamptz
);
CREATE INDEX usage_outbox_pending ON usage_outbox (id) WHERE delivered_at IS NULL;

ALTER TABLE businesses ENABLE ROW LEVEL SECURITY;
ALTER TABLE businesses FORCE ROW LEVEL SECURITY;
ALTER TABLE calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE calls FORCE ROW LEVEL SECURITY;
ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
ALTER TABLE orders FORCE ROW LEVEL SECURITY;

-- No organization set: no rows (NULLIF turns an unset setting into NULL).
CREATE POLICY tenant_isolation ON businesses
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid);
CREATE POLICY tenant_isolation ON calls
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid);
CREATE POLICY tenant_isolation ON orders
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid);
