#!/usr/bin/env bash
# The guides' examples run: every shell example in docs/guides/*.md is
# executed against a running suite, so that no guide drifts from the API.
#
# The convention (docs/guides/README.md tells writers; tests/lib/
# guide_blocks.py implements it): a fenced block whose info string starts
# with `sh` is run, unless it says `no-run` (operator commands that need a
# server's shell, a legacy database, Stripe, or that are destructive).
# One guide's blocks run in order in one bash session (tests/lib/
# guide_run.sh) under `set -eu -o pipefail`, with BASE set to the gateway,
# in a scratch working directory; a block sees the variables of the blocks
# before it. Every curl call must answer below 400, except the statuses a
# block lists in its fence (```sh expect=403): those may occur, and each
# must occur at least once — a guide that shows an error shows a real one.
# A curl line in a block that is neither run nor marked no-run fails the
# guide (nothing is left out by accident).
#
# Placeholders: the guides use fixed, readable values (you@example.com,
# "Ada Pizza"); the test substitutes nothing. Every guide runs against this
# test's own fresh suite, so a value only has to be unique among the
# guides: each guide signs up with its own address.
#
# The suite runs with the SHIPPED plan catalogue (deploy/plans.json), not
# the tests' generous one, so that the free plan's limits the guides show
# (one business, no analytics, 60 requests a minute) are the real ones;
# signup and login are not limited per address (suite_init's default), and
# SWITCHBOARD_OPERATOR_TOKEN is set, for the one operator-only example that
# gives an organization a plan.
#
# TAP: per guide, "GUIDE follows the block convention", then one assertion
# per runnable block, "GUIDE block N (heading) ran", with the block's text,
# output and HTTP statuses shown on failure. A block after a failed one is
# reported as not reached (it depends on what failed).
. "$(dirname "$0")/lib/suite.sh"
suite_init
export SWITCHBOARD_PLANS_FILE=$SUITE_ROOT/deploy/plans.json
suite_up

export BASE=http://127.0.0.1:$SWITCHBOARD_HTTP_PORT
command -v jq >/dev/null || t_bail "jq is needed by the guides' examples (deploy/local/deps.sh test)"

# Judge block N of a guide run in DIR; print why it failed, if it did.
block_problems () {
    local dir=$1 n=$2 expect=${3#-} rc s e seen
    if [[ ! -e $dir/$n.rc ]]; then
        echo "not reached: an earlier block failed"
        return
    fi
    rc=$(<"$dir/$n.rc")
    (( rc == 0 )) || echo "exit status $rc"
    while read -r s; do
        [[ -z $s ]] && continue
        if [[ $s == 000 ]]; then echo "a curl call got no answer"
        elif (( s >= 400 )) && [[ ",$expect," != *",$s,"* ]]; then
            echo "a curl call answered $s (the fence does not expect it)"
        fi
    done <"$dir/$n.status"
    if [[ -n $expect ]]; then
        for e in ${expect//,/ }; do
            seen=0
            grep -qx "$e" "$dir/$n.status" && seen=1
            (( seen )) || echo "expected a $e (expect=$expect), none came"
        done
    fi
}

guides=("$SUITE_ROOT"/docs/guides/*.md)
for guide in "${guides[@]}"; do
    name=${guide##*/}
    [[ $name == README.md ]] && continue
    dir=$SUITE_TMP/guides/${name%.md}
    SWITCHBOARD_OPERATOR_TOKEN=$SUITE_OPERATOR_TOKEN \
        "$SUITE_ROOT/tests/lib/guide_run.sh" "$guide" "$dir" 2>"$SUITE_TMP/guides-$name.err"
    rc=$?
    if (( rc == 2 )); then
        t_fail "$name follows the block convention" "$(cat "$SUITE_TMP/guides-$name.err")"
        continue
    fi
    t_pass "$name follows the block convention"
    blocks=0
    while IFS=$'\t' read -r n line expect title; do
        blocks=$((blocks + 1))
        desc="$name block $((10#$n)) ($title) ran"
        problems=$(block_problems "$dir" "$n" "$expect")
        if [[ -z $problems ]]; then
            t_pass "$desc"
        else
            t_fail "$desc" "  $name line $line:" "$problems" \
                "  --- block ---" "$(cat "$dir/$n.sh")" \
                "  --- output ---" "$(tail -n 40 "$dir/$n.out" 2>/dev/null)" \
                "  --- HTTP statuses ---" "$(tr '\n' ' ' <"$dir/$n.status" 2>/dev/null)"
        fi
    done <"$dir/index.tsv"
    t_note "$name: $blocks blocks run"
done

t_done
