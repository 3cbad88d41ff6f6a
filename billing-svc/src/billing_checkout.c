/*  billing_checkout.c — Stripe Checkout and the billing portal: the
    operations billing.checkout and billing.portal, and the worker's Stripe
    client.

    billing.checkout {plan, success_url, cancel_url} (admins) answers
    {checkout_url, session_id}: a Checkout Session in subscription mode for
    the plan's price (and, for a plan with overage on calls, its metered
    price as a second line item without quantity), made for the
    organization's Stripe customer, carrying the organization in
    client_reference_id and in the metadata of the session and of the
    subscription it will create (the webhooks find the organization there).
    Nothing changes here when a session is made: the plan changes when
    Stripe says the subscription exists (the webhooks), never from the
    redirect. billing.portal {return_url} (admins) answers {url}: a Stripe
    billing-portal session for the organization's customer; an
    organization without one has never started a checkout and gets 409
    no_billing_account (a customer is not made just to show an empty
    portal).

    Neither operation runs in the request's transaction (no SB_OP_TX): a
    Stripe call can take seconds and no row lock nor open transaction may
    be held meanwhile. Each opens the short transactions it needs itself.

    One customer per organization, also when checkouts race. The customer
    is created with Idempotency-Key "switchboard-customer-<org>" and form
    parameters that depend on the organization alone (metadata
    [organization_id]; no email nor name, which could differ between two
    admins racing and turn the second request into an idempotency_error).
    So every request that finds no customer stored, concurrent or retried,
    gets Stripe's one customer for that key: a request arriving while the
    first is still running gets 409 idempotency_key_in_use, which the client
    retries, and then the replayed answer. The id is then stored in a
    transaction of its own: the subscription row is read FOR UPDATE; when
    the organization has no row yet (nothing to lock), the versions row
    that every subscription writer locks in billing_sub_save is locked
    first and the row read again (lock order row, then versions, as every
    writer does, so no deadlock), so that a row another writer inserted
    meanwhile is seen and not overwritten. A customer already stored wins:
    it is the one used (and ours, if different, is logged as orphaned —
    possible only when Stripe pruned the key, after 24 h, between a
    creation and a failed store). The store goes through billing_sub_save
    like every change of a subscription (a new entitlements version and a
    subscription.changed event for an unchanged entitlement: harmless, the
    caches read the same plan again). Once stored, a checkout reuses the
    customer and asks Stripe for nothing but the session.

    The session request carries an Idempotency-Key of its own: derived from
    the client's Idempotency-Key when it sent one (a hash of the
    organization, the operation and the client's key: a client retrying
    after a lost answer gets the same session, Stripe replaying it), else
    random. A client reusing its key with other arguments gets Stripe's
    idempotency_error, answered 422 idempotency_key_reused.

    Bounded: every Stripe call of a request shares one deadline, at most
    S_STRIPE_BUDGET_MS from the start and S_MARGIN_MS before the request's
    own deadline (the gateway gives these routes 15 s), so the worker
    answers in time and the broker, which lets a busy worker be silent
    until its request's deadline, keeps it. The client retries only what
    Stripe's idempotency makes safe (billing_stripe.h). Answers: no answer
    in time, a refused connection, 429 or 5xx → 502 stripe_unavailable;
    another 4xx → 502 stripe_error with Stripe's message, type, code and
    request id (a refused API key is not detailed to the client, only
    logged). A worker busy in a slow Stripe call takes no other request
    meanwhile (workers are single-threaded); the other workers of billing
    serve them.

    The Stripe client (billing_stripe_t, one curl handle keeping its
    connection) belongs to this worker's one thread: made at the first
    call that needs it, destroyed by billing_checkout_stop at the end of
    the worker thread (the service's worker_stop hook). Both operations
    run on billing's "stripe" lane (a worker thread of their own, bus
    service billing.stripe), so that a slow Stripe keeps waiting only
    checkouts and portals, never webhooks or the other billing routes. Without SWITCHBOARD_STRIPE_SECRET_KEY both
    operations answer 503 billing_not_configured.
*/
#include "billing_service.h"
#include "billing_stripe.h"

#include <sodium.h>
#include <strings.h>

#define S_STRIPE_BUDGET_MS 10000    //  all Stripe calls of one request
#define S_MARGIN_MS 1000            //  kept before the request's deadline
#define S_URL_MAX 2048

static __thread billing_stripe_t *s_stripe;  //  this worker thread's client, or NULL

//  The worker's Stripe client, or NULL when billing is not configured
//  (then reply holds 503 billing_not_configured). Borrowed.
static billing_stripe_t *
s_client (sb_ctx_t *ctx, sb_reply_t *reply)
{
    const sb_config_t *config = sb_ctx_config (ctx);
    if (!s_stripe && config->stripe_secret_key && *config->stripe_secret_key)
        s_stripe = billing_stripe_new (config->stripe_api_base, config->stripe_secret_key);
    if (!s_stripe)
        sb_reply_error (reply, 503, SB_E_BILLING_NOT_CONFIGURED,
                        "billing is not configured on this server (no Stripe key)");
    return s_stripe;
}

void
billing_checkout_stop (void)
{
    billing_stripe_destroy (&s_stripe);
}

//  The deadline (sb_mono_ms's clock) of the request's Stripe calls.
static int64_t
s_deadline (sb_ctx_t *ctx)
{
    int64_t left = sb_ctx_head (ctx)->deadline - sb_now_ms () - S_MARGIN_MS;
    if (left > S_STRIPE_BUDGET_MS)
        left = S_STRIPE_BUDGET_MS;
    if (left < 0)
        left = 0;
    return sb_mono_ms () + left;
}

//  An Idempotency-Key for a request of kind ("checkout", "portal") into
//  key: from the client's Idempotency-Key when it sent one, else random.
static void
s_request_key (sb_ctx_t *ctx, const char *kind, char key [96])
{
    const sb_envelope_head_t *head = sb_ctx_head (ctx);
    char hex [65];
    if (*head->idem) {
        unsigned char hash [32];
        crypto_generichash_state state;
        crypto_generichash_init (&state, NULL, 0, sizeof (hash));
        crypto_generichash_update (&state, (const unsigned char *) kind, strlen (kind) + 1);
        crypto_generichash_update (&state, (const unsigned char *) head->org,
                                   strlen (head->org) + 1);
        crypto_generichash_update (&state, (const unsigned char *) head->idem,
                                   strlen (head->idem));
        crypto_generichash_final (&state, hash, sizeof (hash));
        sodium_bin2hex (hex, sizeof (hex), hash, sizeof (hash));
        snprintf (key, 96, "switchboard-%s-c-%s", kind, hex);
    }
    else {
        sb_random_hex (hex, 16);
        snprintf (key, 96, "switchboard-%s-r-%s", kind, hex);
    }
}

//  Answers a failed Stripe call (what: "create the checkout session") as
//  502 stripe_unavailable or stripe_error, or 422 when Stripe said the
//  client's Idempotency-Key was used with other arguments. Returns 0.
static int
s_reply_stripe (sb_ctx_t *ctx, sb_reply_t *reply, const char *what,
                const billing_stripe_result_t *result)
{
    int status = result->http_status;
    const char *request_id = *result->request_id ? result->request_id : "-";
    sb_warn ("billing: stripe could not %s for %s: HTTP %d %s%s%s (request %s, %d attempts)",
             what, sb_ctx_head (ctx)->org, status, result->error_type,
             *result->message ? ": " : "", result->message, request_id, result->attempts);
    if (status == 0 || status == 429 || status >= 500) {
        msgpack_packer *pk = sb_reply_error_extra (
            reply, 502, SB_E_STRIPE_UNAVAILABLE,
            status ? "Stripe is unavailable, try again shortly"
                   : "Stripe did not answer in time, try again shortly", 1);
        sb_mpk_pack_kv_str (pk, "stripe_request_id", *result->request_id ? result->request_id
                                                                         : NULL);
        return 0;
    }
    if (streq (result->error_type, "idempotency_error") && *sb_ctx_head (ctx)->idem)
        return sb_reply_error (reply, 422, SB_E_IDEMPOTENCY_REUSED,
                               "this Idempotency-Key was used with another request");
    char message [400];
    if (status == 401 || status == 403)
        snprintf (message, sizeof (message), "Stripe refused to %s: billing's Stripe key is "
                  "not accepted (the operator must check it)", what);
    else
        snprintf (message, sizeof (message), "Stripe refused to %s: %s", what, result->message);
    msgpack_packer *pk = sb_reply_error_extra (reply, 502, SB_E_STRIPE_ERROR, message, 4);
    sb_mpk_pack_kv_int (pk, "stripe_status", status);
    sb_mpk_pack_kv_str (pk, "stripe_error_type", *result->error_type ? result->error_type : NULL);
    sb_mpk_pack_kv_str (pk, "stripe_error_code", *result->error_code ? result->error_code : NULL);
    sb_mpk_pack_kv_str (pk, "stripe_request_id", *result->request_id ? result->request_id : NULL);
    return 0;
}

//  The string field name of a Stripe answer, or NULL when absent, empty or
//  too long for a column.
static const char *
s_answer_string (const billing_stripe_result_t *result, const char *name, size_t max)
{
    const char *value = json_string_value (json_object_get (result->body, name));
    return value && *value && strlen (value) <= max ? value : NULL;
}

//  Reads org's subscription in a statement of its own (no transaction).
//  0, or -1 when the database failed.
static int
s_sub_read (sb_ctx_t *ctx, const char *org, billing_sub_t *sub)
{
    sb_db_t *db = sb_ctx_db (ctx);
    sb_db_read (db, org);
    int rc = billing_sub_load (ctx, org, false, sub);
    sb_db_read_end (db);
    return rc;
}

//  Stores customer as org's Stripe customer unless one is stored already
//  (see the header: lock order row, then versions). Sets stored to the
//  customer the organization has now. 0, or -1 when the database failed.
static int
s_customer_store (sb_ctx_t *ctx, const char *org, const char *customer, char *stored,
                  size_t size)
{
    sb_db_t *db = sb_ctx_db (ctx);
    if (sb_db_begin (db) || sb_db_set_org (db, org))
        goto failed;
    billing_sub_t sub;
    if (billing_sub_load (ctx, org, true, &sub))
        goto failed;
    if (!sub.exists) {
        PGresult *result = sb_db_exec (db, "SELECT version FROM versions "
                                           "WHERE name = 'entitlements' FOR UPDATE", 0, NULL);
        if (!result)
            goto failed;
        PQclear (result);
        if (billing_sub_load (ctx, org, true, &sub))
            goto failed;
    }
    if (*sub.stripe_customer_id) {
        if (!streq (sub.stripe_customer_id, customer))
            sb_warn ("billing: organization %s has Stripe customer %s already: customer %s "
                     "is not used", org, sub.stripe_customer_id, customer);
        sb_db_rollback (db);
        snprintf (stored, size, "%s", sub.stripe_customer_id);
        return 0;
    }
    snprintf (sub.stripe_customer_id, sizeof (sub.stripe_customer_id), "%s", customer);
    if (billing_sub_save (ctx, org, &sub) || sb_db_commit (db))
        goto failed;
    snprintf (stored, size, "%s", customer);
    sb_info ("billing: organization %s has Stripe customer %s", org, customer);
    return 0;
failed:
    sb_db_rollback (db);
    return -1;
}

//  The organization's Stripe customer into customer: sub's, else created
//  at Stripe and stored. 0; 1 when reply holds the answer (Stripe failed);
//  -1 when the database failed.
static int
s_customer (sb_ctx_t *ctx, billing_stripe_t *stripe, int64_t deadline, const billing_sub_t *sub,
            char *customer, size_t size, sb_reply_t *reply)
{
    if (*sub->stripe_customer_id) {
        snprintf (customer, size, "%s", sub->stripe_customer_id);
        return 0;
    }
    const char *org = sb_ctx_head (ctx)->org;
    billing_form_t form = { 0 };
    billing_form_add (&form, "metadata[organization_id]", org);
    char key [96];
    snprintf (key, sizeof (key), "switchboard-customer-%s", org);
    billing_stripe_result_t result;
    int rc = billing_stripe_post (stripe, "/v1/customers", &form, key, deadline, &result);
    billing_form_release (&form);
    if (rc) {
        s_reply_stripe (ctx, reply, "create the customer", &result);
        billing_stripe_result_release (&result);
        return 1;
    }
    const char *id = s_answer_string (&result, "id", sizeof (sub->stripe_customer_id) - 1);
    if (!id) {
        billing_stripe_result_release (&result);
        sb_warn ("billing: stripe's customer answer has no id");
        sb_reply_error (reply, 502, SB_E_STRIPE_ERROR, "Stripe's answer had no customer id");
        return 1;
    }
    char created [sizeof (sub->stripe_customer_id)];
    snprintf (created, sizeof (created), "%s", id);
    billing_stripe_result_release (&result);
    return s_customer_store (ctx, org, created, customer, size);
}

//  An absolute http(s) URL argument of at most S_URL_MAX characters, or
//  NULL (a field error added when it was given or required).
static const char *
s_arg_url (sb_ctx_t *ctx, const msgpack_object *args, const char *name, sb_fields_t *fields)
{
    const char *url = sb_arg_string (ctx, args, name, true, 1, S_URL_MAX, fields);
    if (!url)
        return NULL;
    size_t scheme = strncasecmp (url, "https://", 8) == 0 ? 8
                  : strncasecmp (url, "http://", 7) == 0 ? 7 : 0;
    bool valid = scheme && url [scheme] && url [scheme] != '/';
    for (const unsigned char *c = (const unsigned char *) url; valid && *c; c++)
        valid = *c > ' ' && *c < 0x7f;
    if (!valid) {
        sb_fields_add (fields, name, "must be an absolute http or https URL without spaces");
        return NULL;
    }
    return url;
}

//  POST /v1/billing/checkout {plan, success_url, cancel_url}
int
billing_checkout_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    billing_stripe_t *stripe = s_client (ctx, reply);
    if (!stripe)
        return 0;
    sb_fields_t fields = { 0 };
    const char *plan_id = sb_arg_string (ctx, args, "plan", true, 1, 31, &fields);
    const sb_plan_t *plan = plan_id ? sb_plans_get (sb_ctx_plans (ctx), plan_id) : NULL;
    if (plan_id && !plan)
        sb_fields_add (&fields, "plan", "is not a plan of the catalogue");
    else
    if (plan && (streq (plan->id, "free") || plan->price_cents == 0))
        sb_fields_add (&fields, "plan", "is not purchasable: it is free");
    else
    if (plan && !*plan->stripe_price_id)
        sb_fields_add (&fields, "plan", "is not purchasable yet: it has no Stripe price "
                       "(the operator runs billing-svc stripe-sync)");
    const char *success_url = s_arg_url (ctx, args, "success_url", &fields);
    const char *cancel_url = s_arg_url (ctx, args, "cancel_url", &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);

    const char *org = sb_ctx_head (ctx)->org;
    billing_sub_t sub;
    if (s_sub_read (ctx, org, &sub))
        return -1;
    //  A second subscription would bill twice: plan changes of a live one
    //  go through the portal.
    if (*sub.stripe_subscription_id && !streq (sub.status, "canceled"))
        return sb_reply_error (reply, 409, SB_E_CONFLICT,
                               "the organization has a Stripe subscription already (%s): "
                               "change its plan in the billing portal", sub.status);
    int64_t deadline = s_deadline (ctx);
    char customer [sizeof (sub.stripe_customer_id)];
    int rc = s_customer (ctx, stripe, deadline, &sub, customer, sizeof (customer), reply);
    if (rc)
        return rc > 0 ? 0 : -1;

    billing_form_t form = { 0 };
    billing_form_add (&form, "mode", "subscription");
    billing_form_add (&form, "line_items[0][price]", plan->stripe_price_id);
    billing_form_add (&form, "line_items[0][quantity]", "1");
    if (plan->overage_calls.enabled && *plan->overage_calls.stripe_price_id)
        billing_form_add (&form, "line_items[1][price]", plan->overage_calls.stripe_price_id);
    billing_form_add (&form, "customer", customer);
    billing_form_add (&form, "client_reference_id", org);
    billing_form_add (&form, "metadata[organization_id]", org);
    billing_form_add (&form, "metadata[plan]", plan->id);
    billing_form_add (&form, "subscription_data[metadata][organization_id]", org);
    billing_form_add (&form, "subscription_data[metadata][plan]", plan->id);
    billing_form_add (&form, "success_url", success_url);
    billing_form_add (&form, "cancel_url", cancel_url);
    char key [96];
    s_request_key (ctx, "checkout", key);
    billing_stripe_result_t result;
    rc = billing_stripe_post (stripe, "/v1/checkout/sessions", &form, key, deadline, &result);
    billing_form_release (&form);
    if (rc) {
        s_reply_stripe (ctx, reply, "create the checkout session", &result);
        billing_stripe_result_release (&result);
        return 0;
    }
    const char *url = s_answer_string (&result, "url", 8192);
    const char *id = s_answer_string (&result, "id", 255);
    if (!url || !id) {
        billing_stripe_result_release (&result);
        sb_warn ("billing: stripe's checkout session answer has no url or id");
        return sb_reply_error (reply, 502, SB_E_STRIPE_ERROR,
                               "Stripe's answer had no checkout session URL");
    }
    sb_info ("billing: checkout session %s for organization %s, plan %s%s", id, org, plan->id,
             result.replayed ? " (replayed)" : "");
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 2);
    sb_mpk_pack_kv_str (pk, "checkout_url", url);
    sb_mpk_pack_kv_str (pk, "session_id", id);
    billing_stripe_result_release (&result);
    return 0;
}

//  POST /v1/billing/portal {return_url}
int
billing_portal_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    billing_stripe_t *stripe = s_client (ctx, reply);
    if (!stripe)
        return 0;
    sb_fields_t fields = { 0 };
    const char *return_url = s_arg_url (ctx, args, "return_url", &fields);
    if (fields.count)
        return sb_reply_fields (reply, &fields);
    const char *org = sb_ctx_head (ctx)->org;
    billing_sub_t sub;
    if (s_sub_read (ctx, org, &sub))
        return -1;
    if (!*sub.stripe_customer_id)
        return sb_reply_error (reply, 409, SB_E_NO_BILLING_ACCOUNT,
                               "the organization has no billing account yet: "
                               "start a checkout first (POST /v1/billing/checkout)");
    billing_form_t form = { 0 };
    billing_form_add (&form, "customer", sub.stripe_customer_id);
    billing_form_add (&form, "return_url", return_url);
    char key [96];
    s_request_key (ctx, "portal", key);
    billing_stripe_result_t result;
    int rc = billing_stripe_post (stripe, "/v1/billing_portal/sessions", &form, key,
                                  s_deadline (ctx), &result);
    billing_form_release (&form);
    if (rc) {
        s_reply_stripe (ctx, reply, "create the billing portal session", &result);
        billing_stripe_result_release (&result);
        return 0;
    }
    const char *url = s_answer_string (&result, "url", 8192);
    if (!url) {
        billing_stripe_result_release (&result);
        sb_warn ("billing: stripe's portal session answer has no url");
        return sb_reply_error (reply, 502, SB_E_STRIPE_ERROR,
                               "Stripe's answer had no billing portal URL");
    }
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 1);
    sb_mpk_pack_kv_str (pk, "url", url);
    billing_stripe_result_release (&result);
    return 0;
}
