"""The API suite's fixtures: the API over HTTP on the real dev server and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.support.api import ApiStack, serve_api


@pytest.fixture
async def api_stack(
    dev_server_env: WorkflowEnvironment, database_url: str, task_queue: str
) -> AsyncIterator[ApiStack]:
    async with serve_api(dev_server_env.client, database_url, task_queue) as stack:
        yield stack
