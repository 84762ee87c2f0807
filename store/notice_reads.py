"""What the monthly notice reads from PostgreSQL: a plan's (or every plan's) tasks as
imported and their live events up to an instant, one query per table.

Built for volume (100,000 tasks, 1,000,000 events): each query asks only for the columns
the as-of arithmetic uses, events come ordered by workflow id, lineage and sequence so they
group in one pass, and rows become events through ``model_construct`` (the rows were
validated when the workflow recorded them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from asyncpg import Connection, Pool

from domain.event_log import Assignment
from domain.lifecycle import Stage
from domain.notice_state import NoticeTask

_PLANS = (
    "SELECT plan_id, title FROM plans WHERE ($1::text IS NULL OR plan_id = $1) ORDER BY plan_id"
)

# A task withdrawn from its plan by then is no longer the plan's; one withdrawn later was.
_TASKS = """
SELECT plan_id, task_id, workflow_id, text, lead_units, cooperating_units,
    ARRAY(SELECT (m.value->>'due')::date FROM jsonb_array_elements(milestones)
          WITH ORDINALITY AS m ORDER BY m.ordinality) AS dues
FROM plan_tasks
WHERE ($1::text IS NULL OR plan_id = $1) AND (withdrawn_at IS NULL OR withdrawn_at > $2)
ORDER BY plan_id, seq, part NULLS FIRST, task_id
"""

# Only the details the arithmetic reads travel (a progress report's percent and text, a
# review's on_time, an extension's new date, a revision's moves); the rest stay in the table.
_EVENTS = """
SELECT workflow_id, lineage, seq, kind, at, unit, stage_after, milestone, level,
    CASE WHEN kind IN ('progress', 'milestone_done', 'extension_granted', 'revised')
        THEN detail::text END AS detail
FROM task_events
WHERE ($1::text IS NULL OR plan_id = $1) AND at <= $2
ORDER BY workflow_id, lineage, seq
"""


class NoticeEvent(NamedTuple):
    """An event as the notice's fold reads it (:class:`domain.event_log.LoggedEvent`): a
    tuple, since a notice over every plan reads a million of them."""

    seq: int
    kind: str
    at: datetime
    unit: str | None
    stage_after: Stage | None
    milestone: int | None
    level: int | None
    detail: Mapping[str, Any]


_NO_DETAIL: Mapping[str, Any] = MappingProxyType({})
_STAGES = {stage.value: stage for stage in Stage}


@dataclass(frozen=True)
class NoticeInput:
    """Everything :func:`domain.notice_state.build_notice` needs from the database."""

    plan_titles: dict[str, str]
    tasks: list[NoticeTask]
    events: dict[str, list[list[NoticeEvent]]]


async def read_notice_input(
    connection: Connection | Pool, as_of: datetime, plan_id: str | None = None
) -> NoticeInput:
    """One plan's tasks and live events recorded at or before ``as_of`` (every plan's with
    ``plan_id`` None), events grouped by workflow id then run chain, in sequence order."""
    plans = {row["plan_id"]: row["title"] for row in await connection.fetch(_PLANS, plan_id)}
    tasks = [
        NoticeTask(
            plan_id,
            workflow_id,
            task_id,
            text,
            Assignment.of_units(lead_units, cooperating_units, dues),
            plans.get(plan_id, ""),
        )
        for plan_id, task_id, workflow_id, text, lead_units, cooperating_units, dues in (
            await connection.fetch(_TASKS, plan_id, as_of)
        )
    ]
    events: dict[str, list[list[NoticeEvent]]] = {}
    chain: list[NoticeEvent] = []
    key: tuple[str, str] | None = None
    stages, loads, no_detail = _STAGES, json.loads, _NO_DETAIL
    for (
        workflow_id,
        lineage,
        seq,
        kind,
        at,
        unit,
        stage,
        milestone,
        level,
        detail,
    ) in await connection.fetch(_EVENTS, plan_id, as_of):
        if (workflow_id, lineage) != key:
            key, chain = (workflow_id, lineage), []
            events.setdefault(workflow_id, []).append(chain)
        chain.append(
            NoticeEvent(
                seq,
                kind,
                at,
                unit,
                stages[stage] if stage is not None else None,
                milestone,
                level,
                loads(detail) if detail is not None else no_detail,
            )
        )
    return NoticeInput(plan_titles=plans, tasks=tasks, events=events)
