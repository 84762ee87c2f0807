"""Worker memory with 10,000 open tasks, each waiting on timers weeks away.

The worker is the production one, in its own process (``python -m cli worker``, which also
runs the notification dispatcher), configured through the environment as a deployment
would be: the bench's dev server and PostgreSQL, its own task queue, no health server,
``DUBAN_WORKER_MAX_CACHED_WORKFLOWS`` per variant (1,000 is the default; ``--cache 10000``
adds a variant that keeps every workflow cached) and log level WARNING. Each variant gets
a fresh dev server (WAL database file) and empty tables.

The bench starts the tasks (50 in flight), waits until every one has run its first
workflow task (its ``assigned`` event is in ``task_events``) and lets the worker settle,
then reads the worker's resident set size (psutil). Baseline, in the same run and the same
process: the worker's RSS once it is polling, before any workflow exists.

What the figures mean: "open" is the RSS with every task open and the cache full (target
< 1 GiB with the default cache); "added" is what the tasks cost over the idle worker, and
per cached workflow is that divided by how many the cache holds. The peak is the highest
RSS seen while the tasks were starting (sampled every half second).
Run: ``.venv/bin/python -m bench.memory_bench [--tasks 10000] [--cache 1000 --cache 10000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import psutil
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from bench.lifecycle_bench import CONCURRENCY, fresh_temporal, quiet_logging
from domain.calendar import SHANGHAI
from runtime.embedded import EmbeddedPostgres, free_port, spawn_child, stop_child
from store.db import create_pool
from store.migrate import migrate_database
from tests.support.lifecycle import make_task
from workflows.task import TaskWorkflow
from workflows.task_contract import TaskWorkflowInput

TASKS = 10_000
QUEUE = "bench-memory"
READY_TIMEOUT = 420.0  # seconds for every task to run its first workflow task
SETTLE_SECONDS = 5.0
MIB = 1024 * 1024


@dataclass
class Reading:
    cache: int
    idle: int  # bytes
    open: int
    peak: int
    start_seconds: float
    ready_seconds: float


async def worker_polls(client: Client, queue: str = QUEUE) -> bool:
    """Whether a worker polls ``queue`` for workflow tasks (it is up and connected)."""
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace="default",
            task_queue=TaskQueue(name=queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return bool(response.pollers)


async def wait_until(probe: Callable[[], Awaitable[bool]], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.2)


def worker_environment(address: str, dsn: str, cache: int) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    environment.update(
        DUBAN_TEMPORAL_ADDRESS=address,
        DUBAN_DATABASE_URL=dsn,
        DUBAN_TEMPORAL_TASK_QUEUE=QUEUE,
        DUBAN_WORKER_HEALTH_PORT="0",
        DUBAN_WORKER_MAX_CACHED_WORKFLOWS=str(cache),
        DUBAN_LOG_LEVEL="WARNING",
        DUBAN_LOG_FORMAT="json",
    )
    return environment


async def run_variant(
    scratch: Path, pool: asyncpg.Pool, dsn: str, tasks: int, cache: int
) -> Reading:
    await pool.execute("TRUNCATE task_events, task_states, notification_outbox")
    due = datetime.now(SHANGHAI).date() + timedelta(days=40)
    task = make_task([due])
    name = f"cache-{cache}"
    async with fresh_temporal(scratch, name) as client:
        address = client.service_client.config.target_host
        worker = await spawn_child(
            [sys.executable, "-m", "cli", "worker"],
            log_file=scratch / name / "worker.log",
            env=worker_environment(address, dsn, cache),
        )
        try:
            await wait_until(lambda: worker_polls(client), "the worker to poll", 60)
            await asyncio.sleep(SETTLE_SECONDS)
            process = psutil.Process(worker.pid)
            idle = process.memory_info().rss
            peak = idle
            sampling = True

            async def sample() -> None:
                nonlocal peak
                while sampling:
                    peak = max(peak, process.memory_info().rss)
                    await asyncio.sleep(0.5)

            sampler = asyncio.create_task(sample())
            semaphore = asyncio.Semaphore(CONCURRENCY)

            async def start(index: int) -> None:
                async with semaphore:
                    await client.start_workflow(
                        TaskWorkflow.run,
                        TaskWorkflowInput(
                            plan_id="memory",
                            task=task.model_copy(update={"id": str(index), "seq": index}),
                        ),
                        id=f"memory/{index}",
                        task_queue=QUEUE,
                    )

            started = time.perf_counter()
            await asyncio.gather(*(start(i) for i in range(1, tasks + 1)))
            start_seconds = time.perf_counter() - started

            async def all_assigned() -> bool:
                recorded = await pool.fetchval(
                    "SELECT count(*) FROM task_events WHERE kind = 'assigned'"
                )
                return int(recorded) >= tasks

            await wait_until(all_assigned, "every task's first workflow task", READY_TIMEOUT)
            ready_seconds = time.perf_counter() - started
            await asyncio.sleep(SETTLE_SECONDS)
            opened = process.memory_info().rss
            sampling = False
            await sampler
            if worker.returncode is not None:
                raise RuntimeError(f"the worker exited with {worker.returncode}")
        finally:
            await stop_child(worker)
    return Reading(cache, idle, opened, max(peak, opened), start_seconds, ready_seconds)


async def main(tasks: int, caches: list[int]) -> None:
    quiet_logging()
    readings = []
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        postgres = EmbeddedPostgres(scratch / "postgres" / "data", port=free_port())
        await postgres.start()
        await migrate_database(postgres.dsn)
        pool = await create_pool(postgres.dsn, max_size=4)
        try:
            for cache in caches:
                readings.append(await run_variant(scratch, pool, postgres.dsn, tasks, cache))
        finally:
            await pool.close()
            await postgres.stop()

    print(f"worker RSS, {tasks} open tasks, worker in its own process, {os.cpu_count()} cores:")
    for reading in readings:
        added = reading.open - reading.idle
        cached = min(tasks, reading.cache) or 1
        print(f"  cache {reading.cache}:")
        print(f"    idle worker (baseline)  {reading.idle / MIB:7.0f} MiB")
        print(
            f"    {f'{tasks} tasks open':<24}{reading.open / MIB:7.0f} MiB"
            + ("   (target < 1024 MiB)" if reading.cache == 1000 else "")
        )
        print(f"    peak while starting     {reading.peak / MIB:7.0f} MiB")
        print(f"    added per cached task   {added / cached / 1024:7.1f} KiB")
        print(
            f"    starts took {reading.start_seconds:.0f} s, every task ready after "
            f"{reading.ready_seconds:.0f} s"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Worker memory with many open tasks.")
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument(
        "--cache",
        type=int,
        action="append",
        help="DUBAN_WORKER_MAX_CACHED_WORKFLOWS of a variant (repeatable; default 1000)",
    )
    arguments = parser.parse_args()
    asyncio.run(main(arguments.tasks, arguments.cache or [1000]))
