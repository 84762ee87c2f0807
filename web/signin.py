"""Signing in and out: a one-time login link, a pasted token, and sign-out.

A login link (``duban token issue … --login-link``) opens a page that names whom it signs
in as, and signs in only when its button is pressed: a mail or chat client that fetches the
link to preview it does not use it up. Pasting a token is the other way in; the login form
is protected by a double-submit cookie, since there is no session yet.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import connection, dependencies_of
from store import tokens, web_sessions
from store.tokens import TokenRecord
from web.session import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    User,
    checked_form,
    local_path,
    page_user,
)
from web.templating import render

router = APIRouter(include_in_schema=False)


def _home_of(role: str) -> str:
    return "/inbox" if role == "unit" else "/board"


@router.get("/")
async def home(request: Request) -> Response:
    user = await page_user(request)
    return RedirectResponse(_home_of(user.principal.role), status_code=303)


def _before_session(request: Request, template: str, status: int, **context: Any) -> Response:
    """A page with a form posted before there is a session: its CSRF token is a random
    value both in a cookie and in the form (double submit), so that another site cannot
    sign a browser in as someone else."""
    login_csrf = secrets.token_urlsafe(24)
    response = render(request, template, status_code=status, login_csrf=login_csrf, **context)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        login_csrf,
        httponly=True,
        samesite="lax",
        secure=dependencies_of(request).web.secure_cookies,
        max_age=3600,
    )
    return response


def _login_page(request: Request, next_path: str, error: str | None, status: int) -> Response:
    return _before_session(request, "login.html", status, next_path=next_path, error=error)


def _login_csrf_matches(request: Request, sent: str) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, sent)


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, local_path(next), None, 200)


async def _signed_in(request: Request, token: TokenRecord, next_path: str) -> Response:
    web = dependencies_of(request).web
    async with connection(request) as conn:
        secret, _ = await web_sessions.start_session(conn, token, web.session_lifetime)
    response = RedirectResponse(
        next_path if next_path != "/" else _home_of(token.role), status_code=303
    )
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        secure=web.secure_cookies,
        max_age=int(web.session_lifetime.total_seconds()),
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    request.state.principal = token.principal
    return response


@router.post("/login")
async def login_with_token(
    request: Request,
    token: Annotated[str, Form(max_length=200)] = "",
    login_csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    request.state.web_audited = True
    next_path = local_path(next)
    if not _login_csrf_matches(request, login_csrf):
        request.state.error_code = "csrf_refused"
        return _login_page(request, next_path, "登录页已过期，请重新输入令牌。", 403)
    secret = token.strip()
    record: TokenRecord | None = None
    if tokens.looks_like_secret(secret):
        async with connection(request) as conn:
            record = await tokens.find_token(conn, secret)
    if record is None or record.status(datetime.now(UTC)) != "active":
        request.state.error_code = "token_refused"
        # The same pace as the API's 401s: guessing is throttled per client.
        client = request.client.host if request.client else "unknown"
        await request.app.state.rate_limiter.check(f"client:{client}")
        why = "令牌已过期或已吊销" if record is not None else "令牌无效"
        return _login_page(request, next_path, f"{why}，请向督查室索取新的令牌。", 401)
    return await _signed_in(request, record, next_path)


@router.get("/login/{link}")
async def login_link_page(request: Request, link: str) -> Response:
    """The page of a login link: whom it signs in as, and the button that does."""
    token = await _link_token(request, link, redeem=False)
    if token is None:
        return _login_page(request, "/", "登录链接已使用或已过期，请粘贴令牌登录。", 410)
    return _before_session(request, "login_link.html", 200, token=token, link=link)


@router.post("/login/{link}")
async def login_link_redeem(
    request: Request,
    link: str,
    login_csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
) -> Response:
    request.state.web_audited = True
    if not _login_csrf_matches(request, login_csrf):
        request.state.error_code = "csrf_refused"
        return _login_page(request, "/", "登录页已过期，请重新打开登录链接。", 403)
    token = await _link_token(request, link, redeem=True)
    if token is None:
        request.state.error_code = "login_link_refused"
        return _login_page(request, "/", "登录链接已使用或已过期，请粘贴令牌登录。", 410)
    return await _signed_in(request, token, "/")


async def _link_token(request: Request, link: str, *, redeem: bool) -> TokenRecord | None:
    if len(link) > 100:
        return None
    async with connection(request) as conn:
        if redeem:
            token_id = await web_sessions.redeem_login_link(conn, link)
        else:
            token_id = await web_sessions.peek_login_link(conn, link)
        record = await tokens.token_by_id(conn, token_id) if token_id else None
    if record is None or record.status(datetime.now(UTC)) != "active":
        return None
    return record


@router.post("/logout")
async def logout(request: Request, user: User) -> Response:
    await checked_form(request, user)
    secret = request.cookies.get(SESSION_COOKIE, "")
    async with connection(request) as conn:
        await web_sessions.end_session(conn, secret)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
