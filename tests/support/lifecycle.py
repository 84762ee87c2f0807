"""Building blocks for lifecycle tests: a task, its actors, a running worker, event reads."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from functools import partial
from typing import Any

import asyncpg
import chinese_calendar
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

import services.tasks
from domain.calendar import SHANGHAI, local_date
from domain.lifecycle import Actor, Policy
from domain.plan import Milestone, PlanTask, Provenance
from runtime.settings import Settings
from workers.registry import build_activities
from workers.service import build_worker
from workflows.task import TaskWorkflow
from workflows.task_contract import Reassign, Refuse, TaskSnapshot

COORDINATOR = Actor(role="coordinator", name="督查室")
LEAD = "市信息办"
COOPERATING = ("市财政局", "市审计局")


def unit(name: str) -> Actor:
    return Actor(role="unit", unit=name)


def make_task(
    dues: Sequence[date] = (date(2018, 6, 30),),
    *,
    lead: str = LEAD,
    co_leads: Sequence[str] = (),
    cooperating: Sequence[str] = COOPERATING,
    ongoing: bool = False,
) -> PlanTask:
    """A task of one row; ``co_leads`` are further 牵头单位 named after the first (the
    workflow has the first lead and the others sign off as cooperating units)."""
    return PlanTask(
        id="7",
        seq=7,
        text="梳理电子证照目录",
        lead_units=[lead, *co_leads],
        cooperating_units=list(cooperating),
        milestones=[
            Milestone(due=due, raw=f"{due.year}年{due.month}月{due.day}日前") for due in dues
        ],
        ongoing=ongoing,
        source=Provenance(file="plan.txt", lines=(7, 9)),
    )


@asynccontextmanager
async def running_worker(
    client: Client, pool: asyncpg.Pool, task_queue: str
) -> AsyncIterator[None]:
    settings = Settings(temporal_task_queue=task_queue)
    async with build_worker(client, settings, activities=build_activities(pool, "test")):
        yield


async def start_task(
    client: Client,
    task_queue: str,
    task: PlanTask,
    *,
    policy: Policy | None = None,
    due_at: list[datetime] | None = None,
    # The time-skipping server cannot register custom search attributes.
    search_attributes: bool = False,
    continue_as_new_after_events: int | None = None,
) -> WorkflowHandle[TaskWorkflow, TaskSnapshot]:
    handle: WorkflowHandle[TaskWorkflow, TaskSnapshot] = await services.tasks.start_task(
        client,
        task_queue=task_queue,
        plan_id=f"plan-{uuid.uuid4().hex[:8]}",
        task=task,
        until_year=task.final_due.year if task.final_due else 2030,
        not_before=None,
        policy=policy,
        due_at=due_at,
        search_attributes=search_attributes,
        continue_as_new_after_events=continue_as_new_after_events,
    )
    return handle


async def recorded_kinds(pool: asyncpg.Pool, workflow_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT kind FROM task_events WHERE workflow_id = $1 ORDER BY seq", workflow_id
    )
    return [row["kind"] for row in rows]


# ---------------------------------------------------------------- reading what was recorded

DEADLINE_KINDS = ("reminder", "urge", "escalation")


async def recorded_events(
    pool: asyncpg.Pool, workflow_id: str, *kinds: str
) -> list[asyncpg.Record]:
    """The task_events rows of a workflow in sequence order, optionally of some kinds only."""
    rows = await pool.fetch(
        "SELECT seq, kind, at, unit, milestone, level, recipients, detail, stage_before,"
        " stage_after FROM task_events WHERE workflow_id = $1 ORDER BY seq",
        workflow_id,
    )
    return [row for row in rows if not kinds or row["kind"] in kinds]


async def wait_until(
    probe: Callable[[], object], *, timeout: float = 10.0, what: str = "condition"
) -> None:
    """Poll an async ``probe`` (real time) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def settle(
    handle: WorkflowHandle[TaskWorkflow, TaskSnapshot], pool: asyncpg.Pool, timeout: float = 10.0
) -> TaskSnapshot:
    """Wait until every event the workflow has made is in PostgreSQL; return its snapshot.

    The state's ``seq`` counts every event ever made, so the row count catching up with it
    (and staying there) means nothing is in flight.
    """
    stable = 0
    snapshot: TaskSnapshot | None = None
    deadline = time.monotonic() + timeout
    while stable < 3:
        snapshot = await handle.query(TaskWorkflow.snapshot)
        count = await pool.fetchval(
            "SELECT count(*) FROM task_events WHERE workflow_id = $1", handle.id
        )
        stable = stable + 1 if count == snapshot.state.seq else 0
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{handle.id}: {count} events recorded, the workflow made {snapshot.state.seq}"
            )
        await asyncio.sleep(0.05)
    assert snapshot is not None
    return snapshot


@contextmanager
def time_skipping_paused(env: WorkflowEnvironment) -> Iterator[None]:
    """No automatic time skipping while awaiting results (a no-op on a real server)."""
    if env.supports_time_skipping_v1:
        with env.auto_time_skipping_disabled():
            yield
    else:
        yield


def beijing_date(instant: datetime) -> date:
    return local_date(instant)


def calendar_knows(day: date) -> bool:
    """Whether the installed holiday calendar has data for ``day``'s year."""
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


def is_working_day(day: date) -> bool:
    """Independent of domain.calendar: the holiday calendar, else Monday to Friday."""
    if calendar_knows(day):
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5


def working_days_from(day: date, count: int) -> date:
    """The ``count``-th working day after (count > 0) or before (count < 0) ``day``."""
    step = timedelta(days=1 if count > 0 else -1)
    remaining = abs(count)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def beijing_morning(day: date) -> datetime:
    """09:00 Beijing on ``day``, in UTC: when a working-day reminder fires."""
    return datetime.combine(day, time_of_day(9), tzinfo=SHANGHAI).astimezone(UTC)


async def _no_activity_in_flight(handle: WorkflowHandle[Any, Any]) -> bool:
    return not (await handle.describe()).raw_description.pending_activities


@dataclass
class LifecycleHarness:
    """A worker on a test queue plus the tasks started through it (terminated at the end)."""

    env: WorkflowEnvironment
    pool: asyncpg.Pool
    task_queue: str
    handles: list[WorkflowHandle[TaskWorkflow, TaskSnapshot]] = field(default_factory=list)

    @property
    def client(self) -> Client:
        return self.env.client

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def today(self) -> date:
        """Today in Beijing, on the environment's clock."""
        return local_date(await self.now())

    async def days_ahead(self, days: int) -> date:
        return await self.today() + timedelta(days=days)

    async def start(
        self,
        task: PlanTask,
        *,
        policy: Policy | None = None,
        due_at: list[datetime] | None = None,
        continue_as_new_after_events: int | None = None,
    ) -> WorkflowHandle[TaskWorkflow, TaskSnapshot]:
        handle = await start_task(
            self.client,
            self.task_queue,
            task,
            policy=policy,
            due_at=due_at,
            continue_as_new_after_events=continue_as_new_after_events,
        )
        self.handles.append(handle)
        return handle

    async def start_refused(
        self, task: PlanTask, *, reason: str = "不属于本单位职责"
    ) -> WorkflowHandle[TaskWorkflow, TaskSnapshot]:
        """A task its lead returned (退回交办): in 交办, awaiting the coordinator."""
        handle = await self.start(task)
        lead = task.lead_units[0]
        await handle.execute_update(TaskWorkflow.refuse, Refuse(actor=unit(lead), reason=reason))
        return handle

    async def reassign(
        self, handle: WorkflowHandle[TaskWorkflow, TaskSnapshot], new_lead: str
    ) -> None:
        await handle.execute_update(
            TaskWorkflow.reassign, Reassign(actor=COORDINATOR, unit=new_lead)
        )

    async def sleep(self, duration: timedelta) -> None:
        await self.env.sleep(duration)

    async def result(self, handle: WorkflowHandle[TaskWorkflow, TaskSnapshot]) -> TaskSnapshot:
        """The result of a workflow that is closing anyway, without skipping time.

        Awaiting a result on the time-skipping server unlocks its clock, which then jumps to
        whatever is scheduled next, however far: ten years on, as observed, for a workflow that
        had already completed; every later test in the session shares that clock.
        """
        with time_skipping_paused(self.env):
            return await handle.result()

    async def events(
        self, handle: WorkflowHandle[TaskWorkflow, TaskSnapshot], *kinds: str
    ) -> list[asyncpg.Record]:
        return await recorded_events(self.pool, handle.id, *kinds)

    async def settle(self, handle: WorkflowHandle[TaskWorkflow, TaskSnapshot]) -> TaskSnapshot:
        return await settle(handle, self.pool)

    async def terminate_open(self) -> None:
        """Leave no open workflow behind on the session's server: later tests skip its time.

        Each is quiet first (events recorded, no activity in flight): the time-skipping server
        keeps its clock locked for an activity whose workflow was terminated under it, and
        every later test that waits on a timer would hang.
        """
        for handle in self.handles:
            target = self.client.get_workflow_handle(handle.id)
            with suppress(RPCError, WorkflowQueryFailedError, AssertionError):
                if (await target.describe()).status != WorkflowExecutionStatus.RUNNING:
                    continue
                await settle(target, self.pool, timeout=5)
                await wait_until(
                    partial(_no_activity_in_flight, target),
                    timeout=5,
                    what="activities to finish",
                )
            with suppress(RPCError):
                await target.terminate(reason="test finished")


@asynccontextmanager
async def lifecycle_harness(
    env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str
) -> AsyncIterator[LifecycleHarness]:
    harness = LifecycleHarness(env, pool, task_queue)
    async with running_worker(env.client, pool, task_queue):
        try:
            yield harness
        finally:
            await harness.terminate_open()


async def settled(handle: WorkflowHandle[TaskWorkflow, TaskSnapshot]) -> TaskSnapshot:
    """Wait until every event the task has produced is recorded in PostgreSQL."""
    for _ in range(500):
        snapshot = await handle.query(TaskWorkflow.snapshot)
        if snapshot.state.seq > 0 and snapshot.recorded_seq >= snapshot.state.seq:
            return snapshot
        await asyncio.sleep(0.01)
    raise AssertionError(f"{handle.id} never recorded its events")
