"""Migrations against a real PostgreSQL with live sessions in the way: a DDL blocked by a
held lock gives up within the lock timeout with one line and applies nothing, instead of
queueing every other session behind it; a statement over its time limit likewise."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from store.migrate import (
    Migration,
    MigrationError,
    apply_migrations,
    bundled_migrations,
)
from tests.conftest import with_search_path

ROOT = Path(__file__).resolve().parents[1]
PROBE = Migration(9101, "probe_column", "ALTER TABLE task_events ADD COLUMN probe integer;")


async def _column_exists(connection: asyncpg.Connection, table: str, column: str) -> bool:
    found: bool = await connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND table_name = $1 AND column_name = $2)",
        table,
        column,
    )
    return found


@asynccontextmanager
async def _reader_in_a_long_transaction(dsn: str, table: str) -> AsyncIterator[None]:
    """A live session that read ``table`` and has not committed yet: it holds the table's
    ACCESS SHARE lock, which every ALTER TABLE must wait for."""
    reader = await asyncpg.connect(dsn)
    transaction = reader.transaction()
    await transaction.start()
    await reader.fetch(f"SELECT * FROM {table} LIMIT 1")
    try:
        yield
    finally:
        await transaction.rollback()
        await reader.close()


@pytest.mark.fault
async def test_a_migration_blocked_by_a_held_lock_gives_up_and_applies_nothing(
    database_url: str,
) -> None:
    """An ALTER TABLE behind a reader's lock fails with the lock timeout's one-line error
    naming the file and the setting; the column and the ledger row are not there, and the
    table serves again at once."""
    connection = await asyncpg.connect(database_url)
    try:
        async with _reader_in_a_long_transaction(database_url, "task_events"):
            with pytest.raises(MigrationError) as raised:
                await asyncio.wait_for(
                    apply_migrations(
                        connection,
                        [*bundled_migrations(), PROBE],
                        lock_timeout=timedelta(milliseconds=300),
                    ),
                    timeout=60,  # a guard: without a lock timeout it waits for ever
                )
        assert not await _column_exists(connection, "task_events", "probe")
        assert (
            await connection.fetchval("SELECT count(*) FROM schema_migrations WHERE version = 9101")
            == 0
        )
        assert await connection.fetchval("SELECT count(*) FROM task_events") == 0
    finally:
        await connection.close()
    message = raised.value.message
    assert "\n" not in message
    assert message.startswith("migration 9101_probe_column.sql could not lock a table within 0.3 s")
    assert "DUBAN_MIGRATE_LOCK_TIMEOUT_SECONDS" in message
    assert "nothing of it was applied" in message


async def test_a_statement_over_its_time_limit_gives_up_and_applies_nothing(
    database_url: str,
) -> None:
    """A migration statement that runs past the statement timeout is cancelled, with one line
    naming the file and the setting, and its transaction is rolled back."""
    slow = Migration(
        9102, "slow_statement", "CREATE TABLE half_done (id int); SELECT pg_sleep(30);"
    )
    connection = await asyncpg.connect(database_url)
    try:
        with pytest.raises(MigrationError) as raised:
            await apply_migrations(
                connection,
                [*bundled_migrations(), slow],
                statement_timeout=timedelta(milliseconds=300),
            )
        assert await connection.fetchval("SELECT to_regclass('half_done')") is None
    finally:
        await connection.close()
    assert raised.value.message.startswith(
        "migration 9102_slow_statement.sql ran longer than 0.3 s"
    )
    assert "DUBAN_MIGRATE_STATEMENT_TIMEOUT_SECONDS" in raised.value.message


async def test_the_lock_timeout_does_not_cut_short_waiting_for_another_migrator(
    database_url: str,
) -> None:
    """The timeout covers the migration's own statements, not the wait for a replica that is
    migrating: the second runner waits out the first however long it takes, then finds
    nothing pending."""
    holder = await asyncpg.connect(database_url)
    runner = await asyncpg.connect(database_url)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", 0x64756261_6E)
        waiting = asyncio.create_task(
            apply_migrations(runner, bundled_migrations(), lock_timeout=timedelta(milliseconds=100))
        )
        # Ten times the lock timeout, and it is still waiting for its turn.
        await asyncio.sleep(1)
        assert not waiting.done()
        await holder.execute("SELECT pg_advisory_unlock($1)", 0x64756261_6E)
        assert await asyncio.wait_for(waiting, timeout=30) == []
    finally:
        await holder.close()
        await runner.close()


@pytest.fixture
async def schema_one_migration_behind(postgres_dsn: str) -> AsyncIterator[str]:
    """A schema with every bundled migration applied but 0010 (notification lease tokens,
    which alters notification_outbox)."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    dsn = with_search_path(postgres_dsn, schema)
    try:
        connection = await asyncpg.connect(dsn)
        try:
            await apply_migrations(connection, [m for m in bundled_migrations() if m.version != 10])
        finally:
            await connection.close()
        yield dsn
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


@pytest.mark.fault
async def test_duban_migrate_behind_a_held_lock_is_one_line_and_a_rerun_finishes(
    schema_one_migration_behind: str,
) -> None:
    """`duban migrate` while a live session holds notification_outbox: one line on stderr
    naming the file, exit 1, no traceback; once the session is gone, the same command
    applies the migration."""
    dsn = schema_one_migration_behind
    env = {
        **os.environ,
        "DUBAN_DATABASE_URL": dsn,
        "DUBAN_MIGRATE_LOCK_TIMEOUT_SECONDS": "0.5",
        "DUBAN_LOG_FORMAT": "json",
    }

    async def migrate() -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "cli",
            "migrate",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            # A guard, not a measurement: without a lock timeout it waits for ever.
            out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    async with _reader_in_a_long_transaction(dsn, "notification_outbox"):
        code, _out, err = await migrate()
    assert code == 1
    assert err.count("\n") == 1, err
    assert err.startswith(
        "duban: error: migration 0010_notification_lease_token.sql could not lock a table"
    )
    assert "Traceback" not in err
    code, out, _err = await migrate()
    assert code == 0
    assert "applied 0010_notification_lease_token" in out


async def test_twin_plans_from_before_the_constraint_are_named_by_the_migration(
    postgres_dsn: str,
) -> None:
    """A database that already holds the same document as two plans (the race 0008 closes)
    cannot take the constraint: the migration says which plans and what to do, and applies
    nothing, so the operator can clean up and run it again."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        connection = await asyncpg.connect(with_search_path(postgres_dsn, schema))
        try:
            await apply_migrations(connection, [m for m in bundled_migrations() if m.version < 8])
            for plan_id in ("twin-a", "twin-b"):
                await connection.execute(
                    "INSERT INTO plans (plan_id, title, period_start, period_end, source_file,"
                    " format, fingerprint) VALUES ($1, '计划', 2027, 2027, 'plan.csv', 'ledger',"
                    " 'same-document')",
                    plan_id,
                )
            with pytest.raises(MigrationError) as refused:
                await apply_migrations(connection)
            message = str(refused.value)
            assert "0008_import_integrity.sql" in message
            assert "'twin-a' and 'twin-b' hold the same document" in message
            assert "\n" not in message
            assert await connection.fetchval("SELECT max(version) FROM schema_migrations") == 7
            await connection.execute("DELETE FROM plans WHERE plan_id = 'twin-b'")
            applied = await apply_migrations(connection)
            assert applied[0].version == 8
        finally:
            await connection.close()
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()
