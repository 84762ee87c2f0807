"""Edges of the lifecycle found in review: each test fails on the behaviour it replaced."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from domain.alarms import Alarm, AlarmKind, Schedule, due_alarms, plan_schedule
from domain.calendar import WorkingCalendar, end_of_day
from domain.lifecycle import Actor, MilestoneState, Stage, TaskState
from notifications.channels import LogChannel
from notifications.dispatcher import DispatchPolicy, OutboxDispatcher
from tests.support.lifecycle import LEAD, make_task, running_worker, settled, start_task, unit
from workflows.task import TaskWorkflow
from workflows.task_contract import Accept, DecideExtension, ReportProgress, RequestExtension


def _state(**changes: object) -> TaskState:
    due = date(2030, 6, 28)
    state = TaskState(
        plan_id="p",
        task=make_task([due, date(2030, 12, 31)]),
        lead_unit=LEAD,
        milestones=[
            MilestoneState(index=0, due=due, plan_due=due, due_at=end_of_day(due)),
            MilestoneState(
                index=1,
                due=date(2030, 12, 31),
                plan_due=date(2030, 12, 31),
                due_at=end_of_day(date(2030, 12, 31)),
            ),
        ],
        assigned_at=datetime(2030, 1, 2, tzinfo=UTC),
    )
    return state.model_copy(update=changes)


def test_a_refused_task_is_chased_through_the_coordinator() -> None:
    """Once the lead refused (退回交办), reminders and 督办 go to the coordinator, not to it."""
    schedule = plan_schedule(_state(awaiting_reassignment=True), WorkingCalendar())
    deadline_alarms = [a for a in schedule.alarms if a.kind is AlarmKind.URGE]
    assert deadline_alarms
    assert all(a.recipients == ["coordinator"] for a in deadline_alarms)


def test_escalation_is_per_milestone() -> None:
    """Approving an escalated milestone does not hide the next one's 督办, nor carry it."""
    state = _state()
    state.milestones[0].escalation_level = 2
    assert state.escalation_level == 2
    state.milestones[0].done_at = datetime(2030, 7, 20, tzinfo=UTC)
    assert state.escalation_level == 0
    state.milestones[1].escalation_level = 1
    assert state.escalation_level == 1


def test_skipped_rungs_still_reach_their_recipients() -> None:
    """Imported 40 days late, only the strongest rung fires, but it tells everyone the
    skipped rungs would have told."""
    now = datetime(2030, 1, 1, tzinfo=UTC)
    schedule = Schedule(
        alarms=[
            Alarm(key="u", kind=AlarmKind.URGE, at=now, milestone=0, recipients=[LEAD]),
            Alarm(
                key="e1",
                kind=AlarmKind.ESCALATION,
                at=now,
                milestone=0,
                level=1,
                recipients=[LEAD, "unit_leadership", "coordinator"],
            ),
            Alarm(
                key="e2",
                kind=AlarmKind.ESCALATION,
                at=now,
                milestone=0,
                level=2,
                recipients=[LEAD, "government_office"],
            ),
        ]
    )
    fired, skipped = due_alarms(schedule, set(), now + timedelta(seconds=1))
    assert [a.key for a in fired] == ["e2"]
    assert {a.key for a in skipped} == {"u", "e1"}
    assert set(fired[0].recipients) == {LEAD, "government_office", "unit_leadership", "coordinator"}


def test_while_in_review_the_due_date_still_turns_the_task_overdue() -> None:
    """A submitted task waiting for review gets no 催办, but a silent due marker, so its
    overdue flag turns when the date passes."""
    state = _state(stage=Stage.REVIEW)
    kinds = {a.kind for a in plan_schedule(state, WorkingCalendar()).alarms if a.milestone == 0}
    assert kinds == {AlarmKind.DUE_PASSED}


async def test_control_characters_are_rejected_not_recorded(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """A NUL in a progress text would make PostgreSQL refuse the record for ever: the
    validator rejects it instead, and the task goes on."""
    client = time_skipping_env.client
    today = (await time_skipping_env.get_current_time()).date()
    async with running_worker(client, db_pool, task_queue):
        handle = await start_task(client, task_queue, make_task([today + timedelta(days=90)]))
        await handle.execute_update(TaskWorkflow.accept, Accept(actor=unit(LEAD)))
        with pytest.raises(WorkflowUpdateFailedError) as rejected:
            await handle.execute_update(
                TaskWorkflow.report_progress,
                ReportProgress(actor=unit(LEAD), percent=10, text="进度\x00报告"),
            )
        assert "control characters" in str(rejected.value.cause)
        result = await handle.execute_update(
            TaskWorkflow.report_progress,
            ReportProgress(actor=unit(LEAD), percent=10, text="进度报告"),
        )
        assert result.stage is Stage.IN_PROGRESS


class _Exploding:
    name = "log"

    async def deliver(self, payload: dict[str, object], delivery_id: str) -> None:
        raise RuntimeError("the channel broke in an unexpected way")


async def test_an_unexpected_channel_error_is_a_failed_attempt(db_pool: asyncpg.Pool) -> None:
    """A channel raising anything is one failed attempt with its error kept; the row is
    not delivered twice, and the dispatcher goes on."""
    await db_pool.execute(
        "INSERT INTO notification_outbox (workflow_id, seq, channel, payload)"
        " VALUES ('p/1', 1, 'log', $1::jsonb), ('p/1', 2, 'log', $1::jsonb)",
        '{"workflow_id": "p/1", "task_id": "1", "event": {"kind": "urge"}}',
    )
    broken = OutboxDispatcher(db_pool, {"log": _Exploding()}, DispatchPolicy())
    assert await broken.dispatch_once() == 2
    rows = await db_pool.fetch("SELECT status, attempts, last_error FROM notification_outbox")
    assert {(r["status"], r["attempts"]) for r in rows} == {("pending", 1)}
    assert all("RuntimeError" in r["last_error"] for r in rows)
    await db_pool.execute("UPDATE notification_outbox SET next_attempt_at = now()")
    working = OutboxDispatcher(db_pool, {"log": LogChannel()}, DispatchPolicy())
    assert await working.dispatch_once() == 2
    assert await working.dispatch_once() == 0
    delivered = await db_pool.fetchval(
        "SELECT count(*) FROM notification_outbox WHERE status = 'delivered' AND attempts = 2"
    )
    assert delivered == 2


def test_actor_names_are_trimmed() -> None:
    """A unit name with stray spaces from a form still matches the lead unit."""
    assert Actor(role="unit", unit=f" {LEAD} ").unit == LEAD


async def test_a_re_import_does_not_undo_an_extension(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """After an extension, revising the task with the same plan date keeps the new date (the
    very same reading is refused: it would change nothing); a changed plan date moves it."""
    client = time_skipping_env.client
    today = (await time_skipping_env.get_current_time()).date()
    original_due = today + timedelta(days=60)
    task = make_task([original_due])
    coordinator = Actor(role="coordinator", name="督查室")
    async with running_worker(client, db_pool, task_queue):
        handle = await start_task(client, task_queue, task)
        await handle.execute_update(TaskWorkflow.accept, Accept(actor=unit(LEAD)))
        await settled(handle)
        await handle.execute_update(
            TaskWorkflow.request_extension,
            RequestExtension(
                actor=unit(LEAD), new_due=original_due + timedelta(days=30), reason="数据未到位"
            ),
        )
        await handle.execute_update(
            TaskWorkflow.decide_extension, DecideExtension(actor=coordinator, approve=True)
        )
        with pytest.raises(WorkflowUpdateFailedError) as unchanged:
            await handle.execute_update(TaskWorkflow.revise, task)
        assert "holds this reading already" in str(unchanged.value.cause)
        reworded = task.model_copy(update={"text": f"{task.text}（修订）"})
        await handle.execute_update(TaskWorkflow.revise, reworded)
        kept = await handle.query(TaskWorkflow.snapshot)
        assert kept.state.milestones[0].due == original_due + timedelta(days=30)
        moved_plan = make_task([original_due + timedelta(days=45)])
        await handle.execute_update(TaskWorkflow.revise, moved_plan)
        moved = await handle.query(TaskWorkflow.snapshot)
        assert moved.state.milestones[0].due == original_due + timedelta(days=45)
