/*  auth_common.c — what auth-svc's handlers share: reading email,
    password and subdomain fields, and packing the public views of a user
    and an organization.
*/
#include "auth.h"

const char *
auth_arg_email (sb_ctx_t *ctx, const msgpack_object *args, const char *name, sb_fields_t *fields)
{
    const char *email = sb_arg_string (ctx, args, name, true, 3, 254, fields);
    if (!email)
        return NULL;
    char why [128];
    const char *at = strchr (email, '@');
    if (sb_mail_check_address (email, why, sizeof (why)) || !at || at == email
        || !strchr (at, '.') || at [1] == '.' || email [strlen (email) - 1] == '.') {
        sb_fields_add (fields, name, "must be an email address");
        return NULL;
    }
    char *lower = (char *) email;       //  our arena copy
    for (char *c = lower; *c; c++)
        *c = (char) tolower ((unsigned char) *c);
    return lower;
}

const char *
auth_arg_password (sb_ctx_t *ctx, const msgpack_object *args, const char *name,
                   sb_fields_t *fields)
{
    const msgpack_object *obj = sb_mpk_get (args, name);
    if (!obj || obj->type == MSGPACK_OBJECT_NIL) {
        sb_fields_add (fields, name, "is required");
        return NULL;
    }
    //  Any characters may be in a password; only the length is ruled.
    if (obj->type != MSGPACK_OBJECT_STR || memchr (obj->via.str.ptr, 0, obj->via.str.size)) {
        sb_fields_add (fields, name, "must be a string");
        return NULL;
    }
    size_t chars = 0;
    for (uint32_t i = 0; i < obj->via.str.size; i++)
        if (((unsigned char) obj->via.str.ptr [i] >> 6) != 2)
            chars++;
    if (chars < AUTH_PASSWORD_MIN || chars > AUTH_PASSWORD_MAX) {
        sb_fields_add (fields, name, "must be %d to %d characters long", AUTH_PASSWORD_MIN,
                       AUTH_PASSWORD_MAX);
        return NULL;
    }
    return sb_ctx_strndup (ctx, obj->via.str.ptr, obj->via.str.size);
}

bool
auth_subdomain_valid (const char *subdomain)
{
    static const char *const reserved [] = {
        "www", "api", "app", "admin", "mail", "smtp", "ftp", "static", "assets", "cdn",
        "docs", "status", "help", "support", "billing", "auth", "login", "signup", "dashboard",
        "internal", "root", "switchboard", NULL
    };
    size_t len = strlen (subdomain);
    if (len < 1 || len > 63 || subdomain [0] == '-' || subdomain [len - 1] == '-')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!(islower ((unsigned char) subdomain [i]) || isdigit ((unsigned char) subdomain [i])
              || subdomain [i] == '-'))
            return false;
    for (size_t i = 0; reserved [i]; i++)
        if (streq (subdomain, reserved [i]))
            return false;
    return true;
}

int
auth_pack_user (sb_ctx_t *ctx, msgpack_packer *pk, const char *org, const char *user)
{
    const char *params [] = { org, user };
    return sb_db_pack_query_row (sb_ctx_db (ctx), pk,
                                 "SELECT id, email, name, role, " SB_SQL_TS ("created_at")
                                 " AS created_at FROM users WHERE organization_id = $1 AND id = $2",
                                 2, params);
}

int
auth_pack_org (sb_ctx_t *ctx, msgpack_packer *pk, const char *org)
{
    const char *params [] = { org };
    return sb_db_pack_query_row (sb_ctx_db (ctx), pk,
                                 "SELECT id, name, subdomain, " SB_SQL_TS ("created_at")
                                 " AS created_at, referral_code FROM organizations WHERE id = $1",
                                 1, params);
}
