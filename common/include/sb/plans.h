/*  plans.h — the plan catalogue: what each plan costs, allows and limits.

    The catalogue is data an operator edits: a JSON file named by
    SWITCHBOARD_PLANS_FILE, in the shape of API.md ("Billing"), or the
    shipped default (deploy/plans.json, compiled into every binary) when
    the variable is unset. Loading validates every field and names the
    first bad one; a catalogue without a `free` plan is refused. A limit is
    0 to SB_PLAN_LIMIT_MAX, or -1 for unlimited: a larger number is a typo
    for -1 or a digit too many, and arithmetic with limits (the gateway's
    window, quotas plus the spending cap's calls) stays far from int64's
    end. Strings hold no control character; a price is at most
    SB_PLAN_PRICE_MAX, the largest unit amount Stripe takes.

    A paid plan may bill use beyond its monthly calls instead of refusing
    it: "overage": {"calls": {"unit_amount_cents", "stripe_price_id",
    "meter_event_name"}} (only calls has a monthly quota; never on free).

    Only billing-svc loads the catalogue: it decides each organization's
    plan and answers the others their entitlements (sb/entitlements.h).
*/
#ifndef SB_PLANS_H_INCLUDED
#define SB_PLANS_H_INCLUDED

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_PLANS_MAX 16
#define SB_PLAN_PRICE_MAX 99999999  //  cents: Stripe's largest unit_amount (8 digits)
#define SB_PLAN_LIMIT_MAX 1000000000000LL   //  10^12; -1 is unlimited

#define SB_FEATURE_ANALYTICS        (1u << 0)
#define SB_FEATURE_WEBHOOKS         (1u << 1)
#define SB_FEATURE_PRIORITY_SUPPORT (1u << 2)
#define SB_FEATURE_AUDIT_LOG_EXPORT (1u << 3)
#define SB_FEATURE_SSO              (1u << 4)

typedef struct {
    char id [32];
    char name [64];
    int64_t price_cents;
    char currency [4];
    char interval [8];              //  "month" or "year"
    char stripe_price_id [128];     //  "" when none
    int64_t calls_per_month;        //  -1 = unlimited
    int64_t businesses;
    int64_t seats;
    int64_t api_requests_per_minute;
    unsigned features;              //  SB_FEATURE_* bits
    struct {                        //  calls beyond calls_per_month, billed
        bool enabled;
        int64_t unit_amount_cents;  //  per call
        char stripe_price_id [128]; //  the metered price ("" until stripe-sync)
        char meter_event_name [101];
    } overage_calls;
} sb_plan_t;

typedef struct _sb_plans_t sb_plans_t;

//  Loads the catalogue from path, or the shipped default when path is NULL.
//  Returns NULL with the reason (naming the field) in why.
sb_plans_t *sb_plans_load (const char *path, char *why, size_t why_size);
void sb_plans_destroy (sb_plans_t **self_p);

//  Parses and validates a catalogue from len bytes of JSON text (what
//  sb_plans_load does with a file's content); source names it in why.
//  Pure: tests/fuzz/plans.c feeds it directly.
sb_plans_t *sb_plans_parse (const char *text, size_t len, const char *source, char *why,
                            size_t why_size);

//  The shipped catalogue's JSON text (not NUL-terminated) and its length.
const char *sb_plans_default_text (size_t *len);

//  The plan with this id, or NULL. Borrowed.
const sb_plan_t *sb_plans_get (const sb_plans_t *self, const char *id);

//  The feature bit for a name ("analytics" ...), 0 when unknown.
unsigned sb_plans_feature (const char *name);
//  Packs the names of the features set in features, as an array.
void sb_plans_pack_features (msgpack_packer *pk, unsigned features);

//  Number of plans and the i-th, in catalogue order (for listings).
size_t sb_plans_size (const sb_plans_t *self);
const sb_plan_t *sb_plans_at (const sb_plans_t *self, size_t index);
int64_t sb_plans_referral_credit_cents (const sb_plans_t *self);

void sb_plans_test (bool verbose);

#endif
