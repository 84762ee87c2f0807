"""Parsing speed: the five reference plans, and a generated 5,000-row ledger.

Baselines, measured in the same run on the same bytes: decoding and splitting the
documents into lines (the floor any parser pays), and reading the ledger with Python's
csv module. Run: ``.venv/bin/python -m bench.parse_bench``.
"""

from __future__ import annotations

import csv
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from domain.parsers import parse_document, parse_file
from domain.text import decode_document
from tests.support.golden import EXAMPLES
from tests.support.ledgers import write_ledger_csv

LEDGER_ROWS = 5_000
REPEATS = 5


def best_of(repeats: int, work: Callable[[], object]) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        timings.append(time.perf_counter() - started)
    return min(timings)


def main() -> None:
    documents = [(path.name, path.read_bytes()) for path in sorted(EXAMPLES.glob("*.txt"))]
    parse_file(sorted(EXAMPLES.glob("*.txt"))[0])  # warm OpenCC and the unit directory

    def parse_all() -> None:
        for name, data in documents:
            parse_document(name, data)

    def split_all() -> None:
        for name, data in documents:
            decode_document(data, name).splitlines()

    parse_seconds = best_of(REPEATS, parse_all)
    split_seconds = best_of(REPEATS, split_all)
    tasks = sum(len(parse_document(name, data).tasks) for name, data in documents)

    with tempfile.TemporaryDirectory() as scratch:
        ledger = write_ledger_csv(Path(scratch) / "ledger.csv", LEDGER_ROWS)
        ledger_bytes = ledger.read_bytes()
        ledger_seconds = best_of(3, lambda: parse_file(ledger))
        csv_seconds = best_of(
            3, lambda: list(csv.reader(io.StringIO(ledger_bytes.decode("utf-8"))))
        )

    print(f"five reference plans ({tasks} tasks), best of {REPEATS}:")
    print(f"  duban parse            {parse_seconds * 1000:8.1f} ms   (target < 1000 ms)")
    print(f"  baseline decode+split  {split_seconds * 1000:8.1f} ms")
    print(f"generated ledger, {LEDGER_ROWS} rows, best of 3:")
    print(f"  duban parse            {ledger_seconds * 1000:8.1f} ms   (target < 5000 ms)")
    print(f"  baseline csv.reader    {csv_seconds * 1000:8.1f} ms")
    print(f"  per row                {ledger_seconds / LEDGER_ROWS * 1e6:8.1f} µs")


if __name__ == "__main__":
    main()
