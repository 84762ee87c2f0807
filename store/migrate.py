"""Versioned SQL migrations, applied in order, once, safely from several replicas at once.

Files in ``store/migrations/`` are named ``NNNN_description.sql``. Each runs in its own
transaction together with its row in ``schema_migrations``, so a failed migration leaves
nothing half-applied. A session advisory lock serialises concurrent runners: the second
replica waits, then finds nothing pending. An applied file whose text has changed is an
error, because the database would no longer match what the repository says it is.

Two roles in production: ``DUBAN_MIGRATION_DATABASE_URL`` names the role that owns the
schema and runs the migrations; ``DUBAN_DATABASE_URL`` the role every other process uses.
After migrating, the owner grants that runtime role what it needs and no more (see
:func:`grant_runtime_role`), so a compromised worker or API cannot change the schema, drop
the audit log's trigger, or rewrite the audit log.

Why not a library: the asyncpg-native migration tools on PyPI either lack a cross-replica
lock or bring SQLAlchemy and a second driver (Alembic); this file is the whole mechanism.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from urllib.parse import unquote, urlsplit

import asyncpg

from runtime.errors import ConfigurationError
from runtime.settings import Settings
from store.db import Connection, create_pool

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same in every replica and unlike other users'.
_LOCK_KEY = 0x64756261_6E  # "duban"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def bundled_migrations() -> list[Migration]:
    """The migrations shipped in this package, in version order."""
    migrations = []
    for entry in resources.files("store.migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            # A misnamed file would silently never run; refuse to start instead.
            raise ConfigurationError(
                f"store/migrations/{entry.name} is not named NNNN_lower_case_name.sql"
            )
        migrations.append(
            Migration(int(match["version"]), match["name"], entry.read_text(encoding="utf-8"))
        )
    migrations.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in migrations]
    if len(set(versions)) != len(versions):
        raise ConfigurationError(f"store/migrations has two files with one version: {versions}")
    return migrations


_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


async def apply_migrations(
    connection: Connection, migrations: list[Migration] | None = None
) -> list[Migration]:
    """Apply pending migrations on ``connection``; return the ones this call applied."""
    migrations = bundled_migrations() if migrations is None else migrations
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await connection.execute(_CREATE_LEDGER)
        rows = await connection.fetch("SELECT version, name, checksum FROM schema_migrations")
        applied = {row["version"]: row for row in rows}
        newly_applied = []
        for migration in migrations:
            row = applied.get(migration.version)
            if row is not None:
                if row["checksum"] != migration.checksum:
                    raise ConfigurationError(
                        f"migration {migration.version:04d}_{row['name']}.sql was changed after "
                        "it was applied; add a new migration instead of editing an applied one"
                    )
                continue
            async with connection.transaction():
                await connection.execute(migration.sql)
                await connection.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            newly_applied.append(migration)
        return newly_applied
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


def _runtime_grants(schema: str, role: str) -> list[str]:
    """DML on every table and sequence, now and (default privileges) for every table a
    later migration creates; the audit log insert-only, the ledger read-only."""
    return [
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role}",
        # Append-only by privilege as well as by trigger.
        f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {schema}.audit_log FROM {role}",
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {schema}.schema_migrations FROM {role}",
        # PostgreSQL 14 lets everyone create in ``public``; a no-op warning where not owned.
        f"REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC",
    ]


async def grant_runtime_role(connection: Connection, role: str) -> None:
    """Give ``role`` (the runtime processes' login) DML rights on the current schema.
    Idempotent, and under the migration lock: concurrent GRANTs on one object can fail."""
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", role):
            raise ConfigurationError(
                f"DUBAN_DATABASE_URL names the role {role!r}, which does not exist; create it "
                "(LOGIN, nothing else) before `duban migrate` grants it DML on the tables"
            )
        names = await connection.fetchrow(
            "SELECT quote_ident(current_schema()) AS schema, quote_ident($1) AS role", role
        )
        assert names is not None  # a SELECT without FROM yields its one row
        schema, quoted_role = names["schema"], names["role"]
        async with connection.transaction():
            for statement in _runtime_grants(schema, quoted_role):
                await connection.execute(statement)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)


def _user(dsn: str) -> str | None:
    name = urlsplit(dsn).username
    return unquote(name) if name else None


async def migrate_database(
    dsn: str,
    *,
    settings: Settings | None = None,
    runtime_role: str | None = None,
    setting_name: str | None = None,
) -> list[Migration]:
    """Connect to ``dsn`` and apply what is pending; then grant ``runtime_role``, if given,
    its DML rights. What ``duban migrate`` and ``dev`` run."""
    pool = await create_pool(
        dsn, settings=settings, min_size=1, max_size=1, setting_name=setting_name
    )
    try:
        async with pool.acquire() as connection:
            applied = await apply_migrations(connection)
            if runtime_role is not None:
                await grant_runtime_role(connection, runtime_role)
            return applied
    except (asyncpg.InsufficientPrivilegeError, asyncpg.InvalidSchemaNameError) as error:
        raise ConfigurationError(
            f"{setting_name or 'DUBAN_DATABASE_URL'}: its role may not migrate the schema "
            f"({str(error).splitlines()[0]}); use the role that owns it"
        ) from None
    finally:
        await pool.close()


async def migrate_from_settings(settings: Settings) -> list[Migration]:
    """``duban migrate``: as the owner role when DUBAN_MIGRATION_DATABASE_URL is set, then
    the runtime role of DUBAN_DATABASE_URL gets its grants; else as DUBAN_DATABASE_URL."""
    if settings.migration_database_url is None:
        return await migrate_database(settings.effective_database_url, settings=settings)
    owner_dsn = str(settings.migration_database_url)
    runtime = _user(settings.effective_database_url) if settings.database_url else None
    return await migrate_database(
        owner_dsn,
        settings=settings,
        runtime_role=runtime if runtime and runtime != _user(owner_dsn) else None,
        setting_name="DUBAN_MIGRATION_DATABASE_URL",
    )
