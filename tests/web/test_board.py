"""The coordinator's board (督办看板) in a real browser, against the API process with a worker,
the dev Temporal server and a real PostgreSQL: its counts, lights and lists follow what the
units and the coordinator do through the API, its filters narrow them, a coordinator of one
plan sees nothing of another, and its per-unit table is the monthly notice's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from playwright.async_api import Page

from domain.access import Principal, Role
from domain.calendar import SHANGHAI
from domain.notice_state import month_end
from services import notices
from services.board import compute_unit_table
from store import board_reads
from store.task_reads import TaskFilter
from tests.api.test_lifecycle_http import act, import_through_api, task_json, wait_for_stage
from tests.support.api import ApiStack
from tests.support.browser import chromium, offline_page
from tests.support.lifecycle import wait_until
from tests.support.plans import future_ledger, unique_name
from tests.support.web import screenshot_dir, sign_in

REFUSAL_REASON = "不属于本单位职责，应由市发展改革委牵头"
EXTENSION_REASON = "需与省平台同步上线"


def this_month() -> str:
    return datetime.now(UTC).astimezone(SHANGHAI).strftime("%Y-%m")


async def count(page: Page, name: str, *, plan: str | None = None) -> int:
    """A count on the board: the totals' by default, or one plan's row of 各计划."""
    scope = f'#plan-counts tr[data-plan="{plan}"] ' if plan else "#board-totals "
    return int(await page.locator(f'{scope}[data-count="{name}"]').inner_text())


async def listed_tasks(page: Page, table: str) -> list[str]:
    rows = page.locator(f"#{table} tbody tr")
    return [await rows.nth(i).get_attribute("data-task") or "" for i in range(await rows.count())]


async def unit_table(page: Page) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    rows = page.locator("#unit-table tbody tr")
    for i in range(await rows.count()):
        row = rows.nth(i)
        unit = await row.get_attribute("data-unit") or ""
        table[unit] = {
            column: int(await row.locator(f'[data-col="{column}"]').inner_text())
            for column in ("led", "completed", "behind", "overdue", "refusals")
        }
    return table


def notice_table(notice: Any) -> dict[str, dict[str, int]]:
    return {
        row.unit: {
            "led": row.led,
            "completed": row.completed,
            "behind": row.behind,
            "overdue": row.overdue,
            "refusals": row.refusals,
        }
        for row in notice.units
    }


async def board(page: Page, stack: ApiStack, query: str = "") -> None:
    """The board, once its per-unit table holds the latest events: a recomputation that
    outlasts a visit's patience shows the table kept meanwhile, marked as updating."""

    async def settled() -> bool:
        answer = await page.goto(f"{stack.base_url}/board{query}")
        assert answer is not None
        assert answer.status == 200, await answer.text()
        return await page.locator("#unit-table-updating").count() == 0

    await wait_until(settled, timeout=15, what="the board's per-unit table recomputed")


async def test_the_board_follows_refusals_and_submissions_and_filters_narrow_it(
    stack: ApiStack,
) -> None:
    coordinator = await stack.token("coordinator")
    plan = await import_through_api(
        stack, coordinator, unique_name("ledger.csv"), future_ledger(rows=3)
    )
    # A second plan whose deadline has passed: its tasks are overdue (red) from the start.
    late_plan = await import_through_api(
        stack, coordinator, unique_name("late.csv"), future_ledger(2025, rows=2)
    )
    outside: list[str] = []
    async with chromium() as browser:
        page = await offline_page(browser, outside)
        await sign_in(page, await stack.login_link("coordinator"))
        await board(page, stack)
        assert await count(page, "tasks") == 5
        assert await count(page, "stage-assigned") == 5
        assert await count(page, "light-red") == 2
        assert await count(page, "light-green") + await count(page, "light-yellow") == 3
        assert await count(page, "light-red", plan=plan) == 0
        assert await count(page, "light-red", plan=late_plan) == 2
        assert set(await listed_tasks(page, "overdue-list")) == {f"{late_plan}/1", f"{late_plan}/2"}
        overdue_row = page.locator(f'#overdue-list tr[data-task="{late_plan}/1"]')
        assert int(await overdue_row.locator('[data-col="days-overdue"]').inner_text()) > 0
        assert await overdue_row.get_by_role("link").get_attribute("href") == (
            f"/tasks/{late_plan}/1"
        )
        assert await page.locator("#refused-list").count() == 0
        assert (await unit_table(page))["市信息办"]["refusals"] == 0

        # 市信息办 refuses task 3 with a reason: it waits on the coordinator to reassign.
        lead3 = await stack.token("unit", unit="市信息办")
        await act(stack, lead3, plan, "3", "refuse", {"reason": REFUSAL_REASON})

        async def refused_projected() -> bool:
            return bool((await task_json(stack, coordinator, plan, "3"))["awaiting_reassignment"])

        await wait_until(refused_projected, timeout=15, what="the refusal in the projection")
        # Task 2: its lead accepts and submits, its cooperating unit signs off: 审核.
        lead2 = await stack.token("unit", unit="市政务服务中心")
        await act(stack, lead2, plan, "2", "accept")
        await act(stack, lead2, plan, "2", "submit", {"summary": "已完成平台对接"})
        cooperating = await stack.token("unit", unit="市数据资源局")
        await wait_for_stage(stack, coordinator, plan, "2", "signoff")
        await act(stack, cooperating, plan, "2", "sign-off", {"approve": True})
        await wait_for_stage(stack, coordinator, plan, "2", "review")

        # Task 1: its lead asks for more time; the request waits on the coordinator.
        lead1 = await stack.token("unit", unit="市数据资源局")
        await act(stack, lead1, plan, "1", "accept")
        await wait_for_stage(stack, coordinator, plan, "1", "in_progress")

        async def requested() -> bool:
            # The extension deadline is worked out just after acceptance.
            answer = await stack.post(
                f"/api/v1/tasks/{plan}/1/request-extension",
                lead1,
                {"new_due": "2031-03-31", "reason": EXTENSION_REASON},
            )
            return answer.status_code == 200

        await wait_until(requested, what="the extension request to be taken")

        async def extension_listed() -> bool:
            await board(page, stack)
            return await listed_tasks(page, "extension-list") == [f"{plan}/1"]

        await wait_until(extension_listed, timeout=15, what="the request on the board")
        request_row = page.locator(f'#extension-list tr[data-task="{plan}/1"]')
        assert await request_row.locator('[data-col="reason"]').inner_text() == EXTENSION_REASON
        assert await request_row.locator('[data-col="requested-due"]').inner_text() == (
            "2031年3月31日"
        )

        await board(page, stack)
        assert await listed_tasks(page, "refused-list") == [f"{plan}/3"]
        refused_row = page.locator(f'#refused-list tr[data-task="{plan}/3"]')
        assert await refused_row.locator('[data-col="reason"]').inner_text() == REFUSAL_REASON
        assert "市信息办" in await refused_row.inner_text()
        assert await listed_tasks(page, "review-list") == [f"{plan}/2"]
        assert await count(page, "stage-review") == 1
        assert await count(page, "stage-review", plan=plan) == 1
        assert await count(page, "stage-assigned") == 3
        assert await count(page, "stage-in_progress") == 1
        # The per-unit table was recomputed after the new events: the refusal is counted.
        assert (await unit_table(page))["市信息办"]["refusals"] == 1
        await page.screenshot(path=str(screenshot_dir() / "board.png"), full_page=True)
        # Each listed task links to its own page, where the coordinator acts.
        async with page.expect_navigation():
            await page.locator(f'#review-list tr[data-task="{plan}/2"] a').click()
        assert page.url == f"{stack.base_url}/tasks/{plan}/2"
        assert "推进第2项政务信息化工作" in await page.locator("main").inner_text()

        # Once decided, the request no longer waits.
        await act(
            stack,
            coordinator,
            plan,
            "1",
            "decide-extension",
            {"approve": False, "reason": "不予延期"},
        )

        async def extension_gone() -> bool:
            await board(page, stack)
            return await page.locator("#extension-list").count() == 0

        await wait_until(extension_gone, timeout=15, what="the decided request off the board")

        # The filter form, as a coordinator uses it: one plan, then its 审核 stage.
        await page.select_option("#filter-plan", plan)
        await page.get_by_role("button", name="筛选").click()
        await page.wait_for_load_state()
        assert f"plan={plan}" in page.url
        assert await count(page, "tasks") == 3
        assert await count(page, "light-red") == 0
        assert await page.locator("#overdue-list").count() == 0
        table = await unit_table(page)
        expected = await notices.generate(stack.pool, this_month(), plan)
        assert table == notice_table(expected[0])
        await page.select_option("#filter-stage", "review")
        await page.get_by_role("button", name="筛选").click()
        await page.wait_for_load_state()
        assert await count(page, "tasks") == 1
        assert await listed_tasks(page, "review-list") == [f"{plan}/2"]
        assert await page.locator("#refused-list").count() == 0  # task 3 is at 交办
        assert await unit_table(page) == table  # the table follows the plan filter only

        await board(page, stack, "?light=red")
        assert await count(page, "tasks") == 2
        assert await count(page, "light-red") == 2
        assert await page.locator("#review-list").count() == 0
        await board(page, stack, "?unit=市信息办")
        assert await count(page, "tasks") == 1
        assert await listed_tasks(page, "refused-list") == [f"{plan}/3"]
        assert await page.locator("#overdue-list").count() == 0

        # Across both plans, the table is the notice's over every plan.
        await board(page, stack)
        everything = await notices.generate(stack.pool, this_month())
        assert await unit_table(page) == notice_table(everything[0])
    assert outside == []


async def test_a_coordinator_of_one_plan_sees_nothing_of_another(stack: ApiStack) -> None:
    coordinator = await stack.token("coordinator")
    plan_a = await import_through_api(
        stack, coordinator, unique_name("plan-a.csv"), future_ledger(rows=1)
    )
    plan_b = await import_through_api(
        stack, coordinator, unique_name("plan-b.csv"), future_ledger(2031, rows=3)
    )
    outside: list[str] = []
    async with chromium() as browser:
        page = await offline_page(browser, outside)
        await sign_in(page, await stack.login_link("coordinator", plans=(plan_a,)))
        await board(page, stack)
        assert await count(page, "tasks") == 1
        assert await page.locator(f'#plan-counts tr[data-plan="{plan_b}"]').count() == 0
        html = await page.content()
        assert plan_b not in html
        # Plan B's units (its tasks 2 and 3) are neither in the unit filter nor the table.
        for unit in ("市政务服务中心", "市信息办"):
            assert unit not in html
        assert set(await unit_table(page)) == {"市数据资源局"}
        # Asking for plan B by address answers as if it did not exist.
        answer = await page.goto(f"{stack.base_url}/board?plan={plan_b}")
        assert answer is not None
        assert answer.status == 404
    assert outside == []


@asynccontextmanager
async def signed_in_client(
    stack: ApiStack, role: Role, unit: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client signed in through a login link, as the browser is."""
    path = (await stack.login_link(role, unit=unit)).removeprefix(stack.base_url)
    async with httpx.AsyncClient(base_url=stack.base_url, follow_redirects=False) as client:
        page = (await client.get(path)).text
        marker = 'name="csrf_token" value="'
        start = page.index(marker) + len(marker)
        await client.post(path, data={"csrf_token": page[start : page.index('"', start)]})
        yield client


async def test_a_unit_opening_the_board_is_sent_to_its_inbox(stack: ApiStack) -> None:
    async with signed_in_client(stack, "unit", unit="市信息办") as client:
        answer = await client.get("/board")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/inbox"


async def test_a_wrong_filter_is_said_beside_its_field(stack: ApiStack) -> None:
    async with signed_in_client(stack, "coordinator") as client:
        answer = await client.get("/board", params={"stage": "finished", "light": "blue"})
        assert answer.status_code == 422
        assert "没有“finished”这个阶段" in answer.text
        assert "没有“blue”这种状态灯" in answer.text
        assert "Traceback" not in answer.text
        too_long = await client.get("/board", params={"unit": "单" * 201})
        assert too_long.status_code == 422
        assert "过长（最多200个字符）" in too_long.text
        unknown = await client.get("/board", params={"plan": "no-such-plan"})
        assert unknown.status_code == 404
        assert "没有这个计划" in unknown.text


async def test_the_unit_table_at_a_month_end_is_that_months_notice(stack: ApiStack) -> None:
    """The board's table is the notice's arithmetic: at the month's end, over one plan and
    over every plan, it is the notice's 分单位情况 row for row."""
    coordinator = await stack.token("coordinator")
    plan = await import_through_api(stack, coordinator, unique_name("ledger.csv"), future_ledger())
    late = await import_through_api(
        stack, coordinator, unique_name("late.csv"), future_ledger(2025)
    )
    # A list longer than its page says how long it is.
    everyone = Principal(token_id="t", role="coordinator", name="督查室")  # noqa: S106
    async with stack.pool.acquire() as connection:
        page = await board_reads.overdue(connection, everyone, TaskFilter(), limit=2)
    assert [row["workflow_id"] for row in page.rows] == [f"{late}/1", f"{late}/2"]
    assert page.total == 3
    lead = await stack.token("unit", unit="市信息办")
    await act(stack, lead, plan, "3", "refuse", {"reason": REFUSAL_REASON})

    async def refused() -> bool:
        return bool((await task_json(stack, coordinator, plan, "3"))["awaiting_reassignment"])

    await wait_until(refused, timeout=15, what="the refusal in the projection")
    month = this_month()
    for scope in ((plan,), None):
        table = await compute_unit_table(stack.pool, scope, month_end(month))
        notice, _ = await notices.generate(stack.pool, month, scope[0] if scope else None)
        assert table == notice.units
    assert any(row.refusals == 1 for row in table)


async def test_an_admin_reads_the_board_of_every_plan(stack: ApiStack) -> None:
    coordinator = await stack.token("coordinator")
    plan = await import_through_api(
        stack, coordinator, unique_name("ledger.csv"), future_ledger(rows=2)
    )
    async with signed_in_client(stack, "admin") as client:
        answer = await client.get("/board")
        assert answer.status_code == 200
        assert f'data-plan="{plan}"' in answer.text
        assert '<b data-count="tasks">2</b>' in answer.text
