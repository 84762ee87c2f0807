"""The board's sign-in state: one-time login links and browser sessions (0012_web_sessions).

Secrets are random (256 bits) and stored only as their SHA-256, as API tokens are. A link
is redeemed by one atomic UPDATE, so two visits racing on the same link sign in once. A
session is valid while it has not ended or expired and its token is active.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from store.db import Connection
from store.tokens import TokenRecord, hash_secret, token_by_id


@dataclass(frozen=True)
class WebSession:
    token: TokenRecord
    csrf_token: str
    expires_at: datetime


async def create_login_link(connection: Connection, token_id: str, lifetime: timedelta) -> str:
    """A new one-time link secret for this token, valid for ``lifetime`` (at most until
    the token itself expires)."""
    secret = secrets.token_urlsafe(32)
    await connection.execute(
        """
        INSERT INTO web_login_links (link_hash, token_id, expires_at)
        SELECT $1, token_id, least(now() + $3::interval, expires_at)
        FROM api_tokens WHERE token_id = $2
        """,
        hash_secret(secret),
        token_id,
        lifetime,
    )
    return secret


async def peek_login_link(connection: Connection, secret: str) -> str | None:
    """The token id of an unused, unexpired link, leaving it unused."""
    token_id: str | None = await connection.fetchval(
        "SELECT token_id FROM web_login_links"
        " WHERE link_hash = $1 AND used_at IS NULL AND expires_at > now()",
        hash_secret(secret),
    )
    return token_id


async def redeem_login_link(connection: Connection, secret: str) -> str | None:
    """The token id of an unused, unexpired link, which is used up by this call; None for
    a link that is unknown, used or expired."""
    token_id: str | None = await connection.fetchval(
        """
        UPDATE web_login_links SET used_at = now()
        WHERE link_hash = $1 AND used_at IS NULL AND expires_at > now()
        RETURNING token_id
        """,
        hash_secret(secret),
    )
    return token_id


async def start_session(
    connection: Connection, token: TokenRecord, lifetime: timedelta
) -> tuple[str, WebSession]:
    """A new session for this token: its cookie secret (shown to the browser only) and the
    session, which ends after ``lifetime`` or when the token expires, whichever is first."""
    secret = secrets.token_urlsafe(32)
    csrf_token = secrets.token_urlsafe(32)
    expires_at: datetime = await connection.fetchval(
        """
        INSERT INTO web_sessions (session_hash, token_id, csrf_token, expires_at)
        VALUES ($1, $2, $3, least(now() + $4::interval, $5))
        RETURNING expires_at
        """,
        hash_secret(secret),
        token.token_id,
        csrf_token,
        lifetime,
        token.expires_at,
    )
    return secret, WebSession(token=token, csrf_token=csrf_token, expires_at=expires_at)


async def find_session(connection: Connection, secret: str) -> WebSession | None:
    """The open session of this cookie secret with its token (whatever the token's status:
    the caller checks it); None when unknown, ended or expired."""
    row = await connection.fetchrow(
        """
        SELECT token_id, csrf_token, expires_at FROM web_sessions
        WHERE session_hash = $1 AND ended_at IS NULL AND expires_at > now()
        """,
        hash_secret(secret),
    )
    if row is None:
        return None
    token = await token_by_id(connection, row["token_id"])
    if token is None:
        return None
    return WebSession(token=token, csrf_token=row["csrf_token"], expires_at=row["expires_at"])


async def end_session(connection: Connection, secret: str) -> None:
    await connection.execute(
        "UPDATE web_sessions SET ended_at = coalesce(ended_at, now()) WHERE session_hash = $1",
        hash_secret(secret),
    )
