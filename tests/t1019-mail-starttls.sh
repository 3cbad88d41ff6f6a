#!/usr/bin/env bash
# STARTTLS cannot be stripped (issue 10, B.16): mail over smtp:// to a host
# that is not loopback goes only over TLS. The SMTP sink offers no STARTTLS,
# like a server whose offer a man in the middle removed; it is reached under
# the name mail.example.com through its SOCKS5 door (ALL_PROXY, libcurl's
# own proxy setting), so the policy sees a remote name while the bytes stay
# on loopback. sb-mail (sb_mail_send as the services call it) refuses to
# send there, saying why and naming SWITCHBOARD_SMTP_ALLOW_PLAINTEXT, after
# reaching the server (the sink logs the connection) and storing nothing;
# with SWITCHBOARD_SMTP_ALLOW_PLAINTEXT=1 the same mail goes through, as it
# does to localhost. auth-svc started with that URL says at start that
# STARTTLS is required (and --help lists the setting); a reset it queues is
# refused at send with the same reason in its log and in the outbox row,
# and never reaches the sink.
. "$(dirname "$0")/lib/auth.sh"
suite_init
[[ -x $SB_BIN/sb-mail ]] || t_bail "missing $SB_BIN/sb-mail (make)"

t_like "auth-svc --help lists SWITCHBOARD_SMTP_ALLOW_PLAINTEXT" "$("$SB_BIN/auth-svc" --help 2>&1)" \
       'SWITCHBOARD_SMTP_ALLOW_PLAINTEXT'

# The sink with its SOCKS door: its log has the SMTP port, then the SOCKS port.
sink_dir=$SUITE_TMP/mail-sink
sink_log=$SUITE_TMP/log/smtp-socks.log
mkdir -p "$sink_dir"
_suite_start smtp-socks "$SUITE_PYTHON" "$SUITE_ROOT/tests/fakes/smtp_sink.py" 0 "$sink_dir" 0 \
    || t_bail "the sink did not start"
sink_ports () {
    (( $(grep -cE '^[0-9]+$' "$sink_log") >= 2 ))
}
poll_until 10 sink_ports || t_bail "the sink did not print its ports"
socks_port=$(grep -E '^[0-9]+$' "$sink_log" | sed -n 2p)
proxy=socks5h://127.0.0.1:$socks_port
stored () {
    find "$sink_dir" -name '*.eml' | wc -l
}
connects () {
    grep -c "socks connect to $1" "$sink_log"
}

sb_mail () {
    local rc
    SB_MAIL_OUT=$("$SB_BIN/sb-mail" "$@" 2>&1)
    rc=$?
    printf '%s\n' "$SB_MAIL_OUT" >>"$SUITE_TMP/log/sb-mail.log"
    return $rc
}

# ---- sb-mail ----------------------------------------------------------------------
ALL_PROXY=$proxy SWITCHBOARD_SMTP_URL=smtp://mail.example.com:25 sb_mail ann@example.com "Hi" "text"
t_is "smtp:// to mail.example.com without STARTTLS: sb-mail exits 1" "$?" 1
t_like "  saying the server does not offer STARTTLS" "$SB_MAIL_OUT" 'does not offer STARTTLS'
t_like "  naming the setting that would allow plaintext" "$SB_MAIL_OUT" 'SWITCHBOARD_SMTP_ALLOW_PLAINTEXT=1'
t_is "  it did reach the server (through the proxy)" "$(connects mail.example.com:25)" 1
t_is "  which stored nothing" "$(stored)" 0

ALL_PROXY=$proxy SWITCHBOARD_SMTP_ALLOW_PLAINTEXT=1 SWITCHBOARD_SMTP_URL=smtp://mail.example.com:25 \
    sb_mail ann@example.com "Hi" "text"
t_is "with SWITCHBOARD_SMTP_ALLOW_PLAINTEXT=1 the same mail goes: exit 0" "$?" 0
t_is "  the sink stored it" "$(stored)" 1

ALL_PROXY=$proxy SWITCHBOARD_SMTP_URL=smtp://localhost:25 sb_mail ann@example.com "Hi" "text"
t_is "smtp://localhost without STARTTLS (loopback): exit 0" "$?" 0
t_is "  the sink stored it" "$(stored)" 2

# ---- auth-svc ------------------------------------------------------------------------
suite_pg_start || t_bail "PostgreSQL did not start"
suite_start_gateway
ALL_PROXY=$proxy SWITCHBOARD_SMTP_URL=smtp://mail.example.com:25 suite_start_service auth 1
for s in tenant billing usage; do suite_start_service "$s"; done
suite_wait_ready 60 || t_bail "the gateway and auth-svc did not become ready"
t_like "auth-svc says at start that STARTTLS is required" \
       "$(grep 'mail: through SWITCHBOARD_SMTP_URL' "$SUITE_TMP/log/auth-1.log")" 'STARTTLS required'

signup A ann@example.com "$AUTH_PASSWORD" "Ann" "Ann Org"
t_status "signup: 201" 201
http POST /v1/auth/password/forgot "$(jobj email=ann@example.com)"
t_status "forgot: 202" 202
refused () {
    grep -q 'refused to send mail through smtp://mail.example.com:25: it does not offer STARTTLS' \
        "$SUITE_TMP/log/auth-1.log"
}
t_ok "auth-svc refuses to send the reset, and logs why" poll_until 30 refused
t_like "  the outbox row keeps the reason, unsent" \
       "$(suite_psql -c "SELECT last_error FROM auth.mail_outbox WHERE sent_at IS NULL")" \
       'does not offer STARTTLS'
t_ok "  after reaching the server" poll_until 10 eval '(( $(connects mail.example.com:25) >= 3 ))'
t_is "  which stored nothing more" "$(stored)" 2

t_done
