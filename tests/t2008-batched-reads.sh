#!/usr/bin/env bash
# Batched reads: a tenant-svc worker takes up to 64 requests at once (its
# credit, announced in READY) and sends the list reads among them to
# PostgreSQL in one round trip, each in its own implicit transaction with its
# own organization set (one implicit transaction for all; when a statement
# fails there, each again alone). The worker is stopped (SIGSTOP) while 48 requests of
# four organizations pile up — whole lists, second pages, bad cursors, call
# lists — then continued, so that it finds many at once. Every answer must be
# the one its own request deserves: only its organization's rows, newest
# first, the right page, 400 with fields.cursor for the bad ones; and the log
# must show reads that shared a round trip. Then with the calls table
# unreadable (every call list fails, every other read must not), then with
# two workers.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
suite_up

ORGS=(A B C D)
declare -A TOK NAMES
for o in "${ORGS[@]}"; do
    new_org "$o" || t_bail "cannot sign up organization $o"
    tok_var="${o}_AT"
    TOK[$o]=${!tok_var}
    for i in 1 2 3; do
        create_as "${TOK[$o]}" /v1/businesses "$(biz_body)" \
            || t_bail "cannot create a business for $o"
        echo "$NEW_ID" >>"$SUITE_TMP/ids-$o"
    done
    create_as "${TOK[$o]}" /v1/calls "$(call_body "$NEW_ID")" || t_bail "cannot create a call for $o"
done
t_pass "4 organizations with 3 businesses and a call each"

# A cursor to the second page of each organization's businesses (limit 2).
declare -A CURSOR
for o in "${ORGS[@]}"; do
    http_as "${TOK[$o]}" GET "/v1/businesses?limit=2"
    CURSOR[$o]=$(json_get "$HTTP_BODY" .next_cursor)
done

# One line per request: index org kind path
plan=$SUITE_TMP/plan.txt
: >"$plan"
n=0
for round in 1 2 3; do
    for o in "${ORGS[@]}"; do
        echo "$n $o all /v1/businesses" >>"$plan"; n=$((n + 1))
        echo "$n $o page2 /v1/businesses?limit=2&cursor=${CURSOR[$o]}" >>"$plan"; n=$((n + 1))
        echo "$n $o badcursor /v1/businesses?cursor=garbage$round" >>"$plan"; n=$((n + 1))
        echo "$n $o calls /v1/calls" >>"$plan"; n=$((n + 1))
    done
done
# Tokens by organization, for the request runner.
for o in "${ORGS[@]}"; do printf '%s\n' "${TOK[$o]}" >"$SUITE_TMP/tok-$o"; done

fire () {  # fire DIR: every planned request at once, answers in DIR/<index>
    local dir=$1
    mkdir -p "$dir"
    while read -r idx org kind path; do
        curl -sS --max-time 20 -o "$dir/$idx.body" -w '%{http_code}' \
             -H "Authorization: Bearer $(cat "$SUITE_TMP/tok-$org")" \
             "http://127.0.0.1:$SWITCHBOARD_HTTP_PORT$path" >"$dir/$idx.code" 2>/dev/null &
    done <"$plan"
}

check () {  # check DIR [CALLS_STATUS]: the status call lists must answer (200)
    "$SUITE_PYTHON" - "$1" "$plan" "${2:-200}" <<'EOF'
import json, os, sys
d, plan, calls_status = sys.argv[1], sys.argv[2], sys.argv[3]
bad = []
for line in open(plan):
    idx, org, kind, path = line.split()
    code = open(os.path.join(d, idx + ".code")).read().strip()
    try:
        body = json.load(open(os.path.join(d, idx + ".body")))
    except Exception as e:
        bad.append(f"{idx} {org} {kind}: HTTP {code}, body not JSON ({e})"); continue
    if kind == "badcursor":
        ok = code == "400" and "cursor" in body.get("error", {}).get("fields", {})
    elif kind == "calls" and calls_status != "200":
        ok = code == calls_status and body.get("error", {}).get("code") == "internal_error"
    elif kind == "calls":
        ok = code == "200" and len(body["data"]) == 1
    else:
        got = [b["id"] for b in body.get("data", [])]
        ids = open(os.path.join(d, "..", "ids-" + org)).read().split()
        want = list(reversed(ids)) if kind == "all" else ids[:1]   # newest first
        ok = code == "200" and got == want
        if ok and kind == "all":
            ok = body["next_cursor"] is None
    if not ok:
        bad.append(f"{idx} {org} {kind}: HTTP {code} {json.dumps(body)[:200]}")
print("\n".join(bad))
EOF
}

# Round trips that carried two reads or more, over every tenant worker's log.
shared_trips () {
    cat "$SUITE_TMP"/log/tenant-*.log | grep -o '"[0-9]* reads in one database round trip' \
        | grep -vc '"1 reads' || true
}

round () {  # round LABEL [CALLS_STATUS]
    local label=$1 dir=$SUITE_TMP/round-${1// /-} before after
    before=$(shared_trips)
    suite_signal_workers tenant STOP
    fire "$dir"
    # Let the requests reach the broker and the stopped workers' sockets.
    sleep 1
    suite_signal_workers tenant CONT
    # Wait for the curls (not the suite's services: never a bare `wait`).
    local tries=0
    while (( $(ls "$dir"/*.code 2>/dev/null | xargs -r cat | grep -c '^[0-9]\{3\}$') < n )) && (( tries++ < 200 )); do
        sleep 0.1
    done
    local problems
    problems=$(check "$dir" "${2:-200}")
    t_is "$label: all $n answers are each request's own" "$problems" ""
    after=$(shared_trips)
    t_ok "$label: reads shared a round trip (batches of 2 or more logged)" test "$after" -gt "$before"
}

round "one worker"

# Reads share one implicit transaction: one failing would spoil those after
# it, so the batch runs again each alone. With calls unreadable for the
# service role, every call list fails (500) and every other read still
# answers right.
suite_psql -c "REVOKE SELECT ON tenant.calls FROM sb_tenant"
round "calls unreadable" 500
t_like "  the failures were the database's, logged" "$(cat "$SUITE_TMP"/log/tenant-*.log)" \
    'statement failed \[42501\]'
suite_psql -c "GRANT SELECT ON tenant.calls TO sb_tenant"

suite_start_service tenant 2
sleep 1
round "two workers"

# The worker said how many it takes at once; the broker heard it.
t_like "the broker registered the tenant worker's credit" \
    "$(cat "$SUITE_TMP/log/gateway-1.log")" "taking 64 at once"

# Reads still see only their own organization one by one.
http_as "${TOK[A]}" GET /v1/businesses
t_is "single read after the batches: A's 3 businesses" "$(json_len "$HTTP_BODY" .data)" 3
t_done
