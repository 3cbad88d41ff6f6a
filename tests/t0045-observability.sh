#!/usr/bin/env bash
# Observability: the request id and the organization in every process's log
# lines, and GET /metrics.
#
# Logs: a request with a chosen X-Request-Id that touches several services
# (GET /v1/billing/subscription: the gateway, billing-svc, and tenant-svc
# and auth-svc, which billing calls) leaves, in the log of the gateway and
# of at least two services, lines carrying that id — billing's calls carry
# it as a prefix ("<id>:<8 hex>", service.c's sb_ctx_call) — with the
# organization; every line of every log is one JSON object with ts, level,
# component, pid and msg.
#
# Metrics: /metrics answers only to the operator's token when one is set
# (the suite sets one), to anyone when none is; the text passes `promtool check metrics`; requests
# are counted by route template and status (an unknown path as "unmatched",
# never the raw path; no organization anywhere); latency and bus round-trip
# histograms; live workers and sys.stats per service; a service stopped
# shows workers 0 and service_up 0, and the usage outbox it leaves undelivered
# shows as tenant's backlog; rate-limit refusals by kind; Stripe events by
# type and outcome. The Grafana dashboard and the alerting rules in deploy/
# name only metrics the scrape has.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
# Signup and login per client address: a few, so that the test can pass it.
export SWITCHBOARD_AUTH_RATE_PER_MINUTE=4
suite_up

command -v promtool >/dev/null || t_bail "promtool missing (Debian package prometheus: deploy/local/deps.sh test)"

new_orgs A

# ---- the request id across processes ------------------------------------
rid=t0045-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
http_as "$A_AT" GET /v1/billing/subscription "" -H "X-Request-Id: $rid"
t_status "GET /v1/billing/subscription with X-Request-Id" 200
t_is "  the id comes back" "$(http_header X-Request-Id)" "$rid"

# Lines are written as they happen; give the last ones a moment to land.
sleep 0.5
report=$("$SUITE_PYTHON" - "$SUITE_TMP/log" "$rid" "$A_OID" <<'EOF'
import json, os, sys
logdir, rid, org = sys.argv[1:4]
bad, seen = [], {}
for name in sorted(os.listdir(logdir)):
    if not name.endswith(".log") or name == "pg.sh.log":
        continue
    proc = name[:-4]
    for n, line in enumerate(open(os.path.join(logdir, name), errors="replace"), 1):
        if not line.startswith("{"):
            continue                # the suite's own "==== starting" lines
        try:
            obj = json.loads(line)
        except ValueError:
            bad.append("%s:%d not JSON" % (name, n))
            continue
        missing = [k for k in ("ts", "level", "component", "pid", "msg") if k not in obj]
        if missing or not isinstance(obj, dict):
            bad.append("%s:%d lacks %s" % (name, n, ",".join(missing)))
            continue
        req = obj.get("request_id", "")
        if req == rid or req.startswith(rid + ":"):
            s = seen.setdefault(proc, {"lines": 0, "org": 0, "other_org": 0})
            s["lines"] += 1
            if obj.get("org") == org:
                s["org"] += 1
            elif "org" in obj:
                s["other_org"] += 1
for b in bad[:5]:
    print("BAD " + b)
for proc in sorted(seen):
    s = seen[proc]
    print("%s lines=%d org=%d other_org=%d" % (proc, s["lines"], s["org"], s["other_org"]))
EOF
)
t_diag "$report"
t_unlike "every log line is one JSON object with ts, level, component, pid, msg" "$report" "BAD "
t_like "  the gateway logged the request with its id and organization" "$report" "gateway-1 lines=[1-9][0-9]* org=[1-9]"
t_like "  billing-svc logged it with the organization" "$report" "billing-1 lines=[1-9][0-9]* org=[1-9]"
services=$(grep -cE '^(auth|tenant|billing|usage)-1 lines=[1-9]' <<<"$report")
t_ok "  at least two services logged it (got $services)" test "$services" -ge 2
t_unlike "  never with another organization" "$report" "other_org=[1-9]"

# ---- /metrics: who may read it ------------------------------------------
http GET /metrics
t_error "/metrics without the operator token: 401" 401 unauthenticated
http GET /metrics "" -H "Authorization: Bearer not-the-operator-token"
t_error "  with another token: 401" 401 unauthenticated
http_op GET /metrics
t_status "  with the operator token: 200" 200
t_like "  in the Prometheus text format" "$(http_header Content-Type)" "^text/plain; version=0.0.4"

# ---- what it counts -------------------------------------------------------
junk=/no/such/path-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
http GET "$junk"
t_status "an unknown path: 404" 404
# Three logins from this address (the signup was the first): the fourth is
# refused by the per-address limit.
for i in 1 2 3 4; do
    http POST /v1/auth/login '{"email":"nobody@example.com","password":"wrong password 1"}'
done
t_status "the 5th signup/login from one address in a minute: 429" 429
# A Stripe event as billing-svc records it (the webhook itself is t3020's).
suite_psql -c "insert into billing.webhook_events (id, type, created, outcome) values ('evt_t0045', 'invoice.paid', 1, 'applied')" >/dev/null

# usage-svc stopped: tenant's usage outbox cannot be delivered.
suite_stop usage-1
http_as "$A_AT" POST /v1/businesses "$(biz_body)"
t_status "a business while usage-svc is down" 201
business=$(json_get "$HTTP_BODY" .id)
http_as "$A_AT" GET "/v1/businesses/$business"
t_status "  read back by its id" 200
http_as "$A_AT" POST /v1/calls "$(call_body "$business")"
t_status "a call while usage-svc is down (its usage waits in the outbox)" 201

scrape=$SUITE_TMP/metrics.txt
http_op GET /metrics
t_status "scrape" 200
printf '%s\n' "$HTTP_BODY" > "$scrape"
out=$(promtool check metrics < "$scrape" 2>&1)
t_is "promtool check metrics passes on a real scrape" "$?:$out" "0:"

# The value of one sample, exactly as written (labels in our order).
sample () { awk -v k="$1" 'index($0, k " ") == 1 { print $NF; exit }' "$scrape"; }
positive () { "$SUITE_PYTHON" -c 'import sys; sys.exit(0 if float(sys.argv[1] or 0) > 0 else 1)' "${1:-0}"; }

t_ok "requests by route template and status" \
    positive "$(sample 'switchboard_http_requests_total{route="GET /v1/billing/subscription",status="200"}')"
t_ok "  a path with an id counts under its template" \
    positive "$(sample 'switchboard_http_requests_total{route="GET /v1/businesses/{id}",status="200"}')"
t_ok "  an unknown path as unmatched" \
    positive "$(sample 'switchboard_http_requests_total{route="unmatched",status="404"}')"
t_is "  never the raw path" "$(grep -cF "${junk#/}" "$scrape")" 0
t_is "  never an organization id" "$(grep -cF "$A_OID" "$scrape")" 0
t_is "  nor a business id" "$(grep -cF "$business" "$scrape")" 0
t_ok "  401 of /metrics itself counted" \
    positive "$(sample 'switchboard_http_requests_total{route="GET /metrics",status="401"}')"
t_ok "latency histogram by route" \
    positive "$(sample 'switchboard_http_request_duration_seconds_count{route="GET /v1/billing/subscription"}')"
t_is "  its +Inf bucket is its count" \
    "$(sample 'switchboard_http_request_duration_seconds_bucket{route="GET /v1/billing/subscription",le="+Inf"}')" \
    "$(sample 'switchboard_http_request_duration_seconds_count{route="GET /v1/billing/subscription"}')"
t_ok "bus round trips to billing counted" \
    positive "$(sample 'switchboard_bus_requests_total{service="billing",outcome="reply"}')"
t_ok "  with their histogram" \
    positive "$(sample 'switchboard_bus_round_trip_seconds_count{service="billing"}')"
for s in auth tenant billing; do
    t_ok "live workers of $s" positive "$(sample "switchboard_workers{service=\"$s\"}")"
    t_is "  $s answered sys.stats" "$(sample "switchboard_service_up{service=\"$s\"}")" 1
done
t_is "usage stopped: no live worker" "$(sample 'switchboard_workers{service="usage"}')" 0
t_is "  and service_up 0" "$(sample 'switchboard_service_up{service="usage"}')" 0
t_ok "tenant's usage outbox backlog shows the undelivered usage" \
    positive "$(sample 'switchboard_outbox_backlog{service="tenant",outbox="usage_outbox"}')"
t_ok "  and the age of its oldest row" \
    test -n "$(sample 'switchboard_outbox_oldest_seconds{service="tenant",outbox="usage_outbox"}')"
for o in auth:mail_outbox auth:org_deletions auth:referral_outbox billing:mail_outbox billing:meter_reports billing:credits; do
    t_is "backlog of ${o%%:*}'s ${o#*:} (empty)" \
        "$(sample "switchboard_outbox_backlog{service=\"${o%%:*}\",outbox=\"${o#*:}\"}")" 0
done
t_is "Stripe events by type and outcome" \
    "$(sample 'switchboard_webhook_events{service="billing",type="invoice.paid",outcome="applied"}')" 1
t_ok "rate-limit refusals by kind: client_address" \
    positive "$(sample 'switchboard_rate_limited_total{kind="client_address"}')"
t_is "  organization: none" "$(sample 'switchboard_rate_limited_total{kind="organization"}')" 0

# The dashboard and the alerting rules use only names a real scrape has.
missing=$("$SUITE_PYTHON" "$SUITE_ROOT/tests/lib/metric_names.py" "$scrape" \
          "$SUITE_ROOT/deploy/grafana/switchboard.json" "$SUITE_ROOT/deploy/prometheus/alerts.yml" 2>&1)
t_is "deploy/grafana and deploy/prometheus use only metrics /metrics has" "$?:$missing" "0:"

# usage-svc back: it answers again.
suite_start_service usage
suite_wait_ready 30
http_op GET /metrics
printf '%s\n' "$HTTP_BODY" > "$scrape"
t_is "usage back: service_up 1" "$(sample 'switchboard_service_up{service="usage"}')" 1

# No operator token configured: /metrics answers anyone (a development
# set-up; deployments that expose the gateway set the token).
suite_stop gateway-1 || t_fail "the gateway stops cleanly"
SWITCHBOARD_OPERATOR_TOKEN= suite_start_gateway
suite_wait_ready 60 || t_bail "the gateway did not come back"
http GET /metrics
t_status "no operator token configured: /metrics without a credential: 200" 200
printf '%s\n' "$HTTP_BODY" > "$scrape"
t_is "  the counts started again with the process" \
    "$(sample 'switchboard_http_requests_total{route="GET /v1/billing/subscription",status="200"}')" ""
for s in auth tenant billing usage; do
    t_is "  $s answered sys.stats" "$(sample "switchboard_service_up{service=\"$s\"}")" 1
done

t_done
