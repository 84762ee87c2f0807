"""The lifecycle's side effects: its schedule (needs the holiday calendar) and its record.

``record_task_events`` writes a batch of events, the task's current state and one outbox
row per notification and channel in one transaction, keyed by workflow id and sequence
number: an activity retried after a timeout finds its rows and adds nothing, so nothing is
counted or notified twice. Delivery is the dispatcher's job (:mod:`notifications`), so a
channel that is down never holds the lifecycle up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import asyncpg
from temporalio import activity

from domain.alarms import Schedule, plan_schedule
from domain.calendar import WorkingCalendar
from domain.lifecycle import TaskState
from runtime.log import get_logger
from workflows.task_contract import PLAN_TASK_SCHEDULE, RECORD_TASK_EVENTS, RecordEvents

log = get_logger(__name__)


@activity.defn(name=PLAN_TASK_SCHEDULE)
async def plan_task_schedule(state: TaskState) -> Schedule:
    """Every alarm of the task from now on (a local activity: its answer is recorded)."""
    schedule = plan_schedule(state, WorkingCalendar())
    if schedule.calendar_fallback:
        log.warning(
            "holiday calendar has no data for a year of this task; counted Monday to Friday",
            plan_id=state.plan_id,
            task_id=state.task.id,
        )
    return schedule


def _storable(document: str) -> str:
    """PostgreSQL's jsonb cannot hold NUL; validators refuse it, this keeps a retry loop
    from ever forming on an old payload that slipped through."""
    return document.replace("\\u0000", "")


class TaskEventActivities:
    def __init__(self, pool: asyncpg.Pool, channels: Sequence[str]) -> None:
        self._pool = pool
        self._channels = list(channels)

    @activity.defn(name=RECORD_TASK_EVENTS)
    async def record_task_events(self, request: RecordEvents) -> int:
        """Record the batch once; returns how many events were new."""
        projection = request.projection
        events = [
            (
                request.workflow_id,
                request.lineage,
                event.seq,
                projection.plan_id,
                projection.task_id,
                event.kind,
                event.at,
                event.actor.role if event.actor else None,
                event.actor.unit if event.actor else None,
                event.unit,
                event.stage_before.value if event.stage_before else None,
                event.stage_after.value if event.stage_after else None,
                event.milestone,
                event.level,
                event.recipients,
                _storable(json.dumps(event.detail, ensure_ascii=False, default=str)),
            )
            for event in request.events
        ]
        outbox = [
            (
                request.workflow_id,
                request.lineage,
                event.seq,
                channel,
                _storable(
                    json.dumps(
                        {
                            "workflow_id": request.workflow_id,
                            "plan_id": projection.plan_id,
                            "task_id": projection.task_id,
                            "event": event.model_dump(mode="json"),
                        },
                        ensure_ascii=False,
                    )
                ),
            )
            for event in request.events
            if event.recipients
            for channel in self._channels
        ]
        async with self._pool.acquire() as connection, connection.transaction():
            before = await connection.fetchval(
                "SELECT count(*) FROM task_events WHERE workflow_id = $1 AND lineage = $2",
                request.workflow_id,
                request.lineage,
            )
            await connection.executemany(
                """
                INSERT INTO task_events (workflow_id, lineage, seq, plan_id, task_id, kind, at,
                    actor_role, actor_unit, unit, stage_before, stage_after, milestone, level,
                    recipients, detail)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                        $16::jsonb)
                ON CONFLICT (workflow_id, lineage, seq) DO NOTHING
                """,
                events,
            )
            await connection.execute(
                """
                INSERT INTO task_states (workflow_id, plan_id, task_id, stage, lead_unit,
                    cooperating_units, next_due, next_due_at, escalation_level,
                    extensions_granted, progress_percent, awaiting_reassignment, closed_at, seq,
                    lineage)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                ON CONFLICT (workflow_id) DO UPDATE SET
                    stage = EXCLUDED.stage, lead_unit = EXCLUDED.lead_unit,
                    cooperating_units = EXCLUDED.cooperating_units,
                    next_due = EXCLUDED.next_due, next_due_at = EXCLUDED.next_due_at,
                    escalation_level = EXCLUDED.escalation_level,
                    extensions_granted = EXCLUDED.extensions_granted,
                    progress_percent = EXCLUDED.progress_percent,
                    awaiting_reassignment = EXCLUDED.awaiting_reassignment,
                    closed_at = EXCLUDED.closed_at, seq = EXCLUDED.seq,
                    lineage = EXCLUDED.lineage, updated_at = now()
                -- Only forward within a lineage; a new lineage (the task came back) replaces.
                WHERE task_states.seq < EXCLUDED.seq OR task_states.lineage <> EXCLUDED.lineage
                """,
                request.workflow_id,
                projection.plan_id,
                projection.task_id,
                projection.stage.value,
                projection.lead_unit,
                projection.cooperating_units,
                projection.next_due,
                projection.next_due_at,
                projection.escalation_level,
                projection.extensions_granted,
                projection.progress_percent,
                projection.awaiting_reassignment,
                projection.closed_at,
                projection.seq,
                request.lineage,
            )
            if outbox:
                await connection.executemany(
                    """
                    INSERT INTO notification_outbox (workflow_id, lineage, seq, channel, payload)
                    VALUES ($1, $2, $3, $4, $5::jsonb)
                    ON CONFLICT (workflow_id, lineage, seq, channel) DO NOTHING
                    """,
                    outbox,
                )
            after = await connection.fetchval(
                "SELECT count(*) FROM task_events WHERE workflow_id = $1 AND lineage = $2",
                request.workflow_id,
                request.lineage,
            )
        added = int(after) - int(before)
        log.info(
            "task events recorded",
            task_id=projection.task_id,
            unit=projection.lead_unit,
            kinds=[event.kind for event in request.events],
            new=added,
        )
        return added
