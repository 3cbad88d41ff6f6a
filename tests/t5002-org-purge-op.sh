#!/usr/bin/env bash
# org.purge, the internal operation auth-svc's deletion relay calls on
# tenant-svc, usage-svc and billing-svc, called directly over the bus
# (sb-call):
# - internal callers only: the role user or admin gets 403, and no HTTP
#   route reaches it; a malformed organization id is 400 validation_failed;
# - bounded: with limit 1 each call deletes at most one row of each table
#   it reaches and answers done false (not going on to the next table)
#   while a table had that many, so an organization with 3 calls, 2
#   orders, a business and its usage outbox rows takes one call per row
#   and a last one that finds none;
#   the rows go children first (the orders before the calls, the calls
#   before the business: no cascade runs unbounded);
# - idempotent: once done, a call again answers done with nothing deleted;
#   an organization with no rows at all answers done (tenant, billing);
#   usage-svc's first purge of an organization answers done false (it has
#   just fenced the organization's late usage out), its second done;
# - usage that arrives after usage-svc's purge (usage.record, as the
#   gateway and the tenant outbox send it) is not stored for that
#   organization, and is for another;
# - another organization's rows are untouched throughout.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
suite_up

new_orgs A B
for p in A B; do
    tok_var=${p}_AT
    create_as "${!tok_var}" /v1/businesses "$(biz_body)" || t_bail "$p cannot create a business"
    biz=$NEW_ID
    for i in 1 2 3; do
        create_as "${!tok_var}" /v1/calls "$(call_body "$biz")" || t_bail "$p cannot store a call"
    done
    call=$NEW_ID
    for i in 1 2; do
        create_as "${!tok_var}" /v1/orders "$(order_body "$biz" call_id="$call")" \
            || t_bail "$p cannot create an order"
    done
done
tenant_rows () {
    suite_psql -F ' ' -c "SELECT (SELECT count(*) FROM tenant.businesses WHERE organization_id = '$1'),
                                 (SELECT count(*) FROM tenant.calls WHERE organization_id = '$1'),
                                 (SELECT count(*) FROM tenant.orders WHERE organization_id = '$1')"
}
t_is "A has 1 business, 3 calls, 2 orders" "$(tenant_rows "$A_OID")" "1 3 2"
b_before=$(tenant_rows "$B_OID")

purge () {   # purge SERVICE ORG [LIMIT] [sb-call options...]: sets OUT
    local service=$1 org=$2 limit=${3:-}
    shift 3 2>/dev/null || shift $#
    if [[ -n $limit ]]; then
        OUT=$("$SB_BIN/sb-call" "$@" "$service" org.purge "$(jobj organization_id="$org" limit:="$limit")")
    else
        OUT=$("$SB_BIN/sb-call" "$@" "$service" org.purge "$(jobj organization_id="$org")")
    fi
}

# ---- internal only -------------------------------------------------------
for role in user admin; do
    purge tenant "$A_OID" "" -r "$role"
    t_is "tenant org.purge as $role: 403" "$(json_get "$OUT" .status)" 403
done
purge usage "$A_OID" "" -r admin
t_is "usage org.purge as admin: 403" "$(json_get "$OUT" .status)" 403
purge billing "$A_OID" "" -r admin
t_is "billing org.purge as admin: 403" "$(json_get "$OUT" .status)" 403
http_as "$A_AT" POST /v1/org.purge "$(jobj organization_id="$B_OID")"
t_like "no HTTP route reaches it" "$HTTP_STATUS" '^(404|405)$'
purge tenant "not-a-uuid"
t_is "a malformed organization id: 400" "$(json_get "$OUT" .status)" 400
t_is "... validation_failed" "$(json_get "$OUT" .error.code)" validation_failed
OUT=$("$SB_BIN/sb-call" tenant org.purge '{}')
t_is "no organization id: 400" "$(json_get "$OUT" .status)" 400
purge tenant "$A_OID" 0
t_is "a limit of 0: 400" "$(json_get "$OUT" .status)" 400
t_is "nothing was deleted by the refused calls" "$(tenant_rows "$A_OID")" "1 3 2"

# ---- bounded batches -----------------------------------------------------
# Every row of A the purge deletes: the outbox holds its calls' usage.
rows=$(suite_psql -c "SELECT (SELECT count(*) FROM tenant.businesses WHERE organization_id = '$A_OID')
                           + (SELECT count(*) FROM tenant.calls WHERE organization_id = '$A_OID')
                           + (SELECT count(*) FROM tenant.orders WHERE organization_id = '$A_OID')
                           + (SELECT count(*) FROM tenant.usage_outbox WHERE organization_id = '$A_OID')")
purge tenant "$A_OID" 1
t_is "limit 1: 200" "$(json_get "$OUT" .status)" 200
t_is "... not done" "$(json_get "$OUT" .body.done)" false
t_is "... one row deleted" "$(json_get "$OUT" .body.deleted)" 1
t_is "... an order: the calls and the business wait" "$(tenant_rows "$A_OID")" "1 3 1"
calls=1
while [[ $(json_get "$OUT" .body.done) == false ]] && (( calls < 50 )); do
    purge tenant "$A_OID" 1
    calls=$((calls + 1))
    [[ $(json_get "$OUT" .status) == 200 ]] || break
done
t_is "A's tenant rows are gone after several calls" "$(tenant_rows "$A_OID")" "0 0 0"
t_is "... one call per row, and one that finds none left ($rows rows)" "$calls" "$((rows + 1))"
t_is "... A's usage outbox rows too" \
    "$(suite_psql -c "SELECT count(*) FROM tenant.usage_outbox WHERE organization_id = '$A_OID'")" 0
t_is "B's tenant rows are untouched" "$(tenant_rows "$B_OID")" "$b_before"

# ---- idempotent ----------------------------------------------------------
purge tenant "$A_OID"
t_is "tenant: a purge again answers 200" "$(json_get "$OUT" .status)" 200
t_is "... done" "$(json_get "$OUT" .body.done)" true
t_is "... nothing deleted" "$(json_get "$OUT" .body.deleted)" 0
never=$(/usr/bin/python3 -c 'import uuid; print(uuid.uuid4())')
purge tenant "$never"
t_is "tenant: an organization that never had rows: done" "$(json_get "$OUT" .body.done)" true
purge billing "$A_OID"
t_is "billing (no organization data yet): 200 done" \
    "$(json_get "$OUT" .status) $(json_get "$OUT" .body.done)" "200 true"

# ---- usage: fenced, then purged ------------------------------------------
record () {   # record ORG ID: one usage.record event for ORG, prints accepted
    local out
    out=$("$SB_BIN/sb-call" usage usage.record \
        "$(jobj events:="[$(jobj id="$2" org="$1" metric=sms quantity:=1 occurred_at="$(ts_at -5)")]")")
    json_get "$out" .status
}
usage_rows () {
    suite_psql -c "SELECT count(*) FROM usage.events WHERE organization_id = '$1' AND metric = 'sms'"
}
t_is "usage.record for A before its purge: 200" "$(record "$A_OID" e-before)" 200
t_is "... stored" "$(usage_rows "$A_OID")" 1
purge usage "$A_OID"
t_is "usage: the first purge answers 200" "$(json_get "$OUT" .status)" 200
t_is "... not done yet (late writes may still commit)" "$(json_get "$OUT" .body.done)" false
purge usage "$A_OID"
t_is "usage: the second purge is done" "$(json_get "$OUT" .body.done)" true
t_is "... A's events are gone" "$(usage_rows "$A_OID")" 0
t_is "usage.record for A after its purge: still 200 (nothing to retry)" \
    "$(record "$A_OID" e-after)" 200
t_is "... but nothing stored for A" "$(usage_rows "$A_OID")" 0
t_is "usage.record for B: stored" "$(record "$B_OID" e-b) $(usage_rows "$B_OID")" "200 1"
purge usage "$A_OID"
t_is "usage: a purge again is done" "$(json_get "$OUT" .body.done) $(json_get "$OUT" .body.deleted)" "true 0"
t_is "B's usage is untouched" "$(usage_rows "$B_OID")" 1
t_done
