"""Debian's Chromium driven by Playwright, headless and cut off from everything outside
this machine: a page that reaches for the internet is caught, not silently served."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import cvttf_NotoSansCJK_Regular
from playwright.async_api import Browser, Page, Route, async_playwright

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _fontconfig_with_the_shipped_cjk_font(folder: Path) -> Path:
    """A fontconfig file adding the Noto Sans CJK wheel the project ships (the notice's
    chart uses it) to the system's fonts: a machine without Chinese fonts would draw every
    character of a screenshot as an empty box, and the screenshots are read by people."""
    font_dir = Path(cvttf_NotoSansCJK_Regular.get_TTF_path()).parent
    config = folder / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        f"<dir>{font_dir}</dir><cachedir>{folder / 'fontcache'}</cachedir></fontconfig>"
    )
    return config


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(
            f"{CHROMIUM} is missing: browser tests need Debian's chromium "
            "(`make test` installs it as root with apt-get; or `apt-get install chromium`)"
        )
    with tempfile.TemporaryDirectory(prefix="duban-fonts-") as folder:
        fonts = _fontconfig_with_the_shipped_cjk_font(Path(folder))
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=str(CHROMIUM),
                headless=True,
                args=FLAGS,
                env={**os.environ, "FONTCONFIG_FILE": str(fonts)},
            )
            try:
                yield browser
            finally:
                await browser.close()


async def offline_page(browser: Browser, outside: list[str]) -> Page:
    """A page whose every request off this machine is refused and listed in ``outside``."""
    page = await browser.new_page(locale="zh-CN")  # as an office PC: dates as 年/月/日

    async def guard(route: Route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            await route.continue_()
        else:
            outside.append(url)
            await route.abort()

    await page.route("**/*", guard)
    return page
