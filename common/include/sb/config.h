/*  config.h — configuration from SWITCHBOARD_* environment variables.

    Names and defaults follow ARCHITECTURE.md; every binary loads the same
    structure and uses what concerns it. Loading validates every value and
    names the variable at fault, so a typo stops the process at start with a
    clear message instead of a surprise later.
*/
#ifndef SB_CONFIG_H_INCLUDED
#define SB_CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define SB_CONFIG_MAX_ENDPOINTS 16

typedef struct {
    //  Gateway
    int http_port;                  //  SWITCHBOARD_HTTP_PORT, 8080
    char *http_bind;                //  SWITCHBOARD_HTTP_BIND, 0.0.0.0
    int http_threads;               //  SWITCHBOARD_HTTP_THREADS, 0 = half the cores (at least 1)
    int worker_credit;              //  SWITCHBOARD_WORKER_CREDIT, 0 = the service's default
    char *public_url;               //  SWITCHBOARD_PUBLIC_URL
    //  Bus
    char *broker;                   //  SWITCHBOARD_BROKER, comma-separated
    char *brokers [SB_CONFIG_MAX_ENDPOINTS];
    size_t broker_count;
    char *events_pub;               //  SWITCHBOARD_EVENTS_PUB: where publishers connect (XSUB)
    char *events_pubs [SB_CONFIG_MAX_ENDPOINTS];
    size_t events_pub_count;
    char *events_sub;               //  SWITCHBOARD_EVENTS_SUB: where subscribers connect (XPUB)
    char *events_subs [SB_CONFIG_MAX_ENDPOINTS];
    size_t events_sub_count;
    int heartbeat_ms;               //  SWITCHBOARD_HEARTBEAT_MS, 2500
    int heartbeat_liveness;         //  SWITCHBOARD_HEARTBEAT_LIVENESS, 3
    int request_timeout_ms;         //  SWITCHBOARD_REQUEST_TIMEOUT_MS, 5000
    //  Database: the shared URL and this component's override
    char *database_url;             //  SWITCHBOARD_DATABASE_URL
    char *service_database_url;     //  SWITCHBOARD_<SVC>_DATABASE_URL, or the above
    //  Mail, billing, plans
    char *smtp_url;                 //  SWITCHBOARD_SMTP_URL, unset
    char *smtp_from;                //  SWITCHBOARD_SMTP_FROM, no-reply@localhost
    int smtp_allow_plaintext;       //  SWITCHBOARD_SMTP_ALLOW_PLAINTEXT, 0
    char *support_email;            //  SWITCHBOARD_SUPPORT_EMAIL, support@localhost
    int mail_max_attempts;          //  SWITCHBOARD_MAIL_MAX_ATTEMPTS, 12
    char *stripe_secret_key;        //  SWITCHBOARD_STRIPE_SECRET_KEY, unset
    char *stripe_api_base;          //  SWITCHBOARD_STRIPE_API_BASE
    char *stripe_webhook_secret;    //  SWITCHBOARD_STRIPE_WEBHOOK_SECRET, unset
    int billing_grace_seconds;      //  SWITCHBOARD_BILLING_GRACE_SECONDS, 604800 (7 days)
    int billing_meter_interval_ms;  //  SWITCHBOARD_BILLING_METER_INTERVAL_MS, 60000
    char *plans_file;               //  SWITCHBOARD_PLANS_FILE, unset = shipped default
    int auth_rate_per_minute;       //  SWITCHBOARD_AUTH_RATE_PER_MINUTE, 30
    int rate_share;                 //  SWITCHBOARD_RATE_SHARE, 1 (gateways sharing limits)
    char *data_dir;                 //  SWITCHBOARD_DATA_DIR, var
    char *log_level;                //  SWITCHBOARD_LOG_LEVEL, info
    //  Identity (auth-svc and the gateway)
    char *jwt_issuer;               //  SWITCHBOARD_JWT_ISSUER, unset = public_url
    char *keys_dir;                 //  SWITCHBOARD_KEYS_DIR, unset = <data_dir>/keys
    char *secrets_key;              //  SWITCHBOARD_SECRETS_KEY (base64), unset = <data_dir>/secrets.key
    int access_token_ttl;           //  SWITCHBOARD_ACCESS_TOKEN_TTL, 900 (seconds, at most 900)
    int refresh_token_days;         //  SWITCHBOARD_REFRESH_TOKEN_DAYS, 30
    int login_max_failures;         //  SWITCHBOARD_LOGIN_MAX_FAILURES, 5 per (account, address)
    int login_max_account_failures; //  SWITCHBOARD_LOGIN_MAX_ACCOUNT_FAILURES, 50 per account
    int login_max_client_failures;  //  SWITCHBOARD_LOGIN_MAX_CLIENT_FAILURES, 20 per address
    int login_lockout_seconds;      //  SWITCHBOARD_LOGIN_LOCKOUT_SECONDS, 900
    int revoked_sessions_max;       //  SWITCHBOARD_REVOKED_SESSIONS_MAX, 100000 (gateway)
    //  The gateway's edge
    int http_idle_seconds;          //  SWITCHBOARD_HTTP_IDLE_SECONDS, 15
    int http_body_seconds;          //  SWITCHBOARD_HTTP_BODY_SECONDS, 30
    int http_conns_per_address;     //  SWITCHBOARD_HTTP_CONNS_PER_ADDRESS, 256, 0 = no cap
    int auth_failures_per_minute;   //  SWITCHBOARD_AUTH_FAILURES_PER_MINUTE, 60, 0 = off
    char *trusted_proxies;          //  SWITCHBOARD_TRUSTED_PROXIES, unset = none
    char *operator_token;           //  SWITCHBOARD_OPERATOR_TOKEN, unset = no /v1/sys routes
    //  Outbound webhooks (tenant-svc, issue 14)
    int webhook_retry_scale;        //  SWITCHBOARD_WEBHOOK_RETRY_SCALE, 1 (divisor, tests only)
    int webhooks_allow_private;     //  SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE, 0
    //  The bus's security (sb/curve.h)
    char *curve_mode;               //  SWITCHBOARD_CURVE, on | off
    bool curve;                     //  ... is on
    char *curve_dir;                //  SWITCHBOARD_CURVE_DIR, unset = <data_dir>/curve
    char *curve_cert;               //  SWITCHBOARD_CURVE_CERT, unset = <curve_dir>/<program>.key
    char *curve_server_cert;        //  SWITCHBOARD_CURVE_SERVER_CERT, unset = <curve_dir>/server.key
    char *curve_allow;              //  SWITCHBOARD_CURVE_ALLOW, unset = <curve_dir>/allow
    //  The gateway's /docs
    char *docs_dir;                 //  SWITCHBOARD_DOCS_DIR, unset = ../share/docs by the binary
    //  ---- bounded caches (issue 16, sb/lru.h) ----
    int gateway_key_cache;          //  SWITCHBOARD_GATEWAY_KEY_CACHE, 200000 API keys (and unknown ones)
    int gateway_token_cache;        //  SWITCHBOARD_GATEWAY_TOKEN_CACHE, 50000 access tokens
    int entitlements_cache;         //  SWITCHBOARD_ENTITLEMENTS_CACHE, 200000 organizations
    int gateway_rate_windows;       //  SWITCHBOARD_GATEWAY_RATE_WINDOWS, 262144 per rate-limit table
    //  ---- end of bounded caches ----
    int usage_retention_days;       //  SWITCHBOARD_USAGE_RETENTION_DAYS, 0 = keep raw events for ever
} sb_config_t;

//  The issuer of access tokens (jwt_issuer, else public_url). Borrowed.
const char *sb_config_issuer (const sb_config_t *self);

//  The directory of JWT signing keys (keys_dir, else <data_dir>/keys).
//  Caller frees.
char *sb_config_keys_dir (const sb_config_t *self);

//  Loads the configuration of `component` ("gateway", "auth", "tenant",
//  "billing", "usage") from envp (a NULL-terminated "NAME=value" array; NULL
//  means the process environment). On an invalid value, writes the reason
//  naming the variable into why and returns -1; the structure must still be
//  released. Returns 0 on success.
int sb_config_load (sb_config_t *self, const char *component, char *const *envp,
                    char *why, size_t why_size);

//  Frees what sb_config_load allocated. Safe on a zeroed structure.
void sb_config_release (sb_config_t *self);

//  Writes the variables, their meaning and their defaults, for --help.
void sb_config_print_help (FILE *out);

void sb_config_test (bool verbose);

#endif
