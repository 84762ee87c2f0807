"""The pages' templates (web/templates) and how a page is answered.

Every page answer carries headers that keep it to itself: no framing, no scripts or styles
from elsewhere, no Referer to other sites (a login link's secret is in its address), and
no caching of what a signed-in unit saw.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from domain.lifecycle import Stage

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"
SHANGHAI = ZoneInfo("Asia/Shanghai")

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'self'; base-uri 'none'",
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# A confirmation carried across Post/Redirect/Get and shown once, by the next page rendered.
FLASH_COOKIE = "duban_flash"

LIGHT_LABELS = {"red": "红灯", "yellow": "黄灯", "green": "绿灯", "none": "—"}


def stage_label(stage: str | None) -> str:
    try:
        return Stage(stage or "").label
    except ValueError:
        return stage or "—"


def local_date(value: date | datetime | None) -> str:
    """A date as offices write it: 2026年7月1日 (instants in Beijing time)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date()
    return f"{value.year}年{value.month}月{value.day}日"


def local_time(value: datetime | None) -> str:
    if value is None:
        return "—"
    moment = value.astimezone(SHANGHAI)
    return f"{local_date(moment)} {moment:%H:%M}"


environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["stage_label"] = stage_label
environment.filters["local_date"] = local_date
environment.filters["local_time"] = local_time
environment.filters["light_label"] = lambda light: LIGHT_LABELS.get(light or "none", light)


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """The page ``template`` with ``context``, and the signed-in user (if any) as ``user``
    so that the navigation and every form's CSRF field come from one place."""
    user = getattr(request.state, "page_user", None)
    flashed = request.cookies.get(FLASH_COOKIE)
    body = environment.get_template(template).render(
        request=request,
        user=user,
        flash_message=unquote(flashed)[:500] if flashed else None,
        **context,
    )
    response = HTMLResponse(
        body, status_code=status_code, headers={**PAGE_HEADERS, **(headers or {})}
    )
    if flashed:
        response.delete_cookie(FLASH_COOKIE)
    return response


def flash(response: Response, message: str, *, secure: bool = False) -> Response:
    """Show ``message`` on the next page rendered: the confirmation after a form's 303."""
    response.set_cookie(
        FLASH_COOKIE, quote(message), max_age=120, httponly=True, samesite="lax", secure=secure
    )
    return response


def attachment(file_name: str) -> str:
    """Content-Disposition for a download named in Chinese (RFC 5987 ``filename*``), with an
    ASCII ``filename`` for the rare client that reads nothing else."""
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", file_name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"
