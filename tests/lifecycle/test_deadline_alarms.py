"""Reminders, 催办 and the 督办 ladder on the time-skipping server: when each fires, and once."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.task_events import working_calendar_reader
from domain.alarms import AlarmKind, Schedule, plan_schedule
from domain.calendar import (
    CalendarGapError,
    WorkingCalendar,
    end_of_day,
    installed_calendar_years,
)
from domain.lifecycle import EscalationRung, MilestoneState, Offset, Policy, Stage, TaskState
from tests.support.holidays import ControlledHolidays, lifecycle_with_holidays
from tests.support.lifecycle import (
    DEADLINE_KINDS,
    LEAD,
    LifecycleHarness,
    beijing_date,
    beijing_morning,
    calendar_knows,
    is_working_day,
    make_task,
    unit,
    working_days_from,
)
from workflows.task import TaskWorkflow
from workflows.task_contract import Accept, CalendarSpan, ReportProgress, Submit, TaskSnapshot


def _wednesday_at_least(start: date, days: int) -> date:
    day = start + timedelta(days=days)
    return day + timedelta(days=(2 - day.weekday()) % 7)


def _schedule_in_progress(
    due: date, *, accepted: date, calendar: WorkingCalendar | None = None
) -> Schedule:
    """The schedule of a one-milestone task accepted on ``accepted``, over ``calendar`` (by
    default the installed one)."""
    state = TaskState(
        plan_id="p",
        task=make_task([due]),
        stage=Stage.IN_PROGRESS,
        lead_unit=LEAD,
        milestones=[MilestoneState(index=0, due=due, due_at=end_of_day(due))],
        assigned_at=end_of_day(accepted),
        accepted_at=end_of_day(accepted),
    )
    return plan_schedule(state, calendar or WorkingCalendar())


def test_reminders_count_working_days_across_a_public_holiday() -> None:
    """Counting back 7 working days from 2026-10-14 skips 国庆 (Oct 1-7) and counts the 调休
    Saturday Oct 10 as a working day: the reminders are on Sep 29 and Oct 13."""
    due = date(2026, 10, 14)
    schedule = _schedule_in_progress(due, accepted=date(2026, 9, 1))
    reminders = [a.at for a in schedule.alarms if a.kind is AlarmKind.REMINDER]
    assert reminders == [beijing_morning(date(2026, 9, 29)), beijing_morning(date(2026, 10, 13))]
    assert not schedule.calendar_fallback


async def test_a_year_the_calendar_does_not_know_counts_monday_to_friday(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The calendar activity over a calendar that knows 2026 and not 2027: 2027 counts
    Monday to Friday (so 元旦 2027-01-01, a Friday, counts as a working day), the schedule
    flags the fallback, and one warning names the year. Once a release knows 2027, 元旦 is
    off and the first reminder moves a working day earlier."""
    due = date(2027, 1, 6)  # a Wednesday
    holidays = ControlledHolidays()
    holidays.release(2026)
    span = CalendarSpan(first_year=2026, last_year=2027)
    read = working_calendar_reader(holidays.is_workday)
    with caplog.at_level(logging.WARNING):
        years = await ActivityEnvironment().run(read, span)
    assert years.guessed_years == [2027]
    warnings = [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and "no data for these years" in record.msg["event"]
    ]
    assert [warning["years"] for warning in warnings] == [[2027]]
    schedule = _schedule_in_progress(
        due, accepted=date(2026, 11, 1), calendar=WorkingCalendar(years=years)
    )
    reminders = [a.at for a in schedule.alarms if a.kind is AlarmKind.REMINDER]
    # Back from Wed 6 Jan: 5, 4, (weekend), 1 (元旦, counted), then 31, 30, 29, 28 Dec.
    assert reminders == [beijing_morning(date(2026, 12, 28)), beijing_morning(date(2027, 1, 5))]
    assert schedule.calendar_fallback

    holidays.release(2027, days_off=[date(2027, 1, 1)])
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        released = await ActivityEnvironment().run(read, span)
    assert released.guessed_years == []
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    schedule = _schedule_in_progress(
        due, accepted=date(2026, 11, 1), calendar=WorkingCalendar(years=released)
    )
    reminders = [a.at for a in schedule.alarms if a.kind is AlarmKind.REMINDER]
    assert reminders == [beijing_morning(date(2026, 12, 25)), beijing_morning(date(2027, 1, 5))]
    assert not schedule.calendar_fallback


async def test_reminders_land_on_working_days_before_the_due_date(
    lifecycle: LifecycleHarness,
) -> None:
    """Exactly two reminders fire, at 09:00 Beijing on the 7th and the 1st working day before
    the due date (the 7-day count crosses a weekend); a year the calendar does not know
    counts Monday to Friday and says so."""
    due = _wednesday_at_least(await lifecycle.today(), 20)
    handle = await lifecycle.start(make_task([due]))
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=unit(LEAD)))
    snapshot = await lifecycle.settle(handle)
    expected = [
        beijing_morning(working_days_from(due, -7)),
        beijing_morning(working_days_from(due, -1)),
    ]
    assert (due - beijing_date(expected[0])).days > 7  # the count crossed a weekend
    assert snapshot.schedule is not None
    unknown_year = not all(calendar_knows(beijing_date(at)) for at in [*expected, end_of_day(due)])
    assert snapshot.schedule.calendar_fallback is unknown_year

    await lifecycle.sleep(end_of_day(due) - await lifecycle.now() - timedelta(hours=1))
    await lifecycle.settle(handle)
    reminders = await lifecycle.events(handle, "reminder")
    assert len(reminders) == 2
    for row, wanted in zip(reminders, expected, strict=True):
        assert wanted <= row["at"] < wanted + timedelta(minutes=1)
        day = beijing_date(row["at"])
        assert is_working_day(day)
        if unknown_year:
            assert day.weekday() < 5
    assert await lifecycle.events(handle, "urge", "escalation") == []


async def test_escalation_ladder_fires_each_rung_exactly_once(lifecycle: LifecycleHarness) -> None:
    """Overdue and never submitted: one 催办 at the due instant, 督办 level 1 at +7 days and
    level 2 at +30 days, then nothing more however long the task stays overdue."""
    due = await lifecycle.days_ahead(10)
    due_at = end_of_day(due)
    handle = await lifecycle.start(make_task([due]))
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=unit(LEAD)))
    await lifecycle.sleep(due_at + timedelta(days=40) - await lifecycle.now())
    snapshot = await lifecycle.settle(handle)

    deadline = await lifecycle.events(handle, *DEADLINE_KINDS)
    assert [(row["kind"], row["level"]) for row in deadline] == [
        ("reminder", None),
        ("reminder", None),
        ("urge", None),
        ("escalation", 1),
        ("escalation", 2),
    ]
    for row, instant in zip(
        deadline[2:], [due_at, due_at + timedelta(days=7), due_at + timedelta(days=30)], strict=True
    ):
        assert instant <= row["at"] < instant + timedelta(minutes=1)
    assert "coordinator" in deadline[3]["recipients"]
    assert "government_office" in deadline[4]["recipients"]
    assert snapshot.state.escalation_level == 2
    # A query's clock is the workflow's last activation (the level-2 rung), not "now".
    assert snapshot.overdue_days > 30
    assert snapshot.status_light == "red"
    assert snapshot.next_alarm_at is None
    seq = snapshot.state.seq

    await lifecycle.sleep(timedelta(days=90))
    snapshot = await lifecycle.settle(handle)
    assert snapshot.state.seq == seq
    assert len(await lifecycle.events(handle, *DEADLINE_KINDS)) == 5


async def test_task_imported_past_due_starts_overdue_with_one_alarm(
    lifecycle: LifecycleHarness,
) -> None:
    """A deadline 20 days gone at import: the task starts overdue and says so, fires only the
    strongest rung already passed (督办 level 1), no stale reminders or 催办, and level 2 still
    comes at +30 days."""
    due = await lifecycle.days_ahead(-20)
    due_at = end_of_day(due)
    handle = await lifecycle.start(make_task([due]))
    snapshot = await lifecycle.settle(handle)
    assert snapshot.overdue_days > 0
    assert snapshot.status_light == "red"
    assigned = (await lifecycle.events(handle, "assigned"))[0]
    detail = json.loads(assigned["detail"])
    assert detail["overdue_at_import"] is True
    assert detail["overdue_days"] >= 19
    deadline = await lifecycle.events(handle, *DEADLINE_KINDS)
    assert [(row["kind"], row["level"]) for row in deadline] == [("escalation", 1)]
    assert deadline[0]["at"] - assigned["at"] < timedelta(minutes=1)
    assert json.loads(deadline[0]["detail"])["superseded_alarms"] == 3  # 2 reminders, 催办
    assert snapshot.state.escalation_level == 1

    await lifecycle.sleep(due_at + timedelta(days=30, hours=1) - await lifecycle.now())
    await lifecycle.settle(handle)
    deadline = await lifecycle.events(handle, *DEADLINE_KINDS)
    assert [(row["kind"], row["level"]) for row in deadline] == [
        ("escalation", 1),
        ("escalation", 2),
    ]
    level_two = due_at + timedelta(days=30)
    assert level_two <= deadline[1]["at"] < level_two + timedelta(minutes=1)


async def test_unaccepted_task_gets_one_reminder_after_three_working_days(
    lifecycle: LifecycleHarness,
) -> None:
    """A task nobody accepts gets exactly one unaccepted reminder, at 09:00 on the third
    working day after assignment."""
    handle = await lifecycle.start(make_task([await lifecycle.days_ahead(90)]))
    snapshot = await lifecycle.settle(handle)
    expected = beijing_morning(working_days_from(beijing_date(snapshot.state.assigned_at), 3))
    await lifecycle.sleep(expected - await lifecycle.now() - timedelta(minutes=5))
    await lifecycle.settle(handle)
    assert await lifecycle.events(handle, "unaccepted_reminder") == []

    await lifecycle.sleep(timedelta(days=20))
    await lifecycle.settle(handle)
    rows = await lifecycle.events(handle, "unaccepted_reminder")
    assert len(rows) == 1
    assert expected <= rows[0]["at"] < expected + timedelta(minutes=1)
    assert rows[0]["unit"] == LEAD
    assert rows[0]["recipients"] == [LEAD]


async def test_long_task_without_progress_gets_a_monthly_reminder(
    lifecycle: LifecycleHarness,
) -> None:
    """A task due more than 45 days out owes monthly progress: 30 days without a report brings
    a progress reminder, and a report restarts the 30 days."""
    handle = await lifecycle.start(make_task([await lifecycle.days_ahead(120)]))
    lead = unit(LEAD)
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))
    snapshot = await lifecycle.settle(handle)
    accepted_at = snapshot.state.accepted_at
    assert accepted_at is not None

    await lifecycle.sleep(accepted_at + timedelta(days=31) - await lifecycle.now())
    await lifecycle.settle(handle)
    rows = await lifecycle.events(handle, "progress_reminder")
    assert len(rows) == 1
    first = accepted_at + timedelta(days=30)
    assert first <= rows[0]["at"] < first + timedelta(minutes=1)

    await handle.execute_update(
        TaskWorkflow.report_progress, ReportProgress(actor=lead, percent=30, text="完成调研")
    )
    snapshot = await lifecycle.settle(handle)
    reported_at = snapshot.state.last_progress_at
    assert reported_at is not None
    await lifecycle.sleep(reported_at + timedelta(days=29) - await lifecycle.now())
    await lifecycle.settle(handle)
    assert len(await lifecycle.events(handle, "progress_reminder")) == 1
    await lifecycle.sleep(timedelta(days=2))
    await lifecycle.settle(handle)
    rows = await lifecycle.events(handle, "progress_reminder")
    assert len(rows) == 2
    second = reported_at + timedelta(days=30)
    assert second <= rows[1]["at"] < second + timedelta(minutes=1)
    assert (await handle.query(TaskWorkflow.snapshot)).state.stage is Stage.IN_PROGRESS


def test_recorded_calendar_years_say_what_the_installed_calendar_says() -> None:
    """Every day of 2017-2026 reads the same from the recorded exceptions as from
    chinesecalendar, and a day outside the recorded span is refused, not guessed."""
    years = installed_calendar_years(2017, 2026)
    day = date(2017, 1, 1)
    while day.year <= 2026:
        working, guessed = years.is_working_day(day)
        assert (working, guessed) == (is_working_day(day), False), day
        day += timedelta(days=1)
    with pytest.raises(CalendarGapError) as gap:
        years.is_working_day(date(2027, 1, 4))
    assert gap.value.year == 2027


async def test_the_workflow_reads_the_calendar_once_and_counts_as_the_calendar_does(
    lifecycle: LifecycleHarness,
) -> None:
    """Accept, progress and submit each reschedule the task, yet the calendar is read by one
    local activity, plus one more when an alarm reaches past the years first read (a 督办
    rung 800 working days after the due date); the alarms counted in the workflow over the
    recorded years are those the installed calendar gives."""
    policy = Policy(
        escalation=[
            EscalationRung(after_due=Offset(working_days=800), level=1, recipients=["coordinator"])
        ]
    )
    handle = await lifecycle.start(make_task([await lifecycle.days_ahead(60)]), policy=policy)
    lead = unit(LEAD)
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))
    await handle.execute_update(
        TaskWorkflow.report_progress, ReportProgress(actor=lead, percent=30, text="推进")
    )
    await handle.execute_update(TaskWorkflow.submit, Submit(actor=lead, summary="已完成"))
    snapshot = await lifecycle.settle(handle)
    assert snapshot.schedule is not None
    expected = plan_schedule(snapshot.state, WorkingCalendar())
    assert snapshot.schedule.alarms == expected.alarms
    assert snapshot.schedule.extension_deadlines == expected.extension_deadlines

    history = await handle.fetch_history()
    calendar_reads = [
        event
        for event in history.events
        if event.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    assert len(calendar_reads) == 2
    # Waiting for sign-off, the task has no 督办 alarm; in progress, it had.
    in_progress = snapshot.state.model_copy(update={"stage": Stage.IN_PROGRESS})
    (escalation,) = [
        alarm
        for alarm in plan_schedule(in_progress, WorkingCalendar()).alarms
        if alarm.kind is AlarmKind.ESCALATION
    ]
    escalation_year = beijing_date(escalation.at).year
    assert escalation_year > beijing_date(snapshot.state.milestones[0].due_at).year + 1
    assert snapshot.state.calendar is not None
    assert snapshot.state.calendar.covers(escalation_year)


async def _calendar_reads(handle: Any) -> int:
    history = await handle.fetch_history()
    return sum(
        event.marker_recorded_event_attributes.marker_name == "core_local_activity"
        for event in history.events
    )


def _reminder_days(snapshot: TaskSnapshot) -> list[date]:
    assert snapshot.schedule is not None
    return [
        beijing_date(alarm.at)
        for alarm in snapshot.schedule.alarms
        if alarm.kind is AlarmKind.REMINDER
    ]


async def test_a_guessed_year_is_read_again_on_a_later_day(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """A task due in a year the calendar does not know counts it Monday to Friday for now.
    A reschedule the same day does not read the calendar again; one on a later day does,
    and a release that meanwhile knows the year (a holiday the day before the due date)
    moves the last reminder off that holiday."""
    holidays = ControlledHolidays()
    async with lifecycle_with_holidays(
        time_skipping_env, db_pool, task_queue, holidays
    ) as lifecycle:
        today = await lifecycle.today()
        for year in range(today.year - 1, today.year + 2):
            holidays.release(year)
        due = date(today.year + 2, 3, 15)
        due += timedelta(days=(2 - due.weekday()) % 7)  # a Wednesday
        handle = await lifecycle.start(make_task([due]))
        lead = unit(LEAD)
        await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))
        snapshot = await lifecycle.settle(handle)
        assert await _calendar_reads(handle) == 1
        assert snapshot.state.calendar is not None
        assert due.year in snapshot.state.calendar.guessed_years
        assert snapshot.schedule is not None
        assert snapshot.schedule.calendar_fallback
        assert _reminder_days(snapshot)[-1] == due - timedelta(days=1)  # Tuesday

        holidays.release(due.year, days_off=[due - timedelta(days=1)])
        await handle.execute_update(
            TaskWorkflow.report_progress, ReportProgress(actor=lead, percent=5, text="筹备")
        )
        snapshot = await lifecycle.settle(handle)
        assert await _calendar_reads(handle) == 1  # read once a day at most
        assert _reminder_days(snapshot)[-1] == due - timedelta(days=1)

        await lifecycle.sleep(timedelta(days=1))
        await handle.execute_update(
            TaskWorkflow.report_progress, ReportProgress(actor=lead, percent=10, text="启动")
        )
        snapshot = await lifecycle.settle(handle)
        assert await _calendar_reads(handle) == 2
        assert snapshot.state.calendar is not None
        assert due.year not in snapshot.state.calendar.guessed_years
        assert snapshot.state.calendar.read_on == today + timedelta(days=1)
        assert _reminder_days(snapshot)[-1] == due - timedelta(days=2)  # Monday
