"""Notifications: written once with their event, delivered by the dispatcher with retries,
and never in the lifecycle's way when a channel is down."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response
from temporalio.testing import WorkflowEnvironment

from activities.task_events import TaskEventActivities
from domain.lifecycle import Stage, TaskEvent
from notifications.channels import LogChannel, WebhookChannel
from notifications.dispatcher import DispatchPolicy, OutboxDispatcher
from runtime.embedded import free_port
from runtime.settings import Settings
from tests.support.lifecycle import (
    COOPERATING,
    COORDINATOR,
    LEAD,
    make_task,
    start_task,
    unit,
)
from workers.registry import build_activities
from workers.service import build_worker
from workflows.task import TaskWorkflow
from workflows.task_contract import (
    Accept,
    RecordEvents,
    Review,
    SignOff,
    Submit,
    TaskProjection,
)


@dataclass
class Receiver:
    """A webhook endpoint that fails its first ``failures`` calls, then records each one."""

    failures: int = 0
    calls: int = 0
    received: list[tuple[str, dict[str, object]]] = field(default_factory=list)
    url: str = ""


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        state.calls += 1
        if state.calls <= state.failures:
            return Response(status_code=503)
        state.received.append((request.headers["Idempotency-Key"], await request.json()))
        return Response(status_code=204)

    port = free_port()
    server = _QuietServer(uvicorn.Config(app, port=port, log_config=None, access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    state.url = f"http://127.0.0.1:{port}/hook"
    yield state
    server.should_exit = True
    await task


def _batch(workflow_id: str, lineage: str = "") -> RecordEvents:
    now = datetime.now(UTC)
    events = [
        TaskEvent(seq=1, kind="assigned", at=now, unit=LEAD, recipients=[LEAD]),
        TaskEvent(seq=2, kind="urge", at=now, unit=LEAD, recipients=[LEAD]),
    ]
    projection = TaskProjection(
        plan_id="plan",
        task_id="7",
        stage=Stage.ASSIGNED,
        lead_unit=LEAD,
        cooperating_units=[],
        next_due=None,
        next_due_at=None,
        escalation_level=0,
        extensions_granted=0,
        progress_percent=0,
        awaiting_reassignment=False,
        closed_at=None,
        seq=2,
    )
    return RecordEvents(
        workflow_id=workflow_id, lineage=lineage, events=events, projection=projection
    )


async def test_a_retried_recording_adds_nothing(db_pool: asyncpg.Pool) -> None:
    """The same batch recorded twice (an activity retried after a timeout): one row per event
    and one outbox row per event and channel."""
    activities = TaskEventActivities(db_pool, ["log", "webhook"])
    assert await activities.record_task_events(_batch("plan/7")) == 2
    assert await activities.record_task_events(_batch("plan/7")) == 0
    assert await db_pool.fetchval("SELECT count(*) FROM task_events") == 2
    assert await db_pool.fetchval("SELECT count(*) FROM notification_outbox") == 4


async def test_an_event_reads_the_same_in_its_row_and_its_notification(
    db_pool: asyncpg.Pool,
) -> None:
    """Every field lands in its column; the notification carries the same event, and an
    event without recipients gets a row but no notification."""
    at = datetime(2018, 6, 30, 16, 0, tzinfo=UTC)
    event = TaskEvent(
        seq=1,
        kind="escalation",
        at=at,
        actor=COORDINATOR,
        unit=LEAD,
        stage_before=Stage.IN_PROGRESS,
        stage_after=Stage.IN_PROGRESS,
        milestone=0,
        level=2,
        recipients=[LEAD, "市政府办公室"],
        detail={"scheduled_for": at.isoformat(), "superseded_alarms": 1, "说明": "逾期"},
    )
    silent = TaskEvent(seq=2, kind="due_passed", at=at)
    batch = _batch("plan/8").model_copy(update={"events": [event, silent]})
    assert await TaskEventActivities(db_pool, ["log"]).record_task_events(batch) == 2
    row = await db_pool.fetchrow("SELECT * FROM task_events WHERE seq = 1")
    assert row is not None
    assert (row["kind"], row["at"], row["actor_role"], row["actor_unit"], row["unit"]) == (
        "escalation",
        at,
        "coordinator",
        None,
        LEAD,
    )
    assert (row["stage_before"], row["stage_after"], row["milestone"], row["level"]) == (
        "in_progress",
        "in_progress",
        0,
        2,
    )
    assert row["recipients"] == [LEAD, "市政府办公室"]
    assert json.loads(row["detail"]) == event.detail
    payloads = await db_pool.fetch("SELECT seq, payload FROM notification_outbox")
    assert [record["seq"] for record in payloads] == [1]
    payload = json.loads(payloads[0]["payload"])
    assert payload["workflow_id"] == "plan/8"
    assert (payload["plan_id"], payload["task_id"]) == ("plan", "7")
    assert TaskEvent.model_validate(payload["event"]) == event


async def test_text_that_spells_a_nul_escape_is_kept_and_a_nul_is_dropped(
    db_pool: asyncpg.Pool,
) -> None:
    """jsonb cannot hold NUL: a NUL character is dropped, but a user's literal text
    ``C:\\u0000`` is an ordinary string and is stored as written."""
    at = datetime(2018, 6, 30, 16, 0, tzinfo=UTC)
    detail = {"evidence": "C:\\u0000\\report.docx", "reason": "逾期\x00说明"}
    event = TaskEvent(seq=1, kind="progress", at=at, unit=LEAD, recipients=[LEAD], detail=detail)
    batch = _batch("plan/9").model_copy(update={"events": [event]})
    assert await TaskEventActivities(db_pool, ["log"]).record_task_events(batch) == 1
    stored = json.loads(await db_pool.fetchval("SELECT detail FROM task_events"))
    assert stored == {"evidence": "C:\\u0000\\report.docx", "reason": "逾期说明"}
    payload = json.loads(await db_pool.fetchval("SELECT payload FROM notification_outbox"))
    assert payload["event"]["detail"] == stored


async def test_dispatcher_retries_with_backoff_and_delivers_once(
    db_pool: asyncpg.Pool, receiver: Receiver
) -> None:
    """A webhook down for two calls: the row waits out growing pauses, then goes through
    once, carrying an Idempotency-Key; the log channel is unaffected."""
    receiver.failures = 2
    await TaskEventActivities(db_pool, ["log", "webhook"]).record_task_events(_batch("plan/7"))
    dispatcher = OutboxDispatcher(
        db_pool,
        {"log": LogChannel(), "webhook": WebhookChannel(receiver.url)},
        DispatchPolicy(first_retry=timedelta(milliseconds=100), max_attempts=5),
    )
    assert dispatcher.retry_delay(1) < dispatcher.retry_delay(2) < dispatcher.retry_delay(3)
    for _ in range(60):
        await dispatcher.dispatch_once()
        delivered = await db_pool.fetchval(
            "SELECT count(*) FROM notification_outbox WHERE status = 'delivered'"
        )
        if delivered == 4:
            break
        await asyncio.sleep(0.05)
    assert delivered == 4
    assert sorted(key.partition("#")[0] for key, _ in receiver.received) == [
        "plan/7:1:webhook",
        "plan/7:2:webhook",
    ]
    attempts = await db_pool.fetch(
        "SELECT channel, attempts FROM notification_outbox ORDER BY seq, channel"
    )
    assert {row["channel"]: row["attempts"] for row in attempts}["log"] == 1
    assert max(row["attempts"] for row in attempts if row["channel"] == "webhook") >= 2


async def test_a_dead_channel_never_blocks_the_lifecycle(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """With the webhook unreachable the task still goes from hand-off to 办结; its
    notifications wait in the outbox, marked with the error, for a later attempt."""
    client = time_skipping_env.client
    dead = WebhookChannel(f"http://127.0.0.1:{free_port()}/hook")
    dispatcher = OutboxDispatcher(db_pool, {"webhook": dead}, DispatchPolicy(max_attempts=3))
    settings = Settings(temporal_task_queue=task_queue)
    activities = build_activities(db_pool, "test", ["webhook"])
    stop = asyncio.Event()
    dispatching = asyncio.create_task(dispatcher.run(stop))
    try:
        async with build_worker(client, settings, activities=activities):
            handle = await start_task(
                client, task_queue, make_task([datetime.now(UTC).date() + timedelta(days=90)])
            )
            await handle.execute_update(TaskWorkflow.accept, Accept(actor=unit(LEAD)))
            await handle.execute_update(
                TaskWorkflow.submit, Submit(actor=unit(LEAD), summary="已完成")
            )
            for name in COOPERATING:
                await handle.execute_update(
                    TaskWorkflow.sign_off, SignOff(actor=unit(name), approve=True)
                )
            await handle.execute_update(
                TaskWorkflow.review, Review(actor=COORDINATOR, approve=True)
            )
            snapshot = await handle.result()
        for _ in range(100):  # the dispatcher polls about once a second
            if await db_pool.fetchval(
                "SELECT count(*) FROM notification_outbox WHERE attempts > 0"
            ):
                break
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        await dispatching
        await dead.close()
    assert snapshot.state.stage is Stage.COMPLETED
    failed = await db_pool.fetch(
        "SELECT status, attempts, last_error FROM notification_outbox WHERE attempts > 0"
    )
    assert failed, "the dispatcher never tried the dead channel"
    assert all(row["status"] in {"pending", "failed"} for row in failed)
    assert all("ConnectError" in (row["last_error"] or "") for row in failed)


async def test_a_new_lineage_s_notifications_carry_their_own_delivery_keys(
    db_pool: asyncpg.Pool, receiver: Receiver
) -> None:
    """A task withdrawn and added back numbers its events from 1 again: a receiver that
    drops repeated Idempotency-Keys must still get the new run's 交办 and 催办."""
    activities = TaskEventActivities(db_pool, ["webhook"])
    await activities.record_task_events(_batch("plan/7", lineage="first-run"))
    await activities.record_task_events(_batch("plan/7", lineage="added-back"))
    dispatcher = OutboxDispatcher(
        db_pool, {"webhook": WebhookChannel(receiver.url)}, DispatchPolicy()
    )
    await dispatcher.dispatch_once()
    keys = [key for key, _ in receiver.received]
    assert len(keys) == 4
    assert len(set(keys)) == 4, keys
