"""The monthly notice (一月一通报) on demand: ``GET /api/v1/reports/{YYYY-MM}``.

Who gets what is :func:`services.notices.reader_unit`'s answer, the board's notice page's
too: an admin, and a coordinator of every plan, any plan's notice and the all-plans notice;
a coordinator of some plans, those plans' notices (another plan is unknown, 404, as
everywhere in the API, and the all-plans notice is refused, 403); a unit, the notice
restricted to its own tasks, over a plan it works on or all plans.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import Caller, connection, dependencies_of
from api.problems import COMMON_PROBLEMS, Problem, problem_responses
from services import notices

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
    "png": "image/png",
}

Month = Annotated[str, Path(description="YYYY-MM, Asia/Shanghai", max_length=7)]


@router.get(
    "/{month}",
    summary="One month's notice over a plan or all plans, as a file",
    response_class=Response,
    responses={
        200: {"content": {media: {} for media in MEDIA_TYPES.values()}},
        **problem_responses(403, 404, *COMMON_PROBLEMS),
    },
)
async def monthly_notice(
    request: Request,
    principal: Caller,
    month: Month,
    plan: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    format: Annotated[str, Query(max_length=10)] = "html",
) -> Response:
    try:
        month = notices.parse_month(month)
        fmt = notices.parse_format(format)
    except notices.NoticeInputError as error:
        raise Problem(422, "invalid_payload", error.message) from None
    try:
        async with connection(request) as conn:
            unit = await notices.reader_unit(conn, principal, plan)
    except notices.NoticeForbiddenError as error:
        raise Problem(403, "forbidden", error.message) from None
    except notices.NoticeNotVisibleError as error:
        raise Problem(404, "not_found", error.message) from None
    pool = dependencies_of(request).pool
    try:
        content = await notices.notice_file(pool, month, fmt, plan, unit)
    except notices.UnknownPlanError:
        raise Problem(404, "not_found", f"no plan {plan} that you can see") from None
    name = f"notice-{month}{f'-{plan}' if plan else ''}.{fmt}"
    return Response(
        content,
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}"},
    )
