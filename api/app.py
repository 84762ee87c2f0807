"""The coordinator HTTP API: application factory, request context, health and readiness."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import structlog
from fastapi import FastAPI, Request, Response
from temporalio.client import Client

from runtime.log import get_logger
from runtime.temporal import temporal_answers
from store.db import database_answers

log = get_logger(__name__)
REQUEST_ID_HEADER = "X-Request-ID"


@dataclass(frozen=True)
class ApiDependencies:
    """What every request handler may use; connected before the server accepts traffic."""

    pool: asyncpg.Pool
    temporal: Client


async def _temporal_answers(client: Client) -> bool:
    try:
        return await asyncio.wait_for(client.service_client.check_health(), timeout=2)
    except Exception:
        return False


def create_app(dependencies: ApiDependencies) -> FastAPI:
    app = FastAPI(
        title="Duban coordinator API",
        summary="督办: plan tasks as durable workflows, for coordinators and units",
        version="0.1.0",
    )
    app.state.dependencies = dependencies

    @app.middleware("http")
    async def bind_request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """Give every request an id (the caller's, or a new one) and put it on every log line."""
        request_id = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex
        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            response = await call_next(request)
            log.info(
                "request served",
                method=request.method,
                path=request.url.path,
                status=response.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
        response.headers[REQUEST_ID_HEADER] = request_id
        return response

    @app.get("/healthz", tags=["operations"], summary="Liveness: the process serves requests")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: PostgreSQL and Temporal both answer",
        responses={503: {"description": "a dependency does not answer"}},
    )
    async def readyz(response: Response) -> dict[str, object]:
        database, temporal = await asyncio.gather(
            database_answers(dependencies.pool), temporal_answers(dependencies.temporal)
        )
        ready = database and temporal
        response.status_code = 200 if ready else 503
        return {"ready": ready, "checks": {"postgresql": database, "temporal": temporal}}

    return app
