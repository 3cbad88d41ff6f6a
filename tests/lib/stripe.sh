# tests/lib/stripe.sh — the fake Stripe API for the billing tests (t3xxx).
# shellcheck shell=bash
# Source it after (or instead of) the library a test needs; it sources
# suite.sh once itself:
#
#   . "$(dirname "$0")/lib/stripe.sh"
#
# Server:   stripe_fake_start        the fake Stripe API (tests/fakes/stripe_fake.py)
#                                    as suite process "stripe-fake", on a suite
#                                    port kept for restarts (a suite_stop
#                                    stripe-fake then stripe_fake_start comes
#                                    back on the same URL, with empty state);
#                                    exports SWITCHBOARD_STRIPE_API_BASE
#                                    (http://127.0.0.1:PORT),
#                                    SWITCHBOARD_STRIPE_SECRET_KEY and
#                                    FAKE_STRIPE_KEY (the same sk_test_...
#                                    key) and STRIPE_FAKE_URL. Call it before
#                                    starting the services (they read the
#                                    variables at start)
#           stripe_requests          the request log (JSON array, oldest
#                                    first; see the fake's header for the
#                                    fields)
#           stripe_arrivals          the requests as they arrived, before the
#                                    delay (JSON array of {method, path, time})
#           stripe_objects           the fake's objects by kind (JSON)
#           stripe_config JSON       merge JSON into the fake's configuration
#                                    (delay_ms, fail, down); prints the result
#           stripe_forget_keys       forget the saved Idempotency-Key answers
#                                    (as Stripe does after 24 h), nothing else
#           stripe_reset             forget every object, request and key
# Webhooks: stripe_sign SECRET[,SECRET...] PAYLOAD_FILE [TIMESTAMP]
#                                    print a Stripe-Signature header value
#                                    (tests/lib/stripe_sign.py, written from
#                                    Stripe's documentation; TIMESTAMP
#                                    defaults to now)

[[ -n ${_STRIPE_SH:-} ]] && return 0
_STRIPE_SH=1

. "$(dirname "${BASH_SOURCE[0]}")/suite.sh"

STRIPE_FAKE_URL=
_STRIPE_FAKE_PORT=

stripe_fake_start () {
    local key=stripe-fake log port='' deadline
    [[ -n $SUITE_TMP ]] || { t_diag "stripe_fake_start: call suite_init first"; return 1; }
    log=$SUITE_TMP/log/$key.log
    if [[ -z $_STRIPE_FAKE_PORT ]]; then
        suite_free_port _STRIPE_FAKE_PORT || return 1
    fi
    export FAKE_STRIPE_KEY=sk_test_switchboard_fake_4242
    _suite_start "$key" "$SUITE_PYTHON" "$SUITE_ROOT/tests/fakes/stripe_fake.py" \
                 "$_STRIPE_FAKE_PORT" "$SUITE_TMP/stripe-fake" || return 1
    # The fake prints its port once it listens: the first number after the
    # latest "starting" line of its log.
    deadline=$((SECONDS + 10))
    while :; do
        port=$(awk '/^==== / { p = "" } /^[0-9]+$/ && p == "" { p = $0 } END { print p }' "$log")
        [[ -n $port ]] && break
        if ! suite_running "$key" || (( SECONDS >= deadline )); then
            t_diag "stripe_fake_start: the fake did not start:" "$(tail -n 20 "$log")"
            return 1
        fi
        sleep 0.05
    done
    STRIPE_FAKE_URL=http://127.0.0.1:$port
    export STRIPE_FAKE_URL
    export SWITCHBOARD_STRIPE_API_BASE=$STRIPE_FAKE_URL
    export SWITCHBOARD_STRIPE_SECRET_KEY=$FAKE_STRIPE_KEY
    return 0
}

_stripe_control () {
    [[ -n $STRIPE_FAKE_URL ]] || { t_diag "stripe: call stripe_fake_start first"; return 2; }
    curl -sS --max-time 10 -X "$1" -H 'Content-Type: application/json' \
         ${3:+--data-binary "$3"} "$STRIPE_FAKE_URL/__fake/$2"
}

stripe_requests () { _stripe_control GET requests; }
stripe_objects () { _stripe_control GET objects; }
stripe_arrivals () { _stripe_control GET arrivals; }
stripe_forget_keys () { _stripe_control POST forget_keys '{}' >/dev/null; }
stripe_reset () { _stripe_control POST reset '{}' >/dev/null; }
stripe_config () { _stripe_control POST config "$1"; }

stripe_sign () {
    "$SUITE_PYTHON" "$SUITE_ROOT/tests/lib/stripe_sign.py" "$@"
}
