-- deploy/sql/provision.sql — give one Switchboard service its role and schema.
--
-- Run once per service by deploy/local/pg.sh (psql, one call per service);
-- every statement is idempotent, so running it again is harmless and also
-- resets the role's password to the one given. psql variables:
--
--   svc        service name: auth, tenant, billing or usage
--   pw         the password for role sb_<svc> (passed with -v, never spliced
--              into the text by the shell; psql quotes it as :'pw')
--   db         database to create and use when create_db is true
--   create_db  true: we are connected to a maintenance database of our own
--              cluster as superuser; create :db if missing and \connect to it.
--              false: use the database we are connected to (an existing
--              server, see `pg.sh provision-url`).
--
-- Result: role sb_<svc>_owner (NOLOGIN) owns schema <svc> and, through the
-- migrations, every table in it; role sb_<svc> (LOGIN, NOINHERIT) is the
-- role the service runs as: a member of the owner role only so that its
-- migrations can SET ROLE to it, and otherwise holding nothing but USAGE on
-- the schema and SELECT/INSERT/UPDATE/DELETE on its tables (default
-- privileges). Owning no table, it cannot bypass row-level security. It may
-- connect to the database and use temporary tables, and has no right on any
-- other schema, including public. Its search_path in the database is its own
-- schema. On an existing server the connected user needs CREATEROLE; if it
-- does not own the database the database-level grants are skipped with a
-- warning (ask the owner to run them).

\set ON_ERROR_STOP on
\set QUIET on

\if :create_db
SELECT format('CREATE DATABASE %I', :'db')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
\connect :"db"
\endif

SET client_min_messages = warning;
SELECT current_database() AS db, 'sb_' || :'svc' AS role, 'sb_' || :'svc' || '_owner' AS owner \gset

-- The role: created once, password (re)set every time.
SELECT format('CREATE ROLE %I LOGIN', :'role')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'role') \gexec
ALTER ROLE :"role" WITH LOGIN NOINHERIT PASSWORD :'pw';
SELECT format('CREATE ROLE %I NOLOGIN', :'owner')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'owner') \gexec
GRANT :"owner" TO :"role";
ALTER ROLE :"role" IN DATABASE :"db" SET search_path = :"svc";

-- A non-superuser can only give a schema to a role it is a member of.
SELECT format('GRANT %I TO %I', :'role', current_user)
 WHERE NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
   AND NOT pg_has_role(current_user, :'role', 'MEMBER') \gexec

SELECT format('GRANT %I TO %I', :'owner', current_user)
 WHERE NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
   AND NOT pg_has_role(current_user, :'owner', 'MEMBER') \gexec

-- The schema, owned by the owner role; the service's role may use it and
-- what the owner creates in it; nobody else gets anything.
CREATE SCHEMA IF NOT EXISTS :"svc" AUTHORIZATION :"owner";
ALTER SCHEMA :"svc" OWNER TO :"owner";
REVOKE ALL ON SCHEMA :"svc" FROM PUBLIC;
GRANT USAGE ON SCHEMA :"svc" TO :"role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA :"svc"
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA :"svc"
  GRANT USAGE, SELECT ON SEQUENCES TO :"role";

-- Database-level rights need the database's owner (or a superuser).
SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       OR pg_has_role(current_user, d.datdba, 'MEMBER') AS db_admin
  FROM pg_database d WHERE d.datname = current_database() \gset
\if :db_admin
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO :"role";
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
\else
\warn 'provision: not the owner of database ' :db ', skipped: REVOKE ALL ON DATABASE ... FROM PUBLIC; GRANT CONNECT, TEMPORARY ... TO ' :role '; REVOKE CREATE ON SCHEMA public FROM PUBLIC'
\endif
