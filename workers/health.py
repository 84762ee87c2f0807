"""Liveness and readiness of a worker over HTTP, for container and Kubernetes probes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Generator
from dataclasses import dataclass, field

import asyncpg
import uvicorn
from fastapi import FastAPI, Response
from temporalio.client import Client
from temporalio.worker import Worker

from runtime.readiness import Readiness, ReadinessReport


@dataclass
class WorkerHealth:
    """What the probes report: ready while polling with both dependencies answering, the
    schema current and the search attributes registered (see :mod:`runtime.readiness`),
    and not ready from the moment a drain begins."""

    pool: asyncpg.Pool
    client: Client
    task_queue: str
    identity: str
    worker: Worker | None = None
    draining: bool = False
    readiness: Readiness = field(init=False)

    def __post_init__(self) -> None:
        self.readiness = Readiness(self.pool, self.client)

    @property
    def polling(self) -> bool:
        # is_running turns true only after the worker passed its namespace validation.
        return self.worker is not None and self.worker.is_running and not self.draining

    async def report(self) -> ReadinessReport:
        found = await self.readiness.report()
        problems = list(found.problems)
        if self.draining:
            problems.insert(0, "draining: the worker is stopping")
        elif not self.polling:
            problems.insert(0, "not polling yet")
        return ReadinessReport({"polling": self.polling, **found.checks}, problems)


def health_app(health: WorkerHealth) -> FastAPI:
    app = FastAPI(title="Duban worker health", docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "alive", "identity": health.identity}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, object]:
        report = await health.report()
        response.status_code = 200 if report.ready else 503
        return {
            "ready": report.ready,
            "checks": report.checks,
            "problems": report.problems,
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
