"""``duban simulate`` over a whole year of each example plan.

Each plan is played with the command's default behaviour (``mixed``) from its issue date
(or 1 January of its first year when it has none) for one year, through
``services.simulate.simulate``, which is what the command runs: Temporal's time-skipping
server is started, every task runs as the real TaskWorkflow (or RecurringTaskWorkflow)
with its scripted actions, and the server is shut down. The figure is the wall time of
that call (target < 60 s per plan), and the events it generated.

Baseline in the same run: parsing the same plan (``domain.parsers.parse_file``, best of
three after a warm-up), the step every ``duban simulate`` starts with.

What the figures mean: the simulation's seconds include starting the test server (about a
second), so a small plan shows mostly that; events are the reminders, 催办, 督办 and
actions the year produced (what ``--json`` prints, one line each).
Run: ``.venv/bin/python -m bench.simulate_bench``.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import date, timedelta
from pathlib import Path

from bench.lifecycle_bench import quiet_logging
from domain.parsers import parse_file
from domain.plan import ParsedPlan
from services.simulate import simulate
from tests.support.golden import EXAMPLES

REPEATS = 3


def year_from(parsed: ParsedPlan) -> tuple[date, date]:
    start = parsed.plan.issue_date or date(parsed.plan.period_start, 1, 1)
    try:
        following = start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        following = start.replace(year=start.year + 1, day=28)
    return start, following - timedelta(days=1)


def parse_seconds(path: Path) -> float:
    parse_file(path)  # warm the plan's caches (OpenCC, the unit directory)
    timings = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        parse_file(path)
        timings.append(time.perf_counter() - started)
    return min(timings)


async def main() -> None:
    quiet_logging()
    paths = sorted(EXAMPLES.glob("*.txt"))
    print(f"duban simulate, one year per plan, behaviour mixed, {os.cpu_count()} cores:")
    print(f"  {'plan':<46} {'tasks':>5} {'simulate':>9} {'events':>7} {'parse':>9}   year from")
    total = 0.0
    for path in paths:
        parsed = parse_file(path)
        parsing = parse_seconds(path)
        start, end = year_from(parsed)
        started = time.perf_counter()
        simulation = await simulate(parsed, start, end, "mixed")
        seconds = time.perf_counter() - started
        total += seconds
        print(
            f"  {path.stem:<46} {len(parsed.tasks):5d} {seconds:7.1f} s {len(simulation.events):7d}"
            f" {parsing * 1000:6.1f} ms   {start.isoformat()}"
            + (
                f"  ({simulation.rejected_actions} actions rejected)"
                if simulation.rejected_actions
                else ""
            )
        )
    print(f"  total simulate {total:.1f} s   (target < 60 s per plan)")


if __name__ == "__main__":
    asyncio.run(main())
