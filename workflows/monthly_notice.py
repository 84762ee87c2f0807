"""MonthlyNotice: the Schedule's action on the 1st of each month at 09:00 Asia/Shanghai.

It stores the previous month's notice for each plan and across all plans, each in its own
idempotent activity, so a retry or a second firing stores and notifies nothing twice. The
month comes from the time the Schedule meant to fire, not from when the run started, so a
run caught up after an outage still builds the month it was meant for.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey

LIST_NOTICE_PLANS = "list_notice_plans"
STORE_MONTHLY_NOTICE = "store_monthly_notice"
MONTHLY_NOTICE_SCHEDULE_ID = "duban-monthly-notice"

# Set by Temporal on every workflow a Schedule starts.
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")
_SHANGHAI = timezone(timedelta(hours=8))  # no DST in China; zoneinfo stays out of the sandbox


class MonthlyNoticeRequest(BaseModel):
    """``month`` None: the month before the scheduled (or start) time."""

    month: str | None = None


class StoreNoticeRequest(BaseModel):
    month: str
    plan_id: str | None


class StoreNoticeResult(BaseModel):
    month: str
    plan_id: str | None
    digest: str
    created: bool


class MonthlyNoticeResult(BaseModel):
    month: str
    stored: list[StoreNoticeResult]


def month_before(instant: datetime) -> str:
    local = instant.astimezone(_SHANGHAI)
    year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    return f"{year:04d}-{month:02d}"


_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1))


@workflow.defn(name="MonthlyNotice")
class MonthlyNoticeWorkflow:
    @workflow.run
    async def run(self, request: MonthlyNoticeRequest) -> MonthlyNoticeResult:
        month = request.month or month_before(self._meant_for())
        # Called by name: importing the activity class would pull asyncpg into the sandbox.
        plans: list[str] = await workflow.execute_activity(
            LIST_NOTICE_PLANS,
            result_type=list[str],
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_RETRY,
        )
        stored: list[StoreNoticeResult] = []
        for plan_id in [*plans, None]:
            result: StoreNoticeResult = await workflow.execute_activity(
                STORE_MONTHLY_NOTICE,
                StoreNoticeRequest(month=month, plan_id=plan_id),
                result_type=StoreNoticeResult,
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=_RETRY,
            )
            stored.append(result)
        return MonthlyNoticeResult(month=month, stored=stored)

    @staticmethod
    def _meant_for() -> datetime:
        scheduled = workflow.info().typed_search_attributes.get(SCHEDULED_START)
        return scheduled if scheduled is not None else workflow.now()
