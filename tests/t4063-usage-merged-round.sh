#!/usr/bin/env bash
# One statement for a group-commit round (usage_ingest_merge, service.c's
# s_run_merged): the POST /v1/usage/events requests a usage-svc worker holds,
# one per organization a round, are stored by one INSERT across
# organizations; each request's answer must still be exactly its own. The
# worker is stopped while five organizations' requests pile up, then
# continued:
#   A  13 events: 5 of them sent before, 3 ids twice in the request
#      -> 202 {accepted 5, duplicates 8}
#   B  the same 10 ids as A (another organization: none is a duplicate)
#      -> 202 {10, 0}
#   C  its tokens counter 5 below the cap, 3 events of 2 -> 422
#      usage_overflow, nothing of it stored
#   D  a bad event -> 400 naming it
#   E  4 events, two with C's ids -> 202 {4, 0}
# Then by SQL: each organization's stored ids are exactly its own (no row
# under another's organization), the counters equal the events
# (usage.verify), and the log shows the round committed as one statement.
# Second round, the fallback: a trigger (installed by the test) makes the
# insert of event id "boom" fail; B sends it beside A's and E's requests.
# The merged statement fails, the round runs again as a group and then each
# alone: A and E answer 202 with their exact counts and are stored, B's
# request is not acknowledged and nothing of it is stored.
. "$(dirname "$0")/lib/usage.sh"
suite_init
suite_up

ORGS=(A B C D E)
declare -A TOK OID
for o in "${ORGS[@]}"; do
    signup "$o" "merge-$o-$RANDOM@example.com" "$AUTH_PASSWORD" "Owner $o" "Merge $o" \
        || t_bail "cannot sign up $o"
    v="${o}_AT"; TOK[$o]=${!v}
    v="${o}_OID"; OID[$o]=${!v}
done
t_pass "5 organizations"

NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
"$SUITE_PYTHON" - "$SUITE_TMP" "$NOW" <<'EOF'
import json, sys
tmp, now = sys.argv[1], sys.argv[2]
def ev(i, q=1, metric="tokens"):
    return {"id": i, "metric": metric, "quantity": q, "occurred_at": now}
def dump(name, events):
    json.dump({"events": events}, open(f"{tmp}/{name}.json", "w"))
m = [f"m-{i}" for i in range(10)]
dump("pre", [ev(i, 2) for i in m[:5]])
dump("A", [ev(i, 2) for i in m] + [ev(i, 2) for i in m[5:8]])
dump("B", [ev(i, 3) for i in m])
dump("C", [ev(f"c-{i}", 2) for i in range(3)])
dump("D", [ev("d-0"), ev("d-1", 1, "Not A Metric")])
dump("E", [ev("c-0", 4), ev("c-1", 4), ev("e-0", 4), ev("e-1", 4)])
dump("A2", [ev(f"n-{i}", 5) for i in range(5)])
dump("B2", [ev("b2-0"), ev("boom"), ev("b2-1")])
dump("E2", [ev(f"n-{i}", 6) for i in range(3)])
EOF

merged_logged () {  # merged_logged committed|failed: rounds of 2+ run as one statement
    cat "$SUITE_TMP"/log/usage-*.log \
        | grep -o '"[0-9]* changes in one transaction: '"$1"', as one statement' \
        | grep -vc '"1 changes' || true
}

# post_round DIR ORG... : posts DIR's requests (ORG.json each) while the
# worker is stopped, then lets it take them all at once; waits for answers
post_round () {
    local dir=$1 o n=0
    shift
    mkdir -p "$SUITE_TMP/$dir"
    suite_signal_workers usage STOP
    for o in "$@"; do
        usage_post "${TOK[${o:0:1}]}" "$SUITE_TMP/$o.json" >"$SUITE_TMP/$dir/$o" &
        n=$((n + 1))
    done
    sleep 1
    suite_signal_workers usage CONT
    local tries=0
    while (( $(cat "$SUITE_TMP/$dir"/* 2>/dev/null | grep -c '^[0-9]\{3\} ') < n )) \
          && (( tries++ < 300 )); do
        sleep 0.1
    done
}

t_like "A's first 5 events, sent before" "$(usage_post "${TOK[A]}" "$SUITE_TMP/pre.json")" \
    '^202 .*"accepted": ?5'
usage_counter_set "${OID[C]}" tokens 999999999999995
t_is "C's tokens counter is 5 below the cap" "$(usage_counter "${OID[C]}" tokens)" 999999999999995

before=$(merged_logged committed)
post_round r1 A B C D E
answer () { "$SUITE_PYTHON" -c '
import json, sys
line = open(sys.argv[1]).read().strip()
status, _, body = line.partition(" ")
if status == "202":
    b = json.loads(body); print(status, b["accepted"], b["duplicates"])
else:
    b = json.loads(body); print(status, b.get("error", {}).get("code", "?"), b.get("error", {}).get("message", ""))
' "$1"; }
t_is "A: 202, accepted 5, duplicates 8 (5 sent before, 3 twice in the request)" \
    "$(answer "$SUITE_TMP/r1/A")" "202 5 8"
t_is "B: 202, accepted 10, duplicates 0 (A's ids are not B's)" "$(answer "$SUITE_TMP/r1/B")" "202 10 0"
t_like "C: 422 usage_overflow" "$(answer "$SUITE_TMP/r1/C")" '^422 usage_overflow'
t_like "D: 400 validation_failed" "$(answer "$SUITE_TMP/r1/D")" '^400 validation_failed'
t_like "D: the answer names events[1].metric" "$(cat "$SUITE_TMP/r1/D")" 'events\[1\]\.metric'
t_is "E: 202, accepted 4, duplicates 0 (C's ids are not E's)" "$(answer "$SUITE_TMP/r1/E")" "202 4 0"
t_ok "the round was stored by one statement" test "$(merged_logged committed)" -gt "$before"

ids_of () {  # ids_of ORG: its stored ids of this test's requests (not the seed's nor the
            # gateway's api_requests), sorted, comma-separated
    suite_psql -c "SELECT coalesce (string_agg (event_id || '=' || quantity, ',' ORDER BY event_id), '')
                     FROM usage.events WHERE organization_id = '$1' AND event_id ~ '^[mcde]-'"
}
t_is "A's rows: m-0..m-9, the first sent's quantities kept" "$(ids_of "${OID[A]}")" \
    "m-0=2,m-1=2,m-2=2,m-3=2,m-4=2,m-5=2,m-6=2,m-7=2,m-8=2,m-9=2"
t_is "B's rows: m-0..m-9 with B's quantities" "$(ids_of "${OID[B]}")" \
    "m-0=3,m-1=3,m-2=3,m-3=3,m-4=3,m-5=3,m-6=3,m-7=3,m-8=3,m-9=3"
t_is "C's rows: none of the refused request" "$(ids_of "${OID[C]}")" ""
t_is "D's rows: none" "$(ids_of "${OID[D]}")" ""
t_is "E's rows: its 4 events, C's ids under E" "$(ids_of "${OID[E]}")" "c-0=4,c-1=4,e-0=4,e-1=4"
t_is "no row of this round under another organization than its request's (24 rows in all)" \
    "$(suite_psql -c "SELECT count (*) FILTER (WHERE (event_id LIKE 'm-%' AND organization_id NOT IN ('${OID[A]}', '${OID[B]}'))
                                               OR (event_id ~ '^[ce]-' AND organization_id <> '${OID[E]}')
                                               OR event_id LIKE 'd-%'),
                             count (*)
                        FROM usage.events WHERE event_id ~ '^[mcde]-'")" "0|24"
t_is "counters: A 20, B 30, C unchanged, E 16" \
    "$(usage_counter "${OID[A]}" tokens) $(usage_counter "${OID[B]}" tokens) $(usage_counter "${OID[C]}" tokens) $(usage_counter "${OID[E]}" tokens)" \
    "20 30 999999999999995 16"
t_is "usage.verify: counters and hours equal the events" "$(usage_mismatches)" 0

# Second round: B's request fails in the database, A's and E's must not.
suite_psql -c "
    CREATE FUNCTION usage.t4063_boom () RETURNS trigger LANGUAGE plpgsql AS
      \$\$BEGIN IF NEW.event_id = 'boom' THEN RAISE EXCEPTION 't4063 boom'; END IF; RETURN NEW; END\$\$;
    CREATE TRIGGER t4063_boom BEFORE INSERT ON usage.events
      FOR EACH ROW EXECUTE FUNCTION usage.t4063_boom ()" >/dev/null
failed_before=$(merged_logged failed)
post_round r2 A2 B2 E2
t_is "A: 202, accepted 5, duplicates 0" "$(answer "$SUITE_TMP/r2/A2")" "202 5 0"
t_is "E: 202, accepted 3, duplicates 0 (A's ids are not E's)" "$(answer "$SUITE_TMP/r2/E2")" "202 3 0"
t_unlike () { if [[ ! $2 =~ $3 ]]; then t_pass "$1"; else t_fail "$1" "    got: '$2'"; fi; }
t_unlike "B: its failing request is not acknowledged" "$(cat "$SUITE_TMP/r2/B2")" '^2'
t_ok "the merged statement failed, and the round ran again" test "$(merged_logged failed)" -gt "$failed_before"
t_is "A's new rows stored" "$(suite_psql -c "SELECT count (*), sum (quantity) FROM usage.events
                                              WHERE organization_id = '${OID[A]}' AND event_id LIKE 'n-%'")" "5|25"
t_is "E's new rows stored" "$(suite_psql -c "SELECT count (*), sum (quantity) FROM usage.events
                                              WHERE organization_id = '${OID[E]}' AND event_id LIKE 'n-%'")" "3|18"
t_is "nothing of B's failed request stored" \
    "$(suite_psql -c "SELECT count (*) FROM usage.events WHERE event_id IN ('b2-0', 'b2-1', 'boom')")" 0
suite_psql -c "DROP TRIGGER t4063_boom ON usage.events; DROP FUNCTION usage.t4063_boom ()" >/dev/null
t_is "usage.verify after the fallback: counters equal the events" "$(usage_mismatches)" 0
t_done
