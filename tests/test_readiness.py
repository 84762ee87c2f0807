"""Readiness of the worker and the API against a real dev server and PostgreSQL: not ready,
saying why, while the schema is behind the code's migrations or the namespace lacks Duban's
search attributes; ready once `duban migrate` or `duban temporal
register-search-attributes` has run."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    RegisterNamespaceRequest,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from api.app import ApiDependencies, create_app
from runtime.settings import Settings
from runtime.temporal import register_search_attributes
from store.migrate import apply_migrations, bundled_migrations, migrate_database
from tests.conftest import with_search_path
from workers.health import WorkerHealth
from workers.registry import build_activities
from workers.service import build_worker
from workflows.task_contract import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[1]
ALL_ATTRIBUTES = ", ".join(key.name for key in SEARCH_ATTRIBUTES)


@pytest.fixture
async def bare_namespace(dev_server_env: WorkflowEnvironment) -> str:
    """A namespace of its own on the shared dev server: it has none of Duban's search
    attributes (the dev server registers them on `default` only)."""
    name = f"bare-{uuid.uuid4().hex[:10]}"
    service = dev_server_env.client.workflow_service
    await service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name, workflow_execution_retention_period=Duration(seconds=86400)
        )
    )
    for _ in range(200):  # the frontend learns of a new namespace from its cache refresh
        try:
            await service.describe_namespace(DescribeNamespaceRequest(namespace=name))
            return name
        except RPCError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"namespace {name} never became visible")


@pytest.fixture
async def bare_client(dev_server_address: str, bare_namespace: str) -> Client:
    return await Client.connect(
        dev_server_address, namespace=bare_namespace, data_converter=pydantic_data_converter
    )


@pytest.fixture
async def schema_behind(postgres_dsn: str) -> AsyncIterator[str]:
    """A schema with every shipped migration but the newest: a pod of the new release
    started before its migration Job finished."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_dsn)
    await admin.execute(f'CREATE SCHEMA "{schema}"')
    dsn = with_search_path(postgres_dsn, schema)
    try:
        connection = await asyncpg.connect(dsn)
        try:
            await apply_migrations(connection, bundled_migrations()[:-1])
        finally:
            await connection.close()
        yield dsn
    finally:
        await admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.close()


async def _api_readiness(pool: asyncpg.Pool, temporal: Client) -> httpx.Response:
    app = create_app(ApiDependencies(pool=pool, temporal=temporal))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://duban.test") as http:
        return await http.get("/readyz")


async def _register_command(address: str, namespace: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        "temporal",
        "register-search-attributes",
        cwd=ROOT,
        env={
            **os.environ,
            "DUBAN_TEMPORAL_ADDRESS": address,
            "DUBAN_TEMPORAL_NAMESPACE": namespace,
            "DUBAN_LOG_FORMAT": "json",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_api_is_not_ready_without_search_attributes_until_the_command_registers_them(
    dev_server_address: str,
    bare_namespace: str,
    bare_client: Client,
    db_pool: asyncpg.Pool,
) -> None:
    """/readyz is 503 and names every missing attribute and the command to run; the command
    says in one line what it registered, and after it /readyz is 200. Run again, it says
    they were already there."""
    refused = await _api_readiness(db_pool, bare_client)
    assert refused.status_code == 503
    assert refused.json()["checks"]["search_attributes"] is False
    assert refused.json()["problems"] == [
        f"search attributes missing on namespace {bare_namespace!r}: {ALL_ATTRIBUTES}; "
        "run `duban temporal register-search-attributes`"
    ]

    code, out, err = await _register_command(dev_server_address, bare_namespace)
    assert (code, err) == (0, "")
    assert (
        out == f"registered search attributes on namespace {bare_namespace!r}: {ALL_ATTRIBUTES}\n"
    )

    ready = await _api_readiness(db_pool, bare_client)
    assert ready.status_code == 200, ready.json()
    assert ready.json() == {
        "ready": True,
        "checks": {"postgresql": True, "temporal": True, "schema": True, "search_attributes": True},
        "problems": [],
    }
    code, out, _err = await _register_command(dev_server_address, bare_namespace)
    assert code == 0
    assert out == (
        f"search attributes already registered on namespace {bare_namespace!r}: {ALL_ATTRIBUTES}\n"
    )


async def test_worker_is_not_ready_without_search_attributes(
    bare_namespace: str, bare_client: Client, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """A polling worker on a namespace without the attributes is not ready and says which are
    missing; once they are registered it is ready."""
    settings = Settings(temporal_task_queue=task_queue, temporal_namespace=bare_namespace)
    health = WorkerHealth(pool=db_pool, client=bare_client, task_queue=task_queue, identity="t")
    async with build_worker(
        bare_client, settings, activities=build_activities(db_pool, "t")
    ) as worker:
        health.worker = worker
        before = await health.report()
        registered = await register_search_attributes(bare_client, bare_namespace)
        after = await health.report()
    assert not before.ready
    assert before.checks == {
        "polling": True,
        "postgresql": True,
        "temporal": True,
        "schema": True,
        "search_attributes": False,
    }
    assert before.problems == [
        f"search attributes missing on namespace {bare_namespace!r}: {ALL_ATTRIBUTES}; "
        "run `duban temporal register-search-attributes`"
    ]
    assert registered == [key.name for key in SEARCH_ATTRIBUTES]
    assert after.ready, after.problems


@pytest.mark.parametrize("service", ["api", "worker"])
async def test_not_ready_while_the_schema_is_behind_the_code(
    dev_server_env: WorkflowEnvironment, schema_behind: str, task_queue: str, service: str
) -> None:
    """A pod that started before the migration Job finished: readiness says "schema behind:
    at N, code needs M"; once `duban migrate` has run it is ready."""
    shipped = [migration.version for migration in bundled_migrations()]
    expected = f"schema behind: at {shipped[-2]}, code needs {shipped[-1]}; run `duban migrate`"
    client = dev_server_env.client
    pool = await asyncpg.create_pool(schema_behind, min_size=1, max_size=2)
    try:
        if service == "api":
            before = (await _api_readiness(pool, client)).json()
            await migrate_database(schema_behind)
            after = (await _api_readiness(pool, client)).json()
        else:
            settings = Settings(temporal_task_queue=task_queue)
            health = WorkerHealth(pool=pool, client=client, task_queue=task_queue, identity="t")
            async with build_worker(
                client, settings, activities=build_activities(pool, "t")
            ) as worker:
                health.worker = worker
                report = await health.report()
                before = {
                    "ready": report.ready,
                    "checks": report.checks,
                    "problems": report.problems,
                }
                await migrate_database(schema_behind)
                report = await health.report()
                after = {
                    "ready": report.ready,
                    "checks": report.checks,
                    "problems": report.problems,
                }
    finally:
        await pool.close()
    assert before["ready"] is False
    assert before["checks"]["schema"] is False
    assert before["problems"] == [expected]
    assert after["ready"] is True, after["problems"]


async def test_an_attribute_of_another_type_is_named_and_the_command_refuses_in_one_line(
    dev_server_address: str, bare_namespace: str, bare_client: Client, db_pool: asyncpg.Pool
) -> None:
    """DubanPlan registered as Int by someone else: readiness names the clash, and the command
    exits 1 with one line that says what to do, registering nothing."""
    await bare_client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=bare_namespace,
            search_attributes={"DubanPlan": IndexedValueType.INDEXED_VALUE_TYPE_INT},
        )
    )
    code, out, err = await _register_command(dev_server_address, bare_namespace)
    assert (code, out) == (1, "")
    assert err == (
        f"duban: error: namespace {bare_namespace!r} already has search attributes of another "
        "type (DubanPlan is Int, Duban needs Keyword): remove them (`temporal operator "
        "search-attribute remove`) or use another namespace\n"
    )
    ready = (await _api_readiness(db_pool, bare_client)).json()
    assert ready["ready"] is False
    assert (
        f"search attribute DubanPlan on namespace {bare_namespace!r} is Int, Duban needs Keyword"
        in ready["problems"]
    )
    listed = await bare_client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=bare_namespace)
    )
    assert set(listed.custom_attributes) & {key.name for key in SEARCH_ATTRIBUTES} == {"DubanPlan"}
