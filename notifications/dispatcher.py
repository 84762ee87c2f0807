"""Delivers the notification outbox: at least once per channel, with backoff, never blocking.

Each round leases due rows (``FOR UPDATE SKIP LOCKED`` inside one short update), so
several worker replicas dispatch side by side without sending a row twice at once, and
no transaction stays open while a channel is called; a dispatcher that dies mid-delivery
gives its rows back when the lease runs out (at least once: the webhook's
``Idempotency-Key`` lets the receiver drop a repeat). A failure schedules the row
again after an exponentially growing pause; after ``max_attempts`` it is marked failed and
stays in the table for an operator (and the monthly notice's audit) to see.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from notifications.channels import Channel, DeliveryError
from runtime.log import get_logger

log = get_logger(__name__)


@dataclass
class DispatchPolicy:
    batch_size: int = 50
    idle_poll: timedelta = timedelta(seconds=1)
    first_retry: timedelta = timedelta(seconds=2)
    longest_retry: timedelta = timedelta(hours=1)
    max_attempts: int = 12
    # How long a claimed row is ours: past it, a dispatcher that died mid-delivery has
    # given the row back. Longer than any channel's timeout.
    lease: timedelta = timedelta(minutes=5)


class OutboxDispatcher:
    def __init__(
        self,
        pool: asyncpg.Pool,
        channels: Mapping[str, Channel],
        policy: DispatchPolicy | None = None,
    ) -> None:
        self._pool = pool
        self._channels = dict(channels)
        self._policy = policy or DispatchPolicy()

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
                handled = await self.dispatch_once()
            except Exception as error:  # anything: see the docstring
                log.warning("outbox round failed; retrying", error=repr(error))
                handled = 0
            if handled == 0:
                with contextlib.suppress(TimeoutError):  # idle: look again shortly
                    await asyncio.wait_for(stop.wait(), self._policy.idle_poll.total_seconds())

    async def dispatch_once(self) -> int:
        """One round: lease due rows (a short transaction), deliver each with no transaction
        open, record each outcome on its own. Returns how many rows were handled."""
        rows = await self._pool.fetch(
            """
            UPDATE notification_outbox
            SET leased_until = now() + $2::interval, attempts = attempts + 1
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
        )
        for row in rows:
            await self._deliver(row)
        return len(rows)

    async def _deliver(self, row: asyncpg.Record) -> None:
        delivery_id = f"{row['workflow_id']}:{row['seq']}:{row['channel']}"
        channel = self._channels.get(row["channel"])
        attempts = row["attempts"]
        try:
            if channel is None:
                raise DeliveryError(f"channel {row['channel']!r} is not configured")
            await channel.deliver(json.loads(row["payload"]), delivery_id)
        except Exception as error:  # any failure is a failed attempt
            failed = attempts >= self._policy.max_attempts
            await self._pool.execute(
                """
                UPDATE notification_outbox
                SET last_error = $2, status = $3, leased_until = NULL,
                    next_attempt_at = now() + $4::interval
                WHERE id = $1
                """,
                row["id"],
                f"{type(error).__name__}: {error}"[:500],
                "failed" if failed else "pending",
                self.retry_delay(attempts),
            )
            log.warning(
                "notification not delivered",
                delivery_id=delivery_id,
                attempts=attempts,
                gave_up=failed,
                error=str(error),
            )
            return
        await self._pool.execute(
            "UPDATE notification_outbox SET status = 'delivered', delivered_at = now(),"
            " leased_until = NULL, last_error = NULL WHERE id = $1",
            row["id"],
        )
