/*  sb-mail.c — send one mail the way the services do.

    Usage: sb-mail TO SUBJECT TEXT      (TEXT "-" reads the text from stdin)

    Loads the SWITCHBOARD_* configuration of the process and calls
    sb_mail_send: through SWITCHBOARD_SMTP_URL when it is set, otherwise
    into $SWITCHBOARD_DATA_DIR/mail/. For checking a mail setup by hand, and
    for the integration tests of mail itself. Exits 0 when the mail went
    out (or was written), 1 when sending failed, 2 on bad usage, a bad
    configuration or an address that would be refused anyway.
*/
#include "sb/sb.h"

#define S_USAGE "usage: sb-mail TO SUBJECT TEXT   (TEXT '-' reads it from stdin)\n"

//  Reads all of stdin into a NUL-terminated string (caller frees).
static char *
s_read_stdin (void)
{
    size_t size = 0, max = 4096;
    char *text = (char *) sb_malloc (max);
    size_t n;
    while ((n = fread (text + size, 1, max - size - 1, stdin)) > 0) {
        size += n;
        if (max - size - 1 == 0) {
            max *= 2;
            text = (char *) sb_realloc (text, max);
        }
    }
    text [size] = 0;
    return text;
}

int
main (int argc, char **argv)
{
    if (argc == 2 && (streq (argv [1], "--help") || streq (argv [1], "-h"))) {
        printf (S_USAGE "\nSends one plain-text mail with the configuration below: through\n"
                        "SWITCHBOARD_SMTP_URL, or into SWITCHBOARD_DATA_DIR/mail when it is unset.\n"
                        "Exits 0 when sent, 1 when sending failed, 2 on bad usage.\n\n");
        sb_config_print_help (stdout);
        return 0;
    }
    if (argc == 2 && streq (argv [1], "--version")) {
        printf ("sb-mail %s\n", SB_VERSION);
        return 0;
    }
    if (argc != 4) {
        fprintf (stderr, S_USAGE);
        return 2;
    }
    sb_log_init ("sb-mail");
    sb_log_set_level ("warn");
    char why [512];
    if (sb_mail_check_address (argv [1], why, sizeof (why))) {
        fprintf (stderr, "sb-mail: %s\n", why);
        return 2;
    }
    sb_config_t config;
    if (sb_config_load (&config, NULL, NULL, why, sizeof (why))) {
        fprintf (stderr, "sb-mail: %s\n", why);
        sb_config_release (&config);
        return 2;
    }
    char *text = streq (argv [3], "-") ? s_read_stdin () : sb_strdup (argv [3]);
    int status = 0;
    if (sb_mail_send (&config, argv [1], argv [2], text, why, sizeof (why))) {
        fprintf (stderr, "sb-mail: %s\n", why);
        status = 1;
    }
    free (text);
    sb_config_release (&config);
    return status;
}
