"""Mutation testing: run mutmut over chosen modules, then print the score of each module.

``make mutation`` runs it over the four modules the project holds to 85 % killed; ``make
mutation MUTATION_MODULES="domain.units"`` over others (any module under ``[tool.mutmut]``'s
``only_mutate``). Every mutant of the modules named is tried again on each run; after adding
tests, ``--only-open`` retries only those not killed last time, ``--survivors`` lists them
(``mutmut show NAME`` shows one), and ``--report`` prints the scores without running.

The recording activity's tests need PostgreSQL: one embedded server is started for the
whole run (each mutant's pytest session would otherwise start its own) and named to the
tests through ``DUBAN_TEST_DATABASE_URL``.

A mutant counts as killed when a test failed, or ran past mutmut's time limit (the bug made
a test hang: it was noticed). Survivors and mutants no selected test reaches are not.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from collections import Counter
from pathlib import Path

from runtime.embedded import EmbeddedPostgres, free_port

DEFAULT_MODULES = (
    "domain.lifecycle",
    "domain.alarms",
    "domain.deadlines",
    "activities.task_events",
)
TARGET = 0.85
MUTANTS = Path("mutants")

# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code), grouped.
_KILLED = {1, 3, 24, -24, 36, 152, 255, 37}  # failed, pytest error, timeouts, type check
_SURVIVED = {0}
_NO_TESTS = {5, 33}
_SKIPPED = {34}


def _status(code: int | None) -> str:
    if code is None:
        return "not run"
    if code in _KILLED:
        return "killed"
    if code in _SURVIVED:
        return "survived"
    if code in _NO_TESTS:
        return "no tests"
    if code in _SKIPPED:
        return "skipped"
    return "suspicious"


def module_results(module: str) -> Counter[str]:
    """How many of a module's mutants ended how, from mutmut's ``.meta`` file."""
    meta = MUTANTS / (module.replace(".", "/") + ".py.meta")
    if not meta.exists():
        return Counter()
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    return Counter(_status(code) for code in codes.values())


def report(modules: tuple[str, ...], out: list[str]) -> bool:
    """Append one line per module to ``out``; whether every module reached the target."""
    header = f"{'module':28} {'killed':>7} {'total':>6} {'score':>7}  survived  no tests  not run"
    out.append(header)
    all_met = True
    for module in modules:
        counts = module_results(module)
        total = sum(counts[s] for s in counts if s != "skipped")
        killed = counts["killed"]
        score = killed / total if total else 0.0
        met = total > 0 and score >= TARGET and counts["not run"] == 0
        all_met &= met
        out.append(
            f"{module:28} {killed:>7} {total:>6} {score:>7.1%}  {counts['survived']:>8}"
            f"  {counts['no tests']:>8}  {counts['not run']:>7}{'' if met else '  < 85 %'}"
        )
    return all_met


def _drop_stale_copies() -> None:
    """mutmut copies a source folder's other files (domain/data/units.toml) once and never
    again; remove the copies so an edited file is copied afresh."""
    config = tomllib.loads(Path("pyproject.toml").read_text())["tool"]["mutmut"]
    for folder in config["source_paths"]:
        for path in Path(folder).rglob("*"):
            if path.is_file() and path.suffix != ".py":
                (MUTANTS / path).unlink(missing_ok=True)


def open_mutants(modules: tuple[str, ...]) -> list[str]:
    """The mutants of ``modules`` that no test has killed yet (or that never ran)."""
    names: list[str] = []
    for module in modules:
        meta = MUTANTS / (module.replace(".", "/") + ".py.meta")
        if meta.exists():
            codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
            names += [name for name, code in codes.items() if _status(code) != "killed"]
    return names


def _run(command: list[str]) -> int:
    if os.environ.get("DUBAN_TEST_DATABASE_URL"):
        return subprocess.run(command, check=False).returncode
    return asyncio.run(_run_with_database(command))


async def _run_with_database(command: list[str]) -> int:
    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="duban-mutation-") as scratch:
        server = EmbeddedPostgres(Path(scratch) / "data", port=free_port(), database="duban_test")
        await server.start()
        try:
            env["DUBAN_TEST_DATABASE_URL"] = server.dsn
            # The blocking wait is the point: the server lives exactly as long as mutmut.
            return await asyncio.to_thread(
                lambda: subprocess.run(command, env=env, check=False).returncode
            )
        finally:
            await server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(DEFAULT_MODULES))
    parser.add_argument("--report", action="store_true", help="print the scores, run nothing")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--survivors", action="store_true", help="list the mutants not killed")
    parser.add_argument(
        "--only-open",
        action="store_true",
        help="retry only the mutants not killed in the last run (quick, after adding tests; "
        "a changed module needs a full run)",
    )
    args = parser.parse_args()
    modules = tuple(args.modules)
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    if not args.report:
        # mutmut links tests to functions once and keeps that; a function added since (or a
        # test that now reaches one) would stay "no tests". Relinking costs one test run.
        (MUTANTS / "mutmut-stats.json").unlink(missing_ok=True)
        _drop_stale_copies()
        patterns = open_mutants(modules) if args.only_open else [f"{m}.*" for m in modules]
        if not patterns:
            print("no open mutants: nothing to run")
        code = _run([mutmut, "run", "--max-children", str(args.jobs), *patterns]) if patterns else 0
        if code != 0:
            print(f"mutmut run ended with status {code}", file=sys.stderr)
            return code
    lines: list[str] = []
    met = report(modules, lines)
    print("\n".join(lines))
    if args.survivors:
        print("\n".join(open_mutants(modules)))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
