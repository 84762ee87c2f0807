"""The task lifecycle as pure rules: who may do what in which stage, and what it changes.

交办 ASSIGNED → 承办 IN_PROGRESS → 会签 SIGNOFF → 审核 REVIEW → 办结 COMPLETED, and 撤销
CANCELLED from any open stage. TaskWorkflow holds a :class:`TaskState` and calls these
functions: ``check_*`` raise a :class:`LifecycleError` with a reason a person can read
(:class:`WrongStageError`, :class:`ActorNotAllowedError` or :class:`InvalidActionError`;
the update validators turn it into a rejection of that type, so nothing is recorded),
``apply_*`` change the state and return the events to record. Nothing here reads a clock
or a calendar: ``now`` is passed in (the workflow's time), and every instant that needs
working-day arithmetic was computed outside (see :mod:`domain.alarms`).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from domain.calendar import CalendarYears
from domain.plan import PlanTask

# One extension moves a deadline by at most this much (a longer delay is a change of plan),
# which also keeps every date the calendar is asked about within its range.
MAX_EXTENSION = timedelta(days=3 * 366)
TIMELINE_LIMIT = 200  # the full history lives in PostgreSQL; the workflow keeps the recent


class Stage(StrEnum):
    ASSIGNED = "assigned"  # 交办
    IN_PROGRESS = "in_progress"  # 承办
    SIGNOFF = "signoff"  # 会签
    REVIEW = "review"  # 审核
    COMPLETED = "completed"  # 办结
    CANCELLED = "cancelled"  # 撤销

    @property
    def label(self) -> str:
        return _STAGE_LABELS[self]

    @property
    def is_open(self) -> bool:
        return self not in {Stage.COMPLETED, Stage.CANCELLED}


_STAGE_LABELS = {
    Stage.ASSIGNED: "交办",
    Stage.IN_PROGRESS: "承办",
    Stage.SIGNOFF: "会签",
    Stage.REVIEW: "审核",
    Stage.COMPLETED: "办结",
    Stage.CANCELLED: "撤销",
}


class LifecycleError(ValueError):
    """An action that is not allowed now: wrong actor, wrong stage, or a bad payload.

    Checks raise one of the three subclasses, so a caller can tell them apart."""


class WrongStageError(LifecycleError):
    """The task's stage (or its state: closed, awaiting reassignment, already decided) does
    not allow the action now."""

    def __init__(self, message: str, stage: Stage) -> None:
        super().__init__(message)
        self.stage = stage

    def __reduce__(self) -> tuple[type[WrongStageError], tuple[str, Stage]]:
        return type(self), (str(self), self.stage)  # copies and pickles keep the stage


class ActorNotAllowedError(LifecycleError):
    """The actor may not take this action on this task: wrong role or wrong unit."""


class InvalidActionError(LifecycleError):
    """The action's payload is not acceptable: a missing reason, a bad date or percent, an
    extension past its limits."""


# ---------------------------------------------------------------- policy


class Offset(BaseModel):
    """A span counted in working days (Chinese calendar) and/or as a plain duration.

    Production policies speak in working days ("7 working days before the due date");
    tests on a real server use durations of seconds. Both may be set; they add up.
    """

    working_days: int = Field(default=0, ge=0)
    duration: timedelta = timedelta(0)

    @property
    def label(self) -> str:
        parts = []
        if self.working_days:
            parts.append(f"{self.working_days}wd")
        if self.duration:
            # Exact, so two offsets never share an alarm key (1.5 s is not 1.9 s).
            parts.append(f"{self.duration.total_seconds():g}s")
        return "+".join(parts) or "0"


class EscalationRung(BaseModel):
    """督办 after the due date: level 1 to the unit's leadership and the coordinator, …"""

    after_due: Offset
    level: int = Field(ge=1)
    recipients: list[str]


class Policy(BaseModel):
    """Per-plan timing rules; the defaults are the design brief's."""

    reminders_before_due: list[Offset] = Field(
        default_factory=lambda: [Offset(working_days=7), Offset(working_days=1)]
    )
    escalation: list[EscalationRung] = Field(
        default_factory=lambda: [
            EscalationRung(
                after_due=Offset(duration=timedelta(days=7)),
                level=1,
                recipients=["unit_leadership", "coordinator"],
            ),
            EscalationRung(
                after_due=Offset(duration=timedelta(days=30)),
                level=2,
                recipients=["government_office"],
            ),
        ]
    )
    unaccepted_reminder_after: Offset = Field(default_factory=lambda: Offset(working_days=3))
    progress_interval: Offset = Field(default_factory=lambda: Offset(duration=timedelta(days=30)))
    long_task_after: timedelta = Field(
        default=timedelta(days=45),
        description="a task due further than this from assignment owes monthly progress",
    )
    signoff_window: Offset = Field(default_factory=lambda: Offset(working_days=5))
    extension_notice: Offset = Field(default_factory=lambda: Offset(working_days=5))
    max_extensions: int = Field(default=2, ge=0)


# ---------------------------------------------------------------- state


class Actor(BaseModel):
    """Who acts: a coordinator, or a unit (lead or cooperating). The API authenticates it."""

    role: Literal["coordinator", "unit"]
    unit: str | None = None
    name: str = ""

    @field_validator("unit")
    @classmethod
    def _unit_named(cls, value: str | None) -> str | None:
        return value.strip() if value else value

    def describe(self) -> str:
        return self.unit or self.name or self.role


class MilestoneState(BaseModel):
    index: int
    due: date
    plan_due: date | None = Field(
        default=None, description="the date the plan document gives; extensions move ``due``"
    )
    escalation_level: int = 0
    due_at: datetime = Field(description="the end of the due day, Asia/Shanghai, as an instant")
    raw: str = ""
    submitted_at: datetime | None = None
    done_at: datetime | None = None
    extension_deadline: datetime | None = Field(
        default=None, description="the last instant an extension may be requested"
    )


class Signoff(BaseModel):
    unit: str
    decision: Literal["pending", "approved", "objected", "deemed"] = "pending"
    at: datetime | None = None
    reason: str | None = None
    window_ends: datetime | None = None


class ExtensionRequest(BaseModel):
    milestone: int
    requested_due: date
    reason: str
    requested_at: datetime
    requested_by: str


class Refusal(BaseModel):
    unit: str
    reason: str
    at: datetime


class TaskEvent(BaseModel):
    """One recorded fact: a transition, an escalation, a reminder. ``seq`` orders them."""

    seq: int
    kind: str
    at: datetime
    actor: Actor | None = None
    unit: str | None = Field(default=None, description="the unit the event concerns")
    stage_before: Stage | None = None
    stage_after: Stage | None = None
    milestone: int | None = None
    level: int | None = None
    recipients: list[str] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)


class TaskState(BaseModel):
    """Everything the workflow knows; carried whole across continue-as-new."""

    plan_id: str
    task: PlanTask
    policy: Policy = Field(default_factory=Policy)
    stage: Stage = Stage.ASSIGNED
    lead_unit: str | None = None
    cooperating_units: list[str] = Field(default_factory=list)
    awaiting_reassignment: bool = False
    milestones: list[MilestoneState] = Field(default_factory=list)
    ongoing: bool = False
    assigned_at: datetime
    accepted_at: datetime | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    progress_percent: int = 0
    last_progress_at: datetime | None = None
    last_progress_reminder_at: datetime | None = None
    last_submitted_at: datetime | None = None
    signoffs: list[Signoff] = Field(default_factory=list)
    pending_extension: ExtensionRequest | None = None
    extensions_granted: int = 0
    refusals: list[Refusal] = Field(default_factory=list)
    fired_alarms: list[str] = Field(default_factory=list)
    seq: int = 0
    timeline: list[TaskEvent] = Field(default_factory=list)
    applied_updates: dict[str, dict[str, Any]] = Field(default_factory=dict)
    calendar: CalendarYears | None = Field(
        default=None, description="the holiday calendar's years this task's alarms need"
    )

    @property
    def current_milestone(self) -> MilestoneState | None:
        return next((m for m in self.milestones if m.done_at is None), None)

    @property
    def escalation_level(self) -> int:
        """The 督办 level reached on the current milestone (each milestone has its own)."""
        milestone = self.current_milestone
        return milestone.escalation_level if milestone else 0

    def overdue_days(self, now: datetime) -> int:
        milestone = self.current_milestone
        if milestone is None or not self.stage.is_open or now <= milestone.due_at:
            return 0
        return (now - milestone.due_at).days + 1

    def status_light(self, now: datetime, yellow_from: datetime | None) -> str:
        """red: overdue; yellow: due within three working days (from ``yellow_from``, the
        morning three working days before the due date, computed outside); green otherwise.
        The projection's list works the light out the same way (store.task_reads)."""
        if not self.stage.is_open:
            return "none"
        milestone = self.current_milestone
        if milestone is None:
            return "green"
        if now > milestone.due_at:
            return "red"
        if yellow_from is not None and now >= yellow_from:
            return "yellow"
        return "green"


def record(
    state: TaskState,
    kind: str,
    now: datetime,
    *,
    actor: Actor | None = None,
    unit: str | None = None,
    stage_before: Stage | None = None,
    milestone: int | None = None,
    level: int | None = None,
    recipients: list[str] | None = None,
    **detail: Any,
) -> TaskEvent:
    """Append an event to the state's timeline with the next sequence number."""
    state.seq += 1
    event = TaskEvent(
        seq=state.seq,
        kind=kind,
        at=now,
        actor=actor,
        unit=unit,
        stage_before=stage_before,
        stage_after=state.stage,
        milestone=milestone,
        level=level,
        recipients=recipients or [],
        detail=detail,
    )
    state.timeline.append(event)
    del state.timeline[:-TIMELINE_LIMIT]
    return event


# ---------------------------------------------------------------- checks


def _require_open(state: TaskState) -> None:
    if not state.stage.is_open:
        raise WrongStageError(
            f"the task is {state.stage.value} ({state.stage.label}); it is closed", state.stage
        )


def _require_stage(state: TaskState, *stages: Stage) -> None:
    if state.stage not in stages:
        wanted = " or ".join(f"{stage.value} ({stage.label})" for stage in stages)
        raise WrongStageError(
            f"the task is {state.stage.value} ({state.stage.label}); this needs {wanted}",
            state.stage,
        )


def _require_lead(state: TaskState, actor: Actor) -> None:
    if actor.role != "unit" or actor.unit is None or actor.unit != state.lead_unit:
        raise ActorNotAllowedError(
            f"only the lead unit (牵头单位) {state.lead_unit or '(none assigned)'} may do this"
        )


def _require_coordinator(actor: Actor) -> None:
    if actor.role != "coordinator":
        raise ActorNotAllowedError("only the coordinator may do this")


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _require_clean(*texts: str | None) -> None:
    """Text that PostgreSQL and every channel can carry: no NUL or other control bytes."""
    for text in texts:
        if text and CONTROL_CHARACTERS.search(text):
            raise InvalidActionError("the text contains control characters; remove them")


def _require_reason(reason: str) -> None:
    _require_clean(reason)
    if not reason.strip():
        raise InvalidActionError("a reason is required")


def check_accept(state: TaskState, actor: Actor) -> None:
    _require_stage(state, Stage.ASSIGNED)
    if state.awaiting_reassignment:
        raise WrongStageError(
            "the task was returned (退回交办) and awaits reassignment", state.stage
        )
    _require_lead(state, actor)


def check_refuse(state: TaskState, actor: Actor, reason: str) -> None:
    check_accept(state, actor)
    _require_reason(reason)


def check_progress(state: TaskState, actor: Actor, percent: int, text: str) -> None:
    _require_stage(state, Stage.IN_PROGRESS)
    _require_lead(state, actor)
    if not 0 <= percent <= 100:
        raise InvalidActionError("percent must be between 0 and 100")
    if percent < state.progress_percent:
        raise InvalidActionError(f"progress cannot go back from {state.progress_percent}%")
    if not text.strip():
        raise InvalidActionError("a progress report needs a text")
    _require_clean(text)


def check_submit(state: TaskState, actor: Actor, summary: str) -> None:
    _require_stage(state, Stage.IN_PROGRESS)
    _require_lead(state, actor)
    if not summary.strip():
        raise InvalidActionError("a submission needs a summary of what was done")
    _require_clean(summary)


def check_signoff(state: TaskState, actor: Actor, approve: bool, reason: str | None) -> None:
    _require_stage(state, Stage.SIGNOFF)
    if actor.role != "unit" or actor.unit is None:
        raise ActorNotAllowedError("only a cooperating unit (配合单位) may sign off")
    signoff = next((s for s in state.signoffs if s.unit == actor.unit), None)
    if signoff is None:
        raise ActorNotAllowedError(f"{actor.unit} is not a cooperating unit of this task")
    if signoff.decision != "pending":
        raise WrongStageError(f"{actor.unit} already decided ({signoff.decision})", state.stage)
    if not approve:
        _require_reason(reason or "")


def check_review(state: TaskState, actor: Actor, approve: bool, reason: str | None) -> None:
    _require_stage(state, Stage.REVIEW)
    _require_coordinator(actor)
    if not approve:
        _require_reason(reason or "")


def check_request_extension(
    state: TaskState, actor: Actor, requested_due: date, reason: str, now: datetime
) -> None:
    _require_open(state)
    _require_stage(state, Stage.ASSIGNED, Stage.IN_PROGRESS)
    if state.awaiting_reassignment:
        raise WrongStageError(
            "the task was returned (退回交办) and awaits reassignment", state.stage
        )
    _require_lead(state, actor)
    _require_reason(reason)
    milestone = state.current_milestone
    if milestone is None:
        raise InvalidActionError("the task has no open deadline to extend")
    if milestone.extension_deadline is None:
        raise InvalidActionError("the task's deadlines are being recalculated; try again shortly")
    if state.pending_extension is not None:
        raise InvalidActionError("an extension request is already waiting for a decision")
    if state.extensions_granted >= state.policy.max_extensions:
        raise InvalidActionError(
            f"the task already had {state.extensions_granted} extensions, the most allowed"
        )
    if now > milestone.due_at:
        raise InvalidActionError(
            f"the due date {milestone.due.isoformat()} has passed: an extension can no longer "
            "be requested and the task stays overdue"
        )
    if now > milestone.extension_deadline:
        raise InvalidActionError(
            "extensions must be requested at least "
            f"{state.policy.extension_notice.label} before the due date "
            f"({milestone.due.isoformat()})"
        )
    if requested_due <= milestone.due:
        raise InvalidActionError(f"the new date must be after {milestone.due.isoformat()}")
    if requested_due > milestone.due + MAX_EXTENSION:
        raise InvalidActionError(
            f"an extension moves the due date by at most {MAX_EXTENSION.days} days "
            f"(to {(milestone.due + MAX_EXTENSION).isoformat()}); a longer delay is a change "
            "of plan for the coordinator"
        )


def check_decide_extension(state: TaskState, actor: Actor, approve: bool, reason: str) -> None:
    _require_open(state)
    _require_coordinator(actor)
    if state.pending_extension is None:
        raise InvalidActionError("no extension request is waiting")
    if not approve:
        _require_reason(reason)


def check_reassign(state: TaskState, actor: Actor, unit: str) -> None:
    _require_open(state)
    _require_stage(state, Stage.ASSIGNED, Stage.IN_PROGRESS)
    _require_coordinator(actor)
    if not unit.strip():
        raise InvalidActionError("name the unit that takes the lead")
    # The name becomes the lead as given: a stray space or control character would make a
    # second unit that no token names and every count splits over.
    _require_clean(unit)
    if unit != unit.strip():
        raise InvalidActionError(f"the unit name {unit!r} has spaces around it")
    if unit == state.lead_unit and not state.awaiting_reassignment:
        raise InvalidActionError(f"{unit} already leads this task")


def check_cancel(state: TaskState, actor: Actor, reason: str) -> None:
    _require_open(state)
    _require_coordinator(actor)
    _require_reason(reason)


# ---------------------------------------------------------------- transitions


def _advance(state: TaskState, stage: Stage) -> Stage:
    before = state.stage
    state.stage = stage
    return before


def apply_accept(state: TaskState, actor: Actor, now: datetime) -> list[TaskEvent]:
    before = _advance(state, Stage.IN_PROGRESS)
    state.accepted_at = now
    return [record(state, "accepted", now, actor=actor, unit=actor.unit, stage_before=before)]


def apply_refuse(state: TaskState, actor: Actor, reason: str, now: datetime) -> list[TaskEvent]:
    state.awaiting_reassignment = True
    state.refusals.append(Refusal(unit=actor.unit or "", reason=reason, at=now))
    return [
        record(
            state,
            "refused",
            now,
            actor=actor,
            unit=actor.unit,
            stage_before=state.stage,
            recipients=["coordinator"],
            reason=reason,
        )
    ]


def apply_progress(
    state: TaskState, actor: Actor, percent: int, text: str, evidence: list[str], now: datetime
) -> list[TaskEvent]:
    state.progress_percent = percent
    state.last_progress_at = now
    return [
        record(
            state,
            "progress",
            now,
            actor=actor,
            unit=actor.unit,
            stage_before=state.stage,
            percent=percent,
            text=text,
            evidence=evidence,
        )
    ]


def apply_submit(
    state: TaskState, actor: Actor, summary: str, evidence: list[str], now: datetime
) -> list[TaskEvent]:
    milestone = state.current_milestone
    if milestone is not None:
        milestone.submitted_at = now
    state.last_submitted_at = now
    state.signoffs = [Signoff(unit=unit) for unit in state.cooperating_units]
    target = Stage.SIGNOFF if state.signoffs else Stage.REVIEW
    before = _advance(state, target)
    return [
        record(
            state,
            "submitted",
            now,
            actor=actor,
            unit=actor.unit,
            stage_before=before,
            milestone=milestone.index if milestone else None,
            recipients=list(state.cooperating_units) or ["coordinator"],
            summary=summary,
            evidence=evidence,
        )
    ]


def _close_signoff_if_decided(state: TaskState, now: datetime) -> list[TaskEvent]:
    if any(s.decision == "pending" for s in state.signoffs):
        return []
    before = _advance(state, Stage.REVIEW)
    return [record(state, "signoff_complete", now, stage_before=before, recipients=["coordinator"])]


def apply_signoff(
    state: TaskState, actor: Actor, approve: bool, reason: str | None, now: datetime
) -> list[TaskEvent]:
    signoff = next(s for s in state.signoffs if s.unit == actor.unit)
    signoff.decision = "approved" if approve else "objected"
    signoff.at = now
    signoff.reason = reason
    if not approve:
        before = _advance(state, Stage.IN_PROGRESS)
        return [
            record(
                state,
                "objected",
                now,
                actor=actor,
                unit=actor.unit,
                stage_before=before,
                recipients=[state.lead_unit] if state.lead_unit else [],
                reason=reason,
            )
        ]
    events = [
        record(state, "signed_off", now, actor=actor, unit=actor.unit, stage_before=state.stage)
    ]
    return events + _close_signoff_if_decided(state, now)


def apply_deemed_consent(state: TaskState, unit: str, now: datetime) -> list[TaskEvent]:
    """A cooperating unit stayed silent past its window: consent, recorded against it."""
    signoff = next(s for s in state.signoffs if s.unit == unit)
    signoff.decision = "deemed"
    signoff.at = now
    events = [
        record(
            state,
            "deemed_consent",
            now,
            unit=unit,
            stage_before=state.stage,
            recipients=[unit],
            window_ends=signoff.window_ends.isoformat() if signoff.window_ends else None,
        )
    ]
    return events + _close_signoff_if_decided(state, now)


def apply_review(
    state: TaskState, actor: Actor, approve: bool, reason: str | None, now: datetime
) -> list[TaskEvent]:
    milestone = state.current_milestone
    if not approve:
        before = _advance(state, Stage.IN_PROGRESS)
        return [
            record(
                state,
                "returned",
                now,
                actor=actor,
                unit=state.lead_unit,
                stage_before=before,
                milestone=milestone.index if milestone else None,
                recipients=[state.lead_unit] if state.lead_unit else [],
                reason=reason,
            )
        ]
    events: list[TaskEvent] = []
    if milestone is not None:
        milestone.done_at = now
        on_time = milestone.submitted_at is not None and milestone.submitted_at <= milestone.due_at
        events.append(
            record(
                state,
                "milestone_done",
                now,
                actor=actor,
                unit=state.lead_unit,
                stage_before=state.stage,
                milestone=milestone.index,
                on_time=on_time,
            )
        )
    if state.current_milestone is None:
        before = _advance(state, Stage.COMPLETED)
        state.closed_at = now
        events.append(
            record(
                state,
                "completed",
                now,
                actor=actor,
                unit=state.lead_unit,
                stage_before=before,
                recipients=[u for u in [state.lead_unit, *state.cooperating_units] if u],
            )
        )
    else:
        _advance(state, Stage.IN_PROGRESS)
        state.progress_percent = 0
    return events


def apply_request_extension(
    state: TaskState, actor: Actor, requested_due: date, reason: str, now: datetime
) -> list[TaskEvent]:
    milestone = state.current_milestone
    assert milestone is not None  # checked
    state.pending_extension = ExtensionRequest(
        milestone=milestone.index,
        requested_due=requested_due,
        reason=reason,
        requested_at=now,
        requested_by=actor.unit or "",
    )
    return [
        record(
            state,
            "extension_requested",
            now,
            actor=actor,
            unit=actor.unit,
            stage_before=state.stage,
            milestone=milestone.index,
            recipients=["coordinator"],
            requested_due=requested_due.isoformat(),
            reason=reason,
        )
    ]


def apply_decide_extension(
    state: TaskState,
    actor: Actor,
    approve: bool,
    reason: str,
    new_due_at: datetime | None,
    now: datetime,
) -> list[TaskEvent]:
    """``new_due_at`` is the end of the requested day as an instant, computed outside."""
    request = state.pending_extension
    assert request is not None  # checked
    state.pending_extension = None
    milestone = state.milestones[request.milestone]
    if approve:
        old_due = milestone.due
        milestone.due = request.requested_due
        if new_due_at is not None:
            milestone.due_at = new_due_at
        milestone.extension_deadline = None  # recomputed with the new date
        milestone.escalation_level = 0  # a new deadline starts a new ladder
        state.extensions_granted += 1
    return [
        record(
            state,
            "extension_granted" if approve else "extension_rejected",
            now,
            actor=actor,
            unit=request.requested_by,
            stage_before=state.stage,
            milestone=request.milestone,
            recipients=[request.requested_by],
            requested_due=request.requested_due.isoformat(),
            old_due=old_due.isoformat() if approve else None,
            reason=reason,
        )
    ]


def apply_reassign(
    state: TaskState,
    actor: Actor,
    unit: str,
    now: datetime,
    *,
    lapse_extension_request: bool = True,
) -> list[TaskEvent]:
    """The new lead starts at 交办. The former lead's extension request lapses with its lead:
    left waiting, it would block the new lead's own request and its decision would go to a
    unit that no longer leads (``lapse_extension_request=False`` only replays histories
    from before that rule)."""
    previous = state.lead_unit
    state.lead_unit = unit
    state.cooperating_units = [u for u in state.cooperating_units if u != unit]
    state.awaiting_reassignment = False
    state.assigned_at = now
    state.accepted_at = None
    lapsed = state.pending_extension if lapse_extension_request else None
    if lapsed is not None:
        state.pending_extension = None
    before = _advance(state, Stage.ASSIGNED)
    detail: dict[str, Any] = {"previous_lead": previous}
    if lapsed is not None:
        detail["lapsed_extension_request"] = lapsed.requested_due.isoformat()
    return [
        record(
            state,
            "reassigned",
            now,
            actor=actor,
            unit=unit,
            stage_before=before,
            recipients=[unit],
            **detail,
        )
    ]


def apply_cancel(state: TaskState, actor: Actor, reason: str, now: datetime) -> list[TaskEvent]:
    before = _advance(state, Stage.CANCELLED)
    state.closed_at = now
    state.close_reason = reason
    recipients = [u for u in [state.lead_unit, *state.cooperating_units] if u]
    return [
        record(
            state,
            "cancelled",
            now,
            actor=actor,
            unit=state.lead_unit,
            stage_before=before,
            recipients=recipients,
            reason=reason,
        )
    ]
