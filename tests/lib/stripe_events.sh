# tests/lib/stripe_events.sh — Stripe webhook deliveries for the billing
# tests (t3020, t3021). Sources stripe.sh (and through it suite.sh).
# shellcheck shell=bash
#
#   stripe_event FILE ID TYPE CREATED OBJECT_JSON
#           write a Stripe event to FILE, exactly the bytes to sign and send:
#           {"id", "object": "event", "type", "created", "api_version",
#            "livemode": false, "data": {"object": OBJECT_JSON}}
#   stripe_post FILE [SECRETS [TIMESTAMP [BODY_FILE]]]
#           POST /v1/billing/webhook with the body of BODY_FILE (default
#           FILE) and a Stripe-Signature made over FILE by stripe_sign.py
#           with SECRETS (default $WEBHOOK_SECRET; "-" sends no header) at
#           TIMESTAMP (default now); sets HTTP_STATUS and HTTP_BODY as http

[[ -n ${_STRIPE_EVENTS_SH:-} ]] && return 0
_STRIPE_EVENTS_SH=1

. "$(dirname "${BASH_SOURCE[0]}")/stripe.sh"

stripe_event () {
    "$SUITE_PYTHON" - "$@" <<'PY'
import json, sys
path, eid, etype, created, obj = sys.argv[1:6]
event = {"id": eid, "object": "event", "type": etype, "created": int(created),
         "api_version": "2025-03-31.basil", "livemode": False,
         "data": {"object": json.loads(obj)}}
with open(path, "wb") as f:
    f.write(json.dumps(event, separators=(",", ":")).encode("utf-8"))
PY
}

stripe_post () {
    local file=$1 secrets=${2:-$WEBHOOK_SECRET} ts=${3:-} body=${4:-$1} sig
    local args=(--data-binary "@$body" -H 'Content-Type: application/json')
    if [[ $secrets != - ]]; then
        sig=$(stripe_sign "$secrets" "$file" $ts) || return 1
        args+=(-H "Stripe-Signature: $sig")
    fi
    http POST /v1/billing/webhook "" "${args[@]}"
}
