/*  err.h — the stable error codes clients see, defined once.

    Handlers and the gateway use these constants, never string literals, so
    a code cannot drift between two places that mean the same thing.
*/
#ifndef SB_ERR_H_INCLUDED
#define SB_ERR_H_INCLUDED

#define SB_E_INVALID_REQUEST      "invalid_request"
#define SB_E_VALIDATION_FAILED    "validation_failed"
#define SB_E_NOT_FOUND            "not_found"
#define SB_E_METHOD_NOT_ALLOWED   "method_not_allowed"
#define SB_E_PAYLOAD_TOO_LARGE    "payload_too_large"
#define SB_E_HEADERS_TOO_LARGE    "headers_too_large"
#define SB_E_UNSUPPORTED_MEDIA    "unsupported_media_type"
#define SB_E_UNAUTHENTICATED      "unauthenticated"
#define SB_E_FORBIDDEN            "forbidden"
#define SB_E_CONFLICT             "conflict"
#define SB_E_RATE_LIMITED         "rate_limited"
#define SB_E_SERVICE_UNAVAILABLE  "service_unavailable"
#define SB_E_OUTCOME_UNKNOWN      "outcome_unknown"
#define SB_E_TIMEOUT              "timeout"
#define SB_E_INTERNAL             "internal_error"
#define SB_E_UNKNOWN_OPERATION    "unknown_operation"
#define SB_E_PLAN_LIMIT_REACHED   "plan_limit_reached"
#define SB_E_FEATURE_NOT_IN_PLAN  "feature_not_in_plan"
#define SB_E_IDEMPOTENCY_REUSED   "idempotency_key_reused"
#define SB_E_IDEMPOTENCY_IN_USE   "idempotency_key_in_use"
#define SB_E_USAGE_OVERFLOW       "usage_overflow"     //  a usage counter would pass its cap
//  Billing with Stripe (billing-svc checkout and portal)
#define SB_E_BILLING_NOT_CONFIGURED "billing_not_configured"   //  no Stripe secret key
#define SB_E_STRIPE_ERROR         "stripe_error"       //  Stripe refused the request (4xx)
#define SB_E_STRIPE_UNAVAILABLE   "stripe_unavailable" //  no answer in time, or Stripe's 5xx
#define SB_E_NO_BILLING_ACCOUNT   "no_billing_account" //  no Stripe customer yet
#define SB_E_INVALID_SIGNATURE    "invalid_signature"  //  a webhook's signature does not verify

//  Operators (issue 15): an organization an operator suspended (403).
#define SB_E_ORGANIZATION_SUSPENDED "organization_suspended"
#define SB_ORGANIZATION_SUSPENDED_MESSAGE \
    "this organization is suspended: its requests are refused until it is resumed (contact support)"

#endif
