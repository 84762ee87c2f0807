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
from store import tokens

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


async def authenticate(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The caller's principal, or a 401 problem that says what is wrong with the token."""
    if credentials is None:
        header = request.headers.get("authorization")
        if header:
            raise Problem(401, "token_malformed", "expected `Authorization: Bearer <token>`")
        raise Problem(
            401,
            "token_missing",
            "this endpoint needs a token: `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    secret = credentials.credentials
    if not tokens.looks_like_secret(secret):
        raise Problem(401, "token_malformed", "the token is not a Duban token (dbn_…)")
    dependencies = request.app.state.dependencies
    async with dependencies.pool.acquire(timeout=5) as connection:
        record = await tokens.find_token(connection, secret)
    if record is None:
        raise Problem(401, "token_unknown", "no such token")
    request.state.principal = record.principal
    status = record.status(datetime.now(UTC))
    if status == "revoked":
        raise Problem(401, "token_revoked", f"token {record.token_id} was revoked")
    if status == "expired":
        raise Problem(401, "token_expired", f"token {record.token_id} has expired")
    await request.app.state.rate_limiter.check(record.token_id)
    return record.principal
