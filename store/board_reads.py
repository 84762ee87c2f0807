"""What the coordinator's board (督办看板) reads beyond :mod:`store.task_reads`: counts by
plan, stage and light, and the lists of work waiting on the coordinator.

Every statement starts from :func:`store.task_reads.task_where`, the task list's own
visibility and filters, so the board shows exactly the tasks the API would list to the same
principal with the same filters; the status light is the list's too (``_LIGHT_SQL``).
Nothing here decides a notice status (滞后, 逾期 as the notice counts them): the per-unit
table comes from the notice's arithmetic (:mod:`services.board`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domain.access import Principal
from store.db import Connection
from store.task_reads import (
    _FROM,
    _LIGHT_SQL,
    _LIGHT_WHERE,
    _TASK_COLUMNS,
    TaskFilter,
    _visible_to,
    _Where,
    task_where,
)

# The events that open or end an extension request: the last of them in the task's run
# chain says whether one is waiting (a reassignment lets the former lead's request lapse).
_EXTENSION_KINDS = ["extension_requested", "extension_granted", "extension_rejected", "reassigned"]


@dataclass(frozen=True)
class TaskList:
    """The first rows of one of the board's lists and how many tasks the list holds."""

    rows: list[dict[str, Any]]
    total: int


def _checked(filters: TaskFilter) -> TaskFilter:
    # The board's statements read task_states alone unless they list rows; a text search
    # needs plan_tasks and is not one of the board's filters.
    if filters.text is not None:
        raise ValueError("the board does not search task texts")
    return filters


async def counts(
    connection: Connection, principal: Principal, filters: TaskFilter
) -> list[tuple[str, str, str, int]]:
    """(plan id, stage, light, tasks) for every combination present among the tasks the
    caller may see that pass ``filters``."""
    where = task_where(principal, _checked(filters))
    rows = await connection.fetch(
        f"SELECT ts.plan_id, ts.stage, {_LIGHT_SQL} AS light, count(*) AS n"  # noqa: S608
        f" FROM task_states ts {where.sql()} GROUP BY 1, 2, 3",
        *where.values,
    )
    return [(row["plan_id"], row["stage"], row["light"], row["n"]) for row in rows]


async def _listed(
    connection: Connection,
    where: _Where,
    limit: int,
    *,
    extra_columns: str = "",
    joins: str = "",
) -> TaskList:
    """The first ``limit`` rows, least time left first (the sort index serves it), and
    the list's size, counted over the projection alone only when the page is full."""
    values = list(where.values)
    limit_param = f"${len(values) + 1}"
    rows = await connection.fetch(
        f"SELECT {_TASK_COLUMNS}{extra_columns} {_FROM} {joins} {where.sql()}"
        f" ORDER BY ts.sort_due, ts.workflow_id LIMIT {limit_param}",
        *values,
        limit,
    )
    total = len(rows)
    if total >= limit:
        total = await connection.fetchval(
            f"SELECT count(*) FROM task_states ts {where.sql()}",  # noqa: S608
            *values,
        )
    return TaskList([dict(row) for row in rows], total)


async def overdue(
    connection: Connection, principal: Principal, filters: TaskFilter, *, limit: int
) -> TaskList:
    """Open tasks past their due instant (red), longest overdue first, with the 督办
    (escalation) notices sent in the task's current run chain."""
    where = task_where(principal, _checked(filters))
    where.add(_LIGHT_WHERE["red"])
    listed = await _listed(connection, where, limit)
    escalations = await connection.fetch(
        """
        SELECT e.workflow_id, count(*) AS n
        FROM task_events e JOIN task_states ts
          ON ts.workflow_id = e.workflow_id AND ts.lineage = e.lineage
        WHERE e.workflow_id = ANY($1::text[]) AND e.kind = 'escalation'
        GROUP BY e.workflow_id
        """,
        [row["workflow_id"] for row in listed.rows],
    )
    sent = {row["workflow_id"]: row["n"] for row in escalations}
    for row in listed.rows:
        row["escalations"] = sent.get(row["workflow_id"], 0)
    return listed


async def in_stage(
    connection: Connection, principal: Principal, filters: TaskFilter, stage: str, *, limit: int
) -> TaskList:
    """Tasks in ``stage`` (the board asks for 审核 review: submissions to decide)."""
    where = task_where(principal, _checked(filters))
    where.add(f"ts.stage = {where.param(stage)}")
    return await _listed(connection, where, limit)


async def awaiting_reassignment(
    connection: Connection, principal: Principal, filters: TaskFilter, *, limit: int
) -> TaskList:
    """Tasks their lead unit refused (退回) that wait for a new lead, with the reason and
    the unit of the refusal in force (the last in the task's run chain)."""
    where = task_where(principal, _checked(filters))
    where.add("ts.awaiting_reassignment AND ts.closed_at IS NULL")
    return await _listed(
        connection,
        where,
        limit,
        extra_columns=", refusal.unit AS refused_by, refusal.at AS refused_at,"
        " refusal.detail->>'reason' AS refusal_reason",
        joins="""
        LEFT JOIN LATERAL (
            SELECT e.unit, e.at, e.detail FROM task_events e
            WHERE e.workflow_id = ts.workflow_id AND e.lineage = ts.lineage
              AND e.kind = 'refused'
            ORDER BY e.seq DESC LIMIT 1
        ) refusal ON true
        """,
    )


async def pending_extensions(
    connection: Connection, principal: Principal
) -> dict[str, dict[str, Any]]:
    """The open tasks the caller may see with an extension request (延期申请) waiting for
    the coordinator, by workflow id: who asked, when, for which date and why. The
    projection keeps no pending request; the event log holds it: the last extension event
    of the task's run chain is the request."""
    where = _Where()
    _visible_to(where, principal)
    where.add("ts.closed_at IS NULL")
    kinds = where.param(_EXTENSION_KINDS)
    where.add("last_extension.kind = 'extension_requested'")
    # Only the tasks that ever asked are looked at (one pass over the log, not one look
    # into every open task's history): a few in a hundred.
    rows = await connection.fetch(
        f"""
        SELECT ts.workflow_id, last_extension.unit AS requested_by,
               last_extension.at AS requested_at,
               (last_extension.detail->>'requested_due')::date AS requested_due,
               last_extension.detail->>'reason' AS request_reason
        FROM (SELECT DISTINCT workflow_id, lineage FROM task_events
              WHERE kind = 'extension_requested') asked
        JOIN task_states ts ON ts.workflow_id = asked.workflow_id AND ts.lineage = asked.lineage
        JOIN LATERAL (
            SELECT e.kind, e.unit, e.at, e.detail FROM task_events e
            WHERE e.workflow_id = ts.workflow_id AND e.lineage = ts.lineage
              AND e.kind = ANY({kinds}::text[])
            ORDER BY e.seq DESC LIMIT 1
        ) last_extension ON true
        {where.sql()}
        """,  # noqa: S608 - fixed fragments only
        *where.values,
    )
    return {row["workflow_id"]: dict(row) for row in rows}


async def extension_requests(
    connection: Connection,
    principal: Principal,
    filters: TaskFilter,
    pending: Mapping[str, Mapping[str, Any]],
    *,
    limit: int,
) -> TaskList:
    """Of the ``pending`` requests (:func:`pending_extensions`), those of tasks passing
    ``filters``, least time left first, each row with its request."""
    where = task_where(principal, _checked(filters))
    where.add(f"ts.workflow_id = ANY({where.param(list(pending))}::text[])")
    listed = await _listed(connection, where, limit)
    for row in listed.rows:
        row.update(pending[row["workflow_id"]])
    return listed


async def units_seen(connection: Connection, principal: Principal) -> list[str]:
    """Every unit leading or cooperating on a task the caller may see (the unit filter's
    choices: a coordinator of plan A is not shown plan B's units)."""
    where = _Where()
    _visible_to(where, principal)
    rows = await connection.fetch(
        "SELECT DISTINCT unit FROM task_states ts,"  # noqa: S608 - fixed fragments only
        " unnest(ts.cooperating_units || ts.lead_unit) AS unit"
        f" {where.sql()} ORDER BY unit",
        *where.values,
    )
    return [row["unit"] for row in rows if row["unit"]]


async def event_high_water(
    connection: Connection, plans: tuple[str, ...] | None
) -> tuple[Any, ...]:
    """What changes whenever an event lands on a task of ``plans`` (None: every plan) or a
    plan is re-imported: the projection's latest write, its row count and the sum of its
    sequence numbers (which only grow, so a write committed late with an older clock still
    moves it), the plans' latest update and count. The per-unit table is recomputed only
    when this moves."""
    row = await connection.fetchrow(
        """
        SELECT states.*,
               (SELECT max(updated_at) FROM plans
                 WHERE $1::text[] IS NULL OR plan_id = ANY($1::text[])) AS plan_written,
               (SELECT count(*) FROM plans
                 WHERE $1::text[] IS NULL OR plan_id = ANY($1::text[])) AS plans
        FROM (SELECT max(updated_at) AS written, count(*) AS states, sum(seq) AS seqs
              FROM task_states
              WHERE $1::text[] IS NULL OR plan_id = ANY($1::text[])) AS states
        """,
        list(plans) if plans is not None else None,
    )
    assert row is not None
    return tuple(row.values())
