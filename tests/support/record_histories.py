"""Record workflow histories for the replay tests: ``python -m tests.support.record_histories``.

Run it only when a workflow changes on purpose (behind ``workflow.patched``); the files it
writes are what running workflows in production look like, and CI replays them against the
current code so an unguarded change fails.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from domain.plan import Milestone, PlanTask, Provenance
from runtime.embedded import EmbeddedPostgres, free_port, installed_executable
from runtime.settings import Settings
from store.db import create_pool
from store.migrate import migrate_database
from workers.registry import build_activities
from workers.service import build_worker
from workflows.stack_check import StackCheckRequest, StackCheckWorkflow
from workflows.task import TaskWorkflow, TaskWorkflowInput, Withdrawal, task_workflow_id

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
                await _write(handle, "stack_check")
                task = PlanTask(
                    id="3",
                    seq=3,
                    text="建立网上审批负面清单制度",
                    lead_units=["各县区政府"],
                    milestones=[Milestone(due=date(2018, 6, 30), raw="2018年6月30日前")],
                    source=Provenance(file="recorded.txt", lines=(3, 5)),
                )
                held = await env.client.start_workflow(
                    TaskWorkflow.run,
                    TaskWorkflowInput(plan_id="recorded", task=task),
                    id=task_workflow_id("recorded", task.id),
                    task_queue=queue,
                )
                revised = task.model_copy(update={"text": "建立并公布网上审批负面清单制度"})
                await held.execute_update(TaskWorkflow.revise, revised, id="revise-1")
                await held.execute_update(
                    TaskWorkflow.withdraw, Withdrawal(reason="no longer in recorded.txt")
                )
                await held.result()
                await _write(held, "task_held_revised_withdrawn")
        finally:
            await env.shutdown()
            await pool.close()
            await postgres.stop()


async def _write(handle: WorkflowHandle[Any, Any], name: str) -> None:
    history = await handle.fetch_history()
    (HISTORIES / f"{name}.json").write_text(history.to_json())


if __name__ == "__main__":
    asyncio.run(record())
