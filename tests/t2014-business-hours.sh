#!/usr/bin/env bash
# Opening hours past midnight: an interval whose close is earlier than its
# open ends the next day (a bar open 18:00–02:00; "00:00" closes at
# midnight). Such hours are stored and answered as sent, on create and on
# PATCH. Refused with 400 validation_failed and a message in fields.hours
# naming both intervals: open == close; two intervals of a day that share a
# minute; a day's spill-over into the next day overlapping that day's
# intervals, Sunday's into Monday's too. Intervals that only touch (one
# closes at 02:00, the next opens at 02:00) are fine. A refused PATCH
# changes nothing.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
suite_up

new_orgs A

good_hours=(
    '{"fri":[{"open":"18:00","close":"02:00"}],"sat":[{"open":"18:00","close":"02:00"}]}'
    '{"fri":[{"open":"18:00","close":"02:00"}],"sat":[{"open":"02:00","close":"10:00"}]}'
    '{"sun":[{"open":"22:00","close":"03:00"}],"mon":[{"open":"03:00","close":"12:00"}]}'
    '{"mon":[{"open":"18:00","close":"00:00"}],"tue":[{"open":"00:00","close":"01:00"}]}'
    '{"mon":[{"open":"11:00","close":"14:00"},{"open":"18:00","close":"01:30"}],"tue":[{"open":"11:00","close":"14:00"}]}'
    '{"wed":[{"open":"10:00","close":"09:59"}]}'
    '{"mon":[{"open":"20:00","close":"10:00"},{"open":"08:00","close":"09:00"}]}'
    '{"mon":[{"open":"00:00","close":"23:59"}],"tue":[{"open":"23:59","close":"00:00"}]}'
)
for v in "${good_hours[@]}"; do
    http_as "$A_AT" POST /v1/businesses "$(biz_body hours:="$v")"
    t_status "hours $v: 201" 201
    t_same_json "  stored as sent" "$(json_get "$HTTP_BODY" .hours)" "$v"
done

# Each bad value, and two intervals its message must name.
bad_hours=(
    '{"mon":[{"open":"10:00","close":"10:00"}]}|open and close different|'
    '{"mon":[{"open":"09:00","close":"12:00"},{"open":"11:00","close":"13:00"}]}|mon 11:00-13:00|mon 09:00-12:00'
    '{"mon":[{"open":"09:00","close":"12:00"},{"open":"09:00","close":"12:00"}]}|mon 09:00-12:00|mon 09:00-12:00'
    '{"fri":[{"open":"18:00","close":"02:00"}],"sat":[{"open":"01:00","close":"05:00"}]}|fri 18:00-02:00|sat 01:00-05:00'
    '{"sat":[{"open":"01:00","close":"05:00"}],"fri":[{"open":"18:00","close":"02:00"}]}|fri 18:00-02:00|sat 01:00-05:00'
    '{"sun":[{"open":"22:00","close":"03:00"}],"mon":[{"open":"02:59","close":"09:00"}]}|sun 22:00-03:00|mon 02:59-09:00'
    '{"mon":[{"open":"20:00","close":"10:00"}],"tue":[{"open":"09:00","close":"12:00"}]}|mon 20:00-10:00|tue 09:00-12:00'
    '{"sun":[{"open":"20:00","close":"10:00"}],"mon":[{"open":"08:00","close":"09:00"}]}|sun 20:00-10:00|mon 08:00-09:00'
    '{"wed":[{"open":"10:00","close":"09:59"}],"thu":[{"open":"09:58","close":"09:59"}]}|wed 10:00-09:59|thu 09:58-09:59'
)
for entry in "${bad_hours[@]}"; do
    IFS='|' read -r v one other <<<"$entry"
    http_as "$A_AT" POST /v1/businesses "$(biz_body hours:="$v")"
    t_fields "hours $v" hours
    msg=$(json_get "$HTTP_BODY" .error.fields.hours)
    t_like "  the message names $one" "$msg" "$one"
    [[ -n $other ]] && t_like "  and $other" "$msg" "$other"
done

create_as "$A_AT" /v1/businesses "$(biz_body hours:='{"fri":[{"open":"18:00","close":"02:00"}]}')" \
    || t_bail "cannot create a business"
b=$NEW_ID
before=$NEW_JSON
http_as "$A_AT" PATCH "/v1/businesses/$b" '{"hours":{"fri":[{"open":"18:00","close":"02:00"}],"sat":[{"open":"00:30","close":"03:00"}]}}'
t_fields "PATCH with a spill-over overlap" hours
http_as "$A_AT" GET "/v1/businesses/$b"
t_same_json "  changed nothing" "$HTTP_BODY" "$before"
new='{"thu":[{"open":"17:00","close":"23:00"}],"fri":[{"open":"18:00","close":"03:00"}],"sat":[{"open":"03:00","close":"04:00"}]}'
http_as "$A_AT" PATCH "/v1/businesses/$b" "{\"hours\": $new}"
t_status "PATCH to hours past midnight: 200" 200
http_as "$A_AT" GET "/v1/businesses/$b"
t_same_json "  GET answers them" "$(json_get "$HTTP_BODY" .hours)" "$new"
t_done
