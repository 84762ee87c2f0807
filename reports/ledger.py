"""The XLSX 台账: xlsxwriter makes the workbook (styles, header, panes, filters, print setup,
the per-unit sheet) and the 100,000 task rows are put into its first sheet as SpreadsheetML
text, which is where xlsxwriter's per-cell cost went."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from domain.notice import Notice, TaskStanding
from reports.wording import light_label
from reports.zipfix import FAST_DEFLATE, NEEDS_XML_CARE, fixed_zip, xml_text

TASK_SHEET = "xl/worksheets/sheet1.xml"  # xlsxwriter names sheets by their order

TASK_HEADER = (
    "序号",
    "任务",
    "牵头单位",
    "配合单位",
    "完成时限",
    "阶段",
    "完成状态",
    "亮灯",
    "进度",
    "逾期天数",
    "督办级别",
    "督办次数",
    "最新进展",
)
TASK_WIDTHS = (6, 50, 16, 24, 12, 10, 10, 8, 8, 9, 9, 9, 40)
# A notice across plans numbers each plan's tasks from 1 again: the plan tells them apart.
PLAN_COLUMN = "所属计划"
PLAN_WIDTH = 24


def task_header(notice: Notice) -> tuple[str, ...]:
    """The 台账's columns; a notice across plans adds the plan each task belongs to."""
    return (*TASK_HEADER, PLAN_COLUMN) if notice.plan_id is None else TASK_HEADER


UNIT_HEADER = (
    "排名",
    "责任单位",
    "承担任务数",
    "已完成",
    "逾期完成",
    "序时推进",
    "滞后",
    "逾期",
    "完成率",
    "平均逾期天数",
    "退回",
    "视为同意",
)
LIGHT_FILLS = {"green": "#C6EFCE", "yellow": "#FFEB9C", "red": "#FFC7CE"}


def render_xlsx(notice: Notice) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    # The notice's own instant, not the clock: the same notice gives the same bytes.
    stamp = datetime(notice.as_of.year, notice.as_of.month, notice.as_of.day)
    book.set_properties({"title": notice.title, "author": notice.office, "created": stamp})
    header = book.add_format({"bold": True, "bg_color": "#D9D9D9", "border": 1})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    fills = {light: book.add_format({"bg_color": colour}) for light, colour in LIGHT_FILLS.items()}
    percent = book.add_format({"num_format": "0%"})
    # The task rows are written below as XML, so their formats need their style numbers now;
    # asking for one also makes xlsxwriter put the format in styles.xml.
    styles = _RowStyles(
        wrap=wrap._get_xf_index(),
        percent=percent._get_xf_index(),
        fills={light: fmt._get_xf_index() for light, fmt in fills.items()},
    )

    tasks = book.add_worksheet("台账")
    columns = task_header(notice)
    tasks.write_row(0, 0, columns, header)
    widths = TASK_WIDTHS if len(columns) == len(TASK_HEADER) else (*TASK_WIDTHS, PLAN_WIDTH)
    for column, width in enumerate(widths):
        tasks.set_column(column, column, width, wrap if width >= 24 else None)
    _print_setup(tasks, len(notice.tasks), len(columns))

    units = book.add_worksheet("分单位情况")
    units.write_row(0, 0, UNIT_HEADER, header)
    units.set_column(1, 1, 20)
    for row, u in enumerate(sorted(notice.units, key=lambda u: u.rank), start=1):
        units.write_row(
            row,
            0,
            (
                u.rank,
                u.unit,
                u.led,
                u.completed,
                u.completed_late,
                u.on_schedule,
                u.behind,
                u.overdue,
                round(u.completion_rate, 4),
                round(u.average_days_late, 1),
                u.refusals,
                u.silent_consents,
            ),
        )
    _print_setup(units, len(notice.units), len(UNIT_HEADER))
    book.close()
    # xlsxwriter spends some 5 µs a cell (13 cells a task) on bookkeeping; the task rows are
    # plain SpreadsheetML, so they are written as text into the sheet it made with the header.
    # Strings go inline (t="inlineStr", as Apache POI's streaming writer does): almost every
    # task and progress text is unique, so a shared-string table would only add a lookup.
    return fixed_zip(
        buffer.getvalue(),
        {TASK_SHEET: _with_task_rows(notice, styles)},
        compresslevel=FAST_DEFLATE,
    )


@dataclass(frozen=True)
class _RowStyles:
    wrap: int
    percent: int
    fills: dict[str, int]


def _with_task_rows(notice: Notice, styles: _RowStyles) -> Callable[[bytes], bytes]:
    def splice(xml: bytes) -> bytes:
        last = len(notice.tasks) + 1
        last_column = xl_col_to_name(len(task_header(notice)) - 1)
        sheet = xml.decode("utf-8")
        head, found, tail = sheet.partition("</sheetData>")
        if not found:
            raise RuntimeError(f"{TASK_SHEET} has no sheetData")
        # The header row alone set the dimension; the ledger's reaches the last task.
        head = head.replace(
            f'<dimension ref="A1:{last_column}1"/>', f'<dimension ref="A1:{last_column}{last}"/>'
        )
        rows = "".join(_task_rows_xml(notice.tasks, styles, with_plan=notice.plan_id is None))
        return f"{head}{rows}</sheetData>{tail}".encode()

    return splice


def task_texts(t: TaskStanding) -> tuple[str, ...]:
    """A 台账 row's text cells as written in every format: 序号, 任务, 牵头单位, 配合单位,
    完成时限, 阶段, 完成状态, 亮灯, then 最新进展 (the number cells come between)."""
    return (
        t.number,
        t.text,
        t.lead_unit or "",
        "、".join(t.cooperating_units),
        t.due.isoformat() if t.due else "",
        t.stage,
        t.status.label,
        light_label(t.light),
        t.last_progress_text or "",
    )


def _task_rows_xml(
    tasks: Iterable[TaskStanding], styles: _RowStyles, *, with_plan: bool
) -> Iterator[str]:
    wrap, percent = styles.wrap, styles.percent
    spans = f"1:{len(TASK_HEADER) + with_plan}"
    for row, t in enumerate(tasks, start=2):
        values = task_texts(t)
        # One search over the row's texts: most rows need no escaping at all.
        if NEEDS_XML_CARE.search("\n".join(values)):
            values = tuple(xml_text(value) for value in values)
        number, text, lead, cooperating, due, stage, status, light, progress = values
        yield (
            f'<row r="{row}" spans="{spans}">'
            f"{_text(f'A{row}', number)}"
            f"{_text(f'B{row}', text, wrap)}"
            f"{_text(f'C{row}', lead)}"
            f"{_text(f'D{row}', cooperating, wrap)}"
            f"{_text(f'E{row}', due)}"
            f"{_text(f'F{row}', stage)}"
            f"{_text(f'G{row}', status)}"
            f"{_text(f'H{row}', light, styles.fills.get(t.light or ''))}"
            f'<c r="I{row}" s="{percent}"><v>{t.progress_percent / 100!r}</v></c>'
            f'<c r="J{row}"><v>{t.days_overdue}</v></c>'
            f'<c r="K{row}"><v>{t.escalation_level}</v></c>'
            f'<c r="L{row}"><v>{t.escalations}</v></c>'
            f"{_text(f'M{row}', progress, wrap)}"
            f"{_text(f'N{row}', xml_text(t.plan_id), wrap) if with_plan else ''}"
            "</row>"
        )


def _text(ref: str, text: str, style: int | None = None) -> str:
    styled = f' s="{style}"' if style is not None else ""
    if not text:
        # Nothing to say is a blank cell (kept if its column is styled), not an empty text.
        return f'<c r="{ref}"{styled}/>' if styled else ""
    space = ' xml:space="preserve"' if text[0].isspace() or text[-1].isspace() else ""
    return f'<c r="{ref}"{styled} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _print_setup(sheet: xlsxwriter.worksheet.Worksheet, rows: int, columns: int) -> None:
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(rows, 1), columns - 1)
    sheet.set_landscape()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)  # one page wide, as many tall as it takes
    sheet.repeat_rows(0)
