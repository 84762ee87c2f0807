"""The one list of what a Duban worker runs: every workflow and every activity."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from activities.monthly_notice import MonthlyNoticeActivities
from activities.stack_check import StackCheckActivities
from activities.task_events import TaskEventActivities, read_working_calendar
from workflows.monthly_notice import MonthlyNoticeWorkflow
from workflows.recurring import RecurringTaskWorkflow
from workflows.stack_check import StackCheckWorkflow
from workflows.task import TaskWorkflow

WORKFLOWS: Sequence[type] = (
    StackCheckWorkflow,
    TaskWorkflow,
    RecurringTaskWorkflow,
    MonthlyNoticeWorkflow,
)


def build_activities(
    pool: asyncpg.Pool, worker_identity: str, notify_channels: Sequence[str] = ("log",)
) -> list[Callable[..., Any]]:
    stack_check = StackCheckActivities(pool, worker_identity)
    task_events = TaskEventActivities(pool, notify_channels)
    monthly_notice = MonthlyNoticeActivities(pool, notify_channels)
    return [
        stack_check.record_stack_check,
        task_events.record_task_events,
        read_working_calendar,
        monthly_notice.list_notice_plans,
        monthly_notice.store_monthly_notice,
    ]
