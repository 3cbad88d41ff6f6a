/*  migrate.h — versioned per-service schema migrations.

    Each service keeps its migrations as <name>-svc/sql/NNNN_description.sql;
    the build embeds them into the binary (tools/sb-embed-sql.c) as an array
    of sb_migration_t sorted by version. At start every worker calls
    sb_migrate: under a PostgreSQL advisory lock named after the schema, it
    applies, each in its own transaction, the migrations whose version is not
    yet in <schema>.schema_migrations. N workers starting at once therefore
    migrate exactly once; the others wait for the lock and find nothing to do.
*/
#ifndef SB_MIGRATE_H_INCLUDED
#define SB_MIGRATE_H_INCLUDED

#include <stddef.h>
#include "sb/db.h"

typedef struct {
    int version;
    const char *name;               //  "0001_init"
    const char *sql;                //  may contain several statements
} sb_migration_t;

//  Brings schema up to date. The schema must exist (deploy/sql/provision.sql
//  creates it with the service's role as owner); if it does not, it is
//  created when the role may. Returns the number of migrations applied, or
//  -1 when one failed (that migration's transaction is rolled back, the
//  error is logged, and the lock is released).
int sb_migrate (sb_db_t *db, const char *schema, const sb_migration_t *migrations,
                size_t count);

#endif
