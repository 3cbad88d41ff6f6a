#!/usr/bin/env bash
# Pagination: ?limit= (1–100, default 20; 0, 101, -1, 1.5, "abc" refused with
# fields.limit) and ?cursor= (garbage refused with fields.cursor) on all
# three lists; next_cursor null on the last page, also when the last page is
# exactly full; a keyset walk under concurrent inserts: with a writer
# creating businesses all along, walking the list 7 a page shows every
# business that existed before the walk exactly once, no id twice, in
# non-increasing created_at order; ties of started_at (calls) cut across
# pages without loss or repeat.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
# Plan limits: this test creates some 40 + 40 businesses, 18 calls and 10
# orders in one organization, which suite.sh's generous
# tests/fixtures/plans-test.json allows.
N_BUSINESSES=40
suite_up

new_orgs A

pre=()
for ((i = 0; i < N_BUSINESSES; i++)); do
    if ! create_as "$A_AT" /v1/businesses "$(biz_body)"; then
        if [[ $HTTP_STATUS == 402 ]]; then
            t_fail "creating business $((i + 1)) of $N_BUSINESSES: 402 — tests/fixtures/plans-test.json must allow more businesses" "$(_auth_last)"
        else
            t_fail "creating business $((i + 1)) of $N_BUSINESSES" "$(_auth_last)"
        fi
        t_done
        exit 1
    fi
    pre+=("$NEW_ID")
done
t_pass "$N_BUSINESSES businesses created"
# Newest first: the reverse of the creation order.
pre_newest=$(for ((i = ${#pre[@]} - 1; i >= 0; i--)); do echo "${pre[i]}"; done)

# ---- limit and cursor ------------------------------------------------------------------------
for list in businesses calls orders; do
    for v in 0 101 -1 1.5 abc 1e1 '%20'; do
        http_as "$A_AT" GET "/v1/$list?limit=$v"
        t_fields "GET /v1/$list?limit=$v" limit
    done
    for v in garbage '!!!' AAAA eyJ4IjoxfQ "$(urlq '{"id":"x"}')" "$(printf 'A%.0s' {1..300})"; do
        http_as "$A_AT" GET "/v1/$list?cursor=$v"
        t_fields "GET /v1/$list?cursor=${v:0:20}" cursor
    done
    http_as "$A_AT" GET "/v1/$list?limit=0&cursor=garbage"
    t_fields "GET /v1/$list?limit=0&cursor=garbage" limit cursor
done

http_as "$A_AT" GET /v1/businesses
t_status "GET /v1/businesses (no limit): 200" 200
t_is "  20 by default" "$(json_len "$HTTP_BODY" .data)" 20
t_is "  the 20 newest" "$(data_ids "$HTTP_BODY")" "$(head -n 20 <<<"$pre_newest")"
nc=$(json_get "$HTTP_BODY" .next_cursor)
t_ok "  a next_cursor (a string)" test -n "$nc" -a "$nc" != null
http_as "$A_AT" GET "/v1/businesses?cursor=$(urlq "$nc")"
t_is "  the cursor alone gives the next 20" "$(data_ids "$HTTP_BODY")" "$(tail -n 20 <<<"$pre_newest")"
t_field "  and that is the end: next_cursor null" .next_cursor null
http_as "$A_AT" GET '/v1/businesses?limit=1'
t_is "limit=1: one" "$(json_len "$HTTP_BODY" .data)" 1
http_as "$A_AT" GET '/v1/businesses?limit=100'
t_is "limit=100: all $N_BUSINESSES" "$(json_len "$HTTP_BODY" .data)" "$N_BUSINESSES"
t_field "  next_cursor null" .next_cursor null
http_as "$A_AT" GET "/v1/businesses?limit=$N_BUSINESSES"
t_is "limit=$N_BUSINESSES (exactly all): all" "$(json_len "$HTTP_BODY" .data)" "$N_BUSINESSES"
t_field "  next_cursor null: the last page, though full" .next_cursor null
http_as "$A_AT" GET "/v1/businesses?limit=$((N_BUSINESSES - 1))"
nc=$(json_get "$HTTP_BODY" .next_cursor)
t_ok "limit=$((N_BUSINESSES - 1)): a next_cursor" test -n "$nc" -a "$nc" != null
http_as "$A_AT" GET "/v1/businesses?limit=$((N_BUSINESSES - 1))&cursor=$(urlq "$nc")"
t_is "  then the oldest one" "$(data_ids "$HTTP_BODY")" "${pre[0]}"
t_field "  and next_cursor null" .next_cursor null
got=$(walk_ids "$A_AT" '/v1/businesses?limit=8')
t_is "a walk 8 a page (5 full pages) gives every business once, newest first" "$got" "$pre_newest"

# ---- the walk under concurrent inserts ----------------------------------------------------------
stop=$SUITE_TMP/writer.stop
made=$SUITE_TMP/writer.ids
: > "$made"
(
    # At most 200, and no longer than 40 s, whatever happens to the walk.
    end=$((SECONDS + 40))
    for ((k = 0; k < 200 && SECONDS < end; k++)); do
        [[ -e $stop ]] && break
        if create_as "$A_AT" /v1/businesses "$(biz_body)"; then
            echo "$NEW_ID" >> "$made"
        else
            sleep 0.2
        fi
    done
) &
writer=$!

# made_count: businesses the writer has created so far.
made_count () {
    wc -l < "$made"
}
more_made () {
    (( $(made_count) > $1 ))
}

walk=$SUITE_TMP/walk.rows
: > "$walk"
poll_until 10 more_made 0 || t_diag "the writer has created nothing within 10 s"
writes_before=$(made_count)
cursor=
pages=0
ended=0
short_pages=0
while (( pages < 100 )); do
    url='/v1/businesses?limit=7'
    [[ -n $cursor ]] && url+="&cursor=$(urlq "$cursor")"
    http_as "$A_AT" GET "$url"
    if [[ $HTTP_STATUS != 200 ]]; then
        t_fail "walk page $((pages + 1)): 200" "$(_auth_last)"
        break
    fi
    pages=$((pages + 1))
    n=$(json_len "$HTTP_BODY" .data)
    data_rows "$HTTP_BODY" created_at | sed "s/^/$pages /" >> "$walk"
    cursor=$(json_get "$HTTP_BODY" .next_cursor)
    if [[ -z $cursor || $cursor == null ]]; then
        ended=1
        break
    fi
    (( n == 7 )) || short_pages=$((short_pages + 1))
    # Let the writer add at least one business before the next page.
    seen=$(made_count)
    poll_until 5 more_made "$seen" || t_diag "the writer made nothing new after page $pages"
done
writes_during=$(( $(made_count) - writes_before ))
touch "$stop"
wait "$writer"

t_is "the walk ended on a page with next_cursor null" "$ended" 1
t_is "  every page but the last was full (7)" "$short_pages" 0
t_ok "  the writer created businesses during the walk ($writes_during)" test "$writes_during" -ge $((pages - 1))
t_note "walk: $pages pages, $(wc -l < "$walk") rows; writer: $(made_count) businesses in all, $writes_during during the walk"

printf '%s\n' "${pre[@]}" > "$SUITE_TMP/pre.ids"
check=$(walk_check "$walk" "$SUITE_TMP/pre.ids" "$made")
t_is "no id twice, every earlier business exactly once, newest first" "$check" ok

got=$(walk_ids "$A_AT" '/v1/businesses?limit=100')
want=$(cat "$SUITE_TMP/pre.ids" "$made" | sort)
t_is "afterwards a walk 100 a page gives every business once" "$(sort <<<"$got")" "$want"
t_is "  the writer's newest first, then the others" "$(head -n "$(made_count)" <<<"$got")" "$(tac "$made")"

# ---- ties: calls with the same started_at cut across pages ----------------------------------
create_as "$A_AT" /v1/businesses "$(biz_body)" || t_fail "a business for the calls"
bc=$NEW_ID
rows=''
for ((i = 0; i < 15; i++)); do
    create_as "$A_AT" /v1/calls "$(call_body "$bc" started_at=2024-05-05T05:05:05Z)" && rows+="2024-05-05T05:05:05Z $NEW_ID"$'\n'
done
for at in 2024-05-05T05:05:04Z 2024-05-05T05:05:05.000001Z 2024-05-05T05:05:06Z; do
    create_as "$A_AT" /v1/calls "$(call_body "$bc" started_at="$at")" && rows+="$at $NEW_ID"$'\n'
done
want=$(sort_newest <<<"$rows")
t_is "18 calls, 15 of them started at the same instant" "$(wc -l <<<"$want")" 18
for l in 1 2 4 5 18; do
    got=$(walk_ids "$A_AT" "/v1/calls?limit=$l")
    t_is "a walk of the calls $l a page: each once, by started_at then id" "$got" "$want"
done

rows=''
for ((i = 0; i < 10; i++)); do
    create_as "$A_AT" /v1/orders "$(order_body "$bc")" && rows="$NEW_ID"$'\n'"$rows"
done
for l in 1 3 10; do
    got=$(walk_ids "$A_AT" "/v1/orders?limit=$l")
    t_is "a walk of the 10 orders $l a page: each once, newest first" "$got" "${rows%$'\n'}"
done

t_done
