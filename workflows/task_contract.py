"""What crosses TaskWorkflow's boundary: its input, its actions, its activities' names.

The API, the command line, the simulator and the tests all speak to a task through these
models, so each has one definition. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from temporalio.common import SearchAttributeKey

from domain.alarms import Schedule
from domain.lifecycle import Actor, Policy, Stage, TaskEvent, TaskState
from domain.plan import PlanTask

RECORD_TASK_EVENTS = "record_task_events"
READ_WORKING_CALENDAR = "read_working_calendar"
# Signal: record the task's state now (the operator's step after a workflow reset).
RESYNC_PROJECTION_SIGNAL = "resync_projection"

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
    # Off under payload encryption: a search attribute is indexed in clear, and the lead
    # unit (牵头单位) is what encryption keeps from Temporal's readers.
    index_lead_unit: bool = True
    clock_offset: timedelta = Field(
        default=timedelta(0),
        description="simulation only: how far the plan's calendar runs behind the server's",
    )
    continue_as_new_after_events: int = Field(default=10_000, ge=100)
    state: TaskState | None = None


class CalendarSpan(BaseModel):
    first_year: int
    last_year: int


class ActionResult(BaseModel):
    """What every action returns: where the task stands now."""

    stage: Stage
    seq: int
    message: str = ""


class AppliedUpdate(BaseModel):
    """What a task remembers of an applied request, under its idempotency key."""

    update: str = Field(description="the update's name, e.g. accept")
    fingerprint: str | None = Field(
        default=None, description="of the request's content, when the caller sent one"
    )
    result: ActionResult


# `{idempotency key}#{16 hex digits}`: see action_update_id.
_FINGERPRINTED_ID = re.compile(r"^(?P<key>.+)#(?P<fingerprint>[0-9a-f]{16})$", re.DOTALL)


def action_update_id(idempotency_key: str, update: str, action: BaseModel) -> str:
    """The Temporal update id for a caller's request under its Idempotency-Key.

    Temporal deduplicates updates by id within a run and answers a repeat with the first
    result whatever the repeat asked for. The fingerprint of the request in the id keeps
    that for true retries, while a different request under the same key gets another id,
    reaches the task, and is rejected there as a reused key.
    """
    content = f"{update}\n{action.model_dump_json()}".encode()
    return f"{idempotency_key}#{hashlib.sha256(content).hexdigest()[:16]}"


def parse_update_id(update_id: str) -> tuple[str, str | None]:
    """(idempotency key, fingerprint) of an update id; an id without a fingerprint (an
    internal caller, or a client that does not use action_update_id) is its own key."""
    match = _FINGERPRINTED_ID.match(update_id)
    if match is None:
        return update_id, None
    return match["key"], match["fingerprint"]


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
    yellow_from: datetime | None = Field(
        default=None,
        description="the instant from which the current milestone shows yellow (due within "
        "three working days); None when there is no current milestone",
    )


class RecordEvents(BaseModel):
    workflow_id: str
    lineage: str = Field(
        default="",
        description="the first run id of the chain: stays across continue-as-new, is new "
        "when a withdrawn task comes back under the same workflow id",
    )
    run_id: str = Field(
        default="",
        description="the run that sends the batch: a reset run keeps its lineage but not "
        "its run id. Empty: the recorder takes the calling activity's run",
    )
    sent_at: datetime | None = Field(
        default=None,
        description="the workflow's clock as it sent the batch: orders runs, since a reset "
        "run and a continued or re-added one send after every batch of the run before "
        "them. None: the recorder takes the activity's scheduled time",
    )
    events: list[TaskEvent]
    projection: TaskProjection


def projection_of(state: TaskState, yellow_from: datetime | None = None) -> TaskProjection:
    """The row for ``task_states``; ``yellow_from`` comes from the task's schedule, which
    the state does not hold."""
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
        yellow_from=yellow_from if milestone else None,
    )


def action_result(state: TaskState, message: str = "") -> dict[str, Any]:
    return ActionResult(stage=state.stage, seq=state.seq, message=message).model_dump(mode="json")
