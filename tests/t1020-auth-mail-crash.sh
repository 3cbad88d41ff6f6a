#!/usr/bin/env bash
# A mail survives the death of the process sending it (issue 10, B.12):
# auth-svc's mail thread claims a row with a lease of 60 s before talking
# to the server. With the SMTP sink held (no greeting while .hold exists),
# auth-1 is killed (SIGKILL) while its thread waits at the sink with the
# claimed row: the row is still unsent, with no attempt counted and its
# lease in the future. A new auth-1 (and the released sink) sends it once
# the lease has run out, exactly once. Slow by design: it waits out the
# lease.
. "$(dirname "$0")/lib/auth.sh"
suite_init
suite_smtp_start || t_bail "the SMTP sink did not start"
suite_up

hold=$SUITE_MAIL_DIR/.hold
sink_log=$SUITE_TMP/log/smtp-sink.log
reset_prefix="$SWITCHBOARD_PUBLIC_URL/reset-password?token="
held () {
    grep -q 'smtp_sink: holding a session' "$sink_log"
}

signup K kim@example.com "$AUTH_PASSWORD" "Kim" "Crash Org"
t_status "signup: 201" 201
touch "$hold"
http POST /v1/auth/password/forgot "$(jobj email=kim@example.com)"
t_status "forgot with the sink held: 202" 202
t_ok "auth-1's mail thread waits at the held sink" poll_until 30 held
t_ok "auth-1 is killed while it holds the row" suite_kill auth-1
t_is "the row is unsent, no attempt counted, its lease still running" \
     "$(suite_psql -c "SELECT sent_at IS NULL, failed_at IS NULL, attempts, next_attempt_at > now (), body IS NOT NULL FROM auth.mail_outbox")" \
     "t|t|0|t|t"
rm -f "$hold"
suite_start_service auth 1
t_ok "a new auth-1 starts its mail thread" poll_until 60 eval \
     '(( $(grep -c "mail: through SWITCHBOARD_SMTP_URL" "$SUITE_TMP/log/auth-1.log") >= 2 ))'
token=$(mail_token kim@example.com "$reset_prefix" 150)
t_like "the mail arrives once the lease has run out" "$token" '^.+$'
http POST /v1/auth/password/reset "$(jobj token="$token" password='after the crash, anew')"
t_status "  and its link works: 204" 204
t_is "  one mail, not two" "$(mail_count kim@example.com)" 1
t_is "  the row is marked sent, without its text" \
     "$(suite_psql -c "SELECT sent_at IS NOT NULL, body IS NULL FROM auth.mail_outbox")" "t|t"

t_done
