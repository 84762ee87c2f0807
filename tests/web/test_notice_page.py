"""月度通报 in a real browser: the coordinator picks a month and a plan, reads the notice
in the page and downloads it as DOCX and XLSX; a unit's notice holds only its own tasks; a
month that is not one is said beside the field."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import docx
import openpyxl
import pytest
from playwright.async_api import Browser, Page, expect

from services.notices import previous_month
from tests.support.api import ApiStack
from tests.support.browser import offline_page
from tests.support.lifecycle import wait_until
from tests.support.plans import future_ledger, unique_name
from tests.support.web import screenshot_dir, sign_in

TASKS = 3  # future_ledger's rows: 市数据资源局, 市政务服务中心 and 市信息办 lead one each


@pytest.fixture
async def plan_id(stack: ApiStack) -> str:
    """A plan of three tasks imported through the API, its workflows running."""
    coordinator = await stack.token("coordinator")
    answer = await stack.upload(coordinator, unique_name("notice-page.csv"), future_ledger())
    assert answer.status_code == 200, answer.text
    imported: str = answer.json()["plan_id"]

    async def projected() -> bool:
        count = await stack.pool.fetchval(
            "SELECT count(*) FROM task_states WHERE plan_id = $1", imported
        )
        return bool(count == TASKS)

    await wait_until(projected, timeout=60, what="the plan's tasks in the projection")
    return imported


def this_month() -> str:
    """The month the plan was imported in (Asia/Shanghai): its notice holds the tasks."""
    return f"{datetime.now(ZoneInfo('Asia/Shanghai')):%Y-%m}"


def month_words(month: str) -> str:
    return f"{int(month[:4])}年{int(month[5:])}月"


async def _signed_in_page(
    browser: Browser, stack: ApiStack, outside: list[str], csp: list[str], role: str, **who: str
) -> Page:
    page = await offline_page(browser, outside)
    page.set_default_timeout(60_000)
    # A style or image the notice's own policy blocked would be said on the console.
    page.on(
        "console",
        lambda message: csp.append(message.text) if "Content Security" in message.text else None,
    )
    await sign_in(page, await stack.login_link(role, **who))  # type: ignore[arg-type]
    return page


async def _download(page: Page, link: str, folder: Path) -> tuple[str, bytes]:
    async with page.expect_download() as info:
        await page.get_by_role("link", name=link).click()
    download = await info.value
    saved = folder / download.suggested_filename
    await download.save_as(saved)
    return download.suggested_filename, saved.read_bytes()


def _task_rows(workbook: bytes) -> list[tuple[object, ...]]:
    sheet = openpyxl.load_workbook(io.BytesIO(workbook))["台账"]
    return [row for row in sheet.iter_rows(min_row=2, values_only=True) if any(row)]


async def test_the_coordinator_reads_a_month_and_downloads_it(
    stack: ApiStack, browser: Browser, plan_id: str, tmp_path: Path
) -> None:
    outside: list[str] = []
    csp: list[str] = []
    page = await _signed_in_page(browser, stack, outside, csp, "coordinator")
    await page.goto(f"{stack.base_url}/notices")
    assert await page.locator("#month").input_value() == previous_month(datetime.now(UTC))

    month = this_month()
    await page.locator("#month").fill(month)
    await page.locator("#plan").select_option(plan_id)
    await page.get_by_role("button", name="查看通报").click()
    await page.wait_for_load_state()
    frame = page.frame_locator("iframe.notice-frame")
    await expect(frame.get_by_text("一、总体情况")).to_be_visible()
    await expect(frame.get_by_text(f"纳入督办的重点任务共{TASKS}项")).to_be_visible()
    await expect(frame.get_by_text("推进第1项政务信息化工作")).to_be_visible()
    await page.screenshot(path=screenshot_dir() / "notice-page.png", full_page=True)

    name, content = await _download(page, "下载 DOCX", tmp_path)
    assert name == f"{month_words(month)}督办工作通报（{plan_id}）.docx"
    document = docx.Document(io.BytesIO(content))
    paragraphs = [paragraph.text for paragraph in document.paragraphs]
    assert "一、总体情况" in paragraphs
    assert any(f"纳入督办的重点任务共{TASKS}项" in text for text in paragraphs)

    name, content = await _download(page, "下载 XLSX", tmp_path)
    assert name == f"{month_words(month)}督办工作通报（{plan_id}）.xlsx"
    assert len(_task_rows(content)) == TASKS
    assert outside == []
    assert csp == []


async def test_a_units_notice_lists_only_its_own_tasks(
    stack: ApiStack, browser: Browser, plan_id: str, tmp_path: Path
) -> None:
    outside: list[str] = []
    csp: list[str] = []
    page = await _signed_in_page(browser, stack, outside, csp, "unit", unit="市信息办")
    month = this_month()
    await page.goto(f"{stack.base_url}/notices?month={month}")
    await expect(page.locator("#notice-heading")).to_contain_text("仅含市信息办牵头或配合的任务")
    frame = page.frame_locator("iframe.notice-frame")
    await expect(frame.get_by_text("推进第3项政务信息化工作")).to_be_visible()
    await expect(frame.get_by_text("纳入督办的重点任务共1项")).to_be_visible()
    assert await frame.get_by_text("推进第1项政务信息化工作").count() == 0

    name, content = await _download(page, "下载 XLSX", tmp_path)
    assert name == f"{month_words(month)}督办工作通报（市信息办）.xlsx"
    rows = _task_rows(content)
    assert len(rows) == 1
    assert "推进第3项政务信息化工作" in " ".join(str(cell) for cell in rows[0])
    assert outside == []
    assert csp == []


async def test_a_month_that_is_not_one_is_said_beside_the_field(
    stack: ApiStack, browser: Browser, plan_id: str
) -> None:
    outside: list[str] = []
    page = await _signed_in_page(browser, stack, outside, [], "coordinator")
    answer = await page.goto(f"{stack.base_url}/notices?month=2026-13&plan={plan_id}")
    assert answer is not None
    assert answer.status == 422
    error = page.locator("#month-error")
    assert "2026-13" in await error.inner_text()
    assert await page.locator("iframe").count() == 0
    download = await page.goto(f"{stack.base_url}/notices/2026-13.docx?plan={plan_id}")
    assert download is not None
    assert download.status == 422
    assert "Traceback" not in await page.content()
    assert outside == []
