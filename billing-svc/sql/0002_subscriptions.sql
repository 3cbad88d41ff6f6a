-- billing-svc migration 0002: each organization's subscription, and the
-- version every change of an entitlement takes.
--
-- An organization without a row is on free, active (billing-svc has never
-- heard of it: it signed up and never paid). A row is written by what
-- changes the subscription: a Stripe webhook, the dunning sweep, an
-- operator's assignment, the admin's spending cap. Each such write takes
-- the next number of versions.entitlements in the same transaction (the
-- row lock on that counter serializes those writers, so versions commit in
-- the order they are numbered) and stores it in the row's version: the
-- other processes' caches ask "what changed since version V" and, with
-- versions committed in order, never miss one (sb/entitlements.h).
--
-- stripe_state_at is the `created` time of the newest Stripe event whose
-- subscription state was applied: an older event arriving late does not
-- undo a newer one (Stripe does not guarantee delivery order).

CREATE TABLE versions (
    name    text PRIMARY KEY,
    version bigint NOT NULL
);
INSERT INTO versions (name, version) VALUES ('entitlements', 0);

CREATE TABLE subscriptions (
    organization_id        uuid PRIMARY KEY,
    plan                   text NOT NULL,
    status                 text NOT NULL
                           CHECK (status IN ('trialing', 'active', 'past_due', 'canceled')),
    current_period_start   timestamptz,
    current_period_end     timestamptz,
    cancel_at_period_end   boolean NOT NULL DEFAULT false,
    trial_end              timestamptz,
    stripe_customer_id     text,
    stripe_subscription_id text,
    stripe_status          text,
    stripe_state_at        bigint NOT NULL DEFAULT 0,
    past_due_since         timestamptz,
    spending_cap_cents     bigint CHECK (spending_cap_cents >= 0),
    version                bigint NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now (),
    updated_at             timestamptz NOT NULL DEFAULT now ()
);
CREATE UNIQUE INDEX subscriptions_customer ON subscriptions (stripe_customer_id)
    WHERE stripe_customer_id IS NOT NULL;
CREATE INDEX subscriptions_version ON subscriptions (version);
CREATE INDEX subscriptions_past_due ON subscriptions (past_due_since)
    WHERE status = 'past_due';

-- Row-level security as in the other schemas: a transaction sees the
-- organization set in switchboard.org, or every organization when it says
-- switchboard.all_orgs = on (the caches' catch-up, the webhooks, the sweep).
ALTER TABLE subscriptions ENABLE ROW LEVEL SECURITY;
ALTER TABLE subscriptions FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_isolation ON subscriptions
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
