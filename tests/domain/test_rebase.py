"""``--rebase-year``: every date of a plan moved by whole years, and nothing else."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.parsers import parse_file
from domain.plan import (
    Milestone,
    ParsedPlan,
    ParseWarning,
    Plan,
    PlanTask,
    Provenance,
    Recurrence,
)
from domain.rebase import (
    REBASED_WARNING,
    RebaseError,
    choose_rebase_years,
    needs_check,
    parse_rebase_year,
    past_share,
    plan_dates,
    rebase_plan,
    rebase_years_for,
    rebased_years,
    shift_date,
)
from tests.support.golden import EXAMPLES

DONGYING = EXAMPLES / "dongying-2017-egov-key-work.txt"
XUANCHENG = EXAMPLES / "xuancheng-2016-2020-gov-informatization-plan.txt"
CHUZHOU = EXAMPLES / "chuzhou-2018-egov-key-tasks.txt"


def _task(
    index: int, dues: list[date], starts: date | None = None, recurring: bool = False
) -> PlanTask:
    return PlanTask(
        id=str(index),
        seq=index,
        text=f"第{index}项任务，2018年底前完成",
        lead_units=["市信息办"],
        cooperating_units=["市财政局"],
        milestones=[
            Milestone(due=due, raw=f"{due.year}年{due.month}月{due.day}日前") for due in dues
        ],
        recurrence=Recurrence(frequency="monthly", raw="每月") if recurring else None,
        starts=starts,
        source=Provenance(file="plan.txt", lines=(index, index), raw=f"{index}、任务"),
    )


def _plan(
    tasks: list[PlanTask], start: int = 2018, end: int = 2018, issued: date | None = None
) -> ParsedPlan:
    return ParsedPlan(
        plan=Plan(
            id="plan",
            title="某市工作方案",
            issue_date=issued,
            period_start=start,
            period_end=end,
            source_file="plan.txt",
            format="test",
        ),
        tasks=tasks,
        warnings=[ParseWarning(line=3, code="ambiguous_date", message="check it")],
    )


_days = st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31))


@st.composite
def plans(draw: st.DrawFn) -> ParsedPlan:
    start = draw(st.integers(1990, 2040))
    tasks = [
        _task(
            index,
            draw(st.lists(_days, max_size=4)),
            starts=draw(st.none() | _days),
            recurring=draw(st.booleans()),
        )
        for index in range(1, draw(st.integers(1, 5)) + 1)
    ]
    return _plan(tasks, start, start + draw(st.integers(0, 5)), draw(st.none() | _days))


def _without_dates(parsed: ParsedPlan) -> dict[str, Any]:
    """The plan's dump with every date a rebase moves (and its own note) left out."""
    document = parsed.model_dump(mode="json")
    for name in ("issue_date", "period_start", "period_end"):
        document["plan"].pop(name)
    for task in document["tasks"]:
        task.pop("starts")
        task["source"].pop("rebased_years", None)
        for milestone in task["milestones"]:
            milestone.pop("due")
    document["warnings"] = [w for w in document["warnings"] if w["code"] != REBASED_WARNING]
    return document


def _expected(day: date, years: int) -> date:
    year = day.year + years
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February in a common year
        return date(year, 2, 28)


@given(plans(), st.integers(-40, 50).filter(lambda years: years != 0))
def test_every_date_moves_by_exactly_the_years_and_nothing_else_changes(
    parsed: ParsedPlan, years: int
) -> None:
    """Each date lands on the same month and day ``years`` later (29 February on 28 February
    in a common year); the period moves with them; texts, units, flags, the deadline
    phrases as written and the other warnings stay as they were."""
    rebased = rebase_plan(parsed, years)
    assert plan_dates(rebased) == [_expected(day, years) for day in plan_dates(parsed)]
    assert rebased.plan.period_start == parsed.plan.period_start + years
    assert rebased.plan.period_end == parsed.plan.period_end + years
    assert _without_dates(rebased) == _without_dates(parsed)
    assert [task.recurrence for task in rebased.tasks] == [task.recurrence for task in parsed.tasks]
    assert rebased_years(rebased) == years
    assert all(task.source.rebased_years == years for task in rebased.tasks)
    notes = [w for w in rebased.warnings if w.code == REBASED_WARNING]
    assert len(notes) == 1
    assert f"{years:+d} 年" in notes[0].message


@given(plans(), st.integers(-20, 20), st.integers(-20, 20))
def test_two_shifts_add_up_and_the_note_names_the_documents_year(
    parsed: ParsedPlan, first: int, second: int
) -> None:
    """A plan rebased twice (a 台账 of a rebased preview, rebased again) is the plan rebased
    once by the sum, for every date that is not 29 February; one note gives the total."""
    twice = rebase_plan(rebase_plan(parsed, first), second)
    assert twice.plan.period_start == parsed.plan.period_start + first + second
    assert rebased_years(twice) == first + second
    for before, after in zip(plan_dates(parsed), plan_dates(twice), strict=True):
        if (before.month, before.day) != (2, 29):
            assert after == _expected(before, first + second)
    notes = [w.message for w in twice.warnings if w.code == REBASED_WARNING]
    if first + second == 0:
        assert notes == []
    else:
        from_to = f"（{parsed.plan.period_start} → {twice.plan.period_start}）"
        assert len(notes) == 1
        assert from_to in notes[0]


def test_dongying_2017_rebased_to_2026_says_so() -> None:
    parsed = parse_file(DONGYING)
    years = rebase_years_for(parsed, 2026)
    rebased = rebase_plan(parsed, years)
    assert years == 9
    assert (rebased.plan.period_start, rebased.plan.period_end) == (2026, 2026)
    assert rebased.plan.issue_date == date(2026, 6, 8)
    third = rebased.tasks[2].milestones
    assert [(m.due, m.raw) for m in third] == [
        (date(2026, 10, 31), "2017年11月前"),  # the phrase as the document wrote it
        (date(2027, 12, 31), "2018年底前"),
    ]
    (note,) = [w for w in rebased.warnings if w.code == REBASED_WARNING]
    assert note.message.startswith("日期整体平移 +9 年（2017 → 2026）")
    assert needs_check(rebased.warnings) == parsed.warnings
    assert parsed.plan.period_start == 2017  # the plan passed in is left as it was


def test_a_five_year_plan_lands_its_first_year_on_the_target() -> None:
    rebased = rebase_plan(parse_file(XUANCHENG), rebase_years_for(parse_file(XUANCHENG), 2026))
    assert (rebased.plan.period_start, rebased.plan.period_end) == (2026, 2030)


def test_29_february_lands_on_28_february_and_the_note_says_so() -> None:
    parsed = _plan([_task(1, [date(2020, 2, 29), date(2020, 3, 1)])], 2020, 2020)
    rebased = rebase_plan(parsed, 1)
    assert [m.due for m in rebased.tasks[0].milestones] == [date(2021, 2, 28), date(2021, 3, 1)]
    (note,) = [w for w in rebased.warnings if w.code == REBASED_WARNING]
    assert "1 × 29 February became 28 February" in note.message
    assert shift_date(date(2020, 2, 29), 4) == date(2024, 2, 29)


def test_a_shift_of_nothing_changes_nothing() -> None:
    parsed = parse_file(DONGYING)
    assert rebase_plan(parsed, rebase_years_for(parsed, 2017)) is parsed


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "must be a whole year, not 'abc'"),
        ("2026.5", "must be a whole year, not '2026.5'"),
        ("", "must be a whole year, not ''"),
        ("２０２６", "must be a whole year, not '２０２６'"),
        ("--2026", "must be a whole year, not '--2026'"),
        ("1989", "must be between 1990 and 2100, not 1989"),
        ("2101", "must be between 1990 and 2100, not 2101"),
        (-2026, "must be between 1990 and 2100, not -2026"),
    ],
)
def test_a_bad_rebase_year_is_one_line(value: str | int, reason: str) -> None:
    with pytest.raises(RebaseError) as refused:
        parse_rebase_year(value)
    assert str(refused.value) == f"--rebase-year {reason}"
    assert parse_rebase_year(" 2026 ") == 2026


def test_a_shift_past_2100_is_refused_and_changes_nothing() -> None:
    parsed = _plan([_task(1, [date(2095, 12, 31)])], 2095, 2099)
    with pytest.raises(RebaseError, match=r"period 2095–2099 by \+5 years leaves 1949–2100"):
        rebase_plan(parsed, rebase_years_for(parsed, 2100))
    late_deadline = _plan([_task(1, [date(2099, 12, 31)])], 2090, 2090)
    with pytest.raises(RebaseError, match="2099-12-31 by"):
        rebase_plan(late_deadline, 5)
    assert parsed.tasks[0].milestones[0].due == date(2095, 12, 31)


def test_a_plan_as_written_serialises_without_the_provenance_field() -> None:
    """rebased_years is left out while 0: goldens, fingerprints and workflow payloads of
    plans as written stay byte for byte what they were."""
    source = parse_file(DONGYING).tasks[0].source
    assert "rebased_years" not in source.model_dump(mode="json")
    assert "rebased_years" not in source.model_dump_json()
    moved = rebase_plan(parse_file(DONGYING), 9).tasks[0].source
    assert moved.model_dump(mode="json")["rebased_years"] == 9


# ---------------------------------------------------------------- the demo's choice


@given(st.dates(min_value=date(2019, 1, 1), max_value=date(2060, 12, 31)))
def test_the_chosen_shift_is_the_smallest_with_a_fifth_or_less_past(today: date) -> None:
    """For any today: at most 20% of the deadlines lie before it, and one year less would
    put more than 20% there."""
    for parsed in (parse_file(DONGYING), parse_file(XUANCHENG)):
        years = choose_rebase_years(parsed, today)
        assert past_share(parsed, years, today) <= 0.2
        assert past_share(parsed, years - 1, today) > 0.2


@pytest.mark.parametrize(
    ("today", "years"),
    [
        (date(2026, 12, 1), 9),  # 2 of the 35 deadlines (the 2017 mid-year ones) past
        (date(2026, 6, 1), 9),  # none past yet in 2026
        (date(2027, 1, 1), 10),  # the 2026 ones would all be past: the next year
    ],
)
def test_dongying_lands_where_most_of_its_work_is_ahead(today: date, years: int) -> None:
    assert choose_rebase_years(parse_file(DONGYING), today) == years


def test_a_plan_due_on_one_day_is_ahead_until_that_day_passes() -> None:
    """Chuzhou's 47 deadlines are all 31 December: on 31 December they are due today (not
    past), so the plan stays in that year; the next day it moves to the next."""
    chuzhou = parse_file(CHUZHOU)
    assert choose_rebase_years(chuzhou, date(2026, 12, 31)) == 8
    assert choose_rebase_years(chuzhou, date(2027, 1, 1)) == 9


def test_a_plan_without_deadlines_starts_this_year() -> None:
    parsed = _plan([_task(1, [], recurring=True)], 2016, 2020)
    assert choose_rebase_years(parsed, date(2026, 3, 1)) == 10


def test_a_plan_read_back_from_a_ledger_keeps_its_earlier_note() -> None:
    """A 台账 written from a rebased preview keeps the note but not the tasks' provenance:
    rebased again, the plan carries both notes, so the document's own year is not lost."""
    rebased = rebase_plan(parse_file(DONGYING), 9)
    as_read_back = rebased.model_copy(
        update={
            "tasks": [
                task.model_copy(
                    update={"source": task.source.model_copy(update={"rebased_years": 0})}
                )
                for task in rebased.tasks
            ]
        }
    )
    again = rebase_plan(as_read_back, 4)
    notes = [w.message for w in again.warnings if w.code == REBASED_WARNING]
    assert [note.split("：")[0].split(":")[0] for note in notes] == [
        "日期整体平移 +9 年（2017 → 2026）",
        "日期整体平移 +4 年（2026 → 2030）",
    ]
