/*  mail.h — outgoing mail: password resets and invitations.

    One call sends one plain-text UTF-8 message to one recipient. With
    SWITCHBOARD_SMTP_URL set, it goes through libcurl's SMTP client; without,
    it is written as an .eml file under <data dir>/mail/, so that `make run`
    and the tests work with no mail server at all. Addresses and subjects are
    checked before anything is built: a CR or LF smuggled into either would
    let a caller add headers (Bcc) to our mail.
*/
#ifndef SB_MAIL_H_INCLUDED
#define SB_MAIL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "sb/config.h"

//  Sends text (UTF-8, lines ending in LF or CRLF) to the address to with the
//  given subject (UTF-8, one line), from config->smtp_from.
//
//  With config->smtp_url (smtp:// or smtps://, optionally with
//  user:password@), delivers through that server: connect timeout 5 s, total
//  15 s, TLS as sb_mail_tls_policy decides (on smtp:// to a host that is not
//  loopback, a server that does not offer STARTTLS gets nothing, and the
//  reason says so). Without smtp_url, writes the message to
//  <config->data_dir>/mail/<unix-ms>-<random>.eml (the directory is created
//  0700), under a temporary name first and renamed, so that readers never
//  see half a message.
//
//  Refuses, before sending anything, addresses that are empty, longer than
//  254 characters, without exactly one '@', or with control characters,
//  spaces, non-ASCII or any of ()<>[]:;,\" in them; subjects with CR, LF or
//  other control characters other than tab; and text or subjects that are
//  not valid UTF-8. Returns 0, or -1 with the reason in why (never the SMTP
//  password, never the message). All arguments are borrowed.
int sb_mail_send (const sb_config_t *config, const char *to, const char *subject,
                  const char *text, char *why, size_t why_size);

//  Checks the arguments of sb_mail_send by its rules (and that there is
//  somewhere to send to), without sending: for callers that queue a mail
//  to send later and want a refusal now, not at every attempt. Returns 0,
//  or -1 with the reason in why.
int sb_mail_check (const sb_config_t *config, const char *to, const char *subject,
                   const char *text, char *why, size_t why_size);

//  How a mail server URL is used: smtps:// is TLS from the first byte; on
//  smtp:// STARTTLS is required (CURLUSESSL_ALL) unless the host is
//  loopback (127.0.0.0/8, [::1], localhost) or allow_plaintext is set
//  (SWITCHBOARD_SMTP_ALLOW_PLAINTEXT=1), when it is used if offered. A host
//  name is judged as written, never by what it resolves to. INVALID: not an
//  smtp:// or smtps:// URL with a host.
typedef enum {
    SB_MAIL_TLS_INVALID,
    SB_MAIL_TLS_IMPLICIT,
    SB_MAIL_TLS_REQUIRED,
    SB_MAIL_TLS_OPTIONAL
} sb_mail_tls_t;

sb_mail_tls_t sb_mail_tls_policy (const char *url, bool allow_plaintext);
//  The policy in words, for logs (a static string).
const char *sb_mail_tls_describe (sb_mail_tls_t policy);

//  Checks one address by the rules above, for callers that validate input
//  (a signup form) long before they send anything. Returns 0 when it is
//  acceptable, or -1 with the reason in why (which does not repeat the
//  address).
int sb_mail_check_address (const char *address, char *why, size_t why_size);

//  Self test.
void sb_mail_test (bool verbose);

#endif
