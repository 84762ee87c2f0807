"""Reading the recorded event log (``task_events``) back as the lifecycle's own events."""

from __future__ import annotations

import json
from typing import Any

from asyncpg import Connection, Pool, Record

from domain.lifecycle import Actor, TaskEvent

_EVENTS = """
SELECT lineage, seq, kind, at, actor_role, actor_unit, unit, stage_before, stage_after,
    milestone, level, recipients, detail
FROM task_events WHERE workflow_id = $1 ORDER BY lineage, seq
"""


def event_of_row(row: Record) -> TaskEvent:
    """A ``task_events`` row as the :class:`TaskEvent` the workflow recorded.

    The actor's display name is not stored, so a coordinator's actor comes back nameless.
    """
    actor = (
        Actor(role=row["actor_role"], unit=row["actor_unit"])
        if row["actor_role"] is not None
        else None
    )
    detail: Any = row["detail"]
    return TaskEvent(
        seq=row["seq"],
        kind=row["kind"],
        at=row["at"],
        actor=actor,
        unit=row["unit"],
        stage_before=row["stage_before"],
        stage_after=row["stage_after"],
        milestone=row["milestone"],
        level=row["level"],
        recipients=list(row["recipients"]),
        detail=json.loads(detail) if isinstance(detail, str) else dict(detail or {}),
    )


async def recorded_lineages(
    connection: Connection | Pool, workflow_id: str
) -> dict[str, list[TaskEvent]]:
    """Every event recorded for a workflow id, by lineage (first run id of a run chain),
    each in sequence order."""
    lineages: dict[str, list[TaskEvent]] = {}
    for row in await connection.fetch(_EVENTS, workflow_id):
        lineages.setdefault(row["lineage"], []).append(event_of_row(row))
    return lineages
