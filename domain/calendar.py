"""Working days on the Chinese calendar (holidays and make-up working days, 调休).

The holiday data comes from the ``chinesecalendar`` package and changes between its
releases, so workflow code never reads the package. A local activity reads it once per
span of years and returns :class:`CalendarYears`, the exceptions to Monday-to-Friday as
data; that answer is recorded in history, and the workflow counts working days over it
(``WorkingCalendar(years=...)``), so replay never depends on the installed release. For
years the installed calendar does not know yet, Monday to Friday count as working days and
the result says so (``fallback_used``).

Beijing time has had no daylight saving since 1991, so Asia/Shanghai is a fixed UTC+8
offset here; no time-zone database is needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import cache, cached_property, partial
from typing import Literal

import chinese_calendar
from pydantic import BaseModel, Field

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
WORKDAY_STARTS = time(9, 0)

Anchor = Literal["morning", "end_of_day"]


def end_of_day(day: date) -> datetime:
    """The instant a "by this day" deadline passes: midnight after ``day`` in Beijing, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI).astimezone(UTC)


def local_date(instant: datetime) -> date:
    return instant.astimezone(SHANGHAI).date()


class CalendarGapError(LookupError):
    """Recorded calendar data does not reach ``year``: ask the calendar for it first."""

    def __init__(self, year: int) -> None:
        super().__init__(f"no calendar data recorded for {year}")
        self.year = year


class CalendarYears(BaseModel):
    """The installed calendar's answer for whole years, as data small enough to record: the
    weekdays that are holidays and the weekend days that are make-up working days (调休)."""

    first_year: int
    last_year: int
    days_off: list[date] = Field(default_factory=list, description="Monday-Friday holidays")
    working_weekends: list[date] = Field(default_factory=list, description="调休 days")
    guessed_years: list[int] = Field(
        default_factory=list, description="unknown to the installed calendar: Monday-Friday"
    )
    read_on: date | None = Field(
        default=None, description="the day (Beijing) a workflow read this, set by the workflow"
    )

    def covers(self, year: int) -> bool:
        return self.first_year <= year <= self.last_year

    def needs_reading(self, first_year: int, last_year: int, today: date) -> bool:
        """Whether the calendar must be read (again) for the span: it is not all here, or a
        guessed year in it may be known by now (a release comes out each November or
        December with the next year's holidays), read again once a day."""
        if not (self.covers(first_year) and self.covers(last_year)):
            return True
        guessed = any(first_year <= year <= last_year for year in self.guessed_years)
        return guessed and (self.read_on is None or self.read_on < today)

    def is_working_day(self, day: date) -> tuple[bool, bool]:
        """(working, guessed); raises CalendarGapError outside the recorded years."""
        if not self.covers(day.year):
            raise CalendarGapError(day.year)
        if day.weekday() < 5:
            return day not in self._days_off, day.year in self.guessed_years
        return day in self._working_weekends, day.year in self.guessed_years

    # Never mutated in place (a wider span is a new value), so the sets can be kept.
    @cached_property
    def _days_off(self) -> frozenset[date]:
        return frozenset(self.days_off)

    @cached_property
    def _working_weekends(self) -> frozenset[date]:
        return frozenset(self.working_weekends)


# Whether a day is a working day; raises NotImplementedError for a year it has no data for,
# as ``chinesecalendar`` does. Tests pass a calendar they control.
HolidaySource = Callable[[date], bool]


def installed_calendar_years(
    first_year: int, last_year: int, is_workday: HolidaySource | None = None
) -> CalendarYears:
    """Read the installed ``chinesecalendar`` (or ``is_workday``) for whole years. Not for
    workflow code."""
    read = _installed_year if is_workday is None else partial(_read_year, is_workday=is_workday)
    years = [read(year) for year in range(first_year, last_year + 1)]
    return CalendarYears(
        first_year=first_year,
        last_year=last_year,
        days_off=[day for year in years for day in year.days_off],
        working_weekends=[day for year in years for day in year.working_weekends],
        guessed_years=[year for part in years for year in part.guessed_years],
    )


@cache
def _installed_year(year: int) -> CalendarYears:
    return _read_year(year, chinese_calendar.is_workday)


def _read_year(year: int, is_workday: HolidaySource) -> CalendarYears:
    days_off: list[date] = []
    working_weekends: list[date] = []
    day = date(year, 1, 1)
    while day.year == year:
        try:
            working = bool(is_workday(day))
        except NotImplementedError:  # a year the installed calendar has no data for
            return CalendarYears(first_year=year, last_year=year, guessed_years=[year])
        weekday = day.weekday() < 5
        if weekday and not working:
            days_off.append(day)
        elif working and not weekday:
            working_weekends.append(day)
        day += timedelta(days=1)
    return CalendarYears(
        first_year=year, last_year=year, days_off=days_off, working_weekends=working_weekends
    )


@dataclass
class WorkingCalendar:
    """Counts working days over recorded ``years``, or over the installed calendar when
    there are none (outside workflows only); remembers whether it guessed for a year the
    calendar does not know."""

    years: CalendarYears | None = None
    fallback_used: bool = False
    _cache: dict[date, bool] = field(default_factory=dict)

    def is_working_day(self, day: date) -> bool:
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        years = self.years or _installed_year(day.year)
        working, guessed = years.is_working_day(day)
        self.fallback_used = self.fallback_used or guessed
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
