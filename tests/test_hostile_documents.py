"""Hostile documents through the command line: devices, FIFOs, control bytes, markup.

Each ends in one located line (or a literal preview with a warning), never a hang, an
exhausted memory, a traceback or a half-written plan.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from tests.support.integrity import assert_nothing_imported
from tests.support.plans import EXAMPLE_PLANS, future_ledger

pytestmark = pytest.mark.fault

# A hang guard only: a correct run takes about a second.
_HANG_GUARD_SECONDS = 60
# Address-space cap for the child: a read without a bound fails here instead of taking the
# machine's memory.
_CHILD_MEMORY_BYTES = 3 * 1024**3


def _capped_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (_CHILD_MEMORY_BYTES, _CHILD_MEMORY_BYTES))


def duban(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env={**os.environ, "DUBAN_LOG_FORMAT": "json", **(env or {})},
        capture_output=True,
        text=True,
        timeout=_HANG_GUARD_SECONDS,
        check=False,
        preexec_fn=_capped_memory,
    )


def _one_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_parse_of_an_endless_device_is_one_line(device: str) -> None:
    """A character device has no size and no end: refused, not read until memory runs out."""
    result = duban("parse", device)
    assert result.returncode == 2, result.stderr
    line = _one_line(result.stderr)
    assert device.rsplit("/", 1)[1] in line
    assert "not a regular file" in line


def test_parse_of_a_fifo_is_one_line_and_does_not_hang(tmp_path: Path) -> None:
    """Nobody writes to the FIFO: opening it must not wait for a writer."""
    fifo = tmp_path / "plan.txt"
    os.mkfifo(fifo)
    result = duban("parse", str(fifo))
    assert result.returncode == 2, result.stderr
    line = _one_line(result.stderr)
    assert "plan.txt" in line
    assert "not a regular file" in line


def test_units_option_refuses_a_device_too(tmp_path: Path) -> None:
    """`--units` reads a file as well: the same bound applies to it."""
    plan = tmp_path / "plan.csv"
    plan.write_bytes(future_ledger())
    result = duban("parse", str(plan), "--units", "/dev/zero")
    assert result.returncode == 2, result.stderr
    assert "not a regular file" in _one_line(result.stderr)


def _ledger_with_a_nul_past_8_kib() -> tuple[bytes, int]:
    """A ledger over 8 KiB whose last row's text holds a NUL; returns it and that row's line."""
    ledger = future_ledger(rows=200).decode()
    lines = ledger.splitlines()
    assert len(ledger.encode()) > 8192
    last = len(lines)
    lines[-1] = lines[-1].replace("政务", "政\x00务", 1)
    return ("\n".join(lines) + "\n").encode(), last


async def test_import_of_a_nul_past_8_kib_is_one_located_line_and_stores_nothing(
    stack_env: dict[str, str],
    dev_server_env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
    task_queue: str,
    tmp_path: Path,
) -> None:
    """The binary check looks at the first 8 KiB only; a NUL further on is still refused,
    with its line and column, before anything reaches PostgreSQL or Temporal, warnings
    accepted or not."""
    data, line = _ledger_with_a_nul_past_8_kib()
    path = tmp_path / "ledger.csv"
    path.write_bytes(data)
    plan_id = task_queue  # unique on the shared dev server
    result = duban("import", str(path), "--accept-warnings", "--plan-id", plan_id, env=stack_env)
    assert result.returncode == 2, result.stderr
    message = _one_line(result.stderr)
    column = data.decode().splitlines()[line - 1].index("\x00") + 1
    assert f"ledger.csv:{line}:{column}:" in message
    assert "U+0000" in message
    assert await db_pool.fetchval("SELECT count(*) FROM plans") == 0
    assert await db_pool.fetchval("SELECT count(*) FROM plan_tasks") == 0
    await assert_nothing_imported(db_pool, dev_server_env.client, plan_id)


_SCRIPT_UNIT = "<script>alert(1)</script>局"
# As the preview shows it: normalisation makes the parentheses full-width, nothing else.
_SCRIPT_UNIT_SHOWN = "<script>alert（1）</script>局"
_MARKUP_UNIT = "[bold]局[/bold]"


def test_markup_in_unit_names_previews_literally_with_a_warning(tmp_path: Path) -> None:
    """Rich markup and HTML in a unit name print as written, and the preview warns about
    both names, at their lines, naming their tasks."""
    ledger = (
        "序号,工作任务,牵头单位,配合单位,完成时限\n"
        f"1,推进政务信息化工作,{_SCRIPT_UNIT},,2030年12月31日前\n"
        f"2,推进数据共享工作,市公安局,{_MARKUP_UNIT},2030年12月31日前\n"
    )
    path = tmp_path / "hostile.csv"
    path.write_text(ledger, encoding="utf-8")
    result = duban("parse", str(path))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert _SCRIPT_UNIT_SHOWN in out
    assert _MARKUP_UNIT in out
    warnings = [line for line in out.splitlines() if "[unit_name_markup]" in line]
    assert len(warnings) == 2, out
    assert "line 2 task 1" in warnings[0]
    assert _SCRIPT_UNIT_SHOWN in warnings[0]
    assert "line 3 task 2" in warnings[1]
    assert _MARKUP_UNIT in warnings[1]


def test_markup_in_a_plan_title_previews_literally(tmp_path: Path) -> None:
    """The title line is the document's text too."""
    document = (EXAMPLE_PLANS / "dongying-2017-egov-key-work.txt").read_text(encoding="utf-8")
    title = document.splitlines()[0]
    path = tmp_path / "dongying.txt"
    path.write_text(document.replace(title, f"[red]{title}[/red]", 1), encoding="utf-8")
    result = duban("parse", str(path))
    assert result.returncode == 0, result.stderr
    assert "[red]" in result.stdout


def _unreadable_containers() -> dict[str, bytes]:
    """Documents in the newer containers that cannot be read, by the name they are sent as."""
    from tests.support.documents import (
        HEADER,
        ROWS,
        encrypted_pdf,
        pdf_with_table,
        scanned_pdf,
        xls_workbook,
    )

    table = pdf_with_table([HEADER, *ROWS])
    workbook = xls_workbook({"一季度": [list(HEADER), list(ROWS[0])]})
    return {
        "scanned.pdf": scanned_pdf(),
        "encrypted.pdf": encrypted_pdf(opened_with="secret"),
        "damaged.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 8,
        "truncated.pdf": table[: len(table) // 3],
        "empty.pdf": b"",
        "damaged.xls": workbook[: len(workbook) // 2],
        "damaged.doc": bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504),
    }


_UNREADABLE = _unreadable_containers()


@pytest.mark.parametrize("name", sorted(_UNREADABLE))
def test_parse_of_an_unreadable_container_is_one_located_line(name: str, tmp_path: Path) -> None:
    """A scanned, encrypted, damaged, cut or empty PDF, a damaged .xls or .doc: one line
    naming the file, exit 2, no traceback, nothing printed by the PDF libraries."""
    path = tmp_path / name
    path.write_bytes(_UNREADABLE[name])
    result = duban("parse", str(path))
    assert result.returncode == 2, (result.stdout, result.stderr)
    line = _one_line(result.stderr)
    assert name in line


async def test_import_of_a_scanned_pdf_is_one_line_and_stores_nothing(
    stack_env: dict[str, str],
    dev_server_env: WorkflowEnvironment,
    db_pool: asyncpg.Pool,
    task_queue: str,
    tmp_path: Path,
) -> None:
    """A PDF without a text layer is refused before anything reaches PostgreSQL or
    Temporal, and the coordinator is told to OCR it."""
    path = tmp_path / "scanned.pdf"
    path.write_bytes(_UNREADABLE["scanned.pdf"])
    plan_id = task_queue
    result = duban("import", str(path), "--accept-warnings", "--plan-id", plan_id, env=stack_env)
    assert result.returncode == 2, result.stderr
    message = _one_line(result.stderr)
    assert "scanned.pdf" in message
    assert "has no text layer" in message
    assert "OCR it" in message
    await assert_nothing_imported(db_pool, dev_server_env.client, plan_id)
