"""The occurrences of a recurring task: one per period, each with its due date.

Pure and deterministic, so the recurring-task workflow computes its next occurrence here
(replay gives the same answer) and previews and tests read the same dates.

Keys name the period: ``2018`` (yearly), ``2018-H1`` (half-yearly), ``2018-Q3``
(quarterly), ``2018-03`` (monthly). They are part of each occurrence's workflow id.
"""

from __future__ import annotations

import calendar
import itertools
from datetime import date, timedelta

from pydantic import BaseModel

from domain.plan import PERIOD_MONTHS, Recurrence


class Occurrence(BaseModel):
    key: str
    period_start: date
    due: date


def _period_key(frequency: str, year: int, index: int) -> str:
    """The key of period ``index`` (0-based) of ``year``."""
    if frequency == "monthly":
        return f"{year}-{index + 1:02d}"
    if frequency == "quarterly":
        return f"{year}-Q{index + 1}"
    if frequency == "half-yearly":
        return f"{year}-H{index + 1}"
    return str(year)


def _due_in_period(recurrence: Recurrence, year: int, index: int) -> date:
    """The due date of period ``index`` (0-based) of ``year``."""
    length = PERIOD_MONTHS[recurrence.frequency]
    month = index * length + (recurrence.month or length)
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(recurrence.day or last, last))


def occurrences(recurrence: Recurrence, first_year: int, until_year: int) -> list[Occurrence]:
    """Every occurrence due from January of ``first_year`` to December of ``until_year``.

    An occurrence's period begins the day after the previous one is due, so the whole
    span before a due date (reminders, the extension notice) lies inside its period.
    """
    per_year = 12 // PERIOD_MONTHS[recurrence.frequency]
    due_dates = [
        (_period_key(recurrence.frequency, year, index), _due_in_period(recurrence, year, index))
        for year in range(first_year - 1, until_year + 1)
        for index in range(per_year)
    ]
    return [
        Occurrence(key=key, period_start=previous_due + timedelta(days=1), due=due)
        for (_, previous_due), (key, due) in itertools.pairwise(due_dates)
        if due.year >= first_year
    ]
