"""Side effect of StackCheck: one idempotent row in ``stack_checks``."""

from __future__ import annotations

import asyncio

import asyncpg
from temporalio import activity

from runtime.log import get_logger
from workflows.stack_check import RECORD_STACK_CHECK, StackCheckRequest, StackCheckResult

log = get_logger(__name__)


class StackCheckActivities:
    def __init__(self, pool: asyncpg.Pool, worker_identity: str) -> None:
        self._pool = pool
        self._worker_identity = worker_identity

    @activity.defn(name=RECORD_STACK_CHECK)
    async def record_stack_check(self, request: StackCheckRequest) -> StackCheckResult:
        """Record the check once; a retried attempt finds the row and returns it unchanged."""
        info = activity.info()
        if request.hold:
            log.info(
                "holding stack check in flight",
                check_id=request.check_id,
                hold_seconds=request.hold.total_seconds(),
            )
            await asyncio.sleep(request.hold.total_seconds())
        async with self._pool.acquire() as connection:
            await connection.execute(
                """
                INSERT INTO stack_checks (check_id, requested_at, worker_identity, attempt)
                VALUES ($1, $2, $3, $4)
                ON CONFLICT (check_id) DO NOTHING
                """,
                request.check_id,
                request.requested_at,
                self._worker_identity,
                info.attempt,
            )
            row = await connection.fetchrow(
                "SELECT check_id, recorded_at, worker_identity, attempt"
                " FROM stack_checks WHERE check_id = $1",
                request.check_id,
            )
        assert row is not None  # written or already there, in the same connection
        log.info("stack check recorded", check_id=request.check_id, attempt=row["attempt"])
        return StackCheckResult(**dict(row))
