"""The grammar rows added for plans in the shapes offices publish (issue #11): recurrences
with a day, quarterly and half-yearly ones, starts with a day, ongoing 时限 cells, and
deadlines counted from the issue date. Phrases are written here, not taken from a corpus."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.deadlines import DeadlineContext, DeadlineError, find_deadlines, parse_deadline
from domain.parsers.common import relative_date_warnings, task_deadlines
from domain.plan import DeadlineFlag, Recurrence, TaskFlag

PLAN_2025 = DeadlineContext(plan_year=2025)
ISSUED = date(2025, 3, 14)
ISSUED_2025 = DeadlineContext(plan_year=2025, issue_date=ISSUED)


@pytest.mark.parametrize(
    ("text", "recurrence"),
    [
        ("每月25日前报送进展", Recurrence(frequency="monthly", day=25, raw="每月25日前")),
        ("每月5日报送上月数据", Recurrence(frequency="monthly", day=5, raw="每月5日")),
        ("每个月10日前调度", Recurrence(frequency="monthly", day=10, raw="每个月10日前")),
        ("每月31日前", Recurrence(frequency="monthly", day=31, raw="每月31日前")),
        ("每月底前上报", Recurrence(frequency="monthly", raw="每月底前")),
        ("每季度报送一次", Recurrence(frequency="quarterly", raw="每季度")),
        ("每季度末前完成评估", Recurrence(frequency="quarterly", raw="每季度末前")),
        ("按季度通报", Recurrence(frequency="quarterly", raw="按季度")),
        ("实行一季一通报", Recurrence(frequency="quarterly", raw="一季一通报")),
        (
            "每季度首月10日前报送上季度情况",
            Recurrence(frequency="quarterly", month=1, day=10, raw="每季度首月10日前"),
        ),
        ("每半年总结一次", Recurrence(frequency="half-yearly", raw="每半年")),
        ("每半年度末报告", Recurrence(frequency="half-yearly", raw="每半年度末")),
        ("每年第一季度末前报送", Recurrence(frequency="yearly", month=3, raw="每年第一季度末前")),
        ("每年4季度", Recurrence(frequency="yearly", month=12, raw="每年4季度")),
        ("每年上半年报告", Recurrence(frequency="yearly", month=6, raw="每年上半年")),
        ("每年下半年底前", Recurrence(frequency="yearly", month=12, raw="每年下半年底前")),
    ],
)
def test_recurrences_by_month_quarter_and_half_year(text: str, recurrence: Recurrence) -> None:
    """每月25日前 keeps its day; 每季度 and 每半年 recur instead of being lost or dated."""
    found = find_deadlines(text, PLAN_2025)
    assert found.recurrence == recurrence
    assert found.milestones == []
    assert found.problems == []


@pytest.mark.parametrize("text", ["每月32日前报送", "每月0日前报送"])
def test_a_monthly_day_no_month_has_is_a_problem(text: str) -> None:
    found = find_deadlines(text, PLAN_2025)
    assert found.recurrence is None
    assert found.problems == [f"{text.removesuffix('报送')}: no month has a day {text[2:-4]}"]


@pytest.mark.parametrize(
    ("text", "starts"),
    [
        ("2025年7月1日起实施", date(2025, 7, 1)),
        ("自2026年1月1日起施行", date(2026, 1, 1)),
        ("2025年9月开始试运行", date(2025, 9, 1)),
        ("2025年10月起", date(2025, 10, 1)),
        ("7月1日起执行新标准", date(2025, 7, 1)),
        ("8月起推广", date(2025, 8, 1)),
    ],
)
def test_a_day_with_qi_is_a_start_not_a_deadline(text: str, starts: date) -> None:
    """ "X年X月X日起" says when the work starts, even in a 时限 cell where dates count."""
    for bare_dates in (False, True):
        found = find_deadlines(text, PLAN_2025, bare_dates=bare_dates)
        assert found.starts == starts
        assert found.milestones == []


def test_a_span_after_a_start_year_counts_from_that_year() -> None:
    """ "2012年起5年内" is 2012-2016: no issue date needed, and the start is kept."""
    found = find_deadlines("2012年起5年内，引进人才100名", PLAN_2025)
    assert [(m.due, m.raw, m.flags) for m in found.milestones] == [
        (date(2016, 12, 31), "2012年起5年内", [])
    ]
    assert found.starts == date(2012, 1, 1)
    assert found.relative == []


def test_a_start_beside_a_deadline_keeps_both() -> None:
    found = find_deadlines("2025年7月1日起试点，2025年12月底前全面推开", PLAN_2025)
    assert found.starts == date(2025, 7, 1)
    assert [m.due for m in found.milestones] == [date(2025, 12, 31)]


@pytest.mark.parametrize("phrase", ["2025年7月1日起", "每季度", "每月25日前", "3个月内"])
def test_starts_recurrences_and_spans_are_not_one_deadline(phrase: str) -> None:
    with pytest.raises(DeadlineError):
        parse_deadline(phrase, ISSUED_2025)


@pytest.mark.parametrize("cell", ["持续推进", "长期坚持", "长期", "常态化开展"])
def test_an_ongoing_deadline_cell_is_ongoing_even_in_an_annual_plan(cell: str) -> None:
    """The office wrote 持续推进 where a date would stand: no year-end is invented."""
    deadlines = task_deadlines(cell, PLAN_2025, annual=True, bare_dates=True)
    assert deadlines.ongoing
    assert deadlines.milestones == []
    assert TaskFlag.IMPLICIT_DEADLINE not in deadlines.flags


def test_ongoing_words_in_the_text_of_an_annual_plan_still_get_the_year_end() -> None:
    """In running text 持续 describes the work; an annual plan's task is due at year end."""
    deadlines = task_deadlines("持续推进政务公开", PLAN_2025, annual=True)
    assert not deadlines.ongoing
    assert [m.due for m in deadlines.milestones] == [date(2025, 12, 31)]


def test_a_month_alone_in_a_deadline_cell_is_its_last_day() -> None:
    cell = find_deadlines("2026年12月", DeadlineContext(2026), bare_dates=True)
    assert [m.due for m in cell.milestones] == [date(2026, 12, 31)]
    february = find_deadlines("2028年2月", DeadlineContext(2028), bare_dates=True)
    assert [m.due for m in february.milestones] == [date(2028, 2, 29)]


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("自本方案印发之日起30日内完成", date(2025, 4, 13)),
        ("印发之日起三十日内", date(2025, 4, 13)),
        ("本通知下发后15日内报送", date(2025, 3, 29)),
        ("自发布之日起2周内", date(2025, 3, 28)),
        ("3个月内完成清理", date(2025, 6, 14)),
        ("力争两年内建成", date(2027, 3, 14)),
        ("今后5年内逐步推进", date(2030, 3, 14)),
        ("半年内见效", date(2025, 9, 14)),
        ("半个月内", date(2025, 3, 29)),
    ],
)
def test_relative_deadlines_count_from_the_issue_date(text: str, due: date) -> None:
    """The issue day is not counted; months end on the same day (民法典 art. 201-202)."""
    (milestone,) = find_deadlines(text, ISSUED_2025).milestones
    assert milestone.due == due
    assert DeadlineFlag.RELATIVE in milestone.flags
    assert find_deadlines(text, ISSUED_2025).relative == []


def test_a_month_span_from_a_long_month_ends_on_the_shorter_months_last_day() -> None:
    context = DeadlineContext(plan_year=2025, issue_date=date(2025, 1, 31))
    (milestone,) = find_deadlines("1个月内", context).milestones
    assert milestone.due == date(2025, 2, 28)


def test_working_days_skip_the_holidays() -> None:
    """2025-09-30 plus 5 working days: the National Day week (1-8 October) is off."""
    context = DeadlineContext(plan_year=2025, issue_date=date(2025, 9, 30))
    (milestone,) = find_deadlines("5个工作日内", context).milestones
    assert milestone.due == date(2025, 10, 14)


def test_a_target_span_keeps_its_target_flag() -> None:
    (milestone,) = find_deadlines("力争3年内实现全覆盖", ISSUED_2025).milestones
    assert milestone.flags == [DeadlineFlag.RELATIVE, DeadlineFlag.TARGET]


@pytest.mark.parametrize(
    "text",
    ["项目验收后3个月内完成审计", "资金下发后10日内拨付", "第三年内", "每3个月内"],
)
def test_spans_after_another_event_are_not_placed(text: str) -> None:
    """ "验收后3个月内" counts from an event nobody can date: neither placed nor listed."""
    found = find_deadlines(text, ISSUED_2025)
    assert found.milestones == []
    assert found.relative == []


def test_without_an_issue_date_a_relative_deadline_is_listed_not_placed() -> None:
    found = find_deadlines("自本意见印发之日起30日内，3个月内完成", PLAN_2025)
    assert found.milestones == []
    assert found.relative == ["自本意见印发之日起30日内", "3个月内"]


def test_task_deadlines_flag_relative_dates_placed_or_not() -> None:
    placed = task_deadlines("印发之日起30日内", ISSUED_2025, annual=True)
    assert [m.due for m in placed.milestones] == [date(2025, 4, 13)]
    assert TaskFlag.RELATIVE_DATE in placed.flags
    (warning,) = relative_date_warnings(placed, ISSUED, 7, "3")
    assert (warning.code, warning.line, warning.task_id) == ("relative_date", 7, "3")
    assert "2025-03-14" in warning.message
    assert "2025-04-13" in warning.message

    unplaced = task_deadlines("印发之日起30日内", PLAN_2025, annual=True)
    assert [m.due for m in unplaced.milestones] == [date(2025, 12, 31)]
    assert {TaskFlag.RELATIVE_DATE, TaskFlag.IMPLICIT_DEADLINE} <= set(unplaced.flags)
    (warning,) = relative_date_warnings(unplaced, None, 7, "3")
    assert warning.message == (
        "“印发之日起30日内” counts from the plan's issue date, which the document does not "
        "give: due 2025-12-31 by the plan's default; enter the due date"
    )


_SPAN_ALPHABET = st.sampled_from(
    [
        *"0123456789一二两三十半年月日天周内起前每季度首末底后",
        "个月",
        "个工作日",
        "印发之日起",
        "本通知下发后",
        "，",
    ]
)


@given(
    st.lists(_SPAN_ALPHABET, max_size=20).map("".join),
    st.dates(min_value=date(1, 1, 1), max_value=date.max),
)
def test_spans_from_any_issue_date_never_raise(text: str, issued: date) -> None:
    """Any issue date, even one a document mistypes as 9999年, places a span in range or
    reports a problem: find_deadlines never raises."""
    found = find_deadlines(text, DeadlineContext(plan_year=2025, issue_date=issued))
    assert all(1949 <= m.due.year <= 2100 for m in found.milestones)


def test_a_span_past_the_last_year_is_a_problem() -> None:
    found = find_deadlines("5年内", DeadlineContext(plan_year=2099, issue_date=date(2099, 6, 1)))
    assert found.milestones == []
    assert found.problems == ["5年内 from 2099-06-01 ends outside 1949–2100"]
