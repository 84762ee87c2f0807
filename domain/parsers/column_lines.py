"""A task table flattened to one cell per line: its rows told apart by 序号, or by width.

Copying a web page's table (or saving a Word table as text) often leaves one cell per line:
the header's cells first, one a line, then each row's cells in the same order. Two ways of
telling the rows apart follow from the header; a third kind of table, a notice's task list
in 附件1, is split by 序号 too but holds sentences and unit cells in any number.

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

**A notice's task list in 附件1** (亳州 2018 “互联网+政务服务”工作方案)::

    …关于印发<plan title>的通知          the notice: issuer, plan title, 文号, signature date
    <narrative sections 一、… （一）…>     restates the table in prose: never read for tasks
    附件1
    <table title>
    序号 / 主要任务及时限要求 / 责任单位     the header, one cell per line
    1                                      a row starts with its 序号 alone on a line
    一、…  （一）…                         optional: new section headings (merged cells)
    <sub-heading>                          optional: a merged cell naming this and later rows
    <task sentence> …                      one or more
    <责任单位 cell>
    [<task sentence> [<责任单位 cell>]]     a second clause of the same row
    …
    附件2
    <…市直有关单位名单>
    <the member units, separated by 、>

This reading is claimed (by the general reader, see :func:`task_list_header`) when a line
that is only 附件1 is followed within a few lines by the header cells 序号, a …任务… cell and
责任单位. The table ends at the next 附件N line. How a row is read:

- ``category`` is [section, subsection, sub-heading], each kept until replaced. The table
  repeats its current 一、 heading after a page break; a repeated heading does not reset the
  subsection below it.
- A line is a 责任单位 cell when every name in it ends like an organisation (…局, …委,
  …管委会, …单位); otherwise it is a task sentence. The first line of a row is a sub-heading
  when more text follows before the row's first unit cell and it is not itself a sentence
  (no 。 and no leading date).
- Sentences followed by a unit cell form a clause; sentences after a row's last unit cell
  share that cell (a merged cell). Clauses whose unit cells are the same are one task with
  one milestone per dated sentence; clauses with different unit cells are parts of the row
  (N-1, N-2). A sentence without a date in a task with several sentences is due at the plan
  year end, implicit.
- "A、B分别牵头负责，C": one part per lead A, B, each with C cooperating.
- 附件2 lists the members of a group the directory knows (市直有关单位); cells naming the
  group expand to them.
- A row without any unit cell inherits the unit cell of the row above (a merged cell) and is
  warned ``inherited_unit``; row numbers must run 1, 2, 3, … or the list is a located error.

The plan is the one the notice prints (…关于印发<plan>的通知), its year from that title; its
issue date is the signature date under the notice, not a web page's 生成日期.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from domain.deadlines import DeadlineContext, find_deadlines, implicit_deadline
from domain.parsers.common import (
    NOTICE_TITLE,
    PER_LEAD,
    SECTION_MARKER,
    SUBSECTION_MARKER,
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
    split_per_lead,
    unsplit_group_lead_warning,
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


# ================================================================ an attachment's task list

_TASK_LIST_ATTACHMENT = 1


@dataclass(frozen=True)
class TaskListHeader:
    """Where an attachment's task list starts: the line 附件1, then its header cells."""

    attachment_line: int  # the 附件1 line, 1-based
    end: int  # index in document.lines of the first line after the 责任单位 header cell


def task_list_header(lines: Sequence[str]) -> TaskListHeader | None:
    """The header of a notice's task list: a line that is only 附件1, then within a few
    lines the header cells 序号 / …任务… / 责任单位, one a line."""
    start = _attachment_start(lines, _TASK_LIST_ATTACHMENT)
    if start is None:
        return None
    end = _table_header_end(lines, start)
    if end is None:
        return None
    return TaskListHeader(attachment_line=start, end=end)


def read_task_list(
    document: SourceDocument,
    directory: UnitDirectory,
    header: TaskListHeader,
    *,
    plan_format: str,
) -> ParsedPlan:
    """The tasks of the 附件1 list under ``header``, as a plan of ``plan_format``: the plan
    named by the notice, the rows up to the next 附件N, whose group list (附件2) expands the
    group the unit cells name."""
    lines = document.lines
    end = _attachment_end(lines, header.end)
    plan = _task_list_plan(document, plan_format)
    context = DeadlineContext(plan.period_start, plan.period_end)
    groups = _document_groups(lines[end:], directory)
    reader = _TaskListReader(document, directory, groups, context, plan.is_annual)
    tasks = reader.read(_non_blank(lines, header.end, end))
    return ParsedPlan(plan=plan, tasks=tasks, warnings=reader.warnings)


_ATTACHMENT = re.compile(r"附件\s*(?P<number>\d+)")
_LEADING_DATE = re.compile(r"\d{4}年")
# A name in a 责任单位 cell: an organisation, optionally with its second nameplate
# ("市发展改革委（物价局）"); sub-headings and sentences never end like this.
_ORGANISATION_NAME = re.compile(
    r"[\u4e00-\u9fff]{1,24}?"
    r"(?:局|委|办|办公室|政府|管委会|单位|部门|中心|公司|支队|处|室|会|院)"
    r"(?:（[^（）]*）)?"
)
_HEADING_PUNCTUATION = "。；，：、 "


@dataclass
class _Clause:
    """Task sentences and the 责任单位 cell that follows them (None until it is read)."""

    sentences: list[_Cell] = field(default_factory=list)
    unit: _Cell | None = None

    @property
    def last_line(self) -> int:
        numbers = [cell.line for cell in self.sentences]
        if self.unit is not None:
            numbers.append(self.unit.line)
        return max(numbers)


@dataclass
class _Headings:
    """The category cells in force: each stays until the table names a new one."""

    section: str | None = None
    subsection: str | None = None
    sub_heading: str | None = None

    def category(self) -> list[str]:
        return [name for name in (self.section, self.subsection, self.sub_heading) if name]


# ---------------------------------------------------------------- the plan


def _task_list_plan(document: SourceDocument, plan_format: str) -> Plan:
    issuer = title = None
    for line in document.lines:
        notice = NOTICE_TITLE.match(line)
        if notice and notice["printed"] and notice["subject"].endswith("的通知"):
            issuer = notice["issuer"]
            title = notice["subject"].removesuffix("的通知").strip("《》")
            break
    if title is None:
        raise document.error(None, "expected the notice title '…关于印发<plan>的通知'")
    period = find_plan_period(title)
    if period is None:
        raise document.error(None, f"expected the plan year in the title {title!r}")
    return Plan(
        id=plan_id_from_file(document.file),
        title=title,
        issuer=issuer,
        document_number=find_document_number(document.lines),
        issue_date=find_issue_date(document.lines),
        period_start=period[0],
        period_end=period[1],
        source_file=document.file,
        format=plan_format,
    )


# ---------------------------------------------------------------- the table's frame


def _attachment_start(lines: Sequence[str], number: int) -> int | None:
    """Index of the line just after a line that is only "附件<number>"."""
    for index, line in enumerate(lines):
        match = _ATTACHMENT.fullmatch(line)
        if match and int(match["number"]) == number:
            return index + 1
    return None


def _table_header_end(lines: Sequence[str], start: int) -> int | None:
    """Index after the header cells 序号 / …任务… / 责任单位, if they open the attachment."""
    cells = _non_blank(lines, start, min(len(lines), start + 12))
    for position, cell in enumerate(cells):
        if cell.text == "序号":
            following = cells[position + 1 : position + 3]
            if (
                len(following) == 2
                and "任务" in following[0].text
                and following[1].text == "责任单位"
            ):
                return following[1].line  # the index after the 责任单位 line
            return None
    return None


def _attachment_end(lines: Sequence[str], start: int) -> int:
    """Index of the next "附件N" line (the table ends there), or the end of the document."""
    for index in range(start, len(lines)):
        if _ATTACHMENT.fullmatch(lines[index]):
            return index
    return len(lines)


def _non_blank(lines: Sequence[str], start: int, end: int) -> list[_Cell]:
    return [_Cell(index + 1, lines[index]) for index in range(start, end) if lines[index]]


def _document_groups(lines: Sequence[str], directory: UnitDirectory) -> dict[str, list[str]]:
    """附件2's list of units, under the group name its title names (e.g. 市直有关单位)."""
    cells = _non_blank(lines, 0, len(lines))
    if len(cells) < 3 or not _ATTACHMENT.fullmatch(cells[0].text):
        return {}
    title = cells[1].text
    known = sorted(
        [
            *directory.groups,
            *(a for a, name in directory.aliases.items() if name in directory.groups),
        ],
        key=len,
        reverse=True,
    )
    group = next((name for name in known if f"{name}名单" in title), None)
    if group is None:
        return {}
    members = split_units("、".join(cell.text for cell in cells[2:]))
    return {directory.resolve(group): members}


# ---------------------------------------------------------------- rows


def _is_task_list_unit_cell(text: str) -> bool:
    """Whether a line is a 责任单位 cell: every name in it is an organisation's."""
    if "。" in text:
        return False
    names = split_units(PER_LEAD.sub("", text))
    return bool(names) and all(_ORGANISATION_NAME.fullmatch(name) for name in names)


def _is_sentence(text: str) -> bool:
    return "。" in text or _LEADING_DATE.match(text) is not None


def _heading(text: str) -> str:
    return text.rstrip(_HEADING_PUNCTUATION)


class _TaskListReader:
    """Reads the table's lines into tasks, keeping the headings and unit cells in force."""

    def __init__(
        self,
        document: SourceDocument,
        directory: UnitDirectory,
        groups: Mapping[str, Sequence[str]],
        context: DeadlineContext,
        annual: bool,
    ) -> None:
        self.document = document
        self.directory = directory
        self.groups = groups
        self.context = context
        self.annual = annual
        self.headings = _Headings()
        self.previous_unit: _Cell | None = None
        self.warnings: list[ParseWarning] = []

    def read(self, cells: list[_Cell]) -> list[PlanTask]:
        tasks: list[PlanTask] = []
        for seq, row in self._rows(cells):
            tasks.extend(self._row(seq, row))
        return tasks

    def _rows(self, cells: list[_Cell]) -> list[tuple[int, list[_Cell]]]:
        """The table's lines cut at each 序号, which must run 1, 2, 3, …"""
        rows: list[tuple[int, list[_Cell]]] = []
        for cell in cells:
            if _ROW_NUMBER.fullmatch(cell.text):
                expected = len(rows) + 1
                if int(cell.text) != expected:
                    after = f" or the cells of row {expected - 1}" if rows else ""
                    raise self.document.error(
                        cell.line, f"expected row {expected}{after}, found row number {cell.text}"
                    )
                rows.append((expected, [cell]))
            elif not rows:
                raise self.document.error(cell.line, f"expected row 1, found {cell.text!r}")
            else:
                rows[-1][1].append(cell)
        if not rows:
            raise self.document.error(None, "the 附件1 task list has no rows")
        return rows

    def _row(self, seq: int, row: list[_Cell]) -> list[PlanTask]:
        number_line, cells = row[0], row[1:]
        cells = self._take_headings(cells)
        if not cells:
            raise self.document.error(number_line.line, f"row {seq}: expected the task text")
        clauses = self._clauses(seq, cells)
        if len({clause.unit.text for clause in clauses if clause.unit}) <= 1:
            return self._tasks(seq, clauses, (number_line.line, clauses[-1].last_line))
        # clauses with different unit cells are parts of the row; the first part's lines
        # include the row number and headings, the others' only their own sentences and cell
        tasks: list[PlanTask] = []
        for index, clause in enumerate(clauses):
            first = number_line.line if index == 0 else clause.sentences[0].line
            tasks.extend(
                self._tasks(seq, [clause], (first, clause.last_line), first_part=len(tasks) + 1)
            )
        return tasks

    def _take_headings(self, cells: list[_Cell]) -> list[_Cell]:
        """Consume the row's leading heading cells; return the rest of the row."""
        position = 0
        while position < len(cells):
            text = cells[position].text
            if SECTION_MARKER.match(text):
                if _heading(text) != self.headings.section:
                    self.headings = _Headings(section=_heading(text))
            elif SUBSECTION_MARKER.match(text):
                self.headings.subsection = _heading(text)
                self.headings.sub_heading = None
            else:
                break
            position += 1
        rest = cells[position:]
        before_unit = next(
            (index for index, cell in enumerate(rest) if _is_task_list_unit_cell(cell.text)),
            len(rest),
        )
        if before_unit >= 2 and not _is_sentence(rest[0].text):
            self.headings.sub_heading = _heading(rest[0].text)
            rest = rest[1:]
        return rest

    def _clauses(self, seq: int, cells: list[_Cell]) -> list[_Clause]:
        clauses: list[_Clause] = [_Clause()]
        for cell in cells:
            current = clauses[-1]
            if not _is_task_list_unit_cell(cell.text):
                if current.unit is not None:
                    clauses.append(_Clause(sentences=[cell]))
                else:
                    current.sentences.append(cell)
            elif not current.sentences:
                raise self.document.error(
                    cell.line, f"row {seq}: expected a task sentence before this 责任单位 cell"
                )
            elif current.unit is None:
                current.unit = cell
            else:  # a cell wrapped onto a second line: one cell, ending on the later line
                joiner = "" if current.unit.text.endswith(("、", "，")) else "，"
                current.unit = _Cell(cell.line, current.unit.text + joiner + cell.text)
        trailing = clauses[-1]
        if trailing.unit is None and len(clauses) > 1:
            # sentences after the row's last unit cell share it (a merged cell)
            clauses.pop()
            clauses[-1].sentences.extend(trailing.sentences)
        return clauses

    def _tasks(
        self,
        seq: int,
        clauses: list[_Clause],
        span: tuple[int, int],
        first_part: int | None = None,
    ) -> list[PlanTask]:
        """One task (or one per lead, for 分别牵头) from clauses sharing one unit cell.

        ``first_part`` is set when the row has several parts: this one's first part number.
        """
        task_id = str(seq) if first_part is None else f"{seq}-{first_part}"
        sentences = [cell.text for clause in clauses for cell in clause.sentences]
        text = _join(sentences)
        unit = clauses[0].unit
        flags: list[TaskFlag] = []
        if unit is None:
            unit = self.previous_unit
            if unit is None:
                self._warn(span[0], "no_unit", "no 责任单位 cell in this row", task_id)
            else:
                flags.append(TaskFlag.INHERITED_UNIT)
                self._warn(
                    span[0],
                    "inherited_unit",
                    f"no 责任单位 cell: the cell of the row above (line {unit.line}) applies",
                    task_id,
                )
        else:
            self.previous_unit = unit
        cell = unit.text if unit else ""
        per_lead = split_per_lead(cell, self.directory, self.groups)
        if per_lead is not None and len(per_lead) == 1:
            self.warnings.append(unsplit_group_lead_warning(cell, span[0], task_id))
        roles_list = per_lead or [roles_from_cell(cell, self.directory, self.groups)]
        tasks = []
        for offset, roles in enumerate(roles_list):
            part: int | None = None
            if first_part is not None or len(roles_list) > 1:
                part = (first_part or 1) + offset
            task = build_task(
                self.document,
                seq=seq,
                part=part,
                category=self.headings.category(),
                text=text,
                roles=roles,
                lines=span,
                context=self.context,
                annual=self.annual,
                extra_flags=flags,
                warnings=self.warnings,
            )
            task = _with_undated_sentences(task, sentences, self.context)
            self.warnings.extend(ambiguous_date_warnings(task))
            tasks.append(task)
        return tasks

    def _warn(self, line: int, code: str, message: str, task_id: str) -> None:
        self.warnings.append(ParseWarning(line=line, code=code, message=message, task_id=task_id))


def _join(sentences: Sequence[str]) -> str:
    text = ""
    for sentence in sentences:
        if text and not text.endswith(("。", "；", "）")):
            text += "；"
        text += sentence
    return text


def _with_undated_sentences(
    task: PlanTask, sentences: Sequence[str], context: DeadlineContext
) -> PlanTask:
    """A task of several sentences: an undated sentence is due at the plan's end, implicit."""
    if len(sentences) < 2 or not task.milestones:
        return task
    undated = []
    for sentence in sentences:
        found = find_deadlines(sentence, context)
        if not found.milestones and found.recurrence is None:
            undated.append(implicit_deadline(context).model_copy(update={"text": sentence}))
    if not undated:
        return task
    milestones = sorted([*task.milestones, *undated], key=lambda milestone: milestone.due)
    flags = list(dict.fromkeys([*task.flags, TaskFlag.IMPLICIT_DEADLINE]))
    return task.model_copy(update={"milestones": milestones, "flags": flags})
