"""The editable 台账: a parsed plan as a workbook a coordinator corrects, and read back.

``duban parse FILE --xlsx OUT.xlsx`` writes :func:`write_editable_ledger`; ``duban import
OUT.xlsx`` reads it with :data:`PARSER`, which recognises its own 计划信息 sheet and
outscores the plain ledger parser. An unedited workbook reads back as exactly the plan that
was written (model equality); an edited one is validated cell by cell, and any bad cell is
a DocumentError naming its sheet, row and column, with nothing imported.

The task sheet (任务清单) has one row per task. Cells holding several values put one per
line; cells with structured lines separate their fields with `` | ``:

- 完成时限: one milestone per line, ``2018-06-30 | 6月底前 | clause`` and, when the date was
  inferred, `` | year_from_plan,ambiguous`` (its flags); a date typed alone is read too;
- 周期: ``frequency=yearly, month=1 | 每年1月底前`` (the recurrence's fields, then its raw
  phrase);
- 提示: one warning per line, ``#3 | 12 | code | message`` (its place among the plan's
  warnings, its line, code and message).

Inside a field, a backslash escapes a line break (``\\n``), a ``|`` (``\\|``) and itself
(``\\\\``), so any text survives the trip. Units typed by the coordinator go through the
unit directory like any parser's: a line holding "A、B" is two units, aliases resolve to
canonical names, a group with known members expands (flagged group_expanded), a lead
filled in clears no_unit, and unknown names get their warning when the plan is parsed.
Other flags and the warnings are the coordinator's to keep or delete.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

import openpyxl
import xlsxwriter
from pydantic import BaseModel, ValidationError

from domain.errors import DocumentError
from domain.parsers.common import SourceDocument
from domain.plan import (
    DeadlineFlag,
    Milestone,
    ParsedPlan,
    ParseWarning,
    Plan,
    PlanTask,
    Provenance,
    Recurrence,
    TaskFlag,
)
from domain.units import UnitDirectory, split_units

FORMAT = "editable-ledger"
MARKER = "督办可编辑台账 duban editable ledger"
VERSION = 1
TASK_SHEET = "任务清单"
PLAN_SHEET = "计划信息"

# Warnings that parse_document recomputes from the units on every parse: written for the
# coordinator to see, dropped when read back so they are neither doubled nor stale.
RECOMPUTED_WARNINGS = frozenset({"unknown_unit", "unit_name_markup"})

# Excel's limit; xlsxwriter would cut a longer string silently.
MAX_CELL_CHARACTERS = 32767
# What a cell cannot carry exactly through xlsxwriter and openpyxl: xlsxwriter writes these
# control characters as _x000D_ (openpyxl reads that back literally), openpyxl deletes every
# "x005F_" it reads (its half of OOXML's escaping), and U+FFFE/U+FFFF are not XML.
_UNCARRIABLE = re.compile(r"[\x00-\x08\x0b-\x1f\ufffe\uffff]|x005F_")


@dataclass(frozen=True)
class TaskColumn:
    label: str  # the header cell, as the coordinator sees it
    width: int
    note: str  # the header's comment: what the cell holds and how to edit it


SEQ = TaskColumn("序号", 6, "序号 (sequence number): a whole number from 1.")
TASK_ID = TaskColumn(
    "编号", 8, "Task id, stable within the plan ('7', '41-2'). Blank on a new row: from 序号."
)
PART = TaskColumn("分项", 6, "分项 (part): set when one row of the document became several.")
CATEGORY = TaskColumn("分类", 18, "分类 (category): one section heading per line, outer first.")
TEXT = TaskColumn("任务", 50, "任务 (task text).")
LEAD = TaskColumn("牵头单位", 18, "牵头单位 (lead units): one unit per line (or A、B).")
COOPERATING = TaskColumn("配合单位", 22, "配合单位 (cooperating units): one unit per line.")
MILESTONES = TaskColumn(
    "完成时限",
    34,
    "完成时限 (milestones): one per line, 'YYYY-MM-DD | phrase as written | clause it governs'"
    ", then ' | flags' (implicit, ambiguous, target, year_from_plan) when inferred.",
)
RECURRENCE = TaskColumn(
    "周期",
    22,
    "周期 (recurrence): 'frequency=yearly, month=1, day=31 | 每年1月底前'; blank if none.",
)
ONGOING = TaskColumn("长期", 6, "长期 (ongoing, no due date): 是 or blank.")
STARTS = TaskColumn("开始", 12, "开始 (starts): the date the work starts, YYYY-MM-DD, or blank.")
FLAGS = TaskColumn("标记", 18, "标记 (flags): one per line; only the word before a space counts.")
WARNINGS = TaskColumn(
    "提示", 40, "提示 (warnings): one per line, '#order | line | code | message'."
)
SOURCE_FILE = TaskColumn("来源文件", 16, "来源文件 (source file) of the task.")
SOURCE_LINES = TaskColumn("来源行", 8, "来源行 (source lines): 'first-last' or one line.")
SOURCE_RAW = TaskColumn("原文", 40, "原文 (source text as read).")
TASK_COLUMNS = (
    SEQ,
    TASK_ID,
    PART,
    CATEGORY,
    TEXT,
    LEAD,
    COOPERATING,
    MILESTONES,
    RECURRENCE,
    ONGOING,
    STARTS,
    FLAGS,
    WARNINGS,
    SOURCE_FILE,
    SOURCE_LINES,
    SOURCE_RAW,
)

_TASK_LABELS = tuple(spec.label for spec in TASK_COLUMNS)

# The plan sheet's rows: one per Plan field, found again by these labels.
PLAN_LABELS: dict[str, str] = {
    "id": "计划编号 plan id",
    "title": "标题 title",
    "issuer": "发文单位 issuer",
    "document_number": "文号 document number",
    "issue_date": "印发日期 issue date",
    "period_start": "起始年份 period start",
    "period_end": "截止年份 period end",
    "source_file": "来源文件 source file",
    "format": "解析格式 read as",
}
PLAN_HEADER = ("项目 field", "内容 value")
PLAN_WARNINGS_TITLE = "计划提示 plan warnings"
PLAN_WARNINGS_HEADER = ("序号 order", "行 line", "代码 code", "说明 message", "任务编号 task")

TASK_FLAG_LABELS: dict[str, str] = {
    TaskFlag.INFERRED_LEAD: "推定牵头",
    TaskFlag.IMPLICIT_DEADLINE: "默认时限",
    TaskFlag.AMBIGUOUS_DATE: "日期待确认",
    TaskFlag.TARGET_DATE: "力争目标",
    TaskFlag.INHERITED_UNIT: "沿用上行单位",
    TaskFlag.TRUNCATED: "原文不完整",
    TaskFlag.SPLIT_PER_LEAD: "分别牵头拆分",
    TaskFlag.REPAIRED_ROW: "补齐缺格",
    TaskFlag.NO_UNIT: "未列单位",
    TaskFlag.GROUP_EXPANDED: "展开单位组",
}
# Excel counts 1900 as a leap year: its dates are right from 1 March 1900 on.
_FIRST_EXCEL_DATE = date(1900, 3, 1)
_ONGOING_WORDS = {"是": True, "": False, "否": False}


class EditableLedgerError(ValueError):
    """A plan that cannot be written as an editable 台账 exactly: says what and where."""


# ---------------------------------------------------------------- cell encodings


def _escape(field: str) -> str:
    return field.replace("\\", "\\\\").replace("\n", "\\n").replace("|", "\\|")


def _unescape(field: str) -> str:
    return _split_fields(field, separator=None)[0]


def _join_fields(fields: Sequence[str]) -> str:
    return " | ".join(_escape(field) for field in fields)


def _split_fields(line: str, separator: str | None = "|") -> list[str]:
    """A line's fields, split on every unescaped ``|`` and unescaped. The one space either
    side of a separator that the writer puts there is removed (an escape never yields a
    space), so a field keeps any other spaces; a coordinator may also type ``a|b``."""
    pieces: list[list[str]] = [[]]
    escaped = False
    for char in line:
        if escaped:
            pieces[-1].append("\n" if char == "n" else char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            pieces.append([])
        else:
            pieces[-1].append(char)
    if escaped:  # a lone backslash at the end stands for itself
        pieces[-1].append("\\")
    fields = ["".join(piece) for piece in pieces]
    last = len(fields) - 1
    for index, field in enumerate(fields):
        if index > 0 and field.startswith(" "):
            field = field[1:]
        if index < last and field.endswith(" "):
            field = field[:-1]
        fields[index] = field
    return fields


def _join_lines(items: Sequence[str]) -> str:
    return "\n".join(item.replace("\\", "\\\\").replace("\n", "\\n") for item in items)


def _split_lines(cell: str) -> list[str]:
    """The items of a one-per-line cell; empty lines (a coordinator's spacing) are none."""
    return [_unescape(line) for line in cell.split("\n") if line]


def _lines_text(lines: tuple[int, int]) -> str:
    first, last = lines
    return str(first) if first == last else f"{first}-{last}"


def _milestone_line(milestone: Milestone) -> str:
    fields = [milestone.due.isoformat(), milestone.raw, milestone.text]
    if milestone.flags:
        fields.append(",".join(milestone.flags))
    return _join_fields(fields)


def _recurrence_text(recurrence: Recurrence) -> str:
    """The recurrence's fields other than its phrase as ``name=value``, then the phrase:
    written from the model's fields, so a field added to Recurrence travels too."""
    values = recurrence.model_dump(mode="json")
    raw = values.pop("raw")
    pairs = ", ".join(f"{name}={value}" for name, value in values.items() if value is not None)
    return _join_fields([pairs, raw])


def _flag_line(flag: str) -> str:
    label = TASK_FLAG_LABELS.get(flag)
    return f"{flag} {label}" if label else flag


def _warning_line(order: int, warning: ParseWarning) -> str:
    line = "" if warning.line is None else str(warning.line)
    return _join_fields([f"#{order}", line, warning.code, warning.message])


# ---------------------------------------------------------------- writing


def write_editable_ledger(parsed: ParsedPlan) -> bytes:
    """The plan as an editable 台账 (XLSX bytes); :data:`PARSER` reads it back exactly.

    Raises EditableLedgerError for a plan holding text no spreadsheet cell carries exactly
    (a string over 32,767 characters, a carriage return): nothing is written then.
    """
    _check_carriable(parsed)
    order = {id(warning): number for number, warning in enumerate(parsed.warnings, start=1)}
    task_ids = {task.id for task in parsed.tasks}
    task_warnings: dict[str, list[ParseWarning]] = {}
    plan_warnings: list[ParseWarning] = []
    for warning in parsed.warnings:
        if warning.task_id is not None and warning.task_id in task_ids:
            task_warnings.setdefault(warning.task_id, []).append(warning)
        else:
            plan_warnings.append(warning)

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False}
    )
    # A fixed creation time: the same plan gives the same bytes.
    book.set_properties({"title": parsed.plan.title, "created": datetime(2000, 1, 1)})
    header = book.add_format(
        {"bold": True, "bg_color": "#D9D9D9", "border": 1, "text_wrap": True, "valign": "top"}
    )
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    top = book.add_format({"valign": "top"})
    day = book.add_format({"num_format": "yyyy-mm-dd", "valign": "top"})

    sheet = book.add_worksheet(TASK_SHEET)
    for column, spec in enumerate(TASK_COLUMNS):
        sheet.write_string(0, column, spec.label, header)
        sheet.write_comment(0, column, spec.note, {"x_scale": 2, "y_scale": 1.5})
        sheet.set_column(column, column, spec.width, wrap if spec.width >= 16 else top)
    position = {spec: index for index, spec in enumerate(TASK_COLUMNS)}

    def text(row: int, spec: TaskColumn, value: str) -> None:
        if value:
            sheet.write_string(row, position[spec], value, wrap)

    for row, task in enumerate(parsed.tasks, start=1):
        sheet.write_number(row, position[SEQ], task.seq, top)
        sheet.write_string(row, position[TASK_ID], task.id, top)
        if task.part is not None:
            sheet.write_number(row, position[PART], task.part, top)
        text(row, CATEGORY, _join_lines(task.category))
        text(row, TEXT, task.text)
        text(row, LEAD, _join_lines(task.lead_units))
        text(row, COOPERATING, _join_lines(task.cooperating_units))
        text(row, MILESTONES, "\n".join(_milestone_line(m) for m in task.milestones))
        if task.recurrence is not None:
            text(row, RECURRENCE, _recurrence_text(task.recurrence))
        if task.ongoing:
            sheet.write_string(row, position[ONGOING], "是", top)
        if task.starts is not None and task.starts >= _FIRST_EXCEL_DATE:
            sheet.write_datetime(row, position[STARTS], datetime(*task.starts.timetuple()[:3]), day)
        elif task.starts is not None:
            sheet.write_string(row, position[STARTS], task.starts.isoformat(), top)
        text(row, FLAGS, "\n".join(_flag_line(flag) for flag in task.flags))
        text(
            row,
            WARNINGS,
            "\n".join(_warning_line(order[id(w)], w) for w in task_warnings.get(task.id, [])),
        )
        text(row, SOURCE_FILE, task.source.file)
        sheet.write_string(row, position[SOURCE_LINES], _lines_text(task.source.lines), top)
        text(row, SOURCE_RAW, task.source.raw)
    last_row = max(len(parsed.tasks), 1)
    sheet.freeze_panes(1, 2)
    sheet.autofilter(0, 0, last_row, len(TASK_COLUMNS) - 1)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.repeat_rows(0)
    sheet.fit_to_pages(1, 0)
    # Validation where it is cheap: it guides typing, the reader checks everything anyway.
    sheet.data_validation(
        1,
        position[ONGOING],
        last_row + 1000,
        position[ONGOING],
        {"validate": "list", "source": ["是", "否"]},
    )
    sheet.data_validation(
        1,
        position[STARTS],
        last_row + 1000,
        position[STARTS],
        {
            "validate": "date",
            "criteria": "between",
            "minimum": date(1990, 1, 1),
            "maximum": date(2100, 12, 31),
            "error_message": "开始 is a date: YYYY-MM-DD",
        },
    )
    sheet.data_validation(
        1,
        position[SEQ],
        last_row + 1000,
        position[SEQ],
        {"validate": "integer", "criteria": ">=", "value": 1},
    )

    _write_plan_sheet(book, parsed, plan_warnings, order, header, wrap)
    book.close()
    return buffer.getvalue()


def _write_plan_sheet(
    book: Any,
    parsed: ParsedPlan,
    plan_warnings: Sequence[ParseWarning],
    order: dict[int, int],
    header: Any,
    wrap: Any,
) -> None:
    sheet = book.add_worksheet(PLAN_SHEET)
    sheet.set_column(0, 0, 24)
    sheet.set_column(1, 1, 50, wrap)
    sheet.set_column(2, 2, 20, wrap)
    sheet.set_column(3, 3, 60, wrap)
    sheet.set_column(4, 4, 12)
    sheet.write_string(0, 0, MARKER, header)
    sheet.write_number(0, 1, VERSION)
    sheet.write_row(2, 0, PLAN_HEADER, header)
    row = 3
    values = parsed.plan.model_dump(mode="json")
    for name in Plan.model_fields:
        sheet.write_string(row, 0, PLAN_LABELS.get(name, name))
        value = values[name]
        if isinstance(value, int):
            sheet.write_number(row, 1, value)
        elif value is not None:
            sheet.write_string(row, 1, str(value), wrap)
        row += 1
    row += 1
    sheet.write_string(row, 0, PLAN_WARNINGS_TITLE, header)
    row += 1
    sheet.write_row(row, 0, PLAN_WARNINGS_HEADER, header)
    for warning in plan_warnings:
        row += 1
        sheet.write_number(row, 0, order[id(warning)])
        if warning.line is not None:
            sheet.write_number(row, 1, warning.line)
        sheet.write_string(row, 2, warning.code)
        sheet.write_string(row, 3, warning.message, wrap)
        if warning.task_id is not None:
            sheet.write_string(row, 4, warning.task_id)
    sheet.freeze_panes(3, 0)


def _check_carriable(parsed: ParsedPlan) -> None:
    plan = parsed.plan
    for name, value in plan.model_dump().items():
        if isinstance(value, str):
            _check_string(value, f"the plan's {name}")
    for task in parsed.tasks:
        strings = [
            ("id", task.id),
            ("text", task.text),
            ("source file", task.source.file),
            ("source text", task.source.raw),
            *(("category", value) for value in task.category),
            *(("lead unit", value) for value in task.lead_units),
            *(("cooperating unit", value) for value in task.cooperating_units),
            *(("deadline", value) for m in task.milestones for value in (m.raw, m.text)),
        ]
        if task.recurrence is not None:
            strings.append(("recurrence", task.recurrence.raw))
        for what, value in strings:
            _check_string(value, f"task {task.id}'s {what}")
    for warning in parsed.warnings:
        _check_string(warning.code + warning.message, f"warning {warning.code!r}")


def _check_string(value: str, what: str) -> None:
    if len(value) > MAX_CELL_CHARACTERS:
        raise EditableLedgerError(
            f"{what} is {len(value):,} characters long, more than a spreadsheet cell holds "
            f"({MAX_CELL_CHARACTERS:,})"
        )
    found = _UNCARRIABLE.search(value)
    if found:
        raise EditableLedgerError(
            f"{what} holds {found.group()!r}, which a spreadsheet cell cannot carry exactly"
        )


# ---------------------------------------------------------------- reading


class _CellError(Exception):
    """One bad cell: the message says what is wrong with its value."""


@dataclass(frozen=True)
class _Problem:
    sheet: str
    row: int
    column: str
    message: str

    def describe(self) -> str:
        return f"sheet {self.sheet} row {self.row}, {self.column}: {self.message}"


def _cell_text(value: object) -> str:
    """A cell as the text the writer put there; a coordinator's number or date as text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def _parse_date(text: str) -> date:
    """YYYY-MM-DD, also as a coordinator may type it: 2018/6/30, 2018.6.30, 2018年6月30日."""
    match = _DATE.fullmatch(text.strip())
    if match is None:
        raise _CellError(f"{text!r} is not a date (write YYYY-MM-DD)")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise _CellError(f"{text!r} is not a date (write YYYY-MM-DD)") from None


def _parse_date_cell(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _cell_text(value)
    return _parse_date(text) if text.strip() else None


def _optional_number(text: str, minimum: int) -> int | None:
    return _parse_whole_number(text, minimum=minimum) if text.strip() else None


def _parse_whole_number(value: object, minimum: int) -> int:
    text = _cell_text(value).strip()
    if not re.fullmatch(r"\d+", text) or int(text) < minimum:
        raise _CellError(f"{text!r} is not a whole number from {minimum}")
    return int(text)


_Flag = TypeVar("_Flag", TaskFlag, DeadlineFlag)


def _parse_flag(word: str, kind: type[_Flag]) -> _Flag:
    try:
        return kind(word)
    except ValueError:
        known = ", ".join(flag.value for flag in kind)
        raise _CellError(f"{word!r} is not a flag (one of: {known})") from None


def _parse_milestone(line: str) -> Milestone:
    """A milestone line; a coordinator may type the date alone (it is then its own phrase)
    or the date and its phrase."""
    fields = _split_fields(line)
    if len(fields) > 4:
        raise _CellError(
            f"{line!r} is not 'YYYY-MM-DD | phrase | clause' (with ' | flags' after it)"
        )
    due_text, raw, text, flag_text = (*fields, *([""] * (4 - len(fields))))
    if len(fields) == 1:
        raw = due_text.strip()
    flags = [
        _parse_flag(word.strip(), DeadlineFlag) for word in flag_text.split(",") if word.strip()
    ]
    return Milestone(due=_parse_date(due_text), raw=raw, text=text, flags=flags)


def _parse_recurrence(cell: str) -> Recurrence | None:
    if not cell.strip():
        return None
    fields = _split_fields(cell)
    if len(fields) != 2:
        raise _CellError(f"{cell!r} is not 'frequency=…, month=…, day=… | phrase'")
    values: dict[str, str] = {}
    for pair in fields[0].split(","):
        if not pair.strip():
            continue
        name, equals, value = pair.partition("=")
        if not equals or name.strip() not in Recurrence.model_fields:
            raise _CellError(f"{pair.strip()!r} is not one of frequency=, month=, day=")
        values[name.strip()] = value.strip()
    return _validated(Recurrence, {**values, "raw": fields[1]})


_Model = TypeVar("_Model", bound=BaseModel)
_T = TypeVar("_T")


def _validated(model: type[_Model], values: dict[str, Any]) -> _Model:
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise _CellError(f"{where + ': ' if where else ''}{first['msg']}") from None


def _parse_lines(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", text)
    if match is None:
        raise _CellError(f"{text!r} is not a line or 'first-last' lines")
    first = int(match[1])
    return first, int(match[2]) if match[2] else first


@dataclass(frozen=True)
class _OrderedWarning:
    order: int | None
    position: int  # where it was read, for warnings without an order number
    warning: ParseWarning


def _parse_warning_line(line: str, task_id: str | None, position: int) -> _OrderedWarning:
    fields = _split_fields(line)
    if len(fields) != 4:
        raise _CellError(f"{line!r} is not '#order | line | code | message'")
    order_text, line_text, code, message = fields
    order_match = re.fullmatch(r"\s*#?\s*(\d*)\s*", order_text)
    if order_match is None:
        raise _CellError(f"{order_text!r} is not a warning's place ('#3')")
    order = int(order_match[1]) if order_match[1] else None
    warning_line = _parse_whole_number(line_text, minimum=0) if line_text.strip() else None
    warning = ParseWarning(line=warning_line, code=code, message=message, task_id=task_id)
    return _OrderedWarning(order, position, warning)


def _resolve_units(
    cell: str, directory: UnitDirectory, exclude: Sequence[str] = ()
) -> tuple[list[str], bool]:
    """The units of a cell, one per line or as a coordinator types them ("A、B"), through
    the directory: aliases resolved, known groups expanded (second value: whether one was)."""
    units: list[str] = []
    expanded = False
    for line in _split_lines(cell):
        for name in split_units(line):
            members = directory.members(name)
            expanded = expanded or members is not None
            for unit in members if members is not None else [directory.resolve(name)]:
                if unit and unit not in units and unit not in exclude:
                    units.append(unit)
    return units, expanded


class _SheetReader:
    """Reads cells of one sheet, collecting every bad cell instead of stopping at the first."""

    def __init__(self, sheet: str) -> None:
        self.sheet = sheet
        self.problems: list[_Problem] = []

    def read(self, row: int, column: str, parse: Callable[..., _T], *args: Any) -> _T | None:
        """``parse(*args)``, or None with the cell's problem noted."""
        try:
            return parse(*args)
        except _CellError as error:
            self.problems.append(_Problem(self.sheet, row, column, str(error)))
            return None

    def note(self, row: int, column: str, message: str) -> None:
        self.problems.append(_Problem(self.sheet, row, column, message))


def _open(document: SourceDocument) -> Any:
    try:
        return openpyxl.load_workbook(io.BytesIO(document.data), read_only=True, data_only=True)
    except Exception as error:  # a damaged workbook fails in many ways inside openpyxl
        raise document.error(None, f"not a readable XLSX workbook ({error})") from None


def _rows(workbook: Any, name: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in workbook[name].iter_rows(values_only=True)]


_SHEET_NAME = re.compile(r'<(?:\w+:)?sheet\b[^>]*?\bname="([^"]*)"')


def _first_row(workbook: Any, name: str) -> tuple[object, ...]:
    if name not in workbook.sheetnames:
        return ()
    return next(workbook[name].iter_rows(max_row=1, values_only=True), None) or ()


def _recognition(document: SourceDocument) -> int:
    """100 for a workbook with the 计划信息 marker; 95 for one whose task sheet is ours but
    whose marker is gone (parse then says so, rather than a ledger parser misreading it)."""
    if document.data[:4] != b"PK\x03\x04":
        return 0
    try:
        with zipfile.ZipFile(io.BytesIO(document.data)) as archive:
            if "xl/workbook.xml" not in archive.namelist():
                return 0
            # The sheet names first: opening a big ledger in openpyxl reads all its strings.
            workbook_xml = archive.read("xl/workbook.xml").decode("utf-8", "replace")
            names = {html.unescape(name) for name in _SHEET_NAME.findall(workbook_xml)}
            if PLAN_SHEET not in names and TASK_SHEET not in names:
                return 0
        workbook = _open(document)
    except (zipfile.BadZipFile, DocumentError, KeyError, OSError):
        return 0
    try:
        marker = _first_row(workbook, PLAN_SHEET)[:1]
        if marker == (MARKER,):
            return 100
        header = tuple(_cell_text(cell).strip() for cell in _first_row(workbook, TASK_SHEET))
        return 95 if header[: len(TASK_COLUMNS)] == _TASK_LABELS else 0
    except Exception:  # a damaged sheet fails in many ways inside openpyxl: not ours to read
        return 0
    finally:
        workbook.close()


class EditableLedgerParser:
    """The editable 台账 this module writes, recognised by its 计划信息 sheet's marker."""

    format = FORMAT

    def score(self, document: SourceDocument) -> int:
        # Above the plain ledger parser (90), which would also read its task sheet.
        return _recognition(document)

    def parse(self, document: SourceDocument, directory: UnitDirectory) -> ParsedPlan:
        workbook = _open(document)
        try:
            for name in (TASK_SHEET, PLAN_SHEET):
                if name not in workbook.sheetnames:
                    raise document.error(None, f"the editable 台账 has no sheet {name}")
            plan_rows = _rows(workbook, PLAN_SHEET)
            task_rows = _rows(workbook, TASK_SHEET)
        except DocumentError:
            raise
        except Exception as error:  # damaged sheet XML fails in many ways inside openpyxl
            raise document.error(None, f"not a readable XLSX workbook ({error})") from None
        finally:
            workbook.close()
        if not plan_rows or not plan_rows[0] or plan_rows[0][0] != MARKER:
            raise document.error(
                1,
                f"sheet {TASK_SHEET} is an editable 台账's, but sheet {PLAN_SHEET} does not "
                f"start with “{MARKER}”: restore the sheet from the file Duban wrote",
            )
        version = plan_rows[0][1] if len(plan_rows[0]) > 1 else None
        if version != VERSION:
            raise document.error(
                1, f"sheet {PLAN_SHEET}: format version {version!r}, this Duban reads {VERSION}"
            )
        plan_sheet = _SheetReader(PLAN_SHEET)
        plan, plan_warnings = _read_plan_sheet(plan_rows, plan_sheet)
        task_sheet = _SheetReader(TASK_SHEET)
        tasks, task_warnings = _read_task_sheet(document, task_rows, task_sheet, directory)
        problems = [*task_sheet.problems, *plan_sheet.problems]
        if problems:
            first = problems[0]
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            shown = "; ".join(problem.describe() for problem in problems[:5])
            raise document.error(first.row, shown + more)
        assert plan is not None
        ordered = sorted(
            [*task_warnings, *plan_warnings],
            key=lambda item: (item.order is None, item.order or 0, item.position),
        )
        warnings = [
            item.warning for item in ordered if item.warning.code not in RECOMPUTED_WARNINGS
        ]
        return ParsedPlan(plan=plan, tasks=tasks, warnings=warnings)


def _read_plan_sheet(
    rows: Sequence[tuple[object, ...]], reader: _SheetReader
) -> tuple[Plan | None, list[_OrderedWarning]]:
    by_label = {label: name for name, label in PLAN_LABELS.items()}
    values: dict[str, Any] = {}
    label_rows: dict[str, int] = {}
    warnings: list[_OrderedWarning] = []
    in_warnings = False
    for number, row in enumerate(rows, start=1):
        cells = [*row, *([None] * (len(PLAN_WARNINGS_HEADER) - len(row)))]
        first = _cell_text(cells[0])
        if number <= 3 or not any(_cell_text(cell).strip() for cell in cells):
            continue
        if first == PLAN_WARNINGS_TITLE:
            in_warnings = True
            continue
        if in_warnings:
            if tuple(_cell_text(cell) for cell in cells[: len(PLAN_WARNINGS_HEADER)]) == (
                PLAN_WARNINGS_HEADER
            ):
                continue
            warnings.append(_read_plan_warning(cells, number, reader))
            continue
        name = by_label.get(first, first if first in Plan.model_fields else None)
        if name is None:
            reader.problems.append(
                _Problem(reader.sheet, number, "A", f"{first!r} is not a plan field")
            )
            continue
        label_rows[name] = number
        values[name] = _plan_value(name, cells[1], number, reader)
    for name in Plan.model_fields:
        if name not in values and Plan.model_fields[name].is_required():
            reader.problems.append(
                _Problem(reader.sheet, 3, "A", f"the row {PLAN_LABELS.get(name, name)} is missing")
            )
    if reader.problems:
        return None, warnings
    try:
        return Plan.model_validate(values), warnings
    except ValidationError as error:
        for problem in error.errors():
            name = str(problem["loc"][0]) if problem["loc"] else ""
            reader.problems.append(
                _Problem(
                    reader.sheet,
                    label_rows.get(name, 3),
                    PLAN_LABELS.get(name, name),
                    f"{values.get(name)!r}: {problem['msg']}",
                )
            )
        return None, warnings


def _plan_value(name: str, cell: object, row: int, reader: _SheetReader) -> object:
    """A plan field's cell as the model takes it: text (pydantic reads numbers from it),
    a date however typed, and a blank optional field as None."""
    field = Plan.model_fields[name]
    text = _cell_text(cell)
    if not text and not field.is_required():
        return None
    if field.annotation in (date, date | None):
        return reader.read(row, PLAN_LABELS.get(name, name), _parse_date_cell, cell)
    return text


def _read_plan_warning(
    cells: Sequence[object], number: int, reader: _SheetReader
) -> _OrderedWarning:
    order_text, line_text, code, message, task_id = (_cell_text(cell) for cell in cells[:5])
    order = reader.read(number, PLAN_WARNINGS_HEADER[0], _optional_number, order_text, 1)
    line = reader.read(number, PLAN_WARNINGS_HEADER[1], _optional_number, line_text, 0)
    warning = ParseWarning(line=line, code=code, message=message, task_id=task_id or None)
    return _OrderedWarning(order, number, warning)


def _header_positions(
    header: Sequence[object], reader: _SheetReader
) -> dict[TaskColumn, int] | None:
    labels = [_cell_text(cell).strip() for cell in header]
    positions: dict[TaskColumn, int] = {}
    for spec in TASK_COLUMNS:
        if spec.label in labels:
            positions[spec] = labels.index(spec.label)
        else:
            reader.problems.append(
                _Problem(reader.sheet, 1, spec.label, "the column is missing from the header")
            )
    return None if reader.problems else positions


def _read_task_sheet(
    document: SourceDocument,
    rows: Sequence[tuple[object, ...]],
    reader: _SheetReader,
    directory: UnitDirectory,
) -> tuple[list[PlanTask], list[_OrderedWarning]]:
    if not rows:
        reader.problems.append(_Problem(reader.sheet, 1, "序号", "the sheet is empty"))
        return [], []
    positions = _header_positions(rows[0], reader)
    if positions is None:
        return [], []
    tasks: list[PlanTask] = []
    warnings: list[_OrderedWarning] = []
    id_rows: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(_cell_text(cell).strip() for cell in row):
            continue
        cells = {
            spec: row[index] if index < len(row) else None for spec, index in positions.items()
        }
        read = _task_row(document, number, cells, reader, directory)
        if read is None:
            continue
        task, row_warnings = read
        if task.id in id_rows:
            reader.problems.append(
                _Problem(
                    reader.sheet,
                    number,
                    TASK_ID.label,
                    f"task id {task.id!r} is already used in row {id_rows[task.id]}",
                )
            )
            continue
        id_rows[task.id] = number
        tasks.append(task)
        warnings.extend(row_warnings)
    if not tasks and not reader.problems:
        reader.problems.append(_Problem(reader.sheet, 2, TEXT.label, "the sheet holds no task"))
    return tasks, warnings


def _task_row(
    document: SourceDocument,
    number: int,
    cells: dict[TaskColumn, object],
    reader: _SheetReader,
    directory: UnitDirectory,
) -> tuple[PlanTask, list[_OrderedWarning]] | None:
    before = len(reader.problems)

    def text(spec: TaskColumn) -> str:
        return _cell_text(cells[spec])

    seq = reader.read(number, SEQ.label, _parse_whole_number, cells[SEQ], 1) or 1
    part = reader.read(number, PART.label, _optional_number, text(PART), 1)
    task_id = text(TASK_ID) or (f"{seq}" if part is None else f"{seq}-{part}")
    task_text = text(TEXT)
    if not task_text.strip():
        reader.note(number, TEXT.label, "the task text is empty")
    flags: list[TaskFlag] = []
    for line in _split_lines(text(FLAGS)):
        word = line.split(" ")[0]
        flag = reader.read(number, FLAGS.label, _parse_flag, word, TaskFlag) if word else None
        if flag is not None:
            flags.append(flag)
    leads, leads_expanded = _resolve_units(text(LEAD), directory)
    cooperating, cooperating_expanded = _resolve_units(text(COOPERATING), directory, leads)
    if (leads_expanded or cooperating_expanded) and TaskFlag.GROUP_EXPANDED not in flags:
        flags.append(TaskFlag.GROUP_EXPANDED)
    # No parser flags no_unit on a task with a lead: a lead the coordinator fills in clears
    # it. (A task without units need not carry it: a truncated one, say, says so itself.)
    if leads:
        flags = [flag for flag in flags if flag is not TaskFlag.NO_UNIT]
    milestones = [
        milestone
        for line in text(MILESTONES).split("\n")
        if line.strip()
        and (milestone := reader.read(number, MILESTONES.label, _parse_milestone, line))
    ]
    recurrence = reader.read(number, RECURRENCE.label, _parse_recurrence, text(RECURRENCE))
    ongoing_text = text(ONGOING).strip()
    if ongoing_text not in _ONGOING_WORDS:
        reader.note(number, ONGOING.label, f"{ongoing_text!r} is not 是 or blank")
    starts = reader.read(number, STARTS.label, _parse_date_cell, cells[STARTS])
    source_file, lines_text = text(SOURCE_FILE), text(SOURCE_LINES)
    if not source_file and not lines_text.strip():
        # A row the coordinator added: its source is this workbook's row.
        source = Provenance(file=document.file, lines=(number, number), raw=text(SOURCE_RAW))
    else:
        lines = reader.read(number, SOURCE_LINES.label, _parse_lines, lines_text)
        source = Provenance(file=source_file, lines=lines or (number, number), raw=text(SOURCE_RAW))
    warnings = [
        warning
        for line in text(WARNINGS).split("\n")
        if line.strip()
        and (
            warning := reader.read(
                number, WARNINGS.label, _parse_warning_line, line, task_id, number
            )
        )
    ]
    if len(reader.problems) > before:
        return None
    task = PlanTask(
        id=task_id,
        seq=seq,
        part=part,
        category=_split_lines(text(CATEGORY)),
        text=task_text,
        lead_units=leads,
        cooperating_units=cooperating,
        milestones=milestones,
        recurrence=recurrence,
        ongoing=_ONGOING_WORDS.get(ongoing_text, False),
        starts=starts,
        source=source,
        flags=list(dict.fromkeys(flags)),
    )
    return task, warnings


PARSER = EditableLedgerParser()
