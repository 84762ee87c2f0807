"""Saved web pages (.html) whose task list is a ``<table>``: its rows read as a ledger's.

A government page often publishes its 任务分工 as an HTML table, sometimes inside layout
tables of the page itself. The innermost tables (those holding no other table) are the
candidates, in document order; the ones with a task header are read with the ledger's
rules (:func:`domain.parsers.ledger.parse_grid`), a ``rowspan`` / ``colspan`` cell standing
in each row and column it covers as in a Word table (:mod:`domain.parsers.tables`).

Cell text is the text a browser shows: runs of spaces and source line breaks are one
space, ``<br>`` and block elements (``<p>``, ``<div>``, ``<li>``) break lines, and scripts
and styles are not text. A unit cell listing units on lines of their own reads as a list.

Provenance lines are table row numbers: line N is row N of its table (``<tr>`` elements,
counted from 1, header and title rows included); with several task tables each line also
names its table ("[table 3] …", every ``<table>`` of the page counted in document order).
The plan title is the page's first ``<h1>``–``<h3>`` heading, else a title row of the
table, else the file name; the text outside tables gives the 文号 and signature date.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.etree
import lxml.html

from domain.parsers.common import SourceDocument
from domain.parsers.html import looks_like_html
from domain.parsers.ledger import (
    HEADER_SEARCH_ROWS,
    GridSource,
    parse_grid,
)
from domain.parsers.tables import (
    FoundTable,
    SpannedCell,
    header_score,
    lay_out,
    no_task_table,
    task_tables,
)
from domain.plan import ParsedPlan
from domain.text import decode_document, normalize_line
from domain.units import UnitDirectory

_TABLE_TAG = re.compile(r"<(?:table|tr)\b", re.I)
_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"}
)
_NOT_TEXT = frozenset({"script", "style", "noscript", "template", "head", "title"})
_SPACES = re.compile(r"[ \t\r\n\f\u00a0]+")
_SPAN = re.compile(r"\d{1,6}")


def _html_text(document: SourceDocument) -> str | None:
    """The page's text when the document is an HTML page holding a table, else None."""
    if document.source_lines:
        # A page the general reader's HTML step turned into text lines: its markup is
        # the file's own bytes.
        text = decode_document(document.data, document.file)
    elif document.raw_lines:
        text = "\n".join(document.raw_lines)
    else:
        return None
    if not looks_like_html(document.file, text):
        return None
    return text if _TABLE_TAG.search(text) else None


def _page(text: str) -> Any:
    # Bytes with a declared encoding: a text with its own <?xml encoding?> line is refused
    # by lxml as a str.
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
    try:
        return lxml.html.document_fromstring(text.encode("utf-8", "surrogatepass"), parser)
    except (lxml.etree.ParserError, ValueError):
        return None


def _shown_text(element: Any) -> str:
    """The element's text as a browser lays it out: line breaks only where the page makes
    them, other whitespace one space."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        if tag in _NOT_TEXT:
            return
        if tag == "br" or tag in _BLOCK_TAGS:
            parts.append("\n")
        if node.text and tag not in _NOT_TEXT:
            parts.append(_SPACES.sub(" ", node.text))
        for child in node:
            walk(child)
            if child.tail:
                parts.append(_SPACES.sub(" ", child.tail))
        if tag in _BLOCK_TAGS:
            parts.append("\n")

    walk(element)
    lines = (line.strip() for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _span(cell: Any, name: str) -> int:
    match = _SPAN.search(cell.get(name) or "")
    return int(match.group()) if match else 1


def _own(element: Any, table: Any) -> bool:
    """Whether ``element`` belongs to ``table`` itself, not to a table nested inside it."""
    ancestors = element.xpath("ancestor::table[1]")
    return bool(ancestors) and ancestors[0] is table


def _tables(page: Any, limit: int | None = None) -> list[FoundTable]:
    """The page's innermost tables, laid on grids, numbered among all its tables.

    A fragment copied out of a page may keep its rows but lose the ``<table>`` around
    them (it starts at ``<tbody>`` or ``<tr>``): rows outside any table, under one parent,
    are a table too. ``limit`` reads only the first rows of each (enough for a score).
    """
    orphan_rows = page.xpath("//tr[not(ancestor::table)]")
    orphan_parents = {id(row.getparent()): row.getparent() for row in orphan_rows}
    found: list[FoundTable] = []
    number = 0
    for element in page.iter():
        if element.tag == "table":
            number += 1
            if element.find(".//table") is not None:  # a layout table around other tables
                continue
            rows = [row for row in element.iter("tr") if _own(row, element)]
        elif id(element) in orphan_parents:
            number += 1
            rows = [row for row in element if row.tag == "tr"]
        else:
            continue
        cells = [
            [
                SpannedCell(_shown_text(cell), _span(cell, "rowspan"), _span(cell, "colspan"))
                for cell in row
                if isinstance(cell.tag, str) and cell.tag in ("td", "th")
            ]
            for row in rows[:limit]
        ]
        if cells:
            found.append(FoundTable(number, lay_out(cells)))
    return found


def _outside_tables(page: Any) -> list[str]:
    """The page's text lines outside its tables (normalised), for the title, 文号 and date."""
    body = page.find("body")
    if body is None:
        return []
    copy = lxml.html.fromstring(lxml.html.tostring(body))
    for table in copy.xpath(".//table"):
        table.drop_tree()
    return [line for raw in _shown_text(copy).split("\n") if (line := normalize_line(raw))]


def _heading(page: Any) -> str | None:
    for heading in page.iter("h1", "h2", "h3"):
        text = normalize_line(" ".join(_shown_text(heading).split()))
        if text:
            return text
    return None


class HtmlTableParser:
    """Saved web pages whose task list is an HTML table."""

    format = "html-table"

    def score(self, document: SourceDocument) -> int:
        text = _html_text(document)
        page = _page(text) if text is not None else None
        if page is None:
            return 0
        return header_score(table.rows for table in _tables(page, HEADER_SEARCH_ROWS))

    def parse(self, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan:
        text = _html_text(document)
        page = _page(text) if text is not None else None
        if page is None:
            raise document.error(None, "not an HTML page with a table")
        found = _tables(page)
        tables, warnings = task_tables(document, found)
        if not tables:
            raise no_task_table(document, found)
        source = GridSource(
            tables=tables,
            format=self.format,
            title=_heading(page),
            preamble=_outside_tables(page),
            warnings=warnings,
        )
        return parse_grid(source, directory)


PARSER = HtmlTableParser()
