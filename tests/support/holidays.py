"""A holiday calendar the test controls, in place of the installed ``chinesecalendar``.

Its years are known or not as the test says, so the Monday-to-Friday fallback for a year
the calendar does not know is exercised whatever release is installed, and a "release"
that adds a year can be made in the middle of a test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date

import asyncpg
from temporalio.testing import WorkflowEnvironment

from activities.task_events import read_working_calendar, working_calendar_reader
from runtime.settings import Settings
from tests.support.lifecycle import LifecycleHarness
from workers.registry import build_activities
from workers.service import build_worker


@dataclass
class ControlledHolidays:
    """Known years: Monday to Friday except their days off, plus their 调休 weekend days.
    Any other year raises NotImplementedError, as chinesecalendar does."""

    days_off: dict[int, set[date]] = field(default_factory=dict)
    working_weekends: dict[int, set[date]] = field(default_factory=dict)

    def release(
        self, year: int, days_off: Iterable[date] = (), working_weekends: Iterable[date] = ()
    ) -> None:
        """The calendar learns ``year`` (a new chinesecalendar release)."""
        self.days_off[year] = set(days_off)
        self.working_weekends[year] = set(working_weekends)

    def is_workday(self, day: date) -> bool:
        if day.year not in self.days_off:
            raise NotImplementedError(f"no holiday data for {day.year}")
        if day.weekday() < 5:
            return day not in self.days_off[day.year]
        return day in self.working_weekends[day.year]


@asynccontextmanager
async def lifecycle_with_holidays(
    env: WorkflowEnvironment, pool: asyncpg.Pool, task_queue: str, holidays: ControlledHolidays
) -> AsyncIterator[LifecycleHarness]:
    """The lifecycle harness with a worker whose calendar activity reads ``holidays``."""
    activities = [
        *(item for item in build_activities(pool, "test") if item is not read_working_calendar),
        working_calendar_reader(holidays.is_workday),
    ]
    harness = LifecycleHarness(env, pool, task_queue)
    async with build_worker(
        env.client, Settings(temporal_task_queue=task_queue), activities=activities
    ):
        try:
            yield harness
        finally:
            await harness.terminate_open()
