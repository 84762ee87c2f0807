"""The DOCX 公文 (GB/T 9704): A4, margins 3.7/3.5/2.8/2.6 cm, title 2号 方正小标宋简体, body
3号 仿宋_GB2312, headings 一、 in 黑体 and （一） in 楷体, page numbers "— 1 —" in 4号 宋体.

Word picks a Chinese font from the run's East Asian slot (w:eastAsia), not the Latin one, so
every run names its font in both. The attached tables can hold 100,000 rows; python-docx
builds a cell in about a millisecond, and lxml moving a parsed 100,000-row table into the
document costs minutes, so each table is left as a placeholder paragraph and its XML text is
put in its place when the file is written.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn
from docx.shared import Cm, Pt
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from domain.notice import Notice, TaskStanding
from reports.chart import render_chart
from reports.wording import Wording, light_label, pct
from reports.zipfix import FAST_DEFLATE, NEEDS_XML_CARE, fixed_zip, xml_text

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEADING_FONT = "黑体"
SUBHEADING_FONT = "楷体"
PAGE_NUMBER_FONT = "宋体"
TITLE_SIZE = Pt(22)  # 2号
BODY_SIZE = Pt(16)  # 3号
PAGE_NUMBER_SIZE = Pt(14)  # 4号
TABLE_HALF_POINTS = 21  # 五号, 10.5 pt, so that an attached table fits the page width

_RUN_PROPS = (
    f'<w:rPr><w:rFonts w:ascii="{BODY_FONT}" w:hAnsi="{BODY_FONT}" w:eastAsia="{BODY_FONT}"/>'
    f'<w:sz w:val="{TABLE_HALF_POINTS}"/></w:rPr>'
)


# What sends a table row (its cells joined by "\n") the slow way: a character to escape or
# drop, a cell with an edge space, or an empty cell (two separators together, or at an end).
_PLAIN_ROW_NOT = re.compile(NEEDS_XML_CARE.pattern + r"|^$|^\s|\s$|\n\s|\s\n")

Cell = tuple[str, int, str]  # text, columns spanned, vertical merge ("", "restart", "continue")


def set_font(run: Run, font: str, size: Pt) -> None:
    run.font.name = font
    run.font.size = size
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)


def add_text(
    document: DocumentObject,
    text: str,
    font: str = BODY_FONT,
    size: Pt = BODY_SIZE,
    *,
    indent: bool = False,
    centre: bool = False,
) -> Paragraph:
    paragraph = document.add_paragraph()
    if indent:
        paragraph.paragraph_format.first_line_indent = Pt(size.pt * 2)
    if centre:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    set_font(paragraph.add_run(text), font, size)
    return paragraph


def render_docx(notice: Notice, wording: Wording) -> bytes:
    document = Document()
    _page_setup(document)
    w = wording
    add_text(document, w.issue_line, centre=True)
    add_text(document, notice.title, TITLE_FONT, TITLE_SIZE, centre=True)
    add_text(document, w.addressees)
    add_text(document, w.opening, indent=True)

    add_text(document, w.heading_overall, HEADING_FONT, indent=True)
    add_text(document, w.overall, indent=True)

    add_text(document, w.heading_units, HEADING_FONT, indent=True)
    add_text(document, w.units_summary, indent=True)
    tables: list[str] = []
    document.add_picture(io.BytesIO(render_chart(notice)), width=Cm(15))

    add_text(document, w.heading_problems, HEADING_FONT, indent=True)
    add_text(document, w.heading_overdue, SUBHEADING_FONT, indent=True)
    if notice.overdue:
        _append_table(
            document,
            tables,
            _overdue_header(),
            _overdue_rows(notice.overdue),
            (1800, 3600, 1400, 900, 900, 900),
        )
    else:
        add_text(document, "无。", indent=True)
    add_text(document, w.heading_silent, SUBHEADING_FONT, indent=True)
    add_text(document, "、".join(notice.silent_units) or "无。", indent=True)

    add_text(document, w.heading_next_month, HEADING_FONT, indent=True)
    add_text(document, w.heading_due_next, SUBHEADING_FONT, indent=True)
    due = "；".join(
        f"{t.number} {t.text}（{t.lead_unit or ''}，{t.due}）" for t in notice.due_next_month
    )
    add_text(document, due or "无。", indent=True)
    add_text(document, w.heading_changes, SUBHEADING_FONT, indent=True)
    add_text(document, w.changes, indent=True)

    add_text(document, w.heading_requirements, HEADING_FONT, indent=True)
    add_text(document, w.requirements, indent=True)

    document.add_page_break()  # type: ignore[no-untyped-call]
    add_text(document, w.heading_attachment_tasks, HEADING_FONT)
    _append_table(
        document,
        tables,
        _task_header(),
        _task_rows(notice.tasks),
        (500, 2400, 1000, 1000, 900, 1500, 700, 500),
    )
    add_text(document, w.heading_attachment_units, HEADING_FONT)
    _append_table(
        document,
        tables,
        _unit_header(),
        _unit_rows(notice),
        (500, 1600, 800, 650, 650, 650, 650, 700, 800, 600, 800),
    )
    _fix_properties(document, notice)
    buffer = io.BytesIO()
    document.save(buffer)
    return fixed_zip(
        buffer.getvalue(),
        {"word/document.xml": _tables_in_place(tables)},
        compresslevel=FAST_DEFLATE,
    )


def _page_setup(document: DocumentObject) -> None:
    section = document.sections[0]
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.top_margin, section.bottom_margin = Cm(3.7), Cm(3.5)
    section.left_margin, section.right_margin = Cm(2.8), Cm(2.6)
    normal = document.styles["Normal"]
    normal.font.name = BODY_FONT
    normal.font.size = BODY_SIZE
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    set_font(footer.add_run("— "), PAGE_NUMBER_FONT, PAGE_NUMBER_SIZE)
    for kind, instruction in (("begin", None), (None, " PAGE "), ("end", None)):
        run = footer.add_run()
        set_font(run, PAGE_NUMBER_FONT, PAGE_NUMBER_SIZE)
        if kind:
            run._element.append(parse_xml(f'<w:fldChar {nsdecls("w")} w:fldCharType="{kind}"/>'))
        else:
            run._element.append(
                parse_xml(
                    f'<w:instrText {nsdecls("w")} xml:space="preserve">{instruction}</w:instrText>'
                )
            )
    set_font(footer.add_run(" —"), PAGE_NUMBER_FONT, PAGE_NUMBER_SIZE)


def _fix_properties(document: DocumentObject, notice: Notice) -> None:
    stamp = datetime(notice.as_of.year, notice.as_of.month, notice.as_of.day)
    props = document.core_properties
    props.title = notice.title
    props.author = props.last_modified_by = notice.office
    props.created = props.modified = props.last_printed = stamp
    props.revision = 1


def _cell_xml(text: str, width: int, span: int = 1, merge: str = "", bold: bool = False) -> str:
    spans = f'<w:gridSpan w:val="{span}"/>' if span > 1 else ""
    merges = {"restart": '<w:vMerge w:val="restart"/>', "continue": "<w:vMerge/>"}.get(merge, "")
    weight = "<w:b/>" if bold else ""
    font = f'<w:rFonts w:ascii="{BODY_FONT}" w:hAnsi="{BODY_FONT}" w:eastAsia="{BODY_FONT}"/>'
    run = (
        f'<w:r><w:rPr>{font}{weight}<w:sz w:val="{TABLE_HALF_POINTS}"/></w:rPr>'
        f'<w:t xml:space="preserve">{xml_text(text)}</w:t></w:r>'
        if text and merge != "continue"
        else ""
    )
    return (
        f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/>{spans}{merges}</w:tcPr>'
        f"<w:p>{run}</w:p></w:tc>"
    )


def _append_table(
    document: DocumentObject,
    tables: list[str],
    header: Sequence[Sequence[Cell]],
    rows: Iterable[Sequence[str]],
    widths: Sequence[int],
) -> None:
    border = "".join(
        f'<w:{side} w:val="single" w:sz="4" w:space="0" w:color="000000"/>'
        for side in ("top", "left", "bottom", "right", "insideH", "insideV")
    )
    parts = [
        '<w:tbl><w:tblPr><w:tblW w:w="0" w:type="auto"/>'
        f'<w:tblBorders>{border}</w:tblBorders><w:tblLayout w:type="fixed"/></w:tblPr>'
        "<w:tblGrid>",
        *(f'<w:gridCol w:w="{width}"/>' for width in widths),
        "</w:tblGrid>",
    ]
    for header_row in header:
        parts.append("<w:tr><w:trPr><w:tblHeader/></w:trPr>")
        column = 0
        for text, span, merge in header_row:
            width = sum(widths[column : column + span])
            parts.append(_cell_xml(text, width, span, merge, bold=True))
            column += span
        parts.append("</w:tr>")
    # A body cell is the same XML but for its text, and its width is the grid's (fixed
    # layout) rather than repeated in each of 800,000 cells: the document is a third smaller.
    head = f"<w:tc><w:p><w:r>{_RUN_PROPS}<w:t>"
    # Word drops a text's edge spaces unless told to keep them.
    spaced_head = f'<w:tc><w:p><w:r>{_RUN_PROPS}<w:t xml:space="preserve">'
    tail = "</w:t></w:r></w:p></w:tc>"
    empty = "<w:tc><w:p/></w:tc>"
    between = f"{tail}{head}"
    for row in rows:
        joined = "\n".join(row)
        if not _PLAIN_ROW_NOT.search(joined):
            # Most rows: no escaping, no edge space, no empty cell, so one join makes the row.
            parts.append(f"<w:tr>{head}{between.join(row)}{tail}</w:tr>")
            continue
        if NEEDS_XML_CARE.search(joined):
            row = [xml_text(text) for text in row]
        cells = (
            f"{spaced_head if text[0].isspace() or text[-1].isspace() else head}{text}{tail}"
            if text
            else empty
            for text in row
        )
        parts.append(f"<w:tr>{''.join(cells)}</w:tr>")
    parts.append("</w:tbl>")
    document.add_paragraph(_placeholder(len(tables)))
    tables.append("".join(parts))
    add_text(document, "")  # Word joins two tables that touch


def _placeholder(index: int) -> str:
    return f"@@duban-table-{index}@@"


def _tables_in_place(tables: list[str]) -> Callable[[bytes], bytes]:
    def replace(xml: bytes) -> bytes:
        # Split the small document at each placeholder, so no search runs over a big table.
        rest = xml.decode("utf-8")
        pieces: list[str] = []
        for index, table in enumerate(tables):
            paragraph = f"<w:p><w:r><w:t>{_placeholder(index)}</w:t></w:r></w:p>"
            before, found, rest = rest.partition(paragraph)
            if not found:
                raise RuntimeError(f"table placeholder {index} not found in document.xml")
            pieces += [before, table]
        pieces.append(rest)
        return "".join(pieces).encode("utf-8")

    return replace


def _overdue_header() -> list[list[Cell]]:
    return [
        [
            ("责任单位", 1, ""),
            ("任务", 1, ""),
            ("完成时限", 1, ""),
            ("逾期天数", 1, ""),
            ("督办级别", 1, ""),
            ("督办次数", 1, ""),
        ]
    ]


def _overdue_rows(tasks: Iterable[TaskStanding]) -> Iterable[list[str]]:
    for t in tasks:
        yield [
            t.lead_unit or "",
            t.text,
            t.due.isoformat() if t.due else "",
            str(t.days_overdue),
            str(t.escalation_level),
            str(t.escalations),
        ]


def _task_header() -> list[list[Cell]]:
    # Two header rows: 责任单位 over 牵头/配合, 推进情况 over 进展/状态/亮灯.
    return [
        [
            ("序号", 1, "restart"),
            ("任务内容", 1, "restart"),
            ("责任单位", 2, ""),
            ("完成时限", 1, "restart"),
            ("推进情况", 3, ""),
        ],
        [
            ("", 1, "continue"),
            ("", 1, "continue"),
            ("牵头单位", 1, ""),
            ("配合单位", 1, ""),
            ("", 1, "continue"),
            ("本月进展情况", 1, ""),
            ("完成状态", 1, ""),
            ("亮灯", 1, ""),
        ],
    ]


def _task_rows(tasks: Iterable[TaskStanding]) -> Iterable[list[str]]:
    for t in tasks:
        yield [
            t.number,
            t.text,
            t.lead_unit or "",
            "、".join(t.cooperating_units),
            t.due.isoformat() if t.due else "",
            t.last_progress_text or "",
            t.status.label,
            light_label(t.light),
        ]


def _unit_header() -> list[list[Cell]]:
    return [
        [
            ("排名", 1, "restart"),
            ("责任单位", 1, "restart"),
            ("承担任务数", 1, "restart"),
            ("推进情况", 4, ""),
            ("完成率", 1, "restart"),
            ("平均逾期天数", 1, "restart"),
            ("退回", 1, "restart"),
            ("视为同意", 1, "restart"),
        ],
        [
            ("", 1, "continue"),
            ("", 1, "continue"),
            ("", 1, "continue"),
            ("已完成", 1, ""),
            ("序时推进", 1, ""),
            ("滞后", 1, ""),
            ("逾期", 1, ""),
            ("", 1, "continue"),
            ("", 1, "continue"),
            ("", 1, "continue"),
            ("", 1, "continue"),
        ],
    ]


def _unit_rows(notice: Notice) -> Iterable[list[str]]:
    for u in sorted(notice.units, key=lambda u: u.rank):
        yield [
            str(u.rank),
            u.unit,
            str(u.led),
            str(u.completed),
            str(u.on_schedule),
            str(u.behind),
            str(u.overdue),
            pct(u.completion_rate),
            f"{u.average_days_late:.1f}",
            str(u.refusals),  # 退回 made by the unit as lead
            str(u.silent_consents),  # sign-offs it let lapse as cooperating unit (视为同意)
        ]
