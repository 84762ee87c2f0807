"""The status light on the time-skipping server: yellow within three working days of the
due date, in the workflow's query and in the projection (task_states) the list reads."""

from __future__ import annotations

from datetime import datetime, timedelta

from store.task_reads import _LIGHT_SQL
from tests.support.lifecycle import (
    LEAD,
    LifecycleHarness,
    beijing_morning,
    make_task,
    unit,
    working_days_from,
)
from workflows.task import TaskWorkflow
from workflows.task_contract import Accept, ReportProgress


async def _projected_light(lifecycle: LifecycleHarness, workflow_id: str, at: datetime) -> str:
    """The list's light (store.task_reads) for the task_states row, worked out at ``at``:
    the time-skipping server's clock runs ahead of PostgreSQL's."""
    light: str = await lifecycle.pool.fetchval(
        f"SELECT {_LIGHT_SQL.replace('now()', '$2::timestamptz')} AS light"
        " FROM task_states ts WHERE ts.workflow_id = $1",
        workflow_id,
        at,
    )
    return light


async def test_a_task_due_within_three_working_days_shows_yellow(
    lifecycle: LifecycleHarness,
) -> None:
    """Due two working days from today: yellow at once, in the query and in task_states
    by PostgreSQL's own clock (nothing has been skipped yet, so both clocks agree)."""
    due = working_days_from(await lifecycle.today(), 2)
    handle = await lifecycle.start(make_task([due]))
    snapshot = await lifecycle.settle(handle)
    assert snapshot.status_light == "yellow"
    light = await lifecycle.pool.fetchval(
        f"SELECT {_LIGHT_SQL} AS light FROM task_states ts WHERE ts.workflow_id = $1", handle.id
    )
    assert light == "yellow"


async def test_the_light_turns_yellow_three_working_days_before_and_red_after(
    lifecycle: LifecycleHarness,
) -> None:
    """Green while the due date is further off; from 09:00 three working days before it,
    yellow; once the due instant has passed, red: the query and the projection agree."""
    due = working_days_from(await lifecycle.today(), 12)
    yellow_from = beijing_morning(working_days_from(due, -3))
    lead = unit(LEAD)
    handle = await lifecycle.start(make_task([due]))
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))
    snapshot = await lifecycle.settle(handle)
    assert snapshot.status_light == "green"
    assert snapshot.schedule is not None
    assert snapshot.schedule.yellow_from[0] == yellow_from
    assert await _projected_light(lifecycle, handle.id, await lifecycle.now()) == "green"

    # A progress report is a workflow task at the new instant: the query answers with the
    # workflow's time of its last activation.
    await lifecycle.sleep(yellow_from + timedelta(hours=1) - await lifecycle.now())
    await handle.execute_update(
        TaskWorkflow.report_progress, ReportProgress(actor=lead, percent=80, text="联调中")
    )
    snapshot = await lifecycle.settle(handle)
    assert snapshot.status_light == "yellow"
    assert await _projected_light(lifecycle, handle.id, await lifecycle.now()) == "yellow"
    assert await _projected_light(lifecycle, handle.id, yellow_from - timedelta(seconds=1)) == (
        "green"
    )

    due_at = snapshot.state.milestones[0].due_at
    await lifecycle.sleep(due_at + timedelta(hours=1) - await lifecycle.now())
    snapshot = await lifecycle.settle(handle)  # the 催办 at the due instant woke it
    assert snapshot.status_light == "red"
    assert await _projected_light(lifecycle, handle.id, await lifecycle.now()) == "red"
