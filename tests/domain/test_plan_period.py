"""When a plan's recurring tasks may first fall due (Plan.recurrences_begin)."""

from __future__ import annotations

from datetime import date

from domain.plan import Plan


def _plan(period_start: int, issue_date: date | None) -> Plan:
    return Plan(
        id="p",
        title="t",
        issue_date=issue_date,
        period_start=period_start,
        period_end=period_start,
        source_file="p.txt",
        format="ledger",
    )


def test_without_an_issue_date_the_plans_first_year_begins_them() -> None:
    assert _plan(2027, None).recurrences_begin == date(2027, 1, 1)


def test_a_plan_issued_before_its_period_begins_with_its_period() -> None:
    assert _plan(2027, date(2026, 12, 20)).recurrences_begin == date(2027, 1, 1)


def test_a_plan_issued_within_its_period_begins_when_issued() -> None:
    assert _plan(2026, date(2026, 3, 5)).recurrences_begin == date(2026, 3, 5)
