"""``duban simulate`` run again and again, counting the runs that did not end cleanly.

Each run is the smallest simulation (one task, ten days, silent units) in a fresh
``python -m cli`` process; a run fails when its exit status is not 0 or its stderr holds
``Fatal Python error``. Before the process stopped finalising the interpreter under the
Temporal core's threads (runtime/process_exit.py), about three runs in a hundred aborted
with ``PyGILState_Release: thread state … must be current when releasing``.

    .venv/bin/python -m bench.simulate_exit_stress --runs 200
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ONE_TASK = (
    "序号,工作任务,牵头单位,配合单位,完成时限\n"
    "1,推进政务信息化工作,市信息办,市财政局,2018年12月31日前\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    runs = parser.parse_args().runs
    failures = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as directory:
        plan = Path(directory) / "one-task.csv"
        plan.write_text(ONE_TASK, encoding="utf-8")
        for run in range(1, runs + 1):
            result = subprocess.run(  # noqa: S603 (our own interpreter and module)
                [sys.executable, "-m", "cli", "simulate", str(plan), "--from", "2018-12-01",
                 "--to", "2018-12-10", "--behaviour", "silent", "--json"],
                env={**os.environ, "DUBAN_LOG_FORMAT": "json"},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )  # fmt: skip
            if result.returncode != 0 or "Fatal Python error" in result.stderr:
                failures += 1
                last = result.stderr.strip().splitlines()[-1:] or [""]
                print(f"run {run}: exit {result.returncode}: {last[0]}", flush=True)
    elapsed = time.monotonic() - started
    print(f"{failures} of {runs} runs did not end cleanly ({elapsed / runs:.2f} s a run)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
