"""The task list: keyset pages walk every task once, in order of least time left, and the
filters narrow it as documented."""

from __future__ import annotations

from typing import Any

from tests.api.test_lifecycle_http import act, import_through_api, wait_for_stage
from tests.support.api import ApiStack
from tests.support.plans import EXAMPLE_PLANS, future_ledger, unique_name


async def _all_pages(stack: ApiStack, token: str, **filters: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {**filters, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await stack.get("/api/v1/tasks", token, **params)
        assert page.status_code == 200, page.text
        body = page.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items


async def test_pages_walk_every_task_once_least_time_left_first(api_stack: ApiStack) -> None:
    """Seven tasks, one cancelled (it sorts last, past every dated task): pages of two
    give each task once, sorted by due date, the closed one at the end."""
    coordinator = await api_stack.token("coordinator")
    plan_id = await import_through_api(
        api_stack, coordinator, unique_name("ledger.csv"), _staggered_ledger(7)
    )
    await act(api_stack, coordinator, plan_id, "2", "cancel", {"reason": "合并到第1项"})
    await wait_for_stage(api_stack, coordinator, plan_id, "2", "cancelled")
    items = await _all_pages(api_stack, coordinator, plan=plan_id)
    keys = [item["task_key"] for item in items]
    assert sorted(keys) == [str(n) for n in range(1, 8)]
    assert keys[-1] == "2"
    dues = [item["next_due"] for item in items[:-1]]
    assert dues == sorted(dues)
    assert items[-1]["light"] == "none"


async def test_filters_narrow_the_list(api_stack: ApiStack) -> None:
    """stage, light, overdue, due_before, role and text each select what they say."""
    coordinator = await api_stack.token("coordinator")
    future = await import_through_api(
        api_stack, coordinator, unique_name("ledger.csv"), _staggered_ledger(4)
    )
    example = EXAMPLE_PLANS / "nantong-2017-gov-info-systems-integration.txt"
    past = await import_through_api(
        api_stack, coordinator, unique_name(example.name), example.read_bytes()
    )
    overdue = await _all_pages(api_stack, coordinator, overdue="true")
    assert overdue
    assert {item["plan_id"] for item in overdue} == {past}
    assert all(item["light"] == "red" and item["overdue_days"] > 0 for item in overdue)
    green = await _all_pages(api_stack, coordinator, light="green", plan=future)
    assert len(green) == 4
    early = await _all_pages(api_stack, coordinator, plan=future, due_before="2030-02-28")
    assert [item["task_key"] for item in early] == ["1", "2"]
    lead_only = await _all_pages(api_stack, coordinator, unit="市数据资源局", role="lead")
    assert {item["lead_unit"] for item in lead_only} == {"市数据资源局"}
    helping = await _all_pages(api_stack, coordinator, unit="市数据资源局", role="cooperating")
    assert all("市数据资源局" in item["cooperating_units"] for item in helping)
    assert helping
    found = await _all_pages(api_stack, coordinator, q="第3项")
    assert [item["task_key"] for item in found] == ["3"]
    assigned = await _all_pages(api_stack, coordinator, plan=future, stage="assigned")
    assert len(assigned) == 4
    assert await _all_pages(api_stack, coordinator, plan=future, stage="completed") == []


def _staggered_ledger(rows: int) -> bytes:
    """A ledger whose task n is due at the end of month n of 2030."""
    lines = future_ledger(rows=rows).decode().splitlines()
    header, body = lines[0], lines[1:]
    staggered = [
        line.replace("2030年12月31日前", f"2030年{n}月底前") for n, line in enumerate(body, 1)
    ]
    return ("\n".join([header, *staggered]) + "\n").encode()
