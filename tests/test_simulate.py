"""`duban simulate`: a plan's months on the time-skipping server, as a calendar and as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

from tests.support.golden import EXAMPLES

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
