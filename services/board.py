"""What the coordinator's board (督办看板) derives from the whole event log, and keeps until
the log moves: the per-unit table (分单位情况) this month to date, the extension requests
waiting for a decision, and the units of the plans in view.

The table is the monthly notice's own: its reads (:func:`store.notice_reads.read_notice_input`)
and its arithmetic (:func:`domain.notice_state.unit_rows_at`) with the office's settings,
as of now instead of a month's end, so 滞后 and 逾期 mean on the board exactly what they
mean in the notice. Folding every event of every task costs most of a second per 10,000
tasks, and finding the waiting requests means reading every open task's last extension
event, so each is kept per plan scope and recomputed only when the event log has moved
(:func:`store.board_reads.event_high_water`), the Shanghai day has turned (逾期 is by day),
or it is older than ``max_age`` (滞后 drifts with the clock: the share of a task's period
elapsed grows even when nothing is recorded). A recomputation that outlasts a visit's
patience is finished in the background while that visit is shown the value kept, with the
instant it holds for (:class:`BoardCache`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

import asyncpg

from domain.calendar import SHANGHAI
from domain.notice import UnitStanding
from domain.notice_state import NoticeTask, unit_rows_at
from services.notice_settings import NoticeSettings, load_notice_settings
from store.board_reads import event_high_water
from store.notice_reads import NoticeEvent, read_notice_input

logger = logging.getLogger(__name__)

DEFAULT_MAX_AGE = timedelta(minutes=5)
# Entries kept: a few per plan and per coordinator's set of plans, a few dozen in an
# office; past this the oldest computed goes.
MAX_ENTRIES = 256

Scope = tuple[str, ...] | None  # plan ids, sorted; None: every plan
T = TypeVar("T")
UnitRows = tuple[UnitStanding, ...]


@dataclass(frozen=True)
class Derived(Generic[T]):
    """A value derived from the event log, as of ``as_of``."""

    value: T
    as_of: datetime
    computed_in: float  # seconds spent computing it (0 when served from the cache)
    from_cache: bool
    updating: bool = False  # kept while a recomputation after newer events runs


@dataclass(frozen=True)
class UnitTableInput:
    """What the per-unit table folds: the plans' titles, their tasks and live events."""

    titles: dict[str, str]
    tasks: list[NoticeTask]
    events: dict[str, list[list[NoticeEvent]]]


async def read_unit_table_input(
    source: asyncpg.Pool | asyncpg.Connection, plans: Scope, as_of: datetime
) -> UnitTableInput:
    """The notice's reads over ``plans`` (None: every plan) as of ``as_of``."""
    titles: dict[str, str] = {}
    tasks: list[NoticeTask] = []
    events: dict[str, list[list[NoticeEvent]]] = {}
    for plan_id in plans if plans is not None else (None,):
        data = await read_notice_input(source, as_of, plan_id)
        titles.update(data.plan_titles)
        tasks.extend(data.tasks)
        events.update(data.events)  # workflow ids belong to one plan each
    return UnitTableInput(titles, tasks, events)


def fold_unit_table(
    data: UnitTableInput, as_of: datetime, settings: NoticeSettings
) -> tuple[UnitStanding, ...]:
    return unit_rows_at(
        data.tasks,
        data.events,
        as_of,
        behind_margin=settings.behind_margin,
        light_policies=settings.light_policies(data.titles),
    )


async def compute_unit_table(
    pool: asyncpg.Pool, plans: Scope, as_of: datetime
) -> tuple[UnitStanding, ...]:
    """分单位情况 over ``plans`` (None: every plan) as of ``as_of``, by the notice's arithmetic
    and the office's notice settings. At a month's end it equals that month's notice's.
    In this process: the server's own recomputations run in a worker process instead
    (:class:`services.board_worker.UnitTableWorker`)."""
    settings = load_notice_settings()
    data = await read_unit_table_input(pool, plans, as_of)
    # The fold is pure Python: a thread lets the server answer other requests meanwhile.
    return await asyncio.to_thread(fold_unit_table, data, as_of, settings)


class UnitTableFolder(Protocol):
    """What computes the per-unit table for a :class:`BoardCache` (a worker process)."""

    async def unit_table(
        self, pool: asyncpg.Pool, plans: Scope, as_of: datetime
    ) -> tuple[UnitStanding, ...]: ...


def _retrieved(task: asyncio.Task[Any]) -> None:
    """Its failure was logged by the task itself; nothing is left unretrieved."""
    if not task.cancelled():
        task.exception()


def _lagging(entry: _Entry) -> Derived[Any]:
    kept = entry.derived
    return Derived(kept.value, kept.as_of, 0.0, from_cache=True, updating=True)


def scope_of(plans: tuple[str, ...] | None) -> Scope:
    return tuple(sorted(set(plans))) if plans is not None else None


@dataclass
class _Entry:
    key: tuple[Any, ...]
    derived: Derived[Any]
    computed_at: float


Slot = tuple[str, Scope]


@dataclass
class BoardCache:
    """Derived values by (name, plan scope), each with the high-water mark it was computed
    at. One cache per app (``app.state``), so two apps on two databases never share.

    When the log has moved, a visit starts the recomputation (one per value at a time). For
    a value that may lag (the per-unit table, whose fold takes most of a second over 10,000
    tasks) it waits up to ``wait_for_fresh``; if the fold takes longer, the visit is shown
    the value kept, marked ``updating`` with the instant it holds for, and the next visit
    after the recomputation shows the new one. Such a value is recomputed again only once
    ``refresh_spacing`` times its last computation's duration has passed (a fold of 0.8 s:
    at most every 3.2 s), so that a stream of events does not keep the server folding.
    Otherwise, and on the first visit with nothing kept, a visit waits for the new value."""

    max_age: timedelta = DEFAULT_MAX_AGE
    wait_for_fresh: timedelta | None = timedelta(milliseconds=50)
    refresh_spacing: float = 4.0
    # Where the per-unit table is folded: the app's worker process (web.board), else here.
    folder: UnitTableFolder | None = None
    _entries: dict[Slot, _Entry] = field(default_factory=dict)
    _refreshing: dict[Slot, asyncio.Task[Derived[Any]]] = field(default_factory=dict)

    async def get(
        self,
        pool: asyncpg.Pool,
        name: str,
        scope: Scope,
        compute: Callable[[datetime], Awaitable[T]],
        *,
        may_lag: bool = False,
    ) -> Derived[T]:
        """``compute(now)``'s value for ``scope``: the one kept, while nothing moved. Only
        with ``may_lag`` is a visit shown a kept value while a slow recomputation runs."""
        slot = (name, scope)
        now = datetime.now(UTC)
        async with pool.acquire() as connection:
            water = await event_high_water(connection, scope)
        key = (water, now.astimezone(SHANGHAI).date(), repr(load_notice_settings()))
        entry = self._entries.get(slot)
        fresh_since = time.monotonic() - self.max_age.total_seconds()
        if entry is not None and entry.key == key and entry.computed_at >= fresh_since:
            kept: Derived[T] = entry.derived
            return Derived(kept.value, kept.as_of, 0.0, from_cache=True)
        patience = self.wait_for_fresh if may_lag and entry is not None else None
        running = self._refreshing.get(slot)
        if running is None and patience is not None and entry is not None and self._too_soon(entry):
            return _lagging(entry)
        if running is None:
            running = asyncio.create_task(self._refresh(slot, key, now, compute))
            self._refreshing[slot] = running
            running.add_done_callback(_retrieved)
        if patience is None or entry is None:
            return await asyncio.shield(running)
        try:
            return await asyncio.wait_for(asyncio.shield(running), patience.total_seconds())
        except TimeoutError:
            return _lagging(entry)

    def _too_soon(self, entry: _Entry) -> bool:
        """Whether a value that may lag was recomputed too recently to start again: while
        events keep landing, its fold (pure Python, holding the interpreter) takes at
        most about 1 / ``refresh_spacing`` of the server's time."""
        spacing = entry.derived.computed_in * self.refresh_spacing
        return time.monotonic() - entry.computed_at < spacing

    async def _refresh(
        self,
        slot: Slot,
        key: tuple[Any, ...],
        now: datetime,
        compute: Callable[[datetime], Awaitable[T]],
    ) -> Derived[T]:
        try:
            started = time.perf_counter()
            value = await compute(now)
            derived = Derived(value, now, time.perf_counter() - started, from_cache=False)
            self._entries.pop(slot, None)
            while len(self._entries) >= MAX_ENTRIES:
                del self._entries[next(iter(self._entries))]
            self._entries[slot] = _Entry(key, derived, time.monotonic())
            return derived
        except Exception:
            # A visit that stopped waiting never hears of it: said here, tried again next.
            logger.exception("board: recomputing %s for plans %s failed", *slot)
            raise
        finally:
            self._refreshing.pop(slot, None)

    async def settled(self) -> None:
        """Once every recomputation under way has finished (tests and benchmarks)."""
        while self._refreshing:
            await asyncio.gather(*self._refreshing.values(), return_exceptions=True)

    async def unit_table(self, pool: asyncpg.Pool, plans: Scope) -> Derived[UnitRows]:
        """分单位情况 over ``plans`` (None: every plan), this month to date."""
        scope = scope_of(plans)

        async def compute(now: datetime) -> UnitRows:
            if self.folder is not None:
                return await self.folder.unit_table(pool, scope, now)
            return await compute_unit_table(pool, scope, now)

        return await self.get(pool, "unit-table", scope, compute, may_lag=True)
