"""The MonthlyNotice workflow's side effects: list the plans, store one notice once."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
from temporalio import activity

from runtime.log import get_logger
from services import notices
from workflows.monthly_notice import (
    LIST_NOTICE_PLANS,
    STORE_MONTHLY_NOTICE,
    StoreNoticeRequest,
    StoreNoticeResult,
)

log = get_logger(__name__)


class MonthlyNoticeActivities:
    def __init__(
        self,
        pool: asyncpg.Pool,
        notify_channels: Sequence[str] = ("log",),
        builder: notices.NoticeBuilder = notices.build_from_event_log,
    ) -> None:
        self._pool = pool
        self._channels = tuple(notify_channels)
        self._builder = builder

    @activity.defn(name=LIST_NOTICE_PLANS)
    async def list_notice_plans(self) -> list[str]:
        return await notices.plan_ids(self._pool)

    @activity.defn(name=STORE_MONTHLY_NOTICE)
    async def store_monthly_notice(self, request: StoreNoticeRequest) -> StoreNoticeResult:
        """Idempotent: a month and scope already stored is answered from the stored row."""
        stored = await notices.store_once(
            self._pool,
            request.month,
            request.plan_id,
            channels=self._channels,
            builder=self._builder,
        )
        log.info(
            "monthly notice stored" if stored.created else "monthly notice already stored",
            month=stored.month,
            plan_id=stored.plan_id,
            digest=stored.digest,
        )
        return StoreNoticeResult(
            month=stored.month, plan_id=stored.plan_id, digest=stored.digest, created=stored.created
        )
