"""The lifecycle suite's fixture: a worker on the time-skipping server, tidied up after."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.support.lifecycle import LifecycleHarness, lifecycle_harness


@pytest.fixture
async def lifecycle(
    time_skipping_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> AsyncIterator[LifecycleHarness]:
    async with lifecycle_harness(time_skipping_env, db_pool, task_queue) as harness:
        yield harness
