"""Plan documents in other containers, made in the tests: PDFs, .xls workbooks, .doc files.

PDFs are written by fpdf2 with the CJK font the product already ships as a wheel
(cvttf-notosanscjk-regular), embedded as a subset the way office programs embed theirs.
Workbooks are written by xlwt, the .xls (BIFF8) writer. A Word 97-2003 file needs
LibreOffice to be written: tests/fixtures/inputs/ holds one, made by
tests/fixtures/inputs/make_word97.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from io import BytesIO
from pathlib import Path

import cvttf_NotoSansCJK_Regular
import xlwt
from fpdf import FPDF
from fpdf.fonts import FontFace
from PIL import Image, ImageDraw

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "inputs"

HEADER = ("序号", "工作任务", "牵头单位", "配合单位", "完成时限")
ROWS = (
    ("1", "建设全市统一的政务云平台", "市发改委", "市财政局、市公安局", "2019年6月底前"),
    ("2", "推进政务服务一网通办", "市行政审批局", "", "年底前"),
    ("3", "形成年度共享报告", "市大数据管理局", "各县区政府", "每年2月底前"),
)
TITLE = "2019年数字政府建设重点任务分工"


@dataclass(frozen=True)
class Span:
    """A table cell covering several rows or columns."""

    text: str
    rowspan: int = 1
    colspan: int = 1


Cell = str | Span


def _pdf() -> FPDF:
    pdf = FPDF()
    pdf.add_font("noto", fname=str(cvttf_NotoSansCJK_Regular.get_TTF_path()))
    pdf.set_font("noto", size=10)
    pdf.add_page()
    return pdf


def pdf_with_table(
    rows: Sequence[Sequence[Cell]],
    *,
    before: Sequence[str] = (TITLE, "某政办〔2019〕3号"),
    after: Sequence[str] = ("2019年3月1日",),
    widths: Sequence[int] = (12, 70, 30, 40, 30),
    repeat_header: bool = True,
    next_page: Sequence[Sequence[Cell]] = (),
) -> bytes:
    """A PDF: lines of text, a ruled table (its first row the header), lines of text.

    ``next_page``: rows of a header-less table of the same columns on a new page, the rest
    of the table as a page break leaves it.
    """
    pdf = _pdf()
    for line in before:
        pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    _table(pdf, rows, widths, repeat_header=repeat_header, header=True)
    if next_page:
        pdf.add_page()
        _table(pdf, next_page, widths, repeat_header=False, header=False)
    for line in after:
        pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _table(
    pdf: FPDF,
    rows: Sequence[Sequence[Cell]],
    widths: Sequence[int],
    *,
    repeat_header: bool,
    header: bool,
) -> None:
    with pdf.table(
        col_widths=tuple(widths),
        headings_style=FontFace(),
        first_row_as_headings=header,
        repeat_headings=1 if repeat_header else 0,
        text_align="LEFT",
    ) as table:
        for cells in rows:
            row = table.row()
            for cell in cells:
                if isinstance(cell, Span):
                    row.cell(cell.text, rowspan=cell.rowspan, colspan=cell.colspan)
                else:
                    row.cell(cell)


def pdf_with_lines(lines: Sequence[str]) -> bytes:
    """A PDF of text lines only, no table."""
    pdf = _pdf()
    for line in lines:
        pdf.multi_cell(w=0, text=line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def scanned_pdf(pages: int = 2) -> bytes:
    """A PDF of page images only, as a scanner makes it: no text layer at all."""
    pdf = FPDF()
    for _ in range(pages):
        pdf.add_page()
        image = Image.new("L", (400, 560), 255)
        drawing = ImageDraw.Draw(image)
        for top in range(40, 520, 24):  # lines of "print"
            drawing.rectangle((30, top, 370, top + 10), fill=60)
        pdf.image(image, x=10, y=10, w=190)
    return bytes(pdf.output())


_OWNER_KEY = "owner-secret"


def encrypted_pdf(opened_with: str) -> bytes:
    """The table PDF encrypted, opened with the password ``opened_with``: an empty one
    opens without asking (the encryption only guards against editing)."""
    pdf = _pdf()
    pdf.set_encryption(owner_password=_OWNER_KEY, user_password=opened_with)
    pdf.cell(text=TITLE, new_x="LMARGIN", new_y="NEXT")
    with pdf.table(col_widths=(12, 70, 30, 40, 30), headings_style=FontFace()) as table:
        for cells in (HEADER, *ROWS):
            row = table.row()
            for text in cells:
                row.cell(text)
    return bytes(pdf.output())


def reportlab_pdf(rows: Sequence[Sequence[str]]) -> bytes:
    """A ruled table in reportlab's STSong-Light, the standard Chinese font a PDF may name
    without embedding it (the reader supplies it), over as many pages as it takes."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buffer = BytesIO()
    grid = Table([list(row) for row in rows], colWidths=(30, 220, 75, 95, 75), repeatRows=1)
    grid.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, "black"),
                ("FONT", (0, 0), (-1, -1), "STSong-Light", 8),
            ]
        )
    )
    title = Paragraph(TITLE, ParagraphStyle("title", fontName="STSong-Light", fontSize=12))
    SimpleDocTemplate(buffer, pagesize=A4).build([title, Spacer(1, 6), grid])
    return buffer.getvalue()


XlsCell = str | int | float | date


def xls_workbook(
    sheets: Mapping[str, Sequence[Sequence[XlsCell]]],
    merged: Sequence[tuple[int, int, int, int]] = (),
) -> bytes:
    """An .xls workbook; ``merged`` (first row, last row, first column, last column, from
    0) apply to the first sheet and keep the text of their top left cell."""
    workbook = xlwt.Workbook(encoding="utf-8")
    dates = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for index, (name, rows) in enumerate(sheets.items()):
        sheet = workbook.add_sheet(name)
        covered: set[tuple[int, int]] = set()
        if index == 0:
            for top, bottom, left, right in merged:
                sheet.write_merge(top, bottom, left, right, rows[top][left])
                covered |= {(r, c) for r in range(top, bottom + 1) for c in range(left, right + 1)}
        for r, cells in enumerate(rows):
            for c, value in enumerate(cells):
                if (r, c) in covered or value == "":
                    continue
                if isinstance(value, date):
                    sheet.write(r, c, value, dates)
                else:
                    sheet.write(r, c, value)
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
