"""The board's per-unit table (分单位情况) folded in a worker process of its own.

The fold is pure Python and takes most of a second over 10,000 tasks: in a thread of the
API's process it holds the interpreter lock, so every request arriving meanwhile waits for
it (a board visited while units keep reporting answered in 170 ms at p95 instead of 30).
One child process per app, started on first use ('spawn': no copy of the server's event
loop, sockets or threads), opens its own PostgreSQL connection from the database address,
reads and folds exactly as :func:`services.board.compute_unit_table` does (the same
functions, the settings the server loaded) and hands back the rows, which pickle.

If the child cannot be started, or dies, that computation is done in this process as before,
and a log line says so; the next one tries a new child. Without a database address (an app
built on a pool only) everything is folded in this process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime

import asyncpg

from runtime.log import get_logger
from services.board import (
    Scope,
    UnitRows,
    compute_unit_table,
    fold_unit_table,
    read_unit_table_input,
)
from services.notice_settings import NoticeSettings, load_notice_settings

log = get_logger(__name__)


class UnitTableWorker:
    """Folds the per-unit table in one child process, created lazily; :meth:`close` when
    the app stops. Safe to share between the visits of one app (one event loop)."""

    def __init__(self, database_url: str | None) -> None:
        self.database_url = database_url
        self._executor: ProcessPoolExecutor | None = None
        self._said_in_process = False

    def _started(self) -> Executor | None:
        if self.database_url is None:
            if not self._said_in_process:
                self._said_in_process = True
                log.info("board: no database address, the per-unit table is folded in-process")
            return None
        if self._executor is None:
            try:
                self._executor = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_child,
                )
            except (OSError, ValueError) as error:
                log.warning(
                    "board: the fold's worker process cannot start, folding in-process",
                    error=str(error) or type(error).__name__,
                )
                return None
        return self._executor

    async def unit_table(self, pool: asyncpg.Pool, plans: Scope, as_of: datetime) -> UnitRows:
        executor = self._started()
        if executor is None:
            return await compute_unit_table(pool, plans, as_of)
        assert self.database_url is not None
        settings = load_notice_settings()  # the server's, so the cache key matches the fold
        try:
            computing = executor.submit(
                _unit_table_in_child, self.database_url, plans, as_of, settings
            )
            # A failure of the child's own reads (the database down) comes back as raised
            # there and is the caller's, as the in-process fold's would be.
            return await asyncio.wrap_future(computing)
        except (BrokenProcessPool, OSError, RuntimeError) as error:
            if not _worker_failed(error):
                raise
            log.warning(
                "board: the fold's worker process failed, folding in-process; a new one next",
                error=str(error) or type(error).__name__,
            )
            self._discard()
            return await compute_unit_table(pool, plans, as_of)

    async def process_id(self) -> int | None:
        """The worker's process id (None: folding in-process), starting it if need be."""
        executor = self._started()
        if executor is None:
            return None
        return await asyncio.wrap_future(executor.submit(os.getpid))

    def _discard(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        """Stop the child: a fold under way is finished first (under a second)."""
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)


def _worker_failed(error: BaseException) -> bool:
    """Whether ``error`` is the worker's (it died, or could not be started or scheduled)
    rather than one its computation raised: those carry the child's traceback."""
    return isinstance(error, BrokenProcessPool) or error.__cause__ is None


# In the child process: one event loop and one connection, kept between computations.
_child_loop: asyncio.AbstractEventLoop | None = None
_child_connection: asyncpg.Connection | None = None


def _start_child() -> None:
    global _child_loop
    _child_loop = asyncio.new_event_loop()
    asyncio.set_event_loop(_child_loop)


def _unit_table_in_child(
    database_url: str, plans: Scope, as_of: datetime, settings: NoticeSettings
) -> UnitRows:
    assert _child_loop is not None, "started by _start_child"
    return _child_loop.run_until_complete(_read_and_fold(database_url, plans, as_of, settings))


async def _read_and_fold(
    database_url: str, plans: Scope, as_of: datetime, settings: NoticeSettings
) -> UnitRows:
    global _child_connection
    if _child_connection is None or _child_connection.is_closed():
        _child_connection = await asyncpg.connect(
            database_url,
            timeout=10,
            server_settings={"application_name": f"duban-board-{os.getpid()}"},
        )
    try:
        data = await read_unit_table_input(_child_connection, plans, as_of)
    except BaseException:
        # A connection in doubt is not reused: the next computation opens a new one.
        connection, _child_connection = _child_connection, None
        connection.terminate()
        raise
    return fold_unit_table(data, as_of, settings)
