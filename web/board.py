"""The coordinator's board (督办看板): what is red, who is late, and what waits on the
coordinator, per plan and across plans.

Everything on it is read with the task list's own visibility and filters
(:func:`store.task_reads.task_where`): a coordinator of plan A sees plan A's tasks and
units only, as through the API. The counts and lists follow every filter (plan, unit,
stage, light); the per-unit table (分单位情况) is the monthly notice's arithmetic this month
to date (:mod:`services.board`) and follows the plan filter only, as a notice covers a plan
or every plan. A unit has no board: it is sent to its inbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, cast
from urllib.parse import quote, quote_plus, urlencode

import asyncpg
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import connection, dependencies_of
from domain.access import Principal
from domain.lifecycle import Stage
from runtime.log import get_logger
from services.board import BoardCache, Scope, scope_of
from services.board_worker import UnitTableWorker
from store import board_reads, task_reads
from store.task_reads import TaskFilter
from web.session import User
from web.templating import LIGHT_LABELS, render

log = get_logger(__name__)

router = APIRouter(include_in_schema=False)

LIST_LIMIT = 50
STAGES = tuple(Stage)
FILTER_LIGHTS = ("red", "yellow", "green")


@dataclass
class BoardQuery:
    """The filter form as sent, each value checked; ``errors`` says which field was wrong."""

    plan: str | None
    unit: str | None
    stage: str | None
    light: str | None
    errors: dict[str, str]

    @classmethod
    def of(cls, request: Request) -> BoardQuery:
        params = request.query_params
        errors: dict[str, str] = {}

        def text(name: str) -> str | None:
            value = (params.get(name) or "").strip()
            if len(value) > 200:
                errors[name] = "过长（最多200个字符）"
                return None
            return value or None

        plan, unit, stage, light = text("plan"), text("unit"), text("stage"), text("light")
        if stage is not None and stage not in {s.value for s in STAGES}:
            errors["stage"] = f"没有“{stage}”这个阶段"
            stage = None
        if light is not None and light not in FILTER_LIGHTS:
            errors["light"] = f"没有“{light}”这种状态灯"
            light = None
        return cls(plan, unit, stage, light, errors)

    @property
    def filters(self) -> TaskFilter:
        light = cast(task_reads.Light | None, self.light)  # checked in of()
        return TaskFilter(plan=self.plan, unit=self.unit, stage=self.stage, light=light)

    def unit_link(self, unit: str) -> str:
        """:meth:`link` with ``unit`` set; the rest encoded once per page, not per row."""
        return self._without_unit + quote_plus(unit)

    @cached_property
    def _without_unit(self) -> str:
        rest = self.link(unit=None)
        return rest + ("&" if "?" in rest else "?") + "unit="

    def link(self, **changes: str | None) -> str:
        """This board with some filters changed (None: dropped)."""
        values = {"plan": self.plan, "unit": self.unit, "stage": self.stage, "light": self.light}
        values.update(changes)
        query = urlencode({k: v for k, v in values.items() if v})
        return f"/board?{query}" if query else "/board"


def board_worker(app: FastAPI) -> UnitTableWorker:
    """The app's process for the per-unit table's fold, on the app's database address."""
    state = app.state
    worker: UnitTableWorker | None = getattr(state, "board_worker", None)
    if worker is None:
        worker = state.board_worker = UnitTableWorker(state.dependencies.database_url)
    return worker


def board_cache(app: FastAPI) -> BoardCache:
    state = app.state
    cache: BoardCache | None = getattr(state, "board_cache", None)
    if cache is None:
        cache = state.board_cache = BoardCache(folder=board_worker(app))
    return cache


async def close_board(app: FastAPI) -> None:
    """As the app stops: the fold's worker process ends."""
    worker: UnitTableWorker | None = getattr(app.state, "board_worker", None)
    if worker is not None:
        await worker.close()


def _cache(request: Request) -> BoardCache:
    return board_cache(request.app)


async def warm_board(app: FastAPI, pool: asyncpg.Pool) -> None:
    """Compute, as the API starts, the per-unit tables its coordinators will ask for first:
    every plan, each active coordinator token's plans, and each plan alone (the plan
    filter), so that no visitor waits for a fold (most of a second over 10,000 tasks, for
    every plan). One at a time, in the background. A failure is only logged: the first
    visit of that scope computes it again."""
    cache = board_cache(app)
    try:
        async with pool.acquire() as connection:
            plan_sets = await connection.fetch(
                "SELECT DISTINCT plans FROM api_tokens WHERE role = 'coordinator'"
                " AND plans IS NOT NULL AND revoked_at IS NULL AND expires_at > now()"
            )
            plan_ids = await connection.fetch("SELECT plan_id FROM plans ORDER BY plan_id")
        scopes: list[Scope] = [None]
        scopes += [scope_of(tuple(row["plans"])) for row in plan_sets]
        scopes += [(row["plan_id"],) for row in plan_ids]
        for scope in dict.fromkeys(scopes):
            await cache.unit_table(pool, scope)
    except Exception:
        log.exception("board: the per-unit tables could not be computed at start-up")


def _scope(principal: Principal) -> Scope:
    """The plans a coordinator or an admin sees (None: every plan): what the board's
    derived values are kept for."""
    return scope_of(principal.plans if principal.role == "coordinator" else None)


def _tally(counts: list[tuple[str, str, str, int]]) -> tuple[dict[str, int], dict[str, Any]]:
    """Totals by stage and light (keys ``stage-…``, ``light-…``, ``tasks``) over every plan,
    and the same per plan."""

    def empty() -> dict[str, int]:
        return {
            "tasks": 0,
            **{f"stage-{s.value}": 0 for s in STAGES},
            **{f"light-{light}": 0 for light in (*FILTER_LIGHTS, "none")},
        }

    total = empty()
    per_plan: dict[str, dict[str, int]] = {}
    for plan_id, stage, light, n in counts:
        for bucket in (total, per_plan.setdefault(plan_id, empty())):
            bucket["tasks"] += n
            bucket[f"stage-{stage}"] = bucket.get(f"stage-{stage}", 0) + n
            bucket[f"light-{light}"] = bucket.get(f"light-{light}", 0) + n
    return total, per_plan


def _task_link(row: dict[str, Any]) -> str:
    """The task's page (/tasks/{plan_id}/{task_key}): its workflow id is both, joined."""
    return "/tasks/" + quote(row["workflow_id"], safe="/@")


@router.get("/board")
async def board(request: Request, user: User) -> Response:
    principal = user.principal
    if principal.role == "unit":
        return RedirectResponse("/inbox", status_code=303)
    query = BoardQuery.of(request)
    cache, pool, scope = _cache(request), dependencies_of(request).pool, _scope(principal)
    async with connection(request) as conn:
        plans = await task_reads.list_plans(conn, principal)
    if query.plan is not None and query.plan not in {plan["plan_id"] for plan in plans}:
        # As the API answers a plan the caller may not see: as if it did not exist.
        return render(
            request,
            "refused.html",
            status_code=404,
            title="没有这个计划",
            reason=f"没有编号为“{query.plan}”的计划，或您无权查看。",
            nav="board",
        )

    async def units_in_view(_: datetime) -> list[str]:
        async with pool.acquire() as conn:
            return await board_reads.units_seen(conn, principal)

    async def waiting_extensions(_: datetime) -> dict[str, dict[str, Any]]:
        async with pool.acquire() as conn:
            return await board_reads.pending_extensions(conn, principal)

    # A unit appears only by import or reassignment: a filter list a visit behind is fine.
    units = await cache.get(pool, "units-seen", scope, units_in_view, may_lag=True)
    pending = await cache.get(pool, "extension-requests", scope, waiting_extensions)
    # The table covers the plan filter's plan, else every plan the caller sees.
    unit_table = await cache.unit_table(pool, (query.plan,) if query.plan else scope)
    filters = query.filters
    async with connection(request) as conn:
        counts = await board_reads.counts(conn, principal, filters)
        overdue = await board_reads.overdue(conn, principal, filters, limit=LIST_LIMIT)
        review = await board_reads.in_stage(
            conn, principal, filters, Stage.REVIEW.value, limit=LIST_LIMIT
        )
        extensions = await board_reads.extension_requests(
            conn, principal, filters, pending.value, limit=LIST_LIMIT
        )
        refused = await board_reads.awaiting_reassignment(
            conn, principal, filters, limit=LIST_LIMIT
        )
    total, per_plan = _tally(counts)
    titles = {plan["plan_id"]: plan["title"] for plan in plans}
    return render(
        request,
        "board.html",
        status_code=422 if query.errors else 200,
        nav="board",
        query=query,
        plans=plans,
        titles=titles,
        units=units.value,
        stages=STAGES,
        lights=FILTER_LIGHTS,
        light_labels=LIGHT_LABELS,
        total=total,
        per_plan=[
            (plan, per_plan[plan["plan_id"]]) for plan in plans if plan["plan_id"] in per_plan
        ],
        unit_table=unit_table,
        overdue=overdue,
        review=review,
        extensions=extensions,
        refused=refused,
        task_link=_task_link,
        list_limit=LIST_LIMIT,
    )
