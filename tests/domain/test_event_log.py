"""The event log folds back to the state the lifecycle holds: each scenario runs the pure
rules, records their events as the workflow would, and folds the events after every step."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from domain import lifecycle
from domain.calendar import end_of_day
from domain.event_log import (
    ALARM_KINDS,
    FOLDED_KINDS,
    Assignment,
    EventFold,
    EventLogError,
    FoldedTask,
    fold_events,
    repeated_alarms,
)
from domain.lifecycle import MilestoneState, Stage, TaskEvent, TaskState
from domain.plan import PlanTask
from tests.support.lifecycle import COOPERATING, COORDINATOR, LEAD, make_task, unit

FIRST_DUE = date(2030, 3, 29)
SECOND_DUE = date(2030, 6, 28)
START = datetime(2030, 1, 2, tzinfo=UTC)
CO_LEAD = "市数据资源局"


class Scenario:
    """A task's state with its event log, started the way TaskWorkflow starts one."""

    def __init__(self, task: PlanTask) -> None:
        self.now = START
        self.state = TaskState(
            plan_id="p",
            task=task,
            lead_unit=task.lead_units[0] if task.lead_units else None,
            cooperating_units=[*task.lead_units[1:], *task.cooperating_units],
            awaiting_reassignment=not task.lead_units,
            milestones=[
                MilestoneState(
                    index=index,
                    due=milestone.due,
                    plan_due=milestone.due,
                    due_at=end_of_day(milestone.due),
                    extension_deadline=end_of_day(milestone.due) - timedelta(days=7),
                )
                for index, milestone in enumerate(task.milestones)
            ],
            assigned_at=START,
        )
        self.assignment = Assignment.of_task(task)
        self.events: list[TaskEvent] = [
            lifecycle.record(self.state, "assigned", START, unit=self.state.lead_unit)
        ]

    def step(self, events: list[TaskEvent], days: int = 1) -> None:
        self.events.extend(events)
        self.now += timedelta(days=days)
        self.assert_folds()

    def alarm(self, kind: str, milestone: int, level: int | None = None) -> None:
        """An alarm as TaskWorkflow._fire records it."""
        if kind == "escalation" and level is not None:
            target = self.state.milestones[milestone]
            target.escalation_level = max(target.escalation_level, level)
        scheduled_for = self.now.isoformat()
        self.step(
            [
                lifecycle.record(
                    self.state,
                    kind,
                    self.now,
                    stage_before=self.state.stage,
                    milestone=milestone,
                    level=level,
                    recipients=["coordinator"],
                    scheduled_for=scheduled_for,
                    superseded_alarms=0,
                )
            ]
        )

    def revise(self, dues: list[date]) -> None:
        """A re-import's new dates, as TaskWorkflow.revise applies them."""
        moved = []
        for milestone, due in zip(self.state.milestones, dues, strict=True):
            plan_due = milestone.plan_due or milestone.due
            if milestone.done_at is None and due != plan_due:
                moved.append(f"{plan_due.isoformat()}→{due.isoformat()}")
                milestone.due = milestone.plan_due = due
                milestone.due_at = end_of_day(due)
                milestone.escalation_level = 0
        self.step(
            [
                lifecycle.record(
                    self.state,
                    "revised",
                    self.now,
                    stage_before=self.state.stage,
                    due_dates_moved=moved,
                    document_lead=None,
                )
            ]
        )

    def assert_folds(self) -> FoldedTask:
        folded = fold_events(self.events, self.assignment)
        state = self.state
        current = state.current_milestone
        assert (
            folded.seq,
            folded.stage,
            folded.lead_unit,
            folded.cooperating_units,
            folded.awaiting_reassignment,
            folded.escalation_level,
            folded.extensions_granted,
            folded.progress_percent,
            folded.closed_at,
            folded.next_due,
        ) == (
            state.seq,
            state.stage,
            state.lead_unit,
            state.cooperating_units,
            state.awaiting_reassignment,
            state.escalation_level,
            state.extensions_granted,
            state.progress_percent,
            state.closed_at,
            current.due if current else None,
        ), [event.kind for event in self.events]
        return folded


def _two_milestones() -> Scenario:
    task = make_task([FIRST_DUE, SECOND_DUE]).model_copy(update={"lead_units": [LEAD, CO_LEAD]})
    return Scenario(task)


def test_a_two_milestone_task_with_a_co_lead_folds_to_its_state_at_every_step() -> None:
    s = _two_milestones()
    lead = unit(LEAD)
    assert s.assert_folds().cooperating_units == [CO_LEAD, *COOPERATING]
    s.step(lifecycle.apply_accept(s.state, lead, s.now))
    s.step(lifecycle.apply_progress(s.state, lead, 40, "过半", [], s.now))
    s.alarm("reminder", 0)
    s.alarm("escalation", 0, level=1)
    s.alarm("escalation", 0, level=2)
    # An extension starts the first milestone's ladder again, at its new date.
    new_due = FIRST_DUE + timedelta(days=30)
    s.now = end_of_day(FIRST_DUE) - timedelta(days=20)
    s.step(lifecycle.apply_request_extension(s.state, lead, new_due, "汛期", s.now))
    s.step(
        lifecycle.apply_decide_extension(
            s.state, COORDINATOR, True, "同意", end_of_day(new_due), s.now
        )
    )
    s.alarm("escalation", 0, level=1)
    s.step(lifecycle.apply_submit(s.state, lead, "完成第一阶段", [], s.now))
    assert s.state.stage is Stage.SIGNOFF
    s.step(lifecycle.apply_signoff(s.state, unit(CO_LEAD), False, "材料不全", s.now))
    s.step(lifecycle.apply_submit(s.state, lead, "补齐材料", [], s.now))
    for cooperating in (CO_LEAD, *COOPERATING):
        s.step(lifecycle.apply_signoff(s.state, unit(cooperating), True, None, s.now))
    s.step(lifecycle.apply_review(s.state, COORDINATOR, True, None, s.now))
    # The second milestone starts at 0%, with its own (so far empty) 督办 ladder.
    assert s.assert_folds().progress_percent == 0
    s.alarm("escalation", 1, level=1)
    s.revise([FIRST_DUE, SECOND_DUE + timedelta(days=10)])
    assert s.assert_folds().escalation_level == 0
    s.step(lifecycle.apply_progress(s.state, lead, 70, "推进", [], s.now))
    s.step(lifecycle.apply_submit(s.state, lead, "全部完成", [], s.now))
    for cooperating in (CO_LEAD, *COOPERATING):
        s.step(lifecycle.apply_signoff(s.state, unit(cooperating), True, None, s.now))
    s.step(lifecycle.apply_review(s.state, COORDINATOR, False, "补充说明", s.now))
    s.step(lifecycle.apply_submit(s.state, lead, "已补充", [], s.now))
    for cooperating in (CO_LEAD, *COOPERATING):
        s.step(lifecycle.apply_signoff(s.state, unit(cooperating), True, None, s.now))
    s.step(lifecycle.apply_review(s.state, COORDINATOR, True, None, s.now))
    folded = s.assert_folds()
    assert (folded.stage, folded.progress_percent, folded.extensions_granted) == (
        Stage.COMPLETED,
        70,
        1,
    )
    assert folded.closed_at is not None
    assert folded.next_due is None
    assert folded.alarms == 5


def test_a_refused_task_reassigned_to_a_cooperating_unit_folds_to_its_state() -> None:
    s = Scenario(make_task([SECOND_DUE]))
    s.step(lifecycle.apply_refuse(s.state, unit(LEAD), "不属于本单位职责", s.now))
    assert s.assert_folds().awaiting_reassignment
    s.step(lifecycle.apply_reassign(s.state, COORDINATOR, COOPERATING[0], s.now))
    folded = s.assert_folds()
    assert (folded.lead_unit, folded.cooperating_units) == (COOPERATING[0], [COOPERATING[1]])
    assert folded.stage is Stage.ASSIGNED
    assert not folded.awaiting_reassignment
    s.step(lifecycle.apply_accept(s.state, unit(COOPERATING[0]), s.now))


def test_a_task_without_a_lead_awaits_reassignment_and_a_cancelled_task_keeps_its_level() -> None:
    s = Scenario(make_task([FIRST_DUE]).model_copy(update={"lead_units": []}))
    assert s.assert_folds().awaiting_reassignment
    s.alarm("escalation", 0, level=1)
    s.step(lifecycle.apply_reassign(s.state, COORDINATOR, LEAD, s.now))
    s.step(lifecycle.apply_cancel(s.state, COORDINATOR, "任务调整", s.now))
    folded = s.assert_folds()
    assert (folded.stage, folded.escalation_level, folded.next_due) == (
        Stage.CANCELLED,
        1,
        FIRST_DUE,
    )
    assert folded.closed_at == s.events[-1].at


def test_without_the_assignment_the_units_and_due_dates_stay_unknown() -> None:
    s = Scenario(make_task([FIRST_DUE]))
    s.step(lifecycle.apply_accept(s.state, unit(LEAD), s.now))
    s.alarm("escalation", 0, level=1)
    s.revise([FIRST_DUE + timedelta(days=5)])
    folded = fold_events(s.events)
    assert (folded.cooperating_units, folded.next_due) == (None, None)
    # A move that cannot be placed resets every ladder: exact for one deadline.
    assert (folded.lead_unit, folded.stage, folded.escalation_level) == (
        LEAD,
        Stage.IN_PROGRESS,
        0,
    )


def test_as_of_folds_only_what_was_recorded_by_then() -> None:
    s = Scenario(make_task([SECOND_DUE]))
    s.step(lifecycle.apply_accept(s.state, unit(LEAD), s.now), days=10)
    month_end = s.now
    s.step(lifecycle.apply_progress(s.state, unit(LEAD), 60, "过半", [], s.now + timedelta(days=1)))
    earlier = fold_events(s.events, s.assignment, as_of=month_end)
    assert (earlier.stage, earlier.progress_percent, earlier.seq) == (Stage.IN_PROGRESS, 0, 2)


def test_a_log_with_a_gap_or_without_its_assignment_does_not_fold() -> None:
    s = Scenario(make_task([SECOND_DUE]))
    s.step(lifecycle.apply_accept(s.state, unit(LEAD), s.now))
    s.step(lifecycle.apply_progress(s.state, unit(LEAD), 10, "启动", [], s.now))
    with pytest.raises(EventLogError, match="event 2 is missing"):
        fold_events([s.events[0], s.events[2]])
    renumbered = [event.model_copy(update={"seq": event.seq - 1}) for event in s.events[1:]]
    with pytest.raises(EventLogError, match="not 'assigned'"):
        fold_events(renumbered)


def test_an_alarm_recorded_twice_is_found_and_distinct_alarms_are_not() -> None:
    s = Scenario(make_task([SECOND_DUE]))
    s.alarm("reminder", 0)
    s.alarm("escalation", 0, level=1)
    s.alarm("escalation", 0, level=2)
    assert repeated_alarms(s.events) == []
    again = s.events[-1].model_copy(update={"seq": s.state.seq + 1})
    assert repeated_alarms([*s.events, again]) == [again]


# Every kind the lifecycle and the workflow record (domain/lifecycle.py, workflows/task.py).
RECORDED_KINDS = (
    "assigned", "accepted", "refused", "reassigned", "progress", "submitted", "objected",
    "signed_off", "deemed_consent", "signoff_complete", "returned", "milestone_done",
    "completed", "extension_requested", "extension_granted", "extension_rejected",
    "revised", "cancelled", "escalation", "reminder", "urge", "unaccepted_reminder",
    "progress_reminder",
)  # fmt: skip


@pytest.mark.parametrize("kind", sorted(set(RECORDED_KINDS) - FOLDED_KINDS))
def test_a_kind_the_fold_does_not_list_changes_only_the_count_of_events(kind: str) -> None:
    # The monthly notice leaves such events in the database when they do not move the stage
    # (store.notice_reads), trusting FOLDED_KINDS to name every kind the fold reads.
    task = make_task((FIRST_DUE, SECOND_DUE))
    fold = EventFold(Assignment.of_task(task))
    fold.apply(TaskEvent(seq=1, kind="assigned", at=START, unit=LEAD, stage_after=Stage.ASSIGNED))
    fold.apply(TaskEvent(seq=2, kind="progress", at=START, detail={"percent": 40}))
    before = fold.result()
    fold.apply(
        TaskEvent(
            seq=3,
            kind=kind,
            at=START + timedelta(days=1),
            unit=COOPERATING[0],
            milestone=0,
            level=2,
            detail={
                "percent": 90,
                "requested_due": "2030-12-31",
                "due_dates_moved": [f"{FIRST_DUE.isoformat()}→2030-12-31"],
                "on_time": False,
            },
        )
    )
    after = fold.result()
    assert (after.seq, after.alarms) == (3, before.alarms + (kind in ALARM_KINDS))
    assert replace(after, seq=before.seq, alarms=before.alarms) == before
