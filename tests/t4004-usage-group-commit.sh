#!/usr/bin/env bash
# Group commit of usage batches: a usage-svc worker takes up to 32 requests at
# once and commits the POST /v1/usage/events batches among them in one
# transaction (one per organization a round, in organization order). The
# worker is stopped (SIGSTOP) while 40 requests of four organizations pile
# up — each organization sends batches that overlap the ids of its other
# batches (a client resending while the first send is in flight: the case
# that could deadlock two groups), plus a batch with a bad event — then
# continued. Every good request answers 202 with accepted + duplicates equal
# to its size; per organization the accepted sum to the distinct ids sent,
# the stored events are exactly those ids, the counters equal the events
# (usage.verify), the bad request answers 400 and stores nothing; the log
# shows groups committed, and none failed. Twice: one worker, then two.
. "$(dirname "$0")/lib/usage.sh"
suite_init
suite_up

ORGS=(A B C D)
declare -A TOK OID
for o in "${ORGS[@]}"; do
    signup "$o" "group-$o-$RANDOM@example.com" "$AUTH_PASSWORD" "Owner $o" "Group $o" \
        || t_bail "cannot sign up $o"
    v="${o}_AT"; TOK[$o]=${!v}
    v="${o}_OID"; OID[$o]=${!v}
done
t_pass "4 organizations"

# Request files: per organization 10 batches of 20 events whose ids come
# from a pool of 60 (so batches overlap), quantities 1..3, one metric.
"$SUITE_PYTHON" - "$SUITE_TMP" "${ORGS[@]}" <<'EOF'
import json, os, random, sys
tmp, orgs = sys.argv[1], sys.argv[2:]
random.seed(4004)
for round_ in ("r1", "r2"):
    for o in orgs:
        pool = [f"{round_}-{o}-ev-{i}" for i in range(60)]
        expected = {}
        for b in range(10):
            ids = random.sample(pool, 20)
            events = []
            for i in ids:
                q = (hash(i) % 3) + 1
                expected[i] = q
                events.append({"id": i, "metric": "tokens", "quantity": q,
                               "occurred_at": "2026-01-15T10:00:00Z"})
            json.dump({"events": events}, open(f"{tmp}/{round_}-{o}-{b}.json", "w"))
        json.dump(expected, open(f"{tmp}/{round_}-{o}-expected.json", "w"))
    bad = {"events": [{"id": f"{round_}-bad-1", "metric": "tokens", "quantity": 1,
                       "occurred_at": "2026-01-15T10:00:00Z"},
                      {"id": f"{round_}-bad-2", "metric": "Not A Metric", "quantity": 1,
                       "occurred_at": "2026-01-15T10:00:00Z"}]}
    json.dump(bad, open(f"{tmp}/{round_}-bad.json", "w"))
EOF

groups_logged () {  # groups_logged committed|failed: groups of 2+ in the usage logs
    cat "$SUITE_TMP"/log/usage-*.log | grep -o '"[0-9]* changes in one transaction: '"$1" \
        | grep -vc '"1 changes' || true
}

round () {  # round TAG LABEL
    local tag=$1 label=$2 dir=$SUITE_TMP/out-$1 before o b
    mkdir -p "$dir"
    before=$(groups_logged committed)
    suite_signal_workers usage STOP
    for o in "${ORGS[@]}"; do
        for b in $(seq 0 9); do
            usage_post "${TOK[$o]}" "$SUITE_TMP/$tag-$o-$b.json" >"$dir/$o-$b" &
        done
    done
    usage_post "${TOK[A]}" "$SUITE_TMP/$tag-bad.json" >"$dir/bad" &
    sleep 1
    suite_signal_workers usage CONT
    local tries=0
    while (( $(cat "$dir"/* 2>/dev/null | grep -c '^[0-9]\{3\} ') < 41 )) && (( tries++ < 300 )); do
        sleep 0.1
    done
    t_like "$label: the bad batch answers 400 naming events[1].metric" "$(cat "$dir/bad")" \
        '^400 .*events\[1\]\.metric'
    for o in "${ORGS[@]}"; do
        local problems
        problems=$("$SUITE_PYTHON" - "$dir" "$SUITE_TMP" "$tag" "$o" <<'EOF'
import json, sys
d, tmp, tag, o = sys.argv[1:]
bad, accepted = [], 0
for b in range(10):
    line = open(f"{d}/{o}-{b}").read().strip()
    status, _, body = line.partition(" ")
    if status != "202":
        bad.append(f"batch {b}: {line[:200]}"); continue
    body = json.loads(body)
    if body["accepted"] + body["duplicates"] != 20:
        bad.append(f"batch {b}: accepted+duplicates != 20: {body}")
    accepted += body["accepted"]
expected = json.load(open(f"{tmp}/{tag}-{o}-expected.json"))
if accepted != len(expected):
    bad.append(f"accepted in all {accepted}, distinct ids sent {len(expected)}")
print("; ".join(bad))
EOF
)
        t_is "$label: $o's batches each answered, accepted once per distinct id" "$problems" ""
        local stored want
        stored=$(suite_psql -c "SELECT count(*), coalesce(sum(quantity), 0) FROM usage.events
                                 WHERE organization_id = '${OID[$o]}' AND event_id LIKE '$tag-%'")
        want=$("$SUITE_PYTHON" -c 'import json,sys; e=json.load(open(sys.argv[1])); print(f"{len(e)}|{sum(e.values())}")' \
               "$SUITE_TMP/$tag-$o-expected.json")
        t_is "$label: $o's stored events are exactly the distinct ids (count|sum)" "$stored" "$want"
    done
    t_is "$label: nothing of the bad batch stored" \
        "$(suite_psql -c "SELECT count(*) FROM usage.events WHERE event_id LIKE '$tag-bad-%'")" 0
    t_is "$label: usage.verify: counters equal the events" "$(usage_mismatches)" 0
    t_ok "$label: batches were committed in groups" test "$(groups_logged committed)" -gt "$before"
    t_is "$label: no group failed" "$(groups_logged failed)" 0
}

round r1 "one worker"
suite_start_service usage 2
sleep 1
round r2 "two workers"
t_done
