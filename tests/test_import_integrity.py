"""Plan import under races, closed tasks, interruptions and a Temporal that stops answering.

Each test asserts from PostgreSQL (and Temporal where it says so) what a supervision office
would count: one plan per document, one run and one 办结 per task, no revision that changed
nothing, and one clear line when Temporal or the worker is not there.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from domain.access import ActionKind
from domain.plan import ParsedPlan
from runtime.embedded import EmbeddedTemporal, free_port
from runtime.temporal import ensure_search_attributes
from services.plan_import import ImportOutcome, ImportRefusedError, import_plan
from services.tasks import send_action
from tests.support.integrity import (
    assert_event_log_consistent,
    assert_nothing_imported,
    assert_plan_consistent,
)
from tests.support.lifecycle import COORDINATOR, running_worker, settled, unit
from tests.support.plans import future_ledger
from tests.test_plan_import import make_plan, make_task
from workflows.task import TaskWorkflow, task_workflow_id
from workflows.task_contract import Accept, ReportProgress, Review, Submit


@pytest.fixture
async def worker(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str
) -> AsyncIterator[None]:
    async with running_worker(dev_server_env.client, db_pool, task_queue):
        yield


async def _import(
    parsed: ParsedPlan,
    env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    queue: str,
    *,
    update: bool = False,
) -> ImportOutcome:
    return await import_plan(parsed, pool=pool, client=env.client, task_queue=queue, update=update)


def _renamed(parsed: ParsedPlan, plan_id: str) -> ParsedPlan:
    return parsed.model_copy(update={"plan": parsed.plan.model_copy(update={"id": plan_id})})


async def _workflow_exists(client: Client, workflow_id: str) -> bool:
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def _count(pool: asyncpg.Pool, query: str, *args: object) -> int:
    count: int = await pool.fetchval(query, *args)
    return count


# ------------------------------------------------------------------ one document, one plan


@pytest.mark.fault
async def test_one_document_imported_twice_at_once_is_accepted_once(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: None
) -> None:
    """The same document (no 文号) imported at the same moment under two plan ids: the
    database lets one in; the other is refused by name and leaves no row and no workflow, so
    no task and no 督办 is doubled."""
    client = dev_server_env.client
    for trial in range(6):
        tasks = [make_task(1, f"建设平台{trial}"), make_task(2, f"整合系统{trial}")]
        first = make_plan(tasks, f"{task_queue}-{trial}-a")
        first.plan.document_number = None
        second = _renamed(first, f"{task_queue}-{trial}-b")
        results = await asyncio.gather(
            _import(first, dev_server_env, db_pool, task_queue),
            _import(second, dev_server_env, db_pool, task_queue),
            return_exceptions=True,
        )
        accepted = [result for result in results if isinstance(result, ImportOutcome)]
        refused = [result for result in results if isinstance(result, ImportRefusedError)]
        assert (len(accepted), len(refused)) == (1, 1), f"trial {trial}: {results}"
        winner = accepted[0].plan_id
        loser = second.plan.id if winner == first.plan.id else first.plan.id
        assert f"this very document is already imported as plan {winner!r}" in refused[0].message
        for task in tasks:
            assert not await _workflow_exists(client, task_workflow_id(loser, task.id))
            await settled(client.get_workflow_handle(task_workflow_id(winner, task.id)))
        await assert_nothing_imported(db_pool, client, loser)
        # Both tasks are long past due: one 督办 each, from the accepted plan only.
        escalations = await db_pool.fetch(
            "SELECT plan_id, task_id FROM task_events WHERE kind = 'escalation'"
            " AND plan_id = ANY($1::text[]) ORDER BY task_id",
            [first.plan.id, second.plan.id],
        )
        assert [(row["plan_id"], row["task_id"]) for row in escalations] == [
            (winner, "1"),
            (winner, "2"),
        ]
        await assert_plan_consistent(db_pool, client, winner)
        with pytest.raises(AssertionError, match="workflows of plan"):  # the check sees them
            await assert_nothing_imported(db_pool, client, winner)


# ------------------------------------------------------------------ closed tasks stay closed


async def _complete(client: Client, workflow_id: str, lead: str) -> None:
    """Take the task through 交办 → 承办 → 审核 → 办结 under idempotency keys."""
    steps = (
        (ActionKind.ACCEPT, Accept(actor=unit(lead))),
        (ActionKind.SUBMIT, Submit(actor=unit(lead), summary="已完成")),
        (ActionKind.REVIEW, Review(actor=COORDINATOR, approve=True)),
    )
    for kind, action in steps:
        await send_action(client, workflow_id, kind, action, f"complete-{kind}")
    closed = await client.get_workflow_handle(workflow_id).result()
    assert closed["state"]["stage"] == "completed"


@pytest.mark.fault
async def test_a_completed_task_stays_closed_through_removal_and_return(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: None
) -> None:
    """A task completed (办结), then dropped from the document by an --update, then listed
    again by the next one: it is neither withdrawn nor started again, its 办结 is counted once,
    and each import says what it did not do."""
    client = dev_server_env.client
    tasks = [make_task(1, "建设平台"), make_task(2, "整合系统"), make_task(3, "清理僵尸系统")]
    await _import(make_plan(tasks, task_queue), dev_server_env, db_pool, task_queue)
    workflow_id = task_workflow_id(task_queue, "3")
    await _complete(client, workflow_id, tasks[2].lead_units[0])

    dropped = await _import(
        make_plan(tasks[:2], task_queue), dev_server_env, db_pool, task_queue, update=True
    )
    assert dropped.withdrawn == 0
    assert "task 3 is closed (办结): not withdrawn" in dropped.notes

    back = await _import(
        make_plan(tasks, task_queue), dev_server_env, db_pool, task_queue, update=True
    )
    assert (
        await _count(
            db_pool,
            "SELECT count(DISTINCT lineage) FROM task_events WHERE workflow_id = $1",
            workflow_id,
        ),
        await _count(
            db_pool,
            "SELECT count(*) FROM task_events WHERE workflow_id = $1 AND kind = 'assigned'",
            workflow_id,
        ),
        await _count(
            db_pool,
            "SELECT count(*) FROM task_events WHERE workflow_id = $1 AND kind = 'completed'",
            workflow_id,
        ),
    ) == (1, 1, 1)
    assert (
        await db_pool.fetchval("SELECT stage FROM task_states WHERE workflow_id = $1", workflow_id)
        == "completed"
    )
    latest = await client.get_workflow_handle(workflow_id).describe()
    assert latest.status == WorkflowExecutionStatus.COMPLETED
    assert back.workflows_started == 0
    assert "task 3 is closed (办结): kept, not restarted" in back.notes

    again = await _import(make_plan(tasks, task_queue), dev_server_env, db_pool, task_queue)
    assert (again.status, again.workflows_started, again.revised) == ("unchanged", 0, 0)
    await assert_plan_consistent(db_pool, client, task_queue)


@pytest.mark.fault
async def test_a_task_back_as_a_new_run_and_completed_before_its_start_was_recorded(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: None
) -> None:
    """A task withdrawn by an import comes back as a new run, but that import stops before
    it records the start; the new run is then completed. The rerun finds the task closed
    and starts no third run beside it."""
    client = dev_server_env.client
    tasks = [make_task(1, "建设平台"), make_task(2, "整合系统")]
    await _import(make_plan(tasks, task_queue), dev_server_env, db_pool, task_queue)
    await _import(
        make_plan(tasks[:1], task_queue), dev_server_env, db_pool, task_queue, update=True
    )
    back = await _import(
        make_plan(tasks, task_queue), dev_server_env, db_pool, task_queue, update=True
    )
    assert back.workflows_started == 1
    workflow_id = task_workflow_id(task_queue, "2")
    # As if the import had been cut short right after Temporal took the start.
    await db_pool.execute(
        "UPDATE plan_tasks SET workflow_started_at = NULL, withdrawal_sent_at = now()"
        " WHERE plan_id = $1 AND task_id = '2'",
        task_queue,
    )
    await _complete(client, workflow_id, tasks[1].lead_units[0])

    rerun = await _import(
        make_plan(tasks, task_queue), dev_server_env, db_pool, task_queue, update=True
    )
    assert rerun.workflows_started == 0
    assert "task 2 is closed (办结): kept, not restarted" in rerun.notes
    completed = await _count(
        db_pool,
        "SELECT count(*) FROM task_events WHERE workflow_id = $1 AND kind = 'completed'",
        workflow_id,
    )
    assert completed == 1
    latest = await client.get_workflow_handle(workflow_id).describe()
    assert latest.status == WorkflowExecutionStatus.COMPLETED
    assert (
        await db_pool.fetchval("SELECT stage FROM task_states WHERE workflow_id = $1", workflow_id)
        == "completed"
    )
    await assert_plan_consistent(db_pool, client, task_queue)


@pytest.mark.fault
async def test_a_completed_task_is_neither_revised_nor_started_again(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: None
) -> None:
    """A completed task whose text changes is not revised; one whose start was never
    recorded (an import cut short) is found closed by the rerun and not started again."""
    client = dev_server_env.client
    tasks = [make_task(1, "建设平台"), make_task(2, "整合系统")]
    await _import(make_plan(tasks, task_queue), dev_server_env, db_pool, task_queue)
    for task in tasks:
        await _complete(client, task_workflow_id(task_queue, task.id), task.lead_units[0])
    await db_pool.execute(
        "UPDATE plan_tasks SET workflow_started_at = NULL, workflow_fingerprint = NULL"
        " WHERE task_id = '2'"
    )
    reworded = [make_task(1, "建设统一平台"), tasks[1]]
    outcome = await _import(
        make_plan(reworded, task_queue), dev_server_env, db_pool, task_queue, update=True
    )
    assert (outcome.workflows_started, outcome.revised) == (0, 0)
    assert sorted(outcome.notes) == [
        "task 1 is closed (办结): not revised",
        "task 2 is closed (办结): kept, not restarted",
    ]
    rows = await db_pool.fetch(
        "SELECT task_id, closed_stage, text FROM plan_tasks WHERE plan_id = $1 ORDER BY task_id",
        task_queue,
    )
    # The 办结 was signed off on the text the lead was given: the row keeps it.
    assert [(row["task_id"], row["closed_stage"], row["text"]) for row in rows] == [
        ("1", "completed", tasks[0].text),
        ("2", "completed", tasks[1].text),
    ]
    for task in tasks:
        workflow_id = task_workflow_id(task_queue, task.id)
        assert await _count(
            db_pool, "SELECT count(*) FROM task_events WHERE workflow_id = $1", workflow_id
        ) == await _count(
            db_pool,
            "SELECT count(*) FROM task_events WHERE workflow_id = $1 AND seq <= ("
            "SELECT seq FROM task_events WHERE workflow_id = $1 AND kind = 'completed')",
            workflow_id,
        )
        status = (await client.get_workflow_handle(workflow_id).describe()).status
        assert status == WorkflowExecutionStatus.COMPLETED
    again = await _import(make_plan(reworded, task_queue), dev_server_env, db_pool, task_queue)
    assert (again.status, again.workflows_started, again.revised, again.notes) == (
        "unchanged",
        0,
        0,
        [],
    )
    await assert_plan_consistent(db_pool, client, task_queue)


# ------------------------------------------------------------------ no revision for nothing


@pytest.mark.fault
async def test_an_import_cut_short_during_its_starts_revises_nothing_on_the_rerun(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: None
) -> None:
    """Cancelled after a few of its starts (as Ctrl-C does), then run again: the rerun
    starts the rest and sends no revision to a task whose content did not change."""
    parsed = make_plan([make_task(seq, f"第{seq}项任务") for seq in range(1, 21)], task_queue)
    importing: asyncio.Task[ImportOutcome] | None = None

    def cut_short(done: int, _total: int) -> None:
        if done >= 3 and importing is not None:
            importing.cancel()

    importing = asyncio.create_task(
        import_plan(
            parsed,
            pool=db_pool,
            client=dev_server_env.client,
            task_queue=task_queue,
            on_progress=cut_short,
        )
    )
    with pytest.raises(asyncio.CancelledError):
        await importing
    rerun = await _import(parsed, dev_server_env, db_pool, task_queue)
    assert rerun.revised == 0
    for task in parsed.tasks:
        await settled(
            dev_server_env.client.get_workflow_handle(task_workflow_id(task_queue, task.id))
        )
    assert (
        await _count(
            db_pool,
            "SELECT count(*) FROM task_events WHERE plan_id = $1 AND kind = 'revised'",
            task_queue,
        )
        == 0
    )
    assert (
        await _count(
            db_pool,
            "SELECT count(*) FROM task_events WHERE plan_id = $1 AND kind = 'assigned'",
            task_queue,
        )
        == 20
    )
    await assert_plan_consistent(db_pool, dev_server_env.client, task_queue)


# ------------------------------------------------------------------ every action under a key


async def test_an_action_needs_a_key_and_applies_once_under_it(
    dev_server_env: WorkflowEnvironment, db_pool: asyncpg.Pool, task_queue: str, worker: None
) -> None:
    """The caller-side module takes no action without an idempotency key; sent twice under
    one key (a retry), an action applies once and both answers are the same."""
    parsed = make_plan([make_task(1, "建设平台")], task_queue)
    await _import(parsed, dev_server_env, db_pool, task_queue)
    client = dev_server_env.client
    workflow_id = task_workflow_id(task_queue, "1")
    lead = unit(parsed.tasks[0].lead_units[0])
    with pytest.raises(TypeError):
        await send_action(client, workflow_id, ActionKind.ACCEPT, Accept(actor=lead))  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="idempotency key"):
        await send_action(client, workflow_id, ActionKind.ACCEPT, Accept(actor=lead), "")
    await send_action(client, workflow_id, ActionKind.ACCEPT, Accept(actor=lead), "accept-1")
    progress = ReportProgress(actor=lead, percent=40, text="完成需求调研")
    first = await send_action(client, workflow_id, ActionKind.PROGRESS, progress, "progress-1")
    retried = await send_action(client, workflow_id, ActionKind.PROGRESS, progress, "progress-1")
    assert retried == first
    await settled(client.get_workflow_handle(workflow_id))
    assert (
        await _count(
            db_pool,
            "SELECT count(*) FROM task_events WHERE workflow_id = $1 AND kind = 'progress'",
            workflow_id,
        )
        == 1
    )
    snapshot = await client.get_workflow_handle(workflow_id).query(TaskWorkflow.snapshot)
    assert [event.kind for event in snapshot.state.timeline].count("progress") == 1


# ------------------------------------------------------------------ the command line


def _duban_env(env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "DUBAN_LOG_FORMAT": "json", **env}


async def _duban(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli",
        *args,
        env=_duban_env(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=180)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.mark.fault
async def test_update_with_no_worker_is_one_line_and_the_rerun_finishes(
    dev_server_env: WorkflowEnvironment,
    dev_server_address: str,
    database_url: str,
    db_pool: asyncpg.Pool,
    task_queue: str,
    tmp_path: Path,
) -> None:
    """`duban import --update` while no worker polls the queue: one line naming the worker
    and the rerun, exit 1; run again once a worker is back, it revises the changed task."""
    env = {
        "DUBAN_TEMPORAL_ADDRESS": dev_server_address,
        "DUBAN_DATABASE_URL": database_url,
        "DUBAN_TEMPORAL_TASK_QUEUE": task_queue,
        "DUBAN_TEMPORAL_UPDATE_TIMEOUT_SECONDS": "2",
    }
    path = tmp_path / "plan.csv"
    path.write_bytes(future_ledger(rows=3))
    async with running_worker(dev_server_env.client, db_pool, task_queue):
        code, _out, err = await _duban("import", str(path), "--plan-id", task_queue, env=env)
        assert code == 0, err
        for seq in ("1", "2", "3"):
            await settled(
                dev_server_env.client.get_workflow_handle(task_workflow_id(task_queue, seq))
            )
    path.write_bytes(future_ledger(rows=3).replace("第2项".encode(), "第二项".encode()))

    code, _out, err = await _duban(
        "import", str(path), "--update", "--plan-id", task_queue, env=env
    )
    assert code == 1
    assert "Traceback" not in err
    assert len(_lines(err)) == 1, err
    assert "duban worker" in err
    assert "run the same import again" in err

    async with running_worker(dev_server_env.client, db_pool, task_queue):
        code, out, err = await _duban(
            "import", str(path), "--update", "--plan-id", task_queue, env=env
        )
        assert code == 0, err
        assert "1 revised" in out
        held = await settled(
            dev_server_env.client.get_workflow_handle(task_workflow_id(task_queue, "2"))
        )
        await assert_plan_consistent(db_pool, dev_server_env.client, task_queue)
    assert "第二项" in held.state.task.text
    assert (
        await _count(
            db_pool,
            "SELECT count(*) FROM task_events WHERE plan_id = $1 AND kind = 'revised'",
            task_queue,
        )
        == 1
    )


@pytest.mark.fault
@pytest.mark.parametrize(
    ("fault", "names"),
    [(signal.SIGKILL, "Temporal failed"), (signal.SIGSTOP, "DUBAN_IMPORT_GIVE_UP_SECONDS")],
    ids=["killed", "frozen"],
)
async def test_an_import_whose_temporal_dies_gives_up_in_one_line(
    fault: signal.Signals,
    names: str,
    tmp_path: Path,
    database_url: str,
    db_pool: asyncpg.Pool,
    task_queue: str,
) -> None:
    """Temporal killed for good, or frozen, while an import starts its workflows: the
    import gives up (a frozen server after DUBAN_IMPORT_GIVE_UP_SECONDS) with one line that
    says the rows are saved, instead of retrying each start and printing the SDK's retry
    warnings."""
    server = EmbeddedTemporal(tmp_path / "temporal.db", port=free_port(), ui_port=free_port())
    await server.start()
    assert server.process is not None
    path = tmp_path / "plan.csv"
    path.write_bytes(future_ledger(rows=1500))
    env = {
        "DUBAN_TEMPORAL_ADDRESS": server.address,
        "DUBAN_DATABASE_URL": database_url,
        "DUBAN_TEMPORAL_TASK_QUEUE": task_queue,
        "DUBAN_IMPORT_GIVE_UP_SECONDS": "3",
    }
    try:
        importing = asyncio.create_task(_duban("import", str(path), env=env))
        # A few starts made and recorded, most still to come: the server holds workflows
        # of the import when it dies, and the check after its restart has them to look at.
        started = "SELECT count(*) FROM plan_tasks WHERE workflow_started_at IS NOT NULL"
        waited = asyncio.get_running_loop().time() + 60  # a hang guard on a loaded machine
        while asyncio.get_running_loop().time() < waited:
            if await _count(db_pool, started) >= 5 or importing.done():
                break
            await asyncio.sleep(0.01)
        server.process.send_signal(fault)
        code, _out, err = await importing
    finally:
        if server.process.returncode is None:
            server.process.send_signal(signal.SIGKILL)  # a frozen server cannot stop itself
            await server.process.wait()
        await server.stop()
    assert code == 1
    assert "Traceback" not in err
    assert len(_lines(err)) == 1, err[:3000]
    assert names in err
    assert "run the same import again" in err
    assert await _count(db_pool, "SELECT count(*) FROM plan_tasks") == 1500
    await _check_what_the_dying_import_left(server, db_pool, task_queue)


async def _check_what_the_dying_import_left(
    server: EmbeddedTemporal, db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """Back on the server's own file (a frozen server ended killed too): the workflows it
    kept are exactly the tasks PostgreSQL marks started, each holds its record once a worker
    runs it, and no other task has recorded anything. (Rerunning the whole 1500-task import
    to finish it would be an ordinary import, checked above, at the cost of a minute.)"""
    back = EmbeddedTemporal(server.db_file, port=free_port(), ui_port=free_port())
    await back.start()
    try:
        client = await Client.connect(back.address, data_converter=pydantic_data_converter)
        plan_id = await db_pool.fetchval("SELECT plan_id FROM plans")
        rows = await db_pool.fetch(
            "SELECT task_id, workflow_started_at IS NOT NULL AS started FROM plan_tasks"
        )
        workflow_ids = {row["task_id"]: task_workflow_id(plan_id, row["task_id"]) for row in rows}
        kept = {
            task_id
            for task_id, exists in zip(
                workflow_ids,
                await asyncio.gather(*(_workflow_exists(client, w) for w in workflow_ids.values())),
                strict=True,
            )
            if exists
        }
        marked = {row["task_id"] for row in rows if row["started"]}
        assert len(marked) >= 5, "the server died before the import started anything"
        # A start accepted just before the kill may not be marked yet: the rerun marks it.
        assert marked <= kept, f"marked started without a workflow: {sorted(marked - kept)}"
        await ensure_search_attributes(client, client.namespace)  # as `duban worker` does
        async with running_worker(client, db_pool, task_queue):
            await assert_event_log_consistent(
                db_pool, client, [workflow_ids[task_id] for task_id in sorted(kept)], timeout=120
            )
        recorded = await db_pool.fetch("SELECT DISTINCT task_id FROM task_events")
        assert {row["task_id"] for row in recorded} <= kept
    finally:
        await back.stop()
