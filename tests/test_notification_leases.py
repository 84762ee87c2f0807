"""Notification leases against a real PostgreSQL and a real (slow) webhook endpoint: a dead
dispatcher's rows come back within one short lease, a slow delivery keeps its lease, a
dispatcher that lost its lease writes nothing, and a batch is delivered concurrently."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
import uvicorn
from fastapi import FastAPI, Request, Response

from activities.task_events import TaskEventActivities
from domain.lifecycle import Stage, TaskEvent
from notifications.channels import WebhookChannel
from notifications.dispatcher import DispatchPolicy, OutboxDispatcher
from runtime.embedded import free_port
from tests.support.lifecycle import LEAD
from workflows.task_contract import RecordEvents, TaskProjection

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class SlowReceiver:
    """A webhook endpoint served over real HTTP. Every request is counted on arrival (by
    its Idempotency-Key); it then waits ``delay`` seconds, or for ``gates[n]`` if the n-th
    arrival has one, and answers ``statuses[n]`` (default 204)."""

    url: str = ""
    delay: float = 0.0
    arrivals: list[str] = field(default_factory=list)
    gates: dict[int, asyncio.Event] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    in_flight: int = 0
    most_in_flight: int = 0
    # Released once this many requests are in flight at once (see the concurrency test).
    gather_until: int = 0
    gathered: asyncio.Event = field(default_factory=asyncio.Event)

    def received(self) -> Counter[str]:
        """Requests per row, by workflow, seq and channel (the key's ``#row`` left off)."""
        return Counter(key.partition("#")[0] for key in self.arrivals)

    async def wait_for_arrivals(self, count: int) -> None:
        for _ in range(600):
            if len(self.arrivals) >= count:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"only {len(self.arrivals)} of {count} requests arrived")


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@pytest.fixture
async def slow_receiver() -> AsyncIterator[SlowReceiver]:
    state = SlowReceiver()
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        number = len(state.arrivals)
        state.arrivals.append(request.headers["Idempotency-Key"])
        state.in_flight += 1
        state.most_in_flight = max(state.most_in_flight, state.in_flight)
        try:
            if state.gather_until and state.in_flight >= state.gather_until:
                state.gathered.set()
            if state.gather_until:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(state.gathered.wait(), 3)
            gate = state.gates.get(number)
            if gate is not None:
                await gate.wait()
            elif state.delay:
                await asyncio.sleep(state.delay)
        finally:
            state.in_flight -= 1
        return Response(status_code=state.statuses.get(number, 204))

    port = free_port()
    server = _QuietServer(
        uvicorn.Config(app, port=port, log_config=None, access_log=False, timeout_keep_alive=30)
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    state.url = f"http://127.0.0.1:{port}/hook"
    yield state
    for gate in state.gates.values():
        gate.set()
    server.should_exit = True
    await serving


async def _fill_outbox(pool: asyncpg.Pool, events: int, workflow_id: str = "plan/7") -> list[str]:
    """``events`` notifications for the webhook channel; returns their delivery ids."""
    now = datetime.now(UTC)
    batch = RecordEvents(
        workflow_id=workflow_id,
        events=[
            TaskEvent(seq=seq, kind="urge", at=now, unit=LEAD, recipients=[LEAD])
            for seq in range(1, events + 1)
        ],
        projection=TaskProjection(
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
            seq=events,
        ),
    )
    assert await TaskEventActivities(pool, ["webhook"]).record_task_events(batch) == events
    return [f"{workflow_id}:{seq}:webhook" for seq in range(1, events + 1)]


async def _delivered(pool: asyncpg.Pool) -> int:
    count: int = await pool.fetchval(
        "SELECT count(*) FROM notification_outbox WHERE status = 'delivered'"
    )
    return count


async def _until_delivered(pool: asyncpg.Pool, total: int) -> None:
    for _ in range(600):
        if await _delivered(pool) == total:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{await _delivered(pool)} of {total} delivered")


def test_the_default_lease_is_short_and_renewed_within_the_work_it_covers() -> None:
    """A dead dispatcher's rows must not wait minutes: the default lease is at most 30 s,
    shorter than one delivery may take, since it is renewed while delivering."""
    policy = DispatchPolicy()
    assert policy.lease <= timedelta(seconds=30)
    assert policy.lease <= policy.delivery_timeout
    assert policy.concurrency > 1


_DOOMED_DISPATCHER = """
import asyncio, sys
from datetime import timedelta
import asyncpg
from notifications.channels import WebhookChannel
from notifications.dispatcher import DispatchPolicy, OutboxDispatcher

async def main() -> None:
    pool = await asyncpg.create_pool(sys.argv[1], min_size=1, max_size=2)
    policy = DispatchPolicy(lease=timedelta(seconds=float(sys.argv[3])))
    channels = {"webhook": WebhookChannel(sys.argv[2])}
    await OutboxDispatcher(pool, channels, policy, identity="doomed").run(asyncio.Event())

asyncio.run(main())
"""


@pytest.mark.fault
async def test_a_killed_dispatchers_rows_are_delivered_by_another_after_one_lease(
    database_url: str, db_pool: asyncpg.Pool, slow_receiver: SlowReceiver
) -> None:
    """A dispatcher SIGKILLed with a batch in flight: its rows hold a lease of at most the
    policy's length from the moment it died (not five minutes), and a second dispatcher then
    delivers every one of them."""
    lease = timedelta(seconds=2)
    ids = await _fill_outbox(db_pool, 6)
    hung = asyncio.Event()  # the doomed dispatcher's calls never get an answer
    slow_receiver.gates = dict.fromkeys(range(6), hung)
    doomed = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _DOOMED_DISPATCHER,
        database_url,
        slow_receiver.url,
        str(lease.total_seconds()),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        await slow_receiver.wait_for_arrivals(6)
    finally:
        doomed.send_signal(signal.SIGKILL)
        await doomed.wait()
    held = await db_pool.fetch(
        "SELECT leased_by, leased_until - statement_timestamp() AS left"
        " FROM notification_outbox WHERE status = 'pending'"
    )
    assert len(held) == 6
    assert {row["leased_by"] for row in held} == {"doomed"}
    assert all(row["left"] <= lease for row in held), [row["left"] for row in held]

    survivor = OutboxDispatcher(
        db_pool, {"webhook": WebhookChannel(slow_receiver.url)}, DispatchPolicy(lease=lease)
    )
    stop = asyncio.Event()
    running = asyncio.create_task(survivor.run(stop))
    try:
        await _until_delivered(db_pool, 6)
    finally:
        stop.set()
        await running
    # Six hung calls from the dead one, then six answered ones from the survivor.
    assert slow_receiver.received() == Counter(dict.fromkeys(ids, 2))
    attempts = await db_pool.fetch("SELECT attempts, leased_by FROM notification_outbox")
    assert {(row["attempts"], row["leased_by"]) for row in attempts} == {(2, "dispatcher")}


@pytest.mark.parametrize("stale_answer", [204, 503], ids=["delivered", "failed"])
async def test_a_dispatcher_that_lost_its_lease_changes_nothing(
    db_pool: asyncpg.Pool, slow_receiver: SlowReceiver, stale_answer: int
) -> None:
    """Dispatcher A stalls past its lease (its lease is made to run out) and B takes the row.
    When A's call finally returns, its 'delivered' or 'failed' write is refused: the row
    stays B's, pending and leased, until B's own outcome lands."""
    [delivery_id] = await _fill_outbox(db_pool, 1)
    first, second = asyncio.Event(), asyncio.Event()
    slow_receiver.gates = {0: first, 1: second}
    slow_receiver.statuses = {0: stale_answer}
    policy = DispatchPolicy(lease=timedelta(seconds=30))
    channel = WebhookChannel(slow_receiver.url)
    stalled = OutboxDispatcher(db_pool, {"webhook": channel}, policy)
    taker = OutboxDispatcher(db_pool, {"webhook": channel}, policy)
    stalled_round = asyncio.create_task(stalled.dispatch_once())
    await slow_receiver.wait_for_arrivals(1)
    # A's lease runs out while it waits (what a long pause or a partition does).
    await db_pool.execute("UPDATE notification_outbox SET leased_until = now() - interval '1 s'")
    taker_round = asyncio.create_task(taker.dispatch_once())
    await slow_receiver.wait_for_arrivals(2)
    before = await db_pool.fetchrow("SELECT * FROM notification_outbox")
    first.set()
    await stalled_round
    after = await db_pool.fetchrow("SELECT * FROM notification_outbox")
    assert before is not None
    assert after is not None
    assert after["status"] == "pending"
    assert after["last_error"] is None
    assert dict(after) == dict(before)
    second.set()
    await taker_round
    final = await db_pool.fetchrow("SELECT status, lease_token FROM notification_outbox")
    assert final is not None
    assert final["status"] == "delivered"
    assert final["lease_token"] == before["lease_token"]
    assert slow_receiver.received() == Counter({delivery_id: 2})


async def test_two_dispatchers_with_slow_calls_deliver_each_row_exactly_once(
    postgres_dsn: str, database_url: str, db_pool: asyncpg.Pool, slow_receiver: SlowReceiver
) -> None:
    """Every call takes three leases' time. One dispatcher claims four rows, the other the
    fifth and, done with it, looks for more while the first is still delivering: renewal
    keeps each row with the dispatcher delivering it, so each row is sent once."""
    lease = timedelta(seconds=2)
    slow_receiver.delay = 6.0
    ids = await _fill_outbox(db_pool, 5)
    policy = DispatchPolicy(lease=lease, batch_size=4, concurrency=4)
    pools = [await asyncpg.create_pool(database_url, min_size=1, max_size=3) for _ in range(2)]
    stop = asyncio.Event()
    channel = WebhookChannel(slow_receiver.url)
    running = [
        asyncio.create_task(
            OutboxDispatcher(pool, {"webhook": channel}, policy, identity=f"d{n}").run(stop)
        )
        for n, pool in enumerate(pools)
    ]
    try:
        await _until_delivered(db_pool, 5)
    finally:
        stop.set()
        await asyncio.gather(*running)
        for pool in pools:
            await pool.close()
    assert slow_receiver.received() == Counter(dict.fromkeys(ids, 1))
    attempts = await db_pool.fetch("SELECT attempts FROM notification_outbox")
    assert {row["attempts"] for row in attempts} == {1}


async def test_a_batch_is_delivered_concurrently_within_the_bound(
    db_pool: asyncpg.Pool, slow_receiver: SlowReceiver
) -> None:
    """Ten rows with room for four calls at once: four are in flight together (the receiver
    holds each until four have arrived), and never more than four."""
    ids = await _fill_outbox(db_pool, 10)
    slow_receiver.gather_until = 4
    dispatcher = OutboxDispatcher(
        db_pool,
        {"webhook": WebhookChannel(slow_receiver.url)},
        DispatchPolicy(batch_size=10, concurrency=4),
    )
    assert await dispatcher.dispatch_once() == 10
    assert await _delivered(db_pool) == 10
    assert sorted(slow_receiver.received()) == sorted(ids)
    assert slow_receiver.most_in_flight == 4


async def test_a_stopping_dispatcher_gives_back_the_rows_it_has_not_started(
    db_pool: asyncpg.Pool, slow_receiver: SlowReceiver
) -> None:
    """Told to stop with one call in flight and two rows still waiting for a slot: the call
    finishes and is recorded, and the two rows are released at once with no attempt spent,
    rather than held until the lease runs out."""
    ids = await _fill_outbox(db_pool, 3)
    answer = asyncio.Event()
    slow_receiver.gates = {0: answer}
    dispatcher = OutboxDispatcher(
        db_pool,
        {"webhook": WebhookChannel(slow_receiver.url)},
        DispatchPolicy(batch_size=3, concurrency=1),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(dispatcher.run(stop))
    await slow_receiver.wait_for_arrivals(1)
    stop.set()
    answer.set()
    await running
    rows = await db_pool.fetch(
        "SELECT status, attempts, leased_until FROM notification_outbox ORDER BY status"
    )
    assert [(row["status"], row["attempts"]) for row in rows] == [
        ("delivered", 1),
        ("pending", 0),
        ("pending", 0),
    ]
    assert all(row["leased_until"] is None for row in rows)
    assert len(slow_receiver.arrivals) == 1
    assert slow_receiver.arrivals[0].partition("#")[0] in ids
