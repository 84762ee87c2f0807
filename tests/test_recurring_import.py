"""A ledger whose 时限 cells say 每季度 and 每月25日前, imported on the real dev server: each
row becomes a recurring task whose parent starts the current period's occurrence, keyed by
its quarter or month and due at the quarter's end or on the 25th."""

from __future__ import annotations

import functools
import json
from datetime import datetime

import asyncpg
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.calendar import SHANGHAI
from domain.parsers import parse_document
from domain.plan import Recurrence
from domain.recurrence import occurrences
from services.plan_import import import_plan
from tests.support.lifecycle import wait_until
from tests.support.plans import unique_name
from workflows.recurring import RecurringTaskWorkflow
from workflows.task import TaskWorkflow, task_workflow_id


async def test_quarterly_and_monthly_ledger_rows_import_as_recurring_tasks(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: Worker
) -> None:
    client = dev_server_env.client
    today = datetime.now(SHANGHAI).date()
    ledger = (
        f"{today.year}-{today.year + 1}年重点工作台账,,,,\n"
        f"{today.year}年{today.month}月{today.day}日,,,,\n"
        "序号,工作任务,牵头单位,配合单位,完成时限\n"
        "1,通报重点项目推进情况,市数据资源局,市公安局,每季度\n"
        "2,报送项目进展,市政务服务中心,,每月25日前\n"
    )
    parsed = parse_document(unique_name("季度台账.csv"), ledger.encode())
    quarterly, monthly = (task.recurrence for task in parsed.tasks)
    assert quarterly == Recurrence(frequency="quarterly", raw="每季度")
    assert monthly == Recurrence(frequency="monthly", day=25, raw="每月25日前")

    outcome = await import_plan(
        parsed,
        pool=db_pool,
        client=client,
        task_queue=task_queue,
        update=False,
        accept_warnings=True,
    )
    assert outcome.status == "imported"
    stored = await db_pool.fetch(
        "SELECT task_id, recurrence FROM plan_tasks WHERE plan_id = $1 ORDER BY seq",
        parsed.plan.id,
    )
    assert [json.loads(row["recurrence"])["frequency"] for row in stored] == [
        "quarterly",
        "monthly",
    ]

    for task, recurrence in zip(parsed.tasks, (quarterly, monthly), strict=True):
        current = next(
            occurrence
            for occurrence in occurrences(recurrence, today.year, today.year + 1)
            if occurrence.due >= today
        )
        parent = client.get_workflow_handle(task_workflow_id(parsed.plan.id, task.id))
        await wait_until(
            functools.partial(parent.query, RecurringTaskWorkflow.started),
            what=f"task {task.id}'s first occurrence",
        )
        (child_id,) = await parent.query(RecurringTaskWorkflow.started)
        assert child_id == f"{parent.id}@{current.key}"
        snapshot = await client.get_workflow_handle(child_id).query(TaskWorkflow.snapshot)
        assert [milestone.due for milestone in snapshot.state.milestones] == [current.due]


async def test_a_plan_for_next_year_starts_no_occurrence_before_its_period(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: Worker
) -> None:
    """A plan for next year with no issue date (a 台账 titled "2027年…"), imported now: its
    每季度 task waits for next year's first quarter. It never starts this year's quarters,
    which would be overdue (and escalate) the moment they were imported."""
    client = dev_server_env.client
    next_year = datetime.now(SHANGHAI).year + 1
    ledger = (
        f"{next_year}年优化营商环境重点任务台账,,,,\n"
        "序号,工作任务,牵头单位,配合单位,完成时限\n"
        "1,召开政企沟通早餐会,市发展改革委,,每季度\n"
    )
    parsed = parse_document(unique_name("明年台账.csv"), ledger.encode())
    assert parsed.plan.issue_date is None
    assert parsed.plan.period_start == next_year
    await import_plan(
        parsed, pool=db_pool, client=client, task_queue=task_queue, accept_warnings=True
    )
    parent = client.get_workflow_handle(task_workflow_id(parsed.plan.id, "1"))

    async def waiting_for_a_period() -> str | None:
        async for event in parent.fetch_history_events():
            if event.HasField("timer_started_event_attributes"):
                summary = event.user_metadata.summary.data.decode()
                return summary or "a timer"
        return None

    await wait_until(waiting_for_a_period, what="the parent waiting for an occurrence's period")
    assert await parent.query(RecurringTaskWorkflow.started) == []
    assert f"{next_year}-Q1" in (await waiting_for_a_period() or "")
