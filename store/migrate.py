"""Versioned SQL migrations, applied in order, once, safely from several replicas at once.

Files in ``store/migrations/`` are named ``NNNN_description.sql``. Each runs in its own
transaction together with its row in ``schema_migrations``, so a failed migration leaves
nothing half-applied. A session advisory lock serialises concurrent runners: the second
replica waits, then finds nothing pending. An applied file whose text has changed is an
error, because the database would no longer match what the repository says it is.

Why not a library: the asyncpg-native migration tools on PyPI either lack a cross-replica
lock or bring SQLAlchemy and a second driver (Alembic); this file is the whole mechanism.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

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


async def migrate_database(dsn: str, *, settings: Settings | None = None) -> list[Migration]:
    """Connect to ``dsn`` and apply what is pending; what ``duban migrate`` and ``dev`` run."""
    pool = await create_pool(dsn, settings=settings, min_size=1, max_size=1)
    try:
        async with pool.acquire() as connection:
            return await apply_migrations(connection)
    finally:
        await pool.close()
