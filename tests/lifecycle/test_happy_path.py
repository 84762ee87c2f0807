"""A task from hand-off to closure on the time-skipping server, recorded in PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from temporalio.testing import WorkflowEnvironment

from domain.lifecycle import Stage
from tests.support.lifecycle import (
    COOPERATING,
    COORDINATOR,
    LEAD,
    LifecycleHarness,
    beijing_date,
    make_task,
    recorded_kinds,
    running_worker,
    start_task,
    time_skipping_paused,
    unit,
)
from workflows.task import TaskWorkflow
from workflows.task_contract import Accept, Cancel, ReportProgress, Review, SignOff, Submit


async def test_happy_path(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """accept → progress → submit → both sign-offs → approve: completed, every step recorded."""
    client = time_skipping_env.client
    async with running_worker(client, db_pool, task_queue):
        # The session's clock is shared and only moves forward: a due date relative to it.
        now = await time_skipping_env.get_current_time()
        due = beijing_date(now + timedelta(days=60))
        handle = await start_task(client, task_queue, make_task([due]))
        lead = unit(LEAD)
        await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))
        await handle.execute_update(
            TaskWorkflow.report_progress,
            ReportProgress(actor=lead, percent=50, text="目录梳理过半"),
        )
        await handle.execute_update(TaskWorkflow.submit, Submit(actor=lead, summary="已完成"))
        for name in COOPERATING:
            await handle.execute_update(
                TaskWorkflow.sign_off, SignOff(actor=unit(name), approve=True)
            )
        result = await handle.execute_update(
            TaskWorkflow.review, Review(actor=COORDINATOR, approve=True)
        )
        assert result.stage is Stage.COMPLETED
        with time_skipping_paused(time_skipping_env):
            snapshot = await handle.result()
    assert snapshot.state.stage is Stage.COMPLETED
    assert await recorded_kinds(db_pool, handle.id) == [
        "assigned",
        "accepted",
        "progress",
        "submitted",
        "signed_off",
        "signed_off",
        "signoff_complete",
        "milestone_done",
        "completed",
    ]


async def test_the_status_light_s_yellow_instant_is_recorded(lifecycle: LifecycleHarness) -> None:
    """task_states holds the instant the current milestone turns yellow, as the workflow's
    schedule counted it over the holiday calendar; a closed task has none."""
    handle = await lifecycle.start(make_task([await lifecycle.days_ahead(60)]))
    snapshot = await lifecycle.settle(handle)
    assert snapshot.schedule is not None
    expected = snapshot.schedule.yellow_from[0]
    assert expected < snapshot.state.milestones[0].due_at
    row = await lifecycle.pool.fetchval(
        "SELECT yellow_from FROM task_states WHERE workflow_id = $1", handle.id
    )
    assert row == expected
    await handle.execute_update(
        TaskWorkflow.cancel, Cancel(actor=COORDINATOR, reason="并入其他事项")
    )
    await lifecycle.result(handle)
    await lifecycle.settle(handle)
    closed = await lifecycle.pool.fetchrow(
        "SELECT stage, yellow_from FROM task_states WHERE workflow_id = $1", handle.id
    )
    assert closed is not None
    assert (closed["stage"], closed["yellow_from"]) == ("cancelled", None)
