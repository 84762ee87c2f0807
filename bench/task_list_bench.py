"""The task list over 100,000 tasks: one page of ``store.task_reads.list_tasks`` per filter.

Only PostgreSQL is needed: the embedded one, migrated (``bench_database()``), filled by
COPY with ``--tasks`` rows in ``plan_tasks`` and ``task_states`` (and their 50 ``plans``),
then ANALYZEd. The spread, fixed by ``--seed``:

* 50 plans of about equal size; 300 units, each task led by one of them and cooperated on
  by 0 to 3 others, drawn with a Zipf-like skew (the busiest unit is on about one task in
  five, as a 发改委 would be; the median one on a few hundred);
* stages assigned 20 %, in_progress 45 %, signoff 8 %, review 7 %, completed 17 %,
  cancelled 3 %: most open, the closed ones with ``closed_at`` set (and no next due date
  once completed, as the projection writes them);
* ``next_due_at`` uniform over two years centred on now (so about half the open tasks are
  overdue), end of day in Shanghai, ``yellow_from`` three days before it; 3 % of open tasks
  have no date;
* task texts of 20 to 80 characters from a vocabulary of government-work words, with
  the term FREQUENT_TERM in about 1 % of them and RARE_TERM in a handful (no word of the
  vocabulary shares a character with either, so a search for them finds just those).

Each case is ``list_tasks(connection, principal, TaskFilter(...), limit=50)`` as the API
calls it: ``--warmup`` untimed calls, then ``--repetitions`` timed ones on one connection;
p50 and p99 of the round trip (query, transfer and decoding of the 51 rows asyncpg
fetches). asyncpg caches the prepared statement, so after five runs PostgreSQL may switch
to the statement's generic plan, as it does in the API. Baseline in the same run: the
bare keyset query the list is built on (BASELINE_SQL), timed the same way. Target: p99
under 50 ms for every case. A case that misses it has its plans printed:
``EXPLAIN (ANALYZE, BUFFERS)`` of the exact statement list_tasks sent, as a custom and as
a generic plan; ``--explain`` prints every case's.

Run: ``.venv/bin/python -m bench.task_list_bench [--tasks 100000]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as time_of_day
from typing import Any, cast

import asyncpg

from bench.lifecycle_bench import bench_database, percentile
from domain.access import Principal
from domain.calendar import SHANGHAI
from store import task_reads
from store.db import Connection
from store.task_reads import TaskFilter

TASKS = 100_000
PLANS = 50
UNITS = 300
REPETITIONS = 200
WARMUP = 20
LIMIT = 50
TARGET_MS = 50.0
SEED = 20260601
FREQUENT_TERM = "冷链"  # in about 1 % of the texts
FREQUENT_SHARE = 0.01
RARE_TERM = "碳汇"  # in RARE_COUNT texts
RARE_COUNT = 5
STAGES: dict[str, float] = {
    "assigned": 0.20,
    "in_progress": 0.45,
    "signoff": 0.08,
    "review": 0.07,
    "completed": 0.17,
    "cancelled": 0.03,
}
CLOSED = {"completed", "cancelled"}
UNDATED_SHARE = 0.03  # of open tasks
BASELINE_SQL = "SELECT workflow_id FROM task_states ORDER BY sort_due, workflow_id LIMIT 50"

# Government-work words; none shares a character with FREQUENT_TERM or RARE_TERM.
_WORDS = (
    "推进 建设 完善 机制 平台 体系 加快 落实 统筹 深化 改革 创新 提升 "
    "服务 水平 优化 营商 环境 政务 数据 共享 开放 整合 资源 强化 监管 "
    "保障 民生 就业 教育 医疗 养老 住房 交通 水利 生态 保护 治理 污染 "
    "防治 乡村 振兴 产业 园区 招商 引资 项目 审批 制度 标准 规范 考核 "
    "督查 问责 信息 网络 安全 应急 管理 财政 资金 预算 绩效 审计 税收 "
    "金融 风险 防范 化解 社会 救助 文化 旅游 体育 卫生 健康 市场 主体 "
    "培育 科技 人才 引进 城市 更新 老旧 小区 改造 道路 管网 公共 设施 "
    "社区 网格 基层 组织 党建 引领 数字 政府 一网 通办 电子 证照 目录 "
    "清单 事项 办理 时限 压缩 流程 再造 窗口 综合 受理 群众 企业 满意 "
    "评价 全面 持续 深入 积极 稳妥 有序 扎实 开展 行动 专项 整治 年度 "
    "计划 方案 任务 分工 责任 单位 牵头 配合 部门 协同 联动 推动 形成 "
    "长效 "
)
VOCABULARY = tuple(_WORDS.split())
CLAUSE_ENDS = ("，", "，", "，", "；", "。")
UNIT_AREAS = ("市", "东城区", "西城区", "南湖区", "北山区", "高新区", "经开区", "滨江县",
              "青山县", "石门县", "临河镇", "新桥镇")  # fmt: skip
UNIT_OFFICES = ("发展改革委", "财政局", "审计局", "教育局", "公安局", "民政局", "司法局",
                "人力资源社会保障局", "自然资源局", "生态环境局", "住房城乡建设局", "交通运输局",
                "水利局", "农业农村局", "商务局", "文化旅游局", "卫生健康委", "应急管理局",
                "市场监管局", "统计局", "医保局", "数据资源局", "城管局", "税务局",
                "政府办公室")  # fmt: skip


@dataclass(frozen=True)
class Dataset:
    tasks: int
    units: list[str]
    lead_counts: Counter[str]
    seen_counts: Counter[str]  # lead or cooperating
    cooperating_counts: Counter[str]
    frequent_matches: int
    rare_matches: int

    @property
    def busiest(self) -> str:
        return self.seen_counts.most_common(1)[0][0]

    @property
    def median(self) -> str:
        ranked = self.seen_counts.most_common()
        return ranked[len(ranked) // 2][0]


def plan_ids() -> list[str]:
    return [f"plan-{number:02d}" for number in range(1, PLANS + 1)]


def unit_names() -> list[str]:
    names = [f"{area}{office}" for area in UNIT_AREAS for office in UNIT_OFFICES]
    assert len(names) >= UNITS
    return names[:UNITS]


def task_text(rng: random.Random, term: str | None) -> str:
    """20 to 80 characters of clauses of vocabulary words, with ``term`` in it if given."""
    budget = rng.randint(20, 80) - 1 - len(term or "")  # the full stop at the end
    parts: list[str] = []
    size = 0
    while True:
        word = rng.choice(VOCABULARY)
        if size + len(word) > budget:
            break
        parts.append(word)
        size += len(word)
        if size < budget and rng.random() < 0.2:
            parts.append(rng.choice(CLAUSE_ENDS))
            size += 1
    if term is not None:
        parts.insert(rng.randrange(len(parts) + 1), term)
    return "".join(parts).strip("，；。") + "。"


def generate(
    tasks: int, seed: int
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]], Dataset]:
    """The rows of plans, plan_tasks and task_states, in COPY column order."""
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    plans = plan_ids()
    units = unit_names()
    weights = [1 / (rank + 3) ** 1.1 for rank in range(len(units))]
    now = datetime.now(UTC)
    rare = set(rng.sample(range(tasks), RARE_COUNT))
    stages, stage_weights = list(STAGES), list(STAGES.values())
    lead_counts: Counter[str] = Counter()
    cooperating_counts: Counter[str] = Counter()
    seen_counts: Counter[str] = Counter()
    frequent = 0
    plan_rows = [
        (plan, f"{plan} 年度重点工作任务分解方案", "市政府办公室", f"bench〔2026〕{index}号",
         2026, 2027, f"{plan}.docx", "docx", f"fp-{plan}")
        for index, plan in enumerate(plans, 1)
    ]  # fmt: skip
    task_rows: list[tuple[Any, ...]] = []
    state_rows: list[tuple[Any, ...]] = []
    for index in range(tasks):
        plan = plans[index % PLANS]
        task_id = str(index // PLANS + 1)
        workflow_id = f"{plan}/{task_id}"
        chosen = rng.choices(units, weights, k=4)
        lead = chosen[0]
        cooperating = list(dict.fromkeys(u for u in chosen[1 : 1 + rng.randint(0, 3)] if u != lead))
        lead_counts[lead] += 1
        seen_counts.update({lead, *cooperating})
        cooperating_counts.update(cooperating)
        if index in rare:
            term: str | None = RARE_TERM
        elif rng.random() < FREQUENT_SHARE:
            term, frequent = FREQUENT_TERM, frequent + 1
        else:
            term = None
        stage = rng.choices(stages, stage_weights)[0]
        closed = stage in CLOSED
        due_at: datetime | None = None
        if stage != "completed" and (closed or rng.random() >= UNDATED_SHARE):
            day = (now + timedelta(days=rng.uniform(-365, 365))).astimezone(SHANGHAI).date()
            due_at = datetime.combine(day, time_of_day(23, 59, 59), SHANGHAI)
        closed_at = now - timedelta(days=rng.uniform(0, 365)) if closed else None
        updated = closed_at or now - timedelta(days=rng.uniform(0, 30))
        yellow_from = due_at - timedelta(days=3) if due_at is not None and not closed else None
        due = due_at.date() if due_at is not None else None
        milestones = json.dumps(
            [{"due": due.isoformat(), "raw": f"{due.year}年{due.month}月底前"}] if due else [],
            ensure_ascii=False,
        )
        source = json.dumps({"file": f"{plan}.docx", "lines": [index, index + 1]})
        task_rows.append(
            (plan, task_id, workflow_id, index // PLANS + 1, None, ["重点任务"],
             task_text(rng, term), [lead], cooperating, milestones, None, False, None, due,
             source, [], f"fp-{index}", now, f"fp-{index}", None, None)
        )  # fmt: skip
        state_rows.append(
            (workflow_id, plan, task_id, stage, lead, cooperating, due, due_at,
             rng.choices((0, 1, 2), (85, 10, 5))[0], 0,
             100 if stage == "completed" else rng.randrange(0, 100, 10), False, closed_at,
             rng.randint(1, 30), updated, "", yellow_from)
        )  # fmt: skip
    dataset = Dataset(
        tasks, units, lead_counts, seen_counts, cooperating_counts, frequent, len(rare)
    )
    return plan_rows, task_rows, state_rows, dataset


PLAN_COLUMNS = ["plan_id", "title", "issuer", "document_number", "period_start", "period_end",
                "source_file", "format", "fingerprint"]  # fmt: skip
TASK_COLUMNS = ["plan_id", "task_id", "workflow_id", "seq", "part", "category", "text",
                "lead_units", "cooperating_units", "milestones", "recurrence", "ongoing",
                "starts", "due", "source", "flags", "fingerprint", "workflow_started_at",
                "workflow_fingerprint", "withdrawn_at", "withdrawal_sent_at"]  # fmt: skip
STATE_COLUMNS = ["workflow_id", "plan_id", "task_id", "stage", "lead_unit",
                 "cooperating_units", "next_due", "next_due_at", "escalation_level",
                 "extensions_granted", "progress_percent", "awaiting_reassignment",
                 "closed_at", "seq", "updated_at", "lineage", "yellow_from"]  # fmt: skip


async def load(pool: asyncpg.Pool, tasks: int, seed: int) -> tuple[Dataset, float, float]:
    """Generate and COPY the rows, then ANALYZE; the dataset and the seconds each took."""
    started = time.perf_counter()
    plan_rows, task_rows, state_rows, dataset = generate(tasks, seed)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    async with pool.acquire() as connection, connection.transaction():
        await connection.copy_records_to_table("plans", records=plan_rows, columns=PLAN_COLUMNS)
        await connection.copy_records_to_table(
            "plan_tasks", records=task_rows, columns=TASK_COLUMNS
        )
        await connection.copy_records_to_table(
            "task_states", records=state_rows, columns=STATE_COLUMNS
        )
    async with pool.acquire() as connection:
        await connection.execute("VACUUM ANALYZE plans, plan_tasks, task_states")
    return dataset, generated, time.perf_counter() - started


@dataclass(frozen=True)
class Case:
    name: str
    principal: Principal
    filters: TaskFilter
    second_page: bool = False


def coordinator(plans: tuple[str, ...] | None = None) -> Principal:
    return Principal(
        token_id="bench-coordinator",  # noqa: S106 - an id
        role="coordinator",
        name="督查室",
        plans=plans,
    )


def unit_principal(unit: str) -> Principal:
    return Principal(token_id="bench-unit", role="unit", name=unit, unit=unit)  # noqa: S106


def cases(dataset: Dataset) -> list[Case]:
    everyone = coordinator()
    busiest, median = dataset.busiest, dataset.median
    today = datetime.now(SHANGHAI).date()
    return [
        Case("no filter (coordinator, every plan)", everyone, TaskFilter()),
        Case("plan", everyone, TaskFilter(plan="plan-07")),
        Case("unit, busiest (lead or cooperating)", everyone, TaskFilter(unit=busiest)),
        Case("unit, median (lead or cooperating)", everyone, TaskFilter(unit=median)),
        Case("unit busiest, role=lead", everyone, TaskFilter(unit=busiest, role="lead")),
        Case(
            "unit busiest, role=cooperating",
            everyone,
            TaskFilter(unit=busiest, role="cooperating"),
        ),
        Case(
            "unit median, role=cooperating", everyone, TaskFilter(unit=median, role="cooperating")
        ),
        *(Case(f"stage={stage}", everyone, TaskFilter(stage=stage)) for stage in STAGES),
        *(Case(f"light={light}", everyone, TaskFilter(light=light)) for light in task_reads.LIGHTS),
        Case("overdue=true", everyone, TaskFilter(overdue=True)),
        Case("overdue=false", everyone, TaskFilter(overdue=False)),
        Case("due_before=today+30d", everyone, TaskFilter(due_before=today + timedelta(days=30))),
        Case(f"q={FREQUENT_TERM} (~1 %)", everyone, TaskFilter(text=FREQUENT_TERM)),
        Case(f"q={RARE_TERM} (rare)", everyone, TaskFilter(text=RARE_TERM)),
        Case("unit token, busiest, own view", unit_principal(busiest), TaskFilter()),
        Case("unit token, median, own view", unit_principal(median), TaskFilter()),
        Case(
            "unit token busiest, role=cooperating",
            unit_principal(busiest),
            TaskFilter(role="cooperating"),
        ),
        Case(
            "coordinator of 3 plans",
            coordinator(("plan-07", "plan-19", "plan-33")),
            TaskFilter(),
        ),
        Case("second page (cursor), no filter", everyone, TaskFilter(), second_page=True),
        Case("second page (cursor), unit busiest", everyone, TaskFilter(unit=busiest), True),
    ]


class Recorder:
    """Stands in for the connection list_tasks is given: keeps the statement it sends."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.query = ""
        self.args: tuple[Any, ...] = ()

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.query, self.args = query, args
        return await self.connection.fetch(query, *args)


@dataclass
class Timing:
    p50: float
    p99: float
    rows: int
    matches: int
    query: str
    args: tuple[Any, ...]
    error: str | None = None

    @property
    def meets(self) -> bool:
        return self.error is None and self.p99 * 1000 < TARGET_MS


async def time_case(
    connection: Connection,
    case: Case,
    warmup: int,
    repetitions: int,
) -> Timing:
    """Time one case as the API runs it: one connection, asyncpg's statement cache, so
    after five runs PostgreSQL may settle on the statement's generic plan."""
    cursor: str | None = None
    if case.second_page:
        _, cursor = await task_reads.list_tasks(
            connection, case.principal, case.filters, limit=LIMIT
        )
        assert cursor is not None, case.name
    recorder = Recorder(connection)
    stand_in = cast(Connection, recorder)
    latencies: list[float] = []
    rows: list[dict[str, Any]] = []
    try:
        for repetition in range(warmup + repetitions):
            started = time.perf_counter()
            rows, _ = await task_reads.list_tasks(
                stand_in, case.principal, case.filters, limit=LIMIT, cursor=cursor
            )
            if repetition >= warmup:
                latencies.append(time.perf_counter() - started)
        query, args = recorder.query, recorder.args
        everything, _ = await task_reads.list_tasks(
            stand_in, case.principal, case.filters, limit=10_000_000, cursor=cursor
        )
    except asyncpg.PostgresError as error:
        failure = f"{type(error).__name__}: {str(error).splitlines()[0]}"
        return Timing(0.0, 0.0, 0, 0, recorder.query, recorder.args, failure)
    return Timing(
        percentile(latencies, 0.5),
        percentile(latencies, 0.99),
        len(rows),
        len(everything),
        query,
        args,
    )


async def time_baseline(connection: Connection, warmup: int, repetitions: int) -> Timing:
    latencies: list[float] = []
    for repetition in range(warmup + repetitions):
        started = time.perf_counter()
        rows = await connection.fetch(BASELINE_SQL)
        if repetition >= warmup:
            latencies.append(time.perf_counter() - started)
    return Timing(
        percentile(latencies, 0.5), percentile(latencies, 0.99), len(rows), 0, BASELINE_SQL, ()
    )


async def explain(connection: Connection, timing: Timing) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the statement as a custom plan (planned for these
    values) and as its generic plan (planned for any value: what a cached statement runs
    once PostgreSQL finds it no dearer than the custom ones)."""
    custom = await connection.fetch(
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + timing.query, *timing.args
    )
    statement = await connection.prepare(timing.query)
    types = [parameter.name for parameter in statement.get_parameters()]
    literals = [
        await connection.fetchval(f"SELECT quote_nullable($1::{kind}::text)", value)
        for value, kind in zip(timing.args, types, strict=True)
    ]
    await connection.execute("SET plan_cache_mode = force_generic_plan")
    try:
        await connection.execute(f"PREPARE bench_generic ({', '.join(types)}) AS {timing.query}")
        values = ", ".join(
            f"{literal}::{kind}" for literal, kind in zip(literals, types, strict=True)
        )
        generic = await connection.fetch(
            f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE bench_generic ({values})"
        )
    finally:
        await connection.execute("DEALLOCATE bench_generic")
        await connection.execute("RESET plan_cache_mode")
    lines = ["  custom plan:", *("    " + row[0] for row in custom), "  generic plan:"]
    return "\n".join([*lines, *("    " + row[0] for row in generic)])


# ---------------------------------------------------------------- the run


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.2f}"


async def run_cases(
    connection: Connection,
    listed: list[Case],
    warmup: int,
    repetitions: int,
) -> dict[str, Timing]:
    return {case.name: await time_case(connection, case, warmup, repetitions) for case in listed}


def print_table(title: str, baseline: Timing, timings: dict[str, Timing]) -> None:
    width = max(len(name) for name in timings) + 2
    print(title)
    print(f"  {'case':<{width}} {'p50 ms':>8} {'p99 ms':>8} {'rows':>5} {'matches':>8}")
    print(
        f"  {'baseline: bare keyset query':<{width}} {ms(baseline.p50):>8}"
        f" {ms(baseline.p99):>8} {baseline.rows:>5} {'':>8}"
    )
    for name, timing in timings.items():
        if timing.error is not None:
            print(f"  {name:<{width}} FAILS: {timing.error}")
            continue
        mark = "" if timing.meets else f"  MISSES p99 < {TARGET_MS:.0f} ms"
        print(
            f"  {name:<{width}} {ms(timing.p50):>8} {ms(timing.p99):>8} {timing.rows:>5}"
            f" {timing.matches:>8}{mark}"
        )


def summarise(timings: dict[str, Timing]) -> None:
    timed = [timing for timing in timings.values() if timing.error is None]
    failed = len(timings) - len(timed)
    worst = max(timed, key=lambda timing: timing.p99)
    verdict = "yes" if all(timing.meets for timing in timings.values()) else "no"
    print(
        f"  every case p99 < {TARGET_MS:.0f} ms: {verdict}"
        f" (worst p99 {ms(worst.p99).strip()} ms; median case p50"
        f" {ms(statistics.median(t.p50 for t in timed)).strip()} ms"
        + (f"; {failed} case(s) fail)" if failed else ")")
    )


def print_plans(plans: dict[str, str], suffix: str) -> None:
    for name, plan in plans.items():
        print(f"plan of '{name}'{suffix}:")
        print(plan)


async def main(tasks: int, repetitions: int, warmup: int, seed: int, show_plans: bool) -> None:
    async with bench_database() as (_, pool):
        dataset, generated, loaded = await load(pool, tasks, seed)
        listed = cases(dataset)
        async with pool.acquire() as connection:
            version = await connection.fetchval("SHOW server_version")
            baseline = await time_baseline(connection, warmup, repetitions)
            timings = await run_cases(connection, listed, warmup, repetitions)
            misses = [name for name, timing in timings.items() if not timing.meets]
            plans = {
                name: await explain(connection, timings[name])
                for name in (timings if show_plans else misses)
                if timings[name].error is None
            }

    busiest, median = dataset.busiest, dataset.median
    print(
        f"{tasks} tasks in {PLANS} plans, {UNITS} units, PostgreSQL {version},"
        f" {os.cpu_count()} cores, Python {sys.version.split()[0]}; generated in"
        f" {generated:.1f} s, COPY + VACUUM ANALYZE {loaded:.1f} s"
    )
    print(
        f"  busiest unit {busiest}: leads {dataset.lead_counts[busiest]},"
        f" cooperates on {dataset.cooperating_counts[busiest]};"
        f" median unit {median}: leads {dataset.lead_counts[median]},"
        f" cooperates on {dataset.cooperating_counts[median]}"
    )
    print(
        f"  q={FREQUENT_TERM} in {dataset.frequent_matches} texts,"
        f" q={RARE_TERM} in {dataset.rare_matches}"
    )
    print_table(
        f"list_tasks as it is, limit {LIMIT}: {repetitions} timed calls per case after"
        f" {warmup} warm-up calls (rows on the page; matches in all pages):",
        baseline,
        timings,
    )
    summarise(timings)
    print_plans(plans, "")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description="Timing of one task-list page per filter over a large projection."
    )
    parser.add_argument("--tasks", type=int, default=TASKS, help=f"default {TASKS}")
    parser.add_argument("--repetitions", type=int, default=REPETITIONS, help="timed calls per case")
    parser.add_argument("--warmup", type=int, default=WARMUP, help="untimed calls per case")
    parser.add_argument("--seed", type=int, default=SEED, help="of the generated rows")
    parser.add_argument(
        "--explain", action="store_true", help="print every case's plan, not only the misses'"
    )
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.tasks,
            arguments.repetitions,
            arguments.warmup,
            arguments.seed,
            arguments.explain,
        )
    )
