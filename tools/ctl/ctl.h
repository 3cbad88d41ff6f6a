/*  ctl.h — what the commands of switchboardctl share.

    switchboardctl is the operator's tool. Each command (`orgs`, `keys`,
    `revenue`, ...) lives in its own file tools/ctl/ctl_<name>.c as one
    function `int ctl_<name> (ctl_t *ctl, int argc, char **argv)` listed
    in switchboardctl.c's table; argv [0] is the command's name and the
    rest its own words and options.

    Contract of every command:
    - `--help` anywhere prints its usage on stdout and exits 0;
    - output is a table for people, or with the global `--json` one JSON
      document on stdout, nothing else there (diagnostics go to stderr);
    - exit codes: CTL_OK, CTL_REFUSED (the service answered, and said no:
      4xx), CTL_USAGE (bad command line), CTL_UNAVAILABLE (no answer, 5xx,
      or a local failure such as an unreadable file).

    Calls go over the bus as role operator (sb/envelope.h) with the
    operator's CURVE key (SWITCHBOARD_CURVE_CERT, default
    <SWITCHBOARD_CURVE_DIR>/operator.key): on a secured bus only a key the
    gateways list with role `operator` gets through (sb/curve.h).
*/
#ifndef CTL_H_INCLUDED
#define CTL_H_INCLUDED

#include "sb/sb.h"

enum { CTL_OK = 0, CTL_REFUSED = 1, CTL_USAGE = 2, CTL_UNAVAILABLE = 3 };

typedef struct {
    sb_config_t config;             //  loaded as component "operator"
    bool json;                      //  --json: JSON documents on stdout
    int timeout_ms;                 //  --timeout MS, default 5000
    sb_client_t *client;            //  made on the first call
} ctl_t;

typedef int (ctl_fn) (ctl_t *ctl, int argc, char **argv);

//  Calls op on service as role operator, for org (NULL: none), with args
//  (a JSON object or NULL; borrowed). Returns the reply's status, 0 when
//  none came (the reason on stderr). With body not NULL and a 2xx status,
//  *body is the reply's body as JSON (caller decrefs); on another status
//  the error is printed on stderr as "switchboardctl: <code>: <message>".
int ctl_call (ctl_t *ctl, const char *service, const char *op, const char *org,
              const json_t *args, json_t **body);

//  The exit code for a status ctl_call returned.
int ctl_exit_code (int status);

//  Prints value as one JSON document on stdout (indented).
void ctl_print_json (const json_t *value);

//  True when argv holds "--help" or "-h" (then prints usage on stdout).
bool ctl_wants_help (int argc, char **argv, const char *usage);

//  The value of option name ("--role") in argv: "--role x" or "--role=x";
//  NULL when absent.
const char *ctl_option (int argc, char **argv, const char *name);

//  Positional word index (0-based) of argv after argv [0], skipping
//  options and their values (options known to take a value are those
//  named in with_value, a NULL-terminated list). NULL when absent.
const char *ctl_word (int argc, char **argv, int index, const char *const *with_value);

//  The commands.
int ctl_keys (ctl_t *ctl, int argc, char **argv);

//  ---- organizations and JWT keys (ctl_orgs.c, ctl_jwt.c) ------------------
int ctl_orgs (ctl_t *ctl, int argc, char **argv);
int ctl_jwt (ctl_t *ctl, int argc, char **argv);
//  ---- revenue, plan, migrations, workers, outboxes (ctl_<name>.c) ----
int ctl_revenue (ctl_t *ctl, int argc, char **argv);
int ctl_plan (ctl_t *ctl, int argc, char **argv);
int ctl_migrations (ctl_t *ctl, int argc, char **argv);
int ctl_workers (ctl_t *ctl, int argc, char **argv);
int ctl_outboxes (ctl_t *ctl, int argc, char **argv);

#endif
