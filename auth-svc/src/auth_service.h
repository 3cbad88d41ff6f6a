/*  auth_service.h — auth-svc's operation table and handlers.
*/
#ifndef AUTH_SERVICE_H_INCLUDED
#define AUTH_SERVICE_H_INCLUDED

#include "sb/sb.h"

extern const sb_service_t auth_service;

//  Embedded migrations, generated from auth-svc/sql/*.sql at build time.
extern const sb_migration_t auth_migrations [];
extern const size_t auth_migration_count;

#endif
