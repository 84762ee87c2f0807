"""(placeholder: filled in by the inbox part of issue #12)"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from web.session import User
from web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/inbox")
async def inbox(request: Request, user: User) -> Response:
    return render(request, "refused.html", title="我的任务", reason="(placeholder)", nav="inbox")
