"""Working days on the Chinese calendar (holidays and make-up working days, 调休).

The holiday data comes from the ``chinesecalendar`` package and changes between its
releases, so this module is never called from workflow code: the workflow asks a local
activity, whose answer is recorded in history and replays without the calendar. For years
the installed calendar does not know yet, Monday to Friday count as working days and the
result says so (``fallback_used``).

Beijing time has had no daylight saving since 1991, so Asia/Shanghai is a fixed UTC+8
offset here; no time-zone database is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Literal

import chinese_calendar

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
WORKDAY_STARTS = time(9, 0)

Anchor = Literal["morning", "end_of_day"]


def end_of_day(day: date) -> datetime:
    """The instant a "by this day" deadline passes: midnight after ``day`` in Beijing, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI).astimezone(UTC)


def local_date(instant: datetime) -> date:
    return instant.astimezone(SHANGHAI).date()


@dataclass
class WorkingCalendar:
    """Counts working days; remembers whether it had to guess for an unknown year."""

    fallback_used: bool = False
    _cache: dict[date, bool] = field(default_factory=dict)

    def is_working_day(self, day: date) -> bool:
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        try:
            working = bool(chinese_calendar.is_workday(day))
        except NotImplementedError:  # a year the installed calendar has no data for
            self.fallback_used = True
            working = day.weekday() < 5
        self._cache[day] = working
        return working

    def step(self, day: date, working_days: int, direction: int) -> date:
        """The date ``working_days`` working days after (+1) or before (-1) ``day``."""
        current = day
        remaining = working_days
        while remaining > 0:
            current += timedelta(days=direction)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def at(self, day: date, anchor: Anchor) -> datetime:
        if anchor == "morning":
            return datetime.combine(day, WORKDAY_STARTS, tzinfo=SHANGHAI).astimezone(UTC)
        return end_of_day(day)

    def before(
        self, instant: datetime, working_days: int, duration: timedelta, anchor: Anchor
    ) -> datetime:
        """Counting back from the day of ``instant`` (a deadline's last day when it is an
        end-of-day instant), then subtracting ``duration``."""
        if working_days:
            last_day = local_date(instant - timedelta(microseconds=1))
            instant = self.at(self.step(last_day, working_days, -1), anchor)
        return instant - duration

    def after(
        self, instant: datetime, working_days: int, duration: timedelta, anchor: Anchor
    ) -> datetime:
        if working_days:
            instant = self.at(self.step(local_date(instant), working_days, +1), anchor)
        return instant + duration
