/*  config.c — configuration from SWITCHBOARD_* environment variables.

    One table lists every variable once: its name, default, meaning and how
    to parse it. Loading walks the table, so --help, defaults and validation
    cannot disagree. Lists (broker and event endpoints) are comma-separated
    and split into arrays here, once.
*/
#include "sb/sb.h"

extern char **environ;

typedef enum { S_STR, S_INT, S_LIST } s_kind_t;

typedef struct {
    const char *name;               //  without the SWITCHBOARD_ prefix
    s_kind_t kind;
    const char *fallback;           //  default as text; NULL = unset
    int min, max;                   //  for S_INT
    const char *prefixes;           //  for S_STR/S_LIST: allowed schemes, '|'-separated
    const char *help;
    size_t offset;                  //  of the char * or int field
    size_t list_offset, count_offset;
} s_var_t;

#define S_FIELD(f) offsetof (sb_config_t, f)

static const s_var_t s_vars [] = {
    { "HTTP_PORT", S_INT, "8080", 1, 65535, NULL, "gateway HTTP port", S_FIELD (http_port), 0, 0 },
    { "HTTP_BIND", S_STR, "0.0.0.0", 0, 0, NULL, "gateway HTTP listen address", S_FIELD (http_bind), 0, 0 },
    { "HTTP_THREADS", S_INT, "0", 0, 256, NULL, "gateway HTTP threads (0 = half the cores, at least 1)",
      S_FIELD (http_threads), 0, 0 },
    { "WORKER_CREDIT", S_INT, "0", 0, 64, NULL,
      "requests a service worker takes at once (0 = the service's own default)",
      S_FIELD (worker_credit), 0, 0 },
    { "PUBLIC_URL", S_STR, "http://localhost:8080", 0, 0, "http://|https://",
      "base URL used in emails and redirects", S_FIELD (public_url), 0, 0 },
    { "BROKER", S_LIST, "tcp://127.0.0.1:5555", 0, 0, "tcp://|ipc://|inproc://",
      "broker endpoint(s); workers connect to each, the gateway binds the first",
      S_FIELD (broker), S_FIELD (brokers), S_FIELD (broker_count) },
    { "EVENTS_PUB", S_LIST, "tcp://127.0.0.1:5556", 0, 0, "tcp://|ipc://|inproc://",
      "event proxy input(s): publishers connect to each, the gateway binds the first",
      S_FIELD (events_pub), S_FIELD (events_pubs), S_FIELD (events_pub_count) },
    { "EVENTS_SUB", S_LIST, "tcp://127.0.0.1:5557", 0, 0, "tcp://|ipc://|inproc://",
      "event proxy output(s): subscribers connect to each, the gateway binds the first",
      S_FIELD (events_sub), S_FIELD (events_subs), S_FIELD (events_sub_count) },
    { "HEARTBEAT_MS", S_INT, "2500", 10, 60000, NULL, "bus heartbeat interval (ms)",
      S_FIELD (heartbeat_ms), 0, 0 },
    { "HEARTBEAT_LIVENESS", S_INT, "3", 1, 100, NULL,
      "missed heartbeats before a peer is considered dead", S_FIELD (heartbeat_liveness), 0, 0 },
    { "REQUEST_TIMEOUT_MS", S_INT, "5000", 1, 600000, NULL, "default per-request deadline (ms)",
      S_FIELD (request_timeout_ms), 0, 0 },
    { "DATABASE_URL", S_STR, NULL, 0, 0, "postgres://|postgresql://|host=|dbname=|user=",
      "PostgreSQL URL for all services", S_FIELD (database_url), 0, 0 },
    { "SMTP_URL", S_STR, NULL, 0, 0, "smtp://|smtps://",
      "outgoing mail server (unset: mail is written under the data directory)", S_FIELD (smtp_url), 0, 0 },
    { "SMTP_FROM", S_STR, "no-reply@localhost", 0, 0, NULL, "sender address", S_FIELD (smtp_from), 0, 0 },
    { "SMTP_ALLOW_PLAINTEXT", S_INT, "0", 0, 1, NULL,
      "1: smtp:// to a host that is not loopback may go without STARTTLS (0: TLS required)",
      S_FIELD (smtp_allow_plaintext), 0, 0 },
    { "SUPPORT_EMAIL", S_STR, "support@localhost", 0, 0, NULL,
      "where support requests are mailed (with no SMTP URL: a file under the data directory)",
      S_FIELD (support_email), 0, 0 },
    { "MAIL_MAX_ATTEMPTS", S_INT, "12", 1, 100, NULL,
      "attempts to send a queued mail (backoff 1 s doubling to 5 min) before it is marked failed",
      S_FIELD (mail_max_attempts), 0, 0 },
    { "STRIPE_SECRET_KEY", S_STR, NULL, 0, 0, NULL, "Stripe API key (unset: checkout answers 503)",
      S_FIELD (stripe_secret_key), 0, 0 },
    { "STRIPE_API_BASE", S_STR, "https://api.stripe.com", 0, 0, "http://|https://", "Stripe API base URL",
      S_FIELD (stripe_api_base), 0, 0 },
    { "STRIPE_WEBHOOK_SECRET", S_STR, NULL, 0, 0, NULL, "webhook signing secret(s), comma-separated",
      S_FIELD (stripe_webhook_secret), 0, 0 },
    { "BILLING_GRACE_SECONDS", S_INT, "604800", 1, 90 * 86400, NULL,
      "how long a past-due subscription keeps its plan before it falls back to free (s)",
      S_FIELD (billing_grace_seconds), 0, 0 },
    { "BILLING_METER_INTERVAL_MS", S_INT, "60000", 100, 86400000, NULL,
      "how often billing-svc reports usage beyond the plans (overage) to Stripe meters (ms)",
      S_FIELD (billing_meter_interval_ms), 0, 0 },
    { "PLANS_FILE", S_STR, NULL, 0, 0, NULL, "plan catalogue (unset: the shipped default)",
      S_FIELD (plans_file), 0, 0 },
    { "AUTH_RATE_PER_MINUTE", S_INT, "30", 0, 1000000, NULL,
      "signup/login/reset requests per client address per minute (0 = off)",
      S_FIELD (auth_rate_per_minute), 0, 0 },
    { "DATA_DIR", S_STR, "var", 0, 0, NULL, "where keys, mail and the local cluster live",
      S_FIELD (data_dir), 0, 0 },
    { "LOG_LEVEL", S_STR, "info", 0, 0, "debug|info|warn|error", "debug, info, warn or error",
      S_FIELD (log_level), 0, 0 },
    { "RATE_SHARE", S_INT, "1", 1, 1000, NULL,
      "gateways sharing the rate limits: each enforces 1/N of every limit",
      S_FIELD (rate_share), 0, 0 },
    { "JWT_ISSUER", S_STR, NULL, 0, 0, NULL, "issuer (iss) of access tokens (unset: PUBLIC_URL)",
      S_FIELD (jwt_issuer), 0, 0 },
    { "KEYS_DIR", S_STR, NULL, 0, 0, NULL, "JWT signing keys (unset: <DATA_DIR>/keys)",
      S_FIELD (keys_dir), 0, 0 },
    { "SECRETS_KEY", S_STR, NULL, 0, 0, NULL,
      "key sealing stored third-party secrets: 32 bytes in base64 (unset: <DATA_DIR>/secrets.key, "
      "made on first use; set it when services run on several hosts)",
      S_FIELD (secrets_key), 0, 0 },
    { "ACCESS_TOKEN_TTL", S_INT, "900", 60, 900, NULL, "access token lifetime (seconds)",
      S_FIELD (access_token_ttl), 0, 0 },
    { "REFRESH_TOKEN_DAYS", S_INT, "30", 1, 365, NULL, "refresh token lifetime (days)",
      S_FIELD (refresh_token_days), 0, 0 },
    { "LOGIN_MAX_FAILURES", S_INT, "5", 1, 1000, NULL,
      "failed logins per account from one client address before that address is locked out of it",
      S_FIELD (login_max_failures), 0, 0 },
    { "LOGIN_MAX_ACCOUNT_FAILURES", S_INT, "50", 1, 100000, NULL,
      "failed logins per account from all addresses before the account is locked out",
      S_FIELD (login_max_account_failures), 0, 0 },
    { "LOGIN_MAX_CLIENT_FAILURES", S_INT, "20", 1, 100000, NULL,
      "failed logins per client address before a lockout", S_FIELD (login_max_client_failures), 0, 0 },
    { "LOGIN_LOCKOUT_SECONDS", S_INT, "900", 1, 86400, NULL,
      "window of counted failures and length of a lockout", S_FIELD (login_lockout_seconds), 0, 0 },
    { "REVOKED_SESSIONS_MAX", S_INT, "100000", 1, 10000000, NULL,
      "revoked sessions a gateway remembers; beyond, it asks auth-svc",
      S_FIELD (revoked_sessions_max), 0, 0 },
    { "HTTP_IDLE_SECONDS", S_INT, "15", 1, 3600, NULL,
      "seconds a gateway connection may send nothing (mid-request or between requests)",
      S_FIELD (http_idle_seconds), 0, 0 },
    { "HTTP_BODY_SECONDS", S_INT, "30", 1, 3600, NULL,
      "seconds a request body may take to arrive once its headers are in",
      S_FIELD (http_body_seconds), 0, 0 },
    { "HTTP_CONNS_PER_ADDRESS", S_INT, "256", 0, 1000000, NULL,
      "open gateway connections per client address (0 = no cap; trusted proxies exempt)",
      S_FIELD (http_conns_per_address), 0, 0 },
    { "AUTH_FAILURES_PER_MINUTE", S_INT, "60", 0, 1000000, NULL,
      "refused credentials per client address per minute before 429 (0 = off)",
      S_FIELD (auth_failures_per_minute), 0, 0 },
    { "TRUSTED_PROXIES", S_STR, NULL, 0, 0, NULL,
      "proxies (addresses, CIDRs, comma-separated) whose X-Forwarded-For names the client",
      S_FIELD (trusted_proxies), 0, 0 },
    //  ---- outbound webhooks (tenant-svc, issue 14) ----
    { "WEBHOOK_RETRY_SCALE", S_INT, "1", 1, 1000000, NULL,
      "divides the webhook retry schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) and the "
      "5 days after which a failing endpoint is disabled: for tests only (1 = as specified)",
      S_FIELD (webhook_retry_scale), 0, 0 },
    { "WEBHOOKS_ALLOW_PRIVATE", S_INT, "0", 0, 1, NULL,
      "1: webhook endpoints may be http:// and resolve to loopback or private addresses "
      "(tests and development; 0: https:// to public addresses only)",
      S_FIELD (webhooks_allow_private), 0, 0 },
    //  ---- end of outbound webhooks ----
    { "OPERATOR_TOKEN", S_STR, NULL, 0, 0, NULL,
      "bearer token for /v1/sys/* (at least 32 characters; unset: those routes answer 404)",
      S_FIELD (operator_token), 0, 0 },
    { "CURVE", S_STR, "on", 0, 0, "on|off",
      "on: the bus (broker, events) is CURVE-encrypted and admits only allowed keys; off: "
      "plaintext, refused unless every bus endpoint is loopback (development)",
      S_FIELD (curve_mode), 0, 0 },
    { "CURVE_DIR", S_STR, NULL, 0, 0, NULL, "where the bus's keys live (unset: <DATA_DIR>/curve)",
      S_FIELD (curve_dir), 0, 0 },
    { "CURVE_CERT", S_STR, NULL, 0, 0, NULL,
      "this program's certificate, NAME.key with NAME.key_secret beside it (unset: "
      "<CURVE_DIR>/<program>.key: gateway, auth, tenant, billing, usage, operator, internal)",
      S_FIELD (curve_cert), 0, 0 },
    { "CURVE_SERVER_CERT", S_STR, NULL, 0, 0, NULL,
      "the bus's certificate: its public key for workers and clients, and with server.key_secret "
      "beside it for gateways (unset: <CURVE_DIR>/server.key)",
      S_FIELD (curve_server_cert), 0, 0 },
    { "CURVE_ALLOW", S_STR, NULL, 0, 0, NULL,
      "gateways: the allow-list, a directory of public certificates with their roles (unset: "
      "<CURVE_DIR>/allow)",
      S_FIELD (curve_allow), 0, 0 },
    { "DOCS_DIR", S_STR, NULL, 0, 0, NULL,
      "what /docs serves, as make builds it (unset: ../share/docs by the gateway's binary)",
      S_FIELD (docs_dir), 0, 0 },
    //  ---- bounded caches (issue 16, sb/lru.h) ----
    { "GATEWAY_KEY_CACHE", S_INT, "200000", 1, 100000000, NULL,
      "API keys a gateway remembers (and as many unknown keys), least recently used evicted first "
      "(~300 bytes each)", S_FIELD (gateway_key_cache), 0, 0 },
    { "GATEWAY_TOKEN_CACHE", S_INT, "50000", 1, 100000000, NULL,
      "verified access tokens a gateway remembers, least recently used evicted first (~1.5 KB each)",
      S_FIELD (gateway_token_cache), 0, 0 },
    { "ENTITLEMENTS_CACHE", S_INT, "200000", 1, 100000000, NULL,
      "organizations whose entitlement each process remembers (and, at a gateway, whose "
      "subdomain), least recently used evicted first (~250 bytes each)",
      S_FIELD (entitlements_cache), 0, 0 },
    { "GATEWAY_RATE_WINDOWS", S_INT, "262144", 16, 100000000, NULL,
      "rate-limit windows a gateway keeps per table (organizations, client addresses, failures); "
      "beyond, the least recently seen is forgotten (~200 bytes each)",
      S_FIELD (gateway_rate_windows), 0, 0 },
    //  ---- end of bounded caches ----
    { "USAGE_RETENTION_DAYS", S_INT, "0", 0, 36500, NULL,
      "usage-svc: days raw usage events are kept (0: for ever); older ones are deleted, their "
      "sums kept, and an id older than this counts again", S_FIELD (usage_retention_days), 0, 0 },

    { NULL }
};

//  Finds NAME=value in envp; NULL when absent.
static const char *
s_lookup (char *const *envp, const char *name)
{
    size_t len = strlen (name);
    for (; envp && *envp; envp++)
        if (strncmp (*envp, name, len) == 0 && (*envp) [len] == '=')
            return *envp + len + 1;
    return NULL;
}

static bool
s_has_prefix (const char *value, const char *prefixes, bool exact)
{
    if (!prefixes)
        return true;
    const char *p = prefixes;
    while (*p) {
        size_t n = strcspn (p, "|");
        if (exact ? (strlen (value) == n && strncmp (value, p, n) == 0)
                  : strncmp (value, p, n) == 0)
            return true;
        p += n;
        if (*p == '|')
            p++;
    }
    return false;
}

//  Splits a comma-separated list, trimming spaces; every item must carry an
//  allowed scheme.
static int
s_split_list (const s_var_t *var, const char *value, char **items, size_t *count,
              char *why, size_t why_size)
{
    *count = 0;
    const char *p = value, *entry;
    size_t end;
    while ((entry = sb_list_next (&p, &end))) {
        if (end == 0) {
            snprintf (why, why_size, "SWITCHBOARD_%s has an empty entry", var->name);
            return -1;
        }
        if (*count == SB_CONFIG_MAX_ENDPOINTS) {
            snprintf (why, why_size, "SWITCHBOARD_%s lists more than %d endpoints", var->name,
                      SB_CONFIG_MAX_ENDPOINTS);
            return -1;
        }
        char *item = sb_strndup (entry, end);
        items [(*count)++] = item;
        if (!s_has_prefix (item, var->prefixes, false)) {
            snprintf (why, why_size, "SWITCHBOARD_%s: '%.100s' is not a %s endpoint", var->name,
                      item, var->prefixes);
            return -1;
        }
    }
    if (*count == 0) {
        snprintf (why, why_size, "SWITCHBOARD_%s is empty", var->name);
        return -1;
    }
    return 0;
}

static int
s_parse_int (const s_var_t *var, const char *value, int *out, char *why, size_t why_size)
{
    char *end;
    errno = 0;
    long n = strtol (value, &end, 10);
    if (errno || end == value || *end || n < var->min || n > var->max) {
        snprintf (why, why_size, "SWITCHBOARD_%s must be an integer from %d to %d, not '%.40s'",
                  var->name, var->min, var->max, value);
        return -1;
    }
    *out = (int) n;
    return 0;
}

//  The bus's security: defaults under the data directory, and plaintext
//  only where nothing leaves the machine (sb/curve.h).
static int
s_curve_settle (sb_config_t *self, const char *component, char *why, size_t why_size)
{
    self->curve = streq (self->curve_mode, "on");
    if (!self->curve_dir)
        self->curve_dir = zsys_sprintf ("%s/curve", self->data_dir);
    if (!self->curve_cert) {
        const char *name = component;
        if (!name || !(streq (name, "gateway") || streq (name, "auth") || streq (name, "tenant")
                       || streq (name, "billing") || streq (name, "usage")
                       || streq (name, "operator")))
            name = "internal";
        self->curve_cert = zsys_sprintf ("%s/%s.key", self->curve_dir, name);
    }
    if (!self->curve_server_cert)
        self->curve_server_cert = zsys_sprintf ("%s/server.key", self->curve_dir);
    if (!self->curve_allow)
        self->curve_allow = zsys_sprintf ("%s/allow", self->curve_dir);
    if (self->curve)
        return 0;
    const struct {
        const char *name;
        char *const *items;
        size_t count;
    } lists [] = { { "BROKER", self->brokers, self->broker_count },
                   { "EVENTS_PUB", self->events_pubs, self->events_pub_count },
                   { "EVENTS_SUB", self->events_subs, self->events_sub_count } };
    for (size_t l = 0; l < sizeof (lists) / sizeof (lists [0]); l++)
        for (size_t i = 0; i < lists [l].count; i++)
            if (!sb_curve_endpoint_loopback (lists [l].items [i])) {
                snprintf (why, why_size,
                          "SWITCHBOARD_CURVE=off is for loopback only, and SWITCHBOARD_%s names "
                          "'%.100s': give the bus keys (switchboardctl keys) instead",
                          lists [l].name, lists [l].items [i]);
                return -1;
            }
    return 0;
}

int
sb_config_load (sb_config_t *self, const char *component, char *const *envp, char *why,
                size_t why_size)
{
    memset (self, 0, sizeof (*self));
    if (!envp)
        envp = environ;
    snprintf (why, why_size, "no error");

    for (const s_var_t *var = s_vars; var->name; var++) {
        char name [64];
        snprintf (name, sizeof (name), "SWITCHBOARD_%s", var->name);
        const char *value = s_lookup (envp, name);
        if (value && !*value)
            value = NULL;           //  set but empty means the default
        if (!value)
            value = var->fallback;
        char *base = (char *) self;
        if (var->kind == S_INT) {
            if (s_parse_int (var, value, (int *) (base + var->offset), why, why_size))
                return -1;
            continue;
        }
        if (!value)
            continue;
        char *copy = sb_strdup (value);
        *(char **) (base + var->offset) = copy;
        if (var->kind == S_LIST) {
            if (s_split_list (var, copy, (char **) (base + var->list_offset),
                              (size_t *) (base + var->count_offset), why, why_size))
                return -1;
        }
        else
        if (!s_has_prefix (copy, var->prefixes, var->prefixes && !strchr (var->prefixes, ':'))) {
            snprintf (why, why_size, "SWITCHBOARD_%s must be one of %s", var->name, var->prefixes);
            return -1;
        }
    }
    //  The service's own database URL overrides the shared one.
    if (component && !streq (component, "gateway")) {
        char name [64];
        snprintf (name, sizeof (name), "SWITCHBOARD_%s_DATABASE_URL", component);
        for (char *c = name; *c; c++)
            *c = (char) toupper ((unsigned char) *c);
        const char *value = s_lookup (envp, name);
        if (value && *value)
            self->service_database_url = sb_strdup (value);
        else
        if (self->database_url)
            self->service_database_url = sb_strdup (self->database_url);
    }
    return s_curve_settle (self, component, why, why_size);
}

void
sb_config_release (sb_config_t *self)
{
    for (const s_var_t *var = s_vars; var->name; var++) {
        char *base = (char *) self;
        if (var->kind == S_INT)
            continue;
        char **field = (char **) (base + var->offset);
        free (*field);
        *field = NULL;
        if (var->kind == S_LIST) {
            char **items = (char **) (base + var->list_offset);
            size_t *count = (size_t *) (base + var->count_offset);
            for (size_t i = 0; i < *count; i++) {
                free (items [i]);
                items [i] = NULL;
            }
            *count = 0;
        }
    }
    free (self->service_database_url);
    self->service_database_url = NULL;
}

const char *
sb_config_issuer (const sb_config_t *self)
{
    return self->jwt_issuer ? self->jwt_issuer : self->public_url;
}

char *
sb_config_keys_dir (const sb_config_t *self)
{
    if (self->keys_dir)
        return sb_strdup (self->keys_dir);
    char *dir = NULL;
    if (asprintf (&dir, "%s/keys", self->data_dir) < 0)
        abort ();
    return dir;
}

void
sb_config_print_help (FILE *out)
{
    fprintf (out, "Environment:\n");
    for (const s_var_t *var = s_vars; var->name; var++) {
        char name [64];
        snprintf (name, sizeof (name), "SWITCHBOARD_%s", var->name);
        fprintf (out, "  %-34s %s", name, var->help);
        if (var->fallback)
            fprintf (out, " [%s]", var->fallback);
        fprintf (out, "\n");
    }
    fprintf (out, "  %-34s %s\n", "SWITCHBOARD_<SERVICE>_DATABASE_URL",
             "per-service database URL (AUTH_, TENANT_, BILLING_, USAGE_)");
}

void
sb_config_test (bool verbose)
{
    (void) verbose;
    char why [256];
    sb_config_t config;

    //  Defaults
    const char *empty [] = { NULL };
    SB_CHECK (sb_config_load (&config, "tenant", (char *const *) empty, why, sizeof (why)) == 0);
    SB_CHECK (config.http_port == 8080);
    SB_CHECK (config.broker_count == 1);
    SB_CHECK (streq (config.brokers [0], "tcp://127.0.0.1:5555"));
    SB_CHECK (config.heartbeat_ms == 2500);
    SB_CHECK (config.heartbeat_liveness == 3);
    SB_CHECK (config.auth_rate_per_minute == 30);
    SB_CHECK (streq (config.public_url, "http://localhost:8080"));
    SB_CHECK (streq (config.smtp_from, "no-reply@localhost"));
    SB_CHECK (streq (config.support_email, "support@localhost"));
    SB_CHECK (config.database_url == NULL);
    SB_CHECK (config.service_database_url == NULL);
    SB_CHECK (config.smtp_url == NULL);
    SB_CHECK (streq (config.data_dir, "var"));
    SB_CHECK (config.http_idle_seconds == 15 && config.http_body_seconds == 30);
    SB_CHECK (config.http_conns_per_address == 256 && config.auth_failures_per_minute == 60);
    SB_CHECK (config.trusted_proxies == NULL && config.operator_token == NULL);
    SB_CHECK (config.curve && streq (config.curve_dir, "var/curve"));
    SB_CHECK (streq (config.curve_cert, "var/curve/tenant.key"));
    SB_CHECK (streq (config.curve_server_cert, "var/curve/server.key"));
    SB_CHECK (streq (config.curve_allow, "var/curve/allow"));
    sb_config_release (&config);

    //  The bus's keys: a program's own name, tools as internal callers,
    //  settings kept; plaintext only on loopback.
    SB_CHECK (sb_config_load (&config, "operator", (char *const *) empty, why, sizeof (why)) == 0);
    SB_CHECK (streq (config.curve_cert, "var/curve/operator.key"));
    sb_config_release (&config);
    SB_CHECK (sb_config_load (&config, NULL, (char *const *) empty, why, sizeof (why)) == 0);
    SB_CHECK (streq (config.curve_cert, "var/curve/internal.key"));
    sb_config_release (&config);
    const char *curve_env [] = { "SWITCHBOARD_DATA_DIR=/d", "SWITCHBOARD_CURVE_CERT=/k/me.key",
                                 "SWITCHBOARD_CURVE=off", NULL };
    SB_CHECK (sb_config_load (&config, "auth", (char *const *) curve_env, why, sizeof (why)) == 0);
    SB_CHECK (!config.curve && streq (config.curve_cert, "/k/me.key"));
    SB_CHECK (streq (config.curve_allow, "/d/curve/allow"));
    sb_config_release (&config);
    const char *curve_open [] = { "SWITCHBOARD_CURVE=off",
                                  "SWITCHBOARD_EVENTS_SUB=tcp://127.0.0.1:1,tcp://10.0.0.2:5557",
                                  NULL };
    SB_CHECK (sb_config_load (&config, "auth", (char *const *) curve_open, why, sizeof (why)) == -1);
    SB_CHECK (strstr (why, "SWITCHBOARD_EVENTS_SUB") && strstr (why, "10.0.0.2"));
    sb_config_release (&config);
    const char *curve_bad [] = { "SWITCHBOARD_CURVE=maybe", NULL };
    SB_CHECK (sb_config_load (&config, "auth", (char *const *) curve_bad, why, sizeof (why)) == -1);
    SB_CHECK (strstr (why, "SWITCHBOARD_CURVE must be one of on|off"));
    sb_config_release (&config);
    const char *curve_prefix [] = { "SWITCHBOARD_CURVE=o", NULL };
    SB_CHECK (sb_config_load (&config, "auth", (char *const *) curve_prefix, why,
                              sizeof (why)) == -1);
    sb_config_release (&config);

    //  Values, lists, per-service override
    const char *env1 [] = { "SWITCHBOARD_HTTP_PORT=9090",
                      "SWITCHBOARD_BROKER= tcp://10.0.0.1:5555 ,tcp://10.0.0.2:5555",
                      "SWITCHBOARD_DATABASE_URL=postgresql://all@h/db",
                      "SWITCHBOARD_TENANT_DATABASE_URL=postgresql://tenant@h/db",
                      "SWITCHBOARD_AUTH_RATE_PER_MINUTE=0",
                      "SWITCHBOARD_SMTP_URL=",
                      "OTHER=1", NULL };
    SB_CHECK (sb_config_load (&config, "tenant", (char *const *) env1, why, sizeof (why)) == 0);
    SB_CHECK (config.http_port == 9090);
    SB_CHECK (config.broker_count == 2);
    SB_CHECK (config.broker_count == 2 && streq (config.brokers [1], "tcp://10.0.0.2:5555"));
    SB_CHECK (streq (config.service_database_url, "postgresql://tenant@h/db"));
    SB_CHECK (config.auth_rate_per_minute == 0);
    SB_CHECK (config.smtp_url == NULL);
    sb_config_release (&config);
    SB_CHECK (sb_config_load (&config, "usage", (char *const *) env1, why, sizeof (why)) == 0);
    SB_CHECK (streq (config.service_database_url, "postgresql://all@h/db"));
    sb_config_release (&config);

    //  Every kind of bad value is refused, naming the variable.
    const char *bad [] = {
        "SWITCHBOARD_HTTP_PORT=0",       "SWITCHBOARD_HTTP_PORT=65536",
        "SWITCHBOARD_HTTP_PORT=80x",     "SWITCHBOARD_HTTP_PORT=99999999999999999999",
        "SWITCHBOARD_BROKER=http://x",   "SWITCHBOARD_BROKER=tcp://a,,tcp://b",
        "SWITCHBOARD_PUBLIC_URL=ftp://x", "SWITCHBOARD_LOG_LEVEL=loud",
        "SWITCHBOARD_LOG_LEVEL=infos",   "SWITCHBOARD_HEARTBEAT_MS=5",
        "SWITCHBOARD_SMTP_URL=mail.example.com", "SWITCHBOARD_AUTH_RATE_PER_MINUTE=-1",
        "SWITCHBOARD_HTTP_IDLE_SECONDS=0", "SWITCHBOARD_HTTP_BODY_SECONDS=x",
        "SWITCHBOARD_HTTP_CONNS_PER_ADDRESS=-1", "SWITCHBOARD_AUTH_FAILURES_PER_MINUTE=-5",
        NULL };
    for (int i = 0; bad [i]; i++) {
        char *env [] = { (char *) bad [i], NULL };
        int rc = sb_config_load (&config, "auth", env, why, sizeof (why));
        SB_CHECK (rc == -1);
        char name [64];
        snprintf (name, sizeof (name), "%.*s", (int) strcspn (bad [i], "="), bad [i]);
        SB_CHECK (strstr (why, name) != NULL);
        if (verbose)
            printf ("  %s -> %s\n", bad [i], why);
        sb_config_release (&config);
    }
    //  Too many endpoints
    char many [2048] = "SWITCHBOARD_BROKER=";
    for (int i = 0; i < SB_CONFIG_MAX_ENDPOINTS + 1; i++)
        strcat (many, i ? ",tcp://h:1" : "tcp://h:1");
    char *env2 [] = { many, NULL };
    SB_CHECK (sb_config_load (&config, "auth", env2, why, sizeof (why)) == -1);
    sb_config_release (&config);
}
