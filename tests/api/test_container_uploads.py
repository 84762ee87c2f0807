"""PDF and XLS plans through the API: previewed as the command line reads them, and an
unreadable one refused with its located error before anything is stored."""

from __future__ import annotations

import pytest

from tests.support.api import ApiStack
from tests.support.documents import HEADER, ROWS, encrypted_pdf, pdf_with_table, xls_workbook
from tests.support.integrity import assert_nothing_imported


@pytest.mark.parametrize(
    ("name", "data", "format_name"),
    [
        ("分工.pdf", pdf_with_table([HEADER, *ROWS]), "pdf-table"),
        ("台账.xls", xls_workbook({"台账": [list(HEADER), *map(list, ROWS)]}), "ledger"),
    ],
    ids=["pdf", "xls"],
)
async def test_a_pdf_or_xls_plan_previews_its_tasks(
    api_stack: ApiStack, name: str, data: bytes, format_name: str
) -> None:
    coordinator = await api_stack.token("coordinator")
    answer = await api_stack.upload(coordinator, name, data, path="/api/v1/plans/preview")
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["plan"]["format"] == format_name
    assert [task["text"] for task in preview["tasks"]] == [row[1] for row in ROWS]
    assert preview["tasks"][0]["lead_units"] == ["市发展改革委"]


@pytest.mark.fault
async def test_an_encrypted_pdf_upload_is_a_located_problem(api_stack: ApiStack) -> None:
    coordinator = await api_stack.token("coordinator")
    plan_id = api_stack.task_queue  # unique on the shared dev server
    answer = await api_stack.upload(
        coordinator,
        "分工.pdf",
        encrypted_pdf(opened_with="secret"),
        accept_warnings=True,
        plan_id=plan_id,
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "document_error"
    assert problem["detail"].startswith("分工.pdf: the PDF is encrypted")
    assert await api_stack.pool.fetchval("SELECT count(*) FROM plans") == 0
    await assert_nothing_imported(api_stack.pool, api_stack.temporal, plan_id)
