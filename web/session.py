"""Who is signed in: the session cookie, checked on every page, and CSRF on every form.

The browser holds only a random session secret in an HTTP-only, SameSite=Lax cookie; the
session stands for an API token (store/web_sessions.py), and a page acts as exactly that
token's principal, so the board can do no more than the token could through the API. The
session is checked against its token on every request: a revoked or expired token signs
the browser out at its next click.

Every form carries the session's synchroniser token (``csrf_token``); a post without it,
or with another session's, is refused before anything is read or done, and is written to
the audit log like every other mutation.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.datastructures import FormData

from api.deps import connection, release_connection
from domain.access import Principal
from store import web_sessions

SESSION_COOKIE = "duban_session"
LOGIN_CSRF_COOKIE = "duban_login_csrf"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class PageUser:
    principal: Principal
    csrf_token: str

    @property
    def is_unit(self) -> bool:
        return self.principal.role == "unit"

    @property
    def is_coordinator(self) -> bool:
        return self.principal.role == "coordinator"


class SignInRequiredError(Exception):
    """No open session: the browser is sent to sign in, and back here afterwards."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefusedError(Exception):
    """A form post without this session's CSRF token: nothing was done."""


def sign_in_address(next_path: str) -> str:
    return f"/login?next={quote(next_path, safe='/')}"


def local_path(candidate: str | None) -> str:
    """Where to go after signing in: a path on this site only (never ``//elsewhere``)."""
    if not candidate or not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
        return "/"
    return candidate


async def page_user(request: Request) -> PageUser:
    """The signed-in user of this request, or SignInRequiredError."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret or len(secret) > 100:
        raise SignInRequiredError(here)
    async with connection(request) as conn:
        session = await web_sessions.find_session(conn, secret)
    if session is None or session.token.status(datetime.now(UTC)) != "active":
        raise SignInRequiredError(here)
    principal = session.token.principal
    request.state.principal = principal  # for the audit row
    await request.app.state.rate_limiter.check(principal.token_id)
    user = PageUser(principal=principal, csrf_token=session.csrf_token)
    request.state.page_user = user
    return user


User = Annotated[PageUser, Depends(page_user)]


async def checked_form(request: Request, user: User) -> FormData:
    """The posted form, once its CSRF token is this session's. Every form post is a
    mutation on record: it is audited whatever its outcome."""
    request.state.web_audited = True
    if not hasattr(request.state, "audit"):
        # Named from the address before anything is read, so that a refused post's audit
        # row says which task and action it was aimed at.
        where = request.path_params
        request.state.audit = {
            "plan_id": where.get("plan_id"),
            "task_id": where.get("task_key"),
            "action": where.get("action"),
        }
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, user.csrf_token):
        request.state.error_code = "csrf_refused"
        raise CsrfRefusedError
    # A post may go on to call Temporal, which can take seconds: the session's connection
    # is not held across that (the next read takes one from the pool again).
    await release_connection(request)
    return form


Form = Annotated[FormData, Depends(checked_form)]
