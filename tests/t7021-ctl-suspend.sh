#!/usr/bin/env bash
# Suspending an organization (`switchboardctl orgs suspend ORG --reason`,
# auth-svc's sys.orgs.suspend) refuses its requests 403
# organization_suspended at the gateway, with an access token and with an
# API key alike, while another organization is unaffected; its users
# cannot log in (403 organization_suspended after a right password; a
# wrong one is still 401) nor refresh; `orgs show` gives the reason and
# time, and the audit log keeps both changes. A gateway restarted while
# the organization is suspended still refuses it (it learns suspensions
# from auth-svc at start, not only from events). `orgs resume` lifts it:
# 200 again with the same token and key; resuming an active organization
# is refused (409). An operator call made with a key that is not an
# operator's (the `internal` key) is refused by the broker (403), and the
# organization stays as it was. --json output is parsed throughout; bad
# usage exits 2.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

ctl () { "$SB_BIN/switchboardctl" "$@"; }
ctl_json () { CTL_OUT=$(ctl --json "$@" 2>"$SUITE_TMP/ctl.err"); CTL_RC=$?; }

pw=$AUTH_PASSWORD
signup A "ann-$$@susp.example" "$pw" Ann "Suspended Co" susp-co || t_bail "signup A"
signup B "bob-$$@fine.example" "$pw" Bob "Fine Co" fine-co || t_bail "signup B"
http_as "$A_AT" POST /v1/api-keys "$(jobj name="robot")"
t_status "A has an API key" 201
akey=$(json_get "$HTTP_BODY" .key)
a_rt=$A_RT
http_as "$A_AT" GET /v1/businesses
t_status "before: A's token works" 200
http_key "$akey" GET /v1/businesses
t_status "before: A's key works" 200

ctl orgs suspend susp-co >/dev/null 2>&1
t_is "suspend without --reason: exit 2" "$?" 2

ctl_json orgs suspend susp-co --reason "unpaid invoices since March"
t_is "orgs suspend: exit 0" "$CTL_RC" 0
t_is "the answer says suspended" "$(jq -r '"\(.id) \(.status)"' <<<"$CTL_OUT")" "$A_OID suspended"
t_like "with the reason" "$(jq -r .suspension_reason <<<"$CTL_OUT")" '^unpaid invoices since March$'

t_within "A's token: 403 at once" 5 403 GET /v1/businesses "" -H "Authorization: Bearer $A_AT"
http_as "$A_AT" GET /v1/businesses
t_error "… organization_suspended" 403 organization_suspended
t_like "… and a clear message" "$(json_get "$HTTP_BODY" .error.message)" 'suspended'
http_key "$akey" GET /v1/businesses
t_error "A's API key: 403 organization_suspended" 403 organization_suspended
http_as "$A_AT" GET /v1/me
t_error "every authenticated route (GET /v1/me)" 403 organization_suspended
http_as "$B_AT" GET /v1/businesses
t_status "B is unaffected" 200
http POST /v1/auth/login "$(jobj email="ann-$$@susp.example" password="$pw")"
t_error "A's user cannot log in" 403 organization_suspended
http POST /v1/auth/login "$(jobj email="ann-$$@susp.example" password="wrong password here")"
t_error "… a wrong password is still 401" 401 invalid_credentials
http POST /v1/auth/refresh "$(jobj refresh_token="$a_rt")"
t_error "… nor refresh" 403 organization_suspended

ctl_json orgs show susp-co
t_is "orgs show: suspended" "$(jq -r .status <<<"$CTL_OUT")" suspended
t_like "… since a time" "$(jq -r .suspended_at <<<"$CTL_OUT")" '^20[0-9-]+T'
ctl_json orgs list --query susp-co
t_is "orgs list: suspended" "$(jq -r '.data[0].status' <<<"$CTL_OUT")" suspended

# A gateway that starts while A is suspended still refuses it.
suite_stop gateway-1 >/dev/null
suite_start_gateway 1 || t_bail "gateway restart"
suite_wait_ready 30 || t_bail "the gateway did not come back"
http_key "$akey" GET /v1/businesses
t_error "restarted gateway: A's key refused" 403 organization_suspended
http_as "$A_AT" GET /v1/businesses
t_error "restarted gateway: A's token refused" 403 organization_suspended
http_as "$B_AT" GET /v1/businesses
t_status "restarted gateway: B served" 200

# Not an operator's key: the broker refuses, nothing changes.
CTL_OUT=$(SWITCHBOARD_CURVE_CERT=$SWITCHBOARD_DATA_DIR/curve/internal.key \
          ctl --json orgs resume susp-co 2>"$SUITE_TMP/ctl.err")
t_is "resume with the internal key: exit 1 (refused)" "$?" 1
t_like "… forbidden by the broker" "$(cat "$SUITE_TMP/ctl.err")" 'forbidden'
ctl_json orgs show susp-co
t_is "… and A is still suspended" "$(jq -r .status <<<"$CTL_OUT")" suspended

ctl_json orgs resume susp-co
t_is "orgs resume: exit 0" "$CTL_RC" 0
t_is "the answer says active" "$(jq -r .status <<<"$CTL_OUT")" active
t_within "A's token works again" 5 200 GET /v1/businesses "" -H "Authorization: Bearer $A_AT"
http_key "$akey" GET /v1/businesses
t_status "A's key works again" 200
login A2 "ann-$$@susp.example" "$pw"
t_status "A's user logs in again" 200
ctl_json orgs resume susp-co
t_is "resume an active organization: exit 1" "$CTL_RC" 1
t_like "… conflict" "$(cat "$SUITE_TMP/ctl.err")" '^switchboardctl: conflict: '

http_as "$A2_AT" GET "/v1/audit-log"
actions=$(jq -r '[.data[].action] | join(" ")' <<<"$HTTP_BODY")
t_like "the audit log has the resume and the suspension" "$actions" 'org\.resumed.*org\.suspended'
t_like "… with the reason" "$(jq -r '.data[] | select(.action == "org.suspended") | .details.reason' <<<"$HTTP_BODY")" \
    '^unpaid invoices since March$'
t_done
