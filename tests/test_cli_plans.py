"""`duban parse` and `duban import` as a coordinator runs them, against real servers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from tests.support.golden import EXAMPLES

EXAMPLE_FILES = sorted(EXAMPLES.glob("*.txt"))


def duban(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={**os.environ, "DUBAN_LOG_FORMAT": "json", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: path.name.split("-")[0])
def test_parse_json_has_the_documented_shape(path: Path) -> None:
    """`--json` prints one object with plan, tasks (with the listed keys) and warnings."""
    result = duban("parse", str(path), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"plan", "tasks", "warnings"}
    task_keys = {
        "id", "seq", "part", "category", "text", "lead_units", "cooperating_units",
        "milestones", "recurrence", "ongoing", "source", "flags",
    }  # fmt: skip
    for task in document["tasks"]:
        assert task_keys <= set(task)
        assert set(task["source"]) == {"file", "lines"}
        for milestone in task["milestones"]:
            assert {"due", "raw", "flags"} <= set(milestone)
            assert len(milestone["due"]) == 10
    assert all({"line", "code", "message"} <= set(w) for w in document["warnings"])


def test_parse_preview_shows_flags_totals_and_warnings() -> None:
    """The table preview names the truncated row and says how to get past warnings."""
    result = duban("parse", str(EXAMPLES / "chuzhou-2018-egov-key-tasks.txt"))
    assert result.returncode == 0, result.stderr
    assert "47 tasks" in result.stdout
    assert "truncated" in result.stdout
    assert "--accept-warnings" in result.stdout


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.txt", b"", "empty"),
        ("picture.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), "binary"),
        ("letter.txt", "各位同事：\n本周五下午开会。\n".encode(), "no task table"),
        ("huge.txt", b"x" * (50 * 1024 * 1024), "at most"),
    ],
)
def test_bad_input_is_one_located_line(
    name: str, content: bytes, expected: str, tmp_path: Path
) -> None:
    """Each bad file: exit 2, one line naming the file and what was expected."""
    path = tmp_path / name
    path.write_bytes(content)
    result = duban("parse", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert name in lines[0]
    assert expected in lines[0]


async def test_import_refuses_warnings_then_imports_once(
    stack_env: dict[str, str], db_pool: asyncpg.Pool, task_queue: str
) -> None:
    """Warnings block the import (exit 3, nothing written); accepted, all 47 rows land once;
    the same file again starts nothing."""
    path = str(EXAMPLES / "chuzhou-2018-egov-key-tasks.txt")
    plan_id = f"chuzhou-{task_queue}"
    refused = duban("import", path, "--plan-id", plan_id, env=stack_env)
    assert refused.returncode == 3
    assert "--accept-warnings" in refused.stderr
    assert await db_pool.fetchval("SELECT count(*) FROM plan_tasks") == 0

    imported = duban("import", path, "--plan-id", plan_id, "--accept-warnings", env=stack_env)
    assert imported.returncode == 0, imported.stderr
    assert "47 task workflows started" in imported.stdout
    assert await db_pool.fetchval("SELECT count(*) FROM plan_tasks") == 47

    again = duban("import", path, "--plan-id", plan_id, "--accept-warnings", env=stack_env)
    assert again.returncode == 0, again.stderr
    assert "already imported, unchanged" in again.stdout
    assert "0 task workflows started" in again.stdout


async def test_import_of_bad_file_writes_nothing(
    stack_env: dict[str, str], db_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A file that does not parse is refused before any connection is made."""
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    result = duban("import", str(path), env=stack_env)
    assert result.returncode == 2
    assert await db_pool.fetchval("SELECT count(*) FROM plans") == 0


async def test_an_editable_ledger_imports_as_the_document_would(
    stack_env: dict[str, str], db_pool: asyncpg.Pool, task_queue: str, tmp_path: Path
) -> None:
    """`parse --xlsx` writes the 台账; importing it gives the plan the document gives: the
    document imported afterwards under the same plan id changes nothing."""
    document = str(EXAMPLES / "chuzhou-2018-egov-key-tasks.txt")
    ledger = tmp_path / "滁州台账.xlsx"
    written = duban("parse", document, "--xlsx", str(ledger))
    assert written.returncode == 0, written.stderr
    assert f"wrote {ledger}: 47 tasks" in written.stderr

    plan_id = f"chuzhou-xlsx-{task_queue}"
    imported = duban(
        "import", str(ledger), "--plan-id", plan_id, "--accept-warnings", env=stack_env
    )
    assert imported.returncode == 0, imported.stderr
    assert "47 task workflows started" in imported.stdout
    assert await db_pool.fetchval("SELECT count(*) FROM plan_tasks") == 47

    again = duban("import", document, "--plan-id", plan_id, "--accept-warnings", env=stack_env)
    assert again.returncode == 0, again.stderr
    assert "already imported, unchanged" in again.stdout


def test_a_bad_edit_in_an_editable_ledger_is_one_located_line(tmp_path: Path) -> None:
    import openpyxl

    ledger = tmp_path / "台账.xlsx"
    written = duban(
        "parse", str(EXAMPLES / "chuzhou-2018-egov-key-tasks.txt"), "--xlsx", str(ledger)
    )
    assert written.returncode == 0, written.stderr
    book = openpyxl.load_workbook(ledger)
    sheet = book["任务清单"]
    column = next(cell.column for cell in sheet[1] if cell.value == "完成时限")
    sheet.cell(7, column).value = "2018-13-01 | 6月底前 | 建成"
    book.save(ledger)

    result = duban("parse", str(ledger))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        "duban: error: 台账.xlsx:7: sheet 任务清单 row 7, 完成时限: '2018-13-01' is not a date "
        "(write YYYY-MM-DD)"
    ]
