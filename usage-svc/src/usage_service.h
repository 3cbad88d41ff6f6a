/*  usage_service.h — usage-svc's operation table and handlers.
*/
#ifndef USAGE_SERVICE_H_INCLUDED
#define USAGE_SERVICE_H_INCLUDED

#include "sb/sb.h"

extern const sb_service_t usage_service;

//  Embedded migrations, generated from usage-svc/sql/*.sql at build time.
extern const sb_migration_t usage_migrations [];
extern const size_t usage_migration_count;

#endif
