"""导入计划: a coordinator uploads a plan document, checks its parse preview, downloads it as
the editable 台账 (XLSX) if it wants to correct it, and commits it.

The document is read exactly as the API reads it (services.plan_uploads, the readers of
``duban parse``) and imported by the API's service (services.plan_import.import_plan) with
the same refusals. The upload is staged server-side (store.web_uploads) between preview
and commit, so what is committed is byte for byte what was previewed. Committing one
staged upload twice imports it once: the commit runs under an idempotency key of its own
(the upload's id, in the API's idempotency_keys table), and the second commit reads the
first one's answer.

Routes (coordinators only; anyone else gets a 403 page):

* ``GET /plans/import``: the upload form (file, optional plan id);
* ``POST /plans/import/preview``: parse, stage, 303 to the preview; a document Duban
  cannot read is said beside the file field (422), and nothing is stored;
* ``GET /plans/import/{upload_id}``: the preview (plan, tasks, flags and warnings);
* ``GET /plans/import/{upload_id}/ledger.xlsx``: the editable 台账;
* ``POST /plans/import/{upload_id}/commit``: import, then 303 to ``/board?plan=<id>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from api.deps import connection, dependencies_of, digest, release_connection
from domain.access import AccessDeniedError, require_plan_coordinator
from domain.errors import DocumentError
from domain.parsers.editable_ledger import (
    TASK_FLAG_LABELS,
    EditableLedgerError,
    write_editable_ledger,
)
from domain.plan import ParsedPlan, PlanTask
from runtime.errors import DubanError
from services.plan_import import ImportRefusedError, import_plan
from services.plan_uploads import (
    PLAN_ID_MAX_LENGTH,
    PLAN_ID_PATTERN,
    parse_upload,
    upload_file_name,
    with_plan_id,
)
from store import idempotency, web_uploads
from web.session import Form, PageUser, User
from web.templating import attachment, flash, render

router = APIRouter(include_in_schema=False)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_PLAN_ID = re.compile(PLAN_ID_PATTERN)

# Flags the editable 台账 has no label for yet.
FLAG_LABELS: dict[str, str] = {**TASK_FLAG_LABELS, "relative_date": "相对时限待确认"}
FREQUENCY_LABELS = {
    "yearly": "每年",
    "half-yearly": "每半年",
    "quarterly": "每季度",
    "monthly": "每月",
}


def _refused_unless_coordinator(request: Request, user: PageUser) -> Response | None:
    """The API's rule (only a coordinator previews or imports plans), as a page."""
    if user.is_coordinator:
        return None
    request.state.error_code = "forbidden"
    return render(
        request,
        "refused.html",
        status_code=403,
        title="无权导入计划",
        reason="只有督查室（督办人）可以导入计划。",
    )


def _form_page(
    request: Request,
    *,
    status_code: int = 200,
    file_error: str | None = None,
    plan_id_error: str | None = None,
    plan_id: str = "",
) -> Response:
    limit = dependencies_of(request).limits.max_upload_bytes
    return render(
        request,
        "import.html",
        status_code=status_code,
        nav="import",
        file_error=file_error,
        plan_id_error=plan_id_error,
        plan_id=plan_id,
        limit_mib=round(limit / (1024 * 1024), 1),
    )


def _missing_upload(request: Request) -> Response:
    request.state.error_code = "not_found"
    return render(
        request,
        "refused.html",
        status_code=404,
        title="没有这份上传的文件",
        reason="这份文件不存在、不是您上传的，或已超过一天。请重新上传计划文件。",
    )


@router.get("/plans/import")
async def import_form(request: Request, user: User) -> Response:
    return _refused_unless_coordinator(request, user) or _form_page(request)


@router.post("/plans/import/preview")
async def preview_upload(request: Request, user: User, form: Form) -> Response:
    """Parse the uploaded document; stage it and show its preview, or say beside the field
    why it cannot be read (nothing is stored then)."""
    refused = _refused_unless_coordinator(request, user)
    if refused is not None:
        return refused
    plan_id = str(form.get("plan_id") or "").strip()
    if plan_id and (len(plan_id) > PLAN_ID_MAX_LENGTH or not _PLAN_ID.match(plan_id)):
        request.state.error_code = "invalid_payload"
        return _form_page(
            request,
            status_code=422,
            plan_id=plan_id,
            plan_id_error="计划编号只能由小写字母、数字和连字符组成（以字母或数字开头，"
            f"至多 {PLAN_ID_MAX_LENGTH} 个字符），或留空使用文件名。",
        )
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        request.state.error_code = "invalid_payload"
        return _form_page(
            request, status_code=422, plan_id=plan_id, file_error="请选择要导入的计划文件。"
        )
    limit = dependencies_of(request).limits.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        request.state.error_code = "payload_too_large"
        return _form_page(
            request,
            status_code=413,
            plan_id=plan_id,
            file_error=f"文件超过 {limit // 1024} KiB，无法导入。",
        )
    name = upload_file_name(upload.filename)
    try:
        parsed = with_plan_id(await parse_upload(name, data), plan_id or None)
    except DocumentError as error:
        request.state.error_code = "document_error"
        return _form_page(request, status_code=422, plan_id=plan_id, file_error=str(error))
    request.state.audit = {"action": "import_preview", "plan_id": parsed.plan.id}
    try:
        require_plan_coordinator(user.principal, parsed.plan.id)
    except AccessDeniedError:
        request.state.error_code = "forbidden"
        return _form_page(
            request,
            status_code=403,
            plan_id=plan_id,
            plan_id_error=f"您不是计划 {parsed.plan.id} 的督办人，不能导入它；"
            "请换一个您负责的计划编号。",
        )
    async with connection(request) as conn:
        upload_id = await web_uploads.stage_upload(
            conn, user.principal.token_id, name, data, plan_id or None
        )
    return RedirectResponse(f"/plans/import/{upload_id}", status_code=303)


async def _staged(
    request: Request, user: PageUser, upload_id: str
) -> tuple[web_uploads.StagedUpload, ParsedPlan] | None:
    async with connection(request) as conn:
        staged = await web_uploads.find_upload(conn, upload_id, user.principal.token_id)
    if staged is None:
        return None
    # It parsed when it was staged; the same readers read the same bytes the same way.
    parsed = await parse_upload(staged.file_name, staged.content)
    return staged, with_plan_id(parsed, staged.plan_id)


async def _own_upload(
    request: Request, user: PageUser, upload_id: str
) -> tuple[web_uploads.StagedUpload, ParsedPlan] | Response:
    """The coordinator's own staged upload, parsed; else the page that says why not."""
    refused = _refused_unless_coordinator(request, user)
    if refused is not None:
        return refused
    found = await _staged(request, user, upload_id)
    return found if found is not None else _missing_upload(request)


def _row_notes(parsed: ParsedPlan) -> dict[str, list[str]]:
    """Each task's flags and warnings, in words, for its row in the preview."""
    notes: dict[str, list[str]] = {task.id: [] for task in parsed.tasks}
    for task in parsed.tasks:
        notes[task.id].extend(FLAG_LABELS.get(flag, str(flag)) for flag in task.flags)
    for warning in parsed.warnings:
        if warning.task_id in notes:
            where = f"第 {warning.line} 行：" if warning.line is not None else ""
            notes[warning.task_id].append(f"提示 {where}{warning.message}")
    return notes


def _deadlines(task: PlanTask) -> list[dict[str, Any]]:
    return [
        {
            "due": milestone.due,
            "raw": milestone.raw,
            "flagged": bool(milestone.flags),
            "text": milestone.text,
        }
        for milestone in task.milestones
    ]


def _recurrence(task: PlanTask) -> str:
    parts = []
    if task.recurrence is not None:
        every = FREQUENCY_LABELS.get(task.recurrence.frequency, task.recurrence.frequency)
        parts.append(f"{every}（{task.recurrence.raw}）" if task.recurrence.raw else every)
    if task.ongoing:
        parts.append("长期坚持")
    if task.starts is not None:
        parts.append(f"{task.starts.year}年起")
    return "；".join(parts)


def _preview_page(
    request: Request,
    staged: web_uploads.StagedUpload,
    parsed: ParsedPlan,
    *,
    status_code: int = 200,
    refusal: str | None = None,
) -> Response:
    flags = Counter(
        FLAG_LABELS.get(flag, str(flag)) for task in parsed.tasks for flag in task.flags
    )
    return render(
        request,
        "import_preview.html",
        status_code=status_code,
        nav="import",
        upload_id=staged.upload_id,
        file_name=staged.file_name,
        parsed=parsed,
        plan=parsed.plan,
        notes=_row_notes(parsed),
        deadlines={task.id: _deadlines(task) for task in parsed.tasks},
        recurrences={task.id: _recurrence(task) for task in parsed.tasks},
        flag_counts=sorted(flags.items()),
        refusal=refusal,
    )


@router.get("/plans/import/{upload_id}")
async def preview_page(request: Request, user: User, upload_id: str) -> Response:
    found = await _own_upload(request, user, upload_id)
    if isinstance(found, Response):
        return found
    return _preview_page(request, *found)


@router.get("/plans/import/{upload_id}/ledger.xlsx")
async def editable_ledger(request: Request, user: User, upload_id: str) -> Response:
    """The staged document as the editable 台账 that ``duban parse --xlsx`` writes."""
    found = await _own_upload(request, user, upload_id)
    if isinstance(found, Response):
        return found
    staged, parsed = found
    try:
        workbook = await asyncio.to_thread(write_editable_ledger, parsed)
    except EditableLedgerError as error:
        return _preview_page(
            request, staged, parsed, status_code=422, refusal=f"无法生成可编辑台账：{error}"
        )
    stem = staged.file_name.rsplit(".", 1)[0] or "plan"
    return Response(
        workbook,
        media_type=XLSX,
        headers={
            "Content-Disposition": attachment(f"{stem}-可编辑台账.xlsx"),
            "Cache-Control": "no-store",
        },
    )


# How long the commit waits for the new tasks to reach the projection before it shows the
# board anyway (a worker backlog); the import stands either way.
PROJECTION_WAIT_SECONDS = 10.0


async def _await_projection(request: Request, plan_id: str, started: int) -> None:
    """Wait (briefly) until the projection lists as many of the plan's tasks as workflows
    were started: each workflow records its task's row a moment after it starts, and the
    board the coordinator is sent to should count every task just imported, not the first
    few. A recurring task's workflow lists one row or more (its occurrences)."""
    pool = dependencies_of(request).pool
    deadline = time.monotonic() + PROJECTION_WAIT_SECONDS
    while started and time.monotonic() < deadline:
        listed = await pool.fetchval("SELECT count(*) FROM task_states WHERE plan_id = $1", plan_id)
        if listed >= started:
            return
        await asyncio.sleep(0.05)


def _imported_message(answer: dict[str, Any], *, again: bool) -> str:
    plan_id = answer["plan_id"]
    if answer["status"] == "unchanged":
        return f"计划 {plan_id} 此前已导入且未变化，没有重复导入。"
    if again:
        return f"计划 {plan_id} 已导入（{answer['tasks']} 项任务），这次确认没有重复导入。"
    return f"已导入 {answer['tasks']} 项任务（计划 {plan_id}）。"


def _import_refusal(error: BaseException) -> tuple[int, str, str] | None:
    """(status, error code, reason) of an import that did not happen, as the API says it;
    None for a failure that is not a refusal (the app's handlers answer it)."""
    if isinstance(error, AccessDeniedError):
        return 403, "forbidden", str(error)
    if isinstance(error, ImportRefusedError):
        return 409, "import_refused", error.message
    if isinstance(error, DubanError):  # Temporal does not answer: nothing was written
        return 503, "temporal_unavailable", error.message
    return None


@router.post("/plans/import/{upload_id}/commit")
async def commit_upload(request: Request, user: User, form: Form, upload_id: str) -> Response:
    """确认导入: the API's import of the staged document, once per staged upload."""
    request.state.audit = {"action": "import"}
    found = await _own_upload(request, user, upload_id)
    if isinstance(found, Response):
        return found
    staged, parsed = found
    principal = user.principal
    request.state.audit["plan_id"] = parsed.plan.id
    accept_warnings = form.get("accept_warnings") == "yes"
    # One key per staged upload and token: the second commit finds the first one's answer.
    key = f"web-import:{staged.upload_id}"
    payload = digest(staged.sha256, staged.plan_id or "")
    request.state.idempotency_key = key
    request.state.payload_digest = payload
    fingerprint = digest("POST", "/plans/import/commit", payload)
    async with connection(request) as conn:
        held = await idempotency.reserve(conn, principal.token_id, key, fingerprint)
    secure = dependencies_of(request).web.secure_cookies
    if isinstance(held, idempotency.Reservation):
        if not held.answered:
            request.state.error_code = "idempotency_key_in_use"
            return _preview_page(
                request,
                staged,
                parsed,
                status_code=409,
                refusal="这份文件正在导入，请稍后刷新看板。",
            )
        answer = held.response
        redirect = RedirectResponse(f"/board?plan={quote(answer['plan_id'])}", status_code=303)
        return flash(redirect, _imported_message(answer, again=True), secure=secure)
    await release_connection(request)  # not held while Temporal starts the workflows

    async def give_back() -> None:
        with contextlib.suppress(Exception):
            async with connection(request) as conn:
                await idempotency.release(conn, principal.token_id, key, held)

    deps = dependencies_of(request)
    try:
        require_plan_coordinator(principal, parsed.plan.id)
        outcome = await import_plan(
            parsed,
            pool=deps.pool,
            client=deps.temporal,
            task_queue=deps.task_queue,
            accept_warnings=accept_warnings,
        )
    except BaseException as error:
        await give_back()
        refusal = _import_refusal(error)
        if refusal is None:
            raise
        status, request.state.error_code, reason = refusal
        return _preview_page(
            request, staged, parsed, status_code=status, refusal=f"未导入：{reason}"
        )
    answer = {"plan_id": outcome.plan_id, "status": outcome.status, "tasks": len(parsed.tasks)}
    async with connection(request) as conn:
        await idempotency.answer(conn, principal.token_id, key, held, 200, answer)
    await _await_projection(request, outcome.plan_id, outcome.workflows_started)
    redirect = RedirectResponse(f"/board?plan={quote(outcome.plan_id)}", status_code=303)
    return flash(redirect, _imported_message(answer, again=False), secure=secure)
