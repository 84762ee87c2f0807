"""Importing a parsed plan: rows in one transaction, then one TaskWorkflow per task.

All or nothing, in two steps that are each safe to repeat:

1. In one PostgreSQL transaction (under a per-plan advisory lock) the plan and every task
   row are written, or nothing is: a refused import (warnings not accepted, a changed
   document without ``update``, a 文号 already imported under another plan id) rolls back.
2. After the commit, a TaskWorkflow is started for every open task whose workflow is not yet
   recorded as started. Workflow ids derive from plan and task and starts use
   USE_EXISTING, so if step 2 is interrupted (Temporal down, Ctrl-C), running the same
   import again finishes it without duplicating anything.

Temporal is checked before step 1, so the common failure writes nothing at all.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from domain.plan import ParsedPlan, PlanTask
from domain.plan_diff import PlanDiff, diff_tasks, plan_fingerprint, task_fingerprint
from runtime.errors import DubanError
from runtime.log import get_logger
from services.tasks import TemporalUnavailableError, revise_task, start_task, withdraw_task
from store import plans as plan_rows
from workflows.task_contract import task_workflow_id

log = get_logger(__name__)

Progress = Callable[[int, int], None]


class ImportRefusedError(DubanError):
    """The import would be wrong as asked; nothing was written."""

    exit_code = 3


@dataclass
class ImportOutcome:
    plan_id: str
    status: Literal["imported", "unchanged", "updated"]
    diff: PlanDiff
    workflows_started: int = 0
    revised: int = 0
    withdrawn: int = 0
    notes: list[str] = field(default_factory=list)


async def import_plan(
    parsed: ParsedPlan,
    *,
    pool: asyncpg.Pool,
    client: Client,
    task_queue: str,
    update: bool = False,
    accept_warnings: bool = False,
    start_concurrency: int = 50,
    on_progress: Progress | None = None,
) -> ImportOutcome:
    plan = parsed.plan
    if parsed.warnings and not accept_warnings:
        raise ImportRefusedError(
            f"{plan.source_file}: {len(parsed.warnings)} warnings need a coordinator's check; "
            "review them in `duban parse`, fix the document or import with --accept-warnings"
        )
    await _require_temporal(client)
    async with pool.acquire() as lock:
        await plan_rows.lock_plan(lock, plan.id)
        try:
            outcome = await _import_locked(parsed, pool=pool, update=update)
            await _catch_up_workflows(
                outcome,
                parsed,
                pool=pool,
                client=client,
                task_queue=task_queue,
                start_concurrency=start_concurrency,
                on_progress=on_progress,
            )
        finally:
            await plan_rows.unlock_plan(lock, plan.id)
    log.info(
        "plan imported",
        plan_id=plan.id,
        status=outcome.status,
        diff=outcome.diff.summary(),
        workflows_started=outcome.workflows_started,
    )
    return outcome


async def _import_locked(parsed: ParsedPlan, *, pool: asyncpg.Pool, update: bool) -> ImportOutcome:
    """Step 1: the rows, in one transaction, or a refusal that leaves everything as it was."""
    plan = parsed.plan
    fingerprint = plan_fingerprint(parsed)
    async with pool.acquire() as connection, connection.transaction():
        stored = await plan_rows.load_plan(connection, plan.id)
        if plan.document_number:
            holder = await plan_rows.plan_with_document_number(connection, plan.document_number)
            if holder is not None and holder != plan.id:
                raise _already_imported(
                    plan.source_file, f"document {plan.document_number}", holder
                )
        twin = await plan_rows.plan_with_fingerprint(connection, fingerprint)
        if twin is not None and twin != plan.id:
            raise _already_imported(plan.source_file, "this very document", twin)
        diff = diff_tasks(stored.task_fingerprints if stored else {}, parsed.tasks)
        if diff.moved:
            moves = ", ".join(f"{old}→{new}" for old, new in diff.moved[:12])
            raise ImportRefusedError(
                f"{plan.source_file}: tasks were renumbered ({moves}); a task's id carries its "
                "history (acceptance, sign-offs, escalations), so Duban will not move it to "
                "another task: keep the old numbers in the document, or import it as a new "
                "plan with --plan-id"
            )
        if stored is None:
            status: Literal["imported", "unchanged", "updated"] = "imported"
        elif diff.is_empty and stored.fingerprint == fingerprint:
            status = "unchanged"
        elif not update:
            raise ImportRefusedError(
                f"{plan.source_file}: plan {plan.id!r} was imported from a different version "
                f"({diff.summary()}: {diff.details()}); re-run with --update to apply the changes"
            )
        else:
            status = "updated"
        if status != "unchanged":
            try:
                await plan_rows.save_plan(connection, parsed, fingerprint)
            except asyncpg.UniqueViolationError:  # the same 文号 imported at the same moment
                raise _already_imported(
                    plan.source_file, f"document {plan.document_number}", "another plan"
                ) from None
            await plan_rows.save_tasks(connection, plan.id, [*diff.added, *diff.changed])
            await plan_rows.withdraw_tasks(connection, plan.id, diff.removed)
    return ImportOutcome(plan_id=plan.id, status=status, diff=diff)


def _already_imported(source_file: str, what: str, holder: str) -> ImportRefusedError:
    return ImportRefusedError(
        f"{source_file}: {what} is already imported as plan {holder!r}; "
        f"import it under that plan id (--plan-id {holder})"
    )


async def _catch_up_workflows(
    outcome: ImportOutcome,
    parsed: ParsedPlan,
    *,
    pool: asyncpg.Pool,
    client: Client,
    task_queue: str,
    start_concurrency: int,
    on_progress: Progress | None,
) -> None:
    """Step 2: tell the workflows what the committed rows say: start, revise, withdraw."""
    plan = parsed.plan
    async with pool.acquire() as connection:
        backlog = await plan_rows.workflow_backlog(connection, plan.id)
    tasks_by_id = {task.id: task for task in parsed.tasks}
    total = len(backlog.to_start) + len(backlog.to_revise) + len(backlog.to_withdraw)
    done = 0

    def advance() -> None:
        nonlocal done
        done += 1
        if on_progress:
            on_progress(done, total)

    semaphore = asyncio.Semaphore(start_concurrency)

    async def start(task: PlanTask) -> tuple[str, str]:
        fingerprint = task_fingerprint(task)
        async with semaphore:
            try:
                await start_task(
                    client,
                    task_queue=task_queue,
                    plan_id=plan.id,
                    task=task,
                    until_year=plan.period_end,
                    not_before=plan.issue_date,
                )
            except WorkflowAlreadyStartedError:
                # Started by an import that stopped before recording it, perhaps holding an
                # older reading: bring it to this one (a no-op if it already holds it).
                workflow_id = task_workflow_id(plan.id, task.id)
                await _saved_rows_hint(revise_task(client, workflow_id, task, fingerprint))
            advance()
            return task.id, fingerprint

    started, failures = await _run_starts(
        [start(tasks_by_id[task_id]) for task_id in backlog.to_start]
    )
    async with pool.acquire() as connection:
        await plan_rows.mark_workflows_started(connection, plan.id, started)
    outcome.workflows_started = len(started)
    if failures:
        raise DubanError(
            f"started {len(started)} of {len(backlog.to_start)} task workflows, then Temporal "
            f"failed ({_reason(failures[0])}); the rows are saved: run the same import again "
            "to start the rest"
        )

    for task_id in backlog.to_revise:
        task = tasks_by_id[task_id]
        fingerprint = task_fingerprint(task)
        workflow_id = task_workflow_id(plan.id, task_id)
        if await _saved_rows_hint(revise_task(client, workflow_id, task, fingerprint)):
            outcome.revised += 1
        async with pool.acquire() as connection:
            await plan_rows.mark_workflow_revised(connection, plan.id, task_id, fingerprint)
        advance()
    for task_id in backlog.to_withdraw:
        workflow_id = task_workflow_id(plan.id, task_id)
        reason = f"no longer in {plan.source_file}"
        if await _saved_rows_hint(withdraw_task(client, workflow_id, reason)):
            outcome.withdrawn += 1
        async with pool.acquire() as connection:
            await plan_rows.mark_withdrawal_sent(connection, plan.id, task_id)
        advance()


async def _run_starts(
    starts: Sequence[Coroutine[Any, Any, tuple[str, str]]],
) -> tuple[list[tuple[str, str]], list[BaseException]]:
    """Run every start; return (task id, fingerprint sent) of those started, and failures."""
    results = await asyncio.gather(*starts, return_exceptions=True)
    started = [result for result in results if isinstance(result, tuple)]
    failures = [result for result in results if isinstance(result, BaseException)]
    return started, failures


async def _saved_rows_hint(sent: Coroutine[Any, Any, bool]) -> bool:
    """A revision or withdrawal that Temporal could not take: the rows are committed, so
    the same import run again finishes the job."""
    try:
        return await sent
    except TemporalUnavailableError as error:
        raise DubanError(
            f"{error.message}. The rows are saved: run the same import again once Temporal "
            "and a worker run"
        ) from None


async def _require_temporal(client: Client) -> None:
    try:
        await asyncio.wait_for(client.service_client.check_health(), timeout=5)
    except (RPCError, TimeoutError) as error:
        raise DubanError(
            f"Temporal does not answer ({_reason(error)}); nothing was imported"
        ) from None


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
