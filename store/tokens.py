"""API tokens: issued once as a random secret, kept only as a hash, checked in constant time.

A secret reads ``dbn_<token id>_<random>``: the id lets an operator see which token a
leaked secret was without the secret ever being stored, and the random part (256 bits) is
what proves the caller. Only the SHA-256 of the whole secret is stored; a request finds its
token by that hash and compares it again with :func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.access import Principal, Role
from store.db import Connection

SECRET_PREFIX = "dbn_"  # noqa: S105 - a prefix, not a secret
_SECRET_SHAPE = re.compile(r"^dbn_(?P<id>[a-z0-9]{10})_[A-Za-z0-9_-]{43}$")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_secret(secret: str) -> bool:
    return _SECRET_SHAPE.fullmatch(secret) is not None


@dataclass(frozen=True)
class TokenRecord:
    token_id: str
    role: Role
    name: str
    unit: str | None
    plans: tuple[str, ...] | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "active"

    @property
    def principal(self) -> Principal:
        return Principal(
            token_id=self.token_id, role=self.role, name=self.name, unit=self.unit, plans=self.plans
        )


@dataclass(frozen=True)
class IssuedToken:
    record: TokenRecord
    secret: str  # shown once; never stored, never logged


def _record(row: object) -> TokenRecord:
    values = dict(row)  # type: ignore[call-overload]
    plans = values["plans"]
    return TokenRecord(
        token_id=values["token_id"],
        role=values["role"],
        name=values["name"],
        unit=values["unit"],
        plans=tuple(plans) if plans is not None else None,
        created_at=values["created_at"],
        expires_at=values["expires_at"],
        revoked_at=values["revoked_at"],
    )


async def issue_token(
    connection: Connection,
    *,
    role: Role,
    name: str,
    expires_in: timedelta,
    unit: str | None = None,
    plans: tuple[str, ...] | None = None,
) -> IssuedToken:
    token_id = secrets.token_hex(5)
    secret = f"{SECRET_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    row = await connection.fetchrow(
        """
        INSERT INTO api_tokens (token_id, secret_hash, role, unit, plans, name, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, now() + $7::interval)
        RETURNING token_id, role, name, unit, plans, created_at, expires_at, revoked_at
        """,
        token_id,
        hash_secret(secret),
        role,
        unit,
        list(plans) if plans is not None else None,
        name,
        expires_in,
    )
    return IssuedToken(record=_record(row), secret=secret)


async def find_token(connection: Connection, secret: str) -> TokenRecord | None:
    """The token this secret belongs to, whatever its status; None for an unknown secret."""
    digest = hash_secret(secret)
    row = await connection.fetchrow(
        "SELECT token_id, role, name, unit, plans, created_at, expires_at, revoked_at,"
        " secret_hash FROM api_tokens WHERE secret_hash = $1",
        digest,
    )
    if row is None or not hmac.compare_digest(row["secret_hash"], digest):
        return None
    return _record(row)


async def token_by_id(connection: Connection, token_id: str) -> TokenRecord | None:
    row = await connection.fetchrow(
        "SELECT token_id, role, name, unit, plans, created_at, expires_at, revoked_at"
        " FROM api_tokens WHERE token_id = $1",
        token_id,
    )
    return _record(row) if row is not None else None


async def list_tokens(connection: Connection) -> list[TokenRecord]:
    rows = await connection.fetch(
        "SELECT token_id, role, name, unit, plans, created_at, expires_at, revoked_at"
        " FROM api_tokens ORDER BY created_at"
    )
    return [_record(row) for row in rows]


async def revoke_token(connection: Connection, token_id: str) -> TokenRecord | None:
    """Revoke (once; a second revoke keeps the first instant). None if there is no such id."""
    row = await connection.fetchrow(
        """
        UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now())
        WHERE token_id = $1
        RETURNING token_id, role, name, unit, plans, created_at, expires_at, revoked_at
        """,
        token_id,
    )
    return _record(row) if row is not None else None


async def revoke_tokens_named(connection: Connection, name: str) -> int:
    """Revoke every active token of this name (``duban dev`` replaces its own each run)."""
    result: str = await connection.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL", name
    )
    return int(result.split()[-1])
