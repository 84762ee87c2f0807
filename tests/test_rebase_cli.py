"""``duban parse`` and ``duban import`` with ``--rebase-year``, as a coordinator runs them."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import asyncpg
import pytest

from tests.support.golden import EXAMPLES
from tests.support.plans import future_ledger
from tests.test_cli_plans import duban

DONGYING = str(EXAMPLES / "dongying-2017-egov-key-work.txt")
XUANCHENG = str(EXAMPLES / "xuancheng-2016-2020-gov-informatization-plan.txt")


def test_parse_json_with_a_rebase_year_moves_the_dates_and_says_so() -> None:
    result = duban("parse", DONGYING, "--rebase-year", "2026", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert set(document) == {"plan", "tasks", "warnings"}
    assert (document["plan"]["period_start"], document["plan"]["issue_date"]) == (
        2026,
        "2026-06-08",
    )
    assert [m["due"] for m in document["tasks"][2]["milestones"]] == ["2026-10-31", "2027-12-31"]
    (note,) = [w for w in document["warnings"] if w["code"] == "dates_rebased"]
    assert note["message"].startswith("日期整体平移 +9 年（2017 → 2026）")


def test_the_table_preview_shows_the_shift_apart_from_the_warnings() -> None:
    result = duban("parse", DONGYING, "--rebase-year", "2026")
    assert result.returncode == 0, result.stderr
    assert "dates shifted [dates_rebased] 日期整体平移 +9 年（2017 → 2026）" in result.stdout
    assert "2 warnings" in result.stdout  # the document's two; the note is not one of them
    assert "2026-06-08" in result.stdout


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "--rebase-year must be a whole year, not 'abc'"),
        ("1989", "--rebase-year must be between 1990 and 2100, not 1989"),
        ("2101", "--rebase-year must be between 1990 and 2100, not 2101"),
    ],
)
@pytest.mark.parametrize("command", ["parse", "import"])
def test_a_bad_rebase_year_is_one_line_and_exit_2(command: str, value: str, reason: str) -> None:
    """Refused before the document is read or anything is connected: no environment needed."""
    result = duban(command, DONGYING, "--rebase-year", value)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"duban: error: {reason}"]


async def test_import_with_a_rebase_year_stores_the_shifted_plan(
    stack_env: dict[str, str], db_pool: asyncpg.Pool, task_queue: str, tmp_path: Path
) -> None:
    """A clean 2030 ledger imported as of 2034: no --accept-warnings needed for the note,
    every row due in 2034 with +4 in its source, and the note printed; a five-year plan
    moved to start in 2100 would end past it: refused in one line, nothing written."""
    ledger = tmp_path / "ledger.csv"
    ledger.write_bytes(future_ledger(2030))
    plan_id = f"rebased-{task_queue}"
    imported = duban(
        "import", str(ledger), "--plan-id", plan_id, "--rebase-year", "2034", env=stack_env
    )
    assert imported.returncode == 0, imported.stderr
    assert "3 task workflows started" in imported.stdout
    assert "日期整体平移 +4 年（2030 → 2034）" in imported.stdout
    rows = await db_pool.fetch(
        "SELECT due, (source ->> 'rebased_years')::int AS years FROM plan_tasks WHERE plan_id = $1",
        plan_id,
    )
    assert {(row["due"], row["years"]) for row in rows} == {(date(2034, 12, 31), 4)}

    refused = duban(
        "import", XUANCHENG, "--plan-id", f"{plan_id}-late", "--rebase-year", "2100",
        env=stack_env,
    )  # fmt: skip
    assert refused.returncode == 2
    lines = [line for line in refused.stderr.splitlines() if line.strip()]
    assert lines == [
        "duban: error: xuancheng-2016-2020-gov-informatization-plan.txt: --rebase-year 2100: "
        "shifting the plan's period 2016–2020 by +84 years leaves 1949–2100"
    ]
    assert await db_pool.fetchval("SELECT count(*) FROM plans") == 1
