/*  auth.h — auth-svc's private declarations: the operation handlers and
    the helpers they share, in one section per file, each section naming
    its file. A handler lives in the file named for its operation's
    resource (docs/CONVENTIONS.md); auth_service.c lists the operations.

    auth-svc owns identity and access: organizations, users and roles,
    passwords (argon2id), sessions with their rotating refresh tokens, the
    ES256 keys that sign access tokens, password resets, invitations, API
    keys, login throttling and the audit log. Every handler runs inside a
    transaction (SB_OP_TX), so a request either happens whole or not at all,
    and its events (sessions.revoked, apikey.revoked, org.updated,
    org.deleted, org.suspended, org.resumed) leave only once it has
    committed.
*/
#ifndef AUTH_H_INCLUDED
#define AUTH_H_INCLUDED

#include "sb/sb.h"
#include "sb/jwt.h"
#include "sb/mail.h"
#include <sodium.h>

extern const sb_service_t auth_service;
extern const sb_migration_t auth_migrations [];
extern const size_t auth_migration_count;

#define AUTH_E_EMAIL_TAKEN          "email_taken"
#define AUTH_E_SUBDOMAIN_TAKEN      "subdomain_taken"
#define AUTH_E_INVALID_CREDENTIALS  "invalid_credentials"
#define AUTH_E_INVALID_TOKEN        "invalid_token"
#define AUTH_E_TOO_MANY_ATTEMPTS    "too_many_attempts"
#define AUTH_E_LAST_ADMIN           "last_admin"

#define AUTH_PASSWORD_MIN 10
#define AUTH_PASSWORD_MAX 256
#define AUTH_RESET_MINUTES 30
#define AUTH_INVITATION_DAYS 7

//  ---- the signing keys (auth_keys.c) ---------------------------------------

//  Loads the ES256 signing keys from the data directory (generating the
//  first one), at start, on the main thread. 0, or -1 (logged).
int auth_keys_load (const sb_config_t *config);
//  Frees them at exit.
void auth_keys_unload (void);
//  The keys, refreshed if another process rotated them; borrowed. For the
//  worker's thread, between load and unload.
sb_jwt_keys_t *auth_keys (void);
//  The `rotate-keys` command's work: writes a new signing key. 0, or -1
//  (said on stderr).
int auth_keys_rotate (const sb_config_t *config);
//  The rotation itself (the command's and sys.keys.rotate's): writes a new
//  signing key in the keys directory and, in a running service, refreshes
//  the loaded set. 0, or -1 with why.
int auth_keys_rotate_dir (const sb_config_t *config, char *why, size_t why_size);
int auth_jwks (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  ---- password hashing (auth_hasher.c) -------------------------------------

//  argon2id (libsodium, 19 MiB, 2 passes). hash gets a PHC string.
//  The thread that hashes at a lower priority: started by the service,
//  stopped at exit; without it hashing runs inline.
int auth_hasher_start (void);
void auth_hasher_stop (void);
int auth_password_hash (const char *password, char hash [crypto_pwhash_STRBYTES]);
//  Constant-time verification; with hash NULL it verifies against a dummy
//  hash so that an unknown account costs the same time. False then.
bool auth_password_verify (const char *hash, const char *password);

//  ---- random tokens (auth_tokens.c) ----------------------------------------

//  A new random token: prefix followed by 43 base64url characters (256
//  bits). Arena string.
char *auth_token_new (sb_ctx_t *ctx, const char *prefix);
//  The SHA-256 of a token as PostgreSQL bytea text ("\\x..."), arena string.
char *auth_token_hash (sb_ctx_t *ctx, const char *token);

//  ---- fields and public views (auth_common.c) ------------------------------

//  Reads and checks email (normalised to lower case), password fields.
const char *auth_arg_email (sb_ctx_t *ctx, const msgpack_object *args, const char *name,
                            sb_fields_t *fields);
const char *auth_arg_password (sb_ctx_t *ctx, const msgpack_object *args, const char *name,
                               sb_fields_t *fields);
//  Checks a subdomain's shape and that it is not reserved.
bool auth_subdomain_valid (const char *subdomain);

//  Packs the public view of a user / organization by id (a map), or nil
//  when absent. Return 0, or -1 on a database failure.
int auth_pack_user (sb_ctx_t *ctx, msgpack_packer *pk, const char *org, const char *user);
int auth_pack_org (sb_ctx_t *ctx, msgpack_packer *pk, const char *org);

//  ---- the audit log (auth_audit.c) -----------------------------------------

//  Appends an audit entry in the request's transaction. details_json may be
//  NULL ({}); target may be NULL.
void auth_audit (sb_ctx_t *ctx, const char *org, const char *actor, const char *action,
                 const char *target, const char *details_json);
int auth_audit_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  ---- sessions (auth_sessions.c) -------------------------------------------

//  Creates a session for the user and packs, into an open map, the four
//  token pairs: access_token, refresh_token, token_type, expires_in.
//  Returns 0 or -1 (database or signing failure).
int auth_session_start (sb_ctx_t *ctx, msgpack_packer *pk, const char *org, const char *user,
                        const char *role);
//  Answers status with {user, organization, access_token, refresh_token,
//  token_type, expires_in} for a new session of the user.
int auth_reply_session (sb_ctx_t *ctx, sb_reply_t *reply, int status, const char *org,
                        const char *user, const char *role);
//  Signs an access token for an existing session.
char *auth_access_token (sb_ctx_t *ctx, const char *org, const char *user, const char *role,
                         const char *sid);
//  Revokes sessions chosen by a WHERE clause over sessions (our own SQL,
//  with $1.. parameters) and publishes their ids as sessions.revoked.
//  Returns the number revoked, or -1.
int auth_sessions_revoke (sb_ctx_t *ctx, const char *where, int nparams,
                          const char *const *params, const char *reason);
int auth_login (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_refresh (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_logout (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_sessions_revoked (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  ---- passwords (auth_passwords.c) -----------------------------------------

int auth_password_forgot (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_password_reset (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_password_change (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  ---- the organization and signing up (auth_org.c) -------------------------

int auth_signup (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_org_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_org_update (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_org_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_org_lookup (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
//  org.counts {organization_id} (internal): {seats}, for billing-svc's over_limits.
int auth_org_counts (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  An invitation still open, and the seats an organization o uses: its
//  users and its open invitations (what the plan's seats limit counts).
#define AUTH_SQL_INVITATION_PENDING \
    "accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now ()"
#define AUTH_SQL_SEATS_USED                                                                  \
    "(SELECT count (*) FROM users WHERE organization_id = o.id)"                             \
    "  + (SELECT count (*) FROM invitations WHERE organization_id = o.id AND "               \
    AUTH_SQL_INVITATION_PENDING ")"

//  ---- users (auth_users.c) -------------------------------------------------

int auth_me (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_users_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_users_update (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_users_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  ---- invitations (auth_invitations.c) -------------------------------------

int auth_invitations_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_invitations_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_invitations_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_invitations_accept (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
//  Revokes the pending admin invitations user sent (or sent with a key
//  user created), auditing each with details_json. Returns how many, or -1.
int auth_invitations_revoke_by (sb_ctx_t *ctx, const char *org, const char *user,
                                const char *details_json);

//  ---- API keys (auth_apikeys.c) --------------------------------------------

//  A key's text: sbk_<8 lowercase hex>_<43 base64url>: "sbk_" and the hex
//  of 4 random bytes are its public prefix, the rest is 32 random bytes,
//  the secret, in canonical unpadded base64url.
#define AUTH_APIKEY_ID_BYTES      4
#define AUTH_APIKEY_SECRET_BYTES  32
#define AUTH_APIKEY_PREFIX_LEN    12        //  "sbk_" and 8 hex digits
#define AUTH_APIKEY_SECRET_LEN    43
#define AUTH_APIKEY_LEN           (AUTH_APIKEY_PREFIX_LEN + 1 + AUTH_APIKEY_SECRET_LEN)

//  Writes the key of those parts (AUTH_APIKEY_LEN characters and a NUL).
void auth_apikey_compose (const unsigned char id [AUTH_APIKEY_ID_BYTES],
                          const unsigned char secret [AUTH_APIKEY_SECRET_BYTES],
                          char key [AUTH_APIKEY_LEN + 1]);
//  True when key (untrusted, may be NULL) has exactly that form; then
//  fills prefix (the first 12 characters) and secret (the 32 bytes) where
//  not NULL. Anything else, a non-canonical spelling of a secret included,
//  is not a key.
bool auth_apikey_parse (const char *key, char prefix [AUTH_APIKEY_PREFIX_LEN + 1],
                        unsigned char secret [AUTH_APIKEY_SECRET_BYTES]);
void auth_apikeys_test (bool verbose);

int auth_apikeys_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_apikeys_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_apikeys_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_apikeys_resolve (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_apikeys_touch (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_apikeys_revoked (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
//  Revokes the admin keys user created (or that were created with them),
//  publishing apikey.revoked for each and auditing it with details_json.
//  Returns how many, or -1.
int auth_apikeys_revoke_created_by (sb_ctx_t *ctx, const char *org, const char *user,
                                    const char *details_json);

//  ---- the mail outbox (auth_mail.c) -------------------------------------

//  Queues a mail (kind 'password_reset', 'invitation', 'support' or
//  'support_confirmation') in the request's
//  transaction; the mail thread sends it once the transaction has
//  committed. Refuses (-1, logged) what sb_mail_send would refuse. org may
//  be NULL.
int auth_mail_queue (sb_ctx_t *ctx, const char *org, const char *kind, const char *to,
                     const char *subject, const char *text);
//  The mail thread: started with the service (refuses a sender address or
//  mail server URL it could never use), woken after a commit that queued
//  mail (from the worker's thread), stopped at exit.
//  mail.admins {id, organization_id, subject, text} (internal callers:
//  billing-svc's dunning): queues the mail to each admin of the
//  organization, once per id and admin (a repeated call queues nothing
//  more). 200 {id, queued}; an organization that no longer exists: 200,
//  queued 0.
int auth_mail_admins (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

int auth_mail_start (const sb_config_t *config);
void auth_mail_wake (void);
void auth_mail_stop (void);

//  ---- support requests (auth_support.c) -----------------------------------

//  support.create {subject, message}: 202 {id, priority}; queues the
//  request to the support address and a confirmation to the user.
int auth_support_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  ---- an organization's deletion reaching every service (auth_deletions.c) --

//  Records, in the request's transaction, that every data-owning service
//  owes the purge of org, and wakes the deletion relay once it commits.
//  0 or -1 (database failure).
int auth_deletions_request (sb_ctx_t *ctx, const char *org);
//  The relay's thread: started by the service, stopped at exit. 0 or -1.
int auth_deletions_start (const sb_config_t *config);
void auth_deletions_stop (void);
//  Has the relay look at the deletions now (from the worker's thread).
void auth_deletions_wake (void);

//  ---- referrals reaching billing-svc (auth_referrals.c) ------------------

//  For a signup with a referral code, in its transaction, after org and
//  its first user (email) exist: looks code up (case-insensitive) and, when
//  it is another organization's, records the referral for billing and
//  wakes the relay once the transaction commits. Returns 1 when recorded;
//  0 when not, with *reason a static stable code ("unknown_code"); -1 on a
//  database failure.
int auth_referrals_record (sb_ctx_t *ctx, const char *org, const char *email, const char *code,
                           const char **reason);
//  The relay's thread: started by the service, stopped at exit. 0 or -1.
int auth_referrals_start (const sb_config_t *config);
void auth_referrals_stop (void);
//  Has the relay look at the outbox now (from the worker's thread).
void auth_referrals_wake (void);

//  ---- operators: organizations, suspension, first admins, keys
//  (auth_operator.c) ------------------------------------------------------

int auth_sys_orgs_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_sys_orgs_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_sys_orgs_suspend (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_sys_orgs_resume (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_sys_orgs_create_admin (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_sys_keys_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_sys_orgs_count (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int auth_sys_keys_rotate (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
//  orgs.suspended {org?} (the gateways): {orgs: [ids of suspended organizations]}.
int auth_orgs_suspended (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
//  Whether org is suspended (login and refresh refuse it); on a database
//  failure sets *error to -1 and returns false.
bool auth_org_suspended (sb_ctx_t *ctx, const char *org, int *error);

#endif
