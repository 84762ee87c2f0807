"""Importing a parsed plan: rows in one transaction, then one TaskWorkflow per task.

All or nothing, in two steps that are each safe to repeat:

1. In one PostgreSQL transaction (under a per-plan advisory lock) the plan and every task
   row are written, or nothing is: a refused import (warnings not accepted, a changed
   document without ``update``, a 文号 already imported under another plan id) rolls back.
2. After the commit, a TaskWorkflow is started for every open task whose workflow is not yet
   recorded as started, and each start is recorded as it returns. Workflow ids derive from
   plan and task, and a start finds any earlier run of its id, so if step 2 is interrupted
   (Temporal down, Ctrl-C), running the same import again finishes it without duplicating
   anything, and without revising a task that did not change.

Temporal is checked before step 1, so the common failure writes nothing at all. A Temporal
that stops answering during step 2 ends it within ``give_up_after`` seconds, in one line.

A task whose workflow closed by itself (办结, or 撤销 by a coordinator) stays closed: it is
neither withdrawn, revised nor started again, and the outcome's notes say so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import asyncpg
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from domain.plan import ParsedPlan, PlanTask
from domain.plan_diff import PlanDiff, diff_tasks, plan_fingerprint, task_fingerprint
from domain.rebase import needs_check
from runtime.errors import DubanError
from runtime.log import get_logger
from services.tasks import (
    UPDATE_TIMEOUT_SECONDS,
    TaskClosed,
    TemporalUnavailableError,
    revise_task,
    run_taken_back,
    start_task,
    withdraw_task,
)
from store import plans as plan_rows
from store.db import Connection
from workflows.task_contract import task_workflow_id

log = get_logger(__name__)

Progress = Callable[[int, int], None]

# The default of DUBAN_IMPORT_GIVE_UP_SECONDS: how long an import waits on a Temporal that
# stopped answering before it stops.
GIVE_UP_SECONDS = 60.0


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
    update_timeout: float = UPDATE_TIMEOUT_SECONDS,
    give_up_after: float = GIVE_UP_SECONDS,
) -> ImportOutcome:
    plan = parsed.plan
    to_check = needs_check(parsed.warnings)  # the note of a --rebase-year asks for none
    if to_check and not accept_warnings:
        raise ImportRefusedError(
            f"{plan.source_file}: {len(to_check)} warnings need a coordinator's check; "
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
                update_timeout=update_timeout,
                give_up_after=give_up_after,
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
                async with connection.transaction():  # a savepoint, to ask who won
                    await plan_rows.save_plan(connection, parsed, fingerprint)
            except asyncpg.UniqueViolationError as violation:
                # The same document imported at the same moment under another plan id: the
                # check above could not see the other's rows before they were committed.
                raise await _twin_refusal(connection, parsed, fingerprint, violation) from None
            closed = stored.closed_tasks if stored else {}
            listed = [*diff.added, *diff.changed]
            await plan_rows.save_tasks(
                connection, plan.id, [task for task in listed if task.id not in closed]
            )
            await plan_rows.keep_closed_tasks(
                connection, plan.id, [task for task in listed if task.id in closed], closed
            )
            await plan_rows.withdraw_tasks(connection, plan.id, diff.removed)
            await plan_rows.mark_tasks_closed(
                connection,
                plan.id,
                {task_id: closed[task_id] for task_id in diff.removed if task_id in closed},
            )
    outcome = ImportOutcome(plan_id=plan.id, status=status, diff=diff)
    closed = stored.closed_tasks if stored else {}
    for what, task_ids in (
        ("kept, not restarted", [task.id for task in diff.added]),
        ("not revised", [task.id for task in diff.changed]),
        ("not withdrawn", diff.removed),
    ):
        outcome.notes.extend(
            _closed_note(task_id, TaskClosed(closed[task_id]), what)
            for task_id in task_ids
            if task_id in closed
        )
    return outcome


async def _twin_refusal(
    connection: Connection,
    parsed: ParsedPlan,
    fingerprint: str,
    violation: asyncpg.UniqueViolationError,
) -> ImportRefusedError:
    plan = parsed.plan
    if violation.constraint_name == "plans_one_per_document":
        holder = await plan_rows.plan_with_fingerprint(connection, fingerprint)
        what = "this very document"
    else:
        holder = await plan_rows.plan_with_document_number(connection, plan.document_number or "")
        what = f"document {plan.document_number}"
    return _already_imported(plan.source_file, what, holder or "another plan")


def _closed_note(task_id: str, closed: TaskClosed, what: str) -> str:
    return f"task {task_id} is closed ({closed.label}): {what}"


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
    update_timeout: float,
    give_up_after: float,
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

    async def start(task: PlanTask, new_run: bool) -> None:
        fingerprint = task_fingerprint(task)
        workflow_id = task_workflow_id(plan.id, task.id)
        async with semaphore:
            try:
                async with asyncio.timeout(give_up_after):
                    if new_run:
                        new_run = await run_taken_back(client, workflow_id)
                    await start_task(
                        client,
                        task_queue=task_queue,
                        plan_id=plan.id,
                        task=task,
                        until_year=plan.period_end,
                        not_before=plan.recurrences_begin,
                        new_run=new_run,
                    )
            except WorkflowAlreadyStartedError:
                # A run of this id exists: started by an import that stopped before it
                # recorded the start, perhaps holding an older reading (brought to this one;
                # nothing is sent if it holds this one), or closed by itself (kept closed).
                revised = await revise_task(
                    client, workflow_id, task, fingerprint, timeout=update_timeout
                )
                if isinstance(revised, TaskClosed):
                    async with pool.acquire() as connection:
                        await plan_rows.mark_workflow_closed(
                            connection, plan.id, task.id, revised.stage
                        )
                    outcome.notes.append(_closed_note(task.id, revised, "kept, not restarted"))
                    advance()
                    return
            async with pool.acquire() as connection:
                await plan_rows.mark_workflow_started(connection, plan.id, task.id, fingerprint)
            outcome.workflows_started += 1
            advance()

    try:
        # A task group: the first start that fails cancels the others, so a Temporal that
        # died costs one bounded wait, not one per task.
        async with asyncio.TaskGroup() as starting:
            for task_id in backlog.to_start:
                starting.create_task(start(tasks_by_id[task_id], task_id in backlog.comebacks))
    except* Exception as failed:
        first = failed.exceptions[0]
        what = "Temporal failed" if isinstance(first, _TEMPORAL_FAILURES) else "it failed"
        raise DubanError(
            f"started {outcome.workflows_started} of {len(backlog.to_start)} task workflows, "
            f"then {what} ({_reason(first, give_up_after)}); the rows are saved: run the same "
            "import again to start the rest"
        ) from None

    for task_id in backlog.to_revise:
        task = tasks_by_id[task_id]
        fingerprint = task_fingerprint(task)
        workflow_id = task_workflow_id(plan.id, task_id)
        revised = await _saved_rows_hint(
            revise_task(client, workflow_id, task, fingerprint, timeout=update_timeout)
        )
        async with pool.acquire() as connection:
            if isinstance(revised, TaskClosed):
                await plan_rows.mark_workflow_closed(connection, plan.id, task_id, revised.stage)
                outcome.notes.append(_closed_note(task_id, revised, "not revised"))
            else:
                await plan_rows.mark_workflow_revised(connection, plan.id, task_id, fingerprint)
                if revised == "revised":
                    outcome.revised += 1
        advance()
    for task_id in backlog.to_withdraw:
        workflow_id = task_workflow_id(plan.id, task_id)
        reason = f"no longer in {plan.source_file}"
        withdrawn = await _saved_rows_hint(
            withdraw_task(client, workflow_id, reason, timeout=update_timeout)
        )
        async with pool.acquire() as connection:
            if isinstance(withdrawn, TaskClosed):
                await plan_rows.mark_workflow_closed(connection, plan.id, task_id, withdrawn.stage)
                outcome.notes.append(_closed_note(task_id, withdrawn, "not withdrawn"))
            else:
                await plan_rows.mark_withdrawal_sent(connection, plan.id, task_id)
                outcome.withdrawn += 1
        advance()


T = TypeVar("T")

# What a start raises when Temporal is down, frozen or refusing (the rest are bugs or the
# database, reported as they are).
_TEMPORAL_FAILURES = (RPCError, TemporalUnavailableError, TimeoutError)


async def _saved_rows_hint(sent: Coroutine[Any, Any, T]) -> T:
    """A revision or withdrawal that Temporal could not take: the rows are committed, so
    the same import run again finishes the job."""
    try:
        return await sent
    except TemporalUnavailableError as error:
        raise DubanError(
            f"{error.message} (the rows are saved: run the same import again once Temporal "
            "and a worker run)"
        ) from None


async def _require_temporal(client: Client) -> None:
    try:
        await asyncio.wait_for(client.service_client.check_health(), timeout=5)
    except (RPCError, TimeoutError) as error:
        raise DubanError(
            f"Temporal does not answer ({_reason(error)}); nothing was imported"
        ) from None


def _reason(error: BaseException, give_up_after: float | None = None) -> str:
    if isinstance(error, TimeoutError) and give_up_after is not None:
        return f"no answer within {give_up_after:g} s (DUBAN_IMPORT_GIVE_UP_SECONDS)"
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
