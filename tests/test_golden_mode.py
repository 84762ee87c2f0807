"""Golden-file update mode: a rewrite fails the run, CI refuses it, the switch does not leak.

Each case runs pytest in a subprocess on a tiny golden test (a one-task ledger and its
golden file in a temporary directory), with the project's golden plugin loaded as the
suite loads it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from domain.parsers import parse_file
from tests.support.plans import future_ledger

PROJECT = Path(__file__).resolve().parents[1]
UPDATE_VARIABLE = "DUBAN_UPDATE_GOLDEN"
TINY_GOLDEN_TEST = """
import os, subprocess, sys
from pathlib import Path

from domain.parsers import parse_file
from tests.support import golden

HERE = Path(__file__).parent


def test_the_plan_matches_its_golden():
    golden.GOLDEN = HERE
    golden.assert_matches_golden(parse_file(HERE / "plan.csv"), "plan")


def test_the_switch_is_gone_from_the_environment():
    assert "DUBAN_UPDATE_GOLDEN" not in os.environ
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.environ.get('DUBAN_UPDATE_GOLDEN'))"],
        capture_output=True, text=True, check=True,
    )
    assert child.stdout.strip() == "None"
"""


def _tiny_golden_suite(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    """The tiny test, its plan, and a golden that is stale in one task's text."""
    (tmp_path / "plan.csv").write_bytes(future_ledger(2030, rows=1))
    (tmp_path / "test_tiny_golden.py").write_text(TINY_GOLDEN_TEST, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    fresh = parse_file(tmp_path / "plan.csv").model_dump(mode="json")
    stale = json.loads(json.dumps(fresh))
    stale["tasks"][0]["text"] = "旧的任务文本"
    golden = tmp_path / "plan.json"
    golden.write_text(json.dumps(stale, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return golden, fresh


def _run_tiny(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name != "CI" and not name.startswith("DUBAN_")
    }
    return subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-p", "tests.support.golden", "-c", str(tmp_path / "pytest.ini"),
            "--rootdir", str(tmp_path), str(tmp_path / "test_tiny_golden.py"),
        ],
        cwd=tmp_path,
        env={**environment, "PYTHONPATH": str(PROJECT), **variables},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip


def test_rewriting_a_golden_fails_the_run_and_the_rerun_passes(tmp_path: Path) -> None:
    golden, fresh = _tiny_golden_suite(tmp_path)
    rewrite = _run_tiny(tmp_path, **{UPDATE_VARIABLE: "1"})
    assert rewrite.returncode == 1, rewrite.stdout + rewrite.stderr
    assert f"{golden} rewritten: review the diff" in rewrite.stdout
    assert "1 failed, 1 passed" in rewrite.stdout  # the switch never reached the tests
    assert json.loads(golden.read_text(encoding="utf-8")) == fresh
    # Nothing left to rewrite: update mode now passes and leaves the file as it is.
    written = golden.read_bytes()
    again = _run_tiny(tmp_path, **{UPDATE_VARIABLE: "1"})
    assert again.returncode == 0, again.stdout + again.stderr
    assert golden.read_bytes() == written
    assert _run_tiny(tmp_path).returncode == 0


def test_a_stale_golden_fails_without_update_mode_and_is_kept(tmp_path: Path) -> None:
    golden, _ = _tiny_golden_suite(tmp_path)
    before = golden.read_bytes()
    result = _run_tiny(tmp_path)
    assert result.returncode == 1
    assert "plan: extraction differs from" in result.stdout
    assert golden.read_bytes() == before


def test_update_mode_is_refused_under_ci(tmp_path: Path) -> None:
    golden, _ = _tiny_golden_suite(tmp_path)
    before = golden.read_bytes()
    result = _run_tiny(tmp_path, **{UPDATE_VARIABLE: "1", "CI": "true"})
    assert result.returncode == 4, result.stdout + result.stderr  # pytest's usage error
    assert f"{UPDATE_VARIABLE}=1 is refused under CI" in result.stderr
    assert "passed" not in result.stdout
    assert golden.read_bytes() == before


def test_the_suite_itself_never_sees_the_switch() -> None:
    """Even when a developer exported it, the plugin took it out at start-up."""
    assert UPDATE_VARIABLE not in os.environ
