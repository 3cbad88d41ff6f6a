# tests/lib/rollup_oracle.py — the analytics overview's call figures computed
# from raw call rows, independently of tenant-svc (t2060, t2061).
#   seed ORG NY KOL ADL      SQL inserting 4,000 calls over 2024, on stdout
#   check ROWS FROM TO TZ BUSINESS|- ANSWER
#       ROWS: psql rows "epoch|business_id|duration_seconds|status";
#       prints "section<TAB>got<TAB>expected" ("same" both when equal)
import json, sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal, ROUND_HALF_UP
from zoneinfo import ZoneInfo
UTC = timezone.utc
def utc(t): return datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone(UTC)
cmd = sys.argv[1]
if cmd == "seed":            # seed ORG NY KOL ADL: SQL inserting 4,000 calls over 2024
    org, bizs = sys.argv[2], sys.argv[3:6]
    st = ["completed", "missed", "voicemail", "transferred"]
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(4000):
        t = t0 + timedelta(seconds=(i * 7919 * 977) % (366 * 86400) + (i % 60))
        rows.append("('%s', gen_random_uuid (), '%s', '+15555550100', '%s', %d, '%s')"
                    % (org, bizs[i % 3], t.isoformat(), (i * 37) % 900, st[(i * 5) % 4]))
    print("INSERT INTO tenant.calls (organization_id, id, business_id, caller_number,"
          " started_at, duration_seconds, status) VALUES\n" + ",\n".join(rows) + ";")
elif cmd == "check":         # check ROWS FROM TO TZ BIZ|- ANSWER: "name<TAB>got<TAB>expected"
    rows = [l.split("|") for l in open(sys.argv[2]).read().split("\n") if l]
    frm, to, tz, biz = utc(sys.argv[3]), utc(sys.argv[4]), ZoneInfo(sys.argv[5]), sys.argv[6]
    got = json.loads(sys.argv[7])
    cs = [(datetime.fromtimestamp(float(e), UTC).astimezone(tz), int(s), st)
          for e, b, s, st in rows
          if frm <= datetime.fromtimestamp(float(e), UTC) < to and (biz == "-" or b == biz)]
    m = lambda s: (s + 59) // 60
    day, last = frm.astimezone(tz).date(), (to - timedelta(microseconds=1)).astimezone(tz).date()
    by_day = {}
    while day <= last:
        by_day[day] = [0, 0]; day += timedelta(days=1)
    hours = {}
    for t, s, st in cs:
        by_day[t.date()][0] += 1; by_day[t.date()][1] += m(s)
        hours[t.hour] = hours.get(t.hour, 0) + 1
    n = len(cs)
    avg = float(Decimal(sum(s for _, s, _ in cs)) / n) if n else 0
    exp = {"total": n, "minutes": sum(m(s) for _, s, _ in cs),
           "average": float(Decimal(avg).quantize(Decimal("0.1"), ROUND_HALF_UP)),
           "by_status": {k: sum(st == k for _, _, st in cs)
                         for k in ["completed", "missed", "voicemail", "transferred"]},
           "by_day": [[d.isoformat(), v[0], v[1]] for d, v in sorted(by_day.items())],
           "busiest": [[h, k] for h, k in sorted(hours.items(), key=lambda x: (-x[1], x[0]))[:5]]}
    c = got["calls"]
    act = {"total": c["total"], "minutes": c["minutes"],
           "average": float(c["average_duration_seconds"]), "by_status": c["by_status"],
           "by_day": [[d["date"], d["calls"], d["minutes"]] for d in c["by_day"]],
           "busiest": [[h["hour"], h["calls"]] for h in got["busiest_hours"]]}
    for k in exp:
        print("%s\t%s\t%s" % (k, json.dumps(act[k])[:200] if act[k] != exp[k] else "same",
                              "same" if act[k] == exp[k] else json.dumps(exp[k])[:200]))
    print("calls in range\t%s\tTrue" % (n > 0))
