"""`duban worker` and `duban api` with a password in DUBAN_DATABASE_URL, through a
PostgreSQL outage: every line either process writes is searched for the secrets, and every
record is bounded in size."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.access import ActionKind
from domain.lifecycle import Actor
from domain.parsers import parse_document
from runtime.embedded import EmbeddedPostgres, free_port
from runtime.log import MAX_RECORD_BYTES
from services import access_tokens
from services.plan_import import import_plan
from services.tasks import send_action
from store.migrate import migrate_database
from tests.support.plans import future_ledger
from workflows.task_contract import Accept

pytestmark = [pytest.mark.fault, pytest.mark.slow]

PASSWORD = "Hyg1ene-Outage-Pa55"  # noqa: S105 (a test value, searched for in the logs)
WEBHOOK_SECRET = "hook-secret-7f3a9c"  # noqa: S105


@pytest.fixture
async def postgres(tmp_path: Path) -> AsyncIterator[EmbeddedPostgres]:
    """A PostgreSQL of this test's own, that it may stop."""
    server = EmbeddedPostgres(tmp_path / "postgres" / "data", port=free_port())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def _with_password(dsn: str) -> str:
    # The embedded server trusts local connections, so any password connects; what is
    # tested is where the configured one shows up.
    return dsn.replace("postgres@", f"postgres:{PASSWORD}@", 1)


def _start(command: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    output = log.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "cli", command],
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def _until_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(url, timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never answered 200")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def test_no_secret_and_no_unbounded_record_in_any_log_through_an_outage(
    postgres: EmbeddedPostgres, dev_server_address: str, task_queue: str, tmp_path: Path
) -> None:
    await migrate_database(postgres.dsn)
    worker_port, api_port = free_port(), free_port()
    env = {
        **os.environ,
        "DUBAN_DATABASE_URL": _with_password(postgres.dsn),
        "DUBAN_TEMPORAL_ADDRESS": dev_server_address,
        "DUBAN_TEMPORAL_TASK_QUEUE": task_queue,
        "DUBAN_WORKER_HEALTH_PORT": str(worker_port),
        "DUBAN_API_PORT": str(api_port),
        "DUBAN_LOG_FORMAT": "json",
        "DUBAN_LOG_LEVEL": "DEBUG",
        "DUBAN_NOTIFY_CHANNELS": "log,webhook",
        # Nobody listens there: every delivery fails and is logged.
        "DUBAN_NOTIFY_WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/hooks/{WEBHOOK_SECRET}",
        "DUBAN_WORKER_SHUTDOWN_GRACE_SECONDS": "2",
    }
    logs = {name: tmp_path / f"{name}.log" for name in ("worker", "api")}
    worker = _start("worker", env, logs["worker"])
    api = _start("api", env, logs["api"])
    pool = await asyncpg.create_pool(postgres.dsn, min_size=1, max_size=2)
    try:
        await _until_ready(f"http://127.0.0.1:{worker_port}/readyz")
        await _until_ready(f"http://127.0.0.1:{api_port}/readyz")
        client = await Client.connect(dev_server_address, data_converter=pydantic_data_converter)
        parsed = parse_document("outage.csv", future_ledger())
        plan_id = f"outage-{task_queue}"
        parsed = parsed.model_copy(update={"plan": parsed.plan.model_copy(update={"id": plan_id})})
        await import_plan(parsed, pool=pool, client=client, task_queue=task_queue)
        async with pool.acquire() as connection:
            issued = await access_tokens.issue(connection, role="unit", unit="市数据资源局")
        deadline = time.monotonic() + 60
        while await pool.fetchval("SELECT count(*) FROM task_events") < 3:
            assert time.monotonic() < deadline, "the worker recorded nothing"
            await asyncio.sleep(0.2)
        await pool.close()

        await postgres.stop()
        # The lead accepts: the workflow takes it, and recording it fails while the
        # database is down; the API's requests fail at the token check.
        accepting = asyncio.create_task(
            send_action(
                client,
                f"{plan_id}/1",
                ActionKind.ACCEPT,
                Accept(actor=Actor(role="unit", unit="市数据资源局")),
                idempotency_key="outage-accept",
            )
        )
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}") as http:
            headers = {"Authorization": f"Bearer {issued.secret}"}
            for _ in range(5):
                answer = await http.get("/api/v1/tasks", headers=headers, timeout=30)
                assert answer.status_code == 503, answer.text
                await asyncio.sleep(1)
            worker_ready = await http.get(f"http://127.0.0.1:{worker_port}/readyz", timeout=5)
            assert worker_ready.status_code == 503
        await asyncio.sleep(4)  # activity retries and outbox rounds fail meanwhile
        accepting.cancel()
    finally:
        _stop(api)
        _stop(worker)
        if not pool.is_closing():
            await pool.close()

    worker_log = logs["worker"].read_bytes()
    api_log = logs["api"].read_bytes()
    assert b"database_unavailable" in api_log or b"503" in api_log  # the outage was logged
    assert b'"level": "warning"' in worker_log or b'"level": "error"' in worker_log
    for name, output in (("worker", worker_log), ("api", api_log)):
        assert PASSWORD.encode() not in output, f"the password is in the {name} log"
        assert WEBHOOK_SECRET.encode() not in output, f"the webhook path is in the {name} log"
        assert issued.secret.split("_", 2)[2].encode() not in output
        for line in output.splitlines():
            assert len(line) <= MAX_RECORD_BYTES, f"{name}: a {len(line)}-byte record"
