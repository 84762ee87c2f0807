-- Runs once, when the compose stack's PostgreSQL volume is first initialised.
-- Temporal uses the superuser `temporal` and its own databases (temporal,
-- temporal_visibility, created by the temporal-schema one-shot); Duban gets
-- a separate role and database. Credentials match DUBAN_DATABASE_URL in
-- deploy/compose.yaml and are for local use only.
CREATE ROLE duban WITH LOGIN PASSWORD 'duban';
CREATE DATABASE duban OWNER duban ENCODING 'UTF8' TEMPLATE template0;
