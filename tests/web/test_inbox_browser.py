"""The inbox and the task page in a real browser (Debian's Chromium): units and the
coordinator each in their own browser context, acting by clicking, as office staff do."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, Locator, Page, Route, expect

from tests.support.api import ApiStack
from tests.support.browser import LOCAL_HOSTS
from tests.support.web import screenshot_dir, sign_in
from tests.web.inbox_support import event_kinds, import_plan, stage_of


class Person:
    """One person's browser context, cut off from everything off this machine."""

    def __init__(self, context: BrowserContext, page: Page, outside: list[str]) -> None:
        self.context, self.page, self.outside = context, page, outside


async def person(browser: Browser, stack: ApiStack, link: str) -> Person:
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    outside: list[str] = []

    async def guard(route: Route) -> None:
        # tests.support.browser.offline_page's guard, for a whole context of one's own.
        url = route.request.url
        if url.startswith(("data:", "blob:")) or (urlsplit(url).hostname or "") in LOCAL_HOSTS:
            await route.continue_()
        else:
            outside.append(url)
            await route.abort()

    await context.route("**/*", guard)
    page = await context.new_page()
    await sign_in(page, link)
    return Person(context, page, outside)


def row(page: Page, plan_id: str, task_id: str) -> Locator:
    return page.locator(f'tr.inbox-row[data-workflow-id="{plan_id}/{task_id}"]')


async def test_a_task_from_inbox_to_done(browser: Browser, stack: ApiStack) -> None:
    """The lead sees the task in its inbox with its light and next step, accepts, reports
    progress (150% is refused beside the field and changes nothing), submits; each
    cooperating unit signs off in its own browser; the coordinator approves: 办结."""
    plan_id = await import_plan(stack, await stack.token("coordinator"))
    lead = await person(browser, stack, await stack.login_link("unit", unit="市数据资源局"))
    page = lead.page
    await expect(page).to_have_url(f"{stack.base_url}/inbox")
    task = row(page, plan_id, "1")
    await expect(task.locator(".light")).to_have_class("light light-green")
    await expect(task.locator(".light")).to_have_text("绿灯")
    await expect(task.locator(".next-step")).to_have_text("签收或退回")
    await expect(task.locator(".part")).to_have_text("牵头")
    await expect(task.locator(".stage")).to_have_text("交办")
    overdue = row(page, plan_id, "4")
    await expect(overdue.locator(".light")).to_have_class("light light-red")
    await expect(overdue.locator(".time-left")).to_contain_text("逾期")
    # The overdue task comes first (least time left); task 2 (cooperating, not in 会签)
    # is not owed yet and is not listed.
    ids = await page.locator("tr.inbox-row").evaluate_all(
        "rows => rows.map(r => r.dataset.workflowId)"
    )
    assert ids.index(f"{plan_id}/4") < ids.index(f"{plan_id}/1")
    assert f"{plan_id}/2" not in ids
    await page.screenshot(path=str(screenshot_dir() / "inbox.png"), full_page=True)

    await task.locator("a").click()
    await expect(page.locator("#task-stage")).to_have_text("交办")
    await page.locator("#form-accept button").click()
    await expect(page.locator("#flash")).to_have_text("已签收，任务进入承办阶段。")
    await expect(page.locator("#task-stage")).to_have_text("承办")

    await page.fill("#progress-percent", "150")
    await page.fill("#progress-text", "平台主体已部署")
    await page.locator("#form-progress button").click()
    await expect(page.locator("#error-progress-percent")).to_have_text("不能大于100")
    await expect(page.locator("#progress-text")).to_have_value("平台主体已部署")
    assert "progress" not in await event_kinds(stack, plan_id, "1")

    await page.fill("#progress-percent", "60")
    await page.fill("#progress-evidence", "市数据局〔2030〕1号\nhttp://oa.local/evidence/1")
    await page.locator("#form-progress button").click()
    await expect(page.locator("#flash")).to_have_text("进展已报告。")
    await expect(page.locator("#task-progress")).to_have_text("60%")
    timeline = page.locator("#task-timeline tr[data-kind=progress]")
    await expect(timeline.locator(".notes")).to_contain_text("进度60%；平台主体已部署")
    await expect(timeline.locator(".evidence li")).to_have_count(2)
    await page.screenshot(path=str(screenshot_dir() / "task.png"), full_page=True)

    await page.fill("#submit-summary", "平台已建成并接入12个部门")
    await page.locator("#form-submit button").click()
    await expect(page.locator("#task-stage")).to_have_text("会签")
    await expect(page.locator("#task-next-step")).to_have_text("等待配合单位会签")

    for cooperating in ("市公安局", "市市场监管局"):
        unit = await person(browser, stack, await stack.login_link("unit", unit=cooperating))
        owed = row(unit.page, plan_id, "1")
        await expect(owed.locator(".next-step")).to_have_text("会签（同意或不同意）")
        await expect(owed.locator(".part")).to_have_text("配合")
        await owed.locator("a").click()
        await unit.page.locator("#signoff-approve").click()
        await expect(unit.page.locator("#flash")).to_have_text("会签意见已提交。")
        await unit.page.goto(f"{stack.base_url}/inbox")
        await expect(row(unit.page, plan_id, "1")).to_have_count(0)  # nothing more owed
        assert unit.outside == []
        await unit.context.close()

    office = await person(browser, stack, await stack.login_link("coordinator"))
    board = f"{stack.base_url}/board?plan={plan_id}"
    await office.page.goto(board)
    totals = office.page.locator("#board-totals")
    # Four tasks: 1 in 审核 now, 2 and 3 in 交办, 4 overdue (red).
    await expect(totals.locator('[data-count="stage-review"]')).to_have_text("1")
    await expect(totals.locator('[data-count="stage-completed"]')).to_have_text("0")
    await expect(totals.locator('[data-count="light-green"]')).to_have_text("3")
    await expect(totals.locator('[data-count="light-red"]')).to_have_text("1")
    waiting = office.page.locator(f'#review-list tr[data-task="{plan_id}/1"]')
    await expect(waiting).to_have_count(1)
    await waiting.locator("a").click()  # from the board's waiting work to the task
    await expect(office.page.locator("#task-stage")).to_have_text("审核")
    await expect(office.page.locator("#task-next-step")).to_have_text("审核（通过或退回）")
    await office.page.locator("#review-approve").click()
    await expect(office.page.locator("#flash")).to_have_text("审核意见已提交。")
    await expect(office.page.locator("#task-stage")).to_have_text("办结")
    assert await stage_of(stack, plan_id, "1") == "completed"
    await office.page.goto(board)
    await expect(totals.locator('[data-count="stage-review"]')).to_have_text("0")
    await expect(totals.locator('[data-count="stage-completed"]')).to_have_text("1")
    # A closed task has no light any more.
    await expect(totals.locator('[data-count="light-green"]')).to_have_text("2")
    await expect(office.page.locator('[data-listed="review"]')).to_contain_text("0")
    completed = office.page.locator(
        '#unit-table tr[data-unit="市数据资源局"] [data-col="completed"]'
    )
    await expect(completed).to_have_text("1")

    await page.goto(f"{stack.base_url}/inbox")
    await expect(row(page, plan_id, "1")).to_have_count(0)  # closed: no longer owed
    assert lead.outside == office.outside == []


async def test_a_refusal_is_reassigned_and_the_new_lead_sees_it(
    browser: Browser, stack: ApiStack
) -> None:
    """The lead refuses (a reason is required, beside the field); the coordinator reassigns
    by an alias; the new lead finds it in its inbox; the old lead's link now answers 404."""
    plan_id = await import_plan(stack, await stack.token("coordinator"))
    old = await person(browser, stack, await stack.login_link("unit", unit="市信息办"))
    await row(old.page, plan_id, "3").locator("a").click()
    task_address = old.page.url
    await old.page.locator("#form-refuse button").click()
    await expect(old.page.locator("#error-refuse-reason")).to_have_text("必填")
    await old.page.fill("#refuse-reason", "不属于本单位职责，应由市发改委牵头")
    await old.page.locator("#form-refuse button").click()
    await expect(old.page.locator("#flash")).to_have_text("已退回交办，等待督查室重新交办。")
    await expect(old.page.locator("#task-next-step")).to_have_text("已退回，等待督查室重新交办")
    await expect(old.page.locator("#form-accept")).to_have_count(0)

    office = await person(browser, stack, await stack.login_link("coordinator"))
    await office.page.goto(f"{stack.base_url}/board?plan={plan_id}")
    refused = office.page.locator(f'#refused-list tr[data-task="{plan_id}/3"]')
    await expect(refused.locator('[data-col="reason"]')).to_contain_text("不属于本单位职责")
    await office.page.screenshot(path=str(screenshot_dir() / "board-refusal.png"), full_page=True)
    await refused.locator("a").click()
    await expect(office.page).to_have_url(task_address)
    await expect(office.page.locator("#task-next-step")).to_have_text("重新交办（牵头单位已退回）")
    refusal = office.page.locator("#task-timeline tr[data-kind=refused] .notes")
    await expect(refusal).to_contain_text("不属于本单位职责")
    await office.page.fill("#reassign-unit", "没有这个单位")
    await office.page.locator("#form-reassign button").click()
    await expect(office.page.locator("#error-reassign-unit")).to_be_visible()
    await office.page.fill("#reassign-unit", "市发改委")
    await office.page.locator("#form-reassign button").click()
    await expect(office.page.locator("#flash")).to_have_text("已重新交办。")
    await expect(office.page.locator("#task-lead")).to_have_text("市发展改革委")

    await office.page.goto(f"{stack.base_url}/board?plan={plan_id}")
    await expect(office.page.locator(f'#refused-list tr[data-task="{plan_id}/3"]')).to_have_count(0)

    new = await person(browser, stack, await stack.login_link("unit", unit="市发展改革委"))
    mine = row(new.page, plan_id, "3")
    await expect(mine.locator(".next-step")).to_have_text("签收或退回")
    await expect(mine.locator(".part")).to_have_text("牵头")

    answer = await old.page.goto(task_address)
    assert answer is not None
    assert answer.status == 404
    await expect(old.page.locator("#not-found")).to_be_visible()
    assert await event_kinds(stack, plan_id, "3") == ["assigned", "refused", "reassigned"]
    assert old.outside == office.outside == new.outside == []


async def test_a_post_without_the_csrf_token_is_refused_in_the_browser(
    browser: Browser, stack: ApiStack
) -> None:
    """The browser's own session cookie, but a form without its token: 403, nothing done."""
    plan_id = await import_plan(stack, await stack.token("coordinator"))
    unit = await person(browser, stack, await stack.login_link("unit", unit="市信息办"))
    await unit.page.goto(f"{stack.base_url}/tasks/{plan_id}/3")
    key = await unit.page.locator("#form-accept input[name=idempotency_key]").input_value()
    answer = await unit.page.request.post(
        f"{stack.base_url}/tasks/{plan_id}/3/accept",
        form={"idempotency_key": key},
        max_redirects=0,
    )
    assert answer.status == 403
    assert "没有执行任何操作" in await answer.text()
    assert await stage_of(stack, plan_id, "3") == "assigned"
    assert await event_kinds(stack, plan_id, "3") == ["assigned"]


async def test_a_signed_out_browser_is_sent_to_sign_in(browser: Browser, stack: ApiStack) -> None:
    """No session: every page sends the browser to sign in, and back to it afterwards."""
    context = await browser.new_context(locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{stack.base_url}/board?light=red")
    await expect(page).to_have_url(f"{stack.base_url}/login?next=/board%3Flight%3Dred")
    await page.fill("#token", await stack.token("coordinator"))
    await page.get_by_role("button", name="登录").click()
    await expect(page).to_have_url(f"{stack.base_url}/board?light=red")
    await page.get_by_role("button", name="退出").click()
    await expect(page).to_have_url(f"{stack.base_url}/login")
    await page.goto(f"{stack.base_url}/inbox")
    await expect(page).to_have_url(f"{stack.base_url}/login?next=/inbox")
    await context.close()
