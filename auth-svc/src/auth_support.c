/*  auth_support.c — support requests: POST /v1/support/requests.

    A request {subject, message} from anyone authenticated in an
    organization (a user of any role, or an API key) becomes mail, queued
    in the mail outbox (auth_mail.c) in the request's transaction and sent
    by the mail thread once it has committed, so a request answered 202 is
    never lost and one that failed sends nothing:
    - to the support address (SWITCHBOARD_SUPPORT_EMAIL; with no SMTP URL
      the mail thread writes it under the data directory), naming the
      organization (id, name), the sender (the user's id, email and name,
      or the API key's id and name when a key sent it), the plan, and
      whether the request has priority: the organization's entitlement has
      the feature priority_support (billing-svc decides; when it cannot be
      reached and the entitlement is not remembered, the request is refused
      with 503 and nothing is queued, never sent with a guessed priority);
    - to the user who sent it, a confirmation repeating the subject and the
      id (an API key has no mailbox: no confirmation).
    The client's text goes in the mails' bodies after our own lines; only
    the subject (one line, no control characters) goes into a Subject
    header. The request is written to the audit log (support.requested,
    its id).

    The operation is SB_OP_IDEMPOTENT: a client repeating a request with
    the same Idempotency-Key gets the first answer and queues nothing more.
    The answer is 202 {id, priority}: the id (a new UUID) is in both mails,
    so support and the sender can refer to the request.

    Validation: subject 1-200 characters on one line, message 1-10,000
    characters (line breaks and tabs allowed); otherwise 400
    validation_failed naming the field. Nothing is stored besides the
    outbox rows (kept 30 days once sent, like every mail).
*/
#include "auth.h"

#define S_SUBJECT_MAX 200
#define S_MESSAGE_MAX 10000

//  An arena string formatted like printf.
static char *
s_format (sb_ctx_t *ctx, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static char *
s_format (sb_ctx_t *ctx, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int len = vsnprintf (NULL, 0, format, args);
    va_end (args);
    if (len < 0)
        return NULL;
    char *text = sb_ctx_alloc (ctx, (size_t) len + 1);
    va_start (args, format);
    vsnprintf (text, (size_t) len + 1, format, args);
    va_end (args);
    return text;
}

int
auth_support_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    sb_fields_t fields = { 0 };
    const char *subject = sb_arg_string (ctx, args, "subject", true, 1, S_SUBJECT_MAX, &fields);
    const char *message = sb_arg_text (ctx, args, "message", true, 1, S_MESSAGE_MAX, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);

    //  Who asks: the organization, and the user or the API key.
    bool by_key = *head->sub == '\0';
    const char *params [] = { head->org, by_key ? head->key : head->sub };
    PGresult *result = sb_db_exec (
        sb_ctx_db (ctx),
        by_key ? "SELECT o.name, k.name, NULL FROM organizations o "
                 "JOIN api_keys k ON k.organization_id = o.id AND k.id = $2::uuid "
                 "WHERE o.id = $1"
               : "SELECT o.name, u.name, u.email FROM organizations o "
                 "JOIN users u ON u.organization_id = o.id AND u.id = $2::uuid "
                 "WHERE o.id = $1",
        2, params);
    if (!result)
        return -1;
    if (PQntuples (result) != 1) {
        PQclear (result);
        //  The organization, user or key went away since the token or key
        //  was checked.
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such organization or sender");
    }
    const char *org_name = sb_ctx_strndup (ctx, PQgetvalue (result, 0, 0),
                                           strlen (PQgetvalue (result, 0, 0)));
    const char *sender_name = sb_ctx_strndup (ctx, PQgetvalue (result, 0, 1),
                                              strlen (PQgetvalue (result, 0, 1)));
    const char *email = by_key ? NULL : sb_ctx_strndup (ctx, PQgetvalue (result, 0, 2),
                                                        strlen (PQgetvalue (result, 0, 2)));
    PQclear (result);

    sb_entitlement_t ent;
    if (sb_ctx_entitlement (ctx, NULL, &ent, reply))
        return 0;
    bool priority = (ent.features & SB_FEATURE_PRIORITY_SUPPORT) != 0;

    char id [37];
    sb_uuid_v4 (id);
    const sb_config_t *config = sb_ctx_config (ctx);
    char *sender = by_key
                 ? s_format (ctx, "API key %s (%s)", head->key, sender_name)
                 : s_format (ctx, "user %s, %s <%s>", head->sub, sender_name, email);
    char *to_support = s_format (ctx, "%s[support] %s", priority ? "[priority] " : "", subject);
    char *text = s_format (ctx,
                           "Support request %s\r\n"
                           "organization: %s (%s)\r\n"
                           "from: %s\r\n"
                           "plan: %s (%s)\r\n"
                           "priority: %s\r\n"
                           "subject: %s\r\n"
                           "\r\n"
                           "%s\r\n",
                           id, head->org, org_name, sender, ent.plan, ent.status,
                           priority ? "true" : "false", subject, message);
    if (!sender || !to_support || !text)
        return -1;
    if (auth_mail_queue (ctx, head->org, "support", config->support_email, to_support, text))
        return -1;
    if (!by_key) {
        char *confirmation = s_format (ctx,
                                       "Hello %s,\r\n\r\n"
                                       "we have your support request \"%s\" (reference %s) "
                                       "and will answer you at this address%s.\r\n\r\n"
                                       "Your message:\r\n\r\n%s\r\n",
                                       sender_name, subject, id,
                                       priority ? " with priority (your plan includes "
                                                  "priority support)" : "",
                                       message);
        if (!confirmation
        ||  auth_mail_queue (ctx, head->org, "support_confirmation", email,
                             "We have your support request", confirmation))
            return -1;
    }
    auth_audit (ctx, head->org, head->sub, "support.requested", id, NULL);
    msgpack_packer *pk = sb_reply_body (reply, 202);
    msgpack_pack_map (pk, 2);
    sb_mpk_pack_kv_str (pk, "id", id);
    msgpack_pack_str_with_body (pk, "priority", 8);
    if (priority)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
    return 0;
}
