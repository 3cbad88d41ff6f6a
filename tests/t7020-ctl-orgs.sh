#!/usr/bin/env bash
# `switchboardctl orgs list` and `orgs show` against a running suite with
# several organizations (auth-svc's sys.orgs.list / sys.orgs.get, role
# operator over the CURVE bus with the operator's key). The list is newest
# first and keyset-paged: pages of two walk every organization once, in
# order, and the last page has no cursor. --query matches part of a name,
# a subdomain or a member's e-mail, case-insensitively, and a LIKE
# wildcard in the query matches only itself. Each row says status active
# and its member count. `orgs show` by id or by subdomain gives members
# with roles and the API key count; an unknown organization is refused
# (exit 1, not_found on stderr); a bad cursor is refused with
# validation_failed; bad usage exits 2; --help exits 0. The table output
# has a header and a row per organization.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_up

ctl () { "$SB_BIN/switchboardctl" "$@"; }
# ctl_json ARGS...: --json output in CTL_OUT, exit status in CTL_RC.
ctl_json () { CTL_OUT=$(ctl --json "$@" 2>"$SUITE_TMP/ctl.err"); CTL_RC=$?; }

pw=$AUTH_PASSWORD
signup A "ann-$$@alpha.example" "$pw" Ann "Alpha Widgets" alpha-w || t_bail "signup alpha"
signup B "bob-$$@beta.example" "$pw" Bob "Beta Gadgets" beta-g || t_bail "signup beta"
signup C "cyd-$$@gamma.example" "$pw" Cyd "Gamma 100% Tools" gamma-t || t_bail "signup gamma"
http_as "$A_AT" POST /v1/invitations "$(jobj email="ann2-$$@alpha.example" role=user)"
t_status "alpha invites a second member" 201
http_as "$A_AT" POST /v1/api-keys "$(jobj name="robot")"
t_status "alpha has an API key" 201

ctl_json orgs list
t_is "orgs list: exit 0" "$CTL_RC" 0
t_is "three organizations, newest first" \
    "$(jq -r '[.data[].subdomain] | join(" ")' <<<"$CTL_OUT")" "gamma-t beta-g alpha-w"
t_is "each active" "$(jq -r '[.data[].status] | unique | join(",")' <<<"$CTL_OUT")" active
t_is "member counts" "$(jq -r '[.data[].members] | map(tostring) | join(" ")' <<<"$CTL_OUT")" "1 1 1"
t_is "no next page" "$(jq -r .next_cursor <<<"$CTL_OUT")" null
t_like "rows carry id and created_at" "$(jq -r '.data[0] | "\(.id) \(.created_at)"' <<<"$CTL_OUT")" \
    "^$C_OID 20[0-9-]+T"

# Pages of two: every organization once, in the same order.
ctl_json orgs list --limit 2
page1=$(jq -r '[.data[].subdomain] | join(" ")' <<<"$CTL_OUT")
cursor=$(jq -r .next_cursor <<<"$CTL_OUT")
t_is "page 1 of 2" "$page1" "gamma-t beta-g"
t_isnt "page 1 has a cursor" "$cursor" null
ctl_json orgs list --limit 2 --after "$cursor"
t_is "page 2: the rest" "$(jq -r '[.data[].subdomain] | join(" ")' <<<"$CTL_OUT")" alpha-w
t_is "page 2 is the last" "$(jq -r .next_cursor <<<"$CTL_OUT")" null

# Searches.
ctl_json orgs list --query GADGET
t_is "query on the name, any case" "$(jq -r '[.data[].subdomain] | join(" ")' <<<"$CTL_OUT")" beta-g
ctl_json orgs list --query alpha-w
t_is "query on the subdomain" "$(jq -r '[.data[].subdomain] | join(" ")' <<<"$CTL_OUT")" alpha-w
ctl_json orgs list --query "cyd-$$@GAMMA"
t_is "query on a member's e-mail" "$(jq -r '[.data[].subdomain] | join(" ")' <<<"$CTL_OUT")" gamma-t
ctl_json orgs list --query "100%"
t_is "a % in the query is a %" "$(jq -r '[.data[].subdomain] | join(" ")' <<<"$CTL_OUT")" gamma-t
ctl_json orgs list --query "a%g"
t_is "… and matches nothing else" "$(jq -r '.data | length' <<<"$CTL_OUT")" 0
ctl_json orgs list --after "not-a-cursor"
t_is "a bad cursor: exit 1" "$CTL_RC" 1
t_like "… validation_failed on stderr" "$(cat "$SUITE_TMP/ctl.err")" validation_failed

# Table output.
table=$(ctl orgs list)
t_like "the table has a header" "$(head -n 1 <<<"$table")" '^ID +SUBDOMAIN +STATUS +MEMBERS +CREATED +NAME$'
t_like "and a row per organization" "$(grep -c active <<<"$table")" '^3$'
t_like "a full page ends with the next command" "$(ctl orgs list --limit 1 | tail -n 1)" \
    "^more: switchboardctl orgs list --after '"

# Show, by id and by subdomain.
ctl_json orgs show "$A_OID"
t_is "orgs show by id: exit 0" "$CTL_RC" 0
t_is "its subdomain" "$(jq -r .subdomain <<<"$CTL_OUT")" alpha-w
t_is "its admin, by e-mail and role" "$(jq -r '.members[] | "\(.email) \(.role)"' <<<"$CTL_OUT")" \
    "ann-$$@alpha.example admin"
t_is "one API key" "$(jq -r .api_keys <<<"$CTL_OUT")" 1
t_is "one pending invitation" "$(jq -r .pending_invitations <<<"$CTL_OUT")" 1
t_is "not suspended" "$(jq -r '"\(.status) \(.suspended_at)"' <<<"$CTL_OUT")" "active null"
t_like "recent audit entries" "$(jq -r '[.recent_audit[].action] | join(" ")' <<<"$CTL_OUT")" \
    'apikey|invitation'
ctl_json orgs show beta-g
t_is "orgs show by subdomain" "$(jq -r .id <<<"$CTL_OUT")" "$B_OID"
t_like "the table form names the members" "$(ctl orgs show gamma-t)" "cyd-$$@gamma.example \\(Cyd\\)"
ctl_json orgs show no-such-org
t_is "an unknown organization: exit 1" "$CTL_RC" 1
t_like "… not_found on stderr" "$(cat "$SUITE_TMP/ctl.err")" '^switchboardctl: not_found: '
t_is "… and nothing on stdout" "$CTL_OUT" ""

# Usage.
ctl orgs show >/dev/null 2>&1
t_is "orgs show without ORG: exit 2" "$?" 2
ctl orgs frobnicate >/dev/null 2>&1
t_is "an unknown verb: exit 2" "$?" 2
ctl orgs list --limit 0 >/dev/null 2>&1
t_is "--limit 0: exit 2" "$?" 2
t_like "--help: the usage, exit 0" "$(ctl orgs --help; echo "rc=$?")" 'orgs create-admin ORG.*rc=0'
t_done
