"""Saved web pages read as lines: block elements become lines, chrome is dropped, and each
line keeps the HTML source line it came from (hand-written pages, not corpus ones)."""

from __future__ import annotations

import pytest

from domain.errors import DocumentError
from domain.parsers import parse_document, read_document
from domain.units import load_directory

_PAGE = """<!DOCTYPE html>
<html><head><title>某区人民政府</title>
<style>p { margin: 0 }</style>
<script>var tracker = "1.统计代码（市统计局负责）";</script></head>
<body>
<header><p>首页 | 政务公开</p></header>
<nav><ul><li>1.导航栏目（网站办负责）</li></ul></nav>
<div class="article">
<h1>某区2021年民生实事项目</h1>
<p><span style="font-weight:bold">一、</span><span>教育</span></p>
<p>1.新建<b>幼儿园</b>3所。（区教育局负责）</p><p>2.改造校舍<br>（牵头单位：区住建局；配合单位：区教育局）</p>
</div>
<footer><p>2.版权所有（区网信办负责）</p></footer>
</body></html>
"""


def test_block_elements_become_lines_and_chrome_is_dropped() -> None:
    document = read_document("page.html", _PAGE.encode("utf-8"))
    assert list(document.lines) == [
        "某区2021年民生实事项目",
        "一、教育",
        "1.新建幼儿园3所。（区教育局负责）",
        "2.改造校舍",
        "（牵头单位：区住建局；配合单位：区教育局）",
    ]
    assert list(document.source_lines) == [9, 10, 11, 11, 11]
    assert document.raw_lines[2] == "1.新建幼儿园3所。（区教育局负责）"


def test_a_page_is_read_with_its_source_lines_as_provenance() -> None:
    parsed = parse_document("page.html", _PAGE.encode("utf-8"), load_directory())
    assert [task.lead_units for task in parsed.tasks] == [["区教育局"], ["区住建局"]]
    assert parsed.tasks[0].source.lines == (11, 11)
    assert parsed.tasks[1].cooperating_units == ["区教育局"]
    assert all("统计代码" not in task.text and "版权" not in task.text for task in parsed.tasks)


def test_a_copied_fragment_is_recognised_as_html_without_the_suffix() -> None:
    fragment = (
        "<tbody><tr><td><p>2020年工作要点</p>"
        "<p>1.建设智慧停车平台。（市城管局负责）</p></td></tr></tbody>"
    )
    document = read_document("paste.txt", fragment.encode("utf-8"))
    assert list(document.lines) == ["2020年工作要点", "1.建设智慧停车平台。（市城管局负责）"]


def test_a_gb18030_page_decodes() -> None:
    page = "<html><body><p>2019年计划</p><p>1.修路。（县交通局负责）</p></body></html>"
    parsed = parse_document("gbk.htm", page.encode("gb18030"), load_directory())
    assert parsed.tasks[0].lead_units == ["县交通局"]


@pytest.mark.fault
@pytest.mark.parametrize(
    "page",
    [
        b"<html><body><p>2019\xe5\xb9\xb4 1.\xe4\xbf\xae",  # cut off mid-character
        b"<html><body></body></html>",
        b"<html><!-- only a comment --></html>",
        b"<?xml version='1.0' encoding='utf-8'?><html><body><p>x</p></body></html>",
        b"<p>" * 5000,
    ],
)
def test_broken_pages_end_in_one_located_error_or_a_parse(page: bytes) -> None:
    try:
        parse_document("broken.html", page, load_directory())
    except DocumentError as error:
        message = str(error)
    else:
        message = "broken.html: parsed"
    assert message.startswith("broken.html")
    assert "\n" not in message


def test_warnings_name_the_html_source_line() -> None:
    page = (
        "<html><body>\n<p>2021年计划</p>\n\n\n<p>1.修路。（县交通局负责）</p>\n"
        "<p>2.原则上坚持统筹。</p>\n<p>3.建桥。（县住建局负责）</p>\n</body></html>"
    )
    parsed = parse_document("warned.html", page.encode("utf-8"), load_directory())
    skipped = [warning for warning in parsed.warnings if warning.code == "skipped_item"]
    assert [warning.line for warning in skipped] == [6]
