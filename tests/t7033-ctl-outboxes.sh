#!/usr/bin/env bash
# switchboardctl outboxes: every service's outboxes (declared once per
# service, answered by the skeleton's sys.outboxes.*), a mail that fails
# while the SMTP server is down listed as failed with its error, replayed
# once the server is back and delivered; dead rows (given up) made pending
# again by replay --failed; bad requests refused with the tool's exit codes.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_stop smtp-sink        # the URL stays: every mail attempt now fails
suite_up

ctl () { "$SB_BIN/switchboardctl" "$@"; }

out=$(ctl outboxes --help); rc=$?
t_is "outboxes --help exits 0" "$rc" 0
t_like "--help describes replay" "$out" "replay: makes"

json=$(ctl --json outboxes list); rc=$?
t_is "list exits 0" "$rc" 0
names=$(printf '%s' "$json" | "$SUITE_PYTHON" -c 'import json,sys; print(" ".join(o["service"] + "/" + o["name"] for o in json.load(sys.stdin)["outboxes"]))')
t_is "every service's outboxes" "$names" "auth/mail_outbox auth/org_deletions auth/referral_outbox tenant/usage_outbox tenant/webhook_deliveries tenant/admin_mail_outbox billing/mail_outbox billing/webhook_outbox usage/alert_outbox"

email=ops-$RANDOM@example.com
signup u "$email" 'correct horse battery' "Ops" "Ops Org" || t_bail "signup failed"
http POST /v1/auth/password/forgot "$(jobj email="$email")"
t_status "a reset mail is queued" '20[02]'

failed_row () {
    json=$(ctl --json outboxes show auth/mail_outbox --state failed) || return 1
    [[ $(json_len "$json" .rows) -ge 1 ]]
}
t_ok "the mail fails while the SMTP server is down" poll_until 20 failed_row
id=$(json_get "$json" '.rows[0].id')
t_is "listed as failed, for its recipient" "$(json_get "$json" '.rows[0].state') $(json_get "$json" '.rows[0].recipient')" "failed $email"
t_like "with the error" "$(json_get "$json" '.rows[0].last_error')" "."
t_is "counted failed, in the backlog" "$(json_get "$json" .outbox.failed) $(json_get "$json" .outbox.pending)" "1 1"
table=$(ctl outboxes list --service auth)
t_like "table: auth's mail outbox with its failure" "$table" "auth +mail_outbox +1 +[0-9]+ +1 +0 +1"
table=$(ctl outboxes show auth/mail_outbox)
t_like "table: the row" "$table" "$id +failed"

# Its next attempt far away (a long backoff), the server back: only the
# replay sends it now.
suite_psql -c "UPDATE auth.mail_outbox SET next_attempt_at = now () + interval '1 hour' WHERE id = $id"
suite_smtp_start || t_bail "the SMTP sink did not restart"
json=$(ctl --json outboxes replay auth/mail_outbox --ids "$id"); rc=$?
t_is "replay exits 0" "$rc" 0
t_is "replayed that mail" "$(json_get "$json" .replayed) $(json_get "$json" '.ids[0]')" "1 $id"
t_ok "the mail is delivered" mail_wait "$email" 15
delivered_row () {
    json=$(ctl --json outboxes show auth/mail_outbox --state delivered) || return 1
    [[ $(json_get "$json" '.rows[0].id') == "$id" ]]
}
t_ok "and listed as delivered" poll_until 10 delivered_row
t_is "nothing pending" "$(json_get "$json" .outbox.pending) $(json_get "$json" .outbox.failed)" "0 0"

# A dead row (billing's mail outbox gives up after its attempts; the body
# is kept): replay --failed makes it pending again.
org=$u_OID
suite_psql -c "INSERT INTO billing.mail_outbox (id, organization_id, kind, subject, body, attempts, failed_at, last_error)
               VALUES ('11111111-1111-4111-8111-111111111111', '$org', 'test', 'Subject', 'Body', 5, now (), 'gave up')"
json=$(ctl --json outboxes show billing/mail_outbox --state dead)
t_is "billing: the dead mail" "$(json_get "$json" '.rows[0].id') $(json_get "$json" .outbox.dead)" "11111111-1111-4111-8111-111111111111 1"
json=$(ctl --json outboxes replay billing/mail_outbox --failed); rc=$?
t_is "replay --failed exits 0" "$rc" 0
t_is "replayed the dead mail" "$(json_get "$json" .replayed)" 1
t_is "with fresh attempts" "$(suite_psql -c "SELECT attempts < 5 FROM billing.mail_outbox WHERE id = '11111111-1111-4111-8111-111111111111'")" t

ctl outboxes replay auth/mail_outbox 2>/dev/null; rc=$?
t_is "replay needs --ids or --failed (exit 2)" "$rc" 2
ctl outboxes show auth 2>/dev/null; rc=$?
t_is "a name without its service is bad usage (exit 2)" "$rc" 2
ctl outboxes show auth/nosuch 2>/dev/null; rc=$?
t_is "an unknown outbox is refused (exit 1)" "$rc" 1
ctl outboxes replay auth/mail_outbox --ids "1'; DROP TABLE x" 2>/dev/null; rc=$?
t_is "an id with other characters is refused (exit 1)" "$rc" 1
ctl outboxes show auth/mail_outbox --state nosuch 2>/dev/null; rc=$?
t_is "an unknown state is refused (exit 1)" "$rc" 1
t_done
