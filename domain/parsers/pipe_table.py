"""Pipe tables: a table pasted as text, each cell ending with "|", often one cell per line.

The Nantong plan (examples/plans/nantong-2017-gov-info-systems-integration.txt) is the
model: a notice, a narrative whose items end with （牵头责任单位：…，配合单位：…), and the
schedule table 序号 | 工作任务 | 牵头单位 | 协同单位 | 序时进度 that restates the narrative as
21 rows. The table is what the coordinator tracks, so its rows are the tasks and the
narrative is not read (reading both would count every task twice).

Reading the table:

- Cells are the pieces between "|"; a line holding only "|" is an empty cell. A line
  without "|" inside the table is the first part of a cell wrapped over lines. A line
  written as a whole row ("|  | 远海养殖网箱50个 |  | 市自然资源局 |") whose 序号 cell is
  empty, under a row line of the same width, is that row's cells wrapped: each piece
  goes on its column's cell above.
- Rows are split on their sequence numbers: row N starts at the cell "N".
- Some rows lost a unit cell, so the deadline sits one column early and an empty cell
  ("|" alone on a line) pads the row. Such a row is repaired, flagged ``repaired_row``, and
  warned, the warning naming the cell that is missing: the deadline is read from the cell
  it sat in, and the one unit cell left is read as the 牵头单位, so the 协同单位 is what is
  missing (or both, when that cell is empty too). If that unit cell holds two unit lists
  separated only by a space (row 15: "市大数据管理局 市财政局"), what was lost is the "|"
  between the 牵头单位 and 协同单位 cells: the first list leads and the second cooperates.
  A row whose cells cannot be aligned that way is a DocumentError at that row.
- 牵头 and 协同 are separate columns, so roles are as written (no inferred lead). Units
  separated only by a space in a row that lost nothing are several units of one cell, and
  are split before normalisation glues them together.
- Deadlines come from the 序时进度 cell; "每年1月底前" is a yearly recurrence.

Plan metadata: the title is the plan's own title line (the first short line ending in
方案/计划/…), the issuer the line above the signature date. The period: a year in the title
wins; otherwise the plan runs from the year it is issued to the latest year in its table.
For Nantong that is 2017–2018: issued 2017-11-22 with its first deadlines in November and
December 2017, its goals set "到2018年底", its last table deadline 2018年12月底前. A phrase
without a year refers to the issue year (plan_year 2017), the year the work starts in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from pathlib import PurePath

from domain.deadlines import DeadlineContext, find_deadlines
from domain.parsers.common import (
    ISSUING_BODY_END,
    YEAR,
    SourceDocument,
    build_task,
    find_document_number,
    find_issue_date,
    find_plan_period,
    no_unit_warning,
    plan_id_from_file,
    unsplit_group_lead_warning,
)
from domain.parsers.ledger import (
    Column,
    HeaderColumns,
    deadline_cell_text,
    header_column,
    is_unsplit_group_lead,
    match_header,
    task_roles,
    unit_cell_text,
)
from domain.plan import ParsedPlan, ParseWarning, Plan, PlanTask, TaskFlag
from domain.text import normalize_line
from domain.units import UnitDirectory

_MAX_HEADER_CELLS = 12
_SEPARATOR_LINE = re.compile(r"^[\s|:：\-—]*-[\s|:：\-—]*$")  # Markdown's |---|---|
_PLAN_TITLE = re.compile(r"(?:方案|计划|规划|要点|意见|安排|措施|清单|台账)$")
_ISSUER = re.compile(rf"{ISSUING_BODY_END}$")
_TITLE_PUNCTUATION = re.compile(r"[，。：；、！？]")
_ANY_YEAR = DeadlineContext(plan_year=2000)  # only to ask "is this a deadline phrase?"


@dataclass(frozen=True)
class _Cell:
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


def _cells(document: SourceDocument, first: int, last: int) -> list[_Cell]:
    """Every cell of lines ``first``..``last``, cells wrapped over lines joined."""
    cells: list[_Cell] = []
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
                cells.append(_Cell(text, raw, start, number))
    if pending:
        text = "".join(part for part, _ in pending)
        cells.append(_Cell(text, "\n".join(part for _, part in pending), pending_first, last))
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


def _append_to_row(cells: list[_Cell], pieces: list[tuple[str, str]], number: int) -> None:
    """Each piece of a continuation line joined to the cell of its column in the row above."""
    start = len(cells) - len(pieces)
    for offset, (text, raw) in enumerate(pieces):
        if not text:
            continue
        above = cells[start + offset]
        cells[start + offset] = _Cell(
            above.text + text, f"{above.raw}\n{raw}", above.first_line, number
        )


def _last_pipe_line(document: SourceDocument) -> int:
    for number in range(len(document.lines), 0, -1):
        if "|" in document.lines[number - 1] or "｜" in document.lines[number - 1]:
            return number
    return 0


@dataclass(frozen=True)
class _Table:
    header_line: int
    columns: HeaderColumns
    body: list[_Cell]  # every cell after the header


def _find_table(document: SourceDocument) -> _Table | None:
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
            return _Table(number, columns, cells[header.index("1") :])
    return None


def _is_deadline(cell: str) -> bool:
    found = find_deadlines(cell, _ANY_YEAR, bare_dates=True)
    return bool(found.milestones or found.recurrence) and "、" not in cell


class _Repair(Enum):
    """What a repaired row had lost."""

    COOPERATING_CELL = "cooperating"  # its 协同 cell: the deadline sat in that column
    UNIT_SEPARATOR = "separator"  # the "|" between its 牵头 and 协同 cells


@dataclass
class _Row:
    seq: int
    cells: list[_Cell]
    repair: _Repair | None = None
    padding: _Cell | None = None  # the lone "|" of a repaired row, when no column holds it

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


def _rows(document: SourceDocument, table: _Table) -> list[_Row]:
    """The table's rows, split on sequence numbers and aligned to the header's columns."""
    columns = table.columns
    rows: list[_Row] = []
    for cell in table.body:
        if cell.text == str(len(rows) + 1):
            rows.append(_Row(len(rows) + 1, [cell]))
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


def _align(document: SourceDocument, columns: HeaderColumns, row: _Row) -> None:
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
            row.repair = _Repair.COOPERATING_CELL
        elif len(row.cells) == width - 1:
            row.cells.insert(cooperating, _Cell("", "", moved.first_line, moved.first_line))
            row.repair = _Repair.COOPERATING_CELL
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


def _split_joined_units(row: _Row, lead: int, cooperating: int) -> None:
    """A repaired row whose lead cell is two unit lists apart ("市大数据管理局 市财政局")
    lost the "|" between its 牵头 and 协同 cells, not its 协同 cell: split them again."""
    joined = row.cells[lead]
    pieces = joined.raw.split()
    if len(pieces) != len(("牵头", "协同")):  # a pair only: the 牵头 list, then the 协同 list
        return
    first, second = pieces
    row.padding = row.cells[cooperating]
    row.cells[lead] = _Cell(normalize_line(first), first, joined.first_line, joined.line)
    row.cells[cooperating] = _Cell(normalize_line(second), second, joined.first_line, joined.line)
    row.repair = _Repair.UNIT_SEPARATOR


def _title(lines: Sequence[str], file: str) -> str:
    """The plan's own title: the first short line naming a plan, else the file name."""
    for line in lines:
        if len(line) <= 40 and _PLAN_TITLE.search(line) and not _TITLE_PUNCTUATION.search(line):
            return line
    return normalize_line(PurePath(file).stem)


def _issuer(lines: Sequence[str], issue_date: date | None) -> str | None:
    """The issuing office: the short line just above the signature date."""
    if issue_date is None:
        return None
    for index, line in enumerate(lines[1:], start=1):
        if find_issue_date([line]) == issue_date:
            above = lines[index - 1]
            if len(above) <= 30 and _ISSUER.search(above) and not _TITLE_PUNCTUATION.search(above):
                return above
            return None
    return None


class PipeTableParser:
    """Plans whose task table was pasted as text with "|" after every cell."""

    format = "pipe-table"

    def score(self, document: SourceDocument) -> int:
        if not any("|" in line or "｜" in line for line in document.lines):
            return 0
        return 90 if _find_table(document) is not None else 0

    def parse(self, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan:
        table = _find_table(document)
        if table is None:
            raise document.error(
                None,
                "no pipe table found: expected a header 序号 | 工作任务 | 牵头单位 | … "
                "followed by row 1",
            )
        rows = _rows(document, table)
        before = document.lines[: table.header_line - 1]
        title = _title(before, document.file)
        issue_date = find_issue_date(before)
        period = self._period(document, table, rows, title, issue_date)
        context = DeadlineContext(plan_year=period[0], period_end=period[1])
        warnings: list[ParseWarning] = []
        tasks: list[PlanTask] = []
        for row in rows:
            tasks.extend(self._tasks(document, table.columns, row, context, directory, warnings))
        plan = Plan(
            id=plan_id_from_file(document.file),
            title=title,
            issuer=_issuer(before, issue_date),
            document_number=find_document_number(before),
            issue_date=issue_date,
            period_start=period[0],
            period_end=period[1],
            source_file=document.file,
            format=self.format,
        )
        return ParsedPlan(plan=plan, tasks=tasks, warnings=warnings)

    @staticmethod
    def _period(
        document: SourceDocument,
        table: _Table,
        rows: Sequence[_Row],
        title: str,
        issue_date: date | None,
    ) -> tuple[int, int]:
        """A year in the title; else from the issue year to the table's latest year."""
        period = find_plan_period(title)
        if period is not None:
            return period
        deadline = table.columns.get(Column.DEADLINE)
        years = [
            int(year)
            for row in rows
            for year in YEAR.findall(row.cells[deadline].text if deadline is not None else "")
        ]
        start = issue_date.year if issue_date is not None else min(years, default=None)
        if start is None:
            raise document.error(
                table.header_line,
                "cannot tell the plan's years: no year in its title, no signature date, "
                "no year in its deadlines",
            )
        return start, max([start, *years])

    @staticmethod
    def _tasks(
        document: SourceDocument,
        columns: HeaderColumns,
        row: _Row,
        context: DeadlineContext,
        directory: UnitDirectory,
        warnings: list[ParseWarning],
    ) -> list[PlanTask]:
        def cell(column: Column) -> _Cell | None:
            index = columns.get(column)
            return row.cells[index] if index is not None else None

        def text(column: Column) -> str:
            found = cell(column)
            return found.text if found is not None else ""

        def units(column: Column) -> str:
            found = cell(column)
            return unit_cell_text(found.raw) if found is not None else ""

        lead_cell = units(Column.LEAD) if cell(Column.LEAD) is not None else None
        parts = task_roles(lead_cell, units(Column.COOPERATING), units(Column.UNITS), directory)
        unsplit = is_unsplit_group_lead(lead_cell, units(Column.UNITS), parts)
        deadline = deadline_cell_text(text(Column.DEADLINE))
        category = text(Column.CATEGORY).rstrip("。；：，、")
        lines = row.lines
        extra = [TaskFlag.REPAIRED_ROW] if row.repaired else []
        tasks: list[PlanTask] = []
        for number, roles in enumerate(parts, start=1):
            task = build_task(
                document,
                seq=row.seq,
                part=number if len(parts) > 1 else None,
                category=[category] if category else [],
                text=text(Column.TASK),
                roles=roles,
                lines=lines,
                context=context,
                annual=context.plan_year == context.last_year,
                deadline_text=deadline or None,
                extra_flags=extra,
                warnings=warnings,
            )
            if row.repair is not None:
                warnings.append(
                    ParseWarning(
                        line=lines[0],
                        code="repaired_row",
                        message=_repair_message(columns, row, deadline),
                        task_id=task.id,
                    )
                )
            if unsplit:
                per_lead_cell = lead_cell if lead_cell is not None else units(Column.UNITS)
                warnings.append(unsplit_group_lead_warning(per_lead_cell, lines[0], task.id))
            if TaskFlag.NO_UNIT in task.flags:
                warnings.append(no_unit_warning(f"row {row.seq}", lines[0], task.id))
            tasks.append(task)
        return tasks


def _repair_message(columns: HeaderColumns, row: _Row, deadline: str) -> str:
    """Which cell the repaired row lost, and how it was read."""

    lead_index, cooperating_index = _lead_index(columns), columns.get(Column.COOPERATING)
    if lead_index is None or cooperating_index is None:  # only rows of such tables are repaired
        return f"row {row.seq} was realigned"
    lead, cooperating = columns.names[lead_index], columns.names[cooperating_index]
    lead_cell = row.cells[lead_index].text
    if row.repair is _Repair.UNIT_SEPARATOR:
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


PARSER = PipeTableParser()
