"""Plan import against a real dev server and PostgreSQL: all or nothing, and repeatable."""

from __future__ import annotations

import asyncio
from datetime import date

import asyncpg
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from domain.lifecycle import Stage
from domain.plan import Milestone, ParsedPlan, ParseWarning, Plan, PlanTask, Provenance
from runtime.embedded import installed_executable
from runtime.errors import DubanError
from services.plan_import import ImportOutcome, ImportRefusedError, import_plan
from tests.support.lifecycle import settled
from workflows.task import TaskWorkflow, task_workflow_id


def make_task(seq: int, text: str, lead: str = "市信息办") -> PlanTask:
    return PlanTask(
        id=str(seq),
        seq=seq,
        text=text,
        lead_units=[lead],
        milestones=[Milestone(due=date(2018, 6, 30), raw="2018年6月30日前")],
        source=Provenance(file="plan.txt", lines=(seq, seq)),
    )


def make_plan(tasks: list[PlanTask], plan_id: str, *, number: str | None = None) -> ParsedPlan:
    return ParsedPlan(
        plan=Plan(
            id=plan_id,
            title="测试计划",
            document_number=number or f"测〔2018〕{plan_id}号",
            period_start=2018,
            period_end=2018,
            source_file="plan.txt",
            format="test",
        ),
        tasks=tasks,
    )


async def _import(
    parsed: ParsedPlan,
    env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    queue: str,
    *,
    update: bool = False,
    accept_warnings: bool = False,
) -> ImportOutcome:
    return await import_plan(
        parsed,
        pool=pool,
        client=env.client,
        task_queue=queue,
        update=update,
        accept_warnings=accept_warnings,
    )


async def _task_rows(pool: asyncpg.Pool) -> dict[str, asyncpg.Record]:
    rows = await pool.fetch("SELECT * FROM plan_tasks ORDER BY seq")
    return {row["task_id"]: row for row in rows}


async def test_import_stores_every_task_and_starts_one_workflow_each(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: Worker
) -> None:
    """Rows for the plan and each task; a held TaskWorkflow per task, id plan/task."""
    parsed = make_plan([make_task(1, "建设平台"), make_task(2, "整合系统")], task_queue)
    outcome = await _import(parsed, dev_server_env, db_pool, task_queue)
    assert (outcome.status, outcome.workflows_started) == ("imported", 2)
    rows = await _task_rows(db_pool)
    assert set(rows) == {"1", "2"}
    assert all(row["workflow_started_at"] is not None for row in rows.values())
    snapshot = await dev_server_env.client.get_workflow_handle(
        task_workflow_id(task_queue, "2")
    ).query(TaskWorkflow.snapshot)
    assert snapshot.state.task.text == "整合系统"
    assert snapshot.state.stage is Stage.ASSIGNED


async def test_same_document_again_starts_nothing(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: Worker
) -> None:
    """A second import of the same document says so and starts no workflow."""
    parsed = make_plan([make_task(1, "建设平台")], task_queue)
    await _import(parsed, dev_server_env, db_pool, task_queue)
    again = await _import(parsed, dev_server_env, db_pool, task_queue)
    assert (again.status, again.workflows_started) == ("unchanged", 0)
    runs = [
        execution
        async for execution in dev_server_env.client.list_workflows(
            f"WorkflowId = '{task_workflow_id(task_queue, '1')}'"
        )
    ]
    assert len(runs) == 1


async def test_changed_document_needs_update_and_then_applies_it(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: Worker
) -> None:
    """Without --update nothing changes; with it new tasks start, changed ones are revised,
    removed ones are withdrawn."""
    first = make_plan(
        [make_task(1, "建设平台"), make_task(2, "整合系统"), make_task(3, "清理僵尸系统")],
        task_queue,
    )
    await _import(first, dev_server_env, db_pool, task_queue)
    # The task is past due: let it record its hand-off and 督办 before the re-import, so
    # that the revision is the last thing it did.
    await settled(dev_server_env.client.get_workflow_handle(task_workflow_id(task_queue, "2")))
    second = make_plan(
        [make_task(1, "建设平台"), make_task(2, "整合全部系统"), make_task(4, "开放数据")],
        task_queue,
    )

    with pytest.raises(ImportRefusedError, match="1 new, 1 changed, 1 removed"):
        await _import(second, dev_server_env, db_pool, task_queue)
    assert (await _task_rows(db_pool))["2"]["text"] == "整合系统"

    outcome = await _import(second, dev_server_env, db_pool, task_queue, update=True)
    assert (outcome.status, outcome.workflows_started, outcome.revised, outcome.withdrawn) == (
        "updated",
        1,
        1,
        1,
    )
    client = dev_server_env.client
    revised = await client.get_workflow_handle(task_workflow_id(task_queue, "2")).query(
        TaskWorkflow.snapshot
    )
    assert revised.state.task.text == "整合全部系统"
    assert [event.kind for event in revised.state.timeline][-1] == "revised"
    withdrawn = client.get_workflow_handle(task_workflow_id(task_queue, "3"))
    closed = await withdrawn.result()
    assert closed["state"]["stage"] == "cancelled"
    assert (await withdrawn.describe()).status == WorkflowExecutionStatus.COMPLETED
    rows = await _task_rows(db_pool)
    assert rows["3"]["withdrawn_at"] is not None
    assert rows["4"]["workflow_started_at"] is not None


async def test_warnings_must_be_accepted(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """A plan with warnings writes nothing unless they are accepted."""
    parsed = make_plan([make_task(1, "建设平台")], task_queue)
    parsed.warnings.append(ParseWarning(line=1, code="truncated_row", message="cut off"))
    with pytest.raises(ImportRefusedError, match="1 warnings"):
        await _import(parsed, dev_server_env, db_pool, task_queue)
    assert await db_pool.fetchval("SELECT count(*) FROM plans") == 0
    outcome = await _import(parsed, dev_server_env, db_pool, task_queue, accept_warnings=True)
    assert outcome.status == "imported"


async def test_one_document_cannot_become_two_plans(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """The same 文号 under a second plan id is refused and names the first."""
    original = make_plan([make_task(1, "建设平台")], task_queue)
    await _import(original, dev_server_env, db_pool, task_queue)
    copy = make_plan(
        [make_task(1, "建设平台")], f"{task_queue}-copy", number=original.plan.document_number
    )
    with pytest.raises(ImportRefusedError, match=f"already imported as plan '{task_queue}'"):
        await _import(copy, dev_server_env, db_pool, task_queue)
    assert await db_pool.fetchval("SELECT count(*) FROM plans") == 1


async def test_interrupted_import_is_finished_by_running_it_again(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: Worker
) -> None:
    """Rows committed but a workflow not started (Temporal fell over): the rerun starts it."""
    parsed = make_plan([make_task(1, "建设平台"), make_task(2, "整合系统")], task_queue)
    await _import(parsed, dev_server_env, db_pool, task_queue)
    handle = dev_server_env.client.get_workflow_handle(task_workflow_id(task_queue, "2"))
    await handle.terminate("simulate a start that never happened")
    await db_pool.execute("UPDATE plan_tasks SET workflow_started_at = NULL WHERE task_id = '2'")
    outcome = await _import(parsed, dev_server_env, db_pool, task_queue)
    assert (outcome.status, outcome.workflows_started) == ("unchanged", 1)
    restarted = dev_server_env.client.get_workflow_handle(task_workflow_id(task_queue, "2"))
    assert (await restarted.describe()).status == WorkflowExecutionStatus.RUNNING


async def test_temporal_down_writes_nothing(db_pool: asyncpg.Pool, task_queue: str) -> None:
    """If Temporal does not answer, the import fails before any row is written."""
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(installed_executable("temporal")),
        ui=False,
    )
    client: Client = env.client
    await env.shutdown()
    with pytest.raises(DubanError, match="nothing was imported"):
        await import_plan(
            make_plan([make_task(1, "建设平台")], task_queue),
            pool=db_pool,
            client=client,
            task_queue=task_queue,
        )
    assert await db_pool.fetchval("SELECT count(*) FROM plan_tasks") == 0


async def test_revision_not_delivered_is_sent_on_the_next_run(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: Worker
) -> None:
    """A revise that never reached its workflow (no worker then) goes out on the next run."""
    first = make_plan([make_task(1, "建设平台")], task_queue)
    await _import(first, dev_server_env, db_pool, task_queue)
    second = make_plan([make_task(1, "建设统一平台")], task_queue)
    await _import(second, dev_server_env, db_pool, task_queue, update=True)
    await db_pool.execute("UPDATE plan_tasks SET workflow_fingerprint = 'stale'")
    again = await _import(second, dev_server_env, db_pool, task_queue)
    assert (again.status, again.revised) == ("unchanged", 1)
    held = await dev_server_env.client.get_workflow_handle(task_workflow_id(task_queue, "1")).query(
        TaskWorkflow.snapshot
    )
    assert held.state.task.text == "建设统一平台"


def test_diff_names_the_tasks_that_changed() -> None:
    """A refused re-import says which task ids are new, changed and removed."""
    from domain.plan_diff import diff_tasks, task_fingerprint

    stored = {"1": task_fingerprint(make_task(1, "建设平台")), "2": "old", "3": "gone"}
    diff = diff_tasks(
        stored, [make_task(1, "建设平台"), make_task(2, "整合"), make_task(4, "新增")]
    )
    assert diff.details() == "new: 4; changed: 2; removed: 3"
    assert diff.summary() == "1 new, 1 changed, 1 removed, 1 unchanged"


async def test_renumbered_rows_are_refused(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """A row inserted above others shifts their numbers: refused, so no workflow's history
    is moved onto a different task."""
    first = make_plan([make_task(1, "建设平台"), make_task(2, "整合系统")], task_queue)
    await _import(first, dev_server_env, db_pool, task_queue)
    shifted = make_plan(
        [make_task(1, "建设平台"), make_task(2, "新增任务"), make_task(3, "整合系统")], task_queue
    )
    with pytest.raises(ImportRefusedError, match="renumbered \\(2→3\\)"):
        await _import(shifted, dev_server_env, db_pool, task_queue, update=True)
    assert (await _task_rows(db_pool))["2"]["text"] == "整合系统"


async def test_same_document_under_another_file_name_is_refused(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """A renamed copy of a document without 文号 is recognised by its content."""
    original = make_plan([make_task(1, "建设平台")], task_queue)
    original.plan.document_number = None
    await _import(original, dev_server_env, db_pool, task_queue)
    renamed = original.model_copy(
        update={"plan": original.plan.model_copy(update={"id": f"{task_queue}-renamed"})}
    )
    with pytest.raises(ImportRefusedError, match="this very document is already imported"):
        await _import(renamed, dev_server_env, db_pool, task_queue)


async def test_start_found_running_is_brought_up_to_date(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: Worker
) -> None:
    """An import that started a workflow but died before recording it, then an --update:
    the existing workflow is revised to the new reading instead of silently kept old."""
    await _import(
        make_plan([make_task(1, "建设平台")], task_queue), dev_server_env, db_pool, task_queue
    )
    await db_pool.execute(
        "UPDATE plan_tasks SET workflow_started_at = NULL, workflow_fingerprint = NULL"
    )
    newer = make_plan([make_task(1, "建设统一平台")], task_queue)
    outcome = await _import(newer, dev_server_env, db_pool, task_queue, update=True)
    assert outcome.workflows_started == 1
    held = await dev_server_env.client.get_workflow_handle(task_workflow_id(task_queue, "1")).query(
        TaskWorkflow.snapshot
    )
    assert held.state.task.text == "建设统一平台"
    again = await _import(newer, dev_server_env, db_pool, task_queue)
    assert (again.workflows_started, again.revised) == (0, 0)


async def test_a_task_that_comes_back_is_recorded_afresh(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: Worker
) -> None:
    """Withdrawn by one --update and added back by the next: its new run's events are
    recorded beside the old run's (sequence numbers restart), and its state is open again."""
    both = make_plan([make_task(1, "建设平台"), make_task(2, "整合系统")], task_queue)
    await _import(both, dev_server_env, db_pool, task_queue)
    workflow_id = task_workflow_id(task_queue, "2")
    first_run = dev_server_env.client.get_workflow_handle(workflow_id)
    await _import(
        make_plan([make_task(1, "建设平台")], task_queue),
        dev_server_env,
        db_pool,
        task_queue,
        update=True,
    )
    await first_run.result()
    await _import(both, dev_server_env, db_pool, task_queue, update=True)
    again = dev_server_env.client.get_workflow_handle(workflow_id)
    for _ in range(100):
        lineages = await db_pool.fetchval(
            "SELECT count(DISTINCT lineage) FROM task_events WHERE workflow_id = $1", workflow_id
        )
        stage = await db_pool.fetchval(
            "SELECT stage FROM task_states WHERE workflow_id = $1", workflow_id
        )
        if lineages == 2 and stage == "assigned":
            break
        await asyncio.sleep(0.1)
    assert (lineages, stage) == (2, "assigned")
    assert (await again.describe()).status == WorkflowExecutionStatus.RUNNING
