"""`duban simulate`: a plan's months on the time-skipping server, as a calendar and as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.support.golden import EXAMPLES
from tests.support.plans import future_ledger

CHUZHOU = str(EXAMPLES / "chuzhou-2018-egov-key-tasks.txt")
ALLOWED_KINDS = {
    "reminder", "urge", "escalation", "accepted", "submitted", "signed_off", "completed",
    "extension", "refused", "cancelled",
}  # fmt: skip


def simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", "simulate", CHUZHOU, *args],
        env={**os.environ, "DUBAN_LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_silent_units_get_the_whole_ladder_once() -> None:
    """Nobody acts: every task gets its reminders, one 催办 on 1 January and one
    督办 at each rung, in order, on the plan's own dates; stdout is one JSON object a line."""
    result = simulate(
        "--from", "2018-12-01", "--to", "2019-02-15", "--behaviour", "silent", "--json"
    )
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events
    assert all({"at", "task", "kind", "unit"} <= set(event) for event in events)
    assert {event["kind"] for event in events} <= ALLOWED_KINDS
    urges = Counter(event["task"] for event in events if event["kind"] == "urge")
    assert len(urges) == 47  # row 47 names no unit: its 催办 goes to the coordinator
    assert set(urges.values()) == {1}
    assert {event["at"][:10] for event in events if event["kind"] == "urge"} == {"2019-01-01"}
    levels = Counter(
        (event["task"], event["level"]) for event in events if event["kind"] == "escalation"
    )
    assert set(levels.values()) == {1}
    assert {level for _, level in levels} == {1, 2}
    ats = [event["at"] for event in events]
    assert ats == sorted(ats)


def test_on_time_units_complete_without_escalation() -> None:
    """Units that do their part on time: tasks complete, and nobody is urged or escalated."""
    result = simulate("--from", "2018-07-22", "--to", "2018-12-31", "--behaviour", "on-time")
    assert result.returncode == 0, result.stderr
    assert "State at each month's end" in result.stdout
    assert "46 completed" in result.stdout
    assert "urge" not in result.stdout.splitlines()[-1]
    assert "escalation" not in result.stdout.splitlines()[-1]


# A completion thread of the Temporal core (a tokio thread that sets an asyncio future's
# result under the GIL) that wakes the event loop and is still inside Python when the main
# thread reaches interpreter finalisation is killed there by CPython, and PyO3's guard then
# aborts the process. Holding that thread 50 ms after its wake-up write widens the window
# from microseconds to certain, so the crash shows on every run instead of one in thirty.
_SLOW_CORE_THREADS = """
import asyncio.selector_events, sys, threading, time
_main = threading.main_thread().ident
_wake = asyncio.selector_events.BaseSelectorEventLoop._write_to_self
def _wake_then_linger(loop):
    _wake(loop)
    if threading.get_ident() != _main:
        time.sleep(0.05)
asyncio.selector_events.BaseSelectorEventLoop._write_to_self = _wake_then_linger
sys.argv = ["duban", *sys.argv[1:]]
from cli.main import main
main()
"""


def _simulate_one_task(tmp_path: Path, *prelude: str) -> subprocess.CompletedProcess[str]:
    plan = tmp_path / "one-task.csv"
    if not plan.exists():
        plan.write_bytes(future_ledger(2018, rows=1))
    return subprocess.run(
        [sys.executable, *(prelude or ("-m", "cli")), "simulate", str(plan),
         "--from", "2018-12-01", "--to", "2018-12-10", "--behaviour", "silent", "--json"],
        env={**os.environ, "DUBAN_LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip


@pytest.mark.fault
def test_simulate_exits_cleanly_while_a_core_thread_is_still_in_python(tmp_path: Path) -> None:
    """The end of the program does not wait on, or race with, the Temporal core's threads:
    exit status 0 and its output, no 'Fatal Python error' and no core dump."""
    result = _simulate_one_task(tmp_path, "-c", _SLOW_CORE_THREADS)
    assert "Fatal Python error" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["kind"] for line in result.stdout.splitlines()] == ["reminder"]


def test_simulate_exits_cleanly_every_time(tmp_path: Path) -> None:
    """Ten plain runs of the smallest simulation (one task, ten days): each exits with 0."""
    for run in range(10):
        result = _simulate_one_task(tmp_path)
        assert "Fatal Python error" not in result.stderr, f"run {run}: {result.stderr}"
        assert result.returncode == 0, f"run {run}: {result.stderr}"
        assert result.stdout.count('"kind": "reminder"') == 1, f"run {run}: {result.stdout}"
