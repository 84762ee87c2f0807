"""The read side of tasks and plans: plain SQL over the projection (``task_states``,
``task_events``) and the imported rows (``plans``, ``plan_tasks``).

Lists never ask Temporal: the projection answers them, with an index behind every filter
(0006_api.sql), sorted by least time left (closed and undated tasks last) and paged by a
keyset cursor, so a page costs the same at the first task and at the hundred-thousandth.
The status light is worked out here from instants the workflow recorded: red once the due
instant has passed, yellow from the morning three working days before it, green otherwise,
none once closed.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from domain.access import Principal, TaskAccess
from store.db import Connection

Light = Literal["red", "yellow", "green", "none"]
LIGHTS: tuple[Light, ...] = ("red", "yellow", "green", "none")

_LIGHT_SQL = """
    CASE WHEN ts.closed_at IS NOT NULL THEN 'none'
         WHEN ts.next_due_at IS NULL THEN 'green'
         WHEN ts.next_due_at < now() THEN 'red'
         WHEN ts.yellow_from IS NOT NULL AND ts.yellow_from <= now() THEN 'yellow'
         ELSE 'green' END
"""
# Each light as a condition the sort index can serve (the same cases as _LIGHT_SQL), as a
# range of sort_due, which is never NULL: 'infinity' for closed and undated tasks.
_LIGHT_WHERE: dict[str, str] = {
    "none": "ts.sort_due = 'infinity' AND ts.closed_at IS NOT NULL",
    "red": "ts.sort_due < now()",
    "yellow": "ts.sort_due >= now() AND ts.sort_due < 'infinity' AND ts.yellow_from <= now()",
    "green": "ts.sort_due >= now() AND ts.closed_at IS NULL"
    " AND (ts.next_due_at IS NULL OR ts.yellow_from IS NULL OR ts.yellow_from > now())",
}
_TASK_COLUMNS = f"""
    ts.workflow_id, ts.plan_id, ts.task_id, pt.text, pt.category, ts.stage, ts.lead_unit,
    ts.cooperating_units, ts.next_due, ts.next_due_at, ts.escalation_level,
    ts.extensions_granted, ts.progress_percent, ts.awaiting_reassignment, ts.closed_at,
    ts.seq, ts.updated_at, ts.sort_due, {_LIGHT_SQL} AS light,
    CASE WHEN ts.closed_at IS NULL AND ts.next_due_at < now()
         THEN extract(day FROM now() - ts.next_due_at)::integer + 1 ELSE 0 END AS overdue_days
"""
_FROM = """
    FROM task_states ts
    JOIN plan_tasks pt ON pt.plan_id = ts.plan_id AND pt.task_id = ts.task_id
"""


@dataclass(frozen=True)
class TaskFilter:
    plan: str | None = None
    unit: str | None = None
    role: Literal["lead", "cooperating"] | None = None
    stage: str | None = None
    light: Light | None = None
    overdue: bool | None = None
    due_before: date | None = None
    text: str | None = None
    # A unit's inbox (我的任务): the open tasks it leads, and those waiting in 会签 with it
    # among their cooperating units (whether it has signed yet is in the event log).
    owed_by: str | None = None


@dataclass
class _Where:
    """A WHERE clause built from fixed fragments; every value goes in as a parameter."""

    clauses: list[str] = field(default_factory=list)
    values: list[Any] = field(default_factory=list)

    def param(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"

    def add(self, clause: str) -> None:
        self.clauses.append(clause)

    def sql(self) -> str:
        return "WHERE " + " AND ".join(self.clauses) if self.clauses else ""


def _unit_clause(where: _Where, unit: str, role: str | None) -> str:
    value = where.param(unit)
    lead = f"ts.lead_unit = {value}"
    cooperating = f"ts.cooperating_units @> ARRAY[{value}::text]"
    if role == "lead":
        return lead
    if role == "cooperating":
        return cooperating
    return f"({lead} OR {cooperating})"


def _visible_to(where: _Where, principal: Principal) -> None:
    if principal.role == "unit" and principal.unit is not None:
        where.add(_unit_clause(where, principal.unit, None))
    elif principal.role == "coordinator" and principal.plans is not None:
        where.add(f"ts.plan_id = ANY({where.param(list(principal.plans))}::text[])")


def encode_cursor(row: dict[str, Any]) -> str:
    sort_due: datetime = row["sort_due"]
    # asyncpg reads PostgreSQL's 'infinity' as the largest datetime; keep the word.
    key = [sort_due.isoformat() if sort_due.year < 9999 else "infinity", row["workflow_id"]]
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


class CursorError(ValueError):
    """A page cursor that this API did not hand out."""


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        sort_due, workflow_id = json.loads(base64.urlsafe_b64decode(padded))
        if sort_due != "infinity":
            datetime.fromisoformat(sort_due)
        if not isinstance(workflow_id, str) or "\x00" in workflow_id:
            raise ValueError("not a workflow id")
        return str(sort_due), workflow_id
    except (ValueError, TypeError) as error:
        raise CursorError("the cursor is not one this API handed out") from error


async def list_tasks(
    connection: Connection,
    principal: Principal,
    filters: TaskFilter,
    *,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the tasks the caller may see, least time left first, and the cursor of
    the next page (None on the last)."""
    where = task_where(principal, filters)
    if cursor is not None:
        sort_due, workflow_id = _decode_cursor(cursor)
        where.add(
            # As text: 'infinity' (closed and undated tasks) is a timestamptz literal too.
            f"(ts.sort_due, ts.workflow_id) > ({where.param(sort_due)}::text::timestamptz,"
            f" {where.param(workflow_id)})"
        )
    limit_param = where.param(limit + 1)
    rows = await connection.fetch(
        f"SELECT {_TASK_COLUMNS} {_FROM} {where.sql()}"
        f" ORDER BY ts.sort_due, ts.workflow_id LIMIT {limit_param}",
        *where.values,
    )
    page = [dict(row) for row in rows[:limit]]
    next_cursor = encode_cursor(page[-1]) if len(rows) > limit and page else None
    return page, next_cursor


def task_where(principal: Principal, filters: TaskFilter) -> _Where:
    """The WHERE clause of the tasks the caller may see that pass ``filters`` (over
    ``task_states ts`` joined to ``plan_tasks pt``): the list's, and the board's counts'."""
    where = _Where()
    _visible_to(where, principal)
    if filters.plan is not None:
        where.add(f"ts.plan_id = {where.param(filters.plan)}")
    if filters.unit is not None:
        where.add(_unit_clause(where, filters.unit, filters.role))
    elif filters.role is not None and principal.unit is not None:
        where.add(_unit_clause(where, principal.unit, filters.role))
    if filters.owed_by is not None:
        unit = where.param(filters.owed_by)
        where.add(
            f"ts.closed_at IS NULL AND (ts.lead_unit = {unit} OR (ts.stage = 'signoff'"
            f" AND ts.cooperating_units @> ARRAY[{unit}::text]))"
        )
    if filters.stage is not None:
        where.add(f"ts.stage = {where.param(filters.stage)}")
    if filters.light is not None:
        where.add(_LIGHT_WHERE[filters.light])
    if filters.overdue is True:
        where.add(_LIGHT_WHERE["red"])
    elif filters.overdue is False:
        where.add("ts.sort_due >= now()")
    if filters.due_before is not None:
        where.add(f"ts.next_due <= {where.param(filters.due_before)}")
    if filters.text:
        pattern = "%" + filters.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        # The gram index finds the candidates (0007_task_text_search.sql); ILIKE decides.
        term = where.param(filters.text)
        where.add(f"text_grams(pt.text) @> text_grams({term}::text)")
        where.add(f"pt.text ILIKE {where.param(pattern + '%')}")
    return where


async def task_access(connection: Connection, workflow_id: str) -> TaskAccess | None:
    """Who the task's units are now, for the authorisation check; None if unknown."""
    row = await connection.fetchrow(
        "SELECT plan_id, lead_unit, cooperating_units FROM task_states WHERE workflow_id = $1",
        workflow_id,
    )
    if row is None:
        return None
    return TaskAccess(row["plan_id"], row["lead_unit"], tuple(row["cooperating_units"]))


async def task_detail(connection: Connection, workflow_id: str) -> dict[str, Any] | None:
    """The task's row with its document reading and its whole timeline from the event log."""
    row = await connection.fetchrow(
        f"SELECT {_TASK_COLUMNS}, pt.milestones, pt.recurrence, pt.ongoing, pt.source,"
        f" pt.flags, ts.lineage {_FROM} WHERE ts.workflow_id = $1",
        workflow_id,
    )
    if row is None:
        return None
    detail = dict(row)
    for column in ("milestones", "recurrence", "source"):
        if detail[column] is not None:
            detail[column] = json.loads(detail[column])
    events = await connection.fetch(
        """
        SELECT seq, lineage, kind, at, actor_role, actor_unit, unit, stage_before, stage_after,
               milestone, level, recipients, detail
        FROM task_events WHERE workflow_id = $1 ORDER BY at, lineage, seq
        """,
        workflow_id,
    )
    detail["timeline"] = [
        {**dict(event), "detail": json.loads(event["detail"])} for event in events
    ]
    return detail


async def list_plans(connection: Connection, principal: Principal) -> list[dict[str, Any]]:
    where = _Where()
    _visible_to(where, principal)
    rows = await connection.fetch(
        f"""
        SELECT p.plan_id, p.title, p.issuer, p.document_number, p.issue_date, p.period_start,
               p.period_end, p.source_file, p.format, p.imported_at, p.updated_at,
               count(ts.workflow_id) AS tasks,
               count(ts.workflow_id) FILTER (WHERE ts.closed_at IS NULL) AS open,
               count(ts.workflow_id) FILTER (WHERE {_LIGHT_WHERE["red"]}) AS overdue
        FROM plans p
        LEFT JOIN task_states ts ON ts.plan_id = p.plan_id
        WHERE p.plan_id IN (SELECT ts.plan_id FROM task_states ts {where.sql()})
           OR {_plan_scope(where, principal)}
        GROUP BY p.plan_id ORDER BY p.plan_id
        """,  # noqa: S608 - fixed fragments only
        *where.values,
    )
    return [dict(row) for row in rows]


def _plan_scope(where: _Where, principal: Principal) -> str:
    """Plans a coordinator covers even before any of their tasks is projected."""
    if principal.role == "admin" or (principal.role == "coordinator" and principal.plans is None):
        return "true"
    if principal.role == "coordinator" and principal.plans is not None:
        return f"p.plan_id = ANY({where.param(list(principal.plans))}::text[])"
    return "false"


async def plan_detail(connection: Connection, plan_id: str) -> dict[str, Any] | None:
    row = await connection.fetchrow(
        """
        SELECT plan_id, title, issuer, document_number, issue_date, period_start, period_end,
               source_file, format, imported_at, updated_at
        FROM plans WHERE plan_id = $1
        """,
        plan_id,
    )
    if row is None:
        return None
    counts = await connection.fetch(
        f"SELECT ts.stage, {_LIGHT_SQL} AS light, count(*) AS n"  # noqa: S608 - fixed fragments only
        " FROM task_states ts WHERE ts.plan_id = $1 GROUP BY 1, 2",
        plan_id,
    )
    by_stage: dict[str, int] = {}
    by_light: dict[str, int] = dict.fromkeys(LIGHTS, 0)
    for count in counts:
        by_stage[count["stage"]] = by_stage.get(count["stage"], 0) + count["n"]
        by_light[count["light"]] += count["n"]
    imported = await connection.fetchval(
        "SELECT count(*) FROM plan_tasks WHERE plan_id = $1 AND withdrawn_at IS NULL", plan_id
    )
    return {
        **dict(row),
        "tasks_imported": imported,
        "by_stage": by_stage,
        "by_light": by_light,
    }


async def unit_works_on_plan(connection: Connection, principal: Principal, plan_id: str) -> bool:
    """Whether a unit has any task in the plan (so that it may see the plan)."""
    if principal.unit is None:
        return False
    found: bool = await connection.fetchval(
        "SELECT EXISTS (SELECT 1 FROM task_states WHERE plan_id = $1"
        " AND (lead_unit = $2 OR cooperating_units @> ARRAY[$2]::text[]))",
        plan_id,
        principal.unit,
    )
    return found


async def known_units(connection: Connection) -> set[str]:
    """Every unit named by an imported task, as the document or a reassignment has it."""
    rows = await connection.fetch(
        """
        SELECT DISTINCT unnest(lead_units || cooperating_units) AS unit FROM plan_tasks
        UNION SELECT lead_unit FROM task_states WHERE lead_unit IS NOT NULL
        """
    )
    return {row["unit"] for row in rows}


# The events that say where a task's current round stands for its units: who has decided in
# 会签 since the last submission, whether an extension request waits, whether it was sent back.
ROUND_EVENT_KINDS = (
    "assigned",
    "accepted",
    "submitted",
    "signed_off",
    "objected",
    "deemed_consent",
    "returned",
    "extension_requested",
    "extension_granted",
    "extension_rejected",
    "reassigned",
)


async def round_events(
    connection: Connection, workflow_ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Each task's events of ROUND_EVENT_KINDS, in the timeline's order."""
    rows = await connection.fetch(
        """
        SELECT workflow_id, kind, unit, actor_unit, detail FROM task_events
        WHERE workflow_id = ANY($1::text[]) AND kind = ANY($2::text[])
        ORDER BY workflow_id, at, lineage, seq
        """,
        workflow_ids,
        list(ROUND_EVENT_KINDS),
    )
    found: dict[str, list[dict[str, Any]]] = {workflow_id: [] for workflow_id in workflow_ids}
    for row in rows:
        found[row["workflow_id"]].append({**dict(row), "detail": json.loads(row["detail"])})
    return found
