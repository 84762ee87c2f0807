"""The worker service on a real dev server and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from runtime.embedded import free_port
from runtime.settings import Settings
from runtime.temporal import ensure_workflow_bytecode
from workers.registry import build_activities
from workers.service import build_worker
from workflows.stack_check import StackCheckRequest, StackCheckWorkflow


async def test_stack_check_records_one_row_even_when_repeated(
    dev_server_env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
    task_queue: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Two runs of the same check (a retried activity looks the same) leave one row, and the
    activity's log lines carry the workflow id and attempt."""
    client = dev_server_env.client
    settings = Settings(temporal_task_queue=task_queue)
    request = StackCheckRequest(check_id="check-1", requested_at=datetime.now(UTC))
    async with build_worker(client, settings, activities=build_activities(db_pool, "test-worker")):
        first = await client.execute_workflow(
            StackCheckWorkflow.run, request, id="check-1-a", task_queue=task_queue
        )
        second = await client.execute_workflow(
            StackCheckWorkflow.run, request, id="check-1-b", task_queue=task_queue
        )
    count = await db_pool.fetchval("SELECT count(*) FROM stack_checks")
    assert count == 1
    assert first == second
    assert first.worker_identity == "test-worker"
    recorded = [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == "stack check recorded"
    ]
    assert {"workflow_id": "check-1-a", "attempt": 1}.items() <= recorded[0].items()


async def _wait_for(url: str, status: int, timeout: float = 30.0) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(int(timeout / 0.1)):
            try:
                if (await http.get(url)).status_code == status:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered {status}")


async def _wait_for_activity_started(handle: WorkflowHandle[Any, Any]) -> None:
    for _ in range(100):
        pending = (await handle.describe()).raw_description.pending_activities
        if pending and pending[0].state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the activity never started on the worker")


async def test_sigterm_drains_in_flight_activity(
    dev_server_env: WorkflowEnvironment,
    dev_server_address: str,
    database_url: str,
    task_queue: str,
) -> None:
    """`duban worker` told to stop mid-activity turns not-ready at once, finishes the activity
    on its first attempt, then exits 0."""
    health_port = free_port()
    env = {
        **os.environ,
        "DUBAN_TEMPORAL_ADDRESS": dev_server_address,
        "DUBAN_DATABASE_URL": database_url,
        "DUBAN_TEMPORAL_TASK_QUEUE": task_queue,
        "DUBAN_WORKER_HEALTH_PORT": str(health_port),
        "DUBAN_LOG_FORMAT": "json",
    }
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "worker", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        await _wait_for(f"http://127.0.0.1:{health_port}/readyz", 200)
        client = dev_server_env.client
        request = StackCheckRequest(
            check_id=f"drain-{task_queue}",
            requested_at=datetime.now(UTC),
            hold=timedelta(seconds=3),
        )
        handle = await client.start_workflow(
            StackCheckWorkflow.run, request, id=request.check_id, task_queue=task_queue
        )
        await _wait_for_activity_started(handle)
        worker.send_signal(signal.SIGTERM)
        await _wait_for(f"http://127.0.0.1:{health_port}/readyz", 503, timeout=2)
        exit_code = await asyncio.wait_for(worker.wait(), timeout=30)
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
    assert exit_code == 0
    # The drained activity's row was written by its first attempt, before the worker exited.
    connection = await asyncpg.connect(database_url)
    try:
        attempt = await connection.fetchval(
            "SELECT attempt FROM stack_checks WHERE check_id = $1", request.check_id
        )
    finally:
        await connection.close()
    assert attempt == 1
    # The workflow itself finishes on whichever worker polls next, with no activity retry.
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    settings = Settings(temporal_task_queue=task_queue)
    async with build_worker(client, settings, activities=build_activities(pool, "successor")):
        result = await asyncio.wait_for(handle.result(), timeout=30)
    await pool.close()
    assert result.attempt == 1
    assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    assert worker.stderr is not None
    logs = (await worker.stderr.read()).decode()
    assert '"worker draining"' in logs


def test_workflow_bytecode_is_written_once_and_a_read_only_tree_is_no_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox re-imports a workflow's module for every run: the worker writes its
    bytecode (and its package's), leaves fresh bytecode alone, and shrugs at a tree it
    cannot write."""
    package = tmp_path / "bytecode_probe"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "flows.py").write_text("class Flow:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    flows = importlib.import_module("bytecode_probe.flows")
    cached = [
        Path(importlib.util.cache_from_source(str(package / name)))
        for name in ("__init__.py", "flows.py")
    ]
    assert not any(path.exists() for path in cached)

    ensure_workflow_bytecode([flows.Flow])
    assert all(path.exists() for path in cached)
    written = [path.stat().st_mtime_ns for path in cached]
    ensure_workflow_bytecode([flows.Flow])
    assert [path.stat().st_mtime_ns for path in cached] == written

    # A tree it cannot write (a file where __pycache__ goes fails even for root).
    for path in cached:
        path.unlink()
    (package / "__pycache__").rmdir()
    (package / "__pycache__").write_text("")
    ensure_workflow_bytecode([flows.Flow])
    assert not cached[1].exists()
