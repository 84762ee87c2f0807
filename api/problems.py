"""Errors as RFC 9457 problem details (``application/problem+json``) with a stable ``code``.

Every error the API answers goes through :class:`Problem`, so a client can switch on
``code`` and a person can read ``detail``. The codes:

======================  ======  ==========================================================
code                    status  meaning
======================  ======  ==========================================================
token_missing           401     no ``Authorization: Bearer …`` header
token_malformed         401     the header or the secret is not of the expected shape
token_unknown           401     no such token
token_expired           401     the token's expiry has passed
token_revoked           401     the token was revoked
invalid_cursor          400     a page cursor this API did not hand out
forbidden               403     the caller sees the task (or plan) but may not do this
not_found               404     unknown, or not visible to the caller
method_not_allowed      405     the path exists, the method does not
wrong_stage             409     the task's stage does not allow the action (``stage`` says
                                which stage it is in)
idempotency_key_reused  409     the Idempotency-Key was used for another request
idempotency_key_in_use  409     a request with this key is still being processed
import_refused          409     the plan import was refused as asked (see ``detail``)
payload_too_large       413     the upload or body is over the limit
unsupported_media_type  415     the codec endpoint takes ``application/json`` only
invalid_payload         422     the body, a parameter or a header does not validate
idempotency_key_required 422    a mutation without an ``Idempotency-Key`` header
invalid_action          422     the action's content is refused by the lifecycle rules
document_error          422     the uploaded document cannot be read as a plan
unknown_unit            422     a unit the directory does not know
undecryptable_payload   422     codec: a payload under a key id not configured, or altered
rate_limited            429     over the token's request rate (``Retry-After`` says when)
temporal_unavailable    503     Temporal (or a worker) does not answer
database_unavailable    503     PostgreSQL does not answer
======================  ======  ==========================================================
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, plus Duban's stable ``code``."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="a URI naming the problem type")
    title: str
    status: int
    detail: str
    code: str = Field(description="stable, machine-readable: switch on this")
    request_id: str | None = None
    stage: str | None = Field(default=None, description="wrong_stage: the task's stage now")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="invalid_payload: each field that did not validate"
    )


class Problem(Exception):  # noqa: N818 - it is the response, not a failure of the server
    """Raise to answer with a problem; the app's handler renders it."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = {key: value for key, value in extra.items() if value is not None}


def problem_response(request: Request, problem: Problem) -> JSONResponse:
    request.state.error_code = problem.code
    body = {
        "type": f"urn:duban:problem:{problem.code}",
        "title": HTTPStatus(problem.status).phrase,
        "status": problem.status,
        "detail": problem.detail,
        "code": problem.code,
        "request_id": getattr(request.state, "request_id", None),
        **problem.extra,
    }
    return JSONResponse(
        body, status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE, headers=problem.headers
    )


_PROBLEM_SCHEMA = {"$ref": "#/components/schemas/ProblemDetails"}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these statuses, all problem details."""
    return {
        status: {
            "model": ProblemDetails,
            "description": HTTPStatus(status).phrase,
            "content": {
                PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}
            },
        }
        for status in statuses
    }


# What every authenticated route can answer, whatever it does.
COMMON_PROBLEMS = (401, 422, 429, 503)
# ... and every mutation: a reused or busy Idempotency-Key, a body over the limit.
MUTATION_PROBLEMS = (*COMMON_PROBLEMS, 409, 413)
