"""The coordinator's board's per-unit table (分单位情况), this month to date.

The table is the monthly notice's own: its reads (:func:`store.notice_reads.read_notice_input`)
and its arithmetic (:func:`domain.notice_state.unit_rows_at`) with the office's settings,
as of now instead of a month's end, so 滞后 and 逾期 mean on the board exactly what they
mean in the notice. Folding every event of every task costs about a second per 10,000
tasks, so a table is kept per plan scope and recomputed only when the event log has moved
(:func:`store.board_reads.event_high_water`), the Shanghai day has turned (逾期 is by day),
or it is older than ``max_age`` (滞后 drifts with the clock: the share of a task's period
elapsed grows even when nothing is recorded).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from domain.calendar import SHANGHAI
from domain.notice import UnitStanding
from domain.notice_state import NoticeTask, unit_rows_at
from services.notice_settings import load_notice_settings
from store.board_reads import event_high_water
from store.notice_reads import NoticeEvent, read_notice_input

DEFAULT_MAX_AGE = timedelta(minutes=5)


@dataclass(frozen=True)
class UnitTable:
    rows: tuple[UnitStanding, ...]
    as_of: datetime
    computed_in: float  # seconds spent reading and folding (0 when served from the cache)
    from_cache: bool


async def compute_unit_table(
    pool: asyncpg.Pool, plans: tuple[str, ...] | None, as_of: datetime
) -> tuple[UnitStanding, ...]:
    """分单位情况 over ``plans`` (None: every plan) as of ``as_of``, by the notice's arithmetic
    and the office's notice settings. At a month's end it equals that month's notice's."""
    settings = load_notice_settings()
    titles: dict[str, str] = {}
    tasks: list[NoticeTask] = []
    events: dict[str, list[list[NoticeEvent]]] = {}
    for plan_id in plans if plans is not None else (None,):
        data = await read_notice_input(pool, as_of, plan_id)
        titles.update(data.plan_titles)
        tasks.extend(data.tasks)
        events.update(data.events)  # workflow ids belong to one plan each
    # The fold is pure Python: a thread lets the server answer other requests meanwhile.
    return await asyncio.to_thread(
        unit_rows_at,
        tasks,
        events,
        as_of,
        behind_margin=settings.behind_margin,
        light_policies=settings.light_policies(titles),
    )


@dataclass
class _Entry:
    key: tuple[Any, ...]
    table: UnitTable
    computed_at: float


@dataclass
class UnitTableCache:
    """One table per plan scope, with the high-water mark it was computed at."""

    max_age: timedelta = DEFAULT_MAX_AGE
    _entries: dict[tuple[str, ...] | None, _Entry] = field(default_factory=dict)
    _locks: dict[tuple[str, ...] | None, asyncio.Lock] = field(default_factory=dict)

    async def table(self, pool: asyncpg.Pool, plans: tuple[str, ...] | None) -> UnitTable:
        scope = tuple(sorted(plans)) if plans is not None else None
        # One computation per scope at a time: a burst of first visits waits for it.
        async with self._locks.setdefault(scope, asyncio.Lock()):
            now = datetime.now(UTC)
            async with pool.acquire() as connection:
                water = await event_high_water(connection, scope)
            key = (water, now.astimezone(SHANGHAI).date(), repr(load_notice_settings()))
            entry = self._entries.get(scope)
            fresh = time.monotonic() - self.max_age.total_seconds()
            if entry is not None and entry.key == key and entry.computed_at >= fresh:
                cached = entry.table
                return UnitTable(cached.rows, cached.as_of, 0.0, from_cache=True)
            started = time.perf_counter()
            rows = await compute_unit_table(pool, scope, now)
            table = UnitTable(rows, now, time.perf_counter() - started, from_cache=False)
            self._entries[scope] = _Entry(key, table, time.monotonic())
            return table
