/*  usage.h — usage-svc's private declarations.
*/
#ifndef USAGE_H_INCLUDED
#define USAGE_H_INCLUDED

#include "sb/sb.h"

extern const sb_service_t usage_service;
extern const sb_migration_t usage_migrations [];
extern const size_t usage_migration_count;

int usage_record (sb_ctx_t *ctx, const msgpack_object *args, sb_reply_t *reply);

#endif
