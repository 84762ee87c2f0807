"""Record workflow histories for the replay tests: ``python -m tests.support.record_histories``.

Run it only when a workflow changes on purpose (behind ``workflow.patched``); the files it
writes are what running workflows in production look like, and CI replays them against the
current code so an unguarded change fails.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from runtime.embedded import EmbeddedPostgres, free_port, installed_executable
from runtime.settings import Settings
from store.db import create_pool
from store.migrate import migrate_database
from workers.registry import build_activities
from workers.service import build_worker
from workflows.stack_check import StackCheckRequest, StackCheckWorkflow

HISTORIES = Path(__file__).parent.parent / "histories"


async def record() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        postgres = EmbeddedPostgres(Path(scratch) / "data", port=free_port())
        await postgres.start()
        await migrate_database(postgres.dsn)
        pool = await create_pool(postgres.dsn)
        env = await WorkflowEnvironment.start_local(
            data_converter=pydantic_data_converter,
            dev_server_existing_path=str(installed_executable("temporal")),
            ui=False,
        )
        try:
            queue = f"record-{uuid.uuid4().hex}"
            settings = Settings(temporal_task_queue=queue)
            activities = build_activities(pool, "recorder")
            async with build_worker(env.client, settings, activities=activities):
                handle = await env.client.start_workflow(
                    StackCheckWorkflow.run,
                    StackCheckRequest(check_id="recorded", requested_at=datetime.now(UTC)),
                    id="stack-check-recorded",
                    task_queue=queue,
                )
                await handle.result()
            history = await handle.fetch_history()
            (HISTORIES / "stack_check.json").write_text(history.to_json())
        finally:
            await env.shutdown()
            await pool.close()
            await postgres.stop()


if __name__ == "__main__":
    asyncio.run(record())
