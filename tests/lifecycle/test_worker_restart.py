"""A whole lifecycle on the real dev server, with deadlines seconds away and a worker killed
(SIGKILL) and restarted in the middle: every timer still fires, and fires once, and every
task's event log and projection hold (tests.support.integrity)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import IO, Any

import asyncpg
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.lifecycle import EscalationRung, Offset, Policy, Stage
from tests.support.integrity import assert_event_log_consistent
from tests.support.lifecycle import (
    COOPERATING,
    COORDINATOR,
    LEAD,
    make_task,
    recorded_events,
    start_task,
    unit,
    wait_until,
)
from workflows.task import TaskWorkflow
from workflows.task_contract import Accept, ReportProgress, Review, SignOff, Submit

REPOSITORY = Path(__file__).resolve().parents[2]
SECONDS = timedelta(seconds=1)

# A worker killed with SIGKILL never says goodbye: the server keeps sending the task's next
# workflow task to its sticky queue until that times out (10 s), then to the restarted one.
STICKY_TIMEOUT = 10 * SECONDS
DUE_IN = STICKY_TIMEOUT + 5 * SECONDS
REMINDER_BEFORE = 2 * SECONDS
# Seconds-scale timers: a reminder 2 s before the due instant, 督办 at +1.5 s and +3 s after
# it; nothing else comes due within the test.
POLICY = Policy(
    reminders_before_due=[Offset(duration=REMINDER_BEFORE)],
    escalation=[
        EscalationRung(
            after_due=Offset(duration=1.5 * SECONDS),
            level=1,
            recipients=["unit_leadership", "coordinator"],
        ),
        EscalationRung(
            after_due=Offset(duration=3 * SECONDS), level=2, recipients=["government_office"]
        ),
    ],
    unaccepted_reminder_after=Offset(duration=timedelta(hours=1)),
    signoff_window=Offset(duration=timedelta(hours=1)),
    extension_notice=Offset(duration=timedelta(hours=1)),
)


async def _pollers(client: Client, task_queue: str) -> int:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return len(response.pollers)


@asynccontextmanager
async def _worker_process(
    env: dict[str, str], log: IO[bytes]
) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", "worker", env=env, cwd=REPOSITORY, stdout=log, stderr=log
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _no_pending_activity(handle: WorkflowHandle[Any, Any]) -> bool:
    return not (await handle.describe()).raw_description.pending_activities


async def _worker_identities(handle: WorkflowHandle[Any, Any]) -> set[str]:
    history = await handle.fetch_history()
    return {
        event.workflow_task_completed_event_attributes.identity
        for event in history.events
        if event.HasField("workflow_task_completed_event_attributes")
    }


@pytest.mark.slow
@pytest.mark.fault
async def test_killed_worker_restarts_and_every_timer_fires_once(
    dev_server_env: WorkflowEnvironment,
    dev_server_address: str,
    database_url: str,
    db_pool: asyncpg.Pool,
    task_queue: str,
    tmp_path: Path,
) -> None:
    """kill -9 of the worker after acceptance, then a restart: the reminder, 催办 and both 督办
    rungs are each recorded exactly once, and the task still runs to 办结. Two more tasks,
    started before the kill and acted on only after it (one through 会签 by two
    cooperating units), finish too."""
    client = dev_server_env.client
    env = {
        **os.environ,
        "DUBAN_TEMPORAL_ADDRESS": dev_server_address,
        "DUBAN_DATABASE_URL": database_url,
        "DUBAN_TEMPORAL_TASK_QUEUE": task_queue,
        "DUBAN_WORKER_HEALTH_PORT": "0",
        "DUBAN_LOG_FORMAT": "json",
    }
    lead = unit(LEAD)
    with (tmp_path / "worker.log").open("wb") as log:
        async with _worker_process(env, log) as first:
            await wait_until(
                lambda: _pollers(client, task_queue), timeout=30, what="the worker to poll"
            )
            due_at = datetime.now(UTC) + DUE_IN
            handle = await start_task(
                client,
                task_queue,
                make_task([due_at.date()], cooperating=()),
                policy=POLICY,
                due_at=[due_at],
                search_attributes=True,
            )
            await handle.execute_update(TaskWorkflow.accept, Accept(actor=lead))

            async def accepted_and_recorded() -> bool:
                kinds = [row["kind"] for row in await recorded_events(db_pool, handle.id)]
                return "accepted" in kinds and await _no_pending_activity(handle)

            await wait_until(accepted_and_recorded, what="the acceptance to be recorded")
            others = [
                await start_task(
                    client,
                    task_queue,
                    make_task([due_at.date()], cooperating=cooperating),
                    policy=POLICY,
                    due_at=[due_at + timedelta(days=30)],
                    search_attributes=True,
                )
                for cooperating in ((), COOPERATING)
            ]
            for other in others:
                await wait_until(
                    partial(recorded_events, db_pool, other.id), what="the hand-off to be recorded"
                )
            first.kill()  # SIGKILL: no drain, no goodbye to the server
            await first.wait()

        async with _worker_process(env, log) as second:
            # The next workflow task waits out the dead worker's sticky queue, then replays.
            await handle.execute_update(
                TaskWorkflow.report_progress,
                ReportProgress(actor=lead, percent=50, text="重启后继续"),
            )
            # Otherwise the reminder and 催办 would come due together and only 催办 would fire.
            assert datetime.now(UTC) < due_at - REMINDER_BEFORE, "the restart came too late"

            async def all_rungs() -> bool:
                rows = await recorded_events(db_pool, handle.id, "escalation")
                return any(row["level"] == 2 for row in rows)

            await wait_until(all_rungs, timeout=40, what="the level-2 escalation")
            await handle.execute_update(TaskWorkflow.submit, Submit(actor=lead, summary="完成"))
            await handle.execute_update(
                TaskWorkflow.review, Review(actor=COORDINATOR, approve=True)
            )
            snapshot = await asyncio.wait_for(handle.result(), timeout=30)
            for other in others:
                await other.execute_update(TaskWorkflow.accept, Accept(actor=lead))
                await other.execute_update(TaskWorkflow.submit, Submit(actor=lead, summary="完成"))
                for cooperating in (await other.query(TaskWorkflow.snapshot)).state.signoffs:
                    await other.execute_update(
                        TaskWorkflow.sign_off,
                        SignOff(actor=unit(cooperating.unit), approve=True),
                    )
                await other.execute_update(
                    TaskWorkflow.review, Review(actor=COORDINATOR, approve=True)
                )
                finished = await asyncio.wait_for(other.result(), timeout=30)
                assert finished.state.stage is Stage.COMPLETED
            await assert_event_log_consistent(
                db_pool, client, [handle.id, *(other.id for other in others)]
            )
            assert second.returncode is None

    assert snapshot.state.stage is Stage.COMPLETED
    counts = {
        (row["kind"], row["level"]): row["n"]
        for row in await db_pool.fetch(
            "SELECT kind, level, count(*) AS n FROM task_events WHERE workflow_id = $1"
            " GROUP BY kind, level",
            handle.id,
        )
    }
    assert counts == {
        ("assigned", None): 1,
        ("accepted", None): 1,
        ("progress", None): 1,
        ("reminder", None): 1,
        ("urge", None): 1,
        ("escalation", 1): 1,
        ("escalation", 2): 1,
        ("submitted", None): 1,
        ("milestone_done", None): 1,
        ("completed", None): 1,
    }
    rows = await recorded_events(db_pool, handle.id)
    assert [row["seq"] for row in rows] == list(range(1, len(rows) + 1))
    timers = {row["kind"]: row["at"] for row in rows if row["kind"] in {"reminder", "urge"}}
    assert timers["reminder"] >= due_at - REMINDER_BEFORE
    assert timers["urge"] >= due_at
    assert len(await _worker_identities(handle)) == 2
