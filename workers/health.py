"""Liveness and readiness of a worker over HTTP, for container and Kubernetes probes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from dataclasses import dataclass

import asyncpg
import uvicorn
from fastapi import FastAPI, Response

from store.db import database_answers


@dataclass
class WorkerHealth:
    """What the probes report: ready once polling, not ready again once draining."""

    pool: asyncpg.Pool
    polling: bool = False
    draining: bool = False
    task_queue: str = ""
    identity: str = ""

    async def is_ready(self) -> bool:
        return self.polling and not self.draining and await database_answers(self.pool)


def health_app(health: WorkerHealth) -> FastAPI:
    app = FastAPI(title="Duban worker health", docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "identity": health.identity}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, object]:
        ready = await health.is_ready()
        response.status_code = 200 if ready else 503
        return {
            "ready": ready,
            "polling": health.polling,
            "draining": health.draining,
            "task_queue": health.task_queue,
        }

    return app


class _EmbeddedServer(uvicorn.Server):
    """uvicorn inside a process that owns its signals: the worker decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class HealthServer:
    """The probes served in the background of the worker's event loop."""

    def __init__(self, health: WorkerHealth, host: str, port: int) -> None:
        self.url = f"http://{host}:{port}"
        self._server = _EmbeddedServer(
            uvicorn.Config(
                health_app(health), host=host, port=port, log_config=None, access_log=False
            )
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._server.serve(), name="worker-health")
        while not self._server.started and not self._task.done():
            await asyncio.sleep(0.01)
        if self._task.done():
            self._task.result()  # surfaces why it could not start

    async def stop(self) -> None:
        if self._task is not None:
            self._server.should_exit = True
            await self._task
