"""The deadline grammar: every phrase of the five reference plans, and any string at all."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.deadlines import (
    DeadlineContext,
    DeadlineError,
    find_deadlines,
    implicit_deadline,
    parse_deadline,
)
from domain.plan import DeadlineFlag
from domain.text import normalize_line

AMBIGUOUS = DeadlineFlag.AMBIGUOUS
TARGET = DeadlineFlag.TARGET
PLAN_YEAR = DeadlineFlag.YEAR_FROM_PLAN

# (phrase as it stands in a document, plan year, expected due date, expected flags).
# Every deadline phrase that occurs in examples/plans/ is here, with its document.
DOCUMENT_PHRASES = [
    # bozhou 2018
    ("2018年6月30日前", 2018, date(2018, 6, 30), []),
    ("2018年5月31日前", 2018, date(2018, 5, 31), []),
    ("2018年12月31日前", 2018, date(2018, 12, 31), []),
    ("2018年7月31日前", 2018, date(2018, 7, 31), []),
    ("2018年5月15日前", 2018, date(2018, 5, 15), []),
    ("2018年5月25日前", 2018, date(2018, 5, 25), []),
    ("2018年8月31日前", 2018, date(2018, 8, 31), []),
    ("2018年9月30日前", 2018, date(2018, 9, 30), []),
    ("2018年12月底前", 2018, date(2018, 12, 31), []),
    ("力争2018年12月底前", 2018, date(2018, 12, 31), [TARGET]),
    ("年内", 2018, date(2018, 12, 31), [PLAN_YEAR]),
    ("年底前", 2018, date(2018, 12, 31), [PLAN_YEAR]),
    # chuzhou 2018
    ("2018年底前", 2018, date(2018, 12, 31), []),
    # dongying 2017
    ("2017年11月前", 2017, date(2017, 10, 31), [AMBIGUOUS]),
    ("6月底前", 2017, date(2017, 6, 30), [PLAN_YEAR]),
    ("到2020年", 2017, date(2020, 12, 31), []),
    # nantong 2017 (Traditional in the file; normalised before parsing)
    ("2017年12月底前", 2017, date(2017, 12, 31), []),
    ("2018年6月底前", 2017, date(2018, 6, 30), []),
    ("2017年11月15日前", 2017, date(2017, 11, 15), []),
    ("2017年年底前", 2017, date(2017, 12, 31), []),
    ("2017年11月底前", 2017, date(2017, 11, 30), []),
    ("到2018年", 2017, date(2018, 12, 31), []),
    # xuancheng 2016-2020
    ("2016年底前", 2016, date(2016, 12, 31), []),
    ("2017年底前", 2016, date(2017, 12, 31), []),
    ("2018年底前", 2016, date(2018, 12, 31), []),
    ("2020年底前", 2016, date(2020, 12, 31), []),
    ("力争到2020年前", 2016, date(2020, 12, 31), [TARGET]),
    ("到2016年底", 2016, date(2016, 12, 31), []),
    ("到2017年底", 2016, date(2017, 12, 31), []),
    # the rest of the grammar
    ("2018年6月30日", 2018, date(2018, 6, 30), []),
    ("2020年前", 2016, date(2020, 12, 31), []),
    ("2018年上半年", 2018, date(2018, 6, 30), []),
    ("2018年第三季度", 2018, date(2018, 9, 30), []),
    ("2018年5月中旬", 2018, date(2018, 5, 20), []),
    ("2018年2月下旬", 2018, date(2018, 2, 28), []),
    ("2019年1月前", 2018, date(2018, 12, 31), [AMBIGUOUS]),
    ("9月30日前", 2018, date(2018, 9, 30), [PLAN_YEAR]),
    ("6月中旬前", 2018, date(2018, 6, 20), [PLAN_YEAR]),
    ("2018年年内", 2018, date(2018, 12, 31), []),
    ("明年6月底前", 2018, date(2019, 6, 30), [PLAN_YEAR]),
    ("次年底前", 2018, date(2019, 12, 31), [PLAN_YEAR]),
    ("2018年6月", 2018, date(2018, 6, 30), []),
]


@pytest.mark.parametrize(("phrase", "plan_year", "due", "flags"), DOCUMENT_PHRASES)
def test_document_phrase(phrase: str, plan_year: int, due: date, flags: list[DeadlineFlag]) -> None:
    """Each phrase yields its inclusive due date and exactly the flags that explain it."""
    milestone = parse_deadline(phrase, DeadlineContext(plan_year))
    assert milestone.due == due
    assert milestone.flags == flags
    assert milestone.raw


@pytest.mark.parametrize(
    "phrase",
    ["", "尽快", "2018年13月底前", "2018年2月30日前", "0000年底前", "每年1月底前", "2018年起"],
)
def test_non_deadlines_are_refused(phrase: str) -> None:
    """Not a phrase, an impossible day, a recurrence or a start: a DeadlineError each."""
    with pytest.raises(DeadlineError):
        parse_deadline(phrase, DeadlineContext(2018))


@pytest.mark.parametrize("text", ["三年内完成", "半年内见效", "今后五年内逐步推进"])
def test_spans_are_not_plan_year_ends(text: str) -> None:
    """ "三年内" is a span of three years, not "within this year": no deadline is invented."""
    assert find_deadlines(text, DeadlineContext(2018)).milestones == []


def test_han_numeral_years_read_as_digits() -> None:
    """ "二〇一九年底前" is 2019, not the plan year (normalisation writes it 2019年)."""
    (milestone,) = find_deadlines(
        normalize_line("二〇一九年底前完成"), DeadlineContext(2018)
    ).milestones
    assert milestone.due == date(2019, 12, 31)


def test_every_year_end_recurs() -> None:
    """ "每年年底前" recurs every December, it is not a one-off deadline."""
    found = find_deadlines("每年年底前报送工作总结", DeadlineContext(2018))
    assert found.milestones == []
    assert found.recurrence is not None
    assert (found.recurrence.frequency, found.recurrence.month) == ("yearly", 12)


def test_a_month_alone_is_a_deadline_only_in_a_deadline_cell() -> None:
    """ "2018年6月" in a 时限 cell means by the end of June; in prose it is no deadline."""
    assert find_deadlines("2018年6月召开推进会", DeadlineContext(2018)).milestones == []
    cell = find_deadlines("2018年6月", DeadlineContext(2018), bare_dates=True)
    assert [m.due for m in cell.milestones] == [date(2018, 6, 30)]


def test_staged_clauses_give_one_milestone_each() -> None:
    """xuancheng's box 1: four dated clauses, four milestones, each with its own clause."""
    text = (
        "2016年底前，完成市政务云计算中心等级保护工作；2017年底前，建立统一身份认证管理中心，"
        "构建数据灾备中心；2018年底前，为政务云平台提供多等级数据恢复保护和容灾服务；"
        "2020年底前，为全市80%以上市直单位业务系统提供政务云平台服务。"
    )
    found = find_deadlines(text, DeadlineContext(2016, 2020))
    assert [m.due.year for m in found.milestones] == [2016, 2017, 2018, 2020]
    assert found.milestones[1].text.startswith("2017年底前，建立统一身份认证管理中心")


def test_recurrence_start_and_ongoing_are_not_deadlines() -> None:
    """每年M月底前 recurs, X年起 starts, 一月一通报 is monthly, 持续 marks ongoing work."""
    yearly = find_deadlines("每年1月底前向南通市大数据管理局报送", DeadlineContext(2017))
    assert yearly.milestones == []
    assert yearly.recurrence is not None
    assert (yearly.recurrence.frequency, yearly.recurrence.month) == ("yearly", 1)
    assert yearly.recurrence.day is None

    started = find_deadlines("2018年起，市级财政不再安排", DeadlineContext(2017))
    assert started.starts == date(2018, 1, 1)
    assert started.milestones == []

    monthly = find_deadlines("实行一月一通报", DeadlineContext(2018))
    assert monthly.recurrence is not None
    assert monthly.recurrence.frequency == "monthly"

    assert find_deadlines("持续推进政务服务", DeadlineContext(2018)).ongoing


def test_event_dates_in_running_text_are_not_deadlines() -> None:
    """A date without 前 in prose is an event; in a 时限 cell it is the deadline."""
    prose = "2014年6月20日二期项目顺利上线"
    assert find_deadlines(prose, DeadlineContext(2016)).milestones == []
    cell = find_deadlines("2018年6月30日", DeadlineContext(2018), bare_dates=True)
    assert [m.due for m in cell.milestones] == [date(2018, 6, 30)]


def test_year_end_wins_over_by_year() -> None:
    """ "于2018年底前" and "到2018年底" are year ends, not a bare "到2018年"."""
    for text in ("要于2018年底前完成网络迁移", "共享工作到2018年底实现以下目标"):
        (milestone,) = find_deadlines(text, DeadlineContext(2017)).milestones
        assert milestone.due == date(2018, 12, 31)


def test_impossible_day_in_text_is_reported_not_raised() -> None:
    """find_deadlines never raises; an impossible day becomes a problem to warn about."""
    found = find_deadlines("2018年2月30日前完成", DeadlineContext(2018))
    assert found.milestones == []
    assert found.problems == ["2018年2月30日 does not exist"]


def test_implicit_deadline_is_the_last_plan_year_end() -> None:
    """No date stated: 31 December of the plan's last year, marked implicit."""
    assert implicit_deadline(DeadlineContext(2018)).due == date(2018, 12, 31)
    multi_year = implicit_deadline(DeadlineContext(2016, 2020))
    assert multi_year.due == date(2020, 12, 31)
    assert multi_year.flags == [DeadlineFlag.IMPLICIT]


_GRAMMAR_ALPHABET = st.sampled_from(
    [*"0123456789年月日底末前内起到至于每一上中下旬半季度第力争个持续", "", " ", "，", "；"]
)


@given(st.text())
def test_any_string_parses_or_raises_deadline_error(phrase: str) -> None:
    """parse_deadline returns a milestone or raises DeadlineError, never anything else."""
    try:
        milestone = parse_deadline(phrase, DeadlineContext(2018))
    except DeadlineError:
        return
    assert 1949 <= milestone.due.year <= 2100


@given(st.lists(_GRAMMAR_ALPHABET, max_size=30).map("".join))
def test_grammar_like_strings_parse_or_raise_deadline_error(phrase: str) -> None:
    """Strings built from the grammar's own characters hit the date arithmetic edges."""
    with contextlib.suppress(DeadlineError):
        parse_deadline(phrase, DeadlineContext(2018))


@given(st.text(max_size=200))
def test_find_deadlines_never_raises(text: str) -> None:
    """Scanning arbitrary text finds what it finds and never raises."""
    found = find_deadlines(text, DeadlineContext(2018, 2020))
    assert all(1949 <= m.due.year <= 2100 for m in found.milestones)
