#!/usr/bin/env bash
# deploy/prometheus/alerts.yml and deploy/grafana/switchboard.json, checked
# without a running suite (t0045 holds both against a real scrape's metric
# names):
# - `promtool check rules` accepts the rules, and `promtool test rules`
#   passes their unit tests (alerts_test.yml: each alert fires on the
#   series it is for, with its labels and text, and not before its `for`);
# - the dashboard is importable as is: JSON, a Prometheus datasource
#   variable that every panel and query uses (no datasource uid of some
#   other installation), unique panel ids, a query in every panel, and the
#   panels the operator guide names.
. "$(dirname "$0")/lib/suite.sh"
suite_init

command -v promtool >/dev/null || t_bail "promtool missing (Debian package prometheus: deploy/local/deps.sh test)"
rules=$SUITE_ROOT/deploy/prometheus
out=$(promtool check rules "$rules/alerts.yml" 2>&1)
t_is "promtool check rules deploy/prometheus/alerts.yml" "$?" 0 || t_diag "$out"
t_like "  six alerting rules" "$out" "SUCCESS: 6 rules found"
out=$(cd "$rules" && promtool test rules alerts_test.yml 2>&1)
t_is "promtool test rules deploy/prometheus/alerts_test.yml" "$?" 0 || t_diag "$out"
for alert in SwitchboardWorkersMissing SwitchboardHigh5xxRate SwitchboardOutboxBacklogGrowing SwitchboardP99LatencyHigh; do
    t_ok "  $alert is defined and tested" grep -q "alertname: $alert" "$rules/alerts_test.yml"
done

report=$("$SUITE_PYTHON" - "$SUITE_ROOT/deploy/grafana/switchboard.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
problems = []
variables = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
ds = variables.get("datasource")
if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
    problems.append("no Prometheus datasource variable")
ids, titles = set(), []
def check_ds(where, obj):
    if obj.get("datasource") != {"type": "prometheus", "uid": "${datasource}"}:
        problems.append("%s: datasource is not the variable" % where)
for p in d.get("panels", []):
    if p.get("id") in ids:
        problems.append("duplicate panel id %s" % p.get("id"))
    ids.add(p.get("id"))
    if p.get("type") == "row":
        continue
    titles.append(p.get("title", ""))
    check_ds(p.get("title"), p)
    if not p.get("targets"):
        problems.append("%s: no query" % p.get("title"))
    for t in p.get("targets", []):
        check_ds(p.get("title"), t)
        if "switchboard_" not in t.get("expr", ""):
            problems.append("%s: a query without a switchboard metric" % p.get("title"))
    g = p.get("gridPos", {})
    if not all(k in g for k in ("x", "y", "w", "h")):
        problems.append("%s: no gridPos" % p.get("title"))
for p in problems:
    print("PROBLEM " + p)
print("TITLES " + " | ".join(titles))
PY
)
t_is "the dashboard parses" "$?" 0
t_unlike "  importable as is: datasource variable, ids, a query in every panel" "$report" "PROBLEM" || t_diag "$report"
for title in "Request rate by route and status" "p99 latency by route" "5xx rate" "Live workers per service" "Bus round trips" "Quota (402) and rate-limit (429) rejections" "Outbox backlogs" "Stripe webhook events"; do
    t_ok "  has the panel '$title'" grep -qF "$title" <<<"$report"
done
t_done
