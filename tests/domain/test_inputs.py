"""Plans in the other containers offices send: PDF, .xls, UTF-16 text, .doc and .wps.

Each is recognised by its content (magic bytes, zero bytes), not its name, and either
reads like the same plan in a container Duban already read (the tasks of the XLSX, DOCX or
CSV with the same rows) or ends in one located DocumentError saying what to send instead.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Sequence
from datetime import date
from io import BytesIO
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.errors import DocumentError
from domain.parsers import parse_document, read_document
from domain.parsers.pdf import pdf_tables
from domain.plan import ParsedPlan
from domain.units import load_directory
from tests.support.documents import (
    FIXTURES,
    HEADER,
    ROWS,
    TITLE,
    Span,
    encrypted_pdf,
    pdf_with_lines,
    pdf_with_table,
    reportlab_pdf,
    scanned_pdf,
    xls_workbook,
)
from tests.support.golden import EXAMPLES


def _tasks(parsed: ParsedPlan) -> list[tuple[str, str, list[str], list[str], list[date]]]:
    return [
        (
            task.id,
            task.text,
            task.lead_units,
            task.cooperating_units,
            [milestone.due for milestone in task.milestones],
        )
        for task in parsed.tasks
    ]


def _xlsx(rows: Sequence[Sequence[object]], merged: tuple[str, ...] = ()) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    for cells in merged:
        sheet.merge_cells(cells)
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- PDF


def test_pdf_table_reads_like_the_same_table_in_a_csv() -> None:
    """A ruled table in a PDF gives the tasks of the CSV ledger with the same rows; the
    text around it gives the title, the 文号 and the signature date."""
    parsed = parse_document("分工.pdf", pdf_with_table([HEADER, *ROWS]))
    csv = "\n".join(",".join(row) for row in [(TITLE, "", "", "", ""), HEADER, *ROWS])
    from_csv = parse_document("分工.csv", csv.encode())
    assert parsed.plan.format == "pdf-table"
    assert _tasks(parsed) == _tasks(from_csv)
    assert parsed.tasks[2].recurrence is not None
    assert parsed.plan.title == TITLE
    assert parsed.plan.document_number == "某政办〔2019〕3号"
    assert parsed.plan.issue_date == date(2019, 3, 1)
    assert parsed.tasks[0].source.lines == (2, 2)  # row 1 of the table is the header
    assert parsed.tasks[0].source.raw == " | ".join(ROWS[0])


def test_pdf_text_layer_becomes_the_document_lines() -> None:
    """A PDF's text comes as lines, in Simplified canonical form, for the text readers."""
    document = read_document("通知.pdf", pdf_with_lines([TITLE, "一、推进政务服务一网通办"]))
    assert list(document.lines[:2]) == [TITLE, "一、推进政务服务一网通办"]


def test_pdf_merged_cells_and_a_heading_row_read_like_a_word_table() -> None:
    """A 牵头单位 cell drawn over two rows leads both; a row merged across the table holding
    "一、基础设施" is the category of the rows below, as in a Word table."""
    rows: list[list[str | Span]] = [
        list(HEADER),
        [Span("一、基础设施", colspan=5)],
        ["1", "建设全市统一的政务云平台", Span("市发改委", rowspan=2), "市财政局", "2019年6月底前"],
        ["2", "推进政务服务一网通办", "", "年底前"],
    ]
    parsed = parse_document("分工.pdf", pdf_with_table(rows))
    assert [task.lead_units for task in parsed.tasks] == [["市发展改革委"]] * 2
    assert [task.category for task in parsed.tasks] == [["一、基础设施"]] * 2
    assert [task.cooperating_units for task in parsed.tasks] == [["市财政局"], []]


def test_pdf_cell_wrapped_at_its_border_is_one_text_and_stacked_units_a_list() -> None:
    """A unit name the column width cut in two (市 / 大数据管理局) is one name; units the
    author put on lines of their own stay separate units."""
    wrapped = ("1", "建设政务云", "市发改委", "市财政局、市公安局、市大数据管理局", "年底前")
    stacked = ("2", "推进一网通办", "市行政审批局", "市财政局\n市公安局", "年底前")
    data = pdf_with_table([HEADER, wrapped, stacked])
    cell = pdf_tables("分工.pdf", data)[0].rows[1].cells[3]
    assert "\n" not in cell  # it did wrap on the page: the test is about joining it
    parsed = parse_document("分工.pdf", data)
    assert parsed.tasks[0].cooperating_units == ["市财政局", "市公安局", "市大数据管理局"]
    assert parsed.tasks[1].cooperating_units == ["市财政局", "市公安局"]


def test_pdf_table_over_several_pages_is_one_task_list() -> None:
    """A table running over pages, with or without the header repeated on each page, reads
    every row once, in order."""
    rows = [
        (str(seq), f"推进第{seq}项政务信息系统整合工作", "市大数据管理局", "", "2019年12月底前")
        for seq in range(1, 61)
    ]
    for repeat in (True, False):
        data = pdf_with_table([HEADER, *rows], repeat_header=repeat)
        assert len(pdf_tables("分工.pdf", data)) > 1  # one table a page
        parsed = parse_document("分工.pdf", data)
        assert [task.seq for task in parsed.tasks] == list(range(1, 61))
        assert parsed.warnings == []


def test_pdf_with_an_empty_user_password_is_read() -> None:
    """Encrypted only against editing (no password to open): read as any PDF."""
    parsed = parse_document("分工.pdf", encrypted_pdf(opened_with=""))
    assert [task.text for task in parsed.tasks] == [row[1] for row in ROWS]


@pytest.mark.fault
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (scanned_pdf(), "has no text layer (2 pages of images only: a scan); OCR it or"),
        (encrypted_pdf(opened_with="secret"), "the PDF is encrypted (it asks for a password)"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 8, "a damaged PDF that cannot be opened"),
        (b"%PDF-1.4\n%%EOF\n", "a damaged PDF that cannot be opened"),
    ],
    ids=["scanned", "encrypted", "damaged", "empty-pdf"],
)
def test_unreadable_pdfs_are_one_located_error(data: bytes, expected: str) -> None:
    with pytest.raises(DocumentError) as raised:
        parse_document("计划.pdf", data)
    message = str(raised.value)
    assert message.startswith("计划.pdf: ")
    assert expected in message
    assert "\n" not in message


@pytest.mark.fault
def test_mutilated_pdfs_parse_or_fail_with_a_document_error() -> None:
    """Bytes of a good PDF overwritten or cut at random places: each ends in a plan or a
    DocumentError, never another exception out of PDFium or pdfplumber."""
    good = pdf_with_table([HEADER, *ROWS])
    messages: list[str] = []
    chance = random.Random(11)  # noqa: S311 - reproducible damage, not a secret
    for _ in range(40):
        data = bytearray(good)
        if chance.random() < 0.3:
            data = data[: chance.randrange(16, len(data))]
        for _ in range(chance.randrange(1, 20)):
            data[chance.randrange(len(data))] = chance.randrange(256)
        try:
            parse_document("计划.pdf", bytes(data))
        except DocumentError as error:
            messages.append(str(error))
    assert all("\n" not in message for message in messages)


# ---------------------------------------------------------------- XLS


def test_xls_reads_like_the_same_xlsx() -> None:
    """An .xls with a merged title, an Excel date and a 牵头单位 merged down two rows gives
    the tasks, rows and provenance of the .xlsx with the same cells."""
    rows: list[list[str | date]] = [
        ["2019年重点任务台账", "", "", "", ""],
        list(HEADER),
        ["1", "建设全市统一的政务云平台", "市发改委", "市财政局", date(2019, 6, 30)],
        ["2", "推进政务服务一网通办", "", "", "年底前"],
    ]
    from_xls = parse_document(
        "台账.xls", xls_workbook({"一季度": rows}, [(0, 0, 0, 4), (2, 3, 2, 2)])
    )
    xlsx_rows = [[cell if cell != "" else None for cell in row] for row in rows]
    from_xlsx = parse_document("台账.xlsx", _xlsx(xlsx_rows, ("A1:E1", "C3:C4")))
    assert from_xls.plan.format == "ledger"
    assert _tasks(from_xls) == _tasks(from_xlsx)
    assert [task.source for task in from_xls.tasks] == [
        task.source.model_copy(update={"file": "台账.xls"}) for task in from_xlsx.tasks
    ]
    assert from_xls.plan.title == "2019年重点任务台账"
    assert from_xls.tasks[1].lead_units == ["市发展改革委"]


def test_xls_sheets_are_read_in_workbook_order() -> None:
    """Two sheets with a task header: one task list, lines naming their sheet."""
    first = [list(HEADER), list(ROWS[0])]
    second = [list(HEADER), ["2", *ROWS[1][1:]]]
    parsed = parse_document("台账.xls", xls_workbook({"一季度": first, "二季度": second}))
    assert [task.text for task in parsed.tasks] == [ROWS[0][1], ROWS[1][1]]
    assert parsed.tasks[1].source.raw.startswith("[sheet 二季度] 2 | 推进政务服务一网通办")


@pytest.mark.fault
def test_damaged_xls_is_one_located_error() -> None:
    """A workbook cut short names the file and says it is not a readable XLS workbook."""
    data = xls_workbook({"一季度": [list(HEADER), list(ROWS[0])]})
    with pytest.raises(DocumentError, match=r"^台账\.xls: not a readable XLS workbook"):
        parse_document("台账.xls", data[: len(data) // 2])


# ---------------------------------------------------------------- UTF-16


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16"])
def test_utf16_with_or_without_bom_reads_like_utf8(encoding: str) -> None:
    """Notepad's and Excel's "Unicode" saves: a reference plan reads as its UTF-8 self."""
    path = EXAMPLES / "dongying-2017-egov-key-work.txt"
    text = path.read_text(encoding="utf-8")
    from_utf8 = parse_document(path.name, text.encode("utf-8"))
    from_utf16 = parse_document(path.name, text.encode(encoding))
    assert _tasks(from_utf16) == _tasks(from_utf8)
    assert from_utf16.plan == from_utf8.plan


@pytest.mark.fault
def test_binary_with_zero_bytes_on_both_sides_is_still_binary() -> None:
    with pytest.raises(DocumentError, match="this is a binary file; expected text, CSV"):
        parse_document("plan.txt", bytes(range(256)) * 4)


# ---------------------------------------------------------------- .doc and .wps

_WORD97 = FIXTURES / "plan.doc"


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
@pytest.mark.parametrize("name", ["分工.doc", "分工.wps"])
def test_word97_is_converted_when_libreoffice_is_installed(name: str) -> None:
    """A Word 97-2003 file (and a WPS file in that format) reads like its .docx."""
    parsed = parse_document(name, _WORD97.read_bytes())
    assert parsed.plan.format == "docx-table"
    assert parsed.plan.title == TITLE
    assert [task.text for task in parsed.tasks] == [row[1] for row in ROWS]
    assert parsed.tasks[0].lead_units == ["市发展改革委"]
    assert parsed.tasks[0].cooperating_units == ["市财政局", "市公安局"]


@pytest.mark.fault
@pytest.mark.parametrize(
    ("name", "kind"),
    [("分工.doc", "a Word 97-2003 document (.doc)"), ("分工.wps", "a WPS document (.wps)")],
)
def test_word97_without_libreoffice_asks_for_docx(
    name: str, kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On a machine without soffice on its PATH the coordinator is asked for a .docx."""
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(DocumentError) as raised:
        parse_document(name, _WORD97.read_bytes())
    message = str(raised.value)
    assert message.startswith(f"{name}: {kind}, which Duban cannot read")
    assert "save it as .docx" in message


@pytest.mark.fault
def test_damaged_word97_is_one_located_error() -> None:
    """An OLE2 file named .doc without a Word stream is not sent to LibreOffice."""
    data = _WORD97.read_bytes()[:512]
    with pytest.raises(DocumentError, match=r"^分工\.doc: a damaged Word 97-2003 / WPS file"):
        parse_document("分工.doc", data)


def test_detection_reads_content_not_the_name() -> None:
    """A PDF named .txt is a PDF, an .xls named .csv a workbook."""
    assert parse_document("分工.txt", pdf_with_table([HEADER, *ROWS])).plan.format == "pdf-table"
    workbook = xls_workbook({"一季度": [list(HEADER), list(ROWS[0])]})
    assert parse_document("台账.csv", workbook).tasks[0].text == ROWS[0][1]


def test_units_directory_still_applies_to_pdf_tables() -> None:
    """Aliases resolve in PDF cells as in any table (市发改委 = 市发展改革委)."""
    parsed = parse_document("分工.pdf", pdf_with_table([HEADER, *ROWS]), load_directory())
    assert parsed.tasks[0].lead_units == ["市发展改革委"]


def test_pdf_table_in_the_standard_non_embedded_chinese_font_reads() -> None:
    """Servers often write PDFs in STSong-Light, a font the reader must supply (not embedded,
    UniGB-UCS2-H): its table reads, words with spaces between them keep their spaces."""
    rows = [HEADER, *ROWS, ("4", "上线 Duban v2 督办系统", "市大数据管理局", "", "2019年9月底前")]
    parsed = parse_document("分工.pdf", reportlab_pdf(rows))
    assert [task.text for task in parsed.tasks] == [row[1] for row in rows[1:]]
    assert parsed.tasks[0].cooperating_units == ["市财政局", "市公安局"]


@pytest.mark.fault
def test_password_protected_office_file_is_one_located_error() -> None:
    """Word and Excel wrap a password-protected .docx/.xlsx in an OLE2 file holding an
    EncryptedPackage stream: it is named as encrypted, not as an unknown old file."""
    data = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504) + "EncryptedPackage".encode("utf-16-le")
    with pytest.raises(DocumentError, match=r"^台账\.xlsx: the document is encrypted"):
        parse_document("台账.xlsx", data)


def test_a_text_naming_pdf_is_still_text() -> None:
    """A ledger whose first line mentions %PDF- is text, not a damaged PDF."""
    text = "说明：附件格式 %PDF-1.7\n" + ",".join(HEADER) + "\n" + ",".join(ROWS[0]) + "\n"
    assert parse_document("台账.csv", text.encode()).tasks[0].text == ROWS[0][1]


def test_pdf_row_cut_by_a_page_break_is_joined_with_a_warning() -> None:
    """Word lets a tall row break across pages: the next page's table starts with the rest
    of it, without a 序号. It is read as one row (text and units joined), and a warning
    names both parts; the rows after it read as usual."""
    first_page = [HEADER, ROWS[0], ("2", "推进政务服务", "市行政审批局", "市财政局", "")]
    second_page = [("", "一网通办", "", "市公安局", "年底前"), ROWS[2]]
    parsed = parse_document("分工.pdf", pdf_with_table(first_page, next_page=second_page))
    assert [task.text for task in parsed.tasks] == [ROWS[0][1], "推进政务服务一网通办", ROWS[2][1]]
    second = parsed.tasks[1]
    assert second.cooperating_units == ["市财政局", "市公安局"]
    assert second.milestones[0].due == date(2019, 12, 31)
    assert [warning.code for warning in parsed.warnings] == ["joined_split_row"]
    message = parsed.warnings[0].message
    assert "row 1 of table 2 on page 2" in message
    assert "row 3 of table 1 on page 1" in message


_MAGIC = [
    b"%PDF-1.7\n",
    bytes.fromhex("d0cf11e0a1b11ae1"),
    bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504) + "Workbook".encode("utf-16-le"),
    b"\xff\xfe",
    b"\xfe\xff",
    b"<!DOCTYPE html><table><tr><td>",
    b"",
]


@pytest.mark.fault
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    magic=st.sampled_from(_MAGIC),
    body=st.binary(max_size=3000),
    name=st.sampled_from(["计划.pdf", "台账.xls", "分工.doc", "plan.txt", "page.html"]),
)
def test_any_bytes_behind_a_container_signature_parse_or_fail_located(
    magic: bytes, body: bytes, name: str
) -> None:
    """Whatever follows a PDF, OLE2, BOM or HTML opening, reading ends in a plan or one
    DocumentError naming the file: no other exception escapes PDFium, calamine or lxml."""
    try:
        parse_document(name, magic + body)
    except DocumentError as error:
        assert str(error).startswith(f"{name}")  # noqa: PT017 - the error is the result
        assert "\n" not in str(error)  # noqa: PT017


def test_pdf_paragraph_wrapped_by_the_page_is_one_line() -> None:
    """A paragraph the layout wrapped over several lines reads as one line, as in a text
    file or a web page; an indented paragraph, a numbered item and a short line (the
    signature date) each start their own."""
    sentence = "加快建设全市统一的政务服务平台，实现政务服务事项网上可办、一次办好，"
    first = f"　　一、推进政务服务一网通办。{sentence * 4}（市政务服务管理局牵头；2019年12月底前）"
    second = f"　　二、推进数据共享。{sentence * 3}"
    item = f"1.建设数据共享交换平台，{sentence * 3}"
    document = read_document(
        "通知.pdf", pdf_with_lines([TITLE, first, second, item, "2019年3月1日"])
    )
    lines = [line for line in document.lines if line]
    assert lines == [
        TITLE,
        first.strip("　"),
        second.strip("　"),
        item,
        "2019年3月1日",
    ]
