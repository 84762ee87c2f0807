"""Delivers the notification outbox: at least once per channel, with backoff, never blocking.

Each round claims due rows in one short statement (``FOR UPDATE SKIP LOCKED``), so several
worker replicas dispatch side by side, and no transaction stays open while a channel is
called. A claim is a lease: a fresh token written on every row it takes, and an expiry
kept short (``DispatchPolicy.lease``) and renewed while the batch is delivered, so a slow
channel keeps its rows, while the rows of a dispatcher that died come back within one
lease. Every outcome is written only where the row still carries the claim's token: a
dispatcher that stalled past its lease, and whose rows another replica has taken, changes
nothing (at least once: the webhook's ``Idempotency-Key`` lets a receiver drop the repeat
such a stall can cause). A batch is delivered concurrently, at most
``DispatchPolicy.concurrency`` calls at once, each bounded by ``delivery_timeout``. A
failure schedules the row again after an exponentially growing pause; after
``max_attempts`` it is marked failed and stays in the table for an operator (and the
monthly notice's audit) to see.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg

from notifications.channels import Channel, DeliveryError
from runtime.log import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class DispatchPolicy:
    batch_size: int = 50
    # Calls in flight at once within a batch: enough that one slow channel does not hold
    # up the rest, few enough not to flood a receiver.
    concurrency: int = 8
    idle_poll: timedelta = timedelta(seconds=1)
    first_retry: timedelta = timedelta(seconds=2)
    longest_retry: timedelta = timedelta(hours=1)
    max_attempts: int = 12
    # How long a claimed row stays ours without a renewal: what a dead dispatcher's rows
    # wait before another replica takes them. Renewed every third of it while delivering,
    # so it may be shorter than a delivery.
    lease: timedelta = timedelta(seconds=30)
    # The longest one channel call may take before it counts as a failed attempt; without
    # it a channel that never answers would keep renewing its lease for ever.
    delivery_timeout: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class Claim:
    """Rows leased by one round, all under one token."""

    token: uuid.UUID
    rows: list[asyncpg.Record] = field(default_factory=list)


class OutboxDispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        channels: Mapping[str, Channel],
        policy: DispatchPolicy | None = None,
        *,
        identity: str = "dispatcher",
    ) -> None:
        self._pool = pool
        self._channels = dict(channels)
        self._policy = policy or DispatchPolicy()
        self._identity = identity

    @property
    def policy(self) -> DispatchPolicy:
        return self._policy

    def retry_delay(self, attempts: int) -> timedelta:
        delay: timedelta = self._policy.first_retry * (2 ** max(attempts - 1, 0))
        return min(delay, self._policy.longest_retry)

    async def run(self, stop: asyncio.Event) -> None:
        """Dispatch until ``stop`` is set; a round that found work starts the next at once.

        Nothing that goes wrong in a round stops the loop: it is logged and the next round
        tries again, since a dispatcher that died quietly would leave every reminder unsent.
        """
        while not stop.is_set():
            try:
                handled = await self.dispatch_once(stop)
            except Exception as error:  # anything: see the docstring
                log.warning("outbox round failed; retrying", error=repr(error))
                handled = 0
            if handled == 0:
                with contextlib.suppress(TimeoutError):  # idle: look again shortly
                    await asyncio.wait_for(stop.wait(), self._policy.idle_poll.total_seconds())

    async def dispatch_once(self, stop: asyncio.Event | None = None) -> int:
        """One round: claim due rows, deliver them. Returns how many rows were claimed."""
        claim = await self.claim()
        if claim.rows:
            await self.deliver(claim, stop)
        return len(claim.rows)

    async def claim(self) -> Claim:
        """Lease up to ``batch_size`` due rows under a new token (one short statement)."""
        token = uuid.uuid4()
        rows = await self._pool.fetch(
            """
            UPDATE notification_outbox
            SET leased_until = now() + $2::interval, attempts = attempts + 1,
                lease_token = $3, leased_by = $4
            WHERE id IN (
                SELECT id FROM notification_outbox
                WHERE status = 'pending' AND next_attempt_at <= now()
                  AND (leased_until IS NULL OR leased_until < now())
                ORDER BY next_attempt_at
                LIMIT $1
                FOR UPDATE SKIP LOCKED
            )
            RETURNING id, workflow_id, seq, channel, payload, attempts
            """,
            self._policy.batch_size,
            self._policy.lease,
            token,
            self._identity,
        )
        return Claim(token, list(rows))

    async def deliver(self, claim: Claim, stop: asyncio.Event | None = None) -> int:
        """Deliver a claim's rows, ``concurrency`` at a time, renewing their lease until each
        outcome is written. Returns how many outcomes were recorded (a row whose lease was
        lost meanwhile is not). Once ``stop`` is set, calls in flight finish and the rows
        not yet started are given back at once, for another replica to take."""
        in_flight = {row["id"] for row in claim.rows}
        slots = asyncio.Semaphore(self._policy.concurrency)
        renewing = asyncio.create_task(self._keep_leased(claim.token, in_flight))
        try:
            outcomes = await asyncio.gather(
                *(
                    self._deliver_one(row, claim.token, slots, in_flight, stop)
                    for row in claim.rows
                ),
                return_exceptions=True,
            )
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        recorded = 0
        for row, outcome in zip(claim.rows, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                # The row stays leased and comes back when the lease runs out.
                log.warning(
                    "notification outcome not written",
                    delivery_id=_delivery_id(row),
                    error=repr(outcome),
                )
            elif outcome:
                recorded += 1
        return recorded

    async def _keep_leased(self, token: uuid.UUID, in_flight: set[int]) -> None:
        """Renew the lease of the rows still being delivered, every third of a lease. A row
        whose lease ran out or was taken is not renewed again: it is no longer ours."""
        interval = self._policy.lease.total_seconds() / 3
        while in_flight:
            await asyncio.sleep(interval)
            asked = set(in_flight)
            if not asked:
                return
            try:
                kept = await self._pool.fetch(
                    """
                    UPDATE notification_outbox SET leased_until = now() + $3::interval
                    WHERE id = ANY($1::bigint[]) AND lease_token = $2
                      AND status = 'pending' AND leased_until > now()
                    RETURNING id
                    """,
                    list(asked),
                    token,
                    self._policy.lease,
                )
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("notification lease not renewed; retrying", error=repr(error))
                continue
            # A row finished meanwhile has left in_flight; only the others were lost.
            lost = (asked - {row["id"] for row in kept}) & in_flight
            if lost:
                in_flight.difference_update(lost)
                log.warning(
                    "notification lease lost; its outcome will not be written",
                    outbox_ids=sorted(lost),
                )

    async def _deliver_one(
        self,
        row: asyncpg.Record,
        token: uuid.UUID,
        slots: asyncio.Semaphore,
        in_flight: set[int],
        stop: asyncio.Event | None,
    ) -> bool:
        async with slots:
            if stop is not None and stop.is_set():
                in_flight.discard(row["id"])
                await self._give_back(row, token)
                return False
            error = await self._send(row)
        in_flight.discard(row["id"])
        if error is None:
            return await self._record_delivered(row, token)
        return await self._record_failure(row, token, error)

    async def _send(self, row: asyncpg.Record) -> Exception | None:
        channel = self._channels.get(row["channel"])
        timeout = self._policy.delivery_timeout.total_seconds()
        try:
            if channel is None:
                raise DeliveryError(f"channel {row['channel']!r} is not configured")
            async with asyncio.timeout(timeout):
                await channel.deliver(json.loads(row["payload"]), _delivery_id(row))
        except TimeoutError:
            return DeliveryError(f"no answer within {timeout:g} s")
        except Exception as error:  # any failure is a failed attempt
            return error
        return None

    async def _give_back(self, row: asyncpg.Record, token: uuid.UUID) -> None:
        """Release a row this dispatcher claimed but never tried: no attempt is spent."""
        await self._pool.execute(
            """
            UPDATE notification_outbox SET leased_until = NULL, attempts = attempts - 1
            WHERE id = $1 AND lease_token = $2 AND status = 'pending'
            """,
            row["id"],
            token,
        )

    async def _record_delivered(self, row: asyncpg.Record, token: uuid.UUID) -> bool:
        status = await self._pool.execute(
            """
            UPDATE notification_outbox
            SET status = 'delivered', delivered_at = now(), leased_until = NULL,
                last_error = NULL
            WHERE id = $1 AND lease_token = $2 AND status = 'pending'
            """,
            row["id"],
            token,
        )
        return self._written(status, row, "delivered")

    async def _record_failure(
        self, row: asyncpg.Record, token: uuid.UUID, error: Exception
    ) -> bool:
        attempts = row["attempts"]
        gave_up = attempts >= self._policy.max_attempts
        status = await self._pool.execute(
            """
            UPDATE notification_outbox
            SET last_error = $3, status = $4, leased_until = NULL,
                next_attempt_at = now() + $5::interval
            WHERE id = $1 AND lease_token = $2 AND status = 'pending'
            """,
            row["id"],
            token,
            f"{type(error).__name__}: {error}"[:500],
            "failed" if gave_up else "pending",
            self.retry_delay(attempts),
        )
        written = self._written(status, row, "failed")
        if written:
            log.warning(
                "notification not delivered",
                delivery_id=_delivery_id(row),
                attempts=attempts,
                gave_up=gave_up,
                error=str(error),
            )
        return written

    def _written(self, status: str, row: asyncpg.Record, outcome: str) -> bool:
        if status.endswith(" 1"):
            return True
        # Another dispatcher holds the row now: its outcome is the one that counts.
        log.warning(
            "notification outcome discarded: the lease was lost",
            delivery_id=_delivery_id(row),
            outcome=outcome,
            identity=self._identity,
        )
        return False


def _delivery_id(row: asyncpg.Record) -> str:
    """Stable across retries of one outbox row, and unlike every other row's: a task added
    back after a withdrawal, or a reset run, numbers its events from the same seq again, and
    a receiver that drops repeated keys must not drop those."""
    return f"{row['workflow_id']}:{row['seq']}:{row['channel']}#{row['id']}"
