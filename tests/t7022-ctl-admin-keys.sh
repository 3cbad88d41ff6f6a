#!/usr/bin/env bash
# `switchboardctl orgs create-admin` and `switchboardctl jwt` (auth-svc's
# sys.orgs.create_admin, sys.keys.list, sys.keys.rotate).
#
# First admins: an organization left without an admin (its only member
# demoted by hand in the database, as an import could leave it) gets one:
# without a password the person is mailed a link to choose one (through
# the mail outbox); the link's token resets the password, and the new
# admin then logs in as admin of that organization. A second create-admin
# is refused 409 conflict (exit 1), as is an e-mail that has an account
# (409 email_taken). With --password-stdin the admin can log in at once and
# no mail is sent. The audit log records user.first_admin.
#
# JWT keys: `jwt list` names the signing kid, which is the kid of the
# tokens issued now and is listed in /.well-known/jwks.json. `jwt rotate`
# answers a new signing kid; the JWKS then lists both kids (checked with an
# independent verifier, tests/lib/jwt_tool.py): a token signed before the
# rotation still verifies against it and is still accepted by the gateway,
# and a token issued after carries the new kid and is accepted too. A key
# that is not an operator's cannot rotate (403 from the broker).
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up

ctl () { "$SB_BIN/switchboardctl" "$@"; }
ctl_json () { CTL_OUT=$(ctl --json "$@" 2>"$SUITE_TMP/ctl.err"); CTL_RC=$?; }

pw=$AUTH_PASSWORD
reset_prefix="$SWITCHBOARD_PUBLIC_URL/reset-password?token="
signup A "ann-$$@orphan.example" "$pw" Ann "Orphan Co" orphan-co || t_bail "signup A"
signup B "bob-$$@keyed.example" "$pw" Bob "Keyed Co" keyed-co || t_bail "signup B"
# Organizations without an admin: their only members demoted by hand.
suite_psql -c "UPDATE auth.users SET role = 'user' WHERE organization_id IN ('$A_OID', '$B_OID')" \
    || t_bail "cannot demote the members"

new=neo-$$@orphan.example
ctl_json orgs create-admin orphan-co --email "$new" --name "Neo Admin"
t_is "create-admin without a password: exit 0" "$CTL_RC" 0
t_is "the new admin" "$(jq -r '"\(.user.email) \(.user.role) \(.organization_id)"' <<<"$CTL_OUT")" \
    "$new admin $A_OID"
t_is "a mail to choose a password is queued" "$(jq -r .password_mail_queued <<<"$CTL_OUT")" true
token=$(mail_token "$new" "$reset_prefix" 15)
t_like "the mail holds a link with a token" "$token" '^[A-Za-z0-9_-]{20,}$'
login N "$new" "$pw"
t_error "no password yet: the login fails" 401 invalid_credentials
http POST /v1/auth/password/reset "$(jobj token="$token" password="$pw")"
t_status "the link's token sets the password" 204
login N "$new" "$pw"
t_status "the new admin logs in" 200
t_is "… as admin of that organization" "$N_ROLE $N_OID" "admin $A_OID"
http_as "$N_AT" GET /v1/audit-log
t_like "the audit log records the first admin" "$(jq -r '[.data[].action] | join(" ")' <<<"$HTTP_BODY")" \
    'user\.first_admin'

ctl_json orgs create-admin orphan-co --email "other-$$@orphan.example"
t_is "a second first admin: exit 1" "$CTL_RC" 1
t_like "… conflict" "$(cat "$SUITE_TMP/ctl.err")" '^switchboardctl: conflict: '
ctl_json orgs create-admin keyed-co --email "ann-$$@orphan.example"
t_is "an e-mail with an account: exit 1" "$CTL_RC" 1
t_like "… email_taken" "$(cat "$SUITE_TMP/ctl.err")" '^switchboardctl: email_taken: '
ctl orgs create-admin keyed-co >/dev/null 2>&1
t_is "no --email: exit 2" "$?" 2

CTL_OUT=$(printf '%s\n' "$pw" | ctl --json orgs create-admin "$B_OID" --email "kay-$$@keyed.example" \
          --password-stdin 2>"$SUITE_TMP/ctl.err")
t_is "create-admin with --password-stdin: exit 0" "$?" 0
t_is "… no mail queued" "$(jq -r .password_mail_queued <<<"$CTL_OUT")" false
t_is "… named after the e-mail" "$(jq -r .user.name <<<"$CTL_OUT")" "kay-$$"
login K "kay-$$@keyed.example" "$pw"
t_status "… and logs in at once" 200
t_is "… as admin" "$K_ROLE" admin
t_is "… and no mail was queued for them (the outbox)" \
    "$(suite_psql -c "SELECT count (*) FROM auth.mail_outbox WHERE recipient = 'kay-$$@keyed.example'")" 0
t_is "… while the first one's was" \
    "$(suite_psql -c "SELECT count (*) FROM auth.mail_outbox WHERE recipient = '$new'")" 1

# JWT keys.
ctl_json jwt list
t_is "jwt list: exit 0" "$CTL_RC" 0
kid1=$(jq -r .signer <<<"$CTL_OUT")
t_like "a signing kid" "$kid1" '^[A-Za-z0-9._-]{8,}$'
t_is "tokens issued now carry it" "$(jwt_tool header "$N_AT" | jq -r .kid)" "$kid1"
old_token=$N_AT
t_like "the table names the signer" "$(ctl jwt list)" "$kid1 +signs"

CTL_OUT=$(SWITCHBOARD_CURVE_CERT=$SWITCHBOARD_DATA_DIR/curve/internal.key \
          ctl --json jwt rotate 2>"$SUITE_TMP/ctl.err")
t_is "rotate with the internal key: exit 1 (refused)" "$?" 1
t_like "… forbidden by the broker" "$(cat "$SUITE_TMP/ctl.err")" 'forbidden'

ctl_json jwt rotate
t_is "jwt rotate: exit 0" "$CTL_RC" 0
kid2=$(jq -r .signer <<<"$CTL_OUT")
t_like "a new signing kid" "$kid2" '^[A-Za-z0-9._-]{8,}$'
t_isnt "… not the old one" "$kid2" "$kid1"
t_is "the old kid still verifies" "$(jq -r --arg k "$kid1" '[.kids[] | select(. == $k)] | length' <<<"$CTL_OUT")" 1

fetch_jwks "$SUITE_TMP/jwks.json" || t_fail "fetch the JWKS"
t_is "/.well-known/jwks.json lists both kids" \
    "$(jq -r --arg a "$kid1" --arg b "$kid2" '[.keys[].kid | select(. == $a or . == $b)] | length' "$SUITE_TMP/jwks.json")" 2
t_ok "the old token verifies against it (independent verifier)" \
    jwt_tool verify "$SUITE_TMP/jwks.json" "$old_token"
t_alive "the old token is still accepted" "$old_token"
login N2 "$new" "$pw"
t_is "a token issued now carries the new kid" "$(jwt_tool header "$N2_AT" | jq -r .kid)" "$kid2"
t_ok "it verifies against the JWKS" jwt_tool verify "$SUITE_TMP/jwks.json" "$N2_AT"
t_alive "the gateway accepts it" "$N2_AT"
ctl_json jwt list
t_is "jwt list after: the new signer" "$(jq -r .signer <<<"$CTL_OUT")" "$kid2"
t_like "jwt --help: exit 0" "$(ctl jwt --help; echo "rc=$?")" 'jwt rotate.*rc=0'
t_done
