"""What crosses TaskWorkflow's boundary: its input, its actions, its activities' names.

The API, the command line, the simulator and the tests all speak to a task through these
models, so each has one definition. Nothing here does I/O.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from temporalio.common import SearchAttributeKey

from domain.alarms import Schedule
from domain.lifecycle import Actor, Policy, Stage, TaskEvent, TaskState
from domain.plan import PlanTask

RECORD_TASK_EVENTS = "record_task_events"
PLAN_TASK_SCHEDULE = "plan_task_schedule"

# Searchable in the Temporal UI (registered on the namespace by the worker at start-up).
PLAN_ATTRIBUTE = SearchAttributeKey.for_keyword("DubanPlan")
LEAD_UNIT_ATTRIBUTE = SearchAttributeKey.for_keyword("DubanLeadUnit")
STAGE_ATTRIBUTE = SearchAttributeKey.for_keyword("DubanStage")
NEXT_DUE_ATTRIBUTE = SearchAttributeKey.for_datetime("DubanNextDue")
OVERDUE_ATTRIBUTE = SearchAttributeKey.for_bool("DubanOverdue")
SEARCH_ATTRIBUTES = (
    PLAN_ATTRIBUTE,
    LEAD_UNIT_ATTRIBUTE,
    STAGE_ATTRIBUTE,
    NEXT_DUE_ATTRIBUTE,
    OVERDUE_ATTRIBUTE,
)


def task_workflow_id(plan_id: str, task_id: str) -> str:
    return f"{plan_id}/{task_id}"


class TaskWorkflowInput(BaseModel):
    """Start (or continue) one task. Only ``plan_id`` and ``task`` are required.

    ``due_at`` overrides the milestones' end-of-day instants, so a test can run a whole
    lifecycle on a real server with deadlines seconds away; ``policy`` does the same for
    reminder offsets and escalation delays. ``state`` carries everything across
    continue-as-new.
    """

    plan_id: str
    task: PlanTask
    policy: Policy | None = None
    due_at: list[datetime] | None = None
    search_attributes: bool = True
    clock_offset: timedelta = Field(
        default=timedelta(0),
        description="simulation only: how far the plan's calendar runs behind the server's",
    )
    continue_as_new_after_events: int = Field(default=10_000, ge=100)
    state: TaskState | None = None


class ActionResult(BaseModel):
    """What every action returns: where the task stands now."""

    stage: Stage
    seq: int
    message: str = ""


class Accept(BaseModel):
    actor: Actor


class Refuse(BaseModel):
    actor: Actor
    reason: str


class ReportProgress(BaseModel):
    actor: Actor
    percent: int
    text: str
    evidence: list[str] = Field(default_factory=list)


class Submit(BaseModel):
    actor: Actor
    summary: str
    evidence: list[str] = Field(default_factory=list)


class SignOff(BaseModel):
    actor: Actor
    approve: bool
    reason: str | None = None


class Review(BaseModel):
    actor: Actor
    approve: bool
    reason: str | None = None


class RequestExtension(BaseModel):
    actor: Actor
    new_due: date
    reason: str


class DecideExtension(BaseModel):
    actor: Actor
    approve: bool
    reason: str = ""


class Reassign(BaseModel):
    actor: Actor
    unit: str


class Cancel(BaseModel):
    actor: Actor
    reason: str


class Withdrawal(BaseModel):
    """The task left its plan on a re-import: the task is cancelled by the system."""

    reason: str


class TaskSnapshot(BaseModel):
    """The whole state, as a query returns it, plus what is derived from the clock."""

    workflow_id: str
    state: TaskState
    overdue_days: int
    status_light: str
    next_alarm_at: datetime | None = None
    schedule: Schedule | None = None
    recorded_seq: int = Field(
        default=0, description="events up to this sequence number are in PostgreSQL"
    )

    def overdue_days_as_of(self, now: datetime) -> int:
        """Overdue days by the caller's clock: a query answers with the workflow's time of
        its last activation, which lags behind while the task sleeps."""
        return self.state.overdue_days(now)


class TaskProjection(BaseModel):
    """The row ``task_states`` holds for the API and the monthly notice."""

    plan_id: str
    task_id: str
    stage: Stage
    lead_unit: str | None
    cooperating_units: list[str]
    next_due: date | None
    next_due_at: datetime | None
    escalation_level: int
    extensions_granted: int
    progress_percent: int
    awaiting_reassignment: bool
    closed_at: datetime | None
    seq: int


class RecordEvents(BaseModel):
    workflow_id: str
    lineage: str = Field(
        default="",
        description="the first run id of the chain: stays across continue-as-new, is new "
        "when a withdrawn task comes back under the same workflow id",
    )
    events: list[TaskEvent]
    projection: TaskProjection


def projection_of(state: TaskState) -> TaskProjection:
    milestone = state.current_milestone
    return TaskProjection(
        plan_id=state.plan_id,
        task_id=state.task.id,
        stage=state.stage,
        lead_unit=state.lead_unit,
        cooperating_units=state.cooperating_units,
        next_due=milestone.due if milestone else None,
        next_due_at=milestone.due_at if milestone else None,
        escalation_level=state.escalation_level,
        extensions_granted=state.extensions_granted,
        progress_percent=state.progress_percent,
        awaiting_reassignment=state.awaiting_reassignment,
        closed_at=state.closed_at,
        seq=state.seq,
    )


def action_result(state: TaskState, message: str = "") -> dict[str, Any]:
    return ActionResult(stage=state.stage, seq=state.seq, message=message).model_dump(mode="json")
