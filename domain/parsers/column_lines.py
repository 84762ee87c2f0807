"""A task table flattened to one cell per line: its rows told apart by 序号, or by width.

Copying a web page's table (or saving a Word table as text) often leaves one cell per line:
the header's cells first, one a line, then each row's cells in the same order. Two ways of
telling the rows apart follow from the header.

**By their 序号.** Where the header starts with 序号 and the line after its cells is "1",
each row starts at the line holding the next number, and holds whichever of its cells the
copy kept: merged cells were dropped, so a row can lack its category cells or its unit, and
a long cell may wrap over two lines. This reading is claimed (by the general reader, see
:func:`numbered_header`) when the header names a 责任单位 column and the table's own kind of
columns: a plan-year column (2018年计划), a period's task column (2016-2020年工作任务) or
是否需…配合 flag columns. A row's lines are told apart from the end of the row backwards:

* 是/否 lines at the end are the "需配合" flag columns. They are not part of the task
  model and are dropped; a 是/否 line anywhere else means the columns are misaligned.
* The unit cell is the last line if it reads as a list of unit names: every name (split on
  、，；) is known to the unit directory, or is shaped like one: it starts with 市/县/区/各,
  ends with 局/委/办/中心/政府/… and is short. A unit cell wraps two ways, both rejoined:
  after a "、" ("市信息办、" / "市审计局"), or inside a name ("市住房公积金" / "管理中心":
  a line that ends like a unit name but does not start like one, after a line that starts
  like one). A row without a unit line sat in a merged unit cell: it inherits the unit of
  the row above (flag INHERITED_UNIT); row 1 has no row above, so that is an error.
* Of the remaining lines, the last is the plan text, together with any line before it
  that ends in sentence punctuation (；。，：), since category cells are headings and
  never end that way while a wrapped text cell does. Short texts ("审计在线咨询") are
  therefore still read as text: position decides, not length.
* The lines before the text are the category cells (at most three levels). One line
  replaces the innermost level of the category above (a sibling under the same merged
  outer cells); two or three lines give the whole path from the top; none inherits it.

A row is cut off when the document ends inside it: the last row with neither a unit line
nor a flag line. It is kept as a task with the lines it has as its text, no unit (flags
TRUNCATED and NO_UNIT), and a ``truncated_row`` warning, so the coordinator completes it
rather than losing it. Deadlines default to the plan year's end, implicit. Its category is
the row above's, as for any row without category cells. When the row kept a single line
shaped like a category cell (a short heading without punctuation: 滁州's row 47,
"安全保密监管和标准规范建设", is the next category, the plan text under it lost), the line
still becomes the text, so that nothing kept is hidden, and the warning says that it may
be a category instead and which category is shown: a coordinator reading the task sees
both readings and completes it, rather than finding a heading filed as a task text without
comment or a category made up from one line. The plan's title is the line right above the
table (an attachment's own title; the notice's title comes first).

**By the header's width**, where the table has no 序号 column: every N lines after an
N-line header are one row. That reading is claimed (by :class:`ColumnLinesParser`) only
when it is certain: the header is at least three lines that each name a column, with a
task column and a unit column; the lines after it (blank lines and page chrome left out)
are a whole number of rows; each row's unit cells are short, and its 时限 cell, where the
header has one, is a deadline. Anything else is not this layout and is left to the other
readers. The rows are then read with the ledger's rules
(:func:`domain.parsers.ledger.parse_grid`); provenance names each row's lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from domain.deadlines import DeadlineContext, find_deadlines
from domain.parsers.common import (
    Roles,
    SourceDocument,
    ambiguous_date_warnings,
    build_task,
    find_document_number,
    find_issue_date,
    find_plan_period,
    notice_issuer,
    plan_id_from_file,
    roles_from_cell,
)
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
from domain.plan import ParsedPlan, ParseWarning, Plan, PlanTask, TaskFlag
from domain.units import UnitDirectory, split_units

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


# ================================================================ rows split by 序号

_HEADER_FIRST_CELL = "序号"
_UNIT_HEADER = "责任单位"
_PLAN_YEAR_HEADER = re.compile(r"^(?P<year>20\d{2})年计划$")
_CATEGORY_HEADER = re.compile(r"^20\d{2}[-—–~至]20\d{2}年工作任务$")
_FLAG_HEADER = re.compile(r"^是否需.+配合$")
_MAX_HEADER_CELLS = 8
_MAX_CATEGORY_DEPTH = 3
_FLAG_CELLS = frozenset({"是", "否"})
_MAX_FLAG_CELLS = 2
_ROW_NUMBER = re.compile(r"^\d{1,3}$")
_TEXT_CONTINUES = tuple("；。，：")
_UNIT_PREFIXES = ("市", "县", "区", "各")
_UNIT_SUFFIXES = (
    "局",
    "委",
    "办",
    "中心",
    "政府",
    "公司",
    "集团",
    "部门",
    "单位",
    "办公室",
    "院",
    "会",
    "行",
    "所",
    "队",
    "站",
    "处",
    "馆",
    "社",
    "台",
)
_MAX_UNIT_NAME = 20
_MAX_UNIT_TAIL = 8
_SENTENCE_PUNCTUATION = re.compile(r"[。；：！？“”]")
_ANY_PUNCTUATION = re.compile(r"[。；：！？“”，、（）]")
_MAX_CATEGORY_CELL = 30


@dataclass(frozen=True)
class _Cell:
    line: int  # 1-based line of the file
    text: str


@dataclass
class _Row:
    seq: int
    number_line: int
    cells: list[_Cell]

    @property
    def last_line(self) -> int:
        return self.cells[-1].line if self.cells else self.number_line


@dataclass(frozen=True)
class NumberedHeader:
    """Where a table with a 序号 column starts, and the plan year its header names."""

    first_line: int  # the 序号 line, 1-based
    end: int  # index in document.lines of the first line after the header cells
    plan_year: int | None


def read_numbered(
    document: SourceDocument, directory: UnitDirectory, header: NumberedHeader, *, plan_format: str
) -> ParsedPlan:
    """The tasks of the table under ``header``, one per 序号, as a plan of ``plan_format``."""
    plan = _plan(document, header, plan_format)
    context = DeadlineContext(plan_year=plan.period_end, period_end=plan.period_end)
    rows = _rows(document, header)
    tasks: list[PlanTask] = []
    warnings: list[ParseWarning] = []
    category: list[str] = []
    unit_cell: str | None = None
    for index, row in enumerate(rows):
        is_last = index == len(rows) - 1
        task, category, unit_cell = _row_task(
            document,
            directory,
            row,
            is_last=is_last,
            category_above=category,
            unit_cell_above=unit_cell,
            context=context,
            annual=plan.is_annual,
            warnings=warnings,
        )
        tasks.append(task)
        warnings.extend(ambiguous_date_warnings(task))
    return ParsedPlan(plan=plan, tasks=tasks, warnings=warnings)


# ---------------------------------------------------------------- header and metadata


def numbered_header(lines: Sequence[str]) -> NumberedHeader | None:
    """The header of a table whose rows are split by 序号: the 序号 line whose following
    header cells (up to the line "1") include 责任单位 and a plan-year, period-task or
    是否需…配合 column."""
    for index, line in enumerate(lines):
        if line != _HEADER_FIRST_CELL:
            continue
        cells: list[str] = []
        end = index + 1
        while end < len(lines) and len(cells) < _MAX_HEADER_CELLS and lines[end] != "1":
            if lines[end]:
                cells.append(lines[end])
            end += 1
        if end >= len(lines) or lines[end] != "1" or _UNIT_HEADER not in cells:
            continue
        plan_years = [m for cell in cells if (m := _PLAN_YEAR_HEADER.match(cell))]
        has_category = any(_CATEGORY_HEADER.match(cell) for cell in cells)
        has_flags = any(_FLAG_HEADER.match(cell) for cell in cells)
        if plan_years or has_category or has_flags:
            year = int(plan_years[0]["year"]) if plan_years else None
            return NumberedHeader(first_line=index + 1, end=end, plan_year=year)
    return None


def _plan(document: SourceDocument, header: NumberedHeader, plan_format: str) -> Plan:
    before = document.lines[: header.first_line - 1]
    titled = [line for line in before if line]
    # The attachment's own title sits right above the table; the notice's title comes first.
    title = titled[-1] if titled else document.file
    period = find_plan_period(title, header.plan_year)
    if period is None:
        raise document.error(
            header.first_line, "expected the plan year in the title or a 20XX年计划 column"
        )
    issuer = next((issuer for line in before if (issuer := notice_issuer(line))), None)
    return Plan(
        id=plan_id_from_file(document.file),
        title=title,
        issuer=issuer,
        document_number=find_document_number(before),
        issue_date=find_issue_date(before),
        period_start=period[0],
        period_end=period[1],
        source_file=document.file,
        format=plan_format,
    )


def _rows(document: SourceDocument, header: NumberedHeader) -> list[_Row]:
    """The rows in order: each starts at the line holding the next 序号."""
    rows: list[_Row] = []
    for index in range(header.end, len(document.lines)):
        text = document.lines[index]
        line = index + 1
        if not text:
            continue
        expected = len(rows) + 1
        if text == str(expected):
            rows.append(_Row(seq=expected, number_line=line, cells=[]))
        elif _ROW_NUMBER.match(text):
            raise document.error(
                line, f"expected row {expected} or a cell of row {expected - 1}, found {text}"
            )
        else:
            rows[-1].cells.append(_Cell(line, text))
    return rows


# ---------------------------------------------------------------- one row


def _row_task(
    document: SourceDocument,
    directory: UnitDirectory,
    row: _Row,
    *,
    is_last: bool,
    category_above: list[str],
    unit_cell_above: str | None,
    context: DeadlineContext,
    annual: bool,
    warnings: list[ParseWarning],
) -> tuple[PlanTask, list[str], str | None]:
    """The row's task, and the category and unit cell in force for the row below."""
    cells, flag_count = _without_flags(document, row)
    unit_start = _unit_cell_start(cells, directory)
    span = (row.number_line, row.last_line)
    if is_last and unit_start is None and flag_count == 0:
        return (
            _truncated_task(document, row, cells, category_above, context, annual, warnings),
            category_above,
            unit_cell_above,
        )
    content = cells if unit_start is None else cells[:unit_start]
    if not content:
        raise document.error(
            row.number_line, f"row {row.seq}: expected the plan text before the 责任单位 cell"
        )
    text_start = len(content) - 1
    while text_start > 0 and content[text_start - 1].text.endswith(_TEXT_CONTINUES):
        text_start -= 1
    category_cells = [cell.text for cell in content[:text_start]]
    if len(category_cells) > _MAX_CATEGORY_DEPTH:
        raise document.error(
            content[0].line,
            f"row {row.seq}: expected at most {_MAX_CATEGORY_DEPTH} category cells before "
            f"the plan text, found {len(category_cells)}",
        )
    category = _category(category_above, category_cells)
    extra_flags: list[TaskFlag] = []
    if unit_start is None:
        if unit_cell_above is None:
            raise document.error(
                row.number_line,
                f"row {row.seq}: expected a 责任单位 cell; no row above to inherit it from",
            )
        unit_cell = unit_cell_above
        extra_flags.append(TaskFlag.INHERITED_UNIT)
    else:
        unit_cell = "".join(cell.text for cell in cells[unit_start:])
    task = build_task(
        document,
        seq=row.seq,
        part=None,
        category=category,
        text="".join(cell.text for cell in content[text_start:]),
        roles=roles_from_cell(unit_cell, directory),
        lines=span,
        context=context,
        annual=annual,
        extra_flags=extra_flags,
        warnings=warnings,
    )
    return task, category, unit_cell


def _without_flags(document: SourceDocument, row: _Row) -> tuple[list[_Cell], int]:
    """The row's cells without the trailing 是/否 flag cells, and how many there were."""
    cells = list(row.cells)
    flag_count = 0
    while cells and cells[-1].text in _FLAG_CELLS:
        cells.pop()
        flag_count += 1
    if flag_count > _MAX_FLAG_CELLS:
        raise document.error(
            row.number_line,
            f"row {row.seq}: expected at most {_MAX_FLAG_CELLS} 是/否 cells, found {flag_count}",
        )
    stray = next((cell for cell in cells if cell.text in _FLAG_CELLS), None)
    if stray is not None:
        raise document.error(
            stray.line, f"row {row.seq}: a 是/否 cell before the row's text and unit"
        )
    return cells, flag_count


def _category(above: list[str], cells: list[str]) -> list[str]:
    """One cell: a sibling of the innermost level above; several: a path from the top."""
    if not cells:
        return list(above)
    if len(cells) == 1:
        return [*above[:-1], cells[0]]
    return list(cells)


def _truncated_task(
    document: SourceDocument,
    row: _Row,
    cells: list[_Cell],
    category_above: list[str],
    context: DeadlineContext,
    annual: bool,
    warnings: list[ParseWarning],
) -> PlanTask:
    task = build_task(
        document,
        seq=row.seq,
        part=None,
        category=category_above,
        text="".join(cell.text for cell in cells),
        roles=Roles([], [], [TaskFlag.NO_UNIT]),
        lines=(row.number_line, row.last_line),
        context=context,
        annual=annual,
        extra_flags=[TaskFlag.TRUNCATED],
        warnings=warnings,
    )
    kept = "、".join(cell.text for cell in cells) or "nothing"
    shown = " › ".join(category_above) or "none"
    if len(cells) == 1 and _looks_like_category(cells[0].text):
        message = (
            f"row {row.seq} is cut off at the end of the document: it kept one line, "
            f"“{kept}”, read as its plan text, but the line reads like a category heading "
            f"and may be the row's category, its plan text lost; the category shown is the "
            f"row above's ({shown}). Its 责任单位 is missing: complete the task by hand"
        )
    else:
        message = (
            f"row {row.seq} is cut off at the end of the document (kept: {kept}); "
            f"its 责任单位 and maybe part of its plan text are missing; the category shown "
            f"is the row above's ({shown}): complete the task by hand"
        )
    warnings.append(
        ParseWarning(line=row.number_line, code="truncated_row", message=message, task_id=task.id)
    )
    return task


def _looks_like_category(text: str) -> bool:
    """A short line without punctuation, as the 2016-2020 category cells are."""
    return len(text) <= _MAX_CATEGORY_CELL and not _ANY_PUNCTUATION.search(text)


# ---------------------------------------------------------------- unit cells


def _unit_cell_start(cells: list[_Cell], directory: UnitDirectory) -> int | None:
    """Index of the first line of the row's unit cell (wrapped lines rejoined), or None."""
    if not cells:
        return None
    last = len(cells) - 1
    if _is_unit_cell(cells[last].text, directory):
        start = last
        while start > 0 and _continues_unit_list(cells[start - 1].text, directory):
            start -= 1
        return start
    if last > 0 and _is_unit_tail(cells[last].text):
        head = cells[last - 1].text
        if head.startswith(_UNIT_PREFIXES) and _is_unit_cell(head + cells[last].text, directory):
            return last - 1
    return None


def _continues_unit_list(text: str, directory: UnitDirectory) -> bool:
    """A line ending in "、" whose names are units: the unit cell wrapped after it."""
    return text.endswith("、") and _is_unit_cell(text.rstrip("、"), directory)


def _is_unit_cell(text: str, directory: UnitDirectory) -> bool:
    if _SENTENCE_PUNCTUATION.search(text):
        return False
    names = split_units(text)
    return bool(names) and all(_is_unit_name(name, directory) for name in names)


def _is_unit_name(name: str, directory: UnitDirectory) -> bool:
    resolved = directory.resolve(name)
    if resolved in directory.canonical or resolved in directory.groups:
        return True
    return (
        len(name) <= _MAX_UNIT_NAME
        and name.startswith(_UNIT_PREFIXES)
        and name.endswith(_UNIT_SUFFIXES)
    )


def _is_unit_tail(text: str) -> bool:
    """The second half of a unit name wrapped mid-word ("管理中心")."""
    return (
        len(text) <= _MAX_UNIT_TAIL
        and not text.startswith(_UNIT_PREFIXES)
        and text.endswith(_UNIT_SUFFIXES)
        and not _SENTENCE_PUNCTUATION.search(text)
    )
