"""导入计划 in a real browser: a coordinator uploads an example plan, sees its preview with
the flags and warnings highlighted, downloads the editable 台账, commits it (twice: it is
imported once), and its tasks run; a document Duban cannot read is said in one line beside
the field; a unit never reaches the page."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
from playwright.async_api import Browser, FilePayload, Page, expect

from domain.parsers import parse_document
from domain.parsers.editable_ledger import TASK_SHEET
from tests.support.api import ApiStack
from tests.support.browser import offline_page
from tests.support.plans import EXAMPLE_PLANS, unique_name
from tests.support.web import screenshot_dir, sign_in

EXAMPLE = EXAMPLE_PLANS / "dongying-2017-egov-key-work.txt"


async def _signed_in_page(
    browser: Browser, stack: ApiStack, outside: list[str], role: str = "coordinator", **who: str
) -> Page:
    page = await offline_page(browser, outside)
    page.set_default_timeout(60_000)
    await sign_in(page, await stack.login_link(role, **who))  # type: ignore[arg-type]
    return page


async def _upload(page: Page, stack: ApiStack, name: str, data: bytes) -> None:
    await page.goto(f"{stack.base_url}/plans/import")
    await page.set_input_files(
        "#file", files=FilePayload(name=name, mimeType="text/plain", buffer=data)
    )
    await page.get_by_role("button", name="解析预览").click()
    await page.wait_for_load_state()


async def test_the_import_page_previews_downloads_and_commits_an_example_plan(
    stack: ApiStack, browser: Browser, tmp_path: Path
) -> None:
    outside: list[str] = []
    name = unique_name(EXAMPLE.name)
    plan_id = name.removesuffix(".txt")
    expected = parse_document(name, EXAMPLE.read_bytes())
    assert expected.warnings, "the example is chosen for its warnings"
    page = await _signed_in_page(browser, stack, outside)
    await _upload(page, stack, name, EXAMPLE.read_bytes())

    assert "/plans/import/" in page.url
    assert await page.locator("#plan-title").inner_text() == expected.plan.title
    assert await page.locator("#plan-id").inner_text() == plan_id
    rows = page.locator("table.import-tasks tbody tr")
    assert await rows.count() == len(expected.tasks)
    flagged = {task.id for task in expected.tasks if task.flags} | {
        w.task_id for w in expected.warnings if w.task_id
    }
    assert await page.locator("table.import-tasks tr.flag").count() == len(flagged)
    # Every warning is summarised at the top, naming its line; one on a task is on its row.
    summary = page.locator("#warnings li")
    assert await summary.count() == len(expected.warnings)
    for item, warning in zip(await summary.all(), expected.warnings, strict=True):
        assert f"第 {warning.line} 行" in await item.inner_text()
    on_task = next(w for w in expected.warnings if w.task_id)
    row_note = page.locator(f"#task-{on_task.task_id} .flag-note")
    assert await row_note.is_visible()
    assert f"第 {on_task.line} 行" in await row_note.inner_text()
    await page.screenshot(path=screenshot_dir() / "import-preview.png", full_page=True)
    assert await stack.pool.fetchval("SELECT count(*) FROM plans") == 0  # a preview only

    async with page.expect_download() as download_info:
        await page.get_by_role("link", name="下载可编辑台账 (XLSX)").click()
    download = await download_info.value
    assert download.suggested_filename == f"{plan_id}-可编辑台账.xlsx"
    saved = tmp_path / "ledger.xlsx"
    await download.save_as(saved)
    sheet = openpyxl.load_workbook(io.BytesIO(saved.read_bytes()))[TASK_SHEET]
    data_rows = [row for row in sheet.iter_rows(min_row=2, values_only=True) if any(row)]
    assert len(data_rows) == len(expected.tasks)

    # Warnings not accepted: the import service's refusal, and nothing written.
    async with page.expect_response("**/commit") as refused_info:
        await page.get_by_role("button", name="确认导入").click()
    assert (await refused_info.value).status == 409
    assert (await page.locator("#import-refusal").inner_text()).startswith("未导入：")
    assert await stack.pool.fetchval("SELECT count(*) FROM plan_tasks") == 0

    preview_url = page.url.removesuffix("/commit")
    await page.get_by_label("我已核对").check()
    async with page.expect_response("**/commit") as commit_info:
        await page.get_by_role("button", name="确认导入").click()
    commit = await commit_info.value
    assert commit.status == 303
    assert commit.headers["location"] == f"/board?plan={plan_id}"
    # The board it lands on already counts every task just imported (the commit waited
    # for the projection), and says what was done.
    await expect(page.locator("#flash")).to_contain_text(f"已导入 {len(expected.tasks)} 项任务")
    totals = page.locator('#board-totals [data-count="tasks"]')
    assert await totals.inner_text() == str(len(expected.tasks))  # as rendered, no retry
    assert await stack.pool.fetchval(
        "SELECT count(*) FROM task_states WHERE plan_id = $1", plan_id
    ) == len(expected.tasks)
    assert await stack.pool.fetchval(
        "SELECT count(*) FROM plan_tasks WHERE plan_id = $1", plan_id
    ) == len(expected.tasks)

    # The same staged upload committed again (a second click, a reload): imported once.
    started = await stack.pool.fetchval("SELECT max(workflow_started_at) FROM plan_tasks")
    await page.goto(preview_url)
    await page.get_by_label("我已核对").check()
    async with page.expect_response("**/commit") as again_info:
        await page.get_by_role("button", name="确认导入").click()
    assert (await again_info.value).status == 303
    await expect(page.locator("#flash")).to_contain_text("没有重复导入")
    assert await stack.pool.fetchval("SELECT count(*) FROM plans") == 1
    assert await stack.pool.fetchval("SELECT max(workflow_started_at) FROM plan_tasks") == started
    assert (
        await stack.pool.fetchval(
            "SELECT count(*) FROM audit_log WHERE route LIKE '%/commit' AND status = 303"
        )
        == 2
    )

    # Another coordinator's browser cannot use this upload.
    other = await _signed_in_page(browser, stack, outside)
    answer = await other.goto(preview_url)
    assert answer is not None
    assert answer.status == 404
    # A day later the upload is gone for its own coordinator too.
    await stack.pool.execute("UPDATE web_uploads SET created_at = now() - interval '25 hours'")
    stale = await page.goto(preview_url)
    assert stale is not None
    assert stale.status == 404
    assert outside == []


async def test_a_document_duban_cannot_read_is_said_beside_the_field_and_nothing_is_kept(
    stack: ApiStack, browser: Browser
) -> None:
    outside: list[str] = []
    page = await _signed_in_page(browser, stack, outside)
    async with page.expect_response("**/plans/import/preview") as answer_info:
        await _upload(page, stack, "broken.pdf", b"%PDF-1.4\n this is not a PDF body")
    assert (await answer_info.value).status == 422
    error = page.locator("#file-error")
    text = await error.inner_text()
    assert text.startswith("broken.pdf: a damaged PDF")
    assert "\n" not in text
    assert "Traceback" not in await page.content()
    assert await page.locator("#file").get_attribute("aria-invalid") == "true"
    assert await stack.pool.fetchval("SELECT count(*) FROM web_uploads") == 0
    assert await stack.pool.fetchval("SELECT count(*) FROM plans") == 0
    assert outside == []


async def test_a_unit_cannot_reach_the_import_page(stack: ApiStack, browser: Browser) -> None:
    outside: list[str] = []
    page = await _signed_in_page(browser, stack, outside, "unit", unit="市信息办")
    assert await page.get_by_role("link", name="导入计划").count() == 0
    answer = await page.goto(f"{stack.base_url}/plans/import")
    assert answer is not None
    assert answer.status == 403
    assert "只有督查室" in await page.content()
    assert outside == []
