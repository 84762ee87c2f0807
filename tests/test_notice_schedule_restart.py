"""The monthly notice's Schedule when the worker dies in the middle of a firing: the first
plan's notice is committed but its activity never reports back; a new worker retries it and
finishes the run. Still exactly one notice and one notification per plan and month."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import asyncpg
import pytest
from temporalio import activity
from temporalio.client import ScheduleActionExecutionStartWorkflow, ScheduleBackfill
from temporalio.client import ScheduleOverlapPolicy as Overlap
from temporalio.testing import WorkflowEnvironment

from activities.monthly_notice import MonthlyNoticeActivities
from runtime.settings import Settings
from store.notices import outbox_key
from tests.test_notices import (
    SHANGHAI,
    add_coordinator,
    add_plan,
    count_rows,
    sample_builder,
    unique_name,
)
from workers.notice_schedule import ensure_monthly_notice_schedule
from workers.service import build_worker
from workflows.monthly_notice import (
    STORE_MONTHLY_NOTICE,
    MonthlyNoticeResult,
    MonthlyNoticeWorkflow,
    StoreNoticeRequest,
    StoreNoticeResult,
)


class DiesAfterTheFirstCommit(MonthlyNoticeActivities):
    """Stores as usual, then hangs before answering: the worker is killed at that moment."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        super().__init__(pool, builder=sample_builder)
        self.committed = asyncio.Event()

    @activity.defn(name=STORE_MONTHLY_NOTICE)
    async def store_monthly_notice(self, request: StoreNoticeRequest) -> StoreNoticeResult:
        result = await super().store_monthly_notice(request)
        self.committed.set()
        await asyncio.Event().wait()  # never answers; cancelled by the shutdown
        return result


@pytest.mark.fault
async def test_a_worker_killed_mid_firing_leaves_one_notice_per_plan_and_month(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    client = dev_server_env.client
    plans = sorted([unique_name("restart-a"), unique_name("restart-b")])
    for plan_id in plans:
        await add_plan(db_pool, plan_id)
    await add_coordinator(db_pool, "督查室", None)
    schedule_id = unique_name("notice-schedule-restart")
    await ensure_monthly_notice_schedule(client, task_queue, schedule_id)
    handle = client.get_schedule_handle(schedule_id)
    settings = Settings(temporal_task_queue=task_queue, worker_shutdown_grace_seconds=0)
    month = "2026-08"
    try:
        # A firing missed while Temporal was down runs when it is back, up to a month late.
        policy = (await handle.describe()).schedule.policy
        assert policy.catchup_window == timedelta(days=31)
        await handle.backfill(
            ScheduleBackfill(
                start_at=datetime(2026, 9, 1, 8, 59, tzinfo=SHANGHAI),
                end_at=datetime(2026, 9, 1, 9, 1, tzinfo=SHANGHAI),
                overlap=Overlap.ALLOW_ALL,
            )
        )
        dying = DiesAfterTheFirstCommit(db_pool)
        first = build_worker(
            client,
            settings,
            activities=[dying.list_notice_plans, dying.store_monthly_notice],
            workflows=[MonthlyNoticeWorkflow],
        )
        async with first:
            await asyncio.wait_for(dying.committed.wait(), timeout=120)
        # The first plan's notice is in, its activity unanswered, the worker gone.
        committed = await count_rows(db_pool, month)
        assert committed == (1, 1)

        healthy = MonthlyNoticeActivities(db_pool, builder=sample_builder)
        second = build_worker(
            client,
            settings,
            activities=[healthy.list_notice_plans, healthy.store_monthly_notice],
            workflows=[MonthlyNoticeWorkflow],
        )
        async with second:
            run = None
            for _ in range(600):
                actions = (await handle.describe()).info.recent_actions
                if actions:
                    run = actions[-1].action
                    break
                await asyncio.sleep(0.1)
            assert isinstance(run, ScheduleActionExecutionStartWorkflow)
            result = await asyncio.wait_for(
                client.get_workflow_handle(
                    run.workflow_id, result_type=MonthlyNoticeResult
                ).result(),
                timeout=180,
            )
        assert result.month == month
        assert [r.plan_id for r in result.stored] == [*plans, None]
        # The retried first plan found its notice stored: nothing new, nobody told twice.
        assert [r.created for r in result.stored] == [False, True, True]
        assert await count_rows(db_pool, month) == (3, 3)
        async with db_pool.acquire() as connection:
            told = await connection.fetchval(
                "SELECT count(*) FROM notification_outbox WHERE workflow_id = $1",
                outbox_key(month, plans[0], None),
            )
        assert told == 1
    finally:
        await handle.delete()
