"""The monthly notice (一月一通报) over 100,000 tasks and 1,000,000 recorded events.

Only PostgreSQL is needed: the embedded one, migrated (``bench_database()``), filled by
COPY with ``--tasks`` rows in ``plan_tasks`` (50 ``plans``) and about ``--events`` rows in
``task_events``, then VACUUM ANALYZEd; seeding is not timed. Each task's events are the
ones the workflow records, in its order, with their stage after and detail:

* 交办 ``assigned`` (2025-01 .. 2026-05), then for 4 % a refusal ``refused`` and a
  ``reassigned`` to another unit, and for 6 % ``unaccepted_reminder`` s and nothing else;
* ``accepted``, then monthly ``progress`` reports (percent rising, a text), with
  ``reminder`` / ``progress_reminder`` / ``urge`` and ``escalation`` (督办 levels 1..3)
  between them for about a third of the tasks;
* for 10 % an ``extension_requested`` and ``extension_granted`` (a new due date);
* per milestone (one or two): ``submitted``, ``signed_off`` or ``deemed_consent`` by each
  cooperating unit, ``signoff_complete``, ``milestone_done`` (on time or not), and after
  the last ``completed``; 3 % are ``cancelled`` instead;
* 2 % were withdrawn and added back: an older lineage (run chain) under the same workflow
  id, and the live one starting later;
* the events run on past the notice's month end for a share of the tasks, so the as-of
  filter has something to drop.

Timed in the same run, ``--repetitions`` times each (the best and the median printed),
for the notice of ``--month`` over every plan (``plan_id`` None, as ``duban report`` and
the API's all-plans notice read it):

* baseline: the bare query, asyncpg ``fetch`` of the same rows (the plan's tasks and every
  live event at or before the month end), no Python processing at all;
* its queries: the two statements ``read_notice_input`` sends, fetched bare (the floor of
  the read: it leaves in PostgreSQL the events that cannot change the notice);
* ``read_notice_input``: what the notice path reads and how it shapes the rows;
* ``build_notice``: the arithmetic on what was read (this month end and the previous);
* total folded: both, the notice as it is computed when nothing was kept;

and the month's checkpoint (``store.notice_checkpoints``), which every notice of a month
already over reads once it exists:

* checkpoint build: the first notice of the month, which folds each plan's events and
  stores its tasks' facts (timed with the checkpoints deleted before each run);
* checkpoint rows, bare fetch: asyncpg ``fetch`` of the statement that reads them back
  (the tasks joined with their facts), the baseline of the checkpoint read;
* ``read_notice_facts`` and ``notice_of_facts``: the read and the arithmetic from it;
* total from the checkpoint: both, the query plus arithmetic the target is set on
  (under 1 s). Its notice's digest must equal the folded one's.

Run: ``.venv/bin/python -m bench.notice_bench [--tasks 100000 --events 1000000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import json
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from bench.lifecycle_bench import bench_database
from domain.calendar import SHANGHAI
from domain.notice_state import (
    NOTICE_KINDS,
    build_notice,
    month_end,
    month_start,
    notice_of_facts,
    paused_gc,
)
from store import notice_checkpoints, notice_reads
from store.notice_checkpoints import read_notice_facts
from store.notice_reads import read_notice_input

TASKS = 100_000
EVENTS = 1_000_000
PLANS = 50
UNITS = 300
MONTH = "2026-06"
REPETITIONS = 3
SEED = 20260601
TARGET_SECONDS = 1.0

# The bare fetch the baseline times: the same rows read_notice_input asks for (tasks and
# live events at or before the month end), every column it reads, no shaping.
BASELINE_TASKS = """
SELECT plan_id, task_id, workflow_id, seq, part, text, lead_units, cooperating_units,
    milestones::text, ongoing
FROM plan_tasks WHERE withdrawn_at IS NULL OR withdrawn_at > $1
"""
BASELINE_EVENTS = """
SELECT workflow_id, lineage, seq, kind, at, unit, stage_after, milestone, level, detail::text
FROM task_events WHERE at <= $1
"""

PLAN_COLUMNS = ["plan_id", "title", "issuer", "document_number", "period_start", "period_end",
                "source_file", "format", "fingerprint"]  # fmt: skip
TASK_COLUMNS = ["plan_id", "task_id", "workflow_id", "seq", "part", "category", "text",
                "lead_units", "cooperating_units", "milestones", "recurrence", "ongoing",
                "starts", "due", "source", "flags", "fingerprint", "workflow_started_at",
                "workflow_fingerprint", "withdrawn_at", "withdrawal_sent_at"]  # fmt: skip
EVENT_COLUMNS = ["workflow_id", "lineage", "seq", "plan_id", "task_id", "kind", "at",
                 "actor_role", "actor_unit", "unit", "stage_before", "stage_after",
                 "milestone", "level", "recipients", "detail", "run_id"]  # fmt: skip

_WORD_LIST = (
    "推进 建设 完善 机制 平台 体系 加快 落实 统筹 深化 改革 创新 提升 服务 水平 优化 营商 "
    "环境 政务 数据 共享 开放 整合 资源 强化 监管 保障 民生 就业 教育 医疗 养老 住房 交通 "
    "水利 生态 保护 治理 污染 防治 乡村 振兴 产业 园区 招商 引资 项目"
)
_WORDS = tuple(_WORD_LIST.split())
_PROGRESS_TEXTS = (
    "已完成方案编制，正在组织实施",
    "完成阶段性目标，推进顺利",
    "已召开专题会议部署",
    "受资金影响进度放缓，正在协调",
    "项目主体工程已开工",
    "已完成年度任务的一半",
)


class _Lineage:
    """One run chain's events as the workflow records them (seq from 1, stage after each)."""

    def __init__(self, workflow_id: str, plan: str, task_id: str, lineage: str) -> None:
        self.key = (workflow_id, lineage)
        self.plan, self.task_id = plan, task_id
        self.rows: list[tuple[Any, ...]] = []
        self.stage = "assigned"

    def add(
        self,
        kind: str,
        at: datetime,
        unit: str | None,
        *,
        stage: str | None = None,
        milestone: int | None = None,
        level: int | None = None,
        recipients: tuple[str, ...] = (),
        **detail: Any,
    ) -> None:
        before = self.stage
        if stage is not None:
            self.stage = stage
        self.rows.append(
            (self.key[0], self.key[1], len(self.rows) + 1, self.plan, self.task_id, kind, at,
             "lead" if unit else None, unit, unit, before, self.stage, milestone, level,
             list(recipients), json.dumps(detail, ensure_ascii=False, default=str),
             self.key[1])
        )  # fmt: skip


def _instants(rng: random.Random, start: datetime, end: datetime, count: int) -> list[datetime]:
    span = max(1.0, (end - start).total_seconds())
    return sorted(start + timedelta(seconds=rng.uniform(0, span)) for _ in range(count))


def _play(
    rng: random.Random,
    lineage: _Lineage,
    budget: int,
    start: datetime,
    end: datetime,
    lead: str,
    cooperating: list[str],
    dues: list[date],
    units: list[str],
) -> None:
    """A task's history of about ``budget`` events between ``start`` and ``end``."""
    moments = iter(_instants(rng, start, end, budget + 32))
    lineage.add("assigned", next(moments), lead, stage="assigned")
    roll = rng.random()
    if roll < 0.06:  # never accepted: reminders only
        for _ in range(max(0, budget - 1)):
            lineage.add("unaccepted_reminder", next(moments), lead, recipients=(lead,))
        return
    if roll < 0.10:  # refused, then given to another unit
        lineage.add("refused", next(moments), lead, reason="不属于本单位职责")
        lead = rng.choice(units)
        lineage.add("reassigned", next(moments), lead, recipients=(lead,))
    lineage.add("accepted", next(moments), lead, stage="in_progress")
    closing = rng.random()
    milestones = len(dues)
    fixed = lineage.rows.__len__() + milestones * (3 + len(cooperating)) + 1
    reports = max(1, budget - fixed)
    alarming = rng.random() < 0.35
    extended = rng.random() < 0.10
    percent = 0
    for milestone, due in enumerate(dues):
        per_milestone = max(1, reports // milestones)
        for index in range(per_milestone):
            if alarming and index % 3 == 2:
                kind = rng.choice(("reminder", "progress_reminder", "urge", "escalation"))
                if kind == "escalation":
                    lineage.add(kind, next(moments), lead, milestone=milestone,
                                level=rng.randint(1, 3), recipients=(lead,))  # fmt: skip
                else:
                    lineage.add(kind, next(moments), lead, milestone=milestone,
                                scheduled_for=start.isoformat())  # fmt: skip
                continue
            percent = min(100, percent + rng.randint(5, 25))
            lineage.add("progress", next(moments), lead, percent=percent,
                        text=rng.choice(_PROGRESS_TEXTS))  # fmt: skip
        if extended and milestone == 0:
            new_due = due + timedelta(days=rng.randint(15, 90))
            lineage.add("extension_requested", next(moments), lead, milestone=0,
                        requested_due=new_due.isoformat(), reason="需协调资金")  # fmt: skip
            lineage.add("extension_granted", next(moments), lead, milestone=0,
                        requested_due=new_due.isoformat())  # fmt: skip
        if closing < 0.03:
            lineage.add("cancelled", next(moments), lead, stage="cancelled", reason="任务调整")
            return
        if closing > 0.55:  # still open at this milestone
            return
        submitted = next(moments)
        lineage.add("submitted", submitted, lead, stage="signoff", milestone=milestone)
        for unit in cooperating:
            if rng.random() < 0.2:
                lineage.add("deemed_consent", next(moments), unit, recipients=(unit,))
            else:
                lineage.add("signed_off", next(moments), unit)
        lineage.add("signoff_complete", next(moments), None, stage="review")
        on_time = submitted.astimezone(SHANGHAI).date() <= due
        lineage.add("milestone_done", next(moments), lead, stage="review",
                    milestone=milestone, on_time=on_time)  # fmt: skip
        percent = 0
    lineage.add("completed", next(moments), lead, stage="completed")


def generate(
    tasks: int, events: int, seed: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The rows of plans, plan_tasks and task_events, in COPY column order."""
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    plans = [f"plan-{number:02d}" for number in range(1, PLANS + 1)]
    units = [f"单位{number:03d}" for number in range(UNITS)]
    weights = [1 / (rank + 3) ** 1.1 for rank in range(UNITS)]
    plan_rows = [
        (plan, f"{plan} 年度重点工作任务分解方案", "市政府办公室", f"bench〔2026〕{index}号",
         2025, 2027, f"{plan}.docx", "docx", f"fp-{plan}")
        for index, plan in enumerate(plans, 1)
    ]  # fmt: skip
    now = datetime.now(UTC)
    first = datetime(2025, 1, 1, tzinfo=SHANGHAI)
    task_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    mean = events / tasks * 1.16  # histories closed early fall short of their budget
    for index in range(tasks):
        plan = plans[index % PLANS]
        task_id = str(index // PLANS + 1)
        workflow_id = f"{plan}/{task_id}"
        chosen = rng.choices(units, weights, k=4)
        lead = chosen[0]
        cooperating = list(dict.fromkeys(u for u in chosen[1 : 1 + rng.randint(0, 3)] if u != lead))
        start = first + timedelta(days=rng.uniform(0, 500))
        dues = sorted(
            (start + timedelta(days=rng.uniform(60, 540))).astimezone(SHANGHAI).date()
            for _ in range(rng.choice((1, 1, 1, 2)))
        )
        text = "".join(rng.choices(_WORDS, k=rng.randint(8, 30))) + "。"
        milestones = json.dumps(
            [{"due": d.isoformat(), "raw": f"{d.year}年{d.month}月底前"} for d in dues],
            ensure_ascii=False,
        )
        task_rows.append(
            (plan, task_id, workflow_id, index // PLANS + 1, None, ["重点任务"], text, [lead],
             cooperating, milestones, None, False, None, dues[-1],
             json.dumps({"file": f"{plan}.docx", "lines": [index, index + 1]}), [],
             f"fp-{index}", now, f"fp-{index}", None, None)
        )  # fmt: skip
        budget = max(2, round(rng.uniform(0.4, 1.6) * mean))
        end = start + timedelta(days=rng.uniform(90, 640))
        if rng.random() < 0.02:  # withdrawn and added back: an older run chain first
            old = _Lineage(workflow_id, plan, task_id, f"run-{index}-old")
            added_back = start + timedelta(days=rng.uniform(20, 60))
            _play(rng, old, 4, start, added_back, lead, cooperating, dues, units)
            event_rows.extend(old.rows)
            budget, start = max(2, budget - len(old.rows)), added_back + timedelta(days=1)
        live = _Lineage(workflow_id, plan, task_id, f"run-{index}")
        _play(rng, live, budget, start, end, lead, cooperating, dues, units)
        event_rows.extend(live.rows)
    return plan_rows, task_rows, event_rows


async def load(pool: asyncpg.Pool, tasks: int, events: int, seed: int) -> tuple[int, float]:
    """Generate and COPY the rows, then VACUUM ANALYZE; the events stored and the seconds."""
    started = time.perf_counter()
    plan_rows, task_rows, event_rows = generate(tasks, events, seed)
    async with pool.acquire() as connection:
        await connection.copy_records_to_table("plans", records=plan_rows, columns=PLAN_COLUMNS)
        await connection.copy_records_to_table(
            "plan_tasks", records=task_rows, columns=TASK_COLUMNS
        )
        await connection.copy_records_to_table(
            "task_events", records=event_rows, columns=EVENT_COLUMNS
        )
        await connection.execute("VACUUM ANALYZE plans, plan_tasks, task_events")
    return len(event_rows), time.perf_counter() - started


async def _timed(repetitions: int, run: Callable[[], Awaitable[Any]]) -> tuple[list[float], Any]:
    seconds: list[float] = []
    result: Any = None
    for _ in range(repetitions):
        started = time.perf_counter()
        result = await run()
        seconds.append(time.perf_counter() - started)
    return seconds, result


def _digest(notice: Any) -> str:
    return hashlib.sha256(notice.model_dump_json().encode()).hexdigest()[:16]


async def main(tasks: int, events: int, repetitions: int, seed: int, month: str) -> None:
    as_of = month_end(month)
    async with bench_database() as (_, pool):
        stored, loaded = await load(pool, tasks, events, seed)
        async with pool.acquire() as connection:
            kinds = Counter(
                {r["kind"]: r["n"] for r in await connection.fetch(
                    "SELECT kind, count(*) AS n FROM task_events GROUP BY kind")}
            )  # fmt: skip
            in_range = await connection.fetchval(
                "SELECT count(*) FROM task_events WHERE at <= $1", as_of
            )

            async def baseline() -> int:
                task_rows = await connection.fetch(BASELINE_TASKS, as_of)
                event_rows = await connection.fetch(BASELINE_EVENTS, as_of)
                return len(task_rows) + len(event_rows)

            # The floor of the notice's own read: its two statements, fetched, not shaped.
            async def notice_queries() -> int:
                task_rows = await connection.fetch(notice_reads._TASKS, None, as_of)
                event_rows = await connection.fetch(
                    notice_reads._EVENTS, None, as_of, month_start(as_of), sorted(NOTICE_KINDS)
                )
                return len(task_rows) + len(event_rows)

            async def read() -> Any:
                return await read_notice_input(pool, as_of)

            # Alternate so each sees the same cache and load; the first of each warms up.
            await baseline()
            data = await read()
            base_s, _ = await _timed(repetitions, baseline)
            await notice_queries()
            queries_s, rows_read = await _timed(repetitions, notice_queries)
            read_s, data = await _timed(repetitions, read)

            async def build() -> Any:
                return build_notice(
                    month, data.tasks, data.events, plan_titles=sorted(data.plan_titles.values())
                )

            build_s, notice = await _timed(repetitions, build)

            async def total() -> Any:
                read_data = await read_notice_input(pool, as_of)
                return build_notice(
                    month,
                    read_data.tasks,
                    read_data.events,
                    plan_titles=sorted(read_data.plan_titles.values()),
                )

            total_s, notice_total = await _timed(repetitions, total)
            base_again, _ = await _timed(repetitions, baseline)
            base_s += base_again
            # What the fold read stays out of the checkpoint's timings: a process serving a
            # notice from its checkpoint holds no million events meanwhile.
            folded_digests = {_digest(notice), _digest(notice_total)}
            totals, unit_count = notice.totals, len(notice.units)
            data = notice = notice_total = None
            gc.collect()

            later = datetime.now(UTC)
            plans = [r["plan_id"] for r in await connection.fetch("SELECT plan_id FROM plans")]

            async def checkpoint_build() -> Any:
                await connection.execute("DELETE FROM notice_checkpoints")
                return await read_notice_facts(pool, month, None, now=later)

            build_checkpoint_s, built = await _timed(repetitions, checkpoint_build)
            assert len(built.folded) == PLANS
            await connection.execute("VACUUM FULL ANALYZE notice_facts")  # one build's size
            checkpoint_bytes = await connection.fetchval(
                "SELECT pg_total_relation_size('notice_facts')"
            )

            async def checkpoint_rows() -> int:
                return len(await connection.fetch(notice_checkpoints._FACTS, month, plans))

            async def checkpoint_read() -> Any:
                return await read_notice_facts(pool, month, None, now=later)

            await checkpoint_rows()
            checkpoint_base_s, facts_read = await _timed(repetitions, checkpoint_rows)
            checkpoint_read_s, facts = await _timed(repetitions, checkpoint_read)
            assert len(facts.from_checkpoint) == PLANS

            def of_facts(read_facts: Any) -> Any:
                return notice_of_facts(
                    month,
                    read_facts.facts,
                    read_facts.previous,
                    plan_titles=sorted(read_facts.plan_titles.values()),
                )

            async def from_facts() -> Any:
                return of_facts(facts)

            arithmetic_s, _ = await _timed(repetitions, from_facts)

            # As services.notices builds it: the read and the arithmetic in one pause of the
            # collector, so the facts are gone before it runs again.
            async def checkpoint_total() -> Any:
                with paused_gc():
                    return of_facts(await read_notice_facts(pool, month, None, now=later))

            checkpoint_total_s, notice_checkpointed = await _timed(repetitions, checkpoint_total)
            # What that pause leaves for later: the next collection scans the notice's rows.
            started = time.perf_counter()
            gc.collect()
            collection_s = time.perf_counter() - started
    assert folded_digests == {_digest(notice_checkpointed)}
    base = min(base_s)

    def line(name: str, seconds: list[float]) -> str:
        best = min(seconds)
        return (
            f"  {name:<24} best {best:6.3f} s  median {statistics.median(seconds):6.3f} s"
            f"  x{best / base:5.2f} baseline"
        )

    print(
        f"notice {month} over {tasks} tasks, {stored} events ({in_range} at or before the"
        f" month end), {os.cpu_count()} cores; seeded in {loaded:.1f} s"
    )
    print("  events by kind: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    print(line("baseline bare fetch", base_s))
    print(line("its queries, bare fetch", queries_s) + f"  ({rows_read} rows)")
    print(line("read_notice_input", read_s))
    print(line("build_notice", build_s))
    print(line("total folded", total_s))
    print(
        line("checkpoint build", build_checkpoint_s)
        + f"  ({PLANS} plans; {checkpoint_bytes / 2**20:.0f} MiB with its index)"
    )
    print(line("checkpoint rows, bare", checkpoint_base_s) + f"  ({facts_read} rows)")
    print(line("read_notice_facts", checkpoint_read_s))
    print(line("notice_of_facts", arithmetic_s))
    print(
        line("total from checkpoint", checkpoint_total_s)
        + f"  x{min(checkpoint_total_s) / min(checkpoint_base_s):5.2f} its bare fetch"
    )
    print(f"  then one full collection with the notice alive: {collection_s:.3f} s")
    verdict = "met" if min(checkpoint_total_s) < TARGET_SECONDS else "NOT met"
    print(f"  target total < {TARGET_SECONDS:.0f} s (a month with its checkpoint): {verdict}")
    print(
        f"  notice: {totals.tasks} tasks, {totals.completed} completed, {totals.overdue} overdue,"
        f" {totals.behind} behind, {unit_count} units; digest {_digest(notice_checkpointed)}"
        " (folded and from the checkpoint alike)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=TASKS)
    parser.add_argument("--events", type=int, default=EVENTS)
    parser.add_argument("--repetitions", type=int, default=REPETITIONS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--month", default=MONTH)
    arguments = parser.parse_args()
    asyncio.run(
        main(arguments.tasks, arguments.events, arguments.repetitions, arguments.seed,
             arguments.month)
    )  # fmt: skip
