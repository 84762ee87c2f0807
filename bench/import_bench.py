"""Import throughput: 1,000 tasks into PostgreSQL plus their workflow starts.

Baselines in the same run, each on a fresh dev server (a database file with the WAL
pragmas ``duban dev`` uses), because throughput drifts on a long-lived server:

* a bare loop of 1,000 sequential ``start_workflow`` calls (the issue's baseline);
* the same 1,000 starts issued with the import's concurrency (50 in flight), which is
  the fairer floor for what the import itself adds.

The import is timed from ``import_plan`` entry to return: one transaction for the rows,
then the starts. Run: ``.venv/bin/python -m bench.import_bench``.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.parsers import parse_file
from domain.plan import ParsedPlan
from runtime.embedded import EmbeddedPostgres, EmbeddedTemporal, free_port
from services.plan_import import import_plan
from store.db import create_pool
from store.migrate import migrate_database
from tests.support.ledgers import write_ledger_csv
from workflows.task import TaskWorkflow, TaskWorkflowInput

TASKS = 1_000
CONCURRENCY = 50
QUEUE = "bench"


async def on_fresh_temporal(
    scratch: Path, name: str, run: Callable[[Client], Awaitable[None]]
) -> float:
    server = EmbeddedTemporal(scratch / name / "temporal.db", port=free_port(), ui_port=free_port())
    await server.start()
    try:
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        started = time.perf_counter()
        await run(client)
        return time.perf_counter() - started
    finally:
        await server.stop()


async def bare_sequential(client: Client, parsed: ParsedPlan) -> None:
    for task in parsed.tasks:
        await client.start_workflow(
            TaskWorkflow.run,
            TaskWorkflowInput(plan_id="bare", task=task),
            id=f"bare/{task.id}",
            task_queue=QUEUE,
        )


async def bare_concurrent(client: Client, parsed: ParsedPlan) -> None:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def start(index: int) -> None:
        task = parsed.tasks[index]
        async with semaphore:
            await client.start_workflow(
                TaskWorkflow.run,
                TaskWorkflowInput(plan_id="bare", task=task),
                id=f"bare/{task.id}",
                task_queue=QUEUE,
            )

    await asyncio.gather(*(start(index) for index in range(len(parsed.tasks))))


async def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        parsed = parse_file(write_ledger_csv(scratch / "bench-ledger.csv", TASKS))
        assert len(parsed.tasks) == TASKS
        postgres = EmbeddedPostgres(scratch / "postgres" / "data", port=free_port())
        await postgres.start()
        await migrate_database(postgres.dsn)
        pool = await create_pool(postgres.dsn, max_size=4)
        try:
            sequential = await on_fresh_temporal(
                scratch, "sequential", lambda client: bare_sequential(client, parsed)
            )
            concurrent = await on_fresh_temporal(
                scratch, "concurrent", lambda client: bare_concurrent(client, parsed)
            )

            async def run_import(client: Client) -> None:
                outcome = await import_plan(
                    parsed,
                    pool=pool,
                    client=client,
                    task_queue=QUEUE,
                    accept_warnings=True,
                    start_concurrency=CONCURRENCY,
                )
                assert outcome.workflows_started == TASKS

            imported = await on_fresh_temporal(scratch, "import", run_import)
        finally:
            await pool.close()
            await postgres.stop()

    def rate(seconds: float) -> float:
        return TASKS / seconds

    print(f"{TASKS} tasks, dev server on a WAL database file, fresh server per run:")
    print(f"  duban import (rows + starts)      {rate(imported):7.0f} tasks/s  {imported:6.2f} s")
    print(
        f"  bare loop, sequential starts      {rate(sequential):7.0f} starts/s {sequential:6.2f} s"
    )
    in_flight = f"bare, {CONCURRENCY} starts in flight"
    print(f"  {in_flight:<33} {rate(concurrent):7.0f} starts/s {concurrent:6.2f} s")
    print(f"  import / sequential bare loop     {sequential / imported:7.2f}   (target >= 0.8)")
    print(f"  import / concurrent bare          {concurrent / imported:7.2f}")


if __name__ == "__main__":
    asyncio.run(main())
