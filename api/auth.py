"""Who is calling: the bearer token, checked on every request, and its rate limit.

The principal comes from the token alone; nothing in a request body says who acts. The
secret never reaches a log line or the audit log: only the token id does, once the token
is found.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from api.problems import Problem
from domain.access import Principal
from runtime.log import get_logger
from store import tokens

log = get_logger(__name__)

bearer_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="dbn_…",
    description="A token from `duban token issue` (shown once when issued).",
)


class RateLimiter:
    """Requests per token, per API process (each replica counts its own)."""

    def __init__(self, rate: str) -> None:
        self._item: RateLimitItem = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    async def check(self, token_id: str) -> None:
        if await self._limiter.hit(self._item, token_id):
            return
        stats = await self._limiter.get_window_stats(self._item, token_id)
        retry_after = max(1, round(stats.reset_time - datetime.now(UTC).timestamp()))
        raise Problem(
            429,
            "rate_limited",
            f"more than {self._item} requests for this token; retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


async def _unauthenticated(request: Request, problem: Problem) -> Problem:
    """The 401 to raise, unless this client sends too many of them: then a 429, which is
    logged but not written to the audit log row by row (anyone can send these, and the
    audit log cannot be pruned)."""
    client = request.client.host if request.client else "unknown"
    try:
        await request.app.state.rate_limiter.check(f"client:{client}")
    except Problem as flooded:
        request.state.unaudited = True
        log.warning("unauthenticated requests over the rate limit", client=client)
        return flooded
    return problem


async def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The caller's principal, or a 401 problem that says what is wrong with the token."""
    if credentials is None:
        header = request.headers.get("authorization")
        if header:
            raise await _unauthenticated(
                request,
                Problem(401, "token_malformed", "expected `Authorization: Bearer <token>`"),
            )
        raise await _unauthenticated(
            request,
            Problem(
                401,
                "token_missing",
                "this endpoint needs a token: `Authorization: Bearer <token>`",
                headers={"WWW-Authenticate": "Bearer"},
            ),
        )
    secret = credentials.credentials
    if not tokens.looks_like_secret(secret):
        raise await _unauthenticated(
            request, Problem(401, "token_malformed", "the token is not a Duban token (dbn_…)")
        )
    from api.deps import connection  # deps builds on this module

    async with connection(request) as conn:
        record = await tokens.find_token(conn, secret)
    if record is None:
        raise await _unauthenticated(request, Problem(401, "token_unknown", "no such token"))
    request.state.principal = record.principal
    status = record.status(datetime.now(UTC))
    if status == "revoked":
        raise Problem(401, "token_revoked", f"token {record.token_id} was revoked")
    if status == "expired":
        raise Problem(401, "token_expired", f"token {record.token_id} has expired")
    await request.app.state.rate_limiter.check(record.token_id)
    return record.principal
