"""The PostgreSQL access layer against a real server: connections, migrations, errors."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import asyncpg
import pytest

from runtime.embedded import free_port
from runtime.errors import ConfigurationError
from runtime.settings import Settings
from store.db import create_pool, describe_dsn
from store.migrate import (
    Migration,
    MigrationError,
    apply_migrations,
    bundled_migrations,
    migrate_database,
)


async def test_row_written_through_asyncpg_is_read_back(db_pool: asyncpg.Pool) -> None:
    """A row inserted through the pool comes back with the same values."""
    requested = datetime(2018, 6, 30, 15, 59, tzinfo=UTC)
    async with db_pool.acquire() as connection:
        await connection.execute(
            "INSERT INTO stack_checks (check_id, requested_at, worker_identity, attempt)"
            " VALUES ($1, $2, $3, $4)",
            "smoke",
            requested,
            "tester",
            1,
        )
        row = await connection.fetchrow("SELECT * FROM stack_checks WHERE check_id = 'smoke'")
    assert row is not None
    assert row["requested_at"] == requested
    assert row["worker_identity"] == "tester"


async def test_migrations_apply_once(database_url: str) -> None:
    """The fixture already migrated the schema, so a second run applies nothing."""
    assert await migrate_database(database_url) == []
    pool = await create_pool(database_url)
    async with pool.acquire() as connection:
        versions = await connection.fetch("SELECT version FROM schema_migrations")
    await pool.close()
    assert [row["version"] for row in versions] == [m.version for m in bundled_migrations()]


async def test_concurrent_runners_apply_each_migration_once(database_url: str) -> None:
    """Three replicas migrating at once: the lock makes exactly one of them apply a new file."""
    extra = Migration(9001, "probe_concurrency", "CREATE TABLE concurrency_probe (id int);")
    migrations = [*bundled_migrations(), extra]
    connections = [await asyncpg.connect(database_url) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(apply_migrations(connection, migrations) for connection in connections)
        )
        ledger = await connections[0].fetch(
            "SELECT version FROM schema_migrations WHERE version = 9001"
        )
    finally:
        for connection in connections:
            await connection.close()
    assert sorted(len(applied) for applied in results) == [0, 0, 1]
    assert len(ledger) == 1


async def test_edited_migration_is_refused(database_url: str) -> None:
    """Changing an applied migration's text is an error that names the file."""
    original = bundled_migrations()[0]
    edited = Migration(original.version, original.name, original.sql + "\n-- edited")
    connection = await asyncpg.connect(database_url)
    try:
        with pytest.raises(ConfigurationError, match=r"0001_stack_checks\.sql was changed"):
            await apply_migrations(connection, [edited])
    finally:
        await connection.close()


async def test_failed_migration_leaves_nothing_behind(database_url: str) -> None:
    """A migration that fails half-way is rolled back with its ledger row, and says so in one
    line naming the file."""
    broken = Migration(9002, "broken", "CREATE TABLE half_done (id int); SELECT no_such_fn();")
    connection = await asyncpg.connect(database_url)
    try:
        with pytest.raises(MigrationError, match=r"^migration 9002_broken\.sql failed: Undef"):
            await apply_migrations(connection, [*bundled_migrations(), broken])
        table = await connection.fetchval("SELECT to_regclass('half_done')")
        recorded = await connection.fetchval(
            "SELECT count(*) FROM schema_migrations WHERE version = 9002"
        )
    finally:
        await connection.close()
    assert table is None
    assert recorded == 0


async def test_closed_port_is_one_line_naming_the_setting() -> None:
    """A DSN pointing nowhere raises a ConfigurationError naming DUBAN_DATABASE_URL and address."""
    port = free_port()
    dsn = f"postgresql://duban:secret@127.0.0.1:{port}/duban"
    settings = Settings(database_url=dsn)
    with pytest.raises(ConfigurationError) as raised:
        await create_pool(dsn, settings=settings, connect_timeout=3)
    message = raised.value.message
    assert "DUBAN_DATABASE_URL" in message
    assert f"127.0.0.1:{port}/duban" in message
    assert "secret" not in message
    assert "\n" not in message


def test_describe_dsn_hides_the_password() -> None:
    """Messages show host, port and database, never credentials."""
    assert describe_dsn("postgresql://u:pw@db.example:6543/duban") == "db.example:6543/duban"


def test_free_port_never_hands_out_a_port_twice() -> None:
    """Nothing listens on a handed-out port until its server starts, so the kernel may offer
    it again: a stack given one port for two servers (the UI and the worker's probes) would
    fail to start."""
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
