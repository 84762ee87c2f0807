"""Ledgers (台账) as coordinators keep them: a CSV, XLSX or XLS sheet with one task per row.

The columns are 序号 / 任务 / 牵头单位 / 配合单位 / 时限 under whatever names the office
uses (任务内容, 责任单位, 协同单位, 完成时限, 序时进度 …, see :func:`header_column`), plus an
optional 类别 column. Title rows may sit above the header row. The header matching and the
row-to-task rules here are shared with the DOCX table parser (and with the general reader's
pipe tables), so one table reads the same whichever container it arrives in.

Rules, as shown to the coordinator:

- Columns: explicit 牵头 and 配合 columns give the roles as written. A 责任单位 column beside
  a 牵头单位 column names cooperating units (牵头单位 leads, 责任单位 take part), and so
  does a 配合 column beside both; beside a 配合 column alone the 责任单位 lead. A 责任单位
  column without a 牵头 or 配合 column is one unit list: its first unit leads, the others
  cooperate, and the lead is flagged inferred. "A、B分别牵头，C" gives one task per lead unit
  (:func:`common.split_per_lead`); "市直相关部门分别牵头" names one group nobody lists, so
  the row stays one task with an ``unsplit_group_lead`` warning.
- Sequence: the 序号 column when every row has its own positive number; otherwise rows are
  numbered in document order from 1, with a ``renumbered`` warning.
- Category: the 类别/分类 cell; an empty one (a merged cell) repeats the one above. Without
  that column, a row holding only a heading ("一、基础设施", in one cell or in one cell
  merged across the row) sets the category of the rows below it.
- Deadlines: the 时限 cell, where a plain date counts ("2018-06-30", an Excel date); with an
  empty 时限 cell (or no 时限 column) the dates in the task text. A 时限 cell that names no
  date leaves the plan's default and a ``no_date_in_deadline_cell`` warning; one that names
  only a start ("2025年7月1日起实施") sets the task's start, leaves the default due date and
  gets ``start_in_deadline_cell``; 持续推进 / 长期 there make the task ongoing. A date-only
  row above the header is the issue date, which relative deadlines (印发之日起30日内) count
  from.
- Nothing dropped: a second column of a kind adds to the first (工作内容 after 任务名称 joins
  the task text with "：", a second 时限 column adds its dates, a second unit column its
  units). The text of any other column (备注, 完成情况, a blank header between named ones)
  is appended to its task's text as "（备注：…）", after the deadlines are read, with one
  ``unread_column`` warning per column naming its rows. A row above the header that is
  neither the title nor a date or 文号 line gets an ``unread_line`` warning.
- XLSX merged cells: a cell merged down over several rows (a 时限 or 牵头单位 shared by two
  tasks) holds its value in each of those rows, as Excel shows it; cells merged across
  columns are not spread sideways.
- XLSX sheets: every sheet with a task header is read, in workbook order, into one task
  list. A sheet that cannot be combined (its title names another period, or its header
  lacks a column) or that holds something but no task header is named in a
  ``skipped_sheet`` warning, so no row is dropped unseen.
- Plan title: the title row above the header (a row with one text in it), else the file
  name. Plan period: from the title ("2016-2020年", "2018年…台账"); a title without a year
  makes the plan an annual plan for the latest year written in the deadlines, because a
  ledger is kept for the year its outstanding work runs to (earlier years in it are work
  carried over). Without any year the ledger cannot be dated and is refused.
- Provenance lines are CSV line numbers (a quoted cell may span several lines) or XLSX row
  numbers of the row's sheet; when several sheets are read, each line also names its
  sheet ("[sheet 二季度] 2 | …").
- Bad input: a row with more or fewer cells than the header, or with units and dates but
  no task text, is a DocumentError naming the row; so is a header with no row under it,
  and a header lacking its unit (or task) column, which names the header and what it
  lacks. Empty rows, and rows holding nothing but their 序号 (a template's pre-numbered
  blank rows), hold nothing to track and are passed over. A sheet without anything like a
  task header is not a ledger at all: score 0.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from io import BytesIO
from pathlib import PurePath
from typing import Any

import openpyxl

from domain.deadlines import DeadlineContext
from domain.errors import DocumentError
from domain.parsers.common import (
    HEADING_MARKER,
    PER_LEAD,
    YEAR,
    Roles,
    SourceDocument,
    build_task,
    find_document_number,
    find_issue_date,
    find_plan_period,
    no_unit_warning,
    plan_id_from_file,
    roles_from_cell,
    roles_from_columns,
    split_per_lead,
    unsplit_group_lead_warning,
)
from domain.plan import ParsedPlan, ParseWarning, Plan, PlanTask, TaskFlag
from domain.text import decode_document, normalize_line, normalize_lines
from domain.units import UnitDirectory

# ---------------------------------------------------------------- header matching


class Column(StrEnum):
    """What a table column holds."""

    SEQ = "seq"
    TASK = "task"
    LEAD = "lead"
    COOPERATING = "cooperating"
    UNITS = "units"  # one 责任单位 list: first unit leads unless a 配合 column exists
    DEADLINE = "deadline"
    CATEGORY = "category"


_HEADER_NAMES: dict[Column, tuple[str, ...]] = {
    Column.SEQ: ("序号", "序", "编号", "顺序号"),
    Column.TASK: (
        "任务",
        "工作任务",
        "任务内容",
        "主要任务",
        "重点任务",
        "具体任务",
        "任务名称",
        "工作内容",
        "工作事项",
        "主要工作",
        "重点工作",
    ),
    Column.LEAD: ("牵头单位", "牵头部门", "牵头责任单位", "主办单位", "牵头处室"),
    Column.UNITS: ("责任单位", "责任部门", "承办单位", "负责单位", "实施单位"),
    Column.COOPERATING: ("配合单位", "协同单位", "配合部门", "协同部门", "协办单位", "参与单位"),
    Column.DEADLINE: (
        "时限",
        "完成时限",
        "时间节点",
        "序时进度",
        "完成时间",
        "时间进度",
        "时间要求",
        "进度安排",
        "完成期限",
    ),
    Column.CATEGORY: ("类别", "分类", "类型", "领域"),
}
_EXACT_HEADER = {name: column for column, names in _HEADER_NAMES.items() for name in names}
# Checked in this order, so "牵头责任单位" is a lead column and "任务完成时限" a deadline one.
_HEADER_KEYWORDS: tuple[tuple[Column, re.Pattern[str]], ...] = (
    (Column.LEAD, re.compile("牵头|主办")),
    (Column.COOPERATING, re.compile("配合|协同|协办|参与")),
    (Column.UNITS, re.compile("责任|承办")),
    (Column.SEQ, re.compile("序号|编号")),
    (Column.CATEGORY, re.compile("类别|分类")),
    (Column.DEADLINE, re.compile("(?:时限|时间|期限|进度|节点)$")),
    (Column.TASK, re.compile("任务|工作|内容|事项")),
)
_MAX_HEADER_CELL = 12  # header cells are names, not sentences
_HEADER_NOTE = re.compile(r"（[^（）]*）|[*＊\s:：]")
_HEADER_NOTE_START = re.compile(r"[（*＊\s:：]")  # where any match of _HEADER_NOTE starts
HEADER_SEARCH_ROWS = 30


def header_column(cell: str) -> Column | None:
    """The column a (normalised) header cell names, matched loosely; None if none."""
    if len(cell) > _MAX_HEADER_CELL and _HEADER_NOTE_START.search(cell) is None:
        return None  # nothing to strip, and too long: a text line (a 100,000-row CSV's)
    name = _HEADER_NOTE.sub("", cell)
    if not name or len(name) > _MAX_HEADER_CELL:
        return None
    exact = _EXACT_HEADER.get(name)
    if exact is not None:
        return exact
    for column, keyword in _HEADER_KEYWORDS:
        if keyword.search(name):
            return column
    return None


@dataclass(frozen=True)
class HeaderColumns:
    """Where each recognised column sits in a header row, and how wide the header is."""

    positions: Mapping[Column, int]
    names: tuple[str, ...]  # the header cells as written (normalised), for messages
    # The other cells of the header: a second column of a kind already placed (工作内容
    # after 任务名称), an unknown one (备注) or a blank one (None), by position.
    extra: tuple[tuple[int, Column | None], ...] = ()

    @property
    def width(self) -> int:
        return len(self.names)

    def get(self, column: Column) -> int | None:
        return self.positions.get(column)

    def describe(self) -> str:
        return " | ".join(name for name in self.names if name)


def match_header(cells: Sequence[str]) -> HeaderColumns | None:
    """The header a row of normalised cells forms, or None if it is not a task header.

    A task header names a task column and a unit column (牵头 or 责任), and at least three
    columns in all; most of its non-empty cells are recognised column names. The first
    cell naming a column wins if two name the same one.
    """
    columns = _header_columns(cells)
    if (
        columns is None
        or Column.TASK not in columns.positions
        or (Column.LEAD not in columns.positions and Column.UNITS not in columns.positions)
        or len(columns.positions) < 3
    ):
        return None
    return columns


def _header_columns(cells: Sequence[str]) -> HeaderColumns | None:
    """The columns a row names if most of its non-empty cells are column names, else None."""
    trimmed = list(cells)
    while trimmed and not trimmed[-1]:
        trimmed.pop()
    positions: dict[Column, int] = {}
    extra: list[tuple[int, Column | None]] = []
    non_empty = 0
    for index, cell in enumerate(trimmed):
        column = header_column(cell) if cell else None
        non_empty += bool(cell)
        if column is not None and column not in positions:
            positions[column] = index
        else:
            extra.append((index, column))
    if not positions or len(positions) * 2 < non_empty:
        return None
    return HeaderColumns(positions, tuple(trimmed), tuple(extra))


# ---------------------------------------------------------------- cells


@lru_cache(maxsize=4096)
def unit_cell_text(raw: str) -> str:
    """A unit cell in canonical form, with units separated only by spaces or line breaks
    ("市大数据管理局 市财政局") joined by 、 first: normalisation would glue them together."""
    return "、".join(normalize_line(part) for part in raw.split())


def task_cell_text(raw: str) -> str:
    """A text cell in canonical form; a cell wrapped over lines reads as one line."""
    return normalize_line(" ".join(raw.split()))


_SEPARATED_DATE = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?!\d)")
_SEPARATED_MONTH = re.compile(r"(?<!\d)(\d{4})[-/.](\d{1,2})(?![\d/.-])")


@lru_cache(maxsize=4096)
def deadline_cell_text(raw: str) -> str:
    """A deadline cell in the grammar's words: "2018-06-30" → "2018年6月30日",
    "2018.06" → "2018年6月底"."""
    text = normalize_line(" ".join(raw.split()))
    text = _SEPARATED_DATE.sub(lambda m: f"{m[1]}年{int(m[2])}月{int(m[3])}日", text)
    return _SEPARATED_MONTH.sub(lambda m: f"{m[1]}年{int(m[2])}月底", text)


def cell_value_text(value: object) -> str:
    """An XLSX cell value as text: dates in Chinese form, whole numbers without ".0"."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return f"{value.year}年{value.month}月{value.day}日"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def task_roles(
    lead_cell: str | None,
    cooperating_cell: str,
    units_cell: str,
    directory: UnitDirectory,
) -> list[Roles]:
    """The roles of one row, one entry per task it becomes (several for "分别牵头").

    ``lead_cell`` is None when the table has no explicit lead column; then ``units_cell``
    is a unit list whose first unit leads. A 分别牵头 cell naming one lead (a group nobody
    lists) gives one entry: warn it with :func:`common.unsplit_group_lead_warning`.
    """
    cell = lead_cell if lead_cell is not None else units_cell
    split = split_per_lead(cell, directory, cooperating_cell=cooperating_cell)
    if split:
        return split
    if lead_cell is not None:
        return [roles_from_columns(lead_cell, cooperating_cell, directory)]
    return [roles_from_cell(units_cell, directory)]


def is_unsplit_group_lead(lead_cell: str | None, units_cell: str, parts: Sequence[Roles]) -> bool:
    """Whether a row's 分别牵头 cell stayed one task (:func:`task_roles` found one lead)."""
    cell = lead_cell if lead_cell is not None else units_cell
    return len(parts) == 1 and PER_LEAD.search(cell) is not None


# ---------------------------------------------------------------- grids: rows of cells


@dataclass(frozen=True, slots=True)
class GridRow:
    """One table row as written: its cells (text) and the lines or rows it came from."""

    first_line: int
    last_line: int
    cells: tuple[str, ...]

    @property
    def is_empty(self) -> bool:
        return not any(cell.strip() for cell in self.cells)


_SET_FIRST_LINE = GridRow.__dict__["first_line"].__set__
_SET_LAST_LINE = GridRow.__dict__["last_line"].__set__
_SET_CELLS = GridRow.__dict__["cells"].__set__


def grid_row(first_line: int, last_line: int, cells: tuple[str, ...]) -> GridRow:
    """``GridRow(first_line, last_line, cells)``, a quarter of its cost: what a frozen
    dataclass's ``__init__`` does (each field set through object.__setattr__), by the
    fields' slots directly. A CSV ledger makes one a line."""
    row: GridRow = object.__new__(GridRow)
    _SET_FIRST_LINE(row, first_line)
    _SET_LAST_LINE(row, last_line)
    _SET_CELLS(row, cells)
    return row


def find_header(rows: Sequence[GridRow]) -> tuple[int, HeaderColumns] | None:
    """The index of the header row among the first rows, and its columns.

    A two-level header (责任单位 merged over 牵头单位 / 配合单位, the other names merged down
    over both rows) is read by its lower row, which names every column: a merged cell
    stands in each row it covers, so that row is a header too, naming more columns.
    """
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if row.is_empty:
            continue
        columns = match_header([task_cell_text(cell) for cell in row.cells])
        if columns is not None:
            if index + 1 < len(rows):
                lower = match_header([task_cell_text(cell) for cell in rows[index + 1].cells])
                if lower is not None and len(lower.positions) > len(columns.positions):
                    return index + 1, lower
            return index, columns
    return None


def find_incomplete_header(rows: Sequence[GridRow]) -> tuple[int, HeaderColumns] | None:
    """A row among the first rows that reads as a task header lacking its task or unit column.

    It names at least three known columns, most of its cells are column names, and it has a
    task or a unit column but not both (序号 / 任务 / 时限 with no 牵头单位): the table is
    meant as a task list, so the coordinator is told what is missing rather than that no
    table was found.
    """
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if row.is_empty:
            continue
        columns = _header_columns([task_cell_text(cell) for cell in row.cells])
        if columns is None or len(columns.positions) < 3:
            continue
        has_task = Column.TASK in columns.positions
        has_unit = Column.LEAD in columns.positions or Column.UNITS in columns.positions
        if has_task != has_unit:
            return index, columns
    return None


def incomplete_header_message(columns: HeaderColumns, where: str) -> str:
    """What an incomplete header (see :func:`find_incomplete_header`) lacks, for a message."""
    missing = (
        "unit column (牵头单位 or 责任单位)"
        if Column.TASK in columns.positions
        else "task column (任务 / 工作任务 / 任务内容)"
    )
    return (
        f"the header at {where} ({columns.describe()}) has no {missing}; a task table needs "
        "a task column and a 牵头单位 or 责任单位 column"
    )


def title_from_rows(rows: Sequence[GridRow]) -> str | None:
    """The first row above the header holding one text only (a title cell, often merged)."""
    for row in rows:
        texts = {task_cell_text(cell) for cell in row.cells if cell.strip()}
        if len(texts) == 1:
            title = texts.pop()
            if find_issue_date([title]) is None and find_document_number([title]) != title:
                return title
    return None


_TRAILING_PUNCTUATION = "。；;：:，,、 "
NO_HEADER = (
    "no task table recognised: no header row (序号 / 任务 / 牵头单位 / 配合单位 / 时限) "
    "in the first rows"
)


@dataclass(frozen=True)
class GridTable:
    """One table of a plan's task list, with how provenance and messages name its rows."""

    document: SourceDocument  # provenance: line N of it is row N of the table
    rows: Sequence[GridRow]
    row_name: str  # how a coordinator finds a row, with {} for its number: "line {}"
    continues: bool = False  # a header-less continuation of the table before it (续表)

    def where(self, line: int | str) -> str:
        return self.row_name.format(line)


@dataclass(frozen=True)
class GridSource:
    """The tables to read as one plan, in document order, with what their container says.

    The first table has the header row; a later table either has its own header row (a
    second sheet, a 续表 repeating the header) or ``continues`` the table before it.
    """

    tables: Sequence[GridTable]
    format: str
    title: str | None = None  # the container's own title; else the title row, else the name
    preamble: Sequence[str] = ()  # text before the table (normalised), for 文号 and date
    warnings: Sequence[ParseWarning] = ()  # what the container could not read (skipped_sheet)


@dataclass(slots=True)
class _Row:
    table: GridTable
    row: GridRow
    seq_cell: str
    text: str
    lead: str | None
    cooperating: str
    units: str
    deadline: str
    category: list[str]
    notes: tuple[str, ...] = ()  # "（备注：…）" from unread columns


def parse_grid(source: GridSource, directory: UnitDirectory) -> ParsedPlan:
    """The plan a table of tasks holds, following the rules in the module docstring."""
    first = source.tables[0]
    document = first.document
    found = find_header(first.rows)
    if found is None:
        raise document.error(None, NO_HEADER)
    header_index, columns = found
    header_line = first.rows[header_index].first_line
    above = first.rows[:header_index]
    title = source.title or title_from_rows(above) or normalize_line(PurePath(document.file).stem)
    preamble = [*source.preamble, *(task_cell_text(c) for row in above for c in row.cells if c)]
    rows: list[_Row] = []
    category: list[str] = []
    warnings: list[ParseWarning] = list(source.warnings)
    header_at_line: int | None = header_line
    for table in source.tables:
        start = 0
        if not table.continues:
            found = find_header(table.rows)
            if found is None:
                raise table.document.error(None, NO_HEADER)
            header_at, columns = found
            start, category = header_at + 1, []
            header_at_line = table.rows[header_at].first_line
            warnings.extend(_unread_rows_above(table, table.rows[:header_at]))
        read, category = _read_rows(table, columns, start, category)
        rows.extend(read)
        warnings.extend(_unread_column_warnings(table, columns, read, header_at_line))
    if not rows:
        raise document.error(
            header_line,
            f"no task rows under the header at {first.where(header_line)} "
            f"({columns.describe()}): the table is empty",
        )
    period = find_plan_period(title)
    if period is None:
        years = [int(year) for row in rows for year in YEAR.findall(row.deadline or row.text)]
        # Offices name their ledgers after the year ("2025年重点任务.csv", "tasks_2025.xlsx").
        stem = PurePath(document.file).stem
        years = years or [int(y) for y in re.findall(r"(?<!\d)(20\d{2})(?!\d)", stem)]
        if not years:
            raise document.error(
                header_line,
                "cannot tell which year the ledger is for: neither its title nor any "
                "deadline names a year (write e.g. 2018年 in the title row)",
            )
        period = (max(years), max(years))
    start_year, end_year = period
    issue_date = find_issue_date(preamble)
    context = DeadlineContext(plan_year=start_year, period_end=end_year, issue_date=issue_date)
    seqs = _sequence_numbers(rows)
    if seqs is None:
        seqs = list(range(1, len(rows) + 1))
        tables = f" of the {len(source.tables)} tables" if len(source.tables) > 1 else ""
        warnings.append(
            ParseWarning(
                line=header_line,
                code="renumbered",
                message=f"the 序号 column{tables} does not give each row its own number; "
                "rows are numbered in document order from 1",
            )
        )
    tasks: list[PlanTask] = []
    roles: dict[tuple[str | None, str, str], _RowRoles] = {}  # by the row's unit cells
    # Each row is let go once its tasks are built, so a large ledger never holds all of
    # its rows and all of its tasks at once.
    del read
    rows.reverse()
    annual = context.plan_year == context.last_year
    for seq in seqs:
        row = rows.pop()
        _add_tasks_of_row(tasks, row, seq, context, annual, directory, warnings, roles)
    plan = Plan(
        id=plan_id_from_file(document.file),
        title=title,
        issuer=None,
        document_number=find_document_number(preamble),
        issue_date=issue_date,
        period_start=start_year,
        period_end=end_year,
        source_file=document.file,
        format=source.format,
    )
    return ParsedPlan(plan=plan, tasks=tasks, warnings=warnings)


def _kind_indexes(columns: HeaderColumns, kinds: tuple[Column, ...]) -> list[int]:
    """Where the columns of these kinds stand, in order."""
    indexes = [index for kind, index in columns.positions.items() if kind in kinds]
    indexes += [index for index, kind in columns.extra if kind in kinds]
    return sorted(indexes)


def _cell_texts(rows: Sequence[GridRow], at: Sequence[int]) -> dict[str, str]:
    """:func:`task_cell_text` of the cells of ``rows`` in columns ``at`` (the ones read as
    text: the unit and deadline cells have their own readings), by cell, normalised in
    one pass (see :func:`domain.text.normalize_lines`) instead of one call per cell."""
    unique: dict[str, None] = {}
    for index in at:  # a column at a time: half the cost of one generator over every cell
        unique.update(dict.fromkeys([row.cells[index] for row in rows]))
    unique.pop("", None)
    raws = list(unique)
    del unique
    # A number (a 序号) is its own canonical form: no step of normalisation touches an
    # ASCII digit (a full-width one becomes one).
    numbers = [raw for raw in raws if raw.isdigit() and raw.isascii()]
    if numbers:
        raws = [raw for raw in raws if not (raw.isdigit() and raw.isascii())]
    normalised = normalize_lines([" ".join(raw.split()) for raw in raws])
    # A cell already in canonical form (most task texts, every 序号) keeps its own string
    # instead of an equal copy: 100,000 rows hold one text each, not two.
    texts = {raw: raw if text == raw else text for raw, text in zip(raws, normalised, strict=True)}
    del raws, normalised
    texts.update(zip(numbers, numbers, strict=True))
    texts[""] = ""
    return texts


# A second column of these kinds adds to the first; of the others (序号, 类别) it is a note.
_JOINED_COLUMNS = (Column.TASK, Column.LEAD, Column.COOPERATING, Column.UNITS, Column.DEADLINE)


def _joined_text(parts: Sequence[str], cell_text: Callable[[str], str] = task_cell_text) -> str:
    """Task texts of two columns (任务名称, 工作内容) as one: "完善数据制度：出台数据条例。"."""
    text = ""
    for part in (cell_text(part) for part in parts):
        if text and part:
            text += part if text[-1] in _TRAILING_PUNCTUATION else "：" + part
        else:
            text = text or part
    return text


def _unread_columns(columns: HeaderColumns) -> list[int]:
    """The positions of the columns no task field reads: their text becomes notes."""
    return [index for index, kind in columns.extra if kind not in _JOINED_COLUMNS]


def _column_label(columns: HeaderColumns, index: int) -> str:
    return columns.names[index] or f"第{index + 1}列"


def _read_rows(
    table: GridTable, columns: HeaderColumns, start: int, category: list[str]
) -> tuple[list[_Row], list[str]]:
    """The data rows of ``table`` from index ``start``, checked for shape; heading rows
    become categories. Returns the rows and the category in force after the last one.

    Nothing in a row is dropped: a second column of a kind (工作内容 beside 任务名称, two
    时限 columns) adds to the first, a 责任单位 column beside a 牵头单位 one cooperates
    (the corpus convention: 牵头单位 leads, 责任单位 take part), and the text of any other
    column (备注, 完成情况, a blank header) is kept as a note on the task.
    """
    document = table.document
    has_lead = columns.get(Column.LEAD) is not None
    # 责任单位 beside 配合单位 and no 牵头单位: the 责任 unit is the lead.
    units_lead = not has_lead and columns.get(Column.COOPERATING) is not None
    category_column = columns.get(Column.CATEGORY)
    has_category = category_column is not None
    unread = _unread_columns(columns)
    rows: list[_Row] = []
    data_rows = table.rows[start:]
    seq_column = columns.get(Column.SEQ)
    task_at = _kind_indexes(columns, (Column.TASK,))
    text_at = sorted(
        {*task_at, *unread, *(at for at in (seq_column, category_column) if at is not None)}
    )
    # Rows narrower than the header are refused below, before any of their cells is read.
    rows_read = [row for row in data_rows if len(row.cells) > text_at[-1]]
    known_text = _cell_texts(rows_read, text_at).get
    del rows_read

    def cell_text(raw: str) -> str:
        text = known_text(raw)
        return text if text is not None else task_cell_text(raw)

    lead_at = _kind_indexes(columns, (Column.LEAD,))
    units_at = _kind_indexes(columns, (Column.UNITS,))
    cooperating_at = _kind_indexes(columns, (Column.COOPERATING,))
    units_and_cooperating_at = _kind_indexes(columns, (Column.UNITS, Column.COOPERATING))
    deadline_at = _kind_indexes(columns, (Column.DEADLINE,))

    def filled_cells(cells: Sequence[str], at: Sequence[int]) -> list[str]:
        return [cells[index] for index in at if cells[index].strip()]

    def unit_and_deadline_texts(cells: Sequence[str]) -> tuple[str | None, str, str, str]:
        """A row's lead, cooperating and 责任 unit texts and its deadline text."""
        if has_lead:
            lead: str | None = "、".join(filled_cells(cells, lead_at))
            cooperating = filled_cells(cells, units_and_cooperating_at)
            units: list[str] = []
        elif units_lead:
            lead = "、".join(filled_cells(cells, units_at))
            cooperating, units = filled_cells(cells, cooperating_at), []
        else:
            lead, cooperating = None, filled_cells(cells, cooperating_at)
            units = filled_cells(cells, units_at)
        return (
            unit_cell_text(lead) if lead is not None else None,
            "、".join(unit_cell_text(cell) for cell in cooperating),
            "、".join(unit_cell_text(cell) for cell in units),
            "；".join(deadline_cell_text(cell) for cell in filled_cells(cells, deadline_at)),
        )

    # Rows repeat their unit and deadline cells: each combination is read once.
    unit_and_deadline_at = sorted({*lead_at, *units_at, *cooperating_at, *deadline_at})
    unit_texts_of: dict[tuple[str, ...], tuple[str | None, str, str, str]] = {}
    one_task_column, task_column = len(task_at) == 1, task_at[0]

    for row in data_rows:
        cells = row.cells
        filled_at = [index for index, cell in enumerate(cells) if cell.strip()]
        if not filled_at:
            continue  # an empty row
        filled = filled_at[-1] + 1
        if filled > columns.width or len(cells) < columns.width:
            count = filled if filled > columns.width else len(cells)
            raise document.error(
                row.first_line,
                f"{table.where(row.first_line)} has {count} cells, but the header "
                f"({columns.describe()}) has {columns.width} columns",
            )
        if one_task_column:  # nearly every ledger: its one text, without joining
            cell = cells[task_column]
            # cell_text(cell) without the call ("" known is "" from task_cell_text too)
            text = (known_text(cell) or task_cell_text(cell)) if cell.strip() else ""
        else:
            text = _joined_text(filled_cells(cells, task_at), cell_text)
        seq_cell = cell_text(cells[seq_column]) if seq_column is not None else ""
        if filled_at == [seq_column] and _whole_number(seq_cell) is not None:
            continue  # a template's pre-numbered blank row: nothing in it to track
        # _one_cell, told at once for most rows: their first and last cells differ.
        if (
            not has_category
            and cells[filled_at[0]] == cells[filled_at[-1]]
            and _one_cell(cells, filled_at)
        ):
            heading = cell_text(cells[filled_at[0]])
            if HEADING_MARKER.match(heading):
                category = [heading.rstrip(_TRAILING_PUNCTUATION)]
                continue
        if not text:
            task_header = columns.names[columns.positions[Column.TASK]]
            raise document.error(
                row.first_line,
                f"{table.where(row.first_line)} has no task text in the {task_header} column",
            )
        category_cell = cell_text(cells[category_column]) if category_column is not None else ""
        if category_cell:
            category = [category_cell.rstrip(_TRAILING_PUNCTUATION)]
        unit_key = tuple([cells[index] for index in unit_and_deadline_at])
        unit_texts = unit_texts_of.get(unit_key)
        if unit_texts is None:
            unit_texts = unit_texts_of[unit_key] = unit_and_deadline_texts(cells)
        # Most ledgers have no unread column: their rows share the one empty tuple.
        notes = (
            tuple(
                [
                    f"（{_column_label(columns, index)}：{cell_text(cells[index])}）"
                    for index in unread
                    if cells[index].strip()
                ]
            )
            if unread
            else ()
        )
        rows.append(
            _Row(  # table, row, seq_cell, text, lead, cooperating, units, deadline, …
                table,
                row,
                seq_cell,
                text,
                *unit_texts,
                category,  # never changed in place: a heading makes a new list
                notes,
            )
        )
    return rows, category


def _unread_rows_above(table: GridTable, above: Sequence[GridRow]) -> list[ParseWarning]:
    """An ``unread_line`` warning for each row above the header that is neither the title
    row nor a date or 文号 line (a 填报单位 line, a subtitle): the plan keeps none of it."""
    title = title_from_rows(above)
    warnings: list[ParseWarning] = []
    for row in above:
        texts = [task_cell_text(cell) for cell in row.cells if cell.strip()]
        if not texts or set(texts) == {title}:
            continue
        if all(find_issue_date([text]) or find_document_number([text]) for text in texts):
            continue
        warnings.append(
            ParseWarning(
                line=row.first_line,
                code="unread_line",
                message=f"{table.where(row.first_line)} above the header is not read: "
                f"“{' | '.join(_merged_once(texts))}”",
            )
        )
    return warnings


def _unread_column_warnings(
    table: GridTable, columns: HeaderColumns, rows: Sequence[_Row], header_line: int | None
) -> list[ParseWarning]:
    """One ``unread_column`` warning per column whose text was kept as notes, naming the
    rows that hold some."""
    warnings: list[ParseWarning] = []
    for index in _unread_columns(columns):
        lines = [row.row.first_line for row in rows if row.row.cells[index].strip()]
        if not lines:
            continue
        header = columns.names[index] or "no header"
        warnings.append(
            ParseWarning(
                line=header_line,
                code="unread_column",
                message=f"column {index + 1} ({header}) is no task field: its text is "
                f"appended to the task text of {table.where(_line_list(lines))}",
            )
        )
    return warnings


_LINES_NAMED = 10


def _line_list(lines: Sequence[int]) -> str:
    """ "3", "3, 4 and 7", or the first ten and how many more."""
    shown = [str(line) for line in lines[:_LINES_NAMED]]
    if len(lines) > _LINES_NAMED:
        return f"{', '.join(shown)} and {len(lines) - _LINES_NAMED} more"
    if len(shown) == 1:
        return shown[0]
    return f"{', '.join(shown[:-1])} and {shown[-1]}"


def _one_cell(cells: Sequence[str], filled_at: Sequence[int]) -> bool:
    """Whether a row holds one cell only: one filled cell, or one cell merged across the
    row, which Word tables and HTML colspans repeat in each column it covers."""
    first, last = filled_at[0], filled_at[-1]
    if cells[first] != cells[last]:  # most rows: told at once
        return False
    return len(filled_at) == last - first + 1 and len(set(cells[first : last + 1])) == 1


def _whole_number(cell: str) -> int | None:
    value = cell.removesuffix(".0")
    return int(value) if value.isdecimal() else None


def _sequence_numbers(rows: Sequence[_Row]) -> list[int] | None:
    """Each row's own 序号 if every row has a distinct positive one, else None."""
    seqs: list[int] = []
    for row in rows:
        seq = _whole_number(row.seq_cell)
        if seq is None or seq < 1:
            return None
        seqs.append(seq)
    return seqs if len(set(seqs)) == len(seqs) else None


@dataclass(frozen=True, slots=True)
class _RowRoles:
    """The roles a row's unit cells give (one entry per task), and whether its 分别牵头
    cell stayed one task (see :func:`is_unsplit_group_lead`)."""

    parts: list[Roles]
    unsplit_group_lead: bool


def _add_tasks_of_row(
    tasks: list[PlanTask],
    row: _Row,
    seq: int,
    context: DeadlineContext,
    annual: bool,
    directory: UnitDirectory,
    warnings: list[ParseWarning],
    roles_of: dict[tuple[str | None, str, str], _RowRoles],
) -> None:
    """The tasks of one row appended to ``tasks``, their warnings to ``warnings``."""
    # A ledger names the same few units in row after row: their roles are read once
    # (build_task copies what it keeps, so the rows share nothing mutable).
    cells = (row.lead, row.cooperating, row.units)
    row_roles = roles_of.get(cells)
    if row_roles is None:
        parts = task_roles(row.lead, row.cooperating, row.units, directory)
        row_roles = roles_of[cells] = _RowRoles(
            parts, is_unsplit_group_lead(row.lead, row.units, parts)
        )
    parts = row_roles.parts
    document = row.table.document
    lines = (row.row.first_line, row.row.last_line)
    deadline = row.deadline
    several = len(parts) > 1
    for number, roles in enumerate(parts, start=1):
        task = build_task(
            document,
            seq=seq,
            part=number if several else None,
            category=row.category,
            text=row.text,
            roles=roles,
            lines=lines,
            context=context,
            annual=annual,
            deadline_text=deadline or None,
            warnings=warnings,
        )
        tasks.append(task)
        if row_roles.unsplit_group_lead:
            cell = row.lead if row.lead is not None else row.units
            warnings.append(unsplit_group_lead_warning(cell, lines[0], task.id))
        if row.notes:
            task.text += "".join(row.notes)
        flags = task.flags
        if TaskFlag.NO_UNIT in flags:
            warnings.append(no_unit_warning(row.table.where(lines[0]), lines[0], task.id))
        if not deadline or TaskFlag.IMPLICIT_DEADLINE not in flags:
            continue
        if task.starts:
            warnings.append(
                ParseWarning(
                    line=lines[0],
                    code="start_in_deadline_cell",
                    message=f"the deadline cell {deadline!r} says when the work starts "
                    f"({task.starts.isoformat()}), not when it is due: due {task.final_due} "
                    "by the plan's default; confirm the due date",
                    task_id=task.id,
                )
            )
        elif TaskFlag.RELATIVE_DATE not in flags:
            warnings.append(
                ParseWarning(
                    line=lines[0],
                    code="no_date_in_deadline_cell",
                    message=f"the deadline cell {deadline!r} names no date; "
                    f"due {task.final_due} by the plan's default",
                    task_id=task.id,
                )
            )


# ---------------------------------------------------------------- CSV and XLSX

_DELIMITERS = (",", "\t", ";")
_TABLE_FILE_SUFFIXES = {".csv", ".tsv"}
# A document that holds an incomplete task header (no unit column) is claimed with this
# low score, so that the coordinator hears what its header lacks instead of "no format".
_INCOMPLETE_HEADER_SCORE = 10


def _csv_document(document: SourceDocument) -> SourceDocument:
    """The document with its text lines (decoding the bytes if only they were given)."""
    if document.raw_lines or not document.data:
        return document
    return SourceDocument.from_text(
        document.file, decode_document(document.data, document.file), document.data
    )


def _csv_rows(document: SourceDocument, lines: Sequence[str], delimiter: str) -> list[GridRow]:
    """The CSV records of ``lines``, each with the file lines it spans."""
    reader = csv.reader(lines, delimiter=delimiter)
    rows: list[GridRow] = []
    previous_end = 0
    # A ledger repeats its unit and deadline cells down the rows: each text is kept once.
    texts: dict[str, str] = {}
    kept = texts.setdefault
    try:
        for record in reader:
            cells = tuple([kept(cell, cell) for cell in map(str.strip, record)])
            line = reader.line_num
            rows.append(grid_row(previous_end + 1, line, cells))
            previous_end = line
    except csv.Error as error:
        raise document.error(reader.line_num, f"unreadable CSV: {error}") from None
    return rows


_HeaderFinder = Callable[[Sequence[GridRow]], tuple[int, HeaderColumns] | None]


def _csv_header(
    document: SourceDocument, finder: _HeaderFinder
) -> tuple[str, GridRow, HeaderColumns] | None:
    """The delimiter under which ``finder`` finds a header in the first rows, with it."""
    head = document.raw_lines[:HEADER_SEARCH_ROWS]
    for delimiter in _DELIMITERS:
        if not any(delimiter in line for line in head):
            continue
        try:
            rows = _csv_rows(document, head, delimiter)
        except DocumentError:
            continue
        found = finder(rows)
        if found is not None:
            return delimiter, rows[found[0]], found[1]
    return None


def _csv_delimiter(document: SourceDocument) -> str | None:
    """The delimiter under which one of the first rows is a task header, or None."""
    found = _csv_header(document, find_header)
    return found[0] if found is not None else None


def _csv_incomplete_header(document: SourceDocument) -> tuple[int, HeaderColumns] | None:
    """The line and columns of a task header lacking its unit or task column, if any."""
    found = _csv_header(document, find_incomplete_header)
    return (found[1].first_line, found[2]) if found is not None else None


def _is_xlsx(data: bytes) -> bool:
    if data[:4] != b"PK\x03\x04":
        return False
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def is_xls(data: bytes) -> bool:
    """An OLE2 file that is not a Word document: read_document lets only workbooks through."""
    from domain.parsers.word97 import is_word97
    from domain.parsers.xls import OLE2_MAGIC  # xls.py builds on this module

    return data[:8] == OLE2_MAGIC and not is_word97(data)


def xls_sheets(
    document: SourceDocument, limit: int | None = None
) -> list[tuple[str, list[GridRow]]]:
    from domain.parsers.xls import xls_sheets as read_sheets

    return read_sheets(document, limit)


def _open_workbook(document: SourceDocument, *, read_only: bool) -> Any:
    try:
        return openpyxl.load_workbook(BytesIO(document.data), read_only=read_only, data_only=True)
    except Exception as error:  # a damaged workbook fails in many ways inside openpyxl
        raise document.error(None, f"not a readable XLSX workbook ({error})") from None


def _xlsx_heads(document: SourceDocument) -> list[list[GridRow]]:
    """The first rows of every sheet, read quickly (read-only: no merged ranges)."""
    workbook = _open_workbook(document, read_only=True)
    try:
        return [
            [
                GridRow(number, number, tuple(cell_value_text(value) for value in row))
                for number, row in enumerate(
                    sheet.iter_rows(min_row=1, max_row=HEADER_SEARCH_ROWS, values_only=True),
                    start=1,
                )
            ]
            for sheet in workbook.worksheets
        ]
    except Exception as error:  # damaged sheet XML fails in many ways inside openpyxl
        raise document.error(None, f"not a readable XLSX workbook ({error})") from None
    finally:
        workbook.close()


def _sheet_rows(sheet: Any) -> list[GridRow]:
    """Every row of a sheet, a vertically merged cell's value repeated in each row it spans.

    A merged 时限 or 牵头单位 cell over rows 3-4 holds its value in row 3 only; row 4 reads
    it as Excel shows it. Cells merged across columns are not spread sideways: a heading
    merged over a whole row stays one cell, and no text moves into another column.
    """
    width = sheet.max_column
    values = [
        list(row) for row in sheet.iter_rows(min_row=1, min_col=1, max_col=width, values_only=True)
    ]
    for merged in sheet.merged_cells.ranges:
        top, column = merged.min_row - 1, merged.min_col - 1
        if top >= len(values):
            continue
        value = values[top][column]
        for below in range(top + 1, min(merged.max_row, len(values))):
            values[below][column] = value
    return [
        GridRow(number, number, tuple(cell_value_text(value) for value in row))
        for number, row in enumerate(values, start=1)
    ]


def _xlsx_source(document: SourceDocument, format_name: str) -> GridSource:
    """Every sheet with a task header, as tables of one plan; the others warned.

    A later sheet is read when it has a task header and its title row (if any) names the
    same period as the first task sheet's; otherwise it is left out with a
    ``skipped_sheet`` warning naming it, as is any non-empty sheet without a task header.
    """
    workbook = _open_workbook(document, read_only=False)
    try:
        sheets = [(str(sheet.title), _sheet_rows(sheet)) for sheet in workbook.worksheets]
    finally:
        workbook.close()
    return sheets_source(document, sheets, format_name)


def sheets_source(
    document: SourceDocument, sheets: Sequence[tuple[str, list[GridRow]]], format_name: str
) -> GridSource:
    """A workbook's sheets (name, rows) as one plan's tables: see :func:`_xlsx_source`."""
    read: list[tuple[str, list[GridRow]]] = []
    warnings: list[ParseWarning] = []
    first_period: tuple[int, int] | None = None
    for name, rows in sheets:
        found = find_header(rows)
        if found is None:
            if any(not row.is_empty for row in rows):
                warnings.append(_skipped_sheet(name, rows, f"row {{}} of sheet {name}"))
            continue
        title = title_from_rows(rows[: found[0]])
        period = find_plan_period(title) if title else None
        if not read:
            first_period = period
        elif period is not None and first_period is not None and period != first_period:
            warnings.append(
                ParseWarning(
                    line=None,
                    code="skipped_sheet",
                    message=f"sheet {name} is titled “{title}”, a different period "
                    f"({_years(period)}) from the plan's ({_years(first_period)}): not read; "
                    "import it as a plan of its own",
                )
            )
            continue
        read.append((name, rows))
    tables = [
        GridTable(
            row_view(document, rows, f"sheet {name}" if len(read) > 1 else None),
            rows,
            f"row {{}} of sheet {name}",
        )
        for name, rows in read
    ]
    if not tables:
        for name, rows in sheets:
            incomplete = find_incomplete_header(rows)
            if incomplete is not None:
                line = rows[incomplete[0]].first_line
                where = f"row {line} of sheet {name}"
                raise document.error(line, incomplete_header_message(incomplete[1], where))
        raise document.error(None, NO_HEADER)
    return GridSource(tables, format_name, warnings=warnings)


def _skipped_sheet(name: str, rows: Sequence[GridRow], where: str) -> ParseWarning:
    incomplete = find_incomplete_header(rows)
    if incomplete is not None:
        line = rows[incomplete[0]].first_line
        reason = incomplete_header_message(incomplete[1], where.format(line))
    else:
        reason = "it has no task header (序号 / 任务 / 牵头单位 / 时限) in its first rows"
    return ParseWarning(
        line=None, code="skipped_sheet", message=f"sheet {name} was not read: {reason}"
    )


def _years(period: tuple[int, int]) -> str:
    start, end = period
    return str(start) if start == end else f"{start}-{end}"


def row_view(
    document: SourceDocument, rows: Sequence[GridRow], label: str | None = None
) -> SourceDocument:
    """A document whose line N is table row N as written, so provenance reads like the table.

    ``label`` names the table ("sheet 二季度", "table 3") in each line when a plan is read
    from several tables, whose row numbers would otherwise be ambiguous.
    """
    prefix = f"[{label}] " if label else ""
    texts = [""] * max((row.last_line for row in rows), default=0)
    for row in rows:
        texts[row.first_line - 1] = prefix + " | ".join(_merged_once(row.cells)).rstrip(" |")
    return SourceDocument(document.file, document.data, texts, texts)


def _merged_once(cells: Sequence[str]) -> list[str]:
    """Cells with the repeats of a merged cell (the same text side by side) shown once."""
    shown: list[str] = []
    for cell in cells:
        if not shown or not cell or cell != shown[-1]:
            shown.append(cell)
    return shown


class LedgerParser:
    """CSV (UTF-8 or GB18030), XLSX and XLS ledgers: one task per row under a header row."""

    format = "ledger"

    def score(self, document: SourceDocument) -> int:
        if is_xls(document.data):
            try:
                sheets = [rows for _, rows in xls_sheets(document, HEADER_SEARCH_ROWS)]
            except DocumentError:
                return 0
            if any(find_header(rows) is not None for rows in sheets):
                return 90
            if any(find_incomplete_header(rows) is not None for rows in sheets):
                return _INCOMPLETE_HEADER_SCORE
            return 0
        if document.data[:4] == b"PK\x03\x04":
            if not _is_xlsx(document.data):
                return 0
            try:
                heads = _xlsx_heads(document)
            except DocumentError:
                return 0
            if any(find_header(rows) is not None for rows in heads):
                return 90
            if any(find_incomplete_header(rows) is not None for rows in heads):
                return _INCOMPLETE_HEADER_SCORE
            return 0
        if not document.raw_lines:
            return 0
        if _csv_delimiter(document) is not None:
            return 85 if document.suffix in _TABLE_FILE_SUFFIXES else 70
        if document.suffix in _TABLE_FILE_SUFFIXES and _csv_incomplete_header(document):
            return _INCOMPLETE_HEADER_SCORE
        return 0

    def what_it_reads(self, document: SourceDocument) -> SourceDocument:
        """The document without its normalised lines: a CSV is split and normalised cell by
        cell from its raw lines (provenance quotes them too), so the lines are not read."""
        if not document.lines or document.source_lines:
            return document
        return replace(document, lines=())

    def parse(self, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan:
        if _is_xlsx(document.data):
            return parse_grid(_xlsx_source(document, self.format), directory)
        if is_xls(document.data):
            sheets = xls_sheets(document)
            return parse_grid(sheets_source(document, sheets, self.format), directory)
        document = _csv_document(document)
        delimiter = _csv_delimiter(document)
        if delimiter is None:
            incomplete = _csv_incomplete_header(document)
            if incomplete is not None:
                line, columns = incomplete
                raise document.error(line, incomplete_header_message(columns, f"line {line}"))
            raise document.error(None, NO_HEADER)
        rows = _csv_rows(document, document.raw_lines, delimiter)
        table = GridTable(document, rows, "line {}")
        return parse_grid(GridSource([table], self.format), directory)


PARSER = LedgerParser()
