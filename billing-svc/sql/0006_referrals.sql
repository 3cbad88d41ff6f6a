-- billing-svc migration 0006: the referral program's record and its credit
-- ledger (billing_referrals.c).
--
-- referrals: one row per referred organization (its organization_id is the
-- primary key: no organization is referred, nor credited, twice), written
-- by referrals.record when auth-svc's relay reports a signup with a
-- referral code. id is the referral's id chosen by auth-svc (a repeated
-- delivery finds it). status: pending (waiting for the referred
-- organization's first payment), credited (it paid: its credits may be
-- applied), refused (reason says why: self_referral, same_customer; no
-- credit was given, or the given ones were canceled).
--
-- credits: the ledger of each organization's credits. A referral gives one
-- to each side (kind 'referral', source_id the referral), pending until
-- applied to the organization's Stripe customer balance; stripe_balance_
-- transaction_id is what Stripe answered; the Idempotency-Key of that
-- call is the credit's id, so a repeated call never credits twice.
-- canceled: a referral refused after its credits were written (the two
-- organizations turned out to share a Stripe customer). attempts,
-- failures, next_attempt_at and last_error are the applying relay's: a
-- lease while a call is in flight, then a backoff after a failure.
CREATE TABLE referrals (
    organization_id          uuid PRIMARY KEY,                 -- the referred organization
    id                       uuid NOT NULL UNIQUE,
    referrer_organization_id uuid NOT NULL,
    status                   text NOT NULL CHECK (status IN ('pending', 'credited', 'refused')),
    reason                   text CHECK (reason IN ('self_referral', 'same_customer')),
    referrer_domain          text NOT NULL,
    referred_domain          text NOT NULL,
    created_at               timestamptz NOT NULL DEFAULT now (),
    decided_at               timestamptz,
    CHECK ((status = 'refused') = (reason IS NOT NULL))
);
CREATE INDEX referrals_referrer ON referrals (referrer_organization_id);

CREATE TABLE credits (
    organization_id               uuid NOT NULL,
    id                            uuid PRIMARY KEY,
    kind                          text NOT NULL CHECK (kind IN ('referral')),
    amount_cents                  bigint NOT NULL CHECK (amount_cents > 0),
    currency                      text NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
    source_id                     uuid NOT NULL,
    status                        text NOT NULL
                                  CHECK (status IN ('pending', 'applied', 'canceled')),
    stripe_balance_transaction_id text,
    created_at                    timestamptz NOT NULL DEFAULT now (),
    applied_at                    timestamptz,
    attempts                      integer NOT NULL DEFAULT 0,
    failures                      integer NOT NULL DEFAULT 0,
    next_attempt_at               timestamptz NOT NULL DEFAULT now (),
    last_error                    text,
    UNIQUE (kind, source_id, organization_id),
    CHECK ((status = 'applied') = (stripe_balance_transaction_id IS NOT NULL))
);
CREATE INDEX credits_organization ON credits (organization_id, created_at);
CREATE INDEX credits_pending ON credits (next_attempt_at) WHERE status = 'pending';

-- Row-level security as on subscriptions: a referral is its referred
-- organization's row; the operations that span both sides (recording,
-- payment, the relay) say switchboard.all_orgs = on.
ALTER TABLE referrals ENABLE ROW LEVEL SECURITY;
ALTER TABLE referrals FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_isolation ON referrals
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
ALTER TABLE credits ENABLE ROW LEVEL SECURITY;
ALTER TABLE credits FORCE ROW LEVEL SECURITY;
CREATE POLICY billing_isolation ON credits
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
