"""Golden files: a parse's whole JSON kept under tests/golden/, compared on every run.

A golden file is written by ``DUBAN_UPDATE_GOLDEN=1 pytest …`` and then checked by a
person against the document; after that any change in extraction shows up as a diff.
A run that rewrites a golden fails ("rewritten: review the diff"), so update mode can
never pass by construction, and it is refused under CI (``CI`` set), where nobody reads
the diff. This module is also the pytest plugin that reads the switch once per session
(tests/conftest.py loads it) and takes it out of the environment, so neither a test nor a
process a test starts sees it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from domain.plan import ParsedPlan

GOLDEN = Path(__file__).parent.parent / "golden"
EXAMPLES = Path(__file__).parent.parent.parent / "examples" / "plans"
UPDATE_VARIABLE = "DUBAN_UPDATE_GOLDEN"
_mode = {"update": False}


def pytest_configure(config: pytest.Config) -> None:
    requested = os.environ.pop(UPDATE_VARIABLE, "") == "1"
    if requested and os.environ.get("CI"):
        raise pytest.UsageError(
            f"{UPDATE_VARIABLE}=1 is refused under CI (CI is set): goldens are rewritten "
            "on a developer's machine, where the diff is read before it is committed"
        )
    _mode["update"] = requested


def assert_matches_golden(parsed: ParsedPlan, name: str) -> None:
    assert_matches_golden_json(parsed.model_dump(mode="json"), GOLDEN / f"{name}.json")


def assert_matches_golden_json(actual: Any, path: Path) -> None:
    """``actual`` equals the JSON in ``path``. In update mode a golden that differs (or is
    missing) is rewritten and the test fails, naming the file to review."""
    expected = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    if actual == expected:
        return
    if _mode["update"]:
        path.write_text(json.dumps(actual, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        pytest.fail(f"{path} rewritten: review the diff (git diff -- {path})", pytrace=False)
    if expected is None:
        pytest.fail(f"{path} is missing: write it with {UPDATE_VARIABLE}=1", pytrace=False)
    assert actual == expected, f"{path.stem}: extraction differs from {path}"
