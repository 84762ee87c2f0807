"""The dev server itself killed and restarted on its database file: timers still fire, each
once, and the event log and projection hold (tests.support.integrity)."""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from domain.lifecycle import EscalationRung, Offset, Policy
from runtime.embedded import EmbeddedTemporal, free_port
from runtime.settings import Settings
from tests.support.integrity import assert_event_log_consistent
from tests.support.lifecycle import make_task
from workers.registry import build_activities
from workers.service import build_worker
from workflows.task import TaskWorkflow
from workflows.task_contract import TaskWorkflowInput

pytestmark = [pytest.mark.slow, pytest.mark.fault]

SECOND = timedelta(seconds=1)
POLICY = Policy(
    reminders_before_due=[Offset(duration=2 * SECOND)],
    escalation=[
        EscalationRung(after_due=Offset(duration=8 * SECOND), level=1, recipients=["coordinator"])
    ],
    unaccepted_reminder_after=Offset(duration=timedelta(days=30)),
)


async def _connect(server: EmbeddedTemporal) -> Client:
    return await Client.connect(server.address, data_converter=pydantic_data_converter)


async def _kinds(pool: asyncpg.Pool, workflow_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT kind FROM task_events WHERE workflow_id = $1 ORDER BY seq", workflow_id
    )
    return [row["kind"] for row in rows]


async def _wait_for_kind(pool: asyncpg.Pool, workflow_id: str, kind: str) -> None:
    for _ in range(100):
        if kind in await _kinds(pool, workflow_id):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {kind} recorded for {workflow_id}")


async def _wait_until_recorded(
    pool: asyncpg.Pool, client: Client, workflow_id: str, kind: str
) -> None:
    """``kind`` is in PostgreSQL and the server knows the recording activity finished: a
    kill in between would lose the activity's answer, and the workflow would sit out the
    activity's timeout before its timers could record anything."""
    await _wait_for_kind(pool, workflow_id, kind)
    handle = client.get_workflow_handle(workflow_id)
    for _ in range(100):
        if not (await handle.describe()).raw_description.pending_activities:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the activity recording {kind} never finished for {workflow_id}")


async def _kill(server: EmbeddedTemporal) -> None:
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    await server.process.wait()


async def _sleep_past(instant: datetime) -> None:
    await asyncio.sleep(max((instant - datetime.now(UTC)).total_seconds(), 0) + 0.5)


async def test_pending_timers_fire_after_the_server_restarts(
    tmp_path: Path, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """Kill -9 the dev server while a task's reminder, 催办 and 督办 are pending; restart it
    on the same database file: 催办 fires. Kill it again while 督办 is pending and restart
    after its time: it fires. Each once, none lost, and the event log holds."""
    server = EmbeddedTemporal(tmp_path / "temporal.db", port=free_port(), ui_port=free_port())
    await server.start()
    settings = Settings(temporal_task_queue=task_queue)
    due_at = datetime.now(UTC) + 6 * SECOND
    workflow_id = f"durable-{task_queue}/7"
    try:
        client = await _connect(server)
        async with build_worker(client, settings, activities=build_activities(db_pool, "a")):
            await client.start_workflow(
                TaskWorkflow.run,
                TaskWorkflowInput(
                    plan_id="durable",
                    task=make_task(),
                    policy=POLICY,
                    due_at=[due_at],
                    search_attributes=False,
                ),
                id=workflow_id,
                task_queue=task_queue,
            )
            await _wait_until_recorded(db_pool, client, workflow_id, "assigned")
            await _kill(server)
        await _sleep_past(due_at)
        # The reminder's and 催办's times have passed while the server was down.
        await server.start()
        client = await _connect(server)
        async with build_worker(client, settings, activities=build_activities(db_pool, "b")):
            await _wait_until_recorded(db_pool, client, workflow_id, "urge")
            await _kill(server)
        await _sleep_past(due_at + POLICY.escalation[0].after_due.duration)
        # And now the 督办's.
        await server.start()
        client = await _connect(server)
        async with build_worker(client, settings, activities=build_activities(db_pool, "c")):
            await _wait_for_kind(db_pool, workflow_id, "escalation")
            await asyncio.sleep(1)  # nothing more may follow
            kinds = await _kinds(db_pool, workflow_id)
            await assert_event_log_consistent(db_pool, client, [workflow_id])
    finally:
        await server.stop()
    # The reminder and 催办 came due together during the outage: the stronger one fired
    # (no burst of stale reminders); the 督办, due during the second, fired after it. Once each.
    assert kinds == ["assigned", "urge", "escalation"]
