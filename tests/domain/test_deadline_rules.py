"""Corners of the deadline grammar the document tables do not reach: recurrences with a
day, the year range, the leading 于/在/至, starts, and the implicit deadline."""

from __future__ import annotations

from datetime import date

import pytest

from domain.deadlines import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    DeadlineContext,
    DeadlineError,
    find_deadlines,
    implicit_deadline,
    parse_deadline,
)
from domain.plan import DeadlineFlag, Recurrence

CONTEXT = DeadlineContext(plan_year=2018)


@pytest.mark.parametrize(
    ("text", "recurrence"),
    [
        ("每年3月10日前报送", Recurrence(frequency="yearly", month=3, day=10, raw="每年3月10日前")),
        ("每年2月29日前报送", Recurrence(frequency="yearly", month=2, day=29, raw="每年2月29日前")),
        ("每年3月底前报送", Recurrence(frequency="yearly", month=3, day=None, raw="每年3月底前")),
        ("每年年底前报送", Recurrence(frequency="yearly", month=12, day=None, raw="每年年底前")),
        ("坚持一月一通报", Recurrence(frequency="monthly", raw="一月一通报")),
    ],
)
def test_recurrences_keep_their_month_and_day(text: str, recurrence: Recurrence) -> None:
    found = find_deadlines(text, CONTEXT)
    assert found.recurrence == recurrence
    assert found.milestones == []
    assert found.problems == []


def test_a_recurrence_on_a_day_that_never_exists_is_a_problem() -> None:
    found = find_deadlines("每年2月30日前报送", CONTEXT)
    assert found.recurrence is None
    assert found.problems == ["2000年2月30日 does not exist"]


def test_the_first_recurrence_and_the_first_start_are_kept() -> None:
    found = find_deadlines("2019年起每年3月底前报送，每月调度；2020年起推广", CONTEXT)
    assert found.recurrence == Recurrence(frequency="yearly", month=3, raw="每年3月底前")
    assert found.starts == date(2019, 1, 1)


@pytest.mark.parametrize("year", [EARLIEST_YEAR, LATEST_YEAR])
def test_the_years_at_the_edges_of_the_range_are_read(year: int) -> None:
    assert parse_deadline(f"{year}年底前", CONTEXT).due == date(year, 12, 31)


@pytest.mark.parametrize("year", [EARLIEST_YEAR - 1, LATEST_YEAR + 1])
def test_a_year_outside_the_range_is_refused(year: int) -> None:
    with pytest.raises(DeadlineError) as refused:
        parse_deadline(f"{year}年底前", CONTEXT)
    assert str(refused.value) == f"year {year} is outside {EARLIEST_YEAR}–{LATEST_YEAR}"


@pytest.mark.parametrize("lead_in", ["于", "在", "至", "到"])
def test_a_leading_preposition_is_read_past(lead_in: str) -> None:
    milestone = parse_deadline(f"{lead_in}2018年6月底前", CONTEXT)
    assert milestone.due == date(2018, 6, 30)


@pytest.mark.parametrize("phrase", ["2019年起", "每年3月底前", "一月一通报", "尽快"])
def test_starts_recurrences_and_other_text_are_not_one_deadline(phrase: str) -> None:
    with pytest.raises(DeadlineError) as refused:
        parse_deadline(phrase, CONTEXT)
    assert str(refused.value) == f"{phrase!r} is not a deadline phrase"


def test_a_parsed_phrase_carries_no_clause_text_and_keeps_its_target_flag() -> None:
    milestone = parse_deadline("力争2018年底前", CONTEXT)
    assert (milestone.due, milestone.raw, milestone.text) == (date(2018, 12, 31), "2018年底前", "")
    assert milestone.flags == [DeadlineFlag.TARGET]


def test_the_implicit_deadline_is_the_last_plan_year_s_end() -> None:
    assert implicit_deadline(CONTEXT).model_dump() == {
        "due": date(2018, 12, 31),
        "raw": "",
        "flags": [DeadlineFlag.IMPLICIT],
        "text": "",
    }
    period = DeadlineContext(plan_year=2016, period_end=2020)
    assert implicit_deadline(period).due == date(2020, 12, 31)


@pytest.mark.parametrize(
    ("phrase", "due", "flags"),
    [
        ("明年6月20日前", date(2019, 6, 20), [DeadlineFlag.YEAR_FROM_PLAN]),
        ("次年3月底前", date(2019, 3, 31), [DeadlineFlag.YEAR_FROM_PLAN]),
        ("6月20日前", date(2018, 6, 20), [DeadlineFlag.YEAR_FROM_PLAN]),
        ("2018年上半年", date(2018, 6, 30), []),
        ("2018年下半年", date(2018, 12, 31), []),
        ("2019年1月前", date(2018, 12, 31), [DeadlineFlag.AMBIGUOUS]),
    ],
)
def test_phrases_relative_to_the_plan_year_and_halves(
    phrase: str, due: date, flags: list[DeadlineFlag]
) -> None:
    milestone = parse_deadline(phrase, CONTEXT)
    assert (milestone.due, milestone.flags) == (due, flags)


def test_each_milestone_carries_the_clause_it_stands_in() -> None:
    """A clause runs from the last 。；; or line end before the phrase to the first after
    it; a plain date in running text is an event, and the scan goes on past it."""
    text = "总体要求。分步实施。2018年6月20日上线，2019年底前完成；再推广；后续"
    found = find_deadlines(text, CONTEXT)
    assert [(m.due, m.text) for m in found.milestones] == [
        (date(2019, 12, 31), "2018年6月20日上线，2019年底前完成；")
    ]
    last = find_deadlines("分步实施。2019年底前完成", CONTEXT).milestones[0]
    assert last.text == "2019年底前完成"
