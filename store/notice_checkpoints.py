"""The monthly notice's checkpoints: each task's facts at a closed month's end, folded from
the event log once per month and plan and read back by every later notice of that month
(``notice_checkpoints``, ``notice_facts``; migration 0014 says what removes one).

A notice over 100,000 tasks folds about a million events; its checkpoint is 100,000 rows.
:func:`read_notice_facts` reads a plan's facts from its checkpoint when there is one, and
otherwise folds them (:func:`domain.notice_state.fold_facts`) and, for a month already
over, stores them for the next reader. Both give the same facts, so the notice and its
digest do not depend on which was used.

Claiming before folding keeps a checkpoint from missing a write. The claim takes a SHARE
lock on ``task_events`` and ``plan_tasks`` (which waits for the transactions writing to
them and holds new ones back for the few milliseconds of the claim) and commits the
claimed row. A write committed before the claim is in the fold's reads, which start after
it; any write after it runs its table's trigger, which sees the claimed row and deletes it,
so the builder's final step (set ``ready`` on the row it claimed) finds nothing and the
facts are not kept. A claim whose builder died is taken over after ``STALE_CLAIM``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from asyncpg import Pool

from domain.lifecycle import Stage
from domain.notice_state import (
    PreviousStanding,
    StandingFacts,
    fold_facts,
    month_end,
    paused_gc,
    previous_month,
)
from store.db import Connection
from store.notice_reads import plan_titles, read_notice_input

STALE_CLAIM = timedelta(minutes=30)
# Checkpoints kept per plan: the month stored and the twelve before it. A checkpoint holds
# a row per task (100,000 rows, 36 MiB with its index, a month); an older month's
# notice is rare, stored already when the Schedule sent it, and folded again if asked.
KEPT_MONTHS = 13
# A claim waits this long for the writers ahead of it, then the notice is folded unstored.
CLAIM_LOCK_TIMEOUT = "2s"

_READY = """
SELECT plan_id FROM notice_checkpoints
WHERE month = $1 AND plan_id = ANY($2::text[]) AND ready
"""
_CLAIM = """
INSERT INTO notice_checkpoints AS c (month, plan_id, as_of, token)
SELECT $1, plan_id, $2, $3 FROM unnest($4::text[]) AS plan_id
ON CONFLICT (month, plan_id) DO UPDATE SET token = EXCLUDED.token, claimed_at = now()
    WHERE NOT c.ready AND c.claimed_at < now() - $5::interval
RETURNING plan_id
"""
_OWN_CLAIM = """
SELECT 1 FROM notice_checkpoints
WHERE month = $1 AND plan_id = $2 AND token = $3 AND NOT ready FOR UPDATE
"""
_SET_READY = "UPDATE notice_checkpoints SET ready = true WHERE month = $1 AND plan_id = $2"
_PRUNE = "DELETE FROM notice_checkpoints WHERE plan_id = $1 AND month < $2"
_FACT_COLUMNS = (
    "month", "plan_id", "position", "workflow_id", "task_id", "text", "stage", "lead_unit",
    "cooperating_units", "awaiting_reassignment", "progress_percent", "escalation_level",
    "due", "first_at", "completed_at", "late", "last_progress_text", "escalations",
    "refusals_by", "deemed_by", "reporters_this_month", "extension_this_month", "before",
    "before_lead_unit", "before_cooperating_units",
)  # fmt: skip
# The notice's tasks in its order (by plan, then the plan's own), each with its facts.
_FACTS = """
SELECT plan_id, workflow_id, task_id, text, stage, lead_unit, cooperating_units,
    awaiting_reassignment, progress_percent, escalation_level, due, first_at, completed_at,
    late, last_progress_text, escalations, refusals_by, deemed_by, reporters_this_month,
    extension_this_month, before, before_lead_unit, before_cooperating_units
FROM notice_facts
WHERE month = $1 AND plan_id = ANY($2::text[])
ORDER BY plan_id, position
"""
_BEFORE_OPEN, _BEFORE_COMPLETED, _BEFORE_OVERDUE = 0, 1, 2
_STAGES = {stage.value: stage for stage in Stage}


@dataclass(frozen=True)
class NoticeFacts:
    """What :func:`domain.notice_state.notice_of_facts` needs: the plans' titles, every
    task's facts at the month end in the notice's order, and the previous standings."""

    plan_titles: dict[str, str]
    facts: list[StandingFacts]
    previous: list[PreviousStanding]
    # The plans whose facts came from a checkpoint, and those folded now.
    from_checkpoint: tuple[str, ...] = ()
    folded: tuple[str, ...] = ()


async def read_notice_facts(
    pool: Pool, month: str, plan_id: str | None, *, now: datetime
) -> NoticeFacts:
    """The facts of ``month``'s notice over ``plan_id`` (None: every plan), per plan from its
    checkpoint or folded from the event log. A month not over by ``now`` is always folded
    and never stored: its events are still being recorded."""
    as_of = month_end(month)
    titles = await plan_titles(pool, plan_id)
    plans = sorted(titles)
    closed = as_of < now
    stored: dict[str, tuple[list[StandingFacts], list[PreviousStanding]]] = {}
    if closed and plans:
        # Two reads at once, each over half the plans: PostgreSQL sends one while this
        # process decodes the other (a plan's facts are read in one snapshot either way).
        halves = [plans[0::2], plans[1::2]] if len(plans) > 1 else [plans]
        for part in await asyncio.gather(*(_read_checkpoints(pool, month, p) for p in halves)):
            stored.update(part)
    folded: list[str] = []
    for plan in plans:
        if plan not in stored:
            stored[plan] = await _fold_plan(pool, month, plan, store=closed)
            folded.append(plan)
    facts: list[StandingFacts] = []
    previous: list[PreviousStanding] = []
    for plan in plans:  # the notice's order: by plan, then the plan's own
        plan_facts, plan_previous = stored[plan]
        facts.extend(plan_facts)
        previous.extend(plan_previous)
    return NoticeFacts(
        titles,
        facts,
        previous,
        tuple(p for p in plans if p not in folded),
        tuple(folded),
    )


async def _read_checkpoints(
    pool: Pool, month: str, plans: Sequence[str]
) -> dict[str, tuple[list[StandingFacts], list[PreviousStanding]]]:
    """The facts of those of ``plans`` whose checkpoint for ``month`` is ready."""
    async with (
        pool.acquire() as connection,
        connection.transaction(isolation="repeatable_read", readonly=True),
    ):
        ready = [r["plan_id"] for r in await connection.fetch(_READY, month, plans)]
        return await _read_facts(connection, month, ready) if ready else {}


async def _read_facts(
    connection: Connection, month: str, plans: Sequence[str]
) -> dict[str, tuple[list[StandingFacts], list[PreviousStanding]]]:
    result: dict[str, tuple[list[StandingFacts], list[PreviousStanding]]] = {
        plan: ([], []) for plan in plans
    }
    stages, none = _STAGES, ()
    with paused_gc():  # asyncpg builds 100,000 records: collections would rescan them
        rows = await connection.fetch(_FACTS, month, list(plans))
        for (
            plan_id, workflow_id, task_id, text, stage, lead_unit, cooperating_units,
            awaiting_reassignment, progress_percent, escalation_level, due, first_at,
            completed_at, late, last_progress_text, escalations, refusals_by, deemed_by,
            reporters_this_month, extension_this_month, before, before_lead_unit,
            before_cooperating_units,
        ) in rows:  # fmt: skip
            facts, previous = result[plan_id]
            cooperating = tuple(cooperating_units) if cooperating_units else none
            facts.append(
                StandingFacts(
                    plan_id,
                    workflow_id,
                    task_id,
                    text,
                    stages[stage],
                    lead_unit,
                    cooperating,
                    awaiting_reassignment,
                    progress_percent,
                    escalation_level,
                    due,
                    first_at,
                    completed_at,
                    late,
                    last_progress_text,
                    escalations,
                    tuple(refusals_by) if refusals_by else none,
                    tuple(deemed_by) if deemed_by else none,
                    tuple(reporters_this_month) if reporters_this_month else none,
                    extension_this_month,
                )
            )
            if before is not None:
                same_units = before_cooperating_units is None
                previous.append(
                    PreviousStanding(
                        workflow_id,
                        lead_unit if same_units else before_lead_unit,
                        cooperating if same_units else tuple(before_cooperating_units),
                        before == _BEFORE_COMPLETED,
                        before == _BEFORE_OVERDUE,
                    )
                )
    return result


async def _fold_plan(
    pool: Pool, month: str, plan_id: str, *, store: bool
) -> tuple[list[StandingFacts], list[PreviousStanding]]:
    """One plan's facts folded from its event log; kept as the plan's checkpoint when
    ``store`` and the claim holds to the end."""
    as_of, before_end = month_end(month), month_end(previous_month(month))
    token = await _claim(pool, month, plan_id, as_of) if store else None
    data = await read_notice_input(pool, as_of, plan_id)
    before, facts = fold_facts(data.tasks, data.events, [before_end, as_of])
    previous = [PreviousStanding.of_facts(fact, before_end) for fact in before]
    if token is not None:
        await _store(pool, month, plan_id, token, facts, previous)
    return facts, previous


async def _claim(pool: Pool, month: str, plan_id: str, as_of: datetime) -> str | None:
    """The token of a fresh claim on the plan's checkpoint for ``month``, or None: another
    builder holds it, or the writers ahead did not finish within CLAIM_LOCK_TIMEOUT."""
    token = secrets.token_hex(16)
    try:
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute(f"SET LOCAL lock_timeout = '{CLAIM_LOCK_TIMEOUT}'")
            await connection.execute("LOCK TABLE task_events, plan_tasks IN SHARE MODE")
            claimed = await connection.fetch(_CLAIM, month, as_of, token, [plan_id], STALE_CLAIM)
    except (asyncpg.LockNotAvailableError, asyncpg.DeadlockDetectedError):
        return None
    return token if claimed else None


async def _store(
    pool: Pool,
    month: str,
    plan_id: str,
    token: str,
    facts: Iterable[StandingFacts],
    previous: Iterable[PreviousStanding],
) -> bool:
    """Write the facts under the claim and mark the checkpoint ready, unless a write since
    the claim removed it (then nothing is kept: the facts may be out of date)."""
    before = {p.workflow_id: p for p in previous}
    records = []
    for position, f in enumerate(facts):
        p = before.get(f.workflow_id)
        same_units = p is None or (
            p.lead_unit == f.lead_unit and p.cooperating_units == f.cooperating_units
        )
        records.append(
            (
                month, plan_id, position, f.workflow_id, f.task_id, f.text,
                f.stage.value, f.lead_unit, _array(f.cooperating_units),
                f.awaiting_reassignment, f.progress_percent, f.escalation_level, f.due,
                f.first_at, f.completed_at, f.late, f.last_progress_text, f.escalations,
                _array(f.refusals_by), _array(f.deemed_by), _array(f.reporters_this_month),
                f.extension_this_month, _before(p),
                None if same_units or p is None else p.lead_unit,
                None if same_units or p is None else list(p.cooperating_units),
            )
        )  # fmt: skip
    # Only its own claim's row is locked here, so a writer's trigger deleting several of the
    # plan's checkpoints waits for it and cannot deadlock with it.
    async with pool.acquire() as connection:
        async with connection.transaction():
            if await connection.fetchval(_OWN_CLAIM, month, plan_id, token) is None:
                return False
            await connection.copy_records_to_table(
                "notice_facts", records=records, columns=_FACT_COLUMNS
            )
            await connection.execute(_SET_READY, month, plan_id)
        # A late event's trigger deleting the same rows may deadlock with it: they go anyway.
        with contextlib.suppress(asyncpg.DeadlockDetectedError):
            await connection.execute(_PRUNE, plan_id, _months_before(month, KEPT_MONTHS - 1))
    return True


def _array(units: tuple[str, ...]) -> list[str] | None:
    return list(units) if units else None


def _before(previous: PreviousStanding | None) -> int | None:
    if previous is None:
        return None
    if previous.completed:
        return _BEFORE_COMPLETED
    return _BEFORE_OVERDUE if previous.overdue else _BEFORE_OPEN


def _months_before(month: str, count: int) -> str:
    """The month ``count`` months before ``month`` (YYYY-MM; months sort as text)."""
    year, number = (int(part) for part in month.split("-"))
    index = year * 12 + number - 1 - count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
