"""What the monthly notice reads from PostgreSQL: a plan's (or every plan's) tasks as
imported and their live events up to an instant, one query per table.

Built for volume (100,000 tasks, 1,000,000 events): each query asks only for the columns
the as-of arithmetic uses, events come ordered by workflow id, lineage and sequence so they
group in one pass, events the notice cannot be changed by stay in the database, and rows
become plain tuples (the rows were validated when the workflow recorded them).
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
from domain.notice_state import NOTICE_KINDS, NoticeTask, month_start, paused_gc

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

# The live events at or before the month end ($2) that can change the notice at that end or
# the previous one ($3), in sequence order; the rest never reach Python (most of a million):
# * an event of a kind the arithmetic reads (NOTICE_KINDS, $4), or one that moves the stage
#   (its stage after differs from the event before's, or it follows a review 审核, whose
#   stage the fold moves on), or the first of its lineage;
# * a progress report only if it is the last of a run of reports by its unit, or the last at
#   or before the previous month end: the fold keeps the percent of the last report, the
#   notice its text and which units reported in the month, and nothing else of them.
# Only the details read travel: a report's percent and text (as columns: most rows are
# reports), a review's on_time, an extension's new date, a revision's moves.
_EVENTS = """
WITH live AS (
    SELECT workflow_id, lineage, seq, kind, at, unit, stage_after, milestone, level, detail,
        lag(stage_after) OVER chain AS stage_before_it,
        lag(kind) OVER chain AS kind_before_it,
        lead(kind) OVER chain AS next_kind,
        lead(unit) OVER chain AS next_unit,
        lead(at) OVER chain AS next_at
    FROM task_events
    WHERE ($1::text IS NULL OR plan_id = $1) AND at <= $2
    WINDOW chain AS (PARTITION BY workflow_id, lineage ORDER BY seq)
)
SELECT workflow_id, lineage, seq, kind, at, unit, stage_after, milestone, level,
    CASE WHEN kind = 'progress' THEN (detail->>'percent')::integer END AS percent,
    CASE WHEN kind = 'progress' THEN detail->>'text' END AS report,
    CASE WHEN kind IN ('milestone_done', 'extension_granted', 'revised')
        THEN detail::text END AS detail
FROM live
WHERE kind_before_it IS NULL OR kind_before_it = 'milestone_done'
    OR stage_after IS DISTINCT FROM stage_before_it
    OR CASE WHEN kind = 'progress'
        THEN next_kind IS DISTINCT FROM 'progress' OR next_unit IS DISTINCT FROM unit
            OR (at <= $3 AND next_at > $3)
        ELSE kind = ANY($4::text[]) END
ORDER BY workflow_id, lineage, seq
"""


async def plan_titles(connection: Connection | Pool, plan_id: str | None) -> dict[str, str]:
    """Each plan's title by id, in id order: the one plan, or every plan with None."""
    return {row["plan_id"]: row["title"] for row in await connection.fetch(_PLANS, plan_id)}


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
    ``plan_id`` None), events grouped by workflow id then run chain, in sequence order:
    the events that can change the notice at ``as_of`` (a month end) and at the month end
    before it, which is what :func:`domain.notice_state.build_notice` folds."""
    previous_end = month_start(as_of)
    plans = await plan_titles(connection, plan_id)
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
    with paused_gc():  # asyncpg builds up to a million records: see paused_gc
        rows = await connection.fetch(_EVENTS, plan_id, as_of, previous_end, sorted(NOTICE_KINDS))
        for workflow_id, lineage, seq, kind, at, unit, stage, milestone, level, *details in rows:
            if (workflow_id, lineage) != key:
                key, chain = (workflow_id, lineage), []
                events.setdefault(workflow_id, []).append(chain)
            percent, report, detail = details
            chain.append(
                NoticeEvent(
                    seq,
                    kind,
                    at,
                    unit,
                    stages[stage] if stage is not None else None,
                    milestone,
                    level,
                    (
                        loads(detail)
                        if detail is not None
                        else {"percent": percent, "text": report}
                        if percent is not None
                        else {"text": report}
                        if kind == "progress"
                        else no_detail
                    ),
                )
            )
    return NoticeInput(plan_titles=plans, tasks=tasks, events=events)
