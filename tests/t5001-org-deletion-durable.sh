#!/usr/bin/env bash
# Deleting an organization reaches every data-owning service, also one that
# is stopped at that moment, and auth-svc restarting in between loses
# nothing: the deletion is an outbox in auth-svc (auth.org_deletions),
# written in the transaction that deletes the organization, not a PUB/SUB
# event alone.
#
# Three organizations A, B, C, each with a business, calls, an order,
# usage events (posted and from the calls' outbox) and a usage hold. With
# tenant-svc and usage-svc stopped, A is deleted (202); auth-svc is then
# restarted, and only after that tenant-svc and usage-svc: within 60 s A has
# no row left in any table of the tenant and usage schemas that has an
# organization_id column (every such table, so a table added later without
# being purged fails here), and B's and C's row counts in those tables are
# what they were. The deletion rows of A (tenant, usage, billing) end
# acknowledged. A purge run again (its rows made pending once more) is
# harmless: acknowledged again, B untouched. Then C is deleted with every
# service up: its rows go too (the relay is woken by the commit), B's stay.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
suite_up

# counts ORG [FILTER]: "schema.table count" for every table of the tenant,
# usage and billing schemas that has an organization_id column (one psql
# for all of them); FILTER (SQL) is added where a table has a metric
# column. usage.purged_organizations is not among them: it is the record
# that the organization is gone, which keeps late usage out.
counts () {
    suite_psql -F ' ' -c "SELECT c.table_schema || '.' || c.table_name,
                                 (xpath ('/row/n/text()', query_to_xml (format (
                                     'SELECT count(*) AS n FROM %I.%I WHERE organization_id = %L %s',
                                     c.table_schema, c.table_name, '$1',
                                     CASE WHEN m.column_name IS NOT NULL THEN \$\$${2:-}\$\$ ELSE '' END),
                                     false, true, '')))[1]::text
                            FROM information_schema.columns AS c
                            LEFT JOIN information_schema.columns AS m
                              ON m.table_schema = c.table_schema AND m.table_name = c.table_name
                             AND m.column_name = 'metric'
                           WHERE c.table_schema IN ('tenant', 'usage', 'billing')
                             AND c.column_name = 'organization_id'
                             AND (c.table_schema, c.table_name) <> ('usage', 'purged_organizations')
                           ORDER BY 1"
}
# others ORG: counts ORG without the gateway's api_requests usage (which
# the organization's own requests to read add to).
others () {
    counts "$1" "AND metric <> 'api_requests'"
}
# gone ORG: no row of ORG in any of them.
gone () {
    ! counts "$1" | grep -qv ' 0$'
}

# populate PFX: a business, two calls, two orders (one with an Idempotency-Key),
# usage events and a hold (with a key too).
populate () {
    local tok_var=${1}_AT biz call
    create_as "${!tok_var}" /v1/businesses "$(biz_body)" || return 1
    biz=$NEW_ID
    create_as "${!tok_var}" /v1/calls "$(call_body "$biz")" || return 1
    call=$NEW_ID
    create_as "${!tok_var}" /v1/calls "$(call_body "$biz" duration_seconds:=125)" || return 1
    create_as "${!tok_var}" /v1/orders "$(order_body "$biz" call_id="$call")" || return 1
    http_as "${!tok_var}" POST /v1/usage/events \
        "$(jobj events:="[$(jobj id="$1-e1" metric=sms quantity:=3 occurred_at="$(ts_at -60)"),
                          $(jobj id="$1-e2" metric=sms quantity:=4 occurred_at="$(ts_at -30)")]")"
    [[ $HTTP_STATUS == 202 ]] || return 1
    http_as "${!tok_var}" POST /v1/usage/reservations "$(jobj metric=calls quantity:=1)" \
        -H "Idempotency-Key: $1-hold"
    [[ $HTTP_STATUS == 201 ]] || return 1
    # An order made with an Idempotency-Key: the skeleton's table has rows
    # of the organization too
    http_as "${!tok_var}" POST /v1/orders "$(order_body "$biz")" -H "Idempotency-Key: $1-order"
    [[ $HTTP_STATUS == 201 ]]
}

for p in A B C; do
    new_orgs "$p"
    populate "$p" || t_bail "cannot fill organization $p: $(_auth_last)"
done
outbox_empty () {
    [[ $(suite_psql -c "SELECT count(*) FROM tenant.usage_outbox WHERE delivered_at IS NULL") == 0 ]]
}
poll_until 30 outbox_empty || t_bail "the calls' usage did not reach usage-svc"
# The analytics rollups move on their own: tenant-svc's folder takes the
# delta logs into the rollup rows within seconds. The counts below are
# taken once it has, so that "unchanged" means what the deletions did.
folded () {
    [[ $(suite_psql -c "SELECT (SELECT count(*) FROM tenant.analytics_deltas)
                             + (SELECT count(*) FROM tenant.analytics_order_deltas)") == 0 ]]
}
poll_until 30 folded || t_bail "the analytics folder did not take the calls' and orders' deltas"

t_like "A has rows in tenant and usage" "$(counts "$A_OID")" 'tenant.calls 2'
t_like "... its usage events too" "$(counts "$A_OID")" 'usage.events [1-9]'
b_before=$(others "$B_OID")
c_before=$(others "$C_OID")

# ---- A: deleted while tenant-svc and usage-svc are down -------------------
suite_stop tenant-1
suite_stop usage-1
http_as "$A_AT" DELETE /v1/organization
t_status "A is deleted: 202" 202
t_like "the deletion is recorded for tenant, usage and billing" \
    "$(suite_psql -c "SELECT string_agg (service, ',' ORDER BY service) FROM auth.org_deletions
                       WHERE organization_id = '$A_OID'" 2>&1)" '^billing,tenant,usage$'
failing () {
    [[ $(suite_psql -c "SELECT count(*) FROM auth.org_deletions
                         WHERE organization_id = '$A_OID' AND service IN ('tenant', 'usage')
                           AND acknowledged_at IS NULL AND attempts > 0
                           AND last_error LIKE '503 %'") == 2 ]]
}
t_ok "while they are down, the relay retries and records why it failed" poll_until 20 failing
billing_acked () {
    [[ $(suite_psql -c "SELECT count(*) FROM auth.org_deletions WHERE organization_id = '$A_OID'
                         AND service = 'billing' AND acknowledged_at IS NOT NULL") == 1 ]]
}
t_ok "billing-svc, up, acknowledged meanwhile" poll_until 20 billing_acked
# auth-svc stops before the others are back: what it owes them is in its
# table, not in its memory.
suite_stop auth-1
suite_start_service auth
suite_start_service tenant
suite_start_service usage
suite_wait_ready 60 || t_bail "the suite did not come back"

t_ok "A's rows are gone from tenant and usage within 60 s" poll_until 60 gone "$A_OID"
if ! gone "$A_OID"; then
    t_diag "$(counts "$A_OID" | grep -v ' 0$')"
fi
acked () {
    [[ $(suite_psql -c "SELECT count(*) FROM auth.org_deletions
                         WHERE organization_id = '$1' AND acknowledged_at IS NOT NULL") == 3 ]]
}
t_ok "every service acknowledged A's deletion" poll_until 30 acked "$A_OID"
t_is "usage-svc keeps A's late usage out" \
    "$(suite_psql -c "SELECT count(*) FROM usage.purged_organizations WHERE organization_id = '$A_OID'")" 1
t_is "B's rows are unchanged" "$(others "$B_OID")" "$b_before"
t_is "C's rows are unchanged" "$(others "$C_OID")" "$c_before"
http_as "$B_AT" GET /v1/calls
t_status "B still reads its calls" 200
t_is "... both of them" "$(json_len "$HTTP_BODY" .data)" 2

# ---- the same purge once more: harmless ------------------------------------
suite_psql -c "UPDATE auth.org_deletions SET acknowledged_at = NULL
                WHERE organization_id = '$A_OID'" >/dev/null
t_ok "a repeated purge is acknowledged again" poll_until 30 acked "$A_OID"
t_ok "A is still gone" gone "$A_OID"
t_is "B's rows are still unchanged" "$(others "$B_OID")" "$b_before"

# ---- C: deleted with every service up --------------------------------------
http_as "$C_AT" DELETE /v1/organization
t_status "C is deleted: 202" 202
t_ok "C's rows are gone within 30 s" poll_until 30 gone "$C_OID"
t_ok "every service acknowledged C's deletion" poll_until 30 acked "$C_OID"
t_is "B's rows are unchanged after C" "$(others "$B_OID")" "$b_before"
t_done
