"""Lifecycle actions through the HTTP API against the same actions sent straight to Temporal.

One fresh dev server (a database file with the WAL pragmas ``duban dev`` uses), one
migrated PostgreSQL (``bench_database()``), one worker and the API, laid out as
``--layout`` says:

* ``in-process`` (the default): the worker (``build_worker``, as the tests run it, on the
  benchmark's pool of 10 connections) and ``tests.support.api.serve_api`` (uvicorn on a
  free loopback port, its own pool of 10) in this process, beside the benchmark's clients,
  all on one event loop;
* ``processes``: ``duban worker`` and ``duban api`` (``python -m cli ...``), each in its own
  process with its own pool and Temporal connection, as production runs them.

Either way the API's rate limit is high enough never to refuse (RATE_LIMIT). Tasks have
one lead unit, exactly one cooperating unit and one milestone due in DUE_IN; they are
started with ``services.tasks.start_task``, and a path starts only once each of its tasks
has its ``task_states`` row (the API authorises from that table). Each path takes every
task through five actions (accept, progress, submit, one sign-off, review) with
``--clients`` concurrent clients, each working on its own tasks one after another, as a
unit would:

* **direct**: ``services.tasks.send_action(client, workflow_id, kind, action, key)``, the
  very call the API makes after its checks, with a fresh idempotency key per action;
* **API**: ``POST /api/v1/tasks/{plan}/{task}/{action}`` from one shared httpx client with
  a pool of ``--clients`` connections, a fresh ``Idempotency-Key`` per request and the
  token of whoever acts (the lead's, the cooperating unit's, the coordinator's). On top of
  the update the API looks up the token, counts it against the rate limit, reads the task's
  units from the projection, reserves and answers the idempotency key and writes an audit
  row: five statements against PostgreSQL per action.

Order: a warm-up of one task per client on each path (not counted), then ``--rounds``
rounds of both paths on disjoint sets of ``--tasks`` tasks, direct first in odd rounds and
API first in even ones (``--rounds 2`` measures each order once). A path's tasks are
started (and projected) just before it runs, so each path finds its own tasks in the
workflow cache; with ``--tasks`` above the cache (1,000) both pay its misses alike. An
action the workflow refuses as out of stage (409 wrong_stage) is retried after RETRY_SLEEP
and counted. Last, ``--unloaded-tasks`` tasks per path with one client alone (direct first),
once with each action sent as soon as the last returned and once THINK_TIME after it:
what a request costs without queueing (the first also shows the recording window: a
request that arrives while the workflow records the previous action waits for it).

What the figures mean: actions/s is actions completed per second of wall time, first
action to last, over all clients; latency is one request's (one ``send_action``'s) round
trip as its caller sees it, so under load it is mostly queueing (50 clients / rate);
API / direct is the share of the direct throughput the API keeps (target >= 0.8); the p99
difference is the API's p99 less the direct p99 (target <= 50 ms). CPU per action is
read from /proc (psutil) for this process, the worker and API processes, the dev server
and PostgreSQL; the collector's pauses are this process's (``gc.callbacks``).
Run: ``.venv/bin/python -m bench.api_bench [--tasks 1000] [--layout processes]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from pydantic import BaseModel
from temporalio.client import Client

from api.deps import ApiLimits
from bench.lifecycle_bench import bench_database, fresh_temporal, percentile, quiet_logging
from bench.memory_bench import wait_until, worker_environment, worker_polls
from domain.access import ActionKind
from domain.calendar import SHANGHAI
from domain.lifecycle import Actor, Stage
from domain.plan import PlanTask
from runtime.embedded import free_port, spawn_child, stop_child
from runtime.settings import Settings
from services.tasks import WrongStageError, send_action, start_task
from tests.support.api import ApiStack, serve_api
from tests.support.lifecycle import make_task
from workers.registry import build_activities
from workers.service import build_worker
from workflows.task_contract import Accept, ReportProgress, Review, SignOff, Submit

TASKS = 1_000  # per path and round: 5,000 actions each
CLIENTS = 50
ROUNDS = 1
UNLOADED_TASKS = 20
# An action sent within a few ms of the previous one's answer reaches the workflow while
# it records that one (its activity and the workflow task after it) and waits for that;
# sent at once, or after this pause, it does not. The unloaded runs show both.
THINK_TIME = 0.1
LAYOUTS = ("in-process", "processes")
QUEUE = "bench-api"
RATE_LIMIT = "100000/minute"
DUE_IN = timedelta(days=180)
START_CONCURRENCY = 50
RETRY_SLEEP = 0.02  # seconds before a refused sign-off is sent again
MAX_RETRIES = 200
TIMEOUT = 600.0  # seconds per path and round
# Canonical names of the bundled unit directory, so that their tokens can be issued.
LEAD = "市经济和信息化委"
COOPERATOR = "市财政局"
COORDINATOR = Actor(role="coordinator", name="督查室")
ACTIONS = (
    ActionKind.ACCEPT,
    ActionKind.PROGRESS,
    ActionKind.SUBMIT,
    ActionKind.SIGN_OFF,
    ActionKind.REVIEW,
)
# The JSON body of each action, as a unit's or coordinator's client would send it.
BODIES: dict[ActionKind, dict[str, Any] | None] = {
    ActionKind.ACCEPT: None,
    ActionKind.PROGRESS: {"percent": 50, "text": "按计划推进"},
    ActionKind.SUBMIT: {"summary": "已完成"},
    ActionKind.SIGN_OFF: {"approve": True},
    ActionKind.REVIEW: {"approve": True},
}


def direct_payloads() -> dict[ActionKind, BaseModel]:
    """The same actions as workflow payloads (the API builds these from the bodies and the
    actor its token names)."""
    lead = Actor(role="unit", unit=LEAD, name=LEAD)
    cooperator = Actor(role="unit", unit=COOPERATOR, name=COOPERATOR)
    return {
        ActionKind.ACCEPT: Accept(actor=lead),
        ActionKind.PROGRESS: ReportProgress(actor=lead, percent=50, text="按计划推进"),
        ActionKind.SUBMIT: Submit(actor=lead, summary="已完成"),
        ActionKind.SIGN_OFF: SignOff(actor=cooperator, approve=True),
        ActionKind.REVIEW: Review(actor=COORDINATOR, approve=True),
    }


def bench_task(index: int) -> PlanTask:
    """One milestone due in DUE_IN, the lead LEAD and exactly one cooperating unit."""
    today = datetime.now(SHANGHAI).date()
    return make_task([today + DUE_IN], lead=LEAD, cooperating=[COOPERATOR]).model_copy(
        update={"id": str(index), "seq": index}
    )


@contextmanager
def gc_pauses() -> Iterator[list[float]]:
    """The garbage collector's pauses in this process while the block runs, in seconds:
    a full collection walks every object of the process, the worker's cached workflows
    included, and stops its event loop meanwhile."""
    pauses: list[float] = []
    began = 0.0

    def callback(phase: str, info: dict[str, int]) -> None:
        nonlocal began
        if phase == "start":
            began = time.perf_counter()
        else:
            pauses.append(time.perf_counter() - began)

    gc.callbacks.append(callback)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(callback)


CPU_GROUPS = ("this process", "worker", "api", "temporal", "postgres")


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) used so far: by this process (the benchmark's clients,
    and in the in-process layout the worker and the API too), by the worker and API
    processes (processes layout), by the dev server, and by PostgreSQL with its backends."""
    used = dict.fromkeys(CPU_GROUPS, 0.0)
    me = psutil.Process()
    for process in [me, *me.children(recursive=True)]:
        try:
            times = process.cpu_times()
            name = process.name()
            command = process.cmdline() if process.pid != me.pid else []
        except psutil.Error:
            continue
        if process.pid == me.pid:
            group = "this process"
        elif command[-2:] in (["cli", "worker"], ["cli", "api"]):
            group = command[-1]
        else:
            group = "postgres" if name.startswith("postgres") else name
        if group in used:
            used[group] += times.user + times.system
    return used


@dataclass
class Outcome:
    name: str
    actions: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[ActionKind, list[float]] = field(default_factory=dict)
    retries: Counter[ActionKind] = field(default_factory=Counter)
    cpu: Counter[str] = field(default_factory=Counter)  # CPU seconds, by process group
    gc_pauses: list[float] = field(default_factory=list)  # this process's, in seconds

    def add(self, other: Outcome) -> None:
        self.actions += other.actions
        self.seconds += other.seconds
        self.latencies += other.latencies
        for kind, values in other.by_kind.items():
            self.by_kind.setdefault(kind, []).extend(values)
        self.retries.update(other.retries)
        self.cpu.update(other.cpu)
        self.gc_pauses += other.gc_pauses

    @property
    def rate(self) -> float:
        return self.actions / self.seconds


# One action on one task: returns the stage the task is in after it, or raises
# WrongStageError when the workflow refused it as out of stage (then it is retried).
Act = Callable[[str, ActionKind], Awaitable[str]]


async def drive(
    name: str, workflow_ids: Sequence[str], clients: int, act: Act, pause: float = 0.0
) -> Outcome:
    """``clients`` concurrent clients, each taking its own tasks through ACTIONS in turn,
    ``pause`` seconds (untimed) before each action."""
    outcome = Outcome(name, by_kind={kind: [] for kind in ACTIONS})

    async def one_client(mine: Sequence[str]) -> None:
        for workflow_id in mine:
            for kind in ACTIONS:
                if pause:
                    await asyncio.sleep(pause)
                for attempt in range(MAX_RETRIES + 1):
                    started = time.perf_counter()
                    try:
                        stage = await act(workflow_id, kind)
                    except WrongStageError:
                        if attempt == MAX_RETRIES:
                            raise
                        outcome.retries[kind] += 1
                        await asyncio.sleep(RETRY_SLEEP)
                        continue
                    elapsed = time.perf_counter() - started
                    outcome.latencies.append(elapsed)
                    outcome.by_kind[kind].append(elapsed)
                    outcome.actions += 1
                    break
            if stage != Stage.COMPLETED.value:
                raise AssertionError(f"{name}: {workflow_id} ended in {stage}, not completed")

    cpu_before = cpu_seconds()
    started = time.perf_counter()
    with gc_pauses() as outcome.gc_pauses:
        await asyncio.gather(*(one_client(workflow_ids[i::clients]) for i in range(clients)))
    outcome.seconds = time.perf_counter() - started
    cpu_after = cpu_seconds()
    outcome.cpu.update({group: cpu_after[group] - cpu_before[group] for group in cpu_after})
    return outcome


def direct_act(client: Client) -> Act:
    payloads = direct_payloads()

    async def act(workflow_id: str, kind: ActionKind) -> str:
        result = await send_action(client, workflow_id, kind, payloads[kind], uuid.uuid4().hex)
        return result.stage.value

    return act


def api_act(http: httpx.AsyncClient, tokens: dict[ActionKind, str]) -> Act:
    async def act(workflow_id: str, kind: ActionKind) -> str:
        body = BODIES[kind]
        headers = {
            "Authorization": f"Bearer {tokens[kind]}",
            "Idempotency-Key": uuid.uuid4().hex,
        }
        response = await http.post(
            f"/api/v1/tasks/{workflow_id}/{kind.value}",
            json=body,
            headers=headers,
        )
        if response.status_code == 409 and response.json().get("code") == "wrong_stage":
            raise WrongStageError(response.json().get("detail", ""))
        if response.status_code != 200:
            raise AssertionError(f"{kind} {workflow_id}: {response.status_code} {response.text}")
        stage: str = response.json()["stage"]
        return stage

    return act


async def start_tasks(client: Client, pool: asyncpg.Pool, plan_id: str, count: int) -> list[str]:
    """Start ``count`` tasks in ``plan_id`` and wait until each has its task_states row."""
    semaphore = asyncio.Semaphore(START_CONCURRENCY)
    until_year = datetime.now(SHANGHAI).year + 2

    async def start(index: int) -> str:
        async with semaphore:
            handle = await start_task(
                client,
                task_queue=QUEUE,
                plan_id=plan_id,
                task=bench_task(index),
                until_year=until_year,
                not_before=None,
            )
        return handle.id

    workflow_ids = list(await asyncio.gather(*(start(i) for i in range(1, count + 1))))
    deadline = time.monotonic() + 120
    while True:
        projected = await pool.fetchval(
            "SELECT count(*) FROM task_states WHERE plan_id = $1", plan_id
        )
        if projected == count:
            return workflow_ids
        if time.monotonic() > deadline:
            raise TimeoutError(f"{plan_id}: {projected} of {count} tasks projected")
        await asyncio.sleep(0.1)


async def dsn_of(pool: asyncpg.Pool) -> str:
    """The DSN of the pool's server, for the API's own pool (bench_database keeps it)."""
    row = await pool.fetchrow(
        "SELECT current_user AS usr, current_database() AS db,"
        " host(inet_server_addr()) AS host, inet_server_port() AS port"
    )
    assert row is not None
    return f"postgresql://{row['usr']}@{row['host']}:{row['port']}/{row['db']}"


async def issue_tokens(stack: ApiStack) -> dict[ActionKind, str]:
    """Whose token each action goes with: the lead's, the cooperating unit's, the
    coordinator's (every plan)."""
    lead = await stack.token("unit", unit=LEAD)
    cooperator = await stack.token("unit", unit=COOPERATOR)
    coordinator = await stack.token("coordinator")
    return {
        ActionKind.ACCEPT: lead,
        ActionKind.PROGRESS: lead,
        ActionKind.SUBMIT: lead,
        ActionKind.SIGN_OFF: cooperator,
        ActionKind.REVIEW: coordinator,
    }


@asynccontextmanager
async def served_in_process(
    temporal: Client, pool: asyncpg.Pool, dsn: str
) -> AsyncIterator[tuple[ApiStack, str]]:
    """The worker (on the benchmark's pool) and ``serve_api`` (its own pool), in this
    process, on the benchmark's Temporal client."""
    worker = build_worker(
        temporal, Settings(temporal_task_queue=QUEUE), activities=build_activities(pool, "bench")
    )
    limits = ApiLimits(rate_limit=RATE_LIMIT)
    async with worker, serve_api(temporal, dsn, QUEUE, limits=limits, worker=False) as stack:
        yield stack, "worker and API (uvicorn, serve_api) in this process"


@asynccontextmanager
async def served_as_processes(
    scratch: Path, temporal: Client, pool: asyncpg.Pool, dsn: str
) -> AsyncIterator[tuple[ApiStack, str]]:
    """``duban worker`` and ``duban api`` (``python -m cli ...``), each in its own process
    with its own pool and Temporal connection, as production runs them."""
    environment = worker_environment(
        temporal.service_client.config.target_host, dsn, Settings().worker_max_cached_workflows
    )
    port = free_port()
    environment.update(
        DUBAN_TEMPORAL_TASK_QUEUE=QUEUE,
        DUBAN_API_PORT=str(port),
        DUBAN_API_RATE_LIMIT=RATE_LIMIT,
    )
    children: list[asyncio.subprocess.Process] = []
    try:
        for command in ("worker", "api"):
            children.append(
                await spawn_child(
                    [sys.executable, "-m", "cli", command],
                    log_file=scratch / f"{command}.log",
                    env=environment,
                )
            )
        base_url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:

            async def ready() -> bool:
                try:
                    answer = await http.get("/readyz")
                except httpx.TransportError:
                    return False
                return answer.status_code == 200 and await worker_polls(temporal, QUEUE)

            await wait_until(ready, "the API and the worker", 60)
            yield (
                ApiStack(http, pool, temporal, QUEUE, base_url),
                "`duban worker` and `duban api` each in its own process",
            )
    finally:
        for child in reversed(children):
            await stop_child(child)


async def main(
    tasks: int, clients: int, rounds: int, timeout: float, layout: str, unloaded_tasks: int
) -> None:
    quiet_logging()
    # httpcore 1.0 tries `import sniffio` on every connection-pool lock, and this
    # environment lacks sniffio, so each attempt walks sys.path again: in a profile, 3 %
    # of this process's time on the API path was the benchmark client failing that import.
    # Marked absent, the import fails at once; httpcore then assumes asyncio, as it would.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
    direct = Outcome("direct")
    through_api = Outcome("api")
    rounds_seen: list[tuple[str, Outcome, Outcome]] = []
    async with (
        bench_database() as (scratch, pool),
        fresh_temporal(scratch, "temporal") as temporal,
    ):
        dsn = await dsn_of(pool)
        serving = (
            served_in_process(temporal, pool, dsn)
            if layout == "in-process"
            else served_as_processes(scratch, temporal, pool, dsn)
        )
        pool_limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
        async with (
            serving as (stack, described),
            httpx.AsyncClient(base_url=stack.base_url, timeout=60, limits=pool_limits) as http,
        ):
            tokens = await issue_tokens(stack)
            paths: dict[str, Act] = {
                "direct": direct_act(temporal),
                "api": api_act(http, tokens),
            }
            totals = {"direct": direct, "api": through_api}
            for name, act in paths.items():  # warm-up: one task per client on each path
                warm = await start_tasks(temporal, pool, f"warm-{name}", clients)
                await drive(name, warm, clients, act)
            for number in range(1, rounds + 1):
                order = ["direct", "api"] if number % 2 else ["api", "direct"]
                seen: dict[str, Outcome] = {}
                for name in order:
                    # Started just before the path runs, so that each path finds its own
                    # tasks in the workflow cache (a completed task leaves the cache).
                    mine = await start_tasks(temporal, pool, f"r{number}-{name}", tasks)
                    seen[name] = await asyncio.wait_for(
                        drive(name, mine, clients, paths[name]), timeout
                    )
                    totals[name].add(seen[name])
                rounds_seen.append((" then ".join(order), seen["direct"], seen["api"]))
            unloaded: dict[tuple[str, float], Outcome] = {}
            for pause in (0.0, THINK_TIME) if unloaded_tasks else ():
                for name, act in paths.items():  # one client: no queueing
                    alone = await start_tasks(
                        temporal, pool, f"alone{pause:.0%}-{name}", unloaded_tasks
                    )
                    unloaded[name, pause] = await drive(name, alone, 1, act, pause)
        audited = await pool.fetchval(
            "SELECT count(*) FROM audit_log WHERE status = 200 AND route LIKE '/api/v1/tasks/r%'"
        )
    expected_api = tasks * rounds * len(ACTIONS)
    assert audited == expected_api, f"{audited} audit rows for {expected_api} API actions"
    print(
        f"{tasks} tasks x {len(ACTIONS)} actions per path and round, {rounds} round(s),"
        f" {clients} concurrent clients, {os.cpu_count()} cores, Python"
        f" {sys.version.split()[0]}; one fresh dev server, {described}:"
    )
    report(direct, through_api, rounds_seen)
    if unloaded:
        report_unloaded(unloaded, unloaded_tasks)


def report_unloaded(unloaded: dict[tuple[str, float], Outcome], tasks: int) -> None:
    print(f"one client alone, {tasks} tasks per path (direct first), p50 / p99 by action:")
    for pause in (0.0, THINK_TIME):
        when = (
            "each action as soon as the last returned"
            if not pause
            else f"{pause * 1000:.0f} ms between actions (the task idle again)"
        )
        print(f"  {when}:")
        for name, label in (("direct", "direct"), ("api", "API")):
            outcome = unloaded[name, pause]
            kinds = "  ".join(
                f"{kind.value} {percentile(outcome.by_kind[kind], 0.5) * 1000:.0f}"
                f"/{percentile(outcome.by_kind[kind], 0.99) * 1000:.0f}"
                for kind in ACTIONS
            )
            print(
                f"    {label:<7} p50 {ms(percentile(outcome.latencies, 0.5))}"
                f"  p99 {ms(percentile(outcome.latencies, 0.99))}   {kinds}"
            )
        added = statistics.median(unloaded["api", pause].latencies) - statistics.median(
            unloaded["direct", pause].latencies
        )
        print(f"    the API adds {added * 1000:+.1f} ms at the median")


def ms(seconds: float) -> str:
    return f"{seconds * 1000:6.1f} ms"


def report(
    direct: Outcome, through_api: Outcome, rounds_seen: list[tuple[str, Outcome, Outcome]]
) -> None:
    for outcome, label in ((direct, "direct send_action"), (through_api, "API over HTTP")):
        print(
            f"  {label:<20} {outcome.rate:7.1f} actions/s  {outcome.actions} actions in"
            f" {outcome.seconds:6.1f} s   p50 {ms(percentile(outcome.latencies, 0.5))}"
            f"  p99 {ms(percentile(outcome.latencies, 0.99))}"
            f"  mean {ms(statistics.fmean(outcome.latencies))}"
        )
    p99_gap = percentile(through_api.latencies, 0.99) - percentile(direct.latencies, 0.99)
    p50_gap = percentile(through_api.latencies, 0.5) - percentile(direct.latencies, 0.5)
    print(f"  API / direct         {through_api.rate / direct.rate:7.2f}   (target >= 0.8)")
    print(f"  p99 API - direct     {p99_gap * 1000:+7.1f} ms (target <= 50 ms)")
    print(f"  p50 API - direct     {p50_gap * 1000:+7.1f} ms")
    if len(rounds_seen) > 1:
        for number, (order, one, other) in enumerate(rounds_seen, 1):
            print(
                f"  round {number} ({order}): direct {one.rate:6.1f}/s"
                f" p99 {ms(percentile(one.latencies, 0.99))}; API {other.rate:6.1f}/s"
                f" p99 {ms(percentile(other.latencies, 0.99))};"
                f" API / direct {other.rate / one.rate:4.2f}"
            )
    print("by action, p50 / p99 (direct | API):")
    for kind in ACTIONS:
        d, a = direct.by_kind[kind], through_api.by_kind[kind]
        print(
            f"  {kind.value:<9} {ms(percentile(d, 0.5))} / {ms(percentile(d, 0.99))}"
            f"  |  {ms(percentile(a, 0.5))} / {ms(percentile(a, 0.99))}"
        )
    print("CPU per action, ms (share of one core over the path's wall time):")
    for outcome, label in ((direct, "direct"), (through_api, "API")):
        parts = "  ".join(
            f"{group} {outcome.cpu[group] / outcome.actions * 1000:5.2f}"
            f" ({outcome.cpu[group] / outcome.seconds:4.0%})"
            for group in CPU_GROUPS
            if outcome.cpu[group] > 0
        )
        print(f"  {label:<7} {parts}")

    print("garbage collector pauses in this process:")
    for outcome, label in ((direct, "direct"), (through_api, "API")):
        pauses = outcome.gc_pauses or [0.0]
        print(
            f"  {label:<7} {len(outcome.gc_pauses)} collections,"
            f" {sum(pauses) / outcome.actions * 1000:5.2f} ms per action,"
            f" longest {ms(max(pauses))}"
        )

    def retries(outcome: Outcome) -> str:
        detail = ", ".join(f"{kind.value} {count}" for kind, count in outcome.retries.items())
        return f"{outcome.retries.total()}" + (f" ({detail})" if detail else "")

    print(
        f"retries after 409 wrong_stage (sleep {RETRY_SLEEP * 1000:.0f} ms):"
        f" direct {retries(direct)}, API {retries(through_api)}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Lifecycle actions through the HTTP API against straight send_action calls."
    )
    parser.add_argument(
        "--tasks", type=int, default=TASKS, help=f"tasks per path and round (default {TASKS})"
    )
    parser.add_argument(
        "--clients", type=int, default=CLIENTS, help=f"concurrent clients (default {CLIENTS})"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=ROUNDS,
        help="rounds of both paths; odd rounds run direct first, even ones API first",
    )
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds per path and round")
    parser.add_argument(
        "--layout",
        choices=LAYOUTS,
        default=LAYOUTS[0],
        help="in-process: worker and serve_api in this process (default); processes:"
        " `duban worker` and `duban api` each in its own process",
    )
    parser.add_argument(
        "--unloaded-tasks",
        type=int,
        default=UNLOADED_TASKS,
        help="tasks per path for a last run with one client alone (0 skips it)",
    )
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.tasks,
            arguments.clients,
            arguments.rounds,
            arguments.timeout,
            arguments.layout,
            arguments.unloaded_tasks,
        )
    )
