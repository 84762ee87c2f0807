"""Recurring tasks: one TaskWorkflow per period, each with its own deadline."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta
from typing import Any

import asyncpg
import pytest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from domain.calendar import SHANGHAI
from domain.lifecycle import Stage
from domain.plan import Milestone, PlanTask, Provenance, Recurrence
from domain.recurrence import Occurrence, occurrences
from runtime.embedded import installed_executable
from tests.support.lifecycle import (
    COORDINATOR,
    LEAD,
    make_task,
    recorded_events,
    running_worker,
    settle,
    start_task,
    time_skipping_paused,
    wait_until,
)
from workflows.recurring import RecurringTaskInput, RecurringTaskWorkflow
from workflows.task import TaskWorkflow
from workflows.task_contract import Cancel, TaskSnapshot, TaskWorkflowInput, Withdrawal


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
        await time_skipping_env.sleep(timedelta(days=400 + 366))
        started = await handle.query(RecurringTaskWorkflow.started)
        assert started == [f"{handle.id}@{first}", f"{handle.id}@{second}"]
        for year, child_id in zip((first, second), started, strict=True):
            child = client.get_workflow_handle(child_id)
            snapshot = await child.query(TaskWorkflow.snapshot)
            assert snapshot.state.milestones[0].due == date(year, 1, 31)
    urged = await db_pool.fetch(
        "SELECT workflow_id FROM task_events WHERE kind = 'urge' ORDER BY at"
    )
    assert [row["workflow_id"] for row in urged] == started


# ---------------------------------------------------------------- re-import reaching occurrences

YEARLY_JANUARY = Recurrence(frequency="yearly", month=1, raw="每年1月底前")
WITHDRAWN = "no longer in plan.txt"


def _recurring_task(recurrence: Recurrence | None = YEARLY_JANUARY) -> PlanTask:
    return PlanTask(
        id="20",
        seq=20,
        text="向市大数据管理局报送上年度政务信息系统运行情况",
        lead_units=[LEAD],
        recurrence=recurrence,
        source=Provenance(file="plan.txt", lines=(160, 162)),
    )


def _midnight(day: date) -> datetime:
    """When a period beginning on ``day`` begins: midnight in Beijing."""
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


async def _today(env: WorkflowEnvironment) -> date:
    return (await env.get_current_time()).astimezone(SHANGHAI).date()


def _planned(today: date, years: int) -> list[Occurrence]:
    """The yearly January occurrences a parent started today starts, over ``years`` years:
    the first begins at once (its period began last February)."""
    every = occurrences(YEARLY_JANUARY, today.year, today.year + years)
    return [occurrence for occurrence in every if occurrence.due >= today]


async def _start_parent(
    client: Client, task_queue: str, today: date, until_year: int, **carried: Any
) -> WorkflowHandle[Any, Any]:
    return await client.start_workflow(
        RecurringTaskWorkflow.run,
        RecurringTaskInput(
            plan_id="recurring",
            task=_recurring_task(),
            until_year=until_year,
            not_before=today,
            search_attributes=False,
            **carried,
        ),
        id=f"recurring-{task_queue}/20",
        task_queue=task_queue,
    )


async def _wait_for_started(handle: WorkflowHandle[Any, Any], count: int) -> list[str]:
    async def started_enough() -> bool:
        return len(await handle.query(RecurringTaskWorkflow.started)) >= count

    await wait_until(started_enough, what=f"{count} occurrences to start")
    started: list[str] = await handle.query(RecurringTaskWorkflow.started)
    return started


async def _snapshot(client: Client, workflow_id: str) -> TaskSnapshot:
    snapshot: TaskSnapshot = await client.get_workflow_handle(workflow_id).query(
        TaskWorkflow.snapshot
    )
    return snapshot


async def _start_occurrence(
    client: Client, task_queue: str, workflow_id: str, due: date
) -> WorkflowHandle[Any, Any]:
    """An occurrence as an earlier run of the parent started it."""
    task = _recurring_task(None).model_copy(
        update={"milestones": [Milestone(due=due, raw=YEARLY_JANUARY.raw)]}
    )
    return await client.start_workflow(
        TaskWorkflow.run,
        TaskWorkflowInput(plan_id="recurring", task=task, search_attributes=False),
        id=workflow_id,
        task_queue=task_queue,
    )


async def _cancelled_events(pool: asyncpg.Pool, workflow_id: str) -> list[asyncpg.Record]:
    return await recorded_events(pool, workflow_id, "cancelled")


async def _cancel_last_and_see_the_parent_complete(
    env: WorkflowEnvironment, parent: WorkflowHandle[Any, Any], last_id: str
) -> None:
    """The coordinator cancels the last occurrence; its parent, which waited for it, ends."""
    await env.client.get_workflow_handle(last_id).execute_update(
        TaskWorkflow.cancel, Cancel(actor=COORDINATOR, reason="任务已并入其他事项")
    )
    with time_skipping_paused(env):
        assert await parent.result() == [last_id]


async def test_withdrawal_cancels_every_open_occurrence_and_starts_no_more(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """A task withdrawn from its plan cancels the running occurrence and one an earlier run
    (before continue-as-new) left open, each with the withdrawal's reason; an occurrence
    closed meanwhile stays as it was, the parent completes, and no later one starts."""
    env = time_skipping_env
    client = env.client
    today = await _today(env)
    first, second = _planned(today, 3)[:2]
    parent_id = f"recurring-{task_queue}/20"
    async with running_worker(client, db_pool, task_queue):
        carried_open = await _start_occurrence(
            client, task_queue, f"{parent_id}@{first.due.year - 1}", first.due
        )
        carried_closed = await _start_occurrence(
            client, task_queue, f"{parent_id}@{first.due.year - 2}", first.due
        )
        await carried_closed.execute_update(
            TaskWorkflow.cancel, Cancel(actor=COORDINATOR, reason="任务已并入其他事项")
        )
        with time_skipping_paused(env):
            await carried_closed.result()
        handle = await _start_parent(
            client,
            task_queue,
            today,
            until_year=second.due.year,
            open_occurrences=[carried_closed.id, carried_open.id],
        )
        (running_id,) = await _wait_for_started(handle, 1)
        assert running_id == f"{parent_id}@{first.key}"

        await handle.execute_update(RecurringTaskWorkflow.withdraw, Withdrawal(reason=WITHDRAWN))
        with time_skipping_paused(env):
            assert await handle.result() == [running_id]
            for withdrawn_id in (running_id, carried_open.id):
                snapshot = await client.get_workflow_handle(
                    withdrawn_id, result_type=TaskSnapshot
                ).result()
                assert snapshot.state.stage is Stage.CANCELLED
                assert snapshot.state.close_reason == WITHDRAWN
                (cancelled,) = await _cancelled_events(db_pool, withdrawn_id)
                assert json.loads(cancelled["detail"])["reason"] == WITHDRAWN
            untouched = await carried_closed.result()
            assert untouched.state.close_reason == "任务已并入其他事项"
        # Completed, the parent starts nothing more: the next period's occurrence never comes.
        assert (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED


async def test_parent_stays_open_until_its_last_occurrence_closes(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """After starting its last occurrence the parent stays open (a re-import can still
    withdraw the task), and completes once that occurrence closes."""
    env = time_skipping_env
    client = env.client
    today = await _today(env)
    last = _planned(today, 1)[0]
    async with running_worker(client, db_pool, task_queue):
        handle = await _start_parent(client, task_queue, today, until_year=last.due.year)
        (child_id,) = await _wait_for_started(handle, 1)
        await env.sleep(timedelta(days=1))  # ample for the parent to complete if it would
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING

        await _cancel_last_and_see_the_parent_complete(env, handle, child_id)


async def test_parent_waits_for_an_earlier_occurrence_still_open(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """An overdue occurrence can outlive the next: with the last one closed and the one
    before still open, the parent stays open (a withdrawal must still reach it), and ends
    when that one closes too."""
    env = time_skipping_env
    client = env.client
    today = await _today(env)
    second = _planned(today, 2)[1]
    async with running_worker(client, db_pool, task_queue):
        handle = await _start_parent(client, task_queue, today, until_year=second.due.year)
        await env.sleep(
            _midnight(second.period_start) + timedelta(days=1) - await env.get_current_time()
        )
        first_id, second_id = await _wait_for_started(handle, 2)
        await client.get_workflow_handle(second_id).execute_update(
            TaskWorkflow.cancel, Cancel(actor=COORDINATOR, reason="任务已并入其他事项")
        )
        await env.sleep(timedelta(days=1))
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await client.get_workflow_handle(first_id).execute_update(
            TaskWorkflow.cancel, Cancel(actor=COORDINATOR, reason="逾期事项已另行处理")
        )
        with time_skipping_paused(env):
            assert await handle.result() == [first_id, second_id]


async def test_a_terminated_last_occurrence_does_not_fail_the_parent(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """An operator terminating the last occurrence closes it too: the parent completes.
    (The time-skipping server does not tell a parent that its child was terminated.)"""
    client = dev_server_env.client
    today = await _today(dev_server_env)
    last = _planned(today, 1)[0]
    async with running_worker(client, db_pool, task_queue):
        handle = await _start_parent(client, task_queue, today, until_year=last.due.year)
        (child_id,) = await _wait_for_started(handle, 1)
        child = client.get_workflow_handle(child_id)
        await settle(child, db_pool)  # no activity left in flight under the termination
        await child.terminate(reason="operator")
        assert await handle.result() == [child_id]


async def test_revised_recurrence_moves_the_next_occurrence(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """每年1月底前 re-read as 每年6月底前 while the parent waits: the next occurrence is due at
    June's end and begins after the running one's due date, which keeps its January."""
    env = time_skipping_env
    client = env.client
    today = await _today(env)
    first = _planned(today, 1)[0]
    following = first.due.year + 1
    async with running_worker(client, db_pool, task_queue):
        handle = await _start_parent(client, task_queue, today, until_year=following)
        (first_id,) = await _wait_for_started(handle, 1)
        june = Recurrence(frequency="yearly", month=6, raw="每年6月底前")
        await handle.execute_update(RecurringTaskWorkflow.revise, _recurring_task(june))

        # The January reading would have started the next occurrence on 1 February.
        await env.sleep(_midnight(date(first.due.year, 2, 15)) - await env.get_current_time())
        assert await handle.query(RecurringTaskWorkflow.started) == [first_id]
        await env.sleep(_midnight(date(first.due.year, 7, 2)) - await env.get_current_time())
        started = await _wait_for_started(handle, 2)
        assert started == [first_id, f"{handle.id}@{following}"]
        assert (await _snapshot(client, first_id)).state.milestones[0].due == first.due
        next_due = (await _snapshot(client, started[1])).state.milestones[0].due
        assert next_due == date(following, 6, 30)


async def test_a_revised_recurrence_starts_nothing_already_past_due(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """每年1月底前 re-read as 每月底前 in June: February to May, due before the revision, are
    not started overdue; the next occurrence is June's, and it starts at once."""
    env = time_skipping_env
    client = env.client
    today = await _today(env)
    first = _planned(today, 1)[0]
    async with running_worker(client, db_pool, task_queue):
        handle = await _start_parent(client, task_queue, today, until_year=first.due.year)
        (first_id,) = await _wait_for_started(handle, 1)
        await env.sleep(_midnight(date(first.due.year, 6, 10)) - await env.get_current_time())
        monthly = Recurrence(frequency="monthly", raw="每月底前")
        await handle.execute_update(RecurringTaskWorkflow.revise, _recurring_task(monthly))
        started = await _wait_for_started(handle, 2)
        assert started == [first_id, f"{handle.id}@{first.due.year}-06"]
        june = (await _snapshot(client, started[1])).state.milestones[0].due
        assert june == date(first.due.year, 6, 30)


async def test_revision_without_recurrence_starts_no_more_occurrences(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """A re-import that no longer reads a recurrence stops further occurrences; the parent
    still waits for the running one, then completes."""
    env = time_skipping_env
    client = env.client
    today = await _today(env)
    second = _planned(today, 2)[1]
    async with running_worker(client, db_pool, task_queue):
        handle = await _start_parent(client, task_queue, today, until_year=second.due.year)
        (first_id,) = await _wait_for_started(handle, 1)
        await handle.execute_update(RecurringTaskWorkflow.revise, _recurring_task(None))
        await env.sleep(_midnight(second.period_start) - await env.get_current_time())
        await env.sleep(timedelta(days=2))
        assert await handle.query(RecurringTaskWorkflow.started) == [first_id]
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await _cancel_last_and_see_the_parent_complete(env, handle, first_id)


async def test_withdrawal_signal_to_a_closed_task_changes_nothing(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """A signal cannot be refused: one that finds the task closed (its closing event still
    being recorded, so the workflow is open), or that carries no reason, is dropped."""
    env = time_skipping_env
    client = env.client
    async with running_worker(client, db_pool, task_queue):
        handle = await start_task(client, task_queue, make_task([await _today(env)]))
        await settle(handle, db_pool)
        await handle.signal(TaskWorkflow.withdraw_occurrence, Withdrawal(reason="  "))
        async with db_pool.acquire() as connection, connection.transaction():
            # Holds the closing event's write, so the workflow stays open past its closure.
            await connection.execute("LOCK TABLE task_events IN EXCLUSIVE MODE")
            await handle.execute_update(
                TaskWorkflow.cancel, Cancel(actor=COORDINATOR, reason="任务已并入其他事项")
            )
            assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
            await handle.signal(TaskWorkflow.withdraw_occurrence, Withdrawal(reason=WITHDRAWN))
        with time_skipping_paused(env):
            snapshot = await handle.result()
    assert snapshot.state.stage is Stage.CANCELLED
    assert snapshot.state.close_reason == "任务已并入其他事项"
    (cancelled,) = await _cancelled_events(db_pool, handle.id)
    assert json.loads(cancelled["detail"])["reason"] == "任务已并入其他事项"


@pytest.mark.parametrize(
    "recurrence",
    [
        Recurrence(frequency="quarterly", raw="每季度"),
        Recurrence(frequency="half-yearly", raw="每半年"),
        Recurrence(frequency="monthly", day=25, raw="每月25日前"),
    ],
    ids=["quarterly", "half-yearly", "monthly-25th"],
)
async def test_new_frequencies_start_one_occurrence_per_period(
    time_skipping_env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
    task_queue: str,
    recurrence: Recurrence,
) -> None:
    """每季度, 每半年 and 每月25日前 run end to end: the parent starts the current period's
    occurrence at once and the next one when its period begins, each with its own key and
    due date (the quarter's or half year's end, the 25th), then a withdrawal ends them."""
    env = time_skipping_env
    client = env.client
    today = await _today(env)
    planned = [
        occurrence
        for occurrence in occurrences(recurrence, today.year, today.year + 1)
        if occurrence.due >= today
    ][:2]
    async with running_worker(client, db_pool, task_queue):
        handle = await client.start_workflow(
            RecurringTaskWorkflow.run,
            RecurringTaskInput(
                plan_id="recurring",
                task=_recurring_task(recurrence),
                until_year=planned[1].due.year,
                not_before=today,
                search_attributes=False,
            ),
            id=f"recurring-{task_queue}/20",
            task_queue=task_queue,
        )
        assert await _wait_for_started(handle, 1) == [f"{handle.id}@{planned[0].key}"]
        await env.sleep(
            _midnight(planned[1].period_start) + timedelta(hours=1) - await env.get_current_time()
        )
        started = await _wait_for_started(handle, 2)
        assert started == [f"{handle.id}@{occurrence.key}" for occurrence in planned]
        for child_id, occurrence in zip(started, planned, strict=True):
            assert (await _snapshot(client, child_id)).state.milestones[0].due == occurrence.due
        await handle.execute_update(RecurringTaskWorkflow.withdraw, Withdrawal(reason=WITHDRAWN))
        with time_skipping_paused(env):
            assert await handle.result() == started
