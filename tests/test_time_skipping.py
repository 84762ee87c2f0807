"""The time-skipping test server is real: a half-year timer resolves without waiting."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from runtime.settings import Settings
from tests.support.workflows import HALF_YEAR, HalfYearTimerWorkflow
from workers.service import build_worker


async def test_180_day_timer_fires_under_time_skipping(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    """The workflow sees 180 days pass on its clock, and so does the test server's clock."""
    client = time_skipping_env.client
    settings = Settings(temporal_task_queue=task_queue)
    server_time_before = await time_skipping_env.get_current_time()
    async with build_worker(client, settings, activities=[], workflows=[HalfYearTimerWorkflow]):
        elapsed = await client.execute_workflow(
            HalfYearTimerWorkflow.run, id=f"timer-{task_queue}", task_queue=task_queue
        )
    server_time_after = await time_skipping_env.get_current_time()
    assert elapsed >= HALF_YEAR.total_seconds()
    assert server_time_after - server_time_before >= HALF_YEAR
