/*  migrate.h — versioned per-service schema migrations.

    Each service keeps its migrations as <name>-svc/sql/NNNN_description.sql;
    the build embeds them into the binary (tools/sb-embed-sql.c) as an array
    of sb_migration_t sorted by version. At start every worker calls
    sb_migrate: under a PostgreSQL advisory lock named after the schema, it
    applies, each in its own transaction, the migrations whose version is not
    yet in <schema>.schema_migrations. N workers starting at once therefore
    migrate exactly once; the others wait for the lock and find nothing to do.

    Versions from SB_MIGRATE_SKELETON_FIRST up belong to the skeleton: the
    tables every service has (common/sql/NNNN_*.sql, embedded into libsb,
    e.g. the answers of idempotent requests). sb_migrate applies them after
    the service's own migrations, in the service's schema.
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

#define SB_MIGRATE_SKELETON_FIRST 9000

//  The skeleton's migrations (generated from common/sql at build time).
extern const sb_migration_t sb_skeleton_migrations [];
extern const size_t sb_skeleton_migration_count;

//  Brings schema up to date with the service's migrations (versions 1 to
//  SB_MIGRATE_SKELETON_FIRST - 1, sorted) and the skeleton's. The schema must exist (deploy/sql/provision.sql
//  creates it with the service's role as owner); if it does not, it is
//  created when the role may. Returns the number of migrations applied, or
//  -1 when one failed (that migration's transaction is rolled back, the
//  error is logged, and the lock is released).
int sb_migrate (sb_db_t *db, const char *schema, const sb_migration_t *migrations,
                size_t count);

#endif
