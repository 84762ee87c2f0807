"""The board in a real browser: signing a page in through a login link, and where the
tests' screenshots go (kept as CI output)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from playwright.async_api import Page

from tests.support.api import ApiStack

REPOSITORY = Path(__file__).resolve().parents[2]


def screenshot_dir() -> Path:
    """``DUBAN_SCREENSHOT_DIR``, or ``test-output/screenshots`` in the checkout."""
    chosen = os.environ.get("DUBAN_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else REPOSITORY / "test-output" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def sign_in(page: Page, login_link: str) -> None:
    """Open the login link and press its button, as a unit's staff member would."""
    await page.goto(login_link)
    await page.get_by_role("button", name="确认登录").click()
    await page.wait_for_load_state()


def hidden_field(html: str, name: str, form_id: str | None = None) -> str:
    """The value of a hidden field (in form ``form_id`` if given)."""
    if form_id is not None:
        start = html.index(f'id="{form_id}"')
        html = html[start : html.index("</form>", start)]
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no field {name} in {form_id or 'the page'}"
    return found.group(1)


def plain_client(stack: ApiStack) -> httpx.AsyncClient:
    """A browser-like HTTP client that keeps cookies and shows redirects as they are."""
    return httpx.AsyncClient(base_url=stack.base_url, follow_redirects=False, timeout=60)


@asynccontextmanager
async def signed_in_client(stack: ApiStack, link: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client holding the session cookie of a redeemed login link."""
    async with plain_client(stack) as client:
        path = link.removeprefix(stack.base_url)
        page = await client.get(path)
        answer = await client.post(path, data={"csrf_token": hidden_field(page.text, "csrf_token")})
        assert answer.status_code == 303, answer.text
        yield client


@asynccontextmanager
async def token_signed_in_client(stack: ApiStack, secret: str) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client signed in by pasting a token on the login page."""
    async with plain_client(stack) as client:
        login_csrf = hidden_field((await client.get("/login")).text, "csrf_token")
        answer = await client.post("/login", data={"csrf_token": login_csrf, "token": secret})
        assert answer.status_code == 303, answer.text
        yield client
