#!/usr/bin/env bash
# Idempotency-Key on the POSTs that create something (businesses, calls,
# orders, API keys, invitations, usage reservations): a repeat with the same
# key and body within 24 h answers the first status and body again with
# `Idempotent-Replayed: true` and creates nothing more; the same key with
# another body is 422 idempotency_key_reused; while a request with the key
# is running (its lock held) another gets 409 idempotency_key_in_use; keys
# are per organization; an error leaves the key free; a key older than 24 h
# is forgotten; a header that is no key is 400 naming it. The table keeps
# neither the key nor a readable answer: the row is found under a hash the
# test computes on its own (Python's BLAKE2b, an implementation independent
# of libsodium's), and the sealed answer does not contain the API key's
# secret.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
suite_up

new_orgs A B

count () { suite_psql -c "select count(*) from $1 where organization_id = '$2'"; }
replayed () { http_header Idempotent-Replayed; }
# The row's key_hash and the advisory lock number, as service.c derives them.
key_hash () {
    "$SUITE_PYTHON" -c 'import hashlib,sys
print(hashlib.blake2b(b"switchboard idempotency key\0" + sys.argv[1].encode() + b"\0" + sys.argv[2].encode(), digest_size=32).hexdigest())' "$1" "$2"
}
lock_number () {
    "$SUITE_PYTHON" -c 'import sys
n = int(sys.argv[1][:16], 16)
print(n - (1 << 64) if n >= 1 << 63 else n)' "$1"
}

# ---- businesses ------------------------------------------------------------
body=$(biz_body)
http_as "$A_AT" POST /v1/businesses "$body" -H "Idempotency-Key: biz-1"
t_status "create a business with a key: 201" 201
first=$HTTP_BODY
first_id=$(json_get "$first" .id)
t_is "  not marked replayed" "$(replayed)" ""
http_as "$A_AT" POST /v1/businesses "$body" -H "Idempotency-Key: biz-1"
t_status "the same key and body again: 201" 201
t_is "  marked Idempotent-Replayed: true" "$(replayed)" true
t_is "  the same body as the first answer" "$HTTP_BODY" "$first"
t_is "  one business exists" "$(count tenant.businesses "$A_OID")" 1

http_as "$A_AT" POST /v1/businesses "$(biz_body)" -H "Idempotency-Key: biz-1"
t_error "the same key with another body: 422 idempotency_key_reused" 422 idempotency_key_reused
t_is "  still one business" "$(count tenant.businesses "$A_OID")" 1

http_as "$B_AT" POST /v1/businesses "$body" -H "Idempotency-Key: biz-1"
t_status "the same key in another organization: 201" 201
t_is "  not a replay" "$(replayed)" ""
t_isnt "  a business of its own" "$(json_get "$HTTP_BODY" .id)" "$first_id"

http_as "$A_AT" POST /v1/businesses "$body"
t_status "without a key the same body creates again: 201" 201
t_is "  two businesses in A" "$(count tenant.businesses "$A_OID")" 2

# An error is not remembered: the key stays free.
http_as "$A_AT" POST /v1/businesses "$(biz_body phone_number=nope)" -H "Idempotency-Key: biz-2"
t_error "an invalid body with a new key: 400" 400 validation_failed
http_as "$A_AT" POST /v1/businesses "$(biz_body)" -H "Idempotency-Key: biz-2"
t_status "then a valid body with that key: 201, not 422" 201
t_is "  not a replay" "$(replayed)" ""

# The header itself.
http_as "$A_AT" POST /v1/businesses "$(biz_body)" -H "Idempotency-Key: $(printf 'k%.0s' {1..256})"
t_error "a 256-character key: 400 validation_failed" 400 validation_failed
t_like "  naming the header" "$(json_get "$HTTP_BODY" .error.fields)" "Idempotency-Key"
http_as "$A_AT" POST /v1/businesses "$(biz_body)" -H "Idempotency-Key: $(printf 'k%.0s' {1..255})"
t_status "a 255-character key: 201" 201
http_as "$A_AT" POST /v1/businesses "$(biz_body)" -H "$(printf 'Idempotency-Key: caf\xc3\xa9')"
t_error "a key that is not printable ASCII: 400" 400 validation_failed

# ---- the stored row: found by hash, sealed ---------------------------------
h=$(key_hash "$A_OID" biz-1)
t_is "the row is stored under the hash of (organization, key)" \
     "$(suite_psql -c "select count(*) from tenant.idempotency_keys where organization_id = '$A_OID' and key_hash = '$h'")" 1
t_is "  no row holds the key itself" \
     "$(suite_psql -c "select count(*) from tenant.idempotency_keys where key_hash = 'biz-1'")" 0

# ---- a key in use: its lock held by another session -------------------------
lock=$(lock_number "$(key_hash "$A_OID" biz-3)")
fifo=$SUITE_TMP/locker.fifo
mkfifo "$fifo"
psql -XAtq "$SUITE_PG_URL" < "$fifo" > /dev/null 2>&1 &
locker=$!
exec {hold}> "$fifo"
echo "select pg_advisory_lock($lock);" >&"$hold"
held=0
for _ in $(seq 1 100); do
    [[ $(suite_psql -c "select count(*) from pg_locks where locktype = 'advisory' and granted and ((classid::bigint << 32) | objid::bigint) = ($lock)::bigint") == 1 ]] && { held=1; break; }
    sleep 0.1
done
t_is "another session holds the key's lock" "$held" 1
http_as "$A_AT" POST /v1/businesses "$(biz_body)" -H "Idempotency-Key: biz-3"
t_error "a request while the key is in use: 409 idempotency_key_in_use" 409 idempotency_key_in_use
echo "select pg_advisory_unlock($lock);" >&"$hold"
exec {hold}>&-
wait "$locker"
http_as "$A_AT" POST /v1/businesses "$(biz_body)" -H "Idempotency-Key: biz-3"
t_status "once the lock is free: 201" 201

# ---- 24 hours ----------------------------------------------------------------
suite_psql -c "update tenant.idempotency_keys set created_at = now() - interval '25 hours' where organization_id = '$A_OID' and key_hash = '$h'"
before=$(count tenant.businesses "$A_OID")
http_as "$A_AT" POST /v1/businesses "$body" -H "Idempotency-Key: biz-1"
t_status "after 24 hours the key is forgotten: 201" 201
t_is "  not a replay" "$(replayed)" ""
t_is "  a new business" "$(count tenant.businesses "$A_OID")" "$((before + 1))"

# ---- calls and orders ----------------------------------------------------------
biz=$first_id
cbody=$(call_body "$biz")
http_as "$A_AT" POST /v1/calls "$cbody" -H "Idempotency-Key: call-1"
t_status "create a call with a key: 201" 201
call1=$HTTP_BODY
http_as "$A_AT" POST /v1/calls "$cbody" -H "Idempotency-Key: call-1"
t_status "again: 201" 201
t_is "  replayed" "$(replayed)" true
t_is "  the same call" "$HTTP_BODY" "$call1"
t_is "  one call stored" "$(count tenant.calls "$A_OID")" 1
t_is "  its usage queued once (1 call + 1 minute)" "$(count tenant.usage_outbox "$A_OID")" 2

obody=$(order_body "$biz")
http_as "$A_AT" POST /v1/orders "$obody" -H "Idempotency-Key: order-1"
t_status "create an order with a key: 201" 201
order1=$HTTP_BODY
http_as "$A_AT" POST /v1/orders "$obody" -H "Idempotency-Key: order-1"
t_is "  again: the same order, replayed" "$HTTP_STATUS $(replayed) $HTTP_BODY" "201 true $order1"
t_is "  one order stored" "$(count tenant.orders "$A_OID")" 1

# ---- API keys: the secret is shown again to the repeat, and sealed at rest ----
kbody=$(jobj name="CI")
http_as "$A_AT" POST /v1/api-keys "$kbody" -H "Idempotency-Key: key-1"
t_status "create an API key with a key: 201" 201
key1=$HTTP_BODY
secret=$(json_get "$key1" .key)
http_as "$A_AT" POST /v1/api-keys "$kbody" -H "Idempotency-Key: key-1"
t_is "  again: the same key and secret, replayed" "$HTTP_STATUS $(replayed) $HTTP_BODY" "201 true $key1"
t_is "  one API key in A" "$(count auth.api_keys "$A_OID")" 1
http_key "$secret" GET /v1/me
t_status "  the secret works" 200
hex=$(printf '%s' "$secret" | od -An -tx1 | tr -d ' \n')
t_is "  the stored answer does not hold the secret" \
     "$(suite_psql -c "select count(*) from auth.idempotency_keys where position(decode('$hex', 'hex') in body) > 0")" 0
t_is "  but a row for it exists" \
     "$(suite_psql -c "select count(*) from auth.idempotency_keys where organization_id = '$A_OID'")" 1

# ---- invitations and reservations --------------------------------------------
ibody=$(jobj email="new-$(_tenant_next)@example.com" role=user)
http_as "$A_AT" POST /v1/invitations "$ibody" -H "Idempotency-Key: inv-1"
t_status "create an invitation with a key: 201" 201
inv1=$HTTP_BODY
http_as "$A_AT" POST /v1/invitations "$ibody" -H "Idempotency-Key: inv-1"
t_is "  again: the same invitation, replayed" "$HTTP_STATUS $(replayed) $HTTP_BODY" "201 true $inv1"

rbody=$(jobj metric=calls quantity:=1)
http_as "$A_AT" POST /v1/usage/reservations "$rbody" -H "Idempotency-Key: res-1"
t_status "create a reservation with a key: 201" 201
res1=$HTTP_BODY
http_as "$A_AT" POST /v1/usage/reservations "$rbody" -H "Idempotency-Key: res-1"
t_is "  again: the same reservation, replayed" "$HTTP_STATUS $(replayed) $HTTP_BODY" "201 true $res1"
t_is "  one reservation held" \
     "$(suite_psql -c "select count(*) from usage.reservations where organization_id = '$A_OID'")" 1

# ---- routes that create nothing ignore the header ------------------------------
http_as "$A_AT" GET /v1/businesses "" -H "Idempotency-Key: list-1"
t_status "a GET with the header: 200" 200
t_is "  not a replay" "$(replayed)" ""

t_done
