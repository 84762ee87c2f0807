"""The API's operational surface against a real dev server and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import REQUEST_ID_HEADER, ApiDependencies, create_app


@pytest.fixture
async def api(
    dev_server_env: WorkflowEnvironment, database_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Pool]]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    app = create_app(ApiDependencies(pool=pool, temporal=dev_server_env.client))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://duban.test") as http:
        yield http, pool
    await pool.close()


async def test_health_and_readiness_answer(
    api: tuple[httpx.AsyncClient, asyncpg.Pool],
) -> None:
    """Liveness is 200; readiness is 200 and says both dependencies answered, the schema is
    current and the search attributes are there."""
    http, _ = api
    assert (await http.get("/healthz")).status_code == 200
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "checks": {"postgresql": True, "temporal": True, "schema": True, "search_attributes": True},
        "problems": [],
    }


async def test_readiness_fails_when_database_is_gone(
    api: tuple[httpx.AsyncClient, asyncpg.Pool],
) -> None:
    """With the pool closed, readiness is 503 and names PostgreSQL; liveness stays 200."""
    http, pool = api
    await pool.close()
    ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {
        "postgresql": False,
        "temporal": True,
        "schema": False,
        "search_attributes": True,
    }
    assert ready.json()["problems"] == ["PostgreSQL does not answer"]
    assert (await http.get("/healthz")).status_code == 200


async def test_request_id_is_echoed_and_logged(
    api: tuple[httpx.AsyncClient, asyncpg.Pool], caplog: pytest.LogCaptureFixture
) -> None:
    """The caller's X-Request-ID comes back and is bound on the request's log line."""
    http, _ = api
    with caplog.at_level(logging.INFO, logger="api.app"):
        response = await http.get("/healthz", headers={REQUEST_ID_HEADER: "req-42"})
    assert response.headers[REQUEST_ID_HEADER] == "req-42"
    generated = (await http.get("/healthz")).headers[REQUEST_ID_HEADER]
    assert len(generated) == 32
    served = [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == "request served"
    ]
    expected = {"request_id": "req-42", "path": "/healthz", "status": 200}
    assert expected.items() <= served[0].items()


def test_openapi_document_lists_operations() -> None:
    """The OpenAPI document is generated and includes the health endpoints."""
    app = create_app(ApiDependencies(pool=None, temporal=None))  # type: ignore[arg-type]
    paths = app.openapi()["paths"]
    assert {"/healthz", "/readyz"} <= set(paths)
