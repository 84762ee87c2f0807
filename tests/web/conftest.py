"""The board's tests share one API stack per test (a worker on its own task queue, the
session's dev server, a fresh schema) and Debian's Chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser
from temporalio.testing import WorkflowEnvironment

from tests.support.api import ApiStack, serve_api
from tests.support.browser import chromium


@pytest.fixture
async def stack(
    dev_server_env: WorkflowEnvironment, database_url: str, task_queue: str
) -> AsyncIterator[ApiStack]:
    async with serve_api(dev_server_env.client, database_url, task_queue) as stack:
        yield stack


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as browser:
        yield browser
