"""The board (GET /board) and an inbox (GET /inbox) over 10,000 open tasks, server time,
beside the API's task list (GET /api/v1/tasks) in the same run.

Only PostgreSQL is needed: the embedded one, migrated (``bench_database()``), filled by
COPY with ``--plans`` plans, ``--tasks`` open tasks and ``--closed`` closed ones in
``plans``, ``plan_tasks``, ``task_states`` and a history for each in ``task_events``
consistent with its state (what the board's per-unit table folds, as the monthly notice
does), then ANALYZEd. The spread, fixed by ``--seed``:

* 300 units with a Zipf-like skew (the busiest leads or cooperates on about one task in
  five); each task led by one, cooperated on by 0 to 3 others;
* open tasks at 交办 25 %, 承办 55 %, 会签 8 %, 审核 7 %, and 5 % refused (退回, awaiting
  reassignment); 4 % of those in 承办 with an extension request waiting;
* due dates uniform from 180 days ago to 365 days ahead (about a third overdue, with 督办
  escalations), handed out 60 to 400 days before, progress reported along the way.

The app is the one ``duban api`` serves (``api.app.create_app``), called in this process
through ``httpx.ASGITransport`` with a session cookie (pages) or a bearer token (API); the
server time of each request is measured by a wrapper around the app, from the request's
arrival to its last byte. ``--repetitions`` timed requests per case after ``--warmup``
untimed ones; p50 and p95. The board's per-unit table is the notice's fold of every event:
it is kept per plan scope until the event log moves (``services.board.BoardCache``), so
the board is timed three ways:

* warm: the table kept, as every visit between two events sees it;
* after each event: one task's projection row written before every request, as a board
  refreshed while units keep reporting sees it (the fold then runs in the background, at
  most every four times its duration, and the visit is shown the table kept, marked as
  updating: the count of such pages is printed);
* cold: the cache emptied before every request, as the first visit after a start sees it
  (``--cold-repetitions`` of them, each a whole fold).

The parts of a cold board are then timed alone: the fold over every plan and one plan,
the cache key's query, and each of the board's statements. No Temporal is started: these
are reads only.

Run: ``.venv/bin/python -m bench.board_bench [--tasks 10000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from typing import Any, cast

import asyncpg
import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client

from api.app import create_app
from api.deps import ApiDependencies, ApiLimits
from bench.lifecycle_bench import bench_postgres, percentile, quiet_logging
from bench.notice_bench import EVENT_COLUMNS, _Lineage
from bench.task_list_bench import PLAN_COLUMNS, STATE_COLUMNS, TASK_COLUMNS, VOCABULARY
from domain.access import Principal
from domain.calendar import SHANGHAI
from services import access_tokens
from services.board import BoardCache, compute_unit_table
from store import board_reads, task_reads, web_sessions
from store.task_reads import TaskFilter
from web.board import LIST_LIMIT, board_worker, close_board
from web.session import SESSION_COOKIE

TASKS = 10_000
CLOSED = 2_000
PLANS = 8
UNITS = 300
REPETITIONS = 50
COLD_REPETITIONS = 10
WARMUP = 5
TARGET_MS = 200.0
SEED = 20261201
OPEN_STAGES = {"assigned": 0.25, "in_progress": 0.55, "signoff": 0.08, "review": 0.07}
REFUSED_SHARE = 0.05
EXTENSION_SHARE = 0.04  # of tasks in progress


def plan_ids(plans: int) -> list[str]:
    return [f"board-{number:02d}" for number in range(1, plans + 1)]


def _task(
    rng: random.Random,
    index: int,
    plan: str,
    units: list[str],
    weights: list[float],
    now: datetime,
    closed: bool,
) -> tuple[tuple[Any, ...], tuple[Any, ...], list[tuple[Any, ...]]]:
    """One task's plan_tasks row, task_states row and live events."""
    task_id = str(index + 1)
    workflow_id = f"{plan}/{task_id}"
    chosen = rng.choices(units, weights, k=4)
    lead = chosen[0]
    cooperating = list(dict.fromkeys(u for u in chosen[1 : 1 + rng.randint(0, 3)] if u != lead))
    due = (now + timedelta(days=rng.uniform(-180, 365))).astimezone(SHANGHAI).date()
    due_at = datetime.combine(due, time_of_day(23, 59, 59), SHANGHAI)
    assigned_at = min(now - timedelta(days=1), due_at - timedelta(days=rng.uniform(60, 400)))
    lineage = _Lineage(workflow_id, plan, task_id, f"run-{index}")
    moments = iter(sorted(assigned_at + (now - assigned_at) * rng.random() for _ in range(40)))
    lineage.add("assigned", assigned_at, lead, stage="assigned")
    percent, escalation_level, awaiting, closed_at = 0, 0, False, None
    if closed:
        stage = rng.choice(("completed", "completed", "completed", "cancelled"))
    elif rng.random() < REFUSED_SHARE:
        stage, awaiting = "assigned", True
    else:
        stage = rng.choices(list(OPEN_STAGES), list(OPEN_STAGES.values()))[0]
    if awaiting:
        lineage.add("refused", next(moments), lead, reason="不属于本单位职责")
    elif stage != "assigned":
        lineage.add("accepted", next(moments), lead, stage="in_progress")
        for _ in range(rng.randint(1, 6)):
            percent = min(100, percent + rng.randint(5, 25))
            lineage.add("progress", next(moments), lead, percent=percent, text="已召开专题会议部署")
        if stage == "in_progress" and rng.random() < EXTENSION_SHARE and due_at > now:
            new_due = due + timedelta(days=rng.randint(15, 90))
            lineage.add("extension_requested", next(moments), lead, milestone=0,
                        requested_due=new_due.isoformat(), reason="需协调资金")  # fmt: skip
    overdue = not closed and due_at < now
    if overdue:
        escalation_level = rng.randint(1, 3)
        for level in range(1, escalation_level + 1):
            lineage.add("escalation", next(moments), lead, milestone=0, level=level,
                        recipients=(lead,))  # fmt: skip
    if stage in {"signoff", "review", "completed"}:
        lineage.add("submitted", next(moments), lead, stage="signoff", milestone=0)
        if stage != "signoff":
            for unit in cooperating:
                lineage.add("signed_off", next(moments), unit)
            lineage.add("signoff_complete", next(moments), None, stage="review")
    if stage == "completed":
        closed_at = next(moments)
        on_time = closed_at.astimezone(SHANGHAI).date() <= due
        lineage.add("milestone_done", closed_at, lead, stage="review", milestone=0,
                    on_time=on_time)  # fmt: skip
        lineage.add("completed", closed_at, lead, stage="completed")
        percent = 100
    elif stage == "cancelled":
        closed_at = next(moments)
        lineage.add("cancelled", closed_at, lead, stage="cancelled", reason="任务调整")
    milestones = f'[{{"due": "{due.isoformat()}", "raw": "{due.year}年{due.month}月底前"}}]'
    text = "".join(rng.choices(VOCABULARY, k=rng.randint(8, 30))) + "。"
    task_row: tuple[Any, ...] = (
        plan, task_id, workflow_id, index + 1, None, ["重点任务"], text, [lead], cooperating,
        milestones, None, False, None, due, f'{{"file": "{plan}.docx", "lines": [{index}]}}',
        [], f"fp-{index}", now, f"fp-{index}", None, None,
    )  # fmt: skip
    is_closed = closed_at is not None
    state_row: tuple[Any, ...] = (
        workflow_id, plan, task_id, stage, lead, cooperating,
        None if stage == "completed" else due, None if stage == "completed" else due_at,
        escalation_level, 0, percent, awaiting, closed_at, len(lineage.rows), now,
        f"run-{index}", None if is_closed else due_at - timedelta(days=3),
    )  # fmt: skip
    return task_row, state_row, lineage.rows


@dataclass(frozen=True)
class Dataset:
    plans: list[str]
    busiest: str
    tasks: int
    events: int
    stages: Counter[str]


async def load(pool: asyncpg.Pool, tasks: int, closed: int, plans: int, seed: int) -> Dataset:
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    ids = plan_ids(plans)
    units = [f"单位{number:03d}" for number in range(UNITS)]
    weights = [1 / (rank + 3) ** 1.1 for rank in range(UNITS)]
    now = datetime.now(UTC)
    plan_rows = [
        (plan, f"{plan} 年度重点工作任务分解方案", "市政府办公室", f"board〔2026〕{index}号",
         2026, 2027, f"{plan}.docx", "docx", f"fp-{plan}")
        for index, plan in enumerate(ids, 1)
    ]  # fmt: skip
    task_rows, state_rows, event_rows = [], [], []
    seen: Counter[str] = Counter()
    stages: Counter[str] = Counter()
    for index in range(tasks + closed):
        task_row, state_row, events = _task(
            rng, index, ids[index % plans], units, weights, now, closed=index >= tasks
        )
        task_rows.append(task_row)
        state_rows.append(state_row)
        event_rows.extend(events)
        seen.update({state_row[4], *state_row[5]})
        stages["refused" if state_row[11] else state_row[3]] += 1
    async with pool.acquire() as connection:
        await connection.copy_records_to_table("plans", records=plan_rows, columns=PLAN_COLUMNS)
        await connection.copy_records_to_table(
            "plan_tasks", records=task_rows, columns=TASK_COLUMNS
        )
        await connection.copy_records_to_table(
            "task_states", records=state_rows, columns=STATE_COLUMNS
        )
        await connection.copy_records_to_table(
            "task_events", records=event_rows, columns=EVENT_COLUMNS
        )
        await connection.execute("VACUUM ANALYZE plans, plan_tasks, task_states, task_events")
    return Dataset(ids, seen.most_common(1)[0][0], tasks + closed, len(event_rows), stages)


class ServerTimer:
    """Wraps the app: the time from each request's arrival to its last body byte."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seconds: list[float] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()

        async def timed_send(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.seconds.append(time.perf_counter() - started)

        await self.app(scope, receive, timed_send)


async def session_cookie(pool: asyncpg.Pool, role: str, **claims: Any) -> dict[str, str]:
    async with pool.acquire() as connection:
        issued = await access_tokens.issue(connection, role=role, **claims)  # type: ignore[arg-type]
        secret, _ = await web_sessions.start_session(connection, issued.record, timedelta(hours=1))
    return {SESSION_COOKIE: secret}


async def bearer(pool: asyncpg.Pool, role: str, **claims: Any) -> dict[str, str]:
    async with pool.acquire() as connection:
        issued = await access_tokens.issue(connection, role=role, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {issued.secret}"}


@dataclass
class Case:
    name: str
    path: str
    cookies: dict[str, str]
    headers: dict[str, str]
    repetitions: int
    before_each: Callable[[], Awaitable[None]] | None = None


@dataclass
class Result:
    case: Case
    seconds: list[float]
    status: int
    size: int
    lagging: int  # pages whose per-unit table was the one kept while a newer was computed

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def p95_ms(self) -> float:
        return percentile(self.seconds, 0.95) * 1000


async def run_case(
    client: httpx.AsyncClient, timer: ServerTimer, case: Case, warmup: int
) -> Result:
    status, size, lagging = 0, 0, 0
    for _ in range(warmup):
        answer = await client.get(case.path, cookies=case.cookies, headers=case.headers)
    timer.seconds.clear()
    for _ in range(case.repetitions):
        if case.before_each is not None:
            await case.before_each()
        answer = await client.get(case.path, cookies=case.cookies, headers=case.headers)
        status, size = answer.status_code, len(answer.content)
        lagging += 'id="unit-table-updating"' in answer.text
        if status != 200:
            raise AssertionError(f"{case.name}: {status} {answer.text[:300]}")
    return Result(case, list(timer.seconds), status, size, lagging)


async def _timed(repetitions: int, run: Callable[[], Awaitable[Any]]) -> list[float]:
    seconds = []
    for _ in range(repetitions):
        started = time.perf_counter()
        await run()
        seconds.append(time.perf_counter() - started)
    return seconds


async def time_reads(pool: asyncpg.Pool, repetitions: int) -> dict[str, list[float]]:
    """Each of the board's statements alone, for a coordinator of every plan, no filter."""
    principal = Principal(token_id="bench", role="coordinator", name="督查室")  # noqa: S106
    filters = TaskFilter()
    limit = LIST_LIMIT
    async with pool.acquire() as connection:
        reads: dict[str, Callable[[], Awaitable[Any]]] = {
            "list_plans": lambda: task_reads.list_plans(connection, principal),
            "counts": lambda: board_reads.counts(connection, principal, filters),
            "overdue": lambda: board_reads.overdue(connection, principal, filters, limit=limit),
            "review": lambda: board_reads.in_stage(
                connection, principal, filters, "review", limit=limit
            ),
            "pending_extensions (cached)": lambda: board_reads.pending_extensions(
                connection, principal
            ),
            "awaiting_reassignment": lambda: board_reads.awaiting_reassignment(
                connection, principal, filters, limit=limit
            ),
            "units_seen (cached)": lambda: board_reads.units_seen(connection, principal),
        }
        for run in reads.values():
            await run()
        return {name: await _timed(repetitions, run) for name, run in reads.items()}


async def main(arguments: argparse.Namespace) -> None:
    quiet_logging()
    async with bench_postgres() as (_, dsn, pool):
        started = time.perf_counter()
        data = await load(pool, arguments.tasks, arguments.closed, arguments.plans, arguments.seed)
        loaded = time.perf_counter() - started
        dependencies = ApiDependencies(
            pool=pool,
            # Reads only: nothing here reaches Temporal.
            temporal=cast(Client, None),
            limits=ApiLimits(rate_limit="1000000/minute"),
            database_url=None if arguments.in_process else dsn,
        )
        app = create_app(dependencies)
        timer = ServerTimer(app)
        coordinator = await session_cookie(pool, "coordinator")
        three_plans = tuple(data.plans[:3])
        coordinator_of_three = await session_cookie(pool, "coordinator", plans=three_plans)
        unit = await session_cookie(pool, "unit", unit=data.busiest)
        api_coordinator = await bearer(pool, "coordinator")
        api_unit = await bearer(pool, "unit", unit=data.busiest)

        async def empty_cache() -> None:
            await settled()
            app.state.board_cache = BoardCache(folder=board_worker(app))

        async def settled() -> None:
            cache = getattr(app.state, "board_cache", None)
            if cache is not None:
                await cache.settled()

        moved = iter(range(1, 1_000_000))

        async def an_event_lands() -> None:
            # What recording an event does to the high-water mark: one task's row written.
            await pool.execute(
                "UPDATE task_states SET updated_at = clock_timestamp() WHERE workflow_id = $1",
                f"{data.plans[0]}/{next(moved) % 100 * len(data.plans) + 1}",
            )

        n, cold_n = arguments.repetitions, arguments.cold_repetitions
        cases = [
            Case("API GET /api/v1/tasks (coordinator)", "/api/v1/tasks", {}, api_coordinator, n),
            Case("API GET /api/v1/tasks (unit, busiest)", "/api/v1/tasks", {}, api_unit, n),
            Case("GET /inbox (unit, busiest)", "/inbox", unit, {}, n),
            Case("GET /board warm (every plan)", "/board", coordinator, {}, n),
            Case(
                f"GET /board?plan={data.plans[0]} warm",
                f"/board?plan={data.plans[0]}",
                coordinator,
                {},
                n,
            ),
            Case("GET /board?light=red warm", "/board?light=red", coordinator, {}, n),
            Case(
                f"GET /board?unit={data.busiest} warm",
                f"/board?unit={data.busiest}",
                coordinator,
                {},
                n,
            ),
            Case("GET /board warm (coordinator of 3 plans)", "/board", coordinator_of_three, {}, n),
            Case(
                "GET /board after each event (every plan)",
                "/board",
                coordinator,
                {},
                n,
                an_event_lands,
            ),
            Case("GET /board cold (every plan)", "/board", coordinator, {}, cold_n, empty_cache),
            Case(
                f"GET /board?plan={data.plans[0]} cold",
                f"/board?plan={data.plans[0]}",
                coordinator,
                {},
                cold_n,
                empty_cache,
            ),
        ]
        results = []
        transport = httpx.ASGITransport(app=timer)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for case in cases:
                results.append(await run_case(client, timer, case, arguments.warmup))
                await settled()
        # The parts of a cold board, timed alone.
        now = datetime.now(UTC)
        fold_all = await _timed(cold_n, lambda: compute_unit_table(pool, None, now))
        fold_one = await _timed(cold_n, lambda: compute_unit_table(pool, (data.plans[0],), now))
        worker = board_worker(app)
        fold_worker = await _timed(cold_n, lambda: worker.unit_table(pool, None, now))
        worker_pid = await worker.process_id()
        await close_board(app)  # the ASGI transport runs no lifespan

        async def high_water() -> Any:
            async with pool.acquire() as connection:
                return await board_reads.event_high_water(connection, None)

        water = await _timed(n, high_water)
        reads = await time_reads(pool, n)
        open_tasks = sum(v for k, v in data.stages.items() if k not in {"completed", "cancelled"})

    baseline = next(r for r in results if r.case.name.startswith("API GET /api/v1/tasks (coord"))
    print(
        f"board bench: {open_tasks} open + {data.tasks - open_tasks} closed tasks in"
        f" {len(data.plans)} plans, {data.events} events, {os.cpu_count()} cores;"
        f" seeded in {loaded:.1f} s"
    )
    print("  tasks by stage: " + ", ".join(f"{k} {v}" for k, v in data.stages.most_common()))
    print(
        f"  server time through the ASGI app; baseline: {baseline.case.name}, same run;"
        f" target p95 < {TARGET_MS:.0f} ms"
    )
    print(f"  {'case':<44} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'x base p95':>10} {'KB':>6}")
    for result in results:
        ratio = result.p95_ms / baseline.p95_ms
        verdict = "" if "API" in result.case.name else (
            "  met" if result.p95_ms < TARGET_MS else "  NOT met"
        )  # fmt: skip
        lagging = f" ({result.lagging} with the table kept)" if result.lagging else ""
        print(
            f"  {result.case.name:<44} {len(result.seconds):>4} {result.p50_ms:8.1f}"
            f" {result.p95_ms:8.1f} {ratio:10.1f} {result.size / 1024:6.0f}{verdict}{lagging}"
        )

    def line(name: str, seconds: list[float]) -> str:
        return (
            f"  {name:<44} {len(seconds):>4} {statistics.median(seconds) * 1000:8.1f}"
            f" {percentile(seconds, 0.95) * 1000:8.1f}"
        )

    print("  parts of a cold board, alone:")
    print(line("per-unit table, every plan (read + fold)", fold_all))
    print(line(f"per-unit table, {data.plans[0]} (read + fold)", fold_one))
    where = f"worker process {worker_pid}" if worker_pid else "in-process: no worker"
    print(line(f"per-unit table, every plan ({where})", fold_worker))
    print(line("event high-water mark (cache key)", water))
    for name, seconds in reads.items():
        print(line(f"{name} (every plan)", seconds))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=TASKS, help="open tasks")
    parser.add_argument("--closed", type=int, default=CLOSED, help="closed tasks besides")
    parser.add_argument("--plans", type=int, default=PLANS)
    parser.add_argument("--repetitions", type=int, default=REPETITIONS)
    parser.add_argument("--cold-repetitions", type=int, default=COLD_REPETITIONS)
    parser.add_argument("--warmup", type=int, default=WARMUP)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--in-process", action="store_true", help="fold in the server's process, as before"
    )
    asyncio.run(main(parser.parse_args()))
