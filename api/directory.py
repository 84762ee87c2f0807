"""Who is who: the unit directory, the caller itself, the audit log, and (for admins) tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from api import schemas
from api.deps import Caller, IdempotencyKey, body_digest, connection, once_per_key
from api.problems import COMMON_PROBLEMS, MUTATION_PROBLEMS, Problem, problem_responses
from domain.access import AccessDeniedError, Principal, require_admin, require_audit_reader
from services import access_tokens
from services.units import UnknownUnitError, unit_entries
from store import audit, tokens

router = APIRouter(prefix="/api/v1")


@router.get(
    "/units",
    tags=["directory"],
    summary="The unit directory: canonical names, aliases, groups, and units plans name",
    response_model=list[schemas.UnitModel],
    responses=problem_responses(*COMMON_PROBLEMS),
)
async def list_units(request: Request, _principal: Caller) -> list[dict[str, Any]]:
    async with connection(request) as conn:
        entries = await unit_entries(conn)
    return [
        {
            "name": entry.name,
            "aliases": list(entry.aliases),
            "in_directory": entry.in_directory,
            "group_members": list(entry.group_members) if entry.group_members else None,
        }
        for entry in entries
    ]


@router.get(
    "/me",
    tags=["directory"],
    summary="Who this token is",
    response_model=schemas.Me,
    responses=problem_responses(*COMMON_PROBLEMS),
)
async def me(principal: Caller) -> dict[str, Any]:
    return {
        "token_id": principal.token_id,
        "role": principal.role,
        "name": principal.name,
        "unit": principal.unit,
        "plans": list(principal.plans) if principal.plans is not None else None,
    }


def _forbidden(check: Any, principal: Principal) -> None:
    try:
        check(principal)
    except AccessDeniedError as error:
        raise Problem(403, "forbidden", str(error)) from None


@router.get(
    "/audit",
    tags=["audit"],
    summary="The audit log, newest first (coordinators: rows about their plans; admins: all)",
    response_model=schemas.AuditPage,
    responses=problem_responses(403, *COMMON_PROBLEMS),
)
async def read_audit(
    request: Request,
    principal: Caller,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    _forbidden(require_audit_reader, principal)
    async with connection(request) as conn:
        rows = await audit.read(
            conn,
            everything=principal.role == "admin",
            plans=principal.plans,
            before_id=before,
            limit=limit,
        )
    return {"items": rows, "next_before": rows[-1]["id"] if len(rows) == limit else None}


def _token_model(record: tokens.TokenRecord) -> dict[str, Any]:
    return {
        "token_id": record.token_id,
        "role": record.role,
        "name": record.name,
        "unit": record.unit,
        "plans": list(record.plans) if record.plans is not None else None,
        "created_at": record.created_at,
        "expires_at": record.expires_at,
        "revoked_at": record.revoked_at,
        "status": record.status(datetime.now(UTC)),
    }


@router.get(
    "/tokens",
    tags=["tokens"],
    summary="Every token (admins)",
    response_model=list[schemas.TokenModel],
    responses=problem_responses(403, *COMMON_PROBLEMS),
)
async def list_tokens(request: Request, principal: Caller) -> list[dict[str, Any]]:
    _forbidden(require_admin, principal)
    async with connection(request) as conn:
        return [_token_model(record) for record in await tokens.list_tokens(conn)]


@router.post(
    "/tokens",
    tags=["tokens"],
    summary="Issue a token (admins); its secret is in this answer only",
    status_code=201,
    response_model=schemas.IssuedTokenModel,
    responses=problem_responses(403, *MUTATION_PROBLEMS),
)
async def issue_token(
    request: Request, principal: Caller, key: IdempotencyKey, body: schemas.TokenRequest
) -> Any:
    request.state.audit = {"action": "issue-token"}
    _forbidden(require_admin, principal)

    async def issue() -> tuple[int, dict[str, Any]]:
        try:
            async with connection(request) as conn:
                issued = await access_tokens.issue(
                    conn,
                    role=body.role,
                    unit=body.unit,
                    plans=tuple(body.plans) if body.plans is not None else None,
                    name=body.name,
                    expires_in=timedelta(days=body.expires_days),
                )
        except UnknownUnitError as error:
            raise Problem(422, "unknown_unit", error.message) from None
        except access_tokens.TokenRequestError as error:
            raise Problem(422, "invalid_payload", error.message) from None
        return 201, {**_token_model(issued.record), "secret": issued.secret}

    # A retry must not mint a second token, and the secret is never stored: a retry gets
    # the token it issued, without the secret.
    return await once_per_key(
        request,
        principal,
        key,
        body_digest(body.model_dump(mode="json")),
        issue,
        kept=lambda answer: {**answer, "secret": None},
    )


@router.post(
    "/tokens/{token_id}/revoke",
    tags=["tokens"],
    summary="Revoke a token (admins); it is refused from the next request on",
    response_model=schemas.TokenModel,
    responses=problem_responses(403, 404, *MUTATION_PROBLEMS),
)
async def revoke_token(
    request: Request,
    principal: Caller,
    key: IdempotencyKey,
    token_id: Annotated[str, Path(min_length=1, max_length=40)],
) -> Any:
    request.state.audit = {"action": "revoke-token", "task_id": None}
    _forbidden(require_admin, principal)

    async def revoke() -> tuple[int, dict[str, Any]]:
        async with connection(request) as conn:
            record = await tokens.revoke_token(conn, token_id)
        if record is None:
            raise Problem(404, "not_found", f"no token {token_id}")
        return 200, _token_model(record)

    return await once_per_key(request, principal, key, body_digest({"token": token_id}), revoke)
