#!/usr/bin/env bash
# Billing: `billing-svc stripe-sync` against the fake Stripe API. The
# command needs neither the bus nor the database (commands run before the
# skeleton opens either), so only the fake runs here. The catalogue is the
# shipped one with an overage on starter (calls, 5 cents) and pro (calls,
# 3 cents), both on the meter event switchboard_calls.
#
# First run: for each paid plan a product with the fixed id
# switchboard_<plan>, a monthly price under lookup key
# switchboard_<plan>_month, and for starter and pro one shared meter and a
# metered price each (switchboard_<plan>_calls_overage_month): the exact
# form fields of each creation; every request with the Bearer key, the
# pinned Stripe-Version, a Switchboard User-Agent; every POST form-encoded
# with an Idempotency-Key of its own, no GET with one; the printed ids are
# the fake's objects; --write fills stripe_price_id (plans and overage) and
# changes nothing else. Second run from the written file: the same ids, no
# POST. A changed price: a new price takes the lookup key over
# (transfer_lookup_key), the rest found again. A failed POST (one injected
# 500) is retried with the same Idempotency-Key and creates once; an answer
# with Stripe-Should-Retry: false is not retried; a Stripe that closes
# every connection: exit 1 after the GET was retried. No key: exit 2 with
# the variable named and no request sent; a wrong key: exit 1 naming the
# 401. The secret key appears in no output.
. "$(dirname "$0")/lib/stripe.sh"
suite_init
stripe_fake_start || t_bail "the fake Stripe API did not start"

CATALOGUE=$SUITE_TMP/plans-overage.json
"$SUITE_PYTHON" - "$SUITE_ROOT/deploy/plans.json" "$CATALOGUE" <<'PY' || t_bail "cannot write the catalogue"
import json, sys
doc = json.load(open(sys.argv[1]))
for plan in doc["plans"]:
    if plan["id"] in ("starter", "pro"):
        plan["overage"] = {"calls": {"unit_amount_cents": 5 if plan["id"] == "starter" else 3,
                                     "stripe_price_id": None,
                                     "meter_event_name": "switchboard_calls"}}
json.dump(doc, open(sys.argv[2], "w"), indent=1)
PY
export SWITCHBOARD_PLANS_FILE=$CATALOGUE

# sync [ENV=VALUE...] -- [ARG...]: runs stripe-sync; OUT, ERR, RC.
sync () {
    local envs=()
    while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done
    [[ ${1:-} == -- ]] && shift
    env "${envs[@]}" "$SB_BIN/billing-svc" stripe-sync "$@" >"$SUITE_TMP/out" 2>"$SUITE_TMP/err"
    RC=$?
    OUT=$(cat "$SUITE_TMP/out")
    ERR=$(cat "$SUITE_TMP/err")
    ALL_ERR+=$ERR$'\n'$OUT$'\n'
}
ALL_ERR=

# snap: the fake's request log and objects into files for py.
snap () {
    stripe_requests >"$SUITE_TMP/requests.json"
    stripe_objects >"$SUITE_TMP/objects.json"
}
# py EXPR: evaluates EXPR with R (requests), O (objects), W (the written
# catalogue, when there) and prints it.
py () {
    "$SUITE_PYTHON" -c '
import json, os, sys
R = json.load(open(sys.argv[1])); O = json.load(open(sys.argv[2]))
W = json.load(open(sys.argv[3])) if os.path.exists(sys.argv[3]) else None
posts = [r for r in R if r["method"] == "POST"]
def forms(path): return [r["form"] for r in R if r["method"] == "POST" and r["path"] == path]
def price(key): return [p for p in O["prices"] if p["lookup_key"] == key]
print(eval(sys.argv[4]))' "$SUITE_TMP/requests.json" "$SUITE_TMP/objects.json" \
        "$SUITE_TMP/written.json" "$1"
}
field () { sed -n "s/^plan=$1 .*\\b$2=\\([^ ]*\\).*/\\1/p" <<<"$OUT"; }

# ---- first run ----------------------------------------------------------
sync -- --write "$SUITE_TMP/written.json"
t_is "stripe-sync exits 0" "$RC" 0
t_is "one line per paid plan" "$(grep -c '^plan=' <<<"$OUT")" 3
t_like "starter: price, overage price and meter" "$(grep '^plan=starter' <<<"$OUT")" \
    '^plan=starter price=price_[A-Za-z0-9]+ overage_price=price_[A-Za-z0-9]+ meter=mtr_[A-Za-z0-9]+$'
t_like "enterprise: a price, no overage" "$(grep '^plan=enterprise' <<<"$OUT")" \
    '^plan=enterprise price=price_[A-Za-z0-9]+$'
t_is "free is not synced" "$(grep -c '^plan=free' <<<"$OUT")" 0
FIRST_OUT=$OUT
snap

t_is "every request carries the Bearer key" \
    "$(py "sorted(set(r['headers'].get('authorization') for r in R))")" \
    "['Bearer $FAKE_STRIPE_KEY']"
t_is "every request pins Stripe-Version" \
    "$(py "sorted(set(r['headers'].get('stripe-version') for r in R))")" "['2025-03-31.basil']"
t_is "every request names Switchboard in its User-Agent" \
    "$(py "all('Switchboard' in r['headers'].get('user-agent', '') for r in R)")" True
t_is "every POST is form-encoded" \
    "$(py "sorted(set(r['headers'].get('content-type') for r in posts))")" \
    "['application/x-www-form-urlencoded']"
t_is "every POST has an Idempotency-Key of its own" \
    "$(py "len(set(r['headers'].get('idempotency-key') for r in posts)) == len(posts) and all(r['headers'].get('idempotency-key') for r in posts)")" True
t_is "no GET has an Idempotency-Key" \
    "$(py "[r['path'] for r in R if r['method'] == 'GET' and 'idempotency-key' in r['headers']]")" "[]"
t_is "creations: 3 products, 5 prices, 1 meter" \
    "$(py "(len(forms('/v1/products')), len(forms('/v1/prices')), len(forms('/v1/billing/meters')))")" \
    "(3, 5, 1)"
t_is "the products are looked up by id first" \
    "$(py "[r['path'] for r in R if r['method'] == 'GET' and r['path'].startswith('/v1/products/')]")" \
    "['/v1/products/switchboard_starter', '/v1/products/switchboard_pro', '/v1/products/switchboard_enterprise']"
t_is "the prices are looked up by lookup key (active)" \
    "$(py "[r['query'] for r in R if r['path'] == '/v1/prices' and r['method'] == 'GET'][:2]")" \
    "['lookup_keys[]=switchboard_starter_month&active=true', 'lookup_keys[]=switchboard_starter_calls_overage_month&active=true']"
t_is "the product's form" "$(py "forms('/v1/products')[0]")" \
    "[['id', 'switchboard_starter'], ['name', 'Switchboard Starter'], ['metadata[switchboard_plan]', 'starter']]"
t_is "the pro price's form" "$(py "[f for f in forms('/v1/prices') if ['product', 'switchboard_pro'] in f][0]")" \
    "[['product', 'switchboard_pro'], ['currency', 'usd'], ['unit_amount', '9900'], ['recurring[interval]', 'month'], ['lookup_key', 'switchboard_pro_month'], ['metadata[switchboard_plan]', 'pro']]"
METER=$(field starter meter)
t_is "the meter's form" "$(py "forms('/v1/billing/meters')[0]")" \
    "[['display_name', 'Switchboard switchboard_calls'], ['event_name', 'switchboard_calls'], ['default_aggregation[formula]', 'sum'], ['customer_mapping[type]', 'by_id'], ['customer_mapping[event_payload_key]', 'stripe_customer_id'], ['value_settings[event_payload_key]', 'value']]"
t_is "the meter's raw body: brackets as Stripe's libraries send them, the space encoded" \
    "$(py "[r['body'] for r in posts if r['path'] == '/v1/billing/meters'][0]")" \
    "display_name=Switchboard%20switchboard_calls&event_name=switchboard_calls&default_aggregation[formula]=sum&customer_mapping[type]=by_id&customer_mapping[event_payload_key]=stripe_customer_id&value_settings[event_payload_key]=value"
t_is "the starter overage price's form" \
    "$(py "[f for f in forms('/v1/prices') if ['unit_amount', '5'] in f][0]")" \
    "[['product', 'switchboard_starter'], ['currency', 'usd'], ['unit_amount', '5'], ['recurring[interval]', 'month'], ['recurring[usage_type]', 'metered'], ['recurring[meter]', '$METER'], ['lookup_key', 'switchboard_starter_calls_overage_month'], ['metadata[switchboard_plan]', 'starter']]"

t_is "starter's printed price is the fake's price under its lookup key" \
    "$(py "[p['id'] for p in price('switchboard_starter_month')]")" "['$(field starter price)']"
t_is "pro's printed overage price is metered on the printed meter" \
    "$(py "[(p['id'], p['recurring']['usage_type'], p['recurring']['meter'], p['unit_amount']) for p in price('switchboard_pro_calls_overage_month')]")" \
    "[('$(field pro overage_price)', 'metered', '$(field pro meter)', 3)]"
t_is "starter and pro share the one meter" "$(field pro meter)" "$METER"
t_is "the printed meter is the fake's" "$(py "[(m['id'], m['event_name']) for m in O['meters']]")" \
    "[('$METER', 'switchboard_calls')]"
t_is "--write fills each plan's stripe_price_id" \
    "$(py "[(p['id'], p['stripe_price_id']) for p in W['plans']]")" \
    "[('free', None), ('starter', '$(field starter price)'), ('pro', '$(field pro price)'), ('enterprise', '$(field enterprise price)')]"
t_is "--write fills the overage's stripe_price_id" \
    "$(py "[p['overage']['calls']['stripe_price_id'] for p in W['plans'] if 'overage' in p]")" \
    "['$(field starter overage_price)', '$(field pro overage_price)']"
t_is "--write changes nothing else" \
    "$("$SUITE_PYTHON" -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for p in b["plans"]:
    p["stripe_price_id"] = None
    for o in p.get("overage", {}).values(): o["stripe_price_id"] = None
print(a == b)' "$CATALOGUE" "$SUITE_TMP/written.json")" True

# ---- second run: finds everything ---------------------------------------
BEFORE=$(py "len(R)")
sync SWITCHBOARD_PLANS_FILE="$SUITE_TMP/written.json"
t_is "second run exits 0" "$RC" 0
t_is "second run prints the same ids" "$OUT" "$FIRST_OUT"
snap
t_is "second run creates nothing (no POST)" "$(py "[r['path'] for r in R[$BEFORE:] if r['method'] == 'POST']")" "[]"
t_is "still 5 prices and 1 meter" "$(py "(len(O['prices']), len(O['meters']))")" "(5, 1)"

# ---- a changed price ----------------------------------------------------
"$SUITE_PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
for p in d["plans"]:
    if p["id"] == "pro": p["price_cents"] = 12900
json.dump(d, open(sys.argv[2], "w"))' "$SUITE_TMP/written.json" "$SUITE_TMP/changed.json"
BEFORE=$(py "len(R)")
sync SWITCHBOARD_PLANS_FILE="$SUITE_TMP/changed.json"
t_is "a changed price: exit 0" "$RC" 0
PRO_OLD=$(sed -n 's/^plan=pro price=\([^ ]*\).*/\1/p' <<<"$FIRST_OUT")
t_isnt "pro has a new price" "$(field pro price)" "$PRO_OLD"
t_is "starter's price is found again" "$(field starter price)" \
    "$(sed -n 's/^plan=starter price=\([^ ]*\).*/\1/p' <<<"$FIRST_OUT")"
snap
t_is "one POST: the new pro price, taking the lookup key over" \
    "$(py "[(r['path'], dict(r['form']).get('unit_amount'), dict(r['form']).get('transfer_lookup_key')) for r in R[$BEFORE:] if r['method'] == 'POST']")" \
    "[('/v1/prices', '12900', 'true')]"
t_is "the lookup key now names the new price" \
    "$(py "[p['id'] for p in price('switchboard_pro_month')]")" "['$(field pro price)']"
BEFORE=$(py "len(R)")
sync SWITCHBOARD_PLANS_FILE="$SUITE_TMP/changed.json"
snap
t_is "and the run after it creates nothing" \
    "$(py "[r['path'] for r in R[$BEFORE:] if r['method'] == 'POST']")" "[]"

# ---- retries ------------------------------------------------------------
stripe_reset
stripe_config '{"fail": {"path": "/v1/prices", "method": "POST", "status": 500, "count": 1}}' >/dev/null
sync
t_is "one injected 500 on a price creation: exit 0" "$RC" 0
snap
t_is "the failed POST was repeated with the same Idempotency-Key" \
    "$(py "[(r['status'], r['headers']['idempotency-key'] == posts[1]['headers']['idempotency-key']) for r in posts[1:3]]")" \
    "[(500, True), (200, True)]"
t_is "and created once: 5 prices" "$(py "len(O['prices'])")" 5

stripe_reset
stripe_config '{"fail": {"path": "/v1/products", "status": 500, "count": 5, "should_retry": false}}' >/dev/null
sync
t_is "a 500 with Stripe-Should-Retry: false: exit 1" "$RC" 1
snap
t_is "that POST was sent once" "$(py "len(forms('/v1/products'))")" 1
t_like "the message names what failed and why" "$ERR" \
    'plan starter: creating the product failed: api_error.*HTTP 500, 1 attempt'
stripe_config '{"fail": null}' >/dev/null

stripe_reset
stripe_config '{"down": true}' >/dev/null
sync
t_is "Stripe closing every connection: exit 1" "$RC" 1
t_like "the message says no answer came" "$ERR" 'finding the product failed: network_error'
snap
t_is "the GET was retried (4 attempts)" "$(py "len(R)")" 4
stripe_config '{"down": false}' >/dev/null

# ---- keys ---------------------------------------------------------------
stripe_reset
sync SWITCHBOARD_STRIPE_SECRET_KEY=
t_is "no key: exit 2" "$RC" 2
t_like "no key: the variable is named" "$ERR" 'SWITCHBOARD_STRIPE_SECRET_KEY is not set'
snap
t_is "no key: no request sent" "$(py "len(R)")" 0
sync SWITCHBOARD_STRIPE_SECRET_KEY=sk_test_wrong_key_123
t_is "a wrong key: exit 1" "$RC" 1
t_like "a wrong key: the 401 is named" "$ERR" 'Invalid API Key.*HTTP 401'
t_unlike "the secret keys appear in no output" "$ALL_ERR" "$FAKE_STRIPE_KEY|sk_test_wrong_key_123"
t_unlike "no sanitizer report from any run" "$ALL_ERR" \
    'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:'

t_done
