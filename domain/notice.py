"""The monthly notice (一月一通报) as data: what every renderer draws and what is stored.

A notice is computed from the recorded event log as of the end of a month (Asia/Shanghai),
never from Temporal, so regenerating June in December reads the same. This module holds
the shape only; the arithmetic that fills it lives in :mod:`domain.notice_state`, the
renderers in :mod:`reports`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class NoticeStatus(StrEnum):
    """A task's standing at the month end, as notices count it."""

    COMPLETED_ON_TIME = "completed_on_time"  # 已完成（按期）
    COMPLETED_LATE = "completed_late"  # 已完成（逾期完成）
    ON_SCHEDULE = "on_schedule"  # 序时推进
    BEHIND = "behind"  # 滞后: progress below the share of the period elapsed, past the margin
    OVERDUE = "overdue"  # 逾期: open past its due date
    NOT_ACCEPTED = "not_accepted"  # 未签收: still at 交办
    REFUSED = "refused"  # 退回, awaiting reassignment
    CANCELLED = "cancelled"  # 撤销

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    NoticeStatus.COMPLETED_ON_TIME: "按期完成",
    NoticeStatus.COMPLETED_LATE: "逾期完成",
    NoticeStatus.ON_SCHEDULE: "序时推进",
    NoticeStatus.BEHIND: "滞后",
    NoticeStatus.OVERDUE: "逾期",
    NoticeStatus.NOT_ACCEPTED: "未签收",
    NoticeStatus.REFUSED: "退回待交办",
    NoticeStatus.CANCELLED: "已撤销",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(slots=True)
class TaskStanding:
    """One task at the month end (a row of the 台账).

    A plain dataclass, not a model: a notice over every plan holds 100,000 of them, and
    pydantic takes a dataclass instance into :class:`Notice` as it is (the fields were
    computed, not read from outside), while it still validates one read back from JSON.
    Not frozen either (building a frozen one costs three times as much), but never changed
    once made: derive another with :func:`dataclasses.replace`.

    ``number`` is 序号 as the plan writes it; ``due`` the due date in force at the month
    end; ``light`` green / yellow / red for an open task, else None; ``escalations`` the
    督办 sent up to the month end; ``refusals`` the 退回 by the lead unit up to then.
    """

    plan_id: str
    task_id: str
    workflow_id: str
    number: str
    text: str
    lead_unit: str | None
    cooperating_units: tuple[str, ...]
    due: date | None
    stage: str
    status: NoticeStatus
    light: str | None
    progress_percent: int
    last_progress_text: str | None
    days_overdue: int
    escalation_level: int
    escalations: int
    completed_at: datetime | None
    refusals: int
    reported_this_month: bool


class UnitStanding(_Frozen):
    """One row of 分单位情况, counted over the tasks the unit leads."""

    unit: str
    led: int
    completed: int
    completed_late: int
    on_schedule: int
    behind: int
    overdue: int
    completion_rate: float = Field(description="completed / (led − cancelled), 0..1")
    average_days_late: float
    refusals: int = Field(description="退回 counted against the unit")
    silent_consents: int = Field(
        description="sign-offs it let lapse (视为同意) as cooperating unit"
    )
    rank: int


class NoticeTotals(_Frozen):
    """总体情况."""

    tasks: int
    completed: int
    completed_on_time: int
    completed_late: int
    on_schedule: int
    behind: int
    overdue: int
    not_accepted: int
    refused: int
    cancelled: int


class NoticeChanges(_Frozen):
    """What changed since the previous month's notice."""

    newly_completed: tuple[str, ...]
    newly_overdue: tuple[str, ...]
    extensions_granted: tuple[str, ...]


class Notice(_Frozen):
    """The whole notice for one month, over one plan or all of them (``plan_id`` None), or
    restricted to one unit's tasks (``unit``)."""

    month: str = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")
    as_of: datetime = Field(description="the month's last instant, Asia/Shanghai")
    plan_id: str | None
    plan_titles: tuple[str, ...]
    unit: str | None = None
    office: str
    issue_number: int
    issued_on: date
    addressees: str
    title: str
    totals: NoticeTotals
    units: tuple[UnitStanding, ...]
    tasks: tuple[TaskStanding, ...]
    overdue: tuple[TaskStanding, ...]
    silent_units: tuple[str, ...] = Field(description="units that reported no progress")
    due_next_month: tuple[TaskStanding, ...]
    changes: NoticeChanges
    requirements: str = Field(description="下一步工作要求, from the office's template")
    behind_margin: float = Field(description="the margin the 滞后 rule used, 0..1")
