/*  auth_operator.c — what an operator does to organizations and to the
    signing keys, over the bus with `switchboardctl` (role operator: only a
    bus key listed with role operator may send it, sb/curve.h), and the
    suspended organizations the gateways read.

    Operations (the `sys.` ones are role operator, none has a route):
    - sys.orgs.list {query?, limit?, after?}: organizations newest first,
      keyset-paged on (created_at, id); query matches a substring of the
      name, the subdomain or a member's e-mail (case-insensitive). Rows:
      id, name, subdomain, created_at, status (active|suspended), members.
      The cursor is "<created_at>|<id>" of the last row, opaque to callers.
    - sys.orgs.get {org}: one organization in depth: members with roles,
      API keys still usable, pending invitations, live sessions, the
      suspension's time and reason, the last audit entries.
    - sys.orgs.suspend {org, reason}, sys.orgs.resume {org}: set or clear
      organizations.suspended_at/suspension_reason (migration 0009), audit
      it, and publish org.suspended / org.resumed {org} once committed. A
      repeated suspend keeps the first time and takes the new reason; a
      resume of an active organization is 409.
    - sys.orgs.create_admin {org, email, name, password?}: the first admin
      of an organization that has none (else 409 conflict). Without a
      password the account gets one nobody knows and a link to choose one
      (a password reset token valid AUTH_INVITATION_DAYS days, mailed
      through the outbox with the request's commit).
    - sys.keys.rotate, sys.keys.list: the JWT signing keys, the same work as
      `auth-svc rotate-keys` (auth_keys.c does both). Rotation writes into
      this worker's keys directory: every auth worker must share it (as on
      one machine, or a shared volume), as for the command.
    - sys.orgs.count {month?: "YYYY-MM"}: {organizations, suspended,
      signed_up (created in the month, default this one, UTC)} — what
      `switchboardctl revenue` adds to billing's figures for the
      organizations that never had a subscription row.
    - orgs.suspended {org?} (role service, for the gateways): the ids of
      every suspended organization, or with org whether that one is
      ({orgs: [org]} or {orgs: []}) — the durable side of the events.

    An organization is named by its id or its subdomain everywhere.
    Failure modes: bad arguments 400 validation_failed; an unknown
    organization 404 not_found; a database failure -1 (503 by the skeleton).
*/
#include "auth.h"

#define S_ORG_COLUMNS                                                               \
    "o.id, o.name, o.subdomain, " SB_SQL_TS ("o.created_at") " AS created_at, "     \
    "CASE WHEN o.suspended_at IS NULL THEN 'active' ELSE 'suspended' END AS status"

//  Reads args.org (an id or a subdomain) into id. Returns 1 when the
//  organization exists, 0 when the reply was written (400 or 404), -1 on a
//  database failure.
static int
s_org_arg (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply, char id [37])
{
    sb_fields_t fields = { 0 };
    const char *org = sb_arg_string (ctx, args, "org", true, 1, 64, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    const char *params [] = { org };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   sb_is_uuid (org)
                                       ? "SELECT id FROM organizations WHERE id = $1::uuid"
                                       : "SELECT id FROM organizations WHERE subdomain = lower ($1)",
                                   1, params);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    if (rows == 1)
        snprintf (id, 37, "%s", PQgetvalue (result, 0, 0));
    PQclear (result);
    if (rows != 1)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no organization '%s'", org);
    return 1;
}

//  Publishes topic {org} (once the transaction commits: sb_ctx_publish).
static void
s_publish_org (sb_ctx_t *ctx, const char *topic, const char *org)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sb_mpk_pack_kv_str (&pk, "org", org);
    sb_ctx_publish (ctx, topic, buf.data, buf.size);
    msgpack_sbuffer_destroy (&buf);
}

int
auth_sys_orgs_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    int64_t limit = 20;
    sb_arg_int (args, "limit", 1, 100, &limit, &fields);
    const char *query = sb_arg_string (ctx, args, "query", false, 1, 200, &fields);
    const char *after = sb_arg_string (ctx, args, "after", false, 1, 128, &fields);
    char *after_time = NULL, *after_id = NULL;
    if (after) {
        const char *bar = strchr (after, '|');
        if (bar) {
            after_time = sb_ctx_strndup (ctx, after, (size_t) (bar - after));
            after_id = sb_ctx_strndup (ctx, bar + 1, strlen (bar + 1));
        }
        if (!bar || sb_timestamp_parse (after_time, NULL) || !sb_is_uuid (after_id))
            sb_fields_add (&fields, "after", "is not a cursor of this list");
    }
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    //  The query as a LIKE pattern: its own %, _ and \ match themselves.
    char *pattern = NULL;
    if (query) {
        pattern = (char *) sb_ctx_alloc (ctx, 2 * strlen (query) + 3);
        size_t n = 0;
        pattern [n++] = '%';
        for (const char *c = query; *c; c++) {
            if (*c == '%' || *c == '_' || *c == '\\')
                pattern [n++] = '\\';
            pattern [n++] = *c;
        }
        pattern [n++] = '%';
        pattern [n] = 0;
    }
    char limit_text [24];
    snprintf (limit_text, sizeof (limit_text), "%lld", (long long) limit + 1);
    const char *params [] = { pattern, after_time, after_id, limit_text };
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        "SELECT " S_ORG_COLUMNS ", "
        "  (SELECT count (*) FROM users u WHERE u.organization_id = o.id) AS members "
        "FROM organizations o "
        "WHERE ($1::text IS NULL OR o.name ILIKE $1 OR o.subdomain ILIKE $1 "
        "       OR EXISTS (SELECT 1 FROM users u WHERE u.organization_id = o.id "
        "                  AND u.email ILIKE $1)) "
        "  AND ($2::timestamptz IS NULL OR (o.created_at, o.id) < ($2::timestamptz, $3::uuid)) "
        "ORDER BY o.created_at DESC, o.id DESC LIMIT $4",
        4, params);
    if (!result)
        return -1;
    int rows = PQntuples (result);
    bool more = rows > limit;
    if (more)
        rows = (int) limit;
    char *cursor = NULL;
    if (more) {
        size_t size = strlen (PQgetvalue (result, rows - 1, 3)) + 40;
        cursor = (char *) sb_ctx_alloc (ctx, size);
        snprintf (cursor, size, "%s|%s", PQgetvalue (result, rows - 1, 3),
                  PQgetvalue (result, rows - 1, 0));
    }
    sb_reply_rows (reply, result, rows, cursor);
    PQclear (result);
    return 0;
}

int
auth_sys_orgs_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    char org [37];
    int found = s_org_arg (ctx, args, reply, org);
    if (found <= 0)
        return found;
    const char *params [] = { org };
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        "SELECT " S_ORG_COLUMNS ", o.referral_code, "
        "  " SB_SQL_TS ("o.suspended_at") " AS suspended_at, o.suspension_reason, "
        "  (SELECT coalesce (jsonb_agg (jsonb_build_object ("
        "     'id', u.id, 'email', u.email, 'name', u.name, 'role', u.role, "
        "     'created_at', " SB_SQL_TS ("u.created_at") ") ORDER BY u.created_at, u.id), "
        "     '[]') FROM users u WHERE u.organization_id = o.id) AS members, "
        "  (SELECT count (*) FROM api_keys k WHERE k.organization_id = o.id "
        "   AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now ())) "
        "   AS api_keys, "
        "  (SELECT count (*) FROM invitations i WHERE i.organization_id = o.id "
        "   AND " AUTH_SQL_INVITATION_PENDING ") AS pending_invitations, "
        "  (SELECT count (*) FROM sessions s WHERE s.organization_id = o.id "
        "   AND s.revoked_at IS NULL) AS open_sessions, "
        "  (SELECT coalesce (jsonb_agg (jsonb_build_object ("
        "     'at', " SB_SQL_TS ("a.at") ", 'action', a.action, 'target', a.target) "
        "     ORDER BY a.id DESC), '[]') FROM (SELECT * FROM audit_log "
        "     WHERE organization_id = o.id ORDER BY id DESC LIMIT 10) a) AS recent_audit "
        "FROM organizations o WHERE o.id = $1",
        1, params);
    return sb_reply_one (reply, result, 200, "no such organization");
}

int
auth_sys_orgs_suspend (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *reason = sb_arg_string (ctx, args, "reason", true, 1, 500, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    char org [37];
    int found = s_org_arg (ctx, args, reply, org);
    if (found <= 0)
        return found;
    const char *params [] = { org, reason };
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        "UPDATE organizations o SET suspended_at = coalesce (suspended_at, now ()), "
        "  suspension_reason = $2 WHERE id = $1 "
        "RETURNING " S_ORG_COLUMNS ", " SB_SQL_TS ("o.suspended_at") " AS suspended_at, "
        "  o.suspension_reason",
        2, params);
    if (!result)
        return -1;
    json_t *details = json_pack ("{s:s}", "reason", reason);
    char *details_json = json_dumps (details, JSON_COMPACT);
    json_decref (details);
    auth_audit (ctx, org, NULL, "org.suspended", org, details_json);
    free (details_json);
    s_publish_org (ctx, "org.suspended", org);
    sb_info ("operator: organization %s suspended", org);
    return sb_reply_one (reply, result, 200, "no such organization");
}

int
auth_sys_orgs_resume (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    char org [37];
    int found = s_org_arg (ctx, args, reply, org);
    if (found <= 0)
        return found;
    const char *params [] = { org };
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        "UPDATE organizations o SET suspended_at = NULL, suspension_reason = NULL "
        "WHERE id = $1 AND suspended_at IS NOT NULL RETURNING " S_ORG_COLUMNS,
        1, params);
    if (!result)
        return -1;
    if (PQntuples (result) != 1) {
        PQclear (result);
        return sb_reply_error (reply, 409, SB_E_CONFLICT, "this organization is not suspended");
    }
    auth_audit (ctx, org, NULL, "org.resumed", org, NULL);
    s_publish_org (ctx, "org.resumed", org);
    sb_info ("operator: organization %s resumed", org);
    return sb_reply_one (reply, result, 200, "no such organization");
}

int
auth_sys_orgs_create_admin (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *email = auth_arg_email (ctx, args, "email", &fields);
    const char *name = sb_arg_string (ctx, args, "name", true, 1, 100, &fields);
    const char *password = NULL;
    const msgpack_object *given = sb_mpk_get (args, "password");
    if (given && given->type != MSGPACK_OBJECT_NIL)
        password = auth_arg_password (ctx, args, "password", &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    char org [37];
    int found = s_org_arg (ctx, args, reply, org);
    if (found <= 0)
        return found;
    //  The organization's row locked: two operators cannot both create
    //  "the first" admin.
    const char *lock [] = { org };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT name, EXISTS (SELECT 1 FROM users "
                                   "  WHERE organization_id = o.id AND role = 'admin') "
                                   "FROM organizations o WHERE id = $1 FOR UPDATE",
                                   1, lock);
    if (!result)
        return -1;
    if (PQntuples (result) != 1) {
        //  Deleted since s_org_arg found it.
        PQclear (result);
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such organization");
    }
    bool has_admin = PQgetvalue (result, 0, 1) [0] == 't';
    char *org_name = sb_ctx_strndup (ctx, PQgetvalue (result, 0, 0), strlen (PQgetvalue (result, 0, 0)));
    PQclear (result);
    if (has_admin)
        return sb_reply_error (reply, 409, SB_E_CONFLICT,
                               "this organization has an admin: they can invite others");

    //  Without a password: one nobody knows (256 random bits), and a link
    //  to choose one.
    const char *secret = password ? password : auth_token_new (ctx, "");
    char hash [crypto_pwhash_STRBYTES], user [37];
    if (auth_password_hash (secret, hash))
        return -1;
    sb_uuid_v4 (user);
    const char *insert [] = { org, user, email, name, hash };
    if (sb_db_run (sb_ctx_db (ctx),
                   "INSERT INTO users (organization_id, id, email, name, role, password_hash) "
                   "VALUES ($1, $2, $3, $4, 'admin', $5)",
                   5, insert)) {
        if (streq (sb_db_sqlstate (sb_ctx_db (ctx)), "23505"))
            return sb_reply_error (reply, 409, AUTH_E_EMAIL_TAKEN,
                                   "an account with this email exists");
        return -1;
    }
    bool mailed = false;
    if (!password) {
        char *token = auth_token_new (ctx, "");
        char days [8];
        snprintf (days, sizeof (days), "%d", AUTH_INVITATION_DAYS);
        const char *reset [] = { auth_token_hash (ctx, token), org, user, days };
        if (sb_db_run (sb_ctx_db (ctx),
                       "INSERT INTO password_resets (token_hash, organization_id, user_id, "
                       "expires_at) VALUES ($1::bytea, $2, $3, now () + make_interval (days => $4::int))",
                       4, reset))
            return -1;
        char text [1024];
        snprintf (text, sizeof (text),
                  "An account was made for you as the admin of %s on Switchboard.\r\n\r\n"
                  "To choose your password, open this link within %d days:\r\n\r\n"
                  "%s/reset-password?token=%s\r\n",
                  org_name, AUTH_INVITATION_DAYS, sb_ctx_config (ctx)->public_url, token);
        if (auth_mail_queue (ctx, org, "password_reset", email,
                             "Your Switchboard admin account", text))
            return -1;
        mailed = true;
    }
    auth_audit (ctx, org, NULL, "user.first_admin", user, mailed ? "{\"mailed\":true}" : NULL);
    sb_info ("operator: first admin %s created in organization %s", user, org);
    msgpack_packer *pk = sb_reply_body (reply, 201);
    msgpack_pack_map (pk, 3);
    sb_mpk_pack_str (pk, "user");
    if (auth_pack_user (ctx, pk, org, user))
        return -1;
    sb_mpk_pack_kv_str (pk, "organization_id", org);
    sb_mpk_pack_str (pk, "password_mail_queued");
    if (mailed)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    return 0;
}

int
auth_sys_keys_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    sb_jwt_keys_t *keys = auth_keys ();
    char *text = sb_jwt_keys_jwks (keys);
    char why [128];
    json_t *jwks = text ? sb_json_parse (text, strlen (text), why, sizeof (why)) : NULL;
    free (text);
    if (!jwks)
        return -1;
    json_t *kids = json_array ();
    size_t i;
    json_t *key;
    json_array_foreach (json_object_get (jwks, "keys"), i, key)
        json_array_append (kids, json_object_get (key, "kid"));
    const char *signer = sb_jwt_keys_signer_kid (keys);
    json_t *body = json_pack ("{s:s, s:o, s:i}", "signer", signer ? signer : "", "kids", kids,
                              "token_ttl_seconds", sb_ctx_config (ctx)->access_token_ttl);
    json_decref (jwks);
    sb_json_pack (sb_reply_body (reply, 200), body);
    json_decref (body);
    return 0;
}

int
auth_sys_keys_rotate (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    char why [256];
    if (auth_keys_rotate_dir (sb_ctx_config (ctx), why, sizeof (why)))
        return sb_reply_error (reply, 503, SB_E_SERVICE_UNAVAILABLE,
                               "cannot rotate the signing keys: %s", why);
    sb_info ("operator: signing keys rotated, now signing with %s",
             sb_jwt_keys_signer_kid (auth_keys ()));
    return auth_sys_keys_list (ctx, args, reply);
}

int
auth_orgs_suspended (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    char org [65] = "";
    bool one = sb_mpk_copy_str (sb_mpk_get (args, "org"), org, sizeof (org)) == 0;
    PGresult *result;
    if (one) {
        const char *params [] = { sb_is_uuid (org) ? org : NULL };
        result = sb_db_exec (sb_ctx_db (ctx),
                             "SELECT id FROM organizations "
                             "WHERE id = $1::uuid AND suspended_at IS NOT NULL",
                             1, params);
    }
    else
        result = sb_db_exec (sb_ctx_db (ctx),
                             "SELECT id FROM organizations WHERE suspended_at IS NOT NULL", 0, NULL);
    if (!result)
        return -1;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 1);
    sb_mpk_pack_str (pk, "orgs");
    msgpack_pack_array (pk, (size_t) PQntuples (result));
    for (int r = 0; r < PQntuples (result); r++)
        sb_mpk_pack_str (pk, PQgetvalue (result, r, 0));
    PQclear (result);
    return 0;
}

bool
auth_org_suspended (sb_ctx_t *ctx, const char *org, int *error)
{
    const char *params [] = { org };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT 1 FROM organizations "
                                   "WHERE id = $1 AND suspended_at IS NOT NULL",
                                   1, params);
    if (!result) {
        *error = -1;
        return false;
    }
    bool suspended = PQntuples (result) == 1;
    PQclear (result);
    return suspended;
}

int
auth_sys_orgs_count (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *month = sb_arg_month (ctx, args, "month", false, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    if (sb_db_all_orgs (sb_ctx_db (ctx)))
        return -1;
    const char *params [] = { month };
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        "WITH m AS (SELECT t AS m0, t + interval '1 month' AS m1 FROM (SELECT"
        "  (COALESCE ($1::text, to_char (now () AT TIME ZONE 'UTC', 'YYYY-MM')) || '-01')"
        "  ::timestamp AT TIME ZONE 'UTC' AS t) AS x)"
        " SELECT count (*)::bigint AS organizations,"
        "  (count (*) FILTER (WHERE suspended_at IS NOT NULL))::bigint AS suspended,"
        "  (count (*) FILTER (WHERE created_at >= m.m0 AND created_at < m.m1))::bigint"
        "  AS signed_up"
        " FROM organizations CROSS JOIN m",
        1, params);
    return sb_reply_one (reply, result, 200, NULL);
}
