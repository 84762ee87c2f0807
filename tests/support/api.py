"""An API served over real HTTP for tests and benchmarks: uvicorn on a free loopback port,
in front of a real Temporal and PostgreSQL, with a worker on its own task queue."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import uvicorn
from temporalio.client import Client

from api.app import ApiDependencies, ApiLimits, create_app
from domain.access import Role
from runtime.embedded import free_port
from runtime.settings import Settings
from services import access_tokens
from web.links import issue_login_link
from workers.registry import build_activities
from workers.service import build_worker


@dataclass
class ApiStack:
    http: httpx.AsyncClient
    pool: asyncpg.Pool
    temporal: Client
    task_queue: str
    base_url: str
    secrets: list[str] = field(default_factory=list)

    async def token(
        self,
        role: Role,
        *,
        unit: str | None = None,
        plans: tuple[str, ...] | None = None,
        expires_in: timedelta = timedelta(days=1),
    ) -> str:
        async with self.pool.acquire() as connection:
            issued = await access_tokens.issue(
                connection, role=role, unit=unit, plans=plans, expires_in=expires_in
            )
        self.secrets.append(issued.secret)
        return issued.secret

    async def login_link(
        self,
        role: Role,
        *,
        unit: str | None = None,
        plans: tuple[str, ...] | None = None,
    ) -> str:
        """A one-time board sign-in link for a new token of this role."""
        async with self.pool.acquire() as connection:
            issued = await access_tokens.issue(connection, role=role, unit=unit, plans=plans)
            self.secrets.append(issued.secret)
            return await issue_login_link(connection, self.base_url, issued.record.token_id)

    async def settled_history(self, workflow_id: str) -> int:
        """The workflow's history length once it stops growing (its last action's events
        recorded): what a refused or replayed request must leave as it is."""
        handle = self.temporal.get_workflow_handle(workflow_id)
        lengths: list[int] = []
        for _ in range(200):
            description = await handle.describe()
            lengths.append(description.raw_description.workflow_execution_info.history_length)
            if len(lengths) >= 4 and len(set(lengths[-4:])) == 1:
                return lengths[-1]
            await asyncio.sleep(0.05)
        raise AssertionError(f"{workflow_id} kept growing: {lengths[-5:]}")

    async def post(
        self, path: str, token: str | None, body: Any = None, *, key: str | None = None
    ) -> httpx.Response:
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        content = json.dumps(body, ensure_ascii=False) if body is not None else None
        if content is not None:
            headers["Content-Type"] = "application/json"
        return await self.http.post(path, content=content, headers=headers)

    async def get(self, path: str, token: str | None, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await self.http.get(path, params=params, headers=headers)

    async def upload(
        self,
        token: str,
        name: str,
        data: bytes,
        *,
        key: str | None = None,
        accept_warnings: bool = False,
        path: str = "/api/v1/plans",
        **form: str,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key or uuid.uuid4().hex}
        fields = {"accept_warnings": str(accept_warnings).lower(), **form}
        return await self.http.post(
            path, files={"file": (name, data)}, data=fields, headers=headers, timeout=120
        )


@asynccontextmanager
async def serve_api(
    temporal: Client,
    database_url: str,
    task_queue: str,
    *,
    limits: ApiLimits | None = None,
    worker: bool = True,
    pool_size: int = 10,
    codec_origins: tuple[str, ...] = (),
) -> AsyncIterator[ApiStack]:
    """The API on 127.0.0.1:<free port> (and a worker), until the block ends."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=pool_size)
    settings = Settings(temporal_task_queue=task_queue)
    dependencies = ApiDependencies(
        pool=pool,
        temporal=temporal,
        task_queue=task_queue,
        limits=limits or ApiLimits(),
        codec_origins=codec_origins,
        database_url=database_url,
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(dependencies), host="127.0.0.1", port=port, log_config=None, access_log=False
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.02)
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            stack = ApiStack(http, pool, temporal, task_queue, base_url)
            if worker:
                activities = build_activities(pool, "api-test")
                async with build_worker(temporal, settings, activities=activities):
                    yield stack
            else:
                yield stack
    finally:
        server.should_exit = True
        await serving
        await pool.close()
