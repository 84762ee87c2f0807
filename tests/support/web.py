"""The board in a real browser: signing a page in through a login link, and where the
tests' screenshots go (kept as CI output)."""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page

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
