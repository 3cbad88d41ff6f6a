#!/usr/bin/env bash
# The mail outbox (issue 10, B.12): a request that mails never waits for
# the mail server, so its answer cannot tell whether an account exists.
# With the SMTP sink held (it greets nobody while $SUITE_MAIL_DIR/.hold
# exists), forgot for a known and for an unknown email both answer 202 with
# the same body, and an invitation answers 201, while the sink is still held
# and has accepted nothing; the rows wait in auth.mail_outbox; once the sink
# is released the reset and invitation mails arrive (the reset link works),
# the unknown email gets none, and the sent rows no longer hold the link.
# With the sink stopped, forgot still answers 202, the mail thread counts
# failed attempts and retries, and the mail arrives once the sink is back.
# With SWITCHBOARD_MAIL_MAX_ATTEMPTS=2, a mail that cannot be sent is marked
# failed after 2 attempts and logged, not retried for ever nor dropped
# silently. A row sent more than 30 days ago is deleted when auth-svc
# starts, and so is a forgot request (written by known and unknown emails
# alike, so that both commit a write) of more than a day ago. Two auth-svc workers share the outbox: each mail arrives once.
# No timing is asserted: the order of events (answer received while the sink
# is held or stopped, then the mail) is.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up

pw=$AUTH_PASSWORD
reset_prefix="$SWITCHBOARD_PUBLIC_URL/reset-password?token="
invite_prefix="$SWITCHBOARD_PUBLIC_URL/accept-invitation?token="
hold=$SUITE_MAIL_DIR/.hold
sink_log=$SUITE_TMP/log/smtp-sink.log

outbox () {
    suite_psql -c "SELECT $1 FROM auth.mail_outbox ${2:-}"
}
held_sessions () {
    grep -c 'smtp_sink: holding a session' "$sink_log"
}
sink_held_once () {
    (( $(held_sessions) > ${1:-0} ))
}
outbox_is () {
    [[ $(outbox "$1" "$2") == "$3" ]]
}

signup O owner@example.com "$pw" "Olga Owner" "Outbox Org" outboxorg
t_status "signup: 201" 201

# ---- the sink held: answers before any mail -------------------------------------
touch "$hold"
held_before=$(held_sessions)
http POST /v1/auth/password/forgot "$(jobj email=owner@example.com)"
t_status "held sink: forgot for a known email: 202" 202
known_body=$HTTP_BODY
http POST /v1/auth/password/forgot "$(jobj email=nobody@example.com)"
t_status "held sink: forgot for an unknown email: 202" 202
t_is "  the same answer for both" "$HTTP_BODY" "$known_body"
t_is "  both committed a write (their time does not differ by a WAL flush)" \
     "$(suite_psql -c "SELECT string_agg (email_lower, ' ' ORDER BY id) FROM auth.forgot_requests")" \
     "owner@example.com nobody@example.com"
http_as "$O_AT" POST /v1/invitations "$(jobj email=invitee@example.com role=user)"
t_status "held sink: an invitation: 201" 201
t_ok "  the sink is still held" test -e "$hold"
t_is "  and has accepted no mail to the owner" "$(mail_count owner@example.com)" 0
t_is "  nor to the invitee" "$(mail_count invitee@example.com)" 0
t_is "the outbox holds the reset and the invitation, unsent" \
     "$(outbox "kind || ' ' || recipient" "WHERE sent_at IS NULL ORDER BY id")" \
     $'password_reset owner@example.com\ninvitation invitee@example.com'
t_ok "the mail thread is at the held sink's door" poll_until 30 sink_held_once "$held_before"
t_is "  still nothing accepted" "$(find "$SUITE_MAIL_DIR" -name '*.eml' | wc -l)" 0

rm -f "$hold"
token=$(mail_token owner@example.com "$reset_prefix" 90)
t_like "released: the reset mail arrives" "$token" '^.+$'
invite=$(mail_token invitee@example.com "$invite_prefix" 90)
t_like "  and the invitation mail" "$invite" '^.+$'
http POST /v1/auth/password/reset "$(jobj token="$token" password='a brand new passphrase')"
t_status "  the mailed reset link works: 204" 204
pw='a brand new passphrase'
t_ok "  both rows are marked sent" poll_until 10 outbox_is "count (*)" \
     "WHERE sent_at IS NOT NULL AND failed_at IS NULL" 2
t_is "  and no longer hold the text with the link" "$(outbox "count (*)" "WHERE body IS NOT NULL")" 0
t_is "  no mail for the unknown email" "$(mail_count nobody@example.com)" 0
t_is "  one mail to the owner" "$(mail_count owner@example.com)" 1

# ---- the sink stopped: retried until it is back ---------------------------------------
t_ok "the sink stops" suite_stop smtp-sink
http POST /v1/auth/password/forgot "$(jobj email=owner@example.com)"
t_status "sink down: forgot for a known email: 202" 202
http POST /v1/auth/password/forgot "$(jobj email=nobody@example.com)"
t_status "sink down: forgot for an unknown email: 202" 202
t_ok "  the mail thread tried twice and failed" poll_until 30 outbox_is \
     "count (*)" "WHERE sent_at IS NULL AND failed_at IS NULL AND attempts >= 2" 1
t_like "  the reason is kept" "$(outbox last_error "WHERE sent_at IS NULL")" 'cannot send mail through smtp://127\.0\.0\.1'
t_like "  and logged as a warning" "$(grep 'attempt 1 of 12 failed' "$SUITE_TMP/log/auth-1.log")" 'password_reset'
t_ok "the sink restarts" suite_smtp_start
token2=$(mail_token owner@example.com "$reset_prefix" 90)
t_like "  the reset mail arrives once the sink is back" "$token2" '^.+$'
t_isnt "  a new token" "$token2" "$token"
t_ok "  its row is marked sent" poll_until 10 outbox_is "count (*)" "WHERE sent_at IS NULL" 0
t_is "  two mails to the owner in all" "$(mail_count owner@example.com)" 2

# ---- a bounded number of attempts; old sent rows go -----------------------------------
t_ok "auth-1 stops" suite_stop auth-1
suite_psql -c "UPDATE auth.mail_outbox SET sent_at = now () - interval '31 days' WHERE id = (SELECT min (id) FROM auth.mail_outbox)"
suite_psql -c "UPDATE auth.forgot_requests SET at = now () - interval '25 hours' WHERE id = (SELECT min (id) FROM auth.forgot_requests)"
forgot_rows=$(suite_psql -c "SELECT count (*) FROM auth.forgot_requests")
SWITCHBOARD_MAIL_MAX_ATTEMPTS=2 suite_start_service auth 1
suite_wait_ready 60 || t_bail "auth-1 did not come back"
t_ok "a row sent 31 days ago is deleted at start" poll_until 30 outbox_is "count (*)" \
     "WHERE sent_at < now () - interval '30 days'" 0
t_is "  the rows sent since stay" "$(outbox "count (*)" "WHERE sent_at IS NOT NULL")" 2
t_is "  and a forgot request of 25 hours ago, not the others" \
     "$(suite_psql -c "SELECT count (*) FROM auth.forgot_requests")" $((forgot_rows - 1))
t_ok "the sink stops" suite_stop smtp-sink
t_ok "  forgot (auth-1 ready)" poll_until 30 eval \
     'http POST /v1/auth/password/forgot "$(jobj email=owner@example.com)" && [[ $HTTP_STATUS == 202 ]]'
t_ok "  the mail is marked failed after 2 attempts" poll_until 30 outbox_is \
     "count (*)" "WHERE failed_at IS NOT NULL AND attempts = 2 AND body IS NULL" 1
t_like "  and an error is logged" "$(grep 'failed after 2 attempts' "$SUITE_TMP/log/auth-1.log")" \
       '"level":"error".*password_reset'
t_ok "the sink restarts" suite_smtp_start
http POST /v1/auth/password/forgot "$(jobj email=owner@example.com)"
t_status "  another forgot: 202" 202
token3=$(mail_token owner@example.com "$reset_prefix" 60)
t_like "  its mail arrives" "$token3" '^.+$'
t_is "  the failed one stays failed, not sent" "$(outbox "count (*)" "WHERE failed_at IS NOT NULL AND sent_at IS NULL")" 1
t_is "  three mails to the owner in all" "$(mail_count owner@example.com)" 3

# ---- two workers share the outbox -------------------------------------------------
suite_start_service auth 2
t_ok "auth-2 serves" poll_until 60 eval 'grep -q "mail: through SWITCHBOARD_SMTP_URL" "$SUITE_TMP/log/auth-2.log"'
touch "$hold"
for u in s1 s2 s3 s4 s5 s6; do
    signup "S_$u" "$u@example.com" "$pw" "User $u" "Org $u"
    http POST /v1/auth/password/forgot "$(jobj email="$u@example.com")"
    t_status "held sink: forgot for $u: 202" 202
done
rm -f "$hold"
for u in s1 s2 s3 s4 s5 s6; do
    t_ok "$u's mail arrives" mail_wait "$u@example.com" 90
done
t_ok "every row is sent" poll_until 10 outbox_is "count (*)" "WHERE sent_at IS NULL AND failed_at IS NULL" 0
for u in s1 s2 s3 s4 s5 s6; do
    t_is "  exactly one mail to $u" "$(mail_count "$u@example.com")" 1
done

t_done
