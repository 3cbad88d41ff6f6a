#!/usr/bin/env bash
# GET /v1/usage/summary and GET /v1/usage against sums the test computes
# itself (Python) from the events it sent: ~1,700 events over 400 days,
# with offsets, microseconds, and some exactly on hour, day and month
# boundaries. The summary covers the current calendar month in UTC:
# calls, call_minutes, api_requests always, plus every metric used this
# month; calls limited by the plan, the rest -1; holds as
# reserved, remaining = limit - used - reserved (not below 0). The series
# has every bucket of [from, to) with zeros, each the usage in the bucket
# and in [from, to) (from included, to excluded), for hour, day and month;
# defaults; range limits (744 hours, 400 days, 120 months) and bad
# parameters are 400 with the field; another organization sees nothing.
. "$(dirname "$0")/lib/usage.sh"
suite_init
# A quota far above what the events add up to, so that holds pass.
export CALLS_LIMIT=1000000
usage_plans_file "$SUITE_TMP/plans.json" "$CALLS_LIMIT"
export SWITCHBOARD_PLANS_FILE=$SUITE_TMP/plans.json
suite_up
new_orgs A B

PY='
import calendar, datetime, json, os, random, re, sys

US = 1000000
def epoch_us(s):
    m = re.match(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", s)
    y, mo, d, h, mi, se = (int(x) for x in m.groups()[:6])
    t = calendar.timegm((y, mo, d, h, mi, se)) * US
    if m.group(7):
        t += int((m.group(7)[1:] + "000000")[:6])
    off = m.group(8)
    if off != "Z":
        t -= (1 if off[0] == "+" else -1) * (int(off[1:3]) * 3600 + int(off[4:6]) * 60) * US
    return t

def fmt(t, offset_min=0):
    dt = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=t + offset_min * 60 * US)
    s = dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%06d" % dt.microsecond
    if offset_min == 0:
        return s + "Z"
    sign = "+" if offset_min > 0 else "-"
    return s + "%s%02d:%02d" % (sign, abs(offset_min) // 60, abs(offset_min) % 60)

def month_start(t):
    dt = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=t)
    return calendar.timegm((dt.year, dt.month, 1, 0, 0, 0)) * US

def add_months(t, n):
    dt = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=t)
    k = dt.year * 12 + dt.month - 1 + n
    return calendar.timegm((k // 12, k % 12 + 1, 1, 0, 0, 0)) * US

def trunc(t, g):
    if g == "month":
        return month_start(t)
    step = 3600 * US if g == "hour" else 86400 * US
    return t // step * step

def nxt(t, g):
    if g == "month":
        return add_months(t, 1)
    return t + (3600 * US if g == "hour" else 86400 * US)

cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "gen":
    d, now = args[0], int(args[1])
    rnd = random.Random(4003)
    events = []
    def ev(metric, t, q, off=0):
        events.append({"id": "s%d" % len(events), "metric": metric, "quantity": q,
                       "occurred_at": fmt(t, off)})
    metrics = ["calls", "call_minutes", "sms"]
    for i in range(1500):
        t = now - rnd.randrange(400 * 86400 * US)
        ev(rnd.choice(metrics), t, rnd.randrange(1, 20), rnd.choice([0, 0, 0, 330, -300, -59]))
    ms = month_start(now)
    for i in range(150):
        t = ms + rnd.randrange(max(1, now - ms))
        ev(rnd.choice(metrics + ["tokens"]), t, rnd.randrange(0, 9), rnd.choice([0, 120]))
    # Exactly on boundaries, big enough to notice where they land.
    H = trunc(now - 10 * 3600 * US, "hour")
    D = trunc(now - 5 * 86400 * US, "day")
    M = add_months(ms, -3)
    for t in (H, H + 3600 * US, D, D + 86400 * US, M, add_months(M, 1)):
        ev("calls", t, 1000)
        ev("call_minutes", t - 1, 500)
    ev("oldmetric", add_months(ms, -2) + 5 * US, 7)
    for k in range(0, len(events), 1000):
        json.dump({"events": events[k:k + 1000]}, open("%s/batch%d.json" % (d, k // 1000), "w"))
    json.dump({"events": events, "H": H, "D": D, "M": M, "ms": ms}, open(d + "/state.json", "w"))
    print(len(events))
elif cmd == "at":
    # The instants the requests use, as RFC 3339: name [+micro] [offset minutes]
    st = json.load(open(args[0]))
    base = {"H": st["H"], "D": st["D"], "M": st["M"], "ms": st["ms"]}
    t = base[args[1]] + int(args[2]) if len(args) > 2 else base[args[1]]
    print(fmt(t, int(args[3]) if len(args) > 3 else 0))
elif cmd == "monthsback":
    print(fmt(add_months(month_start(int(args[0])), -int(args[1]))))
elif cmd == "series":
    # state metric granularity reply: check the reply against the events
    st = json.load(open(args[0]))
    metric, g, reply = args[1], args[2], json.loads(args[3])
    f, to = epoch_us(reply["from"]), epoch_us(reply["to"])
    want = []
    b = trunc(f, g)
    while b < to:
        lo, hi = max(b, f), min(nxt(b, g), to)
        v = sum(e["quantity"] for e in st["events"]
                if e["metric"] == metric and lo <= epoch_us(e["occurred_at"]) < hi)
        want.append((b, v))
        b = nxt(b, g)
    got = [(epoch_us(p["t"]), p["value"]) for p in reply["points"]]
    if got != want:
        print("%d points, expected %d" % (len(got), len(want)))
        for i, (a, w) in enumerate(zip(got, want)):
            if a != w:
                print("point %d: got %s %s, expected %s %s" % (i, fmt(a[0]), a[1], fmt(w[0]), w[1]))
                break
        sys.exit(1)
    print("%d points, total %d" % (len(got), sum(v for _, v in got)))
elif cmd == "summary":
    # state now reply: the expected used per metric this month
    st, now, reply = json.load(open(args[0])), int(args[1]), json.loads(args[2])
    ms = month_start(now)
    nm = add_months(ms, 1)
    used = {"calls": 0, "call_minutes": 0, "api_requests": None}
    for e in st["events"]:
        if ms <= epoch_us(e["occurred_at"]) < nm:
            used[e["metric"]] = used.get(e["metric"], 0) + e["quantity"]
    problems = []
    if epoch_us(reply["period_start"]) != ms or epoch_us(reply["period_end"]) != nm:
        problems.append("period %s..%s, expected %s..%s" % (reply["period_start"], reply["period_end"], fmt(ms), fmt(nm)))
    got = reply["metrics"]
    if sorted(got) != sorted(used):
        problems.append("metrics %s, expected %s" % (sorted(got), sorted(used)))
    reserved = int(args[3]) if len(args) > 3 else 0
    for m, u in used.items():
        g = got.get(m) or {}
        limit = int(os.environ["CALLS_LIMIT"]) if m == "calls" else -1
        r = reserved if m == "calls" else 0
        if u is None:
            u = g.get("used")      # api_requests: the gateway counts them
        want = {"used": u, "reserved": r, "limit": limit,
                "remaining": -1 if limit < 0 else max(0, limit - u - r)}
        if g != want:
            problems.append("%s: %s, expected %s" % (m, g, want))
    print("\n".join(problems) or "ok")
    sys.exit(1 if problems else 0)
'
py () { "$SUITE_PYTHON" -c "$PY" "$@"; }
now_us () { local t=${EPOCHREALTIME/[.,]/}; echo "$((10#$t))"; }

n=$(py gen "$SUITE_TMP" "$(now_us)") || t_bail "cannot generate the events"
sent=0
for f in "$SUITE_TMP"/batch*.json; do
    r=$(usage_post "$A_AT" "$f")
    [[ ${r%% *} == 202 ]] && sent=$((sent + $(json_get "${r#* }" .accepted)))
done
t_is "A records $n events (in batches of 1000)" "$sent" "$n"
state=$SUITE_TMP/state.json

# ---- summary ----------------------------------------------------------------------------------------
http_as "$A_AT" GET /v1/usage/summary
t_status "summary: 200" 200
t_is "  the current month's use per metric, limits and remaining are the test's" \
    "$(py summary "$state" "$(now_us)" "$HTTP_BODY")" ok
t_is "  on the plan free" "$(json_get "$HTTP_BODY" .plan)" free
t_like "  the metrics: the three first, then the others by name" "$HTTP_BODY" \
    '"metrics":\{"calls":\{[^}]*\},"call_minutes":\{[^}]*\},"api_requests":\{[^}]*\},"sms":\{[^}]*\},"tokens":\{'
t_unlike "  a metric used only in an earlier month is not in it" "$HTTP_BODY" oldmetric
http_as "$A_AT" POST /v1/usage/reservations '{"metric": "calls", "quantity": 3}'
t_status "  A holds 3 calls" 201
http_as "$A_AT" GET /v1/usage/summary
t_is "  summary: calls reserved 3, remaining down by 3" "$(py summary "$state" "$(now_us)" "$HTTP_BODY" 3)" ok
http_as "$B_AT" GET /v1/usage/summary
t_is "B's summary: nothing of A's" \
    "$(json_get "$HTTP_BODY" .metrics.calls) $(json_get "$HTTP_BODY" .metrics.sms 2>/dev/null || echo none)" \
    '{"limit":1000000,"remaining":1000000,"reserved":0,"used":0} none'
http_as "$A_AT" GET /v1/usage/summary
out=$(usage_bus usage.summary "{\"org\": \"$A_OID\"}")
t_is "usage.summary over the bus for A: the same calls" \
    "$(json_get "$out" .body.metrics.calls)" "$(json_get "$HTTP_BODY" .metrics.calls)"

# ---- series ---------------------------------------------------------------------------------------------
series () {   # DESC METRIC GRANULARITY FROM TO
    local desc=$1 metric=$2 g=$3 q="metric=$2" r
    [[ -n $3 ]] && q+="&granularity=$3"
    [[ -n $4 ]] && q+="&from=$(urlq "$4")"
    [[ -n $5 ]] && q+="&to=$(urlq "$5")"
    http_as "$A_AT" GET "/v1/usage?$q"
    if [[ $HTTP_STATUS != 200 ]]; then
        t_fail "$desc" "$(_auth_last)"
        return 1
    fi
    if r=$(py series "$state" "$metric" "${g:-day}" "$HTTP_BODY"); then
        t_pass "$desc"
        t_note "  ($r)"
    else
        t_fail "$desc" "$r"
    fi
}
at () { py at "$state" "$@"; }
series "hours over H, from 30 min before it to 3 h 15 min after (offset +05:30)" \
    calls hour "$(at H -1800000000 330)" "$(at H 11700000000)"
series "hours from exactly H (included) to exactly H + 1 h (excluded)" calls hour "$(at H)" "$(at H 3600000000)"
series "call_minutes by hour, the same range (events 1 µs before each boundary)" \
    call_minutes hour "$(at H -1800000000 330)" "$(at H 11700000000)"
series "days over D, from 2 days before to 3 days after at noon" \
    calls day "$(at D -172800000000)" "$(at D 302400000000 -300)"
series "days over the last 400 days, every metric: sms" sms day "$(at D -30000000000000)" "$(at D 4000000000000)"
series "months from 13 months back to the next month" \
    calls month "$(py monthsback "$(now_us)" 13)" "$(py monthsback "$(now_us)" -1)"
series "months over M, from its middle to exactly a month after it" \
    calls month "$(at M 1296000000000)" "$(at M 2678400000000)"
series "call_minutes by month, 10 years back" call_minutes month "$(py monthsback "$(now_us)" 119)" "$(py monthsback "$(now_us)" -1)"
series "defaults (day, the last 30 days)" calls "" "" ""
t_is "  31 points" "$(json_len "$HTTP_BODY" .points)" 31
series "hour, default range (the last 24 hours)" sms hour "" ""
series "month, default range (12 months)" calls month "" ""
series "a metric nobody used: zeros" nothing_here day "$(at D -864000000000)" "$(at D)"
t_is "  10 points" "$(json_len "$HTTP_BODY" .points)" 10
series "exactly 744 hours" calls hour "$(at H -2678400000000)" "$(at H)"
t_is "  744 points" "$(json_len "$HTTP_BODY" .points)" 744
series "exactly 400 days" calls day "$(at D -34560000000000)" "$(at D)"
series "exactly 120 months" calls month "$(py monthsback "$(now_us)" 120)" "$(py monthsback "$(now_us)" 0)"
t_is "  120 points" "$(json_len "$HTTP_BODY" .points)" 120
http_as "$B_AT" GET "/v1/usage?metric=calls&granularity=month&from=$(urlq "$(py monthsback "$(now_us)" 13)")"
t_is "B's series: all zeros" "$(json_get "$HTTP_BODY" .points | tr -d '\n' | grep -o '"value":[1-9]' | wc -l)" 0

bad () {   # DESC QUERY FIELD...
    local desc=$1 q=$2
    shift 2
    http_as "$A_AT" GET "/v1/usage?$q"
    t_fields "$desc" "$@"
}
bad "745 hours" "metric=calls&granularity=hour&from=$(urlq "$(at H -2678400000001)")&to=$(urlq "$(at H)")" to
bad "401 days" "metric=calls&granularity=day&from=$(urlq "$(at D -34560000000001)")&to=$(urlq "$(at D)")" to
bad "121 months" "metric=calls&granularity=month&from=$(urlq "$(py monthsback "$(now_us)" 121)")&to=$(urlq "$(py monthsback "$(now_us)" 0)")" to
bad "hours since 1900" "metric=calls&granularity=hour&from=1900-01-01T00:00:00Z" to
bad "no metric" "granularity=day" metric
bad "a bad metric" "metric=Calls" metric
bad "granularity week" "metric=calls&granularity=week" granularity
bad "from not a timestamp" "metric=calls&from=yesterday" from
bad "to not a timestamp" "metric=calls&to=2026-02-30T00:00:00Z" to
bad "to before from" "metric=calls&from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z" to
bad "to equal to from" "metric=calls&from=2026-01-02T00:00:00Z&to=2026-01-02T00:00:00%2B00:00" to
bad "everything wrong" "granularity=x&from=y&to=z" metric granularity from to
http_as "$A_AT" GET "/v1/usage?metric=calls&from=0001-01-01T00:00:00%2B01:00&to=0001-01-02T00:00:00Z&granularity=hour"
t_like "year 1 with an offset (1 BC in UTC): answered, not 5xx" "$HTTP_STATUS" '^(200|400)$'
http GET "/v1/usage?metric=calls"
t_error "no credentials: 401" 401 unauthenticated
http GET /v1/usage/summary
t_error "summary, no credentials: 401" 401 unauthenticated
t_is "usage.verify: no mismatch" "$(usage_mismatches)" 0
t_done
