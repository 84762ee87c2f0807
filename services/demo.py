"""``duban dev``'s live demo: an example plan re-dated to today and played forward.

:func:`load_demo_plan` imports a parsed plan shifted by whole years (domain.rebase) and
then plays part of it through the real lifecycle (domain.demo says which tasks and how
far): the same TaskWorkflow updates the API sends, through ``services.tasks.send_action``,
each under an idempotency key of its own (``duban-dev-demo:<step>``, one per task and
step).

Each task is played at most once. The shift is chosen at the first import, from today
(:func:`domain.rebase.choose_rebase_years`); every later run reads it back from the stored
task rows (their provenance's ``rebased_years``), so the dates never move under work done
and the same document is "unchanged". A task that anyone has acted on (an event with an
actor: an earlier run of the demo, or a person on the board or the API) is left as it
stands; only tasks untouched since 交办 are played, so a later day's run plays just the
untouched tasks that have fallen due since, and a second run on the same day sends
nothing. Should a recorded action be missing from the projection still, its step's key
makes the workflow answer the first result instead of acting twice; a step the lifecycle
refuses (a person got there first) leaves that task to the person.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date

import asyncpg
from temporalio.client import Client

from domain.demo import DemoCounts, DemoPart, Standing, demo_counts, demo_parts, standing
from domain.lifecycle import Stage
from domain.plan import ParsedPlan
from domain.rebase import choose_rebase_years, rebase_plan
from runtime.errors import DubanError
from runtime.log import get_logger
from services.plan_import import GIVE_UP_SECONDS, ImportOutcome, import_plan
from services.simulate import ScriptedStep, completion_steps
from services.tasks import (
    UPDATE_TIMEOUT_SECONDS,
    TaskActionRefusedError,
    TaskGoneError,
    send_action,
)
from workflows.task_contract import task_workflow_id

log = get_logger(__name__)

DEMO_KEY_PREFIX = "duban-dev-demo"
# Tasks played at once: each task's steps go one after another.
DEMO_CONCURRENCY = 8


@dataclass
class DemoOutcome:
    plan_id: str
    tasks: int
    years: int
    imported: ImportOutcome
    counts: DemoCounts
    actions_sent: int = 0  # updates sent this run
    already_played: int = 0  # tasks acted on before this run (by the demo or a person): left
    # Tasks a person had moved on before the script reached them: left as they are.
    left_to_people: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The address table's line: "dongying: dates +9 years, 7 done, 24 due in 90 days,
        1 overdue" (the plan id's first word names the plan, to keep it one line)."""
        name = self.plan_id.split("-", 1)[0]
        left = len(self.left_to_people)
        people = f", {left} left as people left them" if left else ""
        return f"{name}: dates {self.years:+d} years, {self.counts.describe()}{people}"


def demo_steps(part: DemoPart) -> list[ScriptedStep]:
    """The steps of a task's part: a prefix of its path to 办结 (services.simulate)."""
    if not part.acts:
        return []
    done = part.milestones_done
    next_progress = f"m{done}:progress" if part.progress_reported else None
    return [
        step
        for step in completion_steps(part.task)
        if step.milestone is None or step.milestone < done or step.name == next_progress
    ]


async def stored_rebase_years(pool: asyncpg.Pool, plan_id: str) -> int | None:
    """The shift the plan's stored tasks record (None: not imported, or as written)."""
    years: int | None = await pool.fetchval(
        "SELECT (source ->> 'rebased_years')::int FROM plan_tasks"
        " WHERE plan_id = $1 AND source ? 'rebased_years' LIMIT 1",
        plan_id,
    )
    return years


async def load_demo_plan(
    parsed: ParsedPlan,
    *,
    pool: asyncpg.Pool,
    client: Client,
    task_queue: str,
    today: date,
    update_timeout: float = UPDATE_TIMEOUT_SECONDS,
    give_up_after: float = GIVE_UP_SECONDS,
    concurrency: int = DEMO_CONCURRENCY,
) -> DemoOutcome:
    """Import ``parsed`` (as the document reads) re-dated, then play it forward on ``today``.

    The import accepts the plan's warnings and updates an earlier import (as ``duban dev``
    always has). Raises what the import raises, and TemporalUnavailableError when no worker
    takes the actions.
    """
    stored = await stored_rebase_years(pool, parsed.plan.id)
    years = stored if stored is not None else choose_rebase_years(parsed, today)
    rebased = rebase_plan(parsed, years)
    imported = await import_plan(
        rebased,
        pool=pool,
        client=client,
        task_queue=task_queue,
        update=True,
        accept_warnings=True,
        update_timeout=update_timeout,
        give_up_after=give_up_after,
    )
    parts = demo_parts(rebased, today)
    touched = await _acted_on(pool, rebased.plan.id)
    outcome = DemoOutcome(
        plan_id=rebased.plan.id,
        tasks=len(rebased.tasks),
        years=years,
        imported=imported,
        counts=demo_counts([], today),  # filled in once played
    )
    semaphore = asyncio.Semaphore(concurrency)

    async def play(part: DemoPart) -> Standing | None:
        """Where the task stands once played; None when the counts leave it out."""
        workflow_id = task_workflow_id(rebased.plan.id, part.task.id)
        if workflow_id in touched:  # acted on before: by an earlier run, or by a person
            outcome.already_played += 1
            return touched[workflow_id] if standing(part) is not None else None
        async with semaphore:
            for step in demo_steps(part):
                key = f"{DEMO_KEY_PREFIX}:{step.name}"
                try:
                    await send_action(
                        client, workflow_id, step.kind, step.payload, key, timeout=update_timeout
                    )
                except (TaskActionRefusedError, TaskGoneError) as refused:
                    log.info(
                        "demo step left to people",
                        workflow_id=workflow_id,
                        step=step.name,
                        reason=refused.message,
                    )
                    outcome.left_to_people.append(part.task.id)
                    return None
                outcome.actions_sent += 1
        return standing(part)

    try:
        async with asyncio.TaskGroup() as playing:
            played = [playing.create_task(play(part)) for part in parts]
    except* DubanError as failed:
        raise failed.exceptions[0] from None  # one line (no worker, Temporal gone)
    outcome.counts = demo_counts((task.result() for task in played), today)
    outcome.left_to_people.sort()
    log.info(
        "demo plan played",
        plan_id=outcome.plan_id,
        years=years,
        actions=outcome.actions_sent,
        already_played=outcome.already_played,
        counts=outcome.counts.describe(),
    )
    return outcome


async def _acted_on(pool: asyncpg.Pool, plan_id: str) -> dict[str, Standing | None]:
    """The plan's tasks someone has acted on (an event with an actor), and where each
    stands as projected (None: cancelled)."""
    rows = await pool.fetch(
        """
        SELECT s.workflow_id, s.stage, s.next_due FROM task_states s
        WHERE s.plan_id = $1 AND EXISTS (
            SELECT 1 FROM task_events e
            WHERE e.workflow_id = s.workflow_id AND e.actor_role IS NOT NULL)
        """,
        plan_id,
    )
    return {
        row["workflow_id"]: None
        if row["stage"] == Stage.CANCELLED.value
        else Standing(done=row["stage"] == Stage.COMPLETED.value, next_due=row["next_due"])
        for row in rows
    }
