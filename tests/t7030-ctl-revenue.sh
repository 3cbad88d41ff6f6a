#!/usr/bin/env bash
# switchboardctl revenue: the issue's seed "100 free, 50 starter, 20 pro, 5
# enterprise" gives 50 x 29 + 20 x 99 + 5 x 500 = 5,930.00 USD of MRR, as a
# table and as JSON; then a few changes made with `switchboardctl plan set`
# (a downgrade to free, a cancellation, a payment gone past due, two plans
# given by hand) show up as churned, new, past due and comped, with the
# MRR they move. The seed is written as the services' own write paths would
# have, 60 days ago: 175 organizations in auth-svc; a subscription row and
# its record in webhook_outbox in billing-svc for the 75 that upgraded
# only — the 100 free ones never had a row, and revenue counts them from
# auth-svc's organizations.
. "$(dirname "$0")/lib/suite.sh"
suite_init
suite_up

ctl () { "$SB_BIN/switchboardctl" "$@"; }

suite_psql <<'SQL'
INSERT INTO auth.organizations (id, name, subdomain, referral_code, created_at)
SELECT ('00000000-0000-4000-8000-' || lpad (n::text, 12, '0'))::uuid, 'Seed ' || n,
       'seed-' || n, 'SEEDREF' || n, now () - interval '60 days'
FROM generate_series (1, 175) AS n;
INSERT INTO billing.subscriptions (organization_id, plan, status, stripe_customer_id,
                                   stripe_subscription_id, version, created_at)
SELECT ('00000000-0000-4000-8000-' || lpad (n::text, 12, '0'))::uuid, p.plan, 'active',
       CASE WHEN p.plan <> 'free' THEN 'cus_' || n END,
       CASE WHEN p.plan <> 'free' THEN 'sub_' || n END, 1, now () - interval '60 days'
FROM generate_series (101, 175) AS n,
     LATERAL (SELECT CASE WHEN n <= 150 THEN 'starter'
                          WHEN n <= 170 THEN 'pro' ELSE 'enterprise' END AS plan) AS p;
INSERT INTO billing.webhook_outbox (organization_id, version, plan, status,
                                    cancel_at_period_end, created_at, acknowledged_at)
SELECT organization_id, 1, plan, status, false, created_at, created_at
FROM billing.subscriptions WHERE plan <> 'free';
UPDATE billing.versions SET version = 1000 WHERE name = 'entitlements';
SQL
t_is "seeded 175 organizations" "$(suite_psql -c 'SELECT count (*) FROM auth.organizations')" 175
t_is "... 75 of them with a subscription" "$(suite_psql -c 'SELECT count (*) FROM billing.subscriptions')" 75

org () { printf '00000000-0000-4000-8000-%012d' "$1"; }

out=$(ctl revenue --help); rc=$?
t_is "revenue --help exits 0" "$rc" 0
t_like "revenue --help describes MRR" "$out" "recurring revenue"

json=$(ctl --json revenue); rc=$?
t_is "revenue --json exits 0" "$rc" 0
t_is "MRR is 5,930.00 USD" "$(json_get "$json" .mrr_cents)" 593000
cur=$(json_get "$json" .currency); t_is "currency" "${cur,,}" usd
t_is "75 paying" "$(json_get "$json" .paying)" 75
t_is "175 organizations" "$(json_get "$json" .organizations)" 175
t_is "no comped" "$(json_get "$json" .comped)" 0
t_is "nothing at risk" "$(json_get "$json" .at_risk_cents)" 0
t_is "plans in catalogue order" "$(json_get "$json" '.by_plan[0].plan') $(json_get "$json" '.by_plan[3].plan')" "free enterprise"
t_is "100 free, worth 0" "$(json_get "$json" '.by_plan[0].organizations') $(json_get "$json" '.by_plan[0].mrr_cents')" "100 0"
t_is "50 starter, 1,450.00" "$(json_get "$json" '.by_plan[1].organizations') $(json_get "$json" '.by_plan[1].mrr_cents')" "50 145000"
t_is "20 pro, 1,980.00" "$(json_get "$json" '.by_plan[2].organizations') $(json_get "$json" '.by_plan[2].mrr_cents')" "20 198000"
t_is "5 enterprise, 2,500.00" "$(json_get "$json" '.by_plan[3].organizations') $(json_get "$json" '.by_plan[3].mrr_cents')" "5 250000"
t_is "175 active" "$(json_get "$json" .by_status.active) $(json_get "$json" .by_status.canceled)" "175 0"
t_is "100 never subscribed" "$(json_get "$json" .without_subscription)" 100
t_is "none signed up this month" "$(json_get "$json" .signed_up)" 0
t_is "nothing new nor churned this month" "$(json_get "$json" .new) $(json_get "$json" .churned) $(json_get "$json" .entered_past_due) $(json_get "$json" .new_subscriptions)" "0 0 0 0"

table=$(ctl revenue); rc=$?
t_is "revenue (table) exits 0" "$rc" 0
t_like "table: starter row" "$table" "starter +29\.00 +50 +50 +0 +1450\.00"
t_like "table: enterprise row" "$table" "enterprise +500\.00 +5 +5 +0 +2500\.00"
t_like "table: total 5930.00" "$table" "total +175 +75 +0 +5930\.00"

# The changes, by hand: pro 151 downgraded to free, enterprise 171
# canceled, starter 101 past due, free 1 given pro, a new organization
# (signed up now) given starter.
suite_psql -c "INSERT INTO auth.organizations (id, name, subdomain, referral_code)
               VALUES ('$(printf '00000000-0000-4000-8000-%012d' 999)', 'New', 'seed-999', 'SEEDREF999')" >/dev/null
ctl plan set "$(org 151)" free --reason "downgrade asked by mail" >/dev/null; rc1=$?
ctl plan set "$(org 171)" enterprise --status canceled >/dev/null; rc2=$?
ctl plan set "$(org 101)" starter --status past_due >/dev/null; rc3=$?
out=$(ctl plan set "$(org 1)" pro --reason "partner"); rc4=$?
ctl plan set "$(org 999)" starter >/dev/null; rc5=$?
t_is "plan set exits 0 five times" "$rc1 $rc2 $rc3 $rc4 $rc5" "0 0 0 0 0"
t_like "plan set says what it did" "$out" "plan pro, status active"
t_like "the reason is in billing-svc's log" "$(cat "$SUITE_TMP/log/billing-1.log")" "by an operator: partner"
show=$(ctl --json plan show "$(org 1)"); rc=$?
t_is "plan show exits 0" "$rc" 0
t_is "plan show: pro" "$(json_get "$show" .plan)" pro
ctl plan set "$(org 2)" platinum 2>/dev/null; rc=$?
t_is "an unknown plan is refused (exit 1)" "$rc" 1
ctl plan set "$(org 2)" 2>/dev/null; rc=$?
t_is "plan set without a plan is bad usage (exit 2)" "$rc" 2

json=$(ctl --json revenue)
t_is "MRR after: 5930 - 99 - 500 = 5,331.00" "$(json_get "$json" .mrr_cents)" 533100
t_is "past due stays in MRR, at risk 29.00" "$(json_get "$json" .at_risk_cents)" 2900
t_is "73 paying, 2 comped" "$(json_get "$json" .paying) $(json_get "$json" .comped)" "73 2"
t_is "176 organizations" "$(json_get "$json" .organizations)" 176
t_is "by status" "$(json_get "$json" .by_status.active) $(json_get "$json" .by_status.past_due) $(json_get "$json" .by_status.canceled)" "174 1 1"
t_is "churned 2 (downgrade, cancellation)" "$(json_get "$json" .churned)" 2
t_is "new 2 (the plans given)" "$(json_get "$json" .new)" 2
t_is "entered past due 1" "$(json_get "$json" .entered_past_due)" 1
t_is "new subscriptions 2 (organization 1's first row, and the new one's)" "$(json_get "$json" .new_subscriptions)" 2
t_is "one signed up this month" "$(json_get "$json" .signed_up)" 1
t_is "99 never subscribed" "$(json_get "$json" .without_subscription)" 99
t_is "free: 99 without a row, 1 downgraded" "$(json_get "$json" '.by_plan[0].organizations')" 100
t_is "pro: 20 organizations, 19 paying, 1 comped" "$(json_get "$json" '.by_plan[2].organizations') $(json_get "$json" '.by_plan[2].paying') $(json_get "$json" '.by_plan[2].comped')" "20 19 1"
table=$(ctl revenue)
t_like "table: at risk" "$table" "MRR at risk \(past due\): 29\.00"
t_like "table: the month's movements" "$table" "new 2, churned 2, entered past due 1, new subscriptions 2"
t_like "table: the organizations" "$table" "1 signed up this month, 99 never subscribed \\(on free\\), 0 suspended"

json=$(ctl --json revenue --month 2020-01)
t_is "another month: no movement" "$(json_get "$json" .month) $(json_get "$json" .new) $(json_get "$json" .churned)" "2020-01 0 0"
ctl revenue --month 2026-13 2>/dev/null; rc=$?
t_is "a bad month is refused (exit 1)" "$rc" 1
t_done
