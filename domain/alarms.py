"""Which timers a task has, and when each fires: the schedule behind reminders and 督办.

Every alarm has a key built from what it is about (milestone, kind, rung, and the instant
it is anchored on), so it fires once: a key already fired is never fired again, and an
extension, which moves the due date, makes new keys while the old alarms simply vanish.
Computing a schedule needs the working-day calendar: the workflow passes calendar years a
local activity read and recorded (see domain.calendar), so the computation, like deciding
what to fire from a schedule, is pure and runs in the workflow.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.calendar import Anchor, WorkingCalendar, local_date
from domain.lifecycle import Offset, Stage, TaskState

YELLOW_WORKING_DAYS = 3


class AlarmKind(StrEnum):
    REMINDER = "reminder"  # before the due date
    URGE = "urge"  # 催办: the due date has passed
    ESCALATION = "escalation"  # 督办 and above
    UNACCEPTED = "unaccepted_reminder"
    PROGRESS = "progress_reminder"
    SIGNOFF_WINDOW = "signoff_window"
    # Silent: the due instant passed while the task waits for sign-off or review; nobody is
    # urged (the unit has done its part), but the task's overdue flag must turn.
    DUE_PASSED = "due_passed"


# Within one milestone, when several are due at once, only the strongest is sent.
_DEADLINE_RANK = {AlarmKind.REMINDER: 0, AlarmKind.URGE: 1, AlarmKind.ESCALATION: 2}


class Alarm(BaseModel):
    key: str
    kind: AlarmKind
    at: datetime
    milestone: int | None = None
    level: int | None = None
    unit: str | None = None
    recipients: list[str] = Field(default_factory=list)

    @property
    def rank(self) -> tuple[int, int]:
        return (_DEADLINE_RANK.get(self.kind, -1), self.level or 0)


class Schedule(BaseModel):
    alarms: list[Alarm] = Field(default_factory=list)
    extension_deadlines: dict[int, datetime] = Field(default_factory=dict)
    yellow_from: dict[int, datetime] = Field(default_factory=dict)
    signoff_windows: dict[str, datetime] = Field(default_factory=dict)
    calendar_fallback: bool = False

    def next_at(self, fired: set[str]) -> datetime | None:
        return min((a.at for a in self.alarms if a.key not in fired), default=None)


def _before(
    calendar: WorkingCalendar, instant: datetime, offset: Offset, anchor: Anchor
) -> datetime:
    return calendar.before(instant, offset.working_days, offset.duration, anchor)


def _after(
    calendar: WorkingCalendar, instant: datetime, offset: Offset, anchor: Anchor
) -> datetime:
    return calendar.after(instant, offset.working_days, offset.duration, anchor)


def plan_schedule(state: TaskState, calendar: WorkingCalendar) -> Schedule:
    """Every alarm the task has from now on, given its stage and policy."""
    schedule = Schedule()
    if not state.stage.is_open:
        return schedule
    policy = state.policy
    # A task nobody leads yet (its row names no unit, or its lead refused it) is the
    # coordinator's to chase.
    lead = (
        [state.lead_unit]
        if state.lead_unit and not state.awaiting_reassignment
        else ["coordinator"]
    )
    current = state.current_milestone
    waiting_on_others = state.stage in {Stage.SIGNOFF, Stage.REVIEW}
    for milestone in state.milestones:
        if milestone.done_at is not None:
            continue
        due_key = milestone.due_at.isoformat()
        schedule.extension_deadlines[milestone.index] = _before(
            calendar, milestone.due_at, policy.extension_notice, "end_of_day"
        )
        schedule.yellow_from[milestone.index] = calendar.before(
            milestone.due_at, YELLOW_WORKING_DAYS, timedelta(0), "morning"
        )
        # Submitted and waiting for sign-off or review: the unit has done its part.
        if waiting_on_others and milestone is current:
            schedule.alarms.append(
                Alarm(
                    key=f"m{milestone.index}:due_passed:{due_key}",
                    kind=AlarmKind.DUE_PASSED,
                    at=milestone.due_at,
                    milestone=milestone.index,
                )
            )
            continue
        for offset in policy.reminders_before_due:
            schedule.alarms.append(
                Alarm(
                    key=f"m{milestone.index}:reminder:{offset.label}:{due_key}",
                    kind=AlarmKind.REMINDER,
                    at=_before(calendar, milestone.due_at, offset, "morning"),
                    milestone=milestone.index,
                    unit=state.lead_unit,
                    recipients=lead,
                )
            )
        schedule.alarms.append(
            Alarm(
                key=f"m{milestone.index}:urge:{due_key}",
                kind=AlarmKind.URGE,
                at=milestone.due_at,
                milestone=milestone.index,
                unit=state.lead_unit,
                recipients=lead,
            )
        )
        for rung in policy.escalation:
            schedule.alarms.append(
                Alarm(
                    key=f"m{milestone.index}:escalation:{rung.level}:{due_key}",
                    kind=AlarmKind.ESCALATION,
                    at=_after(calendar, milestone.due_at, rung.after_due, "end_of_day"),
                    milestone=milestone.index,
                    level=rung.level,
                    unit=state.lead_unit,
                    recipients=[*lead, *rung.recipients],
                )
            )
    if state.stage is Stage.ASSIGNED and not state.awaiting_reassignment:
        schedule.alarms.append(
            Alarm(
                key=f"unaccepted:{state.assigned_at.isoformat()}",
                kind=AlarmKind.UNACCEPTED,
                at=_after(calendar, state.assigned_at, policy.unaccepted_reminder_after, "morning"),
                unit=state.lead_unit,
                recipients=lead,
            )
        )
    if state.stage is Stage.IN_PROGRESS and owes_monthly_progress(state):
        base = max(
            moment
            for moment in (
                state.accepted_at,
                state.last_progress_at,
                state.last_progress_reminder_at,
            )
            if moment is not None
        )
        schedule.alarms.append(
            Alarm(
                key=f"progress:{base.isoformat()}",
                kind=AlarmKind.PROGRESS,
                at=_after(calendar, base, policy.progress_interval, "morning"),
                unit=state.lead_unit,
                recipients=lead,
            )
        )
    if state.stage is Stage.SIGNOFF and state.last_submitted_at is not None:
        for signoff in state.signoffs:
            if signoff.decision != "pending":
                continue
            window_ends = signoff.window_ends or _after(
                calendar, state.last_submitted_at, policy.signoff_window, "end_of_day"
            )
            schedule.signoff_windows[signoff.unit] = window_ends
            schedule.alarms.append(
                Alarm(
                    key=f"signoff:{signoff.unit}:{state.last_submitted_at.isoformat()}",
                    kind=AlarmKind.SIGNOFF_WINDOW,
                    at=window_ends,
                    unit=signoff.unit,
                    recipients=[signoff.unit],
                )
            )
    schedule.alarms.sort(key=lambda alarm: alarm.at)
    schedule.calendar_fallback = calendar.fallback_used
    return schedule


def calendar_years_needed(state: TaskState, now: datetime) -> tuple[int, int]:
    """The span of years a task's alarms will count working days in, with a year to spare
    each side (reminders before an early-January deadline, escalations after a December
    one). A later need (an extension into another year, an ongoing task's years going by)
    shows up as a CalendarGapError and widens the span then."""
    years = {
        local_date(moment).year
        for moment in (now, state.assigned_at, *(m.due_at for m in state.milestones))
    }
    return min(years) - 1, max(years) + 1


def owes_monthly_progress(state: TaskState) -> bool:
    if state.ongoing:
        return True
    milestone = state.current_milestone
    if milestone is None or state.accepted_at is None:
        return False
    return milestone.due_at - state.accepted_at > state.policy.long_task_after


def due_alarms(
    schedule: Schedule, fired: set[str], now: datetime
) -> tuple[list[Alarm], list[Alarm]]:
    """(to fire, to skip) among the alarms whose time has come.

    Of a milestone's reminders, 催办 and 督办 that are due together (a task imported past
    its due date, a worker that was down), only the strongest fires; the rest are skipped
    without a notification, so nobody gets a burst of stale reminders.
    """
    ready = [a for a in schedule.alarms if a.at <= now and a.key not in fired]
    strongest: dict[int, Alarm] = {}
    for alarm in ready:
        if alarm.kind in _DEADLINE_RANK and alarm.milestone is not None:
            best = strongest.get(alarm.milestone)
            if best is None or alarm.rank > best.rank:
                strongest[alarm.milestone] = alarm
    to_fire: list[Alarm] = []
    to_skip: list[Alarm] = []
    for alarm in ready:
        if alarm.kind in _DEADLINE_RANK and alarm.milestone is not None:
            (to_fire if strongest[alarm.milestone] is alarm else to_skip).append(alarm)
        else:
            to_fire.append(alarm)
    # Whoever a skipped rung would have told still hears it, from the one that fires.
    for index, alarm in enumerate(to_fire):
        skipped = [a for a in to_skip if a.milestone == alarm.milestone]
        if skipped and alarm.kind in _DEADLINE_RANK:
            recipients = list(
                dict.fromkeys([*alarm.recipients, *(r for a in skipped for r in a.recipients)])
            )
            to_fire[index] = alarm.model_copy(update={"recipients": recipients})
    return to_fire, to_skip
