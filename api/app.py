"""The coordinator HTTP API: application factory, request context, errors, audit, health.

Every request gets an id (the caller's ``X-Request-ID`` or a new one) bound to its log lines
and returned. Every mutation under ``/api/v1`` (accepted or refused, by whoever) leaves one
row in the audit log. Every error is a problem document (see :mod:`api.problems`); a
PostgreSQL or Temporal that does not answer is a 503, and the next request tries again, so
the API recovers by itself when they come back. ``/docs`` (Swagger UI) loads its assets
from this process: offices run on networks without internet.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import unquote

import asyncpg
import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi_offline import FastAPIOffline
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import codec, directory, plans, reports, tasks
from api.auth import RateLimiter
from api.deps import ApiDependencies, ApiLimits, connection, release_connection
from api.problems import Problem, problem_response
from domain.lifecycle import CONTROL_CHARACTERS
from runtime.log import get_logger
from runtime.readiness import Readiness
from services.tasks import TemporalUnavailableError
from store import audit
from web.app import mount_web
from web.board import close_board
from web.templating import render

__all__ = ["REQUEST_ID_HEADER", "ApiDependencies", "ApiLimits", "create_app"]

log = get_logger(__name__)
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,100}")
_MUTATIONS = {"POST", "PUT", "PATCH", "DELETE"}
_NOT_AUDITED = {"/api/v1/plans/preview"}  # a dry run changes nothing
DATABASE_DOWN: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
)


class BodyLimit:
    """413 for a body over its route's limit, chunked or not. The body is read here (it is
    small: 64 KiB, or one plan document) and handed on whole, so the route never sees a
    body cut short."""

    def __init__(self, app: ASGIApp, limits: ApiLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _MUTATIONS:
            await self.app(scope, receive, send)
            return
        # Plan documents, and the codec's batches of a history's payloads. Multipart framing
        # and the form fields come on top of the document itself.
        uploads = scope["path"].startswith(("/api/v1/plans", codec.CODEC_PREFIX, "/plans/"))
        limit = self.limits.max_upload_bytes + 64 * 1024 if uploads else self.limits.max_body_bytes
        declared = dict(scope["headers"]).get(b"content-length", b"")
        body = bytearray()
        too_large = declared.isdigit() and int(declared) > limit
        more = not too_large
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            too_large = len(body) > limit
            more = message.get("more_body", False) and not too_large
        if too_large:
            detail = f"the body is over {limit // 1024} KiB"
            response = (
                problem_response(Request(scope), Problem(413, "payload_too_large", detail))
                if scope["path"].startswith("/api/")
                # A board form: a page in its users' language, not a problem document.
                else render(
                    Request(scope),
                    "refused.html",
                    status_code=413,
                    title="提交的内容过大",
                    reason=f"提交的内容超过 {limit // 1024} KiB，没有执行任何操作。"
                    "请返回，缩短文字（进展情况最多4000字）或换一个较小的文件后重试。",
                )
            )
            await response(scope, receive, send)
            return
        handed = False

        async def whole_body() -> Message:
            nonlocal handed
            if handed:
                return await receive()  # after the body: wait for a disconnect
            handed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, whole_body, send)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    try:
        yield
    finally:
        await close_board(app)  # its worker process


def create_app(dependencies: ApiDependencies) -> FastAPI:
    app = FastAPIOffline(
        lifespan=_lifespan,
        # ReDoc's standalone bundle fetches its logo from a CDN; Swagger UI needs nothing.
        redoc_url=None,
        title="Duban coordinator API",
        summary="督办: plan tasks as durable workflows, for coordinators and units",
        description=(
            "Authenticate with `Authorization: Bearer <token>` (issue one with "
            "`duban token issue`). Every mutation takes an `Idempotency-Key` header. "
            "Errors are RFC 9457 problem details with a stable `code`."
        ),
        version="0.1.0",
        swagger_ui_parameters={"persistAuthorization": True},
    )
    app.state.dependencies = dependencies
    app.state.rate_limiter = RateLimiter(dependencies.limits.rate_limit)
    app.include_router(plans.router)
    app.include_router(tasks.router)
    app.include_router(directory.router)
    app.include_router(reports.router)
    app.include_router(codec.router)
    _add_error_handlers(app)
    _add_health(app, dependencies)
    mount_web(app)  # after the API's handlers: the board answers its own errors as pages
    # The request context is outermost (added last), so a 413 is audited too.
    app.add_middleware(BodyLimit, limits=dependencies.limits)
    app.add_middleware(codec.CodecCors, origins=dependencies.codec_origins)
    app.add_middleware(RequestContext)
    return app


class RequestContext:
    """Give every request an id, log it once, and audit it if it is a mutation. Plain ASGI
    rather than ``@app.middleware``: that wraps each request in a task group and streams,
    a cost every action paid."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        # The caller's id is kept when it looks like one, so its logs and ours line up.
        request_id = offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        request.state.request_id = request_id
        started = time.perf_counter()
        status = 500
        audited = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, audited
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                # Before the caller hears the answer: an answered mutation is on record.
                if _audited(request):
                    audited = True
                    await _audit(request, request_id, status)
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                if _unprintable_address(request):
                    await problem_response(request, _UNPRINTABLE)(scope, receive, send_with_id)
                else:
                    await self.app(scope, receive, send_with_id)
            finally:
                try:
                    if not audited and _audited(request):  # it failed before answering
                        await _audit(request, request_id, status)
                finally:
                    await release_connection(request)
                log.info(
                    "request served",
                    method=request.method,
                    path=request.url.path,
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 1),
                )


_UNPRINTABLE = Problem(422, "invalid_payload", "control characters in the path or query")


def _unprintable_address(request: Request) -> bool:
    """NUL and other control characters cannot reach PostgreSQL: refuse them up front."""
    query = unquote(request.scope.get("query_string", b"").decode("latin-1"))
    return bool(CONTROL_CHARACTERS.search(request.url.path + query))


def _audited(request: Request) -> bool:
    path = request.url.path
    if getattr(request.state, "unaudited", False):  # a flood without a token (api/auth.py)
        return False
    if request.method not in _MUTATIONS or path in _NOT_AUDITED:
        return False
    # The board's form posts (web/) are mutations on record like the API's.
    return path.startswith("/api/") or getattr(request.state, "web_audited", False)


async def _audit(request: Request, request_id: str, status: int) -> None:
    """One row for this mutation. A failure to write it is logged, loudly: the request's
    own outcome stands (a refused request changed nothing; an applied one is in the
    task's event log)."""
    state = request.state
    principal = getattr(state, "principal", None)
    context: dict[str, Any] = getattr(state, "audit", {})
    entry = audit.AuditEntry(
        request_id=request_id,
        method=request.method,
        route=request.url.path[:500],
        status=status,
        token_id=principal.token_id if principal else None,
        role=principal.role if principal else None,
        unit=principal.unit if principal else None,
        plan_id=context.get("plan_id"),
        task_id=context.get("task_id"),
        action=context.get("action"),
        idempotency_key=getattr(state, "idempotency_key", None),
        payload_digest=getattr(state, "payload_digest", None),
        error_code=getattr(state, "error_code", None),
    )
    try:
        async with connection(request) as conn:
            await audit.append(conn, entry)
    except DATABASE_DOWN as error:
        log.error("audit row not written", route=entry.route, status=status, error=str(error))


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def on_problem(request: Request, problem: Problem) -> Response:
        return problem_response(request, problem)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, error: RequestValidationError) -> Response:
        problems = [
            {"loc": list(item["loc"]), "msg": item["msg"], "type": item["type"]}
            for item in error.errors()
        ]
        missing_key = any(
            item["type"] == "missing" and list(item["loc"]) == ["header", "Idempotency-Key"]
            for item in problems
        )
        code = "idempotency_key_required" if missing_key else "invalid_payload"
        where = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems[:5])
        return problem_response(request, Problem(422, code, where, errors=problems))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, error: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return problem_response(request, Problem(error.status_code, code, str(error.detail)))

    @app.exception_handler(TemporalUnavailableError)
    async def on_temporal_down(request: Request, error: TemporalUnavailableError) -> Response:
        log.warning("temporal unavailable", error=error.message)
        return problem_response(
            request,
            Problem(503, "temporal_unavailable", error.message, headers={"Retry-After": "5"}),
        )

    async def on_database_down(request: Request, error: Exception) -> Response:
        log.warning("postgresql unavailable", error=str(error) or type(error).__name__)
        problem = Problem(
            503,
            "database_unavailable",
            "PostgreSQL does not answer; retry shortly",
            headers={"Retry-After": "5"},
        )
        return problem_response(request, problem)

    for error_type in DATABASE_DOWN:
        app.add_exception_handler(error_type, on_database_down)


def _add_health(app: FastAPI, dependencies: ApiDependencies) -> None:
    @app.get("/healthz", tags=["operations"], summary="Liveness: the process serves requests")
    async def healthz() -> dict[str, str]:
        return {"status": "alive"}

    readiness = Readiness(dependencies.pool, dependencies.temporal)

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness: PostgreSQL and Temporal answer, the schema is current and the "
        "search attributes are registered",
        responses={503: {"description": "not ready; `problems` says why and what to run"}},
    )
    async def readyz(response: Response) -> dict[str, object]:
        report = await readiness.report()
        response.status_code = 200 if report.ready else 503
        return {"ready": report.ready, "checks": report.checks, "problems": report.problems}
