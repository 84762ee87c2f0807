"""Plans and their tasks as extracted from a document: the contract every parser fills in.

A parser never guesses silently. Whatever it inferred (a lead unit from list order, a
deadline from the plan year, a unit inherited from the row above) is recorded as a flag on
the task, and whatever the coordinator must look at is a warning with a line number.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DeadlineFlag(StrEnum):
    """How a milestone's date was arrived at, when it is not simply written out."""

    IMPLICIT = "implicit"  # no date in the text: the plan year (or period) end applies
    AMBIGUOUS = "ambiguous"  # "X年M月前" strictly means before M: end of M-1, to be confirmed
    TARGET = "target"  # "力争…": an aspiration, tracked like a deadline
    YEAR_FROM_PLAN = "year_from_plan"  # "6月底前": the year is the plan's
    # "印发之日起30日内", "5年内": counted from the plan's issue date, to be confirmed
    RELATIVE = "relative"


class TaskFlag(StrEnum):
    """What a coordinator should know about how a task was extracted."""

    INFERRED_LEAD = "inferred_lead"  # first unit of an "A、B、C" cell taken as lead
    IMPLICIT_DEADLINE = "implicit_deadline"
    AMBIGUOUS_DATE = "ambiguous_date"
    TARGET_DATE = "target_date"
    INHERITED_UNIT = "inherited_unit"  # merged cell: the unit of the row above
    TRUNCATED = "truncated"  # the row is cut off in the document
    SPLIT_PER_LEAD = "split_per_lead"  # "分别牵头": one task per lead unit
    REPAIRED_ROW = "repaired_row"  # a cell was missing and the columns were realigned
    NO_UNIT = "no_unit"  # the document names no responsible unit
    GROUP_EXPANDED = "group_expanded"  # a group name was replaced by its member units
    # a deadline counted from the issue date ("印发之日起30日内"): resolved against it and
    # to be confirmed, or (no issue date known) left to the plan's default
    RELATIVE_DATE = "relative_date"


class Milestone(BaseModel):
    """One dated obligation of a task; a task is done when its last milestone is."""

    model_config = ConfigDict(frozen=True)

    due: date
    raw: str = Field(description="the deadline phrase as written, or '' when implicit")
    flags: list[DeadlineFlag] = Field(default_factory=list)
    text: str = Field(default="", description="the clause this deadline governs")


Frequency = Literal["yearly", "half-yearly", "quarterly", "monthly"]
# How many months each period of a frequency spans.
PERIOD_MONTHS: dict[str, int] = {"yearly": 12, "half-yearly": 6, "quarterly": 3, "monthly": 1}


class Recurrence(BaseModel):
    """A task that comes back every period ("每年1月底前", "每季度", "每月25日前", "一月一通报").

    ``month`` counts within the period: the calendar month for yearly, the month of the
    half year (1-6) or of the quarter (1-3), always None for monthly; None means the
    period's last month. ``day`` None means that month's last day; a day past a short
    month's end (每月31日) falls on its last day.
    """

    model_config = ConfigDict(frozen=True)

    frequency: Frequency
    month: int | None = Field(
        default=None, ge=1, le=12, description="due month within the period; None = its last"
    )
    day: int | None = Field(
        default=None, ge=1, le=31, description="due day of month; None = last day"
    )
    raw: str

    @model_validator(mode="after")
    def _month_within_period(self) -> Recurrence:
        if self.month is not None and self.month > PERIOD_MONTHS[self.frequency]:
            raise ValueError(
                f"a {self.frequency} recurrence has no month {self.month} in its period"
            )
        return self

    def describe(self) -> str:
        """A short English reading for tables: "yearly 1/end", "quarterly end", "monthly 25"."""
        day = "end" if self.day is None else str(self.day)
        if self.frequency == "monthly":
            return "monthly" if self.day is None else f"monthly {self.day}"
        if self.frequency == "yearly":
            return f"yearly {self.month or 12}/{day}"
        if self.month is None and self.day is None:
            return f"{self.frequency} end"
        return f"{self.frequency} {self.month or PERIOD_MONTHS[self.frequency]}/{day}"


class Provenance(BaseModel):
    """Where a task came from, so a coordinator can check it against the document."""

    model_config = ConfigDict(frozen=True)

    file: str
    lines: tuple[int, int] = Field(description="first and last line, 1-based, inclusive")
    raw: str = Field(default="", description="the source text as read, before normalisation")
    # Set by ``--rebase-year`` (domain.rebase): the dates were moved by this many whole years
    # from the document's. Left out of every dump while 0, so a plan as written serialises,
    # fingerprints and replays exactly as before the field existed.
    rebased_years: int = Field(default=0, exclude_if=lambda years: years == 0)


class PlanTask(BaseModel):
    id: str = Field(description="stable within the plan: '7', or '41-2' for part 2 of row 41")
    seq: int = Field(ge=1, description="the document's sequence number (序号)")
    part: int | None = Field(default=None, ge=1, description="set when one row became several")
    category: list[str] = Field(default_factory=list, description="section headings, outer first")
    text: str
    lead_units: list[str] = Field(default_factory=list)
    cooperating_units: list[str] = Field(default_factory=list)
    milestones: list[Milestone] = Field(default_factory=list)
    recurrence: Recurrence | None = None
    ongoing: bool = False
    starts: date | None = Field(default=None, description="'X年起': when the work starts")
    source: Provenance
    flags: list[TaskFlag] = Field(default_factory=list)

    @property
    def final_due(self) -> date | None:
        return max((milestone.due for milestone in self.milestones), default=None)


class Plan(BaseModel):
    id: str = Field(description="stable slug; the workflow ids of its tasks derive from it")
    title: str
    issuer: str | None = None
    document_number: str | None = Field(
        default=None, description="文号, e.g. 滁政办秘〔2018〕109号"
    )
    issue_date: date | None = None
    period_start: int = Field(description="first year the plan covers")
    period_end: int = Field(description="last year the plan covers (= start for annual plans)")
    source_file: str
    format: str = Field(description="which parser read it")

    @property
    def is_annual(self) -> bool:
        return self.period_start == self.period_end

    @property
    def recurrences_begin(self) -> date:
        """The first day a recurring task's occurrence may fall due: never before the plan's
        own first year (a plan for next year imported in December starts no quarter of this
        year, which would be overdue at once), nor before the plan was issued."""
        first_day = date(self.period_start, 1, 1)
        return max(first_day, self.issue_date) if self.issue_date else first_day


class ParseWarning(BaseModel):
    model_config = ConfigDict(frozen=True)

    line: int | None
    code: str
    message: str
    task_id: str | None = None


class ParsedPlan(BaseModel):
    """What a parser returns: the plan, its tasks in document order, and its warnings."""

    plan: Plan
    tasks: list[PlanTask]
    warnings: list[ParseWarning] = Field(default_factory=list)


def preview_json(parsed: ParsedPlan) -> dict[str, Any]:
    """What a parse preview shows (``duban parse --json``, the API's dry run): the plan, its
    tasks and warnings, dates as YYYY-MM-DD, provenance as file and lines."""
    document = parsed.model_dump(mode="json")
    for task in document["tasks"]:
        task["source"] = {"file": task["source"]["file"], "lines": task["source"]["lines"]}
    return document
