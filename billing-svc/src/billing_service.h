/*  billing_service.h — billing-svc's operation table, handlers and the
    pieces its files share.
*/
#ifndef BILLING_SERVICE_H_INCLUDED
#define BILLING_SERVICE_H_INCLUDED

#include "sb/sb.h"

extern const sb_service_t billing_service;

//  Embedded migrations, generated from billing-svc/sql/*.sql at build time.
extern const sb_migration_t billing_migrations [];
extern const size_t billing_migration_count;

//  ---- subscriptions (billing_subscriptions.c) --------------------------

#define BILLING_TS 40               //  an RFC 3339 timestamp's text, "" for none

//  An organization's subscription row; an organization billing-svc never
//  heard of is on free, active (exists false).
typedef struct {
    bool exists;
    char plan [32];
    char status [16];               //  trialing, active, past_due, canceled
    char current_period_start [BILLING_TS];
    char current_period_end [BILLING_TS];
    bool cancel_at_period_end;
    char trial_end [BILLING_TS];
    char stripe_customer_id [128];
    char stripe_subscription_id [128];
    char stripe_status [32];        //  Stripe's own status as last applied
    int64_t stripe_state_at;        //  `created` of the Stripe event last applied
    char past_due_since [BILLING_TS];
    bool has_cap;
    int64_t spending_cap_cents;
    int64_t version;
} billing_sub_t;

//  The columns of a subscription row billing_sub_from_row reads, in its
//  order, for a SELECT.
#define BILLING_SUB_COLUMNS                                                                  \
    "plan, status, coalesce (" SB_SQL_TS ("current_period_start") ", ''), "                  \
    "coalesce (" SB_SQL_TS ("current_period_end") ", ''), cancel_at_period_end, "            \
    "coalesce (" SB_SQL_TS ("trial_end") ", ''), coalesce (stripe_customer_id, ''), "         \
    "coalesce (stripe_subscription_id, ''), coalesce (stripe_status, ''), stripe_state_at, " \
    "coalesce (" SB_SQL_TS ("past_due_since") ", ''), spending_cap_cents, version"

//  The subscription of an organization without a row: free, active.
void billing_sub_default (billing_sub_t *sub);
//  Reads a row of BILLING_SUB_COLUMNS starting at column at.
void billing_sub_from_row (const PGresult *result, int row, int at, billing_sub_t *sub);

//  Reads org's subscription into *sub (for_update: locks its row until the
//  transaction ends; the caller's transaction must allow org's rows).
//  0, or -1 when the database failed.
int billing_sub_load (sb_ctx_t *ctx, const char *org, bool for_update, billing_sub_t *sub);
//  The same on a connection of the caller's (the dunning thread's).
int billing_sub_read (sb_db_t *db, const char *org, bool for_update, billing_sub_t *sub);

//  Writes *sub as org's subscription with the next entitlements version
//  (set in sub->version), and publishes subscription.changed once the
//  transaction commits. 0, or -1 when the database failed.
int billing_sub_save (sb_ctx_t *ctx, const char *org, billing_sub_t *sub);

//  What billing_sub_save is made of, for a thread without a request: the
//  write with the next version (the one code path that takes a version),
//  in the caller's transaction on db; and the body of the event
//  (BILLING_SUB_TOPIC) to publish once that transaction has committed,
//  appended to buf.
#define BILLING_SUB_TOPIC "subscription.changed"
int billing_sub_write (sb_db_t *db, const char *org, billing_sub_t *sub);
void billing_sub_event (const char *org, const billing_sub_t *sub, msgpack_sbuffer *buf);

//  What *sub entitles org to now (grace periods, lapses and the spending
//  cap applied), from the catalogue.
void billing_entitlement_of (const sb_plans_t *plans, const billing_sub_t *sub, int64_t now_ms,
                             int64_t grace_ms, sb_entitlement_t *ent);

//  SWITCHBOARD_BILLING_GRACE_SECONDS in milliseconds.
int64_t billing_grace_ms (sb_ctx_t *ctx);

int billing_subscription_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int billing_spending_cap_set (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int billing_subscriptions_assign (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
void billing_subscriptions_test (bool verbose);

//  ---- the catalogue and entitlements (billing_plans.c) -----------------

int billing_plans_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int billing_entitlements_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int billing_entitlements_changes (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  ---- org.purge (billing_org.c) ----------------------------------------

int billing_org_purge (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  `billing-svc stripe-sync [--write FILE]` (billing_sync.c): returns the
//  exit status.
int billing_sync_command (int argc, char **argv, const sb_config_t *config);
void billing_sync_test (bool verbose);
//  `billing-svc verify-signature HEADER PAYLOAD_FILE [NOW]` (billing_signature.c),
//  a debugging aid left out of --help.
int billing_signature_command (int argc, char **argv, const sb_config_t *config);
//  `billing-svc stripe-call METHOD PATH ...` (billing_stripe.c), likewise.
int billing_stripe_command (int argc, char **argv, const sb_config_t *config);

//  ---- referrals and credits (billing_referrals.c) ----------------------

//  referrals.record (internal; auth-svc's referral relay): records a
//  referral once per referred organization and its two pending credits.
int billing_referrals_record (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  For the invoice.paid webhook, in its transaction (which this switches
//  to all organizations, sb_db_all_orgs), when org has paid an invoice
//  with amount_paid > 0: org's pending referral becomes credited (its
//  credits are then applied to the Stripe customer balances by the
//  credits relay, after commit), or refused when both organizations share
//  a Stripe customer. Returns 1 when the referral changed, 0 when org has
//  no pending referral (never referred, or already credited or refused:
//  a second payment gives nothing), -1 when the database failed.
int billing_referrals_paid (sb_ctx_t *ctx, const char *org);

//  referrals.paid {organization_id} (internal): billing_referrals_paid as
//  an operation, answering {organization_id, referral: credited, refused
//  or nil}.
int billing_referrals_paid_op (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  billing.credits (admin): the organization's referral code and link and
//  its credit ledger.
int billing_credits_get (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

//  True when two owners' mail domains make a referral a self-referral:
//  equal (case-insensitive) and not a public mail domain (gmail.com ...).
bool billing_referral_self (const char *referrer_domain, const char *referred_domain);

//  The credits relay: started with the service (not when Stripe is not
//  configured: credits then stay pending), woken after a commit that
//  credited a referral (from the worker's thread), stopped at exit.
int billing_referrals_start (const sb_config_t *config);
void billing_referrals_wake (void);
void billing_referrals_stop (void);
void billing_referrals_test (bool verbose);

//  ---- overage reported to Stripe meters (billing_meter.c) ---------------

//  Starts the reporter's thread (not without a Stripe secret key: logged,
//  0). 0, or -1 when it cannot start.
int billing_meter_start (const sb_config_t *config);
//  Stops it (a send in hand finishes first). Safe when not started.
void billing_meter_stop (void);

//  ---- Stripe Checkout and the billing portal (billing_checkout.c) ------

int billing_checkout_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int billing_portal_create (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
//  Destroys the worker's Stripe client (the service's stop hook).
void billing_checkout_stop (void);

//  ---- webhooks, invoices, dunning (billing_webhooks.c, billing_invoices.c,
//  billing_dunning.c) --------------------------------------------------------

int billing_webhooks_receive (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
int billing_invoices_list (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);
void billing_webhooks_test (bool verbose);

//  Queues a mail to org's admins (billing.mail_outbox) in the request's
//  transaction; the dunning thread hands it to auth-svc once committed.
//  kind names it in the row ("payment_failed"). 0, or -1 when the
//  database failed.
int billing_mail_queue (sb_ctx_t *ctx, const char *org, const char *kind, const char *subject,
                        const char *text);

//  The dunning thread (the grace-period sweep and the mail to auth-svc):
//  started by the service's start hook, stopped by its stop hook; wake
//  after a commit that queued mail.
int billing_dunning_start (const sb_config_t *config);
void billing_dunning_wake (void);
void billing_dunning_stop (void);

//  ---- subscription.updated webhook events (billing_outbox.c, issue 14) ----

//  The relay of webhook_outbox (rows billing_sub_write adds) to tenant-svc's
//  webhooks.enqueue: started by the service's start hook, stopped by its
//  stop hook. It looks at the outbox every second.
int billing_outbox_start (const sb_config_t *config);
void billing_outbox_stop (void);

//  ---- operators (switchboardctl revenue): billing_revenue.c ----
int billing_sys_revenue (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

#endif
