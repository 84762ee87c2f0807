"""月度通报: the monthly notice (一月一通报) read in the page and downloaded as DOCX / XLSX.

Who reads which notice is the API's rule, asked of the same service
(:func:`services.notices.reader_unit`): a coordinator or an admin the plans they cover, a
unit the notice restricted to its own tasks. The files are the same service's too
(:func:`services.notices.notice_file`: the stored notice when the Schedule made it, else
computed from the event log now), byte for byte what ``GET /api/v1/reports/{YYYY-MM}``
answers.

The notice's HTML is a self-contained document with its own inline styles and a chart as a
``data:`` image, which the pages' CSP forbids. It is served on its own address with a CSP
of its own (inline styles and ``data:`` images only, nothing fetched, no scripts, sandboxed)
and shown in an ``<iframe sandbox>`` of the notice page.

Routes: ``GET /notices?month=YYYY-MM&plan=ID`` (the page), ``GET /notices/{YYYY-MM}.html``,
``.docx`` and ``.xlsx`` (``?plan=ID``; no plan: every plan the reader may see).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import connection, dependencies_of
from services import notices
from store import task_reads
from web.session import PageUser, User
from web.templating import PAGE_HEADERS, attachment, render

router = APIRouter(include_in_schema=False)

MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

# The notice's own document: its inline <style> and its data: chart, and nothing else.
NOTICE_FRAME_HEADERS = {
    **PAGE_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'none'; frame-ancestors 'self'; base-uri 'none'; sandbox",
    "Content-Disposition": "inline",
}


class _NoticeRefusedError(Exception):
    """A notice that cannot be shown as asked: the field it is about and why, in words."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status, self.field, self.message = status, field, message


def _unknown_plan(plan: str | None) -> _NoticeRefusedError:
    return _NoticeRefusedError(404, "plan", f"没有您可以查看的计划 {plan}。")


def _month_words(month: str) -> str:
    return f"{int(month[:4])}年{int(month[5:])}月"


async def _scope(
    request: Request, user: PageUser, month: str, plan: str | None
) -> tuple[str, str | None, str | None]:
    """(month, plan, unit): the month checked, and whose tasks the reader's notice holds."""
    try:
        month = notices.parse_month(month)
    except notices.BadMonthError:
        raise _NoticeRefusedError(
            422,
            "month",
            f"月份“{month[:20]}”不是“年-月”（例如 2026-06），请重新选择。",
        ) from None
    try:
        async with connection(request) as conn:
            unit = await notices.reader_unit(conn, user.principal, plan)
    except notices.NoticeForbiddenError:
        raise _NoticeRefusedError(
            403, "plan", "您只负责部分计划，不能查看全部计划的通报，请选择一个计划。"
        ) from None
    except notices.NoticeNotVisibleError:
        raise _unknown_plan(plan) from None
    return month, plan, unit


def _plan_choice(value: str | None) -> str | None:
    chosen = (value or "").strip()
    return chosen[:200] or None


@router.get("/notices")
async def notice_page(
    request: Request, user: User, month: str | None = None, plan: str | None = None
) -> Response:
    async with connection(request) as conn:
        plans = await task_reads.list_plans(conn, user.principal)
    # A coordinator of some plans has no all-plans notice: their first plan is the default.
    every_plan = not (user.is_coordinator and user.principal.plans is not None)
    chosen_plan = _plan_choice(plan)
    if chosen_plan is None and not every_plan and plans:
        chosen_plan = plans[0]["plan_id"]
    chosen_month = (month or "").strip() or notices.previous_month(datetime.now(UTC))
    context: dict[str, Any] = {
        "nav": "notices",
        "plans": plans,
        "every_plan": every_plan,
        "chosen_plan": chosen_plan,
        "chosen_month": chosen_month[:20],
        "errors": {},
    }
    try:
        scoped_month, scoped_plan, unit = await _scope(request, user, chosen_month, chosen_plan)
        if scoped_plan is not None and scoped_plan not in {p["plan_id"] for p in plans}:
            raise _unknown_plan(scoped_plan)
    except _NoticeRefusedError as refusal:
        context["errors"] = {refusal.field: refusal.message}
        return render(request, "notices.html", status_code=refusal.status, **context)
    query = urlencode({"plan": scoped_plan}) if scoped_plan else ""
    suffix = f"?{query}" if query else ""
    context.update(
        month_words=_month_words(scoped_month),
        unit=unit,
        frame_url=f"/notices/{scoped_month}.html{suffix}",
        docx_url=f"/notices/{scoped_month}.docx{suffix}",
        xlsx_url=f"/notices/{scoped_month}.xlsx{suffix}",
    )
    return render(request, "notices.html", **context)


def _download_name(month: str, plan: str | None, unit: str | None, fmt: str) -> str:
    scope = "".join(f"（{part}）" for part in (plan, unit) if part)
    return f"{_month_words(month)}督办工作通报{scope}.{fmt}"


async def _notice_file(
    request: Request, user: PageUser, month: str, plan: str | None, fmt: str
) -> tuple[bytes, str, str | None, str | None] | Response:
    try:
        month, plan, unit = await _scope(request, user, month, _plan_choice(plan))
        try:
            content = await notices.notice_file(
                dependencies_of(request).pool, month, fmt, plan, unit
            )
        except notices.UnknownPlanError:
            raise _unknown_plan(plan) from None
    except _NoticeRefusedError as refusal:
        return render(
            request,
            "refused.html",
            status_code=refusal.status,
            title="无法提供这份通报",
            reason=refusal.message,
        )
    return content, month, plan, unit


@router.get("/notices/{month}.html")
async def notice_html(
    request: Request, user: User, month: str, plan: str | None = None
) -> Response:
    """The notice as its own HTML document, for the notice page's frame."""
    found = await _notice_file(request, user, month, plan, "html")
    if isinstance(found, Response):
        return found
    return Response(found[0], media_type="text/html; charset=utf-8", headers=NOTICE_FRAME_HEADERS)


async def _download(
    request: Request, user: PageUser, month: str, plan: str | None, fmt: str
) -> Response:
    found = await _notice_file(request, user, month, plan, fmt)
    if isinstance(found, Response):
        return found
    content, month, plan, unit = found
    headers = {
        **PAGE_HEADERS,
        "Content-Disposition": attachment(_download_name(month, plan, unit, fmt)),
    }
    return Response(content, media_type=MEDIA_TYPES[fmt], headers=headers)


@router.get("/notices/{month}.docx")
async def notice_docx(
    request: Request, user: User, month: str, plan: str | None = None
) -> Response:
    return await _download(request, user, month, plan, "docx")


@router.get("/notices/{month}.xlsx")
async def notice_xlsx(
    request: Request, user: User, month: str, plan: str | None = None
) -> Response:
    return await _download(request, user, month, plan, "xlsx")
