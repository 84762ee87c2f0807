"""Tables found inside a container (an HTML page, a PDF) as the grid path reads them.

A container gives its tables as rows of cells, each cell with how many rows and columns it
spans (HTML ``rowspan`` / ``colspan``, a PDF cell drawn over several grid cells). They are
laid on a grid the way python-docx shows a Word table: a merged cell's text stands in each
grid position it covers, so a 牵头单位 cell merged over two rows applies to both, as it
reads on the page. The task tables among them are then chosen as in a Word document (see
:mod:`domain.parsers.docx_table`): every table with a task header, and a header-less table
of the same width right after one (a 续表 on the next page); another table after the task
table that holds something is named in a ``skipped_table`` warning.

A text document may hold a table too, pasted with "|" after every cell (a pipe table, as
in the 南通 plan and in Markdown): :func:`find_pipe_table` finds its header and
:func:`pipe_rows` its rows, read here the way a coordinator reads them:

- Cells are the pieces between "|"; a line holding only "|" is an empty cell. A line
  without "|" inside the table is the first part of a cell wrapped over lines. A line
  written as a whole row ("|  | 远海养殖网箱50个 |  | 市自然资源局 |") whose 序号 cell is
  empty, under a row line of the same width, is that row's cells wrapped: each piece
  goes on its column's cell above.
- Rows are split on their sequence numbers: row N starts at the cell "N".
- Some rows lost a unit cell, so the deadline sits one column early and an empty cell
  ("|" alone on a line) pads the row. Such a row is repaired and its
  :func:`repair_message` names the cell that is missing: the deadline is read from the
  cell it sat in, and the one unit cell left is read as the 牵头单位, so the 协同单位 is
  what is missing (or both, when that cell is empty too). If that unit cell holds two
  unit lists separated only by a space ("市大数据管理局 市财政局"), what was lost is the
  "|" between the 牵头单位 and 协同单位 cells: the first list leads and the second
  cooperates. A row whose cells cannot be aligned that way is a DocumentError at that row.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from domain.deadlines import DeadlineContext, find_deadlines
from domain.errors import DocumentError
from domain.parsers.common import SourceDocument
from domain.parsers.ledger import (
    Column,
    GridRow,
    GridTable,
    HeaderColumns,
    find_header,
    find_incomplete_header,
    header_column,
    incomplete_header_message,
    match_header,
    row_view,
)
from domain.plan import ParseWarning
from domain.text import normalize_line

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


# ---------------------------------------------------------------- a table pasted as text

_MAX_HEADER_CELLS = 12
_SEPARATOR_LINE = re.compile(r"^[\s|:：\-—]*-[\s|:：\-—]*$")  # Markdown's |---|---|
_ANY_YEAR = DeadlineContext(plan_year=2000)  # only to ask "is this a deadline phrase?"


def has_pipes(document: SourceDocument) -> bool:
    """Whether any line holds a "|" (half or full width): the one way to a pipe table."""
    return any("|" in line or "｜" in line for line in document.lines)


@dataclass(frozen=True)
class PipeCell:
    text: str  # normalised
    raw: str  # as written
    first_line: int
    line: int  # the line of its closing "|"


def _cells_of_line(normalised: str, raw: str) -> tuple[list[tuple[str, str]], bool] | None:
    """The (normalised, raw) pieces of one line, and whether its last piece is an open cell
    (the line does not end with "|", so the cell goes on on the next line); None if the
    line holds no "|"."""
    normalised = normalised.replace("｜", "|")
    raw = raw.replace("｜", "|")
    if "|" not in normalised:
        return None
    pieces = normalised.split("|")
    raw_pieces = raw.split("|")
    if len(raw_pieces) != len(pieces):
        raw_pieces = pieces
    closed = normalised.rstrip().endswith("|")
    if closed:
        pieces, raw_pieces = pieces[:-1], raw_pieces[:-1]
    if normalised.lstrip().startswith("|") and len(pieces) > 1:  # Markdown: | a | b |
        pieces, raw_pieces = pieces[1:], raw_pieces[1:]
    cells = [
        (piece.strip(), raw_piece.strip())
        for piece, raw_piece in zip(pieces, raw_pieces, strict=True)
    ]
    return cells, not closed


def _cells(document: SourceDocument, first: int, last: int) -> list[PipeCell]:
    """Every cell of lines ``first``..``last``, cells wrapped over lines joined."""
    cells: list[PipeCell] = []
    pending: list[tuple[str, str]] = []  # the start of a cell wrapped over lines
    pending_first = 0
    row_width = 0  # cells of the last line written as a whole row ("| 1 | … |")
    for number in range(first, last + 1):
        normalised = document.lines[number - 1]
        if not normalised or _SEPARATOR_LINE.match(normalised):
            continue
        raw_line = document.raw_lines[number - 1]
        found = _cells_of_line(normalised, raw_line)
        pieces, open_end = found if found is not None else ([(normalised, raw_line.strip())], True)
        whole_row = found is not None and not open_end and normalised.lstrip().startswith("|")
        if whole_row and not pending and _continues_row(pieces, row_width, len(cells)):
            _append_to_row(cells, pieces, number)
            continue
        row_width = len(pieces) if whole_row else 0
        for index, (text, raw) in enumerate(pieces):
            start = number
            if index == 0 and pending:
                text = "".join(part for part, _ in pending) + text
                raw = "\n".join([*(part for _, part in pending), raw])
                start, pending = pending_first, []
            if open_end and index == len(pieces) - 1:
                pending_first = start
                pending = [(text, raw)]
            else:
                cells.append(PipeCell(text, raw, start, number))
    if pending:
        text = "".join(part for part, _ in pending)
        cells.append(PipeCell(text, "\n".join(part for _, part in pending), pending_first, last))
    return cells


def _continues_row(pieces: list[tuple[str, str]], row_width: int, written: int) -> bool:
    """A whole-row line with an empty 序号 cell under another of the same width: the row
    above's cells wrapped onto a second line ("|      | 远海养殖网箱50个 |  | 市自然资源局 |")."""
    return (
        row_width > 1
        and len(pieces) == row_width
        and written >= row_width
        and not pieces[0][0]
        and any(text for text, _ in pieces[1:])
    )


def _append_to_row(cells: list[PipeCell], pieces: list[tuple[str, str]], number: int) -> None:
    """Each piece of a continuation line joined to the cell of its column in the row above."""
    start = len(cells) - len(pieces)
    for offset, (text, raw) in enumerate(pieces):
        if not text:
            continue
        above = cells[start + offset]
        cells[start + offset] = PipeCell(
            above.text + text, f"{above.raw}\n{raw}", above.first_line, number
        )


def _last_pipe_line(document: SourceDocument) -> int:
    for number in range(len(document.lines), 0, -1):
        if "|" in document.lines[number - 1] or "｜" in document.lines[number - 1]:
            return number
    return 0


@dataclass(frozen=True)
class PipeTable:
    header_line: int
    columns: HeaderColumns
    body: list[PipeCell]  # every cell after the header


def find_pipe_table(document: SourceDocument) -> PipeTable | None:
    """The first pipe table whose header (up to the cell "1") names task and unit columns."""
    last = _last_pipe_line(document)
    for number in range(1, last + 1):
        found = _cells_of_line(document.lines[number - 1], document.raw_lines[number - 1])
        if not found or not found[0] or header_column(found[0][0][0]) is not Column.SEQ:
            continue
        cells = _cells(document, number, last)
        header = [cell.text for cell in cells[: _MAX_HEADER_CELLS + 1]]
        if "1" not in header:
            continue
        columns = match_header(header[: header.index("1")])
        if columns is not None and columns.get(Column.SEQ) == 0:
            return PipeTable(number, columns, cells[header.index("1") :])
    return None


def _is_deadline(cell: str) -> bool:
    found = find_deadlines(cell, _ANY_YEAR, bare_dates=True)
    return bool(found.milestones or found.recurrence) and "、" not in cell


class PipeRepair(Enum):
    """What a repaired row had lost."""

    COOPERATING_CELL = "cooperating"  # its 协同 cell: the deadline sat in that column
    UNIT_SEPARATOR = "separator"  # the "|" between its 牵头 and 协同 cells


@dataclass
class PipeRow:
    seq: int
    cells: list[PipeCell]
    repair: PipeRepair | None = None
    padding: PipeCell | None = None  # the lone "|" of a repaired row, when no column holds it

    @property
    def repaired(self) -> bool:
        return self.repair is not None

    @property
    def lines(self) -> tuple[int, int]:
        """The row's first and last line, the padding "|" of a repaired row included."""
        cells = [*self.cells, *([self.padding] if self.padding is not None else [])]
        return (
            min(cell.first_line for cell in cells),
            max(cell.line for cell in cells),
        )


def pipe_rows(document: SourceDocument, table: PipeTable) -> list[PipeRow]:
    """The table's rows, split on sequence numbers and aligned to the header's columns."""
    columns = table.columns
    rows: list[PipeRow] = []
    for cell in table.body:
        if cell.text == str(len(rows) + 1):
            rows.append(PipeRow(len(rows) + 1, [cell]))
        elif len(rows[-1].cells) < columns.width:
            rows[-1].cells.append(cell)
        else:
            raise document.error(
                cell.first_line,
                f"row {rows[-1].seq} of the table already has its {columns.width} cells "
                f"({columns.describe()}); expected row {len(rows) + 1} to start here, "
                f"found {cell.text!r}",
            )
    for row in rows:
        _align(document, columns, row)
    return rows


def _align(document: SourceDocument, columns: HeaderColumns, row: PipeRow) -> None:
    """Repair a row that lost its cooperating cell (its deadline one column early)."""
    cooperating = columns.get(Column.COOPERATING)
    deadline = columns.get(Column.DEADLINE)
    width = columns.width
    shifted = (
        cooperating is not None
        and deadline == cooperating + 1
        and len(row.cells) > cooperating
        and _is_deadline(row.cells[cooperating].text)
    )
    if cooperating is not None and deadline is not None and shifted:
        moved = row.cells[cooperating]
        if len(row.cells) == width and not row.cells[deadline].text:  # padded by a lone "|"
            row.cells[cooperating], row.cells[deadline] = row.cells[deadline], moved
            row.repair = PipeRepair.COOPERATING_CELL
        elif len(row.cells) == width - 1:
            row.cells.insert(cooperating, PipeCell("", "", moved.first_line, moved.first_line))
            row.repair = PipeRepair.COOPERATING_CELL
        lead = _lead_index(columns)
        if row.repaired and lead is not None and lead + 1 == cooperating:
            _split_joined_units(row, lead, cooperating)
    if len(row.cells) != width:
        raise document.error(
            row.cells[0].first_line,
            f"row {row.seq} of the table has {len(row.cells)} cells; expected {width} "
            f"({columns.describe()})",
        )


def _lead_index(columns: HeaderColumns) -> int | None:
    """The lead column: 牵头单位, or 责任单位 beside a 协同 column."""
    lead = columns.get(Column.LEAD)
    return lead if lead is not None else columns.get(Column.UNITS)


def _split_joined_units(row: PipeRow, lead: int, cooperating: int) -> None:
    """A repaired row whose lead cell is two unit lists apart ("市大数据管理局 市财政局")
    lost the "|" between its 牵头 and 协同 cells, not its 协同 cell: split them again."""
    joined = row.cells[lead]
    pieces = joined.raw.split()
    if len(pieces) != len(("牵头", "协同")):  # a pair only: the 牵头 list, then the 协同 list
        return
    first, second = pieces
    row.padding = row.cells[cooperating]
    row.cells[lead] = PipeCell(normalize_line(first), first, joined.first_line, joined.line)
    row.cells[cooperating] = PipeCell(
        normalize_line(second), second, joined.first_line, joined.line
    )
    row.repair = PipeRepair.UNIT_SEPARATOR


def repair_message(columns: HeaderColumns, row: PipeRow, deadline: str) -> str:
    """Which cell the repaired row lost, and how it was read."""

    lead_index, cooperating_index = _lead_index(columns), columns.get(Column.COOPERATING)
    if lead_index is None or cooperating_index is None:  # only rows of such tables are repaired
        return f"row {row.seq} was realigned"
    lead, cooperating = columns.names[lead_index], columns.names[cooperating_index]
    lead_cell = row.cells[lead_index].text
    if row.repair is PipeRepair.UNIT_SEPARATOR:
        cooperating_cell = row.cells[cooperating_index].text
        return (
            f"row {row.seq} lost the “|” between its {lead} and {cooperating} cells (they "
            f"were written as one, separated by a space) and its deadline {deadline} sat in "
            f"the {cooperating} column: read as {lead} {lead_cell}, {cooperating} "
            f"{cooperating_cell}; check both"
        )
    if not lead_cell:
        return (
            f"row {row.seq} lost its {lead} and {cooperating} cells: its deadline {deadline} "
            f"sat in the {cooperating} column; no unit is named, assign the {lead}"
        )
    return (
        f"row {row.seq} lost its {cooperating} cell: its deadline {deadline} sat in that "
        f"column; its one unit cell is read as the {lead} ({lead_cell}), with no "
        f"{cooperating}"
    )
