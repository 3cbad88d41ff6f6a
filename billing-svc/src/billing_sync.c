/*  billing_sync.c — `billing-svc stripe-sync [--write FILE]`: the plan
    catalogue's products, prices and meters in the configured Stripe account.

    For each paid plan of the catalogue (SWITCHBOARD_PLANS_FILE or the
    shipped default; price_cents > 0) the command makes sure that Stripe
    has, and finds again on the next run:
      - the Product with the fixed id `switchboard_<plan>` (GET by id, else
        POST /v1/products with that id);
      - the recurring Price found by lookup key `switchboard_<plan>_<interval>`
        (unit_amount = price_cents, currency in lower case, recurring
        interval). A price found under the key that no longer says what the
        catalogue says (the operator changed the price) is not changed —
        Stripe prices are immutable — but replaced: a new price takes the
        key over (transfer_lookup_key=true) and the old one stays for the
        subscriptions on it;
      - for each metric of the plan's overage: the Meter found by its
        event_name among the active meters (sum of payload `value`, customer
        by payload `stripe_customer_id`; plans that name the same event
        share one meter), and the metered Price found by lookup key
        `switchboard_<plan>_<metric>_overage_<interval>`
        (recurring[usage_type]=metered, recurring[meter]).
    A second run finds everything and creates nothing. Every POST carries a
    fresh Idempotency-Key, so that the client's retries cannot create twice.

    Output: one line per paid plan on stdout,
        plan=<id> price=<price_id> [overage_price=<id> meter=<id>]...
    (one overage_price/meter pair per overage metric, in catalogue order),
    and with --write FILE a copy of the catalogue JSON with the plans'
    stripe_price_id (and their overage metrics' stripe_price_id) filled in,
    written to FILE.tmp then renamed. Exit status: 0 done; 1 Stripe refused
    or did not answer (the message says which request and why; what was
    created so far stays and is found by the next run); 2 usage, no
    SWITCHBOARD_STRIPE_SECRET_KEY, or a catalogue that does not load.

    The overage of a plan is sb_plan_t's (plans.c validates it).
*/
#include "billing_service.h"
#include "billing_stripe.h"

#include <errno.h>

//  The shipped catalogue (deploy/plans.json linked into libsb), for --write
//  when SWITCHBOARD_PLANS_FILE is unset: sb_plans_load reads the same bytes.

#define S_CALL_MS 15000             //  each Stripe call's deadline
#define S_OVERAGE_MAX 8

//  One metric's overage as the catalogue states it.
typedef struct {
    char metric [64];
    int64_t unit_amount_cents;
    char meter_event_name [101];    //  Stripe allows 100 characters
} s_overage_t;

typedef struct {
    billing_stripe_t *stripe;
    const char *failed;             //  what the failed request was doing
    billing_stripe_result_t result; //  and its result
} s_sync_t;

//  ---- the catalogue's JSON ----------------------------------------------------

//  The catalogue's text: the file's, or the shipped one. Returns a parsed
//  document (caller json_decref's) or NULL with why.
static json_t *
s_catalogue_json (const char *path, char *why, size_t why_size)
{
    if (!path) {
        size_t len;
        const char *text = sb_plans_default_text (&len);
        return sb_json_parse (text, len, why, why_size);
    }
    json_error_t error;
    json_t *root = json_load_file (path, JSON_REJECT_DUPLICATES, &error);
    if (!root)
        sb_why (why, why_size, "%s: %s", path, error.text);
    return root;
}

//  The catalogue entry of plan id in root ({"plans": [...]}), borrowed.
static json_t *
s_plan_json (json_t *root, const char *id)
{
    json_t *plans = json_object_get (root, "plans");
    size_t index;
    json_t *entry;
    json_array_foreach (plans, index, entry) {
        const char *entry_id = json_string_value (json_object_get (entry, "id"));
        if (entry_id && streq (entry_id, id))
            return entry;
    }
    return NULL;
}

//  A plan's overage metrics, as plans.c validated them (only calls has a
//  monthly quota to go beyond). Fills at most max entries; returns how many.
static int
s_overage_of (const sb_plan_t *plan, s_overage_t *overage, size_t max)
{
    if (!plan->overage_calls.enabled || max == 0)
        return 0;
    snprintf (overage [0].metric, sizeof (overage [0].metric), "calls");
    overage [0].unit_amount_cents = plan->overage_calls.unit_amount_cents;
    snprintf (overage [0].meter_event_name, sizeof (overage [0].meter_event_name), "%s",
              plan->overage_calls.meter_event_name);
    return 1;
}

//  Writes the document to path (path.tmp, then renamed). Returns 0 or -1
//  with why.
static int
s_write_catalogue (json_t *root, const char *path, char *why, size_t why_size)
{
    size_t size = strlen (path) + 5;
    char *temp = (char *) sb_malloc (size);
    snprintf (temp, size, "%s.tmp", path);
    int rc = json_dump_file (root, temp, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
    if (rc == 0 && rename (temp, path) == 0) {
        free (temp);
        return 0;
    }
    sb_why (why, why_size, "cannot write %s: %s", path, strerror (errno));
    unlink (temp);
    free (temp);
    return -1;
}

//  ---- Stripe objects ------------------------------------------------------------

//  The lookup key of a plan's price, or of one of its overage metrics'.
static void
s_lookup_key (char *buf, size_t size, const char *plan, const char *metric,
              const char *interval)
{
    if (metric)
        snprintf (buf, size, "switchboard_%.31s_%.63s_overage_%.7s", plan, metric, interval);
    else
        snprintf (buf, size, "switchboard_%.31s_%.7s", plan, interval);
}

//  True when a Price object says what we would create: product, amount,
//  currency, interval, and for a metered price its usage type and meter
//  (meter NULL: a licensed price).
static bool
s_price_matches (json_t *price, const char *product, int64_t unit_amount, const char *currency,
                 const char *interval, const char *meter)
{
    json_t *recurring = json_object_get (price, "recurring");
    const char *p_product = json_string_value (json_object_get (price, "product"));
    const char *p_currency = json_string_value (json_object_get (price, "currency"));
    const char *p_interval = json_string_value (json_object_get (recurring, "interval"));
    const char *p_usage = json_string_value (json_object_get (recurring, "usage_type"));
    const char *p_meter = json_string_value (json_object_get (recurring, "meter"));
    json_t *amount = json_object_get (price, "unit_amount");
    if (!p_product || !streq (p_product, product) || !p_currency || !streq (p_currency, currency)
    ||  !p_interval || !streq (p_interval, interval) || !json_is_integer (amount)
    ||  json_integer_value (amount) != unit_amount)
        return false;
    if (meter)
        return p_usage && streq (p_usage, "metered") && p_meter && streq (p_meter, meter);
    return !p_usage || streq (p_usage, "licensed");
}

//  POST with a fresh Idempotency-Key. On failure records what failed.
static int
s_post (s_sync_t *self, const char *doing, const char *path, const billing_form_t *form)
{
    char key [37];
    sb_uuid_v4 (key);
    billing_stripe_result_release (&self->result);
    if (billing_stripe_post (self->stripe, path, form, key, sb_mono_ms () + S_CALL_MS,
                             &self->result)) {
        self->failed = doing;
        return -1;
    }
    return 0;
}

//  GET; a 404 is not a failure when missing_ok (then *found is false).
static int
s_get (s_sync_t *self, const char *doing, const char *path, bool missing_ok, bool *found)
{
    billing_stripe_result_release (&self->result);
    if (billing_stripe_get (self->stripe, path, sb_mono_ms () + S_CALL_MS, &self->result) == 0) {
        if (found)
            *found = true;
        return 0;
    }
    if (missing_ok && self->result.http_status == 404) {
        *found = false;
        return 0;
    }
    self->failed = doing;
    return -1;
}

//  The id of the last answer's object (a copy into out).
static void
s_result_id (s_sync_t *self, char *out, size_t size)
{
    const char *id = json_string_value (json_object_get (self->result.body, "id"));
    snprintf (out, size, "%s", id ? id : "");
}

static int
s_product (s_sync_t *self, const sb_plan_t *plan, char *product_id, size_t size)
{
    snprintf (product_id, size, "switchboard_%s", plan->id);
    char path [128];
    snprintf (path, sizeof (path), "/v1/products/%s", product_id);
    bool found = false;
    if (s_get (self, "finding the product", path, true, &found))
        return -1;
    if (found)
        return 0;
    billing_form_t form = { 0 };
    billing_form_add (&form, "id", product_id);
    billing_form_addf (&form, "name", "Switchboard %s", plan->name);
    billing_form_add (&form, "metadata[switchboard_plan]", plan->id);
    int rc = s_post (self, "creating the product", "/v1/products", &form);
    billing_form_release (&form);
    return rc;
}

//  Finds the active price under lookup_key that matches, else creates one
//  (taking the key over from a price that no longer matches).
static int
s_price (s_sync_t *self, const char *lookup_key, const char *plan_id, const char *product_id,
         int64_t unit_amount, const char *currency, const char *interval, const char *meter,
         char *price_id, size_t size)
{
    billing_form_t query = { 0 };
    billing_form_add (&query, "lookup_keys[]", lookup_key);
    billing_form_add (&query, "active", "true");
    size_t path_size = strlen ("/v1/prices?") + query.len + 1;
    char *path = (char *) sb_malloc (path_size);
    snprintf (path, path_size, "/v1/prices?%s", query.data);
    billing_form_release (&query);
    int rc = s_get (self, "finding the price", path, false, NULL);
    free (path);
    if (rc)
        return -1;
    json_t *data = json_object_get (self->result.body, "data");
    json_t *price = json_array_get (data, 0);
    if (price && s_price_matches (price, product_id, unit_amount, currency, interval, meter)) {
        snprintf (price_id, size, "%s", json_string_value (json_object_get (price, "id")));
        return 0;
    }
    billing_form_t form = { 0 };
    billing_form_add (&form, "product", product_id);
    billing_form_add (&form, "currency", currency);
    billing_form_addf (&form, "unit_amount", "%" PRId64, unit_amount);
    billing_form_add (&form, "recurring[interval]", interval);
    if (meter) {
        billing_form_add (&form, "recurring[usage_type]", "metered");
        billing_form_add (&form, "recurring[meter]", meter);
    }
    billing_form_add (&form, "lookup_key", lookup_key);
    if (price)
        billing_form_add (&form, "transfer_lookup_key", "true");
    billing_form_add (&form, "metadata[switchboard_plan]", plan_id);
    rc = s_post (self, "creating the price", "/v1/prices", &form);
    billing_form_release (&form);
    if (rc == 0)
        s_result_id (self, price_id, size);
    return rc;
}

//  Finds the active meter for event_name (every page of the list), else
//  creates it.
static int
s_meter (s_sync_t *self, const char *event_name, char *meter_id, size_t size)
{
    char after [128] = "";
    while (true) {
        char path [256];
        snprintf (path, sizeof (path), "/v1/billing/meters?status=active&limit=100%s%s",
                  *after ? "&starting_after=" : "", after);
        if (s_get (self, "listing the meters", path, false, NULL))
            return -1;
        json_t *data = json_object_get (self->result.body, "data");
        size_t index;
        json_t *meter;
        const char *last = NULL;
        json_array_foreach (data, index, meter) {
            const char *name = json_string_value (json_object_get (meter, "event_name"));
            last = json_string_value (json_object_get (meter, "id"));
            if (name && streq (name, event_name) && last) {
                snprintf (meter_id, size, "%s", last);
                return 0;
            }
        }
        //  Only ids Stripe could have made go back into a URL.
        if (!json_is_true (json_object_get (self->result.body, "has_more")) || !last
        ||  strspn (last, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
            != strlen (last) || strlen (last) >= sizeof (after))
            break;
        snprintf (after, sizeof (after), "%s", last);
    }
    billing_form_t form = { 0 };
    billing_form_addf (&form, "display_name", "Switchboard %s", event_name);
    billing_form_add (&form, "event_name", event_name);
    billing_form_add (&form, "default_aggregation[formula]", "sum");
    billing_form_add (&form, "customer_mapping[type]", "by_id");
    billing_form_add (&form, "customer_mapping[event_payload_key]", "stripe_customer_id");
    billing_form_add (&form, "value_settings[event_payload_key]", "value");
    int rc = s_post (self, "creating the meter", "/v1/billing/meters", &form);
    billing_form_release (&form);
    if (rc == 0)
        s_result_id (self, meter_id, size);
    return rc;
}

//  One plan: product, price, overage; prints its line and fills its entry
//  of root. Returns 0, or -1 (self says why; why for a bad overage entry).
static int
s_sync_plan (s_sync_t *self, const sb_plan_t *plan, json_t *root, char *why, size_t why_size)
{
    json_t *plan_json = s_plan_json (root, plan->id);
    s_overage_t overage [S_OVERAGE_MAX];
    int overage_count = s_overage_of (plan, overage, S_OVERAGE_MAX);
    (void) why;
    (void) why_size;
    char currency [4];
    for (size_t i = 0; i < sizeof (currency); i++)
        currency [i] = (char) tolower ((unsigned char) plan->currency [i]);

    char product_id [64], price_id [128], lookup_key [160];
    if (s_product (self, plan, product_id, sizeof (product_id)))
        return -1;
    s_lookup_key (lookup_key, sizeof (lookup_key), plan->id, NULL, plan->interval);
    if (s_price (self, lookup_key, plan->id, product_id, plan->price_cents, currency,
                 plan->interval, NULL, price_id, sizeof (price_id)))
        return -1;
    printf ("plan=%s price=%s", plan->id, price_id);
    json_object_set_new (plan_json, "stripe_price_id", json_string (price_id));

    for (int i = 0; i < overage_count; i++) {
        char meter_id [128], overage_price [128];
        if (s_meter (self, overage [i].meter_event_name, meter_id, sizeof (meter_id)))
            break;
        s_lookup_key (lookup_key, sizeof (lookup_key), plan->id, overage [i].metric,
                      plan->interval);
        if (s_price (self, lookup_key, plan->id, product_id, overage [i].unit_amount_cents,
                     currency, plan->interval, meter_id, overage_price, sizeof (overage_price)))
            break;
        printf (" overage_price=%s meter=%s", overage_price, meter_id);
        json_t *entry = json_object_get (json_object_get (plan_json, "overage"),
                                         overage [i].metric);
        json_object_set_new (entry, "stripe_price_id", json_string (overage_price));
    }
    //  A failed overage step leaves the line without it; the caller says why.
    printf ("\n");
    fflush (stdout);
    return self->failed ? -1 : 0;
}

int
billing_sync_command (int argc, char **argv, const sb_config_t *config)
{
    const char *write_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (streq (argv [i], "--write") && i + 1 < argc && *argv [i + 1])
            write_path = argv [++i];
        else {
            fprintf (stderr, "usage: billing-svc stripe-sync [--write FILE]\n");
            return 2;
        }
    }
    if (!config->stripe_secret_key || !*config->stripe_secret_key) {
        fprintf (stderr, "billing-svc stripe-sync: SWITCHBOARD_STRIPE_SECRET_KEY is not set "
                         "(the secret key of the Stripe account to set up)\n");
        return 2;
    }
    char why [256];
    sb_plans_t *plans = sb_plans_load (config->plans_file, why, sizeof (why));
    json_t *root = plans ? s_catalogue_json (config->plans_file, why, sizeof (why)) : NULL;
    if (!plans || !root) {
        fprintf (stderr, "billing-svc stripe-sync: bad plan catalogue%s%s: %s\n",
                 config->plans_file ? " " : "", config->plans_file ? config->plans_file : "",
                 why);
        sb_plans_destroy (&plans);
        json_decref (root);
        return 2;
    }
    s_sync_t self = { .stripe = billing_stripe_new (config->stripe_api_base,
                                                    config->stripe_secret_key) };
    if (!self.stripe) {
        fprintf (stderr, "billing-svc stripe-sync: cannot set up the Stripe client\n");
        sb_plans_destroy (&plans);
        json_decref (root);
        return 1;
    }
    int status = 0;
    why [0] = 0;
    for (size_t i = 0; i < sb_plans_size (plans) && status == 0; i++) {
        const sb_plan_t *plan = sb_plans_at (plans, i);
        if (plan->price_cents <= 0)
            continue;               //  free: nothing to sell
        if (s_sync_plan (&self, plan, root, why, sizeof (why)) == 0)
            continue;
        if (self.failed) {
            billing_stripe_result_t *r = &self.result;
            fprintf (stderr, "billing-svc stripe-sync: plan %s: %s failed: %s%s%s%s%s "
                             "(HTTP %d, %d attempt%s%s%s)\n",
                     plan->id, self.failed, r->error_type, *r->error_code ? "/" : "",
                     r->error_code, *r->message ? ": " : "", r->message, r->http_status,
                     r->attempts, r->attempts == 1 ? "" : "s",
                     *r->request_id ? ", request " : "", r->request_id);
            status = 1;
        }
        else {
            fprintf (stderr, "billing-svc stripe-sync: bad plan catalogue: %s\n", why);
            status = 2;
        }
    }
    if (status == 0 && write_path) {
        if (s_write_catalogue (root, write_path, why, sizeof (why))) {
            fprintf (stderr, "billing-svc stripe-sync: %s\n", why);
            status = 1;
        }
        else
            fprintf (stderr, "billing-svc stripe-sync: wrote %s\n", write_path);
    }
    billing_stripe_result_release (&self.result);
    billing_stripe_destroy (&self.stripe);
    sb_plans_destroy (&plans);
    json_decref (root);
    return status;
}

//  ---- selftest --------------------------------------------------------------

void
billing_sync_test (bool verbose)
{
    if (verbose)
        printf (" * billing_sync: ");
    char key [160];
    s_lookup_key (key, sizeof (key), "pro", NULL, "month");
    SB_CHECK (streq (key, "switchboard_pro_month"));
    s_lookup_key (key, sizeof (key), "pro", "calls", "year");
    SB_CHECK (streq (key, "switchboard_pro_calls_overage_year"));

    char why [256];
    const char *text = "{\"id\":\"price_1\",\"product\":\"switchboard_pro\",\"currency\":\"usd\","
        "\"unit_amount\":9900,\"recurring\":{\"interval\":\"month\",\"usage_type\":\"licensed\","
        "\"meter\":null}}";
    json_t *price = sb_json_parse (text, strlen (text), why, sizeof (why));
    SB_CHECK (price && s_price_matches (price, "switchboard_pro", 9900, "usd", "month", NULL));
    SB_CHECK (!s_price_matches (price, "switchboard_pro", 9901, "usd", "month", NULL));
    SB_CHECK (!s_price_matches (price, "switchboard_pro", 9900, "eur", "month", NULL));
    SB_CHECK (!s_price_matches (price, "switchboard_pro", 9900, "usd", "year", NULL));
    SB_CHECK (!s_price_matches (price, "switchboard_starter", 9900, "usd", "month", NULL));
    SB_CHECK (!s_price_matches (price, "switchboard_pro", 9900, "usd", "month", "mtr_1"));
    json_decref (price);
    text = "{\"id\":\"price_2\",\"product\":\"switchboard_pro\",\"currency\":\"usd\","
        "\"unit_amount\":5,\"recurring\":{\"interval\":\"month\",\"usage_type\":\"metered\","
        "\"meter\":\"mtr_1\"}}";
    price = sb_json_parse (text, strlen (text), why, sizeof (why));
    SB_CHECK (price && s_price_matches (price, "switchboard_pro", 5, "usd", "month", "mtr_1"));
    SB_CHECK (!s_price_matches (price, "switchboard_pro", 5, "usd", "month", "mtr_2"));
    SB_CHECK (!s_price_matches (price, "switchboard_pro", 5, "usd", "month", NULL));
    json_decref (price);

    //  Overage comes from the validated catalogue: the shipped one has it
    //  on starter and pro, never on free.
    sb_plans_t *plans = sb_plans_load (NULL, why, sizeof (why));
    SB_CHECK (plans != NULL);
    if (plans) {
        s_overage_t overage [S_OVERAGE_MAX];
        SB_CHECK (s_overage_of (sb_plans_get (plans, "pro"), overage, S_OVERAGE_MAX) == 1);
        SB_CHECK (streq (overage [0].metric, "calls") && overage [0].unit_amount_cents == 4
                  && streq (overage [0].meter_event_name, "switchboard_calls"));
        SB_CHECK (s_overage_of (sb_plans_get (plans, "free"), overage, S_OVERAGE_MAX) == 0);
        sb_plans_destroy (&plans);
    }
    json_t *root;

    //  The shipped catalogue parses as JSON for --write.
    root = s_catalogue_json (NULL, why, sizeof (why));
    SB_CHECK (root && s_plan_json (root, "free") && s_plan_json (root, "pro"));
    json_decref (root);

    if (verbose)
        printf ("OK\n");
}
