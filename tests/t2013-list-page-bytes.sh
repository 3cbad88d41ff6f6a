#!/usr/bin/env bash
# List pages bounded by bytes: 100 calls with transcripts of some 100 KB
# each (10 MB in all, more than the bus's 4 MiB envelope) are listed with
# ?limit=100. The answer is 200 (never 502), holds fewer rows than asked
# (at least one), at most about 1 MiB of JSON, and a next_cursor; walking
# the cursor yields every call exactly once, newest first, each with its
# whole transcript. The detail route still answers a call with its
# transcript. Calls without transcripts still come 100 a page.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
suite_up

orgs_with_business A
BIZ=$A_BIZ

# 99,000 characters: 990 lines of 99 letters and a line break.
line=$(printf 'x%.0s' {1..99})
TRANSCRIPT=$(for ((i = 0; i < 990; i++)); do printf '%s\\n' "$line"; done)
made=$SUITE_TMP/made
: >"$made"
for ((i = 1; i <= 100; i++)); do
    body="{\"business_id\": \"$BIZ\", \"caller_number\": \"+14155550123\", \"started_at\": \"$(ts_at $((-60 * i)))\", \"duration_seconds\": 60, \"status\": \"completed\", \"transcript\": \"caller $i: $TRANSCRIPT\"}"
    create_as "$A_AT" /v1/calls "$body" || t_bail "cannot create call $i"
    echo "$NEW_ID" >>"$made"
done
t_pass "100 calls with 100 KB transcripts stored"

# The ids of the last answer's page (read from stdin: pages are too big for
# an argument, as data_ids takes them).
page_ids () {
    printf '%s' "$HTTP_BODY" | "$SUITE_PYTHON" -c 'import json, sys
print("\n".join(r["id"] for r in json.load(sys.stdin)["data"]))'
}
# Follows next_cursor from $1, printing the ids; status 1 on a page that is
# not 200, an empty page, or more than 100 pages.
walk_big () {
    local url=$1 cursor= pages=0
    while :; do
        http_as "$A_AT" GET "$url${cursor:+&cursor=$(urlq "$cursor")}"
        [[ $HTTP_STATUS == 200 ]] || { t_diag "walk: HTTP $HTTP_STATUS ${HTTP_BODY:0:200}"; return 1; }
        (( $(json_len "$HTTP_BODY" .data) > 0 && ++pages <= 100 )) || return 1
        page_ids
        cursor=$(json_get "$HTTP_BODY" .next_cursor)
        [[ $cursor == null || -z $cursor ]] && return 0
    done
}

http_as "$A_AT" GET "/v1/calls?limit=100"
t_status "GET /v1/calls?limit=100: 200, not 502" 200
n=$(json_len "$HTTP_BODY" .data)
t_ok "  fewer rows than asked, at least one ($n)" test "${n:-0}" -ge 1 -a "${n:-0}" -lt 100
t_ok "  at most about 1 MiB of JSON (${#HTTP_BODY} bytes)" test "${#HTTP_BODY}" -le 1200000
nc=$(json_get "$HTTP_BODY" .next_cursor)
t_ok "  a next_cursor" test -n "$nc" -a "$nc" != null
t_is "  the newest calls first" "$(page_ids)" "$(head -n "$n" "$made")"
t_is "  transcripts whole (\"caller 1: \" and 99,000 characters)" \
    "$(json_len "$HTTP_BODY" '.data[0].transcript')" 99010

walk_big "/v1/calls?limit=100" >"$SUITE_TMP/walk"
t_is "walking the cursor: 200 on every page" "$?" 0
t_is "  every call exactly once, newest first" "$(cat "$SUITE_TMP/walk")" "$(cat "$made")"

http_as "$A_AT" GET "/v1/calls/$(head -n 1 "$made")"
t_status "GET /v1/calls/{id}: 200" 200
t_is "  with its whole transcript" "$(json_len "$HTTP_BODY" .transcript)" 99010

# Small rows: the row limit, not the byte budget, ends the page.
create_as "$A_AT" /v1/businesses "$(biz_body)" || t_bail "cannot create a business"
BIZ2=$NEW_ID
for ((i = 1; i <= 101; i++)); do
    create_as "$A_AT" /v1/calls "$(call_body "$BIZ2")" \
        || t_bail "cannot create small call $i"
done
http_as "$A_AT" GET "/v1/calls?limit=100&business_id=$BIZ2"
t_is "101 small calls: a page of 100" "$(json_len "$HTTP_BODY" .data)" 100
t_done
