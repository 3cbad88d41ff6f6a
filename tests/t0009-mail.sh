#!/usr/bin/env bash
# Outgoing mail end to end, through sb-mail (sb_mail_send as the services
# call it): over SMTP into the sink with what tends to break on the way (a
# non-ASCII subject, lines starting with '.', a line over SMTP's 998
# octets), into a file when no SMTP server is set, refusals of header
# injection, and a server that is down.
. "$(dirname "$0")/lib/suite.sh"
suite_init
[[ -x $SB_BIN/sb-mail ]] || t_bail "missing $SB_BIN/sb-mail (make)"

# sb-mail's stderr goes to a log too, where the cleanup looks for
# sanitizer reports.
sb_mail () {
    local rc
    SB_MAIL_OUT=$("$SB_BIN/sb-mail" "$@" 2>&1)
    rc=$?
    printf '%s\n' "$SB_MAIL_OUT" >>"$SUITE_TMP/log/sb-mail.log"
    return $rc
}

out=$("$SB_BIN/sb-mail" --version 2>&1)
t_like "sb-mail --version" "$out" '^sb-mail [0-9]+\.[0-9]+\.[0-9]+$'
out=$("$SB_BIN/sb-mail" --help 2>&1)
t_like "sb-mail --help says how to use it" "$out" "usage: sb-mail TO SUBJECT TEXT"
"$SB_BIN/sb-mail" only-two args 2>/dev/null
t_is "sb-mail with bad usage exits 2" "$?" 2

t_ok "the SMTP sink starts" suite_smtp_start || t_bail "no SMTP sink"
t_like "SWITCHBOARD_SMTP_URL points at it" "$SWITCHBOARD_SMTP_URL" '^smtp://127\.0\.0\.1:[0-9]+$'

# ---- over SMTP --------------------------------------------------------------

subject='Réinitialisation de votre mot de passe — Switchboard ✓ 📧'
link="$SWITCHBOARD_PUBLIC_URL/reset-password?token=Ab3_x-9.Zz"
long=$(printf '%01500d' 7)
text="Bonjour Zoë,

.a line that starts with a dot
..and one with two
.
$long
Reset it here: $link.
Bye"
t_ok "sb-mail sends over SMTP" sb_mail Zoe.Example@Example.COM "$subject" "$text"
f=$(mail_wait zoe.example@example.com)
t_isnt "the mail arrives (recipient matched in any case)" "$f" ""
t_is "one mail to that address" "$(mail_count ZOE.EXAMPLE@example.com)" 1
t_is "To as given" "$(mail_header "$f" To)" "Zoe.Example@Example.COM"
t_is "From is SWITCHBOARD_SMTP_FROM's default" "$(mail_header "$f" From)" "no-reply@localhost"
t_is "the subject decodes to the original" "$(mail_header "$f" Subject)" "$subject"
t_like "the subject went as encoded-words" "$(grep -a '^Subject:' "$f")" '^Subject: =\?UTF-8\?B\?'
t_like "a Message-ID at the sender's domain" "$(mail_header "$f" Message-ID)" '^<[0-9a-f]{32}@localhost>$'
t_like "an RFC 5322 date" "$(mail_header "$f" Date)" \
       '^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} \+0000$'
t_is "the body arrives intact, dot lines un-stuffed" "$(mail_body "$f")" "$text"
t_is "the long line made it quoted-printable" "$(mail_header "$f" Content-Transfer-Encoding)" \
     quoted-printable
t_is "no line over 998 octets on the wire" \
     "$(awk 'length($0) > 999 { n++ } END { print n + 0 }' "$f")" 0
t_is "every line ends in CRLF" "$(grep -c -v $'\r$' "$f")" 0
t_is "mail_link finds the link (QP decoded, full stop dropped)" \
     "$(mail_link "$f" "$SWITCHBOARD_PUBLIC_URL/reset-password?token=")" "$link"
mail_link "$f" "https://nowhere.example/" >/dev/null
t_is "mail_link without a match fails" "$?" 1

t_ok "a second mail to the same address" sb_mail zoe.example@example.com "Plain subject" "short"
g=$(mail_wait zoe.example@example.com)
t_isnt "mail_wait returns the new one, not the first again" "$g" "$f"
t_is "its subject stays plain" "$(grep -a '^Subject:' "$g" | tr -d '\r')" "Subject: Plain subject"
t_is "a short body goes as 8bit" "$(mail_header "$g" Content-Transfer-Encoding)" 8bit
t_is "two mails to that address now" "$(mail_count zoe.example@example.com)" 2
mail_wait zoe.example@example.com 1 2>/dev/null
t_isnt "mail_wait with nothing new times out" "$?" 0

# ---- refusals -----------------------------------------------------------------

before=$(find "$SUITE_MAIL_DIR" -mindepth 1 | wc -l)
sb_mail $'a@b.c\r\nBcc: x@y.z' "Hi" "text"
t_isnt "an address with CRLF and a Bcc is refused" "$?" 0
t_like "saying why" "$SB_MAIL_OUT" "control character"
sb_mail "a@b.c" $'Hi\r\nBcc: x@y.z' "text"
t_isnt "a subject with CRLF and a Bcc is refused" "$?" 0
sb_mail "a@b.c, x@y.z" "Hi" "text"
t_isnt "two addresses in one are refused" "$?" 0
SWITCHBOARD_SMTP_FROM=$'me@example.com\nBcc: x@y.z' sb_mail "a@b.c" "Hi" "text"
t_isnt "a sender with a line break is refused" "$?" 0
sleep 0.3
t_is "nothing reached the sink" "$(find "$SUITE_MAIL_DIR" -mindepth 1 | wc -l)" "$before"
t_is "none for the Bcc target" "$(mail_count x@y.z)" 0

# ---- into a file without SMTP ---------------------------------------------------

maildir=$SWITCHBOARD_DATA_DIR/mail
(
    unset SWITCHBOARD_SMTP_URL
    sb_mail bob@example.com "Fichier ✓" $'Hello Bob\n.\nBye'
)
t_is "without SWITCHBOARD_SMTP_URL sb-mail succeeds" "$?" 0
files=("$maildir"/*.eml)
t_is "one .eml under \$SWITCHBOARD_DATA_DIR/mail" "${#files[@]}" 1
t_like "named <unix-ms>-<random>.eml" "${files[0]##*/}" '^[0-9]{13}-[0-9a-f]{16}\.eml$'
t_is "no temporary file left" "$(find "$maildir" -mindepth 1 ! -name '*.eml' | wc -l)" 0
t_is "To in the file" "$(mail_header "${files[0]}" To)" bob@example.com
t_is "subject in the file" "$(mail_header "${files[0]}" Subject)" "Fichier ✓"
t_is "body in the file, CRLF on disk" "$(mail_body "${files[0]}")" $'Hello Bob\n.\nBye'
t_is "the sink got nothing for it" "$(mail_count bob@example.com)" 0

# ---- a server that is down, a password that stays secret ---------------------

t_ok "the sink stops" suite_stop smtp-sink
start=$SECONDS
SWITCHBOARD_SMTP_URL=${SWITCHBOARD_SMTP_URL/smtp:\/\//smtp://mailer:hunter2-secret@} \
    sb_mail carol@example.com "Hi" "text"
t_is "with the server down sb-mail exits 1" "$?" 1
t_ok "quickly (connect timeout 5 s)" test $((SECONDS - start)) -le 6
t_like "naming the server" "$SB_MAIL_OUT" 'smtp://127\.0\.0\.1:[0-9]+'
t_unlike "but not the password" "$SB_MAIL_OUT" 'hunter2'

t_ok "the sink restarts on the same port" suite_smtp_start
t_ok "mail goes through again" sb_mail carol@example.com "Again" "text"
h=$(mail_wait carol@example.com)
t_like "numbering goes on after the restart" "${h##*/}" '^3\.eml$'

t_done
