/*  billing_webhooks.c — webhooks.receive: Stripe's events at
    POST /v1/billing/webhook.

    The gateway forwards the body unparsed ({raw, signature}, its route is
    GW_ROUTE_RAW): the Stripe-Signature header is checked over exactly the
    bytes Stripe signed, against every secret of
    SWITCHBOARD_STRIPE_WEBHOOK_SECRET (comma-separated, for a secret roll),
    with a tolerance of 300 s either way. A bad, missing or stale signature
    answers 400 invalid_signature and changes nothing (logged, without the
    body); no secret configured answers 503 billing_not_configured. Only
    then is the body parsed, and distrusted still: a field of the wrong
    type or size counts as absent.

    Exactly once. The event id goes into the ledger (webhook_events) first,
    INSERT ... ON CONFLICT DO NOTHING, in the transaction that applies the
    event: a second delivery, even one running at the same time (it waits
    on the first one's key), finds the id and answers 200 {received: true,
    duplicate: true} having changed nothing. A failure while applying rolls
    the ledger row back with the change, and the 500 makes Stripe retry.

    Order. Stripe does not promise delivery order. The subscription's
    stripe_state_at holds the `created` of the newest event whose state was
    applied; an event older than it changes nothing and is recorded as
    stale (equal times apply: Stripe's second resolution puts related
    events at the same second). invoice.paid and invoice.payment_failed
    move the subscription's status too, under the same watermark; the
    invoice row has its own (an invoice is only updated from a newer event).

    Events and what they do (entitlements change through billing_sub_save
    only):
      checkout.session.completed   links the Stripe customer and
                                   subscription to the organization
                                   (client_reference_id, else
                                   metadata.organization_id)
      customer.subscription.created|updated|deleted
                                   the plan (the price of the first item,
                                   by the catalogue's stripe_price_id), the
                                   status, the period, cancel_at_period_end,
                                   trial_end; deleted: canceled on free.
                                   Status: active, trialing as they are;
                                   past_due and unpaid → past_due;
                                   canceled and incomplete_expired →
                                   canceled; incomplete (first payment not
                                   made) and paused (trial over without a
                                   payment method) → canceled too: the
                                   customer has not paid, so the
                                   organization is on free until an event
                                   says active (the subscribed plan is kept
                                   and shown as subscribed_plan)
      invoice.paid                 records the invoice; past_due → active; a
                                   first payment credits a referral
      invoice.payment_failed       records the invoice; → past_due (since
                                   now, unless already), mails the admins
      customer.subscription.trial_will_end
                                   mails the admins
    The organization of a subscription or invoice event: its metadata's
    organization_id, else the subscription whose stripe_customer_id is the
    event's customer. Any other type, or an organization not found: 200,
    ignored, logged.
*/
#include "billing_service.h"
#include "billing_stripe.h"

#define S_TOLERANCE_S 300
#define S_SECRETS_MAX 8
#define S_ID_MAX      127           //  Stripe ids we keep (they are far shorter)

//  ---------------------------------------------------------------------
//  Reading the event, distrustfully: a field that is absent, of another
//  type or too long reads as absent.

static const json_t *
s_obj (const json_t *parent, const char *key)
{
    const json_t *value = json_is_object (parent) ? json_object_get (parent, key) : NULL;
    return json_is_object (value) ? value : NULL;
}

//  A string of 1 to max bytes without control characters, or NULL.
static const char *
s_str_max (const json_t *parent, const char *key, size_t max)
{
    const json_t *value = json_is_object (parent) ? json_object_get (parent, key) : NULL;
    if (!json_is_string (value))
        return NULL;
    size_t len = json_string_length (value);
    const char *text = json_string_value (value);
    if (len == 0 || len > max)
        return NULL;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) text [i] < 0x20)
            return NULL;
    return text;
}

static const char *
s_str (const json_t *parent, const char *key)
{
    return s_str_max (parent, key, S_ID_MAX);
}

//  An id given as a string or as an expanded object with an id.
static const char *
s_id (const json_t *parent, const char *key)
{
    const char *id = s_str (parent, key);
    return id ? id : s_str (s_obj (parent, key), "id");
}

static bool
s_int (const json_t *parent, const char *key, int64_t *value)
{
    const json_t *item = json_is_object (parent) ? json_object_get (parent, key) : NULL;
    if (!json_is_integer (item))
        return false;
    *value = (int64_t) json_integer_value (item);
    return true;
}

//  Unix seconds as our RFC 3339 text; "" when absent or out of range.
static void
s_time (const json_t *parent, const char *key, char out [BILLING_TS])
{
    int64_t seconds;
    *out = 0;
    if (s_int (parent, key, &seconds) && seconds > 0 && seconds < 253402300800LL) {
        char text [SB_TIMESTAMP_SIZE];
        sb_timestamp_format (seconds * 1000000, text);
        snprintf (out, BILLING_TS, "%s", text);
    }
}

//  The first item of a subscription (items.data[0]), or NULL.
static const json_t *
s_first_item (const json_t *subscription)
{
    const json_t *data = json_object_get (s_obj (subscription, "items"), "data");
    const json_t *item = json_is_array (data) ? json_array_get (data, 0) : NULL;
    return json_is_object (item) ? item : NULL;
}

//  ---------------------------------------------------------------------
//  Finding the organization

//  The organization of metadata.organization_id when it is a UUID.
static const char *
s_org_of_metadata (const json_t *object)
{
    const char *org = s_str (s_obj (object, "metadata"), "organization_id");
    return org && sb_is_uuid (org) ? org : NULL;
}

//  Copies into org the organization whose subscription has this Stripe
//  customer. 1 found, 0 not, -1 the database failed.
static int
s_org_of_customer (sb_ctx_t *ctx, const char *customer, char org [37])
{
    *org = 0;
    if (!customer)
        return 0;
    PGresult *result = sb_db_exec (sb_ctx_db (ctx),
                                   "SELECT organization_id FROM subscriptions "
                                   "WHERE stripe_customer_id = $1", 1, &customer);
    if (!result)
        return -1;
    int found = PQntuples (result) == 1;
    if (found)
        snprintf (org, 37, "%s", PQgetvalue (result, 0, 0));
    PQclear (result);
    return found;
}

//  The organization of an object: its metadata's, else its customer's.
//  1 found, 0 not, -1 the database failed.
static int
s_org_of (sb_ctx_t *ctx, const json_t *object, const char *metadata_org, char org [37])
{
    if (metadata_org) {
        snprintf (org, 37, "%s", metadata_org);
        return 1;
    }
    return s_org_of_customer (ctx, s_id (object, "customer"), org);
}

//  ---------------------------------------------------------------------
//  Applying

typedef struct {
    sb_ctx_t *ctx;
    const char *id;                 //  the event's
    const char *type;
    int64_t created;
    const json_t *object;           //  data.object
    char org [37];                  //  "" until known
    const char *outcome;            //  applied, ignored, stale
} s_event_t;

static int
s_ignore (s_event_t *event, const char *why)
{
    sb_info ("billing: webhook %s (%s) ignored: %s", event->id, event->type, why);
    event->outcome = "ignored";
    return 0;
}

static void
s_now (char out [BILLING_TS])
{
    char text [SB_TIMESTAMP_SIZE];
    sb_timestamp_format (sb_now_ms () * 1000, text);
    snprintf (out, BILLING_TS, "%s", text);
}

//  The catalogue's plan whose stripe_price_id is price, or NULL.
static const sb_plan_t *
s_plan_of_price (sb_ctx_t *ctx, const char *price)
{
    const sb_plans_t *plans = sb_ctx_plans (ctx);
    for (size_t i = 0; price && i < sb_plans_size (plans); i++) {
        const sb_plan_t *plan = sb_plans_at (plans, i);
        if (*plan->stripe_price_id && streq (plan->stripe_price_id, price))
            return plan;
    }
    return NULL;
}

//  Our status for Stripe's, or NULL for one we do not know.
static const char *
s_status_of (const char *stripe)
{
    if (!stripe)
        return NULL;
    if (streq (stripe, "active") || streq (stripe, "trialing"))
        return stripe;
    if (streq (stripe, "past_due") || streq (stripe, "unpaid"))
        return "past_due";
    if (streq (stripe, "canceled") || streq (stripe, "incomplete_expired")
        || streq (stripe, "incomplete") || streq (stripe, "paused"))
        return "canceled";
    return NULL;
}

//  Sets the status, starting or ending the past-due time.
static void
s_set_status (billing_sub_t *sub, const char *status)
{
    if (streq (status, "past_due")) {
        if (!*sub->past_due_since)
            s_now (sub->past_due_since);
    }
    else
        *sub->past_due_since = 0;
    snprintf (sub->status, sizeof (sub->status), "%s", status);
}

//  Sets a Stripe id on the subscription unless another organization has
//  that customer (the unique index would refuse the write).
static int
s_link_customer (s_event_t *event, billing_sub_t *sub, const char *customer)
{
    if (!customer || streq (sub->stripe_customer_id, customer))
        return 0;
    char other [37];
    int found = s_org_of_customer (event->ctx, customer, other);
    if (found < 0)
        return -1;
    if (found && !streq (other, event->org)) {
        sb_warn ("billing: webhook %s: customer %s belongs to another organization; not linked",
                 event->id, customer);
        return 0;
    }
    snprintf (sub->stripe_customer_id, sizeof (sub->stripe_customer_id), "%s", customer);
    return 0;
}

static int
s_checkout_completed (s_event_t *event)
{
    const json_t *session = event->object;
    const char *org = s_str (session, "client_reference_id");
    if (!org || !sb_is_uuid (org))
        org = s_org_of_metadata (session);
    int found = s_org_of (event->ctx, session, org, event->org);
    if (found <= 0)
        return found < 0 ? -1 : s_ignore (event, "no organization for the session");
    billing_sub_t sub;
    if (billing_sub_load (event->ctx, event->org, true, &sub))
        return -1;
    if (s_link_customer (event, &sub, s_id (session, "customer")))
        return -1;
    const char *subscription = s_id (session, "subscription");
    if (subscription)
        snprintf (sub.stripe_subscription_id, sizeof (sub.stripe_subscription_id), "%s",
                  subscription);
    if (billing_sub_save (event->ctx, event->org, &sub))
        return -1;
    event->outcome = "applied";
    return 0;
}

static int
s_subscription_changed (s_event_t *event, bool deleted)
{
    const json_t *object = event->object;
    const char *id = s_str (object, "id");
    int found = s_org_of (event->ctx, object, s_org_of_metadata (object), event->org);
    if (found <= 0)
        return found < 0 ? -1 : s_ignore (event, "unknown customer");
    billing_sub_t sub;
    if (billing_sub_load (event->ctx, event->org, true, &sub))
        return -1;
    if (event->created < sub.stripe_state_at) {
        sb_info ("billing: webhook %s (%s) is older than the state applied (%lld < %lld)",
                 event->id, event->type, (long long) event->created,
                 (long long) sub.stripe_state_at);
        event->outcome = "stale";
        return 0;
    }
    const json_t *item = s_first_item (object);
    const char *stripe_status = s_str (object, "status");
    if (deleted) {
        //  The deletion of a subscription that is no longer the
        //  organization's (replaced by a newer one) leaves the newer alone.
        if (id && *sub.stripe_subscription_id && !streq (id, sub.stripe_subscription_id))
            return s_ignore (event, "not the organization's current subscription");
        snprintf (sub.plan, sizeof (sub.plan), "free");
        s_set_status (&sub, "canceled");
        sub.cancel_at_period_end = false;
    }
    else {
        const char *status = s_status_of (stripe_status);
        if (!status)
            return s_ignore (event, "a subscription status we do not know");
        const char *price = s_str (s_obj (item, "price"), "id");
        const sb_plan_t *plan = s_plan_of_price (event->ctx, price);
        if (!plan) {
            sb_warn ("billing: webhook %s: price %s is no plan of the catalogue", event->id,
                     price ? price : "(none)");
            return s_ignore (event, "a price that is no plan of the catalogue");
        }
        snprintf (sub.plan, sizeof (sub.plan), "%s", plan->id);
        s_set_status (&sub, status);
        const json_t *cancel = json_object_get (object, "cancel_at_period_end");
        sub.cancel_at_period_end = json_is_true (cancel);
        //  The period: on the subscription before API 2025-03-31, on its
        //  items since.
        s_time (object, "current_period_start", sub.current_period_start);
        if (!*sub.current_period_start)
            s_time (item, "current_period_start", sub.current_period_start);
        s_time (object, "current_period_end", sub.current_period_end);
        if (!*sub.current_period_end)
            s_time (item, "current_period_end", sub.current_period_end);
        s_time (object, "trial_end", sub.trial_end);
    }
    if (id)
        snprintf (sub.stripe_subscription_id, sizeof (sub.stripe_subscription_id), "%s", id);
    if (s_link_customer (event, &sub, s_id (object, "customer")))
        return -1;
    snprintf (sub.stripe_status, sizeof (sub.stripe_status), "%s",
              stripe_status ? stripe_status : deleted ? "canceled" : "");
    sub.stripe_state_at = event->created;
    if (billing_sub_save (event->ctx, event->org, &sub))
        return -1;
    event->outcome = "applied";
    return 0;
}

//  Writes (or updates, from a newer event) the invoice row. 1 when it was
//  written, 0 when not (an older event, or no invoice to record), -1 when
//  the database failed.
static int
s_record_invoice (s_event_t *event)
{
    const json_t *invoice = event->object;
    const char *stripe_id = s_str (invoice, "id");
    const char *currency = s_str_max (invoice, "currency", 8);
    const char *status = s_str_max (invoice, "status", 32);
    int64_t due = 0, paid = 0, created = 0;
    s_int (invoice, "amount_due", &due);
    s_int (invoice, "amount_paid", &paid);
    if (!stripe_id || !s_int (invoice, "created", &created) || created <= 0
        || created >= 253402300800LL) {
        sb_warn ("billing: webhook %s: an invoice without id or created; not recorded",
                 event->id);
        return 0;
    }
    char upper [9] = "";
    for (size_t i = 0; currency && currency [i] && i < 8; i++)
        upper [i] = (char) toupper ((unsigned char) currency [i]), upper [i + 1] = 0;
    char id [37], due_text [24], paid_text [24], state_at [24];
    char created_at [BILLING_TS], period_start [BILLING_TS], period_end [BILLING_TS];
    sb_uuid_v4 (id);
    snprintf (due_text, sizeof (due_text), "%lld", (long long) due);
    snprintf (paid_text, sizeof (paid_text), "%lld", (long long) paid);
    snprintf (state_at, sizeof (state_at), "%lld", (long long) event->created);
    s_time (invoice, "created", created_at);
    s_time (invoice, "period_start", period_start);
    s_time (invoice, "period_end", period_end);
    const char *params [] = {
        id, event->org, stripe_id, s_str (invoice, "number"), due_text, paid_text,
        *upper ? upper : "USD", status ? status : "open", *period_start ? period_start : NULL,
        *period_end ? period_end : NULL, s_str_max (invoice, "hosted_invoice_url", 2048),
        created_at, state_at
    };
    PGresult *result = sb_db_exec (sb_ctx_db (event->ctx),
                      "INSERT INTO invoices (id, organization_id, stripe_invoice_id, number, "
                      "  amount_due, amount_paid, currency, status, period_start, period_end, "
                      "  hosted_invoice_url, created, stripe_state_at) "
                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
                      "ON CONFLICT (stripe_invoice_id) DO UPDATE SET number = EXCLUDED.number, "
                      "  amount_due = EXCLUDED.amount_due, amount_paid = EXCLUDED.amount_paid, "
                      "  currency = EXCLUDED.currency, status = EXCLUDED.status, "
                      "  period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end, "
                      "  hosted_invoice_url = EXCLUDED.hosted_invoice_url, "
                      "  stripe_state_at = EXCLUDED.stripe_state_at, updated_at = now () "
                      "WHERE invoices.stripe_state_at <= EXCLUDED.stripe_state_at "
                      "  AND invoices.organization_id = EXCLUDED.organization_id",
                      13, params);
    if (!result)
        return -1;
    int written = atoi (PQcmdTuples (result)) > 0;
    PQclear (result);
    return written;
}

//  The organization's metadata of an invoice's subscription (where API
//  2025-03-31 puts it, and where earlier versions did).
static const char *
s_org_of_invoice_metadata (const json_t *invoice)
{
    const json_t *details = s_obj (s_obj (invoice, "parent"), "subscription_details");
    const char *org = s_org_of_metadata (details);
    if (!org)
        org = s_org_of_metadata (s_obj (invoice, "subscription_details"));
    return org ? org : s_org_of_metadata (invoice);
}

static int
s_invoice (s_event_t *event, bool paid)
{
    const json_t *invoice = event->object;
    //  The customer first: a customer we linked is the surest sign.
    int found = s_org_of_customer (event->ctx, s_id (invoice, "customer"), event->org);
    if (found == 0)
        found = s_org_of (event->ctx, invoice, s_org_of_invoice_metadata (invoice), event->org);
    if (found <= 0)
        return found < 0 ? -1 : s_ignore (event, "unknown customer");
    int recorded = s_record_invoice (event);
    if (recorded < 0)
        return -1;
    event->outcome = recorded ? "applied" : "stale";
    //  A first payment of a referred organization credits the referral
    //  (billing_referrals.c; later payments find nothing pending).
    int64_t amount_paid = 0;
    if (paid && s_int (invoice, "amount_paid", &amount_paid) && amount_paid > 0
        && billing_referrals_paid (event->ctx, event->org) < 0)
        return -1;
    billing_sub_t sub;
    if (billing_sub_load (event->ctx, event->org, true, &sub))
        return -1;
    if (event->created < sub.stripe_state_at) {
        sb_info ("billing: webhook %s (%s): the subscription has newer state%s",
                 event->id, event->type, recorded ? "; invoice recorded" : "");
        return 0;
    }
    event->outcome = "applied";
    if (paid) {
        if (!streq (sub.status, "past_due"))
            return 0;
        s_set_status (&sub, "active");
        sub.stripe_state_at = event->created;
        return billing_sub_save (event->ctx, event->org, &sub);
    }
    //  A payment failed: past due, unless the subscription is over anyway.
    if (!sub.exists || streq (sub.status, "canceled") || streq (sub.plan, "free"))
        return 0;
    s_set_status (&sub, "past_due");
    sub.stripe_state_at = event->created;
    if (billing_sub_save (event->ctx, event->org, &sub))
        return -1;
    int64_t since = 0;
    sb_timestamp_parse (sub.past_due_since, &since);
    char until [SB_TIMESTAMP_SIZE];
    sb_timestamp_format (since + billing_grace_ms (event->ctx) * 1000, until);
    const char *url = s_str_max (invoice, "hosted_invoice_url", 2048);
    char text [4096];
    snprintf (text, sizeof (text),
              "The payment for your Switchboard %s plan failed.\r\n\r\n"
              "Please update your payment method%s%s. If the invoice is still unpaid\r\n"
              "at %s, your organization moves to the free plan.\r\n",
              sub.plan, url ? " and pay the invoice here:\r\n\r\n" : "", url ? url : "", until);
    return billing_mail_queue (event->ctx, event->org, "payment_failed",
                               "Your Switchboard payment failed", text);
}

static int
s_trial_will_end (s_event_t *event)
{
    const json_t *object = event->object;
    int found = s_org_of (event->ctx, object, s_org_of_metadata (object), event->org);
    if (found <= 0)
        return found < 0 ? -1 : s_ignore (event, "unknown customer");
    char trial_end [BILLING_TS];
    s_time (object, "trial_end", trial_end);
    char text [1024];
    snprintf (text, sizeof (text),
              "The trial of your Switchboard subscription ends %s%s.\r\n\r\n"
              "Add a payment method before then to keep your plan.\r\n",
              *trial_end ? "at " : "soon", trial_end);
    if (billing_mail_queue (event->ctx, event->org, "trial_will_end",
                            "Your Switchboard trial ends soon", text))
        return -1;
    event->outcome = "applied";
    return 0;
}

static int
s_apply (s_event_t *event)
{
    const char *type = event->type;
    if (streq (type, "checkout.session.completed"))
        return s_checkout_completed (event);
    if (streq (type, "customer.subscription.created")
        || streq (type, "customer.subscription.updated"))
        return s_subscription_changed (event, false);
    if (streq (type, "customer.subscription.deleted"))
        return s_subscription_changed (event, true);
    if (streq (type, "invoice.paid"))
        return s_invoice (event, true);
    if (streq (type, "invoice.payment_failed"))
        return s_invoice (event, false);
    if (streq (type, "customer.subscription.trial_will_end"))
        return s_trial_will_end (event);
    return s_ignore (event, "a type billing does not act on");
}

//  ---------------------------------------------------------------------

//  Checks the signature: 0 when valid; otherwise answers (400 or 503) and
//  returns 1.
static int
s_verify (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply, const char **body,
          size_t *len)
{
    char *secrets [S_SECRETS_MAX];
    size_t count = billing_signature_secrets (sb_ctx_config (ctx)->stripe_webhook_secret,
                                              secrets, S_SECRETS_MAX);
    if (count == 0) {
        sb_warn ("billing: a webhook came and SWITCHBOARD_STRIPE_WEBHOOK_SECRET is not set");
        sb_reply_error (reply, 503, SB_E_BILLING_NOT_CONFIGURED,
                        "billing has no webhook secret configured");
        return 1;
    }
    const msgpack_object *raw = sb_mpk_get (args, "raw");
    const msgpack_object *signature = sb_mpk_get (args, "signature");
    *body = NULL;
    *len = 0;
    if (raw && raw->type == MSGPACK_OBJECT_BIN) {
        *body = raw->via.bin.ptr;
        *len = raw->via.bin.size;
    }
    else
    if (raw && raw->type == MSGPACK_OBJECT_STR) {
        *body = raw->via.str.ptr;
        *len = raw->via.str.size;
    }
    const char *header = signature && signature->type == MSGPACK_OBJECT_STR
                       ? sb_ctx_strndup (ctx, signature->via.str.ptr, signature->via.str.size)
                       : NULL;
    const char *why = "no_body";
    int rc = *body ? billing_signature_verify (header, *body, *len,
                                               (const char *const *) secrets, count,
                                               sb_now_ms () / 1000, S_TOLERANCE_S, &why)
                   : -1;
    for (size_t i = 0; i < count; i++)
        free (secrets [i]);
    if (rc == 0)
        return 0;
    sb_warn ("billing: a webhook refused (request %s): %s", sb_ctx_head (ctx)->id, why);
    sb_reply_error (reply, 400, SB_E_INVALID_SIGNATURE,
                    "the Stripe-Signature header does not verify this body");
    return 1;
}

int
billing_webhooks_receive (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply)
{
    const char *body;
    size_t len;
    if (s_verify (ctx, args, reply, &body, &len))
        return 0;
    char why [256];
    json_t *root = sb_json_parse (body, len, why, sizeof (why));
    s_event_t event = { .ctx = ctx, .outcome = "ignored" };
    event.id = s_str_max (root, "id", 255);
    event.type = s_str_max (root, "type", 128);
    event.object = s_obj (s_obj (root, "data"), "object");
    if (!root || !event.id || !event.type || !event.object
        || !s_int (root, "created", &event.created) || event.created < 0) {
        sb_warn ("billing: a signed webhook that is not a Stripe event: %s",
                 root ? "id, type, created or data.object missing" : why);
        json_decref (root);
        return sb_reply_error (reply, 400, SB_E_INVALID_REQUEST,
                               "the body is not a Stripe event");
    }
    sb_db_t *db = sb_ctx_db (ctx);
    char created [24];
    snprintf (created, sizeof (created), "%lld", (long long) event.created);
    const char *ledger [] = { event.id, event.type, created };
    PGresult *result = NULL;
    if (sb_db_all_orgs (db)
        || !(result = sb_db_exec (db, "INSERT INTO webhook_events (id, type, created, outcome) "
                                      "VALUES ($1, $2, $3, 'ignored') "
                                      "ON CONFLICT (id) DO NOTHING RETURNING id",
                                  3, ledger))) {
        json_decref (root);
        return -1;
    }
    bool first = PQntuples (result) == 1;
    PQclear (result);
    if (!first) {
        sb_info ("billing: webhook %s (%s) seen before: duplicate", event.id, event.type);
        json_decref (root);
        msgpack_packer *pk = sb_reply_body (reply, 200);
        msgpack_pack_map (pk, 2);
        sb_mpk_pack_str (pk, "received");
        msgpack_pack_true (pk);
        sb_mpk_pack_str (pk, "duplicate");
        msgpack_pack_true (pk);
        return 0;
    }
    int rc = s_apply (&event);
    const char *outcome [] = { event.id, event.outcome, *event.org ? event.org : NULL };
    if (rc == 0)
        rc = sb_db_run (db, "UPDATE webhook_events SET outcome = $2, organization_id = $3 "
                            "WHERE id = $1", 3, outcome);
    if (rc == 0)
        sb_info ("billing: webhook %s (%s) %s%s%s", event.id, event.type, event.outcome,
                 *event.org ? " for " : "", event.org);
    json_decref (root);
    if (rc)
        return -1;
    msgpack_packer *pk = sb_reply_body (reply, 200);
    msgpack_pack_map (pk, 3);
    sb_mpk_pack_str (pk, "received");
    msgpack_pack_true (pk);
    sb_mpk_pack_str (pk, "duplicate");
    msgpack_pack_false (pk);
    sb_mpk_pack_kv_str (pk, "outcome", event.outcome);
    return 0;
}

//  ---------------------------------------------------------------------
//  selftest: the pure parts (status mapping, distrustful reading)

void
billing_webhooks_test (bool verbose)
{
    (void) verbose;
    SB_CHECK (streq (s_status_of ("active"), "active"));
    SB_CHECK (streq (s_status_of ("trialing"), "trialing"));
    SB_CHECK (streq (s_status_of ("past_due"), "past_due"));
    SB_CHECK (streq (s_status_of ("unpaid"), "past_due"));
    SB_CHECK (streq (s_status_of ("canceled"), "canceled"));
    SB_CHECK (streq (s_status_of ("incomplete_expired"), "canceled"));
    SB_CHECK (streq (s_status_of ("incomplete"), "canceled"));
    SB_CHECK (streq (s_status_of ("paused"), "canceled"));
    SB_CHECK (s_status_of ("bogus") == NULL && s_status_of (NULL) == NULL);

    const char *text = "{\"id\":\"sub_1\",\"n\":7,\"s\":\"\",\"c\":\"a\\u0001b\","
                       "\"customer\":{\"id\":\"cus_9\"},\"num\":\"12\",\"t\":1767225600,"
                       "\"items\":{\"data\":[{\"price\":{\"id\":\"price_x\"}}]},"
                       "\"metadata\":{\"organization_id\":\"not-a-uuid\"}}";
    char why [128];
    json_t *root = sb_json_parse (text, strlen (text), why, sizeof (why));
    SB_CHECK (root);
    SB_CHECK (streq (s_str (root, "id"), "sub_1"));
    SB_CHECK (s_str (root, "n") == NULL);           //  a number is no string
    SB_CHECK (s_str (root, "s") == NULL);           //  empty
    SB_CHECK (s_str (root, "c") == NULL);           //  a control character
    SB_CHECK (s_str (root, "absent") == NULL && s_str (NULL, "id") == NULL);
    SB_CHECK (streq (s_id (root, "customer"), "cus_9"));   //  expanded
    int64_t value = 0;
    SB_CHECK (!s_int (root, "num", &value) && s_int (root, "n", &value) && value == 7);
    char at [BILLING_TS];
    s_time (root, "t", at);
    SB_CHECK (strncmp (at, "2026-01-01T00:00:00", 19) == 0);
    s_time (root, "n", at);
    SB_CHECK (*at);
    s_time (root, "id", at);
    SB_CHECK (*at == 0);
    SB_CHECK (streq (s_str (s_obj (s_first_item (root), "price"), "id"), "price_x"));
    SB_CHECK (s_first_item (s_obj (root, "metadata")) == NULL);
    SB_CHECK (s_org_of_metadata (root) == NULL);    //  not a UUID
    json_decref (root);
}
