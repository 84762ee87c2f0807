"""Occurrences of recurring tasks, computed in the domain for the workflow and previews."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.plan import PERIOD_MONTHS, Recurrence
from domain.recurrence import occurrences


def test_quarterly_occurrences_fall_at_each_quarters_end() -> None:
    quarterly = occurrences(Recurrence(frequency="quarterly", raw="每季度"), 2025, 2025)
    assert [(o.key, o.period_start, o.due) for o in quarterly] == [
        ("2025-Q1", date(2025, 1, 1), date(2025, 3, 31)),
        ("2025-Q2", date(2025, 4, 1), date(2025, 6, 30)),
        ("2025-Q3", date(2025, 7, 1), date(2025, 9, 30)),
        ("2025-Q4", date(2025, 10, 1), date(2025, 12, 31)),
    ]


def test_quarterly_on_a_day_of_the_quarters_first_month() -> None:
    recurrence = Recurrence(frequency="quarterly", month=1, day=10, raw="每季度首月10日前")
    due = [o.due for o in occurrences(recurrence, 2025, 2025)]
    assert due == [date(2025, 1, 10), date(2025, 4, 10), date(2025, 7, 10), date(2025, 10, 10)]


def test_half_yearly_occurrences() -> None:
    half = occurrences(Recurrence(frequency="half-yearly", raw="每半年"), 2025, 2026)
    assert [(o.key, o.due) for o in half] == [
        ("2025-H1", date(2025, 6, 30)),
        ("2025-H2", date(2025, 12, 31)),
        ("2026-H1", date(2026, 6, 30)),
        ("2026-H2", date(2026, 12, 31)),
    ]
    assert half[0].period_start == date(2025, 1, 1)


def test_monthly_on_a_day_falls_on_a_short_months_last_day() -> None:
    monthly = occurrences(Recurrence(frequency="monthly", day=31, raw="每月31日前"), 2025, 2025)
    assert [o.due for o in monthly][:4] == [
        date(2025, 1, 31),
        date(2025, 2, 28),
        date(2025, 3, 31),
        date(2025, 4, 30),
    ]
    twenty_fifth = Recurrence(frequency="monthly", day=25, raw="每月25日前")
    assert occurrences(twenty_fifth, 2025, 2025)[1].period_start == date(2025, 1, 26)


@pytest.mark.parametrize(("frequency", "month"), [("quarterly", 4), ("half-yearly", 7)])
def test_a_month_outside_the_period_is_refused(frequency: str, month: int) -> None:
    with pytest.raises(ValidationError, match=f"no month {month} in its period"):
        Recurrence.model_validate({"frequency": frequency, "month": month, "raw": "x"})


@pytest.mark.parametrize(
    ("recurrence", "described"),
    [
        (Recurrence(frequency="monthly", raw="每月"), "monthly"),
        (Recurrence(frequency="monthly", day=25, raw="每月25日前"), "monthly 25"),
        (Recurrence(frequency="quarterly", raw="每季度"), "quarterly end"),
        (Recurrence(frequency="quarterly", month=1, day=10, raw="x"), "quarterly 1/10"),
        (Recurrence(frequency="half-yearly", raw="每半年"), "half-yearly end"),
        (Recurrence(frequency="yearly", month=1, raw="每年1月底前"), "yearly 1/end"),
    ],
)
def test_recurrences_describe_themselves(recurrence: Recurrence, described: str) -> None:
    assert recurrence.describe() == described


_RECURRENCES = st.sampled_from(list(PERIOD_MONTHS)).flatmap(
    lambda frequency: st.builds(
        Recurrence,
        frequency=st.just(frequency),
        month=st.none()
        if frequency == "monthly"
        else st.none() | st.integers(1, PERIOD_MONTHS[frequency]),
        day=st.none() | st.integers(1, 31),
        raw=st.just("x"),
    )
)


@given(_RECURRENCES, st.integers(2000, 2090), st.integers(0, 3))
def test_occurrences_tile_the_years_without_gaps(
    recurrence: Recurrence, first_year: int, years: int
) -> None:
    """Each period begins the day after the previous one is due; one per period per year."""
    found = occurrences(recurrence, first_year, first_year + years)
    per_year = 12 // PERIOD_MONTHS[recurrence.frequency]
    assert len(found) == per_year * (years + 1)
    assert len({o.key for o in found}) == len(found)
    for previous, current in itertools.pairwise(found):
        assert current.period_start == previous.due + timedelta(days=1)
        assert current.due > previous.due
    assert all(o.period_start <= o.due for o in found)
