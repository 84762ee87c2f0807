"""Temporal or PostgreSQL stops: the API answers 503 problems and readiness fails; they come
back: the API serves again without a restart of its own."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from runtime.embedded import EmbeddedPostgres, EmbeddedTemporal, free_port
from runtime.temporal import ensure_search_attributes
from store.migrate import migrate_database
from tests.api.test_lifecycle_http import import_ledger
from tests.support.api import ApiStack, serve_api

pytestmark = pytest.mark.slow


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[tuple[EmbeddedTemporal, EmbeddedPostgres]]:
    """A Temporal and a PostgreSQL of this test's own, that it may stop and start."""
    temporal = EmbeddedTemporal(tmp_path / "temporal" / "t.db", free_port(), free_port())
    postgres = EmbeddedPostgres(tmp_path / "postgres" / "data", port=free_port())
    await temporal.start()
    await postgres.start()
    try:
        yield temporal, postgres
    finally:
        await temporal.stop()
        await postgres.stop()


async def _until(stack: ApiStack, probe: str, token: str, status: int, timeout: float) -> int:
    """Poll ``probe`` until it answers ``status``; return the last status seen."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = (await stack.get(probe, token)).status_code
        if seen == status:
            return seen
    return seen


async def test_api_answers_503_while_a_dependency_is_down_and_recovers(
    servers: tuple[EmbeddedTemporal, EmbeddedPostgres], task_queue: str
) -> None:
    temporal, postgres = servers
    await migrate_database(postgres.dsn)
    client = await Client.connect(temporal.address, data_converter=pydantic_data_converter)
    await ensure_search_attributes(client, "default")
    async with serve_api(client, postgres.dsn, task_queue) as stack:
        coordinator = await stack.token("coordinator")
        plan_id = await import_ledger(stack, coordinator)
        lead = await stack.token("unit", unit="市信息办")

        await temporal.stop()
        down = await stack.post(f"/api/v1/tasks/{plan_id}/3/accept", lead, key="during")
        assert down.status_code == 503, down.text
        assert down.json()["code"] == "temporal_unavailable"
        assert down.headers["content-type"] == "application/problem+json"
        ready = await stack.get("/readyz", None)
        assert ready.status_code == 503
        assert ready.json()["checks"] == {
            "postgresql": True,
            "temporal": False,
            "schema": True,
            "search_attributes": False,  # not known while Temporal does not answer
        }

        await temporal.start()
        assert await _until(stack, "/readyz", coordinator, 200, timeout=30) == 200
        accepted = await stack.post(f"/api/v1/tasks/{plan_id}/3/accept", lead, key="during")
        assert accepted.status_code == 200, accepted.text  # the failed try gave its key back
        assert accepted.json()["stage"] == "in_progress"

        await postgres.stop()
        listed = await stack.get("/api/v1/tasks", coordinator)
        assert (listed.status_code, listed.json()["code"]) == (503, "database_unavailable")
        ready = await stack.get("/readyz", None)
        assert ready.json()["checks"] == {
            "postgresql": False,
            "temporal": True,
            "schema": False,  # not known while PostgreSQL does not answer
            "search_attributes": True,
        }

        await postgres.start()
        assert await _until(stack, "/api/v1/tasks", coordinator, 200, timeout=30) == 200
        assert (await stack.get("/readyz", None)).status_code == 200
