#!/usr/bin/env bash
# Every binary answers --help and --version; bad configuration stops it at
# start with a message naming the variable.
. "$(dirname "$0")/lib/suite.sh"
suite_init
for b in gateway auth-svc tenant-svc billing-svc usage-svc sb-call sb-events; do
    out=$("$SB_BIN/$b" --version 2>&1)
    t_like "$b --version" "$out" "^$b [0-9]+\.[0-9]+\.[0-9]+$"
    out=$("$SB_BIN/$b" --help 2>&1)
    t_is "$b --help exits 0" "$?" 0
    t_like "$b --help says how to use it" "$out" "[Uu]sage"
done
out=$("$SB_BIN/gateway" --help)
t_like "--help lists the configuration" "$out" "SWITCHBOARD_BROKER"
"$SB_BIN/tenant-svc" --bogus 2>/dev/null
t_is "an unknown argument exits 2" "$?" 2

out=$(SWITCHBOARD_HTTP_PORT=99999 "$SB_BIN/gateway" 2>&1)
t_is "a bad port exits 2" "$?" 2
t_like "naming the variable" "$out" "SWITCHBOARD_HTTP_PORT"
out=$(SWITCHBOARD_BROKER=http://nope "$SB_BIN/usage-svc" 2>&1)
t_is "a bad broker endpoint exits 2" "$?" 2
t_like "naming the variable" "$out" "SWITCHBOARD_BROKER"
out=$(env -u SWITCHBOARD_DATABASE_URL -u SWITCHBOARD_BILLING_DATABASE_URL "$SB_BIN/billing-svc" 2>&1)
t_is "a service without a database exits 2" "$?" 2
t_like "saying which variable to set" "$out" "SWITCHBOARD_BILLING_DATABASE_URL"
t_like "logs are JSON lines" "$out" '^\{"ts":"[0-9T:.-]+Z","level":"error","component":"billing-svc"'

# The plan catalogue: billing-svc owns it (the others ask it for
# entitlements); the skeleton loads it before the database, and a bad file
# stops billing-svc naming the field.
printf '%s' '{"plans":[{"id":"free","name":"Free","price_cents":0,"currency":"USD","interval":"month","stripe_price_id":null,"limits":{"calls_per_month":"lots","businesses":1,"seats":2,"api_requests_per_minute":60},"features":[]}],"referral_credit_cents":0}' \
    > "$SUITE_TMP/bad-plans.json"
for b in billing-svc; do
    out=$(SWITCHBOARD_PLANS_FILE=$SUITE_TMP/bad-plans.json SWITCHBOARD_DATABASE_URL=postgresql://127.0.0.1:1/none \
          timeout 20 "$SB_BIN/$b" 2>&1)
    t_is "$b with a bad plans file exits 2" "$?" 2
    t_like "  naming the field" "$out" 'bad plan catalogue.*calls_per_month'
done
t_done
