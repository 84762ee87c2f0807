"""Tables found inside a container (an HTML page, a PDF) as the grid path reads them.

A container gives its tables as rows of cells, each cell with how many rows and columns it
spans (HTML ``rowspan`` / ``colspan``, a PDF cell drawn over several grid cells). They are
laid on a grid the way python-docx shows a Word table: a merged cell's text stands in each
grid position it covers, so a 牵头单位 cell merged over two rows applies to both, as it
reads on the page. The task tables among them are then chosen as in a Word document (see
:mod:`domain.parsers.docx_table`): every table with a task header, and a header-less table
of the same width right after one (a 续表 on the next page); another table after the task
table that holds something is named in a ``skipped_table`` warning.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.errors import DocumentError
from domain.parsers.common import SourceDocument
from domain.parsers.ledger import (
    GridRow,
    GridTable,
    find_header,
    find_incomplete_header,
    incomplete_header_message,
    row_view,
)
from domain.plan import ParseWarning

# Bounds on what one table may claim, so a hostile rowspan="100000" cannot fill memory.
MAX_SPAN = 1000
MAX_COLUMNS = 200


@dataclass(frozen=True)
class SpannedCell:
    text: str
    rowspan: int = 1
    colspan: int = 1


@dataclass(frozen=True)
class FoundTable:
    """One table of a container: its rows laid on the grid, and how messages name it."""

    number: int  # counted from 1 in document order
    rows: list[GridRow]
    where: str = ""  # " on page 2": where the table stands, for messages

    @property
    def width(self) -> int:
        return max((len(row.cells) for row in self.rows), default=0)


def lay_out(rows: Sequence[Sequence[SpannedCell]]) -> list[GridRow]:
    """Rows of spanning cells on a grid, a merged cell's text in each position it covers.

    Row N of the result is the table's row N (from 1), and every row is as wide as the
    widest, padded with empty cells.
    """
    grid: list[dict[int, str]] = [{} for _ in rows]
    for index, cells in enumerate(rows):
        column = 0
        for cell in cells:
            while column in grid[index]:  # taken by a cell spanning down from above
                column += 1
            if column >= MAX_COLUMNS:
                break
            rowspan = max(1, min(cell.rowspan, MAX_SPAN))
            colspan = max(1, min(cell.colspan, MAX_COLUMNS - column))
            for below in range(index, min(index + rowspan, len(rows))):
                for across in range(column, column + colspan):
                    grid[below].setdefault(across, cell.text)
            column += colspan
    width = max((max(positions) + 1 for positions in grid if positions), default=0)
    return [
        GridRow(number, number, tuple(positions.get(column, "") for column in range(width)))
        for number, positions in enumerate(grid, start=1)
    ]


def task_tables(
    document: SourceDocument, tables: Sequence[FoundTable]
) -> tuple[list[GridTable], list[ParseWarning]]:
    """The task tables in document order, and warnings for tables after them left unread."""
    read: list[tuple[FoundTable, bool]] = []  # (table, continues the one before)
    skipped: list[FoundTable] = []
    previous_read = False
    for table in tables:
        if find_header(table.rows) is not None:
            read.append((table, False))
            previous_read = True
        elif previous_read and table.width == read[-1][0].width:
            read.append((table, True))
        else:
            if read and any(not row.is_empty for row in table.rows):
                skipped.append(table)
            previous_read = False
    several = len(read) > 1
    grid_tables = [
        GridTable(
            document=row_view(document, table.rows, f"table {table.number}" if several else None),
            rows=table.rows,
            row_name=f"row {{}} of table {table.number}{table.where}",
            continues=continues,
        )
        for table, continues in read
    ]
    warnings = [
        ParseWarning(
            line=None,
            code="skipped_table",
            message=f"table {table.number}{table.where} ({len(table.rows)} rows, "
            f"{table.width} columns) after the task table has no task header and does not "
            f"continue it (the task table has {read[0][0].width} columns): not read",
        )
        for table in skipped
    ]
    return grid_tables, warnings


def no_task_table(document: SourceDocument, tables: Sequence[FoundTable]) -> DocumentError:
    """Why no table of the container is a task table: a header lacking a column, or none."""
    for table in tables:
        incomplete = find_incomplete_header(table.rows)
        if incomplete is not None:
            line = table.rows[incomplete[0]].first_line
            where = f"row {line} of table {table.number}{table.where}"
            return document.error(line, incomplete_header_message(incomplete[1], where))
    found = f"{len(tables)} tables, none" if tables else "no table at all"
    return document.error(
        None,
        f"no task table recognised: {found} with a header row "
        "(序号 / 任务 / 牵头单位 / 配合单位 / 时限)",
    )
