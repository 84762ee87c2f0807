"""``rebase_year`` on the API's preview and import: dates shifted by whole years, said so."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from tests.support.api import ApiStack
from tests.support.golden import EXAMPLES
from tests.support.integrity import assert_nothing_imported
from tests.support.plans import future_ledger

DONGYING = EXAMPLES / "dongying-2017-egov-key-work.txt"
XUANCHENG = EXAMPLES / "xuancheng-2016-2020-gov-informatization-plan.txt"


async def test_a_preview_rebased_to_2026_says_the_dates_moved(api_stack: ApiStack) -> None:
    coordinator = await api_stack.token("coordinator")
    answer = await api_stack.upload(
        coordinator,
        DONGYING.name,
        DONGYING.read_bytes(),
        path="/api/v1/plans/preview",
        rebase_year="2026",
    )
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert (preview["plan"]["period_start"], preview["plan"]["issue_date"]) == (2026, "2026-06-08")
    assert preview["tasks"][2]["milestones"][0]["due"] == "2026-10-31"
    assert preview["tasks"][2]["milestones"][0]["raw"] == "2017年11月前"
    notes = [w["message"] for w in preview["warnings"] if w["code"] == "dates_rebased"]
    assert len(notes) == 1
    assert notes[0].startswith("日期整体平移 +9 年（2017 → 2026）")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", "valid integer"),
        ("2026.5", "valid integer"),
        ("1989", "greater than or equal to 1990"),
        ("2101", "less than or equal to 2100"),
    ],
)
async def test_a_bad_rebase_year_is_a_located_problem_that_imports_nothing(
    api_stack: ApiStack, value: str, message: str
) -> None:
    coordinator = await api_stack.token("coordinator")
    plan_id = f"rebase-{uuid.uuid4().hex[:8]}"
    for path in ("/api/v1/plans/preview", "/api/v1/plans"):
        answer = await api_stack.upload(
            coordinator,
            "ledger.csv",
            future_ledger(),
            path=path,
            rebase_year=value,
            plan_id=plan_id,
        )
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert problem["code"] == "invalid_payload"
        assert problem["detail"].startswith("body.rebase_year: ")
        assert message in problem["detail"]
    await assert_nothing_imported(api_stack.pool, api_stack.temporal, plan_id)


async def test_a_shift_past_2100_is_refused_before_anything_is_stored(api_stack: ApiStack) -> None:
    coordinator = await api_stack.token("coordinator")
    plan_id = f"rebase-{uuid.uuid4().hex[:8]}"
    answer = await api_stack.upload(
        coordinator,
        XUANCHENG.name,
        XUANCHENG.read_bytes(),
        accept_warnings=True,
        rebase_year="2100",
        plan_id=plan_id,
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_rebase_year"
    assert answer.json()["detail"] == (
        f"{XUANCHENG.name}: rebase_year 2100: shifting the plan's period 2016–2020 by +84 "
        "years leaves 1949–2100"
    )
    await assert_nothing_imported(api_stack.pool, api_stack.temporal, plan_id)


async def test_an_import_rebased_stores_the_shifted_dates_and_the_shift(
    api_stack: ApiStack,
) -> None:
    """A clean ledger of 2030 imported as of 2031: no --accept-warnings needed for the note;
    every row is due in 2031 and its source records +1; the same key with another year is a
    different request."""
    coordinator = await api_stack.token("coordinator")
    plan_id = f"rebase-{uuid.uuid4().hex[:8]}"
    key = uuid.uuid4().hex
    answer = await api_stack.upload(
        coordinator, "ledger.csv", future_ledger(2030), key=key, rebase_year="2031", plan_id=plan_id
    )
    assert answer.status_code == 200, answer.text
    assert (answer.json()["status"], answer.json()["rebased_years"]) == ("imported", 1)
    rows = await api_stack.pool.fetch(
        "SELECT due, (source ->> 'rebased_years')::int AS years FROM plan_tasks WHERE plan_id = $1",
        plan_id,
    )
    assert {(row["due"], row["years"]) for row in rows} == {(date(2031, 12, 31), 1)}
    assert (
        await api_stack.pool.fetchval("SELECT period_start FROM plans WHERE plan_id = $1", plan_id)
        == 2031
    )
    other = await api_stack.upload(
        coordinator, "ledger.csv", future_ledger(2030), key=key, rebase_year="2032", plan_id=plan_id
    )
    assert (other.status_code, other.json()["code"]) == (409, "idempotency_key_reused")
