#!/usr/bin/env bash
# Analytics overview: GET /v1/analytics/overview against figures computed
# here, independently, in Python with zoneinfo from the same seed data.
# The data (inserted as the superuser, which bypasses row-level security)
# are two organizations' businesses, calls and orders, the second only as
# noise that must not leak in; calls sit on day edges and DST changes of
# America/Los_Angeles (spring forward 2024-03-10, fall back 2024-11-03) and
# America/New_York, orders in several currencies and all four statuses, a
# currency whose orders are all cancelled. Checked: every figure for ranges
# in the oldest business's zone (the default), an explicit UTC and a
# half-hour zone, a business's own zone, the default range (the last 30
# days), an organization with no business (UTC, zeros), [from, to) edges,
# the 366-day limit, bad arguments (400 with fields), another
# organization's or an unknown business (404), no credential (401).
. "$(dirname "$0")/lib/tenant.sh"
suite_init
suite_up

new_orgs A B C

# ---- the seed and the expected figures ---------------------------------------
#   analytics.py seed ORG_A ORG_B NOW SEEDFILE     SQL on stdout; the rows in SEEDFILE
#   analytics.py expect SEEDFILE ORG FROM TO TZ BUSINESS|-    expected overview JSON
#   analytics.py compare EXPECTED ACTUAL           "section<TAB>got<TAB>expected" lines
py=$SUITE_TMP/analytics.py
cat > "$py" <<'EOF'
import json, math, random, sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal, ROUND_HALF_UP
from zoneinfo import ZoneInfo

UTC = timezone.utc
LA, NY, PARIS = ("a1000000-0000-4000-8000-000000000001", "a1000000-0000-4000-8000-000000000002",
                 "b2000000-0000-4000-8000-000000000001")
CALL_STATUSES = ["completed", "missed", "voicemail", "transferred"]
ORDER_STATUSES = ["pending", "confirmed", "fulfilled", "cancelled"]

def utc(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)

def rfc(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

def seed(org_a, org_b, now):
    rng = random.Random(2005)
    calls, orders = [], []
    def call(org, biz, t, seconds, status):
        calls.append(dict(org=org, biz=biz, t=t, seconds=seconds, status=status))
    def order(org, biz, t, cents, currency, status):
        orders.append(dict(org=org, biz=biz, t=t, cents=cents, currency=currency, status=status))
    # Edges in Los Angeles, spring: local midnights, the UTC midnight that
    # is not a local one, the skipped hour, the range's own edges.
    for t, s, st in [("2024-03-08T07:59:59Z", 61, "completed"),    # before the range
                     ("2024-03-08T08:00:00Z", 60, "completed"),    # = from, 03-08 00:00 PST
                     ("2024-03-09T07:59:59Z", 0, "missed"),        # 03-08 23:59:59
                     ("2024-03-09T08:00:00Z", 1, "voicemail"),     # 03-09 00:00
                     ("2024-03-10T00:30:00Z", 119, "transferred"), # 03-09 16:30, UTC 03-10
                     ("2024-03-13T06:59:59.999Z", 3599, "completed"),  # 03-12 23:59:59.999 PDT
                     ("2024-03-13T07:00:00Z", 45, "completed")]:   # = to: out
        call(org_a, LA, utc(t), s, st)
    # The 23-hour day 2024-03-10 (PST until 10:00Z, PDT after): handpicked
    # only, with ties among the busiest hours (hour asc breaks them).
    day = [("08:00:00", 30), ("08:59:59", 30), ("09:15:00", 300), ("09:59:59", 59),
           ("10:00:00", 61), ("10:30:00", 120), ("10:59:59", 7), ("16:00:00", 600),
           ("16:10:00", 600), ("17:00:00", 1), ("18:00:00", 2), ("19:00:00", 3),
           ("20:00:00", 4), ("20:30:00", 5), ("21:00:00", 6), ("21:10:00", 6)]
    for i, (hms, s) in enumerate(day):
        call(org_a, LA if i % 3 else NY, utc("2024-03-10T%sZ" % hms), s, CALL_STATUSES[i % 4])
    call(org_a, LA, utc("2024-03-11T06:59:59Z"), 10, "completed")   # 03-10 23:59:59 PDT
    call(org_a, LA, utc("2024-03-11T07:00:00Z"), 10, "missed")      # 03-11 00:00 PDT
    # Fall back in New York (06:00Z) and Los Angeles (09:00Z): the repeated hour.
    for t in ["2024-11-03T05:30:00Z", "2024-11-03T06:30:00Z", "2024-11-03T08:30:00Z",
              "2024-11-03T09:30:00Z", "2024-11-04T04:59:59Z", "2024-11-04T05:00:00Z",
              "2024-11-04T07:59:59Z", "2024-11-04T08:00:00Z"]:
        call(org_a, NY, utc(t), 90, "completed")
        call(org_a, LA, utc(t), 30, "voicemail")
    # Many more at random in both seasons, never on the handpicked day.
    windows = [(utc("2024-03-05T00:00:00Z"), utc("2024-03-17T00:00:00Z")),
               (utc("2024-10-29T00:00:00Z"), utc("2024-11-08T00:00:00Z"))]
    skip = (utc("2024-03-10T08:00:00Z"), utc("2024-03-11T07:00:00Z"))
    def instant():
        while True:
            lo, hi = windows[rng.randrange(2)]
            t = lo + timedelta(seconds=rng.randrange(int((hi - lo).total_seconds())),
                               milliseconds=rng.randrange(1000))
            if not skip[0] <= t < skip[1]:
                return t
    for _ in range(420):
        seconds = rng.choice([0, 1, 59, 60, 61, 119, 120, 121, 600, 3599, 3600, 86400,
                              rng.randrange(2400)])
        call(org_a, rng.choice([LA, LA, NY]), instant(), seconds,
             rng.choices(CALL_STATUSES, [6, 3, 2, 1])[0])
    for _ in range(160):
        order(org_a, rng.choice([LA, NY]), instant(), rng.randrange(50000),
              rng.choice(["USD", "USD", "EUR", "CAD", "JPY"]), rng.choice(ORDER_STATUSES))
    for _ in range(4):   # a currency with nothing but cancelled orders
        order(org_a, LA, instant(), 1000 + rng.randrange(1000), "GBP", "cancelled")
    order(org_a, NY, utc("2024-03-08T08:00:00Z"), 777, "CHF", "confirmed")   # = from: in
    order(org_a, NY, utc("2024-03-13T07:00:00Z"), 888, "CHF", "confirmed")   # = to: out
    # The noise: organization B at the same instants, in an older business.
    for c in list(calls):
        if rng.random() < 0.6:
            call(org_b, PARIS, c["t"], 3000, "completed")
    for o in list(orders):
        order(org_b, PARIS, o["t"], 99999, "USD", "fulfilled")
    # Relative to now, for the default range (the last 30 days).
    for ago, biz, s, st in [(3600, LA, 125, "completed"), (864000, NY, 30, "missed"),
                            (2505600, LA, 70, "transferred"), (2678400, LA, 60, "completed")]:
        call(org_a, biz, now - timedelta(seconds=ago), s, st)
    order(org_a, LA, now - timedelta(hours=2), 1000, "USD", "pending")
    order(org_a, LA, now - timedelta(days=40), 5000, "USD", "pending")
    return calls, orders

def sql(org_a, org_b, calls, orders):
    out = ["BEGIN;",
           "INSERT INTO tenant.businesses (organization_id, id, name, phone_number, timezone,"
           " created_at) VALUES"
           " ('%s', '%s', 'Pizza LA', '+13105550101', 'America/Los_Angeles', '2023-06-01T00:00:00Z'),"
           " ('%s', '%s', 'Deli NY', '+12125550101', 'America/New_York', '2023-07-01T00:00:00Z'),"
           " ('%s', '%s', 'Cafe Paris', '+33144556677', 'Europe/Paris', '2023-01-01T00:00:00Z');"
           % (org_a, LA, org_a, NY, org_b, PARIS)]
    for i, c in enumerate(calls):
        out.append("INSERT INTO tenant.calls (organization_id, id, business_id, caller_number,"
                   " started_at, duration_seconds, status) VALUES ('%s', '%s', '%s',"
                   " '+15555550100', '%s', %d, '%s');"
                   % (c["org"], "c0000000-0000-4000-8000-%012d" % i, c["biz"],
                      c["t"].isoformat(), c["seconds"], c["status"]))
    for i, o in enumerate(orders):
        out.append("INSERT INTO tenant.orders (organization_id, id, business_id, customer_name,"
                   " items, total_cents, currency, status, created_at) VALUES ('%s', '%s', '%s',"
                   " 'Customer', '[]', %d, '%s', '%s', '%s');"
                   % (o["org"], "d0000000-0000-4000-8000-%012d" % i, o["biz"], o["cents"],
                      o["currency"], o["status"], o["t"].isoformat()))
    out.append("COMMIT;")
    return "\n".join(out)

def half_up(value, places):
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)

def expect(calls, orders, org, frm, to, tz, biz):
    zone = ZoneInfo(tz)
    mine = lambda r: r["org"] == org and frm <= r["t"] < to and biz in (None, r["biz"])
    cs = [c for c in calls if mine(c)]
    os_ = [o for o in orders if mine(o)]
    minutes = lambda s: (s + 59) // 60
    first = frm.astimezone(zone).date()
    last = (to - timedelta(microseconds=1)).astimezone(zone).date()
    by_day = {}
    d = first
    while d <= last:
        by_day[d] = [0, 0]
        d += timedelta(days=1)
    hours = {}
    for c in cs:
        local = c["t"].astimezone(zone)
        by_day[local.date()][0] += 1
        by_day[local.date()][1] += minutes(c["seconds"])
        hours[local.hour] = hours.get(local.hour, 0) + 1
    revenue = {}
    for o in os_:
        if o["status"] != "cancelled":
            revenue[o["currency"]] = revenue.get(o["currency"], 0) + o["cents"]
    n = len(cs)
    return {
        "from": rfc(frm), "to": rfc(to), "timezone": tz, "business_id": biz,
        "calls": {
            "total": n,
            "minutes": sum(minutes(c["seconds"]) for c in cs),
            "average_duration_seconds":
                float(half_up(Decimal(sum(c["seconds"] for c in cs)) / n, 1)) if n else 0,
            "by_status": {s: sum(c["status"] == s for c in cs) for s in CALL_STATUSES},
            "by_day": [{"date": d.isoformat(), "calls": v[0], "minutes": v[1]}
                       for d, v in sorted(by_day.items())],
        },
        "orders": {
            "total": len(os_),
            "by_status": {s: sum(o["status"] == s for o in os_) for s in ORDER_STATUSES},
            "revenue": [{"currency": k, "cents": v} for k, v in sorted(revenue.items())],
        },
        "conversion": float(half_up(Decimal(len(os_)) / n, 4)) if n else 0,
        "busiest_hours": [{"hour": h, "calls": k}
                          for h, k in sorted(hours.items(), key=lambda x: (-x[1], x[0]))[:5]],
    }

def load(path):
    with open(path) as f:
        doc = json.load(f)
    for r in doc["calls"] + doc["orders"]:
        r["t"] = utc(r["t"])
    return doc["calls"], doc["orders"]

def norm(v):
    # Numbers compare as numbers (1 == 1.0), to 9 decimals; key order aside.
    if isinstance(v, dict):
        return {k: norm(x) for k, x in v.items()}
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return round(float(v), 9)
    return v

SECTIONS = ["from", "to", "timezone", "business_id", "calls.total", "calls.minutes",
            "calls.average_duration_seconds", "calls.by_status", "calls.by_day", "orders.total",
            "orders.by_status", "orders.revenue", "conversion", "busiest_hours"]

def pick(doc, path):
    for key in path.split("."):
        if not isinstance(doc, dict) or key not in doc:
            return "<absent>"
        doc = doc[key]
    return doc

cmd = sys.argv[1]
if cmd == "seed":
    org_a, org_b, now, path = sys.argv[2:6]
    calls, orders = seed(org_a, org_b, utc(now))
    with open(path, "w") as f:
        json.dump({"calls": calls, "orders": orders}, f, default=lambda t: t.isoformat())
    print(sql(org_a, org_b, calls, orders))
elif cmd == "expect":
    calls, orders = load(sys.argv[2])
    org, frm, to, tz, biz = sys.argv[3:8]
    print(json.dumps(expect(calls, orders, org, utc(frm), utc(to), tz,
                            None if biz == "-" else biz)))
elif cmd == "compare":
    want, got = json.loads(sys.argv[2]), json.loads(sys.argv[3])
    extra = sorted(set(got) - set(want)) if isinstance(got, dict) else []
    for s in SECTIONS:
        a, b = norm(pick(got, s)), norm(pick(want, s))
        dump = lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"))
        print("%s\t%s\t%s" % (s, dump(a), dump(b)))
    print("(other keys)\t%s\t[]" % json.dumps(extra))
elif cmd == "shift":   # shift TIME SECONDS: RFC 3339 of TIME + SECONDS
    print(rfc(utc(sys.argv[2]) + timedelta(seconds=float(sys.argv[3]))))
EOF
ana () { "$SUITE_PYTHON" "$py" "$@"; }

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
seedfile=$SUITE_TMP/seed.json
ana seed "$A_OID" "$B_OID" "$now" "$seedfile" > "$SUITE_TMP/seed.sql" || t_bail "cannot make the seed"
suite_psql -f "$SUITE_TMP/seed.sql" > /dev/null || t_bail "cannot insert the seed"
la=a1000000-0000-4000-8000-000000000001
ny=a1000000-0000-4000-8000-000000000002
paris=b2000000-0000-4000-8000-000000000001

# figures NAME ORG FROM TO TZ BUSINESS|-: every section of the last answer
# against the figures expected for ORG's data in [FROM, TO) in TZ.
figures () {
    local name=$1 want section got exp
    want=$(ana expect "$seedfile" "$2" "$3" "$4" "$5" "$6")
    while IFS=$'\t' read -r section got exp; do
        t_is "$name: $section" "$got" "$exp"
    done < <(ana compare "$want" "$HTTP_BODY")
}
# overview NAME TOKEN ORG QUERY FROM TO TZ BUSINESS|-: GET with QUERY (already
# encoded), then its figures.
overview () {
    local name=$1 tok=$2 query=$4
    http_as "$tok" GET "/v1/analytics/overview${query:+?$query}"
    t_status "$name: 200" 200
    [[ $HTTP_STATUS == 200 ]] || return 1
    figures "$name" "$3" "$5" "$6" "$7" "$8"
}
q () {  # q KEY VALUE ...: a query string, values percent-encoded
    local out='' sep=''
    while (( $# >= 2 )); do out+="$sep$1=$(urlq "$2")"; sep='&'; shift 2; done
    printf '%s' "$out"
}

# ---- figures ------------------------------------------------------------------
# Spring in the oldest business's zone (A's Los Angeles, not B's older
# Paris): 03-08 00:00 PST to 03-13 00:00 PDT, five local days, one of 23 h.
spring_from=2024-03-08T08:00:00Z spring_to=2024-03-13T07:00:00Z
overview "spring, default zone" "$A_AT" "$A_OID" "$(q from "$spring_from" to "$spring_to")" \
    "$spring_from" "$spring_to" America/Los_Angeles -
t_is "  five days" "$(json_len "$HTTP_BODY" .calls.by_day)" 5
t_is "  the 23-hour day" "$(json_get "$HTTP_BODY" .calls.by_day[2].date)" 2024-03-10
t_is "  conversion is a number" "$(json_get "$HTTP_BODY" .conversion | tr -d '0-9.')" ""

overview "spring, UTC" "$A_AT" "$A_OID" \
    "$(q from "$spring_from" to "$spring_to" timezone UTC)" "$spring_from" "$spring_to" UTC -
t_is "  six UTC days" "$(json_len "$HTTP_BODY" .calls.by_day)" 6

# The handpicked day alone, with offsets in the arguments.
overview "the DST day" "$A_AT" "$A_OID" \
    "$(q from 2024-03-10T00:00:00-08:00 to 2024-03-11T00:00:00-07:00)" \
    2024-03-10T08:00:00Z 2024-03-11T07:00:00Z America/Los_Angeles -
t_is "  one day" "$(json_len "$HTTP_BODY" .calls.by_day)" 1
t_unlike "  no local 02:00 on that day" "$(json_get "$HTTP_BODY" .busiest_hours)" '"hour":2[,}]'

# Fall back, one business, in its own zone.
fall_from=2024-10-31T04:00:00Z fall_to=2024-11-06T05:00:00Z
overview "fall, New York business" "$A_AT" "$A_OID" \
    "$(q from "$fall_from" to "$fall_to" business_id "$ny")" "$fall_from" "$fall_to" \
    America/New_York "$ny"
overview "fall, Los Angeles business in Kolkata time" "$A_AT" "$A_OID" \
    "$(q from "$fall_from" to "$fall_to" business_id "$la" timezone Asia/Kolkata)" \
    "$fall_from" "$fall_to" Asia/Kolkata "$la"

# Both seasons at once, a fraction of a second in the arguments.
overview "March to November" "$A_AT" "$A_OID" \
    "$(q from 2024-03-01T00:00:00.250Z to 2024-11-30T00:00:00+01:00)" \
    2024-03-01T00:00:00.250Z 2024-11-29T23:00:00Z America/Los_Angeles -

# The default range: the last 30 days, to = now.
http_as "$A_AT" GET /v1/analytics/overview
t_status "defaults: 200" 200
d_to=$(json_get "$HTTP_BODY" .to)
d_from=$(json_get "$HTTP_BODY" .from)
t_is "  from is 30 days before to" "$d_from" "$(ana shift "$d_to" -2592000)"
t_ok "  to is now" "$SUITE_PYTHON" -c '
import sys
from datetime import datetime, timezone
to = datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00"))
sys.exit(abs((datetime.now(timezone.utc) - to).total_seconds()) > 60)' "$d_to"
figures "defaults" "$A_OID" "$d_from" "$d_to" America/Los_Angeles -
t_is "  three calls in the last 30 days" "$(json_get "$HTTP_BODY" .calls.total)" 3

# An organization with no business: UTC, and nothing but zeros.
overview "empty organization" "$C_AT" "$C_OID" "$(q from "$spring_from" to "$spring_to")" \
    "$spring_from" "$spring_to" UTC -
t_is "  conversion 0" "$(json_get "$HTTP_BODY" .conversion)" 0.0
t_is "  average 0" "$(json_get "$HTTP_BODY" .calls.average_duration_seconds)" 0.0

# B sees its own data only.
http_as "$B_AT" GET "/v1/analytics/overview?$(q from "$spring_from" to "$spring_to")"
t_status "B: 200" 200
t_is "  B's zone is its business's" "$(json_get "$HTTP_BODY" .timezone)" Europe/Paris
t_is "  B's revenue is its own" "$(json_get "$HTTP_BODY" .orders.revenue[0].currency)" USD
t_is "  one currency" "$(json_len "$HTTP_BODY" .orders.revenue)" 1

# ---- the range --------------------------------------------------------------------
http_as "$A_AT" GET "/v1/analytics/overview?$(q from 2024-01-01T00:00:00Z to 2025-01-01T00:00:00Z)"
t_status "exactly 366 days: 200" 200
t_is "  367 local days (the zone is 8 hours behind)" "$(json_len "$HTTP_BODY" .calls.by_day)" 367
http_as "$A_AT" GET "/v1/analytics/overview?$(q from 2024-01-01T00:00:00Z to 2025-01-01T00:00:00.001Z)"
t_fields "366 days and 1 ms" from
http_as "$A_AT" GET "/v1/analytics/overview?$(q from 2024-03-10T00:00:00Z to 2024-03-10T00:00:00Z)"
t_fields "from = to" from
http_as "$A_AT" GET "/v1/analytics/overview?$(q from 2024-03-11T00:00:00Z to 2024-03-10T00:00:00Z)"
t_fields "from after to" from
http_as "$A_AT" GET "/v1/analytics/overview?$(q from 2030-01-01T00:00:00Z)"
t_fields "from in the future, to defaulting to now" from

# ---- bad arguments ----------------------------------------------------------------
http_as "$A_AT" GET "/v1/analytics/overview?$(q from yesterday)"
t_fields "from not a time" from
http_as "$A_AT" GET "/v1/analytics/overview?$(q to 2024-02-30T00:00:00Z)"
t_fields "to not a date" to
http_as "$A_AT" GET "/v1/analytics/overview?$(q from 2024-03-10 to 2024-03-11T00:00:00)"
t_fields "a date alone, a time without offset" from to
http_as "$A_AT" GET "/v1/analytics/overview?$(q from 2024-03-10T00:00:00+16:00)"
t_fields "an offset PostgreSQL refuses" from
http_as "$A_AT" GET "/v1/analytics/overview?$(q business_id 42)"
t_fields "business_id not a UUID" business_id
http_as "$A_AT" GET "/v1/analytics/overview?$(q timezone Mars/Olympus_Mons)"
t_fields "an unknown time zone" timezone
http_as "$A_AT" GET "/v1/analytics/overview?$(q timezone america/los_angeles)"
t_fields "a time zone in the wrong case" timezone
http_as "$A_AT" GET "/v1/analytics/overview?$(q timezone Etc/GMT-14)"
t_status "a zone of Etc/: 200" 200
t_field "  answered in it" .timezone Etc/GMT-14
http_as "$A_AT" GET "/v1/analytics/overview?$(q from nope to nope business_id x timezone y)"
t_fields "everything wrong at once" from to business_id timezone

# ---- other organizations, no credential ------------------------------------------
http_as "$A_AT" GET "/v1/analytics/overview?$(q business_id "$paris")"
t_error "another organization's business: 404" 404 not_found
http_as "$A_AT" GET "/v1/analytics/overview?$(q business_id 6f9619ff-8b86-4011-b42d-00c04fc964ff)"
t_error "an unknown business: 404" 404 not_found
http_as "$B_AT" GET "/v1/analytics/overview?$(q business_id "$la" timezone UTC)"
t_error "B asking for A's business: 404" 404 not_found
http GET /v1/analytics/overview
t_error "no credential: 401" 401 unauthenticated

t_done
