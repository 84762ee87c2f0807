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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from domain.errors import DocumentError
from domain.parsers.common import SourceDocument
from domain.parsers.ledger import (
    Column,
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


# A table with a complete task header is certain; one with only part of a header is claimed
# weakly, so that its parse can say what the header lacks rather than "no format".
CERTAIN_TABLE_SCORE = 90
INCOMPLETE_HEADER_SCORE = 10


def header_score(heads: Iterable[Sequence[GridRow]]) -> int:
    """How sure a table reader is, from the first rows of each table it found."""
    heads = list(heads)
    if any(find_header(rows) is not None for rows in heads):
        return CERTAIN_TABLE_SCORE
    if any(find_incomplete_header(rows) is not None for rows in heads):
        return INCOMPLETE_HEADER_SCORE
    return 0


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
    document: SourceDocument, tables: Sequence[FoundTable], *, rows_split_by_pages: bool = False
) -> tuple[list[GridTable], list[ParseWarning]]:
    """The task tables in document order, and warnings for tables after them left unread.

    ``rows_split_by_pages``: the tables are pages of one table (a PDF), where a row too
    tall for the rest of a page goes on at the top of the next without its 序号. Such a
    row is joined to the row it continues (see :func:`_join_split_rows`).
    """
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
    joined: list[ParseWarning] = []
    if rows_split_by_pages:
        read, joined = _join_split_rows(read)
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
    return grid_tables, [*joined, *warnings]


def _join_split_rows(
    read: Sequence[tuple[FoundTable, bool]],
) -> tuple[list[tuple[FoundTable, bool]], list[ParseWarning]]:
    """Each table whose first row (under its header, if it repeats one) has no 序号 but
    holds text, while the task table numbers its rows, with that row joined to the last
    row of the table before: it is the rest of that row, cut by the page break. Each cell
    goes on on a new line of the cell above, as a wrapped cell reads; a warning names both
    rows."""
    found = find_header(read[0][0].rows) if read else None
    seq_column = found[1].get(Column.SEQ) if found else None
    if seq_column is None:
        return list(read), []
    result: list[tuple[FoundTable, bool]] = []
    warnings: list[ParseWarning] = []
    for table, continues in read:
        if not result:
            result.append((table, continues))
            continue
        start = 0 if continues else _below_header(table.rows)
        first = next((i for i in range(start, len(table.rows)) if not table.rows[i].is_empty), None)
        previous, previous_continues = result[-1]
        last = next(
            (i for i in reversed(range(len(previous.rows))) if not previous.rows[i].is_empty), None
        )
        if first is None or last is None or last < _below_header(previous.rows):
            result.append((table, continues))
            continue
        row, above = table.rows[first], previous.rows[last]
        if row.cells[seq_column : seq_column + 1] not in (("",), ()) or len(row.cells) != len(
            above.cells
        ):
            result.append((table, continues))
            continue
        cells = tuple(
            "\n".join(part for part in (upper, lower) if part)
            for upper, lower in zip(above.cells, row.cells, strict=True)
        )
        previous_rows = [
            *previous.rows[:last],
            GridRow(above.first_line, above.last_line, cells),
            *previous.rows[last + 1 :],
        ]
        result[-1] = (
            FoundTable(previous.number, previous_rows, previous.where),
            previous_continues,
        )
        rows = [
            *table.rows[:first],
            GridRow(row.first_line, row.last_line, ("",) * len(row.cells)),
            *table.rows[first + 1 :],
        ]
        result.append((FoundTable(table.number, rows, table.where), continues))
        warnings.append(
            ParseWarning(
                line=above.first_line,
                code="joined_split_row",
                message=f"row {row.first_line} of table {table.number}{table.where} has no "
                f"序号 and goes on from row {above.first_line} of table {previous.number}"
                f"{previous.where} across the page break: read as one row",
            )
        )
    return result, warnings


def _below_header(rows: Sequence[GridRow]) -> int:
    found = find_header(rows)
    return found[0] + 1 if found else 0


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
