-- auth-svc migration 0006: referrals owed to billing-svc.
--
-- A signup with a known referral code (auth_org.c) writes one row here in
-- its own transaction: the referral's id, both organizations, and the
-- mail domains of the referrer's first admin and of the new user (billing
-- decides from them whether it is a self-referral). The referral relay
-- (auth_referrals.c) calls `billing referrals.record` until billing
-- answers 2xx, then sets acknowledged_at; while billing is down or failing
-- it retries, backing off per row (1 s doubling to 30 s). The referred
-- organization is unique: an organization is referred at most once.
-- Either organization's deletion deletes its rows (a referral not yet
-- delivered is then never delivered; a delivered one is billing's record
-- now, purged there with the organization).
CREATE TABLE referral_outbox (
    id                       uuid PRIMARY KEY,
    referrer_organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    referred_organization_id uuid NOT NULL UNIQUE
                             REFERENCES organizations (id) ON DELETE CASCADE,
    referrer_domain          text NOT NULL,
    referred_domain          text NOT NULL,
    created_at               timestamptz NOT NULL DEFAULT now (),
    acknowledged_at          timestamptz,
    attempts                 integer NOT NULL DEFAULT 0,
    failures                 integer NOT NULL DEFAULT 0,
    next_attempt_at          timestamptz NOT NULL DEFAULT now (),
    last_error               text
);
CREATE INDEX referral_outbox_referrer ON referral_outbox (referrer_organization_id);
CREATE INDEX referral_outbox_pending ON referral_outbox (next_attempt_at)
    WHERE acknowledged_at IS NULL;
