#!/usr/bin/env bash
# Usage alert thresholds: GET /v1/usage/alerts answers the default [80, 100]
# until an admin sets others with PUT (1 to 100 percent, at most 5,
# distinct, stored sorted; an empty list turns alerts off); anything else is
# 400 validation_failed naming the field, and nothing changes; a member
# (role user) may read but not set them; each organization has its own.
. "$(dirname "$0")/lib/tenant.sh"
suite_init
suite_smtp_start || t_bail "no SMTP sink"
suite_up

pw=$AUTH_PASSWORD
signup A "alerts-a-$$@example.com" "$pw" "Ada Admin" "Alerts A" || t_bail "no organization A"
signup B "alerts-b-$$@example.com" "$pw" "Bo Admin" "Alerts B" || t_bail "no organization B"

http_as "$A_AT" GET /v1/usage/alerts
t_status "GET /v1/usage/alerts: 200" 200
t_is "  the default thresholds" "$(json_get "$HTTP_BODY" .thresholds)" "[80,100]"

http_as "$A_AT" PUT /v1/usage/alerts '{"thresholds": [90, 50, 75]}'
t_status "PUT [90, 50, 75]: 200" 200
t_is "  answered sorted" "$(json_get "$HTTP_BODY" .thresholds)" "[50,75,90]"
http_as "$A_AT" GET /v1/usage/alerts
t_is "  and kept" "$(json_get "$HTTP_BODY" .thresholds)" "[50,75,90]"
t_is "  stored once for A" \
    "$(suite_psql -c "select thresholds::text from usage.alert_settings where organization_id = '$A_OID'")" "{50,75,90}"
http_as "$B_AT" GET /v1/usage/alerts
t_is "B still has the default" "$(json_get "$HTTP_BODY" .thresholds)" "[80,100]"

bad () {
    local desc=$1 body=$2
    http_as "$A_AT" PUT /v1/usage/alerts "$body"
    t_error "$desc: 400" 400 validation_failed
    t_like "  names the field" "$(json_get "$HTTP_BODY" .error.fields.thresholds)" '.+'
}
bad "six thresholds" '{"thresholds": [10, 20, 30, 40, 50, 60]}'
bad "a repeated threshold" '{"thresholds": [80, 80]}'
bad "0 percent" '{"thresholds": [0]}'
bad "101 percent" '{"thresholds": [101]}'
bad "a negative one" '{"thresholds": [-5]}'
bad "a fraction" '{"thresholds": [50.5]}'
bad "a string" '{"thresholds": ["80"]}'
bad "not a list" '{"thresholds": 80}'
bad "no thresholds" '{}'
http_as "$A_AT" GET /v1/usage/alerts
t_is "after the refusals A's thresholds are unchanged" "$(json_get "$HTTP_BODY" .thresholds)" "[50,75,90]"

http_as "$A_AT" PUT /v1/usage/alerts '{"thresholds": [100, 1, 20, 40, 60]}'
t_status "five thresholds, 1 and 100 included: 200" 200
t_is "  sorted" "$(json_get "$HTTP_BODY" .thresholds)" "[1,20,40,60,100]"
http_as "$A_AT" PUT /v1/usage/alerts '{"thresholds": []}'
t_status "an empty list (alerts off): 200" 200
t_is "  kept empty" "$(json_get "$HTTP_BODY" .thresholds)" "[]"

# A member reads but may not set them.
http_as "$A_AT" POST /v1/invitations "$(jobj email="member-$$@example.com" role=user)"
t_status "A invites a member: 201" 201
tok=$(mail_token "member-$$@example.com" "$SWITCHBOARD_PUBLIC_URL/accept-invitation?token=" 15)
accept_invite M "$tok" "Mo Member" "$pw"
t_status "  the member joins: 201" 201
http_as "$M_AT" GET /v1/usage/alerts
t_status "the member reads the thresholds: 200" 200
t_is "  A's" "$(json_get "$HTTP_BODY" .thresholds)" "[]"
http_as "$M_AT" PUT /v1/usage/alerts '{"thresholds": [80]}'
t_error "the member sets them: 403" 403 forbidden
http GET /v1/usage/alerts
t_error "without a token: 401" 401 unauthenticated
http_as "$A_AT" GET /v1/usage/alerts
t_is "  still A's" "$(json_get "$HTTP_BODY" .thresholds)" "[]"

t_done
