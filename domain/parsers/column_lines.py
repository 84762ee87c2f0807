"""A task table flattened to one cell per line, without 序号: read in groups of its header.

Copying a web page's table (or saving a Word table as text) often leaves one cell per line:
the header's cells first (重点任务 / 牵头单位 / 配合单位 / 完成时限, one a line), then each
row's cells in the same order. Where the table has a 序号 column the numbers split the
rows (the 滁州 family, :mod:`domain.parsers.flattened_table`); without one, the header's
width does: every N lines after an N-line header are one row.

That reading is claimed only when it is certain: the header is at least three lines that
each name a column, with a task column and a unit column; the lines after it (blank lines
and page chrome left out) are a whole number of rows; each row's unit cells are short, and
its 时限 cell, where the header has one, is a deadline. Anything else is not this layout
and is left to the other readers. The rows are then read with the ledger's rules
(:func:`domain.parsers.ledger.parse_grid`); provenance names each row's lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.deadlines import DeadlineContext, find_deadlines
from domain.parsers.common import SourceDocument
from domain.parsers.ledger import (
    Column,
    GridRow,
    GridSource,
    GridTable,
    HeaderColumns,
    header_column,
    match_header,
    parse_grid,
)
from domain.plan import ParsedPlan
from domain.units import UnitDirectory

FORMAT = "column-lines"
# Below the family parsers that are certain (60 and up), above the general reader (20-50):
# the shape is checked row by row before it is claimed.
_SCORE = 55
_MIN_COLUMNS = 3
_MAX_UNIT_CELL = 80
_ANY_YEAR = DeadlineContext(plan_year=2000)  # only to ask "is this a deadline phrase?"
_ONGOING = ("持续", "长期", "常态化", "每年", "每季度", "每月")


@dataclass(frozen=True)
class _Layout:
    header_line: int  # 1-based line of the header's first cell
    columns: HeaderColumns
    header: GridRow
    rows: list[GridRow]


def _header_at(lines: Sequence[str], start: int) -> HeaderColumns | None:
    """The columns of the longest run of header-cell lines from ``start``, if a task table."""
    cells: list[str] = []
    for line in lines[start:]:
        text = line.strip()
        if not text or header_column(text) is None:
            break
        cells.append(text)
    if len(cells) < _MIN_COLUMNS:
        return None
    columns = match_header(cells)
    if columns is None or columns.width != len(cells) or columns.get(Column.SEQ) is not None:
        return None
    return columns


def _is_deadline(cell: str) -> bool:
    if cell.startswith(_ONGOING):
        return True
    found = find_deadlines(cell, _ANY_YEAR, bare_dates=True)
    return bool(found.milestones or found.recurrence or found.ongoing)


def _row_fits(cells: Sequence[str], columns: HeaderColumns) -> bool:
    for column in (Column.LEAD, Column.UNITS, Column.COOPERATING):
        at = columns.get(column)
        if at is not None and len(cells[at]) > _MAX_UNIT_CELL:
            return False
    deadline = columns.get(Column.DEADLINE)
    return deadline is None or _is_deadline(cells[deadline])


def _layout(document: SourceDocument) -> _Layout | None:
    lines = document.lines
    for start, line in enumerate(lines):
        if not line.strip() or header_column(line.strip()) is None:
            continue
        columns = _header_at(lines, start)
        if columns is None:
            continue
        width = columns.width
        header = GridRow(start + 1, start + width, tuple(lines[start : start + width]))
        body = [
            (number, text.strip())
            for number, text in enumerate(lines[start + width :], start=start + width + 1)
            if text.strip()
        ]
        if not body or len(body) % width:
            return None
        rows = []
        for at in range(0, len(body), width):
            group = body[at : at + width]
            cells = tuple(text for _, text in group)
            if not _row_fits(cells, columns):
                return None
            rows.append(GridRow(group[0][0], group[-1][0], cells))
        return _Layout(start + 1, columns, header, rows)
    return None


class ColumnLinesParser:
    format = FORMAT
    # The most score() gives: detect_parser leaves it unscored (a read of every line) when
    # another parser is already more certain, as a CSV ledger is.
    max_score = _SCORE

    def score(self, document: SourceDocument) -> int:
        if not document.lines:
            return 0
        return _SCORE if _layout(document) is not None else 0

    def parse(self, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan:
        layout = _layout(document)
        if layout is None:
            raise document.error(
                None,
                "read as a table of one cell per line, but its lines after the header do not "
                "fall into rows of the header's width",
            )
        above = [line.strip() for line in document.lines[: layout.header_line - 1]]
        table = GridTable(document, [layout.header, *layout.rows], "line {}")
        source = GridSource(
            tables=[table],
            format=FORMAT,
            title=next((line for line in above if line), None),
            preamble=above,
        )
        return parse_grid(source, directory)


PARSER = ColumnLinesParser()
