"""Shared by the inbox and task page tests: a plan imported through the API, a browser-like
HTTP client signed in through a login link, and the hidden fields of a page's forms."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from tests.support.api import ApiStack
from tests.support.lifecycle import wait_until
from tests.support.plans import unique_name
from tests.support.web import hidden_field

SHANGHAI = ZoneInfo("Asia/Shanghai")


def inbox_ledger() -> bytes:
    """Four tasks: 1 due far ahead (green) with two cooperating units, 2 cooperated on by
    市数据资源局, 3 led by 市信息办 alone, 4 led by 市数据资源局 and already overdue (red)."""
    past = datetime.now(SHANGHAI).date() - timedelta(days=2)
    rows = [
        "序号,工作任务,牵头单位,配合单位,完成时限",
        "1,建设全市政务数据共享交换平台,市数据资源局,市公安局、市市场监管局,2030年12月31日前",
        "2,推进一网通办事项标准化,市政务服务中心,市数据资源局,2030年12月31日前",
        "3,完善政务信息系统整合台账,市信息办,,2030年12月31日前",
        f"4,整改数据目录问题,市数据资源局,,{past.year}年{past.month}月{past.day}日前",
    ]
    return ("\n".join(rows) + "\n").encode()


async def import_plan(stack: ApiStack, coordinator: str, data: bytes | None = None) -> str:
    response = await stack.upload(
        coordinator, unique_name("inbox.csv"), data or inbox_ledger(), accept_warnings=True
    )
    assert response.status_code == 200, response.text
    plan_id: str = response.json()["plan_id"]
    count = response.json()["workflows_started"]

    async def all_listed() -> bool:
        listed = await stack.pool.fetchval(
            "SELECT count(*) FROM task_states WHERE plan_id = $1", plan_id
        )
        return bool(listed >= count)

    await wait_until(all_listed, timeout=30, what="the imported tasks in the projection")
    return plan_id


async def stage_of(stack: ApiStack, plan_id: str, task_id: str) -> str:
    stage: str = await stack.pool.fetchval(
        "SELECT stage FROM task_states WHERE plan_id = $1 AND task_id = $2", plan_id, task_id
    )
    return stage


async def event_kinds(stack: ApiStack, plan_id: str, task_id: str) -> list[str]:
    rows = await stack.pool.fetch(
        "SELECT kind FROM task_events WHERE plan_id = $1 AND task_id = $2 ORDER BY at, seq",
        plan_id,
        task_id,
    )
    return [row["kind"] for row in rows]


async def send_form(
    client: httpx.AsyncClient, plan_id: str, task_id: str, action: str, **fields: str
) -> httpx.Response:
    """Open the task page and send its form for ``action`` with ``fields``, as a browser
    would (the page's CSRF token and the form's idempotency key)."""
    page = await client.get(f"/tasks/{plan_id}/{task_id}")
    assert page.status_code == 200, page.text
    form = {
        "csrf_token": hidden_field(page.text, "csrf_token"),
        "idempotency_key": hidden_field(page.text, "idempotency_key", f"form-{action}"),
        **fields,
    }
    return await client.post(f"/tasks/{plan_id}/{task_id}/{action}", data=form)
