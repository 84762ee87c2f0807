"""Recurring tasks: one TaskWorkflow per period, each with its own deadline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import asyncpg
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from domain.calendar import SHANGHAI
from domain.plan import PlanTask, Provenance, Recurrence
from runtime.embedded import installed_executable
from tests.support.lifecycle import LEAD, running_worker
from workflows.recurring import RecurringTaskInput, RecurringTaskWorkflow, occurrences
from workflows.task import TaskWorkflow


def test_occurrences_of_yearly_and_monthly_recurrences() -> None:
    """每年1月底前 gives one January per year; 一月一通报 gives every month's end."""
    yearly = occurrences(Recurrence(frequency="yearly", month=1, raw="每年1月底前"), 2018, 2019)
    assert [(o.key, o.due) for o in yearly] == [
        ("2018", date(2018, 1, 31)),
        ("2019", date(2019, 1, 31)),
    ]
    monthly = occurrences(Recurrence(frequency="monthly", raw="一月一通报"), 2018, 2018)
    assert len(monthly) == 12
    assert monthly[1].due == date(2018, 2, 28)
    assert monthly[1].period_start == date(2018, 2, 1)


@pytest.fixture
async def own_time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A server of its own: skipping two years on the shared one would wake every task
    other tests left behind (their workers gone) and can stall the clock."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(installed_executable("temporal-test-server")),
    )
    yield env
    await env.shutdown()


async def test_two_yearly_occurrences_each_get_a_task(
    own_time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """Over two years a yearly task starts two occurrences, each due at its January's end,
    and each is urged when it is not done."""
    time_skipping_env = own_time_skipping_env
    client = time_skipping_env.client
    now = (await time_skipping_env.get_current_time()).astimezone(SHANGHAI)
    first, second = now.year + 1, now.year + 2
    task = PlanTask(
        id="20",
        seq=20,
        text="向市大数据管理局报送上年度政务信息系统运行情况",
        lead_units=[LEAD],
        recurrence=Recurrence(frequency="yearly", month=1, raw="每年1月底前"),
        source=Provenance(file="plan.txt", lines=(160, 162)),
    )
    async with running_worker(client, db_pool, task_queue):
        handle = await client.start_workflow(
            RecurringTaskWorkflow.run,
            RecurringTaskInput(
                plan_id="recurring",
                task=task,
                until_year=second,
                not_before=now.date(),
                search_attributes=False,
            ),
            id=f"recurring-{task_queue}/20",
            task_queue=task_queue,
        )
        started = await handle.result()
        await time_skipping_env.sleep(timedelta(days=400 + 366))
        assert started == [f"{handle.id}@{first}", f"{handle.id}@{second}"]
        for year, child_id in zip((first, second), started, strict=True):
            child = client.get_workflow_handle(child_id)
            snapshot = await child.query(TaskWorkflow.snapshot)
            assert snapshot.state.milestones[0].due == date(year, 1, 31)
    urged = await db_pool.fetch(
        "SELECT workflow_id FROM task_events WHERE kind = 'urge' ORDER BY at"
    )
    assert [row["workflow_id"] for row in urged] == started
