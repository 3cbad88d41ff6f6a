#!/usr/bin/env bash
# Group commit of calls: when the plan leaves calls unlimited, the calls a
# tenant-svc worker holds commit in one transaction (SB_OP_GROUP); with a
# limit, or with bad arguments, each runs alone (the quota needs its lock and
# count). The worker is stopped while 30 POST /v1/calls of two organizations
# pile up — good calls, one naming the other organization's business (the
# foreign key fails the whole group, which then runs each alone), one from
# the future, one with a bad status — then continued. Every answer must be
# the request's own: 201 with its row, 400 naming business_id, started_at,
# status; the stored calls are exactly the 201s; each has its usage rows in
# the outbox, delivered to usage-svc; and the log shows groups committed.
. "$(dirname "$0")/lib/usage.sh"
suite_init
usage_plans_file "$SUITE_TMP/plans.json" -1
export SWITCHBOARD_PLANS_FILE=$SUITE_TMP/plans.json
suite_up

orgs_with_business A B
BIZ_A=$A_BIZ
BIZ_B=$B_BIZ

dir=$SUITE_TMP/out
mkdir -p "$dir"
# index org kind body
plan=$SUITE_TMP/plan.txt
: >"$plan"
for i in $(seq 0 11); do echo "$i A good $(call_body "$BIZ_A" duration_seconds:=$((i * 50)))" >>"$plan"; done
for i in $(seq 12 23); do echo "$i B good $(call_body "$BIZ_B" duration_seconds:=61)" >>"$plan"; done
echo "24 A foreign $(call_body "$BIZ_B")" >>"$plan"
echo "25 B future $(call_body "$BIZ_B" started_at="$(ts_at 86400)")" >>"$plan"
echo "26 A badstatus $(call_body "$BIZ_A" status=lost)" >>"$plan"
for i in 27 28 29; do echo "$i B good $(call_body "$BIZ_B" duration_seconds:=0)" >>"$plan"; done

committed_before=$(cat "$SUITE_TMP"/log/tenant-*.log | grep -c 'changes in one transaction: committed' || true)
suite_signal_workers tenant STOP
while read -r idx org kind body; do
    tok_var="${org}_AT"
    curl -sS --max-time 20 -o "$dir/$idx.body" -w '%{http_code}' -H "Authorization: Bearer ${!tok_var}" \
         -H 'Content-Type: application/json' --data-binary "$body" \
         "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT/v1/calls" >"$dir/$idx.code" 2>/dev/null &
done <"$plan"
sleep 1
suite_signal_workers tenant CONT
tries=0
while (( $(cat "$dir"/*.code 2>/dev/null | grep -c '^[0-9]\{3\}$') < 30 )) && (( tries++ < 300 )); do
    sleep 0.1
done

problems=$("$SUITE_PYTHON" - "$dir" "$plan" <<'EOF'
import json, os, sys
d, plan = sys.argv[1], sys.argv[2]
bad = []
for line in open(plan):
    idx, org, kind, body = line.rstrip("\n").split(" ", 3)
    sent = json.loads(body)
    code = open(os.path.join(d, idx + ".code")).read().strip()
    try:
        got = json.load(open(os.path.join(d, idx + ".body")))
    except Exception as e:
        bad.append(f"{idx}: HTTP {code}, no JSON"); continue
    fields = got.get("error", {}).get("fields", {})
    if kind == "good":
        ok = (code == "201" and got.get("business_id") == sent["business_id"]
              and got.get("duration_seconds") == sent["duration_seconds"])
    elif kind == "foreign":
        ok = code == "400" and "business_id" in fields
    elif kind == "future":
        ok = code == "400" and list(fields) == ["started_at"]
    else:
        ok = code == "400" and "status" in fields
    if not ok:
        bad.append(f"{idx} {org} {kind}: HTTP {code} {json.dumps(got)[:160]}")
print("; ".join(bad))
EOF
)
t_is "each of the 30 answers is its own request's" "$problems" ""
t_is "A stored its 12 calls, nothing of the foreign or bad ones" \
    "$(suite_psql -c "SELECT count(*) FROM tenant.calls WHERE organization_id = '$A_OID'")" 12
t_is "B stored its 15 calls, not the future one" \
    "$(suite_psql -c "SELECT count(*) FROM tenant.calls WHERE organization_id = '$B_OID'")" 15
# Outbox: calls 1 each; call_minutes ceil(d/60) when d > 0.
t_is "A's outbox rows: 12 calls + 11 minute rows" \
    "$(suite_psql -c "SELECT count(*) FROM tenant.usage_outbox WHERE organization_id = '$A_OID'")" 23
t_is "B's outbox rows: 15 calls + 12 minute rows" \
    "$(suite_psql -c "SELECT count(*) FROM tenant.usage_outbox WHERE organization_id = '$B_OID'")" 27
committed_after=$(cat "$SUITE_TMP"/log/tenant-*.log | grep -c 'changes in one transaction: committed' || true)
t_ok "calls were committed in groups" test "$committed_after" -gt "$committed_before"
t_like "a group failed on the foreign business and ran alone" \
    "$(cat "$SUITE_TMP"/log/tenant-*.log)" 'changes in one transaction: failed'
# The relay delivers every outbox row to usage-svc.
tries=0
while (( tries++ < 100 )); do
    left=$(suite_psql -c "SELECT count(*) FROM tenant.usage_outbox WHERE delivered_at IS NULL")
    [[ $left == 0 ]] && break
    sleep 0.1
done
t_is "the outbox is delivered" "$left" 0
t_is "usage-svc counted A's calls" \
    "$(suite_psql -c "SELECT coalesce(sum(quantity), 0) FROM usage.events WHERE organization_id = '$A_OID' AND metric = 'calls'")" 12
t_done
