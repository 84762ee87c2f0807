"""A unit's inbox (我的任务): what it owes, least time left first, with the next thing to do.

The rows are the API's task list for the unit's own principal (store.task_reads.list_tasks),
so the inbox sees exactly what the unit's token sees through the API: the open tasks it
leads (牵头) and those waiting in 会签 for its sign-off (配合). Which step is the unit's next
is worked out from the task's stage, the unit's part in it and the round's events (has it
signed, does an extension request wait, was the work sent back) by :func:`next_step`, a
pure function the task page uses too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import connection
from domain.lifecycle import Stage
from store import task_reads
from web.session import PageUser, User
from web.templating import SHANGHAI, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50

Part = Literal["lead", "cooperating", "coordinator", "viewer"]
PART_LABELS: dict[str, str] = {
    "lead": "牵头",
    "cooperating": "配合",
    "coordinator": "督查室",
    "viewer": "—",
}


@dataclass(frozen=True)
class RoundFacts:
    """What the event log says about the task's current round, for one unit."""

    signed: bool = False  # this unit decided in the current 会签 (or was deemed to consent)
    extension_pending: bool = False
    pending_due: str | None = None  # the date the waiting extension request asks for
    sent_back: bool = False  # the last submission was returned (审核退回) or objected to
    sent_back_reason: str | None = None


def round_facts(events: Iterable[Mapping[str, Any]], unit: str | None) -> RoundFacts:
    """Fold a task's events (timeline order) into the facts of its current round."""
    signed = extension_pending = sent_back = False
    pending_due: str | None = None
    reason: str | None = None
    for event in events:
        kind = event["kind"]
        detail = event.get("detail") or {}
        if kind in {"assigned", "reassigned"}:
            # A new lead starts afresh; a former lead's extension request lapses with it.
            signed = extension_pending = sent_back = False
            pending_due = reason = None
        elif kind == "submitted":
            signed = sent_back = False
            reason = None
        elif kind in {"signed_off", "objected", "deemed_consent"}:
            if unit is not None and unit in (event.get("unit"), event.get("actor_unit")):
                signed = True
            if kind == "objected":
                sent_back, reason = True, detail.get("reason")
        elif kind == "returned":
            sent_back, reason = True, detail.get("reason")
        elif kind == "extension_requested":
            extension_pending, pending_due = True, detail.get("requested_due")
        elif kind in {"extension_granted", "extension_rejected"}:
            extension_pending, pending_due = False, None
    return RoundFacts(
        signed=signed,
        extension_pending=extension_pending,
        pending_due=pending_due,
        sent_back=sent_back,
        sent_back_reason=reason,
    )


def part_of(principal_role: str, unit: str | None, task: Mapping[str, Any]) -> Part:
    """The part the signed-in principal plays in the task."""
    if principal_role == "coordinator":
        return "coordinator"
    if unit is not None and unit == task.get("lead_unit"):
        return "lead"
    if unit is not None and unit in (task.get("cooperating_units") or ()):
        return "cooperating"
    return "viewer"


def next_step(stage: str, part: Part, *, awaiting_reassignment: bool, facts: RoundFacts) -> str:
    """The next thing ``part`` must do on a task in ``stage``, in the words of the office."""
    if stage == Stage.COMPLETED:
        return "无（已办结）"
    if stage == Stage.CANCELLED:
        return "无（已撤销）"
    extension = "；延期申请待督查室决定" if facts.extension_pending else ""
    if part == "coordinator":
        if awaiting_reassignment:
            return "重新交办（牵头单位已退回）"
        if stage == Stage.REVIEW:
            return "审核（通过或退回）"
        if facts.extension_pending:
            return "决定延期申请"
        if stage == Stage.SIGNOFF:
            return "等待配合单位会签"
        return "等待牵头单位办理"
    if part == "lead":
        if stage == Stage.ASSIGNED:
            if awaiting_reassignment:
                return "已退回，等待督查室重新交办"
            return "签收或退回" + extension
        if stage == Stage.IN_PROGRESS:
            if facts.sent_back:
                return "按退回意见修改后重新提交" + extension
            return "报告进展或提交完成" + extension
        if stage == Stage.SIGNOFF:
            return "等待配合单位会签"
        if stage == Stage.REVIEW:
            return "等待督查室审核"
    if part == "cooperating":
        if stage == Stage.SIGNOFF:
            return "已会签，等待其他单位会签" if facts.signed else "会签（同意或不同意）"
        if stage == Stage.REVIEW:
            return "等待督查室审核"
        return "无需操作（牵头单位办理中）"
    return "—"


def time_left(task: Mapping[str, Any]) -> str:
    """ "剩3天" / "逾期5天" / "今天到期"; "—" for a closed or undated task."""
    if task.get("closed_at") is not None or task.get("next_due") is None:
        return "—"
    overdue = int(task.get("overdue_days") or 0)
    if overdue > 0:
        return f"逾期{overdue}天"
    today = datetime.now(SHANGHAI).date()
    days = (task["next_due"] - today).days
    return "今天到期" if days <= 0 else f"剩{days}天"


def _task_key(row: Mapping[str, Any]) -> str:
    return str(row["workflow_id"]).split("/", 1)[1]


async def _owed_page(
    request: Request,
    unit: str,
    user: PageUser,
    filters: task_reads.TaskFilter,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One inbox page: the API's list for this unit, less the 会签 tasks it has signed."""
    rows: list[dict[str, Any]] = []
    while True:
        async with connection(request) as conn:
            page, next_cursor = await task_reads.list_tasks(
                conn, user.principal, filters, limit=PAGE_SIZE, cursor=cursor
            )
            events = await task_reads.round_events(conn, [row["workflow_id"] for row in page])
        for row in page:
            part = part_of("unit", unit, row)
            facts = round_facts(events[row["workflow_id"]], unit)
            if part == "cooperating" and facts.signed:
                continue  # its sign-off is given: nothing more is owed
            rows.append(
                {
                    **row,
                    "task_key": _task_key(row),
                    "part": part,
                    "part_label": PART_LABELS[part],
                    "time_left": time_left(row),
                    "next_step": next_step(
                        row["stage"],
                        part,
                        awaiting_reassignment=row["awaiting_reassignment"],
                        facts=facts,
                    ),
                }
            )
        # Signed 会签 tasks dropped from a page are few and short-lived; fill the page
        # from the next one so that a page is short only at the end.
        if next_cursor is None or len(rows) >= PAGE_SIZE:
            break
        cursor = next_cursor
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        next_cursor = task_reads.encode_cursor(rows[-1])
    return rows, next_cursor


_LIGHT_CHOICES = {"red": "红灯", "yellow": "黄灯", "green": "绿灯"}


@router.get("/inbox")
async def inbox(
    request: Request,
    user: User,
    plan: str | None = Query(default=None, max_length=200),
    light: str | None = Query(default=None, max_length=10),
    cursor: str | None = Query(default=None, max_length=500),
) -> Response:
    principal = user.principal
    if principal.role != "unit" or principal.unit is None:
        return RedirectResponse("/board", status_code=303)
    plan = plan.strip() if plan and plan.strip() else None
    chosen_light: Any = light if light in _LIGHT_CHOICES else None
    filters = task_reads.TaskFilter(plan=plan, light=chosen_light, owed_by=principal.unit)
    try:
        rows, next_cursor = await _owed_page(request, principal.unit, user, filters, cursor)
    except task_reads.CursorError:
        rows, next_cursor = await _owed_page(request, principal.unit, user, filters, None)
    async with connection(request) as conn:
        plans = await task_reads.list_plans(conn, principal)
    counts = {key: sum(1 for row in rows if row["light"] == key) for key in _LIGHT_CHOICES}
    return render(
        request,
        "inbox.html",
        nav="inbox",
        rows=rows,
        counts=counts,
        plans=plans,
        plan_titles={p["plan_id"]: p["title"] for p in plans},
        plan=plan,
        light=chosen_light,
        light_choices=_LIGHT_CHOICES,
        next_cursor=next_cursor,
        first_page=cursor is None,
    )
