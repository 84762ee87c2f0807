"""Plans sent as Word documents (.docx) whose task list is a table.

The tasks are in the document's tables with a recognisable task header (the same loose
column names as ledgers: 序号 / 任务 / 牵头单位 / 配合单位 / 时限 …, matched by
:func:`domain.parsers.ledger.match_header`), read row by row with the ledger's rules. A
task list often continues in a second table after a page break (续表): a later table
with its own task header is read too, and so is a table without a header that comes
directly after a task table and has its column count (a continuation). Their rows form
one task list in document order; when the tables number their rows separately, the
rows are numbered in document order (``renumbered`` warning). A table after the first
task table that is read neither way is named in a ``skipped_table`` warning, so no row
is dropped unseen. The plan title is the first non-empty paragraph; the paragraphs also
give the 文号 and the signature date when they carry them.

Provenance lines are table row numbers: line N is row N of its table, counting from its
first row (title rows inside the table and the header row included), so "lines 5–5" is the
fifth row of the task table. With several task tables, each line also names its table
("[table 3] …", tables counted from 1 in document order) and so do the messages. A cell
merged across columns appears once in the row's text; python-docx repeats a vertically
merged cell's text in each row it spans, so a unit cell merged over several rows applies
to each of them, as it reads in Word.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from io import BytesIO
from typing import Any

import docx

from domain.errors import DocumentError
from domain.parsers.common import SourceDocument
from domain.parsers.ledger import (
    GridRow,
    GridSource,
    GridTable,
    find_header,
    find_incomplete_header,
    incomplete_header_message,
    parse_grid,
    row_view,
)
from domain.parsers.tables import header_score
from domain.plan import ParsedPlan, ParseWarning
from domain.text import normalize_line
from domain.units import UnitDirectory

_HEADER_ROWS = 30


def is_docx(data: bytes) -> bool:
    if data[:4] != b"PK\x03\x04":
        return False
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def _open(document: SourceDocument) -> Any:
    try:
        return docx.Document(BytesIO(document.data))
    except Exception as error:  # a damaged package fails in many ways inside python-docx
        raise document.error(None, f"not a readable DOCX document ({error})") from None


def _table_rows(table: Any, limit: int | None = None) -> list[GridRow]:
    rows: list[GridRow] = []
    for number, row in enumerate(table.rows, start=1):
        if limit is not None and number > limit:
            break
        # a row may start or end short of the table's grid: pad it to the full width
        cells = [
            *([""] * row.grid_cols_before),
            *(cell.text.strip() for cell in row.cells),
            *([""] * row.grid_cols_after),
        ]
        rows.append(GridRow(number, number, tuple(cells)))
    return rows


def _width(rows: Sequence[GridRow]) -> int:
    return max((len(row.cells) for row in rows), default=0)


def _task_tables(document: SourceDocument, word: Any) -> tuple[list[GridTable], list[ParseWarning]]:
    """The task tables in document order, and warnings for tables after them left unread."""
    read: list[tuple[int, list[GridRow], bool]] = []  # (table number, rows, continues)
    skipped: list[tuple[int, list[GridRow]]] = []
    previous_read = False  # whether the table just before this one was read
    for number, table in enumerate(word.tables, start=1):
        rows = _table_rows(table)
        if find_header(rows[:_HEADER_ROWS]) is not None:
            read.append((number, rows, False))
            previous_read = True
        elif previous_read and _width(rows) == _width(read[-1][1]):
            read.append((number, rows, True))
        else:
            if read and any(not row.is_empty for row in rows):
                skipped.append((number, rows))
            previous_read = False
    several = len(read) > 1
    tables = [
        GridTable(
            document=row_view(document, rows, f"table {number}" if several else None),
            rows=rows,
            row_name=f"row {{}} of table {number}" if several else "table row {}",
            continues=continues,
        )
        for number, rows, continues in read
    ]
    warnings = [
        ParseWarning(
            line=None,
            code="skipped_table",
            message=f"table {number} ({len(rows)} rows, {_width(rows)} columns) after the task "
            f"table has no task header and does not continue it (the task table has "
            f"{_width(read[0][1])} columns): not read",
        )
        for number, rows in skipped
    ]
    return tables, warnings


class DocxTableParser:
    """Word documents whose task list is a table."""

    format = "docx-table"

    def score(self, document: SourceDocument) -> int:
        if not is_docx(document.data):
            return 0
        try:
            word = _open(document)
        except DocumentError:  # damaged: not ours to read
            return 0
        return header_score(_table_rows(table, _HEADER_ROWS) for table in word.tables)

    def parse(self, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan:
        word = _open(document)
        tables, warnings = _task_tables(document, word)
        if not tables:
            for number, table in enumerate(word.tables, start=1):
                rows = _table_rows(table, _HEADER_ROWS)
                incomplete = find_incomplete_header(rows)
                if incomplete is not None:
                    line = rows[incomplete[0]].first_line
                    where = f"row {line} of table {number}"
                    raise document.error(line, incomplete_header_message(incomplete[1], where))
            raise document.error(
                None,
                "no task table recognised: no table has a header row "
                "(序号 / 任务 / 牵头单位 / 配合单位 / 时限)",
            )
        paragraphs = [
            text for paragraph in word.paragraphs if (text := normalize_line(paragraph.text))
        ]
        source = GridSource(
            tables=tables,
            format=self.format,
            title=paragraphs[0] if paragraphs else None,
            preamble=paragraphs,
            warnings=warnings,
        )
        return parse_grid(source, directory)


PARSER = DocxTableParser()
