"""StackCheck: one round trip through every piece of a running Duban stack.

``duban check`` starts it; a worker picks it up and records one row in PostgreSQL. If the
result comes back, the client, Temporal, a worker and the database all connect. With
``hold`` the worker keeps the activity in flight that long first, so an operator can
restart a worker mid-check and see that shutdown drains it instead of failing it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy

RECORD_STACK_CHECK = "record_stack_check"


class StackCheckRequest(BaseModel):
    check_id: str
    requested_at: datetime
    hold: timedelta = Field(default=timedelta(0), ge=timedelta(0), le=timedelta(minutes=10))


class StackCheckResult(BaseModel):
    check_id: str
    recorded_at: datetime
    worker_identity: str
    attempt: int


@workflow.defn(name="StackCheck")
class StackCheckWorkflow:
    @workflow.run
    async def run(self, request: StackCheckRequest) -> StackCheckResult:
        # Called by name: importing the activity class would pull asyncpg into the sandbox.
        result: StackCheckResult = await workflow.execute_activity(
            RECORD_STACK_CHECK,
            request,
            result_type=StackCheckResult,
            start_to_close_timeout=request.hold + timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=10)),
        )
        return result
