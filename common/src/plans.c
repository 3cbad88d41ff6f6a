/*  plans.c — the plan catalogue, loaded and validated once at start.

    The shipped default (deploy/plans.json) is linked into every binary as
    data (ld -r -b binary), so a binary needs no file beside it; an operator
    points SWITCHBOARD_PLANS_FILE at a catalogue of their own. Validation is
    strict and names the first bad field ("plans[2].limits.seats: must be
    an integer from 0 to 1000000000000, or -1 for unlimited"): a service
    must not start on a catalogue it would misread.
*/
#include "sb/sb.h"
#include "sb/plans.h"

//  The shipped catalogue, linked in by the Makefile.
extern const char _binary_deploy_plans_json_start [];
extern const char _binary_deploy_plans_json_end [];

struct _sb_plans_t {
    sb_plan_t plans [SB_PLANS_MAX];
    size_t size;
    int64_t referral_credit_cents;
};

static const struct {
    const char *name;
    unsigned bit;
} s_features [] = {
    { "analytics", SB_FEATURE_ANALYTICS },
    { "webhooks", SB_FEATURE_WEBHOOKS },
    { "priority_support", SB_FEATURE_PRIORITY_SUPPORT },
    { "audit_log_export", SB_FEATURE_AUDIT_LOG_EXPORT },
    { "sso", SB_FEATURE_SSO },
    { NULL, 0 }
};

unsigned
sb_plans_feature (const char *name)
{
    for (size_t i = 0; s_features [i].name; i++)
        if (streq (s_features [i].name, name))
            return s_features [i].bit;
    return 0;
}

void
sb_plans_pack_features (msgpack_packer *pk, unsigned features)
{
    uint32_t count = 0;
    for (size_t i = 0; s_features [i].name; i++)
        count += (features & s_features [i].bit) != 0;
    msgpack_pack_array (pk, count);
    for (size_t i = 0; s_features [i].name; i++)
        if (features & s_features [i].bit)
            sb_mpk_pack_str (pk, s_features [i].name);
}

//  Copies a string member; absent or null allowed when optional.
static int
s_string (json_t *object, const char *key, char *out, size_t size, bool optional,
          const char *where, char *why, size_t why_size)
{
    json_t *value = json_object_get (object, key);
    if ((!value || json_is_null (value)) && optional) {
        *out = 0;
        return 0;
    }
    if (!json_is_string (value) || json_string_length (value) == 0
        || json_string_length (value) >= size) {
        sb_why (why, why_size, "%s.%s: must be a string of 1 to %zu characters", where, key,
                size - 1);
        return -1;
    }
    //  Names reach the dashboard, Stripe's products and log lines: no
    //  control character (the JSON reader already refuses a NUL).
    const char *text = json_string_value (value);
    for (size_t i = 0; i < json_string_length (value); i++)
        if ((unsigned char) text [i] < 0x20 || text [i] == 0x7f) {
            sb_why (why, why_size, "%s.%s: no control characters", where, key);
            return -1;
        }
    snprintf (out, size, "%s", text);
    return 0;
}

static int
s_limit (json_t *limits, const char *key, int64_t *out, const char *where, char *why,
         size_t why_size)
{
    json_t *value = json_object_get (limits, key);
    if (!json_is_integer (value) || json_integer_value (value) < -1
        || json_integer_value (value) > SB_PLAN_LIMIT_MAX) {
        sb_why (why, why_size,
                "%s.limits.%s: must be an integer from 0 to %lld, or -1 for unlimited", where,
                key, (long long) SB_PLAN_LIMIT_MAX);
        return -1;
    }
    *out = json_integer_value (value);
    return 0;
}

//  "overage": {"calls": {...}}: optional; only calls, never on free.
static int
s_overage (json_t *entry, sb_plan_t *plan, const char *where, char *why, size_t why_size)
{
    json_t *overage = json_object_get (entry, "overage");
    if (!overage || json_is_null (overage))
        return 0;
    if (!json_is_object (overage)) {
        sb_why (why, why_size, "%s.overage: must be an object", where);
        return -1;
    }
    const char *metric;
    json_t *item;
    json_object_foreach (overage, metric, item) {
        if (!streq (metric, "calls")) {
            sb_why (why, why_size, "%s.overage.%s: only calls has a monthly quota to go beyond",
                    where, metric);
            return -1;
        }
    }
    json_t *calls = json_object_get (overage, "calls");
    if (!calls)
        return 0;
    char inner [64];
    snprintf (inner, sizeof (inner), "%s.overage.calls", where);
    if (streq (plan->id, "free")) {
        sb_why (why, why_size, "%s: the free plan has no overage", inner);
        return -1;
    }
    if (plan->calls_per_month < 0) {
        sb_why (why, why_size, "%s: the plan's calls are unlimited, nothing to go beyond", inner);
        return -1;
    }
    if (!json_is_object (calls)) {
        sb_why (why, why_size, "%s: must be an object", inner);
        return -1;
    }
    json_t *amount = json_object_get (calls, "unit_amount_cents");
    if (!json_is_integer (amount) || json_integer_value (amount) < 1
        || json_integer_value (amount) > 1000000) {
        sb_why (why, why_size, "%s.unit_amount_cents: must be an integer from 1 to 1000000", inner);
        return -1;
    }
    plan->overage_calls.unit_amount_cents = json_integer_value (amount);
    if (s_string (calls, "stripe_price_id", plan->overage_calls.stripe_price_id,
                  sizeof (plan->overage_calls.stripe_price_id), true, inner, why, why_size)
        || s_string (calls, "meter_event_name", plan->overage_calls.meter_event_name,
                     sizeof (plan->overage_calls.meter_event_name), false, inner, why, why_size))
        return -1;
    for (const char *c = plan->overage_calls.meter_event_name; *c; c++)
        if (!isalnum ((unsigned char) *c) && *c != '_' && *c != '-' && *c != '.') {
            sb_why (why, why_size, "%s.meter_event_name: letters, digits, _ - . only", inner);
            return -1;
        }
    plan->overage_calls.enabled = true;
    return 0;
}

static int
s_plan (json_t *entry, sb_plan_t *plan, const char *where, char *why, size_t why_size)
{
    if (!json_is_object (entry)) {
        sb_why (why, why_size, "%s: must be an object", where);
        return -1;
    }
    if (s_string (entry, "id", plan->id, sizeof (plan->id), false, where, why, why_size)
        || s_string (entry, "name", plan->name, sizeof (plan->name), false, where, why, why_size)
        || s_string (entry, "currency", plan->currency, sizeof (plan->currency), false, where,
                     why, why_size)
        || s_string (entry, "interval", plan->interval, sizeof (plan->interval), false, where,
                     why, why_size)
        || s_string (entry, "stripe_price_id", plan->stripe_price_id,
                     sizeof (plan->stripe_price_id), true, where, why, why_size))
        return -1;
    for (const char *c = plan->id; *c; c++)
        if (!islower ((unsigned char) *c) && !isdigit ((unsigned char) *c) && *c != '_') {
            sb_why (why, why_size, "%s.id: must be lower-case letters, digits and _", where);
            return -1;
        }
    if (strlen (plan->currency) != 3 || strspn (plan->currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3) {
        sb_why (why, why_size, "%s.currency: must be an ISO 4217 code like USD", where);
        return -1;
    }
    if (!streq (plan->interval, "month") && !streq (plan->interval, "year")) {
        sb_why (why, why_size, "%s.interval: must be month or year", where);
        return -1;
    }
    json_t *price = json_object_get (entry, "price_cents");
    if (!json_is_integer (price) || json_integer_value (price) < 0
        || json_integer_value (price) > SB_PLAN_PRICE_MAX) {
        sb_why (why, why_size, "%s.price_cents: must be an integer from 0 to %d", where,
                SB_PLAN_PRICE_MAX);
        return -1;
    }
    plan->price_cents = json_integer_value (price);
    json_t *limits = json_object_get (entry, "limits");
    if (!json_is_object (limits)) {
        sb_why (why, why_size, "%s.limits: must be an object", where);
        return -1;
    }
    if (s_limit (limits, "calls_per_month", &plan->calls_per_month, where, why, why_size)
        || s_limit (limits, "businesses", &plan->businesses, where, why, why_size)
        || s_limit (limits, "seats", &plan->seats, where, why, why_size)
        || s_limit (limits, "api_requests_per_minute", &plan->api_requests_per_minute, where, why,
                    why_size))
        return -1;
    json_t *features = json_object_get (entry, "features");
    if (!json_is_array (features)) {
        sb_why (why, why_size, "%s.features: must be a list", where);
        return -1;
    }
    size_t index;
    json_t *feature;
    json_array_foreach (features, index, feature) {
        unsigned bit = json_is_string (feature) ? sb_plans_feature (json_string_value (feature)) : 0;
        if (!bit) {
            sb_why (why, why_size, "%s.features[%zu]: not a known feature", where, index);
            return -1;
        }
        plan->features |= bit;
    }
    return s_overage (entry, plan, where, why, why_size);
}

sb_plans_t *
sb_plans_parse (const char *text, size_t len, const char *source, char *why, size_t why_size)
{
    char reason [256];
    json_t *root = sb_json_parse (text, len, reason, sizeof (reason));
    if (!root) {
        sb_why (why, why_size, "%s: %s", source, reason);
        return NULL;
    }
    sb_plans_t *self = (sb_plans_t *) sb_calloc (1, sizeof (sb_plans_t));
    json_t *plans = json_object_get (root, "plans");
    json_t *credit = json_object_get (root, "referral_credit_cents");
    int rc = 0;
    if (!json_is_object (root) || !json_is_array (plans) || json_array_size (plans) == 0
        || json_array_size (plans) > SB_PLANS_MAX) {
        sb_why (why, why_size, "%s: plans: must be a list of 1 to %d plans", source, SB_PLANS_MAX);
        rc = -1;
    }
    else
    if (credit && (!json_is_integer (credit) || json_integer_value (credit) < 0)) {
        sb_why (why, why_size, "%s: referral_credit_cents: must be a non-negative integer", source);
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < json_array_size (plans); i++) {
        char where [32];
        snprintf (where, sizeof (where), "plans[%zu]", i);
        char detail [256];
        if (s_plan (json_array_get (plans, i), &self->plans [i], where, detail, sizeof (detail))) {
            sb_why (why, why_size, "%s: %s", source, detail);
            rc = -1;
            break;
        }
        for (size_t k = 0; k < i; k++)
            if (streq (self->plans [k].id, self->plans [i].id)) {
                sb_why (why, why_size, "%s: %s.id: '%s' appears twice", source, where,
                        self->plans [i].id);
                rc = -1;
            }
        self->size++;
    }
    if (rc == 0 && !sb_plans_get (self, "free")) {
        sb_why (why, why_size, "%s: plans: a plan with id \"free\" must exist", source);
        rc = -1;
    }
    self->referral_credit_cents = credit ? json_integer_value (credit) : 0;
    json_decref (root);
    if (rc)
        sb_plans_destroy (&self);
    return self;
}

const char *
sb_plans_default_text (size_t *len)
{
    *len = (size_t) (_binary_deploy_plans_json_end - _binary_deploy_plans_json_start);
    return _binary_deploy_plans_json_start;
}

sb_plans_t *
sb_plans_load (const char *path, char *why, size_t why_size)
{
    if (!path)
        return sb_plans_parse (_binary_deploy_plans_json_start,
                               (size_t) (_binary_deploy_plans_json_end
                                         - _binary_deploy_plans_json_start),
                               "the shipped plans", why, why_size);
    FILE *file = fopen (path, "rb");
    if (!file) {
        sb_why (why, why_size, "%s: cannot be read: %s", path, strerror (errno));
        return NULL;
    }
    char *text = NULL;
    size_t size = 0, len = 0;
    while (!feof (file) && len < 1024 * 1024) {
        if (len + 4096 > size)
            text = (char *) sb_realloc (text, size = len + 8192);
        len += fread (text + len, 1, 4096, file);
        if (ferror (file))
            break;
    }
    bool failed = ferror (file) || len >= 1024 * 1024;
    fclose (file);
    sb_plans_t *self = NULL;
    if (failed)
        sb_why (why, why_size, "%s: cannot be read whole (at most 1 MiB)", path);
    else
        self = sb_plans_parse (text ? text : "", len, path, why, why_size);
    free (text);
    return self;
}

void
sb_plans_destroy (sb_plans_t **self_p)
{
    free (*self_p);
    *self_p = NULL;
}

const sb_plan_t *
sb_plans_get (const sb_plans_t *self, const char *id)
{
    for (size_t i = 0; id && i < self->size; i++)
        if (streq (self->plans [i].id, id))
            return &self->plans [i];
    return NULL;
}

size_t
sb_plans_size (const sb_plans_t *self)
{
    return self->size;
}

const sb_plan_t *
sb_plans_at (const sb_plans_t *self, size_t index)
{
    return index < self->size ? &self->plans [index] : NULL;
}

int64_t
sb_plans_referral_credit_cents (const sb_plans_t *self)
{
    return self->referral_credit_cents;
}

void
sb_plans_test (bool verbose)
{
    (void) verbose;
    char why [256];
    sb_plans_t *plans = sb_plans_load (NULL, why, sizeof (why));
    SB_CHECK (plans != NULL);
    if (!plans)
        return;
    const sb_plan_t *free_plan = sb_plans_get (plans, "free");
    SB_CHECK (free_plan && free_plan->calls_per_month == 100 && free_plan->businesses == 1
              && free_plan->seats == 2 && free_plan->api_requests_per_minute == 60
              && free_plan->features == 0 && free_plan->price_cents == 0);
    const sb_plan_t *pro = sb_plans_get (plans, "pro");
    SB_CHECK (pro && pro->price_cents == 9900 && (pro->features & SB_FEATURE_ANALYTICS)
              && (pro->features & SB_FEATURE_WEBHOOKS) && !(pro->features & SB_FEATURE_SSO));
    SB_CHECK (sb_plans_get (plans, "enterprise")->calls_per_month == -1);
    SB_CHECK (!free_plan->overage_calls.enabled && pro->overage_calls.enabled
              && pro->overage_calls.unit_amount_cents == 4 && !*pro->overage_calls.stripe_price_id
              && streq (pro->overage_calls.meter_event_name, "switchboard_calls"));
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    sb_plans_pack_features (&pk, SB_FEATURE_SSO | SB_FEATURE_ANALYTICS | (1u << 30));
    SB_CHECK (buf.size == 1 + 10 + 4 && memcmp (buf.data, "\x92\xa9" "analytics\xa3sso", 15) == 0);
    msgpack_sbuffer_destroy (&buf);
    SB_CHECK (sb_plans_size (plans) == 4 && sb_plans_referral_credit_cents (plans) == 1000);
    SB_CHECK (sb_plans_get (plans, "gold") == NULL);
    sb_plans_destroy (&plans);
    SB_CHECK (plans == NULL);

    //  Every fault is refused, naming the field.
    static const struct {
        const char *text, *field;
    } bad [] = {
        { "{\"plans\":[]}", "plans" },
        { "{\"plans\":[{\"id\":\"pro\",\"name\":\"P\",\"price_cents\":1,\"currency\":\"USD\","
          "\"interval\":\"month\",\"limits\":{\"calls_per_month\":1,\"businesses\":1,\"seats\":1,"
          "\"api_requests_per_minute\":1},\"features\":[]}]}", "free" },
        { "{\"plans\":[{\"id\":\"free\",\"name\":\"F\",\"price_cents\":0,\"currency\":\"usd\","
          "\"interval\":\"month\",\"limits\":{\"calls_per_month\":1,\"businesses\":1,\"seats\":1,"
          "\"api_requests_per_minute\":1},\"features\":[]}]}", "plans[0].currency" },
        { "{\"plans\":[{\"id\":\"free\",\"name\":\"F\",\"price_cents\":0,\"currency\":\"USD\","
          "\"interval\":\"month\",\"limits\":{\"calls_per_month\":1,\"businesses\":1,\"seats\":-2,"
          "\"api_requests_per_minute\":1},\"features\":[]}]}", "plans[0].limits.seats" },
        { "{\"plans\":[{\"id\":\"free\",\"name\":\"F\",\"price_cents\":0,\"currency\":\"USD\","
          "\"interval\":\"month\",\"limits\":{\"calls_per_month\":1,\"businesses\":1,\"seats\":1,"
          "\"api_requests_per_minute\":1000000000001},\"features\":[]}]}",
          "plans[0].limits.api_requests_per_minute: must be an integer from 0 to 1000000000000" },
        { "{\"plans\":[{\"id\":\"free\",\"name\":\"F\",\"price_cents\":0,\"currency\":\"USD\","
          "\"interval\":\"month\",\"limits\":{\"calls_per_month\":9223372036854775807,"
          "\"businesses\":1,\"seats\":1,\"api_requests_per_minute\":1},\"features\":[]}]}",
          "plans[0].limits.calls_per_month" },
        { "{\"plans\":[{\"id\":\"free\",\"name\":\"F\",\"price_cents\":0,\"currency\":\"USD\","
          "\"interval\":\"month\",\"limits\":{\"calls_per_month\":1,\"businesses\":1,\"seats\":1,"
          "\"api_requests_per_minute\":1},\"features\":[\"teleport\"]}]}", "plans[0].features[0]" },
        { "{\"plans\":[{\"id\":\"free\",\"name\":\"F\",\"price_cents\":-5,\"currency\":\"USD\","
          "\"interval\":\"month\",\"limits\":{},\"features\":[]}]}", "plans[0].price_cents" },
        { "{\"plans\":[{\"id\":\"free\",\"name\":\"F\",\"price_cents\":100000000,"
          "\"currency\":\"USD\",\"interval\":\"month\",\"limits\":{},\"features\":[]}]}",
          "plans[0].price_cents: must be an integer from 0 to 99999999" },
        { "{\"plans\":[{\"id\":\"free\",\"name\":\"F\\nree\",\"price_cents\":0,"
          "\"currency\":\"USD\",\"interval\":\"month\",\"limits\":{},\"features\":[]}]}",
          "plans[0].name: no control characters" },
        { "{\"plans\":[{\"id\":\"free\",\"name\":\"F\\u007fx\",\"price_cents\":0,"
          "\"currency\":\"USD\",\"interval\":\"month\",\"limits\":{},\"features\":[]}]}",
          "plans[0].name: no control characters" },
        { "{\"plans\":[{\"id\":\"free\"", "line 1" },
        { "{\"plans\":[{\"id\":\"free\",\"name\":\"F\",\"price_cents\":0,\"currency\":\"USD\","
          "\"interval\":\"month\",\"limits\":{\"calls_per_month\":1,\"businesses\":1,\"seats\":1,"
          "\"api_requests_per_minute\":1},\"features\":[],\"overage\":{\"calls\":"
          "{\"unit_amount_cents\":5,\"meter_event_name\":\"m\"}}}]}", "free plan has no overage" },
        { "{\"plans\":[{\"id\":\"free\",\"name\":\"F\",\"price_cents\":0,\"currency\":\"USD\","
          "\"interval\":\"month\",\"limits\":{\"calls_per_month\":1,\"businesses\":1,\"seats\":1,"
          "\"api_requests_per_minute\":1},\"features\":[]},{\"id\":\"pro\",\"name\":\"P\","
          "\"price_cents\":9,\"currency\":\"USD\",\"interval\":\"month\",\"limits\":"
          "{\"calls_per_month\":1,\"businesses\":1,\"seats\":1,\"api_requests_per_minute\":1},"
          "\"features\":[],\"overage\":{\"calls\":{\"unit_amount_cents\":0,"
          "\"meter_event_name\":\"m\"}}}]}", "plans[1].overage.calls.unit_amount_cents" },
        { "{\"plans\":[{\"id\":\"free\",\"name\":\"F\",\"price_cents\":0,\"currency\":\"USD\","
          "\"interval\":\"month\",\"limits\":{\"calls_per_month\":1,\"businesses\":1,\"seats\":1,"
          "\"api_requests_per_minute\":1},\"features\":[]},{\"id\":\"pro\",\"name\":\"P\","
          "\"price_cents\":9,\"currency\":\"USD\",\"interval\":\"month\",\"limits\":"
          "{\"calls_per_month\":1,\"businesses\":1,\"seats\":1,\"api_requests_per_minute\":1},"
          "\"features\":[],\"overage\":{\"minutes\":{}}}]}", "plans[1].overage.minutes" },
        { NULL, NULL }
    };
    for (size_t i = 0; bad [i].text; i++) {
        plans = sb_plans_parse (bad [i].text, strlen (bad [i].text), "test", why, sizeof (why));
        SB_CHECK (plans == NULL && strstr (why, bad [i].field));
        if (verbose)
            printf ("  %s\n", why);
        sb_plans_destroy (&plans);
    }
    //  The largest limit is taken as written.
    const char *largest = "{\"plans\":[{\"id\":\"free\",\"name\":\"F\",\"price_cents\":0,"
                          "\"currency\":\"USD\",\"interval\":\"month\",\"limits\":"
                          "{\"calls_per_month\":1000000000000,\"businesses\":1,\"seats\":1,"
                          "\"api_requests_per_minute\":1},\"features\":[]}]}";
    plans = sb_plans_parse (largest, strlen (largest), "test", why, sizeof (why));
    SB_CHECK (plans && sb_plans_get (plans, "free")->calls_per_month == SB_PLAN_LIMIT_MAX);
    sb_plans_destroy (&plans);

    plans = sb_plans_load ("/nonexistent/plans.json", why, sizeof (why));
    SB_CHECK (plans == NULL && strstr (why, "/nonexistent/plans.json"));
}
