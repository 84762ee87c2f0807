"""Record workflow histories for the replay tests: ``python -m tests.support.record_histories``.

The files it writes are the first history baseline: nothing is deployed yet, so there are no
patches and nothing is kept from before. From now on the files are what running workflows
look like, and CI replays them against the current code so an unguarded change fails.
Record a history again only when no running workflow can have the old one. A change that
alters running workflows instead goes behind ``workflow.patched``, keeps the files recorded
before it (under new names, as this script overwrites its own) and lists the patch id in
``tests/test_replay.KNOWN_PATCHES``. Name scenarios (``... record_histories
recurring_withdrawn``) to record only those and leave the other files as they are.

The lifecycle scenarios run on a real dev server with deadlines seconds away (the
workflow input carries absolute instants and durations), so they take about half a minute.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from domain.calendar import SHANGHAI
from domain.lifecycle import Actor, EscalationRung, Offset, Policy
from domain.notice import Notice
from domain.plan import Milestone, PlanTask, Provenance, Recurrence
from runtime.embedded import EmbeddedPostgres, free_port, installed_executable
from runtime.settings import Settings
from store.db import create_pool
from store.migrate import migrate_database
from workers.registry import build_activities
from workers.service import build_worker
from workflows.monthly_notice import MonthlyNoticeRequest, MonthlyNoticeWorkflow
from workflows.recurring import RecurringTaskInput, RecurringTaskWorkflow
from workflows.stack_check import StackCheckRequest, StackCheckWorkflow
from workflows.task import TaskWorkflow
from workflows.task_contract import (
    Accept,
    Cancel,
    DecideExtension,
    Reassign,
    ReportProgress,
    RequestExtension,
    Review,
    SignOff,
    Submit,
    TaskWorkflowInput,
    Withdrawal,
)

HISTORIES = Path(__file__).parent.parent / "histories"


async def record(names: Sequence[str] = ()) -> None:
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        raise SystemExit(
            f"no such scenario: {', '.join(sorted(unknown))}; known: {', '.join(SCENARIOS)}"
        )
    with tempfile.TemporaryDirectory() as scratch:
        postgres = EmbeddedPostgres(Path(scratch) / "data", port=free_port())
        await postgres.start()
        await migrate_database(postgres.dsn)
        pool = await create_pool(postgres.dsn)
        _RECORDING["pool"] = pool
        env = await WorkflowEnvironment.start_local(
            data_converter=pydantic_data_converter,
            dev_server_existing_path=str(installed_executable("temporal")),
            ui=False,
        )
        try:
            queue = f"record-{uuid.uuid4().hex}"
            settings = Settings(temporal_task_queue=queue)
            activities = build_activities(pool, "recorder")
            async with build_worker(env.client, settings, activities=activities):
                for name, scenario in SCENARIOS.items():
                    if not names or name in names:
                        await scenario(env.client, queue)
        finally:
            await env.shutdown()
            await pool.close()
            await postgres.stop()


async def _record_stack_check(client: Client, queue: str) -> None:
    handle = await client.start_workflow(
        StackCheckWorkflow.run,
        StackCheckRequest(check_id="recorded", requested_at=datetime.now(UTC)),
        id="stack-check-recorded",
        task_queue=queue,
    )
    await handle.result()
    await _write(handle, "stack_check")


SECOND = timedelta(seconds=1)
QUICK_POLICY = Policy(
    reminders_before_due=[Offset(duration=2 * SECOND)],
    escalation=[
        EscalationRung(after_due=Offset(duration=SECOND), level=1, recipients=["coordinator"]),
        EscalationRung(
            after_due=Offset(duration=3 * SECOND), level=2, recipients=["government_office"]
        ),
    ],
    unaccepted_reminder_after=Offset(duration=SECOND),
    progress_interval=Offset(duration=timedelta(days=30)),
    signoff_window=Offset(duration=2 * SECOND),
    extension_notice=Offset(duration=2 * SECOND),
)
LEAD = Actor(role="unit", unit="市信息办")
FINANCE = Actor(role="unit", unit="市财政局")
AUDIT = Actor(role="unit", unit="市审计局")
COORDINATOR = Actor(role="coordinator", name="督查室")


def _task(task_id: str, due: date) -> PlanTask:
    return PlanTask(
        id=task_id,
        seq=int(task_id),
        text="建立网上审批负面清单制度",
        lead_units=[LEAD.unit or ""],
        cooperating_units=[FINANCE.unit or "", AUDIT.unit or ""],
        milestones=[Milestone(due=due, raw=f"{due.year}年{due.month}月{due.day}日前")],
        source=Provenance(file="recorded.txt", lines=(3, 5)),
    )


async def _record_lifecycle(client: Client, queue: str) -> None:
    """Every kind of step once: reminders, 催办, both 督办 rungs, an objection, a silent
    unit deemed to consent, a review return, and finally completion."""
    due_at = datetime.now(UTC) + 5 * SECOND
    handle = await client.start_workflow(
        TaskWorkflow.run,
        TaskWorkflowInput(
            plan_id="recorded",
            task=_task("4", date.today()),
            policy=QUICK_POLICY,
            due_at=[due_at],
            search_attributes=False,
        ),
        id="recorded/4",
        task_queue=queue,
    )
    await asyncio.sleep(1.5)  # the unaccepted reminder fires
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=LEAD), id="accept-1")
    await handle.execute_update(
        TaskWorkflow.report_progress, ReportProgress(actor=LEAD, percent=30, text="推进中")
    )
    await asyncio.sleep((due_at - datetime.now(UTC)).total_seconds() + 4)  # 催办, 督办 1 and 2
    await handle.execute_update(TaskWorkflow.submit, Submit(actor=LEAD, summary="已完成"))
    await handle.execute_update(
        TaskWorkflow.sign_off, SignOff(actor=FINANCE, approve=False, reason="缺少证明材料")
    )
    await handle.execute_update(TaskWorkflow.submit, Submit(actor=LEAD, summary="已补充材料"))
    await handle.execute_update(TaskWorkflow.sign_off, SignOff(actor=FINANCE, approve=True))
    await asyncio.sleep(3)  # 市审计局 stays silent and is deemed to consent
    await handle.execute_update(
        TaskWorkflow.review, Review(actor=COORDINATOR, approve=False, reason="请补充数据")
    )
    await handle.execute_update(TaskWorkflow.submit, Submit(actor=LEAD, summary="已补充数据"))
    await handle.execute_update(TaskWorkflow.sign_off, SignOff(actor=FINANCE, approve=True))
    await handle.execute_update(TaskWorkflow.sign_off, SignOff(actor=AUDIT, approve=True))
    await handle.execute_update(TaskWorkflow.review, Review(actor=COORDINATOR, approve=True))
    await handle.result()
    await _write(handle, "lifecycle_full")


async def _start_quick(
    client: Client, queue: str, task_id: str, today: date
) -> WorkflowHandle[TaskWorkflow, Any]:
    """A task due today, with its deadline 20 seconds away and the quick policy."""
    return await client.start_workflow(
        TaskWorkflow.run,
        TaskWorkflowInput(
            plan_id="recorded",
            task=_task(task_id, today),
            policy=QUICK_POLICY,
            due_at=[datetime.now(UTC) + 20 * SECOND],
            search_attributes=False,
        ),
        id=f"recorded/{task_id}",
        task_queue=queue,
    )


async def _record_extension_then_cancel(client: Client, queue: str) -> None:
    """An extension requested and granted, then the task cancelled."""
    today = date.today()
    handle = await _start_quick(client, queue, "5", today)
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=LEAD))
    await handle.execute_update(
        TaskWorkflow.request_extension,
        RequestExtension(actor=LEAD, new_due=today + timedelta(days=1), reason="数据未到位"),
    )
    await handle.execute_update(
        TaskWorkflow.decide_extension, DecideExtension(actor=COORDINATOR, approve=True)
    )
    await handle.execute_update(
        TaskWorkflow.cancel, Cancel(actor=COORDINATOR, reason="任务已并入其他事项")
    )
    await handle.result()
    await _write(handle, "lifecycle_extension_cancel")


def _recurring_task(task_id: str, recurrence: Recurrence) -> PlanTask:
    return _task(task_id, date.today()).model_copy(
        update={"milestones": [], "recurrence": recurrence}
    )


async def _started(handle: WorkflowHandle[Any, Any], count: int) -> list[str]:
    while len(started := await handle.query(RecurringTaskWorkflow.started)) < count:
        await asyncio.sleep(0.2)
    return list(started)


async def _record_recurring_withdrawn(client: Client, queue: str) -> None:
    """A monthly task (一月一通报) on a plan calendar set seconds before 1 March 2026:
    February's occurrence starts at once and the coordinator closes it; March's starts at
    midnight; a re-import moves the due day to the 20th while the parent waits for April;
    then the task leaves its plan: March's occurrence is cancelled and the parent completes."""
    march = datetime(2026, 3, 1, tzinfo=SHANGHAI)
    handle = await client.start_workflow(
        RecurringTaskWorkflow.run,
        RecurringTaskInput(
            plan_id="recorded",
            task=_recurring_task("21", Recurrence(frequency="monthly", raw="一月一通报")),
            until_year=2026,
            not_before=date(2026, 2, 28),
            search_attributes=False,
            clock_offset=datetime.now(UTC) - (march - 5 * SECOND),
        ),
        id="recorded/21",
        task_queue=queue,
    )
    (february,) = await _started(handle, 1)
    closed = client.get_workflow_handle(february)
    await closed.execute_update(TaskWorkflow.cancel, Cancel(actor=COORDINATOR, reason="本月已通报"))
    await closed.result()
    _, march_id = await _started(handle, 2)
    twentieth = Recurrence(frequency="monthly", day=20, raw="每月20日前")
    await handle.execute_update(
        RecurringTaskWorkflow.revise,
        _recurring_task("21", twentieth),
        id="revise-recorded",
    )
    await handle.execute_update(
        RecurringTaskWorkflow.withdraw,
        Withdrawal(reason="no longer in recorded.txt"),
        id="withdraw",
    )
    await handle.result()
    await client.get_workflow_handle(march_id).result()
    await _write(handle, "recurring_withdrawn")


async def _record_recurring_last_occurrence(client: Client, queue: str) -> None:
    """A yearly task whose one occurrence of this year starts at once: the parent waits for
    it, and completes when the coordinator closes it."""
    handle = await client.start_workflow(
        RecurringTaskWorkflow.run,
        RecurringTaskInput(
            plan_id="recorded",
            task=_recurring_task("22", Recurrence(frequency="yearly", month=1, raw="每年1月底前")),
            until_year=date.today().year,
            search_attributes=False,
        ),
        id="recorded/22",
        task_queue=queue,
    )
    (occurrence,) = await _started(handle, 1)
    await client.get_workflow_handle(occurrence).execute_update(
        TaskWorkflow.cancel, Cancel(actor=COORDINATOR, reason="任务已并入其他事项")
    )
    await handle.result()
    await _write(handle, "recurring_last_occurrence")


async def _record_reassigned_with_extension_waiting(client: Client, queue: str) -> None:
    """The lead asks for more time and is replaced before the decision, which then grants
    the former lead's request: the rule before the ``reassign-lapses-extension`` patch."""
    today = date.today()
    handle = await _start_quick(client, queue, "6", today)
    await handle.execute_update(TaskWorkflow.accept, Accept(actor=LEAD))
    await handle.execute_update(
        TaskWorkflow.request_extension,
        RequestExtension(actor=LEAD, new_due=today + timedelta(days=1), reason="数据未到位"),
    )
    await handle.execute_update(
        TaskWorkflow.reassign, Reassign(actor=COORDINATOR, unit=FINANCE.unit or "")
    )
    await handle.execute_update(
        TaskWorkflow.decide_extension, DecideExtension(actor=COORDINATOR, approve=True)
    )
    await handle.execute_update(
        TaskWorkflow.cancel, Cancel(actor=COORDINATOR, reason="任务已并入其他事项")
    )
    await handle.result()
    await _write(handle, "reassigned_with_extension_waiting")


async def _record_monthly_notice(client: Client, queue: str) -> None:
    """A scheduled-style run (no month given) over two plans and the all-plans notice.

    Its own worker builds the notices from the renderers' sample notice: the workflow's
    commands are the same whatever the as-of arithmetic computes."""
    from activities.monthly_notice import MonthlyNoticeActivities
    from tests.reports.notices import notice as sample_notice

    pool = _RECORDING["pool"]
    async with pool.acquire() as connection:
        await connection.executemany(
            "INSERT INTO plans (plan_id, title, period_start, period_end, source_file, format,"
            " fingerprint) VALUES ($1, $1, 2026, 2026, 'x.md', 'md', $1)",
            [("plan-a",), ("plan-b",)],
        )

    async def sample(
        _pool: asyncpg.Pool, month: str, plan_id: str | None, unit: str | None
    ) -> Notice:
        return sample_notice(tasks_count=4).model_copy(
            update={"month": month, "plan_id": plan_id, "unit": unit}
        )

    notice_queue = f"{queue}-notice"
    activities = MonthlyNoticeActivities(pool, builder=sample)
    async with build_worker(
        client,
        Settings(temporal_task_queue=notice_queue),
        activities=[activities.list_notice_plans, activities.store_monthly_notice],
        workflows=[MonthlyNoticeWorkflow],
    ):
        handle = await client.start_workflow(
            MonthlyNoticeWorkflow.run,
            MonthlyNoticeRequest(),
            id="monthly-notice-recorded",
            task_queue=notice_queue,
        )
        await handle.result()
    await _write(handle, "monthly_notice")


async def _write(handle: WorkflowHandle[Any, Any], name: str) -> None:
    history = await handle.fetch_history()
    (HISTORIES / f"{name}.json").write_text(history.to_json())


SCENARIOS: dict[str, Callable[[Client, str], Awaitable[None]]] = {
    "stack_check": _record_stack_check,
    "lifecycle_full": _record_lifecycle,
    "lifecycle_extension_cancel": _record_extension_then_cancel,
    "recurring_withdrawn": _record_recurring_withdrawn,
    "recurring_last_occurrence": _record_recurring_last_occurrence,
    "reassigned_with_extension_waiting": _record_reassigned_with_extension_waiting,
    "monthly_notice": _record_monthly_notice,
}
# What a scenario needs beyond the client and queue: the recorder's database.
_RECORDING: dict[str, asyncpg.Pool] = {}


if __name__ == "__main__":
    asyncio.run(record(sys.argv[1:]))
