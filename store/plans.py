"""Plans and plan tasks in PostgreSQL: the rows an import writes and the state it compares."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.plan import ParsedPlan, PlanTask
from domain.plan_diff import task_fingerprint
from store.db import Connection
from workflows.task import task_workflow_id


@dataclass(frozen=True)
class StoredPlan:
    plan_id: str
    fingerprint: str
    document_number: str | None
    task_fingerprints: dict[str, str]  # open (not withdrawn) tasks only
    # Tasks whose workflow an import found closed by itself, and the stage it closed in.
    closed_tasks: dict[str, str] = field(default_factory=dict)


async def lock_plan(connection: Connection, plan_id: str) -> None:
    """Serialise whole imports of one plan, rows and workflows alike, until ``unlock_plan``
    (two coordinators importing one plan at once must not interleave their starts)."""
    await connection.execute("SELECT pg_advisory_lock(hashtext('plan:' || $1))", plan_id)


async def unlock_plan(connection: Connection, plan_id: str) -> None:
    await connection.execute("SELECT pg_advisory_unlock(hashtext('plan:' || $1))", plan_id)


async def plan_with_fingerprint(connection: Connection, fingerprint: str) -> str | None:
    plan_id: str | None = await connection.fetchval(
        "SELECT plan_id FROM plans WHERE fingerprint = $1", fingerprint
    )
    return plan_id


async def load_plan(connection: Connection, plan_id: str) -> StoredPlan | None:
    row = await connection.fetchrow(
        "SELECT plan_id, fingerprint, document_number FROM plans WHERE plan_id = $1", plan_id
    )
    if row is None:
        return None
    # Closed by itself: found so by an earlier import, or, as the projection shows, since
    # (a run this import's withdrawal ended is not: it may come back as a new run).
    tasks = await connection.fetch(
        """
        SELECT t.task_id, t.fingerprint, t.withdrawn_at,
               coalesce(t.closed_stage, CASE
                   WHEN t.withdrawal_sent_at IS NULL AND s.stage IN ('completed', 'cancelled')
                   THEN s.stage END) AS closed_stage
        FROM plan_tasks t LEFT JOIN task_states s ON s.workflow_id = t.workflow_id
        WHERE t.plan_id = $1
        """,
        plan_id,
    )
    return StoredPlan(
        plan_id=row["plan_id"],
        fingerprint=row["fingerprint"],
        document_number=row["document_number"],
        task_fingerprints={
            task["task_id"]: task["fingerprint"] for task in tasks if task["withdrawn_at"] is None
        },
        closed_tasks={
            task["task_id"]: task["closed_stage"] for task in tasks if task["closed_stage"]
        },
    )


async def plan_with_document_number(connection: Connection, document_number: str) -> str | None:
    plan_id: str | None = await connection.fetchval(
        "SELECT plan_id FROM plans WHERE document_number = $1", document_number
    )
    return plan_id


async def save_plan(connection: Connection, parsed: ParsedPlan, fingerprint: str) -> None:
    plan = parsed.plan
    await connection.execute(
        """
        INSERT INTO plans (plan_id, title, issuer, document_number, issue_date, period_start,
                           period_end, source_file, format, fingerprint)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (plan_id) DO UPDATE SET
            title = EXCLUDED.title, issuer = EXCLUDED.issuer,
            document_number = EXCLUDED.document_number, issue_date = EXCLUDED.issue_date,
            period_start = EXCLUDED.period_start, period_end = EXCLUDED.period_end,
            source_file = EXCLUDED.source_file, format = EXCLUDED.format,
            fingerprint = EXCLUDED.fingerprint, updated_at = now()
        """,
        plan.id,
        plan.title,
        plan.issuer,
        plan.document_number,
        plan.issue_date,
        plan.period_start,
        plan.period_end,
        plan.source_file,
        plan.format,
        fingerprint,
    )


def _task_row(plan_id: str, task: PlanTask) -> tuple[object, ...]:
    return (
        plan_id,
        task.id,
        task_workflow_id(plan_id, task.id),
        task.seq,
        task.part,
        task.category,
        task.text,
        task.lead_units,
        task.cooperating_units,
        json.dumps([m.model_dump(mode="json") for m in task.milestones], ensure_ascii=False),
        task.recurrence.model_dump_json() if task.recurrence else None,
        task.ongoing,
        task.starts,
        task.final_due,
        task.source.model_dump_json(),
        [str(flag) for flag in task.flags],
        task_fingerprint(task),
    )


async def save_tasks(connection: Connection, plan_id: str, tasks: Sequence[PlanTask]) -> None:
    """Insert new tasks and overwrite changed ones; a re-added task is listed again.

    A re-added task gets a new workflow run only when this import's own withdrawal cancelled
    the old one. One whose withdrawal never reached its workflow keeps that workflow, which
    is still running or closed by itself; one found closed by itself stays closed."""
    await connection.executemany(
        """
        INSERT INTO plan_tasks (plan_id, task_id, workflow_id, seq, part, category, text,
                                lead_units, cooperating_units, milestones, recurrence, ongoing,
                                starts, due, source, flags, fingerprint)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12, $13, $14,
                $15::jsonb, $16, $17)
        ON CONFLICT (plan_id, task_id) DO UPDATE SET
            seq = EXCLUDED.seq, part = EXCLUDED.part, category = EXCLUDED.category,
            text = EXCLUDED.text, lead_units = EXCLUDED.lead_units,
            cooperating_units = EXCLUDED.cooperating_units, milestones = EXCLUDED.milestones,
            recurrence = EXCLUDED.recurrence, ongoing = EXCLUDED.ongoing,
            starts = EXCLUDED.starts, due = EXCLUDED.due, source = EXCLUDED.source,
            flags = EXCLUDED.flags, fingerprint = EXCLUDED.fingerprint,
            workflow_started_at = CASE
                WHEN plan_tasks.withdrawn_at IS NOT NULL
                     AND plan_tasks.withdrawal_sent_at IS NOT NULL
                     AND plan_tasks.closed_stage IS NULL THEN NULL
                ELSE plan_tasks.workflow_started_at END,
            -- withdrawal_sent_at stays until the new run is started: it marks the start
            -- as a new run of a withdrawn task, not a first one.
            withdrawn_at = NULL
        """,
        [_task_row(plan_id, task) for task in tasks],
    )


async def keep_closed_tasks(
    connection: Connection, plan_id: str, tasks: Sequence[PlanTask], closed: dict[str, str]
) -> None:
    """Tasks closed by themselves that the document lists again, changed or not: the row
    keeps the reading its workflow was given (the 办结 was signed off on that text) and
    takes only the new fingerprint, so the next import of this document finds it
    unchanged; it is listed again, and marked closed, so no start or revision is sent."""
    await connection.executemany(
        "UPDATE plan_tasks SET fingerprint = $3, withdrawn_at = NULL, closed_stage = $4,"
        " workflow_started_at = coalesce(workflow_started_at, now())"
        " WHERE plan_id = $1 AND task_id = $2",
        [(plan_id, task.id, task_fingerprint(task), closed[task.id]) for task in tasks],
    )


async def mark_tasks_closed(connection: Connection, plan_id: str, closed: dict[str, str]) -> None:
    await connection.executemany(
        "UPDATE plan_tasks SET closed_stage = $3,"
        " workflow_started_at = coalesce(workflow_started_at, now())"
        " WHERE plan_id = $1 AND task_id = $2",
        [(plan_id, task_id, stage) for task_id, stage in closed.items()],
    )


async def withdraw_tasks(connection: Connection, plan_id: str, task_ids: Sequence[str]) -> None:
    await connection.execute(
        "UPDATE plan_tasks SET withdrawn_at = now()"
        " WHERE plan_id = $1 AND task_id = ANY($2::text[]) AND withdrawn_at IS NULL",
        plan_id,
        list(task_ids),
    )


@dataclass(frozen=True)
class WorkflowBacklog:
    """What the plan's workflows have not yet been told."""

    to_start: list[str]
    to_revise: list[str]
    to_withdraw: list[str]
    # Of to_start: tasks whose earlier run this import's withdrawal ended; they come back as
    # a new run under the same workflow id. Any other start must find no run of that id.
    comebacks: set[str] = field(default_factory=set)


async def workflow_backlog(connection: Connection, plan_id: str) -> WorkflowBacklog:
    rows = await connection.fetch(
        """
        SELECT task_id, withdrawal_sent_at IS NOT NULL AS comeback,
               CASE
                   WHEN closed_stage IS NOT NULL THEN NULL
                   WHEN withdrawn_at IS NOT NULL THEN
                       CASE WHEN workflow_started_at IS NOT NULL AND withdrawal_sent_at IS NULL
                            THEN 'withdraw' END
                   WHEN workflow_started_at IS NULL THEN 'start'
                   WHEN workflow_fingerprint IS DISTINCT FROM fingerprint THEN 'revise'
               END AS action
        FROM plan_tasks WHERE plan_id = $1 ORDER BY seq, part NULLS FIRST
        """,
        plan_id,
    )
    backlog = WorkflowBacklog([], [], [])
    lists = {
        "start": backlog.to_start,
        "revise": backlog.to_revise,
        "withdraw": backlog.to_withdraw,
    }
    for row in rows:
        if row["action"] is not None:
            lists[row["action"]].append(row["task_id"])
        if row["action"] == "start" and row["comeback"]:
            backlog.comebacks.add(row["task_id"])
    return backlog


async def mark_workflow_started(
    connection: Connection, plan_id: str, task_id: str, fingerprint: str
) -> None:
    """The workflow exists, holding the task whose fingerprint was sent to it. Recorded as
    each start returns, so an import cut short knows which starts it already made."""
    await connection.execute(
        "UPDATE plan_tasks SET workflow_started_at = now(), workflow_fingerprint = $3,"
        " withdrawal_sent_at = NULL WHERE plan_id = $1 AND task_id = $2",
        plan_id,
        task_id,
        fingerprint,
    )


async def mark_workflow_closed(
    connection: Connection, plan_id: str, task_id: str, stage: str
) -> None:
    """The task's workflow was found closed by itself (``stage``): nothing more is sent to
    it, and it is never started again."""
    await connection.execute(
        "UPDATE plan_tasks SET closed_stage = $3,"
        " workflow_started_at = coalesce(workflow_started_at, now())"
        " WHERE plan_id = $1 AND task_id = $2",
        plan_id,
        task_id,
        stage,
    )


async def mark_workflow_revised(
    connection: Connection, plan_id: str, task_id: str, fingerprint: str
) -> None:
    await connection.execute(
        "UPDATE plan_tasks SET workflow_fingerprint = $3 WHERE plan_id = $1 AND task_id = $2",
        plan_id,
        task_id,
        fingerprint,
    )


async def mark_withdrawal_sent(connection: Connection, plan_id: str, task_id: str) -> None:
    await connection.execute(
        "UPDATE plan_tasks SET withdrawal_sent_at = now() WHERE plan_id = $1 AND task_id = $2",
        plan_id,
        task_id,
    )
