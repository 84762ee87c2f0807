"""The fault suite's check: the event log holds each event once, and the projection follows.

``await assert_event_log_consistent(pool, client, workflow_ids)`` (or
``assert_plan_consistent(pool, client, plan_id)``) waits until each task workflow has
recorded everything it made, then asserts from PostgreSQL:

* each lineage's sequence numbers run 1..n without a gap, and the live lineage ends at the
  workflow's own ``seq``; every event the workflow still holds (its timeline) is in
  ``task_events`` exactly as the workflow made it;
* no alarm (reminder, 催办, 督办, unaccepted and progress reminders) was recorded twice;
* every event with recipients has one live outbox row per channel, and no live outbox row
  lacks its event; the rows of events a reset undid (``superseded_at`` set, the events in
  ``task_events_superseded``) are not live and none is still pending;
* the ``task_states`` row is the live lineage's, equals the fold of its event log
  (:func:`domain.event_log.fold_events`) where the log can tell, and equals the workflow's
  own projection everywhere (``next_due_at`` and ``yellow_from`` only from the latter: no
  event carries them).

Every problem found is listed in one AssertionError. A workflow needs a worker polling its
task queue for the query; closed workflows answer it too.

``await assert_nothing_imported(pool, client, plan_id)`` is the other half, for an import
that was refused: no plan row, no task row, no event, projection or notification, and no
workflow in Temporal under the plan's id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import asyncpg
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from domain.event_log import (
    Assignment,
    EventLogError,
    FoldedTask,
    fold_events,
    repeated_alarms,
)
from domain.lifecycle import TaskEvent
from store.event_log import recorded_lineages
from workflows.task import TaskWorkflow, task_workflow_id
from workflows.task_contract import TaskProjection, TaskSnapshot, TaskWorkflowInput, projection_of

# Columns of task_states the fold recomputes, against the FoldedTask field of that name.
FOLDED_COLUMNS = (
    "stage",
    "lead_unit",
    "cooperating_units",
    "awaiting_reassignment",
    "escalation_level",
    "extensions_granted",
    "progress_percent",
    "closed_at",
    "next_due",
    "seq",
)
PROJECTION_COLUMNS = (*FOLDED_COLUMNS, "next_due_at", "yellow_from")
# How a query's RPC ends when no worker answered in time.
_BUSY = frozenset({RPCStatusCode.CANCELLED, RPCStatusCode.DEADLINE_EXCEEDED})


async def plan_workflow_ids(pool: asyncpg.Pool, plan_id: str) -> list[str]:
    """Every task workflow of a plan that recorded anything or has a projection row."""
    rows = await pool.fetch(
        "SELECT workflow_id FROM task_events WHERE plan_id = $1"
        " UNION SELECT workflow_id FROM task_states WHERE plan_id = $1 ORDER BY 1",
        plan_id,
    )
    return [row["workflow_id"] for row in rows]


async def assert_plan_consistent(
    pool: asyncpg.Pool, client: Client, plan_id: str, *, timeout: float = 60.0
) -> None:
    workflow_ids = await plan_workflow_ids(pool, plan_id)
    assert workflow_ids, f"plan {plan_id} recorded nothing"
    await assert_event_log_consistent(pool, client, workflow_ids, timeout=timeout)


async def assert_nothing_imported(pool: asyncpg.Pool, client: Client, plan_id: str) -> None:
    """Assert that a refused import of ``plan_id`` left nothing behind, in PostgreSQL or in
    Temporal."""
    problems = [
        f"{table}: {count} rows of plan {plan_id}"
        for table, count in (await _rows_of_plan(pool, plan_id)).items()
        if count
    ]
    prefix = task_workflow_id(plan_id, "")
    # Visibility is the only way to find workflows whose task ids are not known; it lags
    # the starts slightly, but an import is refused after every start it made returned.
    started = [
        execution.id
        async for execution in client.list_workflows(f"WorkflowId STARTS_WITH '{prefix}'")
    ]
    if started:
        problems.append(f"workflows of plan {plan_id}: {sorted(started)[:10]}")
    assert not problems, f"a refused import of {plan_id} left:\n" + "\n".join(problems)


async def _rows_of_plan(pool: asyncpg.Pool, plan_id: str) -> dict[str, int]:
    row = await pool.fetchrow(
        """
        SELECT (SELECT count(*) FROM plans WHERE plan_id = $1) AS plans,
            (SELECT count(*) FROM plan_tasks WHERE plan_id = $1) AS plan_tasks,
            (SELECT count(*) FROM task_events WHERE plan_id = $1) AS task_events,
            (SELECT count(*) FROM task_events_superseded WHERE plan_id = $1)
                AS task_events_superseded,
            (SELECT count(*) FROM task_states WHERE plan_id = $1) AS task_states,
            (SELECT count(*) FROM notification_outbox WHERE starts_with(workflow_id, $2))
                AS notification_outbox
        """,
        plan_id,
        task_workflow_id(plan_id, ""),
    )
    assert row is not None
    return dict(row)


async def assert_event_log_consistent(
    pool: asyncpg.Pool, client: Client, workflow_ids: Iterable[str], *, timeout: float = 60.0
) -> None:
    """Assert the integrity of each task workflow's record (see the module docstring),
    after waiting up to ``timeout`` seconds for the workflows to record what they made."""
    problems: list[str] = []
    for workflow_id in workflow_ids:
        problems.extend(await _problems_of(pool, client, workflow_id, timeout))
    assert not problems, "event log inconsistent:\n" + "\n".join(problems)


async def _problems_of(
    pool: asyncpg.Pool, client: Client, workflow_id: str, timeout: float
) -> list[str]:
    handle: WorkflowHandle[Any, Any] = client.get_workflow_handle(workflow_id)
    snapshot = await _recorded_snapshot(handle, timeout)
    lineage = await live_lineage(handle)
    assignment = await _assignment(client, workflow_id, lineage)
    lineages = await recorded_lineages(pool, workflow_id)
    problems = [f"{workflow_id}: {text}" for text in _sequence_problems(lineages)]
    events = lineages.get(lineage, [])
    state = snapshot.state
    if not events or events[-1].seq != state.seq:
        problems.append(
            f"{workflow_id}: the workflow made {state.seq} events, lineage {lineage} "
            f"holds {events[-1].seq if events else 0}"
        )
    recorded = {event.seq: event for event in events}
    for held in state.timeline:
        stored = recorded.get(held.seq)
        if stored is None or _comparable(stored) != _comparable(held):
            problems.append(
                f"{workflow_id}: event {held.seq} ({held.kind}) is recorded as "
                f"{_comparable(stored) if stored else 'nothing'}, the workflow holds "
                f"{_comparable(held)}"
            )
    problems.extend(
        f"{workflow_id}: alarm recorded twice: {event.kind} seq {event.seq}"
        f" (milestone {event.milestone}, level {event.level})"
        for events_of_lineage in lineages.values()
        for event in repeated_alarms(events_of_lineage)
    )
    problems.extend(await _outbox_problems(pool, workflow_id))
    problems.extend(
        await _projection_problems(pool, workflow_id, lineage, events, assignment, snapshot)
    )
    return problems


async def live_lineage(handle: WorkflowHandle[Any, Any]) -> str:
    """The lineage the workflow records under now: its run chain's first run id (what
    TaskWorkflow passes as ``RecordEvents.lineage``)."""
    description = await handle.describe()
    return description.raw_description.workflow_execution_info.first_run_id


async def _recorded_snapshot(handle: WorkflowHandle[Any, Any], timeout: float) -> TaskSnapshot:
    """The workflow's snapshot once every event it made is recorded."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            snapshot: TaskSnapshot = await handle.query(TaskWorkflow.snapshot)
        except RPCError as error:
            # A worker busy with many starts (a rerun import) answers the query late; the
            # RPC gives up first. Waiting is what this is for.
            if error.status not in _BUSY or time.monotonic() > deadline:
                raise
            continue
        if snapshot.recorded_seq >= snapshot.state.seq:
            return snapshot
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{handle.id}: recorded {snapshot.recorded_seq} of {snapshot.state.seq} events "
                f"within {timeout:.0f} s"
            )
        await asyncio.sleep(0.2)


async def _assignment(client: Client, workflow_id: str, lineage: str) -> Assignment:
    """What the lineage's first run was started with (a later run carries the state)."""
    first_run = client.get_workflow_handle(workflow_id, run_id=lineage)
    async for event in first_run.fetch_history_events():
        started = event.workflow_execution_started_event_attributes
        (request,) = await client.data_converter.decode(started.input.payloads, [TaskWorkflowInput])
        assert isinstance(request, TaskWorkflowInput)
        return Assignment.of_task(request.task)
    raise AssertionError(f"{workflow_id}: run {lineage} has no history")


def _sequence_problems(lineages: dict[str, list[TaskEvent]]) -> list[str]:
    problems = []
    for lineage, events in lineages.items():
        seqs = [event.seq for event in events]
        if seqs != list(range(1, len(seqs) + 1)):
            missing = sorted(set(range(1, max(seqs) + 1)) - set(seqs))
            shown = f"{missing[:10]}{' …' if len(missing) > 10 else ''}"
            problems.append(f"lineage {lineage}: sequence numbers missing {shown}")
    return problems


def _comparable(event: TaskEvent) -> dict[str, Any]:
    """An event as PostgreSQL keeps it (the actor's display name is not stored)."""
    dumped = event.model_dump(mode="json")
    if dumped["actor"] is not None:
        dumped["actor"].pop("name", None)
    return dumped


async def _outbox_problems(pool: asyncpg.Pool, workflow_id: str) -> list[str]:
    rows = await pool.fetch(
        """
        SELECT e.lineage, e.seq, e.kind, count(o.id) AS rows,
            count(DISTINCT o.channel) AS channels, cardinality(e.recipients) > 0 AS notifies
        FROM task_events e
        LEFT JOIN notification_outbox o
            ON (o.workflow_id, o.lineage, o.seq) = (e.workflow_id, e.lineage, e.seq)
            AND o.superseded_at IS NULL
        WHERE e.workflow_id = $1 GROUP BY e.lineage, e.seq, e.kind, e.recipients
        """,
        workflow_id,
    )
    problems = [
        f"{workflow_id}: event {row['seq']} ({row['kind']}) has {row['rows']} outbox rows"
        for row in rows
        if row["rows"] != row["channels"] or (row["rows"] > 0) != row["notifies"]
    ]
    channels = {row["channels"] for row in rows if row["notifies"]}
    if len(channels) > 1:
        problems.append(f"{workflow_id}: events notify over differing channel counts {channels}")
    # A reset moves the events it undid to task_events_superseded and marks their outbox
    # rows superseded (a new event may then reuse the seq): those rows are not live, and
    # must not be sent.
    orphans = await pool.fetchval(
        "SELECT count(*) FROM notification_outbox o WHERE workflow_id = $1"
        " AND superseded_at IS NULL AND NOT EXISTS"
        " (SELECT 1 FROM task_events e WHERE (e.workflow_id, e.lineage, e.seq)"
        " = (o.workflow_id, o.lineage, o.seq))",
        workflow_id,
    )
    if orphans:
        problems.append(f"{workflow_id}: {orphans} outbox rows without their event")
    pending_undone = await pool.fetchval(
        "SELECT count(*) FROM notification_outbox WHERE workflow_id = $1"
        " AND superseded_at IS NOT NULL AND status = 'pending'",
        workflow_id,
    )
    if pending_undone:
        problems.append(f"{workflow_id}: {pending_undone} superseded outbox rows still pending")
    both = await pool.fetch(
        "SELECT s.seq FROM task_events_superseded s JOIN task_events e"
        " USING (workflow_id, lineage, seq, run_id) WHERE workflow_id = $1 ORDER BY 1",
        workflow_id,
    )
    if both:
        problems.append(
            f"{workflow_id}: events both live and superseded: {[row['seq'] for row in both]}"
        )
    return problems


async def _projection_problems(
    pool: asyncpg.Pool,
    workflow_id: str,
    lineage: str,
    events: list[TaskEvent],
    assignment: Assignment,
    snapshot: TaskSnapshot,
) -> list[str]:
    row = await pool.fetchrow("SELECT * FROM task_states WHERE workflow_id = $1", workflow_id)
    if row is None:
        return [f"{workflow_id}: no task_states row"]
    problems = []
    if row["lineage"] != lineage:
        problems.append(f"{workflow_id}: task_states holds lineage {row['lineage']}, not {lineage}")
    try:
        folded: FoldedTask | None = fold_events(events, assignment)
    except EventLogError as error:
        problems.append(f"{workflow_id}: the event log does not fold: {error}")
        folded = None
    if folded is not None:
        problems.extend(
            f"{workflow_id}: task_states.{column} = {row[column]!r}, the event log folds to "
            f"{getattr(folded, column)!r}"
            for column in FOLDED_COLUMNS
            if _column(row[column]) != _column(getattr(folded, column))
        )
    state = snapshot.state
    current = state.current_milestone
    yellow_from = (
        snapshot.schedule.yellow_from.get(current.index)
        if snapshot.schedule is not None and current is not None
        else None
    )
    own: TaskProjection = projection_of(state, yellow_from)
    problems.extend(
        f"{workflow_id}: task_states.{column} = {row[column]!r}, the workflow holds "
        f"{getattr(own, column)!r}"
        for column in PROJECTION_COLUMNS
        if _column(row[column]) != _column(getattr(own, column))
    )
    return problems


def _column(value: Any) -> Any:
    """Values as comparable across asyncpg and the models (enums as text, lists as lists)."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list | tuple):
        return list(value)
    return value
