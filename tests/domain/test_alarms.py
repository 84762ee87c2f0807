"""The alarm schedule as pure data: every alarm a task has in each stage, its key, instant
and recipients, worked out by hand on a calendar the test controls (Monday to Friday, one
holiday), and which of the alarms due together fire."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain.alarms import (
    Alarm,
    AlarmKind,
    Schedule,
    calendar_years_needed,
    due_alarms,
    owes_monthly_progress,
    plan_schedule,
)
from domain.calendar import SHANGHAI, CalendarYears, WorkingCalendar, end_of_day
from domain.lifecycle import MilestoneState, Offset, Policy, Signoff, Stage, TaskState
from tests.support.lifecycle import make_task

LEAD = "市信息办"
HELPERS = ["市财政局", "市审计局"]
DUE = date(2030, 6, 28)  # a Friday
DUE_AT = end_of_day(DUE)
ASSIGNED_AT = datetime(2030, 1, 2, 2, 0, tzinfo=UTC)  # Wednesday, 10:00 in Beijing
HOLIDAY = date(2030, 6, 24)  # a Monday off, so counting back over it skips it


def _calendar(*guessed: int) -> WorkingCalendar:
    return WorkingCalendar(
        years=CalendarYears(
            first_year=2029, last_year=2031, days_off=[HOLIDAY], guessed_years=list(guessed)
        )
    )


def _morning(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=SHANGHAI).astimezone(UTC)


def _state(stage: Stage = Stage.IN_PROGRESS, **changes: object) -> TaskState:
    state = TaskState(
        plan_id="p",
        task=make_task([DUE]),
        stage=stage,
        lead_unit=LEAD,
        cooperating_units=list(HELPERS),
        milestones=[MilestoneState(index=0, due=DUE, plan_due=DUE, due_at=DUE_AT)],
        assigned_at=ASSIGNED_AT,
        accepted_at=ASSIGNED_AT if stage is not Stage.ASSIGNED else None,
    )
    return state.model_copy(update=changes)


def _view(schedule: Schedule) -> list[tuple[str, AlarmKind, datetime, str | None, list[str]]]:
    return [(a.key, a.kind, a.at, a.unit, a.recipients) for a in schedule.alarms]


KEY = DUE_AT.isoformat()


def _deadline_alarms(
    lead: list[str],
) -> list[tuple[str, AlarmKind, datetime, str | None, list[str]]]:
    # Back from Friday 28 June over the Monday 24 holiday: 1 working day is Thursday 27,
    # 7 are Tuesday 18 (27 26 25, 21 20 19 18).
    return [
        (f"m0:reminder:7wd:{KEY}", AlarmKind.REMINDER, _morning(date(2030, 6, 18)), LEAD, lead),
        (f"m0:reminder:1wd:{KEY}", AlarmKind.REMINDER, _morning(date(2030, 6, 27)), LEAD, lead),
        (f"m0:urge:{KEY}", AlarmKind.URGE, DUE_AT, LEAD, lead),
        (
            f"m0:escalation:1:{KEY}",
            AlarmKind.ESCALATION,
            DUE_AT + timedelta(days=7),
            LEAD,
            [*lead, "unit_leadership", "coordinator"],
        ),
        (
            f"m0:escalation:2:{KEY}",
            AlarmKind.ESCALATION,
            DUE_AT + timedelta(days=30),
            LEAD,
            [*lead, "government_office"],
        ),
    ]


def test_a_task_in_progress_has_reminders_urge_ladder_and_monthly_progress() -> None:
    schedule = plan_schedule(_state(), _calendar())
    progress = (
        f"progress:{ASSIGNED_AT.isoformat()}",
        AlarmKind.PROGRESS,
        ASSIGNED_AT + timedelta(days=30),
        LEAD,
        [LEAD],
    )
    assert _view(schedule) == [progress, *_deadline_alarms([LEAD])]
    assert all(a.milestone == 0 for a in schedule.alarms[1:])
    assert [a.level for a in schedule.alarms] == [None, None, None, None, 1, 2]
    # 5 working days back from the 28th (27 26 25 21 20): the end of Thursday 20 June.
    assert schedule.extension_deadlines == {0: end_of_day(date(2030, 6, 20))}
    # 3 working days back (27 26 25): the morning of Tuesday 25 June.
    assert schedule.yellow_from == {0: _morning(date(2030, 6, 25))}
    assert schedule.signoff_windows == {}
    assert schedule.calendar_fallback is False
    assert schedule.next_at(set()) == ASSIGNED_AT + timedelta(days=30)


def test_an_assigned_task_is_chased_to_accept_and_owes_no_progress_yet() -> None:
    schedule = plan_schedule(_state(Stage.ASSIGNED), _calendar())
    unaccepted = (
        f"unaccepted:{ASSIGNED_AT.isoformat()}",
        AlarmKind.UNACCEPTED,
        _morning(date(2030, 1, 7)),  # Wednesday 2 → Thursday, Friday, Monday 7
        LEAD,
        [LEAD],
    )
    assert _view(schedule) == [unaccepted, *_deadline_alarms([LEAD])]


def test_a_refused_or_unled_task_chases_the_coordinator_and_no_unit() -> None:
    for changes in ({"awaiting_reassignment": True}, {"lead_unit": None}):
        schedule = plan_schedule(_state(Stage.ASSIGNED, **changes), _calendar())
        kinds = {a.kind for a in schedule.alarms}
        assert all(a.recipients[0] == "coordinator" for a in schedule.alarms)
        if changes.get("awaiting_reassignment"):
            assert AlarmKind.UNACCEPTED not in kinds  # nobody to accept it until reassigned
        else:
            assert AlarmKind.UNACCEPTED in kinds


def test_in_sign_off_the_deadline_waits_silently_and_each_pending_unit_has_a_window() -> None:
    submitted = datetime(2030, 6, 3, 2, 0, tzinfo=UTC)  # Monday 3 June
    state = _state(
        Stage.SIGNOFF,
        last_submitted_at=submitted,
        signoffs=[
            Signoff(unit="市公安局", decision="approved"),  # decided first, then the pending
            Signoff(unit=HELPERS[0]),
            Signoff(unit=HELPERS[1], decision="approved"),
        ],
    )
    schedule = plan_schedule(state, _calendar())
    window = end_of_day(date(2030, 6, 10))  # 4 5 6 7 10
    assert _view(schedule) == [
        (
            f"signoff:{HELPERS[0]}:{submitted.isoformat()}",
            AlarmKind.SIGNOFF_WINDOW,
            window,
            HELPERS[0],
            [HELPERS[0]],
        ),
        (f"m0:due_passed:{KEY}", AlarmKind.DUE_PASSED, DUE_AT, None, []),
    ]
    assert schedule.alarms[1].milestone == 0
    assert schedule.signoff_windows == {HELPERS[0]: window}
    assert schedule.extension_deadlines == {0: end_of_day(date(2030, 6, 20))}
    # A window already set is kept (not recomputed from the calendar).
    state.signoffs[1].window_ends = window + timedelta(hours=1)
    assert plan_schedule(state, _calendar()).signoff_windows == {
        HELPERS[0]: window + timedelta(hours=1)
    }
    # Without a submission instant there are no windows to keep.
    assert (
        plan_schedule(
            state.model_copy(update={"last_submitted_at": None}), _calendar()
        ).signoff_windows
        == {}
    )


def test_in_review_only_the_current_milestone_waits() -> None:
    second = date(2030, 12, 31)
    state = _state(Stage.REVIEW)
    state.milestones.append(
        MilestoneState(index=1, due=second, plan_due=second, due_at=end_of_day(second))
    )
    kinds = [(a.milestone, a.kind) for a in plan_schedule(state, _calendar()).alarms]
    assert (0, AlarmKind.DUE_PASSED) in kinds
    assert [k for m, k in kinds if m == 0] == [AlarmKind.DUE_PASSED]
    assert (1, AlarmKind.URGE) in kinds
    assert (1, AlarmKind.REMINDER) in kinds
    assert AlarmKind.PROGRESS not in {k for _, k in kinds}
    state.milestones[0].done_at = ASSIGNED_AT
    later = plan_schedule(state, _calendar())
    assert all(a.milestone != 0 for a in later.alarms)
    assert 0 not in later.yellow_from
    assert {a.kind for a in later.alarms if a.milestone == 1} == {AlarmKind.DUE_PASSED}


def test_a_closed_task_has_no_alarms() -> None:
    for stage in (Stage.COMPLETED, Stage.CANCELLED):
        schedule = plan_schedule(_state(stage), _calendar())
        assert schedule == Schedule()


def test_the_progress_reminder_counts_from_the_latest_of_accept_report_and_reminder() -> None:
    reported = ASSIGNED_AT + timedelta(days=10)
    reminded = ASSIGNED_AT + timedelta(days=20)
    for changes, base in (
        ({"last_progress_at": reported}, reported),
        ({"last_progress_at": reported, "last_progress_reminder_at": reminded}, reminded),
        ({"last_progress_at": reminded, "last_progress_reminder_at": reported}, reminded),
    ):
        [alarm] = [
            a
            for a in plan_schedule(_state(Stage.IN_PROGRESS, **changes), _calendar()).alarms
            if a.kind is AlarmKind.PROGRESS
        ]
        assert (alarm.key, alarm.at) == (f"progress:{base.isoformat()}", base + timedelta(days=30))


def test_a_progress_interval_in_working_days_ends_in_a_morning() -> None:
    policy = Policy(progress_interval=Offset(working_days=2))
    [alarm] = [
        a
        for a in plan_schedule(_state(policy=policy), _calendar()).alarms
        if a.kind is AlarmKind.PROGRESS
    ]
    assert alarm.at == _morning(date(2030, 1, 4))  # Wednesday 2 → Thursday, Friday 4


def test_a_guessed_calendar_year_is_reported() -> None:
    assert plan_schedule(_state(), _calendar(2030)).calendar_fallback is True


def test_who_owes_monthly_progress() -> None:
    limit = Policy().long_task_after
    assert owes_monthly_progress(_state(ongoing=True, accepted_at=None)) is True
    assert owes_monthly_progress(_state(accepted_at=None)) is False
    assert owes_monthly_progress(_state(milestones=[])) is False
    assert owes_monthly_progress(_state(accepted_at=DUE_AT - limit)) is False
    assert owes_monthly_progress(_state(accepted_at=DUE_AT - limit - timedelta(seconds=1)))


def test_the_calendar_years_a_task_needs_with_one_to_spare() -> None:
    state = _state()
    assert calendar_years_needed(state, ASSIGNED_AT) == (2029, 2031)
    assert calendar_years_needed(state, datetime(2033, 5, 1, tzinfo=UTC)) == (2029, 2034)
    # 31 December 2030 late evening in UTC is already 2031 in Beijing.
    late = datetime(2027, 12, 31, 17, 0, tzinfo=UTC)
    assert calendar_years_needed(state.model_copy(update={"assigned_at": late}), late) == (
        2027,
        2031,
    )


def _alarm(key: str, kind: AlarmKind, at: datetime, **more: object) -> Alarm:
    return Alarm.model_validate({"key": key, "kind": kind, "at": at, **more})


def test_only_alarms_whose_time_came_and_not_yet_fired_are_due() -> None:
    now = DUE_AT
    schedule = Schedule(
        alarms=[
            _alarm("due-now", AlarmKind.UNACCEPTED, now),
            _alarm("fired", AlarmKind.PROGRESS, now - timedelta(hours=1)),
            _alarm("later", AlarmKind.SIGNOFF_WINDOW, now + timedelta(seconds=1)),
        ]
    )
    fire, skip = due_alarms(schedule, {"fired"}, now)
    assert ([a.key for a in fire], skip) == (["due-now"], [])
    assert schedule.next_at({"fired"}) == now
    assert schedule.next_at({"fired", "due-now", "later"}) is None


def test_of_a_milestone_s_alarms_due_together_only_the_strongest_fires() -> None:
    now = DUE_AT + timedelta(days=8)
    schedule = Schedule(
        alarms=[
            _alarm("r", AlarmKind.REMINDER, now, milestone=0, recipients=[LEAD]),
            _alarm("u", AlarmKind.URGE, now, milestone=0, recipients=[LEAD, "x"]),
            _alarm("e1", AlarmKind.ESCALATION, now, milestone=0, level=1, recipients=[LEAD, "y"]),
            _alarm("u1", AlarmKind.URGE, now, milestone=1, recipients=["z"]),
            _alarm("r1", AlarmKind.REMINDER, now, milestone=1, recipients=["z"]),
            _alarm("p", AlarmKind.PROGRESS, now, recipients=[LEAD]),
            # Not a deadline alarm: fires whatever else is due, and is told nobody.
            _alarm("d", AlarmKind.DUE_PASSED, now, milestone=0),
        ]
    )
    fire, skip = due_alarms(schedule, set(), now)
    assert [(a.key, a.recipients) for a in fire] == [
        ("e1", [LEAD, "y", "x"]),
        ("u1", ["z"]),
        ("p", [LEAD]),
        ("d", []),
    ]
    assert [a.key for a in skip] == ["r", "u", "r1"]
    assert schedule.alarms[2].recipients == [LEAD, "y"]  # the schedule itself is unchanged


def test_the_first_of_two_equal_alarms_fires() -> None:
    now = DUE_AT
    schedule = Schedule(
        alarms=[
            _alarm("a", AlarmKind.URGE, now, milestone=0, recipients=["a"]),
            _alarm("b", AlarmKind.URGE, now, milestone=0, recipients=["b"]),
        ]
    )
    fire, skip = due_alarms(schedule, set(), now)
    assert ([(a.key, a.recipients) for a in fire], [a.key for a in skip]) == (
        [("a", ["a", "b"])],
        ["b"],
    )


def test_alarm_strength() -> None:
    assert _alarm("r", AlarmKind.REMINDER, DUE_AT).rank == (0, 0)
    assert _alarm("u", AlarmKind.URGE, DUE_AT).rank == (1, 0)
    assert _alarm("e", AlarmKind.ESCALATION, DUE_AT, level=2).rank == (2, 2)
    assert _alarm("p", AlarmKind.PROGRESS, DUE_AT).rank == (-1, 0)
