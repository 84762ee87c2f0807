"""Lifecycle throughput: N tasks through the happy path on a dev server with a real worker.

Each task is started, accepted, given a progress report, submitted, signed off by its two
cooperating units and approved (seven actions, the six after the start being updates,
sent one after another), and the task counts as done when its workflow has completed,
every event recorded in PostgreSQL by the real ``record_task_events`` activity. Tasks run
50 in flight. The worker runs in this process, as the tests run it (``build_worker`` with
``build_activities``), and the search attributes are registered, as the worker does in
production.

Baseline in the same run, on another fresh dev server (a database file with the WAL
pragmas ``duban dev`` uses) and against the same PostgreSQL: ``BareTaskWorkflow``
(bench/bare_workflows.py) through the same start and six updates at the same concurrency,
recording like TaskWorkflow does (one activity per wake-up, an asyncpg INSERT), with none
of Duban's domain checks, schedule, search attributes or projection.

What the figures mean: tasks/s is tasks completed per second of wall time, start to the
last workflow's completion; duban / bare is the share of the bare floor Duban keeps
(target >= 0.7). Update round trips are ``execute_update`` latencies as a caller (the API)
sees them: the update is accepted, run by the worker and its result returned; the
recording happens after. The history of one task shows what each task costs the server.
Run: ``.venv/bin/python -m bench.lifecycle_bench [--tasks 1000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.bare_activities import BareActivities, create_table
from bench.bare_workflows import BareTaskWorkflow
from domain.calendar import SHANGHAI
from domain.lifecycle import Stage
from domain.plan import PlanTask
from runtime.embedded import EmbeddedPostgres, EmbeddedTemporal, free_port
from runtime.log import configure_logging
from runtime.settings import LogFormat, Settings
from runtime.temporal import ensure_search_attributes
from store.db import create_pool
from store.migrate import migrate_database
from tests.support.lifecycle import COOPERATING, COORDINATOR, LEAD, make_task, unit
from workers.registry import build_activities
from workers.service import build_worker
from workflows.task import TaskWorkflow
from workflows.task_contract import (
    Accept,
    ReportProgress,
    Review,
    SignOff,
    Submit,
    TaskWorkflowInput,
)

TASKS = 1_000
CONCURRENCY = 50
QUEUE = "bench"
PLAN = "bench"
TIMEOUT = 240.0  # seconds per variant
EVENTS_PER_TASK = 9  # assigned … signed_off ×2, signoff_complete, milestone_done, completed
BARE_ROWS_PER_TASK = 7  # the start and six updates
HISTORY_SAMPLE = 20


@asynccontextmanager
async def fresh_temporal(scratch: Path, name: str) -> AsyncIterator[Client]:
    server = EmbeddedTemporal(scratch / name / "temporal.db", port=free_port(), ui_port=free_port())
    await server.start()
    try:
        client = await Client.connect(server.address, data_converter=pydantic_data_converter)
        await ensure_search_attributes(client, "default")
        yield client
    finally:
        await server.stop()


def bench_task(index: int) -> PlanTask:
    """A task due in 60 days, with a lead and two cooperating units (make_task's)."""
    today = datetime.now(SHANGHAI).date()
    return make_task([today + timedelta(days=60)]).model_copy(
        update={"id": str(index), "seq": index}
    )


@dataclass
class Outcome:
    seconds: float
    latencies: list[float] = field(default_factory=list)
    history: Counter[str] = field(default_factory=Counter)  # of task 1, by event type
    history_mean: float = 0.0  # events per task over the first HISTORY_SAMPLE tasks


async def drive(
    tasks: int, one_task: Callable[[int, list[float]], Awaitable[None]], timeout: float
) -> tuple[float, list[float]]:
    """Run ``one_task`` for every index, CONCURRENCY at a time; wall seconds and latencies."""
    semaphore = asyncio.Semaphore(CONCURRENCY)
    latencies: list[float] = []

    async def bounded(index: int) -> None:
        async with semaphore:
            await one_task(index, latencies)

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(bounded(i) for i in range(1, tasks + 1))), timeout)
    return time.perf_counter() - started, latencies


async def timed(latencies: list[float], call: Awaitable[Any]) -> None:
    started = time.perf_counter()
    await call
    latencies.append(time.perf_counter() - started)


async def history_of(client: Client, workflow_id: str) -> Counter[str]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return Counter(
        EventType.Name(event.event_type).removeprefix("EVENT_TYPE_") for event in history.events
    )


async def histories(client: Client, prefix: str, tasks: int) -> tuple[Counter[str], float]:
    """Task 1's history by event type, and the mean length over the first few tasks (how
    updates batch into workflow tasks depends on timing, so one history is one sample)."""
    sample = [
        await history_of(client, f"{prefix}/{index}")
        for index in range(1, min(tasks, HISTORY_SAMPLE) + 1)
    ]
    return sample[0], statistics.fmean(sum(history.values()) for history in sample)


async def run_duban(scratch: Path, pool: asyncpg.Pool, tasks: int, timeout: float) -> Outcome:
    lead = unit(LEAD)
    steps: list[tuple[Any, Any]] = [
        (TaskWorkflow.accept, Accept(actor=lead)),
        (TaskWorkflow.report_progress, ReportProgress(actor=lead, percent=50, text="按计划推进")),
        (TaskWorkflow.submit, Submit(actor=lead, summary="已完成")),
        *((TaskWorkflow.sign_off, SignOff(actor=unit(name), approve=True)) for name in COOPERATING),
        (TaskWorkflow.review, Review(actor=COORDINATOR, approve=True)),
    ]
    async with fresh_temporal(scratch, "duban") as client:
        settings = Settings(temporal_task_queue=QUEUE)
        worker = build_worker(client, settings, activities=build_activities(pool, "bench"))

        async def one_task(index: int, latencies: list[float]) -> None:
            handle = await client.start_workflow(
                TaskWorkflow.run,
                TaskWorkflowInput(plan_id=PLAN, task=bench_task(index)),
                id=f"{PLAN}/{index}",
                task_queue=QUEUE,
            )
            for update, action in steps:
                await timed(latencies, handle.execute_update(update, action))
            snapshot = await handle.result()
            assert snapshot.state.stage is Stage.COMPLETED, snapshot.state.stage

        async with worker:
            seconds, latencies = await drive(tasks, one_task, timeout)
        history, history_mean = await histories(client, PLAN, tasks)
    recorded = await pool.fetchval("SELECT count(*) FROM task_events")
    assert recorded == tasks * EVENTS_PER_TASK, f"{recorded} task events recorded"
    return Outcome(seconds, latencies, history, history_mean)


async def run_bare(scratch: Path, pool: asyncpg.Pool, tasks: int, timeout: float) -> Outcome:
    await create_table(pool)
    updates = [
        (BareTaskWorkflow.accept, LEAD),
        (BareTaskWorkflow.report_progress, LEAD),
        (BareTaskWorkflow.submit, LEAD),
        *((BareTaskWorkflow.sign_off, name) for name in COOPERATING),
        (BareTaskWorkflow.review, COORDINATOR.name),
    ]
    async with fresh_temporal(scratch, "bare") as client:
        settings = Settings(temporal_task_queue=QUEUE)
        worker = build_worker(
            client,
            settings,
            activities=[BareActivities(pool).record],
            workflows=[BareTaskWorkflow],
        )

        async def one_task(index: int, latencies: list[float]) -> None:
            handle = await client.start_workflow(
                BareTaskWorkflow.run, len(updates), id=f"bare/{index}", task_queue=QUEUE
            )
            for update, actor in updates:
                await timed(latencies, handle.execute_update(update, actor))
            assert await handle.result() == len(updates) + 1

        async with worker:
            seconds, latencies = await drive(tasks, one_task, timeout)
        history, history_mean = await histories(client, "bare", tasks)
    recorded = await pool.fetchval("SELECT count(*) FROM bare_events")
    assert recorded == tasks * BARE_ROWS_PER_TASK, f"{recorded} bare rows recorded"
    return Outcome(seconds, latencies, history, history_mean)


def quiet_logging() -> None:
    """Warnings only (a failing workflow task shows why), without the schedule's warning
    that the holiday calendar lacks next year, which would be one line per action."""
    configure_logging(LogFormat.JSON, "WARNING")
    logging.getLogger("activities.task_events").setLevel(logging.ERROR)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def describe_history(history: Counter[str]) -> str:
    return ", ".join(f"{kind.lower()} {count}" for kind, count in history.most_common())


@asynccontextmanager
async def bench_database() -> AsyncIterator[tuple[Path, asyncpg.Pool]]:
    """A scratch directory and a migrated PostgreSQL in it, for one benchmark run."""
    async with bench_postgres() as (scratch, _, pool):
        yield scratch, pool


@asynccontextmanager
async def bench_postgres() -> AsyncIterator[tuple[Path, str, asyncpg.Pool]]:
    """:func:`bench_database` with the database's address besides."""
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        postgres = EmbeddedPostgres(scratch / "postgres" / "data", port=free_port())
        await postgres.start()
        try:
            await migrate_database(postgres.dsn)
            pool = await create_pool(postgres.dsn, max_size=10)
            try:
                yield scratch, postgres.dsn, pool
            finally:
                await pool.close()
        finally:
            await postgres.stop()


async def main(tasks: int, timeout: float) -> None:
    quiet_logging()
    async with bench_database() as (scratch, pool):
        bare = await run_bare(scratch, pool, tasks, timeout)
        duban = await run_duban(scratch, pool, tasks, timeout)

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:7.1f} ms"

    print(
        f"{tasks} tasks x 7 actions, {CONCURRENCY} tasks in flight, "
        f"{os.cpu_count()} cores, fresh dev server per run:"
    )
    print(f"  duban lifecycle        {tasks / duban.seconds:7.1f} tasks/s  {duban.seconds:6.1f} s")
    print(f"  bare workflow          {tasks / bare.seconds:7.1f} tasks/s  {bare.seconds:6.1f} s")
    print(f"  duban / bare           {bare.seconds / duban.seconds:7.2f}   (target >= 0.7)")
    print(f"update round trip ({len(duban.latencies)} updates):")
    for name, outcome in (("duban", duban), ("bare", bare)):
        print(
            f"  {name:<8} p50 {ms(percentile(outcome.latencies, 0.5))}"
            f"  p99 {ms(percentile(outcome.latencies, 0.99))}"
            f"  mean {ms(statistics.fmean(outcome.latencies))}"
        )
    print(f"history events per task (mean of the first {HISTORY_SAMPLE}; task 1 by type):")
    for name, outcome in (("duban", duban), ("bare", bare)):
        print(
            f"  {name:<6} {outcome.history_mean:5.1f}  {sum(outcome.history.values())}:"
            f" {describe_history(outcome.history)}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Lifecycle throughput against a bare workflow.")
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds per variant")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.tasks, arguments.timeout))
