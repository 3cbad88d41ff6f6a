/*  plans.c — libFuzzer harness: the plan-catalogue loader
    (sb_plans_parse, common/src/plans.c).

    What a stranger controls: less than elsewhere — the file an operator
    names with SWITCHBOARD_PLANS_FILE — but a service must not start on a
    catalogue it would misread, and a bad one must be refused with a
    reason, not a crash or a leak. Properties checked on every input:

      1. Bytes the loader accepts are JSON it accepts (sb_json_parse), and
         the catalogue satisfies plans.h's and API.md's invariants, checked
         here on the loaded structures: 1 to SB_PLANS_MAX plans, ids of
         [a-z0-9_] unique and found by sb_plans_get, a "free" plan, names
         non-empty, every string free of control characters, currency
         three capital letters, interval month or year, price_cents from 0
         to SB_PLAN_PRICE_MAX, every limit from -1 to SB_PLAN_LIMIT_MAX,
         only known feature bits, a referral credit ≥ 0, and overage only
         on a paid plan with a finite monthly calls quota, 1 to 1000000
         cents a call and a meter name of [A-Za-z0-9_.-].
      2. The loaded values are the text's: each plan's id, price, limits
         and the number of plans, read here with jansson from the text.
      3. A refusal names a reason; nothing leaks either way (LeakSanitizer).

    The shipped catalogue (deploy/plans.json, linked in) must load once,
    in LLVMFuzzerInitialize.

    A property that fails aborts (a crash for libFuzzer, with the input
    saved); so do ASan and UBSan findings and leaks.
*/
#include "sb/json.h"
#include "sb/plans.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_fail (const char *what, size_t size)
{
    fprintf (stderr, "plans harness: %s (input of %zu bytes)\n", what, size);
    abort ();
}

static bool
s_only (const char *s, const char *allowed)
{
    for (; *s; s++)
        if (!strchr (allowed, *s))
            return false;
    return true;
}

#define S_LOWER "abcdefghijklmnopqrstuvwxyz"
#define S_UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define S_DIGIT "0123456789"

//  The invariants of a loaded catalogue; text is what it was loaded from.
static void
s_check (const sb_plans_t *plans, const char *text, size_t len, size_t size)
{
    size_t count = sb_plans_size (plans);
    if (count < 1 || count > SB_PLANS_MAX)
        s_fail ("a catalogue of no or too many plans", size);
    if (!sb_plans_get (plans, "free"))
        s_fail ("a catalogue without a free plan", size);
    if (sb_plans_referral_credit_cents (plans) < 0)
        s_fail ("a negative referral credit", size);
    unsigned known = SB_FEATURE_ANALYTICS | SB_FEATURE_WEBHOOKS | SB_FEATURE_PRIORITY_SUPPORT
                     | SB_FEATURE_AUDIT_LOG_EXPORT | SB_FEATURE_SSO;
    for (size_t i = 0; i < count; i++) {
        const sb_plan_t *p = sb_plans_at (plans, i);
        if (!*p->id || !s_only (p->id, S_LOWER S_DIGIT "_"))
            s_fail ("a plan id not of [a-z0-9_]", size);
        for (size_t k = 0; k < i; k++)
            if (!strcmp (sb_plans_at (plans, k)->id, p->id))
                s_fail ("two plans with one id", size);
        if (sb_plans_get (plans, p->id) != p)
            s_fail ("sb_plans_get does not find a plan", size);
        if (!*p->name || strlen (p->currency) != 3 || !s_only (p->currency, S_UPPER)
            || (strcmp (p->interval, "month") && strcmp (p->interval, "year")))
            s_fail ("a plan's name, currency or interval breaks the rules", size);
        const char *strings [] = { p->id, p->name, p->currency, p->interval,
                                   p->stripe_price_id, p->overage_calls.stripe_price_id,
                                   p->overage_calls.meter_event_name };
        for (size_t k = 0; k < sizeof (strings) / sizeof (strings [0]); k++)
            for (const char *c = strings [k]; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                    s_fail ("a control character in a plan's string", size);
        if (p->price_cents > SB_PLAN_PRICE_MAX)
            s_fail ("a price above Stripe's largest unit amount", size);
        if (p->price_cents < 0)
            s_fail ("a negative price", size);
        const int64_t limits [] = { p->calls_per_month, p->businesses, p->seats,
                                    p->api_requests_per_minute };
        for (size_t k = 0; k < sizeof (limits) / sizeof (limits [0]); k++)
            if (limits [k] < -1 || limits [k] > SB_PLAN_LIMIT_MAX)
                s_fail ("a limit below -1 or above SB_PLAN_LIMIT_MAX", size);
        if (p->features & ~known)
            s_fail ("an unknown feature bit", size);
        if (p->overage_calls.enabled
            && (!strcmp (p->id, "free") || p->calls_per_month < 0
                || p->overage_calls.unit_amount_cents < 1
                || p->overage_calls.unit_amount_cents > 1000000
                || !*p->overage_calls.meter_event_name
                || !s_only (p->overage_calls.meter_event_name,
                            S_LOWER S_UPPER S_DIGIT "_.-")))
            s_fail ("an overage that breaks the rules", size);
    }
    //  The values are the text's.
    json_error_t error;
    json_t *root = json_loadb (text, len, JSON_DECODE_ANY, &error);
    json_t *list = json_object_get (root, "plans");
    if (!json_is_array (list) || json_array_size (list) != count)
        s_fail ("not as many plans as the text has", size);
    for (size_t i = 0; i < count; i++) {
        const sb_plan_t *p = sb_plans_at (plans, i);
        json_t *entry = json_array_get (list, i);
        json_t *limits = json_object_get (entry, "limits");
        const char *id = json_string_value (json_object_get (entry, "id"));
        if (!id || strcmp (id, p->id)
            || json_integer_value (json_object_get (entry, "price_cents")) != p->price_cents
            || json_integer_value (json_object_get (limits, "calls_per_month"))
                   != p->calls_per_month
            || json_integer_value (json_object_get (limits, "businesses")) != p->businesses
            || json_integer_value (json_object_get (limits, "seats")) != p->seats
            || json_integer_value (json_object_get (limits, "api_requests_per_minute"))
                   != p->api_requests_per_minute)
            s_fail ("a plan's values are not the text's", size);
    }
    json_decref (root);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    char why [256] = "";
    size_t len = 0;
    const char *text = sb_plans_default_text (&len);
    sb_plans_t *plans = sb_plans_parse (text, len, "deploy/plans.json", why, sizeof (why));
    if (!plans) {
        fprintf (stderr, "plans harness: the shipped catalogue is refused: %s\n", why);
        abort ();
    }
    s_check (plans, text, len, len);
    sb_plans_destroy (&plans);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  The loader reads at most 1 MiB; catalogues are a few kilobytes.
    if (size > 65536)
        return 0;
    char why [256] = "";
    sb_plans_t *plans = sb_plans_parse ((const char *) data, size, "fuzz", why, sizeof (why));
    if (plans) {
        char reason [160];
        json_t *json = sb_json_parse ((const char *) data, size, reason, sizeof (reason));
        if (!json)
            s_fail ("a catalogue from text that is not JSON", size);
        json_decref (json);
        s_check (plans, (const char *) data, size, size);
        sb_plans_destroy (&plans);
    }
    else
    if (!*why)
        s_fail ("a refusal without a reason", size);
    return 0;
}
