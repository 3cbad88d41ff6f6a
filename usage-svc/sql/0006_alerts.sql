-- usage-svc migration 0006: usage alerts (issue 14).
--
-- alert_settings holds an organization's thresholds, in percent of each of
-- its limited monthly quotas; an organization without a row has the
-- default {80, 100}. alerts_sent records each threshold reached, once per
-- organization, metric, period and threshold: its primary key is the
-- exactly-once guard. The statement that moves the counters
-- (usage_store_stmt) inserts here ON CONFLICT DO NOTHING in the same
-- transaction, so of several usage workers reaching a threshold at once
-- exactly one inserts (the others wait on the key, then do nothing), and
-- a restart loses or repeats nothing.
--
-- alert_outbox carries each new alert to its two receivers, one row per
-- channel ('mail': auth-svc's mail.admins; 'webhook': tenant-svc's
-- webhooks.enqueue), each acknowledged on its own (sb_outbox_step), so a
-- mail once handed over is never handed over again while the webhook is
-- still being retried. The relay's rows span organizations and are not
-- tenant data read by any request: no row-level security there.

CREATE TABLE alert_settings (
    organization_id uuid PRIMARY KEY,
    thresholds      int[] NOT NULL
                    CHECK (cardinality (thresholds) BETWEEN 0 AND 5
                           AND 1 <= ALL (thresholds) AND 100 >= ALL (thresholds)),
    updated_at      timestamptz NOT NULL DEFAULT now ()
);

CREATE TABLE alerts_sent (
    organization_id uuid NOT NULL,
    metric          text NOT NULL,
    period_start    date NOT NULL,
    threshold       int NOT NULL CHECK (threshold BETWEEN 1 AND 100),
    id              uuid NOT NULL DEFAULT gen_random_uuid (),
    used            bigint NOT NULL,
    quota           bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now (),
    PRIMARY KEY (organization_id, metric, period_start, threshold)
);

CREATE TABLE alert_outbox (
    alert_id        uuid NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('mail', 'webhook')),
    organization_id uuid NOT NULL,
    metric          text NOT NULL,
    period_start    date NOT NULL,
    threshold       int NOT NULL,
    used            bigint NOT NULL,
    quota           bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now (),
    acknowledged_at timestamptz,
    next_attempt_at timestamptz NOT NULL DEFAULT now (),
    attempts        int NOT NULL DEFAULT 0,
    failures        int NOT NULL DEFAULT 0,
    last_error      text,
    PRIMARY KEY (alert_id, channel)
);
CREATE INDEX alert_outbox_due ON alert_outbox (next_attempt_at)
    WHERE acknowledged_at IS NULL;
CREATE INDEX alert_outbox_org ON alert_outbox (organization_id);

ALTER TABLE alert_settings ENABLE ROW LEVEL SECURITY;
ALTER TABLE alert_settings FORCE ROW LEVEL SECURITY;
ALTER TABLE alerts_sent ENABLE ROW LEVEL SECURITY;
ALTER TABLE alerts_sent FORCE ROW LEVEL SECURITY;

CREATE POLICY usage_isolation ON alert_settings
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
CREATE POLICY usage_isolation ON alerts_sent
    USING (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
           OR current_setting ('switchboard.all_orgs', true) = 'on')
    WITH CHECK (organization_id = NULLIF (current_setting ('switchboard.org', true), '')::uuid
                OR current_setting ('switchboard.all_orgs', true) = 'on');
