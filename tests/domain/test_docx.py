"""Plans sent as Word documents whose task list is a table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from io import BytesIO

import docx
import pytest

from domain.errors import DocumentError
from domain.parsers import ledger, parse_document, read_document
from domain.parsers.docx_table import PARSER
from domain.plan import ParsedPlan, TaskFlag
from domain.units import load_directory
from tests.support.golden import EXAMPLES

HEADER = ("序号", "工作任务", "牵头单位", "配合单位", "完成时限")
ROWS = (
    ("1", "建设全市统一的政务云平台", "市发改委", "市财政局、市公安局", "2019年6月底前"),
    ("2", "推进政务服务一网通办", "市行政审批局", "", "年底前"),
    ("3", "形成年度共享报告", "市大数据管理局", "各县区政府", "每年2月底前"),
)


def _docx(
    rows: Sequence[Sequence[str]],
    *,
    paragraphs: Sequence[str] = ("", "2019年数字政府建设重点任务分工", "某政办〔2019〕3号"),
    other_table_first: bool = True,
    title_row: str | None = None,
) -> bytes:
    word = docx.Document()
    for text in paragraphs:
        word.add_paragraph(text)
    if other_table_first:  # a contacts table before the task table is not the task table
        contacts = word.add_table(rows=2, cols=2)
        for cell, text in zip(contacts.rows[0].cells, ("联系人", "电话"), strict=True):
            cell.text = text
    width = len(HEADER)
    table = word.add_table(rows=0, cols=width)
    if title_row is not None:
        cells = table.add_row().cells
        merged = cells[0].merge(cells[-1])
        merged.text = title_row
    for row in [HEADER, *rows]:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text
    buffer = BytesIO()
    word.save(buffer)
    return buffer.getvalue()


def _parse(data: bytes) -> ParsedPlan:
    return PARSER.parse(read_document("分工.docx", data), load_directory())


def test_first_task_table_becomes_the_tasks() -> None:
    """The table with a task header (not the contacts table before it) gives one task a row."""
    parsed = _parse(_docx(ROWS))
    assert [task.id for task in parsed.tasks] == ["1", "2", "3"]
    first, second, third = parsed.tasks
    assert first.text == "建设全市统一的政务云平台"
    assert first.lead_units == ["市发展改革委"]
    assert first.cooperating_units == ["市财政局", "市公安局"]
    assert first.milestones[0].due == date(2019, 6, 30)
    assert second.milestones[0].due == date(2019, 12, 31)
    assert third.recurrence is not None
    assert third.recurrence.month == 2
    assert not any(TaskFlag.INFERRED_LEAD in task.flags for task in parsed.tasks)


def test_title_number_and_provenance_by_table_row() -> None:
    """The first non-empty paragraph is the title; lines are the task table's row numbers."""
    parsed = _parse(_docx(ROWS))
    assert parsed.plan.title == "2019年数字政府建设重点任务分工"
    assert parsed.plan.document_number == "某政办〔2019〕3号"
    assert (parsed.plan.period_start, parsed.plan.period_end) == (2019, 2019)
    assert parsed.plan.format == "docx-table"
    assert parsed.tasks[0].source.lines == (2, 2)  # row 1 is the header
    assert parsed.tasks[0].source.raw == (
        "1 | 建设全市统一的政务云平台 | 市发改委 | 市财政局、市公安局 | 2019年6月底前"
    )


def test_title_row_inside_the_table_counts_as_a_row() -> None:
    """A merged title row above the header shifts provenance: lines stay table row numbers."""
    parsed = _parse(_docx(ROWS, paragraphs=(), title_row="2019年重点任务台账"))
    assert parsed.plan.title == "2019年重点任务台账"
    assert parsed.tasks[0].source.lines == (3, 3)


def test_entry_point_detects_docx_tables() -> None:
    """parse_document picks the DOCX parser for a Word file with a task table."""
    parsed = parse_document("分工.docx", _docx(ROWS))
    assert parsed.plan.format == "docx-table"
    assert len(parsed.tasks) == 3


def test_bad_row_is_a_located_error() -> None:
    """A row with units but no task text is an error naming its table row."""
    rows = [*ROWS, ("4", "", "市财政局", "", "2019年底前")]
    with pytest.raises(DocumentError, match="table row 5 has no task text") as raised:
        _parse(_docx(rows))
    assert raised.value.line == 5


def test_word_document_without_a_task_table_is_not_claimed() -> None:
    """A .docx whose only table is not a task table scores 0; parse says what is missing."""
    word = docx.Document()
    word.add_paragraph("会议通知")
    word.add_table(rows=2, cols=2).rows[0].cells[0].text = "联系人"
    buffer = BytesIO()
    word.save(buffer)
    document = read_document("notice.docx", buffer.getvalue())
    assert PARSER.score(document) == 0
    with pytest.raises(DocumentError, match="no task table recognised"):
        PARSER.parse(document, load_directory())


@pytest.mark.parametrize("name", sorted(path.name for path in EXAMPLES.glob("*.txt")))
def test_does_not_claim_text_plans(name: str) -> None:
    """Text plans are not Word documents: score 0."""
    assert PARSER.score(read_document(name, (EXAMPLES / name).read_bytes())) == 0


def test_ledger_parser_leaves_word_documents_alone() -> None:
    """A Word file with a task table is the DOCX parser's, never the ledger's."""
    assert ledger.PARSER.score(read_document("分工.docx", _docx(ROWS))) == 0


def _docx_tables(*tables: Sequence[Sequence[str]], between: str = "续表") -> bytes:
    """A Word document: a title paragraph, then the given tables, a paragraph between each."""
    word = docx.Document()
    word.add_paragraph("2019年数字政府建设重点任务分工")
    for index, rows in enumerate(tables):
        if index:
            word.add_paragraph(between)
        table = word.add_table(rows=0, cols=max(len(row) for row in rows))
        for row in rows:
            for cell, text in zip(table.add_row().cells, row, strict=False):
                cell.text = text
    buffer = BytesIO()
    word.save(buffer)
    return buffer.getvalue()


MORE_ROWS = (
    ("4", "建设数据共享平台", "市大数据管理局", "", "2019年9月底前"),
    ("5", "编制政务信息资源目录", "市财政局", "", "年底前"),
)


def test_a_continued_table_with_its_header_repeated_is_read() -> None:
    """A 续表 repeating the header adds its rows; lines name the table they are in."""
    parsed = _parse(_docx_tables([HEADER, *ROWS], [HEADER, *MORE_ROWS]))
    assert [task.id for task in parsed.tasks] == ["1", "2", "3", "4", "5"]
    fourth = parsed.tasks[3]
    assert fourth.lead_units == ["市大数据管理局"]
    assert fourth.source.lines == (2, 2)
    assert fourth.source.raw.startswith("[table 2] 4 | 建设数据共享平台")
    assert parsed.warnings == []


def test_a_header_less_continuation_of_the_same_width_is_read() -> None:
    """A table right after the task table, without header but with its columns, continues it."""
    parsed = _parse(_docx_tables([HEADER, *ROWS], MORE_ROWS))
    assert [task.text for task in parsed.tasks[3:]] == ["建设数据共享平台", "编制政务信息资源目录"]
    assert parsed.tasks[4].milestones[0].due == date(2019, 12, 31)


def test_tables_numbering_rows_separately_are_numbered_in_document_order() -> None:
    """A 续表 restarting at 序号 1 makes ids follow document order, with a warning."""
    restarted = [("1", *MORE_ROWS[0][1:]), ("2", *MORE_ROWS[1][1:])]
    parsed = _parse(_docx_tables([HEADER, *ROWS], [HEADER, *restarted]))
    assert [task.id for task in parsed.tasks] == ["1", "2", "3", "4", "5"]
    assert parsed.tasks[3].text == "建设数据共享平台"
    assert [warning.code for warning in parsed.warnings] == ["renumbered"]


def test_a_table_after_the_task_table_that_is_not_read_is_warned() -> None:
    """A later header-less table of another width is not read, and says so."""
    contacts = [("联系人", "电话"), ("张三", "123")]
    parsed = _parse(_docx_tables([HEADER, *ROWS], contacts))
    assert len(parsed.tasks) == 3
    assert [warning.code for warning in parsed.warnings] == ["skipped_table"]
    assert parsed.warnings[0].message.startswith("table 2 (2 rows, 2 columns)")


def test_a_task_table_without_a_unit_column_says_so() -> None:
    """A table headed 序号 / 工作任务 / 完成时限 is refused naming what its header lacks."""
    data = _docx_tables([("序号", "工作任务", "完成时限"), ("1", "建设平台", "年底前")])
    with pytest.raises(DocumentError, match=r"row 1 of table 1 .* has no unit column") as raised:
        parse_document("分工.docx", data)
    assert raised.value.line == 1


def test_a_heading_row_merged_across_the_table_sets_the_category() -> None:
    """A "一、基础设施" row merged over every column is a heading, as in an unmerged row: Word
    repeats a merged cell in each column it covers, which made it read as a task."""
    word = docx.Document()
    word.add_paragraph("2019年数字政府建设重点任务分工")
    table = word.add_table(rows=0, cols=len(HEADER))
    for cell, text in zip(table.add_row().cells, HEADER, strict=True):
        cell.text = text
    heading = table.add_row().cells
    heading[0].merge(heading[-1]).text = "一、基础设施"
    for row in ROWS[:2]:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text
    buffer = BytesIO()
    word.save(buffer)
    parsed = _parse(buffer.getvalue())
    assert [task.text for task in parsed.tasks] == [ROWS[0][1], ROWS[1][1]]
    assert [task.category for task in parsed.tasks] == [["一、基础设施"]] * 2


def test_a_two_level_header_reads_its_lower_row() -> None:
    """责任单位 merged over 牵头单位 / 配合单位, 序号 / 工作任务 / 完成时限 merged down over both
    header rows: the lower row names the columns; the first task is row 3."""
    word = docx.Document()
    word.add_paragraph("2019年数字政府建设重点任务分工")
    table = word.add_table(rows=3, cols=5)
    upper, lower, data = table.rows
    for column, name in ((0, "序号"), (1, "工作任务"), (4, "完成时限")):
        upper.cells[column].merge(lower.cells[column]).text = name
    upper.cells[2].merge(upper.cells[3]).text = "责任单位"
    lower.cells[2].text, lower.cells[3].text = "牵头单位", "配合单位"
    for cell, text in zip(data.cells, ROWS[0], strict=True):
        cell.text = text
    buffer = BytesIO()
    word.save(buffer)
    parsed = _parse(buffer.getvalue())
    assert [task.text for task in parsed.tasks] == [ROWS[0][1]]
    assert parsed.tasks[0].lead_units == ["市发展改革委"]
    assert parsed.tasks[0].cooperating_units == ["市财政局", "市公安局"]
    assert parsed.tasks[0].source.lines == (3, 3)
