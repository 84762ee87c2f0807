"""Re-dating a plan by whole years (``--rebase-year``): an old plan as if it were current.

The reference plans are from 2016–2018, so imported as written every task is years overdue.
:func:`rebase_plan` moves every date of a parsed plan by the same number of whole years:
the issue date (印发日期), the period (计划年度, start and end), every milestone's due
date and every task's start ("X年起"). A recurring task carries no date of its own: its
occurrences are counted from the plan's issue date and period, which move with it. The
words stay as the document wrote them (task text, the deadline phrase ``raw``, the source
text), so a coordinator can still check a task against the document; the plan's warnings
say that the dates were shifted and by how much, and each task's provenance
(``Provenance.rebased_years``) records the shift in the stored task row.

A date moves to the same month and day: 29 February lands on 28 February in a common year
(the only day that has no twin), and the note says how many did. A date counted from the
issue date ("印发之日起30日内") is moved with the others, not counted again.

Pure: no clock. The day that counts as "today" is passed in (:func:`choose_rebase_years`).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from datetime import date

from domain.deadlines import EARLIEST_YEAR, LATEST_YEAR
from domain.plan import Milestone, ParsedPlan, ParseWarning, PlanTask

# The years ``--rebase-year`` accepts: a plan Duban could be tracking, give or take.
MIN_REBASE_YEAR = 1990
MAX_REBASE_YEAR = 2100
# The warning that says a plan's dates were shifted. It informs; it does not ask for a
# check, so an import does not need --accept-warnings for it (see ``needs_check``).
REBASED_WARNING = "dates_rebased"
# The demo's rule (``choose_rebase_years``): at most this share of the dated deadlines lies
# before today.
DEMO_PAST_SHARE = 0.2


_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")  # ASCII digits: "２０２６" is refused, not guessed


class RebaseError(ValueError):
    """A rebase year that is no year, out of range, or would carry a date out of range."""


def parse_rebase_year(value: str | int) -> int:
    """``value`` as a rebase year, or RebaseError with a one-line reason."""
    text = str(value).strip()
    if not _WHOLE_NUMBER.fullmatch(text):
        raise RebaseError(f"--rebase-year must be a whole year, not {str(value)!r}")
    year = int(text)
    if not MIN_REBASE_YEAR <= year <= MAX_REBASE_YEAR:
        raise RebaseError(
            f"--rebase-year must be between {MIN_REBASE_YEAR} and {MAX_REBASE_YEAR}, not {year}"
        )
    return year


def rebase_years_for(parsed: ParsedPlan, target_year: int) -> int:
    """The shift that makes ``target_year`` the plan's first year (``period_start``, the
    first year the plan covers: 2017 for a 2017 plan, 2016 for a 2016–2020 plan).

    ``--rebase-year 2026`` on a 2017 plan is a shift of +9 years; on a 2016–2020 plan, +10
    (its period becomes 2026–2030). RebaseError when ``target_year`` is out of range.
    """
    year = parse_rebase_year(target_year)
    return year - parsed.plan.period_start


def shift_date(day: date, years: int) -> date:
    """``day`` moved by ``years`` whole years; 29 February lands on 28 February in a
    common year. RebaseError outside the years the deadline grammar knows."""
    year = day.year + years
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise RebaseError(
            f"shifting {day.isoformat()} by {years:+d} years leaves {EARLIEST_YEAR}–{LATEST_YEAR}"
        )
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return day.replace(year=year)


def plan_dates(parsed: ParsedPlan) -> list[date]:
    """Every date a rebase moves, in a fixed order (what the property tests compare)."""
    plan = parsed.plan
    dates = [plan.issue_date] if plan.issue_date else []
    for task in parsed.tasks:
        dates.extend(milestone.due for milestone in task.milestones)
        if task.starts is not None:
            dates.append(task.starts)
    return dates


def rebase_plan(parsed: ParsedPlan, years: int) -> ParsedPlan:
    """The plan with every date shifted by ``years`` whole years (see the module text), one
    ``dates_rebased`` warning saying so, and each task's provenance recording the total
    shift. ``years == 0`` returns the plan unchanged. RebaseError when a date would leave
    the years the deadline grammar knows; the plan passed in is never changed.

    A plan rebased again adds up: the note then gives the total shift from the document's
    own years (a plan read back from a 台账 keeps its earlier note and gains a second).
    """
    if years == 0:
        return parsed
    plan = parsed.plan
    for year in (plan.period_start + years, plan.period_end + years):
        if not EARLIEST_YEAR <= year <= LATEST_YEAR:
            raise RebaseError(
                f"shifting the plan's period {plan.period_start}–{plan.period_end} by "
                f"{years:+d} years leaves {EARLIEST_YEAR}–{LATEST_YEAR}"
            )
    leap_days = sum(
        1
        for day in plan_dates(parsed)
        if (day.month, day.day) == (2, 29) and not calendar.isleap(day.year + years)
    )
    earlier = rebased_years(parsed)
    rebased_plan = plan.model_copy(
        update={
            "issue_date": shift_date(plan.issue_date, years) if plan.issue_date else None,
            "period_start": plan.period_start + years,
            "period_end": plan.period_end + years,
        }
    )
    total = earlier + years
    tasks = [_rebase_task(task, years, total) for task in parsed.tasks]
    # The total replaces an earlier note. One that came through a 台账 (which keeps the
    # warnings but not the tasks' provenance, so ``earlier`` reads 0) stays beside the new.
    warnings = [w for w in parsed.warnings if w.code != REBASED_WARNING or not earlier]
    if total != 0:
        original = plan.period_start - earlier
        warnings.append(rebase_warning(total, original, rebased_plan.period_start, leap_days))
    return parsed.model_copy(update={"plan": rebased_plan, "tasks": tasks, "warnings": warnings})


def rebase_warning(years: int, from_year: int, to_year: int, leap_days: int = 0) -> ParseWarning:
    """The note a rebased plan carries: "日期整体平移 +9 年（2017 → 2026）…"."""
    leap = (
        f"; {leap_days} × 29 February became 28 February (2月29日改为2月28日)" if leap_days else ""
    )
    return ParseWarning(
        line=None,
        code=REBASED_WARNING,
        message=(
            f"日期整体平移 {years:+d} 年（{from_year} → {to_year}）: every date (deadlines, "
            "issue date, plan period, starts) moved by whole years; the text keeps the "
            f"document's own years{leap}"
        ),
    )


def rebased_years(parsed: ParsedPlan) -> int:
    """How many years the plan's dates were shifted from the document's (0: as written)."""
    return next((task.source.rebased_years for task in parsed.tasks), 0)


def _rebase_task(task: PlanTask, years: int, total: int) -> PlanTask:
    milestones = [
        milestone.model_copy(update={"due": shift_date(milestone.due, years)})
        for milestone in task.milestones
    ]
    return task.model_copy(
        update={
            "milestones": milestones,
            "starts": shift_date(task.starts, years) if task.starts else None,
            "source": task.source.model_copy(update={"rebased_years": total}),
        }
    )


def needs_check(warnings: Sequence[ParseWarning]) -> list[ParseWarning]:
    """The warnings a coordinator must accept before an import: all but the rebase note,
    which only reports what the coordinator asked for."""
    return [warning for warning in warnings if warning.code != REBASED_WARNING]


# ---------------------------------------------------------------- the demo's choice


def deadlines(parsed: ParsedPlan) -> list[Milestone]:
    """The plan's dated deadlines: every milestone of every task (a recurring or ongoing
    task without a milestone has none)."""
    return [milestone for task in parsed.tasks for milestone in task.milestones]


def past_share(parsed: ParsedPlan, years: int, today: date) -> float:
    """The share of the dated deadlines that would lie before ``today`` after a shift of
    ``years`` (a deadline on ``today`` itself is not past: it is due today)."""
    dues = [milestone.due for milestone in deadlines(parsed)]
    if not dues:
        return 0.0
    # Compared as (year, month, day), so a shift past the grammar's years is no error here
    # (29 February of a common year compares as 28 February would: no real day lies between).
    now = (today.year, today.month, today.day)
    return sum((due.year + years, due.month, due.day) < now for due in dues) / len(dues)


def choose_rebase_years(
    parsed: ParsedPlan, today: date, max_past_share: float = DEMO_PAST_SHARE
) -> int:
    """The demo's shift: the smallest whole number of years for which at most
    ``max_past_share`` (20%) of the plan's dated deadlines lie before ``today``.

    So the plan is as far along as it can be while most of its work is still ahead: an
    annual plan whose deadlines cluster at the year's end lands in the current year when
    today is early enough, else in the next. A plan without dated deadlines gets its first
    year moved to ``today``'s year. The result may be 0 or negative (a plan from the
    future); :func:`rebase_plan` refuses it if it carries a date out of the known years.
    """
    if not 0 <= max_past_share < 1:
        raise ValueError(f"max_past_share must be in [0, 1), not {max_past_share}")
    dues = [milestone.due for milestone in deadlines(parsed)]
    if not dues:
        return today.year - parsed.plan.period_start
    # Every deadline past at ``start``, none past at ``start + span``: the answer lies between.
    start = today.year - max(dues).year - 1
    span = max(dues).year - min(dues).year + 2
    for years in range(start, start + span + 1):
        if past_share(parsed, years, today) <= max_past_share + 1e-9:
            return years
    raise AssertionError("unreachable: at the last shift no deadline is past")  # pragma: no cover
