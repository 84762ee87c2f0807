"""Parsing speed and memory: the corpus with the five reference plans, and a 100,000-row ledger.

Each figure stands beside a baseline measured in the same run on the same bytes:

- the corpus (tests/corpus/) plus the five reference plans (examples/plans/), parsed one
  after the other, best of 5; baseline: decoding and splitting the same documents into
  lines, the floor any parser pays (target: parse < 1 s);
- a generated 100,000-row CSV ledger (tests/support/ledgers.realistic_ledger_csv: 序号 /
  任务名称 / 牵头单位 / 配合单位 / 完成时限, every text its own, the real variety of unit
  lists and deadline phrases), parsed by ``parse_document`` in a fresh subprocess whose
  peak resident set size (getrusage ru_maxrss) is the memory figure; baseline: another
  fresh subprocess that decodes the same bytes and splits them with Python's csv module
  (target: parse < 2 s and peak < 300 MB). Both children import the same modules and
  hold the file's bytes before they start, so the difference is what parsing costs.

Run: ``.venv/bin/python -m bench.parse_bench [--rows 100000]``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from domain.errors import DocumentError
from domain.parsers import parse_document
from domain.text import decode_document
from tests.support.corpus_score import CORPUS, label_files
from tests.support.golden import EXAMPLES
from tests.support.ledgers import realistic_ledger_csv

LEDGER_ROWS = 100_000
REPEATS = 5
MIB = 1024 * 1024


def best_of(repeats: int, work: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def documents() -> list[tuple[str, bytes]]:
    """The corpus's labelled documents, then the five reference plans, as (name, bytes)."""
    corpus = [json.loads(path.read_text(encoding="utf-8"))["text_file"] for path in label_files()]
    found = [(name, (CORPUS / name).read_bytes()) for name in corpus]
    found += [(path.name, path.read_bytes()) for path in sorted(EXAMPLES.glob("*.txt"))]
    return found


def _parse_all(docs: list[tuple[str, bytes]]) -> int:
    tasks = 0
    for name, data in docs:
        with contextlib.suppress(DocumentError):  # a refusal is timed too
            tasks += len(parse_document(name, data).tasks)
    return tasks


def _split_all(docs: list[tuple[str, bytes]]) -> None:
    for name, data in docs:
        decode_document(data, name).splitlines()


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def _current_rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def ledger_child(mode: str, path: Path) -> None:
    """In a fresh process: read the ledger once (``mode`` parse or baseline), print JSON."""
    data = path.read_bytes()
    if mode == "parse":  # warm OpenCC and the unit directory, as a running service has them
        parse_document("warm.csv", realistic_ledger_csv(3))
    before = _current_rss()
    started = time.perf_counter()
    if mode == "parse":
        count = len(parse_document(path.name, data).tasks)
    else:
        count = len(list(csv.reader(io.StringIO(decode_document(data, path.name)))))
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak": _peak_rss(), "before": before, "count": count}))


def _run_child(mode: str, path: Path) -> dict[str, float]:
    output = subprocess.run(  # noqa: S603 - this interpreter running this module
        [sys.executable, "-m", "bench.parse_bench", "--child", mode, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(output.splitlines()[-1])
    return result


def _machine() -> str:
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{os.cpu_count()} CPUs ({model}), load average {load}"


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--rows", type=int, default=LEDGER_ROWS)
    options.add_argument("--child", nargs=2, metavar=("MODE", "FILE"), help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.child:
        ledger_child(args.child[0], Path(args.child[1]))
        return

    print(f"machine: {_machine()}")
    docs = documents()
    _parse_all(docs)  # warm OpenCC and the unit directory
    tasks = _parse_all(docs)
    parse_seconds = best_of(REPEATS, lambda: _parse_all(docs))
    split_seconds = best_of(REPEATS, lambda: _split_all(docs))
    print(f"corpus + five reference plans ({len(docs)} documents, {tasks} tasks), ", end="")
    print(f"best of {REPEATS}:")
    print(f"  duban parse            {parse_seconds * 1000:8.1f} ms   (target < 1000 ms)")
    print(f"  baseline decode+split  {split_seconds * 1000:8.1f} ms")
    print(f"  ratio                  {parse_seconds / split_seconds:8.0f} ×")

    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "ledger.csv"
        path.write_bytes(realistic_ledger_csv(args.rows))
        size = path.stat().st_size
        baseline = _run_child("baseline", path)
        parsed = _run_child("parse", path)
    print(f"generated CSV ledger, {args.rows:,} rows ({size / MIB:.1f} MiB), fresh processes:")
    print(
        f"  duban parse            {parsed['seconds']:8.2f} s    peak RSS "
        f"{parsed['peak'] / MIB:6.0f} MiB (+{(parsed['peak'] - parsed['before']) / MIB:.0f} "
        "over the process before parsing)   (target < 2 s, < 300 MB)"
    )
    print(
        f"  baseline decode+csv    {baseline['seconds']:8.2f} s    peak RSS "
        f"{baseline['peak'] / MIB:6.0f} MiB (+{(baseline['peak'] - baseline['before']) / MIB:.0f})"
    )
    print(
        f"  ratio                  {parsed['seconds'] / baseline['seconds']:8.0f} ×    "
        f"{parsed['peak'] / baseline['peak']:.1f} × the peak; "
        f"{parsed['seconds'] / args.rows * 1e6:.1f} µs a row, {int(parsed['count']):,} tasks"
    )


if __name__ == "__main__":
    main()
