"""Hostile documents through the API: the same refusals and warnings as the command line."""

from __future__ import annotations

import pytest

from tests.support.api import ApiStack
from tests.support.integrity import assert_nothing_imported
from tests.support.plans import future_ledger

pytestmark = pytest.mark.fault


async def test_an_upload_with_a_nul_past_8_kib_is_a_located_problem(api_stack: ApiStack) -> None:
    """Imported with warnings accepted, still refused at the NUL's line and column, before
    anything is stored."""
    coordinator = await api_stack.token("coordinator")
    lines = future_ledger(rows=200).decode().splitlines()
    lines[-1] = lines[-1].replace("政务", "政\x00务", 1)
    data = ("\n".join(lines) + "\n").encode()
    column = lines[-1].index("\x00") + 1
    plan_id = api_stack.task_queue  # unique on the shared dev server
    answer = await api_stack.upload(
        coordinator, "ledger.csv", data, accept_warnings=True, plan_id=plan_id
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "document_error"
    assert problem["detail"].startswith(f"ledger.csv:{len(lines)}:{column}: ")
    assert problem["line"] == len(lines)
    assert await api_stack.pool.fetchval("SELECT count(*) FROM plans") == 0
    await assert_nothing_imported(api_stack.pool, api_stack.temporal, plan_id)


async def test_a_preview_warns_about_markup_and_unknown_units(api_stack: ApiStack) -> None:
    """The JSON preview keeps the names as written and carries both warnings."""
    coordinator = await api_stack.token("coordinator")
    ledger = (
        "序号,工作任务,牵头单位,配合单位,完成时限\n"
        "1,推进政务信息化工作,<script>alert</script>局,,2030年12月31日前\n"
        "2,推进数据共享工作,市公安局,市发改局,2030年12月31日前\n"
    ).encode()
    answer = await api_stack.upload(coordinator, "h.csv", ledger, path="/api/v1/plans/preview")
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["tasks"][0]["lead_units"] == ["<script>alert</script>局"]
    warnings = {(w["code"], w["line"], w["task_id"]) for w in preview["warnings"]}
    assert warnings == {("unit_name_markup", 2, "1"), ("unknown_unit", 3, "2")}
