"""What route handlers share: the caller, the Idempotency-Key header, the connections, and
the one place where a mutation is run once per key."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Header, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from temporalio.client import Client

from api.auth import authenticate, bearer_scheme
from api.problems import Problem
from domain.access import Principal
from store import idempotency
from store.db import Connection


@dataclass(frozen=True)
class ApiLimits:
    max_upload_bytes: int = 10 * 1024 * 1024
    max_body_bytes: int = 64 * 1024
    max_page_size: int = 200
    rate_limit: str = "600/minute"


@dataclass(frozen=True)
class WebOptions:
    """The board's sign-in (web/): how long a browser session and a login link last, the
    address that login links point at, and whether cookies need HTTPS."""

    session_lifetime: timedelta = timedelta(hours=12)
    public_url: str = "http://127.0.0.1:8000"
    secure_cookies: bool = False


@dataclass(frozen=True)
class ApiDependencies:
    """What every request handler may use; connected before the server accepts traffic."""

    pool: asyncpg.Pool
    temporal: Client
    task_queue: str = "duban"
    limits: ApiLimits = ApiLimits()
    # Browser origins (the Temporal UI's) that may call the codec endpoint.
    codec_origins: tuple[str, ...] = ()
    web: WebOptions = WebOptions()
    # PostgreSQL's address, for the board's fold in a process of its own (web.board); None:
    # that fold runs in the server's process.
    database_url: str | None = None


def dependencies_of(request: Request) -> ApiDependencies:
    deps: ApiDependencies = request.app.state.dependencies
    return deps


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> Principal:
    return await authenticate(request, credentials)


Caller = Annotated[Principal, Depends(current_principal)]

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="unique per request you mean once (a UUID): a retry under the same key "
        "applies once and gets the first answer",
    ),
]


@asynccontextmanager
async def connection(request: Request) -> AsyncIterator[Connection]:
    """The request's connection: acquired on first use and kept for the request's next
    statements (the token, the access check, the key: one acquisition, not three), until
    :func:`release_connection`. Never held across a call to Temporal, which may take
    seconds: ``once_per_key`` lets it go first. The request context releases it at the end.
    """
    held: Connection | None = getattr(request.state, "connection", None)
    if held is None:
        held = await dependencies_of(request).pool.acquire(timeout=5)
        request.state.connection = held
    yield held


async def release_connection(request: Request) -> None:
    held = getattr(request.state, "connection", None)
    if held is not None:
        request.state.connection = None
        await dependencies_of(request).pool.release(held)


def digest(*parts: bytes | str) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(part.encode() if isinstance(part, str) else part)
        hasher.update(b"\0")
    return hasher.hexdigest()


def body_digest(body: Any) -> str:
    return digest(json.dumps(body, sort_keys=True, ensure_ascii=False, default=str))


async def once_per_key(
    request: Request,
    principal: Principal,
    key: str,
    payload_digest: str,
    mutate: Callable[[], Awaitable[tuple[int, dict[str, Any]]]],
    *,
    kept: Callable[[dict[str, Any]], dict[str, Any]] = lambda answer: answer,
) -> JSONResponse:
    """Run ``mutate`` once per (token, key): a retry of the same request gets the stored
    answer and changes nothing; the key sent with another request is refused. ``kept``
    is what of the answer may be stored for a retry (a token's secret may not)."""
    request.state.idempotency_key = key
    request.state.payload_digest = payload_digest
    fingerprint = digest(request.method, request.url.path, payload_digest)
    async with connection(request) as conn:
        held = await idempotency.reserve(conn, principal.token_id, key, fingerprint)
    if isinstance(held, idempotency.Reservation):
        if held.fingerprint != fingerprint:
            raise Problem(
                409,
                "idempotency_key_reused",
                f"the Idempotency-Key {key!r} was used for another request; "
                "send this one with a new key",
            )
        if not held.answered:
            raise Problem(
                409,
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is still being processed; retry shortly",
            )
        assert held.status is not None
        return JSONResponse(
            held.response, status_code=held.status, headers={"Idempotent-Replayed": "true"}
        )
    mine = held
    await release_connection(request)  # not held while Temporal works
    try:
        status, answer = await mutate()
        body = jsonable_encoder(answer)
    except BaseException:
        # Give the key back so that the caller may retry; if the database is what failed,
        # the reservation is taken over by a retry after a minute instead.
        with contextlib.suppress(Exception):
            async with connection(request) as conn:
                await idempotency.release(conn, principal.token_id, key, mine)
        raise
    async with connection(request) as conn:
        await idempotency.answer(conn, principal.token_id, key, mine, status, kept(body))
    return JSONResponse(body, status_code=status)
