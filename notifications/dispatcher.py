"""Delivers the notification outbox: at least once per channel, with backoff, never blocking.

Each round claims due rows with ``FOR UPDATE SKIP LOCKED``, so several worker replicas can
dispatch side by side without sending a row twice at once. A failure schedules the row
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
from store.db import Connection

log = get_logger(__name__)


@dataclass
class DispatchPolicy:
    batch_size: int = 50
    idle_poll: timedelta = timedelta(seconds=1)
    first_retry: timedelta = timedelta(seconds=2)
    longest_retry: timedelta = timedelta(hours=1)
    max_attempts: int = 12


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
        """Dispatch until ``stop`` is set; a round that found work starts the next at once."""
        while not stop.is_set():
            try:
                delivered = await self.dispatch_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("outbox round failed; retrying", error=str(error))
                delivered = 0
            if delivered == 0:
                with contextlib.suppress(TimeoutError):  # idle: look again shortly
                    await asyncio.wait_for(stop.wait(), self._policy.idle_poll.total_seconds())

    async def dispatch_once(self) -> int:
        """One round: claim due rows, deliver each, record the outcome. Returns rows handled."""
        async with self._pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                """
                SELECT id, workflow_id, seq, channel, payload, attempts
                FROM notification_outbox
                WHERE status = 'pending' AND next_attempt_at <= now()
                ORDER BY next_attempt_at
                LIMIT $1
                FOR UPDATE SKIP LOCKED
                """,
                self._policy.batch_size,
            )
            for row in rows:
                await self._deliver(connection, row)
        return len(rows)

    async def _deliver(self, connection: Connection, row: asyncpg.Record) -> None:
        delivery_id = f"{row['workflow_id']}:{row['seq']}:{row['channel']}"
        channel = self._channels.get(row["channel"])
        attempts = row["attempts"] + 1
        try:
            if channel is None:
                raise DeliveryError(f"channel {row['channel']!r} is not configured")
            await channel.deliver(json.loads(row["payload"]), delivery_id)
        except DeliveryError as error:
            failed = attempts >= self._policy.max_attempts
            await connection.execute(
                """
                UPDATE notification_outbox
                SET attempts = $2, last_error = $3, status = $4,
                    next_attempt_at = now() + $5::interval
                WHERE id = $1
                """,
                row["id"],
                attempts,
                str(error),
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
        await connection.execute(
            "UPDATE notification_outbox SET attempts = $2, status = 'delivered',"
            " delivered_at = now(), last_error = NULL WHERE id = $1",
            row["id"],
            attempts,
        )
