#!/bin/sh
# Runs once, as the superuser, when the compose stack's PostgreSQL volume is first
# initialised (docker-entrypoint-initdb.d). Creates one role per job, none of them a
# superuser, with passwords read from the secret files compose mounts in /run/secrets:
#   temporal      owns Temporal's databases (temporal, temporal_visibility), nothing else
#   duban_owner   owns Duban's database and schema; only `duban migrate` logs in as it
#   duban_app     the worker and the API: may connect; `duban migrate` grants it DML on
#                 Duban's tables (never DDL, and on audit_log only SELECT and INSERT)
# Nobody else may connect to any of the three databases.
set -eu

secret() {
  file="${SECRETS_DIR:-/run/secrets}/$1"
  if [ ! -s "$file" ]; then
    echo "10-roles.sh: $file is missing or empty; set the variable deploy/compose.yaml names" >&2
    exit 1
  fi
  cat "$file"
}

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v temporal_password="$(secret temporal_db_password)" \
  -v owner_password="$(secret duban_owner_db_password)" \
  -v app_password="$(secret duban_app_db_password)" <<'SQL'
CREATE ROLE temporal WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'temporal_password';
CREATE ROLE duban_owner WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
CREATE ROLE duban_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'app_password';

CREATE DATABASE temporal OWNER temporal ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE temporal_visibility OWNER temporal ENCODING 'UTF8' TEMPLATE template0;
CREATE DATABASE duban OWNER duban_owner ENCODING 'UTF8' TEMPLATE template0;

REVOKE ALL ON DATABASE temporal, temporal_visibility, duban FROM PUBLIC;
GRANT CONNECT ON DATABASE duban TO duban_app;
SQL

# Temporal's visibility schema wants btree_gin; created here so that its role needs no
# more than ownership of its database.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname temporal_visibility \
  -c 'CREATE EXTENSION IF NOT EXISTS btree_gin'
