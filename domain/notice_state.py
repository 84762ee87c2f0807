"""The monthly notice's arithmetic (一月一通报): every task's standing at a month's end, folded
from the recorded event log, and the notice built from them. Pure: no I/O, no Temporal.

Definitions (``as_of`` is the month's last instant in Asia/Shanghai; "the due date" is the
current milestone's date in force at ``as_of``, extensions and revisions applied):

* 按期完成 COMPLETED_ON_TIME: closed by 办结 at or before ``as_of``, and every milestone was
  submitted by its due date (the lifecycle's own ``on_time`` on each ``milestone_done``).
* 逾期完成 COMPLETED_LATE: closed by 办结, some milestone submitted after its due date.
* 已撤销 CANCELLED: closed by 撤销.
* 逾期 OVERDUE: open, and ``as_of`` falls after the due date's day. This wins over every
  other open status: a task past its date is 逾期 whatever it waits for.
* 退回待交办 REFUSED: open, not overdue, refused by its lead unit and not yet reassigned.
* 未签收 NOT_ACCEPTED: open, not overdue, still at 交办 (assigned, not accepted).
* 滞后 BEHIND: open, accepted, not overdue, and the last reported progress is below the
  share of its period elapsed by more than ``behind_margin`` (default 0.1): the period runs
  from the task's first 交办 to the end of its due day, so ``progress/100 < elapsed −
  margin``. A task with no due date (ongoing) is never behind.
* 序时推进 ON_SCHEDULE: any other open task.

Lights (:class:`LightPolicy`, per plan, defaults in brackets): none for a closed task; red
when overdue; yellow when behind (``behind_is_yellow`` [True]) or due within
``yellow_within_days`` [3] calendar days of the month end; green otherwise.

A unit's row (分单位情况) counts the tasks it leads at ``as_of``; its 退回 are the refusals it
made, its 视为同意 the sign-offs it let lapse, on any task. Rows are ranked by completion
rate (higher first), then fewer overdue, then fewer behind, then unit name; ranks are
1..n with no ties. A unit is silent (未报送进展) when it leads an open task not awaiting
reassignment and reported progress on none of its tasks during the month.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypedDict, Unpack

from domain.calendar import SHANGHAI
from domain.event_log import FOLDED_KINDS, Assignment, EventFold, LoggedEvent
from domain.lifecycle import Stage
from domain.notice import (
    Notice,
    NoticeChanges,
    NoticeStatus,
    NoticeTotals,
    TaskStanding,
    UnitStanding,
)
from domain.plan import PlanTask

DEFAULT_BEHIND_MARGIN = 0.1
DEFAULT_OFFICE = "督查室"
DEFAULT_ADDRESSEES = "各县区人民政府，市政府各部门："
DEFAULT_REQUIREMENTS = (
    "一是对滞后、逾期事项开展“回头看”，逐项明确整改措施和完成时限；"
    "二是对连续逾期的事项挂牌督办，必要时约谈责任单位主要负责人；"
    "三是各牵头单位按月报送进展情况，直至办结销号。"
)
_OPEN_STATUSES = {
    NoticeStatus.ON_SCHEDULE,
    NoticeStatus.BEHIND,
    NoticeStatus.OVERDUE,
    NoticeStatus.NOT_ACCEPTED,
    NoticeStatus.REFUSED,
}


class NoticeMonthError(ValueError):
    """A month that is not YYYY-MM."""


@dataclass(frozen=True)
class LightPolicy:
    """How an open task's light is chosen at the month end (per plan)."""

    yellow_within_days: int = 3
    behind_is_yellow: bool = True


@dataclass(slots=True)
class NoticeTask:
    """A plan's task as imported, with the plan it belongs to: what the notice reads of it
    (its number, text, and what it was given at 交办)."""

    plan_id: str
    workflow_id: str
    task_id: str
    text: str
    assignment: Assignment
    plan_title: str = ""

    @classmethod
    def of_task(
        cls, plan_id: str, workflow_id: str, task: PlanTask, plan_title: str = ""
    ) -> NoticeTask:
        return cls(plan_id, workflow_id, task.id, task.text, Assignment.of_task(task), plan_title)


@dataclass(slots=True)
class StandingFacts:
    """What a task's event log says of it at a month's end, before any setting is applied:
    the office's 滞后 margin and each plan's light rule turn these into a status and a light
    (:func:`_judged`). Stored per month as the notice's checkpoint (``notice_facts``), so a
    past month's notice is read back instead of folded again; the fold and the checkpoint
    give the same facts, and the notice is built from facts either way.

    ``due`` is the due date in force at the month end (for a completed task, the one in
    force when its last milestone was reviewed); ``first_at`` the instant of its 交办;
    ``late`` whether a milestone was submitted after its due date; ``reporters_this_month``
    the units that reported progress during the month, sorted.

    The task's identity (plan, workflow id, number, text) comes along, so that a notice is
    built from its facts alone. Not frozen, though never changed once made: a frozen
    dataclass costs three times as much to build, and a notice builds 100,000.
    """

    plan_id: str
    workflow_id: str
    task_id: str
    text: str
    stage: Stage
    lead_unit: str | None
    cooperating_units: tuple[str, ...]
    awaiting_reassignment: bool
    progress_percent: int
    escalation_level: int
    due: date | None
    first_at: datetime
    completed_at: datetime | None
    late: bool
    last_progress_text: str | None
    escalations: int
    refusals_by: tuple[str, ...]
    deemed_by: tuple[str, ...]
    reporters_this_month: tuple[str, ...]
    extension_this_month: bool

    def concerns(self, unit: str) -> bool:
        """Whether ``unit`` leads the task or cooperates on it at the month end."""
        return self.lead_unit == unit or unit in self.cooperating_units

    def is_completed(self) -> bool:
        return self.stage is Stage.COMPLETED

    def is_overdue(self, as_of_day: date) -> bool:
        """逾期 (whatever else it waits for): open and past its due date's day."""
        return self.stage not in _CLOSED_STAGES and self.due is not None and as_of_day > self.due


_CLOSED_STAGES = frozenset({Stage.COMPLETED, Stage.CANCELLED})


@dataclass(slots=True)
class PreviousStanding:
    """What a notice reads of a task at the previous month's end: whom it concerned, and
    whether it was completed or overdue then (its changes: 新办结, 新逾期). Neither depends
    on a setting."""

    workflow_id: str
    lead_unit: str | None
    cooperating_units: tuple[str, ...]
    completed: bool
    overdue: bool

    @classmethod
    def of_facts(cls, facts: StandingFacts, as_of: datetime) -> PreviousStanding:
        return cls(
            facts.workflow_id,
            facts.lead_unit,
            facts.cooperating_units,
            facts.is_completed(),
            facts.is_overdue(as_of.astimezone(SHANGHAI).date()),
        )

    def concerns(self, unit: str) -> bool:
        return self.lead_unit == unit or unit in self.cooperating_units


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused for a bulk pass: the notice allocates millions of
    objects that form no cycles (tuples, rows, standings), and each collection would rescan
    all of them as the heap grows (about 40 % of the fold's time over 100,000 tasks).
    Reference counting still frees everything; cycles made meanwhile wait for the next
    collection. The reads hold it across a query's await as well (asyncpg makes a record
    per row): other coroutines then go without collections for that long, which only
    delays them, and the collector is on again once the first pause that turned it off
    has ended."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_month(month: str) -> tuple[int, int]:
    year, dash, number = month.partition("-")
    if not (dash and year.isdigit() and len(year) == 4 and number.isdigit() and len(number) == 2):
        raise NoticeMonthError(f"month {month!r}: expected YYYY-MM, e.g. 2026-06")
    if not 1 <= int(number) <= 12:
        raise NoticeMonthError(f"month {month!r}: the month must be 01..12")
    return int(year), int(number)


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def month_end(month: str) -> datetime:
    """The month's last instant in Asia/Shanghai (the notice's ``as_of``)."""
    year, number = _next_month(*parse_month(month))
    return datetime(year, number, 1, tzinfo=SHANGHAI) - timedelta(microseconds=1)


def previous_month(month: str) -> str:
    year, number = _previous_month(*parse_month(month))
    return f"{year:04d}-{number:02d}"


def _end_of_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI) + timedelta(
        days=1, microseconds=-1
    )


def lineage_in_force(
    lineages: Iterable[Sequence[LoggedEvent]], as_of: datetime
) -> list[LoggedEvent]:
    """Of a workflow id's run chains, the one in force at ``as_of``: the latest whose 交办
    happened by then (a task withdrawn and added back starts a new chain)."""
    return list(_in_force(_lineage_starts(lineages), as_of))


def _lineage_starts(
    lineages: Iterable[Sequence[LoggedEvent]],
) -> list[tuple[datetime, Sequence[LoggedEvent]]]:
    """Each non-empty run chain with the instant of its first event (its 交办)."""
    starts = []
    for events in lineages:
        if events:
            first = events[0]
            if first.seq != 1:  # not in sequence order: look for the first
                first = min(events, key=_seq)
            starts.append((first.at, events))
    return starts


def _seq(event: LoggedEvent) -> int:
    return event.seq


# The kinds the notice reads beyond the fold's own (FOLDED_KINDS): any other event tells it
# nothing but the stage it leaves the task in (see store.notice_reads).
NOTICE_KINDS = FOLDED_KINDS | {"deemed_consent"}

# The events that can move a milestone's due date (the fold's next_due).
_DUE_KINDS = frozenset({"milestone_done", "extension_granted", "revised"})


class _Tally:
    """What one pass over a lineage counts for the notice beside the fold itself."""

    __slots__ = (
        "count",
        "deemed_by",
        "done",
        "due_before_done",
        "due_before_last",
        "escalations",
        "extension_this_month",
        "first_at",
        "last_moved_due",
        "last_progress_text",
        "late",
        "refusals_by",
        "reporters_this_month",
    )

    def __init__(self) -> None:
        self.count = 0
        self.first_at: datetime | None = None
        self.late = False
        self.due_before_done: date | None = None
        self.done = False
        self.due_before_last: date | None = None
        self.last_moved_due = False
        self.last_progress_text: str | None = None
        self.escalations = 0
        self.refusals_by: list[str] = []
        self.deemed_by: list[str] = []
        self.start_month()

    def start_month(self) -> None:
        self.reporters_this_month: set[str] = set()
        self.extension_this_month = False


def _facts_of_lineage(
    entry: NoticeTask,
    events: Sequence[LoggedEvent],
    months: Sequence[tuple[datetime, datetime]],
) -> list[StandingFacts | None]:
    """The task's facts at the end of each of ``months`` ((month start, as_of), in order,
    not overlapping), folded in one pass over the lineage's events, which come in sequence
    order (a lineage records its events in time order, so those at or before an instant
    are a prefix). None where the task was not yet handed out."""
    ordered = events
    fold = EventFold(entry.assignment)
    tally = _Tally()
    facts: list[StandingFacts | None] = []
    index, total = 0, len(ordered)
    for month_began, as_of in months:
        tally.start_month()
        while index < total and ordered[index].at <= as_of:
            event = ordered[index]
            index += 1
            kind = event.kind
            if tally.first_at is None:
                tally.first_at = event.at
            tally.count += 1
            tally.last_moved_due = kind in _DUE_KINDS
            if tally.last_moved_due:
                # The due date in force when the last milestone was reviewed.
                tally.due_before_last = fold.next_due
                if kind == "milestone_done":
                    tally.due_before_done, tally.done = tally.due_before_last, True
                    if not event.detail.get("on_time", True):
                        tally.late = True
            fold.apply(event)
            if kind == "progress":
                tally.last_progress_text = str(event.detail.get("text"))
                if event.at > month_began:
                    tally.reporters_this_month.add(event.unit or "")
            elif kind == "escalation":
                tally.escalations += 1
            elif kind == "refused":
                tally.refusals_by.append(event.unit or "")
            elif kind == "deemed_consent":
                tally.deemed_by.append(event.unit or "")
            elif kind == "extension_granted" and event.at > month_began:
                tally.extension_this_month = True
        facts.append(_facts(entry, fold, tally) if tally.count else None)
    return facts


def _facts(entry: NoticeTask, fold: EventFold, tally: _Tally) -> StandingFacts:
    folded = fold.result()
    due = folded.next_due
    if folded.stage is Stage.COMPLETED:
        # The due date in force when the last milestone was reviewed (without one, before
        # the last event).
        if tally.done:
            due = tally.due_before_done
        elif tally.last_moved_due:
            due = tally.due_before_last
    assert tally.first_at is not None  # a standing is taken after at least one event
    return StandingFacts(
        plan_id=entry.plan_id,
        workflow_id=entry.workflow_id,
        task_id=entry.task_id,
        text=entry.text,
        stage=folded.stage,
        lead_unit=folded.lead_unit,
        cooperating_units=tuple(folded.cooperating_units or ()),
        awaiting_reassignment=folded.awaiting_reassignment,
        progress_percent=folded.progress_percent,
        escalation_level=folded.escalation_level,
        due=due,
        first_at=tally.first_at,
        completed_at=folded.closed_at if folded.stage is Stage.COMPLETED else None,
        late=tally.late,
        last_progress_text=tally.last_progress_text,
        escalations=tally.escalations,
        refusals_by=tuple(tally.refusals_by),
        deemed_by=tuple(tally.deemed_by),
        reporters_this_month=tuple(sorted(tally.reporters_this_month)),
        extension_this_month=tally.extension_this_month,
    )


def _judged(
    facts: Iterable[StandingFacts],
    as_of: datetime,
    margin: float,
    policies: Mapping[str, LightPolicy],
) -> list[TaskStanding]:
    """Each task's 台账 row at ``as_of`` (its month's end): its status and light by the
    office's margin and its plan's light rule (the definitions at the top of this module).
    One loop with its names bound: a notice judges 100,000 tasks, a few comparisons each."""
    day = as_of.astimezone(SHANGHAI).date()
    default = LightPolicy()
    rules = {
        plan: (policy.yellow_within_days, policy.behind_is_yellow)
        for plan, policy in policies.items()
    }
    default_rule = (default.yellow_within_days, default.behind_is_yellow)
    due_ends: dict[date, datetime] = {}  # a due day's last instant
    completed, cancelled, assigned = Stage.COMPLETED, Stage.CANCELLED, Stage.ASSIGNED
    on_time, late, cancelled_status = (
        NoticeStatus.COMPLETED_ON_TIME,
        NoticeStatus.COMPLETED_LATE,
        NoticeStatus.CANCELLED,
    )
    overdue, refused, not_accepted = (
        NoticeStatus.OVERDUE,
        NoticeStatus.REFUSED,
        NoticeStatus.NOT_ACCEPTED,
    )
    behind, on_schedule = NoticeStatus.BEHIND, NoticeStatus.ON_SCHEDULE
    rows: list[TaskStanding] = []
    append = rows.append
    for f in facts:
        stage, due = f.stage, f.due
        days_overdue = 0
        light: str | None = None
        if stage is completed:
            status = late if f.late else on_time
        elif stage is cancelled:
            status = cancelled_status
        elif due is not None and day > due:
            status, light, days_overdue = overdue, "red", (day - due).days
        else:
            if f.awaiting_reassignment:
                status = refused
            elif stage is assigned:
                status = not_accepted
            elif due is not None:
                # 滞后: progress/100 below the share of the period elapsed, less the margin;
                # the period runs from 交办 to the end of the due day.
                due_end = due_ends.get(due)
                if due_end is None:
                    due_end = due_ends[due] = _end_of_day(due)
                period = (due_end - f.first_at).total_seconds()
                if period > 0:
                    elapsed = min(1.0, max(0.0, (as_of - f.first_at).total_seconds() / period))
                    is_behind = f.progress_percent / 100 < elapsed - margin
                else:
                    is_behind = False
                status = behind if is_behind else on_schedule
            else:
                status = on_schedule
            yellow_within, behind_is_yellow = rules.get(f.plan_id, default_rule)
            if (status is behind and behind_is_yellow) or (
                due is not None and (due - day).days <= yellow_within
            ):
                light = "yellow"
            else:
                light = "green"
        # Positional, in TaskStanding's field order.
        append(
            TaskStanding(
                f.plan_id,
                f.task_id,
                f.workflow_id,
                f.task_id,  # number
                f.text,
                f.lead_unit,
                f.cooperating_units,
                due,
                stage._value_,
                status,
                light,
                f.progress_percent,
                f.last_progress_text,
                days_overdue,
                f.escalation_level,
                f.escalations,
                f.completed_at,
                len(f.refusals_by),
                bool(f.reporters_this_month),
            )
        )
    return rows


def _days_late(row: TaskStanding) -> int:
    """How late an overdue or late-completed task is: to the month end, or to its 办结."""
    if row.status is NoticeStatus.OVERDUE:
        return row.days_overdue
    if row.due is None or row.completed_at is None:
        return 0
    return max(0, (row.completed_at.astimezone(SHANGHAI).date() - row.due).days)


def fold_facts(
    tasks: Sequence[NoticeTask],
    events: Mapping[str, Sequence[Sequence[LoggedEvent]]],
    ends: Sequence[datetime],
) -> list[list[StandingFacts]]:
    """Every task's facts at each of ``ends`` (month ends, ascending): one list per end, in
    the order of ``tasks``, leaving out a task not yet handed out by that end. ``events``
    maps a workflow id to its run chains (lineages) of live events. A task whose lineage
    in force is the same at every end is folded once."""
    months = [(month_start(end), end) for end in ends]
    result: list[list[StandingFacts]] = [[] for _ in ends]
    with paused_gc():
        for entry in tasks:
            starts = _lineage_starts(events.get(entry.workflow_id, ()))
            chosen = [_in_force(starts, end) for end in ends]
            if all(lineage is chosen[0] for lineage in chosen):
                facts = _facts_of_lineage(entry, chosen[0], months)
            else:
                facts = [
                    _facts_of_lineage(entry, lineage, [month])[0]
                    for lineage, month in zip(chosen, months, strict=True)
                ]
            for at_end, fact in zip(result, facts, strict=True):
                if fact is not None:
                    at_end.append(fact)
    return result


def _in_force(
    starts: Sequence[tuple[datetime, Sequence[LoggedEvent]]], as_of: datetime
) -> Sequence[LoggedEvent]:
    best: Sequence[LoggedEvent] = ()
    best_start: datetime | None = None
    for start, events in starts:
        if start <= as_of and (best_start is None or start >= best_start):
            best, best_start = events, start
    return best


def month_start(as_of: datetime) -> datetime:
    """The previous month's last instant: events after it belong to this month."""
    local = as_of.astimezone(SHANGHAI)
    return datetime(local.year, local.month, 1, tzinfo=SHANGHAI) - timedelta(microseconds=1)


def _check_margin(behind_margin: float) -> None:
    if not 0 <= behind_margin <= 1:
        raise ValueError(f"behind_margin {behind_margin}: must be between 0 and 1")


def task_standings(
    tasks: Sequence[NoticeTask],
    events: Mapping[str, Sequence[Sequence[LoggedEvent]]],
    as_of: datetime,
    *,
    behind_margin: float = DEFAULT_BEHIND_MARGIN,
    light_policies: Mapping[str, LightPolicy] | None = None,
) -> list[TaskStanding]:
    """Every task's standing at ``as_of``; ``events`` maps a workflow id to its run chains
    (lineages) of live events. Tasks not yet handed out by ``as_of`` are left out."""
    _check_margin(behind_margin)
    facts = fold_facts(tasks, events, [as_of])[0]
    return _judged(facts, as_of, behind_margin, light_policies or {})


def totals_of(rows: Sequence[TaskStanding]) -> NoticeTotals:
    statuses = Counter(row.status for row in rows)

    def count(*counted: NoticeStatus) -> int:
        return sum(statuses[status] for status in counted)

    return NoticeTotals(
        tasks=len(rows),
        completed=count(NoticeStatus.COMPLETED_ON_TIME, NoticeStatus.COMPLETED_LATE),
        completed_on_time=count(NoticeStatus.COMPLETED_ON_TIME),
        completed_late=count(NoticeStatus.COMPLETED_LATE),
        on_schedule=count(NoticeStatus.ON_SCHEDULE),
        behind=count(NoticeStatus.BEHIND),
        overdue=count(NoticeStatus.OVERDUE),
        not_accepted=count(NoticeStatus.NOT_ACCEPTED),
        refused=count(NoticeStatus.REFUSED),
        cancelled=count(NoticeStatus.CANCELLED),
    )


def _unit_rows(
    facts: Sequence[StandingFacts], rows: Sequence[TaskStanding]
) -> tuple[UnitStanding, ...]:
    """分单位情况 from each task's facts and its row (in the same order)."""
    led_by: dict[str, list[TaskStanding]] = {}
    refusals: Counter[str] = Counter()
    deemed: Counter[str] = Counter()
    for fact, row in zip(facts, rows, strict=True):
        if row.lead_unit:
            led_by.setdefault(row.lead_unit, []).append(row)
        # Counter.update's own checks cost more than the counting, 100,000 times over.
        for refuser in fact.refusals_by:
            if refuser:
                refusals[refuser] += 1
        for deemer in fact.deemed_by:
            if deemer:
                deemed[deemer] += 1
    units = []
    for unit in {*led_by, *refusals, *deemed}:
        led = led_by.get(unit, [])
        statuses = Counter(r.status for r in led)
        completed = statuses[NoticeStatus.COMPLETED_ON_TIME] + statuses[NoticeStatus.COMPLETED_LATE]
        countable = len(led) - statuses[NoticeStatus.CANCELLED]
        late = [
            _days_late(r)
            for r in led
            if r.status is NoticeStatus.COMPLETED_LATE or r.status is NoticeStatus.OVERDUE
        ]
        units.append(
            UnitStanding(
                unit=unit,
                led=len(led),
                completed=completed,
                completed_late=statuses[NoticeStatus.COMPLETED_LATE],
                on_schedule=statuses[NoticeStatus.ON_SCHEDULE],
                behind=statuses[NoticeStatus.BEHIND],
                overdue=statuses[NoticeStatus.OVERDUE],
                completion_rate=completed / countable if countable else 0.0,
                average_days_late=sum(late) / len(late) if late else 0.0,
                refusals=refusals[unit],
                silent_consents=deemed[unit],
                rank=0,
            )
        )
    units.sort(key=lambda r: (-r.completion_rate, r.overdue, r.behind, r.unit))
    return tuple(row.model_copy(update={"rank": rank}) for rank, row in enumerate(units, start=1))


def _silent_units(facts: Sequence[StandingFacts], rows: Sequence[TaskStanding]) -> tuple[str, ...]:
    expected = {
        row.lead_unit
        for fact, row in zip(facts, rows, strict=True)
        if row.lead_unit and row.status in _OPEN_STATUSES and not fact.awaiting_reassignment
    }
    reported: set[str] = set()
    for fact in facts:
        if fact.reporters_this_month:
            reported.update(fact.reporters_this_month)
    return tuple(sorted(unit for unit in expected if unit not in reported))


class NoticeOptions(TypedDict, total=False):
    """The keyword options of :func:`notice_of_facts`, which :func:`build_notice` passes on."""

    plan_id: str | None
    plan_titles: Sequence[str]
    unit: str | None
    office: str
    issue_number: int | None
    issued_on: date | None
    addressees: str
    requirements: str
    title: str | None
    behind_margin: float
    light_policies: Mapping[str, LightPolicy] | None


def build_notice(
    month: str,
    tasks: Sequence[NoticeTask],
    events: Mapping[str, Sequence[Sequence[LoggedEvent]]],
    **options: Unpack[NoticeOptions],
) -> Notice:
    """The notice for ``month`` (YYYY-MM) over ``tasks`` (one plan's, or every plan's with
    ``plan_id`` None), from their live events by workflow id and run chain, each chain in
    sequence order: the month end and the previous one are folded in one pass, and the
    notice built from those facts (:func:`notice_of_facts`, whose options it takes)."""
    _check_margin(options.get("behind_margin", DEFAULT_BEHIND_MARGIN))
    before_end = month_end(previous_month(month))
    before, now = fold_facts(tasks, events, [before_end, month_end(month)])
    previous = [PreviousStanding.of_facts(fact, before_end) for fact in before]
    return notice_of_facts(month, now, previous, **options)


@paused_gc()  # the whole pass: see paused_gc
def notice_of_facts(
    month: str,
    facts: Sequence[StandingFacts],
    previous: Iterable[PreviousStanding],
    *,
    plan_id: str | None = None,
    plan_titles: Sequence[str] = (),
    unit: str | None = None,
    office: str = DEFAULT_OFFICE,
    issue_number: int | None = None,
    issued_on: date | None = None,
    addressees: str = DEFAULT_ADDRESSEES,
    requirements: str = DEFAULT_REQUIREMENTS,
    title: str | None = None,
    behind_margin: float = DEFAULT_BEHIND_MARGIN,
    light_policies: Mapping[str, LightPolicy] | None = None,
) -> Notice:
    """The notice for ``month`` from its tasks' facts at the month end (``facts``, in the
    notice's task order) and what it reads of them at the previous month end (``previous``):
    folded from the event log (:func:`build_notice`) or read back from the month's
    checkpoint (:mod:`store.notice_checkpoints`).

    Defaults: ``issue_number`` the month number, ``issued_on`` the next month's 1st,
    ``title`` 关于X年X月份重点任务推进情况的通报, the office 督查室. ``unit`` keeps only the tasks
    that unit leads or cooperates on at the month end (a unit's own notice).
    """
    _check_margin(behind_margin)
    year, number = parse_month(month)
    as_of = month_end(month)
    if unit is not None:
        facts = [f for f in facts if f.concerns(unit)]
    rows = _judged(facts, as_of, behind_margin, light_policies or {})
    # Only whether a task was completed or overdue a month ago matters (the changes),
    # and neither depends on a setting.
    was_completed: set[str] = set()
    was_overdue: set[str] = set()
    for before in previous:
        if unit is not None and not before.concerns(unit):
            continue
        if before.completed:
            was_completed.add(before.workflow_id)
        elif before.overdue:
            was_overdue.add(before.workflow_id)
    completed = {NoticeStatus.COMPLETED_ON_TIME, NoticeStatus.COMPLETED_LATE}
    next_year, next_number = _next_month(year, number)
    due_next = [
        r
        for r in rows
        if r.status in _OPEN_STATUSES
        and r.due is not None
        and (r.due.year, r.due.month) == (next_year, next_number)
    ]
    return Notice(
        month=month,
        as_of=as_of,
        plan_id=plan_id,
        plan_titles=tuple(plan_titles),
        unit=unit,
        office=office,
        issue_number=issue_number if issue_number is not None else number,
        issued_on=issued_on or date(next_year, next_number, 1),
        addressees=addressees,
        title=title or f"关于{year}年{number}月份重点任务推进情况的通报",
        totals=totals_of(rows),
        units=_unit_rows(facts, rows),
        tasks=tuple(rows),
        overdue=tuple(
            sorted(
                (r for r in rows if r.status is NoticeStatus.OVERDUE),
                key=lambda r: (-r.days_overdue, r.workflow_id),
            )
        ),
        silent_units=_silent_units(facts, rows),
        due_next_month=tuple(sorted(due_next, key=lambda r: (r.due or date.max, r.workflow_id))),
        changes=NoticeChanges(
            newly_completed=tuple(
                r.workflow_id
                for r in rows
                if r.status in completed and r.workflow_id not in was_completed
            ),
            newly_overdue=tuple(
                r.workflow_id
                for r in rows
                if r.status is NoticeStatus.OVERDUE and r.workflow_id not in was_overdue
            ),
            extensions_granted=tuple(f.workflow_id for f in facts if f.extension_this_month),
        ),
        requirements=requirements,
        behind_margin=behind_margin,
    )


def unit_rows_at(
    tasks: Sequence[NoticeTask],
    events: Mapping[str, Sequence[Sequence[LoggedEvent]]],
    as_of: datetime,
    *,
    behind_margin: float = DEFAULT_BEHIND_MARGIN,
    light_policies: Mapping[str, LightPolicy] | None = None,
) -> tuple[UnitStanding, ...]:
    """分单位情况 at any instant, by the notice's own arithmetic: at a month's end it is that
    month's notice's ``units``; the coordinator's board asks for it as of now (this month
    to date)."""
    _check_margin(behind_margin)
    facts = fold_facts(tasks, events, [as_of])[0]
    with paused_gc():
        return _unit_rows(facts, _judged(facts, as_of, behind_margin, light_policies or {}))
