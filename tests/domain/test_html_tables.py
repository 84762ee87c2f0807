"""Saved web pages whose task list is an HTML <table>: its rows read as a ledger's."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import DocumentError
from domain.parsers import parse_document, read_document
from domain.parsers.html_table import PARSER
from tests.support.golden import EXAMPLES

_HEAD = "<tr><th>序号</th><th>工作任务</th><th>牵头单位</th><th>配合单位</th><th>完成时限</th></tr>"
_NAVIGATION = (
    "<div class='nav'><table><tr><td><table><tr><td>首页</td><td>政务公开</td></tr>"
    "</table></td></tr></table></div>"
)


def _page(*tables: str, before: str = "", after: str = "") -> bytes:
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>重点任务_政府网</title>"
        "<script>var html = '<table><tr><td>序号</td><td>任务</td><td>牵头单位</td></tr>';"
        "</script></head>\n<body>"
        f"{_NAVIGATION}{before}{''.join(tables)}{after}</body></html>\n"
    ).encode()


_TASKS = (
    "<table border='1'>" + _HEAD + "<tr><td colspan='5'>一、基础设施</td></tr>"
    "<tr><td>1</td><td>建设全市统一的\n    政务云平台</td><td rowspan='2'>市发改委</td>"
    "<td>市财政局<br>市公安局</td><td>2019年6月底前</td></tr>"
    "<tr><td>2</td><td>推进政务服务<span>一网通办</span></td><td></td><td>年底前</td></tr>"
    "</table>"
)


def test_a_task_table_in_a_saved_page_becomes_the_tasks() -> None:
    """The page's task table (not its navigation tables, not a table inside its script)
    gives one task a row: a rowspan 牵头单位 leads both rows, a colspan heading row is the
    category, units on lines of their own (<br>) are a list, a source line break is a space."""
    parsed = parse_document(
        "分工.html",
        _page(
            _TASKS,
            before="<h1>2019年数字政府建设重点任务分工</h1><p>某政办〔2019〕3号</p>",
            after="<p>2019年3月1日</p>",
        ),
    )
    assert parsed.plan.format == "html-table"
    assert parsed.plan.title == "2019年数字政府建设重点任务分工"
    assert parsed.plan.document_number == "某政办〔2019〕3号"
    assert parsed.plan.issue_date == date(2019, 3, 1)
    first, second = parsed.tasks
    assert first.text == "建设全市统一的政务云平台"
    assert second.text == "推进政务服务一网通办"
    assert first.lead_units == second.lead_units == ["市发展改革委"]
    assert first.cooperating_units == ["市财政局", "市公安局"]
    assert first.category == second.category == ["一、基础设施"]
    assert first.milestones[0].due == date(2019, 6, 30)
    assert second.milestones[0].due == date(2019, 12, 31)
    assert first.source.lines == (3, 3)  # row 1 is the header, row 2 the heading
    assert parsed.warnings == []


def test_a_table_continued_after_a_page_break_is_read_and_named() -> None:
    """A second table repeating the header adds its rows; lines name each table, counted
    among all the page's tables (the navigation's two come first)."""
    more = (
        "<table>" + _HEAD + "<tr><td>3</td><td>建设数据共享平台</td><td>市大数据管理局</td>"
        "<td></td><td>2019年9月底前</td></tr></table>"
    )
    parsed = parse_document("分工.html", _page(_TASKS, "<p>续表</p>", more))
    assert [task.seq for task in parsed.tasks] == [1, 2, 3]
    assert parsed.tasks[2].source.raw.startswith("[table 4] 3 | 建设数据共享平台")


def test_a_later_table_that_is_no_task_table_is_warned() -> None:
    contacts = (
        "<table><tr><td>联系人</td><td>电话</td></tr><tr><td>张三</td><td>1234</td></tr></table>"
    )
    parsed = parse_document("分工.html", _page(_TASKS, contacts))
    assert [warning.code for warning in parsed.warnings] == ["skipped_table"]
    assert "table 4 (2 rows, 2 columns)" in parsed.warnings[0].message


def test_a_header_without_a_unit_column_is_a_located_error() -> None:
    table = (
        "<table><tr><td>序号</td><td>工作任务</td><td>完成时限</td></tr>"
        "<tr><td>1</td><td>建设政务云</td><td>年底前</td></tr></table>"
    )
    with pytest.raises(DocumentError, match=r"row 1 of table 3.*has no unit column") as raised:
        parse_document("分工.html", _page(table))
    assert raised.value.line == 1


def test_a_page_without_a_task_table_is_not_claimed() -> None:
    """Paragraphs and layout tables only: the HTML table reader scores 0 (the text
    readers may still read the page's lines)."""
    document = read_document("通知.html", _page(before="<p>一、推进政务服务（市政府办负责）</p>"))
    assert PARSER.score(document) == 0


@pytest.mark.parametrize("name", sorted(path.name for path in EXAMPLES.glob("*.txt")))
def test_does_not_claim_text_plans(name: str) -> None:
    """Text plans are not web pages, even the one with a pipe table: score 0."""
    assert PARSER.score(read_document(name, (EXAMPLES / name).read_bytes())) == 0


def test_a_gb2312_page_with_an_xml_declaration_reads() -> None:
    """Older pages declare their encoding, some in an XML line lxml refuses in a str."""
    page = (
        _page(_TASKS).decode().replace("<!DOCTYPE html>", "<?xml version='1.0' encoding='gb2312'?>")
    )
    parsed = parse_document(
        "分工.htm", page.replace("charset='utf-8'", "charset='gb2312'").encode("gb18030")
    )
    assert [task.text for task in parsed.tasks] == [
        "建设全市统一的政务云平台",
        "推进政务服务一网通办",
    ]


@pytest.mark.fault
def test_hostile_spans_stay_bounded() -> None:
    """rowspan="99999999" and colspan="99999999" cannot make a table of millions of cells."""
    table = (
        "<table>" + _HEAD + "<tr><td rowspan='99999999'>1</td><td colspan='99999999'>建设政务云"
        "</td></tr></table>"
    )
    with pytest.raises(DocumentError, match=r"has .* cells, but the header"):
        parse_document("分工.html", _page(table))


def test_a_fragment_whose_rows_lost_their_table_tag_is_read() -> None:
    """Rows copied out of a page without the <table> around them are still a table."""
    rows = _TASKS.removeprefix("<table border='1'>").removesuffix("</table>")
    parsed = parse_document("分工.html", f"<tbody>{rows}</tbody>".encode())
    assert [task.text for task in parsed.tasks] == [
        "建设全市统一的政务云平台",
        "推进政务服务一网通办",
    ]


def test_a_two_level_header_reads_its_lower_row() -> None:
    """责任单位 over 牵头单位 / 配合单位, the other header cells spanning both rows: the lower
    row names the columns, and no task is made of it."""
    table = (
        "<table><tr><th rowspan='2'>序号</th><th rowspan='2'>工作任务</th>"
        "<th colspan='2'>责任单位</th><th rowspan='2'>完成时限</th></tr>"
        "<tr><th>牵头单位</th><th>配合单位</th></tr>"
        "<tr><td>1</td><td>建设政务云</td><td>市发改委</td><td>市财政局</td><td>年底前</td></tr>"
        "</table>"
    )
    parsed = parse_document("分工.html", _page(table, before="<h1>2019年重点任务</h1>"))
    assert [task.text for task in parsed.tasks] == ["建设政务云"]
    assert parsed.tasks[0].lead_units == ["市发展改革委"]
    assert parsed.tasks[0].cooperating_units == ["市财政局"]
    assert parsed.tasks[0].source.lines == (3, 3)
