#!/usr/bin/env bash
# Timestamps are RFC 3339 only, on every route that takes one: an API key's
# expires_at (auth-svc), a call's started_at, the from/to of the call and
# order lists and of the analytics overview (tenant-svc), a usage event's
# occurred_at and the from/to of the usage series (usage-svc). PostgreSQL's
# special words (tomorrow, now, epoch, infinity, ...), a date alone, a space
# for the T, no offset, an impossible date or time, an offset beyond ±15:59
# and year zero each get 400 validation_failed naming that field (and only
# it), never a 201 with the database's reading of them. Valid forms (offsets,
# a lower-case t and z, nine fraction digits, second 60) are accepted and
# answered normalized to UTC with microseconds, the same instant.
. "$(dirname "$0")/lib/usage.sh"
suite_init
# No practical rate limit (a few hundred requests here), and analytics in
# the free plan.
usage_plans_file "$SUITE_TMP/plans.json" 1000000
"$SUITE_PYTHON" - "$SUITE_TMP/plans.json" <<'EOF'
import json, sys
catalogue = json.load(open(sys.argv[1]))
for plan in catalogue["plans"]:
    if plan["id"] == "free":
        plan["features"] = sorted(set(plan["features"]) | {"analytics"})
json.dump(catalogue, open(sys.argv[1], "w"))
EOF
export SWITCHBOARD_PLANS_FILE=$SUITE_TMP/plans.json
suite_up
orgs_with_business A
BIZ=$A_BIZ

bad=(tomorrow today yesterday now epoch infinity -infinity allballs
     "2026-12-02" "2026-12-02 10:00:00" "2026-12-02 10:00:00Z" "2026-12-02T10:00:00"
     "2026-02-30T00:00:00Z" "2026-12-02T24:00:00Z" "2026-12-02T10:00:61Z"
     "2026-12-02T10:00:00+16:00" "0000-12-31T23:00:00Z" "J2461011" "1796205600")

for v in "${bad[@]}"; do
    http_as "$A_AT" POST /v1/api-keys "$(jobj name=k expires_at="$v")"
    t_fields "api key expires_at '$v'" expires_at
    http_as "$A_AT" POST /v1/calls "$(call_body "$BIZ" started_at="$v")"
    t_fields "call started_at '$v'" started_at
    http_as "$A_AT" POST /v1/usage/events "$(jobj events:="[$(jobj id="bad-$RANDOM$RANDOM" metric=sms quantity:=1 occurred_at="$v")]")"
    t_fields "usage event occurred_at '$v'" "events[0].occurred_at"
    for path in "/v1/calls?" "/v1/orders?" "/v1/analytics/overview?" "/v1/usage?metric=sms&"; do
        for field in from to; do
            http_as "$A_AT" GET "$path$field=$(urlq "$v")"
            t_fields "GET ${path%%\?*} $field '$v'" "$field"
        done
    done
done

# ---- valid forms, normalized -------------------------------------------------
# norm TEXT: the instant of TEXT as YYYY-MM-DDTHH:MM:SS.ffffffZ, computed
# here with Python's datetime (fraction truncated to microseconds; second 60
# is the next minute's 0, as PostgreSQL reads it).
norm () {
    "$SUITE_PYTHON" - "$1" <<'EOF'
import re, sys
from datetime import datetime, timedelta, timezone
m = re.fullmatch(r"(.{10})[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)", sys.argv[1])
day, h, mi, s, frac, off = m.groups()
extra = 0
if s == "60":
    s, extra = "59", 1
t = datetime.fromisoformat("%sT%s:%s:%s+00:00" % (day, h, mi, s)) + timedelta(seconds=extra)
t += timedelta(microseconds=int(((frac or "") + "000000")[:6]))
if off not in "Zz":
    t -= (1 if off[0] == "+" else -1) * timedelta(hours=int(off[1:3]), minutes=int(off[4:6]))
print(t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
EOF
}

for v in "2031-03-04T05:06:07.123456789+02:00" "2031-01-01t00:00:00z" "2030-06-30T23:59:60Z" \
         "2031-12-31T23:30:00-15:59" "2032-02-29T12:00:00.5Z"; do
    http_as "$A_AT" POST /v1/api-keys "$(jobj name=k expires_at="$v")"
    t_status "api key expires_at '$v': 201" 201
    t_field "  expires_at normalized" .expires_at "$(norm "$v")"
done

# A call started 90 minutes ago, written at +05:30.
started=$("$SUITE_PYTHON" -c '
from datetime import datetime, timedelta, timezone
print((datetime.now(timezone(timedelta(hours=5, minutes=30))) - timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M:%S.123456789+05:30"))')
create_as "$A_AT" /v1/calls "$(call_body "$BIZ" started_at="$started")"
t_ok "call with started_at '$started': 201" test -n "$NEW_ID"
CALL=$NEW_ID
t_field "  started_at normalized" .started_at "$(norm "$started")"
# The list filters read offsets too: the call is inside [started, started
# + 1 µs) and outside [started + 1 µs, ...).
after=$("$SUITE_PYTHON" -c '
import sys
print(sys.argv[1].replace(".123456789+", ".123457+"))' "$started")
http_as "$A_AT" GET "/v1/calls?from=$(urlq "$started")&to=$(urlq "$after")"
t_status "calls from/to with offsets: 200" 200
t_is "  the call is in [started, started + 1 µs)" "$(data_ids "$HTTP_BODY")" "$CALL"
http_as "$A_AT" GET "/v1/calls?from=$(urlq "$after")"
t_status "calls from just after: 200" 200
t_is "  and the call is not there" "$(data_ids "$HTTP_BODY")" ""
http_as "$A_AT" GET "/v1/orders?from=$(urlq "2020-01-01t00:00:00z")&to=$(urlq "$after")"
t_status "orders from/to, lower-case t and z: 200" 200

http_as "$A_AT" GET "/v1/analytics/overview?from=$(urlq "2026-01-01T10:00:00+10:00")&to=$(urlq "2026-02-01T00:00:00.5-01:00")"
t_status "analytics from/to with offsets: 200" 200
t_field "  from normalized" .from "$(norm "2026-01-01T10:00:00+10:00")"
t_field "  to normalized" .to "$(norm "2026-02-01T00:00:00.5-01:00")"

at="2026-01-15T12:00:00.000001+01:00"
http_as "$A_AT" POST /v1/usage/events "$(jobj events:="[$(jobj id=good-1 metric=sms quantity:=7 occurred_at="$at")]")"
t_status "usage event with an offset: 202" 202
http_as "$A_AT" GET "/v1/usage?metric=sms&granularity=hour&from=$(urlq "2026-01-15T13:00:00+02:00")&to=$(urlq "2026-01-15T11:00:00.000002Z")"
t_status "usage series from/to with offsets: 200" 200
t_field "  from normalized" .from "$(norm "2026-01-15T13:00:00+02:00")"
t_field "  to normalized" .to "2026-01-15T11:00:00.000002Z"
t_field "  the event's hour holds it" ".points[0].value" 7

t_done
