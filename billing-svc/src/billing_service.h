/*  billing_service.h — billing-svc's operation table and handlers.
*/
#ifndef BILLING_SERVICE_H_INCLUDED
#define BILLING_SERVICE_H_INCLUDED

#include "sb/sb.h"

extern const sb_service_t billing_service;

//  Embedded migrations, generated from billing-svc/sql/*.sql at build time.
extern const sb_migration_t billing_migrations [];
extern const size_t billing_migration_count;

//  org.purge: deletes a batch of a deleted organization's rows (billing_org.c).
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

#endif
