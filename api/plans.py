"""Plans: a dry-run preview of an uploaded document, the import itself, the list, the detail.

An upload is read in memory, bounded by ``DUBAN_API_MAX_UPLOAD_BYTES``, and parsed by the
same readers as ``duban parse``. The import is ``duban import``'s service: all or nothing,
with the same refusals, and deduplicated by the Idempotency-Key like every mutation.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile

from api import schemas
from api.deps import Caller, IdempotencyKey, connection, dependencies_of, digest, once_per_key
from api.problems import COMMON_PROBLEMS, MUTATION_PROBLEMS, Problem, problem_responses
from domain.access import AccessDeniedError, Principal, require_plan_coordinator
from domain.errors import DocumentError
from domain.plan import ParsedPlan, preview_json
from domain.rebase import (
    MAX_REBASE_YEAR,
    MIN_REBASE_YEAR,
    RebaseError,
    rebase_plan,
    rebase_years_for,
    rebased_years,
)
from runtime.errors import DubanError
from services.plan_import import ImportRefusedError, import_plan
from services.plan_uploads import (
    PLAN_ID_MAX_LENGTH,
    PLAN_ID_PATTERN,
    parse_upload,
    upload_file_name,
    with_plan_id,
)
from store import task_reads

router = APIRouter(prefix="/api/v1/plans", tags=["plans"])

PlanId = Annotated[str, Path(min_length=1, max_length=200)]
Document = Annotated[
    UploadFile,
    File(
        description="the plan document: text, HTML, CSV, XLSX, XLS, DOCX, PDF (.doc/.wps if "
        "LibreOffice is installed)"
    ),
]


async def _read_upload(request: Request, upload: UploadFile) -> tuple[str, bytes]:
    limit = dependencies_of(request).limits.max_upload_bytes
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise Problem(413, "payload_too_large", f"the document is over {limit // 1024} KiB")
    return upload_file_name(upload.filename), data


async def _parse(file_name: str, data: bytes) -> ParsedPlan:
    try:
        return await parse_upload(file_name, data)
    except DocumentError as error:
        raise Problem(422, "document_error", str(error), file=error.file, line=error.line) from None


RebaseYear = Annotated[
    int | None,
    Form(
        ge=MIN_REBASE_YEAR,
        le=MAX_REBASE_YEAR,
        description="shift every date by whole years so that the plan's first year (its "
        "period start) becomes this year: deadlines, issue date, period and starts, the text "
        "as written; 29 February becomes 28 February in a common year. The preview's "
        "warnings say so (code dates_rebased), and each task's source records the shift",
    ),
]


def _rebased(parsed: ParsedPlan, rebase_year: int | None) -> ParsedPlan:
    if rebase_year is None:
        return parsed
    try:
        return rebase_plan(parsed, rebase_years_for(parsed, rebase_year))
    except RebaseError as error:
        detail = f"{parsed.plan.source_file}: rebase_year {rebase_year}: {error}"
        raise Problem(422, "invalid_rebase_year", detail) from None


def _require_coordinator(principal: Principal) -> None:
    if principal.role != "coordinator":
        raise Problem(403, "forbidden", "only a coordinator may preview or import plans")


@router.post(
    "/preview",
    summary="Dry run: parse an uploaded document and show what would be imported",
    response_model=schemas.PlanPreview,
    responses=problem_responses(403, 413, *COMMON_PROBLEMS),
)
async def preview_plan(
    request: Request, principal: Caller, file: Document, rebase_year: RebaseYear = None
) -> dict[str, Any]:
    _require_coordinator(principal)
    name, data = await _read_upload(request, file)
    return preview_json(_rebased(await _parse(name, data), rebase_year))


@router.post(
    "",
    summary="Import an uploaded plan: all tasks or none, one workflow per task",
    response_model=schemas.PlanImportResult,
    responses=problem_responses(403, *MUTATION_PROBLEMS),
)
async def import_plan_upload(
    request: Request,
    principal: Caller,
    key: IdempotencyKey,
    file: Document,
    accept_warnings: Annotated[
        bool, Form(description="import although there are warnings")
    ] = False,
    update: Annotated[bool, Form(description="apply changes to an imported plan")] = False,
    plan_id: Annotated[
        str | None,
        Form(
            max_length=PLAN_ID_MAX_LENGTH,
            pattern=PLAN_ID_PATTERN,
            description="default: from the file name",
        ),
    ] = None,
    rebase_year: RebaseYear = None,
) -> Any:
    request.state.audit = {"action": "import", "plan_id": plan_id}
    _require_coordinator(principal)
    name, data = await _read_upload(request, file)
    options = f"{accept_warnings}:{update}:{plan_id or ''}"
    if rebase_year is not None:  # appended only when given: earlier keys keep their digest
        options += f":rebase={rebase_year}"
    payload = digest(name, data, options)

    async def run_import() -> tuple[int, dict[str, Any]]:
        parsed = with_plan_id(_rebased(await _parse(name, data), rebase_year), plan_id)
        request.state.audit["plan_id"] = parsed.plan.id
        try:
            require_plan_coordinator(principal, parsed.plan.id)
        except AccessDeniedError as error:
            raise Problem(403, "forbidden", str(error)) from None
        deps = dependencies_of(request)
        try:
            outcome = await import_plan(
                parsed,
                pool=deps.pool,
                client=deps.temporal,
                task_queue=deps.task_queue,
                update=update,
                accept_warnings=accept_warnings,
            )
        except ImportRefusedError as error:
            raise Problem(409, "import_refused", error.message) from None
        except DubanError as error:
            raise Problem(503, "temporal_unavailable", error.message) from None
        result = schemas.PlanImportResult(
            plan_id=outcome.plan_id,
            status=outcome.status,
            added=len(outcome.diff.added),
            changed=len(outcome.diff.changed),
            removed=len(outcome.diff.removed),
            unchanged=outcome.diff.unchanged,
            workflows_started=outcome.workflows_started,
            revised=outcome.revised,
            withdrawn=outcome.withdrawn,
            warnings=len(parsed.warnings),
            notes=outcome.notes,
            rebased_years=rebased_years(parsed),
        )
        return 200, result.model_dump(mode="json")

    return await once_per_key(request, principal, key, payload, run_import)


@router.get(
    "",
    summary="Plans the caller may see, with task counts",
    response_model=list[schemas.PlanSummary],
    responses=problem_responses(*COMMON_PROBLEMS),
)
async def list_plans(request: Request, principal: Caller) -> list[dict[str, Any]]:
    async with connection(request) as conn:
        return await task_reads.list_plans(conn, principal)


@router.get(
    "/{plan_id}",
    summary="One plan with its tasks counted by stage and status light",
    response_model=schemas.PlanDetail,
    responses=problem_responses(404, *COMMON_PROBLEMS),
)
async def plan_detail(request: Request, principal: Caller, plan_id: PlanId) -> dict[str, Any]:
    async with connection(request) as conn:
        visible = principal.covers_plan(plan_id) or await task_reads.unit_works_on_plan(
            conn, principal, plan_id
        )
        detail = await task_reads.plan_detail(conn, plan_id) if visible else None
    if detail is None:
        raise Problem(404, "not_found", f"no plan {plan_id} that you can see")
    return detail
