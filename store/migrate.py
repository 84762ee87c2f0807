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

A migration's statements run under a ``lock_timeout`` and a ``statement_timeout``
(``DUBAN_MIGRATE_LOCK_TIMEOUT_SECONDS``, ``DUBAN_MIGRATE_STATEMENT_TIMEOUT_SECONDS``). An
ALTER TABLE waiting for a live session's lock makes every later query on that table queue
behind it, so during a rolling deploy one blocked DDL would stall the traffic it was meant
not to disturb: it gives up instead, with one line, and the Job can run again. The waiting
for another replica's migration (the advisory lock) is not bounded by them.

Why not a library: the asyncpg-native migration tools on PyPI either lack a cross-replica
lock or bring SQLAlchemy and a second driver (Alembic); this file is the whole mechanism.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from urllib.parse import unquote, urlsplit

import asyncpg

from runtime.errors import ConfigurationError, DubanError
from runtime.settings import Settings
from store.db import Connection, create_pool

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same in every replica and unlike other users'.
_LOCK_KEY = 0x64756261_6E  # "duban"


DEFAULT_LOCK_TIMEOUT = timedelta(seconds=5)
DEFAULT_STATEMENT_TIMEOUT = timedelta(minutes=5)


class MigrationError(DubanError):
    """A migration did not apply (a lock not granted in time, a statement too slow, an SQL
    error); its transaction was rolled back, so running the migrations again is safe."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def file_name(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


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
    connection: Connection,
    migrations: list[Migration] | None = None,
    *,
    lock_timeout: timedelta = DEFAULT_LOCK_TIMEOUT,
    statement_timeout: timedelta = DEFAULT_STATEMENT_TIMEOUT,
) -> list[Migration]:
    """Apply pending migrations on ``connection``; return the ones this call applied.

    Raises :class:`MigrationError` (one line, naming the file) when one does not apply; the
    ones before it stay applied. A ``statement_timeout`` of zero means no limit.
    """
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
            await _apply_one(connection, migration, lock_timeout, statement_timeout)
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


async def _apply_one(
    connection: Connection,
    migration: Migration,
    lock_timeout: timedelta,
    statement_timeout: timedelta,
) -> None:
    """One migration and its ledger row in one transaction, under both timeouts (set for
    this transaction only, so the session's advisory lock wait stays unbounded)."""
    try:
        async with connection.transaction():
            await connection.execute(
                "SELECT set_config('lock_timeout', $1, true),"
                " set_config('statement_timeout', $2, true)",
                _milliseconds(lock_timeout),
                _milliseconds(statement_timeout),
            )
            await connection.execute(migration.sql)
            await connection.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
    except asyncpg.LockNotAvailableError:
        raise MigrationError(
            f"migration {migration.file_name} could not lock a table within "
            f"{lock_timeout.total_seconds():g} s (DUBAN_MIGRATE_LOCK_TIMEOUT_SECONDS): a live "
            "session holds a table it alters; nothing of it was applied, run `duban migrate` "
            "again"
        ) from None
    except asyncpg.QueryCanceledError:
        raise MigrationError(
            f"migration {migration.file_name} ran longer than "
            f"{statement_timeout.total_seconds():g} s "
            "(DUBAN_MIGRATE_STATEMENT_TIMEOUT_SECONDS); nothing of it was applied"
        ) from None
    except (asyncpg.InsufficientPrivilegeError, asyncpg.InvalidSchemaNameError):
        raise  # the wrong role: migrate_database names the setting to fix
    except asyncpg.PostgresError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MigrationError(
            f"migration {migration.file_name} failed: {type(error).__name__}: {reason}; "
            "nothing of it was applied"
        ) from None


def _milliseconds(duration: timedelta) -> str:
    return f"{max(round(duration.total_seconds() * 1000), 0)}ms"


async def migrate_database(
    dsn: str,
    *,
    settings: Settings | None = None,
    runtime_role: str | None = None,
    setting_name: str | None = None,
) -> list[Migration]:
    """Connect to ``dsn`` and apply what is pending; then grant ``runtime_role``, if given,
    its DML rights. What ``duban migrate`` and ``dev`` run."""
    lock_timeout, statement_timeout = DEFAULT_LOCK_TIMEOUT, DEFAULT_STATEMENT_TIMEOUT
    if settings is not None:
        lock_timeout = timedelta(seconds=settings.migrate_lock_timeout_seconds)
        statement_timeout = timedelta(seconds=settings.migrate_statement_timeout_seconds)
    pool = await create_pool(
        dsn, settings=settings, min_size=1, max_size=1, setting_name=setting_name
    )
    try:
        async with pool.acquire() as connection:
            applied = await apply_migrations(
                connection, lock_timeout=lock_timeout, statement_timeout=statement_timeout
            )
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


@dataclass(frozen=True)
class SchemaStatus:
    """How the database's schema compares with the migrations this code ships."""

    applied: int  # the highest version applied, 0 for none
    needed: int  # the highest version this code ships
    pending: tuple[int, ...]

    @property
    def behind(self) -> bool:
        return bool(self.pending)

    def describe(self) -> str:
        return f"schema behind: at {self.applied}, code needs {self.needed}"


async def schema_status(
    connection: Connection, migrations: list[Migration] | None = None
) -> SchemaStatus:
    """Which shipped migrations the database lacks. A newer schema than the code (the
    migration Job of a later release ran first) is not behind: migrations only add."""
    migrations = bundled_migrations() if migrations is None else migrations
    applied: set[int] = set()
    if await connection.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL"):
        rows = await connection.fetch("SELECT version FROM schema_migrations")
        applied = {row["version"] for row in rows}
    shipped = [migration.version for migration in migrations]
    return SchemaStatus(
        applied=max(applied, default=0),
        needed=max(shipped, default=0),
        pending=tuple(version for version in shipped if version not in applied),
    )
