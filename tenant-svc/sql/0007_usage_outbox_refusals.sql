-- tenant-svc migration 0007: usage outbox rows that usage-svc refused.
--
-- usage.record answers per event: a row it refuses (its counter would pass
-- usage-svc's cap, or the row itself is not right) will be refused again
-- however often it is sent, so the relay records the refusal instead of
-- retrying: refused_at and refusal ("code: message", usage-svc's reason).
-- Such a row is never delivered and never sent again; the rows after it go
-- on. A pending row is one neither delivered nor refused, which the
-- relay's index now says.
ALTER TABLE usage_outbox
    ADD COLUMN refused_at timestamptz,
    ADD COLUMN refusal    text;

DROP INDEX usage_outbox_pending;
CREATE INDEX usage_outbox_pending ON usage_outbox (id)
    WHERE delivered_at IS NULL AND refused_at IS NULL;
