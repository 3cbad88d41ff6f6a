#!/usr/bin/env bash
# Tenant isolation: with organization A's token (and API key), each of B's
# businesses, calls and orders answers GET/PATCH/DELETE exactly as an id that
# does not exist does (404 not_found; 405 where the path has no such method),
# and afterwards B's objects are unchanged; A cannot attach its calls or
# orders to B's business or call; A's lists and filters never show B's ids,
# nor B's A's. Row-level security, the second wall, seen as the service's
# role sb_tenant: with switchboard.org set to A in a transaction, a query
# without any WHERE sees exactly A's rows; without the setting it sees none
# (also as the owner role: FORCE); writes of B's rows fail or touch nothing;
# the superuser sees both organizations.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
# (Plan limits: suite.sh's generous tests/fixtures/plans-test.json applies.)
suite_up

new_orgs A B

# populate PFX: two businesses, calls, orders; ids in PFX_BIZ, PFX_CALLS,
# PFX_ORDERS (arrays).
populate () {
    local pfx=$1 tok_var=${1}_AT c
    local -n biz=${pfx}_BIZ calls=${pfx}_CALLS orders=${pfx}_ORDERS
    biz=() calls=() orders=()
    for _ in 1 2; do
        create_as "${!tok_var}" /v1/businesses "$(biz_body greeting="Hi from $pfx" hours:='{"mon":[{"open":"09:00","close":"17:00"}]}')" || return 1
        biz+=("$NEW_ID")
    done
    for c in 0 1 0 1; do
        create_as "${!tok_var}" /v1/calls "$(call_body "${biz[c]}" summary="$pfx call")" || return 1
        calls+=("$NEW_ID")
    done
    create_as "${!tok_var}" /v1/orders "$(order_body "${biz[0]}" call_id="${calls[0]}")" || return 1
    orders+=("$NEW_ID")
    create_as "${!tok_var}" /v1/orders "$(order_body "${biz[1]}")" || return 1
    orders+=("$NEW_ID")
    create_as "${!tok_var}" /v1/orders "$(order_body "${biz[1]}")" || return 1
    orders+=("$NEW_ID")
    http_as "${!tok_var}" PATCH "/v1/orders/${orders[2]}" '{"status":"confirmed"}'
    [[ $HTTP_STATUS == 200 ]]
}
declare -a A_BIZ A_CALLS A_ORDERS B_BIZ B_CALLS B_ORDERS
populate A || t_bail "cannot populate A"
populate B || t_bail "cannot populate B"
t_pass "A and B each have 2 businesses, 4 calls, 3 orders"

http_as "$A_AT" POST /v1/api-keys "$(jobj name="A key")"
a_key=$(json_get "$HTTP_BODY" .key 2>/dev/null)
[[ -n $a_key ]] || t_diag "no API key for A: HTTP $HTTP_STATUS ${HTTP_BODY:0:200}"

# snapshot TOKEN: every one of B's objects as B sees it, one JSON a line.
snapshot () {
    local id
    for id in "${B_BIZ[@]}"; do http_as "$B_AT" GET "/v1/businesses/$id"; printf '%s %s\n' "$HTTP_STATUS" "$(json_get "$HTTP_BODY" .)"; done
    for id in "${B_CALLS[@]}"; do http_as "$B_AT" GET "/v1/calls/$id"; printf '%s %s\n' "$HTTP_STATUS" "$(json_get "$HTTP_BODY" .)"; done
    for id in "${B_ORDERS[@]}"; do http_as "$B_AT" GET "/v1/orders/$id"; printf '%s %s\n' "$HTTP_STATUS" "$(json_get "$HTTP_BODY" .)"; done
}
before=$(snapshot)
t_is "B sees all of its 9 objects (all 200)" "$(cut -d' ' -f1 <<<"$before" | sort | uniq -c | tr -s ' ')" " 9 200"

nobody=00000000-0000-4000-8000-00000000dead
# same_as_nobody DESC METHOD KIND ID [BODY]: A's answer for B's ID is the answer
# for an id that exists nowhere, and it is WANT (404 not_found, or 405).
same_as_nobody () {
    local desc=$1 method=$2 kind=$3 id=$4 body=${5-} want_status want_code got_status got_code
    http_as "$A_AT" "$method" "/v1/$kind/$nobody" "$body"
    want_status=$HTTP_STATUS
    want_code=$(json_get "$HTTP_BODY" .error.code 2>/dev/null)
    http_as "$A_AT" "$method" "/v1/$kind/$id" "$body"
    got_status=$HTTP_STATUS
    got_code=$(json_get "$HTTP_BODY" .error.code 2>/dev/null)
    if [[ "$got_status $got_code" == "$want_status $want_code" && $got_status =~ ^(404|405)$ ]] \
       && { [[ $got_status == 405 ]] || [[ $got_code == not_found ]]; }; then
        t_pass "$desc: $got_status $got_code"
    else
        t_fail "$desc" "    for B's id: $got_status $got_code; for an id of nobody: $want_status $want_code" \
               "    (expected 404 not_found, or 405 where the path has no $method)" "$(_auth_last)"
    fi
}

for id in "${B_BIZ[@]}"; do
    same_as_nobody "A GETs B's business" GET businesses "$id"
    same_as_nobody "A PATCHes B's business" PATCH businesses "$id" "$(jobj name=Pwned greeting=Pwned)"
    same_as_nobody "A DELETEs B's business" DELETE businesses "$id"
done
for id in "${B_CALLS[@]}"; do
    same_as_nobody "A GETs B's call" GET calls "$id"
    same_as_nobody "A PATCHes B's call" PATCH calls "$id" "$(jobj status=missed)"
    same_as_nobody "A DELETEs B's call" DELETE calls "$id"
done
for id in "${B_ORDERS[@]}"; do
    same_as_nobody "A GETs B's order" GET orders "$id"
    same_as_nobody "A PATCHes B's order to cancelled" PATCH orders "$id" "$(jobj status=cancelled)"
    same_as_nobody "A PATCHes B's order to confirmed" PATCH orders "$id" "$(jobj status=confirmed)"
    same_as_nobody "A DELETEs B's order" DELETE orders "$id"
done
http_as "$A_AT" PATCH "/v1/calls/${B_CALLS[0]}" "$(jobj status=missed)"
t_status "PATCH of a call is 405 for B's call, as for any call" 405
if [[ -n $a_key ]]; then
    http_key "$a_key" GET "/v1/businesses/${B_BIZ[0]}"
    t_error "A's API key GETs B's business: 404 not_found" 404 not_found
    http_key "$a_key" PATCH "/v1/businesses/${B_BIZ[0]}" "$(jobj name=Pwned)"
    t_error "A's API key PATCHes B's business: 404 not_found" 404 not_found
    http_key "$a_key" DELETE "/v1/businesses/${B_BIZ[1]}"
    t_error "A's API key DELETEs B's business: 404 not_found" 404 not_found
    http_key "$a_key" PATCH "/v1/orders/${B_ORDERS[0]}" "$(jobj status=cancelled)"
    t_error "A's API key PATCHes B's order: 404 not_found" 404 not_found
else
    t_skip_one "A's API key on B's objects" "no API key"
fi

# A attaches to B's things: refused as unknown ids, nothing stored anywhere.
http_as "$A_AT" POST /v1/calls "$(call_body "${B_BIZ[0]}")"
t_fields "A stores a call for B's business" business_id
http_as "$A_AT" POST /v1/orders "$(order_body "${B_BIZ[0]}")"
t_fields "A stores an order for B's business" business_id
http_as "$A_AT" POST /v1/orders "$(order_body "${A_BIZ[0]}" call_id="${B_CALLS[0]}")"
t_fields "A stores an order of its business on B's call" call_id

after=$(snapshot)
if [[ $after == "$before" ]]; then
    t_pass "B's objects are unchanged, byte for byte (JSON canonical)"
else
    t_fail "B's objects are unchanged" "$(diff <(echo "$before") <(echo "$after") | head -n 20)"
fi
t_is "the tables hold 2/4/3 of B's rows still" \
    "$(suite_psql -c "SELECT (SELECT count(*) FROM tenant.businesses WHERE organization_id = '$B_OID') || '/' ||
                             (SELECT count(*) FROM tenant.calls WHERE organization_id = '$B_OID') || '/' ||
                             (SELECT count(*) FROM tenant.orders WHERE organization_id = '$B_OID')")" 2/4/3

# ---- lists -------------------------------------------------------------------------------------
# t_list_clean DESC TOKEN PATH ID...: the walk of PATH shows none of the IDs
# (and answers 200).
t_list_clean () {
    local desc=$1 tok=$2 path=$3 got id hits=()
    shift 3
    if ! got=$(walk_ids "$tok" "$path"); then
        t_fail "$desc" "    the walk of $path failed"
        return 1
    fi
    for id in "$@"; do
        [[ $'\n'$got$'\n' == *$'\n'$id$'\n'* ]] && hits+=("$id")
    done
    if (( ${#hits[@]} )); then t_fail "$desc" "    shows: ${hits[*]}"
    else t_pass "$desc"
    fi
}
all_b=("${B_BIZ[@]}" "${B_CALLS[@]}" "${B_ORDERS[@]}")
all_a=("${A_BIZ[@]}" "${A_CALLS[@]}" "${A_ORDERS[@]}")
t_list_clean "A's businesses: none of B's" "$A_AT" '/v1/businesses?limit=1' "${all_b[@]}"
t_list_clean "A's calls: none of B's" "$A_AT" '/v1/calls?limit=3' "${all_b[@]}"
t_list_clean "A's orders: none of B's" "$A_AT" '/v1/orders?limit=100' "${all_b[@]}"
t_list_clean "B's businesses: none of A's" "$B_AT" '/v1/businesses' "${all_a[@]}"
t_list_clean "B's calls: none of A's" "$B_AT" '/v1/calls' "${all_a[@]}"
t_list_clean "B's orders: none of A's" "$B_AT" '/v1/orders' "${all_a[@]}"
http_as "$A_AT" GET '/v1/businesses?limit=100'
t_is "A lists exactly its 2 businesses" "$(data_ids "$HTTP_BODY" | sort)" "$(printf '%s\n' "${A_BIZ[@]}" | sort)"
http_as "$A_AT" GET '/v1/calls?limit=100'
t_is "A lists exactly its 4 calls" "$(data_ids "$HTTP_BODY" | sort)" "$(printf '%s\n' "${A_CALLS[@]}" | sort)"
http_as "$A_AT" GET '/v1/orders?limit=100'
t_is "A lists exactly its 3 orders" "$(data_ids "$HTTP_BODY" | sort)" "$(printf '%s\n' "${A_ORDERS[@]}" | sort)"
for q in "business_id=${B_BIZ[0]}" "business_id=${B_BIZ[1]}&status=completed" \
         "business_id=${B_BIZ[0]}&from=2000-01-01T00:00:00Z"; do
    for kind in calls orders; do
        http_as "$A_AT" GET "/v1/$kind?$q"
        t_status "A's /v1/$kind?$q: 200 (empty) or 400" '200|400'
        t_is "  none of B's" "$(data_ids "$HTTP_BODY")" ""
    done
done

# ---- row-level security, as the service's role -------------------------------------------------
[[ -n ${SWITCHBOARD_TENANT_DATABASE_URL:-} ]] || t_bail "SWITCHBOARD_TENANT_DATABASE_URL is not set"
# as_tenant [PSQL-ARG...]: psql as sb_tenant, script on stdin.
as_tenant () {
    psql -X -A -t -q -v ON_ERROR_STOP=1 "$SWITCHBOARD_TENANT_DATABASE_URL" "$@"
}
# counts_as ORG: "businesses calls orders" seen by sb_tenant with
# switchboard.org = ORG (empty: not set) in one transaction, no WHERE.
counts_as () {
    as_tenant -v org="$1" <<'EOF'
BEGIN;
\o /dev/null
SELECT set_config('switchboard.org', :'org', true);
\o
SELECT (SELECT count(*) FROM tenant.businesses) || ' ' ||
       (SELECT count(*) FROM tenant.calls) || ' ' ||
       (SELECT count(*) FROM tenant.orders);
COMMIT;
EOF
}
t_is "the connection is sb_tenant, without BYPASSRLS" \
    "$(as_tenant -c "SELECT current_user || ' ' || rolbypassrls FROM pg_roles WHERE rolname = current_user")" "sb_tenant false"
t_is "the superuser sees both organizations' rows (sanity)" \
    "$(suite_psql -c "SELECT count(DISTINCT organization_id) FROM tenant.businesses WHERE organization_id IN ('$A_OID', '$B_OID')")" 2
t_is "sb_tenant, switchboard.org = A, no WHERE: A's counts only" "$(counts_as "$A_OID" 2>&1)" "2 4 3"
t_is "sb_tenant, switchboard.org = B: B's counts" "$(counts_as "$B_OID" 2>&1)" "2 4 3"
new_orgs C
t_is "sb_tenant, switchboard.org = an organization with no data: nothing" "$(counts_as "$C_OID" 2>&1)" "0 0 0"
out=$(as_tenant <<'EOF' 2>&1
BEGIN;
SELECT (SELECT count(*) FROM tenant.businesses) || ' ' ||
       (SELECT count(*) FROM tenant.calls) || ' ' ||
       (SELECT count(*) FROM tenant.orders);
COMMIT;
EOF
)
t_is "sb_tenant without switchboard.org: nothing at all" "$out" "0 0 0"
out=$(as_tenant -v org="$A_OID" <<'EOF' 2>&1
BEGIN;
\o /dev/null
SELECT set_config('switchboard.org', :'org', true);
\o
SELECT count(*) FROM tenant.businesses;
COMMIT;
SELECT count(*) FROM tenant.businesses;
SELECT set_config('switchboard.org', '', false) IS NOT NULL;
SELECT count(*) FROM tenant.businesses;
EOF
)
t_is "  the setting is the transaction's: after COMMIT nothing again; '' is nothing" "$(tr '\n' ' ' <<<"$out")" "2 0 t 0 "
out=$(as_tenant <<'EOF' 2>&1
SET ROLE sb_tenant_owner;
SELECT count(*) FROM tenant.businesses;
EOF
)
t_is "  as the tables' owner role, without the setting: nothing (FORCE)" "$out" 0

# Writes of B's rows with A set.
out=$(as_tenant -v a="$A_OID" -v b="$B_OID" <<'EOF' 2>&1
BEGIN;
\o /dev/null
SELECT set_config('switchboard.org', :'a', true);
\o
INSERT INTO tenant.businesses (organization_id, id, name, phone_number, timezone)
VALUES (:'b', gen_random_uuid (), 'rls intruder', '+15550100000', 'UTC');
COMMIT;
EOF
)
rc=$?
t_isnt "inserting a business for B while A is set fails" "$rc" 0
t_like "  a row-level security violation" "$out" 'row-level security'
out=$(as_tenant -v a="$A_OID" -v b="$B_OID" -v bc="${B_BIZ[0]}" <<'EOF' 2>&1
BEGIN;
\o /dev/null
SELECT set_config('switchboard.org', :'a', true);
\o
INSERT INTO tenant.calls (organization_id, id, business_id, caller_number, started_at, duration_seconds, status)
VALUES (:'b', gen_random_uuid (), :'bc', 'anonymous', now (), 1, 'missed');
COMMIT;
EOF
)
t_like "inserting a call for B while A is set: a row-level security violation" "$out" 'row-level security'
out=$(as_tenant -v a="$A_OID" -v b="$B_OID" <<'EOF' 2>&1
BEGIN;
\o /dev/null
SELECT set_config('switchboard.org', :'a', true);
\o
WITH u AS (UPDATE tenant.businesses SET name = 'rls intruder' WHERE organization_id = :'b' RETURNING 1)
SELECT count(*) FROM u;
WITH d AS (DELETE FROM tenant.orders WHERE organization_id = :'b' RETURNING 1)
SELECT count(*) FROM d;
WITH d AS (DELETE FROM tenant.calls RETURNING organization_id)
SELECT count(*) FILTER (WHERE organization_id = :'b') FROM d;
ROLLBACK;
EOF
)
t_is "UPDATE and DELETE of B's rows while A is set touch nothing" "$(tr '\n' ' ' <<<"$out")" "0 0 0 "
out=$(as_tenant -v a="$A_OID" -v b="$B_OID" -v ab="${A_BIZ[0]}" <<'EOF' 2>&1
BEGIN;
\o /dev/null
SELECT set_config('switchboard.org', :'a', true);
\o
UPDATE tenant.businesses SET organization_id = :'b' WHERE id = :'ab';
COMMIT;
EOF
)
t_like "moving A's business to B while A is set: a row-level security violation" "$out" 'row-level security'
t_is "the superuser finds no intruder row and B's names intact" \
    "$(suite_psql -c "SELECT count(*) FROM tenant.businesses WHERE name = 'rls intruder'")" 0
t_is "  and 2/4/3 rows for each of A and B" \
    "$(suite_psql -c "SELECT string_agg(n, ' ' ORDER BY i) FROM (
         SELECT i, (SELECT count(*) FROM tenant.businesses t WHERE t.organization_id = x.org) || '/' ||
                   (SELECT count(*) FROM tenant.calls t WHERE t.organization_id = x.org) || '/' ||
                   (SELECT count(*) FROM tenant.orders t WHERE t.organization_id = x.org) AS n
           FROM unnest (ARRAY['$A_OID', '$B_OID']::uuid[]) WITH ORDINALITY AS x (org, i)) z")" "2/4/3 2/4/3"
after=$(snapshot)
t_is "B's objects, through the API, unchanged after all that" "$after" "$before"

t_done
