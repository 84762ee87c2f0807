"""Login links for the board: ``duban token issue --login-link`` and ``duban dev`` print
them. A link signs in once (web/signin.py) and lasts at most as long as its token."""

from __future__ import annotations

from datetime import timedelta

from store import web_sessions
from store.db import Connection

LOGIN_LINK_LIFETIME = timedelta(days=7)


async def issue_login_link(
    connection: Connection,
    public_url: str,
    token_id: str,
    lifetime: timedelta = LOGIN_LINK_LIFETIME,
) -> str:
    secret = await web_sessions.create_login_link(connection, token_id, lifetime)
    return f"{public_url.rstrip('/')}/login/{secret}"
