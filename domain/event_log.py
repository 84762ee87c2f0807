"""A task's state folded from its recorded event log (task_events), without the workflow.

The workflow is the source of truth while it runs; the event log is what PostgreSQL keeps
for good. :func:`fold_events` replays the log's facts in sequence order to the state a
reader needs (stage, lead unit 牵头单位, cooperating units 配合单位, 督办 level, progress,
extensions, closure), so the projection in ``task_states`` can be checked against the log
and a past month's state can be read back from it (``as_of``).

The events name the lead unit at 交办 but not the cooperating units nor the milestones'
plan dates: those come from the task as it was assigned (:class:`Assignment`, from the
plan's row or the workflow's start input). Without them the fold still gives everything
else. What the log cannot give at all:

* ``next_due_at``: the instant a milestone is due is the end of its day in production, but
  a test clock or a simulation sets it as workflow input, and no event records it;
* ``yellow_from``: counted in working days over the holiday calendar the workflow read,
  which no event records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from domain.lifecycle import Stage, TaskEvent
from domain.plan import PlanTask

ALARM_KINDS = frozenset(
    {"reminder", "urge", "escalation", "unaccepted_reminder", "progress_reminder"}
)
_MOVE = "→"
# The kinds whose facts the fold reads (beside every event's stage after and sequence
# number, and ALARM_KINDS it only counts).
FOLDED_KINDS = frozenset(
    {
        "assigned",
        "refused",
        "reassigned",
        "progress",
        "escalation",
        "extension_granted",
        "revised",
        "milestone_done",
        "completed",
        "cancelled",
    }
)


def cooperating_at_assignment(task: PlanTask) -> list[str]:
    """A task's cooperating units at 交办: co-leads after the first count as cooperating."""
    return list(Assignment.of_units(task.lead_units, task.cooperating_units, ()).cooperating_units)


@dataclass(frozen=True)
class Assignment:
    """What a task was given at 交办 beyond what its ``assigned`` event says."""

    cooperating_units: tuple[str, ...] = ()
    plan_dues: tuple[date, ...] | None = None

    @classmethod
    def of_task(cls, task: PlanTask) -> Assignment:
        return cls.of_units(
            task.lead_units, task.cooperating_units, [m.due for m in task.milestones]
        )

    @classmethod
    def of_units(
        cls, lead_units: Sequence[str], cooperating_units: Sequence[str], plan_dues: Iterable[date]
    ) -> Assignment:
        """From a task's columns as imported (what the notice reads of ``plan_tasks``)."""
        return cls(
            cooperating_units=(*lead_units[1:], *cooperating_units), plan_dues=tuple(plan_dues)
        )


@dataclass
class _Milestone:
    plan_due: date
    due: date
    done: bool = False


@dataclass
class FoldedTask:
    """A task's state as its event log tells it."""

    seq: int = 0
    stage: Stage = Stage.ASSIGNED
    lead_unit: str | None = None
    cooperating_units: list[str] | None = field(default=None)
    awaiting_reassignment: bool = False
    milestones_done: int = 0
    escalation_level: int = 0
    progress_percent: int = 0
    extensions_granted: int = 0
    closed_at: datetime | None = None
    next_due: date | None = None
    alarms: int = 0


class EventLogError(ValueError):
    """The log cannot be folded: it does not start at 交办, or a sequence number is missing
    or repeated."""


class LoggedEvent(Protocol):
    """What the fold reads of an event: a :class:`TaskEvent`, or a leaner row with the same
    attributes (the monthly notice reads a million of them)."""

    @property
    def seq(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def stage_after(self) -> Stage | None: ...
    @property
    def milestone(self) -> int | None: ...
    @property
    def level(self) -> int | None: ...
    @property
    def detail(self) -> Mapping[str, Any]: ...


def fold_events(
    events: Iterable[LoggedEvent],
    assignment: Assignment | None = None,
    *,
    as_of: datetime | None = None,
) -> FoldedTask:
    """Fold one lineage's events (one run chain of one workflow) in sequence order.

    ``as_of`` keeps only the events recorded at or before that instant. Without an
    ``assignment`` the cooperating units and the next due date are left unknown (None).
    """
    ordered = sorted(events, key=lambda event: event.seq)
    if as_of is not None:
        ordered = [event for event in ordered if event.at <= as_of]
    fold = EventFold(assignment)
    for expected, event in enumerate(ordered, start=1):
        if event.seq != expected:
            raise EventLogError(f"event {expected} is missing (found {event.seq} in its place)")
        if expected == 1 and event.kind != "assigned":
            raise EventLogError(f"the log starts with {event.kind!r}, not 'assigned' (交办)")
        fold.apply(event)
    return fold.result()


class EventFold:
    """The fold one event at a time, so a reader can take the state at several instants in
    one pass (:meth:`result` after the last event of each). :func:`fold_events` checks the
    sequence; ``apply`` trusts its caller to feed one lineage's events in order."""

    __slots__ = ("_folded", "_levels", "_milestones", "_progress_before_review")

    def __init__(self, assignment: Assignment | None = None) -> None:
        self._folded = folded = FoldedTask()
        if assignment is not None:
            folded.cooperating_units = list(assignment.cooperating_units)
        self._milestones = (
            [_Milestone(plan_due=due, due=due) for due in assignment.plan_dues]
            if assignment is not None and assignment.plan_dues is not None
            else None
        )
        # 督办 is counted per milestone: each milestone has its own ladder, and a new due
        # date (extension or revision) starts it again.
        self._levels: dict[int, int] = {}
        self._progress_before_review = 0

    def apply(self, event: LoggedEvent) -> None:
        folded, levels, milestones = self._folded, self._levels, self._milestones
        folded.seq = event.seq
        if event.stage_after is not None:
            folded.stage = event.stage_after
        kind = event.kind
        if kind in ALARM_KINDS:
            folded.alarms += 1
        if kind == "assigned":
            folded.lead_unit = event.unit
            folded.awaiting_reassignment = event.unit is None
        elif kind == "refused":
            folded.awaiting_reassignment = True
        elif kind == "reassigned":
            folded.lead_unit = event.unit
            folded.awaiting_reassignment = False
            if folded.cooperating_units is not None:
                folded.cooperating_units = [u for u in folded.cooperating_units if u != event.unit]
        elif kind == "progress":
            folded.progress_percent = int(event.detail.get("percent", folded.progress_percent))
        elif kind == "escalation" and event.milestone is not None and event.level is not None:
            levels[event.milestone] = max(levels.get(event.milestone, 0), event.level)
        elif kind == "extension_granted" and event.milestone is not None:
            folded.extensions_granted += 1
            levels[event.milestone] = 0
            if milestones is not None and event.milestone < len(milestones):
                milestones[event.milestone].due = date.fromisoformat(
                    str(event.detail["requested_due"])
                )
        elif kind == "revised":
            moved = _revised_milestones(event, milestones)
            if moved is None:
                levels.clear()
            for index in moved or ():
                levels[index] = 0
        elif kind == "milestone_done":
            folded.milestones_done += 1
            if milestones is not None and event.milestone is not None:
                milestones[event.milestone].done = True
            # The next milestone starts at 承办 from 0%, unless this was the last (办结
            # follows, and keeps the percent). The event's own stage_after says 审核: it is
            # recorded before the task moves on, and no event records that move.
            self._progress_before_review, folded.progress_percent = folded.progress_percent, 0
            folded.stage = Stage.IN_PROGRESS
        elif kind == "completed":
            folded.progress_percent = self._progress_before_review
        if kind in {"completed", "cancelled"}:
            folded.closed_at = event.at

    @property
    def next_due(self) -> date | None:
        """The due date of the first milestone not yet done (None without plan dates)."""
        if self._milestones is None:
            return None
        return next((m.due for m in self._milestones if not m.done), None)

    def result(self) -> FoldedTask:
        """The state after the events applied so far (a copy: the fold can go on)."""
        # A shallow copy (dataclasses.replace costs ten times more, over 200,000 folds).
        folded = object.__new__(FoldedTask)
        folded.__dict__.update(self._folded.__dict__)
        if folded.cooperating_units is not None:
            folded.cooperating_units = list(folded.cooperating_units)
        # Milestones are reviewed in order, so the current one is the first not yet done; a
        # completed task has none (a cancelled one keeps the milestone it stopped on).
        if folded.stage is not Stage.COMPLETED:
            folded.escalation_level = self._levels.get(folded.milestones_done, 0)
        folded.next_due = self.next_due
        return folded


def _revised_milestones(
    event: LoggedEvent, milestones: list[_Milestone] | None
) -> list[int] | None:
    """The milestones a revision moved (None: some, which is not known), and move them.

    The ``revised`` event lists "old→new" for each open milestone whose plan date changed,
    in milestone order; the old date is the plan date, so the list is matched against the
    plan dates in the same order. Without plan dates a move cannot be placed, and every
    open milestone is taken to have moved (exact for the usual one-deadline task).
    """
    moves = [str(move) for move in event.detail.get("due_dates_moved") or []]
    if not moves:
        return []
    if milestones is None:
        return None
    moved: list[int] = []
    pending = list(moves)
    for index, milestone in enumerate(milestones):
        if milestone.done or not pending:
            continue
        old, _, new = pending[0].partition(_MOVE)
        if old == milestone.plan_due.isoformat():
            pending.pop(0)
            milestone.due = milestone.plan_due = date.fromisoformat(new)
            moved.append(index)
    return moved


def alarm_identity(event: TaskEvent) -> tuple[str, int | None, int | None, str | None] | None:
    """What makes an alarm event the same alarm: its kind, milestone, rung and the instant
    it was scheduled for; None for an event that is not an alarm."""
    if event.kind not in ALARM_KINDS:
        return None
    scheduled = event.detail.get("scheduled_for")
    return (event.kind, event.milestone, event.level, str(scheduled) if scheduled else None)


def repeated_alarms(events: Sequence[TaskEvent]) -> list[TaskEvent]:
    """Alarm events that repeat an earlier one of the same lineage (each fires once)."""
    seen: set[tuple[str, int | None, int | None, str | None]] = set()
    repeats: list[TaskEvent] = []
    for event in sorted(events, key=lambda e: e.seq):
        identity = alarm_identity(event)
        if identity is None:
            continue
        if identity in seen:
            repeats.append(event)
        seen.add(identity)
    return repeats
