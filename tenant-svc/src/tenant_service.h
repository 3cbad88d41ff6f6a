/*  tenant_service.h — tenant-svc's operation table and handlers.
*/
#ifndef TENANT_SERVICE_H_INCLUDED
#define TENANT_SERVICE_H_INCLUDED

#include "sb/sb.h"

extern const sb_service_t tenant_service;

//  Embedded migrations, generated from tenant-svc/sql/*.sql at build time.
extern const sb_migration_t tenant_migrations [];
extern const size_t tenant_migration_count;

#endif
