-- usage-svc migration 0002: usage events.
--
-- One row per event, unique per organization and the producer's event id,
-- so a redelivered event (a relay retrying after a lost acknowledgement)
-- counts once, ever.

CREATE TABLE events (
    organization_id uuid NOT NULL,
    event_id        text NOT NULL CHECK (length (event_id) BETWEEN 1 AND 128),
    metric          text NOT NULL CHECK (metric ~ '^[a-z][a-z0-9_]{0,62}$'),
    quantity        bigint NOT NULL CHECK (quantity >= 0),
    occurred_at     timestamptz NOT NULL,
    business_id     uuid,
    received_at     timestamptz NOT NULL DEFAULT now (),
    PRIMARY KEY (organization_id, event_id)
);
CREATE INDEX events_metric_time ON events (organization_id, metric, occurred_at);
