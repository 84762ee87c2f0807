"""``duban simulate``: a plan's year on the time-skipping server, in seconds.

Every task of the plan runs as the real TaskWorkflow (or RecurringTaskWorkflow) on
Temporal's time-skipping test server, with a scripted behaviour for its units, and the
events the workflows record are collected in memory instead of PostgreSQL. The test
server's clock starts at today's date, so the plan's calendar runs at a fixed offset
behind it (``clock_offset``): every date the workflows see, the holiday calendar included,
is the plan's own.

Behaviours (per task; ``mixed`` picks one per task from a stable hash of its id):

* ``on-time``: accepted the next day, progress halfway, submitted five days before the
  due date, signed off and approved a day after each other;
* ``late``: accepted after two days, submitted twenty days after the due date;
* ``silent``: nobody acts, so reminders, 催办 and the 督办 ladder run their course.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel
from temporalio import activity
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.task_events import read_working_calendar
from domain.access import ActionKind
from domain.calendar import SHANGHAI, end_of_day
from domain.event_log import cooperating_at_assignment
from domain.lifecycle import Actor, Stage, TaskEvent
from domain.plan import ParsedPlan, PlanTask
from runtime.embedded import installed_executable
from runtime.temporal import sandboxed_workflow_runner
from services.tasks import TaskActionRefusedError, read_snapshot, send_action, start_task
from workflows.recurring import RecurringTaskWorkflow
from workflows.task import TaskWorkflow
from workflows.task_contract import (
    RECORD_TASK_EVENTS,
    Accept,
    RecordEvents,
    ReportProgress,
    Review,
    SignOff,
    Submit,
)

Behaviour = Literal["on-time", "late", "silent", "mixed"]
BEHAVIOURS: tuple[Behaviour, ...] = ("on-time", "late", "silent", "mixed")
# What ``--json`` reports, and how the lifecycle's event kinds map onto it.
REPORTED_KINDS = {
    "reminder": "reminder",
    "unaccepted_reminder": "reminder",
    "progress_reminder": "reminder",
    "urge": "urge",
    "escalation": "escalation",
    "accepted": "accepted",
    "submitted": "submitted",
    "signed_off": "signed_off",
    "deemed_consent": "signed_off",
    "completed": "completed",
    "extension_granted": "extension",
    "refused": "refused",
    "cancelled": "cancelled",
}
COORDINATOR = Actor(role="coordinator", name="督查室")


@dataclass
class SimulatedEvent:
    at: datetime
    task: str
    kind: str
    unit: str | None
    level: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at.astimezone(SHANGHAI).isoformat(),
            "task": self.task,
            "kind": self.kind,
            "unit": self.unit,
            "level": self.level,
        }


@dataclass
class Simulation:
    plan_id: str
    start: date
    end: date
    events: list[SimulatedEvent] = field(default_factory=list)
    month_end: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected_actions: int = 0
    # Every recorded event by workflow id, in sequence order, and each task's workflow id:
    # what the monthly notice's as-of arithmetic folds.
    task_events: dict[str, list[TaskEvent]] = field(default_factory=dict)
    workflow_ids: dict[str, str] = field(default_factory=dict)


class _MemoryRecorder:
    """The record activity of a simulation: events go to a list, not PostgreSQL."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, int], tuple[str, TaskEvent]] = {}

    @activity.defn(name=RECORD_TASK_EVENTS)
    async def record_task_events(self, request: RecordEvents) -> int:
        task_id = request.projection.task_id
        workflow_id = request.workflow_id
        label = workflow_id.split("/", 1)[1] if "/" in workflow_id else task_id
        for event in request.events:
            self.events[(workflow_id, event.seq)] = (label, event)
        return len(request.events)


@dataclass(order=True)
class _Action:
    at: datetime
    order: int
    task_id: str = field(compare=False)
    kind: ActionKind = field(compare=False)
    payload: BaseModel = field(compare=False)

    @property
    def key(self) -> str:
        """The action's idempotency key: one per scripted action, the same on any retry."""
        return f"simulate:{self.task_id}:{self.order}:{self.kind}"


def behaviour_of(task: PlanTask, behaviour: Behaviour) -> Behaviour:
    if behaviour != "mixed":
        return behaviour
    digest = int(hashlib.sha256(task.id.encode()).hexdigest(), 16)
    return ("on-time", "on-time", "late", "silent")[digest % 4]


@dataclass(frozen=True)
class ScriptedStep:
    """One action of a task's path to 办结, as the simulator and the dev demo script it."""

    kind: ActionKind
    payload: BaseModel
    milestone: int | None  # the milestone it belongs to; None for the acceptance
    name: str  # unique within the task and stable: "accept", "m0:submit", "m0:sign_off:市财政局"


def completion_steps(task: PlanTask) -> list[ScriptedStep]:
    """Every action that takes ``task`` from 交办 to 办结, in order: the lead unit accepts;
    then for each milestone it reports progress (50%) and submits, each cooperating unit
    (co-leads after the first included) signs off, and the coordinator approves. Empty for
    a task without a lead unit or a milestone, which no unit can carry."""
    if not task.lead_units or not task.milestones:
        return []
    lead = Actor(role="unit", unit=task.lead_units[0])
    cooperating = cooperating_at_assignment(task)
    steps = [ScriptedStep(ActionKind.ACCEPT, Accept(actor=lead), None, "accept")]
    for index in range(len(task.milestones)):
        progress = ReportProgress(actor=lead, percent=50, text="按计划推进")
        steps.append(ScriptedStep(ActionKind.PROGRESS, progress, index, f"m{index}:progress"))
        submit = Submit(actor=lead, summary="已完成")
        steps.append(ScriptedStep(ActionKind.SUBMIT, submit, index, f"m{index}:submit"))
        for unit in cooperating:
            approval = SignOff(actor=Actor(role="unit", unit=unit), approve=True)
            steps.append(
                ScriptedStep(ActionKind.SIGN_OFF, approval, index, f"m{index}:sign_off:{unit}")
            )
        review = Review(actor=COORDINATOR, approve=True)
        steps.append(ScriptedStep(ActionKind.REVIEW, review, index, f"m{index}:review"))
    return steps


def _script(
    task: PlanTask, behaviour: Behaviour, assigned: datetime
) -> list[tuple[datetime, ActionKind, BaseModel]]:
    """(plan time, action, payload) for one task's units and coordinator."""
    if behaviour == "silent":
        return []
    late = behaviour == "late"
    accept_at = assigned + timedelta(days=2 if late else 1)
    cursor = accept_at
    timing: dict[tuple[int, ActionKind], datetime] = {}
    for index, milestone in enumerate(task.milestones):
        due = end_of_day(milestone.due)
        submit_at = due + timedelta(days=20) if late else due - timedelta(days=5)
        submit_at = max(submit_at, cursor + timedelta(days=2))
        sign_at = submit_at + timedelta(days=2 if late else 1)
        review_at = sign_at + timedelta(days=1)
        timing[index, ActionKind.PROGRESS] = cursor + (submit_at - cursor) / 2
        timing[index, ActionKind.SUBMIT] = submit_at
        timing[index, ActionKind.SIGN_OFF] = sign_at
        timing[index, ActionKind.REVIEW] = review_at
        cursor = review_at
    return [
        (
            accept_at if step.milestone is None else timing[step.milestone, step.kind],
            step.kind,
            step.payload,
        )
        for step in completion_steps(task)
    ]


async def simulate(
    parsed: ParsedPlan,
    start: date,
    end: date,
    behaviour: Behaviour,
    on_progress: Callable[[int, int], None] | None = None,
) -> Simulation:
    """Play the plan from ``start`` to ``end`` (inclusive) and collect what it generates."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(installed_executable("temporal-test-server")),
        runtime=_quiet_runtime(),
    )
    try:
        return await _play(env, parsed, start, end, behaviour, on_progress)
    finally:
        await env.shutdown()


@functools.cache
def _quiet_runtime() -> Runtime:
    """A Temporal runtime whose core logs only errors: its warnings would land on stdout,
    between the JSON events. (Forwarding them to Python logging instead crashed the
    interpreter at exit, when the forwarding thread outlived it.) Made once per process."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=LoggingConfig(filter=TelemetryFilter(core_level="ERROR", other_level="ERROR"))
        )
    )


async def _play(
    env: WorkflowEnvironment,
    parsed: ParsedPlan,
    start: date,
    end: date,
    behaviour: Behaviour,
    on_progress: Callable[[int, int], None] | None,
) -> Simulation:
    client: Client = env.client
    server_now = await env.get_current_time()
    plan_start = datetime.combine(start, datetime.min.time(), tzinfo=SHANGHAI)
    offset = server_now - plan_start
    recorder = _MemoryRecorder()
    queue = f"simulate-{uuid.uuid4().hex}"
    simulation = Simulation(plan_id=parsed.plan.id, start=start, end=end)
    async with Worker(
        client,
        task_queue=queue,
        workflows=[TaskWorkflow, RecurringTaskWorkflow],
        activities=[recorder.record_task_events, read_working_calendar],
        workflow_runner=sandboxed_workflow_runner(),
    ):
        workflow_ids: dict[str, str] = {}
        actions: list[_Action] = []
        for task in parsed.tasks:
            handle = await start_task(
                client,
                task_queue=queue,
                plan_id=parsed.plan.id,
                task=task,
                until_year=end.year,
                not_before=start,
                search_attributes=False,
                clock_offset=offset,
            )
            workflow_ids[task.id] = handle.id
            if task.recurrence is not None:
                continue
            for order, (at, kind, payload) in enumerate(
                _script(task, behaviour_of(task, behaviour), plan_start)
            ):
                if at.date() <= end:
                    actions.append(_Action(at, order, task.id, kind, payload))
        actions.sort()
        finish = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI)
        month_ends = _month_ends(start, end)
        done = 0
        for at, group in itertools.groupby(actions, key=lambda action: action.at):
            batch = list(group)
            while month_ends and month_ends[0] <= at:
                await _advance_to(env, month_ends[0] + offset)
                month_end = month_ends.pop(0)
                simulation.month_end[_month_label(month_end)] = await _snapshot(
                    client, workflow_ids, parsed, month_end
                )
            await _advance_to(env, at + offset)
            # Actions due at the same moment (a whole plan's sign-offs) go out together.
            outcomes = await asyncio.gather(
                *(
                    send_action(client, workflow_ids[a.task_id], a.kind, a.payload, a.key)
                    for a in batch
                ),
                return_exceptions=True,
            )
            for outcome in outcomes:
                if isinstance(outcome, TaskActionRefusedError):
                    simulation.rejected_actions += 1  # e.g. the task was cancelled meanwhile
                elif isinstance(outcome, BaseException):
                    raise outcome
            done += len(batch)
            if on_progress:
                on_progress(done, len(actions))
        for month_end in month_ends:
            await _advance_to(env, month_end + offset)
            simulation.month_end[_month_label(month_end)] = await _snapshot(
                client, workflow_ids, parsed, month_end
            )
        await _advance_to(env, finish + offset)
    simulation.events = sorted(
        (
            SimulatedEvent(
                at=event.at,
                task=label,
                kind=REPORTED_KINDS[event.kind],
                unit=event.unit,
                level=event.level,
            )
            for label, event in recorder.events.values()
            if event.kind in REPORTED_KINDS and event.at < finish
        ),
        key=lambda event: (event.at, event.task),
    )
    for (workflow_id, _seq), (_label, event) in sorted(recorder.events.items()):
        simulation.task_events.setdefault(workflow_id, []).append(event)
    simulation.workflow_ids = workflow_ids
    return simulation


async def _advance_to(env: WorkflowEnvironment, server_instant: datetime) -> None:
    gap = server_instant - await env.get_current_time()
    if gap > timedelta(0):
        await env.sleep(gap)


def _month_ends(start: date, end: date) -> list[datetime]:
    """The instant each month of the range ends (the as-of moment of a monthly notice)."""
    instants = []
    year, month = start.year, start.month
    while date(year, month, 1) <= end:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        instants.append(
            datetime.combine(date(year, month, 1), datetime.min.time(), tzinfo=SHANGHAI)
        )
    return instants


def _month_label(month_end: datetime) -> str:
    """The month that ends at ``month_end`` (midnight after its last day), as YYYY-MM."""
    return (month_end - timedelta(days=1)).strftime("%Y-%m")


async def _snapshot(
    client: Client, workflow_ids: dict[str, str], parsed: ParsedPlan, as_of: datetime
) -> dict[str, int]:
    """How many tasks stand where at this moment (recurring parents count as open)."""
    counts = {stage.value: 0 for stage in Stage} | {"overdue": 0, "escalated": 0}
    for task in parsed.tasks:
        if task.recurrence is not None:
            continue
        snapshot = await read_snapshot(client, workflow_ids[task.id])
        counts[snapshot.state.stage.value] += 1
        counts["overdue"] += snapshot.overdue_days_as_of(as_of) > 0
        counts["escalated"] += snapshot.state.escalation_level > 0
    return counts
