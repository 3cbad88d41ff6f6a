# tests/lib/rollup_orders_oracle.py — the analytics overview's order figures
# computed from raw order rows, independently of tenant-svc (t2063, t2064).
#   seed ORG BIZ... N   SQL inserting N orders over 2024 (statuses, currencies
#                       and totals mixed, the businesses in turn), on stdout
#   check ROWS FROM TO BUSINESS|- ANSWER
#       ROWS: psql rows "epoch_microseconds|business_id|status|currency|total_cents";
#       prints "section<TAB>got<TAB>expected" ("same" both when equal)
import json, sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal, ROUND_HALF_UP
UTC = timezone.utc
STATUSES = ["pending", "confirmed", "fulfilled", "cancelled"]
def utc(t): return datetime.fromisoformat(t.replace("Z", "+00:00")).astimezone(UTC)
cmd = sys.argv[1]
if cmd == "seed":
    org, bizs, n = sys.argv[2], sys.argv[3:-1], int(sys.argv[-1])
    cur = ["USD", "EUR", "USD", "CAD", "JPY"]
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        # Spread over 2024 at odd seconds, some right at and around midnight.
        t = t0 + timedelta(seconds=(i * 7919 * 613) % (366 * 86400))
        if i % 17 == 0:
            t = t.replace(hour=0, minute=0, second=0, microsecond=0)
        elif i % 19 == 0:
            t = t.replace(hour=23, minute=59, second=59, microsecond=999999)
        rows.append("('%s', gen_random_uuid (), '%s', 'Customer %d', '[]', %d, '%s', '%s', '%s', '%s')"
                    % (org, bizs[i % len(bizs)], i, (i * 7331) % 250000, cur[(i * 3) % 5],
                       STATUSES[(i * 5 // 3) % 4], t.isoformat(), t.isoformat()))
    print("INSERT INTO tenant.orders (organization_id, id, business_id, customer_name, items,"
          " total_cents, currency, status, created_at, updated_at) VALUES\n"
          + ",\n".join(rows) + ";")
elif cmd == "check":
    rows = [l.split("|") for l in open(sys.argv[2]).read().split("\n") if l]
    frm, to, biz = utc(sys.argv[3]), utc(sys.argv[4]), sys.argv[5]
    got = json.loads(sys.argv[6])
    os_ = [(st, c, int(cents)) for e, b, st, c, cents in rows
           if frm <= datetime.fromtimestamp(0, UTC) + timedelta(microseconds=int(e)) < to
           and (biz == "-" or b == biz)]
    n = len(os_)
    revenue = {}
    for st, c, cents in os_:
        if st != "cancelled":
            revenue[c] = revenue.get(c, 0) + cents
    exp = {"total": n,
           "by_status": {k: sum(st == k for st, _, _ in os_) for k in STATUSES},
           "revenue": [[c, revenue[c]] for c in sorted(revenue)]}
    calls = got["calls"]["total"]
    exp["conversion"] = float((Decimal(n) / calls).quantize(Decimal("0.0001"), ROUND_HALF_UP)) \
        if calls else 0.0
    o = got["orders"]
    act = {"total": o["total"], "by_status": o["by_status"],
           "revenue": [[r["currency"], r["cents"]] for r in o["revenue"]],
           "conversion": float(got["conversion"])}
    for k in exp:
        print("%s\t%s\t%s" % (k, json.dumps(act[k])[:200] if act[k] != exp[k] else "same",
                              "same" if act[k] == exp[k] else json.dumps(exp[k])[:200]))
    print("orders in range\t%s\tTrue" % (n > 0))
