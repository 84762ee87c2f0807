"""Golden files: a parse's whole JSON kept under tests/golden/, compared on every run.

A golden file is written once by ``DUBAN_UPDATE_GOLDEN=1 pytest …`` and then checked by a
person against the document; after that any change in extraction shows up as a diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from domain.plan import ParsedPlan

GOLDEN = Path(__file__).parent.parent / "golden"
EXAMPLES = Path(__file__).parent.parent.parent / "examples" / "plans"


def assert_matches_golden(parsed: ParsedPlan, name: str) -> None:
    path = GOLDEN / f"{name}.json"
    actual = parsed.model_dump(mode="json")
    if os.environ.get("DUBAN_UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(actual, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert actual == expected, f"{name}: extraction differs from {path}"
