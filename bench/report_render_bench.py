"""Rendering the monthly notice over 100,000 tasks, each format timed on its own.

The notice is built synthetically as a ``domain.notice.Notice`` (tests/reports/notices.py:
``--units`` lead units, the statuses cycling through every kind), so only the renderers are
measured, not the as-of arithmetic. Baseline in the same run: the same task rows written by a
bare ``csv.writer`` into memory, the least any file of one row per task can cost. Targets
from issue #10: DOCX and XLSX under 5 s each.

Each figure is the best of ``--repetitions`` runs, the baseline's too, so that another
process taking the machine for a moment does not land in one format's figure; the process's
CPU time is printed beside the wall time, as it stays near the idle machine's wall time
when other work shares the cores.

Run: ``.venv/bin/python -m bench.report_render_bench [--tasks 100000] [--units 100]
[--repetitions 3]``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from reports import ReportFormat, render
from tests.reports.notices import notice

T = TypeVar("T")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--units", type=int, default=100)
    parser.add_argument("--repetitions", type=int, default=3)
    args = parser.parse_args()
    units = tuple(f"市第{i + 1}局" for i in range(args.units))
    started = time.perf_counter()
    subject = notice(args.tasks, units)
    print(
        f"notice of {len(subject.tasks):,} tasks, {len(units)} units built in "
        f"{time.perf_counter() - started:.2f} s (not part of any figure)"
    )

    def bare_rows() -> None:
        writer = csv.writer(io.StringIO())
        for t in subject.tasks:
            writer.writerow((t.number, t.text, t.lead_unit, t.due, t.status.value, t.days_overdue))

    baseline, baseline_cpu, _ = best_of(args.repetitions, bare_rows)
    print(
        f"{'baseline csv.writer':<22}{baseline:>8.2f} s  cpu {baseline_cpu:>6.2f} s  "
        f"(best of {args.repetitions})"
    )
    for fmt in ReportFormat:
        render(notice(10, units), fmt)  # imports and the font cache, outside the timing
        elapsed, cpu, data = best_of(args.repetitions, partial(render, subject, fmt))
        digest = hashlib.sha256(data).hexdigest()[:12]
        print(
            f"{fmt.value:<22}{elapsed:>8.2f} s  cpu {cpu:>6.2f} s  "
            f"{elapsed / baseline:>6.1f}× baseline (cpu {cpu / baseline_cpu:>5.1f}×)  "
            f"{len(data) / 1e6:>7.1f} MB  sha256 {digest}"
        )


def best_of(repetitions: int, work: Callable[[], T]) -> tuple[float, float, T]:
    """The shortest wall and CPU times of ``repetitions`` runs of ``work``, and what its last
    run gave."""
    walls, cpus = [], []
    for _ in range(max(repetitions, 1)):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu_started)
    return min(walls), min(cpus), result


if __name__ == "__main__":
    main()
