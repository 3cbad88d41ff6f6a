#!/bin/sh
# deploy/container/initdb.sh — run once by the postgres image's entrypoint
# (mounted into /docker-entrypoint-initdb.d by compose.yaml) on an empty
# data directory: each service's role and schema, by deploy/sql/provision.sql,
# with the password of that service's pgpass secret (one line
# postgres:5432:switchboard:sb_<svc>:<password>, the file the service's
# libpq reads through PGPASSFILE), so that the password is written once.
set -eu
for svc in auth tenant billing usage; do
    pw=$(cut -d: -f5- "/run/secrets/pgpass_$svc")
    psql -X -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
         -v svc="$svc" -v pw="$pw" -v db="$POSTGRES_DB" -v create_db=false \
         -f /switchboard/provision.sql
done
