"""Plans sent as Word documents (.docx) whose task list is a table.

The tasks are in the document's first table with a recognisable task header (the same
loose column names as ledgers: 序号 / 任务 / 牵头单位 / 配合单位 / 时限 …, matched by
:func:`domain.parsers.ledger.match_header`), read row by row with the ledger's rules. The
plan title is the first non-empty paragraph; the paragraphs also give the 文号 and the
signature date when they carry them.

Provenance lines are table row numbers: line N is row N of that table, counting from its
first row (title rows inside the table and the header row included), so "lines 5–5" is the
fifth row of the task table. A cell merged across columns appears once in the row's text;
python-docx repeats a vertically merged cell's text in each row it spans, so a unit cell
merged over several rows applies to each of them, as it reads in Word.
"""

from __future__ import annotations

import zipfile
from io import BytesIO
from typing import Any

import docx

from domain.errors import DocumentError
from domain.parsers.common import SourceDocument
from domain.parsers.ledger import GridRow, GridSource, find_header, parse_grid, row_view
from domain.plan import ParsedPlan
from domain.text import normalize_line
from domain.units import UnitDirectory

_HEADER_ROWS = 30


def _is_docx(data: bytes) -> bool:
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


def _task_table(word: Any) -> list[GridRow] | None:
    """All rows of the first table with a task header among its first rows."""
    for table in word.tables:
        if find_header(_table_rows(table, _HEADER_ROWS)) is not None:
            return _table_rows(table)
    return None


class DocxTableParser:
    """Word documents whose task list is a table."""

    format = "docx-table"

    def score(self, document: SourceDocument) -> int:
        if not _is_docx(document.data):
            return 0
        try:
            word = _open(document)
        except DocumentError:  # damaged: not ours to read
            return 0
        for table in word.tables:
            if find_header(_table_rows(table, _HEADER_ROWS)) is not None:
                return 90
        return 0

    def parse(self, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan:
        word = _open(document)
        rows = _task_table(word)
        if rows is None:
            raise document.error(
                None,
                "no task table recognised: no table has a header row "
                "(序号 / 任务 / 牵头单位 / 配合单位 / 时限)",
            )
        paragraphs = [
            text for paragraph in word.paragraphs if (text := normalize_line(paragraph.text))
        ]
        source = GridSource(
            document=row_view(document, rows),
            rows=rows,
            format=self.format,
            row_name="table row {}",
            title=paragraphs[0] if paragraphs else None,
            preamble=paragraphs,
        )
        return parse_grid(source, directory)


PARSER = DocxTableParser()
