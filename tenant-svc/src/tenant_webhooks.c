/*  tenant_webhooks.c — the webhook endpoints of an organization, the
    events they receive and what became of each delivery (issue 14).

    Operations (admins; the gateway's /v1/webhooks routes):
      webhooks.create        {url, events, description?} → 201 with the
                             secret, the only time it is shown; needs the
                             plan feature `webhooks` (403
                             feature_not_in_plan), a URL that passes
                             tenant_ssrf_check (else 400 naming url)
      webhooks.list/get      never the secret
      webhooks.update        {url?, events?, description?, enabled?};
                             enabling again clears failing_since
      webhooks.delete        204; its deliveries go with it
      webhooks.rotate_secret → {secret}; the previous one keeps signing
                             for 24 h (previous_sealed, previous_expires_at)
      webhooks.test          → 202; a `ping` event to this endpoint only
      webhooks.deliveries    newest first, with their attempts
    and for other services (role service):
      webhooks.enqueue       {organization_id, event_id, type, data} → 202;
                             an event_id seen before for the organization
                             adds nothing (the outbox relays that call it
                             resend until acknowledged)

    Events are written in the caller's transaction with one delivery per
    enabled endpoint subscribed to their type (TENANT_WEBHOOKS_EMIT_SQL);
    the delivery thread is woken once it commits. Secrets are sealed at
    rest (sb/secrets.h); a sealing key that could not be had answers 503.
*/
#include "tenant_webhooks.h"
#include <sodium.h>

#define S_COLUMNS                                                                           \
    "id, url, to_json (events) AS events, description, enabled, disabled_reason, "          \
    SB_SQL_TS ("failing_since") " AS failing_since, "                                        \
    SB_SQL_TS ("created_at") " AS created_at, " SB_SQL_TS ("updated_at") " AS updated_at"

static const char *const s_types [] = {
    "call.created", "order.created", "order.updated", "usage.threshold_reached",
    "subscription.updated", "ping", NULL
};

static bool
s_type_known (const char *type)
{
    for (int i = 0; s_types [i]; i++)
        if (streq (type, s_types [i]))
            return true;
    return false;
}

//  events: 1 to 6 distinct known types, as a PostgreSQL array literal
//  (arena); NULL when absent (a field error if required) or wrong.
static const char *
s_arg_events (sb_ctx_t *ctx, const msgpack_object *args, bool required, sb_fields_t *fields)
{
    const msgpack_object *events = sb_mpk_get (args, "events");
    if (!events || events->type == MSGPACK_OBJECT_NIL) {
        if (required)
            sb_fields_add (fields, "events", "is required");
        return NULL;
    }
    if (events->type != MSGPACK_OBJECT_ARRAY || events->via.array.size == 0
        || events->via.array.size > 6) {
        sb_fields_add (fields, "events", "must be a list of 1 to 6 event types");
        return NULL;
    }
    char *literal = (char *) sb_ctx_alloc (ctx, 8 * 32);
    size_t used = 0;
    literal [used++] = '{';
    for (uint32_t i = 0; i < events->via.array.size; i++) {
        char type [32];
        if (sb_mpk_copy_str (&events->via.array.ptr [i], type, sizeof (type))
            || !s_type_known (type)) {
            sb_fields_add (fields, "events",
                           "must name only call.created, order.created, order.updated, "
                           "usage.threshold_reached, subscription.updated or ping");
            return NULL;
        }
        for (uint32_t j = 0; j < i; j++)
            if (sb_mpk_str_eq (&events->via.array.ptr [j], type)) {
                sb_fields_add (fields, "events", "must not name a type twice");
                return NULL;
            }
        used += (size_t) sprintf (literal + used, "%s%s", i ? "," : "", type);
    }
    literal [used++] = '}';
    literal [used] = 0;
    return literal;
}

//  url: checked against SSRF (tenant_ssrf.c) as the configuration says.
static const char *
s_arg_url (sb_ctx_t *ctx, const msgpack_object *args, bool required, sb_fields_t *fields)
{
    const char *url = sb_arg_string (ctx, args, "url", required, 1, 2000, fields);
    char why [160];
    if (url && tenant_ssrf_check (url, sb_ctx_config (ctx)->webhooks_allow_private == 1, NULL,
                                  why, sizeof (why)))
        sb_fields_add (fields, "url", "%s", why);
    return url;
}

//  403 unless the organization's plan has webhooks (1), 0 when it has.
static int
s_feature (sb_ctx_t *ctx, sb_reply_t *reply)
{
    sb_entitlement_t ent;
    if (sb_ctx_entitlement (ctx, NULL, &ent, reply))
        return 1;
    if (!(ent.features & SB_FEATURE_WEBHOOKS)) {
        sb_reply_error (reply, 403, SB_E_FEATURE_NOT_IN_PLAN,
                        "webhooks are not in this organization's plan");
        return 1;
    }
    return 0;
}

//  A new secret into secret, and its sealed form (freshly allocated).
static char *
s_new_secret (sb_ctx_t *ctx, char *secret)
{
    tenant_webhooks_secret_new (secret);
    return sb_secrets_seal (sb_ctx_secrets (ctx), secret, strlen (secret));
}

int
tenant_webhooks_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    if (s_feature (ctx, reply))
        return 0;
    sb_fields_t fields = { 0 };
    const char *url = s_arg_url (ctx, args, true, &fields);
    const char *events = s_arg_events (ctx, args, true, &fields);
    const char *description = sb_arg_string (ctx, args, "description", false, 0, 500, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    char secret [TENANT_WEBHOOKS_SECRET_SIZE];
    char *sealed = s_new_secret (ctx, secret);
    char id [37];
    sb_uuid_v4 (id);
    const char *params [] = { sb_ctx_head (ctx)->org, id, url, events, description, sealed,
                              secret };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "INSERT INTO webhook_endpoints (organization_id, id, url, events, "
                                   "description, secret_sealed) "
                                   "VALUES ($1, $2, $3, $4::text[], $5, $6) "
                                   "RETURNING " S_COLUMNS ", $7::text AS secret",
                                   7, params);
    free (sealed);
    sodium_memzero (secret, sizeof (secret));
    return sb_reply_one (reply, result, 201, "no such webhook endpoint");
}

int
tenant_webhooks_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    (void) args;
    const char *org = sb_ctx_head (ctx)->org;
    return sb_reply_all (reply, sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT " S_COLUMNS " FROM webhook_endpoints "
                                   "WHERE organization_id = $1 ORDER BY created_at DESC, id DESC",
                                   1, &org));
}

int
tenant_webhooks_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such webhook endpoint");
    const char *params [] = { sb_ctx_head (ctx)->org, id };
    return sb_reply_one (reply, sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT " S_COLUMNS " FROM webhook_endpoints "
                                   "WHERE organization_id = $1 AND id = $2",
                                   2, params),
                         200, "no such webhook endpoint");
}

int
tenant_webhooks_update (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such webhook endpoint");
    sb_fields_t fields = { 0 };
    const char *url = s_arg_url (ctx, args, false, &fields);
    const char *events = s_arg_events (ctx, args, false, &fields);
    const char *description = sb_arg_string (ctx, args, "description", false, 0, 500, &fields);
    bool enabled = false;
    bool has_enabled = sb_arg_bool (args, "enabled", &enabled, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    bool clear = sb_mpk_get (args, "description") && !description;
    const char *params [] = { sb_ctx_head (ctx)->org, id, url, events, description,
                              has_enabled ? (enabled ? "true" : "false") : NULL,
                              clear ? "true" : "false" };
    //  Enabled again: a fresh start (not failing, no reason kept).
    return sb_reply_one (reply, sb_db_exec (sb_ctx_db (ctx),
                                   "UPDATE webhook_endpoints SET url = coalesce ($3, url), "
                                   "events = coalesce ($4::text[], events), "
                                   "description = CASE WHEN $7::boolean THEN NULL "
                                   "  ELSE coalesce ($5, description) END, "
                                   "enabled = coalesce ($6::boolean, enabled), "
                                   "disabled_reason = CASE WHEN $6::boolean IS NULL "
                                   "  THEN disabled_reason WHEN $6::boolean THEN NULL "
                                   "  ELSE 'disabled by an admin' END, "
                                   "failing_since = CASE WHEN $6::boolean THEN NULL "
                                   "  ELSE failing_since END, "
                                   "updated_at = clock_timestamp () "
                                   "WHERE organization_id = $1 AND id = $2 RETURNING " S_COLUMNS,
                                   7, params),
                         200, "no such webhook endpoint");
}

int
tenant_webhooks_delete (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such webhook endpoint");
    const char *params [] = { sb_ctx_head (ctx)->org, id };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "DELETE FROM webhook_endpoints WHERE organization_id = $1 "
                                   "AND id = $2",
                                   2, params);
    if (!result)
        return -1;
    bool deleted = atoi (PQcmdTuples (result)) == 1;
    PQclear (result);
    if (!deleted)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such webhook endpoint");
    msgpack_pack_nil (sb_reply_body (reply, 204));
    return 0;
}

int
tenant_webhooks_rotate_secret (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such webhook endpoint");
    char secret [TENANT_WEBHOOKS_SECRET_SIZE];
    char *sealed = s_new_secret (ctx, secret);
    //  The current secret becomes the previous one for 24 h (a rotation
    //  within those 24 h drops the one before it).
    const char *params [] = { sb_ctx_head (ctx)->org, id, sealed, secret };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "UPDATE webhook_endpoints SET previous_sealed = secret_sealed, "
                                   "previous_expires_at = now () + interval '24 hours', "
                                   "secret_sealed = $3, updated_at = clock_timestamp () "
                                   "WHERE organization_id = $1 AND id = $2 "
                                   "RETURNING $4::text AS secret",
                                   4, params);
    free (sealed);
    sodium_memzero (secret, sizeof (secret));
    return sb_reply_one (reply, result, 200, "no such webhook endpoint");
}

//  Wakes the delivery thread once the transaction commits, when rows
//  (the statement's column _deliveries, a count) were queued.
static void
s_wake_if (sb_ctx_t *ctx, const PGresult *result)
{
    if (PQntuples (result) == 1 && atoll (PQgetvalue (result, 0, 0)) > 0)
        sb_ctx_after_commit (ctx, tenant_webhooks_wake);
}

int
tenant_webhooks_test (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such webhook endpoint");
    if (s_feature (ctx, reply))
        return 0;
    //  A ping to this endpoint only, subscribed to ping or not (a disabled
    //  endpoint gets it once enabled again).
    char source [48];
    snprintf (source, sizeof (source), "ping:");
    sb_uuid_v4 (source + 5);
    const char *params [] = { sb_ctx_head (ctx)->org, id, source };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
        "WITH p AS (SELECT organization_id, id FROM webhook_endpoints "
        "  WHERE organization_id = $1 AND id = $2),"
        " we AS (INSERT INTO webhook_events (organization_id, id, source_id, type, payload)"
        "  SELECT p.organization_id, 'msg_' || replace (gen_random_uuid ()::text, '-', ''), $3,"
        "   'ping', json_build_object ('type', 'ping', 'timestamp', "
        SB_SQL_TS ("clock_timestamp ()") ", 'data', json_build_object ('endpoint_id', p.id))::text"
        "  FROM p RETURNING organization_id, id),"
        " wd AS (INSERT INTO webhook_deliveries (organization_id, event_id, endpoint_id)"
        "  SELECT we.organization_id, we.id, $2::uuid FROM we RETURNING 1)"
        " SELECT (SELECT count (*) FROM wd) AS _deliveries, we.id FROM we",
        3, params);
    if (!result)
        return -1;
    if (PQntuples (result) == 0) {
        PQclear (result);
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such webhook endpoint");
    }
    s_wake_if (ctx, result);
    msgpack_packer *pk = sb_reply_body (reply, 202);
    msgpack_pack_map (pk, 1);
    sb_mpk_pack_kv_str (pk, "event_id", PQgetvalue (result, 0, 1));
    PQclear (result);
    return 0;
}

int
tenant_webhooks_deliveries (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const char *id = sb_arg_id (ctx, args);
    if (!id)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such webhook endpoint");
    sb_fields_t fields = { 0 };
    int64_t limit = 50;
    sb_arg_int (args, "limit", 1, 100, &limit, &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    char limit_text [24];
    snprintf (limit_text, sizeof (limit_text), "%lld", (long long) limit);
    const char *params [] = { sb_ctx_head (ctx)->org, id, limit_text };
    PGresult *found = sb_db_exec (sb_ctx_db (ctx),
                                  "SELECT 1 FROM webhook_endpoints WHERE organization_id = $1 "
                                  "AND id = $2",
                                  2, params);
    if (!found)
        return -1;
    bool exists = PQntuples (found) == 1;
    PQclear (found);
    if (!exists)
        return sb_reply_error (reply, 404, SB_E_NOT_FOUND, "no such webhook endpoint");
    return sb_reply_all (reply, sb_db_exec (sb_ctx_db (ctx),
        "SELECT d.event_id AS id, e.type, " SB_SQL_TS ("d.created_at") " AS created_at, d.status,"
        " coalesce ((SELECT json_agg (json_build_object ('at', " SB_SQL_TS ("a.at") ","
        "   'status_code', a.status_code, 'error', a.error, 'duration_ms', a.duration_ms)"
        "   ORDER BY a.at, a.id) FROM webhook_attempts a"
        "   WHERE a.organization_id = d.organization_id AND a.delivery_id = d.id),"
        "   '[]'::json) AS attempts"
        " FROM webhook_deliveries d JOIN webhook_events e"
        "  ON e.organization_id = d.organization_id AND e.id = d.event_id"
        " WHERE d.organization_id = $1 AND d.endpoint_id = $2"
        " ORDER BY d.created_at DESC, d.id DESC LIMIT $3::int",
        3, params));
}

//  Writes the event and its deliveries: org, source, type and data (JSON
//  text) as $1–$4. Returns the deliveries queued, or -1.
static int
s_emit (sb_ctx_t *ctx, const char *org, const char *source, const char *type, const char *data)
{
    const char *params [] = { org, source, type, data };
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "WITH"
                                   TENANT_WEBHOOKS_EMIT_SQL ("(VALUES (1)) AS one", "$1::uuid",
                                                             "$2::text", "$3::text", "$4::json")
                                   " SELECT count (*) AS _deliveries FROM wd",
                                   4, params);
    if (!result)
        return -1;
    s_wake_if (ctx, result);
    int count = atoi (PQgetvalue (result, 0, 0));
    PQclear (result);
    return count;
}

int
tenant_webhooks_emit (sb_ctx_t *ctx, const char *type, const PGresult *data)
{
    //  Only for a plan with webhooks (a plan that cannot be read now keeps
    //  the event).
    sb_entitlement_t ent;
    if (sb_ctx_entitlement (ctx, NULL, &ent, NULL) == 0 && !(ent.features & SB_FEATURE_WEBHOOKS))
        return 0;
    //  The row as the API shows it, as JSON.
    msgpack_sbuffer packed, json;
    msgpack_sbuffer_init (&packed);
    msgpack_sbuffer_init (&json);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &packed, msgpack_sbuffer_write);
    sb_db_pack_row (&pk, data, 0);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    if (msgpack_unpack_next (&unpacked, packed.data, packed.size, NULL) == MSGPACK_UNPACK_SUCCESS)
        sb_json_write (&json, &unpacked.data);
    msgpack_sbuffer_write (&json, "", 1);
    msgpack_unpacked_destroy (&unpacked);
    msgpack_sbuffer_destroy (&packed);
    //  What it is about: the row and its version.
    int id = PQfnumber (data, "id"), updated = PQfnumber (data, "updated_at");
    char source [160];
    snprintf (source, sizeof (source), "%s:%s:%s", type, id >= 0 ? PQgetvalue (data, 0, id) : "",
              updated >= 0 ? PQgetvalue (data, 0, updated) : "");
    int rc = s_emit (ctx, sb_ctx_head (ctx)->org, source, type, json.data);
    msgpack_sbuffer_destroy (&json);
    return rc < 0 ? -1 : 0;
}

int
tenant_webhooks_enqueue (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    sb_fields_t fields = { 0 };
    const char *org = sb_arg_uuid (ctx, args, "organization_id", true, &fields);
    const char *event = sb_arg_string (ctx, args, "event_id", true, 1, 200, &fields);
    const char *type = sb_arg_string (ctx, args, "type", true, 1, 40, &fields);
    if (type && (!s_type_known (type) || streq (type, "ping")))
        sb_fields_add (&fields, "type", "must be an event type other than ping");
    const msgpack_object *data = sb_mpk_get (args, "data");
    if (!data || data->type != MSGPACK_OBJECT_MAP)
        sb_fields_add (&fields, "data", "must be a map");
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    if (sb_db_set_org (sb_ctx_db (ctx), org))
        return -1;
    msgpack_sbuffer json;
    msgpack_sbuffer_init (&json);
    sb_json_write (&json, data);
    msgpack_sbuffer_write (&json, "", 1);
    //  Another service's event id, in a space of its own.
    char *source = (char *) sb_ctx_alloc (ctx, strlen (event) + 8);
    sprintf (source, "ext:%s", event);
    int queued = s_emit (ctx, org, source, type, json.data);
    msgpack_sbuffer_destroy (&json);
    if (queued < 0)
        return -1;
    msgpack_packer *pk = sb_reply_body (reply, 202);
    msgpack_pack_map (pk, 2);
    sb_mpk_pack_kv_str (pk, "event_id", event);
    sb_mpk_pack_kv_int (pk, "deliveries", queued);
    return 0;
}
