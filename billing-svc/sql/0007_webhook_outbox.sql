-- billing-svc migration 0007: webhook_outbox, the subscription.updated
-- events bound for the organization's webhooks (tenant-svc's
-- webhooks.enqueue; billing_outbox.c relays them).
--
-- billing_sub_write, the one code path that writes a subscription, adds a
-- row here in the same statement when the saved version differs from the
-- row before in plan, status, current_period_end or cancel_at_period_end
-- (an organization without a row counts as free, active). One row per
-- saved version: the version is the event's stable id
-- ("subscription:<org>:<version>"), and the row keeps the state of that
-- version, so a retried delivery sends the same event. Acknowledged rows
-- stay as the record until the organization is purged (billing_org.c).
-- The relay reads across organizations: no row-level security.

CREATE TABLE webhook_outbox (
    organization_id      uuid NOT NULL,
    version              bigint NOT NULL,
    plan                 text NOT NULL,
    status               text NOT NULL,
    current_period_end   timestamptz,
    cancel_at_period_end boolean NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now (),
    acknowledged_at      timestamptz,
    next_attempt_at      timestamptz NOT NULL DEFAULT now (),
    attempts             int NOT NULL DEFAULT 0,
    failures             int NOT NULL DEFAULT 0,
    last_error           text,
    PRIMARY KEY (organization_id, version)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at)
    WHERE acknowledged_at IS NULL;
