"""Deadline burst: 2,000 tasks whose reminder falls due at the same instant.

Every task is started with the same due instant T (``TaskWorkflowInput.due_at``) and a
policy whose only reminder is 20 s before it (escalation a year after), so all reminders
come due together at R = T - 20 s. The worker is the real one (in this process,
``build_worker`` with the default workflow cache of 1,000, so with 2,000 tasks most wake-ups
replay the task's history, as in production). R is set ``--lead`` seconds after the first
start, late enough that every task has run its first workflow task (its ``assigned`` event
is recorded) well before R: on 2 cores that takes about a minute for 2,000 tasks, so T
ends up some 60-80 s after the last start. The figure is the time from R until every task
has told its lead unit, i.e. its first deadline event is in ``task_events``.

A task the worker reaches only after T records a 催办 (``urge``) instead of its reminder:
of deadline alarms due together only the strongest is sent (domain.alarms.due_alarms).
So a burst longer than 20 s shows up as "superseded" reminders; those tasks count as told
when their 催办 lands. ``--reminder-before 120`` separates the two.

Baseline in the same run, on another fresh dev server (WAL database file), the same
PostgreSQL and the same worker settings: as many ``BareTimerWorkflow``
(bench/bare_workflows.py), each recording a row at its start, sleeping until the same R
and then inserting one row with an asyncpg activity; the time until its last row lands.

What the figures mean: "last" is R to the last task's row (``recorded_at``, the clock of
PostgreSQL, which is this machine's), i.e. how late the last unit is told; rows/s is the
rate the burst drains at (tasks / last); "first" and "p50" show when the timers start
landing and where the middle of the burst is; "ready" is how long before R every task was
waiting on its timer. Run: ``.venv/bin/python -m bench.burst_bench [--tasks 2000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from temporalio.worker import Worker

from bench.bare_activities import BareActivities, create_table
from bench.bare_workflows import BareTimerWorkflow
from bench.lifecycle_bench import (
    CONCURRENCY,
    QUEUE,
    bench_database,
    fresh_temporal,
    quiet_logging,
)
from domain.calendar import local_date
from domain.lifecycle import EscalationRung, Offset, Policy
from runtime.settings import Settings
from tests.support.lifecycle import make_task
from workers.registry import build_activities
from workers.service import build_worker
from workflows.task import TaskWorkflow
from workflows.task_contract import TaskWorkflowInput

TASKS = 2_000
REMINDER_BEFORE = 20.0  # seconds from R to the due instant T
LEAD = 80.0  # seconds from the first start to R
READY_TIMEOUT = 180.0  # for every task to be waiting on its timer
BURST_TIMEOUT = 150.0  # from R


@dataclass
class Variant:
    table: str
    kinds: list[str]  # a task is told when its first row of these kinds is recorded


DUBAN = Variant("task_events", ["reminder", "urge", "escalation"])
BARE = Variant("bare_events", ["reminder"])


@dataclass
class Burst:
    started_in: float  # seconds the starts took
    ready: float  # seconds before R every task was waiting on its timer
    told: int  # tasks whose first deadline row was recorded within the timeout
    superseded: int  # of which the first row was not the reminder (the 催办 at T)
    first: float = 0.0  # seconds after R
    median: float = 0.0
    last: float = 0.0


def policy(reminder_before: float) -> Policy:
    return Policy(
        reminders_before_due=[Offset(duration=timedelta(seconds=reminder_before))],
        escalation=[
            EscalationRung(
                after_due=Offset(duration=timedelta(days=365)), level=1, recipients=["coordinator"]
            )
        ],
    )


async def start_all(tasks: int, start: Callable[[int], Awaitable[object]]) -> float:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def bounded(index: int) -> None:
        async with semaphore:
            await start(index)

    started = time.perf_counter()
    await asyncio.gather(*(bounded(i) for i in range(1, tasks + 1)))
    return time.perf_counter() - started


async def wait_for(
    pool: asyncpg.Pool, variant: Variant, kinds: list[str], wanted: int, timeout: float
) -> int:
    """Poll until ``wanted`` tasks have a row of ``kinds``; how many did in the time."""
    query = f"SELECT count(DISTINCT workflow_id) FROM {variant.table} WHERE kind = ANY($1)"  # noqa: S608
    deadline = time.monotonic() + timeout
    reported = time.monotonic()
    while (seen := int(await pool.fetchval(query, kinds))) < wanted:
        if time.monotonic() > deadline:
            break
        if time.monotonic() - reported >= 10:
            reported = time.monotonic()
            print(f"    {variant.table}: {seen}/{wanted} {kinds[0]}…", file=sys.stderr)
        await asyncio.sleep(0.1)
    return seen


async def measure(
    pool: asyncpg.Pool,
    worker: Worker,
    variant: Variant,
    tasks: int,
    reminder_at: datetime,
    start: Callable[[int], Awaitable[object]],
) -> Burst:
    async with worker:
        started_in = await start_all(tasks, start)
        await wait_for(pool, variant, ["assigned"], tasks, READY_TIMEOUT)
        ready = (reminder_at - datetime.now(UTC)).total_seconds()
        await asyncio.sleep(max(0.0, ready))
        await wait_for(pool, variant, variant.kinds, tasks, BURST_TIMEOUT)
    row = await pool.fetchrow(
        f"""
        WITH firsts AS (
            SELECT workflow_id, min(recorded_at) AS at,
                   (array_agg(kind ORDER BY recorded_at, seq))[1] AS kind
            FROM {variant.table} WHERE kind = ANY($1) GROUP BY workflow_id
        )
        SELECT count(*) AS told, count(*) FILTER (WHERE kind <> 'reminder') AS superseded,
               min(at) AS first, max(at) AS last,
               percentile_disc(0.5) WITHIN GROUP (ORDER BY at) AS median
        FROM firsts
        """,  # noqa: S608 -- the table is a constant
        variant.kinds,
    )
    assert row is not None
    burst = Burst(started_in, ready, row["told"], row["superseded"])
    if row["told"]:
        burst.first, burst.median, burst.last = (
            (row[name] - reminder_at).total_seconds() for name in ("first", "median", "last")
        )
    return burst


async def run_duban(
    scratch: Path, pool: asyncpg.Pool, tasks: int, lead: float, settings: Settings, before: float
) -> Burst:
    async with fresh_temporal(scratch, "duban") as client:
        reminder_at = datetime.now(UTC) + timedelta(seconds=lead)
        due_at = reminder_at + timedelta(seconds=before)
        task = make_task([local_date(due_at)])
        task_policy = policy(before)

        async def start(index: int) -> object:
            return await client.start_workflow(
                TaskWorkflow.run,
                TaskWorkflowInput(
                    plan_id="burst",
                    task=task.model_copy(update={"id": str(index), "seq": index}),
                    policy=task_policy,
                    due_at=[due_at],
                ),
                id=f"burst/{index}",
                task_queue=QUEUE,
            )

        worker = build_worker(client, settings, activities=build_activities(pool, "bench"))
        return await measure(pool, worker, DUBAN, tasks, reminder_at, start)


async def run_bare(
    scratch: Path, pool: asyncpg.Pool, tasks: int, lead: float, settings: Settings
) -> Burst:
    await create_table(pool)
    async with fresh_temporal(scratch, "bare") as client:
        reminder_at = datetime.now(UTC) + timedelta(seconds=lead)

        async def start(index: int) -> object:
            return await client.start_workflow(
                BareTimerWorkflow.run, reminder_at, id=f"bare/{index}", task_queue=QUEUE
            )

        worker = build_worker(
            client,
            settings,
            activities=[BareActivities(pool).record],
            workflows=[BareTimerWorkflow],
        )
        return await measure(pool, worker, BARE, tasks, reminder_at, start)


async def main(tasks: int, lead: float, before: float, cache: int) -> None:
    quiet_logging()
    settings = Settings(temporal_task_queue=QUEUE, worker_max_cached_workflows=cache)
    async with bench_database() as (scratch, pool):
        bare = await run_bare(scratch, pool, tasks, lead, settings)
        duban = await run_duban(scratch, pool, tasks, lead, settings, before)

    print(
        f"{tasks} reminders due at one instant R (T = R + {before:.0f} s), workflow cache "
        f"{cache}, {os.cpu_count()} cores, fresh dev server per run:"
    )
    print("                    last after R  rows/s   first    p50   starts  ready before R")
    for name, burst in (("duban reminders", duban), ("bare timers", bare)):
        rate = f"{burst.told / burst.last:6.0f}" if burst.last > 0 else "     -"
        print(
            f"  {name:<16} {burst.last:8.1f} s  {rate}  {burst.first:6.1f} {burst.median:6.1f}"
            f"   {burst.started_in:5.1f} s  {burst.ready:5.1f} s"
        )
        if burst.told < tasks:
            print(f"    only {burst.told} of {tasks} told within {BURST_TIMEOUT:.0f} s of R")
        if burst.superseded:
            print(
                f"    {burst.superseded} reminders superseded: those tasks were reached after"
                f" T and sent the 催办 instead"
            )
        if burst.ready < 5:
            print("    warning: not every task was waiting before R; raise --lead")
    if duban.last > 0 and bare.last > 0:
        print(f"  duban / bare       {duban.last / bare.last:6.2f} x the time")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Deadline burst against bare timers.")
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--lead", type=float, default=LEAD, help="seconds from start to R")
    parser.add_argument(
        "--reminder-before", type=float, default=REMINDER_BEFORE, help="seconds from R to T"
    )
    parser.add_argument("--cache", type=int, default=1000, help="max cached workflows")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.tasks, arguments.lead, arguments.reminder_before, arguments.cache))
